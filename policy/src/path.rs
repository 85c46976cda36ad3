//! Request-path normalisation: the canonical form every path pattern is matched against.
use std::borrow::Cow;

/// Normalises a raw request path (without its query) before rule matching.
///
/// - every valid `%XX` escape is decoded once, including `%2F` (`/`), `%5C` (`\`) and
///   `%2E` (`.`); invalid escapes (`%`, `%4`, `%zz`) are kept literally; the decoded
///   bytes are read as UTF-8, invalid sequences becoming U+FFFD;
/// - `\` is treated as `/`, and runs of `/` collapse into one;
/// - `.` segments are removed and `..` segments remove the segment before them, never
///   climbing above the root. A segment such as `..;x` (a dot segment carrying path
///   parameters, which Java servers strip) counts as a dot segment too;
/// - a path that does not start with `/` (or is empty) is read as if it did;
/// - a trailing `/` is kept (`/a/b/` stays `/a/b/`, `/a/b/.` becomes `/a/b/`).
///
/// Case is never changed. The common case, a path with no `%`, no `\`, no `//` and no
/// `/.`, is returned borrowed without allocating.
pub fn normalize_path(raw: &str) -> Cow<'_, str> {
    if is_plain(raw) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(normalize_slow(raw))
    }
}

/// Whether `raw` is already normalised by construction (the allocation-free fast path).
fn is_plain(raw: &str) -> bool {
    let b = raw.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    // Branch-free folds, so the compiler can vectorise them.
    let escapes = b
        .iter()
        .fold(false, |acc, &c| acc | (c == b'%') | (c == b'\\'));
    let dots = b.iter().zip(&b[1..]).fold(false, |acc, (&c, &n)| {
        acc | ((c == b'/') & ((n == b'/') | (n == b'.')))
    });
    !(escapes || dots)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(raw: &str) -> Vec<u8> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex);
            let lo = b.get(i + 2).copied().and_then(hex);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The segment without `;parameters`, for dot-segment detection.
fn bare_segment(seg: &str) -> &str {
    match seg.find(';') {
        Some(i) => &seg[..i],
        None => seg,
    }
}

pub(crate) fn normalize_slow(raw: &str) -> String {
    let decoded;
    let text = if raw.contains('%') {
        decoded = percent_decode(raw);
        String::from_utf8_lossy(&decoded)
    } else {
        Cow::Borrowed(raw)
    };
    let mut out = String::with_capacity(text.len() + 1);
    // Whether the path ends in a directory: after an empty, `.` or `..` segment.
    let mut trailing_slash = false;
    for seg in text.split(['/', '\\']) {
        match bare_segment(seg) {
            "" if seg.is_empty() => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                // Drop the last segment; `out` is empty or starts with `/`.
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
                trailing_slash = true;
            }
            _ => {
                out.push('/');
                out.push_str(seg);
                trailing_slash = false;
            }
        }
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests;
