//! argon2id password hashing on a bounded pool of dedicated threads.
//!
//! Hashing costs tens of milliseconds of CPU and ~19 MiB of memory each. Running it on
//! the proxy's async workers would stall proxied traffic during a sign-in storm, and
//! an unbounded pool would let such a storm exhaust memory. So a fixed number of
//! threads take jobs from a bounded queue; when the queue is full callers get
//! [`AuthError::HasherBusy`] at once instead of piling up.
//!
//! The threads also run below the proxy workers' priority (`password.thread_priority`,
//! `SCHED_IDLE` by default). Without that, on a small machine a storm of sign-ins holds
//! the cores when a proxy worker wakes up, and proxied requests wait for the
//! scheduler's next turn: that, not the work itself, is what made their p99 grow.
use crate::error::AuthError;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use parking_lot::Mutex;
use sekisho_config::{HashThreadPriority, PasswordSettings};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Longest password accepted, so hashing cost stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A PHC string (`$argon2id$v=19$m=…`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Accepts a stored PHC string after checking it parses.
    pub fn from_phc(s: String) -> Result<Self, AuthError> {
        argon2::password_hash::PasswordHash::new(&s)
            .map_err(|_| AuthError::Invalid("not a PHC password hash".into()))?;
        Ok(Self(s))
    }
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A plaintext password on its way to the hasher; wiped on drop, never printed.
#[derive(Clone)]
pub struct PasswordInput(Zeroizing<String>);

impl PasswordInput {
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(<redacted>)")
    }
}

enum Job {
    Hash(
        PasswordInput,
        oneshot::Sender<Result<PasswordHash, AuthError>>,
    ),
    Verify(PasswordInput, PasswordHash, oneshot::Sender<bool>),
}

pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    argon: Argon2<'static>,
    /// Verified against when the account does not exist, so that answer takes as long.
    dummy: PasswordHash,
    min_length: usize,
    /// Verifications run, real or against `dummy`: lets tests check that unknown
    /// users cost the same work as wrong passwords.
    verifications: AtomicU64,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon.params())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn new(settings: &PasswordSettings) -> Result<Arc<Self>, AuthError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let (tx, rx) = sync_channel::<Job>(settings.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let priority = settings.thread_priority;
        for i in 0..settings.max_concurrent.max(1) {
            let rx = Arc::clone(&rx);
            let argon = argon.clone();
            std::thread::Builder::new()
                .name(format!("sekisho-hash-{i}"))
                .spawn(move || {
                    lower_priority(priority);
                    worker(&rx, &argon)
                })
                .map_err(|e| AuthError::Hashing(format!("cannot start hashing thread: {e}")))?;
        }
        let dummy = hash_now(&argon, "sekisho-dummy-password-for-timing")?;
        Ok(Arc::new(Self {
            jobs: tx,
            argon,
            dummy,
            min_length: settings.min_length,
            verifications: AtomicU64::new(0),
        }))
    }

    /// Checks length rules for a new password.
    pub fn check_policy(&self, password: &PasswordInput) -> Result<(), AuthError> {
        let p = password.expose();
        if p.chars().count() < self.min_length {
            return Err(AuthError::PasswordTooShort(self.min_length));
        }
        if p.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::PasswordTooLong);
        }
        Ok(())
    }

    /// Hashes a new password on the pool (after [`Self::check_policy`]).
    pub async fn hash(&self, password: PasswordInput) -> Result<PasswordHash, AuthError> {
        self.check_policy(&password)?;
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Hash(password, tx))?;
        rx.await
            .map_err(|_| AuthError::Hashing("hashing thread stopped".into()))?
    }

    /// Verifies on the pool. `None` (no such user, or no password set) still costs a
    /// full verification and returns `false`.
    pub async fn verify(
        &self,
        password: PasswordInput,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, AuthError> {
        if password.expose().len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let known = hash.is_some();
        let target = hash.unwrap_or(&self.dummy).clone();
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Verify(password, target, tx))?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let ok = rx
            .await
            .map_err(|_| AuthError::Hashing("hashing thread stopped".into()))?;
        Ok(ok && known)
    }

    /// How many verifications were submitted (real and dummy alike).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes synchronously on the calling thread: for the CLI only.
    pub fn hash_blocking(&self, password: &PasswordInput) -> Result<PasswordHash, AuthError> {
        self.check_policy(password)?;
        hash_now(&self.argon, password.expose())
    }

    fn submit(&self, job: Job) -> Result<(), AuthError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => AuthError::HasherBusy,
            TrySendError::Disconnected(_) => AuthError::Hashing("hashing threads stopped".into()),
        })
    }
}

/// Puts the calling (hashing) thread below the proxy workers. Lowering a thread's own
/// priority needs no privilege; where it still fails (a seccomp filter, another OS)
/// hashing goes on at normal priority and says so once.
fn lower_priority(priority: HashThreadPriority) {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    let policy = match priority {
        HashThreadPriority::Normal => return,
        HashThreadPriority::Idle => NormalThreadSchedulePolicy::Idle,
        HashThreadPriority::Low => NormalThreadSchedulePolicy::Batch,
    };
    let set = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(policy),
    );
    if let Err(e) = set {
        tracing::warn!(error = ?e, ?priority, "cannot lower the password hashing threads' priority");
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, argon: &Argon2<'static>) {
    loop {
        let job = rx.lock().recv();
        match job {
            Ok(Job::Hash(password, reply)) => {
                let _ = reply.send(hash_now(argon, password.expose()));
            }
            Ok(Job::Verify(password, hash, reply)) => {
                let ok =
                    argon2::password_hash::PasswordHash::new(hash.as_phc()).is_ok_and(|parsed| {
                        argon
                            .verify_password(password.expose().as_bytes(), &parsed)
                            .is_ok()
                    });
                let _ = reply.send(ok);
            }
            Err(_) => return,
        }
    }
}

fn hash_now(argon: &Argon2<'static>, password: &str) -> Result<PasswordHash, AuthError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| PasswordHash(h.to_string()))
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

#[cfg(test)]
mod tests;
