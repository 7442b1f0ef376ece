//! Both backends, written once: [`SqlStore`] implements every storage interface for
//! any [`Dialect`], and a dialect is the little that SQLite and PostgreSQL must do
//! differently.
//!
//! # How the two databases share one implementation
//!
//! Every query is written once, with `$n` placeholders, and runs on both databases:
//! sqlx's SQLite driver reads `$n` as "the n-th bound value", as PostgreSQL does.
//! Values are bound through [`Param`], which the dialect turns into its driver's
//! types; the SQL itself sticks to what both databases read the same way (`cast(x as
//! text)`, `cast(sum(x) as bigint)`, `on conflict … do update`, `returning`). What is
//! left to a [`Dialect`] is what cannot be written once:
//!
//! - **connecting**: the pool, its migrations (`migrations.rs`), SQLite's file and WAL settings,
//!   creating a missing PostgreSQL database (`sqlite.rs`, `postgres.rs`);
//! - **money**: [`Money`] is exact text on SQLite (no decimal type there, and a float
//!   would round) and `NUMERIC` on PostgreSQL, written with the scale it has; both read
//!   it back as text (`cast(amount as text)`), which `rows::parse_money` parses exactly;
//! - **keeping writers apart**: SQLite has one writer at a time, so its writes queue on
//!   an in-process lock and open their transactions with `BEGIN IMMEDIATE`; PostgreSQL
//!   has many, so a count checked against a limit (or a value read and written back)
//!   is guarded by the [`Lock`] the dialect maps to an advisory lock (a table lock for
//!   the first admin);
//! - **the event-append hot path**: a multi-row `VALUES` list per power-of-two chunk on
//!   SQLite, one `unnest` of a column array each on PostgreSQL.
//!
//! Sorting by text is done in Rust where PostgreSQL's collation would differ from
//! SQLite's byte order, and so is exact decimal arithmetic (sums, means), so both
//! backends give the same answers and refuse the same out-of-range totals.
//!
//! # Why this way
//!
//! - **A generic implementation over a dialect trait**, rather than `sqlx::Any`: `Any`
//!   carries neither decimals nor timestamps nor JSON, and money must stay exact.
//! - Rather than a query builder such as `sea-query`: the queries are fixed texts, so
//!   `&'static str` constants cost nothing to build and stay in each connection's
//!   prepared-statement cache, where a builder renders a `String` per call; and the
//!   parts a builder would render per backend (placeholders, upserts) are already the
//!   same in both databases. The differences that remain (money, locking, the batch
//!   insert) are not a rendering question.
//! - Rather than a macro stamping one body per pool: the shared code is ordinary Rust
//!   that rustfmt formats and the compiler reports errors in by line. The generic
//!   bounds that make sqlx generics heavy stay inside this file: the dialect binds
//!   [`Param`]s and hands out executors, so the shared code never names a sqlx bound.
//! - **Runtime-checked queries**, not `sqlx::query!`: the macros check a query against
//!   one database at compile time (the one `DATABASE_URL` or the offline data names)
//!   and type its columns for that driver, while each query here serves two; checking
//!   both would mean two copies of every query again. The conformance suite runs every
//!   query on both databases instead, which also checks what they do.
//!
//! # Layout
//! One file per storage interface (`accounts.rs`, `tenants.rs`, `events.rs`,
//! `ledger.rs`, `reports.rs`, `approvals.rs`, `business.rs`, `learning.rs`, `media.rs`, `metering.rs`,
//! `platform.rs`), and one per dialect (`sqlite.rs`, `postgres.rs`).

mod accounts;
mod approvals;
mod business;
mod cluster;
mod events;
mod learning;
mod ledger;
mod media;
mod metering;
mod migrations;
mod platform;
mod postgres;
mod reports;
mod sqlite;
mod tenants;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Transaction, Type};
use tokio::sync::{Mutex, MutexGuard};

use crate::model::{SwarmEvent, TenantId, UserId};
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult};

pub use postgres::PostgresDialect;
pub use sqlite::SqliteDialect;

/// Boardroom's storage on a SQL database: every storage interface, written once for
/// both dialects. Use it as [`SqliteStore`] or [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct SqlStore<D> {
    dialect: D,
}

/// The SQLite backend: the embedded default, one file (or an in-memory database for
/// tests).
pub type SqliteStore = SqlStore<SqliteDialect>;

/// The PostgreSQL backend: production.
pub type PostgresStore = SqlStore<PostgresDialect>;

/// A connection of dialect `D`'s driver.
pub(crate) type Connection<D> = <<D as Dialect>::Db as Database>::Connection;

/// A query of the driver, before it is bound to the shared implementation's [`Query`].
pub(crate) type DriverQuery<Db> = sqlx::query::Query<'static, Db, <Db as Database>::Arguments>;

/// What SQLite and PostgreSQL must do differently; see the module docs.
pub(crate) trait Dialect: Clone + fmt::Debug + Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Database<Row = Self::Row, Arguments = Self::Arguments>;
    /// A row of a result.
    type Row: ModelRow + Send;
    /// The values bound to a query.
    type Arguments: IntoArguments<Self::Db>;
    /// What queries on the pool run on.
    type PoolExecutor<'p>: Executor<'p, Database = Self::Db>;
    /// What queries inside a transaction run on.
    type ConnectionExecutor<'c>: Executor<'c, Database = Self::Db>;

    /// Which database this is.
    const BACKEND: Backend;
    /// The statement that opens a write transaction (`None`: the driver's `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// `select … as now_ms`: the database's clock in milliseconds since the Unix epoch.
    const NOW_MS: &'static str;
    /// Active tenants with autopilot on and no lease live at `$1` (milliseconds),
    /// column `id`, lowest first, at most `$2`.
    const UNLEASED_AUTOPILOT_TENANTS: &'static str;

    /// The connection pool.
    fn pool(&self) -> &Pool<Self::Db>;

    /// Connections kept for the node's own upkeep in a cluster (renewing its leases,
    /// its heartbeat), so a node whose swarms keep every other connection busy still
    /// renews its leases in time. [`Dialect::pool`] where there is no such pool.
    fn upkeep_pool(&self) -> &Pool<Self::Db> {
        self.pool()
    }
    /// The in-process lock every write takes first, on a database with one writer at
    /// a time (`None` where writers do not queue in-process).
    fn write_lock(&self) -> Option<&Mutex<()>>;
    /// Queries on `pool`.
    fn on_pool(pool: &Pool<Self::Db>) -> Self::PoolExecutor<'_>;
    /// Queries on a connection (in a transaction).
    fn on_connection(connection: &mut Connection<Self>) -> Self::ConnectionExecutor<'_>;
    /// Binds one value as this driver stores it.
    fn bind(query: DriverQuery<Self::Db>, value: Param<'_>) -> DriverQuery<Self::Db>;
    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// Takes `lock` for the rest of the write transaction on `connection`.
    fn lock(connection: &mut Connection<Self>, lock: Lock) -> impl Future<Output = MemoryResult<()>> + Send;
    /// Moves each tenant's last event number on by its count, in tenant order, and
    /// returns the new last numbers.
    fn reserve_event_numbers(
        connection: &mut Connection<Self>,
        counts: &[(TenantId, i64)],
    ) -> impl Future<Output = MemoryResult<HashMap<TenantId, i64>>> + Send;
    /// The current lease epoch of each of `tenants` that has a lease row, read so that
    /// no claim can move it until the transaction on `connection` ends (fencing: a
    /// write checked against it commits before any takeover).
    fn lease_epochs(
        connection: &mut Connection<Self>,
        tenants: &[TenantId],
    ) -> impl Future<Output = MemoryResult<HashMap<TenantId, i64>>> + Send;
    /// Inserts numbered events.
    fn insert_events(
        connection: &mut Connection<Self>,
        events: &[SwarmEvent],
    ) -> impl Future<Output = MemoryResult<()>> + Send;
}

/// What a write transaction must hold before it counts (or reads and writes back), so
/// that concurrent writers cannot act on the same reading. On SQLite a write
/// transaction already excludes every other writer, so these cost nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// No user is inserted meanwhile: who is the first admin.
    Users,
    /// A user's number of tenants.
    TenantsOf(UserId),
    /// A tenant's number of products.
    ProductsOf(TenantId),
    /// A tenant's number of campaigns.
    CampaignsOf(TenantId),
    /// A tenant's number of agent-memory keys.
    AgentMemoryOf(TenantId),
    /// The bytes of a user's files.
    MediaOf(UserId),
    /// A tenant's patterns, each read, folded into and written back.
    PatternsOf(TenantId),
    /// One campaign's spend, read, added to and written back.
    CampaignSpend(i64),
    /// A tenant's ledger series, each summed and brought up to a running total.
    LedgerTotalsOf(TenantId),
}

/// An amount of money as a bound value: exact text on SQLite, `NUMERIC` with its scale
/// on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Money(pub(crate) Decimal);

/// One value bound to a query, in the types both drivers take. `None` binds a typed
/// null.
#[derive(Debug, Clone)]
pub(crate) enum Param<'a> {
    Int(Option<i64>),
    Int32(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Text(Option<Cow<'a, str>>),
    Time(Option<DateTime<Utc>>),
    Json(Option<Cow<'a, Value>>),
    Bytes(Option<&'a [u8]>),
    Money(Option<Money>),
}

/// Binds `value` into a query of any driver that takes every type of [`Param`]: what
/// each dialect's [`Dialect::bind`] does, once it has said how [`Money`] is stored.
pub(crate) fn bind_param<'v, Db>(query: DriverQuery<Db>, value: &'v Param<'_>) -> DriverQuery<Db>
where
    Db: Database,
    Option<i64>: Encode<'v, Db> + Type<Db>,
    Option<i32>: Encode<'v, Db> + Type<Db>,
    Option<f64>: Encode<'v, Db> + Type<Db>,
    Option<bool>: Encode<'v, Db> + Type<Db>,
    Option<&'v str>: Encode<'v, Db> + Type<Db>,
    Option<DateTime<Utc>>: Encode<'v, Db> + Type<Db>,
    Option<Json<&'v Value>>: Encode<'v, Db> + Type<Db>,
    Option<&'v [u8]>: Encode<'v, Db> + Type<Db>,
    Option<Money>: Encode<'v, Db> + Type<Db>,
{
    match value {
        Param::Int(value) => query.bind(*value),
        Param::Int32(value) => query.bind(*value),
        Param::Float(value) => query.bind(*value),
        Param::Bool(value) => query.bind(*value),
        Param::Text(value) => query.bind(value.as_deref()),
        Param::Time(value) => query.bind(*value),
        Param::Json(value) => query.bind(value.as_deref().map(Json)),
        Param::Bytes(value) => query.bind(*value),
        Param::Money(value) => query.bind(*value),
    }
}

macro_rules! param_from {
    ($($variant:ident: $type:ty => |$value:ident| $make:expr;)*) => {
        $(
            impl<'a> From<$type> for Param<'a> {
                fn from($value: $type) -> Self {
                    Param::$variant($make)
                }
            }
        )*
    };
}

param_from! {
    Int: i64 => |value| Some(value);
    Int: Option<i64> => |value| value;
    Int32: i32 => |value| Some(value);
    Float: f64 => |value| Some(value);
    Bool: bool => |value| Some(value);
    Text: &'a str => |value| Some(Cow::Borrowed(value));
    Text: &'a String => |value| Some(Cow::Borrowed(value.as_str()));
    Text: String => |value| Some(Cow::Owned(value));
    Text: Option<&'a str> => |value| value.map(Cow::Borrowed);
    Text: &'a Option<String> => |value| value.as_deref().map(Cow::Borrowed);
    Time: DateTime<Utc> => |value| Some(value);
    Time: Option<DateTime<Utc>> => |value| value;
    Json: Json<&'a Value> => |value| Some(Cow::Borrowed(value.0));
    Json: Json<Value> => |value| Some(Cow::Owned(value.0));
    Json: Option<Json<&'a Value>> => |value| value.map(|json| Cow::Borrowed(json.0));
    Bytes: &'a [u8] => |value| Some(value);
    Money: Decimal => |value| Some(Money(value));
    Money: Option<Decimal> => |value| value.map(Money);
}

/// A query of the shared implementation: `sqlx::query` whose values are bound as
/// dialect `D` stores them, so one call site serves both databases.
pub(crate) struct Query<D: Dialect> {
    driver: DriverQuery<D::Db>,
}

/// A query's text: written once, `$n` placeholders (see the module docs).
pub(crate) fn query<D: Dialect>(sql: &'static str) -> Query<D> {
    Query { driver: sqlx::query(sql) }
}

/// Where a query runs: on the pool, or on a connection (inside a transaction).
pub(crate) enum Exec<'e, D: Dialect> {
    /// Any connection of the pool.
    Pool(&'e Pool<D::Db>),
    /// This connection.
    Connection(&'e mut Connection<D>),
}

impl<'e, D: Dialect> From<&'e Pool<D::Db>> for Exec<'e, D> {
    fn from(pool: &'e Pool<D::Db>) -> Self {
        Exec::Pool(pool)
    }
}

impl<'e, D: Dialect> From<&'e mut Connection<D>> for Exec<'e, D> {
    fn from(connection: &'e mut Connection<D>) -> Self {
        Exec::Connection(connection)
    }
}

impl<D: Dialect> Query<D> {
    /// Binds the next `$n`.
    pub(crate) fn bind<'v>(self, value: impl Into<Param<'v>>) -> Self {
        Query { driver: D::bind(self.driver, value.into()) }
    }

    /// Runs the query and says how many rows it changed.
    pub(crate) async fn execute<'e>(self, on: impl Into<Exec<'e, D>> + Send) -> sqlx::Result<u64> {
        let done = match on.into() {
            Exec::Pool(pool) => self.driver.execute(D::on_pool(pool)).await?,
            Exec::Connection(connection) => self.driver.execute(D::on_connection(connection)).await?,
        };
        Ok(D::rows_affected(&done))
    }

    /// The one row the query answers; an error when it answers none.
    pub(crate) async fn fetch_one<'e>(self, on: impl Into<Exec<'e, D>> + Send) -> sqlx::Result<D::Row> {
        match on.into() {
            Exec::Pool(pool) => self.driver.fetch_one(D::on_pool(pool)).await,
            Exec::Connection(connection) => self.driver.fetch_one(D::on_connection(connection)).await,
        }
    }

    /// The first row the query answers, if any.
    pub(crate) async fn fetch_optional<'e>(self, on: impl Into<Exec<'e, D>> + Send) -> sqlx::Result<Option<D::Row>> {
        match on.into() {
            Exec::Pool(pool) => self.driver.fetch_optional(D::on_pool(pool)).await,
            Exec::Connection(connection) => self.driver.fetch_optional(D::on_connection(connection)).await,
        }
    }

    /// Every row the query answers.
    pub(crate) async fn fetch_all<'e>(self, on: impl Into<Exec<'e, D>> + Send) -> sqlx::Result<Vec<D::Row>> {
        match on.into() {
            Exec::Pool(pool) => self.driver.fetch_all(D::on_pool(pool)).await,
            Exec::Connection(connection) => self.driver.fetch_all(D::on_connection(connection)).await,
        }
    }
}

/// A turn to write on the pool (see [`SqlStore::write`]): queries run on `&writer`.
pub(crate) struct Writer<'s, D: Dialect> {
    pool: &'s Pool<D::Db>,
    _turn: Option<MutexGuard<'s, ()>>,
}

impl<'e, D: Dialect> From<&'e Writer<'_, D>> for Exec<'e, D> {
    fn from(writer: &'e Writer<'_, D>) -> Self {
        Exec::Pool(writer.pool)
    }
}

/// A write transaction, opened in a turn to write: dropping it uncommitted rolls back,
/// then ends the turn.
pub(crate) struct WriteTransaction<'s, D: Dialect> {
    // Declared first, so dropped first: the rollback is queued before the turn ends.
    transaction: Transaction<'static, D::Db>,
    _turn: Option<MutexGuard<'s, ()>>,
}

impl<D: Dialect> WriteTransaction<'_, D> {
    /// Takes `lock` until the transaction ends (see [`Lock`]).
    pub(crate) async fn lock(&mut self, lock: Lock) -> MemoryResult<()> {
        D::lock(&mut self.transaction, lock).await
    }

    /// Commits, then ends the turn to write.
    pub(crate) async fn commit(self) -> MemoryResult<()> {
        self.transaction.commit().await?;
        Ok(())
    }

    /// Rolls back, then ends the turn to write.
    pub(crate) async fn rollback(self) -> MemoryResult<()> {
        self.transaction.rollback().await?;
        Ok(())
    }
}

impl<D: Dialect> Deref for WriteTransaction<'_, D> {
    type Target = Connection<D>;

    fn deref(&self) -> &Self::Target {
        &self.transaction
    }
}

impl<D: Dialect> DerefMut for WriteTransaction<'_, D> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.transaction
    }
}

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    /// The pool, for queries outside a transaction.
    fn db(&self) -> &Pool<D::Db> {
        self.dialect.pool()
    }

    /// Waits for this process's turn to write and returns it: where a write outside a
    /// transaction runs (`.execute(&writer)`), holding the turn as long as it lives. On a
    /// database with one writer at a time (SQLite) turns are taken in order from an
    /// in-process queue; elsewhere a turn is the pool, at once.
    async fn write(&self) -> Writer<'_, D> {
        let turn = match self.dialect.write_lock() {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        Writer { pool: self.db(), _turn: turn }
    }

    /// [`SqlStore::write`] on the connections kept for the node's upkeep.
    async fn write_upkeep(&self) -> Writer<'_, D> {
        let turn = match self.dialect.write_lock() {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        Writer { pool: self.dialect.upkeep_pool(), _turn: turn }
    }

    /// Opens a write transaction in this process's turn to write (see
    /// [`SqlStore::write`]), with the dialect's `BEGIN`: SQLite's `BEGIN IMMEDIATE` takes
    /// the database's write lock at once, so a writer in another process makes it wait
    /// on the busy time-out instead of failing to upgrade a read lock halfway through.
    async fn write_transaction(&self) -> MemoryResult<WriteTransaction<'_, D>> {
        let Writer { pool, _turn: turn } = self.write().await;
        let transaction = match D::BEGIN_WRITE {
            Some(begin) => pool.begin_with(begin).await?,
            None => pool.begin().await?,
        };
        Ok(WriteTransaction { transaction, _turn: turn })
    }

    /// Whether a tenant exists: names what a guarded insert that wrote nothing missed.
    async fn tenant_exists(&self, tenant: TenantId) -> MemoryResult<bool> {
        query::<D>("select exists (select 1 from tenants where id = $1) as found")
            .bind(tenant.0)
            .fetch_one(self.db())
            .await?
            .flag("found")
    }

    /// Ends a write transaction whose insert was guarded by "the parent belongs to the
    /// tenant": commits it with what the insert returned, or, when the insert wrote
    /// nothing, rolls it back and names what was missing (the tenant, or `parent`).
    async fn commit_guarded_insert<T: Send>(
        &self,
        tx: WriteTransaction<'_, D>,
        inserted: Option<T>,
        tenant: TenantId,
        parent: &str,
    ) -> MemoryResult<T> {
        let Some(inserted) = inserted else {
            tx.rollback().await?;
            return Err(rows::missing_parent(self.tenant_exists(tenant).await?, parent));
        };
        tx.commit().await?;
        Ok(inserted)
    }
}
