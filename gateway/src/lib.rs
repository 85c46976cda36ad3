//! The Sekisho gateway: a Pingora reverse proxy that asks for a good-enough session
//! before it forwards a request, and serves the hosted sign-in pages in-process.
//!
//! - [`app`] assembles everything the proxy needs from validated settings.
//! - [`proxy`] is the `ProxyHttp` implementation: one small method per phase.
//! - [`bridge`] hands requests under the UI prefix to the login-ui `Router`.
//! - [`identity`] and [`client_ip`] rewrite what the upstream sees.
//! - [`upstream`] picks the upstream server of a site.
//! - [`admin`] serves `/healthz`, `/readyz` and `/metrics` on the admin listener.
//! - [`rollout_jobs`] mails enrolment reminders, closes abandoned enrolments and
//!   refreshes the [`adoption`] gauges; [`report`] is `sekisho report adoption` and
//!   the enrolment part of `policy explain`.
//! - [`server`] wires the Pingora services together; [`cli`] is the `sekisho` command.
//! - [`demo`] is `sekisho demo`: a small legacy site behind the gateway.

pub mod admin;
pub mod adoption;
pub mod app;
pub mod bridge;
pub mod cli;
pub mod client_ip;
pub mod demo;
pub mod identity;
pub mod keyfile;
pub mod metrics;
pub mod proxy;
pub mod report;
pub mod rollout_jobs;
pub mod server;
pub mod upstream;

pub use app::App;
pub use server::{GatewayHandle, ServerOptions};
