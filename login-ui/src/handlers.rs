//! The request handlers behind [`crate::router`].
use crate::csrf;
use crate::form::Form;
use crate::guard::Admission;
use crate::i18n::{self, LANG_COOKIE};
use crate::pages::{
    self, AccountPage, ErrorKind, LoginPage, LogoutPage, PageChrome, SignedOutPage,
};
use crate::redirect::safe_target;
use crate::{ClientInfo, Requester, UiContext};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use sekisho_auth::{
    AuthError, AuthEvent, AuthLevel, Email, EventKind, PasswordInput, Reason, Session, SessionKey,
};
use sekisho_config::Lang;
use std::sync::Arc;

pub(crate) type Ctx = State<Arc<UiContext>>;

/// What every handler needs to know about the request.
pub(crate) struct Req {
    pub(crate) headers: HeaderMap,
    pub(crate) uri: Uri,
    pub(crate) client: Option<ClientInfo>,
    pub(crate) lang: Lang,
    /// The gateway's id, or (called without the gateway, in tests) one of our own,
    /// the same for every use within the request.
    id: String,
}

impl Req {
    fn new(ctx: &UiContext, headers: HeaderMap, uri: Uri, client: Option<ClientInfo>) -> Self {
        let lang = i18n::negotiate(&headers, ctx.config.default_lang);
        let id = client
            .as_ref()
            .map_or_else(|| sekisho_auth::random_token(9), |c| c.request_id.clone());
        Self {
            headers,
            uri,
            client,
            lang,
            id,
        }
    }

    pub(crate) fn here(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }

    pub(crate) fn chrome(&self, ctx: &UiContext) -> PageChrome {
        PageChrome::new(
            self.lang,
            &ctx.config.product,
            &ctx.config.prefix,
            self.here(),
        )
    }

    pub(crate) fn request_id(&self) -> &str {
        &self.id
    }

    pub(crate) fn scheme<'a>(&'a self, ctx: &'a UiContext) -> &'a str {
        self.client.as_ref().map_or(ctx.config.scheme, |c| c.scheme)
    }

    pub(crate) fn host(&self) -> &str {
        self.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
            .unwrap_or("")
    }

    pub(crate) fn query(&self) -> Result<Form, ()> {
        Form::parse(self.uri.query().unwrap_or("").as_bytes()).map_err(|_| ())
    }

    pub(crate) fn session_key(&self, ctx: &UiContext) -> Option<SessionKey> {
        crate::cookies::find(&self.headers, &ctx.config.session_cookie)
            .and_then(SessionKey::from_cookie)
    }

    pub(crate) fn error(&self, ctx: &UiContext, kind: ErrorKind) -> Response {
        let who = Requester {
            request_id: self.request_id(),
            ip: self.client.as_ref().map(|c| c.ip),
            user: None,
        };
        ctx.error_response(kind, &self.headers, self.here(), &who)
            .into_response()
    }

    pub(crate) fn user_agent(&self) -> Option<&str> {
        self.headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }

    pub(crate) fn client_ip(&self) -> Option<String> {
        self.client.as_ref().map(|c| c.ip.to_string())
    }

    /// An auth event carrying this request's id, client address and browser.
    pub(crate) fn event(&self, now: i64, kind: EventKind, ok: bool, reason: Reason) -> AuthEvent {
        AuthEvent::new(now, kind, ok, reason)
            .client(self.client_ip().as_deref(), self.user_agent())
            .request(self.request_id())
    }

    pub(crate) fn from_parts(ctx: &UiContext, parts: http::request::Parts) -> Self {
        let client = parts.extensions.get::<ClientInfo>().cloned();
        Self::new(ctx, parts.headers, parts.uri, client)
    }
}

/// Splits a request and reads its body within the configured cap.
pub(crate) async fn read(ctx: &UiContext, req: Request) -> Result<(Req, Bytes), Response> {
    let (parts, body) = req.into_parts();
    let r = Req::from_parts(ctx, parts);
    match axum::body::to_bytes(body, ctx.config.max_body_bytes).await {
        Ok(bytes) => Ok((r, bytes)),
        Err(_) => Err(r.error(ctx, ErrorKind::PayloadTooLarge)),
    }
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

pub(crate) fn add_cookie(resp: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

pub(crate) fn base_cookie<'c>(ctx: &UiContext, name: &str, value: String) -> Cookie<'c> {
    let mut c = Cookie::build((name.to_string(), value))
        .http_only(true)
        .secure(ctx.config.cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    if let Some(d) = &ctx.config.cookie_domain {
        c.set_domain(d.clone());
    }
    c
}

/// The CSRF nonce from the cookie, or a new one to set.
pub(crate) fn csrf_nonce(ctx: &UiContext, r: &Req) -> (String, Option<Cookie<'static>>) {
    match crate::cookies::find(&r.headers, &ctx.config.csrf_cookie) {
        Some(n) if n.len() >= 20 && n.len() <= 64 => (n.to_string(), None),
        _ => {
            let n = sekisho_auth::random_token(32);
            let c = base_cookie(ctx, &ctx.config.csrf_cookie, n.clone());
            (n.clone(), Some(c))
        }
    }
}

/// A page with a form: renders `body(token)` with this browser's CSRF token and sets
/// the nonce cookie when the browser has none yet.
pub(crate) fn form_page(
    ctx: &UiContext,
    r: &Req,
    status: StatusCode,
    body: impl FnOnce(&str) -> String,
) -> Response {
    let (nonce, new_cookie) = csrf_nonce(ctx, r);
    let token = csrf::token_for(ctx.csrf_key(), &nonce);
    let mut resp = html(status, body(&token));
    if let Some(c) = new_cookie {
        add_cookie(&mut resp, &c);
    }
    resp
}

/// Origin and CSRF token checks for a posted form.
pub(crate) fn check_form(ctx: &UiContext, r: &Req, form: &Form) -> Result<(), ErrorKind> {
    if !csrf::same_origin(&r.headers, r.scheme(ctx), r.host()) {
        return Err(ErrorKind::CrossSite);
    }
    let nonce = crate::cookies::find(&r.headers, &ctx.config.csrf_cookie);
    if csrf::verify(ctx.csrf_key(), nonce, form.get("csrf")) {
        Ok(())
    } else {
        Err(ErrorKind::CrossSite)
    }
}

pub(crate) async fn current_session(
    ctx: &UiContext,
    r: &Req,
) -> Result<Option<(SessionKey, Arc<Session>)>, Response> {
    let Some(key) = r.session_key(ctx) else {
        return Ok(None);
    };
    match ctx.sessions.resolve(&key).await {
        Ok(s) => Ok(s.map(|s| (key, s))),
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "session store unavailable");
            Err(r.error(ctx, ErrorKind::Unavailable))
        }
    }
}

pub(crate) fn rd_or_default(ctx: &UiContext, rd: Option<&str>) -> String {
    rd.and_then(|rd| safe_target(rd, &ctx.config.sites))
        .unwrap_or_else(|| ctx.config.default_redirect.clone())
}

fn login_page(
    ctx: &UiContext,
    r: &Req,
    rd: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    form_page(ctx, r, status, |token| {
        pages::render(&LoginPage {
            page: r.chrome(ctx),
            csrf: token,
            rd,
            email,
            error,
            forgot_link: ctx
                .config
                .self_service_reset
                .then(|| i18n::recovery_texts(r.lang).forgot_link),
        })
    })
}

fn account_page(ctx: &UiContext, r: &Req, session: &Session, continue_to: &str) -> Response {
    let t = i18n::texts(r.lang);
    let since = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(session.created_at.max(0) as u64),
    )
    .to_string();
    form_page(ctx, r, StatusCode::OK, |token| {
        pages::render(&AccountPage {
            page: r.chrome(ctx),
            display_name: &session.display_name,
            email: &session.email,
            groups: session.groups.join(", "),
            level: match session.level {
                AuthLevel::Partial | AuthLevel::Password => t.level_password,
                AuthLevel::Mfa => t.level_mfa,
            },
            since,
            continue_to,
            csrf: token,
        })
    })
}

/// `GET {prefix}`: who am I.
pub async fn account(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match current_session(&ctx, &r).await {
        Ok(Some((_, s))) if s.level == AuthLevel::Partial => {
            see_other(&format!("{}mfa", ctx.config.prefix))
        }
        Ok(Some((_, s))) => account_page(&ctx, &r, &s, &ctx.config.default_redirect),
        Ok(None) => see_other(&format!("{}login", ctx.config.prefix)),
        Err(resp) => resp,
    }
}

/// `GET {prefix without slash}`.
pub async fn to_prefix(State(ctx): Ctx) -> Response {
    see_other(&ctx.config.prefix)
}

/// `GET {prefix}login?rd=…`
pub async fn login_form(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(query) = r.query() else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let rd = rd_or_default(&ctx, query.get("rd"));
    match current_session(&ctx, &r).await {
        // Already signed in: no automatic redirect (that could loop), offer to continue.
        Ok(Some((_, s))) if s.level == AuthLevel::Partial => {
            let rd = percent_encoding::utf8_percent_encode(&rd, percent_encoding::NON_ALPHANUMERIC);
            see_other(&format!("{}mfa?rd={rd}", ctx.config.prefix))
        }
        Ok(Some((_, s))) => account_page(&ctx, &r, &s, &rd),
        Ok(None) => login_page(&ctx, &r, &rd, "", None, StatusCode::OK),
        Err(resp) => resp,
    }
}

/// `POST {prefix}login`: check the password, start a fresh session, go to `rd`.
pub async fn login_submit(State(ctx): Ctx, req: Request) -> Response {
    let (r, body) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(form) = Form::parse(&body) else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let rd = rd_or_default(&ctx, form.get("rd"));
    let t = i18n::texts(r.lang);
    let email_raw = form.get("email").unwrap_or("").trim();
    if let Err(kind) = check_form(&ctx, &r, &form) {
        tracing::info!(request_id = %r.request_id(), reason = ?kind, "sign-in form refused");
        if kind == ErrorKind::CrossSite && csrf::same_origin(&r.headers, r.scheme(&ctx), r.host()) {
            // Same origin but a stale or missing token: offer the form again.
            return login_page(
                &ctx,
                &r,
                &rd,
                email_raw,
                Some(t.form_expired),
                StatusCode::FORBIDDEN,
            );
        }
        return r.error(&ctx, kind);
    }
    let password = PasswordInput::new(form.get("password").unwrap_or("").to_string());
    if email_raw.is_empty() || password.expose().is_empty() {
        return login_page(
            &ctx,
            &r,
            &rd,
            email_raw,
            Some(t.email_required),
            StatusCode::BAD_REQUEST,
        );
    }
    let user = match Email::parse(email_raw) {
        Ok(email) => match ctx.accounts.find_by_email(&email).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, request_id = %r.request_id(), "account lookup failed");
                return r.error(&ctx, ErrorKind::Unavailable);
            }
        },
        Err(_) => None,
    };
    let account = user.as_ref().map_or_else(
        || crate::guard::unknown_account(email_raw),
        |u| u.id.clone(),
    );
    let attempt = match crate::guard::admit(&ctx, &account, &r).await {
        Ok(Admission::Check(attempt)) => attempt,
        Ok(Admission::Locked { scope, retry_after }) => {
            let mut e = password_event(&ctx, &r, Reason::TooManyAttempts)
                .detail(format!("locked={}", scope.as_str()));
            match &user {
                Some(u) => e = e.user(&u.id, u.email.as_str()),
                None => e.email = Some(email_raw.chars().take(254).collect()),
            }
            ctx.mfa.record(e).await;
            tracing::info!(request_id = %r.request_id(), scope = scope.as_str(), "sign-in refused: locked");
            let message = i18n::fill(
                t.locked,
                &[("wait", &crate::guard::wait_phrase(r.lang, retry_after))],
            );
            let page = login_page(
                &ctx,
                &r,
                &rd,
                email_raw,
                Some(&message),
                StatusCode::TOO_MANY_REQUESTS,
            );
            return crate::guard::with_retry_after(page, retry_after);
        }
        Err(e) => {
            tracing::debug!(error = %e, request_id = %r.request_id(), "counter store unavailable");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    // Unknown, disabled and password-less accounts still pay for a full verification.
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| u.password_hash.as_ref());
    let verified = match ctx.hasher.verify(password, hash).await {
        Ok(v) => v,
        Err(AuthError::HasherBusy) => return r.error(&ctx, ErrorKind::Busy),
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "password verification failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let user = match (verified, user) {
        (true, Some(u)) => {
            crate::guard::succeeded(&ctx, attempt).await;
            match ctx.accounts.suspensions().blocking(&u.groups).await {
                Ok(None) => u,
                Ok(Some(group)) => {
                    let e = password_event(&ctx, &r, Reason::Suspended)
                        .user(&u.id, u.email.as_str())
                        .detail(format!("group={group}"));
                    ctx.mfa.record(e).await;
                    return login_page(
                        &ctx,
                        &r,
                        &rd,
                        email_raw,
                        Some(t.suspended),
                        StatusCode::FORBIDDEN,
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, request_id = %r.request_id(), "suspension check failed");
                    return r.error(&ctx, ErrorKind::Unavailable);
                }
            }
        }
        (_, found) => {
            let reason = match &found {
                None => Reason::UnknownUser,
                Some(u) if u.disabled => Reason::AccountDisabled,
                Some(_) => Reason::InvalidPassword,
            };
            let mut e = password_event(&ctx, &r, reason);
            if let Some(u) = &found {
                e = e.user(&u.id, u.email.as_str());
            } else {
                e.email = Some(email_raw.chars().take(254).collect());
            }
            ctx.mfa.record(e).await;
            tracing::info!(request_id = %r.request_id(), reason = %reason, "sign-in failed");
            let notify = found
                .as_ref()
                .filter(|u| !u.disabled)
                .map(|u| (u.email.as_str(), u.display_name.as_str()));
            crate::guard::failed(&ctx, attempt, notify, r.lang).await;
            return login_page(
                &ctx,
                &r,
                &rd,
                email_raw,
                Some(t.bad_credentials),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    crate::challenge::finish_password(&ctx, &r, user, &rd).await
}

fn password_event(ctx: &UiContext, r: &Req, reason: Reason) -> AuthEvent {
    r.event(ctx.mfa.now(), EventKind::Password, false, reason)
}

/// `GET {prefix}logout`: a confirmation form (sign-out is a POST, so links cannot do it).
pub async fn logout_form(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    form_page(&ctx, &r, StatusCode::OK, |token| {
        pages::render(&LogoutPage {
            page: r.chrome(&ctx),
            csrf: token,
        })
    })
}

/// `POST {prefix}logout`: ends the session in the store and clears the cookie.
pub async fn logout_submit(State(ctx): Ctx, req: Request) -> Response {
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
    if let Some(key) = r.session_key(&ctx) {
        if let Err(e) = ctx.sessions.end(&key).await {
            tracing::error!(error = %e, request_id = %r.request_id(), "sign-out failed");
            return r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    let mut resp = html(
        StatusCode::OK,
        pages::render(&SignedOutPage {
            page: r.chrome(&ctx),
        }),
    );
    let mut gone = base_cookie(&ctx, &ctx.config.session_cookie, String::new());
    gone.make_removal();
    add_cookie(&mut resp, &gone);
    resp
}

/// `GET {prefix}lang?to=ja&back=/path`: remembers the choice and returns to the page.
pub async fn switch_language(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Ok(q) = r.query() else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    let Some(lang) = q.get("to").and_then(Lang::from_tag) else {
        return r.error(&ctx, ErrorKind::BadRequest);
    };
    // Only a path on this host: the switcher must not become an open redirect.
    let back = q
        .get("back")
        .filter(|b| b.starts_with('/'))
        .and_then(|b| safe_target(b, &[]))
        .unwrap_or_else(|| format!("{}login", ctx.config.prefix));
    let mut resp = see_other(&back);
    let mut c = base_cookie(&ctx, LANG_COOKIE, lang.code().to_string());
    c.set_max_age(cookie::time::Duration::days(365));
    add_cookie(&mut resp, &c);
    resp
}

/// `GET {prefix}static/sekisho.js`: print and copy buttons (pages work without it).
pub async fn script() -> Response {
    let mut resp = include_str!("../static/sekisho.js").into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// `GET {prefix}static/sekisho.css`
pub async fn stylesheet() -> Response {
    let mut resp = include_str!("../static/sekisho.css").into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

pub async fn not_found(State(ctx): Ctx, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    Req::from_parts(&ctx, parts).error(&ctx, ErrorKind::NotFound)
}

/// Adds the security headers to every response of the router.
pub async fn secure_headers(State(ctx): Ctx, mut resp: Response) -> Response {
    pages::apply_security_headers(resp.headers_mut(), ctx.csp());
    resp
}
