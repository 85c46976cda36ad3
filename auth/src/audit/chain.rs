//! The hash chain of the audit log: the canonical encoding of an entry, its hash, and
//! the walk that finds the first break (see the parent module's doc for the format).
use super::AuditEntry;
use crate::mfa::hex_lower;
use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of entry 1.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const ABSENT: u8 = 0x00;
const PRESENT: u8 = 0x01;

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(ABSENT),
        Some(bytes) => {
            out.push(PRESENT);
            // usize is at most 64 bits on every target Rust supports.
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

fn text(s: &Option<String>) -> Option<&[u8]> {
    s.as_deref().map(str::as_bytes)
}

/// The bytes the hash covers after `prev_hash`.
pub(crate) fn canonical(e: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + e.detail.len());
    field(&mut out, Some(&e.seq.to_be_bytes()));
    field(&mut out, Some(&e.at.to_be_bytes()));
    field(&mut out, Some(e.actor.as_bytes()));
    field(&mut out, text(&e.actor_role));
    field(&mut out, Some(e.action.as_bytes()));
    field(&mut out, text(&e.target));
    field(&mut out, text(&e.ip));
    field(&mut out, text(&e.request_id));
    field(&mut out, Some(e.detail.as_bytes()));
    out
}

pub(crate) fn entry_hash(e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(e.prev_hash.as_bytes());
    h.update(canonical(e));
    hex_lower(&h.finalize())
}

/// What is wrong at the first break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The stored hash does not match the entry's contents: the entry was edited.
    Altered,
    /// The numbering skips this many entries before this one: they were removed.
    Missing { count: i64 },
    /// `prev_hash` is not the previous entry's hash: entries were removed and the rest
    /// renumbered, or entries were swapped.
    Relinked,
    /// Numbered below 1, which the appender never does: the rows were renumbered.
    OutOfOrder,
}

/// The first entry at which the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub kind: BreakKind,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.kind {
            BreakKind::Altered => {
                write!(f, "entry {seq}: contents altered (hash does not match)")
            }
            BreakKind::Missing { count: 1 } => {
                write!(f, "entry {seq}: 1 entry missing before it")
            }
            BreakKind::Missing { count } => {
                write!(f, "entry {seq}: {count} entries missing before it")
            }
            BreakKind::Relinked if seq <= 1 => write!(
                f,
                "entry {seq}: not linked to the start of the log (rows removed or reordered)"
            ),
            BreakKind::Relinked => write!(
                f,
                "entry {seq}: not linked to entry {} (rows removed or reordered)",
                seq - 1
            ),
            BreakKind::OutOfOrder => {
                write!(
                    f,
                    "entry {seq}: numbered before the first entry (rows renumbered)"
                )
            }
        }
    }
}

/// The outcome of [`super::AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries walked, including any after the break.
    pub entries: u64,
    /// The last entry's stored hash; `None` for an empty log.
    pub head: Option<String>,
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Checks entries fed in `seq` order against each other.
#[derive(Debug, Default)]
pub(crate) struct Walker {
    entries: u64,
    /// The previous entry's `seq` and stored hash.
    prev: Option<(i64, String)>,
    first_break: Option<ChainBreak>,
}

impl Walker {
    pub(crate) fn push(&mut self, e: &AuditEntry) {
        self.entries += 1;
        if self.first_break.is_none() {
            let (want_seq, want_prev) = match &self.prev {
                None => (1, GENESIS_HASH),
                Some((seq, hash)) => (seq.saturating_add(1), hash.as_str()),
            };
            // A gap first: after a removal the next entry is also unlinked, and
            // "missing" says more than "unlinked".
            let kind = if e.seq > want_seq {
                Some(BreakKind::Missing {
                    count: e.seq.saturating_sub(want_seq),
                })
            } else if e.seq < want_seq {
                Some(BreakKind::OutOfOrder)
            } else if e.prev_hash != want_prev {
                Some(BreakKind::Relinked)
            } else if e.computed_hash() != e.hash {
                Some(BreakKind::Altered)
            } else {
                None
            };
            self.first_break = kind.map(|kind| ChainBreak { seq: e.seq, kind });
        }
        self.prev = Some((e.seq, e.hash.clone()));
    }

    pub(crate) fn finish(self) -> ChainReport {
        ChainReport {
            entries: self.entries,
            head: self.prev.map(|(_, hash)| hash),
            first_break: self.first_break,
        }
    }
}
