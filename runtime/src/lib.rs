//! # boardroom-runtime
//!
//! The `boardroom` binary and everything at its edge: configuration from the
//! environment and a TOML file, logging, the command line (`serve`, `migrate`,
//! `tenant`, `rotate-secrets`, `bench`), the HTTP server, and the one shutdown path (stop HTTP, stop the
//! swarm tree, flush the event log, exit 0).
//!
//! ## Layout
//! - `config`: [`Settings`], parsed and checked at start-up.
//! - `app`: [`Application`], which builds and runs the service.
//! - `http`: the routes.
//! - `demo`: the demo business a fresh install runs.
//! - `cli`: the commands.
//! - `rotation`: `boardroom rotate-secrets`, re-sealing stored credentials under the
//!   current `SECRET_KEY`.
//! - `bench`: `boardroom bench`, the performance figures.
//! - `bench_chaos`: `boardroom bench --chaos`, the fault-injection drill.
//! - `audit`: the consistency audit of a tenant's log and side effects, after a drill
//!   or a crash.
//! - `bench_live`: `boardroom bench --live`, the live view's latency and memory.
//! - `bench_scale`: `boardroom bench --scale`, tenants and swarms one node holds.
//! - `simulate`: `boardroom bench --simulate`, decision quality against baselines.
//! - `telemetry`: `tracing` set-up.

mod app;
mod audit;
mod bench;
mod bench_adapters;
mod bench_channels;
mod bench_chaos;
mod bench_live;
mod bench_media;
mod bench_scale;
mod cli;
mod cluster;
mod config;
mod demo;
mod http;
mod markets;
mod rotation;
mod simulate;
mod telemetry;

pub use app::{Application, shutdown_signal};
pub use audit::{TenantAudit, audit_tenant};
pub use bench_chaos::{ChaosDrill, ChaosReport, DEFAULT_CYCLES_PER_SECOND, chaos_drill};
pub use cli::{Cli, run};
pub use config::{ConfigError, LogFormat, SecretKey, Settings};
pub use http::{ApiCallMeter, AppState, LiveRelay, LiveStreams, router};
pub use rotation::{RotationReport, rotate_secrets};
