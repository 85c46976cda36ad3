//! The security settings page and its actions: authenticator app, e-mail and SMS codes,
//! backup codes, trusted browsers, sessions, recent activity. Changes that weaken or
//! replace a factor need an MFA no older than `mfa.reauth_within`.
use crate::challenge::{
    code_verdict, deliver_code, elevate, event, factor_available, mask_email, mask_phone,
    method_name, notify, totp_verdict, Feedback, Target, Verdict,
};
use crate::form::Form;
use crate::handlers::{check_form, current_session, form_page, html, read, see_other, Ctx, Req};
use crate::i18n::{enroll_texts, fill, mfa_texts};
use crate::mfa_views::{
    ActivityRow, BackupCodesPage, CodeSetupPage, DeviceRow, MethodRow, SessionRow, SettingsPage,
    TotpSetupPage,
};
use crate::pages::{self, ErrorKind};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{
    AuditAction, AuthLevel, CodeChannel, CodeOutcome, Enrollment, EventKind, MfaMethod,
    NewAuditEntry, Reason, Session, SessionKey,
};
use sekisho_config::Factor;
use sekisho_notify::{MfaMethodName, Notice};
use std::sync::Arc;

mod channels;
pub use channels::{email_confirm, email_form, email_send, sms_confirm, sms_form, sms_send};

/// `2026-11-21 09:30 UTC`
pub(crate) fn when(t: i64) -> String {
    let s = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
    )
    .to_string();
    format!("{} UTC", s.get(..16).unwrap_or(&s).replace('T', " "))
}

pub(crate) struct Ready {
    pub(crate) r: Req,
    pub(crate) form: Form,
    pub(crate) key: SessionKey,
    pub(crate) session: Arc<Session>,
    pub(crate) enrollment: Enrollment,
}

/// Reads the request; needs a full session (a partial one goes to the challenge).
pub(crate) async fn ready(ctx: &UiContext, req: Request, post: bool) -> Result<Ready, Response> {
    let (r, body) = read(ctx, req).await?;
    let form = if post {
        let form = Form::parse(&body).map_err(|_| r.error(ctx, ErrorKind::BadRequest))?;
        check_form(ctx, &r, &form).map_err(|k| r.error(ctx, k))?;
        form
    } else {
        r.query().map_err(|_| r.error(ctx, ErrorKind::BadRequest))?
    };
    let here = format!("{}settings", ctx.config.prefix);
    let Some((key, session)) = current_session(ctx, &r).await? else {
        return Err(see_other(&format!(
            "{}login?rd={}",
            ctx.config.prefix,
            enc(&here)
        )));
    };
    if session.level == AuthLevel::Partial {
        return Err(see_other(&format!(
            "{}mfa?rd={}",
            ctx.config.prefix,
            enc(&here)
        )));
    }
    let enrollment = ctx.mfa.enrollment(&session.user_id).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %r.request_id(), "could not read MFA enrolment");
        r.error(ctx, ErrorKind::Unavailable)
    })?;
    Ok(Ready {
        r,
        form,
        key,
        session,
        enrollment,
    })
}

impl Ready {
    /// Records a change the user made successfully.
    /// Also the audit log's "MFA changes"; a new factor or new backup codes finish a
    /// re-enrolment link in progress.
    async fn record_ok(&self, ctx: &UiContext, kind: EventKind, reason: Reason, method: MfaMethod) {
        let e = event(&self.r, &self.session, ctx.mfa.now(), kind, true, reason).method(method);
        ctx.mfa.record(e).await;
        let action = match reason {
            Reason::Enrolled => Some(AuditAction::MfaEnrolled),
            Reason::Removed => Some(AuditAction::MfaRemoved),
            Reason::Regenerated => Some(AuditAction::BackupCodesRegenerated),
            Reason::Revoked => Some(AuditAction::DeviceRevoked),
            _ => None,
        };
        if let Some(action) = action {
            let entry = NewAuditEntry::new(&self.session.email, "user", action)
                .target(&self.session.email)
                .ip(self.r.client_ip().as_deref())
                .request_id(self.r.request_id())
                .detail(&[("method", method.as_str().to_string())]);
            crate::admin::record_audit(ctx, entry, action).await;
        }
        if matches!(reason, Reason::Enrolled | Reason::Regenerated) {
            crate::reenrol::finish_for(ctx, &self.r, &self.session.user_id).await;
        }
    }
}

pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Sensitive changes: an enrolled user must have passed a real second factor
/// recently; otherwise the redirect to the challenge, which comes back to `back`.
fn reauth_redirect(ctx: &UiContext, x: &Ready, back: &str) -> Option<Response> {
    if !x.enrollment.is_enrolled() {
        return None;
    }
    let s = &x.session;
    let fresh = s.level == AuthLevel::Mfa
        && s.mfa_method != Some(MfaMethod::TrustedDevice)
        && s.mfa_at.is_some_and(|at| {
            ctx.mfa.now() - at <= ctx.mfa.settings().reauth_within.as_secs() as i64
        });
    (!fresh).then(|| see_other(&format!("{}mfa?rd={}", ctx.config.prefix, enc(back))))
}

fn settings_path(ctx: &UiContext) -> String {
    format!("{}settings", ctx.config.prefix)
}

/// `GET {prefix}settings`
pub async fn overview(State(ctx): Ctx, req: Request) -> Response {
    match ready(&ctx, req, false).await {
        Ok(x) => render_overview(&ctx, &x, None, None).await,
        Err(resp) => resp,
    }
}

async fn render_overview(
    ctx: &UiContext,
    x: &Ready,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let r = &x.r;
    let m = mfa_texts(r.lang);
    let e = &x.enrollment;
    let row = |f: Factor, method: MfaMethod, on: bool, detail: String| {
        (factor_available(ctx, f) || on).then(|| MethodRow {
            label: method_name(m, method),
            on,
            detail,
            preferred: on && e.methods().first() == Some(&method),
        })
    };
    let devices = ctx
        .mfa
        .trusted_devices(&x.session.user_id)
        .await
        .unwrap_or_default();
    let sessions = ctx
        .sessions
        .store()
        .list_user(&x.session.user_id)
        .await
        .unwrap_or_default();
    let activity = ctx
        .mfa
        .events()
        .activity_for_user(&x.session.user_id, 20)
        .await
        .unwrap_or_default();
    let si = crate::i18n::sign_in_texts(r.lang);
    let sign_ins = crate::sign_ins::recent(ctx, r.lang, si, &x.session.user_id).await;
    form_page(ctx, r, StatusCode::OK, |token| {
        pages::render(&SettingsPage {
            page: r.chrome(ctx),
            csrf: token,
            notice,
            error,
            totp: row(Factor::Totp, MfaMethod::Totp, e.has_totp(), String::new()),
            email: row(
                Factor::Email,
                MfaMethod::Email,
                e.email_enabled,
                if e.email_enabled {
                    mask_email(&x.session.email)
                } else {
                    String::new()
                },
            ),
            sms: row(
                Factor::Sms,
                MfaMethod::Sms,
                e.phone.is_some(),
                e.phone.as_deref().map(mask_phone).unwrap_or_default(),
            ),
            backup_status: e.is_enrolled().then(|| {
                if e.backup_total == 0 {
                    m.backup_none.to_string()
                } else {
                    fill(
                        m.backup_status,
                        &[
                            ("n", &e.backup_remaining.to_string()),
                            ("m", &e.backup_total.to_string()),
                        ],
                    )
                }
            }),
            backup_warning: (e.is_enrolled() && e.backup_total > 0 && e.backup_remaining <= 3)
                .then(|| fill(m.backup_low, &[("n", &e.backup_remaining.to_string())])),
            devices: devices
                .into_iter()
                .map(|d| DeviceRow {
                    id: d.id,
                    summary: d.ua_summary,
                    last_used: when(d.last_used_at),
                    expires: when(d.expires_at),
                })
                .collect(),
            sessions: sessions
                .into_iter()
                .map(|(k, s)| SessionRow {
                    key: k.to_hex(),
                    summary: sekisho_auth::mfa_service::ua_summary(
                        s.user_agent.as_deref().unwrap_or(""),
                    ),
                    ip: s.ip.clone().unwrap_or_default(),
                    since: when(s.created_at),
                    current: k == x.key,
                })
                .collect(),
            invite: (!e.is_enrolled()
                && ctx
                    .config
                    .rollout
                    .covering(&x.session.email, &x.session.groups)
                    .invites())
            .then(|| enroll_texts(r.lang)),
            sign_ins,
            si,
            unexpected_href: crate::help::HelpTopic::UnexpectedPrompt.href(&ctx.config.prefix),
            activity: activity
                .into_iter()
                .map(|a| ActivityRow {
                    at: when(a.at),
                    what: match &a.method {
                        Some(method) => format!("{} ({method}): {}", a.kind, a.reason),
                        None => format!("{}: {}", a.kind, a.reason),
                    },
                    ok: a.success,
                    ip: a.ip.unwrap_or_default(),
                    ua: sekisho_auth::mfa_service::ua_summary(
                        a.user_agent.as_deref().unwrap_or(""),
                    ),
                })
                .collect(),
        })
    })
}

// --- authenticator app ---

fn totp_page(
    ctx: &UiContext,
    x: &Ready,
    target: &Target,
    svg: String,
    grouped: String,
    fb: Feedback,
) -> Response {
    let r = &x.r;
    let m = mfa_texts(r.lang);
    let help_href = fb.help_href(&ctx.config.prefix);
    form_page(ctx, r, fb.status.unwrap_or(StatusCode::OK), |token| {
        pages::render(&TotpSetupPage {
            page: r.chrome(ctx),
            csrf: token,
            rd: &target.rd,
            methods: target.methods_value(),
            intro: (!x.enrollment.is_enrolled()).then_some(m.enrol_required),
            qr_svg: svg,
            secret_grouped: grouped,
            error: fb.error,
            help_href,
            step: crate::enroll::in_wizard(ctx, &target.rd)
                .then(|| enroll_texts(r.lang).step_verify),
        })
    })
}

async fn show_totp(ctx: &UiContext, x: &Ready, target: &Target, fb: Feedback) -> Response {
    let enrolment = match ctx
        .mfa
        .totp_enrollment(&x.session.user_id, &x.session.email)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, request_id = %x.r.request_id(), "could not start TOTP enrolment");
            return x.r.error(ctx, ErrorKind::Unavailable);
        }
    };
    let svg = match sekisho_auth::mfa::qr::qr_svg(&enrolment.uri) {
        Ok(svg) => svg,
        Err(e) => {
            tracing::error!(error = %e, "QR rendering failed");
            String::new()
        }
    };
    totp_page(
        ctx,
        x,
        target,
        svg,
        enrolment.secret.grouped_base32().to_string(),
        fb,
    )
}

fn setup_target(ctx: &UiContext, form: &Form) -> Target {
    let mut t = Target::from_form(ctx, form);
    if form.get("rd").is_none() {
        t.rd = settings_path(ctx);
    }
    t
}

/// `GET {prefix}settings/totp`: the QR code and the key.
pub async fn totp_form(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, false).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !factor_available(&ctx, Factor::Totp) {
        return x.r.error(&ctx, ErrorKind::NotFound);
    }
    let target = setup_target(&ctx, &x.form);
    if let Some(resp) = reauth_redirect(
        &ctx,
        &x,
        &format!("{}settings/totp?{}", ctx.config.prefix, target.query()),
    ) {
        return resp;
    }
    show_totp(&ctx, &x, &target, Feedback::default()).await
}

/// `POST {prefix}settings/totp`: the first code activates the new secret.
pub async fn totp_confirm(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let target = setup_target(&ctx, &x.form);
    if let Some(resp) = reauth_redirect(&ctx, &x, &settings_path(&ctx)) {
        return resp;
    }
    let m = mfa_texts(x.r.lang);
    let now = ctx.mfa.now();
    let outcome = match ctx
        .mfa
        .confirm_totp(&x.session.user_id, x.form.get("code").unwrap_or(""))
        .await
    {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, request_id = %x.r.request_id(), "TOTP confirmation failed");
            return x.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    if let Verdict::Refused {
        reason,
        message,
        detail,
        help,
    } = totp_verdict(m, outcome)
    {
        let mut e = event(&x.r, &x.session, now, EventKind::Enrollment, false, reason)
            .method(MfaMethod::Totp);
        if let Some(d) = detail {
            e = e.detail(d);
        }
        ctx.mfa.record(e).await;
        let fb = Feedback {
            error: Some(message),
            status: Some(StatusCode::UNAUTHORIZED),
            help,
            ..Feedback::default()
        };
        return show_totp(&ctx, &x, &target, fb).await;
    }
    x.record_ok(
        &ctx,
        EventKind::Enrollment,
        Reason::Enrolled,
        MfaMethod::Totp,
    )
    .await;
    notify(
        &ctx,
        &x.session,
        x.r.lang,
        Notice::MfaEnabled {
            method: MfaMethodName::Totp,
        },
    );
    enrolled(&ctx, &x, MfaMethod::Totp, &target.rd).await
}

/// After a factor is confirmed: the session is now MFA-level (the code proved it);
/// a first factor comes with backup codes, shown once.
async fn enrolled(ctx: &UiContext, x: &Ready, method: MfaMethod, rd: &str) -> Response {
    let mut resp = match elevate(ctx, &x.r, &x.key, &x.session, method, false, rd).await {
        Ok(resp) => resp,
        Err(resp) => return resp,
    };
    if !x.enrollment.is_enrolled() {
        crate::enroll::completed(ctx, x, method).await;
    }
    let first =
        !x.enrollment.is_enrolled() && ctx.mfa.settings().factors.contains(Factor::BackupCode);
    if first {
        let m = mfa_texts(x.r.lang);
        let cookies: Vec<_> = resp
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        resp = match backup_codes_page(ctx, x, rd, Some(m.totp_enabled)).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        for c in cookies {
            resp.headers_mut().append(http::header::SET_COOKIE, c);
        }
    }
    resp
}

async fn backup_codes_page(
    ctx: &UiContext,
    x: &Ready,
    continue_to: &str,
    notice: Option<&'static str>,
) -> Result<Response, Response> {
    let codes = ctx.mfa.regenerate_backup_codes(&x.session.user_id).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %x.r.request_id(), "could not make backup codes");
        x.r.error(ctx, ErrorKind::Unavailable)
    })?;
    x.record_ok(
        ctx,
        EventKind::Settings,
        Reason::Regenerated,
        MfaMethod::BackupCode,
    )
    .await;
    let codes: Vec<String> = codes.iter().map(|c| c.display().to_string()).collect();
    let text = format!("{}\n\n{}\n", ctx.config.product, codes.join("\n"));
    Ok(html(
        StatusCode::OK,
        pages::render(&BackupCodesPage {
            page: x.r.chrome(ctx),
            download_href: format!("data:text/plain;charset=utf-8,{}", enc(&text)),
            codes,
            continue_to,
            notice,
            step: crate::enroll::in_wizard(ctx, continue_to)
                .then(|| enroll_texts(x.r.lang).step_backup),
        }),
    ))
}

/// `POST {prefix}settings/totp/remove`
pub async fn totp_remove(State(ctx): Ctx, req: Request) -> Response {
    remove_factor(ctx, req, MfaMethod::Totp).await
}

/// `POST {prefix}settings/email/remove` and `…/sms/remove`.
pub async fn email_remove(State(ctx): Ctx, req: Request) -> Response {
    remove_factor(ctx, req, MfaMethod::Email).await
}

pub async fn sms_remove(State(ctx): Ctx, req: Request) -> Response {
    remove_factor(ctx, req, MfaMethod::Sms).await
}

async fn remove_factor(ctx: Arc<UiContext>, req: Request, method: MfaMethod) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if let Some(resp) = reauth_redirect(&ctx, &x, &settings_path(&ctx)) {
        return resp;
    }
    let uid = &x.session.user_id;
    let (done, name) = match method {
        MfaMethod::Totp => (
            ctx.mfa.remove_totp(uid).await.map(|_| ()),
            MfaMethodName::Totp,
        ),
        MfaMethod::Email => (
            ctx.mfa.factors().set_email_enabled(uid, false).await,
            MfaMethodName::Email,
        ),
        _ => (
            ctx.mfa.factors().set_phone(uid, None).await,
            MfaMethodName::Sms,
        ),
    };
    if let Err(e) = done {
        tracing::error!(error = %e, request_id = %x.r.request_id(), "could not remove a factor");
        return x.r.error(&ctx, ErrorKind::Unavailable);
    }
    x.record_ok(&ctx, EventKind::Settings, Reason::Removed, method)
        .await;
    notify(
        &ctx,
        &x.session,
        x.r.lang,
        Notice::MfaDisabled { method: name },
    );
    refreshed(&ctx, x).await
}

/// Re-reads the enrolment and shows the overview with "saved".
async fn refreshed(ctx: &UiContext, mut x: Ready) -> Response {
    if let Ok(e) = ctx.mfa.enrollment(&x.session.user_id).await {
        x.enrollment = e;
    }
    let text = mfa_texts(x.r.lang).saved.to_string();
    render_overview(ctx, &x, Some(text), None).await
}

// --- backup codes, browsers, sessions ---

/// `POST {prefix}settings/backup`: a new set, shown once.
pub async fn backup_regenerate(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !x.enrollment.is_enrolled() {
        return x.r.error(&ctx, ErrorKind::BadRequest);
    }
    if let Some(resp) = reauth_redirect(&ctx, &x, &settings_path(&ctx)) {
        return resp;
    }
    notify(&ctx, &x.session, x.r.lang, Notice::BackupCodesRegenerated);
    let rd = settings_path(&ctx);
    match backup_codes_page(&ctx, &x, &rd, None).await {
        Ok(r) | Err(r) => r,
    }
}

/// `POST {prefix}settings/devices/revoke` with `id` (or `all`).
pub async fn device_revoke(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let uid = &x.session.user_id;
    let id = x.form.get("id").unwrap_or("");
    let done = if id == "all" {
        ctx.mfa
            .factors()
            .revoke_all_trusted_devices(uid)
            .await
            .map(|_| ())
    } else {
        ctx.mfa
            .factors()
            .revoke_trusted_device(uid, id)
            .await
            .map(|_| ())
    };
    if let Err(e) = done {
        tracing::error!(error = %e, "could not revoke a trusted browser");
        return x.r.error(&ctx, ErrorKind::Unavailable);
    }
    x.record_ok(
        &ctx,
        EventKind::Settings,
        Reason::Revoked,
        MfaMethod::TrustedDevice,
    )
    .await;
    refreshed(&ctx, x).await
}

/// `POST {prefix}settings/sessions/revoke` with the session's `key` (hash, never the id).
pub async fn session_revoke(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Some(key) = x.form.get("key").and_then(SessionKey::from_hex) else {
        return x.r.error(&ctx, ErrorKind::BadRequest);
    };
    // Only the user's own sessions.
    if let Err(e) = ctx.sessions.revoke(&key, &x.session.user_id).await {
        tracing::error!(error = %e, "could not end a session");
        return x.r.error(&ctx, ErrorKind::Unavailable);
    }
    refreshed(&ctx, x).await
}
