//! [`HttpsServer`]: a small HTTPS upstream for the upstream-TLS tests. It presents
//! a given certificate and answers every request `200` with its name in the body and
//! in `x-server`, one request per connection. Stopped on drop.
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct HttpsServer {
    pub port: u16,
    /// Requests answered (health checks included).
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpsServer {
    /// Serves on an ephemeral loopback port with the PEM `cert` chain and `key`.
    pub fn start(cert: &Path, key: &Path, name: &str) -> Self {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        b.set_private_key_file(key, SslFiletype::PEM).unwrap();
        b.set_certificate_chain_file(cert).unwrap();
        let acceptor = Arc::new(b.build());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (flag, count, name) = (Arc::clone(&stop), Arc::clone(&requests), name.to_string());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (acceptor, count, name) =
                    (Arc::clone(&acceptor), Arc::clone(&count), name.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    // A client that refuses our certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(stream) else {
                        return;
                    };
                    if read_head(&mut tls).is_some() {
                        count.fetch_add(1, Ordering::SeqCst);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nx-server: {name}\r\ncontent-type: text/plain\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n{name}",
                            name.len()
                        );
                        let _ = tls.write_all(reply.as_bytes());
                        let _ = tls.shutdown();
                    }
                });
            }
        });
        Self {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}

/// Reads up to the end of a request head (bodies are not expected).
fn read_head(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        head.extend_from_slice(&buf[..n]);
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(head)
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
