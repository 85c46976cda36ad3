use super::*;

const APRIL_FIRST: CalendarDate = CalendarDate {
    year: 2027,
    month: 4,
    day: 1,
};
const ENROL_LINK: &str = "https://app.example.com/_sekisho/enroll/start";

const ALL: [Notice<'static>; 13] = [
    Notice::RecoveryRequested {
        reference: "RR-abc",
        status_link: "https://app.example.com/_sekisho/mfa/lost/status",
        help_link: "https://app.example.com/_sekisho/help#lost-device",
    },
    Notice::ReenrolLink {
        link: "https://example.com/_sekisho/reenrol?token=abc",
        valid_until: "2027-01-15 09:30 UTC",
        request_id: "RR-1",
    },
    Notice::SignInCode {
        code: "482913",
        valid_minutes: 10,
    },
    Notice::MfaEnabled {
        method: MfaMethodName::Totp,
    },
    Notice::MfaDisabled {
        method: MfaMethodName::Sms,
    },
    Notice::BackupCodeUsed { remaining: 2 },
    Notice::BackupCodesRegenerated,
    Notice::TrustedBrowsersRevoked,
    Notice::EnrolmentReminder {
        date: APRIL_FIRST,
        days_left: 7,
        link: ENROL_LINK,
    },
    Notice::AccountLocked { minutes: 1 },
    Notice::PasswordResetLink {
        link: "https://app.example.com/_sekisho/password/reset?token=abc",
        valid_minutes: 30,
    },
    Notice::PasswordChanged,
    NEW_BROWSER,
];

const NEW_BROWSER: Notice<'static> = Notice::NewSignIn {
    when: "2027-01-15 09:30 UTC",
    browser: "Chrome on Linux",
    ip: "203.0.113.5",
    browser_is_new: true,
    network_is_new: false,
    settings_link: "https://app.example.com/_sekisho/settings",
    help_link: "https://app.example.com/_sekisho/help#unexpected-prompt",
};

#[test]
fn sign_in_code_english() {
    let notice = Notice::SignInCode {
        code: "482913",
        valid_minutes: 10,
    };
    let mail = render_email(&notice, Lang::En, "Acme SSO", "Ada Lovelace");
    assert_eq!(mail.subject, "[Acme SSO] Your sign-in code");
    assert!(
        mail.body.starts_with("Hello Ada Lovelace,\n"),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("\n    482913\n"),
        "code on its own line: {}",
        mail.body
    );
    assert!(mail.body.contains("valid for 10 minutes"), "{}", mail.body);
    assert!(
        mail.body.contains("contact your administrator"),
        "{}",
        mail.body
    );
    let one = render_email(
        &Notice::SignInCode {
            code: "1",
            valid_minutes: 1,
        },
        Lang::En,
        "S",
        "",
    );
    assert!(one.body.contains("valid for 1 minute."), "{}", one.body);
    assert!(one.body.starts_with("Hello,\n"));
}

#[test]
fn sign_in_code_japanese() {
    let notice = Notice::SignInCode {
        code: "482913",
        valid_minutes: 10,
    };
    let mail = render_email(&notice, Lang::Ja, "関所", "山田 太郎");
    assert_eq!(mail.subject, "【関所】サインイン確認コード");
    assert!(mail.body.starts_with("山田 太郎 様\n"), "{}", mail.body);
    assert!(mail.body.contains("\n    482913\n"), "{}", mail.body);
    assert!(mail.body.contains("有効期限は 10 分です"), "{}", mail.body);
    assert!(
        mail.body.contains("管理者にご連絡ください"),
        "{}",
        mail.body
    );
    assert!(!mail.body.is_ascii());
}

#[test]
fn every_notice_renders_in_both_languages() {
    for notice in ALL {
        for lang in Lang::ALL {
            let mail = render_email(&notice, lang, "Sekisho", "N");
            assert!(mail.subject.contains("Sekisho"), "{notice:?} {lang:?}");
            assert!(mail.body.ends_with('\n'));
            // The "not you?" advice is in every message.
            let advice = match lang {
                Lang::En => "administrator",
                Lang::Ja => "管理者",
            };
            assert!(
                mail.body.contains(advice),
                "{notice:?} {lang:?}: {}",
                mail.body
            );
            if lang == Lang::Ja {
                // Polite form throughout: every sentence ends in です / ます / ください.
                for sentence in mail.body.split('。').filter(|s| !s.trim().is_empty()) {
                    let s = sentence.trim_end();
                    if s.ends_with('\n') || s.contains("    ") || s.contains("-- ") {
                        continue;
                    }
                    assert!(
                        s.ends_with("です")
                            || s.ends_with("ます")
                            || s.ends_with("ください")
                            || s.ends_with("ません")
                            || s.ends_with("ました"),
                        "not polite: {s:?}"
                    );
                }
            }
            let sms = render_sms(&notice, lang, "Sekisho");
            assert!(!sms.contains('\n'), "{sms}");
            assert!(sms.chars().count() <= 120, "short: {sms}");
        }
    }
}

#[test]
fn sms_puts_the_code_first() {
    let notice = Notice::SignInCode {
        code: "482913",
        valid_minutes: 5,
    };
    let en = render_sms(&notice, Lang::En, "Sekisho");
    assert!(en.starts_with("482913 "), "{en}");
    assert!(en.contains("5 minutes"), "{en}");
    let ja = render_sms(&notice, Lang::Ja, "Sekisho");
    assert!(ja.starts_with("482913 "), "{ja}");
    assert!(ja.contains("5 分"), "{ja}");
}

#[test]
fn security_notices_name_the_method_in_the_language() {
    let added = Notice::MfaEnabled {
        method: MfaMethodName::BackupCodes,
    };
    assert!(render_email(&added, Lang::En, "S", "")
        .body
        .contains("second sign-in step was added to your account: backup codes."));
    assert!(render_email(&added, Lang::Ja, "S", "")
        .body
        .contains("「バックアップコード」が追加されました"));
    let few = render_email(&Notice::BackupCodeUsed { remaining: 1 }, Lang::En, "S", "");
    assert!(
        few.body.contains("You have 1 backup code left"),
        "{}",
        few.body
    );
    assert!(few.body.contains("create new backup codes"), "{}", few.body);
    let many = render_email(&Notice::BackupCodeUsed { remaining: 8 }, Lang::Ja, "S", "");
    assert!(
        many.body.contains("残りのバックアップコードは 8 個です"),
        "{}",
        many.body
    );
    assert!(!many.body.contains("少なくなっています"), "{}", many.body);
    assert_eq!(
        Notice::BackupCodesRegenerated.kind(),
        "backup_codes_regenerated"
    );
}

#[test]
fn enrolment_reminder_english() {
    let notice = Notice::EnrolmentReminder {
        date: APRIL_FIRST,
        days_left: 7,
        link: ENROL_LINK,
    };
    let mail = render_email(&notice, Lang::En, "Acme SSO", "Ada Lovelace");
    assert_eq!(
        mail.subject,
        "[Acme SSO] Two-step verification becomes mandatory on 2027-04-01 — 7 days left"
    );
    assert!(
        mail.body.starts_with("Hello Ada Lovelace,\n"),
        "{}",
        mail.body
    );
    assert!(
        mail.body
            .contains("from 2027-04-01. You have 7 days left to set it up."),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains(&format!("\n    {ENROL_LINK}\n")),
        "link on its own line: {}",
        mail.body
    );
    assert!(
        !mail.body.contains("wasn't you"),
        "a reminder is not a security alert: {}",
        mail.body
    );
    let last_day = Notice::EnrolmentReminder {
        date: APRIL_FIRST,
        days_left: 1,
        link: ENROL_LINK,
    };
    let mail = render_email(&last_day, Lang::En, "S", "");
    assert!(mail.subject.ends_with("— 1 day left"), "{}", mail.subject);
    assert!(mail.body.contains("You have 1 day left"), "{}", mail.body);
    let sms = render_sms(&last_day, Lang::En, "S");
    assert_eq!(
        sms,
        "S: Two-step verification becomes mandatory on 2027-04-01 — 1 day left. Set it up at your next sign-in."
    );
    assert_eq!(notice.kind(), "enrolment_reminder");
}

#[test]
fn enrolment_reminder_japanese() {
    let notice = Notice::EnrolmentReminder {
        date: APRIL_FIRST,
        days_left: 30,
        link: ENROL_LINK,
    };
    let mail = render_email(&notice, Lang::Ja, "関所", "山田 太郎");
    assert_eq!(
        mail.subject,
        "【関所】2027年4月1日から2段階認証が必須になります（残り 30 日）"
    );
    assert!(mail.body.starts_with("山田 太郎 様\n"), "{}", mail.body);
    assert!(mail.body.contains("残り 30 日です"), "{}", mail.body);
    assert!(
        mail.body.contains(&format!("\n    {ENROL_LINK}\n")),
        "{}",
        mail.body
    );
    assert!(!mail.body.contains(JA_NOT_YOU), "{}", mail.body);
    let sms = render_sms(&notice, Lang::Ja, "関所");
    assert!(sms.starts_with("関所: 2027年4月1日から"), "{sms}");
    assert_eq!(
        CalendarDate {
            year: 2027,
            month: 12,
            day: 9
        }
        .format(Lang::En),
        "2027-12-09"
    );
}

#[test]
fn account_locked_says_how_long_in_both_languages() {
    let en = render_email(
        &Notice::AccountLocked { minutes: 4 },
        Lang::En,
        "Sekisho",
        "",
    );
    assert_eq!(en.subject, "[Sekisho] Sign-in paused after failed attempts");
    assert!(en.body.contains("paused for 4 minutes"), "{}", en.body);
    assert!(en.body.contains("change your password"), "{}", en.body);
    let one = render_email(
        &Notice::AccountLocked { minutes: 1 },
        Lang::En,
        "Sekisho",
        "",
    );
    assert!(one.body.contains("paused for 1 minute."), "{}", one.body);
    let ja = render_email(
        &Notice::AccountLocked { minutes: 60 },
        Lang::Ja,
        "関所",
        "山田 太郎",
    );
    assert_eq!(ja.subject, "【関所】サインインが一時的に停止されました");
    assert!(ja.body.contains("60 分間停止"), "{}", ja.body);
}

#[test]
fn password_reset_link_carries_the_link_and_its_lifetime() {
    let link = "https://app.example.com/_sekisho/password/reset?token=abc";
    let notice = Notice::PasswordResetLink {
        link,
        valid_minutes: 30,
    };
    let en = render_email(&notice, Lang::En, "Sekisho", "Kim");
    assert_eq!(en.subject, "[Sekisho] Reset your password");
    assert!(en.body.contains(&format!("\n    {link}\n")), "{}", en.body);
    assert!(
        en.body.contains("works once, for 30 minutes"),
        "{}",
        en.body
    );
    let ja = render_email(&notice, Lang::Ja, "関所", "");
    assert_eq!(ja.subject, "【関所】パスワードの再設定");
    assert!(ja.body.contains("30 分間、1回だけ"), "{}", ja.body);
    let changed = render_email(&Notice::PasswordChanged, Lang::En, "Sekisho", "");
    assert!(changed.body.contains(EN_NOT_YOU), "{}", changed.body);
}

#[test]
fn new_sign_in_says_what_where_and_what_to_do() {
    let mail = render_email(&NEW_BROWSER, Lang::En, "Acme SSO", "Ada");
    assert_eq!(mail.subject, "[Acme SSO] New sign-in to your account");
    let b = &mail.body;
    assert!(b.contains("signed in to from a new browser."), "{b}");
    assert!(b.contains("\n    When: 2027-01-15 09:30 UTC\n    Browser: Chrome on Linux\n    IP address: 203.0.113.5\n"), "{b}");
    assert!(
        b.contains("\n    https://app.example.com/_sekisho/settings\n"),
        "settings link on its own line: {b}"
    );
    assert!(
        b.contains("\n    https://app.example.com/_sekisho/help#unexpected-prompt\n"),
        "{b}"
    );
    assert!(b.contains("change your password"), "{b}");
    assert_eq!(NEW_BROWSER.kind(), "new_sign_in");

    let network = |browser_is_new| Notice::NewSignIn {
        when: "2027-01-15 09:30 UTC",
        browser: "Chrome on Linux",
        ip: "203.0.113.5",
        browser_is_new,
        network_is_new: true,
        settings_link: "https://app.example.com/_sekisho/settings",
        help_link: "https://app.example.com/_sekisho/help#unexpected-prompt",
    };
    let only_network = render_email(&network(false), Lang::En, "S", "").body;
    assert!(
        only_network.contains("from a new network."),
        "{only_network}"
    );
    let both = render_email(&network(true), Lang::En, "S", "").body;
    assert!(
        both.contains("from a new browser and a new network."),
        "{both}"
    );

    let ja = render_email(&network(false), Lang::Ja, "関所", "山田 太郎");
    assert_eq!(
        ja.subject,
        "【関所】アカウントへの新しいサインインがありました"
    );
    assert!(
        ja.body
            .contains("新しいネットワークからサインインがありました"),
        "{}",
        ja.body
    );
    assert!(
        ja.body
            .contains("    ブラウザー: Chrome on Linux\n    IP アドレス: 203.0.113.5"),
        "{}",
        ja.body
    );
    assert!(ja.body.contains("パスワードを変更"), "{}", ja.body);
    assert!(ja.body.contains("help#unexpected-prompt\n"), "{}", ja.body);
    let ja_browser = render_email(&NEW_BROWSER, Lang::Ja, "関所", "").body;
    assert!(
        ja_browser.contains("新しいブラウザーからサインイン"),
        "{ja_browser}"
    );
}
