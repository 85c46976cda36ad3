//! Sekisho configuration.
//!
//! Owns the TOML file schema ([`schema`]), the environment overrides for secrets and
//! store URLs, and the validated, typed [`Settings`] the rest of the gateway runs on.
//! Errors name the file, the key path and (where the parser knows it) the line.
//! Apart from reading the config file and `*_FILE` secrets, this crate does no I/O.

mod abuse;
mod admin;
mod enrollment;
mod error;
mod load;
mod mfa;
mod model;
mod notify;
mod observability;
mod redis;
pub mod schema;
mod secret;
mod sign_in;
mod sites;
mod support;
mod tls;
mod values;

pub use error::ConfigError;
pub use load::{load_file, load_str, Env, ProcessEnv};
pub use mfa::{MfaAtLogin, MfaSettings};
pub use model::*;
pub use redis::{RedisMode, RedisSettings, RedisTopology};
pub use secret::{redact_url, SecretBytes, SecretString};
pub use values::{Action, Factor, FactorSet, HttpMethod, Lang};
