//! One compiled rule and its condition checks, shared by evaluation and explain.
use crate::host::HostPattern;
use crate::net::{ClientAddr, Networks};
use crate::pattern::PathPattern;
use crate::{Decision, PolicyError, RuleInfo, Subject};
use ipnet::IpNet;
use sekisho_config::{Action, FactorSet, HttpMethod, RuleSettings};
use std::time::Duration;

/// Bit set for a rule without a `methods` list: every method, known or not.
pub(crate) const ANY_METHOD: u16 = u16::MAX;
/// Bit of a method no rule can name.
const UNKNOWN_METHOD: u16 = 1 << 15;

/// The bit of a request method (case-insensitive).
#[inline]
pub(crate) fn method_bit(method: &str) -> u16 {
    // The usual spellings first, without the case-insensitive search.
    let m = match method {
        "GET" => Some(HttpMethod::Get),
        "POST" => Some(HttpMethod::Post),
        "HEAD" => Some(HttpMethod::Head),
        _ => HttpMethod::parse(method),
    };
    match m {
        Some(m) => known_bit(m),
        None => UNKNOWN_METHOD,
    }
}

#[inline]
fn known_bit(m: HttpMethod) -> u16 {
    match m {
        HttpMethod::Get => 1,
        HttpMethod::Head => 1 << 1,
        HttpMethod::Post => 1 << 2,
        HttpMethod::Put => 1 << 3,
        HttpMethod::Patch => 1 << 4,
        HttpMethod::Delete => 1 << 5,
        HttpMethod::Options => 1 << 6,
        HttpMethod::Connect => 1 << 7,
        HttpMethod::Trace => 1 << 8,
    }
}

/// The per-request facts in the form the rules compare.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    /// Without the port; any case.
    pub host: &'a str,
    /// Normalised.
    pub path: &'a str,
    pub method: u16,
    pub ip: ClientAddr,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub info: RuleInfo,
    pub hosts: Box<[HostPattern]>,
    pub paths: Box<[PathPattern]>,
    pub path_sources: Box<[Box<str>]>,
    pub methods: u16,
    pub method_list: Box<[HttpMethod]>,
    pub networks: Networks,
    pub network_list: Box<[IpNet]>,
    pub users: Box<[Box<str>]>,
    pub groups: Box<[Box<str>]>,
    pub action: Action,
    pub max_mfa_age: Option<Duration>,
    pub trusted_device: bool,
    pub mfa_methods: FactorSet,
}

impl CompiledRule {
    pub(crate) fn compile(r: &RuleSettings) -> Result<CompiledRule, PolicyError> {
        let i = r.index;
        let hosts = r
            .hosts
            .iter()
            .enumerate()
            .map(|(j, h)| HostPattern::compile(&format!("rules[{i}].hosts[{j}]"), h))
            .collect::<Result<Box<[_]>, _>>()?;
        let paths = r
            .paths
            .iter()
            .enumerate()
            .map(|(j, p)| {
                PathPattern::compile(p)
                    .map_err(|m| PolicyError::new(format!("rules[{i}].paths[{j}]"), m))
            })
            .collect::<Result<Box<[_]>, _>>()?;
        for (j, u) in r.users.iter().enumerate() {
            if u.trim().is_empty() {
                return Err(PolicyError::new(
                    format!("rules[{i}].users[{j}]"),
                    "is empty",
                ));
            }
        }
        for (j, g) in r.groups.iter().enumerate() {
            if g.trim().is_empty() {
                return Err(PolicyError::new(
                    format!("rules[{i}].groups[{j}]"),
                    "is empty",
                ));
            }
        }
        let methods = if r.methods.is_empty() {
            ANY_METHOD
        } else {
            r.methods.iter().fold(0, |acc, &m| acc | known_bit(m))
        };
        Ok(CompiledRule {
            info: RuleInfo {
                index: i,
                name: r.name.clone(),
            },
            hosts,
            paths,
            path_sources: r.paths.iter().map(|p| p.as_str().into()).collect(),
            methods,
            method_list: r.methods.clone().into(),
            networks: Networks::compile(&r.networks),
            network_list: r.networks.clone().into(),
            users: r
                .users
                .iter()
                .map(|u| u.trim().to_ascii_lowercase().into())
                .collect(),
            groups: r.groups.iter().map(|g| g.trim().into()).collect(),
            action: r.action,
            max_mfa_age: r.max_mfa_age,
            trusted_device: r.trusted_device,
            mfa_methods: r.mfa_methods,
        })
    }

    #[inline]
    pub(crate) fn host_ok(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(host))
    }

    #[inline]
    pub(crate) fn method_ok(&self, bit: u16) -> bool {
        self.methods & bit != 0
    }

    #[inline]
    pub(crate) fn network_ok(&self, ip: &ClientAddr) -> bool {
        self.networks.is_empty() || self.networks.contains(ip)
    }

    #[inline]
    pub(crate) fn path_ok(&self, path: &str) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| p.is_match(path))
    }

    /// Every request condition except the host, which the index may have settled.
    #[inline]
    pub(crate) fn request_ok_except_host(&self, f: &Facts<'_>) -> bool {
        self.method_ok(f.method) && self.network_ok(&f.ip) && self.path_ok(f.path)
    }

    pub(crate) fn has_subject_conditions(&self) -> bool {
        !self.users.is_empty() || !self.groups.is_empty()
    }

    pub(crate) fn user_ok(&self, user: &str) -> bool {
        self.users.iter().any(|u| u.eq_ignore_ascii_case(user))
    }

    pub(crate) fn group_ok(&self, groups: &[String]) -> bool {
        groups
            .iter()
            .any(|g| self.groups.iter().any(|r| **r == **g))
    }

    /// Users OR groups; a rule without subject conditions matches anyone.
    pub(crate) fn subject_ok(&self, s: &Subject<'_>) -> bool {
        !self.has_subject_conditions() || self.user_ok(s.user) || self.group_ok(s.groups)
    }

    /// The decision when this rule matches (`needs_identity` when it could not be checked).
    pub(crate) fn decision(&self, needs_identity: bool) -> Decision<'_> {
        let action = if needs_identity {
            match self.action {
                a @ (Action::OneFactor | Action::TwoFactor) => a,
                Action::Bypass | Action::Deny => Action::OneFactor,
            }
        } else {
            self.action
        };
        Decision {
            action,
            rule: Some(&self.info),
            needs_identity,
            max_mfa_age: self.max_mfa_age,
            trusted_device: self.trusted_device,
            mfa_methods: self.mfa_methods,
        }
    }
}

/// The decision for one rule, given the rest of the evaluation found its request
/// conditions true: `None` to go on with the next rule.
#[inline]
pub(crate) fn decide<'p>(
    rule: &'p CompiledRule,
    subject: Option<&Subject<'_>>,
) -> Option<Decision<'p>> {
    if !rule.has_subject_conditions() {
        return Some(rule.decision(false));
    }
    match subject {
        None => Some(rule.decision(true)),
        Some(s) if rule.subject_ok(s) => Some(rule.decision(false)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests;
