//! Accessibility basics, checked in the rendered page: labels, `<html lang>`, keyboard
//! order and visible focus, errors tied to their fields, and WCAG AA text contrast.
use super::other_origin::OtherOrigin;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway, PASSWORD};
use serde::Deserialize;
use serde_json::json;

/// WCAG 2 AA for normal-size text.
const MIN_CONTRAST: f64 = 4.5;

/// Names an element the same way in every script, so orders can be compared.
const DESCRIBE_JS: &str = r#"
const describe = (el) => {
  if (!el || el === document.body) return 'body';
  const tag = el.tagName.toLowerCase();
  if (el.id) return tag + '#' + el.id;
  if (el.name) return tag + '[name=' + el.name + ']';
  return tag + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
};
const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
"#;

/// Form controls and buttons or links without an accessible name.
const UNNAMED_CONTROLS_JS: &str = r#"
const text = (el) => (el && el.textContent || '').trim() !== '';
const named = (el) =>
  (el.getAttribute('aria-label') || '').trim() !== '' ||
  (el.getAttribute('aria-labelledby') || '').split(/\s+/).some(id => id && text(document.getElementById(id)));
const fields = [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && visible(el));
const unlabelled = fields
  .filter(el => !([...(el.labels || [])].some(text) || named(el)))
  .map(describe);
const unnamed = [...document.querySelectorAll('button, a[href]')]
  .filter(el => visible(el) && !text(el) && !named(el))
  .map(describe);
return { checked: fields.length, unlabelled: unlabelled, unnamed: unnamed };
"#;

/// Keyboard-reachable elements in DOM order, and any that jump the order.
const FOCUS_ORDER_JS: &str = r#"
// Tab stops once per radio group (on its checked radio, else its first): arrow keys
// move within the group.
const radioStop = el => {
  if (el.type !== 'radio' || !el.name) return true;
  const group = [...document.querySelectorAll('input[type=radio]')].filter(r => r.name === el.name && r.form === el.form);
  const checked = group.find(r => r.checked);
  return el === (checked || group[0]);
};
const focusable = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
  .filter(el => !el.disabled && el.type !== 'hidden' && el.tabIndex >= 0 && visible(el) && radioStop(el));
const jumping = [...document.querySelectorAll('[tabindex]')].filter(el => el.tabIndex > 0).map(describe);
if (focusable.length) focusable[0].focus();
return { order: focusable.map(describe), jumping: jumping };
"#;

const FOCUSED_JS: &str = r#"
const el = document.activeElement;
const style = getComputedStyle(el);
return { name: describe(el), outlined: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
"#;

/// Every visible element with its own text (and every text field) whose colour on its
/// effective background is below AA.
const LOW_CONTRAST_JS: &str = r#"
const rgba = (c) => {
  const m = /^rgba?\(([^)]*)\)$/.exec(c);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
const background = (el) => {
  const chain = [];
  for (let e = el; e; e = e.parentElement) chain.unshift(e);
  let bg = [255, 255, 255, 1];
  for (const e of chain) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) bg = over(c, bg);
  }
  return bg;
};
const luminance = (c) => {
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const texts = [...document.querySelectorAll('body *')].filter(el => visible(el) && (
  [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '') ||
  (el.tagName === 'INPUT' && el.type !== 'hidden')));
const low = [];
for (const el of texts) {
  const fg = rgba(getComputedStyle(el).color);
  const bg = background(el);
  if (!fg) { low.push({ element: describe(el), ratio: 0, colours: getComputedStyle(el).color }); continue; }
  const r = ratio(over(fg, bg), bg);
  if (r < arguments[0]) low.push({ element: describe(el), ratio: r, colours: getComputedStyle(el).color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ')' });
}
return { checked: texts.length, low: low };
"#;

#[derive(Deserialize)]
struct Names {
    checked: usize,
    unlabelled: Vec<String>,
    unnamed: Vec<String>,
}

#[derive(Deserialize)]
struct FocusOrder {
    order: Vec<String>,
    jumping: Vec<String>,
}

#[derive(Deserialize)]
struct Focused {
    name: String,
    outlined: bool,
}

#[derive(Deserialize, Debug)]
struct LowContrast {
    element: String,
    ratio: f64,
    colours: String,
}

#[derive(Deserialize)]
struct Contrast {
    checked: usize,
    low: Vec<LowContrast>,
}

/// What is wrong with the current page; empty when it passes.
async fn audit(b: &Browser, lang: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let names: Names = b
        .exec(&format!("{DESCRIBE_JS}{UNNAMED_CONTROLS_JS}"), vec![])
        .await;
    problems.extend(names.unlabelled.iter().map(|c| format!("no label: {c}")));
    problems.extend(
        names
            .unnamed
            .iter()
            .map(|c| format!("no accessible name: {c}")),
    );

    let html_lang: String = b.exec("return document.documentElement.lang", vec![]).await;
    if html_lang != lang {
        problems.push(format!(
            "<html lang> is {html_lang:?}, the page is {lang:?}"
        ));
    }

    let focus: FocusOrder = b
        .exec(&format!("{DESCRIBE_JS}{FOCUS_ORDER_JS}"), vec![])
        .await;
    problems.extend(
        focus
            .jumping
            .iter()
            .map(|c| format!("positive tabindex: {c}")),
    );
    let mut tabbed = Vec::new();
    for i in 0..focus.order.len() {
        if i > 0 {
            b.press_tab().await;
        }
        let focused: Focused = b.exec(&format!("{DESCRIBE_JS}{FOCUSED_JS}"), vec![]).await;
        if !focused.outlined {
            problems.push(format!("no visible focus on {}", focused.name));
        }
        tabbed.push(focused.name);
    }
    if tabbed != focus.order {
        problems.push(format!(
            "Tab visits {tabbed:?}, the page order is {:?}",
            focus.order
        ));
    }

    let contrast: Contrast = b
        .exec(
            &format!("{DESCRIBE_JS}{LOW_CONTRAST_JS}"),
            vec![json!(MIN_CONTRAST)],
        )
        .await;
    problems.extend(contrast.low.iter().map(|l| {
        format!(
            "contrast {:.2}:1 < {MIN_CONTRAST}:1 for {} ({})",
            l.ratio, l.element, l.colours
        )
    }));
    if contrast.checked == 0 || (names.checked == 0 && focus.order.is_empty()) {
        problems.push("the audit found nothing to check: is this page empty?".into());
    }
    problems
}

pub(super) async fn assert_accessible(b: &Browser, lang: &str) {
    let problems = audit(b, lang).await;
    b.step(&format!("audited {}", b.url().await.path())).await;
    assert!(
        problems.is_empty(),
        "accessibility problems on {}:\n  {}",
        b.url().await,
        problems.join("\n  ")
    );
}

/// Each hosted page a person can reach without MFA, in English, plus sign-in in Japanese.
async fn hosted_pages_meet_the_basics(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    assert_accessible(b, "en").await;
    b.click("a.lang").await;
    assert_accessible(b, "ja").await;
    b.click("a.lang").await;

    b.submit_sign_in("user@example.com", PASSWORD).await;
    b.goto(&gw.url("/_sekisho/")).await;
    assert_accessible(b, "en").await;
    b.goto(&gw.url("/_sekisho/logout")).await;
    assert_accessible(b, "en").await;
    b.click("form button[type=submit]").await;
    assert_accessible(b, "en").await;
    b.goto(&gw.url("/deny/x")).await;
    assert_eq!(b.text("h1").await, "Access denied");
    assert_accessible(b, "en").await;
    b.goto(&gw.url("/_sekisho/nowhere")).await;
    assert_accessible(b, "en").await;
}
browser_journey!(hosted_pages_meet_the_basics, memory: Setup::new(Store::Memory));

/// A wrong password: the message is announced (role=alert) and each field points at it.
async fn sign_in_error_is_tied_to_the_fields(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    for field in ["#email", "#password"] {
        assert_eq!(b.attr(field, "aria-invalid").await, None);
    }
    b.submit_sign_in("user@example.com", "not the password")
        .await;
    let message = b.text("[role=alert]").await;
    assert_eq!(message, "The email address or password is incorrect.");
    for field in ["#email", "#password"] {
        let described_by = b.attr(field, "aria-describedby").await.unwrap_or_default();
        let mut described = Vec::new();
        for id in described_by.split_whitespace() {
            described.push(b.text(&format!("[id='{id}']")).await);
        }
        assert!(
            described.contains(&message),
            "{field} is described by {described:?}, not the error"
        );
        assert_eq!(b.attr(field, "aria-invalid").await.as_deref(), Some("true"));
    }
    assert_accessible(b, "en").await;
}
browser_journey!(sign_in_error_is_tied_to_the_fields, memory: Setup::new(Store::Memory));

/// The audit itself must catch what it looks for, or the checks above prove nothing.
async fn audit_catches_bad_markup(_gw: &TestGateway, b: &Browser) {
    let site = OtherOrigin::start();
    site.set_page(
        r#"<!doctype html><html lang="en"><head><title>Bad</title><style>
            .faint { color: #aaaaaa; } :focus { outline: none; }
        </style></head><body>
        <p class="faint">Hard to read</p>
        <input id="nameless" type="text">
        <button></button>
        <a href="/x" tabindex="2">Jumps the queue</a>
        </body></html>"#
            .to_string(),
    );
    b.goto(&site.url("/bad")).await;
    let problems = audit(b, "ja").await.join("\n");
    for expected in [
        "no label: input#nameless",
        "no accessible name: button",
        "<html lang> is \"en\", the page is \"ja\"",
        "positive tabindex: a",
        "no visible focus",
        "Tab visits",
        "for p \"Hard to read\"",
    ] {
        assert!(
            problems.contains(expected),
            "the audit missed {expected:?}:\n{problems}"
        );
    }
}
browser_journey!(audit_catches_bad_markup, memory: Setup::new(Store::Memory));
