//! The processes behind a browser test: one `chromedriver` per test on a port it picks
//! itself, and a limit on how many browsers run at once.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Browsers running at once in this test process: the machines have two cores, and
/// Chromium with its renderer easily takes one each.
const MAX_BROWSERS: usize = 2;

const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// A place among the [`MAX_BROWSERS`] running browsers, given back on drop.
pub struct BrowserSlot(());

impl BrowserSlot {
    pub fn acquire() -> Self {
        // A test that panicked while holding the lock leaves the count intact.
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_BROWSERS {
            running = FREED.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        Self(())
    }
}

impl Drop for BrowserSlot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        FREED.notify_one();
    }
}

/// Where the Chromium and ChromeDriver executables are. A machine without them fails the
/// test: skipping would let CI pass without ever opening a browser.
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Tools {
    pub fn find() -> Self {
        let chromium = on_path("chromium");
        let chromedriver = on_path("chromedriver");
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Self {
                chromium,
                chromedriver,
            },
            (chromium, chromedriver) => panic!(
                "the browser journeys need Debian's `chromium` and `chromium-driver` packages \
                 (missing: {}{}); run scripts/install-deps.sh, which installs them",
                if chromium.is_none() { "chromium " } else { "" },
                if chromedriver.is_none() {
                    "chromedriver"
                } else {
                    ""
                },
            ),
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A `chromedriver` process listening on loopback; killed on drop.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
}

impl ChromeDriver {
    pub fn start(tools: &Tools) -> Self {
        // Port 0: chromedriver binds a free port and says which, so there is no race for it.
        let mut child = Command::new(&tools.chromedriver)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", tools.chromedriver.display()));
        let stdout = child.stdout.take().expect("chromedriver's stdout is piped");
        let (port_tx, port_rx) = mpsc::channel();
        // The reader keeps draining stdout after the port line so chromedriver never blocks.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = started_port(&line) {
                    if let Some(tx) = port_tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let port = match port_rx.recv_timeout(DRIVER_START_TIMEOUT) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not report its port within {DRIVER_START_TIMEOUT:?}");
            }
        };
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in "ChromeDriver was started successfully on port 41234."
fn started_port(line: &str) -> Option<u16> {
    line.split_once("started successfully on port ")?
        .1
        .trim_end_matches('.')
        .trim()
        .parse()
        .ok()
}

/// Kills a Chromium that outlived its session (a test that could not close it cleanly).
pub fn kill_leftover_browser(pid: u32) {
    if Path::new(&format!("/proc/{pid}")).exists() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

#[test]
fn reads_the_port_chromedriver_reports() {
    assert_eq!(
        started_port("ChromeDriver was started successfully on port 41234."),
        Some(41234)
    );
    assert_eq!(started_port("Starting ChromeDriver 156 on port 0"), None);
}
