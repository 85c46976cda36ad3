//! Sekisho as a benchmark target: its configuration (one worker thread, a `bypass`,
//! a `one_factor` and a `two_factor` route to the upstream), two users made with the
//! real CLI (`sekisho user add`), and sessions made the way a browser makes them:
//! the sign-in form over HTTP (CSRF cookie and token, argon2id check), and for the
//! MFA user an authenticator app enrolled from the settings page with codes computed
//! by `totp-rs`.
use crate::children::{run_to_end, Running};
use crate::servers::{free_port, Lab, Server};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

pub const PASSWORD: &str = "bench-password-7f3a9c";
pub const PLAIN_USER: &str = "plain@bench.test";
pub const MFA_USER: &str = "mfa@bench.test";

/// Where the sessions live.
#[derive(Debug, Clone)]
pub enum Store {
    Memory,
    Redis(String),
}

/// A running gateway with a password session and an MFA session.
pub struct Sekisho {
    pub server: Server,
    pub config: PathBuf,
    /// `Cookie` header value of a password-level session (good for `/one`).
    pub plain_cookie: String,
    /// `Cookie` header value of an MFA-level session (good for `/two`).
    pub mfa_cookie: String,
}

impl Sekisho {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }
}

pub(crate) fn config(
    lab: &Lab,
    name: &str,
    port: u16,
    admin: u16,
    store: &Store,
    upstream: u16,
) -> String {
    let store = match store {
        Store::Memory => "store = \"memory\"".to_string(),
        Store::Redis(url) => format!("store = \"{url}\"\nkey_prefix = \"bench:\""),
    };
    format!(
        r#"# Written by sekisho-bench.
[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
threads = {threads}
grace_period = "0s"

[log]
access_log = {access_log}
level = "warn"

[session]
{store}
idle_timeout = "8h"
lifetime = "12h"

[database]
url = "sqlite://{db}"

[email]
transport = "off"

[mfa]
factors = ["totp", "backup_code"]

# One client address signs in far more often than people do.
[rate_limit]
ui_posts_per_minute = 0

[[sites]]
host = "127.0.0.1"
upstreams = ["127.0.0.1:{upstream}"]

[policy]
default = "deny"

[[rules]]
name = "bypass"
paths = ["/bypass"]
action = "bypass"

[[rules]]
name = "one"
paths = ["/one"]
action = "one_factor"

[[rules]]
name = "two"
paths = ["/two"]
action = "two_factor"
"#,
        threads = lab.threads,
        access_log = lab.access_log,
        db = lab.dir.join(format!("{name}.db")).display(),
    )
}

impl Lab {
    pub fn sekisho_bin(&self) -> PathBuf {
        self.bin_dir.join("sekisho")
    }

    /// Writes the configuration and creates the two users with the CLI.
    pub fn sekisho_setup(
        &self,
        name: &str,
        store: &Store,
        upstream: u16,
    ) -> Result<(PathBuf, u16), String> {
        let bin = self.sekisho_bin();
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: cargo build --release -p sekisho-gateway",
                bin.display()
            ));
        }
        let port = free_port()?;
        let admin = free_port()?;
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, config(self, name, port, admin, store, upstream))
            .map_err(|e| e.to_string())?;
        let check = run_to_end(
            Command::new(&bin)
                .arg("check-config")
                .arg("--config")
                .arg(&path),
            None,
        )?;
        if !check.status.success() {
            return Err(format!(
                "check-config: {}",
                String::from_utf8_lossy(&check.stderr)
            ));
        }
        for (email, name) in [(PLAIN_USER, "Plain User"), (MFA_USER, "山田 多要素")] {
            self.user_add(&path, email, name)?;
        }
        Ok((path, port))
    }

    /// `sekisho user add` with [`PASSWORD`] on stdin, in group `staff`.
    pub fn user_add(
        &self,
        config: &std::path::Path,
        email: &str,
        name: &str,
    ) -> Result<(), String> {
        let out = run_to_end(
            Command::new(self.sekisho_bin())
                .args(["user", "add", "--config"])
                .arg(config)
                .args([
                    "--email",
                    email,
                    "--name",
                    name,
                    "--groups",
                    "staff",
                    "--password-stdin",
                ]),
            Some(&format!("{PASSWORD}\n")),
        )?;
        if !out.status.success() {
            return Err(format!(
                "sekisho user add {email}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Starts `sekisho run` on a configuration made by [`Self::sekisho_setup`].
    pub fn sekisho_start(&self, name: &str, config: &PathBuf, port: u16) -> Result<Server, String> {
        let mut cmd = Command::new(self.sekisho_bin());
        cmd.arg("run").arg("--config").arg(config);
        let mut s = Server {
            name: name.into(),
            port,
            procs: vec![Running::spawn(name, &mut cmd, &self.dir)?],
        };
        s.wait_listening()?;
        Ok(s)
    }

    /// A gateway with its users and sessions, checked route by route.
    pub fn sekisho(&self, name: &str, store: &Store, upstream: u16) -> Result<Sekisho, String> {
        let (config, port) = self.sekisho_setup(name, store, upstream)?;
        let server = self.sekisho_start(name, &config, port)?;
        let base = format!("http://127.0.0.1:{port}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (plain_cookie, mfa_cookie) = rt.block_on(async {
            let c = client()?;
            let plain = sign_in(&c, &base, PLAIN_USER, PASSWORD, "/one").await?;
            let mut mfa = sign_in(&c, &base, MFA_USER, PASSWORD, "/two").await?;
            enrol_totp(&c, &base, &mut mfa).await?;
            Ok::<_, String>((plain.session_header(), mfa.session_header()))
        })?;
        let g = Sekisho {
            server,
            config,
            plain_cookie,
            mfa_cookie,
        };
        expect_upstream(port, "/bypass", None)?;
        expect_upstream(port, "/one", Some(&g.plain_cookie))?;
        expect_upstream(port, "/two", Some(&g.mfa_cookie))?;
        let (status, _) =
            crate::http::get_text(port, "/two", &[format!("Cookie: {}", g.plain_cookie)])?;
        if status == 200 {
            return Err("a password-only session passed the two_factor rule".into());
        }
        Ok(g)
    }
}

/// Fails unless `path` answers 200 with the upstream's body.
pub fn expect_upstream(port: u16, path: &str, cookie: Option<&str>) -> Result<(), String> {
    let headers: Vec<String> = cookie.map(|c| format!("Cookie: {c}")).into_iter().collect();
    let (status, body) = crate::http::get_text(port, path, &headers)?;
    if status != 200 || !body.contains("upstream ok") {
        return Err(format!("GET {path} on port {port}: {status} {body:.200}"));
    }
    Ok(())
}

/// A client that follows no redirects and keeps no cookies (we keep them).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// The cookies a browser would hold for the gateway.
#[derive(Debug, Default, Clone)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, resp: &reqwest::Response) {
        for v in resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() {
                    self.0.remove(k.trim());
                } else {
                    self.0.insert(k.trim().to_string(), val.trim().to_string());
                }
            }
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Only the session cookie, as `name=value`.
    pub fn session_header(&self) -> String {
        self.0
            .iter()
            .find(|(k, _)| k.ends_with("sekisho_session"))
            .map(|(k, v)| format!("{k}={v}"))
            .unwrap_or_default()
    }
}

fn scrape<'a>(body: &'a str, before: &str) -> Option<&'a str> {
    body.split(before).nth(1).and_then(|s| s.split('"').next())
}

fn err(e: reqwest::Error) -> String {
    e.to_string()
}

/// Loads the sign-in form (CSRF cookie and token) and posts it; a session cookie
/// must come back with a 303.
pub async fn sign_in(
    c: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
    rd: &str,
) -> Result<Jar, String> {
    let mut jar = Jar::default();
    let page = c
        .get(format!("{base}/_sekisho/login"))
        .header("accept", "text/html")
        .send()
        .await
        .map_err(err)?;
    jar.take(&page);
    let body = page.text().await.map_err(err)?;
    let token =
        scrape(&body, "name=\"csrf\" value=\"").ok_or("the sign-in form has no CSRF token")?;
    let resp = c
        .post(format!("{base}/_sekisho/login"))
        .header("origin", base)
        .header("accept", "text/html")
        .header("cookie", jar.header())
        .form(&[
            ("csrf", token),
            ("email", email),
            ("password", password),
            ("rd", rd),
        ])
        .send()
        .await
        .map_err(err)?;
    jar.take(&resp);
    if resp.status() != reqwest::StatusCode::SEE_OTHER || jar.session_header().is_empty() {
        return Err(format!(
            "sign-in of {email} answered {} without a session",
            resp.status()
        ));
    }
    Ok(jar)
}

/// Enrols an authenticator app from the settings page: reads the key shown for
/// manual entry, computes the current code with `totp-rs` and confirms it, which
/// makes the session MFA-level (the gateway rotates its id).
pub async fn enrol_totp(c: &reqwest::Client, base: &str, jar: &mut Jar) -> Result<(), String> {
    let page = c
        .get(format!("{base}/_sekisho/settings/totp"))
        .header("accept", "text/html")
        .header("cookie", jar.header())
        .send()
        .await
        .map_err(err)?;
    jar.take(&page);
    let body = page.text().await.map_err(err)?;
    let secret: String = body
        .split("id=\"totp-secret\" class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .ok_or("the TOTP page shows no key")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let token = scrape(&body, "name=\"csrf\" value=\"").ok_or("the TOTP page has no CSRF token")?;
    let code = totp_now(&secret)?;
    let resp = c
        .post(format!("{base}/_sekisho/settings/totp"))
        .header("origin", base)
        .header("accept", "text/html")
        .header("cookie", jar.header())
        .form(&[("csrf", token), ("code", code.as_str())])
        .send()
        .await
        .map_err(err)?;
    jar.take(&resp);
    if !(resp.status().is_success() || resp.status() == reqwest::StatusCode::SEE_OTHER) {
        return Err(format!("TOTP enrolment answered {}", resp.status()));
    }
    Ok(())
}

/// The current 6-digit code for a base32 secret (SHA-1, 30 s), by `totp-rs`.
pub fn totp_now(secret_base32: &str) -> Result<String, String> {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|e| format!("TOTP key: {e:?}"))?;
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .generate_current()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_code() {
        // RFC 6238's SHA-1 key "12345678901234567890" in base32; check the code format.
        let code = totp_now("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(totp_now("not base32!").is_err());
    }

    #[test]
    fn config_is_valid_toml_for_both_stores() {
        let lab = Lab {
            dir: std::env::temp_dir(),
            bin_dir: PathBuf::from("target/release"),
            access_log: false,
            threads: 1,
        };
        for store in [Store::Memory, Store::Redis("redis://127.0.0.1:1/0".into())] {
            let text = config(&lab, "t", 1000, 1001, &store, 1002);
            let s = sekisho_config::load_str(
                &text,
                "bench.toml",
                &std::collections::HashMap::<String, String>::new(),
            )
            .unwrap();
            assert_eq!(s.server.threads, 1);
            assert_eq!(s.sites.len(), 1);
        }
    }
}
