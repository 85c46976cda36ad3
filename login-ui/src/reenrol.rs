//! The page behind the re-enrolment link an executed MFA reset e-mails.
//!
//! `GET {prefix}reenrol?token=` tells a used, expired or superseded link apart and
//! otherwise asks for the password. A correct password moves the link to "in
//! progress" (once: a second submission is told the link was used) and starts a
//! session: when the reset left no factor, one that must enrol before reaching
//! anything (the wizard); when factors remain (a partial reset), the usual challenge
//! first and then the settings page. The first factor confirmed or the backup codes
//! regenerated afterwards consume the link ([`finish_for`]).
use crate::form::Form;
use crate::guard::Admission;
use crate::handlers::{add_cookie, base_cookie, check_form, form_page, read, see_other, Ctx, Req};
use crate::i18n::reenrol_texts;
use crate::pages::{self, ErrorKind, PageChrome};
use crate::settings::{enc, when};
use crate::UiContext;
use askama::Template;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::session::SessionSubject;
use sekisho_auth::{
    AuditAction, AuthError, AuthLevel, EventKind, Executed, LinkStatus, NewAuditEntry,
    PasswordInput, Reason, User,
};
use sekisho_notify::{Notice, Recipient};

#[derive(Template)]
#[template(path = "reenrol.html")]
struct ReenrolPage<'a> {
    page: PageChrome,
    x: &'static crate::i18n::ReenrolTexts,
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    gone: Option<&'a str>,
}

fn page(
    ctx: &UiContext,
    r: &Req,
    token: &str,
    email: &str,
    error: Option<&str>,
    gone: Option<&str>,
    status: StatusCode,
) -> Response {
    form_page(ctx, r, status, |csrf| {
        pages::render(&ReenrolPage {
            page: r.chrome(ctx),
            x: reenrol_texts(r.lang),
            csrf,
            token,
            email,
            error,
            gone,
        })
    })
}

fn gone(ctx: &UiContext, r: &Req, status: LinkStatus) -> Response {
    let x = reenrol_texts(r.lang);
    let why = match status {
        LinkStatus::InProgress | LinkStatus::Consumed => x.used,
        LinkStatus::Expired => x.expired,
        LinkStatus::Superseded => x.superseded,
        LinkStatus::Valid | LinkStatus::Unknown => x.unknown,
    };
    page(ctx, r, "", "", None, Some(why), StatusCode::GONE)
}

/// A masked address for the page (`t•••@example.com`): whoever holds the link sees
/// whose it is without the whole address.
fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_string(),
    }
}

async fn link_user(
    ctx: &UiContext,
    r: &Req,
    token: &str,
) -> Result<(sekisho_auth::ValidLink, User), Response> {
    let now = ctx.mfa.now();
    let link = match ctx.accounts.reenrol_links().find(token, now).await {
        Ok(Ok(link)) => link,
        Ok(Err(status)) => return Err(gone(ctx, r, status)),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "re-enrolment link lookup failed");
            return Err(r.error(ctx, ErrorKind::Unavailable));
        }
    };
    match ctx.accounts.find_by_id(&link.user_id).await {
        Ok(Some(u)) if !u.disabled => Ok((link, u)),
        Ok(_) => Err(gone(ctx, r, LinkStatus::Unknown)),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "re-enrolment user lookup failed");
            Err(r.error(ctx, ErrorKind::Unavailable))
        }
    }
}

/// `GET {prefix}reenrol?token=`
pub async fn form(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(q) = r.query() else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let token = q.get("token").unwrap_or("").to_string();
    match link_user(&ctx, &r, &token).await {
        Ok((_, user)) => page(
            &ctx,
            &r,
            &token,
            &masked(user.email.as_str()),
            None,
            None,
            StatusCode::OK,
        ),
        Err(resp) => resp,
    }
}

/// `POST {prefix}reenrol`
pub async fn submit(State(ctx): Ctx, req: Request) -> Response {
    let (r, body) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(form) = Form::parse(&body) else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    if let Err(kind) = check_form(&ctx, &r, &form) {
        return r.error(&ctx, kind);
    }
    let token = form.get("token").unwrap_or("").to_string();
    let (link, user) = match link_user(&ctx, &r, &token).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let x = reenrol_texts(r.lang);
    let email = masked(user.email.as_str());
    // The same lockout as the sign-in page: a stolen link does not make the
    // password guessable.
    let attempt = match crate::guard::admit(&ctx, &user.id, &r).await {
        Ok(Admission::Check(a)) => a,
        Ok(Admission::Locked { retry_after, .. }) => {
            let msg = crate::i18n::fill(
                crate::i18n::texts(r.lang).locked,
                &[("wait", &crate::guard::wait_phrase(r.lang, retry_after))],
            );
            let resp = page(
                &ctx,
                &r,
                &token,
                &email,
                Some(&msg),
                None,
                StatusCode::TOO_MANY_REQUESTS,
            );
            return crate::guard::with_retry_after(resp, retry_after);
        }
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "counter store unavailable");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let password = PasswordInput::new(form.get("password").unwrap_or("").to_string());
    let now = ctx.mfa.now();
    match ctx
        .hasher
        .verify(password, user.password_hash.as_ref())
        .await
    {
        Ok(true) => crate::guard::succeeded(&ctx, attempt).await,
        Ok(false) => {
            let e = r
                .event(now, EventKind::Recovery, false, Reason::InvalidPassword)
                .user(&user.id, user.email.as_str())
                .detail("reenrol".into());
            ctx.mfa.record(e).await;
            crate::guard::failed(
                &ctx,
                attempt,
                Some((user.email.as_str(), &user.display_name)),
                r.lang,
            )
            .await;
            return page(
                &ctx,
                &r,
                &token,
                &email,
                Some(x.wrong_password),
                None,
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(AuthError::HasherBusy) => return r.error(&ctx, ErrorKind::Busy),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "password verification failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    match ctx.accounts.suspensions().blocking(&user.groups).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            return page(
                &ctx,
                &r,
                &token,
                &email,
                Some(x.suspended),
                None,
                StatusCode::FORBIDDEN,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "suspension check failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    let started = match link.start(&ctx.accounts.reenrol_links(), now).await {
        Ok(Ok(s)) => s,
        Ok(Err(status)) => return gone(&ctx, &r, status),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "re-enrolment link could not start");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let enrolled = match ctx.mfa.enrollment(&user.id).await {
        Ok(e) => e.is_enrolled(),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not read MFA enrolment");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let who = SessionSubject {
        user_id: &user.id,
        email: user.email.as_str(),
        display_name: &user.display_name,
        groups: &user.groups,
        credential_version: user.credential_version,
    };
    // Factors left (a partial reset): prove one first. None: enrol before anything.
    let (level, due) = if enrolled {
        (AuthLevel::Partial, false)
    } else {
        (AuthLevel::Password, true)
    };
    let (id, _) = match ctx
        .sessions
        .start_with(who, level, None, due, r.client_ip(), r.user_agent())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "session store unavailable");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let e = r
        .event(now, EventKind::Recovery, true, Reason::Ok)
        .user(&user.id, user.email.as_str())
        .detail(format!(
            "reenrol request={}",
            started.request_id.as_deref().unwrap_or("-")
        ));
    ctx.mfa.record(e).await;
    user_audit(
        &ctx,
        &r,
        &user,
        AuditAction::ReenrolStarted,
        started.request_id.as_deref(),
    )
    .await;
    let settings = format!("{}settings", ctx.config.prefix);
    let location = if enrolled {
        format!("{}mfa?rd={}", ctx.config.prefix, enc(&settings))
    } else {
        format!("{}enroll/start?rd={}", ctx.config.prefix, enc(&settings))
    };
    let mut resp = see_other(&location);
    add_cookie(
        &mut resp,
        &base_cookie(
            &ctx,
            &ctx.config.session_cookie,
            id.as_cookie_value().to_string(),
        ),
    );
    resp
}

/// An audit entry for something the user did themselves.
pub(crate) async fn user_audit(
    ctx: &UiContext,
    r: &Req,
    user: &User,
    action: AuditAction,
    request: Option<&str>,
) {
    let mut detail = Vec::new();
    if let Some(id) = request {
        detail.push(("request", id.to_string()));
    }
    let entry = NewAuditEntry::new(user.email.as_str(), "user", action)
        .target(user.email.as_str())
        .ip(r.client_ip().as_deref())
        .request_id(r.request_id())
        .detail(&detail);
    crate::admin::record_audit(ctx, entry, action).await;
}

/// After a factor is confirmed or backup codes are regenerated: consumes the user's
/// started link, if any.
pub(crate) async fn finish_for(ctx: &UiContext, r: &Req, user_id: &str) {
    let links = ctx.accounts.reenrol_links();
    let started = match links.in_progress_for(user_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "re-enrolment link state unavailable");
            return;
        }
    };
    let request = started.request_id.clone();
    match started.consume(&links, ctx.mfa.now()).await {
        Ok(true) => {
            if let Ok(Some(user)) = ctx.accounts.find_by_id(user_id).await {
                user_audit(
                    ctx,
                    r,
                    &user,
                    AuditAction::ReenrolCompleted,
                    request.as_deref(),
                )
                .await;
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "re-enrolment link not consumed"),
    }
}

/// `scheme://host[:port]` for links: the admin's own request host when it is a
/// configured site, otherwise the configured public base.
fn mail_base(ctx: &UiContext, host: Option<&str>, scheme: &str) -> Option<String> {
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        let candidate = format!("{scheme}://{h}");
        if crate::redirect::safe_target(&format!("{candidate}/"), &ctx.config.sites).is_some() {
            return Some(candidate);
        }
    }
    ctx.config.public_base.clone()
}

/// E-mails the link of an executed reset. `host` is the admin's request host when it
/// is a configured site; otherwise (command line, bulk job) the first site. Returns
/// whether the mail was handed to the transport.
pub(crate) async fn mail_link(
    ctx: &UiContext,
    done: &Executed,
    host: Option<&str>,
    scheme: &str,
) -> bool {
    let Some(base) = mail_base(ctx, host, scheme) else {
        tracing::error!(request = %done.request.id, "no configured site to build the re-enrolment link");
        return false;
    };
    let link = format!(
        "{base}{}reenrol?token={}",
        ctx.config.prefix,
        done.link.token.expose()
    );
    let Ok(Some(user)) = ctx.accounts.find_by_id(&done.request.user_id).await else {
        return false;
    };
    let until = when(done.link.expires_at);
    let to = Recipient {
        email: user.email.as_str(),
        display_name: &user.display_name,
        lang: ctx.config.default_lang,
    };
    let notice = Notice::ReenrolLink {
        link: &link,
        valid_until: &until,
        request_id: &done.request.id,
    };
    match ctx.notifier.send_email(&to, &notice).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, request = %done.request.id, "re-enrolment link not sent");
            false
        }
    }
}
