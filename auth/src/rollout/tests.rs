//! The rollout store on SQLite and PostgreSQL: a scripted population's adoption
//! figures, notice claims with exactly one winner, grace counts and wizard attempts.
use super::*;
use crate::account::{AccountStore, Email};
use crate::testdb::user;
use std::sync::Arc;

async fn with_totp(accounts: &AccountStore, id: &str) {
    let f = accounts.factors();
    f.put_pending_totp(id, "sealed", 1000).await.unwrap();
    assert!(f.confirm_pending_totp(id, "sealed", 1, 1000).await.unwrap());
}

async fn suite(accounts: AccountStore) {
    let r = accounts.rollout();
    let f = accounts.factors();
    // Population: admins a1, a2 (TOTP; a1 also backup codes, a1 also in staff);
    // staff s1 (e-mail), s2 (SMS), s3 (none, also in sales); one user in no group;
    // one disabled user with TOTP who must not count.
    let a1 = user(&accounts, "a1@example.com", &["admins", "staff"]).await;
    let a2 = user(&accounts, "a2@example.com", &["admins"]).await;
    let s1 = user(&accounts, "s1@example.com", &["staff"]).await;
    let s2 = user(&accounts, "s2@example.com", &["staff"]).await;
    let s3 = user(&accounts, "s3@example.com", &["staff", "sales"]).await;
    let loner = user(&accounts, "loner@example.com", &[]).await;
    let gone = user(&accounts, "gone@example.com", &["staff"]).await;
    with_totp(&accounts, &a1).await;
    with_totp(&accounts, &a2).await;
    f.replace_backup_codes(&a1, &["h1".into(), "h2".into()], 1000)
        .await
        .unwrap();
    f.set_email_enabled(&s1, true).await.unwrap();
    f.set_phone(&s2, Some("+819012345678")).await.unwrap();
    accounts
        .set_disabled(&Email::parse("gone@example.com").unwrap(), true)
        .await
        .unwrap();
    with_totp(&accounts, &gone).await;

    let a = r.adoption().await.unwrap();
    let by: std::collections::HashMap<&str, &AdoptionRow> =
        a.groups.iter().map(|g| (g.group.as_str(), g)).collect();
    assert_eq!(by.len(), 4, "{a:?}");
    let admins = by["admins"];
    assert_eq!(
        (
            admins.users,
            admins.enrolled,
            admins.totp,
            admins.backup_codes
        ),
        (2, 2, 2, 1)
    );
    let staff = by["staff"];
    assert_eq!(
        (
            staff.users,
            staff.enrolled,
            staff.totp,
            staff.email,
            staff.sms
        ),
        (4, 3, 1, 1, 1),
        "a1 counts in staff too; gone is disabled"
    );
    assert_eq!(staff.percent(), 75.0);
    assert_eq!((by["sales"].users, by["sales"].enrolled), (1, 0));
    assert_eq!((by[""].users, by[""].enrolled), (1, 0));
    assert_eq!(
        (a.total.users, a.total.enrolled, a.total.totp),
        (6, 4, 2),
        "each user once in the total"
    );

    let pending = r.unenrolled_users().await.unwrap();
    let emails: Vec<&str> = pending.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["loner@example.com", "s3@example.com"]);
    assert_eq!(pending[1].groups, ["sales", "staff"]);
    assert_eq!(pending[1].id, s3);

    // Grace sign-ins count per deadline.
    assert_eq!(r.row(&s3, Some(5000)).await.unwrap(), RolloutRow::default());
    assert_eq!(r.use_grace_login(&s3, 5000).await.unwrap(), 1);
    assert_eq!(r.use_grace_login(&s3, 5000).await.unwrap(), 2);
    assert_eq!(
        r.row(&s3, Some(6000)).await.unwrap().grace_used,
        0,
        "another deadline"
    );
    assert_eq!(
        r.use_grace_login(&s3, 6000).await.unwrap(),
        1,
        "a new deadline restarts"
    );
    r.snooze(&s3, 7000).await.unwrap();
    assert_eq!(
        r.row(&s3, Some(6000)).await.unwrap().snoozed_until,
        Some(7000)
    );

    // Wizard attempts: started once, ended once.
    assert!(r.start_wizard(&loner, 100).await.unwrap());
    assert!(
        !r.start_wizard(&loner, 150).await.unwrap(),
        "already running"
    );
    assert!(r.start_wizard(&s3, 300).await.unwrap());
    let stale = r.stale_wizards(200).await.unwrap();
    assert_eq!(
        stale,
        vec![(loner.clone(), "loner@example.com".to_string(), 100)]
    );
    assert!(r.end_wizard_started_at(&loner, 100).await.unwrap());
    assert!(
        !r.end_wizard_started_at(&loner, 100).await.unwrap(),
        "only once"
    );
    assert_eq!(r.end_wizard(&s3).await.unwrap(), Some(300));
    assert_eq!(r.end_wizard(&s3).await.unwrap(), None);

    // Eight claims of one notice at once: exactly one wins.
    let store = Arc::new(r.clone());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let id = s3.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_notice(&id, 9000, 7, 10, NoticeState::Claimed)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert!(r
        .claim_notice(&s3, 9000, 30, 10, NoticeState::Superseded)
        .await
        .unwrap());
    r.mark_notice_sent(&s3, 9000, 7).await.unwrap();
    assert_eq!(
        r.notices(&s3, 9000).await.unwrap(),
        vec![(30, "superseded".to_string()), (7, "sent".to_string())]
    );
    // A released claim (failed send) can be claimed again; a sent one cannot be released.
    assert!(r
        .claim_notice(&s3, 9000, 1, 11, NoticeState::Claimed)
        .await
        .unwrap());
    r.release_notice(&s3, 9000, 1).await.unwrap();
    r.release_notice(&s3, 9000, 7).await.unwrap();
    assert!(r
        .claim_notice(&s3, 9000, 1, 12, NoticeState::Claimed)
        .await
        .unwrap());
    assert!(!r
        .claim_notice(&s3, 9000, 7, 12, NoticeState::Claimed)
        .await
        .unwrap());
}

crate::testdb::on_both_engines!(rollout_store, suite);
