//! Reset requests on SQLite and PostgreSQL: four eyes, privileged targets, expiry with
//! a fixed clock, simultaneous approvals and executions, and what executing does.
use super::*;
use crate::account::AccountStore;
use crate::clock::ManualClock;
use crate::reenrol::LinkStatus;
use crate::session::{
    AuthLevel, MemorySessionStore, SessionService, SessionSubject, SessionTimeouts,
};
use crate::testdb::{on_both_engines, user};
use std::sync::Arc;
use std::time::Duration;

const T0: UnixTime = 1_800_000_000;
const DAY: i64 = 86_400;
const REASON: &str =
    "User lost their phone on the train; identity confirmed by video call with manager.";

fn actor<'a>(id: &'a str, email: &'a str, privileged: bool) -> Actor<'a> {
    Actor {
        id,
        email,
        may_decide_privileged: privileged,
    }
}

fn request<'a>(user_id: &'a str, scope: ResetScope, privileged: bool) -> NewResetRequest<'a> {
    NewResetRequest {
        user_id,
        scope,
        urgency: Urgency::High,
        reason: REASON,
        privileged,
    }
}

fn sessions() -> SessionService {
    let clock = Arc::new(ManualClock::new(T0));
    SessionService::new(
        Arc::new(MemorySessionStore::new(100, clock.clone())),
        clock,
        SessionTimeouts {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_secs(8 * 3600),
        },
    )
}

async fn four_eyes(store: AccountStore) {
    let rr = store.resets();
    let target = user(&store, "t@example.com", &["staff"]).await;
    let hd = actor("hd-id", "hd@example.com", false);
    let sys = actor("sys-id", "sys@example.com", false);

    let short = NewResetRequest {
        reason: "lost phone",
        ..request(&target, ResetScope::Full, false)
    };
    assert!(matches!(
        rr.create(hd, short, 72 * 3600, T0).await,
        Err(ResetError::ReasonTooShort)
    ));
    // 50 Japanese characters are enough: characters are counted, not bytes.
    let ja = "端末紛失".repeat(12) + "です";
    assert_eq!(ja.chars().count(), 50);
    check_reason(&ja).unwrap();

    let req = rr
        .create(hd, request(&target, ResetScope::Full, false), 72 * 3600, T0)
        .await
        .unwrap();
    assert_eq!(req.state, RequestState::Pending);
    assert_eq!(req.user_email, "t@example.com");
    assert_eq!(req.expires_at, T0 + 72 * 3600);
    assert_eq!(rr.pending_count(T0).await.unwrap(), 1);
    // One open request per user.
    let again = rr
        .create(sys, request(&target, ResetScope::Totp, false), 3600, T0)
        .await;
    assert!(
        matches!(again, Err(ResetError::AlreadyOpen(ref id)) if *id == req.id),
        "{again:?}"
    );

    // The requester never approves their own request, even with every right.
    let own = actor("hd-id", "hd@example.com", true);
    assert!(matches!(
        rr.approve(&req.id, own, T0 + 10).await,
        Err(ResetError::OwnRequest)
    ));
    // Executing before approval is refused.
    let early = rr.execute(&req.id, sys, 3600, &sessions(), T0 + 10).await;
    assert!(
        matches!(early, Err(ResetError::NotApproved(RequestState::Pending))),
        "{early:?}"
    );

    let approved = rr.approve(&req.id, sys, T0 + 20).await.unwrap();
    assert_eq!(approved.state, RequestState::Approved);
    assert_eq!(
        approved.decided_by_email.as_deref(),
        Some("sys@example.com")
    );
    assert_eq!(rr.pending_count(T0 + 20).await.unwrap(), 0);
    assert!(matches!(
        rr.approve(&req.id, actor("x", "x@example.com", true), T0 + 30)
            .await,
        Err(ResetError::NotPending(RequestState::Approved))
    ));
    assert!(matches!(
        rr.reject(&req.id, sys, "no", T0 + 30).await,
        Err(ResetError::NotPending(RequestState::Approved))
    ));
}
on_both_engines!(four_eyes_rules, four_eyes);

async fn privileged_needs_secadmin(store: AccountStore) {
    let rr = store.resets();
    let target = user(&store, "boss@example.com", &["admins"]).await;
    let hd = actor("hd-id", "hd@example.com", false);
    let req = rr
        .create(hd, request(&target, ResetScope::Totp, true), 3600, T0)
        .await
        .unwrap();
    assert!(req.privileged);
    let sys = actor("sys-id", "sys@example.com", false);
    assert!(matches!(
        rr.approve(&req.id, sys, T0).await,
        Err(ResetError::NeedsSecadmin)
    ));
    assert!(matches!(
        rr.reject(&req.id, sys, "n", T0).await,
        Err(ResetError::NeedsSecadmin)
    ));
    let sec = actor("sec-id", "sec@example.com", true);
    rr.approve(&req.id, sec, T0 + 1).await.unwrap();
    let by_sys = rr.execute(&req.id, sys, 3600, &sessions(), T0 + 2).await;
    assert!(
        matches!(by_sys, Err(ResetError::NeedsSecadmin)),
        "{by_sys:?}"
    );
    let done = rr
        .execute(&req.id, sec, 3600, &sessions(), T0 + 3)
        .await
        .unwrap();
    assert_eq!(done.request.state, RequestState::Executed);
    assert_eq!(
        done.request.executed_by_email.as_deref(),
        Some("sec@example.com")
    );
}
on_both_engines!(privileged_targets, privileged_needs_secadmin);

async fn expiry(store: AccountStore) {
    let rr = store.resets();
    let a = user(&store, "a@example.com", &[]).await;
    let b = user(&store, "b@example.com", &[]).await;
    let hd = actor("hd-id", "hd@example.com", false);
    let sys = actor("sys-id", "sys@example.com", false);
    let ttl = 72 * 3600;
    let ra = rr
        .create(hd, request(&a, ResetScope::Full, false), ttl, T0)
        .await
        .unwrap();
    let rb = rr
        .create(hd, request(&b, ResetScope::Full, false), ttl, T0 + 3600)
        .await
        .unwrap();
    // One second before the end it can still be approved; at the end it cannot.
    assert_eq!(rr.pending_count(T0 + ttl - 1).await.unwrap(), 2);
    assert_eq!(
        rr.get(&ra.id, T0 + ttl - 1).await.unwrap().state,
        RequestState::Pending
    );
    let late = rr.approve(&ra.id, sys, T0 + ttl).await;
    assert!(
        matches!(late, Err(ResetError::NotPending(RequestState::Expired))),
        "{late:?}"
    );
    // The sweep reports each expiry once.
    let swept = rr.expire_due(T0 + ttl + 3600).await.unwrap();
    assert_eq!(
        swept.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![rb.id.clone()]
    );
    assert!(rr.expire_due(T0 + ttl + 7200).await.unwrap().is_empty());
    let expiries = store
        .audit()
        .search(&crate::audit::AuditQuery {
            action: Some(crate::audit::AuditAction::ResetExpired),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(expiries.len(), 2, "each expiry audited once");
    assert!(expiries.iter().all(|e| e.actor == "system"));
    let listed = rr
        .list(
            &RequestQuery {
                state: Some(RequestState::Expired),
                limit: 10,
                ..Default::default()
            },
            T0 + DAY * 4,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    // An expired request no longer blocks a new one.
    rr.create(hd, request(&a, ResetScope::Totp, false), ttl, T0 + DAY * 4)
        .await
        .unwrap();
}
on_both_engines!(requests_expire, expiry);

async fn races(store: AccountStore) {
    let rr = store.resets();
    let sessions = Arc::new(sessions());
    for round in 0..5 {
        let target = user(&store, &format!("r{round}@example.com"), &[]).await;
        let hd = actor("hd-id", "hd@example.com", false);
        let req = rr
            .create(hd, request(&target, ResetScope::Full, false), 3600, T0)
            .await
            .unwrap();
        let approvals = (0..4).map(|i| {
            let rr = rr.clone();
            let id = req.id.clone();
            tokio::spawn(async move {
                let me = format!("admin{i}");
                rr.approve(&id, actor(&me, &me, false), T0 + 5).await
            })
        });
        let outcomes: Vec<_> = futures_join(approvals).await;
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        for lost in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert!(
                matches!(lost, ResetError::NotPending(RequestState::Approved)),
                "{lost}"
            );
        }
        let executions = (0..3).map(|i| {
            let rr = rr.clone();
            let id = req.id.clone();
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let me = format!("exec{i}");
                rr.execute(&id, actor(&me, &me, false), 3600, &sessions, T0 + 9)
                    .await
            })
        });
        let outcomes: Vec<_> = futures_join(executions).await;
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        // Exactly one link was issued for this request.
        let live = sqlx::query(
            "SELECT COUNT(*) AS n FROM reenrol_links WHERE user_id = $1 AND state = 'valid'",
        )
        .bind(&target)
        .fetch_one(rr.pool())
        .await
        .unwrap();
        assert_eq!(live.try_get::<i64, _>("n").unwrap(), 1);
    }
}
on_both_engines!(simultaneous_admins_one_wins, races);

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

async fn executing(store: AccountStore) {
    let rr = store.resets();
    let f = store.factors();
    let sessions = sessions();
    let target = user(&store, "e@example.com", &[]).await;
    // Some factors and a trusted browser, and two live sessions.
    f.set_email_enabled(&target, true).await.unwrap();
    f.replace_backup_codes(&target, &["h1".to_string(), "h2".to_string()], T0)
        .await
        .unwrap();
    let device = crate::factors::TrustedDevice {
        id: "dev1".into(),
        user_id: target.clone(),
        ua_summary: "Firefox on Linux".into(),
        ip: None,
        created_at: T0,
        last_used_at: T0,
        expires_at: T0 + DAY,
    };
    f.add_trusted_device(&device, "tokhash").await.unwrap();
    let groups: Vec<String> = Vec::new();
    for _ in 0..2 {
        let who = SessionSubject {
            user_id: &target,
            email: "e@example.com",
            display_name: "E",
            groups: &groups,
            credential_version: 1,
        };
        sessions
            .start(who, AuthLevel::Mfa, None, None)
            .await
            .unwrap();
    }
    let before = store
        .find_by_id(&target)
        .await
        .unwrap()
        .unwrap()
        .credential_version;

    // Backup codes only: e-mail codes stay, codes and trusted browsers go.
    let sys = actor("sys-id", "sys@example.com", false);
    let done = rr
        .execute_direct(
            sys,
            request(&target, ResetScope::BackupCodes, false),
            None,
            3600,
            &sessions,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(done.sessions_ended, Some(2));
    let e = f.enrollment(&target).await.unwrap();
    assert!(e.email_enabled);
    assert_eq!(e.backup_total, 0);
    assert!(f
        .list_trusted_devices(&target, T0)
        .await
        .unwrap()
        .is_empty());
    let after = store
        .find_by_id(&target)
        .await
        .unwrap()
        .unwrap()
        .credential_version;
    assert_eq!(after, before + 1);
    assert_eq!(done.link.expires_at, T0 + 3600);

    // Full: nothing left; the newer link supersedes the first.
    let full = rr
        .execute_direct(
            sys,
            request(&target, ResetScope::Full, false),
            None,
            7200,
            &sessions,
            T0 + 60,
        )
        .await
        .unwrap();
    assert!(!f.enrollment(&target).await.unwrap().is_enrolled());
    let links = store.reenrol_links();
    assert_eq!(
        links.find(done.link.token.expose(), T0 + 61).await.unwrap(),
        Err(LinkStatus::Superseded)
    );
    assert!(links
        .find(full.link.token.expose(), T0 + 61)
        .await
        .unwrap()
        .is_ok());
    assert!(
        !format!("{:?}", full.link).contains(full.link.token.expose()),
        "the token is never printed"
    );
}
on_both_engines!(executing_removes_the_scope, executing);
