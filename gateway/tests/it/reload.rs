//! `sekisho run` reloads its file on SIGHUP and on `sekisho reload`: a changed rule
//! answers differently at once, a file that does not validate is refused with the
//! error (and the process keeps its configuration).
use crate::logs::{raw, run_config, Running};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn config(listen: &str, admin: &str, db: &std::path::Path, members: &str) -> String {
    run_config(
        listen,
        admin,
        db,
        &format!("[[rules]]\nname = \"members\"\npaths = [\"/members\"]\naction = \"{members}\"\n"),
    )
}

fn status(addr: &str, path: &str) -> Option<u16> {
    let r = raw(addr, path, "Accept: text/html\r\n")?;
    r.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `path` answers `want` (reloads apply at once; signals take a moment).
pub(crate) fn eventually(addr: &str, path: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(addr, path);
        if got == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{path}: {got:?}, wanted {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sekisho_reload(file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sekisho"))
        .args(["reload", "--config"])
        .arg(file)
        .env_remove("SEKISHO_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn sighup_and_sekisho_reload_apply_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let admin = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let db = dir.path().join("t.db");
    let file = dir.path().join("sekisho.toml");
    std::fs::write(&file, config(&listen, &admin, &db, "deny")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sekisho"))
        .args(["run", "--config"])
        .arg(&file)
        .env_remove("SEKISHO_CONFIG")
        .env_remove("SEKISHO_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let _running = Running(child);
    eventually(&admin, "/healthz", 200);
    assert_eq!(status(&listen, "/members"), Some(403));

    // SIGHUP: the rule becomes one_factor (a browser is sent to sign in).
    std::fs::write(&file, config(&listen, &admin, &db, "one_factor")).unwrap();
    let kill = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(kill.success());
    eventually(&listen, "/members", 302);
    assert!(
        raw(&admin, "/metrics", "")
            .unwrap()
            .contains("\nsekisho_config_generation 2\n"),
        "generation 2 after SIGHUP"
    );

    // A file that does not validate: refused, named, nothing changes.
    std::fs::write(&file, config(&listen, &admin, &db, "sometimes")).unwrap();
    let out = sekisho_reload(&file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sometimes"), "{err}");
    assert_eq!(status(&listen, "/members"), Some(302));

    // `sekisho reload` with a good file: applied, and said so.
    std::fs::write(&file, config(&listen, &admin, &db, "deny")).unwrap();
    let out = sekisho_reload(&file);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("applied generation 3"), "{said}");
    assert!(said.contains("changed: rules"), "{said}");
    assert_eq!(status(&listen, "/members"), Some(403));
}
