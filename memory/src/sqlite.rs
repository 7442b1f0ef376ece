//! The embedded default backend: one SQLite file (or an in-memory database for tests).
//!
//! SQLite allows one writer at a time. Writes made through this store first queue on an
//! in-process lock (a fair FIFO queue, where SQLite's own busy handler would poll with
//! sleeps), then open their transaction with `BEGIN IMMEDIATE`, so a writer in another
//! process makes them wait on the busy timeout instead of failing to upgrade a read
//! lock halfway through. Readers never wait for writers (WAL).
//!
//! Money is stored as the exact text of [`Decimal`](rust_decimal::Decimal), because
//! SQLite has no decimal type; the PostgreSQL backend (`postgres.rs`) mirrors this file
//! query for query.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::Mutex;

use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult, Store};
use crate::{InviteRejection, MemoryError};

/// Connections of a file database: readers run side by side under WAL.
const MAX_CONNECTIONS: u32 = 8;
/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most rows one multi-row `INSERT` carries: 1,024 events × 8 columns = 8,192 bind
/// parameters, under SQLite's limit of 32,766.
const MAX_ROWS_PER_INSERT: usize = 1024;

/// The SQLite backend of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises this process's writes; see the module docs.
    write_lock: Arc<Mutex<()>>,
}

/// Splits rows for multi-row `INSERT`s into chunks whose sizes are powers of two (largest
/// first, at most [`MAX_ROWS_PER_INSERT`]). Batches of any size then use at most 11
/// distinct statement texts, which stay in the prepared-statement cache.
fn insert_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = if rows.len() >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << rows.len().ilog2()
        };
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Whether a `sqlite:` URL names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|param| param == "mode=memory")
}

impl SqliteStore {
    /// Opens (creating the file and its folder if missing) the database at `url` and
    /// applies the migrations. Accepts `sqlite:PATH`, `sqlite://PATH` and
    /// `sqlite::memory:`; an in-memory database lives as long as the store, on a single
    /// connection so every query sees it.
    pub async fn connect(url: &str) -> MemoryResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| MemoryError::UnsupportedUrl(url.to_owned()))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
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
            if let Some(folder) = options
                .get_filename()
                .parent()
                .filter(|p| *p != Path::new(""))
            {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(sqlx::Error::Io)?;
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .connect_with(options)
                .await?
        };
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// The connection pool, for queries the [`Store`] trait does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn insert_user(
        &self,
        executor: impl sqlx::SqliteExecutor<'_>,
        user: &NewUser,
        role: Role,
    ) -> MemoryResult<User> {
        let row = sqlx::query(concat!(
            "insert into users (email, password_hash, role, tier, created_at) values (?, ?, ?, ?, ?) returning ",
            rows::user_columns!()
        ))
        .bind(rows::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(role.as_str())
        .bind(user.tier.as_str())
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(executor)
        .await
        .map_err(|e| rows::write_error(e, "email", "user"))?;
        rows::user(&row)
    }

    async fn find_invite(&self, code: &str) -> MemoryResult<Option<Invite>> {
        sqlx::query(concat!(
            "select ",
            rows::invite_columns!(),
            " from invite_codes where code = ?"
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::invite(&row))
        .transpose()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> MemoryResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    // ---- users ----

    async fn create_user(&self, user: NewUser) -> MemoryResult<User> {
        let _write = self.write_lock.lock().await;
        self.insert_user(&self.pool, &user, user.role).await
    }

    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User> {
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("select exists (select 1 from users) as taken")
            .fetch_one(&mut *tx)
            .await?;
        let role = rows::first_user_role(row.flag("taken")?);
        let created = self.insert_user(&mut *tx, &user, role).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user(&self, id: UserId) -> MemoryResult<Option<User>> {
        sqlx::query(concat!(
            "select ",
            rows::user_columns!(),
            " from users where id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::user(&row))
        .transpose()
    }

    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>> {
        sqlx::query(concat!(
            "select ",
            rows::user_columns!(),
            " from users where email = ?"
        ))
        .bind(rows::normalize_email(email))
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::user(&row))
        .transpose()
    }

    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>> {
        sqlx::query(concat!(
            "select ",
            rows::user_columns!(),
            " from users where id > ? order by id limit ?"
        ))
        .bind(after.map_or(0, |id| id.0))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::user)
        .collect()
    }

    async fn count_users(&self) -> MemoryResult<i64> {
        sqlx::query("select count(*) as n from users")
            .fetch_one(&self.pool)
            .await?
            .int("n")
    }

    async fn set_user_role(&self, id: UserId, role: Role) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update users set role = ? where id = ?")
            .bind(role.as_str())
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn set_user_tier(&self, id: UserId, tier: Tier) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update users set tier = ? where id = ?")
            .bind(tier.as_str())
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update users set last_login = ? where id = ?")
            .bind(rows::stored_time(at))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    // ---- tenants ----

    async fn create_tenant(&self, tenant: NewTenant) -> MemoryResult<Tenant> {
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into tenants (user_id, name, domain, personality, settings, is_active, created_at) \
             values (?, ?, ?, ?, ?, true, ?) returning ",
            rows::tenant_columns!()
        ))
        .bind(tenant.user_id.0)
        .bind(&tenant.name)
        .bind(&tenant.domain)
        .bind(&tenant.personality)
        .bind(Json(&tenant.settings))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "tenant", "user"))?;
        rows::tenant(&row)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        sqlx::query(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::tenant(&row))
        .transpose()
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where id > ? order by id limit ?"
        ))
        .bind(after.map_or(0, |id| id.0))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::tenant)
        .collect()
    }

    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where user_id = ? order by id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::tenant)
        .collect()
    }

    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update tenants set is_active = ? where id = ?")
            .bind(active)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "tenant")
    }

    // ---- event log ----

    async fn append_events(&self, events: &[NewEvent]) -> MemoryResult<Vec<SwarmEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let counts = rows::events_per_tenant(events);
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;

        // Reserve each tenant's numbers: last_seq moves on by the tenant's count.
        let mut last_seq = HashMap::with_capacity(counts.len());
        for chunk in insert_chunks(&counts) {
            let mut reserve =
                QueryBuilder::<Sqlite>::new("insert into event_sequences (tenant_id, last_seq) ");
            reserve.push_values(chunk, |mut row, (tenant, count)| {
                row.push_bind(tenant.0).push_bind(*count);
            });
            reserve.push(
                " on conflict (tenant_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq \
                 returning tenant_id, last_seq",
            );
            let reserved = reserve
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| rows::write_error(e, "event", "tenant"))?;
            for row in &reserved {
                last_seq.insert(TenantId(row.int("tenant_id")?), row.int("last_seq")?);
            }
        }

        let stored = rows::number_events(events, &counts, &last_seq)?;
        for chunk in insert_chunks(&stored) {
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
                    .push_bind(event.revenue_impact.map(|amount| amount.to_string()));
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| rows::write_error(e, "event", "tenant"))?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn events_after(
        &self,
        tenant: TenantId,
        after: i64,
        limit: i64,
    ) -> MemoryResult<Vec<SwarmEvent>> {
        sqlx::query(concat!(
            "select ",
            rows::event_columns!(""),
            " from ai_events where tenant_id = ? and seq > ? order by seq limit ?"
        ))
        .bind(tenant.0)
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::event)
        .collect()
    }

    async fn last_event_seq(&self, tenant: TenantId) -> MemoryResult<i64> {
        sqlx::query("select coalesce(max(seq), 0) as last from ai_events where tenant_id = ?")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?
            .int("last")
    }

    // ---- ledger ----

    async fn record_ledger_entry(&self, entry: NewLedgerEntry) -> MemoryResult<LedgerEntry> {
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into profit_logs (tenant_id, source, amount, category, transaction_id, metadata, recorded_at) \
             values (?, ?, ?, ?, ?, ?, ?) returning ",
            rows::ledger_columns!("")
        ))
        .bind(entry.tenant_id.0)
        .bind(&entry.source)
        .bind(entry.amount.to_string())
        .bind(&entry.category)
        .bind(&entry.transaction_id)
        .bind(Json(&entry.metadata))
        .bind(rows::stored_time(entry.recorded_at))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "transaction_id", "tenant"))?;
        rows::ledger_entry(&row)
    }

    async fn ledger_entries(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<LedgerEntry>> {
        // Timestamps are RFC 3339 text in one shape, so text order is time order.
        sqlx::query(concat!(
            "select ",
            rows::ledger_columns!(""),
            " from profit_logs where tenant_id = ? and recorded_at >= ? and recorded_at < ? \
              order by recorded_at, id"
        ))
        .bind(tenant.0)
        .bind(rows::stored_time(from))
        .bind(rows::stored_time(to))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::ledger_entry)
        .collect()
    }

    // ---- invites ----

    async fn create_invite(&self, invite: NewInvite) -> MemoryResult<Invite> {
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into invite_codes (code, created_by, uses_remaining, expires_at, is_active, created_at) \
             values (?, ?, ?, ?, true, ?) returning ",
            rows::invite_columns!()
        ))
        .bind(&invite.code)
        .bind(invite.created_by.map(|user| user.0))
        .bind(invite.uses)
        .bind(invite.expires_at.map(rows::stored_time))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "code", "user"))?;
        rows::invite(&row)
    }

    async fn consume_invite(
        &self,
        code: &str,
        user: UserId,
        now: DateTime<Utc>,
    ) -> MemoryResult<Invite> {
        let now = rows::stored_time(now);
        // A few rounds only matter if an admin changes the code between our two statements.
        for _ in 0..3 {
            let taken = {
                let _write = self.write_lock.lock().await;
                sqlx::query(concat!(
                    "update invite_codes set uses_remaining = uses_remaining - 1, used_by = ?, used_at = ? \
                     where code = ? and is_active and uses_remaining > 0 and (expires_at is null or expires_at > ?) \
                     returning ",
                    rows::invite_columns!()
                ))
                .bind(user.0)
                .bind(now)
                .bind(code)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| rows::write_error(e, "code", "user"))?
            };
            if let Some(row) = taken {
                return rows::invite(&row);
            }
            let invite = self
                .find_invite(code)
                .await?
                .ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
            if let Some(refusal) = rows::invite_refusal(&invite, now) {
                return Err(MemoryError::InviteRejected(refusal));
            }
        }
        Err(MemoryError::InviteRejected(InviteRejection::Exhausted))
    }

    async fn check_invite(&self, code: &str, now: DateTime<Utc>) -> MemoryResult<Invite> {
        let invite = self
            .find_invite(code)
            .await?
            .ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
        match rows::invite_refusal(&invite, now) {
            Some(refusal) => Err(MemoryError::InviteRejected(refusal)),
            None => Ok(invite),
        }
    }

    async fn list_invites(&self) -> MemoryResult<Vec<Invite>> {
        sqlx::query(concat!(
            "select ",
            rows::invite_columns!(),
            " from invite_codes order by id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::invite)
        .collect()
    }

    // ---- autopilot checkpoints ----

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into autopilot_checkpoints (tenant_id, cycle, step, state, updated_at) values (?, ?, ?, ?, ?) \
             on conflict (tenant_id) do update set \
             cycle = excluded.cycle, step = excluded.step, state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(checkpoint.tenant_id.0)
        .bind(checkpoint.cycle)
        .bind(&checkpoint.step)
        .bind(Json(&checkpoint.state))
        .bind(rows::stored_time(checkpoint.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "checkpoint", "tenant"))?;
        Ok(())
    }

    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>> {
        sqlx::query(concat!(
            "select ",
            rows::checkpoint_columns!(),
            " from autopilot_checkpoints where tenant_id = ?"
        ))
        .bind(tenant.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::checkpoint(&row))
        .transpose()
    }

    // ---- usage counters ----

    async fn add_usage(
        &self,
        subject: UsageSubject,
        counter: &str,
        period: &str,
        amount: i64,
    ) -> MemoryResult<i64> {
        let (kind, id) = rows::usage_key(subject);
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into usage_counters (subject_kind, subject_id, counter, period, value) values (?, ?, ?, ?, ?) \
             on conflict (subject_kind, subject_id, counter, period) \
             do update set value = usage_counters.value + excluded.value returning value",
        )
        .bind(kind)
        .bind(id)
        .bind(counter)
        .bind(period)
        .bind(amount)
        .fetch_one(&self.pool)
        .await?
        .int("value")
    }

    async fn usage(&self, subject: UsageSubject, counter: &str, period: &str) -> MemoryResult<i64> {
        let (kind, id) = rows::usage_key(subject);
        let row = sqlx::query(
            "select value from usage_counters where subject_kind = ? and subject_id = ? and counter = ? and period = ?",
        )
        .bind(kind)
        .bind(id)
        .bind(counter)
        .bind(period)
        .fetch_optional(&self.pool)
        .await?;
        row.map_or(Ok(0), |row| row.int("value"))
    }
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
        assert_eq!(
            insert_chunks(&rows[..7])
                .map(<[usize]>::len)
                .collect::<Vec<_>>(),
            vec![4, 2, 1]
        );
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
