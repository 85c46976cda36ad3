//! The `[log]` table: how the gateway writes its logs — text for people or JSON lines
//! for a log pipeline, whether each request gets an access-log line, and the level.
//!
//! `level` is a `tracing` filter: a level (`info`) or a comma-separated list of
//! `target=level` directives (`info,sekisho::access=off`). It is checked here with a
//! small grammar of its own so that this crate needs no logging library; the
//! `SEKISHO_LOG` environment variable, read by the gateway at start-up, overrides it.
use crate::load::{Validator, R};
use serde::Deserialize;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
const MAX_LEVEL_BYTES: usize = 512;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(default)]
    pub format: LogFormat,
    /// One `sekisho::access` event per request.
    #[serde(default = "yes")]
    pub access_log: bool,
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            access_log: true,
            level: default_level(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub access_log: bool,
    /// A valid filter: `info`, or `warn,sekisho::access=info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        let s = LogSection::default();
        Self {
            format: s.format,
            access_log: s.access_log,
            level: s.level,
        }
    }
}

/// Whether `directive` is `level` or `target=level` with a Rust-path-like target.
fn is_directive(directive: &str) -> bool {
    let (target, level) = match directive.split_once('=') {
        Some((t, l)) => (Some(t), l),
        None => (None, directive),
    };
    let target_ok = target.is_none_or(|t| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-'))
    });
    target_ok && LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level))
}

impl Validator<'_> {
    pub(crate) fn log(&self, s: LogSection) -> R<LogSettings> {
        let level = s.level.trim().to_string();
        if level.len() > MAX_LEVEL_BYTES {
            return Err(self.err("log.level", format!("at most {MAX_LEVEL_BYTES} bytes")));
        }
        if level.is_empty() || !level.split(',').map(str::trim).all(is_directive) {
            return Err(self.err(
                "log.level",
                format!(
                    "`{level}` is not a level ({}) or a list such as \
                     `info,sekisho::access=off`",
                    LEVELS.join(", ")
                ),
            ));
        }
        Ok(LogSettings {
            format: s.format,
            access_log: s.access_log,
            level,
        })
    }
}

#[cfg(test)]
mod tests;
