//! What the upstream learns about the user, and nothing the client made up.
//!
//! Header names are parsed once at start-up. Client-sent copies of every identity
//! header (the configured names and the default `Remote-*` ones, any case, any number
//! of times) are removed before Sekisho adds its own.
//!
//! This runs on every proxied request, so it avoids work that is not needed: one
//! pass over the request's names finds forged headers (usually none) instead of a
//! removal attempt per name, and each value is built with one allocation.
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use sekisho_auth::Session;
use sekisho_config::IdentityHeaderNames;

const DEFAULT_NAMES: [&str; 4] = [
    "remote-user",
    "remote-email",
    "remote-groups",
    "remote-name",
];

pub struct IdentityHeaders {
    user: HeaderName,
    email: HeaderName,
    groups: HeaderName,
    name: HeaderName,
    strip: Vec<HeaderName>,
}

impl IdentityHeaders {
    pub fn new(names: &IdentityHeaderNames) -> Result<Self, http::header::InvalidHeaderName> {
        let parse = |n: &str| HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes());
        let configured = [
            parse(&names.user)?,
            parse(&names.email)?,
            parse(&names.groups)?,
            parse(&names.name)?,
        ];
        let mut strip: Vec<HeaderName> = configured.to_vec();
        for d in DEFAULT_NAMES {
            let h = HeaderName::from_static(d);
            if !strip.contains(&h) {
                strip.push(h);
            }
        }
        let [user, email, groups, name] = configured;
        Ok(Self {
            user,
            email,
            groups,
            name,
            strip,
        })
    }

    /// Removes every client-supplied identity header.
    pub fn strip(&self, req: &mut RequestHeader) {
        let forged = |h: &HeaderName| req.headers.contains_key(h);
        if !self.strip.iter().any(forged) {
            return;
        }
        for h in &self.strip {
            // `remove_header` drops every value of the name.
            req.remove_header(h);
        }
    }

    /// Adds the signed-in user's identity.
    pub fn insert(&self, req: &mut RequestHeader, s: &Session) -> pingora::Result<()> {
        req.insert_header(self.user.clone(), value(&s.email))?;
        req.insert_header(self.email.clone(), value(&s.email))?;
        req.insert_header(self.groups.clone(), owned_value(s.groups_header()))?;
        // Names may be Japanese: sent as raw UTF-8, as other gateways do.
        req.insert_header(self.name.clone(), value(&s.display_name))?;
        Ok(())
    }
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// A header value from text; control characters (which would split headers) are dropped.
fn value(s: &str) -> HeaderValue {
    if !s.bytes().any(is_control) {
        // `from_bytes`, not `from_str`: UTF-8 names (bytes ≥ 0x80) are allowed.
        return HeaderValue::from_bytes(s.as_bytes())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
    }
    let clean: Vec<u8> = s.bytes().filter(|b| !is_control(*b)).collect();
    HeaderValue::from_bytes(&clean).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// [`value`] of a string built for it: its buffer becomes the value, without a copy.
fn owned_value(s: String) -> HeaderValue {
    if s.bytes().any(is_control) {
        return value(&s);
    }
    HeaderValue::from_maybe_shared(Bytes::from(s)).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// An IP address as a header value, formatted on the stack.
fn ip_value(ip: std::net::IpAddr) -> HeaderValue {
    use std::io::Write as _;
    // The longest text form of an address is 39 bytes (IPv6, eight full groups).
    let mut buf = [0u8; 48];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{ip}");
    let len = cursor.position() as usize;
    HeaderValue::from_bytes(&buf[..len]).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Sets `X-Forwarded-For/-Proto/-Host`. A client's own values are kept (and the peer
/// appended) only when the TCP peer is a trusted proxy; otherwise they are replaced.
pub fn set_forwarded(
    req: &mut RequestHeader,
    peer_ip: std::net::IpAddr,
    peer_trusted: bool,
    proto: &'static str,
) -> pingora::Result<()> {
    let xff = match (peer_trusted, req.headers.get("x-forwarded-for")) {
        (true, Some(prev)) => {
            let peer = ip_value(peer_ip);
            let mut v = prev.as_bytes().to_vec();
            v.extend_from_slice(b", ");
            v.extend_from_slice(peer.as_bytes());
            HeaderValue::from_bytes(&v).unwrap_or(peer)
        }
        _ => ip_value(peer_ip),
    };
    // `insert_header` replaces every value a client sent.
    req.insert_header("x-forwarded-for", xff)?;
    if !(peer_trusted && req.headers.contains_key("x-forwarded-proto")) {
        req.insert_header("x-forwarded-proto", proto)?;
    }
    if !(peer_trusted && req.headers.contains_key("x-forwarded-host")) {
        let host = req.headers.get(http::header::HOST).cloned();
        match host {
            Some(h) => req.insert_header("x-forwarded-host", h)?,
            None => {
                req.remove_header("x-forwarded-host");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> IdentityHeaderNames {
        IdentityHeaderNames {
            user: "X-User".into(),
            email: "Remote-Email".into(),
            groups: "Remote-Groups".into(),
            name: "Remote-Name".into(),
        }
    }

    fn session() -> Session {
        Session {
            user_id: "u".into(),
            email: "a@example.com".into(),
            display_name: "山田 太郎\r\nX-Evil: 1".into(),
            groups: vec!["admins".into(), "staff".into()],
            level: sekisho_auth::AuthLevel::Password,
            mfa_at: None,
            mfa_method: None,
            created_at: 0,
            last_seen: 0,
            ip: None,
            user_agent: None,
            device_id: None,
            csrf_secret: String::new(),
            credential_version: 1,
            enrolment_due: false,
        }
    }

    #[test]
    fn forged_headers_are_replaced() {
        let ids = IdentityHeaders::new(&names()).unwrap();
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("x-user", "evil").unwrap();
        req.append_header("X-USER", "evil2").unwrap();
        req.append_header("Remote-User", "evil3").unwrap();
        req.append_header("remote-groups", "admins").unwrap();
        ids.strip(&mut req);
        assert!(req.headers.get("x-user").is_none());
        assert!(
            req.headers.get("remote-user").is_none(),
            "default names are stripped too"
        );
        assert!(req.headers.get("remote-groups").is_none());
        ids.insert(&mut req, &session()).unwrap();
        assert_eq!(req.headers.get_all("x-user").iter().count(), 1);
        assert_eq!(req.headers.get("x-user").unwrap(), "a@example.com");
        assert_eq!(req.headers.get("remote-groups").unwrap(), "admins,staff");
        let name = req.headers.get("remote-name").unwrap().as_bytes();
        assert_eq!(std::str::from_utf8(name).unwrap(), "山田 太郎X-Evil: 1");
    }

    #[test]
    fn forwarded_headers() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("host", "app.test").unwrap();
        req.append_header("x-forwarded-for", "6.6.6.6").unwrap();
        req.append_header("x-forwarded-proto", "https").unwrap();
        set_forwarded(&mut req, [192, 0, 2, 1].into(), false, "http").unwrap();
        assert_eq!(req.headers.get("x-forwarded-for").unwrap(), "192.0.2.1");
        assert_eq!(req.headers.get("x-forwarded-proto").unwrap(), "http");
        assert_eq!(req.headers.get("x-forwarded-host").unwrap(), "app.test");

        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("x-forwarded-for", "198.51.100.1")
            .unwrap();
        req.append_header("x-forwarded-proto", "https").unwrap();
        set_forwarded(&mut req, [10, 0, 0, 1].into(), true, "http").unwrap();
        assert_eq!(
            req.headers.get("x-forwarded-for").unwrap(),
            "198.51.100.1, 10.0.0.1"
        );
        assert_eq!(req.headers.get("x-forwarded-proto").unwrap(), "https");

        // Several forged values are all replaced, on the wire too; the longest IPv6
        // text form fits the stack buffer.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("X-Forwarded-For", "6.6.6.6").unwrap();
        req.append_header("x-forwarded-for", "7.7.7.7").unwrap();
        let v6: std::net::IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap();
        set_forwarded(&mut req, v6, false, "https").unwrap();
        let all: Vec<_> = req.headers.get_all("x-forwarded-for").iter().collect();
        assert_eq!(all, [v6.to_string().as_str()]);
        let mut wire = Vec::new();
        req.header_to_h1_wire(&mut wire);
        let wire = String::from_utf8(wire).unwrap();
        let lines = wire.to_ascii_lowercase();
        assert_eq!(lines.matches("x-forwarded-for:").count(), 1, "{wire}");
    }

    #[test]
    fn identity_values_drop_control_characters_only() {
        assert_eq!(value("a@example.com"), "a@example.com");
        assert_eq!(value("a\r\nb\x7f"), "ab");
        assert_eq!(owned_value("admins,staff".into()), "admins,staff");
        assert_eq!(owned_value("x\ny".into()), "xy");
        assert_eq!(value("山田 太郎").as_bytes(), "山田 太郎".as_bytes());
        assert_eq!(
            owned_value("経理,総務".into()).as_bytes(),
            "経理,総務".as_bytes()
        );
    }
}
