//! Emergency actions (secadmin): end every session of a group's members, or suspend
//! sign-in for a group (which also ends their sessions) until lifted. Both need a
//! reason; a banner on every console page shows active suspensions.
use super::access::{admit_for, Admin, Perm};
use super::views::{EmergencyPage, Flash};
use super::{audit, chrome, render_page, Section};
use crate::handlers::{see_other, Ctx};
use crate::pages::{self, ErrorKind};
use crate::settings::when;
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::AuditAction;

const MIN_REASON: usize = 10;

/// `GET {prefix}admin/emergency`
pub(crate) async fn page(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, false, Perm::Emergency).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let notice = match a.form.get("done") {
        Some("revoked") => Some("Sessions were revoked."),
        Some("suspended") => {
            Some("Sign-in is suspended for the group, and its sessions were revoked.")
        }
        Some("lifted") => Some("The suspension was lifted."),
        _ => None,
    };
    let flash = Flash {
        notice: notice.map(str::to_string),
        error: None,
    };
    render(&ctx, &a, flash, StatusCode::OK).await
}

async fn render(ctx: &UiContext, a: &Admin, flash: Flash, status: StatusCode) -> Response {
    let suspensions = ctx
        .accounts
        .suspensions()
        .active()
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "admin console: suspensions unavailable");
            Vec::new()
        });
    let groups = ctx.accounts.directory().groups().await.unwrap_or_default();
    let c = chrome(ctx, a, Section::Emergency).await;
    render_page(ctx, a, status, |csrf| {
        pages::render(&EmergencyPage {
            c: &c,
            csrf,
            flash: &flash,
            groups: &groups,
            suspensions: suspensions
                .iter()
                .map(|s| {
                    (
                        s.group.clone(),
                        s.reason.clone(),
                        s.suspended_by.clone(),
                        when(s.suspended_at),
                    )
                })
                .collect(),
        })
    })
}

/// The group and reason of an emergency form, or the page with what is missing.
async fn group_and_reason(ctx: &UiContext, a: &Admin) -> Result<(String, String), Response> {
    let group = a.form.get("group").unwrap_or("").trim().to_string();
    let reason = a.form.get("reason").unwrap_or("").trim().to_string();
    let error = if group.is_empty() {
        Some("Choose a group.".to_string())
    } else if reason.chars().count() < MIN_REASON {
        Some(format!(
            "Give a reason of at least {MIN_REASON} characters."
        ))
    } else {
        None
    };
    match error {
        Some(e) => Err(render(
            ctx,
            a,
            Flash {
                notice: None,
                error: Some(e),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await),
        None => Ok((group, reason.chars().take(2000).collect())),
    }
}

/// Ends every session of the group's members; returns how many.
async fn end_group_sessions(ctx: &UiContext, group: &str) -> Result<usize, String> {
    let members = ctx
        .accounts
        .directory()
        .members_of(group)
        .await
        .map_err(|e| e.to_string())?;
    let mut ended = 0;
    for (id, _) in &members {
        ended += ctx.sessions.end_all(id).await.map_err(|e| e.to_string())?;
    }
    Ok(ended)
}

/// `POST {prefix}admin/emergency/revoke`
pub(crate) async fn revoke(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::Emergency).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (group, reason) = match group_and_reason(&ctx, &a).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let ended = match end_group_sessions(&ctx, &group).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "admin console: group revoke failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    audit(
        &ctx,
        &a,
        Perm::Emergency,
        AuditAction::GroupSessionsRevoked,
        &group,
        &[("sessions", ended.to_string()), ("reason", reason)],
    )
    .await;
    see_other(&format!(
        "{}admin/emergency?done=revoked",
        ctx.config.prefix
    ))
}

/// `POST {prefix}admin/emergency/suspend`
pub(crate) async fn suspend(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::Emergency).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (group, reason) = match group_and_reason(&ctx, &a).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Err(e) = ctx
        .accounts
        .suspensions()
        .suspend(&group, &reason, a.user.email.as_str(), ctx.mfa.now())
        .await
    {
        tracing::error!(error = %e, "admin console: suspend failed");
        return a.r.error(&ctx, ErrorKind::Unavailable);
    }
    // Sign-in is refused from now on; sessions already open end as well.
    let ended = end_group_sessions(&ctx, &group).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "admin console: suspended group's sessions not ended");
        0
    });
    audit(
        &ctx,
        &a,
        Perm::Emergency,
        AuditAction::GroupSuspended,
        &group,
        &[("sessions", ended.to_string()), ("reason", reason)],
    )
    .await;
    see_other(&format!(
        "{}admin/emergency?done=suspended",
        ctx.config.prefix
    ))
}

/// `POST {prefix}admin/emergency/lift`
pub(crate) async fn lift(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::Emergency).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let group = a.form.get("group").unwrap_or("").trim().to_string();
    match ctx.accounts.suspensions().lift(&group).await {
        Ok(true) => {
            audit(
                &ctx,
                &a,
                Perm::Emergency,
                AuditAction::GroupUnsuspended,
                &group,
                &[],
            )
            .await;
            see_other(&format!("{}admin/emergency?done=lifted", ctx.config.prefix))
        }
        Ok(false) => {
            render(
                &ctx,
                &a,
                Flash {
                    notice: None,
                    error: Some("That group is not suspended.".into()),
                },
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "admin console: lift failed");
            a.r.error(&ctx, ErrorKind::Unavailable)
        }
    }
}
