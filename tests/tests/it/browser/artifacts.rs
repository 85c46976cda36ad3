//! Screenshots and page HTML a browser test leaves for a person to look at:
//! `<target>/browser-artifacts/<test>/NN-<step>.png` and `.html`.
//!
//! Key pages are written at once and always kept; every other step is held in memory
//! and written only when the test fails, so a failure shows the whole way there.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Capture {
    pub step: String,
    pub png: Vec<u8>,
    pub html: String,
}

pub struct Artifacts {
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Numbers steps in the order they happened, kept or not, so files sort by time.
    next: usize,
    held: Vec<(usize, Capture)>,
    written: usize,
}

impl Artifacts {
    /// A fresh (emptied) folder for `test`.
    pub fn for_test(test: &str) -> Self {
        let dir = target_dir().join("browser-artifacts").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        Self {
            dir,
            state: Mutex::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps a step only in case the test fails.
    pub fn hold(&self, capture: Capture) {
        let mut state = self.lock();
        let n = state.next;
        state.next += 1;
        state.held.push((n, capture));
    }

    /// Writes a key page now.
    pub fn keep(&self, capture: Capture) {
        let n = {
            let mut state = self.lock();
            let n = state.next;
            state.next += 1;
            state.written += 1;
            n
        };
        self.write(n, &capture);
    }

    /// Writes every held step (after a failure).
    pub fn write_held(&self) {
        let held = std::mem::take(&mut self.lock().held);
        for (n, capture) in &held {
            self.write(*n, capture);
        }
        self.lock().written += held.len();
    }

    pub fn written(&self) -> usize {
        self.lock().written
    }

    fn write(&self, n: usize, capture: &Capture) {
        let stem = format!("{n:02}-{}", file_safe(&capture.step));
        let result = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(self.dir.join(format!("{stem}.png")), &capture.png))
            .and_then(|()| std::fs::write(self.dir.join(format!("{stem}.html")), &capture.html));
        if let Err(e) = result {
            eprintln!("could not write {stem} to {}: {e}", self.dir.display());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `CARGO_TARGET_DIR` when set (relative to the workspace), else `<workspace>/target`.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

/// A step description as a short file name part: `click #email` -> `click-email`.
pub fn file_safe(step: &str) -> String {
    let mut out = String::new();
    for c in step.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let cut = out
        .char_indices()
        .nth(48)
        .map_or(out, |(i, _)| out[..i].trim_end_matches('-'));
    if cut.is_empty() {
        "step".to_string()
    } else {
        cut.to_string()
    }
}

#[test]
fn step_names_become_short_file_names() {
    assert_eq!(
        file_safe("click button[type=submit]"),
        "click-button-type-submit"
    );
    assert_eq!(file_safe("goto /members/page?x=1"), "goto-members-page-x-1");
    assert_eq!(file_safe("サインイン"), "step");
    assert_eq!(file_safe(&"a".repeat(80)).len(), 48);
}
