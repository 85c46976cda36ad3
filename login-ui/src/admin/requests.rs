//! Reset requests: filing one (helpdesk and up), the queue with its pending badge, the
//! detail page, approve / reject (never one's own; privileged targets need a
//! secadmin), and executing an approved request, which e-mails the user a
//! re-enrolment link. Two admins acting at once: one wins, the other is told what
//! happened to the request meanwhile (409).
use super::access::{admit, Admin, Perm};
use super::views::{Flash, RequestPage, RequestRow, RequestsPage};
use super::{audit, chrome, render_page, Section};
use crate::handlers::{see_other, Ctx};
use crate::pages::{self, ErrorKind};
use crate::settings::{enc, when};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{
    AuditAction, Executed, NewResetRequest, RequestQuery, RequestState, ResetError, ResetScope,
    Urgency,
};
use std::time::Duration;

/// `GET {prefix}admin/requests?state=`
pub(crate) async fn list(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewRequests) {
        return resp;
    }
    let state = match a.form.get("state") {
        None => Some(RequestState::Pending),
        Some("all") => None,
        Some(s) => match RequestState::parse(s) {
            Some(s) => Some(s),
            None => return a.r.error(&ctx, ErrorKind::BadRequest),
        },
    };
    let q = RequestQuery {
        state,
        limit: 200,
        ..Default::default()
    };
    let rows = match ctx.accounts.resets().list(&q, ctx.mfa.now()).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "admin console: request list failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let c = chrome(&ctx, &a, Section::Requests).await;
    let current = state.map_or("all", |s| s.as_str());
    render_page(&ctx, &a, StatusCode::OK, |_| {
        pages::render(&RequestsPage {
            c: &c,
            current,
            states: [
                "pending", "approved", "executed", "rejected", "expired", "all",
            ],
            rows: rows.iter().map(|r| RequestRow::of(r, &c.base)).collect(),
        })
    })
}

/// `POST {prefix}admin/requests`: files a request for user `id`.
pub(crate) async fn create(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::CreateRequest) {
        return resp;
    }
    let f = &a.form;
    let (Some(scope), Some(urgency)) = (
        f.get("scope").and_then(ResetScope::parse),
        f.get("urgency").and_then(Urgency::parse),
    ) else {
        return a.r.error(&ctx, ErrorKind::BadRequest);
    };
    let user = match ctx.accounts.find_by_id(f.get("id").unwrap_or("")).await {
        Ok(Some(u)) => u,
        Ok(None) => return a.r.error(&ctx, ErrorKind::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "admin console: user lookup failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let new = NewResetRequest {
        user_id: &user.id,
        scope,
        urgency,
        reason: f.get("reason").unwrap_or(""),
        privileged: ctx.config.admin.is_privileged(&user.groups),
    };
    let expiry = ctx.config.admin.request_expiry.as_secs() as i64;
    match ctx
        .accounts
        .resets()
        .create(a.actor(), new, expiry, ctx.mfa.now())
        .await
    {
        Ok(r) => {
            audit(
                &ctx,
                &a,
                Perm::CreateRequest,
                AuditAction::ResetRequested,
                user.email.as_str(),
                &[
                    ("request", r.id.clone()),
                    ("scope", scope.as_str().into()),
                    ("urgency", urgency.as_str().into()),
                    ("privileged", r.privileged.to_string()),
                    ("reason", r.reason.clone()),
                ],
            )
            .await;
            see_other(&format!(
                "{}admin/request?id={}&done=requested",
                ctx.config.prefix,
                enc(&r.id)
            ))
        }
        Err(
            e @ (ResetError::ReasonTooShort
            | ResetError::ReasonTooLong
            | ResetError::AlreadyOpen(_)),
        ) => {
            let flash = Flash {
                notice: None,
                error: Some(e.to_string()),
            };
            super::users::render_detail(&ctx, &a, flash, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => {
            tracing::error!(error = %e, "admin console: request not filed");
            a.r.error(&ctx, ErrorKind::Unavailable)
        }
    }
}

/// `GET {prefix}admin/request?id=`
pub(crate) async fn detail(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewRequests) {
        return resp;
    }
    let notice = match a.form.get("done") {
        Some("requested") => Some("The request was filed. Another administrator must approve it."),
        Some("approved") => Some("Approved. It can now be executed."),
        Some("rejected") => Some("Rejected."),
        Some("executed") => Some("Executed: the user's factors were removed, sessions and trusted browsers revoked, and a re-enrolment link was e-mailed."),
        _ => None,
    };
    let flash = Flash {
        notice: notice.map(str::to_string),
        error: None,
    };
    render_request(&ctx, &a, flash, StatusCode::OK).await
}

async fn render_request(ctx: &UiContext, a: &Admin, flash: Flash, status: StatusCode) -> Response {
    let id = a.form.get("id").unwrap_or("");
    let r = match ctx.accounts.resets().get(id, ctx.mfa.now()).await {
        Ok(r) => r,
        Err(ResetError::NotFound) => return a.r.error(ctx, ErrorKind::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "admin console: request lookup failed");
            return a.r.error(ctx, ErrorKind::Unavailable);
        }
    };
    let c = chrome(ctx, a, Section::Requests).await;
    let may_decide = a.may(Perm::DecideRequest) && (!r.privileged || a.is_secadmin());
    let own = r.requested_by == a.user.id;
    let admin = &ctx.config.admin;
    render_page(ctx, a, status, |csrf| {
        pages::render(&RequestPage {
            c: &c,
            csrf,
            flash: &flash,
            row: RequestRow::of(&r, &c.base),
            user_href: format!("{}/user?id={}", c.base, enc(&r.user_id)),
            reason: &r.reason,
            expires: when(r.expires_at),
            decided: r
                .decided_by_email
                .as_ref()
                .map(|by| format!("{by}, {}", r.decided_at.map(when).unwrap_or_default())),
            note: r.decision_note.as_deref(),
            executed: r
                .executed_by_email
                .as_ref()
                .map(|by| format!("{by}, {}", r.executed_at.map(when).unwrap_or_default())),
            can_approve: r.state == RequestState::Pending && may_decide && !own,
            can_reject: r.state == RequestState::Pending && (may_decide || own),
            own_pending: own && r.state == RequestState::Pending,
            can_execute: r.state == RequestState::Approved
                && a.may(Perm::ExecuteRequest)
                && (!r.privileged || a.is_secadmin()),
            needs_secadmin: r.privileged && !a.is_secadmin(),
            ttl_hours: admin.reenrol_link_ttl.as_secs() / 3600,
            ttl_min_hours: (admin.reenrol_link_min_ttl.as_secs() / 3600).max(1),
            ttl_max_hours: admin.reenrol_link_max_ttl.as_secs() / 3600,
        })
    })
}

/// The answer to an action that lost or was refused: the request page with the
/// reason, 409 for a race lost, 403 for a rule.
async fn refused(ctx: &UiContext, a: &Admin, e: ResetError) -> Response {
    let status = match e {
        ResetError::NotPending(_) | ResetError::NotApproved(_) => StatusCode::CONFLICT,
        ResetError::OwnRequest | ResetError::NeedsSecadmin => StatusCode::FORBIDDEN,
        ResetError::NotFound => return a.r.error(ctx, ErrorKind::NotFound),
        ResetError::Store(ref err) => {
            tracing::error!(error = %err, "admin console: request action failed");
            return a.r.error(ctx, ErrorKind::Unavailable);
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let flash = Flash {
        notice: None,
        error: Some(e.to_string()),
    };
    render_request(ctx, a, flash, status).await
}

/// `POST {prefix}admin/request/decide` (`decision` = approve | reject, `note`)
pub(crate) async fn decide(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let id = a.form.get("id").unwrap_or("").to_string();
    let rr = ctx.accounts.resets();
    let now = ctx.mfa.now();
    let (result, action, done) = match a.form.get("decision") {
        Some("approve") => {
            if let Some(resp) = a.refuse_unless(&ctx, Perm::DecideRequest) {
                return resp;
            }
            (
                rr.approve(&id, a.actor(), now).await,
                AuditAction::ResetApproved,
                "approved",
            )
        }
        Some("reject") => {
            // The requester may withdraw their own request; deciding needs the right.
            let own = matches!(rr.get(&id, now).await, Ok(r) if r.requested_by == a.user.id);
            if !own {
                if let Some(resp) = a.refuse_unless(&ctx, Perm::DecideRequest) {
                    return resp;
                }
            }
            let note = a.form.get("note").unwrap_or("");
            (
                rr.reject(&id, a.actor(), note, now).await,
                AuditAction::ResetRejected,
                "rejected",
            )
        }
        _ => return a.r.error(&ctx, ErrorKind::BadRequest),
    };
    match result {
        Ok(r) => {
            let mut detail = vec![
                ("request", r.id.clone()),
                ("scope", r.scope.as_str().to_string()),
            ];
            if let Some(n) = r.decision_note.clone().filter(|n| !n.is_empty()) {
                detail.push(("note", n));
            }
            audit(
                &ctx,
                &a,
                Perm::DecideRequest,
                action,
                &r.user_email,
                &detail,
            )
            .await;
            see_other(&format!(
                "{}admin/request?id={}&done={done}",
                ctx.config.prefix,
                enc(&id)
            ))
        }
        Err(e) => refused(&ctx, &a, e).await,
    }
}

/// `POST {prefix}admin/request/execute` (`ttl_hours` optional, clamped)
pub(crate) async fn execute(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ExecuteRequest) {
        return resp;
    }
    let id = a.form.get("id").unwrap_or("").to_string();
    let wanted = a
        .form
        .get("ttl_hours")
        .and_then(|h| h.trim().parse::<u64>().ok())
        .map(|h| Duration::from_secs(h.saturating_mul(3600)));
    let ttl = ctx.config.admin.clamp_link_ttl(wanted).as_secs() as i64;
    let result = ctx
        .accounts
        .resets()
        .execute(&id, a.actor(), ttl, &ctx.sessions, ctx.mfa.now())
        .await;
    match result {
        Ok(done) => {
            let host = Some(a.r.host().to_string());
            let sent =
                super::super::reenrol::mail_link(&ctx, &done, host.as_deref(), a.r.scheme(&ctx))
                    .await;
            audit(
                &ctx,
                &a,
                Perm::ExecuteRequest,
                AuditAction::ResetExecuted,
                &done.request.user_email,
                &executed_detail(&done, sent),
            )
            .await;
            see_other(&format!(
                "{}admin/request?id={}&done=executed",
                ctx.config.prefix,
                enc(&id)
            ))
        }
        Err(e) => refused(&ctx, &a, e).await,
    }
}

/// The audit detail of an executed reset.
pub(crate) fn executed_detail(done: &Executed, mailed: bool) -> Vec<(&'static str, String)> {
    vec![
        ("request", done.request.id.clone()),
        ("scope", done.request.scope.as_str().to_string()),
        ("link_expires", when(done.link.expires_at)),
        (
            "sessions_ended",
            done.sessions_ended.map_or_else(
                || "unknown (store unavailable)".to_string(),
                |n| n.to_string(),
            ),
        ),
        ("link_mailed", mailed.to_string()),
    ]
}
