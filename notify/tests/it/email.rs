use crate::email_only;
use sekisho_config::{
    EmailSettings, EmailTransport, Lang, SecretString, SmtpSecurity, SmtpSettings,
};
use sekisho_notify::{CalendarDate, MfaMethodName, Notice, NotifyCounts, NotifyError, Recipient};
use sekisho_testkit::SmtpSink;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn smtp(port: u16, security: SmtpSecurity) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security,
        username: None,
        password: None,
        accept_invalid_certs: true,
    }
}

fn via(smtp: SmtpSettings) -> EmailSettings {
    EmailSettings {
        transport: EmailTransport::Smtp(smtp),
        from: "Sekisho <no-reply@sekisho.test>".into(),
        timeout: Duration::from_secs(5),
    }
}

fn code(code: &str) -> Notice<'_> {
    Notice::SignInCode {
        code,
        valid_minutes: 10,
    }
}

const ADA: Recipient<'static> = Recipient {
    email: "ada@example.com",
    display_name: "Ada Lovelace",
    lang: Lang::En,
};

const TARO: Recipient<'static> = Recipient {
    email: "taro@example.jp",
    display_name: "山田 太郎",
    lang: Lang::Ja,
};

#[tokio::test]
async fn plain_smtp_delivers_english_and_japanese() {
    let sink = SmtpSink::start();
    let notifier = email_only(via(smtp(sink.port(), SmtpSecurity::Plain)));
    assert!(notifier.email_enabled() && !notifier.sms_enabled());
    notifier.send_email(&ADA, &code("481516")).await.unwrap();
    notifier.send_email(&TARO, &code("234200")).await.unwrap();

    let mails = sink.wait_for(2, WAIT);
    let en = mails.iter().find(|m| m.to == ["ada@example.com"]).unwrap();
    assert_eq!(en.from, "no-reply@sekisho.test");
    assert_eq!(en.subject(), "[Sekisho] Your sign-in code");
    assert!(en.text().contains("481516"), "{}", en.text());
    assert!(en.text().contains("valid for 10 minutes"), "{}", en.text());
    assert!(en.header("To").unwrap().contains("Ada Lovelace"));
    assert!(!en.tls);

    let ja = mails.iter().find(|m| m.to == ["taro@example.jp"]).unwrap();
    assert_eq!(ja.subject(), "【Sekisho】サインイン確認コード");
    assert!(ja.text().contains("234200"), "{}", ja.text());
    assert!(ja.text().contains("山田 太郎 様"), "{}", ja.text());
    assert!(ja.text().contains("有効期限は 10 分です"), "{}", ja.text());
    assert_eq!(
        notifier.counts(),
        NotifyCounts {
            email_sent: 2,
            ..NotifyCounts::default()
        }
    );
}

#[tokio::test]
async fn starttls_delivery_and_security_notice() {
    let sink = SmtpSink::start_starttls();
    let notifier = email_only(via(smtp(sink.port(), SmtpSecurity::Starttls)));
    let notice = Notice::MfaEnabled {
        method: MfaMethodName::Totp,
    };
    notifier.send_email(&ADA, &notice).await.unwrap();
    let mail = &sink.wait_for(1, WAIT)[0];
    assert!(mail.tls, "the message went over STARTTLS");
    assert_eq!(mail.subject(), "[Sekisho] A sign-in method was added");
    assert!(
        mail.text().contains("authenticator app (TOTP)"),
        "{}",
        mail.text()
    );
}

#[tokio::test]
async fn starttls_checks_the_certificate_unless_told_not_to() {
    let sink = SmtpSink::start_starttls();
    let mut settings = smtp(sink.port(), SmtpSecurity::Starttls);
    settings.accept_invalid_certs = false;
    let notifier = email_only(via(settings));
    let err = notifier.send_email(&ADA, &code("1")).await.unwrap_err();
    assert!(matches!(err, NotifyError::Transport(_)), "{err:?}");
    assert!(sink.messages().is_empty());
    assert_eq!(notifier.counts().email_failed, 1);
}

#[tokio::test]
async fn starttls_is_required_not_optional() {
    // A server that does not offer STARTTLS must not get the message in the clear.
    let sink = SmtpSink::start();
    let notifier = email_only(via(smtp(sink.port(), SmtpSecurity::Starttls)));
    assert!(notifier.send_email(&ADA, &code("1")).await.is_err());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_delivery() {
    let sink = SmtpSink::builder().implicit_tls().start();
    let notifier = email_only(via(smtp(sink.port(), SmtpSecurity::Tls)));
    notifier.send_email(&TARO, &code("777000")).await.unwrap();
    let mail = &sink.wait_for(1, WAIT)[0];
    assert!(mail.tls);
    assert!(mail.text().contains("777000"));
}

#[tokio::test]
async fn authenticates_after_starttls() {
    let sink = SmtpSink::builder()
        .starttls()
        .auth("sekisho", "s3cret")
        .start();
    let mut settings = smtp(sink.port(), SmtpSecurity::Starttls);
    settings.username = Some("sekisho".into());
    settings.password = Some(SecretString::new("s3cret".into()));
    let notifier = email_only(via(settings.clone()));
    notifier
        .send_email(&ADA, &Notice::BackupCodeUsed { remaining: 2 })
        .await
        .unwrap();
    let mail = &sink.wait_for(1, WAIT)[0];
    assert_eq!(mail.authenticated_as.as_deref(), Some("sekisho"));
    assert!(mail.tls);

    settings.password = Some(SecretString::new("wrong-password".into()));
    let wrong = email_only(via(settings));
    let err = wrong.send_email(&ADA, &code("1")).await.unwrap_err();
    assert!(
        matches!(&err, NotifyError::Rejected(s) if s == "SMTP 535"),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains("wrong-password"));
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn closed_port_fails_quickly() {
    let port = sekisho_testkit::free_port();
    let notifier = email_only(via(smtp(port, SmtpSecurity::Plain)));
    let started = Instant::now();
    let err = notifier.send_email(&ADA, &code("1")).await.unwrap_err();
    assert!(matches!(err, NotifyError::Transport(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(notifier.counts().email_failed, 1);
}

#[tokio::test]
async fn silent_server_times_out_within_the_bound() {
    // Accepts connections and never says a word, not even the greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut settings = via(smtp(port, SmtpSecurity::Plain));
    settings.timeout = Duration::from_millis(800);
    let notifier = email_only(settings);
    let started = Instant::now();
    let err = notifier.send_email(&ADA, &code("1")).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, NotifyError::Timeout), "{err:?}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(notifier.counts().email_failed, 1);
    holder.abort();
}

#[tokio::test]
async fn folder_transport_writes_parseable_eml_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("outbox/mail");
    let notifier = email_only(EmailSettings {
        transport: EmailTransport::Folder {
            path: folder.clone(),
        },
        from: "Sekisho <no-reply@localhost>".into(),
        timeout: Duration::from_secs(5),
    });
    notifier.send_email(&TARO, &code("909090")).await.unwrap();
    notifier
        .send_email(&ADA, &Notice::TrustedBrowsersRevoked)
        .await
        .unwrap();
    // The rollout reminder goes through the same folder in the demo.
    let link = "http://127.0.0.1:8080/_sekisho/enroll/start";
    let reminder = Notice::EnrolmentReminder {
        date: CalendarDate {
            year: 2027,
            month: 4,
            day: 1,
        },
        days_left: 7,
        link,
    };
    notifier.send_email(&TARO, &reminder).await.unwrap();

    let names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "no temporary files left: {names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "{names:?}"
    );
    let mut subjects = Vec::new();
    for name in &names {
        let path = folder.join(name);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let raw = std::fs::read(&path).unwrap();
        let mail = mailparse::parse_mail(&raw).unwrap();
        let subject = mail
            .headers
            .iter()
            .find(|h| h.get_key_ref() == "Subject")
            .unwrap()
            .get_value();
        if subject.contains("サインイン") {
            assert!(mail.get_body().unwrap().contains("909090"));
        }
        if subject.contains("2段階認証") {
            assert!(mail.get_body().unwrap().contains(link));
        }
        subjects.push(subject);
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[Sekisho] Remembered browsers were forgotten",
            "【Sekisho】2027年4月1日から2段階認証が必須になります（残り 7 日）",
            "【Sekisho】サインイン確認コード",
        ]
    );
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(notifier.counts().email_sent, 3);
}

#[tokio::test]
async fn off_means_disabled_and_uncounted() {
    let notifier = email_only(EmailSettings {
        transport: EmailTransport::Off,
        from: "x@localhost".into(),
        timeout: Duration::from_secs(1),
    });
    assert!(!notifier.email_enabled());
    let err = notifier.send_email(&ADA, &code("1")).await.unwrap_err();
    assert!(matches!(err, NotifyError::Disabled));
    assert_eq!(notifier.counts(), NotifyCounts::default());
}

#[tokio::test]
async fn invalid_recipient_is_refused_before_connecting() {
    let sink = SmtpSink::start();
    let notifier = email_only(via(smtp(sink.port(), SmtpSecurity::Plain)));
    let to = Recipient {
        email: "not-an-address",
        ..ADA
    };
    let err = notifier.send_email(&to, &code("1")).await.unwrap_err();
    assert!(matches!(err, NotifyError::InvalidRecipient));
    assert_eq!(notifier.counts().email_failed, 1);
    assert!(sink.messages().is_empty());
}
