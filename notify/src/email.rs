//! E-mail delivery: SMTP through lettre, or one `.eml` file per message in a folder.
use crate::notice::{render_email, Notice};
use crate::{NotifyError, Recipient};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sekisho_config::{EmailSettings, EmailTransport, SmtpSecurity, SmtpSettings};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) struct EmailChannel {
    from: Mailbox,
    timeout: Duration,
    sink: Sink,
}

enum Sink {
    Folder(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl EmailChannel {
    /// `None` when e-mail is switched off.
    pub(crate) fn new(settings: &EmailSettings) -> Result<Option<Self>, NotifyError> {
        let sink = match &settings.transport {
            EmailTransport::Off => return Ok(None),
            EmailTransport::Folder { path } => {
                // Fail at start-up rather than at the first sign-in.
                create_private_dir(path)?;
                Sink::Folder(path.clone())
            }
            EmailTransport::Smtp(smtp) => Sink::Smtp(smtp_transport(smtp, settings.timeout)?),
        };
        let from = settings.from.parse::<Mailbox>().map_err(|e| {
            NotifyError::Transport(format!("email.from is not a usable sender ({e})"))
        })?;
        Ok(Some(Self {
            from,
            timeout: settings.timeout,
            sink,
        }))
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self.sink {
            Sink::Folder(_) => "folder",
            Sink::Smtp(_) => "smtp",
        }
    }

    pub(crate) async fn send(
        &self,
        to: &Recipient<'_>,
        notice: &Notice<'_>,
        brand: &str,
    ) -> Result<(), NotifyError> {
        let message = self.message(to, notice, brand)?;
        let delivery = async {
            match &self.sink {
                Sink::Smtp(transport) => {
                    transport.send(message).await.map(drop).map_err(smtp_error)
                }
                Sink::Folder(dir) => {
                    let dir = dir.clone();
                    let bytes = message.formatted();
                    tokio::task::spawn_blocking(move || write_eml(&dir, &bytes))
                        .await
                        .map_err(|_| NotifyError::Transport("the file writer stopped".into()))?
                }
            }
        };
        // lettre bounds each connect and read by the same timeout; this bounds the whole
        // conversation, so a server that trickles replies cannot hold a sign-in page.
        tokio::time::timeout(self.timeout, delivery)
            .await
            .map_err(|_| NotifyError::Timeout)?
    }

    fn message(
        &self,
        to: &Recipient<'_>,
        notice: &Notice<'_>,
        brand: &str,
    ) -> Result<Message, NotifyError> {
        let address = to
            .email
            .trim()
            .parse::<Address>()
            .map_err(|_| NotifyError::InvalidRecipient)?;
        let name: String = to
            .display_name
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string();
        let rendered = render_email(notice, to.lang, brand, &name);
        let to_mailbox = Mailbox::new((!name.is_empty()).then_some(name), address);
        Message::builder()
            .from(self.from.clone())
            .to(to_mailbox)
            .subject(rendered.subject)
            .date_now()
            .message_id(Some(message_id(self.from.email.domain())))
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                to.lang.code().to_string(),
            ))
            // RFC 3834: keeps out-of-office replies and bounces-to-bounces away.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_string(),
            ))
            .body(rendered.body)
            .map_err(|e| NotifyError::Transport(format!("cannot build the message ({e})")))
    }
}

fn smtp_transport(
    s: &SmtpSettings,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    let tls_parameters = || {
        TlsParameters::builder(s.host.clone())
            .dangerous_accept_invalid_certs(s.accept_invalid_certs)
            .dangerous_accept_invalid_hostnames(s.accept_invalid_certs)
            .build_native()
            .map_err(|e| NotifyError::Transport(format!("TLS setup failed ({e})")))
    };
    let tls = match s.security {
        SmtpSecurity::Starttls => Tls::Required(tls_parameters()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        SmtpSecurity::Plain => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// Sorts lettre's errors into the contract's kinds. Server reply texts are left out:
/// they may quote the recipient.
fn smtp_error(e: lettre::transport::smtp::Error) -> NotifyError {
    if e.is_timeout() {
        NotifyError::Timeout
    } else if let Some(code) = e.status() {
        NotifyError::Rejected(format!("SMTP {code}"))
    } else if e.is_tls() {
        NotifyError::Transport("TLS failed".into())
    } else if e.is_response() {
        NotifyError::Transport("the server's reply could not be read".into())
    } else {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        NotifyError::Transport(format!("SMTP connection failed{cause}"))
    }
}

/// `<time.random@sender-domain>`: unique without needing the host name.
fn message_id(domain: &str) -> String {
    format!(
        "<{}.{:016x}@{domain}>",
        unix_millis(),
        rand::random::<u64>()
    )
}

// The Date header and file names need the real wall-clock time of sending; nothing here
// makes a decision on it, so it is not taken from the injected domain clock.
fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn create_private_dir(path: &Path) -> Result<(), NotifyError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| NotifyError::Transport(format!("cannot create the mail folder ({e})")))
}

/// Writes `<millis>-<random>.eml` so that readers never see half a message: the bytes
/// go to a hidden temporary file that is renamed into place.
fn write_eml(dir: &Path, bytes: &[u8]) -> Result<(), NotifyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io_error =
        |e: std::io::Error| NotifyError::Transport(format!("cannot write the message ({e})"));
    create_private_dir(dir)?;
    let name = format!("{}-{:016x}.eml", unix_millis(), rand::random::<u64>());
    let temporary = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, dir.join(&name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(io_error)
}

#[cfg(test)]
mod tests;
