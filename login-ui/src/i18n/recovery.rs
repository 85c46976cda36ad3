//! Texts of the "forgot your password?" pages, in English and Japanese. `{minutes}`
//! is the link lifetime, `{n}` the minimum length.
use sekisho_config::Lang;

pub struct RecoveryTexts {
    pub forgot_link: &'static str,
    pub forgot_title: &'static str,
    pub forgot_intro: &'static str,
    pub send_button: &'static str,
    pub sent_title: &'static str,
    pub sent: &'static str,
    pub reset_title: &'static str,
    pub reset_intro: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub password_hint: &'static str,
    pub save_button: &'static str,
    pub mismatch: &'static str,
    pub too_short: &'static str,
    pub too_long: &'static str,
    pub guessable: &'static str,
    pub expired_title: &'static str,
    pub expired: &'static str,
    pub new_link: &'static str,
    pub done_title: &'static str,
    pub done: &'static str,
    pub sign_in: &'static str,
}

const EN: RecoveryTexts = RecoveryTexts {
    forgot_link: "Forgot your password?",
    forgot_title: "Reset your password",
    forgot_intro: "Enter the e-mail address you sign in with. We will send you a link to choose a new password.",
    send_button: "Send the link",
    sent_title: "Check your e-mail",
    sent: "If an account uses this address, we have sent it a link to choose a new password. The link works once, for {minutes} minutes. Nothing arrived? Check your spam folder, or ask again in a few minutes.",
    reset_title: "Choose a new password",
    reset_intro: "Your two-step verification stays as it is: you will still need it to sign in.",
    new_password: "New password",
    confirm_password: "New password again",
    password_hint: "At least {n} characters. A few unrelated words make a strong password that is easy to remember.",
    save_button: "Change the password",
    mismatch: "The two passwords are not the same.",
    too_short: "The password is too short: use at least {n} characters.",
    too_long: "The password is too long.",
    guessable: "This password is too easy to guess (common words, names, dates, keyboard patterns or your own address). Choose a less predictable one.",
    expired_title: "This link no longer works",
    expired: "Reset links work once, for a limited time, and stop working when the password changes. Ask for a new link.",
    new_link: "Ask for a new link",
    done_title: "Password changed",
    done: "Your password was changed. You were signed out everywhere; sign in with the new password.",
    sign_in: "Sign in",
};

const JA: RecoveryTexts = RecoveryTexts {
    forgot_link: "パスワードをお忘れの場合",
    forgot_title: "パスワードの再設定",
    forgot_intro: "サインインに使うメールアドレスを入力してください。新しいパスワードを設定するためのリンクをお送りします。",
    send_button: "リンクを送信",
    sent_title: "メールをご確認ください",
    sent: "このアドレスのアカウントがある場合、新しいパスワードを設定するリンクを送信しました。リンクは {minutes} 分間、1回だけ使えます。届かない場合は迷惑メールフォルダーを確認するか、数分後にもう一度お試しください。",
    reset_title: "新しいパスワードの設定",
    reset_intro: "2段階認証の設定は変わりません。サインインには引き続き2段階認証が必要です。",
    new_password: "新しいパスワード",
    confirm_password: "新しいパスワード（確認）",
    password_hint: "{n} 文字以上にしてください。関係のない単語をいくつか並べると、覚えやすく強いパスワードになります。",
    save_button: "パスワードを変更",
    mismatch: "2つのパスワードが一致しません。",
    too_short: "パスワードが短すぎます。{n} 文字以上にしてください。",
    too_long: "パスワードが長すぎます。",
    guessable: "このパスワードは推測されやすいです（よくある単語、名前、日付、キーボードの並び、ご自身のアドレスなど）。推測されにくいものにしてください。",
    expired_title: "このリンクは使えません",
    expired: "再設定リンクは一定時間内に1回だけ使え、パスワードが変わると使えなくなります。新しいリンクを申請してください。",
    new_link: "新しいリンクを申請",
    done_title: "パスワードを変更しました",
    done: "パスワードを変更しました。すべての端末からサインアウトしました。新しいパスワードでサインインしてください。",
    sign_in: "サインイン",
};

pub fn recovery_texts(lang: Lang) -> &'static RecoveryTexts {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}
