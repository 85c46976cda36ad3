use super::*;
use crate::{load_str, ConfigError, Settings};
use std::collections::HashMap;

fn load(text: &str) -> Settings {
    load_str(text, "t.toml", &HashMap::new()).unwrap()
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_str(text, "t.toml", &env)
}

fn err(text: &str) -> ConfigError {
    load_str(text, "t.toml", &HashMap::new()).expect_err("config should be rejected")
}

const SMS_OK: &str = "[sms]\nenabled = true\nurl = \"https://sms.example.com/send\"\nfields = { to = \"{to}\", text = \"{text}\" }\n";

#[test]
fn defaults_write_mail_to_a_folder_and_leave_sms_off() {
    let s = load("");
    assert!(
        matches!(&s.email.transport, EmailTransport::Folder { path } if path == std::path::Path::new("sekisho-mail"))
    );
    assert_eq!(s.email.from, "Sekisho <no-reply@localhost>");
    assert_eq!(s.email.timeout, Duration::from_secs(10));
    assert!(s.sms.provider.is_none());
}

#[test]
fn full_example_parses() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("smtp");
    std::fs::write(&pw, "s3cret-smtp\n").unwrap();
    let auth = dir.path().join("sms");
    std::fs::write(&auth, "Bearer tok-123\n").unwrap();
    let text = format!(
        r#"
[email]
transport = "smtp"
from = "Sekisho <no-reply@example.com>"
timeout = "5s"
[email.smtp]
host = "smtp.example.com"
security = "tls"
username = "sekisho"
password_file = "{}"
accept_invalid_certs = true
[sms]
enabled = true
url = "https://sms.example.com/send?key=abc"
method = "PUT"
body = "json"
fields = {{ to = "{{to}}", text = "{{text}}", sender = "Sekisho" }}
auth_header = "Authorization"
auth_value_file = "{}"
timeout = "3s"
"#,
        pw.display(),
        auth.display()
    );
    let s = load(&text);
    let EmailTransport::Smtp(smtp) = &s.email.transport else {
        panic!("expected smtp: {:?}", s.email.transport);
    };
    assert_eq!(smtp.host, "smtp.example.com");
    assert_eq!(smtp.port, 465, "port follows security = tls");
    assert_eq!(smtp.security, SmtpSecurity::Tls);
    assert_eq!(smtp.username.as_deref(), Some("sekisho"));
    assert_eq!(smtp.password.as_ref().unwrap().expose(), "s3cret-smtp");
    assert!(smtp.accept_invalid_certs);
    assert_eq!(s.email.timeout, Duration::from_secs(5));

    let sms = s.sms.provider.as_ref().unwrap();
    assert_eq!(sms.method, SmsMethod::Put);
    assert_eq!(sms.body, SmsBody::Json);
    let names: Vec<&str> = sms.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["to", "text", "sender"], "file order is kept");
    let (header, value) = sms.auth.as_ref().unwrap();
    assert_eq!(header, "Authorization");
    assert_eq!(value.expose(), "Bearer tok-123");
    assert_eq!(sms.timeout, Duration::from_secs(3));

    // Neither secret, nor the API key in the URL, shows when settings are printed.
    let printed = format!("{s:?}");
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(!printed.contains("tok-123"), "{printed}");
    assert!(!printed.contains("key=abc"), "{printed}");
    assert!(printed.contains("sms.example.com/send"), "{printed}");
}

#[test]
fn smtp_port_defaults_follow_security() {
    for (security, port) in [("starttls", 587), ("tls", 465), ("plain", 25)] {
        let s = load(&format!(
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx\"\nsecurity = \"{security}\"\n"
        ));
        let EmailTransport::Smtp(smtp) = s.email.transport else {
            panic!("expected smtp");
        };
        assert_eq!(smtp.port, port, "{security}");
    }
    let s =
        load("[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = 2525\n");
    let EmailTransport::Smtp(smtp) = s.email.transport else {
        panic!("expected smtp");
    };
    assert_eq!((smtp.port, smtp.security), (2525, SmtpSecurity::Starttls));
    assert!(smtp.username.is_none() && smtp.password.is_none());
    assert!(matches!(
        load("[email]\ntransport = \"off\"\n").email.transport,
        EmailTransport::Off
    ));
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str)] = &[
        ("[email]\ntransport = \"smtp\"\n", "email.smtp.host"),
        (
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx:25\"\n",
            "email.smtp.host",
        ),
        (
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx\"\nport = 0\n",
            "email.smtp.port",
        ),
        (
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx\"\nusername = \"u\"\n",
            "email.smtp.password_file",
        ),
        (
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n",
            "email.smtp.password_file",
        ),
        ("[email]\nfrom = \"not an address\"\n", "email.from"),
        ("[email]\nfrom = \"Name <a@b\"\n", "email.from"),
        ("[email]\nfolder = \"\"\n", "email.folder"),
        ("[email]\ntimeout = \"0s\"\n", "email.timeout"),
        ("[email]\ntimeout = \"2m\"\n", "email.timeout"),
        ("[sms]\nenabled = true\n", "sms.url"),
        (
            "[sms]\nenabled = true\nurl = \"ftp://x.example/\"\nfields = { to = \"{to}\", text = \"{text}\" }\n",
            "sms.url",
        ),
        (
            "[sms]\nenabled = true\nurl = \"https://u:p@x.example/\"\nfields = { to = \"{to}\", text = \"{text}\" }\n",
            "sms.url",
        ),
        (
            "[sms]\nenabled = true\nurl = \"https://x.example/\"\n",
            "sms.fields",
        ),
        (
            "[sms]\nenabled = true\nurl = \"https://x.example/\"\nfields = { to = \"{to}\", text = \"{code}\" }\n",
            "sms.fields.text",
        ),
        (
            "[sms]\nenabled = true\nurl = \"https://x.example/\"\nfields = { to = \"{to\", text = \"{text}\" }\n",
            "sms.fields.to",
        ),
        (
            "[sms]\nenabled = true\nurl = \"https://x.example/\"\nfields = { to = \"{to}\" }\n",
            "sms.fields",
        ),
        (
            &format!("{SMS_OK}auth_header = \"Authorization\"\n"),
            "sms.auth_header",
        ),
        (&format!("{SMS_OK}timeout = \"61s\"\n"), "sms.timeout"),
    ];
    for (text, key) in cases {
        let e = err(text);
        assert_eq!(e.key, *key, "{text}\n=> {e}");
    }
    // Enum values are checked while parsing, so they also carry the line.
    let e = err("[email]\ntransport = \"pigeon\"\n");
    assert_eq!(e.key, "email.transport", "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    let e = err(&format!("{SMS_OK}method = \"GET\"\n"));
    assert_eq!(e.key, "sms.method", "{e}");
    let e = err("[email.smtp]\nhots = \"mx\"\n");
    assert!(e.message.contains("hots"), "{e}");
}

#[test]
fn disabled_channels_ignore_their_details() {
    // An smtp table kept while trying the folder transport, or a half-written sms table,
    // is fine as long as the channel is not in use.
    let s = load(
        "[email]\ntransport = \"folder\"\n[email.smtp]\nusername = \"u\"\n[sms]\nurl = \"nope\"\n",
    );
    assert!(matches!(s.email.transport, EmailTransport::Folder { .. }));
    assert!(s.sms.provider.is_none());
}

#[test]
fn secrets_come_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, "from-file\n").unwrap();
    let smtp = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mx\"\nusername = \"u\"\npassword_file = \"/nonexistent\"\n";

    let s = load_env(smtp, &[("SEKISHO_SMTP_PASSWORD", "from-env")]).unwrap();
    let EmailTransport::Smtp(t) = &s.email.transport else {
        panic!("expected smtp");
    };
    assert_eq!(t.password.as_ref().unwrap().expose(), "from-env");
    assert!(!format!("{s:?}").contains("from-env"));

    let pw_path = pw_file.display().to_string();
    let s = load_env(smtp, &[("SEKISHO_SMTP_PASSWORD_FILE", &pw_path)]).unwrap();
    let EmailTransport::Smtp(t) = &s.email.transport else {
        panic!("expected smtp");
    };
    assert_eq!(t.password.as_ref().unwrap().expose(), "from-file");

    let e = load_env(smtp, &[("SEKISHO_SMTP_PASSWORD_FILE", "/nonexistent/x")]).unwrap_err();
    assert_eq!(e.key, "SEKISHO_SMTP_PASSWORD_FILE", "{e}");

    let with_header = format!("{SMS_OK}auth_header = \"X-Api-Key\"\n");
    let s = load_env(&with_header, &[("SEKISHO_SMS_AUTH", "key-from-env")]).unwrap();
    let (name, value) = s.sms.provider.as_ref().unwrap().auth.clone().unwrap();
    assert_eq!(
        (name.as_str(), value.expose()),
        ("X-Api-Key", "key-from-env")
    );
    assert!(!format!("{s:?}").contains("key-from-env"));

    let s = load_env(&with_header, &[("SEKISHO_SMS_AUTH_FILE", &pw_path)]).unwrap();
    let (_, value) = s.sms.provider.unwrap().auth.unwrap();
    assert_eq!(value.expose(), "from-file");

    // A value without a header to put it in is a mistake, not something to ignore.
    let e = load_env(SMS_OK, &[("SEKISHO_SMS_AUTH", "k")]).unwrap_err();
    assert_eq!(e.key, "sms.auth_header", "{e}");
    assert!(!e.to_string().contains("=k"), "{e}");
    let e = load_env(&with_header, &[("SEKISHO_SMS_AUTH", "two\nlines")]).unwrap_err();
    assert_eq!(e.key, "SEKISHO_SMS_AUTH", "{e}");
    assert!(
        !e.to_string().contains("two"),
        "the value is never quoted: {e}"
    );
    let e = err(&format!(
        "{SMS_OK}auth_header = \"Content-Type\"\nauth_value_file = \"{pw_path}\"\n"
    ));
    assert_eq!(e.key, "sms.auth_header", "{e}");
}

#[test]
fn sms_fields_are_filled_in_one_pass() {
    let s = load(
        "[sms]\nenabled = true\nurl = \"http://127.0.0.1:9/\"\nfields = { dest = \"tel:{to}\", msg = \"{text} ({to})\", from = \"Sekisho\" }\n",
    );
    let p = s.sms.provider.unwrap();
    assert_eq!(
        p.fill_fields("+8190", "code {to} & {text}"),
        vec![
            ("dest".to_string(), "tel:+8190".to_string()),
            ("msg".to_string(), "code {to} & {text} (+8190)".to_string()),
            ("from".to_string(), "Sekisho".to_string()),
        ]
    );
}

#[test]
fn mailboxes() {
    for ok in [
        "a@b",
        "no-reply@example.com",
        "Sekisho <no-reply@localhost>",
        "\"Sekisho, Inc\" <x.y+z@mail.example.co.jp>",
        "関所 <no-reply@example.jp>",
    ] {
        assert!(is_mailbox(ok), "{ok}");
    }
    for bad in [
        "",
        "example.com",
        "a@",
        "@b",
        "a b@c",
        "a@b..c",
        ".a@b",
        "Name <a@b",
        "Name a@b>",
        "Na<me <a@b>",
        "Name\r\nBcc: x <a@b>",
        "a@-b",
    ] {
        assert!(!is_mailbox(bad), "{bad}");
    }
}
