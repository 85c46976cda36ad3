//! Turning on e-mail and SMS codes: send a code to the address or phone, confirm it.
use super::*;

// --- e-mail and SMS codes ---

fn code_setup(
    ctx: &UiContext,
    x: &Ready,
    channel: CodeChannel,
    phone: &str,
    fb: Feedback,
    code_sent: bool,
) -> Response {
    let r = &x.r;
    let target = setup_target(ctx, &x.form);
    let m = mfa_texts(r.lang);
    let help_href = fb.help_href(&ctx.config.prefix);
    form_page(ctx, r, fb.status.unwrap_or(StatusCode::OK), |token| {
        pages::render(&CodeSetupPage {
            page: r.chrome(ctx),
            csrf: token,
            heading: if channel == CodeChannel::Sms {
                m.sms_setup_title
            } else {
                m.email_setup_title
            },
            channel: if channel == CodeChannel::Sms {
                "sms"
            } else {
                "email"
            },
            intro: (channel == CodeChannel::Email).then(|| {
                fill(
                    m.email_setup_intro,
                    &[("to", &mask_email(&x.session.email))],
                )
            }),
            phone,
            code_sent,
            notice: fb.notice,
            error: fb.error,
            help_href,
            rd: &target.rd,
            step: crate::enroll::in_wizard(ctx, &target.rd)
                .then(|| crate::i18n::enroll_texts(r.lang).step_verify),
        })
    })
}

fn channel_factor(ch: CodeChannel) -> Factor {
    if ch == CodeChannel::Sms {
        Factor::Sms
    } else {
        Factor::Email
    }
}

/// `GET {prefix}settings/email` and `…/sms`
pub async fn email_form(State(ctx): Ctx, req: Request) -> Response {
    code_form(ctx, req, CodeChannel::Email).await
}

pub async fn sms_form(State(ctx): Ctx, req: Request) -> Response {
    code_form(ctx, req, CodeChannel::Sms).await
}

async fn code_form(ctx: Arc<UiContext>, req: Request, ch: CodeChannel) -> Response {
    let x = match ready(&ctx, req, false).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !factor_available(&ctx, channel_factor(ch)) {
        return x.r.error(&ctx, ErrorKind::NotFound);
    }
    let back = format!(
        "{}settings/{}",
        ctx.config.prefix,
        if ch == CodeChannel::Sms {
            "sms"
        } else {
            "email"
        }
    );
    if let Some(resp) = reauth_redirect(&ctx, &x, &back) {
        return resp;
    }
    code_setup(&ctx, &x, ch, "", Feedback::default(), false)
}

/// A phone number in international form: `+`, then 8–15 digits (spaces, dashes allowed).
fn parse_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let rest = raw.strip_prefix('+')?;
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    ((8..=15).contains(&digits.len()) && !digits.starts_with('0')).then(|| format!("+{digits}"))
}

/// `POST {prefix}settings/email/send` and `…/sms/send`
pub async fn email_send(State(ctx): Ctx, req: Request) -> Response {
    code_send(ctx, req, CodeChannel::Email).await
}

pub async fn sms_send(State(ctx): Ctx, req: Request) -> Response {
    code_send(ctx, req, CodeChannel::Sms).await
}

async fn code_send(ctx: Arc<UiContext>, req: Request, ch: CodeChannel) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !factor_available(&ctx, channel_factor(ch)) {
        return x.r.error(&ctx, ErrorKind::NotFound);
    }
    if let Some(resp) = reauth_redirect(&ctx, &x, &settings_path(&ctx)) {
        return resp;
    }
    let m = mfa_texts(x.r.lang);
    let raw_phone = x.form.get("phone").unwrap_or("").to_string();
    let phone = match ch {
        CodeChannel::Sms => match parse_phone(&raw_phone) {
            Some(p) => Some(p),
            None => {
                let fb = Feedback {
                    error: Some(m.err_phone.into()),
                    status: Some(StatusCode::BAD_REQUEST),
                    ..Feedback::default()
                };
                return code_setup(&ctx, &x, ch, &raw_phone, fb, false);
            }
        },
        CodeChannel::Email => None,
    };
    let bind = phone.clone().unwrap_or_else(|| "enable-email".into());
    let fb = deliver_code(
        &ctx,
        &x.r,
        &x.session,
        ch.method(),
        phone.as_deref(),
        Some(&bind),
    )
    .await;
    let sent = fb.error.is_none();
    code_setup(&ctx, &x, ch, phone.as_deref().unwrap_or(""), fb, sent)
}

/// `POST {prefix}settings/email/confirm` and `…/sms/confirm`
pub async fn email_confirm(State(ctx): Ctx, req: Request) -> Response {
    code_confirm(ctx, req, CodeChannel::Email).await
}

pub async fn sms_confirm(State(ctx): Ctx, req: Request) -> Response {
    code_confirm(ctx, req, CodeChannel::Sms).await
}

async fn code_confirm(ctx: Arc<UiContext>, req: Request, ch: CodeChannel) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if let Some(resp) = reauth_redirect(&ctx, &x, &settings_path(&ctx)) {
        return resp;
    }
    let m = mfa_texts(x.r.lang);
    let uid = x.session.user_id.clone();
    let target = match ctx.mfa.pending_code_target(&uid, ch).await {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(error = %e, "code store unavailable");
            return x.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let outcome = match ctx
        .mfa
        .check_code(&uid, ch, x.form.get("code").unwrap_or(""))
        .await
    {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "code check failed");
            return x.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let now = ctx.mfa.now();
    let phone = target.clone().unwrap_or_default();
    let still_open = matches!(outcome, CodeOutcome::Invalid { .. });
    if let Verdict::Refused {
        reason,
        message,
        help,
        ..
    } = code_verdict(m, outcome)
    {
        ctx.mfa
            .record(
                event(&x.r, &x.session, now, EventKind::Enrollment, false, reason)
                    .method(ch.method()),
            )
            .await;
        let fb = Feedback {
            error: Some(message),
            status: Some(StatusCode::UNAUTHORIZED),
            help,
            ..Feedback::default()
        };
        return code_setup(&ctx, &x, ch, &phone, fb, still_open);
    }
    let saved = match ch {
        CodeChannel::Email => ctx.mfa.factors().set_email_enabled(&uid, true).await,
        CodeChannel::Sms => match target.as_deref() {
            Some(p) => ctx.mfa.factors().set_phone(&uid, Some(p)).await,
            None => return x.r.error(&ctx, ErrorKind::BadRequest),
        },
    };
    if let Err(e) = saved {
        tracing::error!(error = %e, "could not save the factor");
        return x.r.error(&ctx, ErrorKind::Unavailable);
    }
    x.record_ok(&ctx, EventKind::Enrollment, Reason::Enrolled, ch.method())
        .await;
    let name = if ch == CodeChannel::Sms {
        MfaMethodName::Sms
    } else {
        MfaMethodName::Email
    };
    notify(
        &ctx,
        &x.session,
        x.r.lang,
        Notice::MfaEnabled { method: name },
    );
    let target = setup_target(&ctx, &x.form);
    enrolled(&ctx, &x, ch.method(), &target.rd).await
}
