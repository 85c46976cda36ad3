//! `sekisho reload`: asks a running gateway to read its configuration file again,
//! through `POST /reload` on its admin listener, and prints what happened. The file
//! is validated here first, so a typo is reported before anything is asked.
use super::{load, CliResult, ConfigArg};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

pub(super) fn reload(c: &ConfigArg) -> CliResult {
    let settings = load(c)?;
    let Some(admin) = settings.server.admin_listen else {
        return Err(
            "server.admin_listen is off: send SIGHUP to the gateway process instead".into(),
        );
    };
    let (status, body) = post_reload(admin).map_err(|e| format!("admin listener {admin}: {e}"))?;
    if status == 200 {
        print!("{body}");
        Ok(())
    } else {
        Err(format!(
            "the gateway refused the reload ({status}): {}",
            body.trim()
        ))
    }
}

/// A listener on every address is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

fn post_reload(admin: SocketAddr) -> std::io::Result<(u16, String)> {
    let addr = reachable(admin);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // Building a configuration opens nothing new, but give a slow disk some time.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST /reload HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    Ok((status, body.to_string()))
}
