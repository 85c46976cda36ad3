//! Sessions: ids, records, validity, and the store they live in.
//!
//! The browser holds a [`SessionId`] (256 random bits, base64url). Stores only ever see
//! its SHA-256, the [`SessionKey`], so a leaked store dump cannot be replayed as
//! cookies. A session ends at the first of its idle timeout and its absolute lifetime;
//! both are checked here against the injected clock, and stores also expire records
//! by themselves (TTL) so nothing lingers.
use crate::clock::{Clock, UnixTime};
use crate::error::StoreError;
use crate::factors::MfaMethod;
use crate::telemetry::{SessionEnd, Telemetry};
use crate::token::random_token;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod cache;
mod memory;
pub(crate) mod redis_store;
mod revocations;

pub use cache::{SessionCache, SessionCacheSettings, Ticket};
pub use revocations::{Revocation, RevocationListener};

pub use memory::MemorySessionStore;
pub use redis_store::RedisSessionStore;

/// The cookie value. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    const ENCODED_LEN: usize = 43; // 32 bytes, base64url, no padding

    pub fn generate() -> Self {
        Self(random_token(32))
    }

    /// Accepts only well-formed ids; anything else is treated as "no session".
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == Self::ENCODED_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(value.to_string()))
    }

    pub fn as_cookie_value(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> SessionKey {
        SessionKey::of(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// SHA-256 of the cookie value: how stores name a session.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Hashes a raw cookie value. The caller should have checked its shape with
    /// [`SessionId::parse`] (or [`SessionKey::from_cookie`]).
    pub fn of(cookie_value: &str) -> Self {
        Self(Sha256::digest(cookie_value.as_bytes()).into())
    }

    /// The key for a cookie value, without allocating, if the value is well formed.
    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == SessionId::ENCODED_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self::of(value))
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        s
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char).to_digit(16)?;
            let lo = (chunk[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is not the cookie, but keep logs short and unlinkable anyway.
        write!(f, "SessionKey({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// How strongly the session's user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthLevel {
    /// The password was right but the second factor is still owed: the session only
    /// reaches the challenge pages and sign-out.
    Partial,
    Password,
    Mfa,
}

/// A signed-in browser. Identity fields are copied in at sign-in so the proxy can add
/// identity headers without a database round trip.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub level: AuthLevel,
    pub mfa_at: Option<UnixTime>,
    /// How the last second factor was proven (rules may accept only some).
    #[serde(default)]
    pub mfa_method: Option<MfaMethod>,
    pub created_at: UnixTime,
    pub last_seen: UnixTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
    /// Per-session secret for CSRF tokens on signed-in forms.
    pub csrf_secret: String,
    pub credential_version: i64,
    /// The rollout forces enrolment: until a factor is confirmed (which elevates the
    /// session and clears this) nothing protected is reachable.
    #[serde(default)]
    pub enrolment_due: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("groups", &self.groups)
            .field("level", &self.level)
            .field("mfa_at", &self.mfa_at)
            .field("mfa_method", &self.mfa_method)
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("ip", &self.ip)
            .field("credential_version", &self.credential_version)
            .field("enrolment_due", &self.enrolment_due)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub idle: Duration,
    pub lifetime: Duration,
}

impl SessionTimeouts {
    pub fn from_settings(s: &sekisho_config::SessionSettings) -> Self {
        Self {
            idle: s.idle_timeout,
            lifetime: s.lifetime,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Idle,
    Expired,
}

impl Session {
    /// When the session ends if nothing more happens.
    pub fn expires_at(&self, t: &SessionTimeouts) -> UnixTime {
        let idle_end = self.last_seen.saturating_add(t.idle.as_secs() as i64);
        let life_end = self.created_at.saturating_add(t.lifetime.as_secs() as i64);
        idle_end.min(life_end)
    }

    pub fn validity(&self, now: UnixTime, t: &SessionTimeouts) -> Validity {
        if now >= self.created_at.saturating_add(t.lifetime.as_secs() as i64) {
            Validity::Expired
        } else if now >= self.last_seen.saturating_add(t.idle.as_secs() as i64) {
            Validity::Idle
        } else {
            Validity::Valid
        }
    }

    /// Comma-separated groups for the identity header.
    pub fn groups_header(&self) -> String {
        self.groups.join(",")
    }
}

/// Where sessions live. Both backends pass the same test suite.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session that the store may forget at `expires_at`.
    async fn insert(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<(), StoreError>;
    async fn get(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError>;
    /// Replaces an existing session (e.g. a newer `last_seen`); never resurrects a
    /// deleted one. Returns whether it still existed.
    async fn update(
        &self,
        key: &SessionKey,
        session: &Session,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError>;
    /// Returns whether the session existed.
    async fn remove(&self, key: &SessionKey, user_id: &str) -> Result<bool, StoreError>;
    /// Ends every session of a user; returns how many there were.
    async fn remove_user(&self, user_id: &str) -> Result<usize, StoreError>;
    async fn list_user(&self, user_id: &str)
        -> Result<Vec<(SessionKey, Arc<Session>)>, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    fn name(&self) -> &'static str;
}

/// What a signed-in user looks like to the session layer.
#[derive(Debug, Clone)]
pub struct SessionSubject<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub groups: &'a [String],
    pub credential_version: i64,
}

/// The session rules on top of a store: creation, lookup with expiry, touch, end.
pub struct SessionService {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    timeouts: SessionTimeouts,
    /// `last_seen` is written back at most this often, so a busy session does not
    /// cost a store write per request.
    touch_every: i64,
    telemetry: Arc<dyn Telemetry>,
    /// In front of a shared store: recently used sessions, revoked by pub/sub.
    cache: Option<Arc<SessionCache>>,
}

impl fmt::Debug for SessionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("store", &self.store.name())
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl SessionService {
    pub fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        timeouts: SessionTimeouts,
    ) -> Self {
        let touch_every = (timeouts.idle.as_secs() as i64 / 10).clamp(1, 60);
        Self {
            store,
            clock,
            timeouts,
            touch_every,
            telemetry: crate::telemetry::silent(),
            cache: None,
        }
    }

    /// Answers lookups from `cache` when it can (see [`SessionCache`]).
    pub fn with_cache(mut self, cache: Arc<SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn cache(&self) -> Option<&Arc<SessionCache>> {
        self.cache.as_ref()
    }

    fn evict(&self, key: &SessionKey) {
        if let Some(c) = &self.cache {
            c.evict(key);
        }
    }

    /// Reports created and ended sessions to `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn timeouts(&self) -> SessionTimeouts {
        self.timeouts
    }

    /// Starts a fresh session (a new id every time: callers rotate by starting anew).
    pub async fn start(
        &self,
        who: SessionSubject<'_>,
        level: AuthLevel,
        ip: Option<String>,
        user_agent: Option<&str>,
    ) -> Result<(SessionId, Session), StoreError> {
        self.start_with(who, level, None, false, ip, user_agent)
            .await
    }

    /// [`Self::start`] for a session whose second factor is already proven (`method`),
    /// or that must enrol before reaching anything protected (`enrolment_due`).
    pub async fn start_with(
        &self,
        who: SessionSubject<'_>,
        level: AuthLevel,
        mfa_method: Option<MfaMethod>,
        enrolment_due: bool,
        ip: Option<String>,
        user_agent: Option<&str>,
    ) -> Result<(SessionId, Session), StoreError> {
        let now = self.clock.now();
        let id = SessionId::generate();
        let session = Session {
            user_id: who.user_id.to_string(),
            email: who.email.to_string(),
            display_name: who.display_name.to_string(),
            groups: who.groups.to_vec(),
            level,
            mfa_at: (level == AuthLevel::Mfa).then_some(now),
            mfa_method: mfa_method.filter(|_| level == AuthLevel::Mfa),
            created_at: now,
            last_seen: now,
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            device_id: None,
            csrf_secret: random_token(32),
            credential_version: who.credential_version,
            enrolment_due,
        };
        self.store
            .insert(&id.key(), &session, session.expires_at(&self.timeouts))
            .await?;
        self.telemetry.session_created(level);
        Ok((id, session))
    }

    /// Records a completed second factor under a NEW session id (against fixation) and
    /// ends the old one. The absolute lifetime still counts from the first sign-in.
    pub async fn elevate(
        &self,
        old_key: &SessionKey,
        old: &Session,
        method: MfaMethod,
    ) -> Result<(SessionId, Session), StoreError> {
        let now = self.clock.now();
        let id = SessionId::generate();
        let mut session = old.clone();
        session.level = AuthLevel::Mfa;
        session.mfa_at = Some(now);
        session.mfa_method = Some(method);
        session.enrolment_due = false;
        session.last_seen = now;
        session.csrf_secret = random_token(32);
        self.store
            .insert(&id.key(), &session, session.expires_at(&self.timeouts))
            .await?;
        self.evict(old_key);
        self.store.remove(old_key, &old.user_id).await?;
        Ok((id, session))
    }

    /// Looks up a live session by key; idle or expired ones are removed and ignored.
    pub async fn resolve(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        let now = self.clock.now();
        if let Some(cache) = &self.cache {
            if let Some(s) = cache.get(key) {
                // Only a copy that needs no write may answer: touches, idle and
                // expiry are decided on the store's copy.
                if s.validity(now, &self.timeouts) == Validity::Valid
                    && now - s.last_seen < self.touch_every
                {
                    return Ok(Some(s));
                }
            }
        }
        let ticket = self.cache.as_ref().map(|c| c.ticket(key));
        let session = match self.store.get(key).await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(None),
            Err(e) => return self.during_outage(key, now, e),
        };
        match session.validity(now, &self.timeouts) {
            Validity::Valid => {}
            Validity::Idle | Validity::Expired => {
                self.evict(key);
                if self.store.remove(key, &session.user_id).await? {
                    self.telemetry.sessions_ended(SessionEnd::Expired, 1);
                }
                return Ok(None);
            }
        }
        let session = if now - session.last_seen >= self.touch_every {
            let mut touched = (*session).clone();
            touched.last_seen = now;
            let still_there = self
                .store
                .update(key, &touched, touched.expires_at(&self.timeouts))
                .await?;
            if !still_there {
                return Ok(None);
            }
            Arc::new(touched)
        } else {
            session
        };
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
            cache.put(key, Arc::clone(&session), ticket);
        }
        Ok(Some(session))
    }

    /// The store failed: a cached copy within the configured outage grace still
    /// answers; otherwise the error stands (protected routes fail closed).
    fn during_outage(
        &self,
        key: &SessionKey,
        now: UnixTime,
        error: StoreError,
    ) -> Result<Option<Arc<Session>>, StoreError> {
        match self.cache.as_ref().and_then(|c| c.get_during_outage(key)) {
            Some(s) if s.validity(now, &self.timeouts) == Validity::Valid => Ok(Some(s)),
            _ => Err(error),
        }
    }

    /// A live session by key, left as it is: no `last_seen` write, and an idle or
    /// expired one is ignored but not removed (for lookups off the request path).
    pub async fn peek(&self, key: &SessionKey) -> Result<Option<Arc<Session>>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .get(key)
            .await?
            .filter(|s| s.validity(now, &self.timeouts) == Validity::Valid))
    }

    /// Ends one session; returns whether it existed.
    pub async fn end(&self, key: &SessionKey) -> Result<bool, StoreError> {
        self.evict(key);
        match self.store.get(key).await? {
            Some(s) => {
                let removed = self.store.remove(key, &s.user_id).await?;
                if removed {
                    self.telemetry.sessions_ended(SessionEnd::SignOut, 1);
                }
                Ok(removed)
            }
            None => Ok(false),
        }
    }

    /// Ends one of `owner`'s sessions (the user's own list, an admin); a key that
    /// belongs to someone else is left alone. Returns whether it ended.
    pub async fn revoke(&self, key: &SessionKey, owner: &str) -> Result<bool, StoreError> {
        match self.store.get(key).await? {
            Some(s) if s.user_id == owner => {
                self.evict(key);
                let removed = self.store.remove(key, owner).await?;
                if removed {
                    self.telemetry.sessions_ended(SessionEnd::Revoked, 1);
                }
                Ok(removed)
            }
            _ => Ok(false),
        }
    }

    /// Ends every session of a user (password change, disable, admin action).
    pub async fn end_all(&self, user_id: &str) -> Result<usize, StoreError> {
        if let Some(c) = &self.cache {
            c.evict_user(user_id);
        }
        let n = self.store.remove_user(user_id).await?;
        if n > 0 {
            self.telemetry.sessions_ended(SessionEnd::Revoked, n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
