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
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::Mutex;

use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{
    AccountStore, Backend, BusinessStore, EventStore, LearningStore, LedgerStore, MediaStore, MemoryResult,
    MeteringStore, PlatformStore, TenantStore,
};
use crate::{InviteRejection, MemoryError};

/// Connections of a file database: readers run side by side under WAL.
const MAX_CONNECTIONS: u32 = 8;
/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most rows one multi-row `INSERT` carries: 1,024 events × 8 columns = 8,192 bind
/// parameters, under SQLite's limit of 32,766.
const MAX_ROWS_PER_INSERT: usize = 1024;

/// The SQLite backend of [`Store`](crate::Store).
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

impl SqliteStore {
    /// Opens (creating the file and its folder if missing) the database at `url` and
    /// applies the migrations. Accepts `sqlite:PATH`, `sqlite://PATH` and
    /// `sqlite::memory:`; an in-memory database lives as long as the store, on a single
    /// connection so every query sees it.
    pub async fn connect(url: &str) -> MemoryResult<Self> {
        Self::connect_with(url, crate::PoolSettings::default()).await
    }

    /// [`SqliteStore::connect`] with chosen pool settings. A file database's queries
    /// wait at most `settings.acquire_timeout` for a pooled connection, and a write held up
    /// by another connection's lock waits as long (at most the 5 s busy time-out), then
    /// fails with `SQLITE_BUSY`. An in-memory database's single connection keeps
    /// sqlx's acquire time-out: it cannot go away, so a wait there is a queue, not an
    /// outage.
    pub async fn connect_with(url: &str, settings: crate::PoolSettings) -> MemoryResult<Self> {
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
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, write_lock: Arc::new(Mutex::new(())) })
    }

    /// The connection pool, for queries the storage interfaces do not cover.
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

    /// Writes (replaces) a tenant's checkpoint.
    async fn upsert_checkpoint(executor: impl sqlx::SqliteExecutor<'_>, checkpoint: &Checkpoint) -> MemoryResult<()> {
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
        .execute(executor)
        .await
        .map_err(|e| rows::write_error(e, "checkpoint", "tenant"))?;
        Ok(())
    }

    /// Inserts an experience; `None` when `key` is given and the tenant already recorded it.
    async fn insert_experience(
        executor: impl sqlx::SqliteExecutor<'_>,
        experience: &NewExperience,
        key: Option<&str>,
    ) -> MemoryResult<Option<Experience>> {
        let row = sqlx::query(concat!(
            "insert into experiences (tenant_id, action_type, context, result, success, \
             revenue_generated, lessons_learned, created_at, record_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             on conflict (tenant_id, record_key) do nothing returning ",
            rows::experience_columns!("")
        ))
        .bind(experience.tenant_id.0)
        .bind(&experience.action_type)
        .bind(Json(&experience.context))
        .bind(Json(&experience.result))
        .bind(experience.success)
        .bind(experience.revenue.to_string())
        .bind(&experience.lessons)
        .bind(rows::stored_time(Utc::now()))
        .bind(key)
        .fetch_optional(executor)
        .await
        .map_err(|e| rows::write_error(e, "experience", "tenant"))?;
        row.as_ref().map(rows::experience).transpose()
    }

    /// Folds one outcome into a pattern inside the caller's transaction, which must hold
    /// the write lock: make sure the row exists, read its counts, fold the outcome in
    /// (exact decimals, in Rust), write them back, so concurrent outcomes are all
    /// counted. PostgreSQL does the same with a row lock.
    async fn fold_pattern_outcome(
        connection: &mut sqlx::SqliteConnection,
        tenant: TenantId,
        outcome: &PatternOutcome,
    ) -> MemoryResult<SuccessfulPattern> {
        let now = rows::stored_time(Utc::now());
        sqlx::query(
            "insert into successful_patterns (tenant_id, pattern_type, pattern_key, pattern_data, \
             usage_count, success_count, success_rate, avg_revenue, last_used) \
             values (?, ?, ?, ?, 0, 0, 0.0, '0', ?) \
             on conflict (tenant_id, pattern_type, pattern_key) do nothing",
        )
        .bind(tenant.0)
        .bind(&outcome.pattern_type)
        .bind(&outcome.pattern_key)
        .bind(Json(&outcome.pattern_data))
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|e| rows::write_error(e, "pattern", "tenant"))?;
        let current = sqlx::query(
            "select usage_count, success_count, avg_revenue from successful_patterns \
             where tenant_id = ? and pattern_type = ? and pattern_key = ?",
        )
        .bind(tenant.0)
        .bind(&outcome.pattern_type)
        .bind(&outcome.pattern_key)
        .fetch_one(&mut *connection)
        .await?;
        let stats = rows::next_pattern_stats(
            current.int("usage_count")?,
            current.int("success_count")?,
            current.money("avg_revenue")?,
            outcome.success,
            outcome.revenue,
        )?;
        let row = sqlx::query(concat!(
            "update successful_patterns set pattern_data = ?, usage_count = ?, success_count = ?, \
             success_rate = ?, avg_revenue = ?, last_used = ? \
             where tenant_id = ? and pattern_type = ? and pattern_key = ? returning ",
            rows::pattern_columns!("")
        ))
        .bind(Json(&outcome.pattern_data))
        .bind(stats.usage_count)
        .bind(stats.success_count)
        .bind(stats.success_rate)
        .bind(stats.avg_revenue.to_string())
        .bind(now)
        .bind(tenant.0)
        .bind(&outcome.pattern_type)
        .bind(&outcome.pattern_key)
        .fetch_one(&mut *connection)
        .await?;
        rows::pattern(&row)
    }

    /// Whether a tenant exists: names what a guarded insert that wrote nothing missed.
    async fn tenant_exists(&self, tenant: TenantId) -> MemoryResult<bool> {
        sqlx::query("select exists (select 1 from tenants where id = ?) as found")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?
            .flag("found")
    }

    async fn find_invite(&self, code: &str) -> MemoryResult<Option<Invite>> {
        sqlx::query(concat!("select ", rows::invite_columns!(), " from invite_codes where code = ?"))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::invite(&row))
            .transpose()
    }
}

#[async_trait]
impl PlatformStore for SqliteStore {
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

    async fn set_platform_setting(&self, key: &str, value: &Value) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into platform_settings (key, value, updated_at) values (?, ?, ?) \
             on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(Json(value))
        .bind(rows::stored_time(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn platform_setting(&self, key: &str) -> MemoryResult<Option<Value>> {
        sqlx::query("select value from platform_settings where key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.json("value"))
            .transpose()
    }

    async fn record_webhook_delivery(
        &self,
        provider: &str,
        delivery_id: &str,
        received_at: DateTime<Utc>,
    ) -> MemoryResult<bool> {
        let received_at = rows::stored_time(received_at);
        let _write = self.write_lock.lock().await;
        sqlx::query("delete from webhook_deliveries where received_at < ?")
            .bind(rows::stored_time(received_at - crate::WEBHOOK_DELIVERY_RETENTION))
            .execute(&self.pool)
            .await?;
        // The primary key settles races: a second insert of the same id changes nothing.
        let done = sqlx::query(
            "insert into webhook_deliveries (provider, delivery_id, received_at) values (?, ?, ?) \
             on conflict (provider, delivery_id) do nothing",
        )
        .bind(provider)
        .bind(delivery_id)
        .bind(received_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn forget_webhook_delivery(&self, provider: &str, delivery_id: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query("delete from webhook_deliveries where provider = ? and delivery_id = ?")
            .bind(provider)
            .bind(delivery_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn platform_stats(&self, since: DateTime<Utc>, period: &str) -> MemoryResult<PlatformStats> {
        let sql = rows::platform_stats_sql("?1", "?2", "");
        // Built from constants only: the values are bound.
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows::stored_time(since))
            .bind(period)
            .fetch_one(&self.pool)
            .await?;
        rows::platform_stats(&row)
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> MemoryResult<User> {
        let _write = self.write_lock.lock().await;
        self.insert_user(&self.pool, &user, user.role).await
    }

    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User> {
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("select exists (select 1 from users where role = 'admin') as taken")
            .fetch_one(&mut *tx)
            .await?;
        let role = rows::first_user_role(row.flag("taken")?);
        let created = self.insert_user(&mut *tx, &user, role).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user(&self, id: UserId) -> MemoryResult<Option<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where email = ?"))
            .bind(rows::normalize_email(email))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where id > ? order by id limit ?"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn count_users(&self) -> MemoryResult<i64> {
        sqlx::query("select count(*) as n from users").fetch_one(&self.pool).await?.int("n")
    }

    async fn admin_exists(&self) -> MemoryResult<bool> {
        sqlx::query("select exists (select 1 from users where role = 'admin') as taken")
            .fetch_one(&self.pool)
            .await?
            .flag("taken")
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

    async fn set_user_password_hash(&self, id: UserId, hash: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update users set password_hash = ? where id = ?")
            .bind(hash)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn delete_user(&self, id: UserId) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // usage_counters has no foreign key: the user's and their tenants' counters go
        // here; the foreign keys' cascades take the rest.
        sqlx::query(
            "delete from usage_counters where (subject_kind = ? and subject_id = ?) \
             or (subject_kind = ? and subject_id in (select id from tenants where user_id = ?))",
        )
        .bind(rows::USER_USAGE)
        .bind(id.0)
        .bind(rows::TENANT_USAGE)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("delete from users where id = ?").bind(id.0).execute(&mut *tx).await?;
        rows::expect_one(done.rows_affected(), "user")?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_api_token(&self, token: NewApiToken) -> MemoryResult<ApiToken> {
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into api_tokens (user_id, name, token_hash, created_at) values (?, ?, ?, ?) returning ",
            rows::api_token_columns!()
        ))
        .bind(token.user_id.0)
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "token", "user"))?;
        rows::api_token(&row)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> MemoryResult<Option<ApiToken>> {
        sqlx::query(concat!(
            "select ",
            rows::api_token_columns!(),
            " from api_tokens where token_hash = ? and revoked_at is null"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::api_token(&row))
        .transpose()
    }

    async fn api_tokens(&self, user: UserId) -> MemoryResult<Vec<ApiToken>> {
        sqlx::query(concat!("select ", rows::api_token_columns!(), " from api_tokens where user_id = ? order by id"))
            .bind(user.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::api_token)
            .collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: i64) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done =
            sqlx::query("update api_tokens set revoked_at = ? where user_id = ? and id = ? and revoked_at is null")
                .bind(rows::stored_time(Utc::now()))
                .bind(user.0)
                .bind(id)
                .execute(&self.pool)
                .await?;
        rows::expect_one(done.rows_affected(), "token")
    }

    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update api_tokens set last_used_at = ? where id = ?")
            .bind(rows::stored_time(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "token")
    }

    async fn save_session(&self, session: &SessionRecord) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into sessions (id, user_id, data, expires_at, created_at) values (?, ?, ?, ?, ?) \
             on conflict (id) do update set \
             user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&session.id)
        .bind(session.user_id.map(|user| user.0))
        .bind(Json(&session.data))
        .bind(rows::stored_time(session.expires_at))
        .bind(rows::stored_time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "session", "user"))?;
        Ok(())
    }

    async fn load_session(&self, id: &str, now: DateTime<Utc>) -> MemoryResult<Option<SessionRecord>> {
        sqlx::query(concat!("select ", rows::session_columns!(), " from sessions where id = ? and expires_at > ?"))
            .bind(id)
            .bind(rows::stored_time(now))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::session(&row))
            .transpose()
    }

    async fn delete_session(&self, id: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query("delete from sessions where id = ?").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> MemoryResult<u64> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("delete from sessions where expires_at <= ?")
            .bind(rows::stored_time(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_user_sessions(&self, user: UserId) -> MemoryResult<u64> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("delete from sessions where user_id = ?").bind(user.0).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn set_access_control(
        &self,
        user: UserId,
        control_type: &str,
        control_value: &str,
    ) -> MemoryResult<AccessControl> {
        let _write = self.write_lock.lock().await;
        // The conflict target is the partial unique index on active rows (0003).
        let row = sqlx::query(concat!(
            "insert into access_controls (user_id, control_type, control_value, is_active, created_at) \
             values (?, ?, ?, true, ?) \
             on conflict (user_id, control_type) where is_active do update set \
             control_value = excluded.control_value, created_at = excluded.created_at returning ",
            rows::access_control_columns!()
        ))
        .bind(user.0)
        .bind(control_type)
        .bind(control_value)
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "access_control", "user"))?;
        rows::access_control(&row)
    }

    async fn access_controls(&self, user: UserId) -> MemoryResult<Vec<AccessControl>> {
        sqlx::query(concat!(
            "select ",
            rows::access_control_columns!(),
            " from access_controls where user_id = ? and is_active order by control_type"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::access_control)
        .collect()
    }

    async fn remove_access_control(&self, user: UserId, control_type: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query(
            "update access_controls set is_active = false where user_id = ? and control_type = ? and is_active",
        )
        .bind(user.0)
        .bind(control_type)
        .execute(&self.pool)
        .await?;
        rows::expect_one(done.rows_affected(), "access_control")
    }

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

    async fn consume_invite(&self, code: &str, user: UserId, now: DateTime<Utc>) -> MemoryResult<Invite> {
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
            let invite = self.find_invite(code).await?.ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
            if let Some(refusal) = rows::invite_refusal(&invite, now) {
                return Err(MemoryError::InviteRejected(refusal));
            }
        }
        Err(MemoryError::InviteRejected(InviteRejection::Exhausted))
    }

    async fn check_invite(&self, code: &str, now: DateTime<Utc>) -> MemoryResult<Invite> {
        let invite = self.find_invite(code).await?.ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
        match rows::invite_refusal(&invite, now) {
            Some(refusal) => Err(MemoryError::InviteRejected(refusal)),
            None => Ok(invite),
        }
    }

    async fn list_invites(&self) -> MemoryResult<Vec<Invite>> {
        sqlx::query(concat!("select ", rows::invite_columns!(), " from invite_codes order by id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::invite)
            .collect()
    }
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant_within_limit(&self, tenant: NewTenant, limit: Option<u64>) -> MemoryResult<Tenant> {
        // Writes are serialised here and `BEGIN IMMEDIATE` holds off other processes'
        // writers, so no other tenant can be inserted between the count and the insert.
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(limit) = limit {
            let count = sqlx::query("select count(*) as counted from tenants where user_id = ?")
                .bind(tenant.user_id.0)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "businesses")?;
        }
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
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "tenant", "user"))?;
        let created = rows::tenant(&row)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::tenant(&row))
            .transpose()
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where id > ? order by id limit ?"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where user_id = ? order by id"))
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

    async fn tenants_of_user_page(
        &self,
        user: UserId,
        after: Option<TenantId>,
        limit: i64,
    ) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where user_id = ? and id > ? order by id limit ?"
        ))
        .bind(user.0)
        .bind(after.map_or(0, |id| id.0))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::tenant)
        .collect()
    }

    async fn update_tenant(&self, id: TenantId, owner: UserId, changes: TenantChanges) -> MemoryResult<Tenant> {
        let (set_domain, domain) = rows::domain_change(&changes);
        let _write = self.write_lock.lock().await;
        sqlx::query(concat!(
            "update tenants set name = coalesce(?, name), domain = case when ? then ? else domain end, \
             personality = coalesce(?, personality), settings = coalesce(?, settings) \
             where id = ? and user_id = ? returning ",
            rows::tenant_columns!()
        ))
        .bind(changes.name.as_deref())
        .bind(set_domain)
        .bind(domain)
        .bind(changes.personality.as_deref())
        .bind(changes.settings.as_ref().map(Json))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(&self.pool)
        .await?
        .map_or_else(|| Err(MemoryError::NotFound("tenant".to_owned())), |row| rows::tenant(&row))
    }

    async fn delete_tenant(&self, id: TenantId, owner: UserId) -> MemoryResult<()> {
        let (kind, subject) = rows::usage_key(UsageSubject::Tenant(id));
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Every foreign key to tenants cascades (0001, 0002); usage_counters has none.
        let done = sqlx::query("delete from tenants where id = ? and user_id = ?")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await?;
        rows::expect_one(done.rows_affected(), "tenant")?;
        sqlx::query("delete from usage_counters where subject_kind = ? and subject_id = ?")
            .bind(kind)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_events_and_checkpoints(
        &self,
        events: &[NewEvent],
        checkpoints: &[Checkpoint],
    ) -> MemoryResult<Vec<SwarmEvent>> {
        if events.is_empty() && checkpoints.is_empty() {
            return Ok(Vec::new());
        }
        let counts = rows::events_per_tenant(events);
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;

        // Reserve each tenant's numbers: last_seq moves on by the tenant's count.
        let mut last_seq = HashMap::with_capacity(counts.len());
        for chunk in insert_chunks(&counts) {
            let mut reserve = QueryBuilder::<Sqlite>::new("insert into event_sequences (tenant_id, last_seq) ");
            reserve.push_values(chunk, |mut row, (tenant, count)| {
                row.push_bind(tenant.0).push_bind(*count);
            });
            reserve.push(
                " on conflict (tenant_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq \
                 returning tenant_id, last_seq",
            );
            let reserved =
                reserve.build().fetch_all(&mut *tx).await.map_err(|e| rows::write_error(e, "event", "tenant"))?;
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
            insert.build().execute(&mut *tx).await.map_err(|e| rows::write_error(e, "event", "tenant"))?;
        }
        for checkpoint in checkpoints {
            Self::upsert_checkpoint(&mut *tx, checkpoint).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn events_after(&self, tenant: TenantId, after: i64, limit: i64) -> MemoryResult<Vec<SwarmEvent>> {
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
}

#[async_trait]
impl LedgerStore for SqliteStore {
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

    async fn ledger_totals(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<(String, Decimal)>> {
        // Money is text here, so the sum is taken in Rust, exactly.
        let found = sqlx::query(
            "select category, amount from profit_logs \
             where tenant_id = ? and recorded_at >= ? and recorded_at < ?",
        )
        .bind(tenant.0)
        .bind(rows::stored_time(from))
        .bind(rows::stored_time(to))
        .fetch_all(&self.pool)
        .await?;
        let amounts = found
            .iter()
            .map(|row| Ok((row.text("category")?, row.money("amount")?)))
            .collect::<MemoryResult<Vec<_>>>()?;
        rows::ledger_totals(amounts)
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        Self::upsert_checkpoint(&self.pool, checkpoint).await
    }

    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>> {
        sqlx::query(concat!("select ", rows::checkpoint_columns!(), " from autopilot_checkpoints where tenant_id = ?"))
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::checkpoint(&row))
            .transpose()
    }
}

#[async_trait]
impl BusinessStore for SqliteStore {
    async fn create_product_within_limit(&self, product: NewProduct, limit: Option<u64>) -> MemoryResult<Product> {
        let now = rows::stored_time(Utc::now());
        // Writes are serialised here and `BEGIN IMMEDIATE` holds off other processes'
        // writers, so no other product can be inserted between the count and the insert.
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(limit) = limit {
            let count = sqlx::query("select count(*) as counted from products where tenant_id = ? and status <> ?")
                .bind(product.tenant_id.0)
                .bind(DELETED_PRODUCT_STATUS)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "products")?;
        }
        // The foreign key only says the store exists; the guard says it is the tenant's.
        let row = sqlx::query(concat!(
            "insert into products (tenant_id, store_id, niche, title, description, tags, price, cost, \
             currency, status, external_id, created_at, updated_at) \
             select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
             where ? is null or exists (select 1 from product_stores where id = ? and tenant_id = ?) \
             returning ",
            rows::product_columns!("")
        ))
        .bind(product.tenant_id.0)
        .bind(product.store_id)
        .bind(&product.niche)
        .bind(&product.title)
        .bind(&product.description)
        .bind(Json(&product.tags))
        .bind(product.price.to_string())
        .bind(product.cost.to_string())
        .bind(&product.currency)
        .bind(&product.status)
        .bind(&product.external_id)
        .bind(now)
        .bind(now)
        .bind(product.store_id)
        .bind(product.store_id)
        .bind(product.tenant_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "product", "tenant"))?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(rows::missing_parent(self.tenant_exists(product.tenant_id).await?, "store"));
        };
        let created = rows::product(&row)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn products(&self, tenant: TenantId) -> MemoryResult<Vec<Product>> {
        sqlx::query(concat!("select ", rows::product_columns!(""), " from products where tenant_id = ? order by id"))
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::product)
            .collect()
    }

    async fn product(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<Product>> {
        sqlx::query(concat!("select ", rows::product_columns!(""), " from products where tenant_id = ? and id = ?"))
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::product(&row))
            .transpose()
    }

    async fn update_product_price(&self, tenant: TenantId, id: i64, price: Decimal) -> MemoryResult<Product> {
        let _write = self.write_lock.lock().await;
        sqlx::query(concat!(
            "update products set price = ?, updated_at = ? where tenant_id = ? and id = ? returning ",
            rows::product_columns!("")
        ))
        .bind(price.to_string())
        .bind(rows::stored_time(Utc::now()))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map_or_else(|| Err(MemoryError::NotFound("product".to_owned())), |row| rows::product(&row))
    }

    async fn set_product_external_id(&self, tenant: TenantId, id: i64, external_id: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update products set external_id = ?, updated_at = ? where tenant_id = ? and id = ?")
            .bind(external_id)
            .bind(rows::stored_time(Utc::now()))
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "product")
    }

    async fn set_product_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update products set status = ?, updated_at = ? where tenant_id = ? and id = ?")
            .bind(status)
            .bind(rows::stored_time(Utc::now()))
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "product")
    }

    async fn create_campaign_within_limit(&self, campaign: NewCampaign, limit: Option<u64>) -> MemoryResult<Campaign> {
        // As for products: the count and the insert cannot interleave with another writer.
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(limit) = limit {
            let count = sqlx::query("select count(*) as counted from campaigns where tenant_id = ?")
                .bind(campaign.tenant_id.0)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "campaigns")?;
        }
        let row = sqlx::query(concat!(
            "insert into campaigns (tenant_id, product_id, name, channel, budget, spent, status, \
             external_id, created_at) \
             select ?, ?, ?, ?, ?, '0', ?, ?, ? \
             where ? is null or exists (select 1 from products where id = ? and tenant_id = ?) \
             returning ",
            rows::campaign_columns!("")
        ))
        .bind(campaign.tenant_id.0)
        .bind(campaign.product_id)
        .bind(&campaign.name)
        .bind(&campaign.channel)
        .bind(campaign.budget.to_string())
        .bind(&campaign.status)
        .bind(&campaign.external_id)
        .bind(rows::stored_time(Utc::now()))
        .bind(campaign.product_id)
        .bind(campaign.product_id)
        .bind(campaign.tenant_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "campaign", "tenant"))?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(rows::missing_parent(self.tenant_exists(campaign.tenant_id).await?, "product"));
        };
        let created = rows::campaign(&row)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn campaigns(&self, tenant: TenantId) -> MemoryResult<Vec<Campaign>> {
        sqlx::query(concat!("select ", rows::campaign_columns!(""), " from campaigns where tenant_id = ? order by id"))
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::campaign)
            .collect()
    }

    async fn add_campaign_spend(&self, tenant: TenantId, id: i64, amount: Decimal) -> MemoryResult<Campaign> {
        // The sum is taken in Rust (money is text here) between a read and a write of one
        // transaction that holds the write lock, so no concurrent addition is lost.
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let spent = sqlx::query("select spent from campaigns where tenant_id = ? and id = ?")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MemoryError::NotFound("campaign".to_owned()))?
            .money("spent")?;
        let spent = rows::add_money(spent, amount, "campaign spend")?;
        let row = sqlx::query(concat!(
            "update campaigns set spent = ? where tenant_id = ? and id = ? returning ",
            rows::campaign_columns!("")
        ))
        .bind(spent.to_string())
        .bind(tenant.0)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let campaign = rows::campaign(&row)?;
        tx.commit().await?;
        Ok(campaign)
    }

    async fn set_campaign_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update campaigns set status = ? where tenant_id = ? and id = ?")
            .bind(status)
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "campaign")
    }

    async fn create_social_post(&self, post: NewSocialPost) -> MemoryResult<SocialPost> {
        let now = rows::stored_time(Utc::now());
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into social_posts (tenant_id, platform, content, scheduled_time, status, \
             external_id, posted_at, engagement_score) values (?, ?, ?, ?, ?, ?, ?, 0) returning ",
            rows::social_post_columns!()
        ))
        .bind(post.tenant_id.0)
        .bind(&post.platform)
        .bind(&post.content)
        .bind(post.scheduled_time.map(rows::stored_time))
        .bind(&post.status)
        .bind(&post.external_id)
        .bind(rows::posted_at_on_creation(&post.status, now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "post", "tenant"))?;
        rows::social_post(&row)
    }

    async fn social_posts(&self, tenant: TenantId, limit: i64) -> MemoryResult<Vec<SocialPost>> {
        sqlx::query(concat!(
            "select ",
            rows::social_post_columns!(),
            " from social_posts where tenant_id = ? order by id desc limit ?"
        ))
        .bind(tenant.0)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::social_post)
        .collect()
    }

    async fn set_post_engagement(&self, tenant: TenantId, id: i64, score: i64) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let done = sqlx::query("update social_posts set engagement_score = ? where tenant_id = ? and id = ?")
            .bind(score)
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "post")
    }

    async fn save_adapter_state(&self, tenant: TenantId, platform: &str, state: &Value) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into adapter_state (tenant_id, platform, state, updated_at) values (?, ?, ?, ?) \
             on conflict (tenant_id, platform) do update set \
             state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(platform)
        .bind(Json(state))
        .bind(rows::stored_time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "adapter_state", "tenant"))?;
        Ok(())
    }

    async fn adapter_state(&self, tenant: TenantId, platform: &str) -> MemoryResult<Option<Value>> {
        sqlx::query("select state from adapter_state where tenant_id = ? and platform = ?")
            .bind(tenant.0)
            .bind(platform)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.json("state"))
            .transpose()
    }
}

#[async_trait]
impl LearningStore for SqliteStore {
    async fn record_experience(&self, experience: NewExperience) -> MemoryResult<Experience> {
        let _write = self.write_lock.lock().await;
        let recorded = Self::insert_experience(&self.pool, &experience, None).await?;
        recorded.ok_or_else(|| MemoryError::Corrupt("an experience without a key was not inserted".into()))
    }

    async fn record_experience_once(
        &self,
        key: &str,
        experience: NewExperience,
        outcome: PatternOutcome,
    ) -> MemoryResult<Option<SuccessfulPattern>> {
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if Self::insert_experience(&mut *tx, &experience, Some(key)).await?.is_none() {
            return Ok(None);
        }
        let pattern = Self::fold_pattern_outcome(&mut tx, experience.tenant_id, &outcome).await?;
        tx.commit().await?;
        Ok(Some(pattern))
    }

    async fn experiences(
        &self,
        tenant: TenantId,
        action_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<Experience>> {
        sqlx::query(concat!(
            "select ",
            rows::experience_columns!(""),
            " from experiences where tenant_id = ? and (? is null or action_type = ?) \
              order by created_at desc, id desc limit ?"
        ))
        .bind(tenant.0)
        .bind(action_type)
        .bind(action_type)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::experience)
        .collect()
    }

    async fn record_pattern_outcome(
        &self,
        tenant: TenantId,
        pattern_type: &str,
        pattern_key: &str,
        pattern_data: Value,
        success: bool,
        revenue: Decimal,
    ) -> MemoryResult<SuccessfulPattern> {
        let outcome = PatternOutcome {
            pattern_type: pattern_type.to_owned(),
            pattern_key: pattern_key.to_owned(),
            pattern_data,
            success,
            revenue,
        };
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let pattern = Self::fold_pattern_outcome(&mut tx, tenant, &outcome).await?;
        tx.commit().await?;
        Ok(pattern)
    }

    async fn patterns(
        &self,
        tenant: TenantId,
        pattern_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<SuccessfulPattern>> {
        // Mean revenue is text here and would sort as text, so the ranking happens in
        // Rust over all of the tenant's patterns (of the type): one row per key, few.
        let mut patterns = sqlx::query(concat!(
            "select ",
            rows::pattern_columns!(""),
            " from successful_patterns where tenant_id = ? and (? is null or pattern_type = ?)"
        ))
        .bind(tenant.0)
        .bind(pattern_type)
        .bind(pattern_type)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::pattern)
        .collect::<MemoryResult<Vec<_>>>()?;
        rows::rank_patterns(&mut patterns);
        patterns.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        Ok(patterns)
    }

    async fn upsert_market_insight(&self, insight: NewMarketInsight) -> MemoryResult<MarketInsight> {
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into market_insights (tenant_id, niche, trend_data, performance_data, \
             optimal_pricing, best_times, last_updated) values (?, ?, ?, ?, ?, ?, ?) \
             on conflict (tenant_id, niche) do update set trend_data = excluded.trend_data, \
             performance_data = excluded.performance_data, optimal_pricing = excluded.optimal_pricing, \
             best_times = excluded.best_times, last_updated = excluded.last_updated returning ",
            rows::market_insight_columns!()
        ))
        .bind(insight.tenant_id.0)
        .bind(&insight.niche)
        .bind(Json(&insight.trend_data))
        .bind(Json(&insight.performance_data))
        .bind(Json(&insight.optimal_pricing))
        .bind(Json(&insight.best_times))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "market_insight", "tenant"))?;
        rows::market_insight(&row)
    }

    async fn market_insights(&self, tenant: TenantId) -> MemoryResult<Vec<MarketInsight>> {
        sqlx::query(concat!(
            "select ",
            rows::market_insight_columns!(),
            " from market_insights where tenant_id = ? order by niche"
        ))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::market_insight)
        .collect()
    }

    async fn put_agent_memory(
        &self,
        tenant: TenantId,
        agent: &str,
        key: &str,
        content: Value,
        success_score: Option<Decimal>,
    ) -> MemoryResult<AgentMemory> {
        let now = rows::stored_time(Utc::now());
        let _write = self.write_lock.lock().await;
        let row = sqlx::query(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values (?, ?, ?, ?, ?, ?, ?) \
             on conflict (tenant_id, agent_type, memory_type) do update set \
             content = excluded.content, success_score = excluded.success_score, \
             last_accessed = excluded.last_accessed returning ",
            rows::agent_memory_columns!("")
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(success_score.map(|score| score.to_string()))
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        rows::agent_memory(&row)
    }

    async fn agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<Option<AgentMemory>> {
        let _write = self.write_lock.lock().await;
        sqlx::query(concat!(
            "update agent_memory set last_accessed = ? \
             where tenant_id = ? and agent_type = ? and memory_type = ? returning ",
            rows::agent_memory_columns!("")
        ))
        .bind(rows::stored_time(Utc::now()))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::agent_memory(&row))
        .transpose()
    }

    async fn agent_memories(&self, tenant: TenantId, agent: &str) -> MemoryResult<Vec<AgentMemory>> {
        sqlx::query(concat!(
            "select ",
            rows::agent_memory_columns!(""),
            " from agent_memory where tenant_id = ? and agent_type = ? order by memory_type"
        ))
        .bind(tenant.0)
        .bind(agent)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::agent_memory)
        .collect()
    }

    async fn add_agent_memory_within_limit(
        &self,
        tenant: TenantId,
        agent: &str,
        key: &str,
        content: Value,
        counted_prefix: &str,
        limit: Option<u64>,
    ) -> MemoryResult<AgentMemory> {
        let now = rows::stored_time(Utc::now());
        // As for products: the count and the insert cannot interleave with another writer.
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(limit) = limit {
            // A prefix compared, not matched with `like`: `_` and `%` are plain characters.
            let count = sqlx::query(
                "select count(*) as counted from agent_memory \
                 where tenant_id = ? and agent_type = ? and substr(memory_type, 1, length(?)) = ?",
            )
            .bind(tenant.0)
            .bind(agent)
            .bind(counted_prefix)
            .bind(counted_prefix)
            .fetch_one(&mut *tx)
            .await?
            .int("counted")?;
            rows::within_limit(count, limit, agent)?;
        }
        let row = sqlx::query(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values (?, ?, ?, ?, null, ?, ?) returning ",
            rows::agent_memory_columns!("")
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        let written = rows::agent_memory(&row)?;
        tx.commit().await?;
        Ok(written)
    }
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn create_media_file(&self, file: NewMediaFile, quota_bytes: Option<i64>) -> MemoryResult<MediaFile> {
        let size = i64::try_from(file.content.len()).map_err(|_| MemoryError::OutOfRange("file size".into()))?;
        let now = rows::stored_time(Utc::now());
        // Writes are serialised, so the quota check and the insert cannot interleave
        // with another upload.
        let _write = self.write_lock.lock().await;
        let owner = sqlx::query("select user_id from tenants where id = ?")
            .bind(file.tenant_id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| MemoryError::NotFound("tenant".into()))?
            .int("user_id")?;
        if let Some(limit) = quota_bytes {
            let used = self.media_bytes_of_user(UserId(owner)).await?;
            if used.saturating_add(size) > limit {
                return Err(MemoryError::QuotaExceeded { used, adding: size, limit });
            }
        }
        let row = sqlx::query(concat!(
            "insert into media_files (tenant_id, name, content_type, size_bytes, sha256, content, created_at) \
             values (?, ?, ?, ?, ?, ?, ?) returning ",
            rows::media_columns!()
        ))
        .bind(file.tenant_id.0)
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(size)
        .bind(&file.sha256)
        .bind(&file.content)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "file", "tenant"))?;
        rows::media_file(&row)
    }

    async fn media_files(&self, tenant: TenantId) -> MemoryResult<Vec<MediaFile>> {
        sqlx::query(concat!("select ", rows::media_columns!(), " from media_files where tenant_id = ? order by id"))
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::media_file)
            .collect()
    }

    async fn media_file_content(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<(MediaFile, Vec<u8>)>> {
        let row = sqlx::query(concat!(
            "select ",
            rows::media_columns!(),
            ", content from media_files where tenant_id = ? and id = ?"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((rows::media_file(&row)?, row.bytes("content")?))).transpose()
    }

    async fn delete_media_file(&self, tenant: TenantId, id: i64) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        let deleted = sqlx::query("delete from media_files where tenant_id = ? and id = ?")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted == 0 { Err(MemoryError::NotFound("file".into())) } else { Ok(()) }
    }

    async fn media_bytes_of_user(&self, user: UserId) -> MemoryResult<i64> {
        sqlx::query(
            "select coalesce(sum(m.size_bytes), 0) as used from media_files m \
             join tenants t on t.id = m.tenant_id where t.user_id = ?",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await?
        .int("used")
    }
}

#[async_trait]
impl MeteringStore for SqliteStore {
    async fn add_usage(&self, subject: UsageSubject, counter: &str, period: &str, amount: i64) -> MemoryResult<i64> {
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

    async fn record_llm_call(&self, call: NewLlmCall) -> MemoryResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "insert into llm_calls (tenant_id, agent, model, prompt_tokens, completion_tokens, \
             outcome, created_at) values (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(call.tenant_id.0)
        .bind(&call.agent)
        .bind(&call.model)
        .bind(call.prompt_tokens)
        .bind(call.completion_tokens)
        .bind(&call.outcome)
        .bind(rows::stored_time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "llm_call", "tenant"))?;
        Ok(())
    }

    async fn llm_token_totals(&self, tenant: TenantId, since: DateTime<Utc>) -> MemoryResult<Vec<LlmTokenTotal>> {
        sqlx::query(
            "select agent, model, count(*) as calls, sum(prompt_tokens) as prompt_tokens, \
             sum(completion_tokens) as completion_tokens from llm_calls \
             where tenant_id = ? and created_at >= ? group by agent, model order by agent, model",
        )
        .bind(tenant.0)
        .bind(rows::stored_time(since))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::llm_token_total)
        .collect()
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
