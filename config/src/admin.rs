//! The `[admin]` table: who may use the admin console (roles mapped from groups),
//! which accounts are privileged, how fresh the admin's second factor must be, when
//! unapproved reset requests expire, and how long re-enrolment links live.
use crate::load::{Validator, R};
use crate::values::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Groups whose members may view users and events and file reset requests.
    #[serde(default)]
    pub helpdesk: Vec<String>,
    /// Groups whose members also approve and execute resets of ordinary users and unlock.
    #[serde(default)]
    pub sysadmin: Vec<String>,
    /// Groups whose members may do everything, including privileged accounts, bulk
    /// resets and emergency actions.
    #[serde(default)]
    pub secadmin: Vec<String>,
    /// Groups whose members read the audit log and the reports, nothing else.
    #[serde(default)]
    pub auditor: Vec<String>,
    /// Members of these groups (and every holder of an admin role) are privileged:
    /// only a secadmin may approve or execute their resets.
    #[serde(default)]
    pub privileged_groups: Vec<String>,
    /// How recent the admin's second factor must be (at most 15 minutes).
    #[serde(default = "default_mfa_age")]
    pub max_mfa_age: HumanDuration,
    /// Pending reset requests not approved by then expire.
    #[serde(default = "default_request_expiry")]
    pub request_expiry: HumanDuration,
    /// The default lifetime of an e-mailed re-enrolment link, and the bounds an admin's
    /// choice is clamped to.
    #[serde(default = "default_link_ttl")]
    pub reenrol_link_ttl: HumanDuration,
    #[serde(default = "default_link_min")]
    pub reenrol_link_min_ttl: HumanDuration,
    #[serde(default = "default_link_max")]
    pub reenrol_link_max_ttl: HumanDuration,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            helpdesk: Vec::new(),
            sysadmin: Vec::new(),
            secadmin: Vec::new(),
            auditor: Vec::new(),
            privileged_groups: Vec::new(),
            max_mfa_age: default_mfa_age(),
            request_expiry: default_request_expiry(),
            reenrol_link_ttl: default_link_ttl(),
            reenrol_link_min_ttl: default_link_min(),
            reenrol_link_max_ttl: default_link_max(),
        }
    }
}

fn default_mfa_age() -> HumanDuration {
    HumanDuration(15 * MINUTE)
}
fn default_request_expiry() -> HumanDuration {
    HumanDuration(72 * HOUR)
}
fn default_link_ttl() -> HumanDuration {
    HumanDuration(DAY)
}
fn default_link_min() -> HumanDuration {
    HumanDuration(HOUR)
}
fn default_link_max() -> HumanDuration {
    HumanDuration(7 * DAY)
}

/// An admin console role. Ordered by what it may do to users (the auditor reads only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminRole {
    Auditor,
    Helpdesk,
    Sysadmin,
    Secadmin,
}

impl AdminRole {
    pub const ALL: [AdminRole; 4] = [
        AdminRole::Helpdesk,
        AdminRole::Sysadmin,
        AdminRole::Secadmin,
        AdminRole::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Helpdesk => "helpdesk",
            AdminRole::Sysadmin => "sysadmin",
            AdminRole::Secadmin => "secadmin",
            AdminRole::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    pub helpdesk: Vec<String>,
    pub sysadmin: Vec<String>,
    pub secadmin: Vec<String>,
    pub auditor: Vec<String>,
    pub privileged_groups: Vec<String>,
    pub max_mfa_age: Duration,
    pub request_expiry: Duration,
    pub reenrol_link_ttl: Duration,
    pub reenrol_link_min_ttl: Duration,
    pub reenrol_link_max_ttl: Duration,
}

impl Default for AdminSettings {
    fn default() -> Self {
        let s = AdminSection::default();
        Self {
            helpdesk: s.helpdesk,
            sysadmin: s.sysadmin,
            secadmin: s.secadmin,
            auditor: s.auditor,
            privileged_groups: s.privileged_groups,
            max_mfa_age: s.max_mfa_age.0,
            request_expiry: s.request_expiry.0,
            reenrol_link_ttl: s.reenrol_link_ttl.0,
            reenrol_link_min_ttl: s.reenrol_link_min_ttl.0,
            reenrol_link_max_ttl: s.reenrol_link_max_ttl.0,
        }
    }
}

impl AdminSettings {
    fn groups_of(&self, role: AdminRole) -> &[String] {
        match role {
            AdminRole::Helpdesk => &self.helpdesk,
            AdminRole::Sysadmin => &self.sysadmin,
            AdminRole::Secadmin => &self.secadmin,
            AdminRole::Auditor => &self.auditor,
        }
    }

    /// The groups that grant `role`.
    pub fn groups_for(&self, role: AdminRole) -> Vec<String> {
        self.groups_of(role).to_vec()
    }

    /// The roles a member of `groups` holds (none: no console).
    pub fn roles_of(&self, groups: &[String]) -> Vec<AdminRole> {
        AdminRole::ALL
            .into_iter()
            .filter(|r| self.groups_of(*r).iter().any(|g| groups.contains(g)))
            .collect()
    }

    /// Privileged accounts: in a privileged group or holding any admin role.
    pub fn is_privileged(&self, groups: &[String]) -> bool {
        self.privileged_groups.iter().any(|g| groups.contains(g))
            || !self.roles_of(groups).is_empty()
    }

    /// An admin's choice of link lifetime, kept within the configured bounds.
    pub fn clamp_link_ttl(&self, wanted: Option<Duration>) -> Duration {
        wanted
            .unwrap_or(self.reenrol_link_ttl)
            .clamp(self.reenrol_link_min_ttl, self.reenrol_link_max_ttl)
    }
}

impl Validator<'_> {
    pub(crate) fn admin(&self, s: AdminSection) -> R<AdminSettings> {
        let lists = [
            ("admin.helpdesk", s.helpdesk),
            ("admin.sysadmin", s.sysadmin),
            ("admin.secadmin", s.secadmin),
            ("admin.auditor", s.auditor),
            ("admin.privileged_groups", s.privileged_groups),
        ];
        let mut checked = Vec::with_capacity(lists.len());
        for (key, groups) in lists {
            for g in &groups {
                if g.trim().is_empty() || g.contains(',') || g.chars().any(char::is_control) {
                    return Err(self.err(key, format!("`{g}` is not a group name")));
                }
            }
            checked.push(groups);
        }
        let within = |key: &str, d: Duration, lo: Duration, hi: Duration, words: &str| {
            if d < lo || d > hi {
                Err(self.err(key, format!("must be between {words}")))
            } else {
                Ok(d)
            }
        };
        // A stolen admin session should be useless soon: the console re-asks for the
        // second factor at least every 15 minutes.
        let max_mfa_age = within(
            "admin.max_mfa_age",
            s.max_mfa_age.0,
            MINUTE,
            15 * MINUTE,
            "1m and 15m",
        )?;
        let request_expiry = within(
            "admin.request_expiry",
            s.request_expiry.0,
            HOUR,
            30 * DAY,
            "1h and 30d",
        )?;
        let min = within(
            "admin.reenrol_link_min_ttl",
            s.reenrol_link_min_ttl.0,
            5 * MINUTE,
            30 * DAY,
            "5m and 30d",
        )?;
        let max = within(
            "admin.reenrol_link_max_ttl",
            s.reenrol_link_max_ttl.0,
            min,
            30 * DAY,
            "reenrol_link_min_ttl and 30d",
        )?;
        let ttl = within(
            "admin.reenrol_link_ttl",
            s.reenrol_link_ttl.0,
            min,
            max,
            "reenrol_link_min_ttl and reenrol_link_max_ttl",
        )?;
        let mut it = checked.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(AdminSettings {
            helpdesk: next(),
            sysadmin: next(),
            secadmin: next(),
            auditor: next(),
            privileged_groups: next(),
            max_mfa_age,
            request_expiry,
            reenrol_link_ttl: ttl,
            reenrol_link_min_ttl: min,
            reenrol_link_max_ttl: max,
        })
    }
}

#[cfg(test)]
mod tests;
