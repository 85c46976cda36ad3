//! The admin listener: `/healthz` (the process answers), `/readyz` (the session store
//! and the SQL database answer), `/metrics` (Prometheus), `POST /reload` (read the
//! configuration file again). Bind it to loopback or a private network: it is not
//! authenticated.
use crate::live::LiveApp;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;
use std::time::Duration;

pub struct AdminApp {
    live: Arc<LiveApp>,
}

impl AdminApp {
    pub fn new(live: Arc<LiveApp>) -> Self {
        Self { live }
    }
}

fn text(status: u16, content_type: &'static str, body: String) -> Response<Vec<u8>> {
    let len = body.len();
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, len)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(body.into_bytes())
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let method = session.req_header().method.clone();
        let app = self.live.current();
        match path.as_str() {
            "/reload" if method == http::Method::POST => {
                match self.live.reload_recorded("admin_endpoint").await {
                    Ok(r) => text(200, "text/plain", r.summary()),
                    Err(e) => text(422, "text/plain", format!("rejected: {e}\n")),
                }
            }
            "/reload" => text(
                405,
                "text/plain",
                "POST to reload the configuration\n".into(),
            ),
            "/healthz" => text(200, "text/plain", "ok\n".into()),
            "/readyz" => {
                let store =
                    tokio::time::timeout(Duration::from_secs(2), app.sessions.store().ping()).await;
                let sql =
                    tokio::time::timeout(Duration::from_secs(2), app.ui.accounts.ping()).await;
                let store_ok = matches!(store, Ok(Ok(())));
                let sql_ok = matches!(sql, Ok(Ok(())));
                let body = format!(
                    "session_store {}\nsql {}\n",
                    if store_ok { "ok" } else { "unavailable" },
                    if sql_ok { "ok" } else { "unavailable" }
                );
                text(
                    if store_ok && sql_ok { 200 } else { 503 },
                    "text/plain",
                    body,
                )
            }
            "/metrics" => {
                app.upstreams.refresh_gauges();
                let mut body = app.telemetry.render();
                body.push_str(&notification_series(&app.notifier.counts()));
                body.push_str(&nudge_series(&app.ui.nudges));
                body.push_str(&app.adoption.render());
                if let Some(cache) = app.sessions.cache() {
                    body.push_str(&crate::session_cache::render(cache));
                }
                body.push_str(&format!(
                    "# HELP sekisho_rollout_reminder_passes_total Reminder passes this instance ran\n\
                     # TYPE sekisho_rollout_reminder_passes_total counter\n\
                     sekisho_rollout_reminder_passes_total {}\n",
                    app.reminder_passes
                        .load(std::sync::atomic::Ordering::Relaxed)
                ));
                text(200, "text/plain; version=0.0.4", body)
            }
            _ => text(404, "text/plain", "not found\n".into()),
        }
    }
}

/// The notifier's counters in the exposition format: they belong to this gateway's
/// notifier, not to the process-wide registry.
fn notification_series(c: &sekisho_notify::NotifyCounts) -> String {
    format!(
        "# HELP sekisho_notifications_total Messages handed to the mail or SMS transport, by result\n\
         # TYPE sekisho_notifications_total counter\n\
         sekisho_notifications_total{{channel=\"email\",result=\"sent\"}} {}\n\
         sekisho_notifications_total{{channel=\"email\",result=\"failed\"}} {}\n\
         sekisho_notifications_total{{channel=\"sms\",result=\"sent\"}} {}\n\
         sekisho_notifications_total{{channel=\"sms\",result=\"failed\"}} {}\n",
        c.email_sent, c.email_failed, c.sms_sent, c.sms_failed
    )
}

/// The rollout interstitials: shown at sign-in, snoozed ("remind me later", "skip
/// for now", the wizard's "not now"), accepted ("set up now").
fn nudge_series(n: &sekisho_login_ui::NudgeCounters) -> String {
    let mut out = String::from(
        "# HELP sekisho_enrollment_nudges_total MFA rollout interstitials by kind and what the user did\n\
         # TYPE sekisho_enrollment_nudges_total counter\n",
    );
    for (kind, outcome, count) in n.snapshot() {
        out.push_str(&format!(
            "sekisho_enrollment_nudges_total{{kind=\"{}\",outcome=\"{}\"}} {count}\n",
            kind.as_str(),
            outcome.as_str()
        ));
    }
    out
}
