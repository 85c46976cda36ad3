//! Compiled path patterns: segment-boundary prefixes, globs and regexes.
use crate::glob::Glob;
use crate::path::normalize_path;
use regex::Regex;

#[derive(Debug)]
pub(crate) enum PathPattern {
    /// The prefix without any trailing `/` (empty for `/`, which matches everything).
    Prefix(Box<str>),
    Glob(Glob),
    Regex {
        re: Regex,
        /// Text every match starts with (from a leading `^literal`), checked first.
        prefix: Box<str>,
    },
}

/// The first segment of a normalised path, up to `/` or `;` (the key of the path index).
#[inline]
pub(crate) fn first_segment(path: &str) -> &str {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match rest.bytes().position(|b| b == b'/' || b == b';') {
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// The first segment of every path starting with `literal`, when `literal` goes past it.
fn segment_of_literal(literal: &str) -> Option<&str> {
    let rest = literal.strip_prefix('/')?;
    let end = rest.find(['/', ';'])?;
    Some(&rest[..end])
}

/// The literal text every match of `re` starts with, for a regex that starts with `^`
/// followed by plain characters. Conservative: any `|` in the expression, or anything
/// that is not a plain character, ends it, and a character under a quantifier is dropped.
pub(crate) fn anchored_literal_prefix(re: &str) -> &str {
    if re.contains('|') {
        return "";
    }
    let Some(rest) = re.strip_prefix('^') else {
        return "";
    };
    let mut end = 0;
    let mut last_start = 0;
    for (i, c) in rest.char_indices() {
        if c.is_whitespace() || "\\.+*?()|[]{}^$#".contains(c) {
            if matches!(c, '?' | '*' | '+' | '{') {
                end = last_start;
            }
            return &rest[..end];
        }
        last_start = i;
        end = i + c.len_utf8();
    }
    &rest[..end]
}

impl PathPattern {
    /// Compiles one `paths` entry; the error message does not include the key.
    pub(crate) fn compile(source: &str) -> Result<PathPattern, String> {
        if let Some(re) = source.strip_prefix("regex:") {
            if re.is_empty() {
                return Err("`regex:` needs an expression after the colon".to_string());
            }
            return Regex::new(re)
                .map(|compiled| PathPattern::Regex {
                    re: compiled,
                    prefix: anchored_literal_prefix(re).into(),
                })
                .map_err(|e| format!("invalid regex `{re}`: {e}"));
        }
        if !source.starts_with('/') {
            return Err(format!(
                "`{source}` must start with / (prefix or glob) or regex:"
            ));
        }
        let normal = normalize_path(source);
        if normal != source {
            return Err(format!(
                "`{source}` can never match, because request paths are normalised before matching \
                 (escapes decoded, `\\` read as `/`, `//`, `.` and `..` resolved); write `{normal}`"
            ));
        }
        if source.contains(['*', '?']) {
            return Glob::compile(source).map(PathPattern::Glob);
        }
        let base = source.strip_suffix('/').unwrap_or(source);
        Ok(PathPattern::Prefix(base.into()))
    }

    /// `path` must be normalised.
    #[inline]
    pub(crate) fn is_match(&self, path: &str) -> bool {
        match self {
            PathPattern::Prefix(base) => prefix_match(base, path),
            PathPattern::Glob(g) => g.is_match(path),
            PathPattern::Regex { re, prefix } => path.starts_with(&**prefix) && re.is_match(path),
        }
    }

    /// The [`first_segment`] of every path this pattern matches, when it is fixed.
    pub(crate) fn segment_key(&self) -> Option<&str> {
        match self {
            // `base` is followed by `/`, `;` or nothing in every match.
            PathPattern::Prefix(base) if base.is_empty() => None,
            PathPattern::Prefix(base) => Some(first_segment(base)),
            PathPattern::Glob(g) => segment_of_literal(g.literal_prefix()),
            PathPattern::Regex { prefix, .. } => segment_of_literal(prefix),
        }
    }
}

/// `base` matches itself and anything below it: the next character after it must end the
/// segment (`/`), or start path parameters (`;`), which several servers strip.
#[inline]
fn prefix_match(base: &str, path: &str) -> bool {
    match path.as_bytes().strip_prefix(base.as_bytes()) {
        Some(rest) => matches!(rest.first(), None | Some(b'/') | Some(b';')),
        None => false,
    }
}

#[cfg(test)]
mod tests;
