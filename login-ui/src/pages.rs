//! Rendering: the askama templates, the page chrome they share, error pages and the
//! security headers every hosted response carries.
use crate::help::{HelpTopic, SupportView};
use crate::i18n::{help_texts, mfa_texts, other, texts, HelpTexts, MfaTexts, Texts};
use askama::Template;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use sekisho_config::Lang;

/// What every page's layout needs.
pub struct PageChrome {
    pub lang: &'static str,
    pub t: &'static Texts,
    /// Texts of the second-factor pages.
    pub m: &'static MfaTexts,
    /// Texts of the help page and the help links.
    pub h: &'static HelpTexts,
    /// Whether the layout links to the help page: not where the UI is not served
    /// (an unknown host), since the link would lead to another 404.
    pub help_link: bool,
    pub product: String,
    pub prefix: String,
    pub switch_href: String,
    pub switch_code: &'static str,
}

impl PageChrome {
    /// `here` is the current path and query, so the switcher comes back to it.
    pub fn new(lang: Lang, product: &str, prefix: &str, here: &str) -> Self {
        let to = other(lang);
        let back: String =
            percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        Self {
            lang: lang.code(),
            t: texts(lang),
            m: mfa_texts(lang),
            h: help_texts(lang),
            help_link: true,
            product: product.to_string(),
            prefix: prefix.to_string(),
            switch_href: format!("{prefix}lang?to={}&back={back}", to.code()),
            switch_code: to.code(),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
    pub rd: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// "Forgot your password?", when self-service reset is on.
    pub forgot_link: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub page: PageChrome,
    pub display_name: &'a str,
    pub email: &'a str,
    pub groups: String,
    pub level: &'static str,
    pub since: String,
    pub continue_to: &'a str,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub page: PageChrome,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    pub page: PageChrome,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub page: PageChrome,
    pub heading: &'static str,
    pub message: &'static str,
    pub request_id: &'a str,
    /// The help page, at the entry for this error when there is one.
    pub help_href: Option<String>,
    pub support: Option<SupportView>,
}

/// The error pages the gateway and the UI can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    CrossSite,
    Forbidden,
    MfaRequired,
    NotFound,
    UnknownSite,
    PayloadTooLarge,
    /// A rate limit; the caller adds `Retry-After` when it knows the wait.
    TooManyRequests,
    Busy,
    BadGateway,
    Unavailable,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::CrossSite | ErrorKind::Forbidden | ErrorKind::MfaRequired => {
                StatusCode::FORBIDDEN
            }
            ErrorKind::NotFound | ErrorKind::UnknownSite => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Busy | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
        }
    }

    /// Seconds for `Retry-After` on pages that mean "come back soon": a store or
    /// the database is unreachable, and such outages usually end by themselves.
    pub fn retry_after(self) -> Option<u32> {
        (self == ErrorKind::Unavailable).then_some(5)
    }

    /// The reason code of the page's `error` event.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::CrossSite => "cross_site",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::MfaRequired => "mfa_required",
            ErrorKind::NotFound => "not_found",
            ErrorKind::UnknownSite => "unknown_site",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::Busy => "busy",
            ErrorKind::BadGateway => "bad_gateway",
            ErrorKind::Unavailable => "unavailable",
        }
    }

    fn texts(self, t: &'static Texts) -> (&'static str, &'static str) {
        match self {
            ErrorKind::BadRequest => (t.err_bad_request_title, t.err_bad_request),
            ErrorKind::CrossSite => (t.err_forbidden_title, t.err_cross_site),
            ErrorKind::Forbidden => (t.err_forbidden_title, t.err_forbidden),
            ErrorKind::MfaRequired => (t.err_mfa_required_title, t.err_mfa_required),
            ErrorKind::NotFound => (t.err_not_found_title, t.err_not_found),
            ErrorKind::UnknownSite => (t.err_unknown_site_title, t.err_unknown_site),
            ErrorKind::PayloadTooLarge => (t.err_too_large_title, t.err_too_large),
            ErrorKind::TooManyRequests => (t.err_too_many_requests_title, t.err_too_many_requests),
            ErrorKind::Busy => (t.err_busy_title, t.err_busy),
            ErrorKind::BadGateway => (t.err_bad_gateway_title, t.err_bad_gateway),
            ErrorKind::Unavailable => (t.err_unavailable_title, t.err_unavailable),
        }
    }

    /// Where the error page's help link goes: `None` for the help index.
    fn help_topic(self) -> Option<HelpTopic> {
        match self {
            ErrorKind::TooManyRequests => Some(HelpTopic::LockedOut),
            ErrorKind::MfaRequired => Some(HelpTopic::WhyMfa),
            _ => None,
        }
    }
}

/// Renders an error page body, with the support contact when one is configured.
pub fn error_html(
    kind: ErrorKind,
    mut page: PageChrome,
    request_id: &str,
    support: Option<SupportView>,
) -> String {
    let (heading, message) = kind.texts(page.t);
    // An unknown host is not served the hosted pages, help included.
    page.help_link = kind != ErrorKind::UnknownSite;
    let help_href = page.help_link.then(|| match kind.help_topic() {
        Some(topic) => topic.href(&page.prefix),
        None => format!("{}help", page.prefix),
    });
    render(&ErrorPage {
        page,
        heading,
        message,
        request_id,
        help_href,
        support,
    })
}

/// Renders a template; a template error (a bug) degrades to a minimal page.
pub fn render<T: Template>(t: &T) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template rendering failed");
        "<!doctype html><title>Error</title><p>Internal error.</p>".to_string()
    })
}

/// Security headers for every hosted page.
pub fn apply_security_headers(headers: &mut HeaderMap, csp: &HeaderValue) {
    headers.insert(http::header::CONTENT_SECURITY_POLICY, csp.clone());
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with every form POST, and
    // the Origin check would refuse our own sign-in form. `same-origin` still tells
    // other sites nothing.
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// The CSP for hosted pages. `form_targets` are the origins a sign-in form may redirect
/// to (browsers apply `form-action` to the redirect after a POST).
pub fn content_security_policy(form_targets: &[String]) -> HeaderValue {
    let mut form_action = String::from("'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        HeaderValue::from_static("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    })
}
