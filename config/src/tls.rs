//! The `[tls]` table: an HTTPS listener with PEM certificate files, HTTP/2 by ALPN,
//! several certificates chosen by SNI, the plain listener turned into a redirect, and
//! HSTS. Files are checked to exist here; the gateway loads them at start.
use crate::load::{Validator, R};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The HTTPS listener, e.g. `0.0.0.0:443`. Without it there is no TLS.
    #[serde(default)]
    pub listen: Option<String>,
    /// Certificate chain (PEM) and key of the default certificate.
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// More certificates, chosen when the client's SNI name matches one of `hosts`.
    #[serde(default)]
    pub sni: Vec<SniSection>,
    #[serde(default = "yes")]
    pub http2: bool,
    /// The plain listener (`server.listen`) only redirects to HTTPS (308).
    #[serde(default = "yes")]
    pub redirect_http: bool,
    /// `Strict-Transport-Security` on HTTPS answers, e.g. `max-age=31536000`; `""` off.
    #[serde(default)]
    pub hsts: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniSection {
    /// `app.example.com` or `*.example.com`.
    pub hosts: Vec<String>,
    pub cert: String,
    pub key: String,
}

/// A certificate chain and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCert {
    /// Lower-case names; `*.example.com` matches one label.
    pub hosts: Vec<String>,
    pub files: CertFiles,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub listen: SocketAddr,
    pub default_cert: CertFiles,
    pub sni: Vec<SniCert>,
    pub http2: bool,
    pub redirect_http: bool,
    pub hsts: Option<String>,
}

impl TlsSettings {
    /// The certificate for an SNI name: the first `[[tls.sni]]` entry naming it, else
    /// the default.
    pub fn cert_for(&self, server_name: Option<&str>) -> &CertFiles {
        let Some(name) = server_name.map(str::to_ascii_lowercase) else {
            return &self.default_cert;
        };
        self.sni
            .iter()
            .find(|s| s.hosts.iter().any(|h| host_matches(h, &name)))
            .map_or(&self.default_cert, |s| &s.files)
    }
}

fn host_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == name,
    }
}

impl Validator<'_> {
    pub(crate) fn tls(&self, t: TlsSection) -> R<Option<TlsSettings>> {
        let Some(listen) = t.listen.filter(|l| !l.trim().is_empty()) else {
            if t.cert.is_some() || t.key.is_some() || !t.sni.is_empty() {
                return Err(self.err(
                    "tls.listen",
                    "certificates are set but no HTTPS listener: set tls.listen",
                ));
            }
            return Ok(None);
        };
        let listen = listen.parse().map_err(|_| {
            self.err(
                "tls.listen",
                format!("`{listen}` is not an address like 0.0.0.0:443"),
            )
        })?;
        let (Some(cert), Some(key)) = (t.cert, t.key) else {
            return Err(self.err(
                "tls.cert",
                "tls.listen needs tls.cert and tls.key (PEM files)",
            ));
        };
        let default_cert = self.cert_files("tls", &cert, &key)?;
        let mut sni = Vec::with_capacity(t.sni.len());
        for (i, s) in t.sni.into_iter().enumerate() {
            let key_name = format!("tls.sni[{i}]");
            if s.hosts.is_empty() {
                return Err(self.err(&key_name, "hosts must name at least one host"));
            }
            let hosts: Vec<String> = s
                .hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect();
            if let Some(bad) = hosts
                .iter()
                .find(|h| h.is_empty() || h[h.find("*.").map_or(0, |_| 2)..].contains('*'))
            {
                return Err(self.err(&key_name, format!("`{bad}` is not a host or *.domain")));
            }
            sni.push(SniCert {
                hosts,
                files: self.cert_files(&key_name, &s.cert, &s.key)?,
            });
        }
        let hsts = Some(t.hsts.trim().to_string()).filter(|h| !h.is_empty());
        if let Some(h) = &hsts {
            if !h.starts_with("max-age=") || h.chars().any(|c| c.is_control()) {
                return Err(self.err(
                    "tls.hsts",
                    format!("`{h}` is not a header value like max-age=31536000"),
                ));
            }
        }
        Ok(Some(TlsSettings {
            listen,
            default_cert,
            sni,
            http2: t.http2,
            redirect_http: t.redirect_http,
            hsts,
        }))
    }

    fn cert_files(&self, key_name: &str, cert: &str, key: &str) -> R<CertFiles> {
        for (what, path) in [("cert", cert), ("key", key)] {
            if !std::path::Path::new(path).is_file() {
                return Err(self.err(
                    format!("{key_name}.{what}"),
                    format!("`{path}` is not a readable file"),
                ));
            }
        }
        Ok(CertFiles {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: &str) -> CertFiles {
        CertFiles {
            cert: PathBuf::from(format!("{n}.pem")),
            key: PathBuf::from(format!("{n}.key")),
        }
    }

    #[test]
    fn sni_picks_the_named_certificate_or_the_default() {
        let t = TlsSettings {
            listen: "127.0.0.1:443".parse().unwrap(),
            default_cert: files("default"),
            sni: vec![
                SniCert {
                    hosts: vec!["app.example.com".into()],
                    files: files("app"),
                },
                SniCert {
                    hosts: vec!["*.example.org".into()],
                    files: files("org"),
                },
            ],
            http2: true,
            redirect_http: true,
            hsts: None,
        };
        assert_eq!(t.cert_for(Some("APP.example.com")), &files("app"));
        assert_eq!(t.cert_for(Some("a.example.org")), &files("org"));
        assert_eq!(t.cert_for(Some("example.org")), &files("default"));
        assert_eq!(t.cert_for(Some("a.b.example.org")), &files("default"));
        assert_eq!(t.cert_for(None), &files("default"));
    }
}
