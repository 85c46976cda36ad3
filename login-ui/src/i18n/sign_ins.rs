//! Texts of the "Recent sign-ins" list on the settings page, in English and Japanese.
use sekisho_config::Lang;

pub struct SignInTexts {
    pub heading: &'static str,
    pub intro: &'static str,
    pub col_time: &'static str,
    pub col_browser: &'static str,
    pub col_ip: &'static str,
    pub col_method: &'static str,
    pub col_notes: &'static str,
    pub method_password: &'static str,
    pub new_browser: &'static str,
    pub new_network: &'static str,
    /// Links to the help entry on unexpected sign-ins.
    pub not_you: &'static str,
}

static EN: SignInTexts = SignInTexts {
    heading: "Recent sign-ins",
    intro: "Each time your account was signed in to, newest first.",
    col_time: "Time",
    col_browser: "Browser",
    col_ip: "IP address",
    col_method: "Verified with",
    col_notes: "Notes",
    method_password: "Password",
    new_browser: "New browser",
    new_network: "New network",
    not_you: "Don't recognise a sign-in?",
};

static JA: SignInTexts = SignInTexts {
    heading: "最近のサインイン",
    intro: "お使いのアカウントへのサインインの記録です(新しい順)。",
    col_time: "日時",
    col_browser: "ブラウザー",
    col_ip: "IP アドレス",
    col_method: "確認方法",
    col_notes: "備考",
    method_password: "パスワード",
    new_browser: "新しいブラウザー",
    new_network: "新しいネットワーク",
    not_you: "身に覚えのないサインインがある場合",
};

pub fn sign_in_texts(lang: Lang) -> &'static SignInTexts {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}
