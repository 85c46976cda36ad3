//! Small value types that validate while they deserialize, so errors carry a line.
use serde::{de, Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// What a policy rule does with a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Proxy without any session.
    Bypass,
    /// A password session is enough.
    OneFactor,
    /// A session that completed MFA is required.
    TwoFactor,
    /// Always refused with 403.
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Bypass => "bypass",
            Action::OneFactor => "one_factor",
            Action::TwoFactor => "two_factor",
            Action::Deny => "deny",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HTTP methods a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Connect,
    Trace,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 9] = [
        HttpMethod::Get,
        HttpMethod::Head,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Patch,
        HttpMethod::Delete,
        HttpMethod::Options,
        HttpMethod::Connect,
        HttpMethod::Trace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Connect => "CONNECT",
            HttpMethod::Trace => "TRACE",
        }
    }

    /// Case-insensitive parse of a method name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HttpMethod::parse(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown HTTP method `{s}`, expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE"
            ))
        })
    }
}

/// Languages the hosted pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Matches a language tag such as `ja-JP` or `en`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or("").trim();
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }
}

/// A duration written like `30m`, `12h`, `7d`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(HumanDuration)
            .map_err(|e| {
                de::Error::custom(format!(
                    "invalid duration `{s}` ({e}); write e.g. \"30s\", \"15m\", \"12h\", \"7d\""
                ))
            })
    }
}

/// A second factor a rule can ask for (`mfa_methods = ["totp", "backup_code"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Totp,
    Email,
    Sms,
    BackupCode,
}

impl Factor {
    pub const ALL: [Factor; 4] = [Factor::Totp, Factor::Email, Factor::Sms, Factor::BackupCode];

    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Email => "email",
            Factor::Sms => "sms",
            Factor::BackupCode => "backup_code",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A small set of factors, copied around freely on the hot path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FactorSet(u8);

impl FactorSet {
    pub const ALL: FactorSet = FactorSet(0b1111);

    pub fn of(factors: &[Factor]) -> Self {
        Self(factors.iter().fold(0, |acc, f| acc | f.bit()))
    }
    pub fn contains(self, f: Factor) -> bool {
        self.0 & f.bit() != 0
    }
    pub fn is_all(self) -> bool {
        self == Self::ALL
    }
    pub fn iter(self) -> impl Iterator<Item = Factor> {
        Factor::ALL.into_iter().filter(move |f| self.contains(*f))
    }
    /// `totp,backup_code`: for URLs and messages.
    pub fn to_list(self) -> String {
        self.iter()
            .map(Factor::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
    /// Parses `to_list` output, ignoring unknown names.
    pub fn from_list(s: &str) -> Self {
        let names: Vec<Factor> = s
            .split(',')
            .filter_map(|n| Factor::ALL.into_iter().find(|f| f.as_str() == n.trim()))
            .collect();
        Self::of(&names)
    }
}

impl std::fmt::Debug for FactorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FactorSet[{}]", self.to_list())
    }
}
