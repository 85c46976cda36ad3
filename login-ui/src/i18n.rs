//! Page texts in English and Japanese, and choosing between them.
//!
//! Order of preference: the `sekisho_lang` cookie (set by the switcher), then
//! `Accept-Language` with its q-values, then the configured default.
use http::HeaderMap;
use sekisho_config::Lang;

mod enroll;
mod help;
mod lost_device;
mod mfa;
mod recovery;
mod reenrol;
pub use enroll::{enroll_texts, long_date, EnrollTexts};
pub use help::{help_texts, HelpEntryTexts, HelpTexts};
pub use lost_device::{lost_device_texts, LostDeviceTexts};
pub use mfa::{fill, mfa_texts, MfaTexts};
pub use recovery::{recovery_texts, RecoveryTexts};
pub use reenrol::{reenrol_texts, ReenrolTexts};
mod sign_ins;
pub use sign_ins::{sign_in_texts, SignInTexts};

/// The cookie the language switcher sets.
pub const LANG_COOKIE: &str = "sekisho_lang";

pub struct Texts {
    pub lang_name: &'static str,
    pub switch_label: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_intro: &'static str,
    pub email_label: &'static str,
    pub password_label: &'static str,
    pub sign_in_button: &'static str,
    pub bad_credentials: &'static str,
    /// `{wait}`: "3 minutes" / "3分".
    pub locked: &'static str,
    pub suspended: &'static str,
    pub form_expired: &'static str,
    pub email_required: &'static str,
    pub signed_in_title: &'static str,
    pub signed_in_as: &'static str,
    pub groups_label: &'static str,
    pub auth_level_label: &'static str,
    pub level_password: &'static str,
    pub level_mfa: &'static str,
    pub session_since: &'static str,
    pub continue_link: &'static str,
    pub sign_out_title: &'static str,
    pub sign_out_question: &'static str,
    pub sign_out_button: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_text: &'static str,
    pub sign_in_again: &'static str,
    pub request_id_label: &'static str,
    pub back_home: &'static str,
    pub err_bad_request_title: &'static str,
    pub err_bad_request: &'static str,
    pub err_forbidden_title: &'static str,
    pub err_forbidden: &'static str,
    pub err_mfa_required_title: &'static str,
    pub err_mfa_required: &'static str,
    pub err_cross_site: &'static str,
    pub err_not_found_title: &'static str,
    pub err_not_found: &'static str,
    pub err_too_large_title: &'static str,
    pub err_too_large: &'static str,
    pub err_too_many_requests_title: &'static str,
    pub err_too_many_requests: &'static str,
    pub err_busy_title: &'static str,
    pub err_busy: &'static str,
    pub err_bad_gateway_title: &'static str,
    pub err_bad_gateway: &'static str,
    pub err_unavailable_title: &'static str,
    pub err_unavailable: &'static str,
    pub err_unknown_site_title: &'static str,
    pub err_unknown_site: &'static str,
}

static EN: Texts = Texts {
    lang_name: "English",
    switch_label: "日本語",
    sign_in_title: "Sign in",
    sign_in_intro: "Sign in to continue to the site.",
    email_label: "Email address",
    password_label: "Password",
    sign_in_button: "Sign in",
    bad_credentials: "The email address or password is incorrect.",
    locked: "Too many failed attempts. For your security, signing in is paused. Try again in {wait}.",
    suspended: "Sign-in is suspended for your group at the moment. Contact your administrator.",
    form_expired: "This form expired. Please sign in again.",
    email_required: "Enter your email address and password.",
    signed_in_title: "You are signed in",
    signed_in_as: "Signed in as",
    groups_label: "Groups",
    auth_level_label: "Verified with",
    level_password: "Password",
    level_mfa: "Password and a second factor",
    session_since: "Signed in at",
    continue_link: "Continue to the site",
    sign_out_title: "Sign out",
    sign_out_question: "Do you want to sign out?",
    sign_out_button: "Sign out",
    signed_out_title: "You are signed out",
    signed_out_text: "You have been signed out of this browser.",
    sign_in_again: "Sign in again",
    request_id_label: "Request ID",
    back_home: "Go to the start page",
    err_bad_request_title: "Bad request",
    err_bad_request: "The request could not be understood. Please go back and try again.",
    err_forbidden_title: "Access denied",
    err_forbidden: "You do not have permission to open this page.",
    err_mfa_required_title: "Two-step verification required",
    err_mfa_required: "This page needs two-step verification (MFA), which is not available for your account yet. Contact your administrator.",
    err_cross_site: "The form was sent from another site, so it was blocked. Reload the page and try again.",
    err_not_found_title: "Page not found",
    err_not_found: "There is no page at this address.",
    err_too_large_title: "Request too large",
    err_too_large: "The data you sent is too large.",
    err_too_many_requests_title: "Too many requests",
    err_too_many_requests: "Too many requests came from you in a short time. Wait a moment, then try again.",
    err_busy_title: "Busy",
    err_busy: "Too many sign-ins are being processed right now. Please try again in a moment.",
    err_bad_gateway_title: "The site is not responding",
    err_bad_gateway: "The site behind this gateway did not answer. Please try again later.",
    err_unavailable_title: "Temporarily unavailable",
    err_unavailable: "Sign-in is temporarily unavailable. Please try again in a few minutes.",
    err_unknown_site_title: "Unknown site",
    err_unknown_site: "This gateway does not serve this address.",
};

static JA: Texts = Texts {
    lang_name: "日本語",
    switch_label: "English",
    sign_in_title: "サインイン",
    sign_in_intro: "サイトを利用するにはサインインしてください。",
    email_label: "メールアドレス",
    password_label: "パスワード",
    sign_in_button: "サインイン",
    bad_credentials: "メールアドレスまたはパスワードが正しくありません。",
    locked: "失敗が続いたため、安全のためサインインを一時停止しています。{wait}後にもう一度お試しください。",
    suspended: "現在、あなたのグループのサインインは停止されています。管理者にご連絡ください。",
    form_expired: "フォームの有効期限が切れました。もう一度サインインしてください。",
    email_required: "メールアドレスとパスワードを入力してください。",
    signed_in_title: "サインインしています",
    signed_in_as: "サインイン中のアカウント",
    groups_label: "グループ",
    auth_level_label: "確認方法",
    level_password: "パスワード",
    level_mfa: "パスワードと2段階認証",
    session_since: "サインイン日時",
    continue_link: "サイトへ進む",
    sign_out_title: "サインアウト",
    sign_out_question: "サインアウトしますか？",
    sign_out_button: "サインアウト",
    signed_out_title: "サインアウトしました",
    signed_out_text: "このブラウザーからサインアウトしました。",
    sign_in_again: "もう一度サインイン",
    request_id_label: "リクエストID",
    back_home: "トップページへ",
    err_bad_request_title: "不正なリクエスト",
    err_bad_request: "リクエストを処理できませんでした。前のページに戻ってもう一度お試しください。",
    err_forbidden_title: "アクセスできません",
    err_forbidden: "このページを開く権限がありません。",
    err_mfa_required_title: "2段階認証が必要です",
    err_mfa_required: "このページには2段階認証（MFA）が必要ですが、お使いのアカウントではまだ利用できません。管理者にお問い合わせください。",
    err_cross_site: "別のサイトから送信されたフォームのため、ブロックしました。ページを再読み込みしてもう一度お試しください。",
    err_not_found_title: "ページが見つかりません",
    err_not_found: "このアドレスにはページがありません。",
    err_too_large_title: "リクエストが大きすぎます",
    err_too_large: "送信されたデータが大きすぎます。",
    err_too_many_requests_title: "リクエストが多すぎます",
    err_too_many_requests: "短時間に多くのリクエストがありました。少し待ってから、もう一度お試しください。",
    err_busy_title: "混み合っています",
    err_busy: "現在サインインが集中しています。しばらくしてからもう一度お試しください。",
    err_bad_gateway_title: "サイトが応答しません",
    err_bad_gateway: "このゲートウェイの背後にあるサイトが応答しませんでした。しばらくしてからもう一度お試しください。",
    err_unavailable_title: "一時的に利用できません",
    err_unavailable: "現在サインインを利用できません。数分後にもう一度お試しください。",
    err_unknown_site_title: "不明なサイト",
    err_unknown_site: "このゲートウェイはこのアドレスを扱っていません。",
};

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

/// The other language, for the switcher.
pub fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Ja,
        Lang::Ja => Lang::En,
    }
}

/// Picks the page language from the switcher cookie, then `Accept-Language`.
pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
    if let Some(lang) = crate::cookies::find(headers, LANG_COOKIE).and_then(Lang::from_tag) {
        return lang;
    }
    headers
        .get_all(http::header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_weighted)
        .filter(|(_, q)| *q > 0.0)
        .fold(None::<(Lang, f32)>, |best, (lang, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((lang, q)),
        })
        .map_or(default, |(l, _)| l)
}

fn parse_weighted(item: &str) -> Option<(Lang, f32)> {
    let mut parts = item.split(';');
    let lang = Lang::from_tag(parts.next()?.trim())?;
    let q = parts
        .find_map(|p| p.trim().strip_prefix("q="))
        .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
    Some((lang, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(accept: &str, cookie: Option<&str>) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(
            http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(accept).unwrap(),
        );
        if let Some(c) = cookie {
            m.insert(http::header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        m
    }

    #[test]
    fn accept_language_with_weights() {
        assert_eq!(
            negotiate(&h("ja-JP,ja;q=0.9,en;q=0.8", None), Lang::En),
            Lang::Ja
        );
        assert_eq!(
            negotiate(&h("en-US,en;q=0.9,ja;q=0.8", None), Lang::Ja),
            Lang::En
        );
        assert_eq!(
            negotiate(&h("fr;q=1, ja;q=0.5, en;q=0.7", None), Lang::Ja),
            Lang::En
        );
        assert_eq!(negotiate(&h("de, fr", None), Lang::Ja), Lang::Ja);
        assert_eq!(negotiate(&h("ja;q=0", None), Lang::En), Lang::En);
        assert_eq!(negotiate(&h(";;;q=x,,", None), Lang::En), Lang::En);
    }

    #[test]
    fn cookie_wins() {
        assert_eq!(
            negotiate(&h("ja", Some("a=b; sekisho_lang=en")), Lang::Ja),
            Lang::En
        );
        assert_eq!(
            negotiate(&h("en", Some("sekisho_lang=xx")), Lang::En),
            Lang::En
        );
    }
}
