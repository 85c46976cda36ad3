//! What the harness reads from `/proc`: CPU time of a process and its descendants,
//! resident memory, open-file limits and TCP connections in state ESTABLISHED.
use std::collections::HashSet;
use std::sync::OnceLock;

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on
/// every Linux this runs on).
pub fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// `utime + stime` of one process (every thread, living or exited), in ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&stat)
}

/// The process name may hold spaces and parentheses: fields are counted after the
/// last `)`. utime and stime are fields 14 and 15 of the whole line.
fn parse_stat_cpu(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The process and every descendant (children of every thread, recursively).
pub fn tree(root: u32) -> Vec<u32> {
    let mut out = vec![root];
    let mut seen = HashSet::from([root]);
    let mut i = 0;
    while i < out.len() {
        let pid = out[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if seen.insert(c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// CPU ticks of the processes (and their descendants) `roots`.
pub fn tree_cpu_ticks(roots: &[u32]) -> u64 {
    roots
        .iter()
        .flat_map(|r| tree(*r))
        .filter_map(cpu_ticks)
        .sum()
}

/// Ticks to microseconds.
pub fn ticks_to_us(ticks: u64) -> f64 {
    ticks as f64 * 1e6 / clock_ticks() as f64
}

/// Resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&status, "VmRSS:")
}

/// VmRSS once it has stopped moving: read every 100 ms until two readings in a row are
/// within 64 KiB (at most 5 s), so a measurement waits for the process to settle rather
/// than for a fixed time.
pub fn settled_rss_kib(pid: u32) -> Option<u64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut last = rss_kib(pid)?;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = rss_kib(pid)?;
        if now.abs_diff(last) <= 64 || std::time::Instant::now() >= deadline {
            return Some(now);
        }
        last = now;
    }
}

fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit on open files of this process.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// ESTABLISHED TCP connections whose remote end is loopback port `port`: the client
/// sides of connections to a server listening there. With `owners`, only sockets
/// held by those processes (and their descendants) count: other proxies keep idle
/// pooled connections to the same upstream.
pub fn established_to(port: u16, owners: Option<&[u32]>) -> usize {
    let inodes = owners.map(socket_inodes);
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| count_established(&t, port, inodes.as_ref()))
        .sum()
}

/// Inodes of the sockets open in the processes `roots` and their descendants.
pub fn socket_inodes(roots: &[u32]) -> HashSet<u64> {
    roots
        .iter()
        .flat_map(|r| tree(*r))
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .flat_map(|fds| fds.flatten())
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

fn count_established(table: &str, port: u16, inodes: Option<&HashSet<u64>>) -> usize {
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode;
            // st 01 is ESTABLISHED.
            f.get(3) == Some(&"01")
                && f.get(2).is_some_and(|r| r.ends_with(&want))
                && inodes.is_none_or(|set| {
                    f.get(9)
                        .and_then(|i| i.parse::<u64>().ok())
                        .is_some_and(|i| set.contains(&i))
                })
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_rss_is_read_once_it_stops_moving() {
        let me = std::process::id();
        let settled = settled_rss_kib(me).unwrap();
        assert!(settled > 0);
        assert!(settled_rss_kib(u32::MAX).is_none(), "no such process");
    }

    #[test]
    fn stat_fields_after_an_awkward_name() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 120 35 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat_cpu(line), Some(155));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn own_process_is_visible() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_some());
        assert!(rss_kib(me).is_some_and(|r| r > 0));
        assert!(tree(me).contains(&me));
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn counts_connections_by_remote_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n\
           0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000 0 0 111\n\
           1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 222\n\
           1: 0100007F:C352 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 333\n\
           2: 0100007F:C351 0100007F:1F90 06 00000000:00000000 00:00000000 00000000 0 0 0\n\
           3: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 444\n";
        assert_eq!(count_established(table, 8080, None), 2);
        assert_eq!(
            count_established(table, 8080, Some(&HashSet::from([333]))),
            1
        );
        assert_eq!(count_established(table, 80, None), 0);
    }

    #[test]
    fn a_real_connection_is_counted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = [std::process::id()];
        assert_eq!(established_to(port, Some(&me)), 0);
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _server = listener.accept().unwrap();
        assert_eq!(established_to(port, Some(&me)), 1);
        assert_eq!(established_to(port, Some(&[])), 0);
    }

    #[test]
    fn rss_field() {
        assert_eq!(
            status_field_kib("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
    }
}
