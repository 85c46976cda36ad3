//! [`SmtpSink`]: a real SMTP server on `127.0.0.1:0` that keeps every message it receives.
//!
//! The protocol (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, dot-unstuffing) is
//! the `mailin` state machine; this module only does the socket I/O and the TLS, with a
//! throw-away self-signed certificate, so clients must accept invalid certificates or
//! trust [`SmtpSink::certificate_pem`].
//!
//! ```no_run
//! use sekisho_testkit::SmtpSink;
//! use std::time::Duration;
//!
//! let sink = SmtpSink::start(); // or SmtpSink::builder().starttls().auth("u", "p").start()
//! // ... point the code under test at 127.0.0.1:sink.port() ...
//! let mails = sink.wait_for(1, Duration::from_secs(5));
//! assert!(mails[0].text().contains("123456"));
//! ```
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod, SslStream};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`).
    pub from: String,
    /// Envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message exactly as sent after `DATA` (headers and body, CRLF line ends).
    pub data: Vec<u8>,
    /// Whether the message travelled over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The user name the client authenticated as, if the sink asked for AUTH.
    pub authenticated_as: Option<String>,
}

impl ReceivedMail {
    fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("the sink received a message that does not parse")
    }

    /// First value of a header, RFC 2047 decoded (e.g. a UTF-8 `Subject`).
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().headers.iter().find_map(|h| {
            h.get_key_ref()
                .eq_ignore_ascii_case(name)
                .then(|| h.get_value())
        })
    }

    /// The decoded `Subject`.
    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body with its transfer encoding and charset decoded (the first text part of
    /// a multipart message).
    pub fn text(&self) -> String {
        let parsed = self.parsed();
        let part = if parsed.subparts.is_empty() {
            &parsed
        } else {
            parsed
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype.starts_with("text/"))
                .unwrap_or(&parsed)
        };
        part.get_body().expect("undecodable body")
    }
}

/// Options for [`SmtpSink::builder`].
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkBuilder {
    starttls: bool,
    implicit_tls: bool,
    auth: Option<(String, String)>,
}

impl SmtpSinkBuilder {
    /// Offer STARTTLS (like a port-587 submission server).
    pub fn starttls(mut self) -> Self {
        self.starttls = true;
        self
    }

    /// Speak TLS from the first byte (like port 465).
    pub fn implicit_tls(mut self) -> Self {
        self.implicit_tls = true;
        self
    }

    /// Require AUTH PLAIN or LOGIN with these credentials before `MAIL`. With
    /// `starttls()` the mechanisms are only offered after the upgrade.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_string(), password.to_string()));
        self
    }

    pub fn start(self) -> SmtpSink {
        SmtpSink::start_with(self)
    }
}

struct Shared {
    stop: AtomicBool,
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Condvar,
    /// Open client connections, shut down when the sink is dropped.
    connections: Mutex<Vec<TcpStream>>,
}

/// A running SMTP server; stopped (listener closed, connections cut) on drop.
pub struct SmtpSink {
    addr: SocketAddr,
    certificate_pem: Vec<u8>,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Plain SMTP, no AUTH.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// SMTP that offers STARTTLS with a self-signed certificate, no AUTH.
    pub fn start_starttls() -> Self {
        Self::builder().starttls().start()
    }

    pub fn builder() -> SmtpSinkBuilder {
        SmtpSinkBuilder::default()
    }

    fn start_with(options: SmtpSinkBuilder) -> Self {
        let (acceptor, certificate_pem) = self_signed_acceptor();
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
        let addr = listener.local_addr().expect("listener address");
        // Non-blocking so the accept loop can notice `stop` and end.
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            mails: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            connections: Mutex::new(Vec::new()),
        });
        let config = Arc::new(ConnectionConfig { options, acceptor });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name(format!("smtp-sink-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared, config))
            .expect("cannot spawn the SMTP sink thread");
        Self {
            addr,
            certificate_pem,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The sink's self-signed certificate (CN and SAN `localhost`, SAN `127.0.0.1`).
    pub fn certificate_pem(&self) -> &[u8] {
        &self.certificate_pem
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived and returns them all; panics after
    /// `timeout` with what did arrive.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        let mut mails = self.shared.mails.lock().unwrap();
        while mails.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "SMTP sink: expected {n} messages within {timeout:?}, got {}",
                mails.len()
            );
            mails = self.shared.arrived.wait_timeout(mails, left).unwrap().0;
        }
        mails.clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for conn in self.shared.connections.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

struct ConnectionConfig {
    options: SmtpSinkBuilder,
    acceptor: SslAcceptor,
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, config: Arc<ConnectionConfig>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                // A client that stalls must not keep a test thread forever.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                if let Ok(clone) = stream.try_clone() {
                    shared.connections.lock().unwrap().push(clone);
                }
                let shared = Arc::clone(&shared);
                let config = Arc::clone(&config);
                let _ = std::thread::Builder::new()
                    .name("smtp-sink-conn".into())
                    .spawn(move || {
                        // Client misbehaviour only ends that connection.
                        let _ = serve_connection(stream, &shared, &config);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn tls_accept(acceptor: &SslAcceptor, stream: TcpStream) -> io::Result<Conn> {
    acceptor
        .accept(stream)
        .map(|s| Conn::Tls(Box::new(s)))
        .map_err(|e| io::Error::other(format!("TLS handshake failed: {e}")))
}

fn serve_connection(
    stream: TcpStream,
    shared: &Arc<Shared>,
    config: &ConnectionConfig,
) -> io::Result<()> {
    let peer: IpAddr = stream.peer_addr()?.ip();
    let options = &config.options;
    let tls = Arc::new(AtomicBool::new(options.implicit_tls));
    let mut builder = SessionBuilder::new("sekisho-smtp-sink");
    if options.starttls {
        builder.enable_start_tls();
    }
    if options.auth.is_some() {
        builder.enable_auth(AuthMechanism::Plain);
        builder.enable_auth(AuthMechanism::Login);
        // Without STARTTLS the connection is plain or already TLS; either way the
        // mechanisms must be offered from the start.
        if !options.starttls {
            builder.insecure_enable_plaintext_auth();
        }
    }
    let recorder = Recorder {
        shared: Arc::clone(shared),
        tls: Arc::clone(&tls),
        credentials: options.auth.clone(),
        authenticated_as: None,
        from: String::new(),
        to: Vec::new(),
        data: Vec::new(),
    };
    let mut session = builder.build(peer, recorder);
    let conn = if options.implicit_tls {
        tls_accept(&config.acceptor, stream)?
    } else {
        Conn::Plain(stream)
    };
    let mut reader = BufReader::new(conn);
    respond(reader.get_mut(), &session.greeting())?;
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            Action::NoReply => {}
            Action::Reply => respond(reader.get_mut(), &response)?,
            Action::Close => return respond(reader.get_mut(), &response),
            Action::UpgradeTls => {
                respond(reader.get_mut(), &response)?;
                // The client waits for the 220 before its handshake, so nothing is
                // buffered that the swap could lose.
                let Conn::Plain(tcp) = reader.into_inner() else {
                    return Err(io::Error::other("STARTTLS inside TLS"));
                };
                reader = BufReader::new(tls_accept(&config.acceptor, tcp)?);
                tls.store(true, Ordering::SeqCst);
                session.tls_active();
            }
        }
    }
}

fn respond(out: &mut Conn, response: &Response) -> io::Result<()> {
    response.write_to(out)?;
    out.flush()
}

struct Recorder {
    shared: Arc<Shared>,
    tls: Arc<AtomicBool>,
    credentials: Option<(String, String)>,
    authenticated_as: Option<String>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Recorder {
    fn check_credentials(&mut self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => {
                self.authenticated_as = Some(user.to_string());
                mailin::response::AUTH_OK
            }
            _ => mailin::response::INVALID_CREDENTIALS,
        }
    }
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
            tls: self.tls.load(Ordering::SeqCst),
            authenticated_as: self.authenticated_as.clone(),
        };
        self.shared.mails.lock().unwrap().push(mail);
        self.shared.arrived.notify_all();
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.check_credentials(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check_credentials(user, password)
    }
}

/// A TLS acceptor with a fresh P-256 key and a one-day self-signed certificate.
fn self_signed_acceptor() -> (SslAcceptor, Vec<u8>) {
    let build = || -> Result<(SslAcceptor, Vec<u8>), openssl::error::ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "localhost")?;
        let name = name.build();
        let mut cert = X509::builder()?;
        cert.set_version(2)?;
        let serial = BigNum::from_u32(rand::random::<u32>() >> 1)?.to_asn1_integer()?;
        cert.set_serial_number(&serial)?;
        cert.set_subject_name(&name)?;
        cert.set_issuer_name(&name)?;
        cert.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        let not_after = Asn1Time::days_from_now(1)?;
        cert.set_not_before(&not_before)?;
        cert.set_not_after(&not_after)?;
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&cert.x509v3_context(None, None))?;
        cert.append_extension(san)?;
        cert.sign(&key, MessageDigest::sha256())?;
        let cert = cert.build();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
        acceptor.set_private_key(&key)?;
        acceptor.set_certificate(&cert)?;
        acceptor.check_private_key()?;
        Ok((acceptor.build(), cert.to_pem()?))
    };
    build().expect("cannot make the SMTP sink's self-signed certificate")
}

#[cfg(test)]
mod tests;
