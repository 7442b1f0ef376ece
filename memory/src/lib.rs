//! # boardroom-memory
//!
//! Owns Boardroom's data model and everything that stores it: the platform's tables
//! (users, tenants, agent memory, events, stores, products, posts, campaigns, ledger,
//! invites, access controls, experiences, patterns, market insights, checkpoints, cycle
//! reports, tokens, usage, adapter state, LLM calls),
//! the storage interfaces ([`Store`] and its parts by concern) with their SQLite
//! (embedded default) and PostgreSQL backends, and the batched, gap-free [`EventLog`]
//! with its per-tenant live fan-out.
//!
//! ## Layout
//! - `model`: ids, tiers, rows. Money is [`rust_decimal::Decimal`]: `NUMERIC` in
//!   PostgreSQL, exact text in SQLite (SQLite has no decimal type, and a float would
//!   round).
//! - `store`: the storage interfaces, one per concern ([`AccountStore`],
//!   [`EventStore`], …), and [`Store`], all of them.
//! - `sql`: [`SqlStore`], which implements them once for both databases, and the two
//!   dialects ([`SqliteStore`], [`PostgresStore`]), each with its migrations folder.
//! - `rows`: reading rows into the model, and the rules both databases follow.
//! - `pool`: [`PoolSettings`], how long a query waits for a connection, and which
//!   database errors mean "unavailable, retry" ([`is_unavailable`]).
//! - `event_log`: batching writer, sequence numbers, per-tenant broadcast.
//! - `redis_link`: the optional Redis connection (sessions, shared throttles).
//! - `media_library`: [`MediaLibrary`], files' records in the database and their bytes
//!   in an object store (a folder, or an S3-compatible bucket).
//! - `testing` (feature `testing`): fresh databases for tests.

mod error;
mod event_log;
mod media_library;
mod model;
mod pool;
mod redis_link;
mod rows;
mod sql;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{InviteRejection, MemoryError};
pub use event_log::{
    CloseReport, EventLog, EventLogConfig, EventSubscription, JOURNAL_FILE, LoggedEvent, ProbeFn, WireEncoder,
    WriteProbe,
};
pub use media_library::{MediaHousekeeping, MediaLibrary, MediaUpload};
pub use model::*;
pub use pool::{DEFAULT_ACQUIRE_TIMEOUT, PoolSettings, is_unavailable};
pub use redis_link::{DEFAULT_REDIS_PREFIX, RedisLink};
pub use sql::{PostgresDialect, PostgresStore, SqlStore, SqliteDialect, SqliteStore};
pub use store::{
    AccountStore, ApprovalAnswer, ApprovalStore, Backend, BusinessStore, ClusterStore, EventStore, LearningStore,
    LedgerStore, MediaStore, MemoryResult, MeteringStore, PlatformStore, RehomeAdapterState, ReportStore, SharedStore,
    Store, TenantStore, WEBHOOK_DELIVERY_RETENTION,
};

use std::sync::Arc;

/// Opens the database named by `url`, creating it (and for SQLite its folder) if needed,
/// and applies the migrations.
///
/// `sqlite:PATH` / `sqlite://PATH` / `sqlite::memory:` open SQLite; `postgres://…` and
/// `postgresql://…` open PostgreSQL. Anything else is [`MemoryError::UnsupportedUrl`].
pub async fn connect(url: &str) -> MemoryResult<SharedStore> {
    connect_with(url, PoolSettings::default()).await
}

/// [`connect`] with chosen pool settings (the acquire time-out that bounds how long a
/// query waits for the database).
pub async fn connect_with(url: &str, pool: PoolSettings) -> MemoryResult<SharedStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect_with(url, pool).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect_with(url, pool).await?))
    } else {
        Err(MemoryError::UnsupportedUrl(url.to_owned()))
    }
}
