//! "I can't use any of my methods" (`{prefix}mfa/lost`): for a user who passed the
//! password but can use none of their factors. It offers a backup code when the user
//! still has some, or a recovery request that joins the admin console's reset queue
//! (an administrator confirms the person before anything changes). The user gets a
//! reference number by e-mail and follows the request on `{prefix}mfa/lost/status`.
//!
//! Filing needs the session the password made, so only someone who knows the password
//! can ask, and the mail to the account's address warns the owner if that was not
//! them. Requests are capped per user and day in the database (shared by every
//! instance) on top of the per-address limit on form posts.
use crate::challenge::{prepare, Target};
use crate::handlers::{check_form, form_page, html, read, see_other, Ctx, Req};
use crate::help::{HelpTopic, SupportView};
use crate::i18n::{fill, lost_device_texts, LostDeviceTexts};
use crate::pages::{self, ErrorKind, PageChrome};
use crate::UiContext;
use askama::Template;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use sekisho_auth::{
    AuditAction, EventKind, MfaMethod, NewAuditEntry, Reason, RequestState, ResetError,
    ResetRequest, SelfServiceRequest, Session, Situation,
};
use sekisho_notify::{Notice, Recipient};

struct SituationChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "lost_device.html")]
struct LostPage<'a> {
    page: PageChrome,
    x: &'static LostDeviceTexts,
    csrf: &'a str,
    rd: &'a str,
    backup_href: Option<String>,
    open_notice: Option<String>,
    status_href: String,
    error: Option<String>,
    situations: Vec<SituationChoice>,
    description: &'a str,
    contact: &'a str,
    support: Option<SupportView>,
    back_href: String,
}

struct StatusRow {
    reference: String,
    state: &'static str,
    filed: String,
    explanation: &'static str,
}

#[derive(Template)]
#[template(path = "lost_status.html")]
struct StatusPage {
    page: PageChrome,
    x: &'static LostDeviceTexts,
    notice: Option<String>,
    rows: Vec<StatusRow>,
    may_file: bool,
    lost_href: String,
    support: Option<SupportView>,
    back_href: String,
}

/// What the form held, kept when it is shown again with an error.
#[derive(Default, Clone, Copy)]
struct Draft<'a> {
    situation: Option<Situation>,
    description: &'a str,
    contact: &'a str,
}

fn situation_label(x: &LostDeviceTexts, s: Situation) -> &'static str {
    match s {
        Situation::LostDevice => x.situation_lost_device,
        Situation::NewPhone => x.situation_new_phone,
        Situation::AppRemoved => x.situation_app_removed,
        Situation::Other => x.situation_other,
    }
}

fn explanation(x: &LostDeviceTexts, s: RequestState) -> &'static str {
    match s {
        RequestState::Pending => x.state_pending,
        RequestState::Approved => x.state_approved,
        RequestState::Executed => x.state_executed,
        RequestState::Rejected => x.state_rejected,
        RequestState::Expired => x.state_expired,
    }
}

fn page_href(ctx: &UiContext, path: &str, target: &Target) -> String {
    format!("{}{path}?{}", ctx.config.prefix, target.query())
}

/// The user's requests, newest first; an error page when the store fails.
async fn requests_of(ctx: &UiContext, r: &Req, s: &Session) -> Result<Vec<ResetRequest>, Response> {
    let now = ctx.mfa.now();
    ctx.accounts
        .resets()
        .of_user(&s.user_id, 10, now)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not read recovery requests");
            r.error(ctx, ErrorKind::Unavailable)
        })
}

struct Form<'a> {
    target: &'a Target,
    usable: &'a [MfaMethod],
    open: Option<&'a str>,
    draft: Draft<'a>,
    error: Option<String>,
}

fn render_form(ctx: &UiContext, r: &Req, status: StatusCode, f: Form<'_>) -> Response {
    let x = lost_device_texts(r.lang);
    let backup_href = f.usable.contains(&MfaMethod::BackupCode).then(|| {
        format!(
            "{}mfa?m=backup_code&{}",
            ctx.config.prefix,
            f.target.query()
        )
    });
    let situations = Situation::ALL
        .into_iter()
        .map(|s| SituationChoice {
            value: s.as_str(),
            label: situation_label(x, s),
            checked: f.draft.situation == Some(s),
        })
        .collect();
    form_page(ctx, r, status, |csrf| {
        pages::render(&LostPage {
            page: r.chrome(ctx),
            x,
            csrf,
            rd: &f.target.rd,
            backup_href,
            open_notice: f.open.map(|id| fill(x.open_already, &[("reference", id)])),
            status_href: page_href(ctx, "mfa/lost/status", f.target),
            error: f.error,
            situations,
            description: f.draft.description,
            contact: f.draft.contact,
            support: SupportView::of(&ctx.config.support),
            back_href: page_href(ctx, "mfa", f.target),
        })
    })
}

/// A GET of one of these pages: the query, the signed-in user's usable methods and
/// their requests (newest first).
struct Viewing {
    r: Req,
    q: crate::form::Form,
    target: Target,
    usable: Vec<MfaMethod>,
    mine: Vec<ResetRequest>,
}

async fn viewing(ctx: &UiContext, req: Request) -> Result<Viewing, Response> {
    let (r, _) = read(ctx, req).await?;
    let Ok(q) = r.query() else {
        return Err(r.error(ctx, ErrorKind::BadRequest));
    };
    let target = Target::from_form(ctx, &q);
    let (_, session, _, usable) = prepare(ctx, &r, &target).await?;
    let mine = requests_of(ctx, &r, &session).await?;
    Ok(Viewing {
        r,
        q,
        target,
        usable,
        mine,
    })
}

/// `GET {prefix}mfa/lost?rd=…`
pub async fn form(State(ctx): Ctx, req: Request) -> Response {
    let v = match viewing(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let open = v
        .mine
        .iter()
        .find(|q| q.state.is_open())
        .map(|q| q.id.as_str());
    let f = Form {
        target: &v.target,
        usable: &v.usable,
        open,
        draft: Draft::default(),
        error: None,
    };
    render_form(&ctx, &v.r, StatusCode::OK, f)
}

/// `POST {prefix}mfa/lost`: files the request, mails the reference, shows the status.
pub async fn submit(State(ctx): Ctx, req: Request) -> Response {
    let (r, body) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(form) = crate::form::Form::parse(&body) else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    if let Err(kind) = check_form(&ctx, &r, &form) {
        return r.error(&ctx, kind);
    }
    let target = Target::from_form(&ctx, &form);
    let (_, session, _, usable) = match prepare(&ctx, &r, &target).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(situation) = form.get("situation").and_then(Situation::parse) else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let user = match ctx.accounts.find_by_id(&session.user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return r.error(&ctx, ErrorKind::Forbidden),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "account lookup failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let draft = Draft {
        situation: Some(situation),
        description: form.get("description").unwrap_or(""),
        contact: form.get("contact").unwrap_or(""),
    };
    let new = SelfServiceRequest {
        user_id: &user.id,
        user_email: user.email.as_str(),
        situation,
        description: draft.description,
        contact: draft.contact,
        privileged: ctx.config.admin.is_privileged(&user.groups),
    };
    let expiry = ctx.config.admin.request_expiry.as_secs() as i64;
    let now = ctx.mfa.now();
    let x = lost_device_texts(r.lang);
    let status_href = page_href(&ctx, "mfa/lost/status", &target);
    let refused = |status: StatusCode, message: &str| {
        let f = Form {
            target: &target,
            usable: &usable,
            open: None,
            draft,
            error: Some(message.to_string()),
        };
        render_form(&ctx, &r, status, f)
    };
    let req = match ctx.accounts.resets().create_self(new, expiry, now).await {
        Ok(req) => req,
        Err(ResetError::AlreadyOpen(_)) => return see_other(&status_href),
        Err(ResetError::DescriptionTooShort) => {
            return refused(StatusCode::UNPROCESSABLE_ENTITY, x.description_too_short)
        }
        Err(ResetError::ContactTooLong) => {
            return refused(StatusCode::UNPROCESSABLE_ENTITY, x.contact_too_long)
        }
        Err(ResetError::ReasonTooLong) => {
            return refused(StatusCode::UNPROCESSABLE_ENTITY, x.too_long)
        }
        Err(ResetError::TooManyRequests) => {
            tracing::info!(request_id = %r.request_id(), user = %user.id, "recovery request refused: daily cap");
            return refused(StatusCode::TOO_MANY_REQUESTS, x.too_many);
        }
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "recovery request not filed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    record(&ctx, &r, &session, &req).await;
    send_reference(&ctx, &r, &req, &user.display_name);
    see_other(&format!(
        "{status_href}&filed={}",
        utf8_percent_encode(&req.id, NON_ALPHANUMERIC)
    ))
}

/// The audit entry (the user is the actor) and the user's event.
async fn record(ctx: &UiContext, r: &Req, session: &Session, req: &ResetRequest) {
    let situation = req.situation.map_or("", Situation::as_str);
    let entry = NewAuditEntry::new(&session.email, "user", AuditAction::ResetRequested)
        .target(&session.email)
        .ip(r.client_ip().as_deref())
        .request_id(r.request_id())
        .detail(&[
            ("request", req.id.as_str()),
            ("origin", req.origin.as_str()),
            ("situation", situation),
            ("scope", req.scope.as_str()),
            ("privileged", if req.privileged { "true" } else { "false" }),
        ]);
    crate::admin::record_audit(ctx, entry, AuditAction::ResetRequested).await;
    let event = r
        .event(
            ctx.mfa.now(),
            EventKind::Recovery,
            true,
            Reason::RecoveryRequested,
        )
        .user(&session.user_id, &session.email)
        .detail(format!("request={} situation={situation}", req.id));
    ctx.mfa.record(event).await;
    tracing::info!(request_id = %r.request_id(), user = %session.user_id, reset_request = %req.id, "recovery request filed");
}

/// Mails the reference and the status page to the account's address (in the
/// background: the page does not wait for the mail server).
fn send_reference(ctx: &UiContext, r: &Req, req: &ResetRequest, name: &str) {
    if !ctx.notifier.email_enabled() {
        return;
    }
    let base = format!("{}://{}{}", r.scheme(ctx), r.host(), ctx.config.prefix);
    // Only a configured site may appear in mail: a forged Host cannot point elsewhere.
    if crate::redirect::safe_target(&base, &ctx.config.sites).is_none() {
        tracing::warn!(request_id = %r.request_id(), "recovery reference not mailed: host is not a configured site");
        return;
    }
    let status_link = format!("{base}mfa/lost/status");
    let help_link = format!("{base}help#{}", HelpTopic::LostDevice.anchor());
    let (notifier, lang) = (ctx.notifier.clone(), r.lang);
    let (email, name, reference) = (req.user_email.clone(), name.to_string(), req.id.clone());
    tokio::spawn(async move {
        let to = Recipient {
            email: &email,
            display_name: &name,
            lang,
        };
        let notice = Notice::RecoveryRequested {
            reference: &reference,
            status_link: &status_link,
            help_link: &help_link,
        };
        if let Err(e) = notifier.send_email(&to, &notice).await {
            tracing::warn!(error = %e, "recovery reference not sent");
        }
    });
}

/// `GET {prefix}mfa/lost/status?rd=…[&filed=RR-…]`
pub async fn status(State(ctx): Ctx, req: Request) -> Response {
    let Viewing {
        r, q, target, mine, ..
    } = match viewing(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let x = lost_device_texts(r.lang);
    // Only the user's own request is announced, whatever the query says.
    let notice = q
        .get("filed")
        .and_then(|id| mine.iter().find(|m| m.id == id))
        .map(|m| fill(x.filed, &[("reference", &m.id)]));
    let rows = mine
        .iter()
        .map(|m| StatusRow {
            reference: m.id.clone(),
            state: m.state.as_str(),
            filed: crate::settings::when(m.created_at),
            explanation: explanation(x, m.state),
        })
        .collect();
    let body = pages::render(&StatusPage {
        page: r.chrome(&ctx),
        x,
        notice,
        rows,
        may_file: !mine.iter().any(|m| m.state.is_open()),
        lost_href: page_href(&ctx, "mfa/lost", &target),
        support: SupportView::of(&ctx.config.support),
        back_href: page_href(&ctx, "mfa", &target),
    });
    html(StatusCode::OK, body)
}
