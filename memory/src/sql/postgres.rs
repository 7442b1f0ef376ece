//! The PostgreSQL dialect: production.
//!
//! What differs from SQLite: money is stored as unconstrained `NUMERIC`, written with
//! the scale it has (so "0.00" comes back as "0.00"); event batches are inserted from
//! one array per column (`unnest`) rather than chunked `VALUES` lists; and writers are
//! kept apart per concern rather than all at once. PostgreSQL has many concurrent
//! writers, so appenders meet on the row locks of their `event_sequences` upsert, a
//! count checked against a limit (or a value read and written back) is guarded by an
//! advisory lock for the rest of its transaction, and the first-user-is-admin rule takes
//! a table lock.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgArgumentBuffer, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow, PgSslMode, PgTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, PgConnection, PgPool, Postgres, Type};
use tokio::sync::Mutex;

use super::{Dialect, DriverQuery, Lock, Money, Param, SqlStore, bind_param};
use crate::model::{SwarmEvent, TenantId};
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult};
use crate::{MemoryError, PoolSettings};

/// Connections per process.
const MAX_CONNECTIONS: u32 = 16;
/// Connections per process kept for its upkeep in a cluster (see
/// [`Dialect::upkeep_pool`]), beyond [`MAX_CONNECTIONS`].
const UPKEEP_CONNECTIONS: u32 = 2;

/// SQLSTATE of "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";
/// SQLSTATE of "database already exists".
const DUPLICATE_DATABASE: &str = "42P04";

/// PostgreSQL's side of [`SqlStore`]: its pool.
#[derive(Debug, Clone)]
pub struct PostgresDialect {
    pool: PgPool,
    upkeep: PgPool,
}

impl SqlStore<PostgresDialect> {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`), creating
    /// it when it does not exist, and applies the migrations.
    pub async fn connect(url: &str) -> MemoryResult<Self> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// [`PostgresStore::connect`](super::PostgresStore::connect) with chosen pool
    /// settings: a query waits at most `settings.acquire_timeout` for a connection
    /// (opening one included), so with the server down it fails fast with
    /// [`sqlx::Error::PoolTimedOut`] instead of hanging.
    pub async fn connect_with(url: &str, settings: PoolSettings) -> MemoryResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|_| MemoryError::UnsupportedUrl(url.to_owned()))?;
        let options = without_tls_on_loopback(options, url, std::env::var_os("PGSSLMODE").is_some());
        let open = || {
            PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options.clone())
        };
        let pool = match open().await {
            Ok(pool) => pool,
            Err(error) if has_code(&error, INVALID_CATALOG_NAME) => {
                match Postgres::create_database(url).await {
                    // Another process may have created it meanwhile.
                    Err(error) if !has_code(&error, DUPLICATE_DATABASE) => return Err(error.into()),
                    _ => {}
                }
                open().await?
            }
            Err(error) => return Err(error.into()),
        };
        super::migrations::migrator(super::migrations::POSTGRES).run(&pool).await?;
        // Opened on first use: a process outside a cluster's upkeep never opens them.
        let upkeep = PgPoolOptions::new()
            .max_connections(UPKEEP_CONNECTIONS)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(SqlStore { dialect: PostgresDialect { pool, upkeep } })
    }

    /// The connection pool, for queries the storage interfaces do not cover.
    pub fn pool(&self) -> &PgPool {
        &self.dialect.pool
    }
}

/// A server on this machine reached over TCP is spoken to without TLS unless the URL
/// (or `PGSSLMODE`) names an `sslmode`: encryption over loopback protects nothing, and
/// through sqlx 0.9.0 it costs a 40 ms stall on many statements. sqlx leaves Nagle's
/// algorithm on, and its rustls glue sends a TLS message's records with separate writes;
/// the second waits for the server's delayed ACK of the first (seen with strace: the event
/// log's transactions, 256 events each, took 48 ms each with TLS and 4 ms without).
fn without_tls_on_loopback(options: PgConnectOptions, url: &str, mode_from_env: bool) -> PgConnectOptions {
    let host = options.get_host();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let mode_asked = mode_from_env || url.split_once('?').is_some_and(|(_, query)| query.contains("sslmode="));
    if loopback && !mode_asked { options.ssl_mode(PgSslMode::Disable) } else { options }
}

fn has_code(error: &sqlx::Error, code: &str) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

impl Dialect for PostgresDialect {
    type Db = Postgres;
    type Row = PgRow;
    type Arguments = sqlx::postgres::PgArguments;
    type PoolExecutor<'p> = &'p PgPool;
    type ConnectionExecutor<'c> = &'c mut PgConnection;

    const BACKEND: Backend = Backend::Postgres;
    const BEGIN_WRITE: Option<&'static str> = None;
    const NOW_MS: &'static str = "select cast(floor(extract(epoch from clock_timestamp()) * 1000) as bigint) as now_ms";
    const UNLEASED_AUTOPILOT_TENANTS: &'static str = "select t.id from tenants t \
         where t.is_active and (t.settings ->> 'autopilot') = 'true' \
         and not exists (select 1 from swarm_leases l where l.tenant_id = t.id and l.expires_ms > $1) \
         order by t.id limit $2";

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn upkeep_pool(&self) -> &PgPool {
        &self.upkeep
    }

    fn write_lock(&self) -> Option<&Mutex<()>> {
        None
    }

    fn on_pool(pool: &PgPool) -> &PgPool {
        pool
    }

    fn on_connection(connection: &mut PgConnection) -> &mut PgConnection {
        connection
    }

    fn bind(query: DriverQuery<Postgres>, value: Param<'_>) -> DriverQuery<Postgres> {
        bind_param(query, &value)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn lock(connection: &mut PgConnection, lock: Lock) -> MemoryResult<()> {
        let (namespace, id) = match lock {
            Lock::Users => {
                // Blocks other inserts (not reads) until commit, so "no admin yet" stays
                // true until our row is in.
                sqlx::query("lock table users in exclusive mode").execute(connection).await?;
                return Ok(());
            }
            Lock::TenantsOf(user) => (TENANT_LIMIT_LOCKS, user.0),
            Lock::ProductsOf(tenant) => (PRODUCT_LIMIT_LOCKS, tenant.0),
            Lock::CampaignsOf(tenant) => (CAMPAIGN_LIMIT_LOCKS, tenant.0),
            Lock::AgentMemoryOf(tenant) => (AGENT_MEMORY_LIMIT_LOCKS, tenant.0),
            Lock::MediaOf(user) => (MEDIA_QUOTA_LOCKS, user.0),
            Lock::PatternsOf(tenant) => (PATTERN_LOCKS, tenant.0),
            Lock::CampaignSpend(campaign) => (CAMPAIGN_SPEND_LOCKS, campaign),
            Lock::LedgerTotalsOf(tenant) => (LEDGER_TOTAL_LOCKS, tenant.0),
        };
        // A second transaction asking for the same key waits for the first to commit or
        // roll back, so what was read under it stays true until the row it allows is
        // written. Ids past `i32::MAX` share a key with a smaller one, which only makes
        // the two wait for each other.
        sqlx::query("select pg_advisory_xact_lock($1, $2)")
            .bind(namespace)
            .bind(i32::try_from(id.rem_euclid(i64::from(i32::MAX))).unwrap_or_default())
            .execute(connection)
            .await?;
        Ok(())
    }

    async fn lease_epochs(connection: &mut PgConnection, tenants: &[TenantId]) -> MemoryResult<HashMap<TenantId, i64>> {
        // `for share` makes a claim's update of these rows wait for our commit.
        let ids: Vec<i64> = tenants.iter().map(|tenant| tenant.0).collect();
        let rows = sqlx::query("select tenant_id, epoch from swarm_leases where tenant_id = any($1::int8[]) for share")
            .bind(ids)
            .fetch_all(connection)
            .await?;
        rows.iter().map(|row| Ok((TenantId(row.int("tenant_id")?), row.int("epoch")?))).collect()
    }

    async fn reserve_event_numbers(
        connection: &mut PgConnection,
        counts: &[(TenantId, i64)],
    ) -> MemoryResult<HashMap<TenantId, i64>> {
        // The row lock this takes makes other appenders of the tenant wait for our
        // commit; rows are locked in tenant order, so two appenders cannot deadlock.
        let (tenant_ids, tenant_counts): (Vec<i64>, Vec<i64>) =
            counts.iter().map(|(tenant, count)| (tenant.0, *count)).unzip();
        let reserved = sqlx::query(
            "insert into event_sequences (tenant_id, last_seq) select * from unnest($1::int8[], $2::int8[]) \
             on conflict (tenant_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq \
             returning tenant_id, last_seq",
        )
        .bind(tenant_ids)
        .bind(tenant_counts)
        .fetch_all(connection)
        .await
        .map_err(|e| rows::write_error(e, "event", "tenant"))?;
        let mut last_seq = HashMap::with_capacity(counts.len());
        for row in &reserved {
            last_seq.insert(TenantId(row.int("tenant_id")?), row.int("last_seq")?);
        }
        Ok(last_seq)
    }

    async fn insert_events(connection: &mut PgConnection, events: &[SwarmEvent]) -> MemoryResult<()> {
        // One statement whatever the batch size: arrays, one per column, unnested into
        // rows. Unlike a multi-row VALUES list this has no parameter limit and is planned
        // once, which makes it several times faster for large batches.
        let mut columns = EventColumns::with_capacity(events.len());
        for event in events {
            columns.push(event);
        }
        sqlx::query(
            "insert into ai_events \
             (tenant_id, seq, occurred_at, actor, kind, summary, data, revenue_impact) \
             select t, s, o, a, k, m, d, r::numeric from unnest($1::int8[], $2::int8[], \
             $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[]) \
             as batch (t, s, o, a, k, m, d, r)",
        )
        .bind(columns.tenant_ids)
        .bind(columns.seqs)
        .bind(columns.occurred_at)
        .bind(columns.actors)
        .bind(columns.kinds)
        .bind(columns.summaries)
        .bind(columns.data)
        .bind(columns.revenue_impacts)
        .execute(connection)
        .await
        .map_err(|e| rows::write_error(e, "event", "tenant"))?;
        Ok(())
    }
}

// Advisory-lock namespaces (two letters each), keyed by the id the lock names.

/// Limited tenant creations ("te"), by the owner's id.
const TENANT_LIMIT_LOCKS: i32 = 0x7465;
/// Limited product creations ("pr"), by the tenant's id.
const PRODUCT_LIMIT_LOCKS: i32 = 0x7072;
/// Limited campaign creations ("ca"), by the tenant's id.
const CAMPAIGN_LIMIT_LOCKS: i32 = 0x6361;
/// Limited agent-memory writes ("am"), by the tenant's id.
const AGENT_MEMORY_LIMIT_LOCKS: i32 = 0x616d;
/// Media uploads ("me"), by the owner's id.
const MEDIA_QUOTA_LOCKS: i32 = 0x6d65;
/// Pattern outcomes ("pa"), by the tenant's id.
const PATTERN_LOCKS: i32 = 0x7061;
/// Campaign spend ("cs"), by the campaign's id.
const CAMPAIGN_SPEND_LOCKS: i32 = 0x6373;
/// Ledger running totals ("lt"), by the tenant's id.
const LEDGER_TOTAL_LOCKS: i32 = 0x6c74;

/// A batch of events as one array per column, for `unnest`.
struct EventColumns<'a> {
    tenant_ids: Vec<i64>,
    seqs: Vec<i64>,
    occurred_at: Vec<DateTime<Utc>>,
    actors: Vec<&'a str>,
    kinds: Vec<&'a str>,
    summaries: Vec<&'a str>,
    data: Vec<Json<&'a serde_json::Value>>,
    revenue_impacts: Vec<Option<String>>,
}

impl<'a> EventColumns<'a> {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            tenant_ids: Vec::with_capacity(capacity),
            seqs: Vec::with_capacity(capacity),
            occurred_at: Vec::with_capacity(capacity),
            actors: Vec::with_capacity(capacity),
            kinds: Vec::with_capacity(capacity),
            summaries: Vec::with_capacity(capacity),
            data: Vec::with_capacity(capacity),
            revenue_impacts: Vec::with_capacity(capacity),
        }
    }

    fn push(&mut self, event: &'a SwarmEvent) {
        self.tenant_ids.push(event.tenant_id.0);
        self.seqs.push(event.seq);
        self.occurred_at.push(event.occurred_at);
        self.actors.push(&event.actor);
        self.kinds.push(&event.kind);
        self.summaries.push(&event.summary);
        self.data.push(Json(&event.data));
        self.revenue_impacts.push(event.revenue_impact.map(|amount| amount.to_string()));
    }
}

/// Money is `NUMERIC`, written with the scale the decimal has.
impl Type<Postgres> for Money {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Money {
    fn encode_by_ref(&self, buffer: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        if !self.0.is_zero() {
            return Encode::<Postgres>::encode_by_ref(&self.0, buffer);
        }
        // sqlx writes every zero as a plain 0, dropping the scale that "0.00" has. Zero
        // in NUMERIC's binary form is its header alone: no digits, weight 0, sign
        // positive, and the display scale, which is what keeps "0.00".
        let scale = i16::try_from(self.0.scale())?;
        for field in [0_i16, 0, 0, scale] {
            buffer.extend_from_slice(&field.to_be_bytes());
        }
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_goes_without_tls_unless_a_mode_is_asked_for() {
        let mode = |url: &str, from_env: bool| {
            let options = PgConnectOptions::from_str(url).expect("url");
            format!("{:?}", without_tls_on_loopback(options, url, from_env).get_ssl_mode())
        };
        for local in
            ["postgres://postgres@127.0.0.1:5432/test", "postgres://u@localhost/db", "postgres://u@[::1]:5432/db"]
        {
            assert_eq!(mode(local, false), "Disable", "{local}");
        }
        assert_eq!(mode("postgres://u@127.0.0.1/db?sslmode=require", false), "Require", "the URL's mode wins");
        assert_eq!(mode("postgres://u@127.0.0.1/db", true), mode("postgres://u@127.0.0.1/db?sslmode=prefer", false));
        assert_eq!(mode("postgres://u@db.example.com/db", false), "Prefer", "a remote server keeps the default");
    }

    fn encoded(text: &str) -> Vec<u8> {
        let mut buffer = PgArgumentBuffer::default();
        let amount = Money(Decimal::from_str_exact(text).expect("decimal"));
        assert!(matches!(Encode::<Postgres>::encode_by_ref(&amount, &mut buffer), Ok(IsNull::No)));
        buffer.to_vec()
    }

    #[test]
    fn zero_keeps_its_scale_and_other_amounts_encode_as_sqlx_does() {
        assert_eq!(encoded("0.00"), [0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(encoded("0"), [0, 0, 0, 0, 0, 0, 0, 0]);
        // 1.50: one base-10000 digit before the point (1), one after (5000), scale 2.
        assert_eq!(encoded("1.50"), [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88]);
    }
}
