use super::*;

fn expect_code(reader: &mut BufReader<TcpStream>, code: &str) {
    // Multi-line replies end with the line that has a space after the code.
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            return;
        }
    }
}

#[test]
fn records_a_plain_smtp_conversation_and_stops_on_drop() {
    let sink = SmtpSink::start();
    let stream = TcpStream::connect(sink.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    expect_code(&mut reader, "220");
    for (command, code) in [
        ("EHLO client.test\r\n", "250"),
        ("MAIL FROM:<a@example.com>\r\n", "250"),
        ("RCPT TO:<b@example.org>\r\n", "250"),
        ("DATA\r\n", "354"),
        (
            "Subject: =?utf-8?b?5pel5pys6Kqe?=\r\n\r\nhello\r\n..dot\r\n.\r\n",
            "250",
        ),
        ("QUIT\r\n", "221"),
    ] {
        writer.write_all(command.as_bytes()).unwrap();
        expect_code(&mut reader, code);
    }
    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails[0].from, "a@example.com");
    assert_eq!(mails[0].to, vec!["b@example.org".to_string()]);
    assert_eq!(mails[0].subject(), "日本語");
    assert_eq!(mails[0].text(), "hello\r\n.dot\r\n");
    assert!(!mails[0].tls && mails[0].authenticated_as.is_none());

    let addr = sink.addr();
    drop(sink);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after drop"
    );
}

#[test]
fn auth_is_required_when_configured() {
    let sink = SmtpSink::builder().auth("user", "pw").start();
    let stream = TcpStream::connect(sink.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    expect_code(&mut reader, "220");
    writer.write_all(b"EHLO client.test\r\n").unwrap();
    expect_code(&mut reader, "250");
    writer.write_all(b"MAIL FROM:<a@example.com>\r\n").unwrap();
    expect_code(&mut reader, "503"); // bad sequence: AUTH first
                                     // AUTH PLAIN with base64("\0user\0wrong"), then the right password.
    writer
        .write_all(b"AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n")
        .unwrap();
    expect_code(&mut reader, "535");
    writer.write_all(b"AUTH PLAIN AHVzZXIAcHc=\r\n").unwrap();
    expect_code(&mut reader, "235");
    writer.write_all(b"MAIL FROM:<a@example.com>\r\n").unwrap();
    expect_code(&mut reader, "250");
}
