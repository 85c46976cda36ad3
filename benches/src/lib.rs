//! The Sekisho benchmark harness (`benches/run.sh`, binary `sekisho-bench`) and the
//! pieces it is made of; the criterion micro-benchmarks live in `benches/benches/`.
//!
//! - [`servers`] starts the upstream and the proxies being compared (nginx, nginx +
//!   auth_request, Caddy, Traefik, the bare Pingora passthrough, `redis-server`);
//!   [`sekisho`] starts the gateway and signs in over HTTP to get real sessions.
//! - [`compare`] runs interleaved rounds: [`wrk`] (closed loop) for throughput and
//!   [`loadgen`] (open loop, fixed rate, [`histogram`]) for latency; [`procfs`]
//!   charges CPU time and counts connections and memory.
//! - [`storm`] is the sign-in storm isolation test, [`memory`] the memory and soak
//!   measurements, [`report`] the markdown.
//! - [`children`] stops every process the harness started, by PID, also on Ctrl-C.
pub mod children;
pub mod compare;
pub mod histogram;
pub mod http;
pub mod loadgen;
pub mod memory;
pub mod procfs;
pub mod report;
pub mod sekisho;
pub mod servers;
pub mod stats;
pub mod storm;
pub mod wrk;
