//! The factor store and event log suite, on SQLite and PostgreSQL, with the races that
//! must have exactly one winner.
use super::*;
use crate::account::AccountStore;
use crate::events::{AuthEvent, EventKind, Reason};
use crate::testdb::user;

async fn suite(accounts: AccountStore) {
    let f = accounts.factors();
    let alice = user(&accounts, "alice@example.com", &[]).await;
    let bob = user(&accounts, "bob@example.com", &[]).await;

    let e = f.enrollment(&alice).await.unwrap();
    assert_eq!(e, Enrollment::default());
    assert!(!e.is_enrolled());
    assert!(e.methods().is_empty());

    // TOTP: pending until confirmed, confirmation is conditional on the same pending value.
    f.put_pending_totp(&alice, "sealed-1", 2000).await.unwrap();
    assert!(!f.enrollment(&alice).await.unwrap().has_totp());
    let sealed = f.sealed_totp(&alice).await.unwrap();
    assert_eq!(sealed.active, None);
    assert_eq!(sealed.pending.as_deref(), Some("sealed-1"));
    assert!(!f
        .confirm_pending_totp(&alice, "other", 10, 2001)
        .await
        .unwrap());
    assert!(f
        .confirm_pending_totp(&alice, "sealed-1", 10, 2001)
        .await
        .unwrap());
    assert!(!f
        .confirm_pending_totp(&alice, "sealed-1", 10, 2001)
        .await
        .unwrap());
    let e = f.enrollment(&alice).await.unwrap();
    assert_eq!(e.totp_confirmed_at, Some(2001));
    assert_eq!(e.methods(), vec![MfaMethod::Totp]);

    // Steps are accepted once and never backwards.
    assert!(
        !f.accept_totp_step(&alice, 10).await.unwrap(),
        "confirming step is spent"
    );
    assert!(f.accept_totp_step(&alice, 11).await.unwrap());
    assert!(!f.accept_totp_step(&alice, 11).await.unwrap());
    assert!(!f.accept_totp_step(&alice, 9).await.unwrap());
    assert!(
        !f.accept_totp_step(&bob, 11).await.unwrap(),
        "no TOTP, nothing accepted"
    );

    // A replacement secret waits while the old one keeps working.
    f.put_pending_totp(&alice, "sealed-2", 3000).await.unwrap();
    let sealed = f.sealed_totp(&alice).await.unwrap();
    assert_eq!(sealed.active.as_deref(), Some("sealed-1"));
    assert_eq!(sealed.pending.as_deref(), Some("sealed-2"));
    assert!(f.enrollment(&alice).await.unwrap().has_totp());

    // Key rotation rewrites only what it read.
    let all = f.all_sealed_totp().await.unwrap();
    assert_eq!(all.len(), 1);
    let new = SealedTotp {
        user_id: alice.clone(),
        active: Some("resealed-1".into()),
        pending: Some("resealed-2".into()),
    };
    assert!(f.reseal_totp(&all[0], &new).await.unwrap());
    assert!(
        !f.reseal_totp(&all[0], &new).await.unwrap(),
        "stale read refused"
    );
    assert_eq!(f.sealed_totp(&alice).await.unwrap(), new);

    // Parallel step acceptance: exactly one winner.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let f = f.clone();
        let a = alice.clone();
        tasks.push(tokio::spawn(async move {
            f.accept_totp_step(&a, 50).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);

    // E-mail, phone, preferred order.
    f.set_email_enabled(&alice, true).await.unwrap();
    f.set_phone(&alice, Some("+819012345678")).await.unwrap();
    f.set_preferred(&alice, Some(MfaMethod::Email))
        .await
        .unwrap();
    let e = f.enrollment(&alice).await.unwrap();
    assert!(e.email_enabled);
    assert_eq!(e.phone.as_deref(), Some("+819012345678"));
    assert_eq!(
        e.methods(),
        vec![MfaMethod::Email, MfaMethod::Totp, MfaMethod::Sms]
    );

    // Backup codes: a set replaces the old one; each is spent once, in parallel too.
    let hashes: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    f.replace_backup_codes(&alice, &hashes, 4000).await.unwrap();
    let e = f.enrollment(&alice).await.unwrap();
    assert_eq!((e.backup_remaining, e.backup_total), (10, 10));
    assert_eq!(e.methods().last(), Some(&MfaMethod::BackupCode));
    assert!(f.consume_backup_code(&alice, "h0", 4001).await.unwrap());
    assert!(!f.consume_backup_code(&alice, "h0", 4002).await.unwrap());
    assert!(
        !f.consume_backup_code(&bob, "h1", 4002).await.unwrap(),
        "codes are per user"
    );
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let f = f.clone();
        let a = alice.clone();
        tasks.push(tokio::spawn(async move {
            f.consume_backup_code(&a, "h1", 4003).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(f.enrollment(&alice).await.unwrap().backup_remaining, 8);
    let fresh: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
    f.replace_backup_codes(&alice, &fresh, 5000).await.unwrap();
    assert!(
        !f.consume_backup_code(&alice, "h2", 5001).await.unwrap(),
        "old set void"
    );
    assert_eq!(f.enrollment(&alice).await.unwrap().backup_remaining, 10);

    // Trusted browsers.
    let device = TrustedDevice {
        id: "d1".into(),
        user_id: alice.clone(),
        ua_summary: "Chrome on Linux".into(),
        ip: Some("127.0.0.1".into()),
        created_at: 6000,
        last_used_at: 6000,
        expires_at: 7000,
    };
    f.add_trusted_device(&device, "tok-hash").await.unwrap();
    assert!(f
        .use_trusted_device(&bob, "tok-hash", 6100)
        .await
        .unwrap()
        .is_none());
    let used = f
        .use_trusted_device(&alice, "tok-hash", 6100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, 6100);
    assert!(
        f.use_trusted_device(&alice, "tok-hash", 7000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(f.list_trusted_devices(&alice, 6200).await.unwrap().len(), 1);
    assert!(!f.revoke_trusted_device(&bob, "d1").await.unwrap());
    assert!(f.revoke_trusted_device(&alice, "d1").await.unwrap());
    assert!(f
        .list_trusted_devices(&alice, 6200)
        .await
        .unwrap()
        .is_empty());

    // Reset removes everything.
    f.add_trusted_device(
        &TrustedDevice {
            id: "d2".into(),
            ..device
        },
        "tok2",
    )
    .await
    .unwrap();
    f.reset_all(&alice).await.unwrap();
    let e = f.enrollment(&alice).await.unwrap();
    assert_eq!(e, Enrollment::default());
    assert!(f
        .list_trusted_devices(&alice, 6200)
        .await
        .unwrap()
        .is_empty());
    assert!(f.remove_totp(&alice).await.is_ok());

    // Events, newest first, per user.
    let log = accounts.events();
    log.record(
        &AuthEvent::new(100, EventKind::Password, false, Reason::InvalidPassword)
            .user(&alice, "alice@example.com")
            .client(Some("10.0.0.1"), Some("UA")),
    )
    .await
    .unwrap();
    log.record(
        &AuthEvent::new(200, EventKind::SecondFactor, false, Reason::ClockDrift)
            .user(&alice, "alice@example.com")
            .method(MfaMethod::Totp)
            .detail("drift_steps=-6".into()),
    )
    .await
    .unwrap();
    log.record(&AuthEvent::new(
        150,
        EventKind::Password,
        false,
        Reason::UnknownUser,
    ))
    .await
    .unwrap();
    let mine = log.recent_for_user(&alice, 10).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].reason, "clock_drift");
    assert_eq!(mine[0].method.as_deref(), Some("totp"));
    assert_eq!(mine[0].detail.as_deref(), Some("drift_steps=-6"));
    assert_eq!(mine[1].ip.as_deref(), Some("10.0.0.1"));
    assert!(!mine[1].success);
    assert_eq!(log.recent(2).await.unwrap().len(), 2);
    assert_eq!(
        log.count_by_reason(EventKind::Password, 120).await.unwrap(),
        vec![("unknown_user".to_string(), 1)]
    );
    assert!(log
        .count_by_reason(EventKind::Enrollment, 0)
        .await
        .unwrap()
        .is_empty());
}

crate::testdb::on_both_engines!(factor_store, suite);
