//! What is sent, and its words in each language: subject and plain-text body for
//! e-mail, one short line for SMS.
use sekisho_config::Lang;
use std::borrow::Cow;

/// A message to one user. New kinds may be added, so match with a wildcard.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// The one-time sign-in code.
    SignInCode {
        code: &'a str,
        valid_minutes: u32,
    },
    /// Security notice: an MFA method was added to the account.
    MfaEnabled {
        method: MfaMethodName,
    },
    /// Security notice: an MFA method was removed.
    MfaDisabled {
        method: MfaMethodName,
    },
    /// Security notice: a backup code was spent.
    BackupCodeUsed {
        remaining: usize,
    },
    BackupCodesRegenerated,
    TrustedBrowsersRevoked,
    /// Rollout reminder: two-step verification becomes mandatory on `date`; `link`
    /// starts the enrolment wizard.
    EnrolmentReminder {
        date: CalendarDate,
        /// Whole days until the deadline, at least 1.
        days_left: u32,
        link: &'a str,
    },
    /// "Forgot your password?": the single-use link to set a new one.
    PasswordResetLink {
        link: &'a str,
        valid_minutes: u32,
    },
    /// Security notice: the password was changed (by the user through a reset link).
    PasswordChanged,
    /// An administrator reset the user's two-step verification: the single-use link
    /// to set it up again, and until when it works.
    ReenrolLink {
        link: &'a str,
        /// e.g. `2027-01-15 09:30 UTC`.
        valid_until: &'a str,
        /// The reset request's id, to quote to the helpdesk.
        request_id: &'a str,
    },
    /// The user asked for their two-step verification to be reset ("I can't use any
    /// of my methods"): the reference to quote and where to follow the request.
    RecoveryRequested {
        /// The reset request's id.
        reference: &'a str,
        /// The request status page, absolute.
        status_link: &'a str,
        /// The help entry on unexpected prompts, absolute.
        help_link: &'a str,
    },
    /// Security notice: too many failed sign-ins locked the account for a while.
    AccountLocked {
        /// Whole minutes until sign-in works again, at least 1.
        minutes: u32,
    },
    /// Security notice: a completed sign-in from a browser or a network the account
    /// had not used lately (at least one of the two flags is set).
    NewSignIn {
        /// When, as shown, e.g. `2027-01-15 09:30 UTC`.
        when: &'a str,
        /// A browser summary such as `Chrome on Linux`.
        browser: &'a str,
        ip: &'a str,
        browser_is_new: bool,
        network_is_new: bool,
        /// The security settings page (recent sign-ins, sessions), absolute.
        settings_link: &'a str,
        /// The help entry on unexpected sign-ins, absolute.
        help_link: &'a str,
    },
}

/// A day as the operator wrote it (the deadline's own offset), shown per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl CalendarDate {
    /// `2027-04-01` in English, `2027年4月1日` in Japanese.
    pub fn format(self, lang: Lang) -> String {
        match lang {
            Lang::En => format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
            Lang::Ja => format!("{}年{}月{}日", self.year, self.month, self.day),
        }
    }
}

impl Notice<'_> {
    /// A stable name for logs and metrics; never the content.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::SignInCode { .. } => "sign_in_code",
            Notice::MfaEnabled { .. } => "mfa_enabled",
            Notice::MfaDisabled { .. } => "mfa_disabled",
            Notice::BackupCodeUsed { .. } => "backup_code_used",
            Notice::BackupCodesRegenerated => "backup_codes_regenerated",
            Notice::TrustedBrowsersRevoked => "trusted_browsers_revoked",
            Notice::EnrolmentReminder { .. } => "enrolment_reminder",
            Notice::AccountLocked { .. } => "account_locked",
            Notice::PasswordResetLink { .. } => "password_reset_link",
            Notice::PasswordChanged => "password_changed",
            Notice::ReenrolLink { .. } => "reenrol_link",
            Notice::NewSignIn { .. } => "new_sign_in",
            Notice::RecoveryRequested { .. } => "recovery_requested",
        }
    }
}

/// An MFA method, named in the message language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethodName {
    Totp,
    Email,
    Sms,
    BackupCodes,
}

impl MfaMethodName {
    pub fn label(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, MfaMethodName::Totp) => "authenticator app (TOTP)",
            (Lang::En, MfaMethodName::Email) => "codes by e-mail",
            (Lang::En, MfaMethodName::Sms) => "codes by SMS",
            (Lang::En, MfaMethodName::BackupCodes) => "backup codes",
            (Lang::Ja, MfaMethodName::Totp) => "認証アプリ (TOTP)",
            (Lang::Ja, MfaMethodName::Email) => "メールによる確認コード",
            (Lang::Ja, MfaMethodName::Sms) => "SMS による確認コード",
            (Lang::Ja, MfaMethodName::BackupCodes) => "バックアップコード",
        }
    }
}

/// Backup codes at or below this count get a "make new ones" hint.
const FEW_BACKUP_CODES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    /// Plain text, `\n` line ends (the mailer turns them into CRLF).
    pub body: String,
}

/// Subject and body of an e-mail. `name` is the recipient's display name (may be empty).
pub fn render_email(notice: &Notice<'_>, lang: Lang, brand: &str, name: &str) -> RenderedEmail {
    let headline = headline(notice, lang);
    let (subject, paragraphs) = match lang {
        Lang::En => (format!("[{brand}] {headline}"), english(notice, brand)),
        Lang::Ja => (format!("【{brand}】{headline}"), japanese(notice, brand)),
    };
    let greeting = match (lang, name.is_empty()) {
        (Lang::En, false) => format!("Hello {name},"),
        (Lang::En, true) => "Hello,".to_string(),
        (Lang::Ja, false) => format!("{name} 様"),
        (Lang::Ja, true) => "ご利用者様".to_string(),
    };
    let footer = match lang {
        Lang::En => format!("This message was sent automatically by {brand}. Please do not reply."),
        Lang::Ja => format!("このメールは {brand} から自動送信されています。返信はできません。"),
    };
    let mut body = greeting;
    for paragraph in paragraphs {
        body.push_str("\n\n");
        body.push_str(&paragraph);
    }
    body.push_str("\n\n-- \n");
    body.push_str(&footer);
    body.push('\n');
    RenderedEmail { subject, body }
}

/// One line, the code first so it shows in a phone's notification preview.
pub fn render_sms(notice: &Notice<'_>, lang: Lang, brand: &str) -> String {
    match (lang, notice) {
        (Lang::En, Notice::SignInCode { code, valid_minutes }) => format!(
            "{code} is your {brand} sign-in code. Valid for {}. Do not share it.",
            en_minutes(*valid_minutes)
        ),
        (Lang::Ja, Notice::SignInCode { code, valid_minutes }) => format!(
            "{code} は {brand} のサインイン確認コードです。有効期限は {valid_minutes} 分です。誰にも教えないでください。"
        ),
        // Not a security alert: no "not you?" advice.
        (Lang::En, Notice::EnrolmentReminder { .. }) => format!(
            "{brand}: {}. Set it up at your next sign-in.",
            headline(notice, lang)
        ),
        (Lang::Ja, Notice::EnrolmentReminder { .. }) => format!(
            "{brand}: {}。次回のサインイン時に設定してください。",
            headline(notice, lang)
        ),
        (Lang::En, other) => format!(
            "{brand}: {}. Not you? Contact your administrator.",
            headline(other, lang)
        ),
        (Lang::Ja, other) => format!(
            "{brand}: {}。お心当たりがない場合は管理者にご連絡ください。",
            headline(other, lang)
        ),
    }
}

/// The subject without the brand.
fn headline(notice: &Notice<'_>, lang: Lang) -> Cow<'static, str> {
    Cow::Borrowed(match (lang, notice) {
        (
            _,
            Notice::EnrolmentReminder {
                date, days_left, ..
            },
        ) => {
            let date = date.format(lang);
            return Cow::Owned(match lang {
                Lang::En => format!(
                    "Two-step verification becomes mandatory on {date} — {} left",
                    en_days(*days_left)
                ),
                Lang::Ja => format!("{date}から2段階認証が必須になります（残り {days_left} 日）"),
            });
        }
        (Lang::En, Notice::SignInCode { .. }) => "Your sign-in code",
        (Lang::En, Notice::MfaEnabled { .. }) => "A sign-in method was added",
        (Lang::En, Notice::MfaDisabled { .. }) => "A sign-in method was removed",
        (Lang::En, Notice::BackupCodeUsed { .. }) => "A backup code was used",
        (Lang::En, Notice::BackupCodesRegenerated) => "New backup codes were created",
        (Lang::En, Notice::TrustedBrowsersRevoked) => "Remembered browsers were forgotten",
        (Lang::En, Notice::AccountLocked { .. }) => "Sign-in paused after failed attempts",
        (Lang::En, Notice::PasswordResetLink { .. }) => "Reset your password",
        (Lang::En, Notice::PasswordChanged) => "Your password was changed",
        (Lang::En, Notice::ReenrolLink { .. }) => "Set up two-step verification again",
        (Lang::En, Notice::NewSignIn { .. }) => "New sign-in to your account",
        (Lang::En, Notice::RecoveryRequested { .. }) => "We received your recovery request",
        (Lang::Ja, Notice::SignInCode { .. }) => "サインイン確認コード",
        (Lang::Ja, Notice::MfaEnabled { .. }) => "2段階認証の方法が追加されました",
        (Lang::Ja, Notice::MfaDisabled { .. }) => "2段階認証の方法が削除されました",
        (Lang::Ja, Notice::BackupCodeUsed { .. }) => "バックアップコードが使用されました",
        (Lang::Ja, Notice::BackupCodesRegenerated) => "バックアップコードが再発行されました",
        (Lang::Ja, Notice::TrustedBrowsersRevoked) => "記憶されたブラウザーが解除されました",
        (Lang::Ja, Notice::AccountLocked { .. }) => "サインインが一時的に停止されました",
        (Lang::Ja, Notice::PasswordResetLink { .. }) => "パスワードの再設定",
        (Lang::Ja, Notice::PasswordChanged) => "パスワードが変更されました",
        (Lang::Ja, Notice::ReenrolLink { .. }) => "2段階認証の再設定",
        (Lang::Ja, Notice::NewSignIn { .. }) => "アカウントへの新しいサインインがありました",
        (Lang::Ja, Notice::RecoveryRequested { .. }) => "2段階認証のリセット申請を受け付けました",
    })
}

fn en_minutes(n: u32) -> String {
    if n == 1 {
        "1 minute".to_string()
    } else {
        format!("{n} minutes")
    }
}

fn en_days(n: u32) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

const EN_NOT_YOU: &str =
    "If this wasn't you, change your password and contact your administrator right away.";
const JA_NOT_YOU: &str =
    "お心当たりがない場合は、すぐにパスワードを変更し、管理者にご連絡ください。";

fn english(notice: &Notice<'_>, brand: &str) -> Vec<String> {
    match notice {
        Notice::SignInCode {
            code,
            valid_minutes,
        } => vec![
                format!("Your {brand} sign-in code is:"),
                format!("    {code}"),
                format!(
                    "It is valid for {}. Never share it: nobody from {brand} or your IT team will ask you for it.",
                    en_minutes(*valid_minutes)
                ),
                "If you did not try to sign in, someone may know your password. Change your password and contact your administrator.".to_string(),
        ],
        Notice::MfaEnabled { method } => vec![
                format!(
                    "This second sign-in step was added to your account: {}.",
                    method.label(Lang::En)
                ),
                EN_NOT_YOU.to_string(),
        ],
        Notice::MfaDisabled { method } => vec![
                format!(
                    "This second sign-in step was removed from your account and no longer works: {}.",
                    method.label(Lang::En)
                ),
                EN_NOT_YOU.to_string(),
        ],
        Notice::BackupCodeUsed { remaining } => {
            let mut paragraphs = vec![format!(
                "A backup code was just used to sign in to your account. You have {} left.",
                match remaining {
                    0 => "no backup codes".to_string(),
                    1 => "1 backup code".to_string(),
                    n => format!("{n} backup codes"),
                }
            )];
            if *remaining <= FEW_BACKUP_CODES {
                paragraphs.push(
                    "You are running low: create new backup codes in your account settings."
                        .to_string(),
                );
            }
            paragraphs.push(EN_NOT_YOU.to_string());
            paragraphs
        }
        Notice::BackupCodesRegenerated => vec![
                "New backup codes were created for your account. The old ones no longer work."
                    .to_string(),
                EN_NOT_YOU.to_string(),
        ],
        Notice::TrustedBrowsersRevoked => vec![
                "All browsers remembered for your account were forgotten. Each will ask for the second sign-in step again.".to_string(),
                EN_NOT_YOU.to_string(),
        ],
        Notice::EnrolmentReminder {
            date,
            days_left,
            link,
        } => {
            let date = date.format(Lang::En);
            vec![
                format!(
                    "To protect your account, {brand} will require two-step verification (a second sign-in step, such as an authenticator app) from {date}. You have {} left to set it up.",
                    en_days(*days_left)
                ),
                "Set it up now; it takes about two minutes:".to_string(),
                format!("    {link}"),
                format!("From {date} you will have to set it up before you can continue after signing in."),
                "If you have questions, contact your administrator.".to_string(),
            ]
        }
        Notice::AccountLocked { minutes } => vec![
                format!(
                    "There were too many failed attempts to sign in to your {brand} account, so signing in is paused for {}. After that you can sign in as usual.",
                    en_minutes(*minutes)
                ),
                "If these attempts were yours, wait and try again. If they were not, someone may be guessing your password or codes: change your password after the pause and contact your administrator.".to_string(),
        ],
        Notice::PasswordResetLink { link, valid_minutes } => vec![
                format!("Someone (hopefully you) asked to reset the password of your {brand} account. Open this link to choose a new one:"),
                format!("    {link}"),
                format!(
                    "The link works once, for {}. Your two-step verification stays as it is: you will still need it to sign in.",
                    en_minutes(*valid_minutes)
                ),
                "If you did not ask for this, ignore this message: your password does not change. If such messages keep coming, tell your administrator.".to_string(),
        ],
        Notice::PasswordChanged => vec![
                format!("The password of your {brand} account was just changed with a reset link. You were signed out everywhere, and remembered browsers were forgotten."),
                EN_NOT_YOU.to_string(),
        ],
        Notice::ReenrolLink { link, valid_until, request_id } => vec![
                format!("An administrator reset the two-step verification of your {brand} account (request {request_id}). You were signed out everywhere, and remembered browsers were forgotten."),
                "To set it up again, open this link, enter your password, and add an authenticator app or another method:".to_string(),
                format!("    {link}"),
                format!("The link works once, until {valid_until}. If it has expired, ask your helpdesk for a new one."),
                "If you did not ask for this, tell your administrator at once.".to_string(),
        ],
        Notice::RecoveryRequested { reference, status_link, help_link } => vec![
                format!("We received a request to reset the two-step verification of your {brand} account. Your reference number is {reference}: quote it when you contact the helpdesk."),
                "An administrator will check that the request is yours, usually by contacting you, before anything changes. If it is approved, you will receive a link to set up two-step verification again.".to_string(),
                format!("Follow the request here (you will be asked for your password):\n    {status_link}"),
                format!("If you did not ask for this, someone knows your password: change it now and tell your administrator. More in the help:\n    {help_link}"),
        ],
        Notice::NewSignIn { .. } => new_sign_in(notice, Lang::En, brand),
    }
}

fn japanese(notice: &Notice<'_>, brand: &str) -> Vec<String> {
    match notice {
        Notice::SignInCode {
            code,
            valid_minutes,
        } => vec![
                format!("{brand} のサインイン確認コードをお知らせします。"),
                format!("    {code}"),
                format!(
                    "このコードの有効期限は {valid_minutes} 分です。コードは誰にも教えないでください。{brand} や情報システム部門の担当者がコードをお尋ねすることはありません。"
                ),
                "サインインした覚えがない場合は、第三者があなたのパスワードを知っている可能性があります。パスワードを変更し、管理者にご連絡ください。".to_string(),
        ],
        Notice::MfaEnabled { method } => vec![
                format!(
                    "お使いのアカウントに、サインイン時の2段階認証の方法として「{}」が追加されました。",
                    method.label(Lang::Ja)
                ),
                JA_NOT_YOU.to_string(),
        ],
        Notice::MfaDisabled { method } => vec![
                format!(
                    "お使いのアカウントから「{}」が削除されました。今後この方法ではサインインできません。",
                    method.label(Lang::Ja)
                ),
                JA_NOT_YOU.to_string(),
        ],
        Notice::BackupCodeUsed { remaining } => {
            let mut paragraphs = vec![format!(
                "お使いのアカウントへのサインインにバックアップコードが使用されました。残りのバックアップコードは {remaining} 個です。"
            )];
            if *remaining <= FEW_BACKUP_CODES {
                paragraphs.push(
                    "残りが少なくなっています。アカウント設定で新しいバックアップコードを作成してください。"
                        .to_string(),
                );
            }
            paragraphs.push(JA_NOT_YOU.to_string());
            paragraphs
        }
        Notice::BackupCodesRegenerated => vec![
                "お使いのアカウントのバックアップコードが新しく発行されました。以前のコードは使用できなくなりました。".to_string(),
                JA_NOT_YOU.to_string(),
        ],
        Notice::TrustedBrowsersRevoked => vec![
                "お使いのアカウントで記憶されていたブラウザーがすべて解除されました。次回のサインインでは、どのブラウザーでも2段階認証が必要になります。".to_string(),
                JA_NOT_YOU.to_string(),
        ],
        Notice::EnrolmentReminder {
            date,
            days_left,
            link,
        } => {
            let date = date.format(Lang::Ja);
            vec![
                format!(
                    "アカウントを保護するため、{date}から {brand} へのサインインに2段階認証（認証アプリなどによる確認）が必須になります。設定の期限まで残り {days_left} 日です。"
                ),
                "2分ほどで完了します。次のリンクから、今すぐ設定してください。".to_string(),
                format!("    {link}"),
                format!("{date}以降は、サインイン後に2段階認証を設定するまで先に進めなくなります。"),
                "ご不明な点は管理者にお問い合わせください。".to_string(),
            ]
        }
        Notice::AccountLocked { minutes } => vec![
                format!(
                    "{brand} のアカウントへのサインインに続けて失敗したため、サインインを {minutes} 分間停止しています。時間が経てば通常どおりサインインできます。"
                ),
                "ご自身の操作であれば、しばらく待ってからもう一度お試しください。お心当たりがない場合は、第三者がパスワードやコードを推測している可能性があります。停止が解除された後にパスワードを変更し、管理者にご連絡ください。".to_string(),
        ],
        Notice::PasswordResetLink { link, valid_minutes } => vec![
                format!("{brand} のアカウントのパスワード再設定が申請されました。次のリンクから新しいパスワードを設定してください。"),
                format!("    {link}"),
                format!("このリンクは {valid_minutes} 分間、1回だけ使えます。2段階認証の設定は変わりません。サインインには引き続き2段階認証が必要です。"),
                "お心当たりがない場合は、このメールを無視してください。パスワードは変更されません。繰り返し届く場合は管理者にご連絡ください。".to_string(),
        ],
        Notice::PasswordChanged => vec![
                format!("{brand} のアカウントのパスワードが、再設定リンクから変更されました。すべての端末からサインアウトし、記憶されたブラウザーも解除しました。"),
                JA_NOT_YOU.to_string(),
        ],
        Notice::ReenrolLink { link, valid_until, request_id } => vec![
                format!("管理者が {brand} のアカウントの2段階認証をリセットしました。申請番号は {request_id} です。すべての端末からサインアウトし、記憶されたブラウザーも解除しました。"),
                "次のリンクを開き、パスワードを入力してから、認証アプリなどの方法をもう一度設定してください。".to_string(),
                format!("    {link}"),
                format!("このリンクは {valid_until} まで、1回だけ使えます。期限が切れた場合は、ヘルプデスクに新しいリンクを依頼してください。"),
                "お心当たりがない場合は、すぐに管理者にご連絡ください。".to_string(),
        ],
        Notice::RecoveryRequested { reference, status_link, help_link } => vec![
                format!("{brand} のアカウントの2段階認証のリセット申請を受け付けました。受付番号は {reference} です。ヘルプデスクにお問い合わせの際は、この番号をお伝えください。"),
                "リセットの前に、管理者がご本人からの申請であることを確認します。通常はご連絡を差し上げます。承認されると、2段階認証を再設定するためのリンクをお送りします。".to_string(),
                format!("申請の状況は次のページで確認できます。パスワードの入力が必要です。\n    {status_link}"),
                format!("お心当たりがない場合は、第三者にパスワードを知られています。すぐにパスワードを変更し、管理者にご連絡ください。詳しくはヘルプをご覧ください。\n    {help_link}"),
        ],
        Notice::NewSignIn { .. } => new_sign_in(notice, Lang::Ja, brand),
    }
}

/// The paragraphs of [`Notice::NewSignIn`]: what was new, the facts, where to check,
/// and what to do if it was not the user.
fn new_sign_in(notice: &Notice<'_>, lang: Lang, brand: &str) -> Vec<String> {
    let Notice::NewSignIn {
        when,
        browser,
        ip,
        browser_is_new,
        network_is_new,
        settings_link,
        help_link,
    } = notice
    else {
        return Vec::new();
    };
    let what = match (lang, browser_is_new, network_is_new) {
        (Lang::En, true, true) => "a new browser and a new network",
        (Lang::En, false, true) => "a new network",
        (Lang::En, _, _) => "a new browser",
        (Lang::Ja, true, true) => "新しいブラウザーと新しいネットワーク",
        (Lang::Ja, false, true) => "新しいネットワーク",
        (Lang::Ja, _, _) => "新しいブラウザー",
    };
    match lang {
        Lang::En => vec![
            format!("Your {brand} account was just signed in to from {what}."),
            format!("    When: {when}\n    Browser: {browser}\n    IP address: {ip}"),
            format!(
                "If this was you, there is nothing to do. Your recent sign-ins and where you're signed in are on your security settings page:\n    {settings_link}"
            ),
            format!("{EN_NOT_YOU} What to do is explained here:\n    {help_link}"),
        ],
        Lang::Ja => vec![
            format!("お使いの {brand} アカウントに、{what}からサインインがありました。"),
            format!("    日時: {when}\n    ブラウザー: {browser}\n    IP アドレス: {ip}"),
            format!(
                "ご自身によるサインインであれば、対応は不要です。最近のサインインとサインイン中のセッションは、セキュリティ設定で確認できます。\n    {settings_link}"
            ),
            format!("{JA_NOT_YOU}対処方法は次のページをご覧ください。\n    {help_link}"),
        ],
    }
}

#[cfg(test)]
mod tests;
