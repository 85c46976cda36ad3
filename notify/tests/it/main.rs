//! Notifier against real servers on loopback: the testkit SMTP sink (plain, STARTTLS,
//! implicit TLS, AUTH), silent and closed ports, a mail folder, and an axum HTTP server
//! standing in for the SMS provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod email;
mod sms;

use sekisho_config::{EmailSettings, EmailTransport, SmsSettings};
use sekisho_notify::Notifier;

pub const BRAND: &str = "Sekisho";

pub fn email_only(email: EmailSettings) -> Notifier {
    Notifier::new(&email, &SmsSettings::default(), BRAND).unwrap()
}

pub fn sms_only(sms: SmsSettings) -> Notifier {
    let off = EmailSettings {
        transport: EmailTransport::Off,
        from: "x@localhost".into(),
        timeout: std::time::Duration::from_secs(1),
    };
    Notifier::new(&off, &sms, BRAND).unwrap()
}
