//! Sekisho's hosted pages: sign-in, sign-out, the "signed in as" page, the language
//! switcher, the help page, the stylesheet, and the error pages the gateway shows.
//!
//! [`router`] builds an axum `Router` that the gateway calls in-process (tower
//! `oneshot`) for every path under the UI prefix. Handlers get the client's address,
//! scheme and request id from a [`ClientInfo`] request extension set by the gateway.
//! Every response carries CSP, `frame-ancestors 'none'`, `Referrer-Policy` and
//! `Cache-Control: no-store`; every form carries a CSRF token and has its `Origin`
//! checked.

mod admin;
mod challenge;
pub mod charts;
pub mod cookies;
pub mod csrf;
mod enroll;
pub mod form;
mod guard;
mod handlers;
pub mod help;
pub mod i18n;
mod limiter;
mod lost_device;
mod mfa_views;
pub mod nudges;
pub mod pages;
mod recovery;
pub mod redirect;
mod reenrol;
mod settings;
mod sign_ins;

use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, HeaderValue};
use sekisho_auth::{
    AccountStore, AuthEvent, ErrorEvent, ErrorEventWriter, ErrorEvents, Lockout, MfaService,
    PasswordHasher, ResetLinks, SessionKey, SessionService,
};
use sekisho_config::{
    AdminSettings, Lang, LockoutSettings, RateLimitSettings, Settings, SignInSettings, Site,
    SupportSettings,
};
use sekisho_notify::Notifier;
use sekisho_policy::Rollout;
use std::net::IpAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

pub use admin::{reset_mfa_from_cli, CliReset};
pub use nudges::{NudgeCounters, NudgeKind, NudgeOutcome};
pub use pages::ErrorKind;

/// The trusted-browser cookie's base name.
pub const DEVICE_COOKIE: &str = "sekisho_device";

/// The base name of the cookie that tells a known browser from a new one at sign-in.
pub const BROWSER_COOKIE: &str = "sekisho_browser";

/// Per-request facts the gateway knows and the pages need.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// `http` or `https`, as the browser sees this gateway.
    pub scheme: &'static str,
    /// Shown on error pages and written to the logs, so users can quote it.
    pub request_id: String,
}

/// Who got an error page, for its `error` event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester<'a> {
    /// The id the page shows and the logs carry.
    pub request_id: &'a str,
    pub ip: Option<IpAddr>,
    /// The signed-in user (id, e-mail) when the caller knows it; otherwise the
    /// request's session cookie is looked up later, off the request path.
    pub user: Option<(&'a str, &'a str)>,
}

/// UI settings derived from the validated config.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub prefix: String,
    pub product: String,
    pub default_lang: Lang,
    pub default_redirect: String,
    pub max_body_bytes: usize,
    /// Hosts `rd` may point at.
    pub sites: Vec<Site>,
    /// Cookie names on the wire (with `__Host-` when secure).
    pub session_cookie: String,
    pub csrf_cookie: String,
    /// The trusted-browser cookie.
    pub device_cookie: String,
    /// The browser cookie behind "new browser" sign-in notices.
    pub browser_cookie: String,
    pub cookie_secure: bool,
    pub cookie_domain: Option<String>,
    pub scheme: &'static str,
    /// The compiled `[[enrollment]]` rules.
    pub rollout: Arc<Rollout>,
    /// `[support]`, shown on the help and error pages.
    pub support: SupportSettings,
    /// `[lockout]`: shared failure counters and temporary locks.
    pub lockout: LockoutSettings,
    /// `[rate_limit]`: the local per-IP limit on form POSTs.
    pub rate_limit: RateLimitSettings,
    /// "Forgot your password?" is offered.
    pub self_service_reset: bool,
    pub reset_link_ttl: std::time::Duration,
    pub password_min_length: usize,
    /// `[sign_in]`: new-sign-in notices and the history kept.
    pub sign_in: SignInSettings,
    /// `[admin]`: console roles, privileged accounts, request and link lifetimes.
    pub admin: AdminSettings,
    /// Scheme and host of links in e-mails sent without a browser request.
    pub public_base: Option<String>,
}

impl UiConfig {
    pub fn from_settings(s: &Settings) -> Self {
        let secure = s.cookies_secure();
        let host_only = |name: &str| {
            if secure && s.cookie.domain.is_none() {
                format!("__Host-{name}")
            } else {
                name.to_string()
            }
        };
        Self {
            prefix: s.ui.prefix.clone(),
            product: s.ui.title.clone(),
            default_lang: s.ui.default_language,
            default_redirect: s.ui.default_redirect.clone(),
            max_body_bytes: s.ui.max_body_bytes,
            sites: s.sites.clone(),
            session_cookie: s.cookie.wire_name(secure),
            csrf_cookie: host_only(csrf::CSRF_COOKIE),
            device_cookie: host_only(DEVICE_COOKIE),
            browser_cookie: host_only(BROWSER_COOKIE),
            cookie_secure: secure,
            cookie_domain: s.cookie.domain.clone(),
            scheme: if secure { "https" } else { "http" },
            rollout: Arc::new(Rollout::new(&s.enrollment)),
            support: s.support.clone(),
            lockout: s.lockout,
            rate_limit: s.rate_limit,
            self_service_reset: s.password.self_service_reset,
            reset_link_ttl: s.password.reset_link_ttl,
            password_min_length: s.password.min_length,
            sign_in: s.sign_in,
            admin: s.admin.clone(),
            public_base: s.public_base(),
        }
    }
}

/// Everything the hosted pages need, shared by every request.
pub struct UiContext {
    pub config: UiConfig,
    pub accounts: AccountStore,
    pub sessions: Arc<SessionService>,
    pub hasher: Arc<PasswordHasher>,
    pub mfa: Arc<MfaService>,
    pub notifier: Notifier,
    /// Shared with the UI of every later configuration (counters never go back).
    pub nudges: Arc<NudgeCounters>,
    /// `None` when `[lockout] enabled = false`.
    pub lockout: Option<Lockout>,
    pub reset_links: ResetLinks,
    /// Error pages' `error` events, queued for [`Self::take_error_writer`]'s writer.
    error_events: ErrorEvents,
    error_writer: std::sync::Mutex<Option<ErrorEventWriter>>,
    post_limiter: Option<Arc<limiter::PostLimiter>>,
    csrf_key: Zeroizing<Vec<u8>>,
    csp: HeaderValue,
}

impl std::fmt::Debug for UiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl UiContext {
    pub fn new(
        config: UiConfig,
        accounts: AccountStore,
        sessions: Arc<SessionService>,
        hasher: Arc<PasswordHasher>,
        mfa: Arc<MfaService>,
        notifier: Notifier,
        csrf_key: &[u8],
    ) -> Self {
        let targets: Vec<String> = config
            .sites
            .iter()
            .flat_map(|s| {
                let host = s.host.clone();
                ["http", "https"].map(|scheme| format!("{scheme}://{host}"))
            })
            .collect();
        let lockout = guard::build(&config, &mfa);
        let post_limiter = limiter::PostLimiter::new(&config.rate_limit).map(Arc::new);
        let reset_links = ResetLinks::new(
            mfa.counters().clone(),
            mfa.clock().clone(),
            config.reset_link_ttl.as_secs(),
        );
        let (error_events, error_writer) = ErrorEvents::new(
            mfa.events().clone(),
            Arc::clone(&sessions),
            Arc::clone(mfa.telemetry()),
            sekisho_auth::events::ERROR_EVENT_BUDGET,
            sekisho_auth::events::ERROR_QUEUE,
        );
        Self {
            error_events,
            error_writer: std::sync::Mutex::new(Some(error_writer)),
            csp: pages::content_security_policy(&targets),
            lockout,
            reset_links,
            post_limiter,
            config,
            accounts,
            sessions,
            hasher,
            mfa,
            notifier,
            nudges: Arc::default(),
            csrf_key: Zeroizing::new(csrf_key.to_vec()),
        }
    }

    /// After a configuration reload: keep what must survive it, the rollout nudge
    /// counters, the error-event queue with its budget, and, while its limits stay
    /// the same, the per-address post limiter (a reload must not hand every address
    /// a fresh burst).
    pub fn carry_over(&mut self, previous: &UiContext) {
        self.nudges = Arc::clone(&previous.nudges);
        if self.config.rate_limit == previous.config.rate_limit {
            self.post_limiter = previous.post_limiter.clone();
        }
        // One queue, writer and budget for the whole process: this context's own
        // writer is never started.
        self.error_events = previous.error_events.clone();
        self.error_writer = std::sync::Mutex::new(None);
    }

    /// The writer of error pages' `error` events, once: spawn it on the runtime of
    /// the database pool. Until it runs, events wait in a bounded queue and then are
    /// dropped (and counted).
    pub fn take_error_writer(&self) -> Option<ErrorEventWriter> {
        self.error_writer.lock().ok().and_then(|mut w| w.take())
    }

    pub(crate) fn csrf_key(&self) -> &[u8] {
        &self.csrf_key
    }

    pub fn csp(&self) -> &HeaderValue {
        &self.csp
    }

    /// A complete error response (page, status, security headers) in the visitor's
    /// language, with the request id to quote and the support contact; the gateway
    /// uses it for 400/403/404/413/429/502/503 answers. The id goes to the log and,
    /// within the error-event budget and without waiting, to the event log.
    pub fn error_response(
        &self,
        kind: ErrorKind,
        request_headers: &HeaderMap,
        here: &str,
        who: &Requester<'_>,
    ) -> http::Response<String> {
        let request_id = who.request_id;
        let lang = i18n::negotiate(request_headers, self.config.default_lang);
        let page = pages::PageChrome::new(lang, &self.config.product, &self.config.prefix, here);
        let support = help::SupportView::of(&self.config.support);
        let body = pages::error_html(kind, page, request_id, support);
        // The page asks users to quote this id, so the log must hold it; the path
        // without its query, which may carry addresses or tokens.
        let path = here.split('?').next().unwrap_or("");
        tracing::info!(request_id, status = kind.status().as_u16(), kind = ?kind, path, "error page");
        self.record_error(kind, request_headers, path, who);
        let mut resp = http::Response::new(body);
        *resp.status_mut() = kind.status();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        pages::apply_security_headers(h, &self.csp);
        if let Some(secs) = kind.retry_after() {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }

    /// Queues the page's `error` event (never waits; see [`ErrorEvents`]).
    fn record_error(&self, kind: ErrorKind, headers: &HeaderMap, path: &str, who: &Requester<'_>) {
        self.error_events.record(|now| {
            let ua = headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let ip = who.ip.map(|ip| ip.to_string());
            let mut event = AuthEvent::error_page(now, kind.code(), kind.status().as_u16(), path)
                .request(who.request_id)
                .client(ip.as_deref(), ua);
            let session = match who.user {
                Some((id, email)) => {
                    event = event.user(id, email);
                    None
                }
                None => cookies::find(headers, &self.config.session_cookie)
                    .and_then(SessionKey::from_cookie),
            };
            ErrorEvent { event, session }
        });
    }
}

/// The hosted pages under the configured prefix.
pub fn router(ctx: Arc<UiContext>) -> Router {
    let p = ctx.config.prefix.clone();
    let bare = p.trim_end_matches('/').to_string();
    admin::routes(Router::new(), &p)
        .route(&p, get(handlers::account))
        .route(&bare, get(handlers::to_prefix))
        .route(
            &format!("{p}login"),
            get(handlers::login_form).post(handlers::login_submit),
        )
        .route(
            &format!("{p}logout"),
            get(handlers::logout_form).post(handlers::logout_submit),
        )
        .route(&format!("{p}lang"), get(handlers::switch_language))
        .route(&format!("{p}help"), get(help::page))
        .route(
            &format!("{p}password/forgot"),
            get(recovery::forgot_form).post(recovery::forgot_submit),
        )
        .route(
            &format!("{p}password/reset"),
            get(recovery::reset_form).post(recovery::reset_submit),
        )
        .route(
            &format!("{p}reenrol"),
            get(reenrol::form).post(reenrol::submit),
        )
        .route(&format!("{p}mfa"), get(challenge::challenge_form))
        .route(&format!("{p}mfa/send"), post(challenge::send_code))
        .route(
            &format!("{p}mfa/lost"),
            get(lost_device::form).post(lost_device::submit),
        )
        .route(&format!("{p}mfa/lost/status"), get(lost_device::status))
        .route(&format!("{p}mfa/verify"), post(challenge::verify))
        .route(&format!("{p}enroll"), get(enroll::interstitial))
        .route(&format!("{p}enroll/later"), post(enroll::later))
        .route(&format!("{p}enroll/start"), get(enroll::start))
        .route(&format!("{p}enroll/done"), get(enroll::done))
        .route(&format!("{p}settings"), get(settings::overview))
        .route(
            &format!("{p}settings/totp"),
            get(settings::totp_form).post(settings::totp_confirm),
        )
        .route(
            &format!("{p}settings/totp/remove"),
            post(settings::totp_remove),
        )
        .route(&format!("{p}settings/email"), get(settings::email_form))
        .route(
            &format!("{p}settings/email/send"),
            post(settings::email_send),
        )
        .route(
            &format!("{p}settings/email/confirm"),
            post(settings::email_confirm),
        )
        .route(
            &format!("{p}settings/email/remove"),
            post(settings::email_remove),
        )
        .route(&format!("{p}settings/sms"), get(settings::sms_form))
        .route(&format!("{p}settings/sms/send"), post(settings::sms_send))
        .route(
            &format!("{p}settings/sms/confirm"),
            post(settings::sms_confirm),
        )
        .route(
            &format!("{p}settings/sms/remove"),
            post(settings::sms_remove),
        )
        .route(
            &format!("{p}settings/backup"),
            post(settings::backup_regenerate),
        )
        .route(
            &format!("{p}settings/devices/revoke"),
            post(settings::device_revoke),
        )
        .route(
            &format!("{p}settings/sessions/revoke"),
            post(settings::session_revoke),
        )
        .route(&format!("{p}static/sekisho.css"), get(handlers::stylesheet))
        .route(&format!("{p}static/sekisho.js"), get(handlers::script))
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&ctx),
            limiter::limit_posts,
        ))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&ctx),
            handlers::secure_headers,
        ))
        .with_state(ctx)
}

#[cfg(test)]
mod tests;
