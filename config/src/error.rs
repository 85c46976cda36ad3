use std::fmt;

/// A configuration problem, phrased for the operator: where, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the setting came from (or `<env>` / `<string>`).
    pub source: String,
    /// Dotted key path such as `rules[2].networks[0]`; empty when the whole file is at fault.
    pub key: String,
    /// 1-based line, when the parser could locate the value.
    pub line: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn new(source: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source: source.to_string(),
            key: key.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
