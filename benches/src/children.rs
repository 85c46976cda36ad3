//! Every process the harness starts is registered here and stopped by its PID: when
//! its guard drops, at the end of the run, on an error, and on Ctrl-C or SIGTERM
//! (see [`stop_all_on_signal`]). Nothing is ever stopped by name.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// PIDs of the processes started and not yet stopped.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A started server, stopped (SIGTERM, then SIGKILL for it and its descendants) when
/// dropped.
pub struct Running {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Running {
    /// Starts `cmd` with stdout and stderr to `<log_dir>/<name>.log`.
    pub fn spawn(name: &str, cmd: &mut Command, log_dir: &Path) -> Result<Self, String> {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        registry().push(child.id());
        Ok(Self {
            name: name.to_string(),
            log,
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (then its log says why).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the process's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn stop(&mut self) {
        let pid = self.child.id();
        if matches!(self.child.try_wait(), Ok(None)) {
            let family = crate::procfs::tree(pid);
            signal("TERM", &[pid]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
            let _ = self.child.wait();
            // Workers of a master that did not clean up after itself.
            let left: Vec<u32> = family[1..]
                .iter()
                .copied()
                .filter(|p| Path::new(&format!("/proc/{p}")).exists())
                .collect();
            signal("KILL", &left);
        }
        registry().retain(|p| *p != pid);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a short command to completion (wrk, the `sekisho` CLI), registered while it
/// runs so that Ctrl-C stops it too.
pub fn run_to_end(cmd: &mut Command, stdin: Option<&str>) -> Result<std::process::Output, String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let pid = child.id();
    registry().push(pid);
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output();
    registry().retain(|p| *p != pid);
    out.map_err(|e| e.to_string())
}

/// Sends `sig` to each PID with kill(1) (the crate forbids `unsafe`, so no libc).
fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// On SIGINT or SIGTERM: stop every registered process (and its descendants) by PID,
/// then exit with status 130.
pub fn stop_all_on_signal() {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            });
            eprintln!("\ninterrupted: stopping every process the harness started");
            let pids: Vec<u32> = registry().clone();
            let family: Vec<u32> = pids.iter().flat_map(|p| crate::procfs::tree(*p)).collect();
            signal("TERM", &pids);
            // Up to 1.5 s to exit on SIGTERM, then SIGKILL for what is left.
            let alive = |p: &u32| Path::new(&format!("/proc/{p}")).exists();
            let deadline = std::time::Instant::now() + Duration::from_millis(1500);
            while family.iter().any(alive) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let left: Vec<u32> = family.into_iter().filter(alive).collect();
            signal("KILL", &left);
            std::process::exit(130);
        });
    if let Err(e) = spawned {
        eprintln!("warning: no signal handler ({e}); Ctrl-C may leave servers running");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_stops_its_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Running::spawn("sleeper", Command::new("sleep").arg("30"), dir.path()).unwrap();
        let pid = r.pid();
        assert!(!r.exited());
        assert!(registry().contains(&pid));
        drop(r);
        assert!(!registry().contains(&pid));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(" Z "),
            "still running: {stat}"
        );
    }

    #[test]
    fn short_commands_report_output() {
        let out = run_to_end(&mut Command::new("cat"), Some("hello")).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello");
        assert!(run_to_end(&mut Command::new("/nonexistent/x"), None).is_err());
    }
}
