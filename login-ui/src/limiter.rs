//! The local per-client-IP limit on form POSTs (sign-in, codes, settings): a GCRA
//! token bucket (governor) kept in this process. It is the cheap first line in front
//! of the shared lockout counters: a flood is refused here without touching the
//! store or the password hasher. Refusals get the 429 page with `Retry-After`.
use crate::handlers::Req;
use crate::pages::ErrorKind;
use crate::UiContext;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use sekisho_auth::Limited;
use sekisho_config::RateLimitSettings;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Forget idle clients every this many checks, so the table stays small.
const SWEEP_EVERY: u32 = 4096;

pub(crate) struct PostLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU32,
}

impl PostLimiter {
    /// `None` when `ui_posts_per_minute = 0` (limiter off).
    pub(crate) fn new(s: &RateLimitSettings) -> Option<Self> {
        let per_minute = NonZeroU32::new(s.ui_posts_per_minute)?;
        let burst = NonZeroU32::new(s.ui_post_burst).unwrap_or(per_minute);
        let period = Duration::from_secs(60) / per_minute.get();
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU32::new(0),
        })
    }

    /// `Err(seconds to wait)` when `ip` is over its budget.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware: POSTs over the client's budget get the 429 page.
pub(crate) async fn limit_posts(
    State(ctx): State<Arc<UiContext>>,
    req: Request,
    next: Next,
) -> Response {
    let (Some(limiter), true) = (&ctx.post_limiter, req.method() == http::Method::POST) else {
        return next.run(req).await;
    };
    let Some(ip) = req.extensions().get::<crate::ClientInfo>().map(|c| c.ip) else {
        return next.run(req).await;
    };
    match limiter.check(ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            ctx.mfa.telemetry().rate_limited(Limited::UiPost);
            let (parts, _) = req.into_parts();
            let r = Req::from_parts(&ctx, parts);
            tracing::info!(request_id = %r.request_id(), %ip, "form POST rate-limited");
            let resp = r.error(&ctx, ErrorKind::TooManyRequests);
            crate::guard::with_retry_after(resp, i64::try_from(wait.max(1)).unwrap_or(60))
        }
    }
}
