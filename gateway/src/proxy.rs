//! The Pingora `ProxyHttp` implementation. Each phase is small:
//!
//! - `request_filter`: site lookup → UI bridge, or policy → session → decision;
//! - `upstream_peer`: a server of the site's pool (balancing, health, retries);
//! - `fail_to_connect` / `error_while_proxy`: passive ejection, and whether the
//!   request is tried again (idempotent methods, within the site's `retries`);
//! - `upstream_request_filter`: strip forged identity and our cookies, add identity and
//!   `X-Forwarded-*`;
//! - `upstream_response_filter`: the upstream's latency and status;
//! - `fail_to_proxy`: the 502 page and the upstream error count;
//! - `logging`: the request metrics and the access log.
use crate::app::App;
use crate::client_ip::{canonical, real_client_ip};
use crate::live::LiveApp;
use crate::metrics::{Route, UpstreamError};
use crate::request_id::RequestId;
use crate::upstream::{strip_port, SitePool, Tried};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use sekisho_auth::{AuthLevel, MfaMethod, Session as UserSession, SessionKey};
use sekisho_config::{Action, Factor, FactorSet};
use sekisho_login_ui::{cookies, ClientInfo, ErrorKind, Requester};
use sekisho_policy::{RequestFacts, Subject};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

pub struct SekishoProxy {
    live: Arc<LiveApp>,
}

impl SekishoProxy {
    pub fn new(live: Arc<LiveApp>) -> Self {
        Self { live }
    }
}

/// Per-request state.
pub struct RequestCtx {
    /// The configuration this request started with; a reload meanwhile does not
    /// change it halfway.
    app: Arc<App>,
    route: Route,
    /// The request came over the HTTPS listener.
    tls: bool,
    site: Option<usize>,
    peer_ip: IpAddr,
    peer_trusted: bool,
    client_ip: IpAddr,
    user: Option<Arc<UserSession>>,
    request_id: RequestId,
    local_status: Option<u16>,
    started: Instant,
    /// When the request went upstream, until its response header arrives.
    upstream_sent: Option<Instant>,
    /// The pool server of the current attempt.
    server: Option<usize>,
    /// Servers this request has tried, and how many attempts it made.
    tried: Tried,
    tries: u32,
    /// The current attempt's server sent a response header.
    answered: bool,
    upstream_status: Option<u16>,
}

impl RequestCtx {
    fn request_id(&self) -> &str {
        self.request_id.as_str()
    }

    /// `Strict-Transport-Security` for this answer: on HTTPS connections, if set (a
    /// reference-counted copy of the configuration's value, no allocation).
    fn hsts(&self) -> Option<http::HeaderValue> {
        self.tls.then(|| self.app.hsts.clone()).flatten()
    }

    /// The pool and server of the current upstream attempt.
    fn attempt(&self) -> Option<(usize, &SitePool, usize)> {
        let site = self.site?;
        Some((site, self.app.upstreams.pool(site)?, self.server?))
    }
}

fn host_of(h: &RequestHeader) -> &str {
    h.headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| h.uri.host())
        .unwrap_or("")
}

/// A browser navigation (gets a redirect to sign-in) rather than an API call (gets 401).
fn is_navigation(h: &RequestHeader) -> bool {
    if !(h.method == http::Method::GET || h.method == http::Method::HEAD) {
        return false;
    }
    let header_has = |name: &str, needle: &str| {
        h.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(needle))
    };
    header_has("sec-fetch-mode", "navigate") || header_has("accept", "text/html")
}

impl SekishoProxy {
    fn is_ui_path(app: &App, path: &str) -> bool {
        let prefix = &app.settings.ui.prefix;
        path.starts_with(prefix.as_str()) || path == prefix.trim_end_matches('/')
    }

    /// The scheme the browser used: a trusted proxy's word, the site's setting, or ours.
    fn scheme(&self, session: &Session, ctx: &RequestCtx) -> &'static str {
        if ctx.tls {
            return "https";
        }
        if ctx.peer_trusted {
            if let Some(p) = session.req_header().headers.get("x-forwarded-proto") {
                if p.as_bytes().eq_ignore_ascii_case(b"https") {
                    return "https";
                } else if p.as_bytes().eq_ignore_ascii_case(b"http") {
                    return "http";
                }
            }
        }
        let site = ctx.site.and_then(|i| ctx.app.upstreams.site(i));
        match site.and_then(|s| s.scheme.as_deref()) {
            Some("https") => "https",
            Some(_) => "http",
            None => ctx.app.scheme,
        }
    }

    /// With `[tls] redirect_http`, a plain-HTTP request (not one a trusted proxy says
    /// came over HTTPS) goes to the same URL on the HTTPS listener. Only for hosts a
    /// site serves, so the redirect cannot be aimed elsewhere.
    fn https_redirect(&self, session: &Session, ctx: &RequestCtx) -> Option<String> {
        let tls = ctx.app.settings.tls.as_ref()?;
        let head = session.req_header();
        let forwarded_https = ctx.peer_trusted
            && head
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
        if !tls.redirect_http || ctx.tls || forwarded_https {
            return None;
        }
        let host = strip_port(host_of(head));
        let port = match tls.listen.port() {
            443 => String::new(),
            p => format!(":{p}"),
        };
        let path = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
        Some(format!("https://{host}{port}{path}"))
    }

    /// Writes one of the hosted error pages and ends the request.
    async fn answer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        route: Route,
        kind: ErrorKind,
    ) -> Result<bool> {
        ctx.route = route;
        let head = session.req_header();
        let here = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let who = Requester {
            request_id: ctx.request_id.as_str(),
            ip: Some(ctx.client_ip),
            user: ctx
                .user
                .as_deref()
                .map(|u| (u.user_id.as_str(), u.email.as_str())),
        };
        let resp = ctx
            .app
            .ui
            .error_response(kind, &head.headers, here, &who)
            .map(Bytes::from);
        self.finish_local(session, ctx, resp).await
    }

    async fn finish_local(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        resp: http::Response<Bytes>,
    ) -> Result<bool> {
        if !session.is_body_done() {
            // We answer without reading the body, so this connection cannot be reused.
            session.set_keepalive(None);
        }
        let hsts = ctx.hsts();
        ctx.local_status = Some(crate::bridge::write_bytes(session, resp, hsts.as_ref()).await?);
        Ok(true)
    }

    /// No session: browsers go to sign-in with `rd`, API clients get 401.
    async fn challenge(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        self.send_to_ui(session, ctx, "login", None, "unauthorized")
            .await
    }

    /// Browsers go to a hosted page (`login`, `mfa`) with `rd` set to this URL; API
    /// clients get a 401 naming what is missing.
    async fn send_to_ui(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        page: &str,
        methods: Option<FactorSet>,
        error: &str,
    ) -> Result<bool> {
        let head = session.req_header();
        let resp = if is_navigation(head) {
            let original = format!(
                "{}://{}{}",
                self.scheme(session, ctx),
                host_of(head),
                head.uri.path_and_query().map_or("/", |pq| pq.as_str())
            );
            let rd = percent_encoding::utf8_percent_encode(
                &original,
                percent_encoding::NON_ALPHANUMERIC,
            );
            http::Response::builder()
                .status(302)
                .header(
                    http::header::LOCATION,
                    match methods.filter(|m| !m.is_all()) {
                        Some(m) => format!(
                            "{}{page}?rd={rd}&methods={}",
                            ctx.app.settings.ui.prefix,
                            m.to_list()
                        ),
                        None => format!("{}{page}?rd={rd}", ctx.app.settings.ui.prefix),
                    },
                )
                .header(http::header::CACHE_CONTROL, "no-store")
                .body(Bytes::new())
        } else {
            http::Response::builder()
                .status(401)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::CACHE_CONTROL, "no-store")
                .header(http::header::WWW_AUTHENTICATE, "Sekisho")
                .body(Bytes::from(format!(
                    "{{\"error\":\"{error}\",\"login\":\"{}{page}\"}}",
                    ctx.app.settings.ui.prefix
                )))
        };
        match resp {
            Ok(r) => self.finish_local(session, ctx, r).await,
            Err(_) => {
                self.answer(session, ctx, ctx.route, ErrorKind::BadRequest)
                    .await
            }
        }
    }

    /// Does the session satisfy a `two_factor` rule: MFA done, recent enough for
    /// `max_mfa_age`, with a factor the rule accepts (a trusted browser only where the
    /// rule allows it)?
    fn mfa_satisfies(app: &App, user: &UserSession, rule: &TwoFactorNeeds) -> bool {
        if user.level != AuthLevel::Mfa {
            return false;
        }
        let fresh = match (rule.max_mfa_age, user.mfa_at) {
            (None, _) => true,
            (Some(age), Some(at)) => app.sessions.clock().now() - at <= age.as_secs() as i64,
            (Some(_), None) => false,
        };
        let method_ok = match user.mfa_method {
            Some(MfaMethod::TrustedDevice) => rule.trusted_device,
            Some(MfaMethod::Totp) => rule.methods.contains(Factor::Totp),
            Some(MfaMethod::Email) => rule.methods.contains(Factor::Email),
            Some(MfaMethod::Sms) => rule.methods.contains(Factor::Sms),
            Some(MfaMethod::BackupCode) => rule.methods.contains(Factor::BackupCode),
            // Sessions from before the method was recorded: only rules that take any.
            None => rule.methods.is_all(),
        };
        fresh && method_ok
    }
}

/// What a `two_factor` rule asks of the session.
struct TwoFactorNeeds {
    max_mfa_age: Option<std::time::Duration>,
    trusted_device: bool,
    methods: FactorSet,
}

impl TwoFactorNeeds {
    fn of(d: &sekisho_policy::Decision<'_>) -> Self {
        Self {
            max_mfa_age: d.max_mfa_age,
            trusted_device: d.trusted_device,
            methods: d.mfa_methods,
        }
    }
}

fn facts(head: &RequestHeader, client_ip: IpAddr) -> RequestFacts<'_> {
    RequestFacts {
        host: host_of(head),
        path: head.uri.path(),
        method: head.method.as_str(),
        client_ip,
    }
}

fn route_of(action: Action) -> Route {
    match action {
        Action::Bypass => Route::Bypass,
        Action::OneFactor => Route::OneFactor,
        Action::TwoFactor => Route::TwoFactor,
        Action::Deny => Route::Deny,
    }
}

#[async_trait]
impl ProxyHttp for SekishoProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            app: self.live.current(),
            route: Route::UnknownSite,
            tls: false,
            site: None,
            peer_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            peer_trusted: false,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            user: None,
            request_id: RequestId::generate(),
            local_status: None,
            started: Instant::now(),
            upstream_sent: None,
            upstream_status: None,
            server: None,
            tried: Tried::default(),
            tries: 0,
            answered: false,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let app = Arc::clone(&ctx.app);
        ctx.tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        if let Some(peer) = session.client_addr().and_then(|a| a.as_inet()) {
            ctx.peer_ip = canonical(peer.ip());
        }
        ctx.peer_trusted = app.trusted_proxies.iter().any(|n| n.contains(&ctx.peer_ip));
        if ctx.peer_trusted {
            // A front proxy's id keeps one id across the hops; anyone else's is ignored.
            if let Some(id) = session
                .req_header()
                .headers
                .get("x-request-id")
                .and_then(|v| RequestId::from_header(v.as_bytes()))
            {
                ctx.request_id = id;
            }
        }
        ctx.client_ip = real_client_ip(
            ctx.peer_ip,
            &session.req_header().headers,
            &app.trusted_proxies,
        );

        let Some(site) = app
            .upstreams
            .find(strip_port(host_of(session.req_header())))
        else {
            return self
                .answer(session, ctx, Route::UnknownSite, ErrorKind::UnknownSite)
                .await;
        };
        ctx.site = Some(site);
        if let Some(to) = self.https_redirect(session, ctx) {
            ctx.route = Route::HttpsRedirect;
            let resp = http::Response::builder()
                .status(308)
                .header(http::header::LOCATION, to)
                .header(http::header::CACHE_CONTROL, "no-store")
                .body(Bytes::new());
            if let Ok(r) = resp {
                return self.finish_local(session, ctx, r).await;
            }
        }

        if Self::is_ui_path(&ctx.app, session.req_header().uri.path()) {
            ctx.route = Route::Ui;
            let client = ClientInfo {
                ip: ctx.client_ip,
                scheme: self.scheme(session, ctx),
                request_id: ctx.request_id().to_string(),
            };
            ctx.local_status = Some(
                crate::bridge::serve(session, &app.router, &app.ui, client, ctx.hsts().as_ref())
                    .await?,
            );
            return Ok(true);
        }

        let head = session.req_header();
        let first = app.policy.evaluate(&facts(head, ctx.client_ip), None);
        ctx.route = route_of(first.action);
        if !first.needs_identity {
            match first.action {
                Action::Bypass => return Ok(false),
                Action::Deny => {
                    return self
                        .answer(session, ctx, Route::Deny, ErrorKind::Forbidden)
                        .await
                }
                Action::OneFactor | Action::TwoFactor => {}
            }
        }

        let key = cookies::find(&head.headers, &app.ui.config.session_cookie)
            .and_then(SessionKey::from_cookie);
        let user = match key {
            Some(key) => match app.sessions.resolve(&key).await {
                Ok(user) => user,
                // The outage itself is logged once (store_health). Here a bounded
                // local session cache could still answer; without one, fail closed.
                Err(e) => {
                    tracing::debug!(error = %e, request_id = %ctx.request_id(), "session store unavailable");
                    return self
                        .answer(session, ctx, ctx.route, ErrorKind::Unavailable)
                        .await;
                }
            },
            None => None,
        };
        let Some(user) = user else {
            return self.challenge(session, ctx).await;
        };
        if user.level == AuthLevel::Partial {
            // Password done, second factor owed: finish the challenge first.
            return self
                .send_to_ui(session, ctx, "mfa", None, "mfa_required")
                .await;
        }
        if user.enrolment_due {
            // The rollout forces enrolment: nothing protected until a factor is set up.
            return self
                .send_to_ui(session, ctx, "enroll", None, "mfa_enrollment_required")
                .await;
        }

        // Rules that name users or groups can only be decided now.
        let (action, needs) = if first.needs_identity {
            let facts = facts(session.req_header(), ctx.client_ip);
            let d = app.policy.evaluate(
                &facts,
                Some(&Subject {
                    user: &user.email,
                    groups: &user.groups,
                }),
            );
            (d.action, TwoFactorNeeds::of(&d))
        } else {
            (first.action, TwoFactorNeeds::of(&first))
        };
        ctx.route = route_of(action);
        match action {
            Action::Deny => {
                return self
                    .answer(session, ctx, Route::Deny, ErrorKind::Forbidden)
                    .await
            }
            Action::TwoFactor if !Self::mfa_satisfies(&ctx.app, &user, &needs) => {
                // Step up (or enrol): the challenge page comes back here afterwards.
                return self
                    .send_to_ui(session, ctx, "mfa", Some(needs.methods), "mfa_required")
                    .await;
            }
            Action::Bypass | Action::OneFactor | Action::TwoFactor => {}
        }
        ctx.user = Some(user);
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let picked = ctx.site.and_then(|i| {
            let pool = ctx.app.upstreams.pool(i)?;
            let mut buf = [0u8; 16];
            let key = pool.hash_input(session.req_header(), ctx.client_ip, &mut buf);
            pool.select(key, ctx.tried)
        });
        let Some((server, peer)) = picked else {
            return Err(Error::explain(
                ErrorType::ConnectNoRoute,
                "no upstream server of this site is up",
            )
            .into_up());
        };
        ctx.server = Some(server);
        ctx.tried.add(server);
        ctx.tries += 1;
        ctx.answered = false;
        Ok(peer)
    }

    /// No connection to the server: it counts towards its ejection, and idempotent
    /// requests (nothing was sent) go to another server within the site's retries.
    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let Some((site, pool, server)) = ctx.attempt() else {
            return e;
        };
        pool.failed(server);
        let retry = session.req_header().method.is_idempotent() && ctx.tries <= pool.retries();
        e.set_retry(retry);
        if retry {
            ctx.app.site_series.upstream_retried(site);
        }
        e
    }

    /// The exchange broke after connecting. Pingora's own rule decides whether it may
    /// be retried (idempotent method, body still buffered, and for most errors only on
    /// a reused connection, i.e. nothing reached the application); the site's
    /// `retries` bound it. A pooled connection the server had closed is no fault of
    /// the server's and is always tried again.
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        let stale = client_reused && matches!(e.retry, pingora::RetryType::ReusedOnly);
        if !session.req_header().method.is_idempotent() || session.as_ref().retry_buffer_truncated()
        {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        let Some((site, pool, server)) = ctx.attempt() else {
            return e;
        };
        // Once the server answered (a WebSocket idle past the read timeout, a body cut
        // short) the server was reachable: passive health only counts failures to answer.
        if !stale && !ctx.answered && *e.esource() == ErrorSource::Upstream {
            pool.failed(server);
        }
        if e.retry() && !stale && ctx.tries > pool.retries() {
            e.set_retry(false);
        }
        if e.retry() {
            ctx.app.site_series.upstream_retried(site);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let app = Arc::clone(&ctx.app);
        app.identity.strip(req);
        let own = app.own_cookies.each_ref().map(String::as_str);
        match cookies::without(&req.headers, &own) {
            Some(rest) if rest.is_empty() => {
                req.remove_header(&http::header::COOKIE);
            }
            Some(rest) => req.insert_header(http::header::COOKIE, rest)?,
            None => {}
        }
        if let Some(user) = &ctx.user {
            app.identity.insert(req, user)?;
        }
        req.insert_header("x-request-id", ctx.request_id())?;
        let proto = self.scheme(session, ctx);
        crate::identity::set_forwarded(req, ctx.peer_ip, ctx.peer_trusted, proto)?;
        // Last, so the upstream's time excludes our own header work.
        ctx.upstream_sent = Some(Instant::now());
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some((_, pool, server)) = ctx.attempt() {
            pool.answered(server, resp.status.as_u16());
        }
        ctx.answered = true;
        if resp.status.is_informational() {
            return Ok(());
        }
        ctx.upstream_status = Some(resp.status.as_u16());
        if let Some(h) = ctx.hsts() {
            resp.insert_header(http::header::STRICT_TRANSPORT_SECURITY, h)?;
        }
        if let (Some(sent), Some(site)) = (ctx.upstream_sent.take(), ctx.site) {
            ctx.app.site_series.upstream_answered(site, sent.elapsed());
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        // A final answer (or a WebSocket's 101) may already be on its way: then the
        // connection can only be closed, and a page written now would corrupt it.
        let written = session
            .response_written()
            .map(|r| r.status)
            .filter(|s| !s.is_informational() || *s == http::StatusCode::SWITCHING_PROTOCOLS);
        let upgraded = written == Some(http::StatusCode::SWITCHING_PROTOCOLS);
        if let (ErrorSource::Upstream, Some(site), false) = (e.esource(), ctx.site, upgraded) {
            // An upgraded connection that timed out or closed is no upstream failure.
            ctx.app
                .site_series
                .upstream_failed(site, UpstreamError::of(e.etype()));
        }
        if written.is_some() {
            tracing::debug!(request_id = %ctx.request_id(), error = %e, "connection ended after the answer began");
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        let kind = match e.esource() {
            ErrorSource::Upstream => Some(ErrorKind::BadGateway),
            ErrorSource::Downstream => match e.etype() {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => None,
                _ => Some(ErrorKind::BadRequest),
            },
            ErrorSource::Internal | ErrorSource::Unset => Some(ErrorKind::BadGateway),
        };
        let code = match kind {
            Some(kind) => {
                tracing::warn!(request_id = %ctx.request_id(), error = %e, "proxying failed");
                // Pingora closes the connection after this page (see `can_reuse_downstream`
                // below): say so, or a client may send its next request into the closed
                // connection.
                session.set_keepalive(None);
                let route = ctx.route;
                match self.answer(session, ctx, route, kind).await {
                    Ok(_) => kind.status().as_u16(),
                    Err(_) => 0,
                }
            }
            None => 0,
        };
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// Pingora's error lines describe the request with this; its default shows the
    /// query string, which may carry tokens.
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        let head = session.req_header();
        format!(
            "{} {}, Host: {}, request_id: {}",
            head.method,
            head.uri.path(),
            host_of(head),
            ctx.request_id()
        )
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = ctx
            .local_status
            .or_else(|| session.response_written().map(|r| r.status.as_u16()))
            .unwrap_or(0);
        let took = ctx.started.elapsed();
        let app = Arc::clone(&ctx.app);
        if app.settings.log.access_log {
            let head = session.req_header();
            let site = ctx.site.and_then(|i| app.upstreams.site(i));
            crate::access_log::write(&crate::access_log::AccessRecord {
                request_id: ctx.request_id(),
                method: head.method.as_str(),
                host: host_of(head),
                path: head.uri.path(),
                status,
                duration: took,
                action: ctx.route,
                site: site.map_or(crate::metrics::UNKNOWN_SITE, |s| s.host.as_str()),
                upstream_status: ctx.upstream_status,
                user: ctx.user.as_deref().map(|u| u.user_id.as_str()),
                client_ip: ctx.client_ip,
            });
        }
        // Counted after the log line, so a request seen in the metrics is in the log.
        app.telemetry
            .requests
            .request(&app.site_series, ctx.site, ctx.route, status, took);
    }
}
