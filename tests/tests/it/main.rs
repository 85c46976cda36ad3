//! End-to-end tests: the real gateway (Pingora, in-process on its own thread) in front
//! of a real upstream HTTP server, over loopback on ephemeral ports, with the memory
//! store and with a real `redis-server`, and SQLite accounts; and the hosted pages
//! driven in a real headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod browser;
mod hardening;
mod harness;
mod harness_upstreams;
mod help;
mod journeys;
mod lockout;
mod logs;
mod lost_device;
mod metrics;
mod mfa;
mod recovery;
mod redis_outage;
mod reload;
mod rollout;
mod rollout_jobs;
mod sign_ins;
mod tls;
mod upstreams;
