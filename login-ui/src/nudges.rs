//! Counters for the rollout nudges, exported by the gateway as
//! `sekisho_enrollment_nudges_total{kind, outcome}`.
use std::sync::atomic::{AtomicU64, Ordering};

/// Which interstitial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudgeKind {
    Recommend,
    Countdown,
    Forced,
}

/// What the user did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudgeOutcome {
    Shown,
    Snoozed,
    Accepted,
}

impl NudgeKind {
    pub const ALL: [NudgeKind; 3] = [
        NudgeKind::Recommend,
        NudgeKind::Countdown,
        NudgeKind::Forced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NudgeKind::Recommend => "recommend",
            NudgeKind::Countdown => "countdown",
            NudgeKind::Forced => "forced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl NudgeOutcome {
    pub const ALL: [NudgeOutcome; 3] = [
        NudgeOutcome::Shown,
        NudgeOutcome::Snoozed,
        NudgeOutcome::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NudgeOutcome::Shown => "shown",
            NudgeOutcome::Snoozed => "snoozed",
            NudgeOutcome::Accepted => "accepted",
        }
    }
}

#[derive(Debug, Default)]
pub struct NudgeCounters {
    counts: [[AtomicU64; 3]; 3],
}

impl NudgeCounters {
    pub fn add(&self, kind: NudgeKind, outcome: NudgeOutcome) {
        self.counts[kind as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, kind: NudgeKind, outcome: NudgeOutcome) -> u64 {
        self.counts[kind as usize][outcome as usize].load(Ordering::Relaxed)
    }

    /// Every `(kind, outcome, count)`, zeros included, so series exist from the start.
    pub fn snapshot(&self) -> Vec<(NudgeKind, NudgeOutcome, u64)> {
        NudgeKind::ALL
            .into_iter()
            .flat_map(|k| NudgeOutcome::ALL.into_iter().map(move |o| (k, o)))
            .map(|(k, o)| (k, o, self.get(k, o)))
            .collect()
    }
}
