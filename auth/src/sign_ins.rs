//! Sign-in history in SQL: one row per completed sign-in (time, address, network,
//! browser, how it was completed), the last N per user, and whether the sign-in came
//! from a browser or a network this user's kept history had not seen.
//!
//! "Browser" means the long-lived random cookie the hosted pages set; only its
//! SHA-256 is stored. "Network" is the IPv4 /24 or IPv6 /64 of the client address:
//! coarse enough that a DHCP renewal or IPv6 privacy address is not "new", fine
//! enough that another ISP or country is. Both are judged against the rows still
//! kept, so a browser last seen more than N sign-ins ago counts as new again: the
//! bound on storage is also the memory of the check.
use crate::clock::UnixTime;
use crate::error::AuthError;
use crate::factors::MfaMethod;
use crate::mfa::hex_lower;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// How a sign-in reached its final level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// The password alone (no second factor owed at sign-in).
    Password,
    /// The password, then this second factor (or a trusted browser).
    SecondFactor(MfaMethod),
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::SecondFactor(m) => m.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(SignInMethod::Password),
            other => MfaMethod::parse(other).map(SignInMethod::SecondFactor),
        }
    }
}

impl fmt::Display for SignInMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sign-in that has just completed.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSignIn<'a> {
    pub user_id: &'a str,
    pub at: UnixTime,
    pub ip: Option<IpAddr>,
    /// A summary such as "Chrome on Linux" (see `mfa_service::ua_summary`).
    pub browser: &'a str,
    /// [`browser_hash`] of the browser cookie.
    pub browser_hash: &'a str,
    pub method: SignInMethod,
}

impl fmt::Debug for NewSignIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash names one browser for good: keep it out of logs.
        f.debug_struct("NewSignIn")
            .field("user_id", &self.user_id)
            .field("at", &self.at)
            .field("ip", &self.ip)
            .field("browser", &self.browser)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What the kept history said about a sign-in before it was added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Novelty {
    /// The user had no sign-in on record: nothing to compare with, so neither
    /// `new_browser` nor `new_network` is set.
    pub first: bool,
    pub new_browser: bool,
    /// Never set for a sign-in without a known address.
    pub new_network: bool,
}

/// One kept sign-in, for the settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRow {
    pub at: UnixTime,
    pub ip: Option<String>,
    pub network: Option<String>,
    pub browser: String,
    /// `None` for a method name this version does not know.
    pub method: Option<SignInMethod>,
    pub new_browser: bool,
    pub new_network: bool,
}

/// SHA-256 of a browser cookie value, as stored. Domain-separated from the other
/// cookie hashes so one value can never match another kind of record.
pub fn browser_hash(cookie_value: &str) -> String {
    hex_lower(&Sha256::digest(
        format!("sekisho-browser-v1\0{cookie_value}").as_bytes(),
    ))
}

/// `203.0.113.0/24` or `2001:db8:1:2::/64`; IPv4-mapped IPv6 counts as IPv4.
pub fn network_of(ip: IpAddr) -> String {
    let v6 = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            return format!("{a}.{b}.{c}.0/24");
        }
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return network_of(IpAddr::V4(v4));
    }
    let s = v6.segments();
    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
    format!("{net}/64")
}

#[derive(Clone)]
pub struct SignInHistory {
    pool: AnyPool,
}

impl fmt::Debug for SignInHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInHistory")
    }
}

impl SignInHistory {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Adds a completed sign-in, judges its browser and network against the rows
    /// kept before it, and keeps only the user's last `keep` rows (at least one).
    ///
    /// Two sign-ins of one user at the same moment may each see the other's browser
    /// as not yet recorded, and may briefly leave one row more than `keep`; the next
    /// sign-in prunes it.
    pub async fn record(&self, s: &NewSignIn<'_>, keep: u32) -> Result<Novelty, AuthError> {
        let network = s.ip.map(network_of);
        let mut tx = self.pool.begin().await?;
        // Writing first makes SQLite take its write lock at once (waiting its busy
        // timeout); a transaction that reads first and then writes can fail outright
        // when another writer got in between.
        let id: i64 = sqlx::query(
            "INSERT INTO sign_ins (user_id, at, ip, network, browser, browser_hash, method, new_browser, new_network) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0) RETURNING id",
        )
        .bind(s.user_id)
        .bind(s.at)
        .bind(s.ip.map(|ip| ip.to_string()))
        .bind(network.as_deref())
        .bind(s.browser)
        .bind(s.browser_hash)
        .bind(s.method.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let seen = sqlx::query(
            "SELECT COUNT(*) AS prior, \
               SUM(CASE WHEN browser_hash = $2 THEN 1 ELSE 0 END) AS same_browser, \
               SUM(CASE WHEN network = $3 THEN 1 ELSE 0 END) AS same_network \
             FROM sign_ins WHERE user_id = $1 AND id <> $4",
        )
        .bind(s.user_id)
        .bind(s.browser_hash)
        .bind(network.as_deref())
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        // SUM over no rows is NULL.
        let count = |c: &str| -> Result<i64, AuthError> {
            Ok(seen.try_get::<Option<i64>, _>(c)?.unwrap_or(0))
        };
        let first = count("prior")? == 0;
        let novelty = Novelty {
            first,
            new_browser: !first && count("same_browser")? == 0,
            new_network: !first && network.is_some() && count("same_network")? == 0,
        };
        if novelty.new_browser || novelty.new_network {
            sqlx::query("UPDATE sign_ins SET new_browser = $2, new_network = $3 WHERE id = $1")
                .bind(id)
                .bind(i64::from(novelty.new_browser))
                .bind(i64::from(novelty.new_network))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "DELETE FROM sign_ins WHERE user_id = $1 AND id NOT IN \
             (SELECT id FROM sign_ins WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(s.user_id)
        .bind(i64::from(keep.max(1)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(novelty)
    }

    /// The user's kept sign-ins, newest first, at most `limit`.
    pub async fn recent(&self, user_id: &str, limit: u32) -> Result<Vec<SignInRow>, AuthError> {
        let rows = sqlx::query(
            "SELECT at, ip, network, browser, method, new_browser, new_network FROM sign_ins \
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SignInRow {
                    at: r.try_get("at")?,
                    ip: r.try_get("ip")?,
                    network: r.try_get("network")?,
                    browser: r.try_get("browser")?,
                    method: SignInMethod::parse(&r.try_get::<String, _>("method")?),
                    new_browser: r.try_get::<i64, _>("new_browser")? != 0,
                    new_network: r.try_get::<i64, _>("new_network")? != 0,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
