// Print and copy buttons of the backup-codes page. The page works without this file.
"use strict";
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-action]");
  if (!b) return;
  if (b.dataset.action === "print") window.print();
  if (b.dataset.action === "copy") {
    var el = document.getElementById(b.dataset.target);
    if (el && navigator.clipboard) {
      var text = Array.prototype.map.call(el.querySelectorAll("code"), function (c) { return c.textContent; }).join("\n");
      navigator.clipboard.writeText(text);
    }
  }
});
