//! Test databases for the SQL store suites: a SQLite file in a temporary directory,
//! or a fresh PostgreSQL database from the testkit. Keep the returned guard alive.
use crate::account::{AccountStore, Email, NewUser};
use sekisho_config::{DatabaseKind, DatabaseSettings, SecretString};

async fn connect(kind: DatabaseKind, url: String, max_connections: u32) -> AccountStore {
    AccountStore::connect(&DatabaseSettings {
        kind,
        url: SecretString::new(url),
        max_connections,
    })
    .await
    .unwrap()
}

pub(crate) async fn sqlite(max_connections: u32) -> (AccountStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (
        connect(DatabaseKind::Sqlite, url, max_connections).await,
        dir,
    )
}

pub(crate) async fn postgres(max_connections: u32) -> (AccountStore, sekisho_testkit::PostgresDb) {
    let db = sekisho_testkit::PostgresDb::create();
    let store = connect(DatabaseKind::Postgres, db.url.clone(), max_connections).await;
    (store, db)
}

/// Creates a password-less user in `groups` (created at 1000) and returns its id.
pub(crate) async fn user(store: &AccountStore, email: &str, groups: &[&str]) -> String {
    store
        .create_user(
            NewUser {
                email: Email::parse(email).unwrap(),
                display_name: "U".into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                department: String::new(),
                password_hash: None,
            },
            1000,
        )
        .await
        .unwrap()
        .id
}

/// Runs `suite(AccountStore)` as two tests, `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_engines {
    ($name:ident, $suite:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (store, _dir) = $crate::testdb::sqlite(4).await;
                super::$suite(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let (store, _db) = $crate::testdb::postgres(4).await;
                super::$suite(store).await;
            }
        }
    };
}
pub(crate) use on_both_engines;
