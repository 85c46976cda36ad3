//! Sekisho access policy: the compiled, pure matcher that decides what a request needs.
//!
//! This crate owns:
//! - compiling [`sekisho_config::PolicySettings`] into a [`Policy`] (path patterns
//!   classified and pre-built, host patterns lower-cased and indexed, methods as a bitmask,
//!   networks as integer masks), with [`PolicyError`]s that name the offending key;
//! - the hot-path evaluation [`Policy::evaluate`], which turns a request's facts
//!   ([`RequestFacts`]) and optionally the signed-in user ([`Subject`]) into a
//!   [`Decision`];
//! - request-path normalisation ([`normalize_path`]), so that encodings and dot segments
//!   cannot be used to dodge a rule;
//! - [`Policy::explain`], the human-readable trace printed by `sekisho policy explain`;
//! - the phased MFA rollout ([`Rollout`]): which `[[enrollment]]` rule covers a user
//!   and what their next sign-in shows ([`Nudge`]).
//!
//! It does no I/O and holds no clock; the gateway compiles a [`Policy`] once per
//! configuration load and shares it behind an `Arc`.
//!
//! # Rule semantics
//! Rules are ordered and the first rule whose conditions all hold decides. When none
//! does, the default action applies. An empty condition list means "any".
//!
//! - **hosts**: the `Host` value with any `:port` (and one trailing `.`) removed, compared
//!   case-insensitively with each pattern: an exact name, or `*.suffix` for any name that
//!   ends in `.suffix` (at any depth; `*.example.com` does not match `example.com`).
//! - **paths**: matched against the *normalised* path (see [`normalize_path`]); matching
//!   is **case-sensitive** (`/ADMIN` is not `/admin`). Three kinds of pattern:
//!   - a pattern with neither `*` nor `?` is a **prefix** that ends at a segment
//!     boundary: `/admin` matches `/admin`, `/admin/`, `/admin/x` and `/admin;jsessionid=1`
//!     (`;` starts path parameters on some servers), but not `/administrator`. A trailing
//!     `/` makes no difference (`/admin/` also matches `/admin`), and `/` matches every
//!     path;
//!   - a pattern with `*` or `?` is a **glob** matched against the whole path: `*` is any
//!     run of characters within one segment (never `/`), `**` any run including `/`, `?`
//!     exactly one character other than `/`. `***`, `[`, `]`, `{` and `}` are refused, so
//!     that nobody relies on glob syntax this matcher does not have;
//!   - `regex:<re>` is a [`regex`] crate expression *searched* in the path: anchor it
//!     yourself (`regex:^/api/v[0-9]+/admin(/|$)`).
//!
//!   Prefix and glob patterns must already be in normalised form (`/a//b`, `/a/./b` or
//!   `/%61` could never match a normalised path, so they are refused).
//! - **methods**: case-insensitive; a request with a method no rule can name (e.g.
//!   `PROPFIND`) only matches rules without a `methods` list.
//! - **networks**: CIDR blocks containing the client address; IPv4-mapped IPv6 addresses
//!   (`::ffff:10.0.0.1`) match IPv4 blocks and vice versa.
//! - **users / groups** (the *subject*): the rule matches a signed-in user whose e-mail
//!   is in `users` (ASCII case-insensitive) **or** who belongs to one of `groups`
//!   (case-sensitive). Without a signed-in user, the first rule whose request conditions
//!   match and that has subject conditions stops evaluation with
//!   [`Decision::needs_identity`] set; the gateway signs the user in and evaluates again.
//!
//! # Performance
//! [`Policy::evaluate`] does not allocate unless the path needs normalising. It does not
//! scan every rule: rules are indexed by exact host, by `*.suffix` and by first path
//! segment (for paths such as `/admin`, `/api/*/x` or `regex:^/api/`), and the lists
//! that apply to a request are merged by rule position, so first-match order holds.
//! Globs run as bit-parallel automata, and regexes that start with `^literal` check
//! that literal first. Rules that name no host and leave the first path segment open
//! (`/`, `/**/x`, unanchored regexes) are tried for every request, so keep those few.

mod explain;
mod glob;
mod host;
mod index;
mod net;
mod path;
mod pattern;
mod policy;
mod rollout;
mod rule;
#[cfg(test)]
mod testutil;

use sekisho_config::{Action, FactorSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use explain::{
    Check, ExplainedDecision, ExplainedSubject, Explanation, RuleOutcome, RuleTrace,
};
pub use path::normalize_path;
pub use policy::Policy;
pub use rollout::{Coverage, Nudge, Rollout, RolloutExplanation, RolloutFacts};

/// The facts about one request that rules can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// The `Host` header (or `:authority`) value, any case, possibly with `:port`.
    pub host: &'a str,
    /// The raw request path without the query string, possibly percent-encoded.
    pub path: &'a str,
    /// The request method, any case.
    pub method: &'a str,
    /// The client address (after trusted-proxy processing).
    pub client_ip: IpAddr,
}

/// The signed-in user, for rules with `users` or `groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// Lower-case e-mail address.
    pub user: &'a str,
    pub groups: &'a [String],
}

/// Which rule decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Position of the rule in the configuration file (`rules[index]`).
    pub index: usize,
    /// The rule's name, or `rules[N]` when it has none.
    pub name: String,
}

impl fmt::Display for RuleInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = format!("rules[{}]", self.index);
        if self.name == key {
            f.write_str(&key)
        } else {
            write!(f, "{key} \"{}\"", self.name)
        }
    }
}

/// The outcome of [`Policy::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'p> {
    /// What to do with the request. When [`Self::needs_identity`] is set this is the
    /// level of sign-in to ask for (`one_factor` or `two_factor`).
    pub action: Action,
    /// The deciding rule, or `None` for the default policy.
    pub rule: Option<&'p RuleInfo>,
    /// Evaluation stopped at a rule with `users`/`groups` conditions and no subject was
    /// given: sign the user in, then evaluate again with the subject.
    pub needs_identity: bool,
    /// The deciding rule's step-up window: the second factor must be at most this old.
    pub max_mfa_age: Option<Duration>,
    /// May a remembered (trusted) browser skip the second factor here.
    pub trusted_device: bool,
    /// Second factors accepted here.
    pub mfa_methods: FactorSet,
}

/// A policy that cannot be compiled; `key` names the setting, e.g. `rules[2].paths[0]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyError {
    pub key: String,
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            key: key.into(),
            message: message.into(),
        }
    }
}
