//! The gateway's per-request work outside policy evaluation, piece by piece:
//! session lookup on a hit (budget: ≤ 2 µs), cookie parsing, identity-header rewrite
//! on a Pingora `RequestHeader`, and TOTP verification (sign-in path, for scale).
//!
//! Run: `cargo bench -p sekisho-benches --bench hot_path` (filter with e.g. `-- totp`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main};

mod hot_path {
    pub mod cookies;
    pub mod identity;
    pub mod session;
    pub mod totp;
}

criterion_group!(
    benches,
    hot_path::session::bench,
    hot_path::cookies::bench,
    hot_path::identity::bench,
    hot_path::totp::bench
);
criterion_main!(benches);
