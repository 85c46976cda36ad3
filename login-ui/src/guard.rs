//! The brute-force guard around every credential check (the password at sign-in and
//! every second factor). Before a check it asks the shared [`Lockout`] whether the
//! (account, client IP) pair may try again, spending one attempt atomically; after
//! it, it reports the result, which may lock the pair, the account or the address.
//! When the whole account locks, the user is e-mailed. Refusals say how long to
//! wait and carry `Retry-After`.
//!
//! Unknown addresses are guarded like real accounts (under a digest of the address),
//! so the answers and timings do not tell an attacker which accounts exist.
use crate::handlers::Req;
use crate::UiContext;
use axum::response::Response;
use http::HeaderValue;
use sekisho_auth::{
    lockout, AuditAction, AuthEvent, EventKind, Gate, Limited, Lockout, NewAuditEntry, NewLock,
    Reason, Scope, StoreError,
};
use sekisho_config::Lang;
use sekisho_notify::Notice;

/// One admitted attempt, to report back with [`failed`] or [`succeeded`].
#[derive(Debug)]
pub(crate) struct Attempt {
    account: String,
    ip: String,
    count: u64,
    /// The request of the attempt, for the events and audit entries it causes.
    request_id: String,
}

pub(crate) enum Admission {
    /// Check the credential. `None` when lockouts are turned off.
    Check(Option<Attempt>),
    /// Refuse without checking; try again after `retry_after` seconds.
    Locked { scope: Scope, retry_after: i64 },
}

/// The lockout name of a sign-in address that has no account.
pub(crate) fn unknown_account(email: &str) -> String {
    lockout::unknown_account(&email.trim().to_lowercase())
}

fn client_ip(r: &Req) -> String {
    r.client_ip().unwrap_or_else(|| "unknown".to_string())
}

pub(crate) async fn admit(
    ctx: &UiContext,
    account: &str,
    r: &Req,
) -> Result<Admission, StoreError> {
    let Some(lockout) = &ctx.lockout else {
        return Ok(Admission::Check(None));
    };
    let ip = client_ip(r);
    let now = ctx.mfa.now();
    Ok(match lockout.admit(account, &ip, now).await? {
        Gate::Open { attempt } => Admission::Check(Some(Attempt {
            account: account.to_string(),
            ip,
            count: attempt,
            request_id: r.request_id().to_string(),
        })),
        Gate::Locked { scope, until } => {
            ctx.mfa.telemetry().rate_limited(Limited::Locked);
            Admission::Locked {
                scope,
                retry_after: (until - now).max(1),
            }
        }
    })
}

/// Reports a wrong credential; records a `lockout` event for each lock it started
/// and e-mails `user` (address, display name) when their whole account locked.
/// A store failure here is logged, not shown: the user's answer is already decided.
pub(crate) async fn failed(
    ctx: &UiContext,
    attempt: Option<Attempt>,
    user: Option<(&str, &str)>,
    lang: Lang,
) -> Vec<NewLock> {
    let (Some(lockout), Some(a)) = (&ctx.lockout, attempt) else {
        return Vec::new();
    };
    let now = ctx.mfa.now();
    let locks = match lockout.failed(&a.account, &a.ip, a.count, now).await {
        Ok(locks) => locks,
        Err(e) => {
            tracing::warn!(error = %e, "could not count a failed attempt");
            return Vec::new();
        }
    };
    for lock in &locks {
        tracing::warn!(
            scope = lock.scope.as_str(),
            until = lock.until,
            "sign-in lock started"
        );
        // One event per lock start, for the admin console's lockouts per day.
        let detail = format!("scope={} until={}", lock.scope.as_str(), lock.until);
        let mut e = AuthEvent::new(now, EventKind::Lockout, false, Reason::TooManyAttempts)
            .client((a.ip != "unknown").then_some(a.ip.as_str()), None)
            .request(&a.request_id)
            .detail(detail);
        // `user` is only given for a real account, whose lockout name is its id.
        if let Some((email, _)) = user {
            e = e.user(&a.account, email);
        }
        ctx.mfa.record(e).await;
    }
    for lock in &locks {
        // Account locks name the user; address locks the address (spraying).
        let target = match (lock.scope, user) {
            (Scope::Ip, _) => a.ip.clone(),
            (_, Some((email, _))) => email.to_string(),
            (_, None) => "unknown account".to_string(),
        };
        let entry = NewAuditEntry::new("system", "system", AuditAction::AccountLocked)
            .target(&target)
            .ip(Some(&a.ip))
            .request_id(&a.request_id)
            .detail(&[
                ("scope", lock.scope.as_str().to_string()),
                ("until", lock.until.to_string()),
            ]);
        crate::admin::record_audit(ctx, entry, AuditAction::AccountLocked).await;
    }
    let account_lock = locks.iter().find(|l| l.scope == Scope::Account);
    if let (Some(lock), Some((email, name))) = (account_lock, user) {
        if ctx.config.lockout.notify_user {
            let minutes = minutes_until(lock.until - now);
            crate::challenge::notify_to(
                ctx,
                email.to_string(),
                name.to_string(),
                lang,
                Notice::AccountLocked { minutes },
            );
        }
    }
    locks
}

pub(crate) async fn succeeded(ctx: &UiContext, attempt: Option<Attempt>) {
    let (Some(lockout), Some(a)) = (&ctx.lockout, attempt) else {
        return;
    };
    if let Err(e) = lockout.succeeded(&a.account, &a.ip, ctx.mfa.now()).await {
        tracing::warn!(error = %e, "could not reset the attempt count");
    }
}

/// Whole minutes, rounded up, at least 1.
pub(crate) fn minutes_until(seconds: i64) -> u32 {
    u32::try_from((seconds.max(1) + 59) / 60).unwrap_or(u32::MAX)
}

/// "3 minutes" / "3分".
pub(crate) fn wait_phrase(lang: Lang, seconds: i64) -> String {
    let n = minutes_until(seconds);
    match (lang, n) {
        (Lang::En, 1) => "1 minute".to_string(),
        (Lang::En, n) => format!("{n} minutes"),
        (Lang::Ja, n) => format!("{n}分"),
    }
}

/// Adds `Retry-After` to a refusal.
pub(crate) fn with_retry_after(mut resp: Response, seconds: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

/// The guard's lockout, built from `[lockout]` over the shared counter store.
pub(crate) fn build(
    ctx_config: &crate::UiConfig,
    mfa: &sekisho_auth::MfaService,
) -> Option<Lockout> {
    let s = &ctx_config.lockout;
    s.enabled.then(|| {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Lockout::new(
            mfa.counters().clone(),
            sekisho_auth::LockoutPolicy {
                window: secs(s.window),
                pair_threshold: s.pair_threshold,
                account_threshold: s.account_threshold,
                ip_threshold: s.ip_threshold,
                base_lock: secs(s.base_lock),
                max_lock: secs(s.max_lock),
            },
        )
        .with_telemetry(mfa.telemetry().clone())
    })
}
