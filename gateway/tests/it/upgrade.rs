//! Process life cycle: `sekisho run --upgrade` takes the listening sockets over from a
//! running process on SIGQUIT without one connection being refused, and SIGTERM lets
//! an in-flight request finish within `server.grace_period` before the process exits.
use crate::logs::{run_config, Running};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spawn(file: &std::path::Path, upgrade: bool) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sekisho"));
    c.arg("run");
    if upgrade {
        c.arg("--upgrade");
    }
    c.arg("--config")
        .arg(file)
        .env_remove("SEKISHO_CONFIG")
        .env_remove("SEKISHO_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig}");
}

/// The status of one request on a fresh connection; `Err` says how it failed.
fn status(addr: &str, path: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    buf.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {buf:?}"))
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn config(listen: &str, admin: &str, dir: &std::path::Path, grace: &str, extra: &str) -> String {
    run_config(listen, admin, &dir.join("t.db"), extra).replace(
        "grace_period = \"0s\"",
        &format!(
            "grace_period = \"{grace}\"\nupgrade_sock = \"{}\"",
            dir.join("upgrade.sock").display()
        ),
    )
}

fn members(action: &str) -> String {
    format!("[[rules]]\nname = \"members\"\npaths = [\"/members\"]\naction = \"{action}\"\n")
}

#[derive(Default)]
struct Tally {
    old: AtomicUsize,
    new: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

#[test]
fn upgrade_hands_over_the_sockets_without_refusing_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let admin = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    // The two binaries differ in one rule, so each answer says who served it.
    let old_file = dir.path().join("old.toml");
    let new_file = dir.path().join("new.toml");
    std::fs::write(
        &old_file,
        config(&listen, &admin, dir.path(), "1s", &members("deny")),
    )
    .unwrap();
    std::fs::write(
        &new_file,
        config(&listen, &admin, dir.path(), "1s", &members("one_factor")),
    )
    .unwrap();

    let mut old = spawn(&old_file, false);
    crate::reload::eventually(&listen, "/members", 403);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (stop, tally, listen) = (Arc::clone(&stop), Arc::clone(&tally), listen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match status(&listen, "/members") {
                        Ok(403) => tally.old.fetch_add(1, Ordering::Relaxed),
                        Ok(302) => tally.new.fetch_add(1, Ordering::Relaxed),
                        Ok(other) => {
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("status {other}"));
                            0
                        }
                        Err(e) => {
                            tally.failures.lock().unwrap().push(e);
                            0
                        }
                    };
                }
            })
        })
        .collect();

    until("the old process answers the load", || {
        tally.old.load(Ordering::Relaxed) >= 50
    });
    let new = spawn(&new_file, true);
    let _new = Running(new);
    // The new process waits on the upgrade socket; the old one answers SIGQUIT by
    // sending its listeners there, serving five more seconds, then draining.
    let sock = dir.path().join("upgrade.sock");
    until("the new process listens on the upgrade socket", || {
        sock.exists()
    });
    signal(&old, "-QUIT");
    let exited = wait_exit(&mut old, Duration::from_secs(20));
    assert!(
        exited.is_some(),
        "the old process did not exit after SIGQUIT"
    );
    let after_exit = tally.new.load(Ordering::Relaxed);
    until("the new process alone answers the load", || {
        tally.new.load(Ordering::Relaxed) >= after_exit + 50
    });
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let failures = tally.failures.lock().unwrap();
    let (by_old, by_new) = (
        tally.old.load(Ordering::Relaxed),
        tally.new.load(Ordering::Relaxed),
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the handover, e.g. {:?}",
        failures.len(),
        failures.len() + by_old + by_new,
        &failures[..failures.len().min(5)]
    );
    assert!(by_old > 0 && by_new > 0, "old {by_old}, new {by_new}");
    eprintln!("handover: {by_old} answered by the old process, {by_new} by the new, none failed");
    // Only the new process is left, on both listeners.
    assert_eq!(status(&listen, "/members"), Ok(302));
    assert_eq!(status(&admin, "/healthz"), Ok(200));
}

/// Polls `cond` until it holds (10 s at most).
fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An upstream that answers each request after `delay`; the counter says how many
/// requests have arrived.
fn slow_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&arrived);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(delay);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow");
            });
        }
    });
    (addr, arrived)
}

#[test]
fn sigterm_finishes_in_flight_requests_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let admin = format!("127.0.0.1:{}", sekisho_testkit::free_port());
    let (upstream, arrived) = slow_upstream(Duration::from_millis(1500));
    let file = dir.path().join("sekisho.toml");
    let text = config(
        &listen,
        &admin,
        dir.path(),
        "3s",
        "[[rules]]\nname = \"slow\"\npaths = [\"/slow\"]\naction = \"bypass\"\n",
    )
    .replace("127.0.0.1:9", &upstream);
    std::fs::write(&file, text).unwrap();
    let mut gw = spawn(&file, false);
    crate::reload::eventually(&admin, "/healthz", 200);

    let in_flight = {
        let listen = listen.clone();
        std::thread::spawn(move || status(&listen, "/slow"))
    };
    until("the request reached the upstream", || {
        arrived.load(Ordering::SeqCst) == 1
    });
    let sent = Instant::now();
    signal(&gw, "-TERM");

    assert_eq!(
        in_flight.join().unwrap(),
        Ok(200),
        "the request in flight at SIGTERM was cut off"
    );
    // New connections are no longer taken once the drain has begun.
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(&listen).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let exited = wait_exit(&mut gw, Duration::from_secs(8)).expect("exit after the grace period");
    let took = sent.elapsed();
    assert!(exited.success(), "{exited:?}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_millis(5500),
        "exited {took:?} after SIGTERM with a 3 s grace period"
    );
}
