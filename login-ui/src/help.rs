//! The help page (`GET {prefix}help`): answers to the problems users meet when signing
//! in, each under a stable anchor, and the operator's `[support]` contact.
//!
//! [`HelpTopic`] is the one list of entries: the page renders every topic, and the
//! flows link to an entry only through [`HelpTopic::href`], so a link cannot point at
//! an anchor the page lacks. The page needs no session: people who cannot sign in are
//! the ones who need it.
use crate::handlers::{html, read, Ctx};
use crate::i18n::{fill, help_texts, HelpEntryTexts, HelpTexts};
use crate::pages::{self, PageChrome};
use askama::Template;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sekisho_config::SupportSettings;

/// An entry of the help page; its anchor is part of the page's public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpTopic {
    CodeNotArriving,
    LostDevice,
    CodeRejected,
    UnexpectedPrompt,
    LockedOut,
    WhyMfa,
}

impl HelpTopic {
    /// In page order.
    pub const ALL: [HelpTopic; 6] = [
        HelpTopic::CodeNotArriving,
        HelpTopic::LostDevice,
        HelpTopic::CodeRejected,
        HelpTopic::UnexpectedPrompt,
        HelpTopic::LockedOut,
        HelpTopic::WhyMfa,
    ];

    pub fn anchor(self) -> &'static str {
        match self {
            HelpTopic::CodeNotArriving => "code-not-arriving",
            HelpTopic::LostDevice => "lost-device",
            HelpTopic::CodeRejected => "code-rejected",
            HelpTopic::UnexpectedPrompt => "unexpected-prompt",
            HelpTopic::LockedOut => "locked-out",
            HelpTopic::WhyMfa => "why-mfa",
        }
    }

    /// `{prefix}help#anchor`
    pub fn href(self, prefix: &str) -> String {
        format!("{prefix}help#{}", self.anchor())
    }

    fn texts(self, h: &'static HelpTexts) -> &'static HelpEntryTexts {
        match self {
            HelpTopic::CodeNotArriving => &h.code_not_arriving,
            HelpTopic::LostDevice => &h.lost_device,
            HelpTopic::CodeRejected => &h.code_rejected,
            HelpTopic::UnexpectedPrompt => &h.unexpected_prompt,
            HelpTopic::LockedOut => &h.locked_out,
            HelpTopic::WhyMfa => &h.why_mfa,
        }
    }
}

/// Characters a `mailto:` address keeps as they are; the rest (`?`, `%`, `#`, …, all
/// legal in a local part) are percent-encoded so they cannot start a query.
const MAILTO_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'+');

/// The support contact as the templates show it (`support_box.html`).
pub struct SupportView {
    pub email: Option<String>,
    pub mailto: String,
    pub phone: Option<String>,
    pub hours: Option<String>,
    pub url: Option<String>,
}

impl SupportView {
    /// `None` when the operator gave no way to reach support.
    pub fn of(s: &SupportSettings) -> Option<Self> {
        s.has_contact().then(|| Self {
            mailto: s.email.as_deref().map_or_else(String::new, |e| {
                format!("mailto:{}", utf8_percent_encode(e, MAILTO_KEEP))
            }),
            email: s.email.clone(),
            phone: s.phone.clone(),
            hours: s.hours.clone(),
            url: s.url.clone(),
        })
    }
}

pub struct EntryView {
    pub id: &'static str,
    pub title: &'static str,
    pub paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "help.html")]
pub struct HelpPage {
    pub page: PageChrome,
    pub entries: Vec<EntryView>,
    pub support: Option<SupportView>,
}

/// `GET {prefix}help`
pub async fn page(State(ctx): Ctx, req: Request) -> Response {
    let (r, _) = match read(&ctx, req).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let h = help_texts(r.lang);
    let mfa = ctx.mfa.settings();
    let ttl = (mfa.code_ttl.as_secs() / 60).max(1).to_string();
    let resend = mfa.code_resend_after.as_secs().to_string();
    let values = [
        ("ttl", ttl.as_str()),
        ("n", resend.as_str()),
        ("issuer", mfa.issuer.as_str()),
    ];
    let entries = HelpTopic::ALL
        .into_iter()
        .map(|topic| {
            let t = topic.texts(h);
            EntryView {
                id: topic.anchor(),
                title: t.title,
                paragraphs: t.body.iter().map(|p| fill(p, &values)).collect(),
            }
        })
        .collect();
    html(
        StatusCode::OK,
        pages::render(&HelpPage {
            page: r.chrome(&ctx),
            entries,
            support: SupportView::of(&ctx.config.support),
        }),
    )
}
