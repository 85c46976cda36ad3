//! End-to-end tests: the real gateway (Pingora, in-process on its own thread) in front
//! of a real upstream HTTP server, over loopback on ephemeral ports, with the memory
//! store and with a real `redis-server`, and SQLite accounts.

mod hardening;
mod harness;
mod journeys;
mod logs;
mod mfa;
