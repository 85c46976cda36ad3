//! The host index: which rules can apply to a request's host, in rule order, without
//! scanning every rule.
//!
//! Each rule goes into the bucket of every exact host it names and of every `*.suffix` it
//! names, or into the "any host" list when it has no `hosts`. For a request, the lists
//! that apply (any host, the exact host, and each suffix of the host that has a bucket)
//! are merged by rule position, so the first match still wins across buckets. A rule
//! coming out of the merge is known to match the host. Hosts too long for the stack
//! buffer, or matching more wildcard buckets than the merge holds, fall back to a scan of
//! every rule with the host checked per rule.
use crate::host::{lower_into, MAX_HOST};
use crate::rule::CompiledRule;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Lists merged at most: any-host + exact + six wildcard suffixes.
const MAX_LISTS: usize = 8;

/// A small multiplicative hash for short byte keys. The keys come from the configuration
/// and requests only look them up, so flooding one bucket is not in a client's power.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl KeyHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(SEED);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(c);
            self.add(u64::from_le_bytes(buf));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type Buckets = HashMap<Box<[u8]>, Box<[u32]>, BuildHasherDefault<KeyHasher>>;

#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: Buckets,
    suffix: Buckets,
    any_host: Box<[u32]>,
    rule_count: u32,
}

fn push_unique(map: &mut HashMap<Box<[u8]>, Vec<u32>>, key: &str, pos: u32) {
    let list = map.entry(key.as_bytes().into()).or_default();
    if list.last() != Some(&pos) {
        list.push(pos);
    }
}

fn freeze(map: HashMap<Box<[u8]>, Vec<u32>>) -> Buckets {
    map.into_iter()
        .map(|(k, v)| (k, v.into_boxed_slice()))
        .collect()
}

impl HostIndex {
    pub(crate) fn build(rules: &[CompiledRule]) -> HostIndex {
        let mut exact = HashMap::new();
        let mut suffix = HashMap::new();
        let mut any_host = Vec::new();
        for (pos, rule) in rules.iter().enumerate() {
            let pos = pos as u32;
            if rule.hosts.is_empty() {
                any_host.push(pos);
            }
            for h in rule.hosts.iter() {
                match h.suffix() {
                    Some(s) => push_unique(&mut suffix, s, pos),
                    None => push_unique(&mut exact, h.as_str(), pos),
                }
            }
        }
        HostIndex {
            exact: freeze(exact),
            suffix: freeze(suffix),
            any_host: any_host.into(),
            rule_count: rules.len() as u32,
        }
    }

    /// The rules that can apply to `host` (without its port, any case), in order.
    #[inline]
    pub(crate) fn candidates(&self, host: &str) -> Candidates<'_> {
        let all = Candidates::All(0..self.rule_count);
        let mut buf = [0u8; MAX_HOST];
        let Some(lower) = lower_into(host, &mut buf) else {
            return all;
        };
        let mut merge = Merge::default();
        merge.push(&self.any_host);
        if let Some(list) = self.exact.get(lower) {
            merge.push(list);
        }
        if !self.suffix.is_empty() {
            // Every `*.suffix` that matches: the text after each dot that is not the
            // first character (`*.a.b` needs at least one character before `.a.b`).
            for (i, &b) in lower.iter().enumerate().skip(1) {
                if b != b'.' {
                    continue;
                }
                if let Some(list) = lower.get(i + 1..).and_then(|s| self.suffix.get(s)) {
                    if !merge.push(list) {
                        return all;
                    }
                }
            }
        }
        Candidates::Merged(merge)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Merge<'a> {
    lists: [&'a [u32]; MAX_LISTS],
    len: usize,
    last: Option<u32>,
}

impl<'a> Merge<'a> {
    /// `false` when full.
    fn push(&mut self, list: &'a [u32]) -> bool {
        if list.is_empty() {
            return true;
        }
        match self.lists.get_mut(self.len) {
            Some(slot) => {
                *slot = list;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    #[inline]
    fn next_pos(&mut self) -> Option<u32> {
        loop {
            let mut best: Option<(usize, u32)> = None;
            for (i, list) in self.lists[..self.len].iter().enumerate() {
                if let Some(&head) = list.first() {
                    if best.is_none_or(|(_, b)| head < b) {
                        best = Some((i, head));
                    }
                }
            }
            let (i, head) = best?;
            self.lists[i] = &self.lists[i][1..];
            if self.last != Some(head) {
                self.last = Some(head);
                return Some(head);
            }
        }
    }
}

/// Rule positions in order, with whether the host condition is already known to hold.
#[derive(Debug)]
pub(crate) enum Candidates<'a> {
    Merged(Merge<'a>),
    All(std::ops::Range<u32>),
}

impl Iterator for Candidates<'_> {
    /// `(rule position, host already matched)`
    type Item = (usize, bool);

    #[inline]
    fn next(&mut self) -> Option<(usize, bool)> {
        match self {
            Candidates::Merged(m) => m.next_pos().map(|p| (p as usize, true)),
            Candidates::All(r) => r.next().map(|p| (p as usize, false)),
        }
    }
}

#[cfg(test)]
mod tests;
