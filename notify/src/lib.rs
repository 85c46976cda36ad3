//! Sekisho notifications.
//!
//! Owns getting one-time sign-in codes, security notices and enrolment reminders to
//! users: rendering them (en, ja) and delivering them by e-mail (SMTP through `lettre`,
//! or `.eml` files in a folder for development and the demo) or by SMS through an HTTP
//! provider. Every send is bounded by the configured timeout, counted for metrics, and
//! logged on failure without the code, the address (only its domain) or any credential.
//!
//! TLS for SMTP and for the SMS provider is native-tls on the vendored OpenSSL that
//! Pingora already builds.

mod email;
mod notice;
mod sms;

pub use notice::{render_email, render_sms, CalendarDate, MfaMethodName, Notice, RenderedEmail};
pub use sekisho_config::Lang;

use email::EmailChannel;
use sekisho_config::{EmailSettings, SmsSettings};
use sms::SmsChannel;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why a notification was not delivered. Messages carry no code, address or secret.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The channel is switched off in the configuration.
    #[error("this notification channel is disabled")]
    Disabled,
    /// The send did not finish within the configured timeout.
    #[error("the send timed out")]
    Timeout,
    /// The server or provider answered with a refusal (SMTP or HTTP status).
    #[error("the message was refused: {0}")]
    Rejected(String),
    /// The connection, TLS or file system failed.
    #[error("delivery failed: {0}")]
    Transport(String),
    /// The e-mail address or phone number cannot be sent to.
    #[error("the recipient address is not valid")]
    InvalidRecipient,
}

impl NotifyError {
    /// A stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            NotifyError::Disabled => "disabled",
            NotifyError::Timeout => "timeout",
            NotifyError::Rejected(_) => "rejected",
            NotifyError::Transport(_) => "transport",
            NotifyError::InvalidRecipient => "invalid_recipient",
        }
    }
}

/// Who an e-mail goes to, and in which language.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub email: &'a str,
    /// Shown in the `To` header and the greeting; may be empty.
    pub display_name: &'a str,
    pub lang: Lang,
}

/// Totals since start, for Prometheus counters. `Disabled` sends count nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyCounts {
    pub email_sent: u64,
    pub email_failed: u64,
    pub sms_sent: u64,
    pub sms_failed: u64,
}

/// Sends notifications. Cheap to clone; clones share connections' settings and counters.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    email: Option<EmailChannel>,
    sms: Option<SmsChannel>,
    brand: String,
    email_sent: AtomicU64,
    email_failed: AtomicU64,
    sms_sent: AtomicU64,
    sms_failed: AtomicU64,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("email", &self.inner.email.as_ref().map(EmailChannel::kind))
            .field("sms", &self.inner.sms.is_some())
            .field("brand", &self.inner.brand)
            .finish()
    }
}

impl Notifier {
    /// Prepares both channels. `brand` (usually `ui.title`) names the product in
    /// subjects and texts. Fails when the settings cannot work at all (an unusable
    /// sender address, a mail folder that cannot be created, no TLS backend).
    pub fn new(email: &EmailSettings, sms: &SmsSettings, brand: &str) -> Result<Self, NotifyError> {
        Ok(Self {
            inner: Arc::new(Inner {
                email: EmailChannel::new(email)?,
                sms: sms.provider.as_ref().map(SmsChannel::new).transpose()?,
                brand: brand.to_string(),
                email_sent: AtomicU64::new(0),
                email_failed: AtomicU64::new(0),
                sms_sent: AtomicU64::new(0),
                sms_failed: AtomicU64::new(0),
            }),
        })
    }

    pub fn email_enabled(&self) -> bool {
        self.inner.email.is_some()
    }

    pub fn sms_enabled(&self) -> bool {
        self.inner.sms.is_some()
    }

    /// Renders `notice` in `to.lang` and delivers it, within the configured timeout.
    pub async fn send_email(
        &self,
        to: &Recipient<'_>,
        notice: &Notice<'_>,
    ) -> Result<(), NotifyError> {
        let Some(channel) = &self.inner.email else {
            return Err(NotifyError::Disabled);
        };
        let result = channel.send(to, notice, &self.inner.brand).await;
        let inner = &self.inner;
        record(
            &result,
            &inner.email_sent,
            &inner.email_failed,
            "email",
            notice,
            || domain_of(to.email),
        );
        result
    }

    /// Sends `notice` as one short SMS line in `lang` to `to_phone` (digits, optional
    /// leading `+`; spaces, dots, dashes and brackets are dropped).
    pub async fn send_sms(
        &self,
        to_phone: &str,
        lang: Lang,
        notice: &Notice<'_>,
    ) -> Result<(), NotifyError> {
        let Some(channel) = &self.inner.sms else {
            return Err(NotifyError::Disabled);
        };
        let text = render_sms(notice, lang, &self.inner.brand);
        let result = channel.send(to_phone, &text).await;
        let inner = &self.inner;
        record(
            &result,
            &inner.sms_sent,
            &inner.sms_failed,
            "sms",
            notice,
            String::new,
        );
        result
    }

    pub fn counts(&self) -> NotifyCounts {
        let inner = &self.inner;
        NotifyCounts {
            email_sent: inner.email_sent.load(Ordering::Relaxed),
            email_failed: inner.email_failed.load(Ordering::Relaxed),
            sms_sent: inner.sms_sent.load(Ordering::Relaxed),
            sms_failed: inner.sms_failed.load(Ordering::Relaxed),
        }
    }
}

/// Counts a send and logs a failure by kind.
fn record(
    result: &Result<(), NotifyError>,
    sent: &AtomicU64,
    failed: &AtomicU64,
    channel: &'static str,
    notice: &Notice<'_>,
    domain: impl FnOnce() -> String,
) {
    match result {
        Ok(()) => {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        Err(NotifyError::Disabled) => {}
        Err(error) => {
            failed.fetch_add(1, Ordering::Relaxed);
            // Kind only: the error text may echo server replies.
            tracing::warn!(
                channel,
                notice = notice.kind(),
                error = error.kind(),
                domain = %domain(),
                "notification not delivered"
            );
        }
    }
}

/// The part of an address after `@`, cut and cleaned for a log line.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_domains_are_cleaned() {
        assert_eq!(domain_of("user@Example.COM"), "Example.COM");
        assert_eq!(domain_of("no-at-sign"), "");
        assert_eq!(domain_of("a@b\r\nforged=1"), "bforged1");
        assert_eq!(domain_of(&format!("a@{}", "x".repeat(100))).len(), 64);
    }

    #[test]
    fn error_messages_name_no_details() {
        assert_eq!(NotifyError::Timeout.kind(), "timeout");
        assert_eq!(
            NotifyError::Rejected("HTTP 500".into()).to_string(),
            "the message was refused: HTTP 500"
        );
    }
}
