//! The MFA rules with a fixed clock, on SQLite and the in-memory counter store (the
//! end-to-end suite runs the same flows on Redis).
use super::*;
use crate::account::{AccountStore, Email, NewUser};
use crate::clock::ManualClock;
use crate::counters::MemoryCounterStore;
use crate::mfa::totp::totp_code_at;
use sekisho_config::{DatabaseKind, DatabaseSettings, SecretString};

const T0: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    svc: Arc<MfaService>,
    accounts: AccountStore,
    user: String,
}

fn key(byte: u8) -> SecretBytes {
    SecretBytes::new(vec![byte; 32]).unwrap()
}

async fn fixture_with(keyring: Keyring) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let accounts = AccountStore::connect(&DatabaseSettings {
        kind: DatabaseKind::Sqlite,
        url: SecretString::new(url),
        max_connections: 4,
    })
    .await
    .unwrap();
    let user = accounts
        .create_user(
            NewUser {
                email: Email::parse("kim@example.com").unwrap(),
                display_name: "Kim".into(),
                groups: vec![],
                department: String::new(),
                password_hash: None,
            },
            T0,
        )
        .await
        .unwrap()
        .id;
    let clock = Arc::new(ManualClock::new(T0));
    let svc = Arc::new(MfaService::new(
        accounts.factors(),
        accounts.events(),
        Arc::new(MemoryCounterStore::new(1000, clock.clone())),
        keyring,
        key(9),
        clock.clone(),
        MfaSettings::default(),
    ));
    Fixture {
        _dir: dir,
        clock,
        svc,
        accounts,
        user,
    }
}

async fn fixture() -> Fixture {
    fixture_with(Keyring::new(&key(1), &[])).await
}

fn code(secret: &TotpSecret, at: i64) -> String {
    totp_code_at(secret, at, &TotpParams::default()).to_string()
}

async fn enrolled(f: &Fixture) -> TotpSecret {
    let e = f
        .svc
        .totp_enrollment(&f.user, "kim@example.com")
        .await
        .unwrap();
    assert!(e.uri.starts_with("otpauth://totp/"));
    // A reload shows the same secret until it is confirmed.
    let again = f
        .svc
        .totp_enrollment(&f.user, "kim@example.com")
        .await
        .unwrap();
    assert_eq!(again.secret.expose_bytes(), e.secret.expose_bytes());
    assert_eq!(
        f.svc
            .confirm_totp(&f.user, &code(&e.secret, f.clock.now()))
            .await
            .unwrap(),
        TotpOutcome::Accepted
    );
    e.secret
}

#[tokio::test]
async fn totp_enrolment_verification_replay_and_drift() {
    let f = fixture().await;
    assert_eq!(
        f.svc.verify_totp(&f.user, "123456").await.unwrap(),
        TotpOutcome::NotEnrolled
    );
    let secret = enrolled(&f).await;
    assert!(f.svc.enrollment(&f.user).await.unwrap().has_totp());

    // The enrolment code itself cannot be replayed for a sign-in.
    let now = f.clock.now();
    assert_eq!(
        f.svc
            .verify_totp(&f.user, &code(&secret, now))
            .await
            .unwrap(),
        TotpOutcome::Replayed
    );
    f.clock.advance(30);
    let c = code(&secret, f.clock.now());
    assert_eq!(
        f.svc.verify_totp(&f.user, &c).await.unwrap(),
        TotpOutcome::Accepted
    );
    assert_eq!(
        f.svc.verify_totp(&f.user, &c).await.unwrap(),
        TotpOutcome::Replayed
    );

    // ±1 step skew is accepted; 3 minutes slow is drift with a hint.
    f.clock.advance(300);
    let t = f.clock.now();
    assert_eq!(
        f.svc
            .verify_totp(&f.user, &code(&secret, t - 30))
            .await
            .unwrap(),
        TotpOutcome::Accepted
    );
    assert_eq!(
        f.svc
            .verify_totp(&f.user, &code(&secret, t - 180))
            .await
            .unwrap(),
        TotpOutcome::Drift {
            minutes: -3,
            steps: -6
        }
    );
    assert!(matches!(
        f.svc
            .verify_totp(&f.user, &code(&secret, t + 240))
            .await
            .unwrap(),
        TotpOutcome::Drift { minutes: 4, .. }
    ));
    assert_eq!(
        f.svc
            .verify_totp(&f.user, &code(&secret, t - 3600))
            .await
            .unwrap(),
        TotpOutcome::Invalid
    );
    assert_eq!(
        f.svc.verify_totp(&f.user, "12a456").await.unwrap(),
        TotpOutcome::Malformed
    );

    // Parallel submissions of one fresh code: exactly one succeeds.
    f.clock.advance(60);
    let c = code(&secret, f.clock.now());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let svc = f.svc.clone();
            let (u, c) = (f.user.clone(), c.clone());
            tokio::spawn(async move { svc.verify_totp(&u, &c).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            TotpOutcome::Accepted => accepted += 1,
            TotpOutcome::Replayed => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn totp_secret_is_sealed_at_rest_and_keys_rotate() {
    let f = fixture().await;
    let secret = enrolled(&f).await;
    let stored = f.accounts.factors().sealed_totp(&f.user).await.unwrap();
    let sealed = stored.active.clone().unwrap();
    assert!(!sealed.contains(secret.to_base32().as_str()));
    assert!(sealed.starts_with("v1."));

    // Rotate: new current key, old one kept for reading.
    let rotated = MfaService::new(
        f.accounts.factors(),
        f.accounts.events(),
        Arc::new(MemoryCounterStore::new(100, f.clock.clone())),
        Keyring::new(&key(2), &[key(1)]),
        key(9),
        f.clock.clone(),
        MfaSettings::default(),
    );
    let report = rotated.rotate_keys().await.unwrap();
    assert_eq!(
        report,
        RotationReport {
            resealed: 1,
            already_current: 0
        }
    );
    assert_eq!(
        rotated.rotate_keys().await.unwrap(),
        RotationReport {
            resealed: 0,
            already_current: 1
        }
    );
    // Only the new key is needed now, and the secret is the same.
    let only_new = MfaService::new(
        f.accounts.factors(),
        f.accounts.events(),
        Arc::new(MemoryCounterStore::new(100, f.clock.clone())),
        Keyring::new(&key(2), &[]),
        key(9),
        f.clock.clone(),
        MfaSettings::default(),
    );
    f.clock.advance(30);
    assert_eq!(
        only_new
            .verify_totp(&f.user, &code(&secret, f.clock.now()))
            .await
            .unwrap(),
        TotpOutcome::Accepted
    );
    // A wrong key cannot open it: an error, not a panic or a pass.
    let wrong = MfaService::new(
        f.accounts.factors(),
        f.accounts.events(),
        Arc::new(MemoryCounterStore::new(100, f.clock.clone())),
        Keyring::new(&key(3), &[]),
        key(9),
        f.clock.clone(),
        MfaSettings::default(),
    );
    assert!(wrong.verify_totp(&f.user, "000000").await.is_err());
}

fn issued(o: IssueOutcome) -> String {
    match o {
        IssueOutcome::Issued(c) => c.expose().to_string(),
        other => panic!("expected a code, got {other:?}"),
    }
}

#[tokio::test]
async fn email_codes_expire_limit_attempts_cool_down_and_cap() {
    let f = fixture().await;
    let ch = CodeChannel::Email;
    assert_eq!(
        f.svc.check_code(&f.user, ch, "123456").await.unwrap(),
        CodeOutcome::NoCode
    );

    let c = issued(f.svc.issue_code(&f.user, ch, None, None).await.unwrap());
    assert_eq!(c.len(), 6);
    // Resend cool-down.
    assert!(matches!(
        f.svc.issue_code(&f.user, ch, None, None).await.unwrap(),
        IssueOutcome::Cooldown(60)
    ));
    assert_eq!(
        f.svc.check_code(&f.user, ch, "12345").await.unwrap(),
        CodeOutcome::Malformed
    );
    let wrong = if c == "000000" { "111111" } else { "000000" };
    assert_eq!(
        f.svc.check_code(&f.user, ch, wrong).await.unwrap(),
        CodeOutcome::Invalid { attempts_left: 4 }
    );
    // Right code works once, spaces allowed.
    let spaced = format!("{} {}", &c[..3], &c[3..]);
    assert_eq!(
        f.svc.check_code(&f.user, ch, &spaced).await.unwrap(),
        CodeOutcome::Accepted
    );
    assert_eq!(
        f.svc.check_code(&f.user, ch, &c).await.unwrap(),
        CodeOutcome::NoCode
    );

    // Expiry after 10 minutes.
    f.clock.advance(61);
    let c = issued(f.svc.issue_code(&f.user, ch, None, None).await.unwrap());
    f.clock.advance(600);
    assert_eq!(
        f.svc.check_code(&f.user, ch, &c).await.unwrap(),
        CodeOutcome::Expired
    );

    // Five wrong tries void the code, even for the right one afterwards.
    let c = issued(f.svc.issue_code(&f.user, ch, None, None).await.unwrap());
    let wrong = if c == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        assert_eq!(
            f.svc.check_code(&f.user, ch, wrong).await.unwrap(),
            CodeOutcome::Invalid {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        f.svc.check_code(&f.user, ch, wrong).await.unwrap(),
        CodeOutcome::TooManyAttempts
    );
    assert_eq!(
        f.svc.check_code(&f.user, ch, &c).await.unwrap(),
        CodeOutcome::NoCode
    );

    // Hourly cap: 5 codes per hour (3 issued so far this hour... move to a fresh hour).
    f.clock.set((f.clock.now() / 3600 + 1) * 3600);
    for _ in 0..5 {
        issued(f.svc.issue_code(&f.user, ch, None, None).await.unwrap());
        f.clock.advance(61);
    }
    assert!(matches!(
        f.svc.issue_code(&f.user, ch, None, None).await.unwrap(),
        IssueOutcome::HourlyCap
    ));

    // A code bound to a phone being confirmed remembers it.
    f.clock.advance(3600);
    issued(
        f.svc
            .issue_code(&f.user, CodeChannel::Sms, Some("+8190"), None)
            .await
            .unwrap(),
    );
    assert_eq!(
        f.svc
            .pending_code_target(&f.user, CodeChannel::Sms)
            .await
            .unwrap()
            .as_deref(),
        Some("+8190")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_codes_are_spent_once_even_in_parallel() {
    let f = fixture().await;
    let codes = f.svc.regenerate_backup_codes(&f.user).await.unwrap();
    assert_eq!(codes.len(), 10);
    let first = codes[0].display().to_uppercase();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let svc = f.svc.clone();
            let (u, c) = (f.user.clone(), first.clone());
            tokio::spawn(async move { svc.use_backup_code(&u, &c).await.unwrap() })
        })
        .collect();
    let mut accepted = Vec::new();
    for t in tasks {
        if let BackupOutcome::Accepted { remaining } = t.await.unwrap() {
            accepted.push(remaining);
        }
    }
    assert_eq!(accepted, vec![9]);
    assert_eq!(
        f.svc.use_backup_code(&f.user, "not a code").await.unwrap(),
        BackupOutcome::Malformed
    );
    // Regenerating voids the old set.
    let fresh = f.svc.regenerate_backup_codes(&f.user).await.unwrap();
    assert_eq!(
        f.svc
            .use_backup_code(&f.user, codes[1].display())
            .await
            .unwrap(),
        BackupOutcome::Invalid
    );
    assert_eq!(
        f.svc
            .use_backup_code(&f.user, fresh[1].display())
            .await
            .unwrap(),
        BackupOutcome::Accepted { remaining: 9 }
    );
}

#[tokio::test]
async fn trusted_browsers_expire_and_are_listed() {
    let f = fixture().await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36";
    let (token, expires) = f
        .svc
        .trust_device(&f.user, Some(ua), Some("127.0.0.1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expires, T0 + 30 * 86_400);
    assert!(f.svc.check_device(&f.user, &token).await.unwrap());
    assert!(!f.svc.check_device(&f.user, "forged").await.unwrap());
    assert!(!f.svc.check_device("someone-else", &token).await.unwrap());
    let list = f.svc.trusted_devices(&f.user).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].ua_summary, "Chrome on Linux");
    f.clock.advance(30 * 86_400);
    assert!(!f.svc.check_device(&f.user, &token).await.unwrap());
}

#[test]
fn user_agents_are_summarised() {
    assert_eq!(
        ua_summary("Mozilla/5.0 (Windows NT 10.0) Edg/120"),
        "Edge on Windows"
    );
    assert_eq!(
        ua_summary("Mozilla/5.0 (iPhone; CPU iPhone OS 17) Safari/604"),
        "Safari on iPhone"
    );
    assert_eq!(ua_summary(""), "Browser");
}

/// One address cannot have codes sent to many accounts: a cap per IP per hour.
#[tokio::test]
async fn code_sends_are_capped_per_client_ip() {
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture().await;
    let svc = MfaService::new(
        f.accounts.factors(),
        f.accounts.events(),
        Arc::new(MemoryCounterStore::new(1000, clock.clone())),
        Keyring::new(&key(1), &[]),
        key(9),
        clock.clone(),
        MfaSettings::default(),
    )
    .with_codes_per_ip_per_hour(2);
    let ch = CodeChannel::Email;
    let ip = Some("203.0.113.7");
    issued(svc.issue_code("u1", ch, None, ip).await.unwrap());
    issued(svc.issue_code("u2", ch, None, ip).await.unwrap());
    assert!(matches!(
        svc.issue_code("u3", ch, None, ip).await.unwrap(),
        IssueOutcome::HourlyCap
    ));
    issued(
        svc.issue_code("u3", ch, None, Some("198.51.100.2"))
            .await
            .unwrap(),
    );
    clock.advance(3600);
    issued(svc.issue_code("u4", ch, None, ip).await.unwrap());
}
