//! Reports (auditor, sysadmin, secadmin): MFA adoption by group and method over time,
//! success and failure per factor, the top failure reasons, lockouts per day, and
//! reset requests by state with the median time to resolve. Charts are inline SVG
//! rendered here (no script, no chart CDN); every table downloads as CSV.
use super::access::{admit, Perm};
use super::audit_log::download;
use super::views::{ReportSection, ReportsPage};
use super::{chrome, render_page, Section};
use crate::charts::{bar_chart, grouped_bar_chart, line_chart};
use crate::handlers::Ctx;
use crate::pages::{self, ErrorKind};
use crate::settings::when;
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::csv::csv_table;
use sekisho_auth::reports::{utc_day, ALL_USERS, ANY_METHOD};
use sekisho_auth::AuthError;
use std::collections::BTreeMap;

const DAY: i64 = 86_400;

/// One report table: its name (for the CSV link), headers and rows.
struct Table {
    name: &'static str,
    title: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    chart: String,
    note: Option<String>,
}

fn day_label(day: i64) -> String {
    when(day).chars().take(10).collect()
}

fn duration_words(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 2 * DAY => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{:.1} days", s as f64 / DAY as f64),
    }
}

/// Every table of the report for the `days` before `now`.
async fn tables(ctx: &UiContext, days: i64) -> Result<Vec<Table>, AuthError> {
    let r = ctx.accounts.reports();
    let now = ctx.mfa.now();
    let from = utc_day(now) - (days - 1) * DAY;
    let to = now + 1;

    // Adoption over time: % of users with any factor, per group, per day.
    let history = r.adoption_history(from, utc_day(now) + DAY).await?;
    let day_list: Vec<i64> = {
        let mut d: Vec<i64> = history.iter().map(|p| p.day).collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    let mut per_group: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in history.iter().filter(|p| p.method == ANY_METHOD) {
        let name = if p.group == ALL_USERS {
            "all users".to_string()
        } else {
            p.group.clone()
        };
        let series = per_group
            .entry(name)
            .or_insert_with(|| vec![f64::NAN; day_list.len()]);
        if let Ok(i) = day_list.binary_search(&p.day) {
            series[i] = p.percent();
        }
    }
    let latest = day_list.last().copied();
    let adoption_rows: Vec<Vec<String>> = history
        .iter()
        .filter(|p| Some(p.day) == latest)
        .map(|p| {
            vec![
                if p.group == ALL_USERS {
                    "all users".into()
                } else {
                    p.group.clone()
                },
                p.method.clone(),
                p.users.to_string(),
                p.enrolled.to_string(),
                format!("{:.1}", p.percent()),
            ]
        })
        .collect();
    let adoption = Table {
        name: "adoption",
        title: "MFA adoption by group and method",
        headers: vec!["group", "method", "users", "enrolled", "percent"],
        chart: line_chart(
            "Users with a second factor (%)",
            &day_list.iter().map(|d| day_label(*d)).collect::<Vec<_>>(),
            &per_group.into_iter().collect::<Vec<_>>(),
            Some(100.0),
        ),
        rows: adoption_rows,
        note: latest.map(|d| format!("Table: the figures of {}.", day_label(d))),
    };

    let outcomes = r.factor_outcomes(from, to).await?;
    let factors = Table {
        name: "factors",
        title: "Second-factor checks: success and failure per factor",
        headers: vec!["method", "successes", "failures", "success rate %"],
        chart: grouped_bar_chart(
            "Second-factor checks",
            &["successes".to_string(), "failures".to_string()],
            &outcomes
                .iter()
                .map(|o| {
                    (
                        o.method.clone(),
                        vec![o.successes as f64, o.failures as f64],
                    )
                })
                .collect::<Vec<_>>(),
            "checks",
        ),
        rows: outcomes
            .iter()
            .map(|o| {
                let total = o.successes + o.failures;
                let rate = if total == 0 {
                    0.0
                } else {
                    o.successes as f64 * 100.0 / total as f64
                };
                vec![
                    o.method.clone(),
                    o.successes.to_string(),
                    o.failures.to_string(),
                    format!("{rate:.1}"),
                ]
            })
            .collect(),
        note: None,
    };

    let reasons = r.failure_reasons(from, to, 10).await?;
    let failures = Table {
        name: "failures",
        title: "Top failure reasons",
        headers: vec!["reason", "events"],
        chart: bar_chart(
            "Failed events by reason",
            &reasons
                .iter()
                .map(|(r, n)| (r.clone(), *n as f64))
                .collect::<Vec<_>>(),
            "events",
        ),
        rows: reasons
            .iter()
            .map(|(r, n)| vec![r.clone(), n.to_string()])
            .collect(),
        note: None,
    };

    let locks = r.lockouts(from, to).await?;
    let lockouts = Table {
        name: "lockouts",
        title: "Lockouts per day",
        headers: vec!["day", "lockouts"],
        chart: bar_chart(
            "Locks started per day",
            &locks
                .iter()
                .map(|(d, n)| (day_label(*d), *n as f64))
                .collect::<Vec<_>>(),
            "locks",
        ),
        rows: locks
            .iter()
            .map(|(d, n)| vec![day_label(*d), n.to_string()])
            .collect(),
        note: None,
    };

    let resets = r.resets(from, to).await?;
    let resolve = resets.median_seconds_to_resolve.map(duration_words);
    let requests = Table {
        name: "resets",
        title: "Reset requests by state",
        headers: vec!["state", "requests"],
        chart: bar_chart(
            "Reset requests by state",
            &resets
                .by_state
                .iter()
                .map(|(s, n)| (s.clone(), *n as f64))
                .collect::<Vec<_>>(),
            "requests",
        ),
        rows: resets
            .by_state
            .iter()
            .map(|(s, n)| vec![s.clone(), n.to_string()])
            .collect(),
        note: Some(match resolve {
            Some(m) => format!(
                "Median time to resolve: {m} ({} resolved).",
                resets.resolved
            ),
            None => "No request was resolved in this period.".to_string(),
        }),
    };
    Ok(vec![adoption, factors, failures, lockouts, requests])
}

fn days_param(a: &super::access::Admin) -> i64 {
    a.form
        .get("days")
        .and_then(|d| d.parse().ok())
        .unwrap_or(30)
        .clamp(1, 366)
}

/// `GET {prefix}admin/reports?days=`
pub(crate) async fn page(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewReports) {
        return resp;
    }
    let days = days_param(&a);
    let tables = match tables(&ctx, days).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin console: reports unavailable");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let c = chrome(&ctx, &a, Section::Reports).await;
    render_page(&ctx, &a, StatusCode::OK, |_| {
        pages::render(&ReportsPage {
            c: &c,
            days,
            sections: tables
                .into_iter()
                .map(|t| ReportSection {
                    id: t.name,
                    title: t.title,
                    chart: t.chart,
                    csv_href: format!("{}/reports/csv?table={}&days={days}", c.base, t.name),
                    headers: t.headers,
                    rows: t.rows,
                    note: t.note,
                })
                .collect(),
        })
    })
}

/// `GET {prefix}admin/reports/csv?table=&days=`
pub(crate) async fn csv(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewReports) {
        return resp;
    }
    let name = a.form.get("table").unwrap_or("").to_string();
    let tables = match tables(&ctx, days_param(&a)).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin console: reports unavailable");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    match tables.into_iter().find(|t| t.name == name) {
        Some(t) => download(
            csv_table(&t.headers, &t.rows),
            "text/csv; charset=utf-8",
            &format!("sekisho-{name}.csv"),
        ),
        None => a.r.error(&ctx, ErrorKind::NotFound),
    }
}
