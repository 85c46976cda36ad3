//! MFA adoption as Prometheus gauges, refreshed by the rollout jobs from
//! `RolloutStore::adoption()`:
//!
//! - `sekisho_mfa_users{group, state="enrolled"|"not_enrolled"}`
//! - `sekisho_mfa_users_by_method{group, method="totp"|"email"|"sms"|"backup_codes"}`
//! - `sekisho_mfa_users_total{state}`: every enabled user once.
//!
//! Users in no group are `group="(none)"`. Groups are operator-defined, so the label
//! set stays small; no user id is ever a label. A group that disappears has its series
//! removed on the next refresh rather than frozen at its last value.
//!
//! Each refresh also stores the figures as today's row of the adoption history
//! ([`record_daily`]): the admin console charts adoption over time from it, with no
//! second scan of the users. The last refresh of a UTC day is the one kept.
//!
//! The gauges live in a registry of their own (built with `pingora_prometheus`'s
//! re-export, rendered by the admin listener) instead of the process-wide one: they
//! describe this gateway's database, and a process may run several gateways (the
//! test suite does), each of which must show its own figures.
use pingora_prometheus::prometheus::{IntGaugeVec, Opts, Registry};
use sekisho_auth::{Adoption, AdoptionPoint, AdoptionRow, AuthError, Reports, UnixTime};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The label value for users in no group.
pub const NO_GROUP: &str = "(none)";

const METHODS: [&str; 4] = ["totp", "email", "sms", "backup_codes"];

struct Gauges {
    users: IntGaugeVec,
    by_method: IntGaugeVec,
    total: IntGaugeVec,
}

pub struct AdoptionGauges {
    registry: Registry,
    gauges: Option<Gauges>,
    /// Group labels set by the last refresh, to drop the ones that vanish.
    groups: Mutex<BTreeSet<String>>,
}

impl Default for AdoptionGauges {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for AdoptionGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdoptionGauges")
    }
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Option<IntGaugeVec> {
    let vec = IntGaugeVec::new(Opts::new(name, help), labels).ok()?;
    registry.register(Box::new(vec.clone())).ok()?;
    Some(vec)
}

/// The group as a label value.
pub fn group_label(group: &str) -> &str {
    if group.is_empty() {
        NO_GROUP
    } else {
        group
    }
}

impl AdoptionGauges {
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauges = (|| {
            Some(Gauges {
                users: gauge_vec(
                    &registry,
                    "sekisho_mfa_users",
                    "Enabled users per group, by MFA enrolment",
                    &["group", "state"],
                )?,
                by_method: gauge_vec(
                    &registry,
                    "sekisho_mfa_users_by_method",
                    "Enabled users per group with each second factor",
                    &["group", "method"],
                )?,
                total: gauge_vec(
                    &registry,
                    "sekisho_mfa_users_total",
                    "Enabled users (each once), by MFA enrolment",
                    &["state"],
                )?,
            })
        })();
        if gauges.is_none() {
            tracing::error!("adoption gauges could not be created; they will be missing");
        }
        Self {
            registry,
            gauges,
            groups: Mutex::new(BTreeSet::new()),
        }
    }

    /// Sets every series from fresh figures and drops the groups no longer present.
    pub fn update(&self, adoption: &Adoption) {
        let Some(g) = &self.gauges else {
            return;
        };
        let mut seen = BTreeSet::new();
        for row in &adoption.groups {
            let group = group_label(&row.group);
            let (enrolled, not_enrolled) = split(row);
            g.users
                .with_label_values(&[group, "enrolled"])
                .set(enrolled);
            g.users
                .with_label_values(&[group, "not_enrolled"])
                .set(not_enrolled);
            for (method, n) in METHODS.iter().zip(method_counts(row)) {
                g.by_method.with_label_values(&[group, method]).set(n);
            }
            seen.insert(group.to_string());
        }
        let (enrolled, not_enrolled) = split(&adoption.total);
        g.total.with_label_values(&["enrolled"]).set(enrolled);
        g.total
            .with_label_values(&["not_enrolled"])
            .set(not_enrolled);

        let mut previous = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for gone in previous.difference(&seen) {
            for state in ["enrolled", "not_enrolled"] {
                let _ = g.users.remove_label_values(&[gone.as_str(), state]);
            }
            for method in METHODS {
                let _ = g.by_method.remove_label_values(&[gone.as_str(), method]);
            }
        }
        *previous = seen;
    }

    /// The series in the Prometheus text format.
    pub fn render(&self) -> String {
        crate::metrics::render(&self.registry)
    }
}

/// Stores `adoption` as the history's snapshot of the UTC day containing `now`.
pub async fn record_daily(
    reports: &Reports,
    now: UnixTime,
    adoption: &Adoption,
) -> Result<(), AuthError> {
    reports
        .record_adoption(now, &AdoptionPoint::snapshot(now, adoption))
        .await
}

fn split(row: &AdoptionRow) -> (i64, i64) {
    (row.enrolled, row.users - row.enrolled)
}

fn method_counts(row: &AdoptionRow) -> [i64; 4] {
    [row.totp, row.email, row.sms, row.backup_codes]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, users: i64, enrolled: i64, totp: i64) -> AdoptionRow {
        AdoptionRow {
            group: group.into(),
            users,
            enrolled,
            totp,
            email: 0,
            sms: 1,
            backup_codes: 2,
        }
    }

    #[tokio::test]
    async fn each_refresh_replaces_the_days_snapshot() {
        use sekisho_config::{DatabaseKind, DatabaseSettings, SecretString};
        let dir = tempfile::tempdir().unwrap();
        let accounts = sekisho_auth::AccountStore::connect(&DatabaseSettings {
            kind: DatabaseKind::Sqlite,
            url: SecretString::new(format!("sqlite://{}", dir.path().join("a.db").display())),
            max_connections: 2,
        })
        .await
        .unwrap();
        let reports = accounts.reports();
        let day = 20_000 * 86_400;
        let morning = Adoption {
            groups: vec![row("", 3, 1, 1), row("admins", 2, 2, 2)],
            total: row("", 5, 3, 3),
        };
        let evening = Adoption {
            groups: vec![row("admins", 2, 1, 1)],
            total: row("", 2, 1, 1),
        };
        record_daily(&reports, day + 60, &morning).await.unwrap();
        record_daily(&reports, day + 80_000, &evening)
            .await
            .unwrap();
        let history = reports.adoption_history(day, day + 86_400).await.unwrap();
        let mut want = AdoptionPoint::snapshot(day, &evening);
        want.sort_by(|a, b| (&a.group, &a.method).cmp(&(&b.group, &b.method)));
        assert_eq!(history, want);
        let any: Vec<(&str, i64, i64)> = history
            .iter()
            .filter(|p| p.method == "any")
            .map(|p| (p.group.as_str(), p.users, p.enrolled))
            .collect();
        assert_eq!(any, [("", 2, 1), ("admins", 2, 1)]);
    }

    #[test]
    fn series_follow_the_figures_and_vanished_groups_go() {
        let gauges = AdoptionGauges::new();
        gauges.update(&Adoption {
            groups: vec![row("", 3, 1, 1), row("admins", 2, 2, 2)],
            total: row("", 5, 3, 3),
        });
        let text = gauges.render();
        for line in [
            "sekisho_mfa_users{group=\"(none)\",state=\"enrolled\"} 1",
            "sekisho_mfa_users{group=\"(none)\",state=\"not_enrolled\"} 2",
            "sekisho_mfa_users{group=\"admins\",state=\"enrolled\"} 2",
            "sekisho_mfa_users_by_method{group=\"admins\",method=\"totp\"} 2",
            "sekisho_mfa_users_by_method{group=\"admins\",method=\"backup_codes\"} 2",
            "sekisho_mfa_users_total{state=\"enrolled\"} 3",
            "sekisho_mfa_users_total{state=\"not_enrolled\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        gauges.update(&Adoption {
            groups: vec![row("admins", 2, 1, 1)],
            total: row("", 2, 1, 1),
        });
        let text = gauges.render();
        assert!(!text.contains("(none)"), "{text}");
        assert!(
            text.contains("sekisho_mfa_users{group=\"admins\",state=\"not_enrolled\"} 1"),
            "{text}"
        );
    }
}
