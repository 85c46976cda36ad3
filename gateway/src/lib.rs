//! The Sekisho gateway: a Pingora reverse proxy that asks for a good-enough session
//! before it forwards a request, and serves the hosted sign-in pages in-process.
//!
//! - [`app`] assembles everything the proxy needs from validated settings.
//! - [`proxy`] is the `ProxyHttp` implementation: one small method per phase.
//! - [`bridge`] hands requests under the UI prefix to the login-ui `Router`.
//! - [`identity`] and [`client_ip`] rewrite what the upstream sees.
//! - [`upstream`] picks the upstream server of a site.
//! - [`admin`] serves `/healthz`, `/readyz` and `/metrics` on the admin listener;
//!   [`telemetry`] holds a gateway's Prometheus registry and the auth domain's hooks,
//!   [`metrics`] the request-path series, [`store_metrics`] the store decorators.
//! - [`access_log`] writes one `sekisho::access` event per request; [`logging`] sets
//!   up the subscriber from `[log]`; [`request_id`] makes and checks request ids.
//! - [`rollout_jobs`] mails enrolment reminders, closes abandoned enrolments and
//!   refreshes the [`adoption`] gauges; [`report`] is `sekisho report adoption` and
//!   the enrolment part of `policy explain`.
//! - [`live`] holds the live configuration and reloads it (SIGHUP, `POST /reload`).
//! - [`server`] wires the Pingora services together; [`cli`] is the `sekisho` command.
//! - [`demo`] is `sekisho demo`: a small legacy site behind the gateway.

pub mod access_log;
pub mod admin;
pub mod adoption;
pub mod app;
pub mod bridge;
pub mod cli;
pub mod client_ip;
pub mod demo;
pub mod identity;
pub mod keyfile;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod report;
pub mod request_id;
pub mod rollout_jobs;
pub mod server;
pub mod session_cache;
pub mod store_health;
pub mod store_metrics;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use app::App;
pub use server::{GatewayHandle, ServerOptions};
