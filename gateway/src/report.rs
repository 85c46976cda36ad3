//! Read-only operator views for the CLI, as text so tests can read them too:
//!
//! - `sekisho report adoption`: enrolled users and factors per group (the figures
//!   behind the adoption gauges) and the enrolment funnel of the last days from the
//!   auth events, as a table or CSV.
//! - `sekisho policy explain`: the access decision for a request, then the enrolment
//!   rule covering the user and what their next sign-in shows. The user's groups and
//!   enrolment facts come from the database when the user is in it.
use crate::adoption::group_label;
use sekisho_auth::{AccountStore, Adoption, AdoptionRow, AuthError, Email, EventKind, UnixTime};
use sekisho_config::{Deadline, Settings};
use sekisho_policy::{Policy, RequestFacts, Rollout, RolloutFacts, Subject};
use std::fmt::Write;
use std::net::IpAddr;

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
}

/// Enrolment wizard attempts in a period, from the `enrollment` auth events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funnel {
    pub started: i64,
    pub completed: i64,
    pub abandoned: i64,
}

impl Funnel {
    pub async fn since(accounts: &AccountStore, since: UnixTime) -> Result<Self, AuthError> {
        let mut f = Funnel::default();
        for (reason, n) in accounts
            .events()
            .count_by_reason(EventKind::Enrollment, since)
            .await?
        {
            match reason.as_str() {
                "enrolment_started" => f.started = n,
                "enrolment_completed" => f.completed = n,
                "enrolment_abandoned" => f.abandoned = n,
                _ => {}
            }
        }
        Ok(f)
    }

    fn stages(&self) -> [(&'static str, i64); 3] {
        [
            ("started", self.started),
            ("completed", self.completed),
            ("abandoned", self.abandoned),
        ]
    }
}

/// `sekisho report adoption`, as of `now`, with the funnel over the last `days`.
pub async fn adoption_report(
    accounts: &AccountStore,
    now: UnixTime,
    days: u32,
    format: ReportFormat,
) -> Result<String, AuthError> {
    let adoption = accounts.rollout().adoption().await?;
    let funnel = Funnel::since(accounts, now - i64::from(days) * DAY).await?;
    Ok(match format {
        ReportFormat::Table => adoption_table(&adoption, &funnel, days),
        ReportFormat::Csv => adoption_csv(&adoption, &funnel),
    })
}

fn columns(r: &AdoptionRow) -> [i64; 6] {
    [r.users, r.enrolled, r.totp, r.email, r.sms, r.backup_codes]
}

/// An aligned table; the total counts each user once, so it is not the column sum.
pub fn adoption_table(a: &Adoption, funnel: &Funnel, days: u32) -> String {
    let width = a
        .groups
        .iter()
        .map(|g| group_label(&g.group).chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "MFA adoption (enabled users; a user in several groups counts in each)"
    );
    let header = format!(
        "{:<width$}  {:>6}  {:>8}  {:>6}  {:>6}  {:>6}  {:>6}  {:>12}",
        "group", "users", "enrolled", "%", "totp", "email", "sms", "backup codes"
    );
    let _ = writeln!(out, "{header}");
    let line = |out: &mut String, name: &str, r: &AdoptionRow| {
        let [users, enrolled, totp, email, sms, backup] = columns(r);
        let _ = writeln!(
            out,
            "{name:<width$}  {users:>6}  {enrolled:>8}  {:>6.1}  {totp:>6}  {email:>6}  {sms:>6}  {backup:>12}",
            r.percent()
        );
    };
    for g in &a.groups {
        line(&mut out, group_label(&g.group), g);
    }
    let _ = writeln!(out, "{}", "-".repeat(header.chars().count()));
    line(&mut out, "total", &a.total);
    let _ = writeln!(out, "\nEnrolment funnel (last {days} days)");
    for (stage, n) in funnel.stages() {
        let _ = write!(out, "{stage:<10} {n:>6}");
        if stage == "completed" && funnel.started > 0 {
            let _ = write!(
                out,
                "  ({:.1}% of started)",
                funnel.completed as f64 * 100.0 / funnel.started as f64
            );
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Two CSV tables separated by an empty line: adoption per group (with a
/// `(total)` row), then the funnel stages.
pub fn adoption_csv(a: &Adoption, funnel: &Funnel) -> String {
    let mut out = String::from("group,users,enrolled,percent,totp,email,sms,backup_codes\n");
    let total = ("(total)", &a.total);
    for (name, r) in a
        .groups
        .iter()
        .map(|g| (group_label(&g.group), g))
        .chain([total])
    {
        let [users, enrolled, totp, email, sms, backup] = columns(r);
        let _ = writeln!(
            out,
            "{},{users},{enrolled},{:.1},{totp},{email},{sms},{backup}",
            csv_field(name),
            r.percent()
        );
    }
    out.push_str("\nstage,count\n");
    for (stage, n) in funnel.stages() {
        let _ = writeln!(out, "{stage},{n}");
    }
    out
}

/// The request `policy explain` is asked about.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub url: String,
    pub method: String,
    pub user: Option<String>,
    /// As given on the command line; empty means "read them from the database".
    pub groups: Vec<String>,
    pub ip: IpAddr,
}

/// What the database knows about the explained user.
struct KnownUser {
    id: String,
    groups: Vec<String>,
}

async fn find_user(accounts: &AccountStore, email: &str) -> Result<Option<KnownUser>, AuthError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(None);
    };
    Ok(accounts.find_by_email(&email).await?.map(|u| KnownUser {
        id: u.id,
        groups: u.groups,
    }))
}

/// `sekisho policy explain` at `now`; `accounts` is the database, when it can be read.
pub async fn explain(
    s: &Settings,
    accounts: Option<&AccountStore>,
    req: &ExplainRequest,
    now: UnixTime,
) -> Result<String, String> {
    let policy = Policy::compile(&s.policy).map_err(|e| format!("{}: {e}", s.source))?;
    let parsed =
        url::Url::parse(&req.url).map_err(|e| format!("`{}` is not a URL: {e}", req.url))?;
    let host = match parsed.port() {
        Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or("")),
        None => parsed.host_str().unwrap_or("").to_string(),
    };
    let facts = RequestFacts {
        host: &host,
        path: parsed.path(),
        method: &req.method,
        client_ip: req.ip,
    };
    let user = req.user.as_deref().map(|u| u.trim().to_lowercase());
    let known = match (accounts, user.as_deref()) {
        (Some(a), Some(u)) => find_user(a, u).await.map_err(|e| e.to_string())?,
        _ => None,
    };
    let groups: Vec<String> = match &known {
        Some(k) if req.groups.is_empty() => k.groups.clone(),
        _ => req.groups.clone(),
    };
    let subject = user.as_deref().map(|u| Subject {
        user: u,
        groups: &groups,
    });
    let mut out = policy.explain(&facts, subject.as_ref()).to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }

    let rollout = Rollout::new(&s.enrollment);
    let coverage = rollout.covering(user.as_deref().unwrap_or(""), &groups);
    let rollout_facts = match (accounts, &known) {
        (Some(a), Some(k)) => {
            let enrolled = a
                .factors()
                .enrollment(&k.id)
                .await
                .map_err(|e| e.to_string())?
                .is_enrolled();
            let row = a
                .rollout()
                .row(&k.id, coverage.deadline().map(Deadline::unix))
                .await
                .map_err(|e| e.to_string())?;
            Some(RolloutFacts {
                enrolled,
                snoozed_until: row.snoozed_until,
                grace_used: row.grace_used,
            })
        }
        _ => None,
    };
    let _ = writeln!(out, "\nenrolment: (as of {})", rfc3339(now));
    out.push_str(&coverage.explain(rollout_facts.as_ref(), now).to_string());
    let source = match (&user, accounts, &known) {
        (None, _, _) => None,
        (Some(_), None, _) => Some("the database was not read"),
        (Some(_), Some(_), None) => Some("the user is not in the database"),
        (Some(_), Some(_), Some(_)) if req.groups.is_empty() => {
            Some("groups and enrolment read from the database")
        }
        (Some(_), Some(_), Some(_)) => Some("enrolment read from the database; groups as given"),
    };
    if let Some(source) = source {
        let _ = writeln!(out, "  ({source})");
    }
    Ok(out)
}

fn rfc3339(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    )
    .to_string()
}

#[cfg(test)]
mod tests;
