//! Completed sign-ins: the browser cookie, the history row, the "new sign-in" notice,
//! and the "Recent sign-ins" rows of the settings page.
//!
//! A sign-in *completes* when its session first reaches the level it keeps:
//! - right after the password when no second factor is owed at sign-in (level
//!   `password`, or `mfa` when a trusted browser skips the challenge);
//! - when a second factor elevates a session of level `partial`, which only the
//!   password step creates.
//!
//! Elevating a session that already had level `password` or `mfa` (a step-up for a
//! `two_factor` rule or `max_mfa_age`, confirming a factor during enrolment) happens
//! inside a sign-in that was already recorded, so it is not a new sign-in.
//!
//! The browser cookie is a random value with no meaning of its own; the history
//! stores its hash per user. A browser without it, or with one this user's kept
//! history has not seen, is a new browser. The cookie is refreshed at every
//! completed sign-in and never reaches the upstream site (the gateway strips it).
use crate::handlers::{add_cookie, base_cookie, Req};
use crate::help::HelpTopic;
use crate::i18n::{mfa_texts, SignInTexts};
use crate::UiContext;
use axum::response::Response;
use sekisho_auth::mfa_service::ua_summary;
use sekisho_auth::sign_ins::browser_hash;
use sekisho_auth::{NewSignIn, Novelty, Session, SignInMethod};
use sekisho_config::{Lang, SignInSettings};
use sekisho_notify::{Notice, Recipient};

/// Browsers cap cookie lifetimes at 400 days; every sign-in starts the period again.
const BROWSER_COOKIE_DAYS: i64 = 400;

/// Rows shown on the settings page (the history may keep more for its checks).
const SHOWN: u32 = 20;

/// A cookie value we issued: 43 base64url characters (older or foreign values of a
/// plausible shape are kept too, so a format change does not make every browser new).
fn well_formed(value: &str) -> bool {
    (20..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the user is mailed about this sign-in: never the first one on record,
/// otherwise as `[sign_in]` asks.
fn worth_a_notice(cfg: &SignInSettings, n: &Novelty) -> bool {
    !n.first
        && ((cfg.notify_new_browser && n.new_browser) || (cfg.notify_new_network && n.new_network))
}

/// Records a completed sign-in, mails the user when it came from a new browser or
/// network, and sets (or refreshes) the browser cookie on `resp`. Failures are logged
/// and never stop the sign-in.
pub(crate) async fn completed(
    ctx: &UiContext,
    r: &Req,
    session: &Session,
    method: SignInMethod,
    resp: &mut Response,
) {
    let token = crate::cookies::find(&r.headers, &ctx.config.browser_cookie)
        .filter(|v| well_formed(v))
        .map_or_else(|| sekisho_auth::random_token(32), str::to_string);
    let browser = ua_summary(r.user_agent().unwrap_or(""));
    let ip = r.client.as_ref().map(|c| c.ip);
    let at = ctx.mfa.now();
    let row = NewSignIn {
        user_id: &session.user_id,
        at,
        ip,
        browser: &browser,
        browser_hash: &browser_hash(&token),
        method,
    };
    let cfg = ctx.config.sign_in;
    match ctx.accounts.sign_ins().record(&row, cfg.history).await {
        Ok(novelty) if worth_a_notice(&cfg, &novelty) => {
            tracing::info!(
                request_id = %r.request_id(),
                user = %session.user_id,
                new_browser = novelty.new_browser,
                new_network = novelty.new_network,
                "new sign-in notice"
            );
            let origin = format!("{}://{}", r.scheme(ctx), r.host());
            send_notice(
                ctx,
                session,
                r.lang,
                NoticeFacts {
                    when: crate::settings::when(at),
                    browser,
                    ip: ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    novelty,
                    settings_link: format!("{origin}{}settings", ctx.config.prefix),
                    help_link: format!(
                        "{origin}{}",
                        HelpTopic::UnexpectedPrompt.href(&ctx.config.prefix)
                    ),
                },
            );
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, request_id = %r.request_id(), "could not record the sign-in")
        }
    }
    let mut c = base_cookie(ctx, &ctx.config.browser_cookie, token);
    c.set_max_age(cookie::time::Duration::days(BROWSER_COOKIE_DAYS));
    add_cookie(resp, &c);
}

/// What the notice says, owned so it can travel to the background task.
struct NoticeFacts {
    when: String,
    browser: String,
    ip: String,
    novelty: Novelty,
    settings_link: String,
    help_link: String,
}

/// Mails the notice in the background like the other security notices: the user is
/// not kept waiting, and a failure is logged and counted by the notifier.
fn send_notice(ctx: &UiContext, session: &Session, lang: Lang, facts: NoticeFacts) {
    if !ctx.notifier.email_enabled() {
        return;
    }
    let notifier = ctx.notifier.clone();
    let (email, name) = (session.email.clone(), session.display_name.clone());
    tokio::spawn(async move {
        let notice = Notice::NewSignIn {
            when: &facts.when,
            browser: &facts.browser,
            ip: &facts.ip,
            browser_is_new: facts.novelty.new_browser,
            network_is_new: facts.novelty.new_network,
            settings_link: &facts.settings_link,
            help_link: &facts.help_link,
        };
        let to = Recipient {
            email: &email,
            display_name: &name,
            lang,
        };
        if let Err(e) = notifier.send_email(&to, &notice).await {
            tracing::warn!(error = %e, "new sign-in notice not sent");
        }
    });
}

/// One line of "Recent sign-ins".
pub struct SignInView {
    pub at: String,
    pub browser: String,
    pub ip: String,
    pub method: &'static str,
    pub new_browser: bool,
    pub new_network: bool,
}

/// The user's latest sign-ins for the settings page; empty when the history cannot
/// be read (the page still works).
pub(crate) async fn recent(
    ctx: &UiContext,
    lang: Lang,
    texts: &'static SignInTexts,
    user_id: &str,
) -> Vec<SignInView> {
    let rows = match ctx.accounts.sign_ins().recent(user_id, SHOWN).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the sign-in history");
            return Vec::new();
        }
    };
    let m = mfa_texts(lang);
    rows.into_iter()
        .map(|row| SignInView {
            at: crate::settings::when(row.at),
            browser: row.browser,
            ip: row.ip.unwrap_or_default(),
            method: match row.method {
                Some(SignInMethod::Password) => texts.method_password,
                Some(SignInMethod::SecondFactor(f)) => crate::challenge::method_name(m, f),
                None => "",
            },
            new_browser: row.new_browser,
            new_network: row.new_network,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_only_when_secure() {
        let name = |toml: &str| {
            let settings =
                sekisho_config::load_str(toml, "t", &std::collections::HashMap::new()).unwrap();
            crate::UiConfig::from_settings(&settings).browser_cookie
        };
        assert_eq!(name(""), "sekisho_browser", "plain HTTP on loopback");
        assert_eq!(
            name("[cookie]\nsecure = \"always\"\n"),
            "__Host-sekisho_browser"
        );
        assert_eq!(
            name("[cookie]\nsecure = \"always\"\ndomain = \"example.com\"\n"),
            "sekisho_browser",
            "__Host- cookies cannot carry a domain"
        );
    }

    #[test]
    fn only_issued_looking_cookies_are_kept() {
        assert!(well_formed(&sekisho_auth::random_token(32)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a".repeat(65)));
        assert!(!well_formed("abcdefghijklmnopqrstu;v"));
    }

    #[test]
    fn first_sign_ins_and_switched_off_kinds_send_nothing() {
        let both = SignInSettings {
            notify_new_browser: true,
            notify_new_network: true,
            history: 50,
        };
        let browser = Novelty {
            new_browser: true,
            ..Novelty::default()
        };
        let network = Novelty {
            new_network: true,
            ..Novelty::default()
        };
        assert!(worth_a_notice(&both, &browser));
        assert!(worth_a_notice(&both, &network));
        assert!(!worth_a_notice(&both, &Novelty::default()));
        let first = Novelty {
            first: true,
            new_browser: true,
            new_network: true,
        };
        assert!(!worth_a_notice(&both, &first), "nothing to compare with");
        let defaults = SignInSettings::default();
        assert!(worth_a_notice(&defaults, &browser));
        assert!(!worth_a_notice(&defaults, &network), "networks are opt-in");
        let none = SignInSettings {
            notify_new_browser: false,
            ..defaults
        };
        assert!(!worth_a_notice(&none, &browser));
    }
}
