//! Test databases for the SQL store suites: a SQLite file in a temporary directory,
//! or a fresh PostgreSQL database from the testkit. Keep the returned guard alive.
use crate::account::AccountStore;
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
