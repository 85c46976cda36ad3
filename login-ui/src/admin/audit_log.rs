//! The audit log (auditor, secadmin): search by actor, target, action and date, page
//! through it, export what matches as CSV or JSON (the export is itself audited), and
//! see whether the hash chain is intact.
use super::access::{admit, Admin, Perm};
use super::search::{choice, date, field, kept, or_empty, page_no, Pager};
use super::views::AuditPage;
use super::{audit, chrome, render_page, Section};
use crate::handlers::Ctx;
use crate::pages::{self, ErrorKind};
use crate::settings::when;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use sekisho_auth::audit::{to_csv, to_json};
use sekisho_auth::{AuditAction, AuditQuery};

const PAGE_SIZE: i64 = 50;

/// The query from the form, or a message saying what is wrong with it.
fn query(a: &Admin) -> Result<AuditQuery, String> {
    let f = &a.form;
    let page = page_no(f, 100_000);
    Ok(AuditQuery {
        actor: field(f, "actor"),
        target: field(f, "target"),
        action: choice(f, "action", AuditAction::parse)?,
        from: date(f, "from", false)?,
        to: date(f, "to", true)?,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    })
}

/// `GET {prefix}admin/audit?actor=&target=&action=&from=&to=&page=`
pub(crate) async fn page(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewAudit) {
        return resp;
    }
    let (q, error, status) = or_empty(query(&a), || AuditQuery {
        limit: PAGE_SIZE,
        ..Default::default()
    });
    let log = ctx.accounts.audit();
    let (entries, total, chain) = match (
        log.search(&q).await,
        log.count(&q).await,
        log.verify().await,
    ) {
        (Ok(e), Ok(n), Ok(v)) => (e, i64::try_from(n).unwrap_or(i64::MAX), v),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %e, "admin console: audit log unavailable");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let f = &a.form;
    let keep = |k: &str| f.get(k).unwrap_or("").to_string();
    let filters = kept(f, &["actor", "target", "action", "from", "to"]);
    let page_no = q.offset / PAGE_SIZE + 1;
    let c = chrome(&ctx, &a, Section::Audit).await;
    render_page(&ctx, &a, status, |_| {
        pages::render(&AuditPage {
            c: &c,
            error: error.as_deref(),
            actor: keep("actor"),
            target: keep("target"),
            action: keep("action"),
            from: keep("from"),
            to: keep("to"),
            actions: AuditAction::ALL.iter().map(|x| x.as_str()).collect(),
            total,
            chain_ok: chain.first_break.is_none(),
            chain_text: match &chain.first_break {
                None => format!("Hash chain intact: {} entries.", chain.entries),
                Some(b) => format!("Hash chain BROKEN: {b}."),
            },
            rows: entries
                .iter()
                .map(|e| {
                    [
                        e.seq.to_string(),
                        when(e.at),
                        e.actor.clone(),
                        e.actor_role.clone().unwrap_or_default(),
                        e.action.clone(),
                        e.target.clone().unwrap_or_default(),
                        e.detail.clone(),
                        e.ip.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
            csv_href: format!("{}/audit/export?format=csv&{filters}", c.base),
            json_href: format!("{}/audit/export?format=json&{filters}", c.base),
            pager: Pager::new(
                &format!("{}/audit?{filters}", c.base),
                page_no,
                total,
                PAGE_SIZE,
            ),
        })
    })
}

/// `GET {prefix}admin/audit/export?format=csv|json&…`: every matching entry.
pub(crate) async fn export(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewAudit) {
        return resp;
    }
    let Ok(q) = query(&a) else {
        return a.r.error(&ctx, ErrorKind::BadRequest);
    };
    let format = a.form.get("format").unwrap_or("csv");
    if !matches!(format, "csv" | "json") {
        return a.r.error(&ctx, ErrorKind::BadRequest);
    }
    let entries = match ctx.accounts.audit().export(&q).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "admin console: audit export failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let (body, mime) = if format == "csv" {
        (to_csv(&entries), "text/csv; charset=utf-8")
    } else {
        (to_json(&entries), "application/json")
    };
    audit(
        &ctx,
        &a,
        Perm::ViewAudit,
        AuditAction::AuditExported,
        "audit log",
        &[
            ("format", format.into()),
            ("entries", entries.len().to_string()),
        ],
    )
    .await;
    download(body, mime, &format!("sekisho-audit.{format}"))
}

/// A file download response.
pub(crate) fn download(body: String, mime: &'static str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    resp
}
