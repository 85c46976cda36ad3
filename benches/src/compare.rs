//! The side-by-side comparison: every target measured in interleaved rounds (round
//! `r` runs each target once, the order rotated by `r`), closed-loop with wrk for
//! throughput and CPU per request, then open-loop at a fixed rate for latency.
use crate::loadgen::{self, FixedRate};
use crate::procfs::{established_to, ticks_to_us, tree_cpu_ticks};
use crate::servers::{nginx_status, NginxStatus};
use crate::wrk::WrkSpec;
use std::time::Duration;

/// What a target is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The bare Pingora passthrough: the floor.
    BarePingora,
    /// nginx + `auth_request`: the usual way to put auth in front of a site.
    NginxAuth,
    Other,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub port: u16,
    pub path: String,
    pub headers: Vec<String>,
    /// Processes whose CPU (with their descendants) is charged to this target.
    pub cpu_pids: Vec<u32>,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub threads: usize,
    pub connections: usize,
    pub rate: u64,
    pub fixed_duration: Duration,
    pub fixed_connections: usize,
}

/// One closed-loop (wrk) run.
#[derive(Debug, Clone, Default)]
pub struct Closed {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_req: f64,
    pub requests: u64,
    pub errors: u64,
    /// Connections the upstream accepted during the run (keep-alive: at most one per
    /// proxy connection, not one per request).
    pub upstream_new_conns: u64,
    /// Requests the upstream served during the run (a proxy answering by itself
    /// would show fewer than wrk counted).
    pub upstream_requests: u64,
    /// ESTABLISHED connections from the target's processes to the upstream port
    /// half-way through the run.
    pub upstream_established: usize,
}

/// One open-loop (fixed-rate) run.
#[derive(Debug, Clone, Default)]
pub struct Fixed {
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub cpu_us_per_req: f64,
    pub achieved_rate: f64,
    pub errors: u64,
    pub first_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: Target,
    pub closed: Vec<Closed>,
    pub fixed: Vec<Fixed>,
}

fn delta(a: NginxStatus, b: NginxStatus) -> NginxStatus {
    // The status request that read `b` is itself one connection and one request.
    NginxStatus {
        accepts: b.accepts.saturating_sub(a.accepts + 1),
        requests: b.requests.saturating_sub(a.requests + 1),
    }
}

fn wrk_spec(t: &Target, o: &Options, duration: Duration) -> WrkSpec {
    WrkSpec {
        url: format!("http://127.0.0.1:{}{}", t.port, t.path),
        headers: t.headers.clone(),
        threads: o.threads,
        connections: o.connections,
        duration,
    }
}

/// One wrk run against `t`, with CPU and upstream connection accounting.
pub fn closed_run(t: &Target, o: &Options, upstream: u16) -> Result<Closed, String> {
    let spec = wrk_spec(t, o, o.duration);
    let status0 = nginx_status(upstream)?;
    let cpu0 = tree_cpu_ticks(&t.cpu_pids);
    let runner = std::thread::spawn(move || spec.run());
    std::thread::sleep(o.duration / 2);
    let established = established_to(upstream, Some(&t.cpu_pids));
    let report = runner
        .join()
        .map_err(|_| "the wrk thread panicked".to_string())??;
    let cpu1 = tree_cpu_ticks(&t.cpu_pids);
    let up = delta(status0, nginx_status(upstream)?);
    Ok(Closed {
        rps: report.requests_per_sec,
        p50_us: report.p50_us,
        p99_us: report.p99_us,
        cpu_us_per_req: ticks_to_us(cpu1.saturating_sub(cpu0)) / report.requests.max(1) as f64,
        requests: report.requests,
        errors: report.non_2xx_3xx + report.socket_errors,
        upstream_new_conns: up.accepts,
        upstream_requests: up.requests,
        upstream_established: established,
    })
}

/// One open-loop run against `t` at `o.rate`.
pub fn fixed_run(t: &Target, o: &Options) -> Result<Fixed, String> {
    let spec = FixedRate {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], t.port)),
        path: t.path.clone(),
        headers: t.headers.clone(),
        rate: o.rate,
        duration: o.fixed_duration,
        connections: o.fixed_connections,
    };
    let cpu0 = tree_cpu_ticks(&t.cpu_pids);
    let r = loadgen::run(&spec);
    let cpu1 = tree_cpu_ticks(&t.cpu_pids);
    let us = |p: f64| r.latency.percentile(p) as f64 / 1e3;
    Ok(Fixed {
        p50_us: us(50.0),
        p99_us: us(99.0),
        p999_us: us(99.9),
        max_us: r.latency.max() as f64 / 1e3,
        cpu_us_per_req: ticks_to_us(cpu1.saturating_sub(cpu0)) / r.ok.max(1) as f64,
        achieved_rate: r.achieved_rate(),
        errors: r.errors,
        first_error: r.first_error,
    })
}

/// The order of round `r`: every target once, rotated by `r`.
pub fn round_order(n: usize, r: usize) -> Vec<usize> {
    (0..n).map(|i| (i + r) % n.max(1)).collect()
}

/// Warm-up, then `rounds` closed-loop rounds, then `rounds` fixed-rate rounds.
pub fn run(targets: &[Target], o: &Options, upstream: u16) -> Result<Vec<TargetResult>, String> {
    let mut results: Vec<TargetResult> = targets
        .iter()
        .map(|t| TargetResult {
            target: t.clone(),
            closed: Vec::new(),
            fixed: Vec::new(),
        })
        .collect();
    if !o.warmup.is_zero() {
        eprintln!("warm-up: {} s per target", o.warmup.as_secs_f64());
        for t in targets {
            wrk_spec(t, o, o.warmup).run()?;
        }
    }
    for r in 0..o.rounds {
        for i in round_order(targets.len(), r) {
            let t = &targets[i];
            let c = closed_run(t, o, upstream).map_err(|e| format!("{}: {e}", t.name))?;
            eprintln!(
                "round {}/{} wrk   {:<34} {:>9.0} req/s  p99 {:>7.0} us  {:>5.1} us CPU/req  upstream conns +{}",
                r + 1,
                o.rounds,
                t.name,
                c.rps,
                c.p99_us,
                c.cpu_us_per_req,
                c.upstream_new_conns
            );
            results[i].closed.push(c);
        }
    }
    if o.rate > 0 && !o.fixed_duration.is_zero() {
        for r in 0..o.rounds {
            for i in round_order(targets.len(), r) {
                let t = &targets[i];
                let f = fixed_run(t, o).map_err(|e| format!("{}: {e}", t.name))?;
                eprintln!(
                    "round {}/{} fixed {:<34} {:>6} req/s  p50 {:>6.0} us  p99 {:>6.0} us  p99.9 {:>6.0} us  errors {}",
                    r + 1,
                    o.rounds,
                    t.name,
                    o.rate,
                    f.p50_us,
                    f.p99_us,
                    f.p999_us,
                    f.errors
                );
                results[i].fixed.push(f);
            }
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_rotate_and_cover_every_target() {
        assert_eq!(round_order(3, 0), [0, 1, 2]);
        assert_eq!(round_order(3, 1), [1, 2, 0]);
        assert_eq!(round_order(3, 5), [2, 0, 1]);
        for r in 0..7 {
            let mut o = round_order(4, r);
            o.sort_unstable();
            assert_eq!(o, [0, 1, 2, 3]);
        }
    }

    #[test]
    fn status_deltas_leave_out_the_status_request() {
        let a = NginxStatus {
            accepts: 10,
            requests: 100,
        };
        let b = NginxStatus {
            accepts: 13,
            requests: 1101,
        };
        assert_eq!(
            delta(a, b),
            NginxStatus {
                accepts: 2,
                requests: 1000
            }
        );
        assert_eq!(delta(b, a), NginxStatus::default());
    }
}
