//! Re-enrolment links on SQLite and PostgreSQL: single use, expiry, supersession, and
//! a link started twice at once.
use super::*;
use crate::account::AccountStore;
use crate::testdb::{on_both_engines, user};

const T0: UnixTime = 1_800_000_000;

async fn issue(store: &AccountStore, user_id: &str, ttl: i64, now: UnixTime) -> IssuedLink {
    let mut tx = store.reenrol_links().pool.begin().await.unwrap();
    let link = issue_in(&mut tx, user_id, Some("RR-1"), ttl, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    link
}

async fn lifecycle(store: AccountStore) {
    let links = store.reenrol_links();
    let uid = user(&store, "l@example.com", &[]).await;
    let link = issue(&store, &uid, 3600, T0).await;
    let token = link.token.expose().to_string();
    assert_eq!(
        links.find("not-a-token", T0).await.unwrap(),
        Err(LinkStatus::Unknown)
    );
    assert_eq!(links.find("", T0).await.unwrap(), Err(LinkStatus::Unknown));
    let valid = links.find(&token, T0 + 10).await.unwrap().unwrap();
    assert_eq!(valid.user_id, uid);
    assert_eq!(valid.request_id.as_deref(), Some("RR-1"));
    assert!(links.in_progress_for(&uid).await.unwrap().is_none());

    let started = valid.start(&links, T0 + 20).await.unwrap().unwrap();
    // Used once: the same link cannot start again.
    assert_eq!(
        links.find(&token, T0 + 30).await.unwrap(),
        Err(LinkStatus::InProgress)
    );
    assert_eq!(
        links.in_progress_for(&uid).await.unwrap(),
        Some(started.clone())
    );
    assert!(started.clone().consume(&links, T0 + 40).await.unwrap());
    assert!(
        !started.consume(&links, T0 + 41).await.unwrap(),
        "consumed once"
    );
    assert_eq!(
        links.find(&token, T0 + 50).await.unwrap(),
        Err(LinkStatus::Consumed)
    );
    assert!(links.in_progress_for(&uid).await.unwrap().is_none());
}
on_both_engines!(single_use, lifecycle);

async fn expiry(store: AccountStore) {
    let links = store.reenrol_links();
    let uid = user(&store, "x@example.com", &[]).await;
    let link = issue(&store, &uid, 3600, T0).await;
    let token = link.token.expose().to_string();
    let valid = links.find(&token, T0 + 3599).await.unwrap().unwrap();
    assert_eq!(
        links.find(&token, T0 + 3600).await.unwrap(),
        Err(LinkStatus::Expired)
    );
    // Found just before the end, submitted just after: still refused.
    assert_eq!(
        valid.start(&links, T0 + 3600).await.unwrap(),
        Err(LinkStatus::Expired)
    );
}
on_both_engines!(links_expire, expiry);

async fn superseded_and_raced(store: AccountStore) {
    let links = store.reenrol_links();
    let uid = user(&store, "s@example.com", &[]).await;
    let old = issue(&store, &uid, 3600, T0).await;
    let new = issue(&store, &uid, 3600, T0 + 5).await;
    assert_eq!(
        links.find(old.token.expose(), T0 + 6).await.unwrap(),
        Err(LinkStatus::Superseded)
    );
    let token = new.token.expose().to_string();
    let a = links.find(&token, T0 + 7).await.unwrap().unwrap();
    let b = links.find(&token, T0 + 7).await.unwrap().unwrap();
    let (ra, rb) = tokio::join!(a.start(&links, T0 + 8), b.start(&links, T0 + 8));
    let results = [ra.unwrap(), rb.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(LinkStatus::InProgress)));
}
on_both_engines!(newer_links_win_and_start_once, superseded_and_raced);
