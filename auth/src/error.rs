use thiserror::Error;

/// A session/counter store or SQL failure. Messages never contain secrets.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Debug, Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(String),
    #[error("invalid e-mail address")]
    InvalidEmail,
    #[error("an account with this e-mail address already exists")]
    DuplicateEmail,
    #[error("no such user")]
    UnknownUser,
    #[error("password too short: at least {0} characters")]
    PasswordTooShort(usize),
    #[error("password too long")]
    PasswordTooLong,
    #[error("password hashing is overloaded, try again")]
    HasherBusy,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Encryption or decryption failed (wrong key, wrong user, tampered data).
    #[error("cryptographic failure: {0}")]
    Crypto(String),
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors can quote connection URLs; keep only the kind of failure.
        let msg = match &e {
            sqlx::Error::Database(db) => db.message().to_string(),
            sqlx::Error::PoolTimedOut => "connection pool timed out".into(),
            sqlx::Error::Io(io) => format!("I/O: {}", io.kind()),
            other => other.to_string().chars().take(200).collect(),
        };
        AuthError::Database(msg)
    }
}
