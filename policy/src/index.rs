//! The rule index: which rules can apply to a request, in rule order, without scanning
//! every rule.
//!
//! Each rule goes into the host bucket of every exact host it names and of every
//! `*.suffix` it names, or into the "any host" bucket when it has no `hosts`. Inside a
//! bucket, a rule whose every path pattern fixes the first path segment (`/admin`,
//! `/api/*/x`, `regex:^/api/`) is filed under those segments; the others go into the
//! bucket's "any segment" list.
//!
//! For a request, the lists that apply (per matching host bucket: its "any segment" list
//! and the list of the request's first segment) are merged by rule position, so the first
//! match still wins across lists. A rule coming out of the merge is known to match the
//! host, and a path condition it may fail is still checked. Hosts too long for the stack
//! buffer, or matching more wildcard buckets than the merge holds, fall back to a scan of
//! every rule with the host checked per rule.
use crate::host::{lower_into, MAX_HOST};
use crate::pattern::first_segment;
use crate::rule::CompiledRule;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Lists merged at most: two per host bucket (any host, exact, six wildcard suffixes).
const MAX_LISTS: usize = 16;

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

type Lists = HashMap<Box<[u8]>, Box<[u32]>, BuildHasherDefault<KeyHasher>>;

/// The rules of one host key, split by first path segment.
#[derive(Debug, Default)]
struct Bucket {
    any_segment: Box<[u32]>,
    by_segment: Lists,
}

#[derive(Default)]
struct BucketBuilder {
    any_segment: Vec<u32>,
    by_segment: HashMap<Box<[u8]>, Vec<u32>>,
}

fn push_unique(list: &mut Vec<u32>, pos: u32) {
    if list.last() != Some(&pos) {
        list.push(pos);
    }
}

impl BucketBuilder {
    fn add(&mut self, pos: u32, segments: Option<&[&str]>) {
        match segments {
            None => push_unique(&mut self.any_segment, pos),
            Some(segs) => {
                for seg in segs {
                    push_unique(
                        self.by_segment.entry(seg.as_bytes().into()).or_default(),
                        pos,
                    );
                }
            }
        }
    }

    fn build(self) -> Bucket {
        Bucket {
            any_segment: self.any_segment.into(),
            by_segment: self
                .by_segment
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
        }
    }
}

type Buckets = HashMap<Box<[u8]>, Bucket, BuildHasherDefault<KeyHasher>>;

fn build_all(map: HashMap<Box<[u8]>, BucketBuilder>) -> Buckets {
    map.into_iter().map(|(k, b)| (k, b.build())).collect()
}

#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    exact: Buckets,
    suffix: Buckets,
    any_host: Bucket,
    #[cfg(test)]
    rule_count: u32,
}

/// The first segments a rule's paths fix, or `None` when some path (or no path) leaves
/// the first segment open.
fn segment_keys(rule: &CompiledRule) -> Option<Vec<&str>> {
    if rule.paths.is_empty() {
        return None;
    }
    rule.paths.iter().map(|p| p.segment_key()).collect()
}

impl RuleIndex {
    pub(crate) fn build(rules: &[CompiledRule]) -> RuleIndex {
        let mut exact: HashMap<Box<[u8]>, BucketBuilder> = HashMap::new();
        let mut suffix: HashMap<Box<[u8]>, BucketBuilder> = HashMap::new();
        let mut any_host = BucketBuilder::default();
        for (pos, rule) in rules.iter().enumerate() {
            let pos = pos as u32;
            let segments = segment_keys(rule);
            let segments = segments.as_deref();
            if rule.hosts.is_empty() {
                any_host.add(pos, segments);
            }
            for h in rule.hosts.iter() {
                let (map, key) = match h.suffix() {
                    Some(s) => (&mut suffix, s),
                    None => (&mut exact, h.as_str()),
                };
                map.entry(key.as_bytes().into())
                    .or_default()
                    .add(pos, segments);
            }
        }
        RuleIndex {
            exact: build_all(exact),
            suffix: build_all(suffix),
            any_host: any_host.build(),
            #[cfg(test)]
            rule_count: rules.len() as u32,
        }
    }

    /// Loads into `merge` the lists of the rules that can apply to `host` (without its
    /// port, any case) and the normalised `path`. `false` when the index cannot help
    /// (host too long, too many lists): then every rule must be scanned, host included.
    #[inline]
    pub(crate) fn fill<'a>(&'a self, host: &str, path: &str, merge: &mut Merge<'a>) -> bool {
        let mut buf = [0u8; MAX_HOST];
        let Some(lower) = lower_into(host, &mut buf) else {
            return false;
        };
        let segment = first_segment(path).as_bytes();
        if !merge.push_bucket(&self.any_host, segment) {
            return false;
        }
        if let Some(bucket) = self.exact.get(lower) {
            if !merge.push_bucket(bucket, segment) {
                return false;
            }
        }
        if !self.suffix.is_empty() {
            // Every `*.suffix` that matches: the text after each dot that is not the
            // first character (`*.a.b` needs at least one character before `.a.b`).
            for (i, &b) in lower.iter().enumerate().skip(1) {
                if b != b'.' {
                    continue;
                }
                if let Some(bucket) = lower.get(i + 1..).and_then(|s| self.suffix.get(s)) {
                    if !merge.push_bucket(bucket, segment) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The candidates as an iterator (for tests).
    #[cfg(test)]
    pub(crate) fn candidates(&self, host: &str, path: &str) -> Candidates<'_> {
        let mut merge = Merge::default();
        if self.fill(host, path, &mut merge) {
            Candidates::Merged(merge)
        } else {
            Candidates::All(0..self.rule_count)
        }
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
    fn push_bucket(&mut self, bucket: &'a Bucket, segment: &[u8]) -> bool {
        let mut ok = self.push(&bucket.any_segment);
        if !bucket.by_segment.is_empty() {
            if let Some(list) = bucket.by_segment.get(segment) {
                ok &= self.push(list);
            }
        }
        ok
    }

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

    /// The next rule position, in order, each once.
    #[inline]
    pub(crate) fn next_pos(&mut self) -> Option<u32> {
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
#[cfg(test)]
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // test-only convenience
pub(crate) enum Candidates<'a> {
    Merged(Merge<'a>),
    All(std::ops::Range<u32>),
}

#[cfg(test)]
impl Iterator for Candidates<'_> {
    /// `(rule position, host already matched)`
    type Item = (usize, bool);

    fn next(&mut self) -> Option<(usize, bool)> {
        match self {
            Candidates::Merged(m) => m.next_pos().map(|p| (p as usize, true)),
            Candidates::All(r) => r.next().map(|p| (p as usize, false)),
        }
    }
}

#[cfg(test)]
mod tests;
