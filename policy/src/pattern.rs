//! Compiled path patterns: segment-boundary prefixes, globs and regexes.
use crate::glob::Glob;
use crate::path::normalize_path;
use regex::Regex;

#[derive(Debug)]
pub(crate) enum PathPattern {
    /// The prefix without any trailing `/` (empty for `/`, which matches everything).
    Prefix(Box<str>),
    Glob(Glob),
    Regex(Regex),
}

impl PathPattern {
    /// Compiles one `paths` entry; the error message does not include the key.
    pub(crate) fn compile(source: &str) -> Result<PathPattern, String> {
        if let Some(re) = source.strip_prefix("regex:") {
            if re.is_empty() {
                return Err("`regex:` needs an expression after the colon".to_string());
            }
            return Regex::new(re)
                .map(PathPattern::Regex)
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
            PathPattern::Regex(re) => re.is_match(path),
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
