//! `[email]` and `[sms]`: how one-time codes and security notices leave the gateway.
//! The file schema, the validated model and the conversion between them live together
//! here because nothing else in the config touches them.
use crate::load::{Validator, R};
use crate::secret::SecretString;
use crate::values::HumanDuration;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Longest `timeout` allowed: a sign-in page waits on the send.
const MAX_SEND_TIMEOUT: Duration = Duration::from_secs(60);

// ---- file schema -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransportKind {
    /// One `.eml` file per message in a folder: the demo / development notifier.
    #[default]
    Folder,
    Smtp,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    #[serde(default)]
    pub transport: EmailTransportKind,
    #[serde(default = "default_mail_folder")]
    pub folder: String,
    #[serde(default = "default_from")]
    pub from: String,
    #[serde(default = "default_send_timeout")]
    pub timeout: HumanDuration,
    #[serde(default)]
    pub smtp: SmtpSection,
}

impl Default for EmailSection {
    fn default() -> Self {
        Self {
            transport: EmailTransportKind::default(),
            folder: default_mail_folder(),
            from: default_from(),
            timeout: default_send_timeout(),
            smtp: SmtpSection::default(),
        }
    }
}

fn default_mail_folder() -> String {
    "sekisho-mail".into()
}
fn default_from() -> String {
    "Sekisho <no-reply@localhost>".into()
}
fn default_send_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption at all (port 25): only for a relay on the same host or network.
    Plain,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    #[serde(default)]
    pub host: Option<String>,
    /// Defaults by `security`: 587, 465 or 25.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// `SEKISHO_SMTP_PASSWORD` / `SEKISHO_SMTP_PASSWORD_FILE` take precedence.
    #[serde(default)]
    pub password_file: Option<String>,
    /// Skips certificate checks: for test sinks and development only.
    #[serde(default)]
    pub accept_invalid_certs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SmsMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
}

impl SmsMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsMethod::Post => "POST",
            SmsMethod::Put => "PUT",
        }
    }
}

/// How `fields` are encoded in the provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsBody {
    /// `application/x-www-form-urlencoded`
    #[default]
    Form,
    /// A JSON object whose values are all strings.
    Json,
}

/// The provider's request fields, in the order the file lists them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmsFields(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for SmsFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = SmsFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of strings, e.g. { to = \"{to}\", text = \"{text}\" }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SmsFields, A::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, String>()? {
                    fields.push((name, value));
                }
                Ok(SmsFields(fields))
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub method: SmsMethod,
    #[serde(default)]
    pub body: SmsBody,
    #[serde(default)]
    pub fields: SmsFields,
    #[serde(default)]
    pub auth_header: Option<String>,
    /// `SEKISHO_SMS_AUTH` / `SEKISHO_SMS_AUTH_FILE` take precedence.
    #[serde(default)]
    pub auth_value_file: Option<String>,
    #[serde(default = "default_send_timeout")]
    pub timeout: HumanDuration,
}

impl Default for SmsSection {
    fn default() -> Self {
        Self {
            enabled: false,
            url: None,
            method: SmsMethod::default(),
            body: SmsBody::default(),
            fields: SmsFields::default(),
            auth_header: None,
            auth_value_file: None,
            timeout: default_send_timeout(),
        }
    }
}

// ---- validated model ---------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub transport: EmailTransport,
    /// A mailbox such as `Sekisho <no-reply@example.com>`.
    pub from: String,
    /// Bound on one whole send, connection included.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum EmailTransport {
    Off,
    /// Writes one `.eml` file per message; the folder is created (0700) if missing.
    Folder {
        path: PathBuf,
    },
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub accept_invalid_certs: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SmsSettings {
    /// `None`: SMS is disabled.
    pub provider: Option<SmsProvider>,
}

/// An HTTP SMS gateway. Field values are templates with `{to}` and `{text}`.
#[derive(Clone)]
pub struct SmsProvider {
    pub url: url::Url,
    pub method: SmsMethod,
    pub body: SmsBody,
    pub fields: Vec<(String, String)>,
    /// Header name and its secret value.
    pub auth: Option<(String, SecretString)>,
    pub timeout: Duration,
}

impl fmt::Debug for SmsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Some providers take an API key in the query string, so it is never printed.
        let mut url = self.url.clone();
        if url.query().is_some() {
            url.set_query(Some("<redacted>"));
        }
        f.debug_struct("SmsProvider")
            .field("url", &url.as_str())
            .field("method", &self.method)
            .field("body", &self.body)
            .field("fields", &self.fields)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmsProvider {
    /// The request fields for one message: `{to}` and `{text}` replaced in one pass, so
    /// a text that itself contains `{to}` stays as written. Encoding for the body type
    /// is the sender's job.
    pub fn fill_fields(&self, to: &str, text: &str) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(name, template)| (name.clone(), fill_template(template, to, text)))
            .collect()
    }
}

fn fill_template(template: &str, to: &str, text: &str) -> String {
    let mut out = String::with_capacity(template.len() + text.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // Validation guarantees every `{` closes on a known name.
        match after.find('}') {
            Some(close) => {
                match &after[..close] {
                    "to" => out.push_str(to),
                    "text" => out.push_str(text),
                    other => {
                        out.push('{');
                        out.push_str(other);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders an SMS field may use.
pub const SMS_PLACEHOLDERS: [&str; 2] = ["to", "text"];

/// Placeholder names in a field template, or the offending text when a `{` is unclosed.
fn placeholders(template: &str) -> Result<Vec<&str>, &str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(&rest[open..])?;
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(names)
}

// ---- conversion --------------------------------------------------------------------

impl Validator<'_> {
    pub(crate) fn email(&self, e: EmailSection) -> R<EmailSettings> {
        if !is_mailbox(&e.from) {
            return Err(self.err(
                "email.from",
                format!(
                    "`{}` is not a mailbox such as \"Sekisho <no-reply@example.com>\"",
                    e.from
                ),
            ));
        }
        let timeout = self.send_timeout("email.timeout", e.timeout)?;
        let transport = match e.transport {
            EmailTransportKind::Off => EmailTransport::Off,
            EmailTransportKind::Folder => {
                if e.folder.trim().is_empty() {
                    return Err(self.err("email.folder", "must name a folder"));
                }
                EmailTransport::Folder {
                    path: PathBuf::from(e.folder),
                }
            }
            EmailTransportKind::Smtp => EmailTransport::Smtp(self.smtp(e.smtp)?),
        };
        Ok(EmailSettings {
            transport,
            from: e.from.trim().to_string(),
            timeout,
        })
    }

    fn smtp(&self, s: SmtpSection) -> R<SmtpSettings> {
        let host = match s.host.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(self.err("email.smtp.host", "transport = \"smtp\" needs a host"))
            }
            Some(h) => h.to_string(),
        };
        let legal_host = host.parse::<std::net::IpAddr>().is_ok()
            || host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !legal_host {
            return Err(self.err(
                "email.smtp.host",
                format!(
                    "`{host}` must be a host name or IP address (the port goes in email.smtp.port)"
                ),
            ));
        }
        if s.port == Some(0) {
            return Err(self.err("email.smtp.port", "must be between 1 and 65535"));
        }
        let password = match self.env_secret("SEKISHO_SMTP_PASSWORD")? {
            Some(p) => Some(p),
            None => match &s.password_file {
                Some(path) => Some(self.read_secret_file("email.smtp.password_file", path)?),
                None => None,
            },
        };
        let username = s.username.filter(|u| !u.is_empty());
        match (&username, &password) {
            (Some(_), None) => {
                return Err(self.err(
                    "email.smtp.password_file",
                    "email.smtp.username is set but no password: set password_file or SEKISHO_SMTP_PASSWORD[_FILE]",
                ))
            }
            (None, Some(_)) => {
                return Err(self.err(
                    "email.smtp.username",
                    "a password is configured, so a username is needed too",
                ))
            }
            _ => {}
        }
        Ok(SmtpSettings {
            host,
            port: s.port.unwrap_or(s.security.default_port()),
            security: s.security,
            username,
            password: password.map(SecretString::new),
            accept_invalid_certs: s.accept_invalid_certs,
        })
    }

    pub(crate) fn sms(&self, s: SmsSection) -> R<SmsSettings> {
        if !s.enabled {
            return Ok(SmsSettings::default());
        }
        let raw_url = match s.url.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(self.err("sms.url", "enabled = true needs the provider URL"))
            }
            Some(u) => u,
        };
        // The URL may carry an API key, so messages never quote it.
        let url = url::Url::parse(raw_url)
            .map_err(|e| self.err("sms.url", format!("is not a valid URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.err("sms.url", "must be an http:// or https:// URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.err(
                "sms.url",
                "must not contain credentials; use sms.auth_header with SEKISHO_SMS_AUTH",
            ));
        }
        self.sms_fields(&s.fields)?;
        let auth = self.sms_auth(s.auth_header, s.auth_value_file.as_deref())?;
        let timeout = self.send_timeout("sms.timeout", s.timeout)?;
        Ok(SmsSettings {
            provider: Some(SmsProvider {
                url,
                method: s.method,
                body: s.body,
                fields: s.fields.0,
                auth,
                timeout,
            }),
        })
    }

    fn sms_fields(&self, fields: &SmsFields) -> R<()> {
        if fields.0.is_empty() {
            return Err(self.err(
                "sms.fields",
                "enabled = true needs the request fields, e.g. { to = \"{to}\", text = \"{text}\" }",
            ));
        }
        let mut used = Vec::new();
        for (name, template) in &fields.0 {
            let key = format!("sms.fields.{name}");
            if name.is_empty() {
                return Err(self.err("sms.fields", "field names must not be empty"));
            }
            let names = placeholders(template).map_err(|bad| {
                self.err(
                    &key,
                    format!("unclosed placeholder `{bad}`; use {{to}} or {{text}}"),
                )
            })?;
            for placeholder in names {
                if !SMS_PLACEHOLDERS.contains(&placeholder) {
                    return Err(self.err(
                        key,
                        format!("unknown placeholder `{{{placeholder}}}`; use {{to}} or {{text}}"),
                    ));
                }
                used.push(placeholder);
            }
        }
        for needed in SMS_PLACEHOLDERS {
            if !used.contains(&needed) {
                return Err(self.err(
                    "sms.fields",
                    format!("no field carries `{{{needed}}}`, so messages could not be delivered"),
                ));
            }
        }
        Ok(())
    }

    fn sms_auth(
        &self,
        header: Option<String>,
        value_file: Option<&str>,
    ) -> R<Option<(String, SecretString)>> {
        let (value, value_key) = match self.env_secret("SEKISHO_SMS_AUTH")? {
            Some(v) => (Some(v), "SEKISHO_SMS_AUTH"),
            None => match value_file {
                Some(path) => (
                    Some(self.read_secret_file("sms.auth_value_file", path)?),
                    "sms.auth_value_file",
                ),
                None => (None, "sms.auth_value_file"),
            },
        };
        let header = header.filter(|h| !h.is_empty());
        match (header, value) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(self.err(
                "sms.auth_header",
                format!("{value_key} gives an auth value, so sms.auth_header must name its header"),
            )),
            (Some(_), None) => Err(self.err(
                "sms.auth_header",
                "needs a value: set SEKISHO_SMS_AUTH, SEKISHO_SMS_AUTH_FILE or sms.auth_value_file",
            )),
            (Some(name), Some(value)) => {
                let token = name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
                const RESERVED: [&str; 4] = [
                    "host",
                    "content-type",
                    "content-length",
                    "transfer-encoding",
                ];
                if !token || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
                    return Err(self.err(
                        "sms.auth_header",
                        format!("`{name}` is not a usable header name"),
                    ));
                }
                // Never quote the value: it is the credential.
                if value.is_empty() || value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                    return Err(self.err(
                        value_key,
                        "the auth value is empty or has control characters",
                    ));
                }
                Ok(Some((name, SecretString::new(value))))
            }
        }
    }

    fn send_timeout(&self, key: &str, t: HumanDuration) -> R<Duration> {
        if t.0.is_zero() || t.0 > MAX_SEND_TIMEOUT {
            return Err(self.err(key, "must be longer than zero and at most 60s"));
        }
        Ok(t.0)
    }

    fn read_secret_file(&self, key: &str, path: &str) -> R<String> {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| self.err(key, format!("cannot read `{path}`: {e}")))
    }
}

/// `local@domain` or `Display Name <local@domain>`, strictly enough that the mailer
/// accepts it too.
fn is_mailbox(raw: &str) -> bool {
    let raw = raw.trim();
    let address = match raw.strip_suffix('>') {
        Some(rest) => match rest.rsplit_once('<') {
            Some((name, address)) => {
                if name.chars().any(char::is_control) || name.contains(['<', '>']) {
                    return false;
                }
                address
            }
            None => return false,
        },
        None => raw,
    };
    is_address(address)
}

/// A bare `local@domain` address (dot-atom local part, LDH domain labels).
pub(crate) fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
    let domain_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests;
