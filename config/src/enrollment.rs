//! The `[[enrollment]]` rules (the phased MFA rollout) and the `[rollout]` job settings,
//! from file schema to validated settings.
//!
//! Each rule names the users it covers (`groups`, `users`; both empty = everyone) and a
//! `mode`: `off`, `optional`, `recommend` (a nudge once per `snooze`) or `require`
//! (enrolment forced at sign-in, or announced until `deadline`, optionally with at most
//! `grace_logins` skipped sign-ins; `notice_days` mails reminders before the deadline).
use crate::load::{Validator, R};
use crate::values::{Factor, FactorSet, HumanDuration};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentMode {
    /// No prompt and no call to action; users who already have MFA keep it.
    Off,
    /// A "set up" link in the security settings only.
    Optional,
    /// An interstitial at sign-in, at most once per snooze period.
    Recommend,
    /// Enrolment is mandatory (forced now, or from the deadline).
    Require,
}

impl EnrollmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::Off => "off",
            EnrollmentMode::Optional => "optional",
            EnrollmentMode::Recommend => "recommend",
            EnrollmentMode::Require => "require",
        }
    }
}

impl fmt::Display for EnrollmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentSection {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub mode: EnrollmentMode,
    /// RFC 3339 with an offset, e.g. `2027-04-01T00:00:00+09:00` (`require` only).
    #[serde(default)]
    pub deadline: Option<String>,
    /// Sign-ins that may skip enrolment before the deadline (`require` with `deadline`).
    #[serde(default)]
    pub grace_logins: Option<u32>,
    /// How long "remind me later" (and a shown nudge) keeps the next one away.
    #[serde(default)]
    pub snooze: Option<HumanDuration>,
    /// Reminder e-mails this many days before the deadline.
    #[serde(default)]
    pub notice_days: Vec<u32>,
    /// Factors the enrolment wizard offers (default: every enrollable factor in `[mfa]`).
    #[serde(default)]
    pub methods: Vec<Factor>,
}

/// A point in time with the offset the operator wrote, so dates are shown as meant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Deadline(OffsetDateTime);

impl Deadline {
    pub fn parse(raw: &str) -> Option<Self> {
        OffsetDateTime::parse(raw.trim(), &Rfc3339).ok().map(Self)
    }

    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// `YYYY-MM-DD` in the deadline's own offset.
    pub fn date(self) -> String {
        let d = self.0.date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// `(year, month, day)` in the deadline's own offset, for localised dates.
    pub fn ymd(self) -> (i32, u8, u8) {
        let d = self.0.date();
        (d.year(), u8::from(d.month()), d.day())
    }

    /// The offset written in the config, e.g. `+09:00`.
    pub fn offset(self) -> String {
        let o: UtcOffset = self.0.offset();
        let (h, m, _) = o.as_hms();
        let sign = if o.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    }

    /// Whole days left at `now`, rounded up (1 on the last day, 0 once passed).
    pub fn days_left(self, now: i64) -> i64 {
        let secs = self.unix() - now;
        if secs <= 0 {
            0
        } else {
            (secs + 86_399) / 86_400
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "@{}", self.unix()),
        }
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deadline({self})")
    }
}

#[derive(Debug, Clone)]
pub struct EnrollmentRuleSettings {
    /// Given name, or `enrollment[N]`.
    pub name: String,
    pub index: usize,
    pub groups: Vec<String>,
    /// Lower-case e-mail addresses.
    pub users: Vec<String>,
    pub mode: EnrollmentMode,
    pub deadline: Option<Deadline>,
    pub grace_logins: Option<u32>,
    pub snooze: Duration,
    /// Descending, without duplicates.
    pub notice_days: Vec<u32>,
    /// Factors the wizard offers: a subset of `[mfa] factors` without backup codes.
    pub methods: FactorSet,
}

/// `[rollout]`: how often the background jobs run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    #[serde(default = "default_reminder_interval")]
    pub reminder_interval: HumanDuration,
    #[serde(default = "default_adoption_refresh")]
    pub adoption_refresh: HumanDuration,
    /// A started enrolment not finished after this long counts as abandoned.
    #[serde(default = "default_abandon_after")]
    pub abandon_after: HumanDuration,
}

impl Default for RolloutSection {
    fn default() -> Self {
        Self {
            reminder_interval: default_reminder_interval(),
            adoption_refresh: default_adoption_refresh(),
            abandon_after: default_abandon_after(),
        }
    }
}

fn default_reminder_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(15 * 60))
}
fn default_adoption_refresh() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_abandon_after() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
const DEFAULT_SNOOZE: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Copy)]
pub struct RolloutSettings {
    pub reminder_interval: Duration,
    pub adoption_refresh: Duration,
    pub abandon_after: Duration,
}

impl Default for RolloutSettings {
    fn default() -> Self {
        let s = RolloutSection::default();
        Self {
            reminder_interval: s.reminder_interval.0,
            adoption_refresh: s.adoption_refresh.0,
            abandon_after: s.abandon_after.0,
        }
    }
}

impl Validator<'_> {
    pub(crate) fn rollout(&self, r: RolloutSection) -> R<RolloutSettings> {
        let within = |key: &str, d: Duration, min: u64, max: u64, msg: &str| {
            if (min..=max).contains(&d.as_secs()) {
                Ok(d)
            } else {
                Err(self.err(format!("rollout.{key}"), msg.to_string()))
            }
        };
        Ok(RolloutSettings {
            reminder_interval: within(
                "reminder_interval",
                r.reminder_interval.0,
                1,
                86_400,
                "between 1s and 24h",
            )?,
            adoption_refresh: within(
                "adoption_refresh",
                r.adoption_refresh.0,
                1,
                86_400,
                "between 1s and 24h",
            )?,
            abandon_after: within(
                "abandon_after",
                r.abandon_after.0,
                60,
                7 * 86_400,
                "between 1m and 7d",
            )?,
        })
    }

    pub(crate) fn enrollment_rule(
        &self,
        i: usize,
        e: EnrollmentSection,
        mfa_factors: FactorSet,
    ) -> R<EnrollmentRuleSettings> {
        let key = |k: &str| format!("enrollment[{i}].{k}");
        for (j, g) in e.groups.iter().enumerate() {
            if g.trim().is_empty() || g.contains(',') {
                return Err(self.err(
                    key(&format!("groups[{j}]")),
                    "group names are non-empty and have no commas",
                ));
            }
        }
        for (j, u) in e.users.iter().enumerate() {
            if !u.contains('@') || u.trim().len() < 3 {
                return Err(self.err(key(&format!("users[{j}]")), "an e-mail address"));
            }
        }
        let require = e.mode == EnrollmentMode::Require;
        let deadline = match &e.deadline {
            None => None,
            Some(_) if !require => {
                return Err(self.err(key("deadline"), "only applies to mode = \"require\""))
            }
            Some(raw) => Some(Deadline::parse(raw).ok_or_else(|| {
                self.err(
                    key("deadline"),
                    format!(
                        "`{raw}` is not an RFC 3339 time with an offset, e.g. 2027-04-01T00:00:00+09:00"
                    ),
                )
            })?),
        };
        if e.grace_logins.is_some() && deadline.is_none() {
            return Err(self.err(
                key("grace_logins"),
                "only applies to mode = \"require\" with a deadline (without one, enrolment is forced at once)",
            ));
        }
        if e.grace_logins.is_some_and(|g| g > 1000) {
            return Err(self.err(key("grace_logins"), "at most 1000"));
        }
        if e.snooze.is_some() && e.mode != EnrollmentMode::Recommend {
            return Err(self.err(key("snooze"), "only applies to mode = \"recommend\""));
        }
        let snooze = e.snooze.map_or(DEFAULT_SNOOZE, |d| d.0);
        if !(60..=365 * 86_400).contains(&snooze.as_secs()) {
            return Err(self.err(key("snooze"), "between 1m and 365d"));
        }
        if !e.notice_days.is_empty() && deadline.is_none() {
            return Err(self.err(
                key("notice_days"),
                "reminders count down to a deadline: set mode = \"require\" and deadline",
            ));
        }
        if e.notice_days.iter().any(|d| !(1..=365).contains(d)) {
            return Err(self.err(key("notice_days"), "each between 1 and 365"));
        }
        let mut notice_days = e.notice_days;
        notice_days.sort_unstable_by(|a, b| b.cmp(a));
        notice_days.dedup();
        let enrollable = FactorSet::of(
            &[Factor::Totp, Factor::Email, Factor::Sms]
                .into_iter()
                .filter(|f| mfa_factors.contains(*f))
                .collect::<Vec<_>>(),
        );
        let methods = if e.methods.is_empty() {
            enrollable
        } else {
            for (j, f) in e.methods.iter().enumerate() {
                if *f == Factor::BackupCode {
                    return Err(self.err(
                        key(&format!("methods[{j}]")),
                        "backup codes come with the first factor; name totp, email or sms",
                    ));
                }
                if !mfa_factors.contains(*f) {
                    return Err(self.err(
                        key(&format!("methods[{j}]")),
                        format!("`{}` is not in [mfa] factors", f.as_str()),
                    ));
                }
            }
            FactorSet::of(&e.methods)
        };
        if require && methods.iter().next().is_none() {
            return Err(self.err(
                key("methods"),
                "mode = \"require\" needs a factor users can enrol (totp, email or sms in [mfa] factors)",
            ));
        }
        Ok(EnrollmentRuleSettings {
            name: e.name.unwrap_or_else(|| format!("enrollment[{i}]")),
            index: i,
            groups: e.groups.into_iter().map(|g| g.trim().to_string()).collect(),
            users: e.users.iter().map(|u| u.trim().to_lowercase()).collect(),
            mode: e.mode,
            deadline,
            grace_logins: e.grace_logins,
            snooze,
            notice_days,
            methods,
        })
    }
}

#[cfg(test)]
mod tests;
