//! "Forgot your password?": a user who cannot sign in asks for a link by e-mail and
//! chooses a new password with it, without a helpdesk.
//!
//! The request page answers the same whether or not the address has an account (and
//! sends the mail in the background, so the timing is the same too). A link works
//! once, for `password.reset_link_ttl`, and only until the password changes. A reset
//! ends every session and forgets trusted browsers; it never touches the second
//! factor, so MFA is still asked at the next sign-in. The user is told by e-mail.
use crate::handlers::{check_form, form_page, html, read, Ctx, Req};
use crate::i18n::{fill, recovery_texts, RecoveryTexts};
use crate::mfa_views::NoticePage;
use crate::pages::{self, ErrorKind, PageChrome};
use crate::UiContext;
use askama::Template;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{
    check_strength, AuthEvent, Email, EventKind, LinkIssue, PasswordInput, Reason, User, Weakness,
};
use sekisho_notify::Notice;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    page: PageChrome,
    x: &'static RecoveryTexts,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    page: PageChrome,
    x: &'static RecoveryTexts,
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    hint: String,
    error: Option<String>,
}

/// The 404 page when self-service reset is off.
fn disabled(ctx: &UiContext, r: &Req) -> Option<Response> {
    (!ctx.config.self_service_reset).then(|| r.error(ctx, ErrorKind::NotFound))
}

fn notice(
    ctx: &UiContext,
    r: &Req,
    heading: &'static str,
    message: String,
    href: String,
    label: &'static str,
) -> Response {
    html(
        StatusCode::OK,
        pages::render(&NoticePage {
            page: r.chrome(ctx),
            heading,
            message,
            link_href: href,
            link_label: label,
        }),
    )
}

fn recovery_event(ctx: &UiContext, r: &Req, user: &User, reason: Reason) -> AuthEvent {
    r.event(ctx.mfa.now(), EventKind::Recovery, true, reason)
        .user(&user.id, user.email.as_str())
}

/// `GET {prefix}password/forgot`.
pub async fn forgot_form(State(ctx): Ctx, req: Request) -> Response {
    let r = Req::from_parts(&ctx, req.into_parts().0);
    if let Some(resp) = disabled(&ctx, &r) {
        return resp;
    }
    let x = recovery_texts(r.lang);
    form_page(&ctx, &r, StatusCode::OK, |csrf| {
        pages::render(&ForgotPage {
            page: r.chrome(&ctx),
            x,
            csrf,
        })
    })
}

/// `POST {prefix}password/forgot`: the same answer for every address.
pub async fn forgot_submit(State(ctx): Ctx, req: Request) -> Response {
    let (r, form) = match read_form(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let x = recovery_texts(r.lang);
    let email = form.get("email").unwrap_or("").trim().to_string();
    let user = match Email::parse(&email) {
        Ok(e) => match ctx.accounts.find_by_email(&e).await {
            Ok(u) => u.filter(|u| !u.disabled),
            Err(e) => {
                tracing::error!(error = %e, request_id = %r.request_id(), "account lookup failed");
                return r.error(&ctx, ErrorKind::Unavailable);
            }
        },
        Err(_) => None,
    };
    if let Some(user) = user {
        send_link(&ctx, &r, user).await;
    }
    let minutes = ctx.reset_links.ttl_minutes().to_string();
    notice(
        &ctx,
        &r,
        x.sent_title,
        fill(x.sent, &[("minutes", &minutes)]),
        format!("{}login", ctx.config.prefix),
        x.sign_in,
    )
}

async fn send_link(ctx: &UiContext, r: &Req, user: User) {
    let token = match ctx.reset_links.issue(&user).await {
        Ok(LinkIssue::Issued(t)) => t,
        Ok(LinkIssue::HourlyCap) => {
            tracing::info!(request_id = %r.request_id(), user = %user.id, "reset link refused: hourly cap");
            let mut e = recovery_event(ctx, r, &user, Reason::RateLimited);
            e.success = false;
            ctx.mfa.record(e).await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not store a reset link");
            return;
        }
    };
    // Only a configured site may appear in the link: a forged Host cannot send the
    // token elsewhere.
    let link = format!(
        "{}://{}{}password/reset?token={}",
        r.scheme(ctx),
        r.host(),
        ctx.config.prefix,
        token.expose()
    );
    if crate::redirect::safe_target(&link, &ctx.config.sites).is_none() {
        tracing::warn!(request_id = %r.request_id(), "reset link not sent: host is not a configured site");
        return;
    }
    ctx.mfa
        .record(recovery_event(ctx, r, &user, Reason::ResetLinkSent))
        .await;
    let valid_minutes = ctx.reset_links.ttl_minutes();
    let notifier = ctx.notifier.clone();
    let lang = r.lang;
    tokio::spawn(async move {
        let to = sekisho_notify::Recipient {
            email: user.email.as_str(),
            display_name: &user.display_name,
            lang,
        };
        let notice = Notice::PasswordResetLink {
            link: &link,
            valid_minutes,
        };
        if let Err(e) = notifier.send_email(&to, &notice).await {
            tracing::warn!(error = %e, "reset link not sent");
        }
    });
}

async fn read_form(ctx: &UiContext, req: Request) -> Result<(Req, crate::form::Form), Response> {
    let (r, body) = read(ctx, req).await?;
    if let Some(resp) = disabled(ctx, &r) {
        return Err(resp);
    }
    let form = crate::form::Form::parse(&body).map_err(|_| r.error(ctx, ErrorKind::BadRequest))?;
    check_form(ctx, &r, &form).map_err(|kind| r.error(ctx, kind))?;
    Ok((r, form))
}

fn expired(ctx: &UiContext, r: &Req) -> Response {
    let x = recovery_texts(r.lang);
    let mut resp = notice(
        ctx,
        r,
        x.expired_title,
        x.expired.to_string(),
        format!("{}password/forgot", ctx.config.prefix),
        x.new_link,
    );
    *resp.status_mut() = StatusCode::GONE;
    resp
}

/// The user a token still allows a reset for.
async fn holder(ctx: &UiContext, r: &Req, token: &str) -> Result<Option<User>, Response> {
    let grant = ctx.reset_links.peek(token).await.map_err(|e| {
        tracing::debug!(error = %e, request_id = %r.request_id(), "counter store unavailable");
        r.error(ctx, ErrorKind::Unavailable)
    })?;
    let Some(grant) = grant else {
        return Ok(None);
    };
    let user = ctx.accounts.find_by_id(&grant.user_id).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %r.request_id(), "account lookup failed");
        r.error(ctx, ErrorKind::Unavailable)
    })?;
    Ok(user.filter(|u| !u.disabled && u.credential_version == grant.credential_version))
}

fn reset_page(
    ctx: &UiContext,
    r: &Req,
    token: &str,
    user: &User,
    error: Option<String>,
) -> Response {
    let x = recovery_texts(r.lang);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let hint = fill(
        x.password_hint,
        &[("n", &ctx.config.password_min_length.to_string())],
    );
    form_page(ctx, r, status, |csrf| {
        pages::render(&ResetPage {
            page: r.chrome(ctx),
            x,
            csrf,
            token,
            email: user.email.as_str(),
            hint,
            error,
        })
    })
}

/// `GET {prefix}password/reset?token=…`.
pub async fn reset_form(State(ctx): Ctx, req: Request) -> Response {
    let r = Req::from_parts(&ctx, req.into_parts().0);
    if let Some(resp) = disabled(&ctx, &r) {
        return resp;
    }
    let Ok(query) = r.query() else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let token = query.get("token").unwrap_or("").to_string();
    match holder(&ctx, &r, &token).await {
        Ok(Some(user)) => reset_page(&ctx, &r, &token, &user, None),
        Ok(None) => expired(&ctx, &r),
        Err(resp) => resp,
    }
}

fn weakness_text(x: &RecoveryTexts, w: Weakness) -> String {
    match w {
        Weakness::TooShort(n) => fill(x.too_short, &[("n", &n.to_string())]),
        Weakness::TooLong => x.too_long.to_string(),
        Weakness::Guessable => x.guessable.to_string(),
    }
}

/// `POST {prefix}password/reset`.
pub async fn reset_submit(State(ctx): Ctx, req: Request) -> Response {
    let (r, form) = match read_form(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let x = recovery_texts(r.lang);
    let token = form.get("token").unwrap_or("").to_string();
    let user = match holder(&ctx, &r, &token).await {
        Ok(Some(u)) => u,
        Ok(None) => return expired(&ctx, &r),
        Err(resp) => return resp,
    };
    let password = form.get("password").unwrap_or("");
    if password != form.get("confirm").unwrap_or("") {
        return reset_page(&ctx, &r, &token, &user, Some(x.mismatch.to_string()));
    }
    let min = ctx.config.password_min_length;
    if let Err(w) = check_strength(password, min, user.email.as_str(), &user.display_name) {
        return reset_page(&ctx, &r, &token, &user, Some(weakness_text(x, w)));
    }
    let hash = match ctx
        .hasher
        .hash(PasswordInput::new(password.to_string()))
        .await
    {
        Ok(h) => h,
        Err(sekisho_auth::AuthError::HasherBusy) => return r.error(&ctx, ErrorKind::Busy),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not hash a new password");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    // Using the link up is the commit point: of two submissions, one wins.
    match ctx.reset_links.consume(&token).await {
        Ok(Some(_)) => {}
        Ok(None) => return expired(&ctx, &r),
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "counter store unavailable");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    if let Err(e) = apply(&ctx, &user, &hash).await {
        tracing::error!(error = %e, request_id = %r.request_id(), "could not change the password");
        return r.error(&ctx, ErrorKind::Unavailable);
    }
    ctx.mfa
        .record(recovery_event(&ctx, &r, &user, Reason::PasswordReset))
        .await;
    tracing::info!(request_id = %r.request_id(), user = %user.id, "password reset with a link");
    crate::challenge::notify_to(
        &ctx,
        user.email.as_str().to_string(),
        user.display_name.clone(),
        r.lang,
        Notice::PasswordChanged,
    );
    notice(
        &ctx,
        &r,
        x.done_title,
        x.done.to_string(),
        format!("{}login", ctx.config.prefix),
        x.sign_in,
    )
}

/// New password (which bumps the credential version), no trusted browsers, no
/// sessions.
async fn apply(
    ctx: &UiContext,
    user: &User,
    hash: &sekisho_auth::PasswordHash,
) -> Result<(), sekisho_auth::AuthError> {
    ctx.accounts.set_password(&user.email, hash).await?;
    ctx.accounts
        .factors()
        .revoke_all_trusted_devices(&user.id)
        .await?;
    ctx.sessions.end_all(&user.id).await?;
    Ok(())
}
