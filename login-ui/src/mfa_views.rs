//! Templates of the second-factor pages: challenge, enrolment, backup codes, settings,
//! and the rollout interstitials and enrolment wizard.
use crate::i18n::{EnrollTexts, SignInTexts};
use crate::pages::PageChrome;
use crate::sign_ins::SignInView;
use askama::Template;

pub struct MethodLink {
    pub label: &'static str,
    pub href: String,
}

#[derive(Template)]
#[template(path = "mfa.html")]
pub struct ChallengePage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
    pub rd: &'a str,
    /// Factors the target accepts (`""` = any), carried through the forms.
    pub methods: String,
    pub method: &'static str,
    pub method_label: &'static str,
    pub intro: &'static str,
    /// "We'll send a code to …" for e-mail and SMS.
    pub send_to: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The help entry for `error`.
    pub help_href: Option<String>,
    pub others: Vec<MethodLink>,
    /// "Can't use any of these?": for users whose phone is gone.
    pub lost_device_href: String,
    pub trust_label: Option<String>,
}

/// A short message with one way on.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage {
    pub page: PageChrome,
    pub heading: &'static str,
    pub message: String,
    pub link_href: String,
    pub link_label: &'static str,
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
pub struct TotpSetupPage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub methods: String,
    pub intro: Option<&'static str>,
    /// Inline SVG from the QR encoder (trusted markup: it is generated, not user input).
    pub qr_svg: String,
    pub secret_grouped: String,
    pub error: Option<String>,
    pub help_href: Option<String>,
    /// "Step 2 of 4" inside the enrolment wizard.
    pub step: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
pub struct BackupCodesPage<'a> {
    pub page: PageChrome,
    pub codes: Vec<String>,
    /// The codes as a `data:` URL for the download link.
    pub download_href: String,
    pub continue_to: &'a str,
    pub notice: Option<&'static str>,
    pub step: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "code_setup.html")]
pub struct CodeSetupPage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
    pub heading: &'static str,
    /// `email` or `sms`.
    pub channel: &'static str,
    pub intro: Option<String>,
    pub phone: &'a str,
    pub code_sent: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub help_href: Option<String>,
    pub rd: &'a str,
    pub step: Option<&'static str>,
}

pub struct MethodRow {
    pub label: &'static str,
    pub on: bool,
    pub detail: String,
    pub preferred: bool,
}

pub struct DeviceRow {
    pub id: String,
    pub summary: String,
    pub last_used: String,
    pub expires: String,
}

pub struct SessionRow {
    pub key: String,
    pub summary: String,
    pub ip: String,
    pub since: String,
    pub current: bool,
}

pub struct ActivityRow {
    pub at: String,
    pub what: String,
    pub ok: bool,
    pub ip: String,
    pub ua: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub totp: Option<MethodRow>,
    pub email: Option<MethodRow>,
    pub sms: Option<MethodRow>,
    pub backup_status: Option<String>,
    pub backup_warning: Option<String>,
    pub devices: Vec<DeviceRow>,
    pub sessions: Vec<SessionRow>,
    pub activity: Vec<ActivityRow>,
    /// "Recent sign-ins", newest first, and its texts.
    pub sign_ins: Vec<SignInView>,
    pub si: &'static SignInTexts,
    /// The help entry for a sign-in the user does not recognise.
    pub unexpected_href: String,
    /// The rollout's call to action, for users without MFA whose mode is not `off`.
    pub invite: Option<&'static EnrollTexts>,
}

/// The rollout interstitial: recommend, countdown or forced.
#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage<'a> {
    pub page: PageChrome,
    pub e: &'static EnrollTexts,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub nudge: &'static str,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub setup_href: String,
    /// "Remind me later" / "Skip for now"; `None` when enrolment is forced.
    pub later_label: Option<&'static str>,
}

pub struct WizardChoice {
    pub id: &'static str,
    pub title: &'static str,
    pub body: String,
    pub button: &'static str,
    pub href: String,
}

/// Wizard step 1: how the user will verify, with a short tutorial per method.
#[derive(Template)]
#[template(path = "enroll_start.html")]
pub struct EnrollStartPage<'a> {
    pub page: PageChrome,
    pub e: &'static EnrollTexts,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub nudge: &'static str,
    pub step: String,
    pub choices: Vec<WizardChoice>,
    pub skippable: bool,
}

/// Wizard step 4.
#[derive(Template)]
#[template(path = "enroll_done.html")]
pub struct EnrollDonePage<'a> {
    pub page: PageChrome,
    pub e: &'static EnrollTexts,
    pub step: String,
    pub continue_to: &'a str,
}
