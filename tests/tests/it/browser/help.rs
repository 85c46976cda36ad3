//! The help page in Chromium: reached from the footer of the sign-in page, in English
//! and then in Japanese, with the operator's support contact; each language audited
//! and captured.
use super::a11y::assert_accessible;
use super::session::{Browser, Setup};
use crate::browser_journey;
use crate::harness::{Store, TestGateway};

const SUPPORT: &str = r#"
[support]
email = "helpdesk@example.com"
phone = "+81 3-1234-5678"
hours = "Mon–Fri 9:00–18:00 JST"
url = "https://intranet.example.com/it-help"
"#;

async fn help_page_in_japanese_and_english(gw: &TestGateway, b: &Browser) {
    b.goto(&gw.url("/members")).await;
    b.click("#footer-help").await;
    assert_eq!(b.url().await.path(), "/_sekisho/help");
    assert_eq!(b.text("h1").await, "Help");
    assert_eq!(
        b.text("#code-rejected h2").await,
        "The authenticator app's code is rejected"
    );
    let contact = b.text("#support-contact").await;
    assert!(contact.contains("Contact support"), "{contact}");
    assert!(contact.contains("Mon–Fri 9:00–18:00 JST"), "{contact}");
    assert_eq!(
        b.attr("#support-email", "href").await.as_deref(),
        Some("mailto:helpdesk@example.com")
    );
    b.capture("help-en").await;
    assert_accessible(b, "en").await;

    // The contents jump to an entry by its anchor.
    b.click("nav.toc a[href='#lost-device']").await;
    assert_eq!(b.url().await.fragment(), Some("lost-device"));

    b.click("a.lang").await;
    assert_eq!(b.url().await.path(), "/_sekisho/help");
    assert_eq!(b.text("h1").await, "ヘルプ");
    assert_eq!(
        b.text("#lost-device h2").await,
        "スマートフォンを紛失した・機種変更した"
    );
    assert!(b
        .text("#support-contact")
        .await
        .contains("サポートへのお問い合わせ"));
    b.capture("help-ja").await;
    assert_accessible(b, "ja").await;
}
browser_journey!(
    help_page_in_japanese_and_english,
    memory: Setup::new(Store::Memory).config(SUPPORT),
);
