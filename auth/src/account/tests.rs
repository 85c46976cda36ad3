//! The account store suite, run on SQLite and on PostgreSQL.
use super::*;
use crate::password::{PasswordHasher, PasswordInput};
use sekisho_config::{PasswordSettings, SecretString};

async fn suite(store: AccountStore) {
    store.ping().await.unwrap();
    let hasher = PasswordHasher::new(&PasswordSettings {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 1,
        thread_priority: sekisho_config::HashThreadPriority::Idle,
        queue: 8,
        min_length: 10,
        self_service_reset: true,
        reset_link_ttl: std::time::Duration::from_secs(1800),
    })
    .unwrap();
    let hash = hasher
        .hash(PasswordInput::new("first password".into()))
        .await
        .unwrap();
    let alice = store
        .create_user(
            NewUser {
                email: Email::parse("Alice@Example.COM").unwrap(),
                display_name: " Alice ".into(),
                groups: vec!["staff".into(), "admins".into(), "staff".into(), " ".into()],
                department: "IT".into(),
                password_hash: Some(hash),
            },
            1000,
        )
        .await
        .unwrap();
    assert_eq!(alice.email.as_str(), "alice@example.com");
    assert_eq!(alice.groups, vec!["admins", "staff"]);
    assert_eq!(alice.display_name, "Alice");

    // Case-insensitive uniqueness.
    let dup = store
        .create_user(
            NewUser {
                email: Email::parse("ALICE@example.com").unwrap(),
                display_name: "Other".into(),
                groups: vec![],
                department: String::new(),
                password_hash: None,
            },
            1001,
        )
        .await;
    assert!(matches!(dup, Err(AuthError::DuplicateEmail)), "{dup:?}");

    let found = store
        .find_by_email(&Email::parse("alice@EXAMPLE.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(found.groups, vec!["admins", "staff"]);
    assert_eq!(found.department, "IT");
    assert!(!found.disabled);
    assert_eq!(found.credential_version, 1);
    assert!(hasher
        .verify(
            PasswordInput::new("first password".into()),
            found.password_hash.as_ref()
        )
        .await
        .unwrap());
    assert!(store.find_by_id(&alice.id).await.unwrap().is_some());
    assert!(store
        .find_by_email(&Email::parse("nobody@example.com").unwrap())
        .await
        .unwrap()
        .is_none());

    // Password change and disabling bump the credential version.
    let new_hash = hasher
        .hash(PasswordInput::new("second password".into()))
        .await
        .unwrap();
    let changed = store.set_password(&alice.email, &new_hash).await.unwrap();
    assert_eq!(changed.credential_version, 2);
    let disabled = store.set_disabled(&alice.email, true).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.credential_version, 3);
    let missing = store
        .set_disabled(&Email::parse("ghost@example.com").unwrap(), true)
        .await;
    assert!(matches!(missing, Err(AuthError::UnknownUser)));

    store.record_sign_in(&alice.id, 5000).await.unwrap();
    store
        .create_user(
            NewUser {
                email: Email::parse("bob@example.com").unwrap(),
                display_name: "Bob".into(),
                groups: vec!["staff".into()],
                department: String::new(),
                password_hash: None,
            },
            1002,
        )
        .await
        .unwrap();
    let all = store.list_users().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].email.as_str(), "alice@example.com");
    assert_eq!(all[0].last_sign_in, Some(5000));
    assert_eq!(all[0].groups, vec!["admins", "staff"]);
    assert_eq!(all[1].groups, vec!["staff"]);
    assert!(all[1].password_hash.is_none());

    // Bad input is an error, not a panic.
    assert!(store
        .create_user(
            NewUser {
                email: Email::parse("carol@example.com").unwrap(),
                display_name: "Carol".into(),
                groups: vec!["a,b".into()],
                department: String::new(),
                password_hash: None,
            },
            1,
        )
        .await
        .is_err());
    store.close().await;
}

#[tokio::test]
async fn sqlite_account_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = AccountStore::connect(&DatabaseSettings {
        kind: DatabaseKind::Sqlite,
        url: SecretString::new(url.clone()),
        max_connections: 2,
    })
    .await
    .unwrap();
    suite(store).await;
    // Migrations are idempotent: reconnecting to the same file works.
    let again = AccountStore::connect(&DatabaseSettings {
        kind: DatabaseKind::Sqlite,
        url: SecretString::new(url),
        max_connections: 1,
    })
    .await
    .unwrap();
    assert_eq!(again.list_users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn postgres_account_store() {
    let (store, _db) = crate::testdb::postgres(2).await;
    suite(store).await;
}

#[test]
fn email_validation() {
    for bad in [
        "", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b..c", "a@.b.c", "a@b.c.", "a@@b.c",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Email::parse(" X@Y.Jp ").unwrap().as_str(), "x@y.jp");
}
