//! Host handling: stripping the port from a `Host` value and compiling host patterns.
use crate::PolicyError;

/// The longest host name the index handles from a stack buffer (DNS names are ≤ 253).
pub(crate) const MAX_HOST: usize = 255;

/// The host part of a `Host` header value: the `:port` is removed (IPv6 literals keep
/// their brackets, `[::1]:8080` gives `[::1]`), and so is one trailing `.` (an absolute
/// DNS name names the same site). Case is left alone.
pub(crate) fn host_only(raw: &str) -> &str {
    let host = if raw.starts_with('[') {
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        let b = raw.as_bytes();
        match b.iter().position(|&c| c == b':') {
            // A bare IPv6 address (invalid in `Host`, but be safe) has several colons.
            Some(i) if !b[i + 1..].contains(&b':') => &raw[..i],
            _ => raw,
        }
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// Lower-cases `host` (ASCII only) into `buf`; `None` when it does not fit.
#[inline]
pub(crate) fn lower_into<'b>(host: &str, buf: &'b mut [u8; MAX_HOST]) -> Option<&'b [u8]> {
    let src = host.as_bytes();
    let dst = buf.get_mut(..src.len())?;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.to_ascii_lowercase();
    }
    Some(dst)
}

/// One `hosts` entry, lower-cased: an exact name or `*.suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern(Box<str>);

impl HostPattern {
    pub(crate) fn compile(key: &str, raw: &str) -> Result<HostPattern, PolicyError> {
        let lower = raw.trim().to_ascii_lowercase();
        let bad = |why: &str| {
            PolicyError::new(
                key,
                format!(
                    "`{raw}` {why}; write a host name such as app.example.com or *.example.com"
                ),
            )
        };
        let (star, bare) = match lower.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", lower.as_str()),
        };
        let bare = bare.strip_suffix('.').unwrap_or(bare);
        if bare.is_empty() {
            return Err(bad("is empty"));
        }
        if bare.contains(['*', '/', ' ', '\t']) {
            return Err(bad("is not a host name"));
        }
        if !bare.starts_with('[') && bare.contains(':') {
            return Err(bad("has a port, but ports are ignored when matching"));
        }
        Ok(HostPattern(format!("{star}{bare}").into()))
    }

    /// The pattern as compiled (lower-case), e.g. `*.example.com`.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `*.` for a wildcard pattern.
    pub(crate) fn suffix(&self) -> Option<&str> {
        self.0.strip_prefix("*.")
    }

    /// `host` is already without its port; any case.
    #[inline]
    pub(crate) fn matches(&self, host: &str) -> bool {
        sekisho_config::host_pattern_matches(&self.0, host)
    }
}

#[cfg(test)]
mod tests;
