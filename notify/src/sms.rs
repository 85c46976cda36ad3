//! SMS through an HTTP provider: the configured fields, filled with the number and the
//! text, as a form or a JSON object.
use crate::NotifyError;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use sekisho_config::{SmsBody, SmsMethod, SmsProvider};

pub(crate) struct SmsChannel {
    client: reqwest::Client,
    provider: SmsProvider,
    auth: Option<(HeaderName, HeaderValue)>,
}

impl SmsChannel {
    pub(crate) fn new(provider: &SmsProvider) -> Result<Self, NotifyError> {
        let client = reqwest::Client::builder()
            // A redirect could carry the auth header or the code somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(provider.timeout)
            .timeout(provider.timeout)
            .build()
            .map_err(|e| NotifyError::Transport(format!("HTTP client setup failed ({e})")))?;
        let auth = match &provider.auth {
            Some((name, value)) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    NotifyError::Transport("sms.auth_header is not a header name".into())
                })?;
                let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                    NotifyError::Transport("the SMS auth value is not a header value".into())
                })?;
                value.set_sensitive(true);
                Some((name, value))
            }
            None => None,
        };
        Ok(Self {
            client,
            provider: provider.clone(),
            auth,
        })
    }

    pub(crate) async fn send(&self, to_phone: &str, text: &str) -> Result<(), NotifyError> {
        let phone = normalise_phone(to_phone).ok_or(NotifyError::InvalidRecipient)?;
        let fields = self.provider.fill_fields(&phone, text);
        let method = match self.provider.method {
            SmsMethod::Post => reqwest::Method::POST,
            SmsMethod::Put => reqwest::Method::PUT,
        };
        let mut request = self.client.request(method, self.provider.url.clone());
        request = match self.provider.body {
            SmsBody::Form => request.form(&fields),
            SmsBody::Json => {
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .into_iter()
                    .map(|(name, value)| (name, serde_json::Value::String(value)))
                    .collect();
                request
                    .header(CONTENT_TYPE, "application/json")
                    .body(serde_json::Value::Object(object).to_string())
            }
        };
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        let exchange = async {
            let response = request.send().await.map_err(http_error)?;
            let status = response.status();
            if !status.is_success() {
                return Err(NotifyError::Rejected(format!("HTTP {}", status.as_u16())));
            }
            Ok(())
        };
        // reqwest's own timeout covers the same; this one also bounds anything around it.
        tokio::time::timeout(self.provider.timeout, exchange)
            .await
            .map_err(|_| NotifyError::Timeout)?
    }
}

/// reqwest's messages name the URL, which may hold an API key: only the kind and the
/// underlying cause are kept.
fn http_error(e: reqwest::Error) -> NotifyError {
    if e.is_timeout() {
        return NotifyError::Timeout;
    }
    let kind = if e.is_connect() {
        "cannot connect to the SMS provider"
    } else {
        "the SMS request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        NotifyError::Transport(kind.to_string())
    } else {
        NotifyError::Transport(format!("{kind} ({cause})"))
    }
}

/// `+81 90-1234-5678` → `+819012345678`; `None` unless 6 to 20 digits remain.
fn normalise_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", raw),
    };
    let mut digits = String::with_capacity(rest.len() + 1);
    digits.push_str(plus);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let count = digits.len() - plus.len();
    (6..=20).contains(&count).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_or_refused() {
        assert_eq!(
            normalise_phone(" +81 90-1234-5678 ").as_deref(),
            Some("+819012345678")
        );
        assert_eq!(
            normalise_phone("(03) 1234.5678").as_deref(),
            Some("0312345678")
        );
        for bad in [
            "",
            "+",
            "12345",
            "+81 90 1234 5678 x12",
            "abc123456",
            "++8190123456",
        ] {
            assert_eq!(normalise_phone(bad), None, "{bad}");
        }
        assert_eq!(normalise_phone(&"1".repeat(21)), None);
    }
}
