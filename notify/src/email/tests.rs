use super::*;
use sekisho_config::Lang;

fn channel(dir: &Path) -> EmailChannel {
    EmailChannel::new(&EmailSettings {
        transport: EmailTransport::Folder {
            path: dir.join("mail"),
        },
        from: "Sekisho <no-reply@sekisho.example>".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
    .unwrap()
}

const CODE: Notice<'static> = Notice::SignInCode {
    code: "482913",
    valid_minutes: 10,
};

#[test]
fn messages_carry_proper_headers() {
    let dir = tempfile::tempdir().unwrap();
    let to = Recipient {
        email: "taro@example.jp",
        display_name: "山田 太郎",
        lang: Lang::Ja,
    };
    let raw = channel(dir.path())
        .message(&to, &CODE, "関所")
        .unwrap()
        .formatted();
    let text = String::from_utf8(raw.clone()).unwrap();
    let head = &text[..text.find("\r\n\r\n").unwrap()];
    assert!(head.is_ascii(), "headers are encoded: {head}");
    let mail = mailparse::parse_mail(&raw).unwrap();
    let header = |name: &str| {
        mail.headers
            .iter()
            .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
    };
    assert_eq!(header("Subject").unwrap(), "【関所】サインイン確認コード");
    assert_eq!(
        header("From").unwrap(),
        "Sekisho <no-reply@sekisho.example>"
    );
    let to_header = header("To").unwrap();
    assert!(
        to_header.contains("山田 太郎") && to_header.contains("<taro@example.jp>"),
        "{to_header}"
    );
    assert!(header("Date").is_some());
    let id = header("Message-ID").unwrap();
    assert!(
        id.starts_with('<') && id.ends_with("@sekisho.example>"),
        "{id}"
    );
    assert_eq!(mail.ctype.mimetype, "text/plain");
    assert_eq!(mail.ctype.charset, "utf-8");
    assert_eq!(header("Content-Language").unwrap(), "ja");
    assert_eq!(header("Auto-Submitted").unwrap(), "auto-generated");
    let body = mail.get_body().unwrap();
    assert!(body.contains("482913"), "{body}");
    assert!(body.starts_with("山田 太郎 様"), "{body}");
}

#[test]
fn display_names_cannot_inject_headers() {
    let dir = tempfile::tempdir().unwrap();
    let to = Recipient {
        email: "a@example.com",
        display_name: "Eve\r\nBcc: victim@example.com",
        lang: Lang::En,
    };
    let raw = channel(dir.path())
        .message(&to, &CODE, "S")
        .unwrap()
        .formatted();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert!(mail
        .headers
        .iter()
        .all(|h| !h.get_key_ref().eq_ignore_ascii_case("Bcc")));
}

#[test]
fn bad_recipients_and_senders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = channel(dir.path());
    for bad in ["", "no-at-sign", "a@", "a b@example.com", "<a@example.com>"] {
        let to = Recipient {
            email: bad,
            display_name: "",
            lang: Lang::En,
        };
        assert!(
            matches!(
                c.message(&to, &CODE, "S"),
                Err(NotifyError::InvalidRecipient)
            ),
            "{bad}"
        );
    }
    let off = EmailSettings {
        transport: EmailTransport::Off,
        from: "x@y".into(),
        timeout: Duration::from_secs(1),
    };
    assert!(EmailChannel::new(&off).unwrap().is_none());
    let bad_from = EmailSettings {
        transport: EmailTransport::Folder {
            path: dir.path().join("m2"),
        },
        from: "not a mailbox".into(),
        timeout: Duration::from_secs(1),
    };
    assert!(matches!(
        EmailChannel::new(&bad_from),
        Err(NotifyError::Transport(_))
    ));
}

#[test]
fn mail_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let c = channel(dir.path());
    assert_eq!(c.kind(), "folder");
    let mode = std::fs::metadata(dir.path().join("mail"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}
