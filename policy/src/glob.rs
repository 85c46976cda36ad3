//! Path globs: `*` (within a segment), `**` (across segments) and `?` (one character
//! other than `/`), matched against the whole path.
//!
//! Matching simulates the glob's NFA with a fixed-size bitset of states, so it is linear
//! in the path length, never backtracks and never allocates. Globs with more tokens than
//! the bitset holds are translated into an equivalent anchored regex instead.
use regex::Regex;

/// States the bitset can hold: one per token plus the accepting state.
const WORDS: usize = 4;
const MAX_STATES: usize = WORDS * 64;

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
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    /// Tokens after `prefix`.
    Nfa(Box<[Token]>),
    Regex(Regex),
}

type Bits = [u64; WORDS];

fn set(bits: &mut Bits, i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn has(bits: &Bits, i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
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
            '[' | ']' | '{' | '}' => return Err(format!(
                "`{glob}` uses `{c}`, which globs here do not support (only `*`, `**` and `?`); \
                     write a regex: pattern instead"
            )),
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
        let engine = if rest.len() < MAX_STATES {
            Engine::Nfa(rest.into())
        } else {
            let re = Regex::new(&to_regex_source(&tokens))
                .map_err(|e| format!("`{glob}` is too complex to compile: {e}"))?;
            Engine::Regex(re)
        };
        Ok(Glob {
            prefix,
            suffix,
            engine,
        })
    }

    pub(crate) fn is_match(&self, path: &str) -> bool {
        if !path.ends_with(&*self.suffix) {
            return false;
        }
        match &self.engine {
            Engine::Regex(re) => re.is_match(path),
            Engine::Nfa(tokens) => match path.strip_prefix(&*self.prefix) {
                Some(rest) => nfa_match(tokens, rest),
                None => false,
            },
        }
    }
}

/// Adds the epsilon moves: a star may match nothing. Moves only go forward by one, so a
/// single ascending pass reaches the closure.
fn close(tokens: &[Token], bits: &mut Bits) {
    for (i, t) in tokens.iter().enumerate() {
        if matches!(t, Token::Star | Token::GlobStar) && has(bits, i) {
            set(bits, i + 1);
        }
    }
}

fn nfa_match(tokens: &[Token], input: &str) -> bool {
    let n = tokens.len();
    let mut cur: Bits = [0; WORDS];
    set(&mut cur, 0);
    close(tokens, &mut cur);
    for c in input.chars() {
        let mut next: Bits = [0; WORDS];
        let mut any = false;
        for (w, &word) in cur.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let Some(t) = tokens.get(i) else { continue };
                let target = match *t {
                    Token::Char(x) if x == c => i + 1,
                    Token::One if c != '/' => i + 1,
                    Token::Star if c != '/' => i,
                    Token::GlobStar => i,
                    _ => continue,
                };
                set(&mut next, target);
                any = true;
            }
        }
        if !any {
            return false;
        }
        close(tokens, &mut next);
        cur = next;
    }
    has(&cur, n)
}

#[cfg(test)]
mod tests;
