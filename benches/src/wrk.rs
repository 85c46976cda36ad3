//! Closed-loop throughput runs with `wrk`, and the parts of its report we use.
use crate::children::run_to_end;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WrkSpec {
    pub url: String,
    pub headers: Vec<String>,
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrkReport {
    pub requests: u64,
    pub requests_per_sec: f64,
    /// Latency percentiles in microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Answers that were neither 2xx nor 3xx.
    pub non_2xx_3xx: u64,
    /// connect + read + write + timeout errors.
    pub socket_errors: u64,
}

impl WrkSpec {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("wrk");
        cmd.arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg("--latency");
        for h in &self.headers {
            cmd.arg("-H").arg(h);
        }
        cmd.arg(&self.url);
        cmd
    }

    pub fn run(&self) -> Result<WrkReport, String> {
        let out = run_to_end(&mut self.command(), None)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrk failed ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse(&text).ok_or_else(|| format!("unreadable wrk report:\n{text}"))
    }
}

/// `1.23ms`, `456.78us`, `2.00s` → microseconds.
fn duration_us(s: &str) -> Option<f64> {
    let (num, factor) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix("m") {
        (n, 60e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * factor)
}

pub fn parse(text: &str) -> Option<WrkReport> {
    let mut r = WrkReport::default();
    let mut seen_rps = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50_us = duration_us(v)?,
            ["99%", v] => r.p99_us = duration_us(v)?,
            ["Requests/sec:", v] => {
                r.requests_per_sec = v.parse().ok()?;
                seen_rps = true;
            }
            [n, "requests", "in", ..] => r.requests = n.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => r.non_2xx_3xx = n.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                r.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    seen_rps.then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8080/two
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  310.22us   9.87ms   88.12%
    Req/Sec    21.10k     1.02k   23.00k    71.00%
  Latency Distribution
     50%    1.48ms
     75%    1.60ms
     90%    1.80ms
     99%  812.00us
  209874 requests in 10.00s, 30.02MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 3, write 0, timeout 1
Requests/sec:  20987.40
Transfer/sec:      3.00MB
";

    #[test]
    fn reads_a_report() {
        let r = parse(REPORT).unwrap();
        assert_eq!(r.requests, 209_874);
        assert!((r.requests_per_sec - 20_987.4).abs() < 1e-6);
        assert!((r.p50_us - 1_480.0).abs() < 1e-6);
        assert!((r.p99_us - 812.0).abs() < 1e-6);
        assert_eq!((r.non_2xx_3xx, r.socket_errors), (12, 4));
        assert!(parse("wrk: connection refused").is_none());
    }

    #[test]
    fn units() {
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("1.5m"), Some(90e6));
        assert_eq!(duration_us("7"), None);
    }

    #[test]
    fn command_line() {
        let spec = WrkSpec {
            url: "http://127.0.0.1:1/x".into(),
            headers: vec!["Cookie: s=1".into()],
            threads: 1,
            connections: 32,
            duration: Duration::from_secs(10),
        };
        let args: Vec<String> = spec
            .command()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-t1",
                "-c32",
                "-d10s",
                "--latency",
                "-H",
                "Cookie: s=1",
                "http://127.0.0.1:1/x"
            ]
        );
    }
}
