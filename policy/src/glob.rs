//! Path globs: `*` (within a segment), `**` (across segments) and `?` (one character
//! other than `/`), matched against the whole path.
//!
//! Matching runs the glob's NFA bit-parallel ("shift-and"): one bit per token in a `u64`,
//! a few integer operations per character, linear in the path length, no backtracking and
//! no allocation. Globs with more tokens than the word holds (after their literal prefix)
//! are translated into an equivalent anchored regex instead.
use regex::Regex;

/// Tokens the shift-and word holds: bit `i` means "the tokens before `i` matched", and
/// the accepting bit `n` must fit too.
const MAX_TOKENS: usize = 63;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    GlobStar,
}

#[derive(Debug)]
pub(crate) struct Glob {
    /// Literal text before the first wildcard; checked with `starts_with` first.
    prefix: Box<str>,
    /// Literal text after the last wildcard; a cheap necessary condition.
    suffix: Box<str>,
    /// The longest literal run between wildcards (3+ characters), which every match
    /// contains: a cheap way to reject most paths before running the NFA.
    needle: Option<Box<str>>,
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    /// The tokens after `prefix`.
    ShiftAnd(ShiftAnd),
    /// All the tokens, for globs too long for one word.
    Regex(Regex),
}

/// A glob's NFA as bit masks.
#[derive(Debug)]
struct ShiftAnd {
    /// Bit `n`: every token matched.
    accept: u64,
    /// Tokens that are `?` (consume one character other than `/`).
    one: u64,
    /// Tokens that are `*` or `**` (may match nothing; loop on a character).
    stars: u64,
    /// Tokens that are `**` (loop on `/` too).
    globstars: u64,
    /// For an ASCII character: 1 + the index in `masks` of its literal tokens, or 0.
    ascii: [u8; 128],
    masks: Box<[u64]>,
    /// Literal tokens of non-ASCII characters.
    other: Box<[(char, u64)]>,
}

impl ShiftAnd {
    /// `tokens.len() <= MAX_TOKENS`.
    fn new(tokens: &[Token]) -> ShiftAnd {
        let mut sa = ShiftAnd {
            accept: 1 << tokens.len(),
            one: 0,
            stars: 0,
            globstars: 0,
            ascii: [0; 128],
            masks: Box::default(),
            other: Box::default(),
        };
        let mut masks: Vec<u64> = Vec::new();
        let mut other: Vec<(char, u64)> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let bit = 1u64 << i;
            match *t {
                Token::One => sa.one |= bit,
                Token::Star => sa.stars |= bit,
                Token::GlobStar => {
                    sa.stars |= bit;
                    sa.globstars |= bit;
                }
                Token::Char(c) => match sa.ascii.get_mut(c as usize) {
                    Some(slot) if *slot == 0 => {
                        masks.push(bit);
                        // At most 63 distinct characters, so the index fits.
                        *slot = masks.len() as u8;
                    }
                    Some(slot) => {
                        if let Some(m) = masks.get_mut(usize::from(*slot) - 1) {
                            *m |= bit;
                        }
                    }
                    None => match other.iter_mut().find(|(x, _)| *x == c) {
                        Some((_, m)) => *m |= bit,
                        None => other.push((c, bit)),
                    },
                },
            }
        }
        sa.masks = masks.into();
        sa.other = other.into();
        sa
    }

    /// The tokens that are the literal `c`.
    #[inline]
    fn literal(&self, c: char) -> u64 {
        match self.ascii.get(c as usize) {
            Some(&0) => 0,
            Some(&i) => self.masks.get(usize::from(i) - 1).copied().unwrap_or(0),
            None => self
                .other
                .iter()
                .find(|(x, _)| *x == c)
                .map_or(0, |(_, m)| *m),
        }
    }

    fn is_match(&self, input: &str) -> bool {
        // A star may match nothing, so a set star bit also sets the next bit. One step
        // is enough: stars are never adjacent (the tokenizer merges runs of `*`).
        let mut d: u64 = 1;
        d |= (d & self.stars) << 1;
        for c in input.chars() {
            let (advance, stay) = if c == '/' {
                (self.literal(c), self.globstars)
            } else {
                (self.literal(c) | self.one, self.stars)
            };
            d = ((d & advance) << 1) | (d & stay);
            if d == 0 {
                return false;
            }
            d |= (d & self.stars) << 1;
        }
        d & self.accept != 0
    }
}

/// Splits a glob into tokens, refusing syntax this matcher does not support.
pub(crate) fn tokenize(glob: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::with_capacity(glob.len());
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                let mut run = 1;
                while chars.peek() == Some(&'*') {
                    chars.next();
                    run += 1;
                }
                if run > 2 {
                    return Err(format!(
                        "`{glob}` has `{}`: use `*` (within one segment) or `**` (across segments)",
                        "*".repeat(run)
                    ));
                }
                out.push(if run == 2 {
                    Token::GlobStar
                } else {
                    Token::Star
                });
            }
            '?' => out.push(Token::One),
            '[' | ']' | '{' | '}' => {
                return Err(format!(
                "`{glob}` uses `{c}`, which globs here do not support (only `*`, `**` and `?`); \
                     write a regex: pattern instead"
            ))
            }
            c => out.push(Token::Char(c)),
        }
    }
    Ok(out)
}

/// An anchored regex equivalent to `tokens`.
pub(crate) fn to_regex_source(tokens: &[Token]) -> String {
    let mut re = String::from("^");
    let mut buf = [0u8; 4];
    for t in tokens {
        match t {
            Token::Char(c) => re.push_str(&regex::escape(c.encode_utf8(&mut buf))),
            Token::One => re.push_str("[^/]"),
            Token::Star => re.push_str("[^/]*"),
            Token::GlobStar => re.push_str("(?s:.*)"),
        }
    }
    re.push('$');
    re
}

impl Glob {
    pub(crate) fn compile(glob: &str) -> Result<Glob, String> {
        let tokens = tokenize(glob)?;
        let lead = tokens
            .iter()
            .take_while(|t| matches!(t, Token::Char(_)))
            .count();
        let trail = tokens
            .iter()
            .rev()
            .take_while(|t| matches!(t, Token::Char(_)))
            .count();
        let text = |ts: &[Token]| -> Box<str> {
            ts.iter()
                .filter_map(|t| match t {
                    Token::Char(c) => Some(*c),
                    _ => None,
                })
                .collect::<String>()
                .into_boxed_str()
        };
        let prefix = text(&tokens[..lead]);
        let suffix = if lead == tokens.len() {
            Box::from("")
        } else {
            text(&tokens[tokens.len() - trail..])
        };
        let rest = &tokens[lead..];
        let middle = &tokens[lead..tokens.len() - trail.min(tokens.len() - lead)];
        let needle = middle
            .split(|t| !matches!(t, Token::Char(_)))
            .max_by_key(|run| run.len())
            .filter(|run| run.len() >= 3)
            .map(text);
        let engine = if rest.len() <= MAX_TOKENS {
            Engine::ShiftAnd(ShiftAnd::new(rest))
        } else {
            let re = Regex::new(&to_regex_source(&tokens))
                .map_err(|e| format!("`{glob}` is too complex to compile: {e}"))?;
            Engine::Regex(re)
        };
        Ok(Glob {
            prefix,
            suffix,
            needle,
            engine,
        })
    }

    /// The literal text before the first wildcard.
    pub(crate) fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn is_match(&self, path: &str) -> bool {
        if !path.ends_with(&*self.suffix) {
            return false;
        }
        if let Some(needle) = &self.needle {
            if !path.contains(&**needle) {
                return false;
            }
        }
        match &self.engine {
            Engine::Regex(re) => re.is_match(path),
            Engine::ShiftAnd(sa) => match path.strip_prefix(&*self.prefix) {
                Some(rest) => sa.is_match(rest),
                None => false,
            },
        }
    }
}

#[cfg(test)]
mod tests;
