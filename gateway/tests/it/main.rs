//! The `sekisho` binary: config checking, policy explain, user management, the demo,
//! and `run` with JSON logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod cli;
mod logs;
mod reload;
mod upgrade;
