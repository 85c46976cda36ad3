use crate::account::AccountStore;
use crate::testdb::on_both_engines;

async fn suspend_and_lift(store: AccountStore) {
    let s = store.suspensions();
    let groups = |g: &[&str]| g.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(s.blocking(&groups(&["sales"])).await.unwrap(), None);
    assert!(s
        .suspend("sales", "phishing wave", "sec@example.com", 100)
        .await
        .unwrap());
    assert!(!s
        .suspend("sales", "again", "x@example.com", 200)
        .await
        .unwrap());
    let active = s.active().await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        (active[0].reason.as_str(), active[0].suspended_at),
        ("phishing wave", 100)
    );
    assert_eq!(
        s.blocking(&groups(&["eng", "sales"]))
            .await
            .unwrap()
            .as_deref(),
        Some("sales")
    );
    assert_eq!(s.blocking(&groups(&["eng"])).await.unwrap(), None);
    assert_eq!(s.blocking(&[]).await.unwrap(), None);
    assert!(s.lift("sales").await.unwrap());
    assert!(!s.lift("sales").await.unwrap());
    assert_eq!(s.blocking(&groups(&["sales"])).await.unwrap(), None);
}
on_both_engines!(group_suspensions, suspend_and_lift);
