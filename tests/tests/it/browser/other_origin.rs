//! A second web site on another loopback port, so another origin than the gateway's:
//! it serves whatever page a test sets (an attacker's form), and a page that shows
//! whether JavaScript runs.
use crate::harness::LocalServer;
use axum::response::Html;
use axum::routing::get;
use std::sync::{Arc, Mutex};

/// What `/js-probe` is titled when its inline script ran.
pub const JS_RAN_TITLE: &str = "javascript ran";
const JS_PROBE: &str = "<!doctype html><html lang=\"en\"><head><title>no javascript</title>\
    <script>document.title = 'javascript ran';</script></head><body><p>probe</p></body></html>";

pub struct OtherOrigin {
    page: Arc<Mutex<String>>,
    server: LocalServer,
}

impl OtherOrigin {
    pub fn start() -> Self {
        let page = Arc::new(Mutex::new(String::new()));
        let served = Arc::clone(&page);
        let app = axum::Router::new()
            .route("/js-probe", get(|| async { Html(JS_PROBE) }))
            .fallback(get(move || {
                let served = Arc::clone(&served);
                async move { Html(served.lock().unwrap().clone()) }
            }));
        Self {
            page,
            server: LocalServer::serve(app),
        }
    }

    /// Serves `html` at every path but `/js-probe`.
    pub fn set_page(&self, html: String) {
        *self.page.lock().unwrap() = html;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.server.port)
    }
}
