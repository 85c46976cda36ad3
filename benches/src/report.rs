//! Markdown for the results: the comparison tables (medians over rounds, ratios
//! against bare Pingora and nginx + auth_request), and small helpers shared by the
//! other modes.
use crate::compare::{Options, Role, TargetResult};
use crate::stats::{median, ratio};

/// The median of `f` over a target's closed-loop runs.
fn closed_median(r: &TargetResult, f: impl Fn(&crate::compare::Closed) -> f64) -> Option<f64> {
    median(&r.closed.iter().map(f).collect::<Vec<_>>())
}

fn fixed_median(r: &TargetResult, f: impl Fn(&crate::compare::Fixed) -> f64) -> Option<f64> {
    median(&r.fixed.iter().map(f).collect::<Vec<_>>())
}

pub fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.decimals$}"))
}

fn ms(v: Option<f64>) -> String {
    num(v.map(|us| us / 1e3), 2)
}

fn times(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}×"))
}

/// A markdown table from a header row and rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// The comparison section.
pub fn compare(results: &[TargetResult], o: &Options) -> String {
    let find = |role: Role| results.iter().find(|r| r.target.role == role);
    let rps = |r: &TargetResult| closed_median(r, |c| c.rps);
    let cpu = |r: &TargetResult| closed_median(r, |c| c.cpu_us_per_req);
    let (bare, auth) = (find(Role::BarePingora), find(Role::NginxAuth));
    let rel = |r: &TargetResult,
               base: Option<&TargetResult>,
               f: &dyn Fn(&TargetResult) -> Option<f64>| {
        base.and_then(|b| ratio(f(r)?, f(b)?))
    };
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let lo = r.closed.iter().map(|c| c.rps).fold(f64::INFINITY, f64::min);
            let hi = r.closed.iter().map(|c| c.rps).fold(0.0, f64::max);
            let errors: u64 = r.closed.iter().map(|c| c.errors).sum();
            let up_conns = closed_median(r, |c| c.upstream_new_conns as f64);
            let est = closed_median(r, |c| c.upstream_established as f64);
            let seen = closed_median(r, |c| c.upstream_requests as f64 / c.requests.max(1) as f64);
            vec![
                r.target.name.clone(),
                num(rps(r), 0),
                if r.closed.is_empty() {
                    "–".into()
                } else {
                    format!("{lo:.0}–{hi:.0}")
                },
                ms(closed_median(r, |c| c.p50_us)),
                ms(closed_median(r, |c| c.p99_us)),
                num(cpu(r), 1),
                times(rel(r, bare, &rps)),
                times(rel(r, bare, &cpu)),
                times(rel(r, auth, &rps)),
                times(rel(r, auth, &cpu)),
                format!("{} / {}", num(up_conns, 0), num(est, 0)),
                num(seen.map(|s| s * 100.0), 1),
                errors.to_string(),
            ]
        })
        .collect();
    let mut out = format!(
        "### Throughput (closed loop: wrk -t{} -c{}, {} s per run, median of {} interleaved rounds)\n\n",
        o.threads,
        o.connections,
        o.duration.as_secs(),
        o.rounds
    );
    out.push_str(&table(
        &[
            "target",
            "req/s",
            "req/s min–max",
            "p50 ms",
            "p99 ms",
            "CPU µs/req",
            "req/s vs bare Pingora",
            "CPU vs bare Pingora",
            "req/s vs nginx+auth_request",
            "CPU vs nginx+auth_request",
            "upstream conns opened / established",
            "upstream saw % of requests",
            "errors",
        ],
        &rows,
    ));
    out.push_str(
        "\nCPU µs/req: utime+stime of the proxy's processes (with descendants) over the run, \
         divided by the requests wrk completed; nginx + auth_request includes its auth backend \
         nginx, Sekisho with Redis includes redis-server. Upstream conns opened: connections \
         the upstream nginx accepted during a run (keep-alive works when this stays at or below \
         the client connections, not one per request); established: ESTABLISHED sockets to the \
         upstream port half-way through. Upstream saw: requests the upstream served per request \
         wrk counted (100 % means nothing was answered by the proxy itself).\n",
    );
    if results.iter().any(|r| !r.fixed.is_empty()) {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                let errors: u64 = r.fixed.iter().map(|f| f.errors).sum();
                let first = r.fixed.iter().find_map(|f| f.first_error.clone());
                vec![
                    r.target.name.clone(),
                    num(fixed_median(r, |f| f.achieved_rate), 0),
                    ms(fixed_median(r, |f| f.p50_us)),
                    ms(fixed_median(r, |f| f.p99_us)),
                    ms(fixed_median(r, |f| f.p999_us)),
                    ms(r.fixed.iter().map(|f| f.max_us).reduce(f64::max)),
                    num(fixed_median(r, |f| f.cpu_us_per_req), 1),
                    match first {
                        Some(e) if errors > 0 => format!("{errors} ({e})"),
                        _ => errors.to_string(),
                    },
                ]
            })
            .collect();
        out.push_str(&format!(
            "\n### Latency at a fixed rate (open loop: {} req/s over {} connections, {} s per run, median of {} rounds)\n\n",
            o.rate,
            o.fixed_connections,
            o.fixed_duration.as_secs(),
            o.rounds
        ));
        out.push_str(&table(
            &[
                "target",
                "achieved req/s",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "CPU µs/req",
                "errors",
            ],
            &rows,
        ));
        out.push_str(
            "\nLatency is measured from the moment each request was due, so stalls are charged \
             to the requests queued behind them (no coordinated omission).\n",
        );
        if let Some(b) = bare {
            let p99 = |r: &TargetResult| fixed_median(r, |f| f.p99_us);
            let added: Vec<String> = results
                .iter()
                .filter(|r| r.target.name.starts_with("Sekisho"))
                .filter_map(|r| {
                    Some(format!(
                        "{}: {:+.3} ms",
                        r.target.name,
                        (p99(r)? - p99(b)?) / 1e3
                    ))
                })
                .collect();
            if !added.is_empty() {
                out.push_str(&format!(
                    "\np99 added over bare Pingora at {} req/s: {}.\n",
                    o.rate,
                    added.join("; ")
                ));
            }
        }
    }
    out
}

/// The machine the run happened on.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), Linux {}, load average at start {}",
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Closed, Fixed, Target};

    fn result(name: &str, role: Role, rps: f64, cpu: f64) -> TargetResult {
        TargetResult {
            target: Target {
                name: name.into(),
                port: 1,
                path: "/".into(),
                headers: vec![],
                cpu_pids: vec![],
                role,
            },
            closed: vec![
                Closed {
                    rps,
                    cpu_us_per_req: cpu,
                    requests: 10,
                    upstream_requests: 10,
                    ..Closed::default()
                },
                Closed {
                    rps: rps * 2.0,
                    cpu_us_per_req: cpu,
                    requests: 10,
                    upstream_requests: 10,
                    ..Closed::default()
                },
                Closed {
                    rps: rps / 2.0,
                    cpu_us_per_req: cpu,
                    requests: 10,
                    upstream_requests: 10,
                    ..Closed::default()
                },
            ],
            fixed: vec![Fixed {
                p99_us: 500.0,
                ..Fixed::default()
            }],
        }
    }

    #[test]
    fn ratios_use_medians() {
        let results = vec![
            result("bare Pingora", Role::BarePingora, 20_000.0, 50.0),
            result("nginx + auth_request", Role::NginxAuth, 10_000.0, 80.0),
            result("Sekisho memory two_factor", Role::Other, 18_000.0, 60.0),
        ];
        let o = Options {
            rounds: 3,
            rate: 2000,
            ..Options::default()
        };
        let md = compare(&results, &o);
        let line = md.lines().find(|l| l.starts_with("| Sekisho")).unwrap();
        assert!(line.contains("| 18000 | 9000–36000 |"), "{line}");
        assert!(line.contains("| 0.90× | 1.20× | 1.80× | 0.75× |"), "{line}");
        assert!(md.contains(
            "p99 added over bare Pingora at 2000 req/s: Sekisho memory two_factor: +0.000 ms"
        ));
    }

    #[test]
    fn tables() {
        let t = table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert_eq!(num(None, 1), "–");
        assert!(machine().contains("cores"));
    }
}
