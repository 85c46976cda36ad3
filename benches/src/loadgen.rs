//! An open-loop, fixed-rate HTTP/1.1 load generator (what wrk cannot do).
//!
//! Request `i` is due at `start + i / rate`, whatever happened to the earlier ones.
//! Each worker thread owns one keep-alive connection, claims the next due request,
//! sleeps until its time, sends it and reads the answer. Latency is measured from the
//! time the request was *due*, so a stalled server is charged for the requests that
//! queued behind it (no coordinated omission). When every worker is busy, due
//! requests wait for one, and that wait counts as latency too.
use crate::histogram::Histogram;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct FixedRate {
    pub addr: SocketAddr,
    pub path: String,
    /// Extra request header lines, e.g. `Cookie: a=b`.
    pub headers: Vec<String>,
    pub rate: u64,
    pub duration: Duration,
    pub connections: usize,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    /// Latency from due time to the last byte of the answer, in nanoseconds.
    pub latency: Histogram,
    /// Answers with status 200.
    pub ok: u64,
    /// Other statuses, broken connections, unreadable answers.
    pub errors: u64,
    /// Connections opened (one per worker unless the server closed some).
    pub connects: u64,
    pub elapsed: Duration,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
}

impl LoadResult {
    pub fn achieved_rate(&self) -> f64 {
        (self.ok + self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the schedule to its end and returns the merged result.
pub fn run(spec: &FixedRate) -> LoadResult {
    let total = (spec.rate as f64 * spec.duration.as_secs_f64()).round() as u64;
    let interval_ns = 1e9 / spec.rate.max(1) as f64;
    let next = Arc::new(AtomicU64::new(0));
    let request = Arc::new(request_bytes(spec));
    let start = Instant::now() + Duration::from_millis(20);
    let workers: Vec<_> = (0..spec.connections.max(1))
        .map(|_| {
            let (next, request, addr) = (Arc::clone(&next), Arc::clone(&request), spec.addr);
            std::thread::spawn(move || worker(addr, &request, &next, total, start, interval_ns))
        })
        .collect();
    let mut result = LoadResult::default();
    for w in workers {
        match w.join() {
            Ok(part) => {
                result.latency.merge(&part.latency);
                result.ok += part.ok;
                result.errors += part.errors;
                result.connects += part.connects;
                if result.first_error.is_none() {
                    result.first_error = part.first_error;
                }
            }
            Err(_) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert("a worker thread panicked".into());
            }
        }
    }
    result.elapsed = start.elapsed();
    result
}

fn request_bytes(spec: &FixedRate) -> Vec<u8> {
    let mut r = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sekisho-bench\r\nAccept: */*\r\n",
        spec.path, spec.addr
    );
    for h in &spec.headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn worker(
    addr: SocketAddr,
    request: &[u8],
    next: &AtomicU64,
    total: u64,
    start: Instant,
    interval_ns: f64,
) -> LoadResult {
    let mut out = LoadResult::default();
    // Connected before the schedule starts, so no due request pays for a handshake.
    let mut conn = connect(addr).ok();
    out.connects += u64::from(conn.is_some());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        let due = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let answer = match conn.take() {
            Some(c) => Ok(c),
            None => connect(addr).inspect(|_| out.connects += 1),
        }
        .and_then(|mut c| exchange(&mut c, request).map(|keep| (c, keep)));
        match answer {
            Ok((c, (status, keep_alive))) => {
                out.latency.record(due.elapsed().as_nanos() as u64);
                if status == 200 {
                    out.ok += 1;
                } else {
                    out.errors += 1;
                    out.first_error.get_or_insert(format!("status {status}"));
                }
                if keep_alive {
                    conn = Some(c);
                }
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
            }
        }
    }
    out
}

fn connect(addr: SocketAddr) -> Result<BufReader<TcpStream>, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    Ok(BufReader::with_capacity(16 * 1024, s))
}

/// Sends one request and reads its answer; returns the status and whether the
/// connection may be reused.
fn exchange(c: &mut BufReader<TcpStream>, request: &[u8]) -> Result<(u16, bool), String> {
    c.get_mut().write_all(request).map_err(|e| e.to_string())?;
    read_response(c)
}

/// Reads a `Content-Length` (or body-less) HTTP/1.1 response from `r`.
pub fn read_response(r: &mut impl BufRead) -> Result<(u16, bool), String> {
    let mut line = String::new();
    if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Err("connection closed".into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut length: Option<u64> = None;
    let mut keep_alive = line.starts_with("HTTP/1.1");
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed in the headers".into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked answers are not supported by the load generator".into());
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }
    let body_less = status == 204 || status == 304 || (100..200).contains(&status);
    match length {
        Some(n) => {
            std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
        }
        None if body_less => {}
        None => return Err("answer without Content-Length".into()),
    }
    Ok((status, keep_alive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_answers() {
        let mut r = &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"[..];
        assert_eq!(read_response(&mut r).unwrap(), (200, true));
        assert_eq!(read_response(&mut r).unwrap(), (204, false));
        assert!(read_response(&mut r).is_err());
        let mut chunked = &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..];
        assert!(read_response(&mut chunked).is_err());
    }

    /// A keep-alive server on a thread that answers `n` requests per connection.
    fn server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut w = s;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn keeps_the_rate_and_the_connections() {
        let spec = FixedRate {
            addr: server(),
            path: "/".into(),
            headers: vec!["Cookie: a=b".into()],
            rate: 500,
            duration: Duration::from_millis(400),
            connections: 4,
        };
        let r = run(&spec);
        assert_eq!(r.ok, 200, "{:?}", r.first_error);
        assert_eq!(r.errors, 0);
        assert!(r.connects <= 4, "keep-alive: {} connections", r.connects);
        assert!(r.elapsed >= Duration::from_millis(390), "{:?}", r.elapsed);
        assert!(r.latency.percentile(50.0) < 50_000_000, "{:?}", r.latency);
    }
}
