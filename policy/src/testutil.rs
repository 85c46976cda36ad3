//! Helpers shared by the unit tests: a tiny deterministic PRNG (no extra dependency) and
//! compiled rules for the index tests.
use crate::rule::CompiledRule;
use sekisho_config::{Action, RuleSettings};

/// xorshift64* — good enough to shuffle test inputs, deterministic per seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Compiled rules with just the given `hosts`, for index tests.
pub fn compiled(hosts: &[&[&str]]) -> Vec<CompiledRule> {
    let rules: Vec<(&[&str], &[&str])> = hosts.iter().map(|h| (*h, &[][..])).collect();
    compiled_with_paths(&rules)
}

/// Compiled rules with the given `(hosts, paths)`, for index tests.
pub fn compiled_with_paths(rules: &[(&[&str], &[&str])]) -> Vec<CompiledRule> {
    rules
        .iter()
        .enumerate()
        .map(|(i, (h, p))| {
            CompiledRule::compile(&RuleSettings {
                name: format!("r{i}"),
                index: i,
                hosts: h.iter().map(|s| s.to_string()).collect(),
                paths: p.iter().map(|s| s.to_string()).collect(),
                methods: vec![],
                networks: vec![],
                groups: vec![],
                users: vec![],
                action: Action::OneFactor,
                max_mfa_age: None,
                trusted_device: true,
                mfa_methods: sekisho_config::FactorSet::ALL,
            })
            .unwrap()
        })
        .collect()
}
