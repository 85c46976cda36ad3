//! Who may use the console and what each role may do.
//!
//! Every handler starts with [`admit`]: a signed-in session whose second factor is
//! no older than `[admin] max_mfa_age` (otherwise back to the challenge, which returns
//! here), an account that is still enabled, and at least one role from its groups as
//! they are in the database now — not as copied into the session at sign-in, so a
//! removed role stops working at once. Then [`Admin::refuse_unless`] checks the permission
//! of the action, server-side, for every request.
use crate::form::Form;
use crate::handlers::{check_form, current_session, read, see_other, Req};
use crate::pages::ErrorKind;
use crate::settings::enc;
use crate::UiContext;
use axum::extract::Request;
use axum::response::Response;
use sekisho_auth::{Actor, AuthLevel, MfaMethod, User};
use sekisho_config::AdminRole;

/// What an action needs. The matrix is [`Perm::granted_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Perm {
    /// The user directory, a user's detail page and their events.
    ViewUsers,
    CreateRequest,
    /// Approve or reject a request.
    DecideRequest,
    ExecuteRequest,
    /// Unlock, revoke sessions and trusted browsers.
    ManageAccess,
    BulkReset,
    Emergency,
    ViewAudit,
    ViewReports,
    /// Reset requests (list and detail).
    ViewRequests,
    /// The event view: every user's events, searched by request id.
    ViewEvents,
}

impl Perm {
    pub(crate) fn granted_to(self, role: AdminRole) -> bool {
        use AdminRole::*;
        match self {
            Perm::ViewUsers | Perm::CreateRequest | Perm::ViewRequests => {
                matches!(role, Helpdesk | Sysadmin | Secadmin)
            }
            Perm::DecideRequest | Perm::ExecuteRequest | Perm::ManageAccess => {
                matches!(role, Sysadmin | Secadmin)
            }
            Perm::BulkReset | Perm::Emergency => role == Secadmin,
            Perm::ViewAudit => matches!(role, Auditor | Secadmin),
            Perm::ViewReports => matches!(role, Auditor | Sysadmin | Secadmin),
            Perm::ViewEvents => matches!(role, Helpdesk | Sysadmin | Secadmin | Auditor),
        }
    }
}

/// A signed-in administrator on this request.
pub(crate) struct Admin {
    pub(crate) r: Req,
    pub(crate) form: Form,
    pub(crate) user: User,
    pub(crate) roles: Vec<AdminRole>,
}

impl Admin {
    pub(crate) fn may(&self, p: Perm) -> bool {
        self.roles.iter().any(|r| p.granted_to(*r))
    }

    /// The 403 page unless one of the admin's roles grants `p`.
    pub(crate) fn refuse_unless(&self, ctx: &UiContext, p: Perm) -> Option<Response> {
        if self.may(p) {
            return None;
        }
        tracing::warn!(admin = %self.user.email, perm = ?p, request_id = %self.r.request_id(), "admin console: permission denied");
        Some(self.r.error(ctx, ErrorKind::Forbidden))
    }

    pub(crate) fn is_secadmin(&self) -> bool {
        self.roles.contains(&AdminRole::Secadmin)
    }

    /// Whether this admin may act on `target` (privileged accounts: secadmin only).
    pub(crate) fn may_touch(&self, ctx: &UiContext, target: &User) -> bool {
        self.is_secadmin() || !ctx.config.admin.is_privileged(&target.groups)
    }

    pub(crate) fn actor(&self) -> Actor<'_> {
        Actor {
            id: &self.user.id,
            email: self.user.email.as_str(),
            may_decide_privileged: self.is_secadmin(),
        }
    }

    /// The role recorded in the audit log for an action that needs `p`: the
    /// weakest of the admin's roles that grants it.
    pub(crate) fn role_for(&self, p: Perm) -> &'static str {
        let mut granting: Vec<AdminRole> = self
            .roles
            .iter()
            .copied()
            .filter(|r| p.granted_to(*r))
            .collect();
        granting.sort();
        granting.first().map_or("none", |r| r.as_str())
    }

    pub(crate) fn roles_label(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// [`admit`], then the 403 page unless the admin holds `p` (pages that need one
/// permission throughout).
pub(crate) async fn admit_for(
    ctx: &UiContext,
    req: Request,
    post: bool,
    p: Perm,
) -> Result<Admin, Response> {
    let a = admit(ctx, req, post).await?;
    match a.refuse_unless(ctx, p) {
        Some(resp) => Err(resp),
        None => Ok(a),
    }
}

/// Reads the request (checking the form's CSRF token and Origin on POST) and admits
/// an administrator, or answers with the redirect or error page.
pub(crate) async fn admit(ctx: &UiContext, req: Request, post: bool) -> Result<Admin, Response> {
    let (r, body) = read(ctx, req).await?;
    let form = if post {
        let form = Form::parse(&body).map_err(|_| r.error(ctx, ErrorKind::BadRequest))?;
        check_form(ctx, &r, &form).map_err(|k| r.error(ctx, k))?;
        form
    } else {
        r.query().map_err(|_| r.error(ctx, ErrorKind::BadRequest))?
    };
    // After the challenge the browser comes back to the page (a GET), never replays a
    // POST.
    let back = if post {
        format!("{}admin", ctx.config.prefix)
    } else {
        r.here().to_string()
    };
    let Some((_, session)) = current_session(ctx, &r).await? else {
        return Err(see_other(&format!(
            "{}login?rd={}",
            ctx.config.prefix,
            enc(&back)
        )));
    };
    let user = match ctx.accounts.find_by_id(&session.user_id).await {
        Ok(Some(u)) if !u.disabled && u.credential_version == session.credential_version => u,
        Ok(_) => return Err(r.error(ctx, ErrorKind::Forbidden)),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "admin console: account lookup failed");
            return Err(r.error(ctx, ErrorKind::Unavailable));
        }
    };
    let roles = ctx.config.admin.roles_of(&user.groups);
    if roles.is_empty() {
        tracing::warn!(user = %user.email, request_id = %r.request_id(), "admin console: no admin role");
        return Err(r.error(ctx, ErrorKind::Forbidden));
    }
    let now = ctx.mfa.now();
    let max_age = ctx.config.admin.max_mfa_age.as_secs() as i64;
    let fresh = session.level == AuthLevel::Mfa
        && session.mfa_method != Some(MfaMethod::TrustedDevice)
        && session.mfa_at.is_some_and(|at| now - at <= max_age);
    if !fresh {
        let enrolled = match ctx.mfa.enrollment(&user.id).await {
            Ok(e) => e.is_enrolled(),
            Err(e) => {
                tracing::error!(error = %e, request_id = %r.request_id(), "admin console: MFA lookup failed");
                return Err(r.error(ctx, ErrorKind::Unavailable));
            }
        };
        if !enrolled {
            return Err(r.error(ctx, ErrorKind::MfaRequired));
        }
        return Err(see_other(&format!(
            "{}mfa?rd={}",
            ctx.config.prefix,
            enc(&back)
        )));
    }
    Ok(Admin {
        r,
        form,
        user,
        roles,
    })
}
