//! Memory: resident memory of the gateway with 100,000 live sessions in the memory
//! store, with 10,000 idle keep-alive client connections, and over a soak.
//!
//! Sessions: creating 100,000 through the sign-in form would take many minutes of
//! argon2id and fill SQLite's sign-in history (whose page cache would then be counted
//! as session memory). So this part runs the real gateway in this process instead
//! (`App::build` + `GatewayHandle`, the same code `sekisho run` starts, the same
//! jemalloc allocator, listening and proxying), fills its store through the same
//! `SessionService::start_with` a sign-in calls, with distinct users, and reads this
//! process's VmRSS before and after. One of the sessions is then used through the
//! proxy, so they are real. The idle connections and the soak use the real `sekisho`
//! process.
use crate::procfs::{established_to, rss_kib, settled_rss_kib, ticks_to_us, tree_cpu_ticks};
use crate::report::{num, table};
use crate::sekisho::{Sekisho, Store};
use crate::servers::{free_port, Lab};
use sekisho_auth::session::SessionSubject;
use sekisho_auth::{AuthLevel, MfaMethod, SystemClock};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A typical browser's user agent (stored with each session, up to 256 characters).
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

#[derive(Debug, Clone, Default)]
pub struct SessionsResult {
    pub sessions: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub fill_secs: f64,
}

/// Fills the in-process gateway's memory store with `n` sessions of `n` users.
pub fn sessions(lab: &Lab, upstream: u16, n: usize) -> Result<SessionsResult, String> {
    let port = free_port()?;
    let admin = free_port()?;
    let text = crate::sekisho::config(lab, "inprocess", port, admin, &Store::Memory, upstream)
        .replace(
            "[session]\n",
            &format!("[session]\nmemory_capacity = {}\n", n + 1000),
        );
    let settings = sekisho_config::load_str(&text, "in-process.toml", &sekisho_config::ProcessEnv)
        .map_err(|e| e.to_string())?;
    let app =
        sekisho_gateway::App::build(settings, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let handle = sekisho_gateway::GatewayHandle::spawn(Arc::clone(&app), Vec::new())
        .map_err(|e| e.to_string())?;
    crate::sekisho::expect_upstream(port, "/bypass", None)?;
    let me = std::process::id();
    // Start-up work settles before the baseline.
    let before = settled_rss_kib(me).unwrap_or(0);
    let t0 = Instant::now();
    let groups = vec!["staff".to_string(), "engineering".to_string()];
    let last = app
        .io
        .block_on(async {
            let mut last = None;
            for i in 0..n {
                let (user_id, email) = (format!("u-{i:08}"), format!("user{i}@bench.test"));
                let name = format!("Bench User {i}");
                let who = SessionSubject {
                    user_id: &user_id,
                    email: &email,
                    display_name: &name,
                    groups: &groups,
                    credential_version: 1,
                };
                let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                let (id, _) = app
                    .sessions
                    .start_with(
                        who,
                        AuthLevel::Mfa,
                        Some(MfaMethod::Totp),
                        false,
                        Some(ip),
                        Some(USER_AGENT),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                last = Some(id);
            }
            Ok::<_, String>(last)
        })
        .ok_or("the gateway's I/O runtime is gone")??;
    let fill_secs = t0.elapsed().as_secs_f64();
    let after = settled_rss_kib(me).unwrap_or(0);
    if let Some(id) = last {
        let cookie = format!("{}={}", app.ui.config.session_cookie, id.as_cookie_value());
        crate::sekisho::expect_upstream(port, "/two", Some(&cookie))?;
    }
    handle.stop();
    Ok(SessionsResult {
        sessions: n,
        rss_before_kib: before,
        rss_after_kib: after,
        fill_secs,
    })
}

#[derive(Debug, Clone, Default)]
pub struct IdleResult {
    pub wanted: usize,
    pub opened: usize,
    pub still_open: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub note: Option<String>,
}

/// Opens `n` keep-alive connections to the gateway, one request each (`/bypass`),
/// then leaves them idle and reads the gateway's RSS.
pub fn idle_connections(g: &Sekisho, n: usize) -> Result<IdleResult, String> {
    let pid = g
        .server
        .procs
        .first()
        .map(|p| p.pid())
        .ok_or("no gateway process")?;
    let mut note = None;
    let limit = crate::procfs::open_files_limit().unwrap_or(1024) as usize;
    let n_ok = n.min(limit.saturating_sub(512));
    if n_ok < n {
        note = Some(format!(
            "open-file limit {limit}: only {n_ok} connections (benches/run.sh raises it with ulimit -n)"
        ));
    }
    let before = rss_kib(pid).unwrap_or(0);
    let request = format!(
        "GET /bypass HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: sekisho-bench-idle\r\n\r\n",
        g.server.port
    );
    let mut conns = Vec::with_capacity(n_ok);
    for _ in 0..n_ok {
        let opened = TcpStream::connect(g.server.addr())
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(request.as_bytes())?;
                Ok(s)
            })
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let mut r = BufReader::new(s);
                crate::loadgen::read_response(&mut r).map(|_| r)
            });
        match opened {
            Ok(c) => conns.push(c),
            Err(e) => {
                note.get_or_insert(format!("stopped at {} connections: {e}", conns.len()));
                break;
            }
        }
    }
    let after = settled_rss_kib(pid).unwrap_or(0);
    let me = [std::process::id()];
    let still_open = established_to(g.server.port, Some(&me));
    let r = IdleResult {
        wanted: n,
        opened: conns.len(),
        still_open,
        rss_before_kib: before,
        rss_after_kib: after,
        note,
    };
    drop(conns);
    Ok(r)
}

#[derive(Debug, Clone, Default)]
pub struct SoakResult {
    pub duration: Duration,
    /// (seconds since start, RSS KiB); the first sample is before the load.
    pub samples: Vec<(f64, u64)>,
    pub requests: u64,
    pub rps: f64,
    pub cpu_us_per_req: f64,
    pub errors: u64,
}

impl SoakResult {
    /// KiB per minute over the samples under load, leaving out the first fifth
    /// (allocator and pools growing to their working size).
    pub fn slope_kib_per_min(&self) -> Option<f64> {
        let loaded = &self.samples[1.min(self.samples.len())..];
        let skip = loaded.len() / 5;
        let pts: Vec<(f64, f64)> = loaded[skip..]
            .iter()
            .map(|(t, r)| (*t / 60.0, *r as f64))
            .collect();
        crate::stats::slope(&pts)
    }
}

/// `two_factor` traffic with wrk for `duration`, sampling the gateway's RSS every
/// `every`.
pub fn soak(
    g: &Sekisho,
    cpu_pids: &[u32],
    connections: usize,
    duration: Duration,
    every: Duration,
) -> Result<SoakResult, String> {
    let pid = g
        .server
        .procs
        .first()
        .map(|p| p.pid())
        .ok_or("no gateway process")?;
    let spec = crate::wrk::WrkSpec {
        url: format!("{}/two", g.base()),
        headers: vec![format!("Cookie: {}", g.mfa_cookie)],
        threads: 1,
        connections,
        duration,
    };
    let start = Instant::now();
    let mut samples = vec![(0.0, rss_kib(pid).unwrap_or(0))];
    let cpu0 = tree_cpu_ticks(cpu_pids);
    let runner = std::thread::spawn(move || spec.run());
    while !runner.is_finished() {
        std::thread::sleep(every.min(Duration::from_millis(200)));
        let t = start.elapsed().as_secs_f64();
        if t - samples.last().map_or(0.0, |s| s.0) >= every.as_secs_f64() && !runner.is_finished() {
            samples.push((t, rss_kib(pid).unwrap_or(0)));
        }
    }
    let report = runner
        .join()
        .map_err(|_| "the wrk thread panicked".to_string())??;
    let cpu1 = tree_cpu_ticks(cpu_pids);
    Ok(SoakResult {
        duration,
        samples,
        requests: report.requests,
        rps: report.requests_per_sec,
        cpu_us_per_req: ticks_to_us(cpu1.saturating_sub(cpu0)) / report.requests.max(1) as f64,
        errors: report.non_2xx_3xx + report.socket_errors,
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The memory section (any part may be missing).
pub fn report(
    s: Option<&SessionsResult>,
    idle: Option<&IdleResult>,
    soak: Option<&SoakResult>,
) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    if let Some(s) = s {
        let per = (s.rss_after_kib.saturating_sub(s.rss_before_kib) * 1024) as f64
            / s.sessions.max(1) as f64;
        rows.push(vec![
            format!(
                "{} live sessions, memory store (in-process gateway, filled in {:.1} s)",
                s.sessions, s.fill_secs
            ),
            mib(s.rss_before_kib),
            mib(s.rss_after_kib),
            format!("{per:.0} B per session"),
        ]);
    }
    if let Some(i) = idle {
        let per = (i.rss_after_kib.saturating_sub(i.rss_before_kib) * 1024) as f64
            / i.opened.max(1) as f64;
        rows.push(vec![
            format!(
                "{} idle keep-alive client connections (`sekisho run`; {} ESTABLISHED after 2 s){}",
                i.opened,
                i.still_open,
                i.note.as_ref().map_or(String::new(), |n| format!("; {n}"))
            ),
            mib(i.rss_before_kib),
            mib(i.rss_after_kib),
            format!("{per:.0} B per connection"),
        ]);
    }
    if !rows.is_empty() {
        out.push_str("### Memory\n\n");
        out.push_str(&table(
            &["what", "RSS before MiB", "RSS after MiB", "cost"],
            &rows,
        ));
    }
    if let Some(k) = soak {
        let rss: Vec<u64> = k.samples.iter().map(|s| s.1).collect();
        let max = rss.iter().copied().max().unwrap_or(0);
        let duration = k.duration.as_secs_f64();
        out.push_str(&format!(
            "### Soak\n\n`two_factor` traffic (wrk, {:.0} req/s, {} requests, {} errors, {:.1} µs CPU/req) for {:.0} s, RSS every few seconds:\n\n",
            k.rps, k.requests, k.errors, k.cpu_us_per_req, duration
        ));
        out.push_str(&table(
            &[
                "RSS idle before MiB",
                "first under load MiB",
                "end MiB",
                "max MiB",
                "slope (after the first fifth)",
            ],
            &[vec![
                mib(rss.first().copied().unwrap_or(0)),
                mib(rss.get(1).copied().unwrap_or(0)),
                mib(rss.last().copied().unwrap_or(0)),
                mib(max),
                format!("{} KiB/min", num(k.slope_kib_per_min(), 1)),
            ]],
        ));
        let curve: Vec<String> = k
            .samples
            .iter()
            .step_by((k.samples.len() / 12).max(1))
            .map(|(t, r)| format!("{t:.0}s {}", mib(*r)))
            .collect();
        out.push_str(&format!("\nCurve (s MiB): {}\n", curve.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soak_slope_ignores_the_warm_up() {
        let mut samples = vec![(0.0, 1000)];
        // Grows fast for the first fifth, then flat.
        for i in 1..=50u64 {
            let t = i as f64 * 6.0;
            samples.push((t, if i <= 10 { 1000 + i * 500 } else { 6000 }));
        }
        let k = SoakResult {
            samples,
            ..SoakResult::default()
        };
        let s = k.slope_kib_per_min().unwrap();
        assert!(s.abs() < 1e-9, "{s}");
        let md = report(None, None, Some(&k));
        assert!(
            md.contains("| 1.0 | 1.5 | 5.9 | 5.9 | 0.0 KiB/min |"),
            "{md}"
        );
    }

    #[test]
    fn per_item_costs() {
        let s = SessionsResult {
            sessions: 1000,
            rss_before_kib: 10_000,
            rss_after_kib: 10_500,
            fill_secs: 0.1,
        };
        let md = report(Some(&s), None, None);
        assert!(md.contains("512 B per session"), "{md}");
    }
}
