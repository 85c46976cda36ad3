//! `sekisho policy explain`: the rules considered, why each did or did not match, and
//! the decision. Walks the rules one by one with the same checks as evaluation (no
//! index), so it doubles as a reference for the indexed evaluation in tests.
use crate::host::host_only;
use crate::net::{display_ip, ClientAddr};
use crate::path::normalize_path;
use crate::rule::{method_bit, CompiledRule};
use crate::{Decision, Policy, RequestFacts, RuleInfo, Subject};
use sekisho_config::{Action, FactorSet};
use std::fmt::{self, Display, Write as _};
use std::net::IpAddr;
use std::time::Duration;

/// A report of one evaluation; `Display` prints it for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub method: String,
    /// The host as matched: port removed, lower-case.
    pub host: String,
    /// The `Host` value as given.
    pub raw_host: String,
    pub raw_path: String,
    /// The path as matched, after [`crate::normalize_path`].
    pub path: String,
    pub client_ip: IpAddr,
    pub subject: Option<ExplainedSubject>,
    /// The rules considered, in order, up to and including the deciding one.
    pub rules: Vec<RuleTrace>,
    /// Rules after the deciding one, which were not looked at.
    pub not_evaluated: usize,
    pub decision: ExplainedDecision,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedSubject {
    pub user: String,
    pub groups: Vec<String>,
}

/// One rule and the outcome of each of its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: RuleInfo,
    pub outcome: RuleOutcome,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Every condition held: this rule decided.
    Matched,
    /// A request condition (host, path, method, network) failed.
    NoMatch,
    /// The request matched but the signed-in user is not among its users or groups.
    SubjectMismatch,
    /// The request matched and the rule names users or groups, but nobody is signed in.
    NeedsIdentity,
}

/// One condition of a rule and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    pub text: String,
}

/// The decision, owned (see [`Decision`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedDecision {
    pub action: Action,
    /// `None` for the default policy.
    pub rule: Option<RuleInfo>,
    pub needs_identity: bool,
    pub max_mfa_age: Option<Duration>,
    pub trusted_device: bool,
    pub mfa_methods: FactorSet,
}

impl From<Decision<'_>> for ExplainedDecision {
    fn from(d: Decision<'_>) -> Self {
        ExplainedDecision {
            action: d.action,
            rule: d.rule.cloned(),
            needs_identity: d.needs_identity,
            max_mfa_age: d.max_mfa_age,
            trusted_device: d.trusted_device,
            mfa_methods: d.mfa_methods,
        }
    }
}

fn list<T: Display>(items: &[T]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    out.push(']');
    out
}

fn check(passed: bool, text: String) -> Check {
    Check { passed, text }
}

/// The request conditions of `rule`, each checked.
fn request_checks(
    rule: &CompiledRule,
    ex: &Explanation,
    method: u16,
    ip: &ClientAddr,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if !rule.hosts.is_empty() {
        let hit = rule.hosts.iter().find(|h| h.matches(&ex.host));
        checks.push(match hit {
            Some(h) => check(true, format!("host {} matches {}", ex.host, h.as_str())),
            None => {
                let names: Vec<&str> = rule.hosts.iter().map(|h| h.as_str()).collect();
                check(false, format!("host {} not in {}", ex.host, list(&names)))
            }
        });
    }
    if !rule.paths.is_empty() {
        let hit = rule
            .paths
            .iter()
            .zip(rule.path_sources.iter())
            .find(|(p, _)| p.is_match(&ex.path));
        checks.push(match hit {
            Some((_, src)) => check(true, format!("path {} matches {src}", ex.path)),
            None => check(
                false,
                format!(
                    "path {} matches none of {}",
                    ex.path,
                    list(&rule.path_sources)
                ),
            ),
        });
    }
    if !rule.method_list.is_empty() {
        let names: Vec<&str> = rule.method_list.iter().map(|m| m.as_str()).collect();
        let ok = rule.method_ok(method);
        let verb = if ok { "in" } else { "not in" };
        checks.push(check(
            ok,
            format!("method {} {verb} {}", ex.method, list(&names)),
        ));
    }
    if !rule.network_list.is_empty() {
        let ok = rule.network_ok(ip);
        let verb = if ok { "in" } else { "not in" };
        let ip = display_ip(ex.client_ip);
        checks.push(check(
            ok,
            format!("network {ip} {verb} {}", list(&rule.network_list)),
        ));
    }
    checks
}

fn who_may(rule: &CompiledRule) -> String {
    let mut parts = Vec::new();
    if !rule.users.is_empty() {
        parts.push(format!("users {}", list(&rule.users)));
    }
    if !rule.groups.is_empty() {
        parts.push(format!("groups {}", list(&rule.groups)));
    }
    parts.join(" or ")
}

/// The subject condition of a rule that has one, checked.
fn subject_check(rule: &CompiledRule, subject: &Subject<'_>) -> Check {
    if !rule.users.is_empty() && rule.user_ok(subject.user) {
        return check(
            true,
            format!("user {} in users {}", subject.user, list(&rule.users)),
        );
    }
    if let Some(g) = subject
        .groups
        .iter()
        .find(|g| rule.group_ok(std::slice::from_ref(g)))
    {
        return check(true, format!("group {g} in groups {}", list(&rule.groups)));
    }
    let mut parts = Vec::new();
    if !rule.users.is_empty() {
        parts.push(format!(
            "user {} not in users {}",
            subject.user,
            list(&rule.users)
        ));
    }
    if !rule.groups.is_empty() {
        parts.push(if subject.groups.is_empty() {
            format!("no groups (needs one of {})", list(&rule.groups))
        } else {
            format!(
                "none of groups {} in {}",
                list(subject.groups),
                list(&rule.groups)
            )
        });
    }
    check(false, parts.join(" and "))
}

pub(crate) fn explain(
    policy: &Policy,
    req: &RequestFacts<'_>,
    subject: Option<&Subject<'_>>,
) -> Explanation {
    let mut ex = Explanation {
        method: req.method.to_string(),
        host: host_only(req.host).to_ascii_lowercase(),
        raw_host: req.host.to_string(),
        raw_path: req.path.to_string(),
        path: normalize_path(req.path).into_owned(),
        client_ip: req.client_ip,
        subject: subject.map(|s| ExplainedSubject {
            user: s.user.to_string(),
            groups: s.groups.to_vec(),
        }),
        rules: Vec::new(),
        not_evaluated: 0,
        decision: policy.default_decision().into(),
    };
    let method = method_bit(req.method);
    let ip = ClientAddr::new(req.client_ip);
    for (pos, rule) in policy.rules.iter().enumerate() {
        let mut checks = request_checks(rule, &ex, method, &ip);
        let mut decided = None;
        let outcome = if checks.iter().any(|c| !c.passed) {
            RuleOutcome::NoMatch
        } else if !rule.has_subject_conditions() {
            decided = Some(rule.decision(false));
            RuleOutcome::Matched
        } else {
            match subject {
                None => {
                    checks.push(check(
                        false,
                        format!("needs a signed-in user ({})", who_may(rule)),
                    ));
                    decided = Some(rule.decision(true));
                    RuleOutcome::NeedsIdentity
                }
                Some(s) => {
                    let c = subject_check(rule, s);
                    let passed = c.passed;
                    checks.push(c);
                    if passed {
                        decided = Some(rule.decision(false));
                        RuleOutcome::Matched
                    } else {
                        RuleOutcome::SubjectMismatch
                    }
                }
            }
        };
        if checks.is_empty() {
            checks.push(check(
                true,
                "no conditions: matches every request".to_string(),
            ));
        }
        ex.rules.push(RuleTrace {
            rule: rule.info.clone(),
            outcome,
            checks,
        });
        if let Some(d) = decided {
            ex.decision = d.into();
            ex.not_evaluated = policy.rules.len() - pos - 1;
            break;
        }
    }
    ex
}

/// `15m`, `1h30m`, `90s` → `1m30s`, `500ms`.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut out = String::new();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, rest) = (rest / 3_600, rest % 3_600);
    let (m, s) = (rest / 60, rest % 60);
    for (n, unit) in [(days, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Request")?;
        writeln!(f, "  method:   {}", self.method)?;
        if self.host == self.raw_host {
            writeln!(f, "  host:     {}", self.host)?;
        } else {
            writeln!(f, "  host:     {} (Host: {})", self.host, self.raw_host)?;
        }
        if self.path == self.raw_path {
            writeln!(f, "  path:     {}", self.path)?;
        } else {
            writeln!(
                f,
                "  path:     {} (normalised from {})",
                self.path, self.raw_path
            )?;
        }
        writeln!(f, "  client:   {}", display_ip(self.client_ip))?;
        match &self.subject {
            Some(s) if s.groups.is_empty() => writeln!(f, "  user:     {} (no groups)", s.user)?,
            Some(s) => writeln!(f, "  user:     {} (groups {})", s.user, list(&s.groups))?,
            None => writeln!(f, "  user:     none (not signed in)")?,
        }
        writeln!(f)?;
        if self.rules.is_empty() {
            writeln!(f, "Rules: none configured")?;
        } else {
            writeln!(f, "Rules (in order; the first match wins)")?;
        }
        for t in &self.rules {
            let outcome = match t.outcome {
                RuleOutcome::Matched => "MATCH",
                RuleOutcome::NoMatch => "no match",
                RuleOutcome::SubjectMismatch => "no match for this user",
                RuleOutcome::NeedsIdentity => "MATCH, but needs a signed-in user",
            };
            writeln!(f, "  {}: {outcome}", t.rule)?;
            for c in &t.checks {
                writeln!(f, "      {} {}", if c.passed { "✓" } else { "✗" }, c.text)?;
            }
        }
        if self.not_evaluated > 0 {
            let s = if self.not_evaluated == 1 { "" } else { "s" };
            writeln!(f, "  ({} later rule{s} not evaluated)", self.not_evaluated)?;
        }
        writeln!(f)?;
        let d = &self.decision;
        writeln!(f, "Decision")?;
        writeln!(f, "  action:          {}", d.action)?;
        match &d.rule {
            Some(r) => writeln!(f, "  decided by:      {r}")?,
            None => writeln!(f, "  decided by:      default policy (no rule matched)")?,
        }
        if d.needs_identity {
            writeln!(
                f,
                "  needs_identity:  yes (sign the user in at {} level, then evaluate again)",
                d.action
            )?;
        } else {
            writeln!(f, "  needs_identity:  no")?;
        }
        match d.max_mfa_age {
            Some(age) => writeln!(f, "  max_mfa_age:     {}", human_duration(age))?,
            None => writeln!(f, "  max_mfa_age:     none")?,
        }
        writeln!(f, "  trusted_device:  {}", yes_no(d.trusted_device))?;
        if d.mfa_methods.is_all() {
            writeln!(f, "  mfa_methods:     any")
        } else {
            writeln!(f, "  mfa_methods:     {}", d.mfa_methods.to_list())
        }
    }
}

#[cfg(test)]
mod tests;
