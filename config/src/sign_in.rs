//! The `[sign_in]` table: e-mail notices when someone signs in from a browser or a
//! network the account has not used lately, and how many past sign-ins each user's
//! history keeps (which is also how far back "lately" reaches).
use crate::load::{Validator, R};
use serde::Deserialize;

const MAX_HISTORY: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInSection {
    /// Mail the user after a sign-in from a browser without a known browser cookie.
    #[serde(default = "yes")]
    pub notify_new_browser: bool,
    /// Mail the user after a sign-in from an IPv4 /24 or IPv6 /64 not in the history.
    /// Off by default: phones change networks all day.
    #[serde(default)]
    pub notify_new_network: bool,
    /// Sign-ins kept per user (the oldest are dropped).
    #[serde(default = "default_history")]
    pub history: u32,
}

impl Default for SignInSection {
    fn default() -> Self {
        Self {
            notify_new_browser: true,
            notify_new_network: false,
            history: default_history(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_history() -> u32 {
    50
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInSettings {
    pub notify_new_browser: bool,
    pub notify_new_network: bool,
    /// 1 to 1000.
    pub history: u32,
}

impl Default for SignInSettings {
    fn default() -> Self {
        let s = SignInSection::default();
        Self {
            notify_new_browser: s.notify_new_browser,
            notify_new_network: s.notify_new_network,
            history: s.history,
        }
    }
}

impl Validator<'_> {
    pub(crate) fn sign_in(&self, s: SignInSection) -> R<SignInSettings> {
        if !(1..=MAX_HISTORY).contains(&s.history) {
            return Err(self.err(
                "sign_in.history",
                format!("must be between 1 and {MAX_HISTORY} (sign-ins kept per user)"),
            ));
        }
        Ok(SignInSettings {
            notify_new_browser: s.notify_new_browser,
            notify_new_network: s.notify_new_network,
            history: s.history,
        })
    }
}

#[cfg(test)]
mod tests;
