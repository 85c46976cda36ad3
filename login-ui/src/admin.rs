//! The admin console under `{prefix}admin`: the user directory and a user's status,
//! MFA reset requests with four-eyes approval, bulk resets, emergency actions, the
//! event view (found by request id), the audit log and reports. Roles come from groups (`[admin]`); [`access`] admits an
//! administrator with a fresh second factor and checks every permission server-side.
//! Every change is written to the hash-chained audit log.
mod access;
mod audit_log;
mod bulk;
mod emergency;
mod events;
mod reports;
mod requests;
mod search;
mod users;
mod views;

use crate::handlers::{form_page, Ctx};
use crate::pages::{self, PageChrome};
use crate::UiContext;
use access::{admit, Admin, Perm};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use sekisho_auth::{AuditAction, NewAuditEntry};
use std::sync::Arc;
use views::{AdminChrome, HomePage, NavItem};

/// The console's routes, added to the UI router.
pub(crate) fn routes(router: Router<Arc<UiContext>>, p: &str) -> Router<Arc<UiContext>> {
    let a = format!("{p}admin");
    router
        .route(&a, get(home))
        .route(&format!("{a}/users"), get(users::list))
        .route(&format!("{a}/user"), get(users::detail))
        .route(&format!("{a}/user/unlock"), post(users::unlock))
        .route(
            &format!("{a}/user/sessions/revoke"),
            post(users::revoke_sessions),
        )
        .route(
            &format!("{a}/user/devices/revoke"),
            post(users::revoke_devices),
        )
        .route(
            &format!("{a}/requests"),
            get(requests::list).post(requests::create),
        )
        .route(&format!("{a}/request"), get(requests::detail))
        .route(&format!("{a}/request/decide"), post(requests::decide))
        .route(&format!("{a}/request/execute"), post(requests::execute))
        .route(&format!("{a}/bulk"), get(bulk::page).post(bulk::preview))
        .route(&format!("{a}/bulk/start"), post(bulk::start))
        .route(&format!("{a}/bulk/job"), get(bulk::job))
        .route(&format!("{a}/bulk/retry"), post(bulk::retry))
        .route(&format!("{a}/emergency"), get(emergency::page))
        .route(&format!("{a}/emergency/revoke"), post(emergency::revoke))
        .route(&format!("{a}/emergency/suspend"), post(emergency::suspend))
        .route(&format!("{a}/emergency/lift"), post(emergency::lift))
        .route(&format!("{a}/audit"), get(audit_log::page))
        .route(&format!("{a}/audit/export"), get(audit_log::export))
        .route(&format!("{a}/events"), get(events::page))
        .route(&format!("{a}/reports"), get(reports::page))
        .route(&format!("{a}/reports/csv"), get(reports::csv))
}

/// The parts of the console, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Users,
    Requests,
    Bulk,
    Emergency,
    Events,
    Audit,
    Reports,
}

/// The navigation (only what the admin may use), the pending-request badge and the
/// banner of active suspensions.
pub(crate) async fn chrome(ctx: &UiContext, a: &Admin, current: Section) -> AdminChrome {
    let now = ctx.mfa.now();
    let pending = if a.may(Perm::ViewRequests) {
        ctx.accounts
            .resets()
            .pending_count(now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "admin console: pending count failed");
                0
            })
    } else {
        0
    };
    let banner = match ctx.accounts.suspensions().active().await {
        Ok(list) => list
            .into_iter()
            .map(|s| format!("Sign-in is suspended for group “{}”: {}", s.group, s.reason))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "admin console: suspensions unavailable");
            Vec::new()
        }
    };
    let base = format!("{}admin", ctx.config.prefix);
    let items = [
        (Section::Home, "", "Overview", None, true),
        (
            Section::Users,
            "/users",
            "Users",
            None,
            a.may(Perm::ViewUsers),
        ),
        (
            Section::Requests,
            "/requests",
            "Reset requests",
            Some(pending),
            a.may(Perm::ViewRequests),
        ),
        (
            Section::Bulk,
            "/bulk",
            "Bulk reset",
            None,
            a.may(Perm::BulkReset),
        ),
        (
            Section::Emergency,
            "/emergency",
            "Emergency",
            None,
            a.may(Perm::Emergency),
        ),
        (
            Section::Events,
            "/events",
            "Events",
            None,
            a.may(Perm::ViewEvents),
        ),
        (
            Section::Audit,
            "/audit",
            "Audit log",
            None,
            a.may(Perm::ViewAudit),
        ),
        (
            Section::Reports,
            "/reports",
            "Reports",
            None,
            a.may(Perm::ViewReports),
        ),
    ];
    AdminChrome {
        page: PageChrome::new(
            a.r.lang,
            &ctx.config.product,
            &ctx.config.prefix,
            a.r.here(),
        ),
        nav: items
            .into_iter()
            .filter(|i| i.4)
            .map(|(s, path, label, badge, _)| NavItem {
                href: format!("{base}{path}"),
                label,
                current: s == current,
                badge: badge.filter(|n| *n > 0),
            })
            .collect(),
        banner,
        who: a.user.email.to_string(),
        roles: a.roles_label(),
        base,
    }
}

/// Writes an audit entry for an action `a` took. A failure is logged loudly; the
/// action itself has already happened.
pub(crate) async fn audit(
    ctx: &UiContext,
    a: &Admin,
    perm: Perm,
    action: AuditAction,
    target: &str,
    detail: &[(&str, String)],
) {
    let entry = NewAuditEntry::new(a.user.email.as_str(), a.role_for(perm), action)
        .target(target)
        .ip(a.r.client_ip().as_deref())
        .request_id(a.r.request_id())
        .detail(detail);
    record_audit(ctx, entry, action).await;
}

/// Appends an audit entry; a failure is logged loudly (the action it records has
/// already happened and is not undone).
pub(crate) async fn record_audit(ctx: &UiContext, entry: NewAuditEntry, action: AuditAction) {
    if let Err(e) = ctx.accounts.audit().append(entry, ctx.mfa.now()).await {
        tracing::error!(error = %e, action = action.as_str(), "AUDIT LOG WRITE FAILED");
    }
}

/// Renders a console page with this browser's CSRF token.
pub(crate) fn render_page<F>(ctx: &UiContext, a: &Admin, status: StatusCode, body: F) -> Response
where
    F: FnOnce(&str) -> String,
{
    form_page(ctx, &a.r, status, body)
}

/// `GET {prefix}admin`
async fn home(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let c = chrome(&ctx, &a, Section::Home).await;
    render_page(&ctx, &a, StatusCode::OK, |_| {
        pages::render(&HomePage { c: &c })
    })
}

/// What `sekisho mfa reset` did.
#[derive(Debug)]
pub struct CliReset {
    pub request_id: String,
    pub link_expires_at: i64,
    /// `None` when the session store could not be reached.
    pub sessions_ended: Option<usize>,
    pub mailed: bool,
}

/// `sekisho mfa reset`: resets at once (shell access to the gateway is the
/// authority), records the request, e-mails the link and audits it with actor `cli`.
pub async fn reset_mfa_from_cli(
    ctx: &UiContext,
    email: &str,
    scope: &str,
    reason: &str,
) -> Result<CliReset, String> {
    let scope = sekisho_auth::ResetScope::parse(scope)
        .ok_or_else(|| format!("unknown scope `{scope}` (full, totp or backup_codes)"))?;
    let email = sekisho_auth::Email::parse(email).map_err(|e| e.to_string())?;
    let user = ctx
        .accounts
        .find_by_email(&email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {email}"))?;
    let new = sekisho_auth::NewResetRequest {
        user_id: &user.id,
        scope,
        urgency: sekisho_auth::Urgency::High,
        reason,
        privileged: ctx.config.admin.is_privileged(&user.groups),
    };
    let ttl = ctx.config.admin.clamp_link_ttl(None).as_secs() as i64;
    let now = ctx.mfa.now();
    let done = ctx
        .accounts
        .resets()
        .execute_direct(sekisho_auth::Actor::CLI, new, None, ttl, &ctx.sessions, now)
        .await
        .map_err(|e| e.to_string())?;
    let mailed = crate::reenrol::mail_link(ctx, &done, None, ctx.config.scheme).await;
    let mut detail = requests::executed_detail(&done, mailed);
    detail.push(("reason", done.request.reason.clone()));
    let entry = NewAuditEntry::new("cli", "cli", AuditAction::ResetExecuted)
        .target(user.email.as_str())
        .detail(&detail);
    ctx.accounts
        .audit()
        .append(entry, now)
        .await
        .map_err(|e| format!("the reset was done but the audit log write failed: {e}"))?;
    Ok(CliReset {
        request_id: done.request.id.clone(),
        link_expires_at: done.link.expires_at,
        sessions_ended: done.sessions_ended,
        mailed,
    })
}
