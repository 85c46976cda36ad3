//! Texts of the help page, the help links beside error messages, and the support
//! contact box, in English and Japanese. Entry bodies may hold `{ttl}` (code lifetime in
//! minutes), `{n}` (resend cool-down in seconds) and `{issuer}` (the name in
//! authenticator apps), filled with [`super::fill`].
use sekisho_config::Lang;

/// One question on the help page.
pub struct HelpEntryTexts {
    pub title: &'static str,
    pub body: &'static [&'static str],
}

pub struct HelpTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub contents: &'static str,
    /// The layout's link to the help page.
    pub footer_link: &'static str,
    /// Beside an error message, to its help entry.
    pub help_link: &'static str,
    /// On error pages.
    pub error_help_link: &'static str,
    /// Under the challenge's other methods (or the only one).
    pub cant_use_any: &'static str,
    pub cant_use_this: &'static str,
    /// On the rollout pages.
    pub why_mfa_link: &'static str,
    pub back: &'static str,
    pub contact_title: &'static str,
    pub contact_email: &'static str,
    pub contact_phone: &'static str,
    pub contact_hours: &'static str,
    pub contact_url: &'static str,
    /// When the operator configured no contact.
    pub contact_fallback: &'static str,
    pub code_not_arriving: HelpEntryTexts,
    pub lost_device: HelpEntryTexts,
    pub code_rejected: HelpEntryTexts,
    pub unexpected_prompt: HelpEntryTexts,
    pub locked_out: HelpEntryTexts,
    pub why_mfa: HelpEntryTexts,
}

static EN: HelpTexts = HelpTexts {
    title: "Help",
    intro: "Answers to common problems with signing in and two-step verification.",
    contents: "On this page",
    footer_link: "Help",
    help_link: "Help with this",
    error_help_link: "Help with signing in",
    cant_use_any: "Can't use any of these?",
    cant_use_this: "Can't use this method?",
    why_mfa_link: "What is two-step verification?",
    back: "Back to sign-in",
    contact_title: "Contact support",
    contact_email: "E-mail",
    contact_phone: "Phone",
    contact_hours: "Hours",
    contact_url: "Help desk",
    contact_fallback: "Still stuck? Contact your organisation's IT help desk or administrator.",
    code_not_arriving: HelpEntryTexts {
        title: "The code doesn't arrive",
        body: &[
            "Wait a minute: e-mail and text messages can take a little while. A code stays valid for {ttl} minutes.",
            "Look in your spam or junk folder, and check that the address or mobile number in your security settings is right.",
            "You can ask for a new code {n} seconds after the last one, and only the newest code works. There is also a limit on how many codes are sent per hour.",
            "Still nothing? Choose another method on the verification page: your authenticator app or a backup code.",
        ],
    },
    lost_device: HelpEntryTexts {
        title: "You lost or changed your phone",
        body: &[
            "Sign in with one of your backup codes: choose \"Backup code\" on the verification page. Each backup code works once.",
            "Then open your security settings, set up your authenticator app on the new phone, and make new backup codes if only a few are left.",
            "No backup codes and no other method? On the verification page choose \"Can't use any of these?\" and send a recovery request: you get a reference number by e-mail, and an administrator confirms who you are before resetting your two-step verification. You can also contact support directly.",
        ],
    },
    code_rejected: HelpEntryTexts {
        title: "The authenticator app's code is rejected",
        body: &[
            "Set your phone's date and time to automatic. Codes are made from the clock, so a clock a minute or more off gives codes that do not match.",
            "Codes change every 30 seconds. Type the code shown now; if it is about to change, wait for the next one.",
            "Each code works only once. If you have just used it, wait for the next one.",
            "Use the entry named {issuer} in your app, not one for another site.",
        ],
    },
    unexpected_prompt: HelpEntryTexts {
        title: "A code or prompt you didn't ask for",
        body: &[
            "If you get a sign-in code by e-mail or text, or a verification prompt, that you did not start, someone may know your password.",
            "Do not share the code with anyone. Support staff never ask for it.",
            "Change your password as soon as you can, and check where you're signed in on your security settings page.",
            "Then contact support, so they can check your account.",
        ],
    },
    locked_out: HelpEntryTexts {
        title: "Too many attempts",
        body: &[
            "After too many wrong passwords or codes, signing in is paused for your security.",
            "Wait before you try again: a few minutes at first, up to an hour after repeated failures.",
            "If you are still locked out, or the attempts were not yours, contact support.",
        ],
    },
    why_mfa: HelpEntryTexts {
        title: "What is two-step verification?",
        body: &[
            "Two-step verification (MFA) adds a second step after your password: a code from an app on your phone, or one sent to you. Someone who learns your password still cannot sign in without it.",
            "Any authenticator app for time-based codes (TOTP) works: for example Google Authenticator, Microsoft Authenticator, or the one in your password manager.",
            "Keep your backup codes somewhere safe: they let you in if you lose your phone.",
        ],
    },
};

static JA: HelpTexts = HelpTexts {
    title: "ヘルプ",
    intro: "サインインと2段階認証でよくある問題と、その対処方法です。",
    contents: "このページの内容",
    footer_link: "ヘルプ",
    help_link: "ヘルプ",
    error_help_link: "サインインのヘルプ",
    cant_use_any: "どの方法も使えない場合",
    cant_use_this: "この方法を使えない場合",
    why_mfa_link: "2段階認証とは",
    back: "サインインに戻る",
    contact_title: "サポートへのお問い合わせ",
    contact_email: "メール",
    contact_phone: "電話",
    contact_hours: "受付時間",
    contact_url: "ヘルプデスク",
    contact_fallback: "解決しない場合は、所属組織のITヘルプデスクまたは管理者にお問い合わせください。",
    code_not_arriving: HelpEntryTexts {
        title: "コードが届かない",
        body: &[
            "1分ほどお待ちください。メールやSMSは届くまで少し時間がかかることがあります。コードの有効期限は{ttl}分です。",
            "迷惑メールフォルダーを確認し、セキュリティ設定のメールアドレスや携帯電話番号が正しいか確認してください。",
            "新しいコードは前回の送信から{n}秒後に再送信できます。使えるのは最新のコードだけです。1時間あたりの送信回数にも上限があります。",
            "それでも届かない場合は、確認ページで別の方法(認証アプリまたはバックアップコード)を選んでください。",
        ],
    },
    lost_device: HelpEntryTexts {
        title: "スマートフォンを紛失した・機種変更した",
        body: &[
            "バックアップコードでサインインしてください。確認ページで「バックアップコード」を選びます。各コードは1回だけ使えます。",
            "サインイン後、セキュリティ設定で新しいスマートフォンに認証アプリを設定し、残りが少なければ新しいバックアップコードを作成してください。",
            "バックアップコードも他の方法もない場合は、確認ページの「どの方法も使えない場合」からリセットを申請してください。受付番号がメールで届き、管理者が本人確認のうえ2段階認証をリセットします。サポートに直接お問い合わせいただくこともできます。",
        ],
    },
    code_rejected: HelpEntryTexts {
        title: "認証アプリのコードが通らない",
        body: &[
            "スマートフォンの日付と時刻を「自動設定」にしてください。コードは時刻から作られるため、時計が1分以上ずれていると一致しません。",
            "コードは30秒ごとに変わります。いま表示されているコードを入力し、切り替わる直前なら次のコードをお待ちください。",
            "各コードは1回だけ使えます。使ったばかりのコードなら、次のコードをお待ちください。",
            "アプリでは「{issuer}」という名前の項目のコードを使ってください。",
        ],
    },
    unexpected_prompt: HelpEntryTexts {
        title: "身に覚えのないコードや確認が届いた",
        body: &[
            "自分で操作していないのにサインイン用のコード(メールやSMS)や確認画面が届いた場合、パスワードが他人に知られている可能性があります。",
            "コードは誰にも教えないでください。サポート担当者がコードを尋ねることはありません。",
            "できるだけ早くパスワードを変更し、セキュリティ設定でサインイン中のセッションを確認してください。",
            "そのうえで、アカウントを確認してもらうためにサポートにお問い合わせください。",
        ],
    },
    locked_out: HelpEntryTexts {
        title: "試行回数が多すぎる",
        body: &[
            "パスワードやコードを何度も間違えると、安全のためサインインが一時停止されます。",
            "しばらく待ってから、もう一度お試しください。最初は数分、失敗が続くと最大1時間ほど待つ必要があります。",
            "それでもサインインできない場合や、自分の操作ではない場合は、サポートにお問い合わせください。",
        ],
    },
    why_mfa: HelpEntryTexts {
        title: "2段階認証とは",
        body: &[
            "2段階認証(MFA)は、パスワードの後にもう1つの確認(スマートフォンのアプリのコードや、送られてくるコード)を行う仕組みです。パスワードが知られても、それだけではサインインできません。",
            "時刻ベースのコード(TOTP)に対応した認証アプリなら使えます。たとえば Google Authenticator、Microsoft Authenticator、パスワード管理アプリの認証機能などです。",
            "バックアップコードは安全な場所に保管してください。スマートフォンを紛失した時にサインインできます。",
        ],
    },
};

pub fn help_texts(lang: Lang) -> &'static HelpTexts {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}
