//! The `sekisho` binary: config checking, policy explain, user management, the demo.
mod cli;
