//! The user directory on SQLite and PostgreSQL: text search, filters, paging, and
//! search text that looks like SQL or LIKE wildcards.
use super::*;
use crate::account::AccountStore;
use crate::testdb::{on_both_engines, user};

async fn set_up(store: &AccountStore) -> Vec<String> {
    let mut ids = Vec::new();
    for (email, groups, dept) in [
        ("alice@example.com", &["sales"][..], "Sales East"),
        ("bob@example.com", &["sales", "admins"][..], "Sales West"),
        ("carol@example.com", &["eng"][..], "Engineering"),
        ("dave_x@example.com", &[][..], "50% Off"),
    ] {
        let id = user(store, email, groups).await;
        store.directory().set_department_for_test(&id, dept).await;
        ids.push(id);
    }
    let f = store.factors();
    f.set_email_enabled(&ids[0], true).await.unwrap();
    f.replace_backup_codes(&ids[0], &["h".to_string()], 1)
        .await
        .unwrap();
    f.set_email_enabled(&ids[1], true).await.unwrap();
    store.record_sign_in(&ids[0], 5_000).await.unwrap();
    store.record_sign_in(&ids[2], 1_000).await.unwrap();
    ids
}

fn emails(page: &[UserSummary]) -> Vec<&str> {
    page.iter().map(|u| u.email.as_str()).collect()
}

async fn search(store: AccountStore) {
    set_up(&store).await;
    let d = store.directory();
    let q = |text: &str| UserQuery {
        text: Some(text.to_string()),
        limit: 50,
        ..Default::default()
    };
    assert!(matches!(
        d.search(&q("al")).await,
        Err(SearchError::TooShort)
    ));
    let (page, total) = d.search(&q("SALES")).await.unwrap();
    assert_eq!(
        (emails(&page), total),
        (vec!["alice@example.com", "bob@example.com"], 2)
    );
    let (page, _) = d.search(&q("engineer")).await.unwrap();
    assert_eq!(emails(&page), vec!["carol@example.com"]);
    // Wildcards and quotes are plain text.
    assert_eq!(d.search(&q("50%")).await.unwrap().1, 1);
    assert_eq!(d.search(&q("e_x")).await.unwrap().1, 1);
    assert_eq!(d.search(&q("%%%")).await.unwrap().1, 0);
    assert_eq!(d.search(&q("' OR 1=1 --")).await.unwrap().1, 0);

    let all = |f: fn(&mut UserQuery)| {
        let mut q = UserQuery {
            limit: 50,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let (page, _) = d
        .search(&all(|q| q.mfa = Some(MfaFilter::Enrolled)))
        .await
        .unwrap();
    assert_eq!(emails(&page), vec!["alice@example.com", "bob@example.com"]);
    assert_eq!(page[0].backup_codes_left, 1);
    assert!(page[0].email_codes && !page[0].totp && page[0].enrolled());
    let (page, _) = d
        .search(&all(|q| q.mfa = Some(MfaFilter::NoBackupCodes)))
        .await
        .unwrap();
    assert_eq!(emails(&page), vec!["bob@example.com"]);
    let (page, _) = d
        .search(&all(|q| q.mfa = Some(MfaFilter::NotEnrolled)))
        .await
        .unwrap();
    assert_eq!(
        emails(&page),
        vec!["carol@example.com", "dave_x@example.com"]
    );
    let (page, _) = d
        .search(&all(|q| q.groups = vec!["admins".into(), "eng".into()]))
        .await
        .unwrap();
    assert_eq!(emails(&page), vec!["bob@example.com", "carol@example.com"]);
    let (page, _) = d
        .search(&all(|q| q.last_sign_in = Some(LastSignIn::Never)))
        .await
        .unwrap();
    assert_eq!(emails(&page), vec!["bob@example.com", "dave_x@example.com"]);
    let (page, _) = d
        .search(&all(|q| q.last_sign_in = Some(LastSignIn::Since(2_000))))
        .await
        .unwrap();
    assert_eq!(emails(&page), vec!["alice@example.com"]);
    let (page, _) = d
        .search(&all(|q| q.last_sign_in = Some(LastSignIn::Before(2_000))))
        .await
        .unwrap();
    assert_eq!(
        emails(&page),
        vec!["bob@example.com", "carol@example.com", "dave_x@example.com"]
    );
    // Filters combine with text and paging.
    let (page, total) = d
        .search(&UserQuery {
            text: Some("example".into()),
            limit: 2,
            offset: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (emails(&page), total),
        (vec!["carol@example.com", "dave_x@example.com"], 4)
    );
    assert_eq!(d.members_of("sales").await.unwrap().len(), 2);
    assert_eq!(d.groups().await.unwrap(), vec!["admins", "eng", "sales"]);
}
on_both_engines!(directory_search, search);
