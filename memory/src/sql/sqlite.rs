//! The SQLite dialect: the embedded default, one file (or an in-memory database for
//! tests).
//!
//! SQLite allows one writer at a time. Writes made through this store first queue on an
//! in-process lock (a fair FIFO queue, where SQLite's own busy handler would poll with
//! sleeps), then open their transaction with `BEGIN IMMEDIATE`, so a writer in another
//! process makes them wait on the busy timeout instead of failing to upgrade a read
//! lock halfway through. Readers never wait for writers (WAL). Holding the database's
//! only write lock, a transaction needs no other [`Lock`].
//!
//! Money is stored as the exact text of [`Decimal`](rust_decimal::Decimal), because
//! SQLite has no decimal type.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{
    SqliteArgumentsBuffer, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous, SqliteTypeInfo,
};
use sqlx::types::Json;
use sqlx::{Encode, QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Type};
use tokio::sync::Mutex;

use super::{Dialect, DriverQuery, Lock, Money, Param, SqlStore, bind_param};
use crate::model::{SwarmEvent, TenantId};
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult};
use crate::{MemoryError, PoolSettings};

/// Connections of a file database: readers run side by side under WAL.
const MAX_CONNECTIONS: u32 = 8;
/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most rows one multi-row `INSERT` carries: 1,024 events × 8 columns = 8,192 bind
/// parameters, under SQLite's limit of 32,766.
const MAX_ROWS_PER_INSERT: usize = 1024;

/// SQLite's side of [`SqlStore`]: its pool and the lock its writers queue on.
#[derive(Debug, Clone)]
pub struct SqliteDialect {
    pool: SqlitePool,
    /// Serialises this process's writes; see the module docs.
    write_lock: Arc<Mutex<()>>,
}

impl SqlStore<SqliteDialect> {
    /// Opens (creating the file and its folder if missing) the database at `url` and
    /// applies the migrations. Accepts `sqlite:PATH`, `sqlite://PATH` and
    /// `sqlite::memory:`; an in-memory database lives as long as the store, on a single
    /// connection so every query sees it.
    pub async fn connect(url: &str) -> MemoryResult<Self> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// [`SqliteStore::connect`](super::SqliteStore::connect) with chosen pool settings.
    /// A file database's queries wait at most `settings.acquire_timeout` for a pooled
    /// connection, and a write held up by another connection's lock waits as long (at
    /// most the 5 s busy time-out), then fails with `SQLITE_BUSY`. An in-memory
    /// database's single connection keeps sqlx's acquire time-out: it cannot go away,
    /// so a wait there is a queue, not an outage.
    pub async fn connect_with(url: &str, settings: PoolSettings) -> MemoryResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| MemoryError::UnsupportedUrl(url.to_owned()))?
            .foreign_keys(true)
            // A lock held longer than a query may wait for its connection is an outage
            // too: fail (503) as soon, rather than wait out the full busy time-out.
            .busy_timeout(BUSY_TIMEOUT.min(settings.acquire_timeout));
        let pool = if is_in_memory(url) {
            // The database disappears with its last connection: keep exactly one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            if let Some(folder) = options.get_filename().parent().filter(|p| *p != Path::new("")) {
                tokio::fs::create_dir_all(folder).await.map_err(sqlx::Error::Io)?;
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await?
        };
        super::migrations::migrator(super::migrations::SQLITE).run(&pool).await?;
        Ok(SqlStore { dialect: SqliteDialect { pool, write_lock: Arc::new(Mutex::new(())) } })
    }

    /// The connection pool, for queries the storage interfaces do not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.dialect.pool
    }
}

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    type Row = sqlx::sqlite::SqliteRow;
    type Arguments = sqlx::sqlite::SqliteArguments;
    type PoolExecutor<'p> = &'p SqlitePool;
    type ConnectionExecutor<'c> = &'c mut SqliteConnection;

    const BACKEND: Backend = Backend::Sqlite;
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const NOW_MS: &'static str = "select cast((julianday('now') - 2440587.5) * 86400000.0 as integer) as now_ms";
    const UNLEASED_AUTOPILOT_TENANTS: &'static str = "select t.id from tenants t \
         where t.is_active and json_extract(t.settings, '$.autopilot') = 1 \
         and not exists (select 1 from swarm_leases l where l.tenant_id = t.id and l.expires_ms > $1) \
         order by t.id limit $2";

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn write_lock(&self) -> Option<&Mutex<()>> {
        Some(&self.write_lock)
    }

    fn on_pool(pool: &SqlitePool) -> &SqlitePool {
        pool
    }

    fn on_connection(connection: &mut SqliteConnection) -> &mut SqliteConnection {
        connection
    }

    fn bind(query: DriverQuery<Sqlite>, value: Param<'_>) -> DriverQuery<Sqlite> {
        bind_param(query, &value)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn lock(_connection: &mut SqliteConnection, _lock: Lock) -> MemoryResult<()> {
        // The write transaction holds the database's only write lock already.
        Ok(())
    }

    async fn lease_epochs(
        connection: &mut SqliteConnection,
        tenants: &[TenantId],
    ) -> MemoryResult<HashMap<TenantId, i64>> {
        // The write transaction this runs in already excludes every other writer.
        let mut epochs = HashMap::with_capacity(tenants.len());
        for chunk in insert_chunks(tenants) {
            let mut select =
                QueryBuilder::<Sqlite>::new("select tenant_id, epoch from swarm_leases where tenant_id in (");
            let mut ids = select.separated(", ");
            for tenant in chunk {
                ids.push_bind(tenant.0);
            }
            select.push(")");
            for row in &select.build().fetch_all(&mut *connection).await? {
                epochs.insert(TenantId(row.int("tenant_id")?), row.int("epoch")?);
            }
        }
        Ok(epochs)
    }

    async fn reserve_event_numbers(
        connection: &mut SqliteConnection,
        counts: &[(TenantId, i64)],
    ) -> MemoryResult<HashMap<TenantId, i64>> {
        let mut last_seq = HashMap::with_capacity(counts.len());
        for chunk in insert_chunks(counts) {
            let mut reserve = QueryBuilder::<Sqlite>::new("insert into event_sequences (tenant_id, last_seq) ");
            reserve.push_values(chunk, |mut row, (tenant, count)| {
                row.push_bind(tenant.0).push_bind(*count);
            });
            reserve.push(
                " on conflict (tenant_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq \
                 returning tenant_id, last_seq",
            );
            let reserved = reserve
                .build()
                .fetch_all(&mut *connection)
                .await
                .map_err(|e| rows::write_error(e, "event", "tenant"))?;
            for row in &reserved {
                last_seq.insert(TenantId(row.int("tenant_id")?), row.int("last_seq")?);
            }
        }
        Ok(last_seq)
    }

    async fn insert_events(connection: &mut SqliteConnection, events: &[SwarmEvent]) -> MemoryResult<()> {
        for chunk in insert_chunks(events) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "insert into ai_events \
                 (tenant_id, seq, occurred_at, actor, kind, summary, data, revenue_impact) ",
            );
            insert.push_values(chunk, |mut row, event| {
                row.push_bind(event.tenant_id.0)
                    .push_bind(event.seq)
                    .push_bind(event.occurred_at)
                    .push_bind(&event.actor)
                    .push_bind(&event.kind)
                    .push_bind(&event.summary)
                    .push_bind(Json(&event.data))
                    .push_bind(event.revenue_impact.map(Money));
            });
            insert.build().execute(&mut *connection).await.map_err(|e| rows::write_error(e, "event", "tenant"))?;
        }
        Ok(())
    }
}

/// Money is the exact text of the decimal (see the module docs).
impl Type<Sqlite> for Money {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Money {
    fn encode_by_ref(&self, buffer: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.to_string(), buffer)
    }
}

/// Splits rows for multi-row `INSERT`s into chunks whose sizes are powers of two (largest
/// first, at most [`MAX_ROWS_PER_INSERT`]). Batches of any size then use at most 11
/// distinct statement texts, which stay in the prepared-statement cache.
fn insert_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = if rows.len() >= MAX_ROWS_PER_INSERT { MAX_ROWS_PER_INSERT } else { 1 << rows.len().ilog2() };
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Whether a `sqlite:` URL names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|param| param == "mode=memory")
}

#[cfg(test)]
mod tests {
    use super::{insert_chunks, is_in_memory};

    #[test]
    fn insert_chunks_are_powers_of_two_covering_every_row_in_order() {
        let rows: Vec<usize> = (0..3000).collect();
        let sizes: Vec<usize> = insert_chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![1024, 1024, 512, 256, 128, 32, 16, 8]);
        let rejoined: Vec<usize> = insert_chunks(&rows).flatten().copied().collect();
        assert_eq!(rejoined, rows);
        assert_eq!(insert_chunks(&rows[..0]).count(), 0);
        assert_eq!(insert_chunks(&rows[..7]).map(<[usize]>::len).collect::<Vec<_>>(), vec![4, 2, 1]);
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://data/boardroom.db"));
        assert!(!is_in_memory("sqlite:boardroom.db?mode=rwc"));
    }
}
