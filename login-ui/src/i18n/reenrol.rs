//! Texts of the re-enrolment page an executed MFA reset e-mails, in English and
//! Japanese.
use sekisho_config::Lang;

pub struct ReenrolTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub password: &'static str,
    pub continue_button: &'static str,
    pub wrong_password: &'static str,
    pub suspended: &'static str,
    pub gone_title: &'static str,
    pub used: &'static str,
    pub expired: &'static str,
    pub superseded: &'static str,
    pub unknown: &'static str,
}

const EN: ReenrolTexts = ReenrolTexts {
    title: "Set up two-step verification again",
    intro: "An administrator reset your two-step verification. Enter your password to continue; then add an authenticator app or another method.",
    password: "Password",
    continue_button: "Continue",
    wrong_password: "The password is not right. Try again.",
    suspended: "Sign-in is suspended for your group at the moment. Contact your administrator.",
    gone_title: "This link no longer works",
    used: "This link was already used. If you did not finish setting up, ask your helpdesk for a new link.",
    expired: "This link has expired. Ask your helpdesk for a new one.",
    superseded: "A newer link was sent to you: use the most recent e-mail.",
    unknown: "This link is not valid. Check that you copied all of it, or ask your helpdesk for a new one.",
};

const JA: ReenrolTexts = ReenrolTexts {
    title: "2段階認証の再設定",
    intro: "管理者があなたの2段階認証をリセットしました。続けるにはパスワードを入力してください。その後、認証アプリなどの方法を設定します。",
    password: "パスワード",
    continue_button: "続ける",
    wrong_password: "パスワードが正しくありません。もう一度お試しください。",
    suspended: "現在、あなたのグループのサインインは停止されています。管理者にご連絡ください。",
    gone_title: "このリンクは使用できません",
    used: "このリンクはすでに使用されています。設定を完了できなかった場合は、ヘルプデスクに新しいリンクを依頼してください。",
    expired: "このリンクは有効期限が切れています。ヘルプデスクに新しいリンクを依頼してください。",
    superseded: "新しいリンクが送信されています。最新のメールのリンクをご利用ください。",
    unknown: "このリンクは無効です。すべてコピーされているか確認するか、ヘルプデスクに新しいリンクを依頼してください。",
};

pub fn reenrol_texts(lang: Lang) -> &'static ReenrolTexts {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}
