//! The phased MFA rollout: which `[[enrollment]]` rule covers a user, and what that
//! user meets at the next sign-in given their enrolment facts and the time.
//!
//! Pure like the access policy: the facts (enrolled or not, snoozed until, grace
//! sign-ins used) come from the caller, the time is passed in.
//!
//! # What a user without MFA meets at sign-in
//! - `off`, `optional`: nothing (`optional` shows a call to action in settings).
//! - `recommend`: an interstitial "set up now / remind me later", at most once per
//!   `snooze` period (showing it starts the period; "later" restarts it).
//! - `require` without a deadline, or after it: enrolment is forced; until it is done
//!   the session reaches nothing protected.
//! - `require` before the deadline: a skippable countdown "mandatory on <date>, N days
//!   left". With `grace_logins`, every such sign-in uses one, and once they are used up
//!   enrolment is forced even before the deadline.
//!
//! Users who already have MFA meet none of this: they complete MFA as usual.
use sekisho_config::{Deadline, EnrollmentMode, EnrollmentRuleSettings, FactorSet};
use std::fmt;
use std::time::Duration;

/// What is known about one user's enrolment, read from the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolloutFacts {
    pub enrolled: bool,
    pub snoozed_until: Option<i64>,
    /// Countdown sign-ins already used.
    pub grace_used: u32,
}

/// What the next sign-in of a user shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    /// Straight on.
    None,
    /// "We recommend MFA": set up now, or remind me later (`snooze`).
    Recommend { snooze: Duration },
    /// Skippable: "MFA becomes mandatory on <date> — N days left".
    Countdown {
        deadline: Deadline,
        days_left: i64,
        /// Skips left after this sign-in, when `grace_logins` is set.
        grace_left: Option<u32>,
    },
    /// Enrolment cannot be skipped; `deadline` is the one that passed, if any.
    Forced { deadline: Option<Deadline> },
}

impl Nudge {
    /// Stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Nudge::None => "none",
            Nudge::Recommend { .. } => "recommend",
            Nudge::Countdown { .. } => "countdown",
            Nudge::Forced { .. } => "forced",
        }
    }
}

/// The `[[enrollment]]` rules, in file order. Users no rule covers get `optional`.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    rules: Box<[EnrollmentRuleSettings]>,
}

/// The rule that covers a user, or the default.
#[derive(Debug, Clone, Copy)]
pub struct Coverage<'a> {
    pub rule: Option<&'a EnrollmentRuleSettings>,
}

impl Rollout {
    pub const DEFAULT_MODE: EnrollmentMode = EnrollmentMode::Optional;

    pub fn new(rules: &[EnrollmentRuleSettings]) -> Self {
        Self {
            rules: rules.into(),
        }
    }

    pub fn rules(&self) -> &[EnrollmentRuleSettings] {
        &self.rules
    }

    /// The first rule whose `users` name the e-mail (ASCII case-insensitive) or whose
    /// `groups` share a group with the user (case-sensitive); a rule naming neither
    /// covers everyone.
    pub fn covering(&self, email: &str, groups: &[String]) -> Coverage<'_> {
        let rule = self.rules.iter().find(|r| {
            (r.users.is_empty() && r.groups.is_empty())
                || r.users.iter().any(|u| u.eq_ignore_ascii_case(email))
                || r.groups.iter().any(|g| groups.contains(g))
        });
        Coverage { rule }
    }
}

impl Coverage<'_> {
    pub fn mode(&self) -> EnrollmentMode {
        self.rule.map_or(Rollout::DEFAULT_MODE, |r| r.mode)
    }

    pub fn deadline(&self) -> Option<Deadline> {
        self.rule.and_then(|r| r.deadline)
    }

    /// Factors the enrolment wizard offers (`None`: whatever `[mfa]` allows).
    pub fn methods(&self) -> Option<FactorSet> {
        self.rule.map(|r| r.methods)
    }

    /// Does the settings page invite the user to enrol?
    pub fn invites(&self) -> bool {
        self.mode() != EnrollmentMode::Off
    }

    /// What the next sign-in shows, at `now`.
    pub fn at_sign_in(&self, facts: &RolloutFacts, now: i64) -> Nudge {
        let Some(rule) = self.rule else {
            return Nudge::None;
        };
        if facts.enrolled {
            return Nudge::None;
        }
        match rule.mode {
            EnrollmentMode::Off | EnrollmentMode::Optional => Nudge::None,
            EnrollmentMode::Recommend => {
                if facts.snoozed_until.is_some_and(|until| now < until) {
                    Nudge::None
                } else {
                    Nudge::Recommend {
                        snooze: rule.snooze,
                    }
                }
            }
            EnrollmentMode::Require => match rule.deadline {
                Some(deadline) if now < deadline.unix() => match rule.grace_logins {
                    Some(grace) if facts.grace_used >= grace => Nudge::Forced { deadline: None },
                    grace => Nudge::Countdown {
                        deadline,
                        days_left: deadline.days_left(now),
                        grace_left: grace.map(|g| g - facts.grace_used - 1),
                    },
                },
                deadline => Nudge::Forced { deadline },
            },
        }
    }

    /// `sekisho policy explain`: the rule, its settings and the next sign-in.
    pub fn explain(&self, facts: Option<&RolloutFacts>, now: i64) -> RolloutExplanation {
        let mut lines = Vec::new();
        match self.rule {
            Some(r) => lines.push(format!(
                "enrollment[{}] \"{}\": mode = {}",
                r.index, r.name, r.mode
            )),
            None => lines.push(format!(
                "no [[enrollment]] rule matches: mode = {} (default)",
                Rollout::DEFAULT_MODE
            )),
        }
        if let Some(r) = self.rule {
            if let Some(d) = r.deadline {
                let state = if now < d.unix() {
                    format!("{} days left", d.days_left(now))
                } else {
                    "passed".to_string()
                };
                lines.push(format!("deadline: {d} ({state})"));
            }
            if let Some(g) = r.grace_logins {
                lines.push(format!("grace_logins: {g}"));
            }
            if r.mode == EnrollmentMode::Recommend {
                lines.push(format!("snooze: {}s", r.snooze.as_secs()));
            }
            if !r.notice_days.is_empty() {
                let days: Vec<String> = r.notice_days.iter().map(u32::to_string).collect();
                lines.push(format!("reminder e-mails: {} days before", days.join(", ")));
            }
        }
        let next = match facts {
            None => "next sign-in: depends on the user's enrolment (pass --user with a database to read it)".to_string(),
            Some(f) => {
                let what = match self.at_sign_in(f, now) {
                    Nudge::None if f.enrolled => "the MFA challenge (already enrolled)".to_string(),
                    Nudge::None => match (self.mode(), f.snoozed_until) {
                        (EnrollmentMode::Recommend, Some(until)) => {
                            format!("nothing (recommendation snoozed until @{until})")
                        }
                        (EnrollmentMode::Optional, _) => {
                            "nothing (a set-up link in settings)".to_string()
                        }
                        _ => "nothing".to_string(),
                    },
                    Nudge::Recommend { .. } => {
                        "the \"we recommend MFA\" page (set up now / remind me later)".to_string()
                    }
                    Nudge::Countdown {
                        deadline,
                        days_left,
                        grace_left,
                    } => {
                        let mut s = format!(
                            "a skippable notice: MFA becomes mandatory on {} — {days_left} days left",
                            deadline.date()
                        );
                        if let Some(g) = grace_left {
                            s.push_str(&format!(" ({g} more sign-ins may skip)"));
                        }
                        s
                    }
                    Nudge::Forced { .. } => {
                        "forced enrolment: nothing protected is reachable until MFA is set up"
                            .to_string()
                    }
                };
                format!(
                    "next sign-in: {what} [enrolled: {}, grace used: {}]",
                    if f.enrolled { "yes" } else { "no" },
                    f.grace_used
                )
            }
        };
        lines.push(next);
        RolloutExplanation { lines }
    }
}

/// Printable account of a user's rollout position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutExplanation {
    pub lines: Vec<String>,
}

impl fmt::Display for RolloutExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
