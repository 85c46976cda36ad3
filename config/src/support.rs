//! The `[support]` table: how users reach the operator's help desk. The help page and
//! every error page show it, so users who are stuck know whom to ask.
//!
//! Every key is optional, and an empty value counts as not set. The values are shown
//! to users as plain text (the templates escape them); the checks here keep them short
//! and printable, and keep `url` to an http(s) address so the link cannot run script.
use crate::load::{Validator, R};
use crate::notify::is_address;
use serde::Deserialize;

const MAX_PHONE_CHARS: usize = 40;
const MAX_HOURS_CHARS: usize = 80;
const MAX_URL_BYTES: usize = 2048;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportSection {
    /// A bare address such as `helpdesk@example.com` (shown as a `mailto:` link).
    #[serde(default)]
    pub email: Option<String>,
    /// Free text, e.g. `+81 3-1234-5678 (ext. 100)`.
    #[serde(default)]
    pub phone: Option<String>,
    /// Free text, e.g. `Mon–Fri 9:00–18:00 JST`.
    #[serde(default)]
    pub hours: Option<String>,
    /// The operator's own help desk page.
    #[serde(default)]
    pub url: Option<String>,
}

/// The validated support contact; `None` fields are not shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportSettings {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub hours: Option<String>,
    /// An absolute `http://` or `https://` URL without credentials.
    pub url: Option<String>,
}

impl SupportSettings {
    /// Whether there is a way to reach support (opening hours alone are not one).
    pub fn has_contact(&self) -> bool {
        self.email.is_some() || self.phone.is_some() || self.url.is_some()
    }
}

/// `Some(trimmed)` unless the value is missing or blank.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Validator<'_> {
    pub(crate) fn support(&self, s: SupportSection) -> R<SupportSettings> {
        let email = given(s.email);
        if let Some(e) = &email {
            if !is_address(e) {
                return Err(self.err(
                    "support.email",
                    format!(
                        "`{e}` is not an address such as helpdesk@example.com (no display name)"
                    ),
                ));
            }
        }
        let phone = self.free_text("support.phone", given(s.phone), MAX_PHONE_CHARS)?;
        let hours = self.free_text("support.hours", given(s.hours), MAX_HOURS_CHARS)?;
        let url = match given(s.url) {
            None => None,
            Some(raw) => Some(self.support_url(&raw)?),
        };
        Ok(SupportSettings {
            email,
            phone,
            hours,
            url,
        })
    }

    fn free_text(&self, key: &str, value: Option<String>, max: usize) -> R<Option<String>> {
        if let Some(v) = &value {
            if v.chars().any(char::is_control) {
                return Err(self.err(key, "must be printable text on one line"));
            }
            if v.chars().count() > max {
                return Err(self.err(key, format!("at most {max} characters")));
            }
        }
        Ok(value)
    }

    fn support_url(&self, raw: &str) -> R<String> {
        let key = "support.url";
        if raw.len() > MAX_URL_BYTES {
            return Err(self.err(key, format!("at most {MAX_URL_BYTES} bytes")));
        }
        let url = url::Url::parse(raw).map_err(|e| {
            self.err(
                key,
                format!("is not an absolute URL such as https://help.example.com/ ({e})"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.err(key, "must be an http:// or https:// URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.err(key, "must not contain a user name or password"));
        }
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests;
