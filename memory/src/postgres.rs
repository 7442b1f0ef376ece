//! The production backend: a PostgreSQL server.
//!
//! Mirrors `sqlite.rs` query for query. The differences: the dialect (`$n` parameters),
//! money stored as unconstrained `NUMERIC` (so the scale a value was written with comes
//! back) and moved as exact text (`$n::numeric`, `amount::text`; see `rows.rs`),
//! event batches inserted from one array per column (`unnest`) rather than chunked
//! `VALUES` lists, and how writers are kept apart: PostgreSQL has many concurrent
//! writers, so appenders meet on the row locks of their `event_sequences` upsert, and
//! the first-user-is-admin rule takes a table lock.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};

use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{
    AccountStore, Backend, BusinessStore, EventStore, LearningStore, LedgerStore, MediaStore, MemoryResult,
    MeteringStore, PlatformStore, TenantStore,
};
use crate::{InviteRejection, MemoryError};

/// The advisory-lock namespace of media uploads ("me"), keyed by the owner's id.
const MEDIA_QUOTA_LOCKS: i32 = 0x6d65;
/// The advisory-lock namespace of limited product creations ("pr"), keyed by the tenant's id.
const PRODUCT_LIMIT_LOCKS: i32 = 0x7072;
/// The advisory-lock namespace of limited campaign creations ("ca"), keyed by the tenant's id.
const CAMPAIGN_LIMIT_LOCKS: i32 = 0x6361;
/// The advisory-lock namespace of limited agent-memory writes ("am"), keyed by the
/// tenant's id.
const AGENT_MEMORY_LIMIT_LOCKS: i32 = 0x616d;

/// The advisory-lock namespace of limited tenant creations ("te"), keyed by the owner's id.
const TENANT_LIMIT_LOCKS: i32 = 0x7465;

/// Connections per process.
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL backend of [`Store`](crate::Store).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

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

/// SQLSTATE of "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";
/// SQLSTATE of "database already exists".
const DUPLICATE_DATABASE: &str = "42P04";

fn has_code(error: &sqlx::Error, code: &str) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`), creating
    /// it when it does not exist, and applies the migrations.
    pub async fn connect(url: &str) -> MemoryResult<Self> {
        Self::connect_with(url, crate::PoolSettings::default()).await
    }

    /// [`PostgresStore::connect`] with chosen pool settings: a query waits at most
    /// `settings.acquire_timeout` for a connection (opening one included), so with the
    /// server down it fails fast with [`sqlx::Error::PoolTimedOut`] instead of hanging.
    pub async fn connect_with(url: &str, settings: crate::PoolSettings) -> MemoryResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|_| MemoryError::UnsupportedUrl(url.to_owned()))?;
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
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for queries the storage interfaces do not cover.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_user(&self, executor: impl sqlx::PgExecutor<'_>, user: &NewUser, role: Role) -> MemoryResult<User> {
        let row = sqlx::query(concat!(
            "insert into users (email, password_hash, role, tier, created_at) values ($1, $2, $3, $4, $5) returning ",
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
    async fn upsert_checkpoint(executor: impl sqlx::PgExecutor<'_>, checkpoint: &Checkpoint) -> MemoryResult<()> {
        sqlx::query(
            "insert into autopilot_checkpoints (tenant_id, cycle, step, state, updated_at) values ($1, $2, $3, $4, $5) \
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
        executor: impl sqlx::PgExecutor<'_>,
        experience: &NewExperience,
        key: Option<&str>,
    ) -> MemoryResult<Option<Experience>> {
        let row = sqlx::query(concat!(
            "insert into experiences (tenant_id, action_type, context, result, success, \
             revenue_generated, lessons_learned, created_at, record_key) \
             values ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9) \
             on conflict (tenant_id, record_key) do nothing returning ",
            rows::experience_columns!("::text")
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

    /// Folds one outcome into a pattern inside the caller's transaction: make sure the
    /// row exists, lock it, fold the outcome in (exact decimals, in Rust), write it back.
    /// A concurrent first use waits on the unique index for our commit and then finds
    /// the row; later ones wait on the row lock.
    async fn fold_pattern_outcome(
        connection: &mut sqlx::PgConnection,
        tenant: TenantId,
        outcome: &PatternOutcome,
    ) -> MemoryResult<SuccessfulPattern> {
        let now = rows::stored_time(Utc::now());
        sqlx::query(
            "insert into successful_patterns (tenant_id, pattern_type, pattern_key, pattern_data, \
             usage_count, success_count, success_rate, avg_revenue, last_used) \
             values ($1, $2, $3, $4, 0, 0, 0.0, 0, $5) \
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
            "select usage_count, success_count, avg_revenue::text as avg_revenue \
             from successful_patterns where tenant_id = $1 and pattern_type = $2 and pattern_key = $3 \
             for update",
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
            "update successful_patterns set pattern_data = $1, usage_count = $2, success_count = $3, \
             success_rate = $4, avg_revenue = $5::numeric, last_used = $6 \
             where tenant_id = $7 and pattern_type = $8 and pattern_key = $9 returning ",
            rows::pattern_columns!("::text")
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
        sqlx::query("select exists (select 1 from tenants where id = $1) as found")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?
            .flag("found")
    }

    async fn find_invite(&self, code: &str) -> MemoryResult<Option<Invite>> {
        sqlx::query(concat!("select ", rows::invite_columns!(), " from invite_codes where code = $1"))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::invite(&row))
            .transpose()
    }
}

/// Takes the advisory lock `(namespace, id)` for the rest of the transaction: a second
/// transaction asking for it waits for the first to commit or roll back, so a count
/// read under it stays true until the row it allows is written. Ids past `i32::MAX`
/// share a key with a smaller one, which only makes the two wait for each other.
async fn advisory_xact_lock(transaction: &mut sqlx::PgConnection, namespace: i32, id: i64) -> MemoryResult<()> {
    sqlx::query("select pg_advisory_xact_lock($1, $2)")
        .bind(namespace)
        .bind(i32::try_from(id.rem_euclid(i64::from(i32::MAX))).unwrap_or_default())
        .execute(transaction)
        .await?;
    Ok(())
}

#[async_trait]
impl PlatformStore for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> MemoryResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn set_platform_setting(&self, key: &str, value: &Value) -> MemoryResult<()> {
        sqlx::query(
            "insert into platform_settings (key, value, updated_at) values ($1, $2, $3) \
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
        sqlx::query("select value from platform_settings where key = $1")
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
        sqlx::query("delete from webhook_deliveries where received_at < $1")
            .bind(rows::stored_time(received_at - crate::WEBHOOK_DELIVERY_RETENTION))
            .execute(&self.pool)
            .await?;
        // The primary key settles races: a second insert of the same id changes nothing.
        let done = sqlx::query(
            "insert into webhook_deliveries (provider, delivery_id, received_at) values ($1, $2, $3) \
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
        sqlx::query("delete from webhook_deliveries where provider = $1 and delivery_id = $2")
            .bind(provider)
            .bind(delivery_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn platform_stats(&self, since: DateTime<Utc>, period: &str) -> MemoryResult<PlatformStats> {
        let sql = rows::platform_stats_sql("$1", "$2", "int8");
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
impl AccountStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> MemoryResult<User> {
        self.insert_user(&self.pool, &user, user.role).await
    }

    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User> {
        let mut tx = self.pool.begin().await?;
        // Blocks other inserts (not reads) until commit, so "no user yet" stays true
        // until our row is in.
        sqlx::query("lock table users in exclusive mode").execute(&mut *tx).await?;
        let row = sqlx::query("select exists (select 1 from users where role = 'admin') as taken")
            .fetch_one(&mut *tx)
            .await?;
        let role = rows::first_user_role(row.flag("taken")?);
        let created = self.insert_user(&mut *tx, &user, role).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user(&self, id: UserId) -> MemoryResult<Option<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where email = $1"))
            .bind(rows::normalize_email(email))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>> {
        sqlx::query(concat!("select ", rows::user_columns!(), " from users where id > $1 order by id limit $2"))
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
        let done = sqlx::query("update users set role = $1 where id = $2")
            .bind(role.as_str())
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn set_user_tier(&self, id: UserId, tier: Tier) -> MemoryResult<()> {
        let done = sqlx::query("update users set tier = $1 where id = $2")
            .bind(tier.as_str())
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> MemoryResult<()> {
        let done = sqlx::query("update users set last_login = $1 where id = $2")
            .bind(rows::stored_time(at))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn set_user_password_hash(&self, id: UserId, hash: &str) -> MemoryResult<()> {
        let done = sqlx::query("update users set password_hash = $1 where id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "user")
    }

    async fn delete_user(&self, id: UserId) -> MemoryResult<()> {
        let mut tx = self.pool.begin().await?;
        // usage_counters has no foreign key: the user's and their tenants' counters go
        // here; the foreign keys' cascades take the rest.
        sqlx::query(
            "delete from usage_counters where (subject_kind = $1 and subject_id = $2) \
             or (subject_kind = $3 and subject_id in (select id from tenants where user_id = $2))",
        )
        .bind(rows::USER_USAGE)
        .bind(id.0)
        .bind(rows::TENANT_USAGE)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("delete from users where id = $1").bind(id.0).execute(&mut *tx).await?;
        rows::expect_one(done.rows_affected(), "user")?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_api_token(&self, token: NewApiToken) -> MemoryResult<ApiToken> {
        let row = sqlx::query(concat!(
            "insert into api_tokens (user_id, name, token_hash, created_at) values ($1, $2, $3, $4) returning ",
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
            " from api_tokens where token_hash = $1 and revoked_at is null"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::api_token(&row))
        .transpose()
    }

    async fn api_tokens(&self, user: UserId) -> MemoryResult<Vec<ApiToken>> {
        sqlx::query(concat!("select ", rows::api_token_columns!(), " from api_tokens where user_id = $1 order by id"))
            .bind(user.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::api_token)
            .collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: i64) -> MemoryResult<()> {
        let done =
            sqlx::query("update api_tokens set revoked_at = $1 where user_id = $2 and id = $3 and revoked_at is null")
                .bind(rows::stored_time(Utc::now()))
                .bind(user.0)
                .bind(id)
                .execute(&self.pool)
                .await?;
        rows::expect_one(done.rows_affected(), "token")
    }

    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> MemoryResult<()> {
        let done = sqlx::query("update api_tokens set last_used_at = $1 where id = $2")
            .bind(rows::stored_time(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "token")
    }

    async fn save_session(&self, session: &SessionRecord) -> MemoryResult<()> {
        sqlx::query(
            "insert into sessions (id, user_id, data, expires_at, created_at) values ($1, $2, $3, $4, $5) \
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
        sqlx::query(concat!("select ", rows::session_columns!(), " from sessions where id = $1 and expires_at > $2"))
            .bind(id)
            .bind(rows::stored_time(now))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::session(&row))
            .transpose()
    }

    async fn delete_session(&self, id: &str) -> MemoryResult<()> {
        sqlx::query("delete from sessions where id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> MemoryResult<u64> {
        let done = sqlx::query("delete from sessions where expires_at <= $1")
            .bind(rows::stored_time(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_user_sessions(&self, user: UserId) -> MemoryResult<u64> {
        let done = sqlx::query("delete from sessions where user_id = $1").bind(user.0).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn set_access_control(
        &self,
        user: UserId,
        control_type: &str,
        control_value: &str,
    ) -> MemoryResult<AccessControl> {
        // The conflict target is the partial unique index on active rows (0003).
        let row = sqlx::query(concat!(
            "insert into access_controls (user_id, control_type, control_value, is_active, created_at) \
             values ($1, $2, $3, true, $4) \
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
            " from access_controls where user_id = $1 and is_active order by control_type collate \"C\""
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::access_control)
        .collect()
    }

    async fn remove_access_control(&self, user: UserId, control_type: &str) -> MemoryResult<()> {
        let done = sqlx::query(
            "update access_controls set is_active = false where user_id = $1 and control_type = $2 and is_active",
        )
        .bind(user.0)
        .bind(control_type)
        .execute(&self.pool)
        .await?;
        rows::expect_one(done.rows_affected(), "access_control")
    }

    async fn create_invite(&self, invite: NewInvite) -> MemoryResult<Invite> {
        let row = sqlx::query(concat!(
            "insert into invite_codes (code, created_by, uses_remaining, expires_at, is_active, created_at) \
             values ($1, $2, $3, $4, true, $5) returning ",
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
            let taken = sqlx::query(concat!(
                "update invite_codes set uses_remaining = uses_remaining - 1, used_by = $1, used_at = $2 \
                 where code = $3 and is_active and uses_remaining > 0 and (expires_at is null or expires_at > $2) \
                 returning ",
                rows::invite_columns!()
            ))
            .bind(user.0)
            .bind(now)
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| rows::write_error(e, "code", "user"))?;
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
impl TenantStore for PostgresStore {
    async fn create_tenant_within_limit(&self, tenant: NewTenant, limit: Option<u64>) -> MemoryResult<Tenant> {
        let mut transaction = self.pool.begin().await?;
        if let Some(limit) = limit {
            // One limited creation per user at a time until commit: two cannot both
            // fit under the limit by reading the same count.
            advisory_xact_lock(&mut transaction, TENANT_LIMIT_LOCKS, tenant.user_id.0).await?;
            let count = sqlx::query("select count(*) as counted from tenants where user_id = $1")
                .bind(tenant.user_id.0)
                .fetch_one(&mut *transaction)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "businesses")?;
        }
        let row = sqlx::query(concat!(
            "insert into tenants (user_id, name, domain, personality, settings, is_active, created_at) \
             values ($1, $2, $3, $4, $5, true, $6) returning ",
            rows::tenant_columns!()
        ))
        .bind(tenant.user_id.0)
        .bind(&tenant.name)
        .bind(&tenant.domain)
        .bind(&tenant.personality)
        .bind(Json(&tenant.settings))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&mut *transaction)
        .await
        .map_err(|e| rows::write_error(e, "tenant", "user"))?;
        let created = rows::tenant(&row)?;
        transaction.commit().await?;
        Ok(created)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::tenant(&row))
            .transpose()
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where id > $1 order by id limit $2"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>> {
        sqlx::query(concat!("select ", rows::tenant_columns!(), " from tenants where user_id = $1 order by id"))
            .bind(user.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()> {
        let done = sqlx::query("update tenants set is_active = $1 where id = $2")
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
            " from tenants where user_id = $1 and id > $2 order by id limit $3"
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
        sqlx::query(concat!(
            "update tenants set name = coalesce($1, name), domain = case when $2 then $3 else domain end, \
             personality = coalesce($4, personality), settings = coalesce($5, settings) \
             where id = $6 and user_id = $7 returning ",
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
        let mut tx = self.pool.begin().await?;
        // Every foreign key to tenants cascades (0001, 0002); usage_counters has none.
        let done = sqlx::query("delete from tenants where id = $1 and user_id = $2")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await?;
        rows::expect_one(done.rows_affected(), "tenant")?;
        sqlx::query("delete from usage_counters where subject_kind = $1 and subject_id = $2")
            .bind(kind)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append_events_and_checkpoints(
        &self,
        events: &[NewEvent],
        checkpoints: &[Checkpoint],
    ) -> MemoryResult<Vec<SwarmEvent>> {
        if events.is_empty() && checkpoints.is_empty() {
            return Ok(Vec::new());
        }
        let counts = rows::events_per_tenant(events);
        let mut tx = self.pool.begin().await?;

        // Reserve each tenant's numbers: last_seq moves on by the tenant's count. The row
        // lock this takes makes other appenders of the tenant wait for our commit; rows
        // are locked in tenant order, so two appenders cannot deadlock.
        let (tenant_ids, tenant_counts): (Vec<i64>, Vec<i64>) =
            counts.iter().map(|(tenant, count)| (tenant.0, *count)).unzip();
        let reserved = sqlx::query(
            "insert into event_sequences (tenant_id, last_seq) select * from unnest($1::int8[], $2::int8[]) \
             on conflict (tenant_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq \
             returning tenant_id, last_seq",
        )
        .bind(&tenant_ids)
        .bind(&tenant_counts)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "event", "tenant"))?;
        let mut last_seq = HashMap::with_capacity(counts.len());
        for row in &reserved {
            last_seq.insert(TenantId(row.int("tenant_id")?), row.int("last_seq")?);
        }

        // One statement whatever the batch size: arrays, one per column, unnested into
        // rows. Unlike a multi-row VALUES list this has no parameter limit and is planned
        // once, which makes it several times faster for large batches.
        let stored = rows::number_events(events, &counts, &last_seq)?;
        let mut columns = EventColumns::with_capacity(stored.len());
        for event in &stored {
            columns.push(event);
        }
        sqlx::query(
            "insert into ai_events \
             (tenant_id, seq, occurred_at, actor, kind, summary, data, revenue_impact) \
             select t, s, o, a, k, m, d, r::numeric from unnest($1::int8[], $2::int8[], \
             $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[]) \
             as batch (t, s, o, a, k, m, d, r)",
        )
        .bind(&columns.tenant_ids)
        .bind(&columns.seqs)
        .bind(&columns.occurred_at)
        .bind(&columns.actors)
        .bind(&columns.kinds)
        .bind(&columns.summaries)
        .bind(&columns.data)
        .bind(&columns.revenue_impacts)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "event", "tenant"))?;
        for checkpoint in checkpoints {
            Self::upsert_checkpoint(&mut *tx, checkpoint).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn events_after(&self, tenant: TenantId, after: i64, limit: i64) -> MemoryResult<Vec<SwarmEvent>> {
        sqlx::query(concat!(
            "select ",
            rows::event_columns!("::text"),
            " from ai_events where tenant_id = $1 and seq > $2 order by seq limit $3"
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
        sqlx::query("select coalesce(max(seq), 0) as last from ai_events where tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?
            .int("last")
    }
}

#[async_trait]
impl LedgerStore for PostgresStore {
    async fn record_ledger_entry(&self, entry: NewLedgerEntry) -> MemoryResult<LedgerEntry> {
        let row = sqlx::query(concat!(
            "insert into profit_logs (tenant_id, source, amount, category, transaction_id, metadata, recorded_at) \
             values ($1, $2, $3::numeric, $4, $5, $6, $7) returning ",
            rows::ledger_columns!("::text")
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
        sqlx::query(concat!(
            "select ",
            rows::ledger_columns!("::text"),
            " from profit_logs where tenant_id = $1 and recorded_at >= $2 and recorded_at < $3 \
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
        // Summed in Rust as on SQLite, so both backends refuse the same out-of-range
        // totals (numeric would not) and give the same scale.
        let found = sqlx::query(
            "select category, amount::text as amount from profit_logs \
             where tenant_id = $1 and recorded_at >= $2 and recorded_at < $3",
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
        Self::upsert_checkpoint(&self.pool, checkpoint).await
    }

    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>> {
        sqlx::query(concat!("select ", rows::checkpoint_columns!(), " from autopilot_checkpoints where tenant_id = $1"))
            .bind(tenant.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| rows::checkpoint(&row))
            .transpose()
    }
}

#[async_trait]
impl BusinessStore for PostgresStore {
    async fn create_product_within_limit(&self, product: NewProduct, limit: Option<u64>) -> MemoryResult<Product> {
        let now = rows::stored_time(Utc::now());
        let mut transaction = self.pool.begin().await?;
        if let Some(limit) = limit {
            // One limited creation per tenant at a time until commit: two cannot both
            // fit under the limit by reading the same count.
            advisory_xact_lock(&mut transaction, PRODUCT_LIMIT_LOCKS, product.tenant_id.0).await?;
            let count = sqlx::query("select count(*) as counted from products where tenant_id = $1 and status <> $2")
                .bind(product.tenant_id.0)
                .bind(DELETED_PRODUCT_STATUS)
                .fetch_one(&mut *transaction)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "products")?;
        }
        // The foreign key only says the store exists; the guard says it is the tenant's.
        let row = sqlx::query(concat!(
            "insert into products (tenant_id, store_id, niche, title, description, tags, price, cost, \
             currency, status, external_id, created_at, updated_at) \
             select $1, $2, $3, $4, $5, $6, $7::numeric, $8::numeric, $9, $10, $11, $12, $12 \
             where $2::int8 is null or exists (select 1 from product_stores where id = $2 and tenant_id = $1) \
             returning ",
            rows::product_columns!("::text")
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
        .fetch_optional(&mut *transaction)
        .await
        .map_err(|e| rows::write_error(e, "product", "tenant"))?;
        let Some(row) = row else {
            transaction.rollback().await?;
            return Err(rows::missing_parent(self.tenant_exists(product.tenant_id).await?, "store"));
        };
        let created = rows::product(&row)?;
        transaction.commit().await?;
        Ok(created)
    }

    async fn products(&self, tenant: TenantId) -> MemoryResult<Vec<Product>> {
        sqlx::query(concat!(
            "select ",
            rows::product_columns!("::text"),
            " from products where tenant_id = $1 order by id"
        ))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::product)
        .collect()
    }

    async fn product(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<Product>> {
        sqlx::query(concat!(
            "select ",
            rows::product_columns!("::text"),
            " from products where tenant_id = $1 and id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::product(&row))
        .transpose()
    }

    async fn update_product_price(&self, tenant: TenantId, id: i64, price: Decimal) -> MemoryResult<Product> {
        sqlx::query(concat!(
            "update products set price = $1::numeric, updated_at = $2 where tenant_id = $3 and id = $4 returning ",
            rows::product_columns!("::text")
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
        let done =
            sqlx::query("update products set external_id = $1, updated_at = $2 where tenant_id = $3 and id = $4")
                .bind(external_id)
                .bind(rows::stored_time(Utc::now()))
                .bind(tenant.0)
                .bind(id)
                .execute(&self.pool)
                .await?;
        rows::expect_one(done.rows_affected(), "product")
    }

    async fn set_product_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()> {
        let done = sqlx::query("update products set status = $1, updated_at = $2 where tenant_id = $3 and id = $4")
            .bind(status)
            .bind(rows::stored_time(Utc::now()))
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "product")
    }

    async fn create_campaign_within_limit(&self, campaign: NewCampaign, limit: Option<u64>) -> MemoryResult<Campaign> {
        let mut transaction = self.pool.begin().await?;
        if let Some(limit) = limit {
            // As for products: one limited creation per tenant at a time until commit.
            advisory_xact_lock(&mut transaction, CAMPAIGN_LIMIT_LOCKS, campaign.tenant_id.0).await?;
            let count = sqlx::query("select count(*) as counted from campaigns where tenant_id = $1")
                .bind(campaign.tenant_id.0)
                .fetch_one(&mut *transaction)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "campaigns")?;
        }
        let row = sqlx::query(concat!(
            "insert into campaigns (tenant_id, product_id, name, channel, budget, spent, status, \
             external_id, created_at) \
             select $1, $2, $3, $4, $5::numeric, 0, $6, $7, $8 \
             where $2::int8 is null or exists (select 1 from products where id = $2 and tenant_id = $1) \
             returning ",
            rows::campaign_columns!("::text")
        ))
        .bind(campaign.tenant_id.0)
        .bind(campaign.product_id)
        .bind(&campaign.name)
        .bind(&campaign.channel)
        .bind(campaign.budget.to_string())
        .bind(&campaign.status)
        .bind(&campaign.external_id)
        .bind(rows::stored_time(Utc::now()))
        .fetch_optional(&mut *transaction)
        .await
        .map_err(|e| rows::write_error(e, "campaign", "tenant"))?;
        let Some(row) = row else {
            transaction.rollback().await?;
            return Err(rows::missing_parent(self.tenant_exists(campaign.tenant_id).await?, "product"));
        };
        let created = rows::campaign(&row)?;
        transaction.commit().await?;
        Ok(created)
    }

    async fn campaigns(&self, tenant: TenantId) -> MemoryResult<Vec<Campaign>> {
        sqlx::query(concat!(
            "select ",
            rows::campaign_columns!("::text"),
            " from campaigns where tenant_id = $1 order by id"
        ))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::campaign)
        .collect()
    }

    async fn add_campaign_spend(&self, tenant: TenantId, id: i64, amount: Decimal) -> MemoryResult<Campaign> {
        // As on SQLite the sum is taken in Rust, so both backends agree on the scale and
        // refuse the same out-of-range totals; the row lock (`for update`) keeps
        // concurrent additions from being lost.
        let mut tx = self.pool.begin().await?;
        let spent =
            sqlx::query("select spent::text as spent from campaigns where tenant_id = $1 and id = $2 for update")
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| MemoryError::NotFound("campaign".to_owned()))?
                .money("spent")?;
        let spent = rows::add_money(spent, amount, "campaign spend")?;
        let row = sqlx::query(concat!(
            "update campaigns set spent = $1::numeric where tenant_id = $2 and id = $3 returning ",
            rows::campaign_columns!("::text")
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
        let done = sqlx::query("update campaigns set status = $1 where tenant_id = $2 and id = $3")
            .bind(status)
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "campaign")
    }

    async fn create_social_post(&self, post: NewSocialPost) -> MemoryResult<SocialPost> {
        let now = rows::stored_time(Utc::now());
        let row = sqlx::query(concat!(
            "insert into social_posts (tenant_id, platform, content, scheduled_time, status, \
             external_id, posted_at, engagement_score) values ($1, $2, $3, $4, $5, $6, $7, 0) returning ",
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
            " from social_posts where tenant_id = $1 order by id desc limit $2"
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
        let done = sqlx::query("update social_posts set engagement_score = $1 where tenant_id = $2 and id = $3")
            .bind(score)
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        rows::expect_one(done.rows_affected(), "post")
    }

    async fn save_adapter_state(&self, tenant: TenantId, platform: &str, state: &Value) -> MemoryResult<()> {
        sqlx::query(
            "insert into adapter_state (tenant_id, platform, state, updated_at) values ($1, $2, $3, $4) \
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
        sqlx::query("select state from adapter_state where tenant_id = $1 and platform = $2")
            .bind(tenant.0)
            .bind(platform)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.json("state"))
            .transpose()
    }
}

#[async_trait]
impl LearningStore for PostgresStore {
    async fn record_experience(&self, experience: NewExperience) -> MemoryResult<Experience> {
        let recorded = Self::insert_experience(&self.pool, &experience, None).await?;
        recorded.ok_or_else(|| MemoryError::Corrupt("an experience without a key was not inserted".into()))
    }

    async fn record_experience_once(
        &self,
        key: &str,
        experience: NewExperience,
        outcome: PatternOutcome,
    ) -> MemoryResult<Option<SuccessfulPattern>> {
        let mut tx = self.pool.begin().await?;
        // A concurrent call with the same key waits on the unique index for our commit,
        // then finds the key taken.
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
            rows::experience_columns!("::text"),
            " from experiences where tenant_id = $1 and ($2::text is null or action_type = $2) \
              order by created_at desc, id desc limit $3"
        ))
        .bind(tenant.0)
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
        let mut tx = self.pool.begin().await?;
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
        // The order of rows::rank_patterns, which SQLite applies in Rust. The sort keys are
        // qualified: a bare `avg_revenue` would name the `::text` output column and sort
        // as text ("9" above "10").
        sqlx::query(concat!(
            "select ",
            rows::pattern_columns!("::text"),
            " from successful_patterns where tenant_id = $1 and ($2::text is null or pattern_type = $2) \
              order by successful_patterns.success_rate desc, successful_patterns.avg_revenue desc, \
              successful_patterns.id limit $3"
        ))
        .bind(tenant.0)
        .bind(pattern_type)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::pattern)
        .collect()
    }

    async fn upsert_market_insight(&self, insight: NewMarketInsight) -> MemoryResult<MarketInsight> {
        let row = sqlx::query(concat!(
            "insert into market_insights (tenant_id, niche, trend_data, performance_data, \
             optimal_pricing, best_times, last_updated) values ($1, $2, $3, $4, $5, $6, $7) \
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
        // Byte order ("C"), as SQLite sorts text, whatever the database's collation.
        sqlx::query(concat!(
            "select ",
            rows::market_insight_columns!(),
            " from market_insights where tenant_id = $1 order by niche collate \"C\""
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
        let row = sqlx::query(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values ($1, $2, $3, $4, $5::numeric, $6, $6) \
             on conflict (tenant_id, agent_type, memory_type) do update set \
             content = excluded.content, success_score = excluded.success_score, \
             last_accessed = excluded.last_accessed returning ",
            rows::agent_memory_columns!("::text")
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(success_score.map(|score| score.to_string()))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        rows::agent_memory(&row)
    }

    async fn agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<Option<AgentMemory>> {
        sqlx::query(concat!(
            "update agent_memory set last_accessed = $1 \
             where tenant_id = $2 and agent_type = $3 and memory_type = $4 returning ",
            rows::agent_memory_columns!("::text")
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
            rows::agent_memory_columns!("::text"),
            " from agent_memory where tenant_id = $1 and agent_type = $2 order by memory_type collate \"C\""
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
        let mut transaction = self.pool.begin().await?;
        if let Some(limit) = limit {
            // As for products: one limited write per tenant at a time until commit.
            advisory_xact_lock(&mut transaction, AGENT_MEMORY_LIMIT_LOCKS, tenant.0).await?;
            // A prefix compared, not matched with `like`: `_` and `%` are plain characters.
            let count = sqlx::query(
                "select count(*) as counted from agent_memory \
                 where tenant_id = $1 and agent_type = $2 and left(memory_type, length($3)) = $3",
            )
            .bind(tenant.0)
            .bind(agent)
            .bind(counted_prefix)
            .fetch_one(&mut *transaction)
            .await?
            .int("counted")?;
            rows::within_limit(count, limit, agent)?;
        }
        let row = sqlx::query(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values ($1, $2, $3, $4, null, $5, $5) returning ",
            rows::agent_memory_columns!("::text")
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(now)
        .fetch_one(&mut *transaction)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        let written = rows::agent_memory(&row)?;
        transaction.commit().await?;
        Ok(written)
    }
}

#[async_trait]
impl MediaStore for PostgresStore {
    async fn create_media_file(&self, file: NewMediaFile, quota_bytes: Option<i64>) -> MemoryResult<MediaFile> {
        let size = i64::try_from(file.content.len()).map_err(|_| MemoryError::OutOfRange("file size".into()))?;
        let mut transaction = self.pool.begin().await?;
        let owner = sqlx::query("select user_id from tenants where id = $1")
            .bind(file.tenant_id.0)
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| MemoryError::NotFound("tenant".into()))?
            .int("user_id")?;
        if let Some(limit) = quota_bytes {
            // One upload per owner at a time until commit: two cannot both fit under
            // the quota by reading the same total.
            advisory_xact_lock(&mut transaction, MEDIA_QUOTA_LOCKS, owner).await?;
            let used = sqlx::query(
                "select coalesce(sum(m.size_bytes), 0)::int8 as used from media_files m \
                 join tenants t on t.id = m.tenant_id where t.user_id = $1",
            )
            .bind(owner)
            .fetch_one(&mut *transaction)
            .await?
            .int("used")?;
            if used.saturating_add(size) > limit {
                return Err(MemoryError::QuotaExceeded { used, adding: size, limit });
            }
        }
        let row = sqlx::query(concat!(
            "insert into media_files (tenant_id, name, content_type, size_bytes, sha256, content) \
             values ($1, $2, $3, $4, $5, $6) returning ",
            rows::media_columns!()
        ))
        .bind(file.tenant_id.0)
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(size)
        .bind(&file.sha256)
        .bind(&file.content)
        .fetch_one(&mut *transaction)
        .await
        .map_err(|e| rows::write_error(e, "file", "tenant"))?;
        transaction.commit().await?;
        rows::media_file(&row)
    }

    async fn media_files(&self, tenant: TenantId) -> MemoryResult<Vec<MediaFile>> {
        sqlx::query(concat!("select ", rows::media_columns!(), " from media_files where tenant_id = $1 order by id"))
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
            ", content from media_files where tenant_id = $1 and id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((rows::media_file(&row)?, row.bytes("content")?))).transpose()
    }

    async fn delete_media_file(&self, tenant: TenantId, id: i64) -> MemoryResult<()> {
        let deleted = sqlx::query("delete from media_files where tenant_id = $1 and id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted == 0 { Err(MemoryError::NotFound("file".into())) } else { Ok(()) }
    }

    async fn media_bytes_of_user(&self, user: UserId) -> MemoryResult<i64> {
        sqlx::query(
            "select coalesce(sum(m.size_bytes), 0)::int8 as used from media_files m \
             join tenants t on t.id = m.tenant_id where t.user_id = $1",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await?
        .int("used")
    }
}

#[async_trait]
impl MeteringStore for PostgresStore {
    async fn add_usage(&self, subject: UsageSubject, counter: &str, period: &str, amount: i64) -> MemoryResult<i64> {
        let (kind, id) = rows::usage_key(subject);
        sqlx::query(
            "insert into usage_counters (subject_kind, subject_id, counter, period, value) values ($1, $2, $3, $4, $5) \
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
            "select value from usage_counters where subject_kind = $1 and subject_id = $2 and counter = $3 and period = $4",
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
        sqlx::query(
            "insert into llm_calls (tenant_id, agent, model, prompt_tokens, completion_tokens, \
             outcome, created_at) values ($1, $2, $3, $4, $5, $6, $7)",
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
        // sum(bigint) is numeric in PostgreSQL; the casts bring it back to bigint.
        sqlx::query(
            "select agent, model, count(*) as calls, sum(prompt_tokens)::int8 as prompt_tokens, \
             sum(completion_tokens)::int8 as completion_tokens from llm_calls \
             where tenant_id = $1 and created_at >= $2 group by agent, model \
             order by agent collate \"C\", model collate \"C\"",
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
