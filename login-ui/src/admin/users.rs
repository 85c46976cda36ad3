//! The user directory and a user's detail page: MFA status, backup codes left, recent
//! events with reason codes and clock-drift hints, lock status with unlock, trusted
//! browsers and sessions with revoke, reset requests and the form to file one.
use super::access::{admit, Admin, Perm};
use super::search::{kept, page_no, Pager};
use super::views::{EventRow, Flash, RequestRow, UserDetailPage, UsersPage};
use super::{audit, chrome, render_page, Section};
use crate::handlers::{see_other, Ctx};
use crate::pages::{self, ErrorKind};
use crate::settings::{enc, when};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{
    AuditAction, LastSignIn, MfaFilter, RequestQuery, SearchError, SessionKey, User, UserQuery,
};
use sekisho_config::AdminRole;

const PAGE_SIZE: i64 = 25;

/// `GET {prefix}admin/users?q=&mfa=&group=&last=&page=`
pub(crate) async fn list(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewUsers) {
        return resp;
    }
    let f = &a.form;
    let text = f.get("q").unwrap_or("").trim().to_string();
    let mfa = f.get("mfa").unwrap_or("");
    let group = f.get("group").unwrap_or("");
    let last = f.get("last").unwrap_or("");
    let page_no = page_no(f, 10_000);
    let now = ctx.mfa.now();
    // "role:sysadmin" filters by every group that grants the role.
    let groups = match group.strip_prefix("role:").and_then(AdminRole::parse) {
        Some(role) => ctx.config.admin.groups_for(role),
        None if group.is_empty() => Vec::new(),
        None => vec![group.to_string()],
    };
    let query = UserQuery {
        text: (!text.is_empty()).then(|| text.clone()),
        mfa: MfaFilter::parse(mfa),
        groups,
        last_sign_in: match last {
            "never" => Some(LastSignIn::Never),
            "30d" => Some(LastSignIn::Since(now - 30 * 86_400)),
            "90d_ago" => Some(LastSignIn::Before(now - 90 * 86_400)),
            _ => None,
        },
        limit: PAGE_SIZE,
        offset: (page_no - 1) * PAGE_SIZE,
    };
    let filtered = query.text.is_some()
        || query.mfa.is_some()
        || !query.groups.is_empty()
        || query.last_sign_in.is_some();
    let (rows, total, error) = if !filtered {
        (Vec::new(), 0, None)
    } else {
        match ctx.accounts.directory().search(&query).await {
            Ok((rows, total)) => (rows, total, None),
            Err(SearchError::TooShort) => (Vec::new(), 0, Some(SearchError::TooShort.to_string())),
            Err(SearchError::Store(e)) => {
                tracing::error!(error = %e, "admin console: user search failed");
                return a.r.error(&ctx, ErrorKind::Unavailable);
            }
        }
    };
    let all_groups = ctx.accounts.directory().groups().await.unwrap_or_default();
    let c = chrome(&ctx, &a, Section::Users).await;
    let base_query = kept(f, &["q", "mfa", "group", "last"]);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_page(&ctx, &a, status, |_| {
        pages::render(&UsersPage {
            c: &c,
            text: &text,
            mfa,
            group,
            last,
            groups: &all_groups,
            roles: AdminRole::ALL.iter().map(|r| r.as_str()).collect(),
            searched: filtered,
            error: error.as_deref(),
            total,
            rows: rows
                .iter()
                .map(|u| super::views::UserRow {
                    href: format!("{}/user?id={}", c.base, enc(&u.id)),
                    email: u.email.clone(),
                    name: u.display_name.clone(),
                    department: u.department.clone(),
                    disabled: u.disabled,
                    enrolled: u.enrolled(),
                    methods: [(u.totp, "app"), (u.email_codes, "e-mail"), (u.sms, "SMS")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                    codes_left: u.backup_codes_left,
                    last_sign_in: u.last_sign_in.map(when).unwrap_or_else(|| "never".into()),
                })
                .collect(),
            pager: Pager::new(
                &format!("{}/users?{base_query}", c.base),
                page_no,
                total,
                PAGE_SIZE,
            ),
        })
    })
}

/// The target user of a detail page or action (`id`), 404 when unknown.
async fn target(ctx: &UiContext, a: &Admin) -> Result<User, Response> {
    let id = a.form.get("id").unwrap_or("");
    match ctx.accounts.find_by_id(id).await {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(a.r.error(ctx, ErrorKind::NotFound)),
        Err(e) => {
            tracing::error!(error = %e, "admin console: user lookup failed");
            Err(a.r.error(ctx, ErrorKind::Unavailable))
        }
    }
}

/// A drift hint for the helpdesk from an event's `drift_steps=N` detail.
fn drift_hint(detail: Option<&str>) -> Option<String> {
    let steps: i64 = detail?
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("drift_steps="))?
        .parse()
        .ok()?;
    let secs = steps * 30;
    let dir = if secs < 0 { "behind" } else { "ahead" };
    Some(format!(
        "device clock about {} min {dir}: ask the user to turn on automatic time",
        (secs.abs() + 30) / 60
    ))
}

fn flash_for(done: Option<&str>) -> Flash {
    let notice = match done {
        Some("unlocked") => {
            Some("The account was unlocked (account and per-address locks lifted).")
        }
        Some("sessions") => Some("Sessions were revoked."),
        Some("devices") => Some("Trusted browsers were revoked."),
        Some("requested") => {
            Some("The reset request was filed; another administrator must approve it.")
        }
        _ => None,
    };
    Flash {
        notice: notice.map(str::to_string),
        error: None,
    }
}

/// `GET {prefix}admin/user?id=`
pub(crate) async fn detail(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, false).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if let Some(resp) = a.refuse_unless(&ctx, Perm::ViewUsers) {
        return resp;
    }
    let flash = flash_for(a.form.get("done"));
    render_detail(&ctx, &a, flash, StatusCode::OK).await
}

pub(crate) async fn render_detail(
    ctx: &UiContext,
    a: &Admin,
    flash: Flash,
    status: StatusCode,
) -> Response {
    let user = match target(ctx, a).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let now = ctx.mfa.now();
    let loaded = async {
        let enrollment = ctx.mfa.enrollment(&user.id).await?;
        let events = ctx.mfa.events().recent_for_user(&user.id, 30).await?;
        let devices = ctx.mfa.trusted_devices(&user.id).await?;
        let requests = ctx
            .accounts
            .resets()
            .list(
                &RequestQuery {
                    user_id: Some(user.id.clone()),
                    limit: 10,
                    ..Default::default()
                },
                now,
            )
            .await
            .map_err(|e| sekisho_auth::AuthError::Database(e.to_string()))?;
        Ok::<_, sekisho_auth::AuthError>((enrollment, events, devices, requests))
    };
    let (enrollment, events, devices, requests) = match loaded.await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "admin console: user detail failed");
            return a.r.error(ctx, ErrorKind::Unavailable);
        }
    };
    let sessions = ctx
        .sessions
        .store()
        .list_user(&user.id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "admin console: sessions unavailable");
            Vec::new()
        });
    let locked_until = match &ctx.lockout {
        Some(l) => l
            .account_locked_until(&user.id, now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "admin console: lock status unavailable");
                None
            }),
        None => None,
    };
    let last_mfa = events
        .iter()
        .find(|e| e.success && e.kind == sekisho_auth::EventKind::SecondFactor.as_str())
        .map(|e| format!("{} ({})", when(e.at), e.method.as_deref().unwrap_or("?")));
    let privileged = ctx.config.admin.is_privileged(&user.groups);
    let c = chrome(ctx, a, Section::Users).await;
    let base = c.base.clone();
    render_page(ctx, a, status, |csrf| {
        pages::render(&UserDetailPage {
            c: &c,
            csrf,
            flash: &flash,
            id: &user.id,
            email: user.email.as_str(),
            name: &user.display_name,
            department: &user.department,
            groups: user.groups.join(", "),
            disabled: user.disabled,
            privileged,
            may_touch: a.may_touch(ctx, &user),
            may_manage: a.may(Perm::ManageAccess),
            may_request: a.may(Perm::CreateRequest),
            enrolled: enrollment.is_enrolled(),
            methods: enrollment
                .methods()
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            totp_since: enrollment.totp_confirmed_at.map(when),
            codes_left: enrollment.backup_remaining,
            codes_total: enrollment.backup_total,
            last_mfa,
            last_sign_in: user.last_sign_in.map(when),
            locked_until: locked_until.map(when),
            events: events
                .iter()
                .map(|e| EventRow {
                    at: when(e.at),
                    request_id: e.request_id.clone().unwrap_or_default(),
                    request_href: e
                        .request_id
                        .as_deref()
                        .filter(|_| a.may(Perm::ViewEvents))
                        .map(|id| super::events::request_href(&base, id)),
                    kind: e.kind.clone(),
                    ok: e.success,
                    reason: e.reason.clone(),
                    method: e.method.clone().unwrap_or_default(),
                    ip: e.ip.clone().unwrap_or_default(),
                    hint: drift_hint(e.detail.as_deref()),
                    detail: e.detail.clone().unwrap_or_default(),
                })
                .collect(),
            devices: devices
                .iter()
                .map(|d| {
                    (
                        d.id.clone(),
                        d.ua_summary.clone(),
                        when(d.last_used_at),
                        when(d.expires_at),
                    )
                })
                .collect(),
            sessions: sessions
                .iter()
                .map(|(k, s)| {
                    (
                        k.to_hex(),
                        format!("{:?}", s.level).to_lowercase(),
                        s.ip.clone().unwrap_or_default(),
                        s.user_agent
                            .as_deref()
                            .map(sekisho_auth::mfa_service::ua_summary)
                            .unwrap_or_default(),
                        when(s.last_seen),
                    )
                })
                .collect(),
            requests: requests.iter().map(|r| RequestRow::of(r, &base)).collect(),
        })
    })
}

/// The target of a POST, which this admin may manage (privileged: secadmin only).
async fn manageable(ctx: &UiContext, a: &Admin) -> Result<User, Response> {
    if let Some(resp) = a.refuse_unless(ctx, Perm::ManageAccess) {
        return Err(resp);
    }
    let user = target(ctx, a).await?;
    if !a.may_touch(ctx, &user) {
        tracing::warn!(admin = %a.user.email, target = %user.email, "admin console: privileged account needs a secadmin");
        return Err(a.r.error(ctx, ErrorKind::Forbidden));
    }
    Ok(user)
}

fn back_to(ctx: &UiContext, user: &User, done: &str) -> Response {
    see_other(&format!(
        "{}admin/user?id={}&done={done}",
        ctx.config.prefix,
        enc(&user.id)
    ))
}

/// `POST {prefix}admin/user/unlock`
pub(crate) async fn unlock(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let user = match manageable(&ctx, &a).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    if let Some(l) = &ctx.lockout {
        if let Err(e) = l.unlock(&user.id).await {
            tracing::error!(error = %e, "admin console: unlock failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    audit(
        &ctx,
        &a,
        Perm::ManageAccess,
        AuditAction::AccountUnlocked,
        user.email.as_str(),
        &[],
    )
    .await;
    back_to(&ctx, &user, "unlocked")
}

/// `POST {prefix}admin/user/sessions/revoke` (`session` = one key, or all)
pub(crate) async fn revoke_sessions(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let user = match manageable(&ctx, &a).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let one = a.form.get("session").and_then(SessionKey::from_hex);
    let result = match &one {
        Some(key) => ctx.sessions.revoke(key, &user.id).await.map(usize::from),
        None => ctx.sessions.end_all(&user.id).await,
    };
    let n = match result {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "admin console: revoke failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let action = if one.is_some() {
        AuditAction::SessionRevoked
    } else {
        AuditAction::SessionsRevoked
    };
    audit(
        &ctx,
        &a,
        Perm::ManageAccess,
        action,
        user.email.as_str(),
        &[("count", n.to_string())],
    )
    .await;
    back_to(&ctx, &user, "sessions")
}

/// `POST {prefix}admin/user/devices/revoke` (`device` = one id, or all)
pub(crate) async fn revoke_devices(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit(&ctx, req, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let user = match manageable(&ctx, &a).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let f = ctx.mfa.factors();
    let result = match a.form.get("device") {
        Some(id) => f.revoke_trusted_device(&user.id, id).await.map(u64::from),
        None => f.revoke_all_trusted_devices(&user.id).await,
    };
    let n = match result {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "admin console: device revoke failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    audit(
        &ctx,
        &a,
        Perm::ManageAccess,
        AuditAction::DeviceRevoked,
        user.email.as_str(),
        &[("count", n.to_string())],
    )
    .await;
    back_to(&ctx, &user, "devices")
}
