//! The compiled policy and its hot-path evaluation.
use crate::explain::{self, Explanation};
use crate::host::host_only;
use crate::index::{Merge, RuleIndex};
use crate::net::ClientAddr;
use crate::path::normalize_path;
use crate::rule::{decide, method_bit, CompiledRule, Facts};
use crate::{Decision, PolicyError, RequestFacts, Subject};
use sekisho_config::{Action, FactorSet, PolicySettings};

/// Access rules compiled for evaluation. Immutable, `Send + Sync`; share it in an `Arc`
/// and swap the `Arc` on reload.
#[derive(Debug)]
pub struct Policy {
    pub(crate) default: Action,
    pub(crate) rules: Box<[CompiledRule]>,
    index: RuleIndex,
}

impl Policy {
    /// Compiles the rules; the error names the first bad setting (`rules[i].paths[j]`).
    pub fn compile(settings: &PolicySettings) -> Result<Policy, PolicyError> {
        let rules = settings
            .rules
            .iter()
            .map(CompiledRule::compile)
            .collect::<Result<Box<[_]>, _>>()?;
        if rules.len() >= u32::MAX as usize {
            return Err(PolicyError::new("rules", "too many rules"));
        }
        let index = RuleIndex::build(&rules);
        Ok(Policy {
            default: settings.default,
            rules,
            index,
        })
    }

    /// Decides what `req` needs. Rules are tried in order and the first that matches
    /// decides; see the crate documentation for the conditions.
    ///
    /// With `subject == None`, a matching rule that names `users` or `groups` stops the
    /// evaluation with `needs_identity`; with a subject, such a rule is skipped unless
    /// the subject satisfies it.
    ///
    /// Allocation-free unless the path needs normalising (`%`, `\`, `//` or `/.`).
    pub fn evaluate(&self, req: &RequestFacts<'_>, subject: Option<&Subject<'_>>) -> Decision<'_> {
        let path = normalize_path(req.path);
        let host = host_only(req.host);
        let facts = Facts {
            host,
            path: &path,
            method: method_bit(req.method),
            ip: ClientAddr::new(req.client_ip),
        };
        let mut merge = Merge::default();
        if self.index.fill(host, &path, &mut merge) {
            // The index settled the host condition.
            while let Some(pos) = merge.next_pos() {
                let Some(rule) = self.rules.get(pos as usize) else {
                    continue;
                };
                if rule.request_ok_except_host(&facts) {
                    if let Some(decision) = decide(rule, subject) {
                        return decision;
                    }
                }
            }
        } else {
            for rule in self.rules.iter() {
                if rule.host_ok(facts.host) && rule.request_ok_except_host(&facts) {
                    if let Some(decision) = decide(rule, subject) {
                        return decision;
                    }
                }
            }
        }
        self.default_decision()
    }

    /// A step-by-step account of [`Self::evaluate`] for people (`sekisho policy explain`).
    pub fn explain(&self, req: &RequestFacts<'_>, subject: Option<&Subject<'_>>) -> Explanation {
        explain::explain(self, req, subject)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The action when no rule matches.
    pub fn default_action(&self) -> Action {
        self.default
    }

    pub(crate) fn default_decision(&self) -> Decision<'_> {
        Decision {
            action: self.default,
            rule: None,
            needs_identity: false,
            max_mfa_age: None,
            trusted_device: true,
            mfa_methods: FactorSet::ALL,
        }
    }
}

#[cfg(test)]
mod tests;
