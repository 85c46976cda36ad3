//! The second step of signing in: the challenge after the password, step-up for
//! `two_factor` rules (`max_mfa_age`, `mfa_methods`), and what happens on success —
//! a new session id at level `mfa`, an optional trusted-browser cookie, notices.
use crate::form::Form;
use crate::handlers::{
    add_cookie, base_cookie, check_form, current_session, form_page, html, rd_or_default, read,
    see_other, Ctx, Req,
};
use crate::help::HelpTopic;
use crate::i18n::{fill, MfaTexts};
use crate::mfa_views::{ChallengePage, MethodLink, NoticePage};
use crate::pages::{self, ErrorKind};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::session::SessionSubject;
use sekisho_auth::{
    AuthEvent, AuthLevel, BackupOutcome, CodeChannel, CodeOutcome, Enrollment, EventKind,
    IssueOutcome, MfaMethod, Reason, Session, SessionKey, SignInMethod, TotpOutcome, User,
};
use sekisho_config::{Factor, FactorSet, Lang, MfaAtLogin};
use sekisho_notify::{Notice, Recipient};
use sekisho_policy::Nudge;
use std::sync::Arc;

mod codes;
pub(crate) use codes::{check, code_verdict, deliver_code, totp_verdict, Verdict};

/// Where to go after the challenge, and which factors the page there accepts.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub rd: String,
    pub allowed: FactorSet,
}

impl Target {
    pub(crate) fn from_form(ctx: &UiContext, form: &Form) -> Self {
        let allowed = form
            .get("methods")
            .map(FactorSet::from_list)
            .filter(|s| *s != FactorSet::default())
            .unwrap_or(FactorSet::ALL);
        Self {
            rd: rd_or_default(ctx, form.get("rd")),
            allowed,
        }
    }

    /// `rd=…&methods=…` for links between the challenge pages.
    pub(crate) fn query(&self) -> String {
        let rd =
            percent_encoding::utf8_percent_encode(&self.rd, percent_encoding::NON_ALPHANUMERIC);
        if self.allowed.is_all() {
            format!("rd={rd}")
        } else {
            format!("rd={rd}&methods={}", self.allowed.to_list())
        }
    }

    pub(crate) fn methods_value(&self) -> String {
        if self.allowed.is_all() {
            String::new()
        } else {
            self.allowed.to_list()
        }
    }
}

pub(crate) fn factor_of(m: MfaMethod) -> Option<Factor> {
    match m {
        MfaMethod::Totp => Some(Factor::Totp),
        MfaMethod::Email => Some(Factor::Email),
        MfaMethod::Sms => Some(Factor::Sms),
        MfaMethod::BackupCode => Some(Factor::BackupCode),
        MfaMethod::TrustedDevice => None,
    }
}

pub(crate) fn method_name(m: &MfaTexts, method: MfaMethod) -> &'static str {
    match method {
        MfaMethod::Totp => m.method_totp,
        MfaMethod::Email => m.method_email,
        MfaMethod::Sms => m.method_sms,
        MfaMethod::BackupCode => m.method_backup_code,
        MfaMethod::TrustedDevice => m.method_trusted_device,
    }
}

/// Is this factor switched on for the deployment (config and a working channel)?
pub(crate) fn factor_available(ctx: &UiContext, f: Factor) -> bool {
    ctx.mfa.settings().factors.contains(f)
        && match f {
            Factor::Email => ctx.notifier.email_enabled(),
            Factor::Sms => ctx.notifier.sms_enabled(),
            Factor::Totp | Factor::BackupCode => true,
        }
}

/// The user's methods this page accepts, preferred first.
pub(crate) fn usable_methods(
    ctx: &UiContext,
    e: &Enrollment,
    allowed: FactorSet,
) -> Vec<MfaMethod> {
    e.methods()
        .into_iter()
        .filter(|m| factor_of(*m).is_some_and(|f| allowed.contains(f) && factor_available(ctx, f)))
        .collect()
}

/// `k•••@example.com`: enough to recognise the address, not to harvest it.
pub(crate) fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

pub(crate) fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("••• {tail}")
}

pub(crate) fn event(
    r: &Req,
    s: &Session,
    now: i64,
    kind: EventKind,
    ok: bool,
    reason: Reason,
) -> AuthEvent {
    r.event(now, kind, ok, reason).user(&s.user_id, &s.email)
}

/// After a correct password: a full session, or a partial one that owes the second
/// factor (skipped by a trusted browser).
pub(crate) async fn finish_password(ctx: &UiContext, r: &Req, user: User, rd: &str) -> Response {
    let enrollment = match ctx.mfa.enrollment(&user.id).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not read MFA enrolment");
            return r.error(ctx, ErrorKind::Unavailable);
        }
    };
    let now = ctx.mfa.now();
    let mut level = AuthLevel::Password;
    let mut method = None;
    if enrollment.is_enrolled() && ctx.mfa.settings().at_login == MfaAtLogin::Enrolled {
        level = AuthLevel::Partial;
        if let Some(token) = crate::cookies::find(&r.headers, &ctx.config.device_cookie) {
            match ctx.mfa.check_device(&user.id, token).await {
                Ok(true) => {
                    level = AuthLevel::Mfa;
                    method = Some(MfaMethod::TrustedDevice);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "trusted browser check failed"),
            }
        }
    }
    let nudge = if enrollment.is_enrolled() {
        Nudge::None
    } else {
        match crate::enroll::at_sign_in(ctx, &user, now).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, request_id = %r.request_id(), "could not read the MFA rollout state");
                return r.error(ctx, ErrorKind::Unavailable);
            }
        }
    };
    let enrolment_due = matches!(nudge, Nudge::Forced { .. });
    if let Some(old) = r.session_key(ctx) {
        if let Err(e) = ctx.sessions.end(&old).await {
            tracing::warn!(error = %e, "could not end the previous session");
        }
    }
    let who = SessionSubject {
        user_id: &user.id,
        email: user.email.as_str(),
        display_name: &user.display_name,
        groups: &user.groups,
        credential_version: user.credential_version,
    };
    let (id, session) = match ctx
        .sessions
        .start_with(
            who,
            level,
            method,
            enrolment_due,
            r.client_ip(),
            r.user_agent(),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "session store unavailable");
            return r.error(ctx, ErrorKind::Unavailable);
        }
    };
    if let Err(e) = ctx.accounts.record_sign_in(&user.id, now).await {
        tracing::warn!(error = %e, "could not record the sign-in time");
    }
    ctx.mfa
        .record(event(
            r,
            &session,
            now,
            EventKind::Password,
            true,
            Reason::Ok,
        ))
        .await;
    if method == Some(MfaMethod::TrustedDevice) {
        ctx.mfa
            .record(
                event(
                    r,
                    &session,
                    now,
                    EventKind::SecondFactor,
                    true,
                    Reason::TrustedDevice,
                )
                .method(MfaMethod::TrustedDevice),
            )
            .await;
    }
    tracing::info!(request_id = %r.request_id(), user = %user.id, level = ?level, "password accepted");
    let location = if level == AuthLevel::Partial {
        let target = Target {
            rd: rd.to_string(),
            allowed: FactorSet::ALL,
        };
        format!("{}mfa?{}", ctx.config.prefix, target.query())
    } else {
        crate::enroll::interstitial_location(ctx, &nudge, rd).unwrap_or_else(|| rd.to_string())
    };
    let mut resp = see_other(&location);
    add_cookie(
        &mut resp,
        &base_cookie(
            ctx,
            &ctx.config.session_cookie,
            id.as_cookie_value().to_string(),
        ),
    );
    if level != AuthLevel::Partial {
        let how = method.map_or(SignInMethod::Password, SignInMethod::SecondFactor);
        crate::sign_ins::completed(ctx, r, &session, how, &mut resp).await;
    }
    resp
}

/// What the challenge page shows besides the form.
#[derive(Default)]
pub(crate) struct Feedback {
    pub notice: Option<String>,
    pub error: Option<String>,
    pub status: Option<StatusCode>,
    /// The help entry linked beside `error`.
    pub help: Option<HelpTopic>,
}

impl Feedback {
    pub(crate) fn problem(error: String, status: StatusCode, help: HelpTopic) -> Self {
        Self {
            error: Some(error),
            status: Some(status),
            help: Some(help),
            ..Self::default()
        }
    }

    /// `{prefix}help#…` for the error, if it has an entry.
    pub(crate) fn help_href(&self, prefix: &str) -> Option<String> {
        self.error
            .as_ref()
            .and(self.help)
            .map(|topic| topic.href(prefix))
    }
}

struct Challenge<'a> {
    ctx: &'a UiContext,
    r: &'a Req,
    session: &'a Session,
    target: &'a Target,
    usable: &'a [MfaMethod],
}

impl Challenge<'_> {
    fn page(&self, method: MfaMethod, fb: Feedback) -> Response {
        let (ctx, r) = (self.ctx, self.r);
        let m = crate::i18n::mfa_texts(r.lang);
        let send_to = match method {
            MfaMethod::Email => Some(fill(m.send_to, &[("to", &mask_email(&self.session.email))])),
            MfaMethod::Sms => Some(fill(m.send_to, &[("to", m.method_sms)])),
            _ => None,
        };
        let others = self
            .usable
            .iter()
            .filter(|o| **o != method)
            .map(|o| MethodLink {
                label: method_name(m, *o),
                href: format!(
                    "{}mfa?m={}&{}",
                    ctx.config.prefix,
                    o.as_str(),
                    self.target.query()
                ),
            })
            .collect();
        let trust_days = ctx
            .mfa
            .settings()
            .trusted_device_for
            .map(|d| (d.as_secs() / 86_400).max(1).to_string());
        let help_href = fb.help_href(&ctx.config.prefix);
        form_page(ctx, r, fb.status.unwrap_or(StatusCode::OK), |token| {
            pages::render(&ChallengePage {
                page: r.chrome(ctx),
                csrf: token,
                rd: &self.target.rd,
                methods: self.target.methods_value(),
                method: method.as_str(),
                method_label: method_name(m, method),
                intro: if self.session.level == AuthLevel::Partial {
                    m.mfa_intro
                } else {
                    m.step_up_intro
                },
                send_to,
                notice: fb.notice,
                error: fb.error,
                help_href,
                others,
                lost_device_href: format!("{}mfa/lost?{}", ctx.config.prefix, self.target.query()),
                trust_label: trust_days.map(|n| fill(m.trust_label, &[("n", &n)])),
            })
        })
    }
}

/// Loads the session and the user's usable methods, or answers for the caller.
pub(crate) async fn prepare(
    ctx: &UiContext,
    r: &Req,
    target: &Target,
) -> Result<(SessionKey, Arc<Session>, Enrollment, Vec<MfaMethod>), Response> {
    let Some((key, session)) = current_session(ctx, r).await? else {
        let rd =
            percent_encoding::utf8_percent_encode(&target.rd, percent_encoding::NON_ALPHANUMERIC);
        return Err(see_other(&format!("{}login?rd={rd}", ctx.config.prefix)));
    };
    let enrollment = ctx.mfa.enrollment(&session.user_id).await.map_err(|e| {
        tracing::error!(error = %e, request_id = %r.request_id(), "could not read MFA enrolment");
        r.error(ctx, ErrorKind::Unavailable)
    })?;
    let usable = usable_methods(ctx, &enrollment, target.allowed);
    Ok((key, session, enrollment, usable))
}

/// Not enrolled: set up an authenticator app first. Enrolled, but nothing this page
/// accepts: say which methods would do.
fn no_method(ctx: &UiContext, r: &Req, target: &Target, enrollment: &Enrollment) -> Response {
    if !enrollment.is_enrolled() && factor_available(ctx, Factor::Totp) {
        return see_other(&format!(
            "{}settings/totp?{}",
            ctx.config.prefix,
            target.query()
        ));
    }
    let m = crate::i18n::mfa_texts(r.lang);
    let list = target
        .allowed
        .iter()
        .filter(|f| factor_available(ctx, *f))
        .filter_map(|f| MfaMethod::parse(f.as_str()))
        .map(|mm| method_name(m, mm))
        .collect::<Vec<_>>()
        .join(", ");
    let body = pages::render(&NoticePage {
        page: r.chrome(ctx),
        heading: m.mfa_title,
        message: fill(m.not_allowed, &[("list", &list)]),
        link_href: format!("{}settings?{}", ctx.config.prefix, target.query()),
        link_label: m.settings_link,
    });
    html(StatusCode::FORBIDDEN, body)
}

/// `GET {prefix}mfa?rd=…&methods=…&m=…`
pub async fn challenge_form(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(q) = r.query() else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let target = Target::from_form(&ctx, &q);
    let (_, session, enrollment, usable) = match prepare(&ctx, &r, &target).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(first) = usable.first().copied() else {
        return no_method(&ctx, &r, &target, &enrollment);
    };
    let method = q
        .get("m")
        .and_then(MfaMethod::parse)
        .filter(|m| usable.contains(m))
        .unwrap_or(first);
    Challenge {
        ctx: &ctx,
        r: &r,
        session: &session,
        target: &target,
        usable: &usable,
    }
    .page(method, Feedback::default())
}

/// `POST {prefix}mfa/send`: e-mails or texts a one-time code.
pub async fn send_code(State(ctx): Ctx, req: Request) -> Response {
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
    let target = Target::from_form(&ctx, &form);
    let (_, session, enrollment, usable) = match prepare(&ctx, &r, &target).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let method = form.get("m").and_then(MfaMethod::parse);
    let (Some(method @ (MfaMethod::Email | MfaMethod::Sms)), true) =
        (method, method.is_some_and(|m| usable.contains(&m)))
    else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let ch = Challenge {
        ctx: &ctx,
        r: &r,
        session: &session,
        target: &target,
        usable: &usable,
    };
    let destination = match method {
        MfaMethod::Sms => enrollment.phone.clone(),
        _ => None,
    };
    let fb = deliver_code(&ctx, &r, &session, method, destination.as_deref(), None).await;
    ch.page(method, fb)
}

/// `POST {prefix}mfa/verify`
pub async fn verify(State(ctx): Ctx, req: Request) -> Response {
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
    let target = Target::from_form(&ctx, &form);
    let (key, session, _, usable) = match prepare(&ctx, &r, &target).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(method) = form
        .get("m")
        .and_then(MfaMethod::parse)
        .filter(|m| usable.contains(m))
    else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let now = ctx.mfa.now();
    let (attempt, locked) = match crate::guard::admit(&ctx, &session.user_id, &r).await {
        Ok(crate::guard::Admission::Check(a)) => (a, None),
        Ok(crate::guard::Admission::Locked { scope, retry_after }) => {
            (None, Some((scope, retry_after)))
        }
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "counter store unavailable");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let verdict = if let Some((scope, retry_after)) = locked {
        Ok(Verdict::Refused {
            reason: Reason::TooManyAttempts,
            message: fill(
                crate::i18n::mfa_texts(r.lang).err_paused,
                &[("wait", &crate::guard::wait_phrase(r.lang, retry_after))],
            ),
            detail: Some(format!("locked={}", scope.as_str())),
            help: Some(HelpTopic::LockedOut),
        })
    } else {
        check(
            &ctx,
            r.lang,
            &session.user_id,
            method,
            form.get("code").unwrap_or(""),
        )
        .await
    };
    let verdict = match verdict {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "second factor check failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let ch = Challenge {
        ctx: &ctx,
        r: &r,
        session: &session,
        target: &target,
        usable: &usable,
    };
    let backup_left = match verdict {
        Verdict::Accepted { backup_left } => backup_left,
        Verdict::Refused {
            reason,
            message,
            detail,
            help,
        } => {
            if locked.is_none() {
                let to = Some((session.email.as_str(), session.display_name.as_str()));
                crate::guard::failed(&ctx, attempt, to, r.lang).await;
            }
            let mut e =
                event(&r, &session, now, EventKind::SecondFactor, false, reason).method(method);
            if let Some(d) = detail {
                e = e.detail(d);
            }
            tracing::info!(request_id = %r.request_id(), user = %session.user_id, reason = %reason, "second factor refused");
            ctx.mfa.record(e).await;
            let status = if locked.is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let page = ch.page(
                method,
                Feedback {
                    error: Some(message),
                    status: Some(status),
                    help,
                    ..Feedback::default()
                },
            );
            return match locked {
                Some((_, retry_after)) => crate::guard::with_retry_after(page, retry_after),
                None => page,
            };
        }
    };
    crate::guard::succeeded(&ctx, attempt).await;
    let reason = if backup_left.is_some() {
        Reason::BackupCodeUsed
    } else {
        Reason::Ok
    };
    ctx.mfa
        .record(event(&r, &session, now, EventKind::SecondFactor, true, reason).method(method))
        .await;
    let trust = form.get("trust") == Some("1");
    let mut resp = match elevate(&ctx, &r, &key, &session, method, trust, &target.rd).await {
        Ok(resp) => resp,
        Err(resp) => return resp,
    };
    if let Some(remaining) = backup_left {
        notify(&ctx, &session, r.lang, Notice::BackupCodeUsed { remaining });
        if remaining <= 3 {
            // Keep the new cookies, show the warning, then continue.
            let m = crate::i18n::mfa_texts(r.lang);
            let cookies: Vec<_> = resp
                .headers()
                .get_all(http::header::SET_COOKIE)
                .iter()
                .cloned()
                .collect();
            resp = html(
                StatusCode::OK,
                pages::render(&NoticePage {
                    page: r.chrome(&ctx),
                    heading: m.backup_heading,
                    message: fill(m.backup_low, &[("n", &remaining.to_string())]),
                    link_href: target.rd.clone(),
                    link_label: r.chrome(&ctx).t.continue_link,
                }),
            );
            for c in cookies {
                resp.headers_mut().append(http::header::SET_COOKIE, c);
            }
        }
    }
    resp
}

/// Rotates the session to level `mfa`, sets the trusted-browser cookie when asked,
/// and redirects to `rd`.
pub(crate) async fn elevate(
    ctx: &UiContext,
    r: &Req,
    key: &SessionKey,
    session: &Session,
    method: MfaMethod,
    trust: bool,
    rd: &str,
) -> Result<Response, Response> {
    let (id, _) = ctx
        .sessions
        .elevate(key, session, method)
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, request_id = %r.request_id(), "session store unavailable");
            r.error(ctx, ErrorKind::Unavailable)
        })?;
    let mut resp = see_other(rd);
    add_cookie(
        &mut resp,
        &base_cookie(
            ctx,
            &ctx.config.session_cookie,
            id.as_cookie_value().to_string(),
        ),
    );
    if trust {
        match ctx
            .mfa
            .trust_device(&session.user_id, r.user_agent(), r.client_ip().as_deref())
            .await
        {
            Ok(Some((token, expires_at))) => {
                let mut c = base_cookie(ctx, &ctx.config.device_cookie, token.to_string());
                c.set_max_age(cookie::time::Duration::seconds(
                    (expires_at - ctx.mfa.now()).max(0),
                ));
                add_cookie(&mut resp, &c);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not remember the browser"),
        }
    }
    // Only the password step makes partial sessions: this ends a sign-in. Any other
    // level is a step-up or enrolment inside one (see `sign_ins`).
    if session.level == AuthLevel::Partial {
        let how = SignInMethod::SecondFactor(method);
        crate::sign_ins::completed(ctx, r, session, how, &mut resp).await;
    }
    tracing::info!(request_id = %r.request_id(), user = %session.user_id, method = %method, "second factor accepted");
    Ok(resp)
}

/// Sends a security notice in the background: the user is not kept waiting, and a
/// failure is logged and counted by the notifier.
pub(crate) fn notify(ctx: &UiContext, session: &Session, lang: Lang, notice: Notice<'static>) {
    notify_to(
        ctx,
        session.email.clone(),
        session.display_name.clone(),
        lang,
        notice,
    );
}

/// Sends a security notice to `email` in the background; a failure is only logged.
pub(crate) fn notify_to(
    ctx: &UiContext,
    email: String,
    name: String,
    lang: Lang,
    notice: Notice<'static>,
) {
    if !ctx.notifier.email_enabled() {
        return;
    }
    let notifier = ctx.notifier.clone();
    tokio::spawn(async move {
        let to = Recipient {
            email: &email,
            display_name: &name,
            lang,
        };
        if let Err(e) = notifier.send_email(&to, &notice).await {
            tracing::warn!(error = %e, "security notice not sent");
        }
    });
}
