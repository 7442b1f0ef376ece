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
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};

use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult, Store};
use crate::{InviteRejection, MemoryError};

/// Connections per process.
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL backend of [`Store`].
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
        self.revenue_impacts
            .push(event.revenue_impact.map(|amount| amount.to_string()));
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
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| MemoryError::UnsupportedUrl(url.to_owned()))?;
        let open = || {
            PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
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

    /// The connection pool, for queries the [`Store`] trait does not cover.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_user(
        &self,
        executor: impl sqlx::PgExecutor<'_>,
        user: &NewUser,
        role: Role,
    ) -> MemoryResult<User> {
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

    async fn find_invite(&self, code: &str) -> MemoryResult<Option<Invite>> {
        sqlx::query(concat!(
            "select ",
            rows::invite_columns!(),
            " from invite_codes where code = $1"
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| rows::invite(&row))
        .transpose()
    }
}

#[async_trait]
impl Store for PostgresStore {
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

    // ---- users ----

    async fn create_user(&self, user: NewUser) -> MemoryResult<User> {
        self.insert_user(&self.pool, &user, user.role).await
    }

    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User> {
        let mut tx = self.pool.begin().await?;
        // Blocks other inserts (not reads) until commit, so "no user yet" stays true
        // until our row is in.
        sqlx::query("lock table users in exclusive mode")
            .execute(&mut *tx)
            .await?;
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
            " from users where id = $1"
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
            " from users where email = $1"
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
            " from users where id > $1 order by id limit $2"
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

    // ---- tenants ----

    async fn create_tenant(&self, tenant: NewTenant) -> MemoryResult<Tenant> {
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
        .fetch_one(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "tenant", "user"))?;
        rows::tenant(&row)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        sqlx::query(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where id = $1"
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
            " from tenants where id > $1 order by id limit $2"
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
            " from tenants where user_id = $1 order by id"
        ))
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

    // ---- event log ----

    async fn append_events(&self, events: &[NewEvent]) -> MemoryResult<Vec<SwarmEvent>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let counts = rows::events_per_tenant(events);
        let mut tx = self.pool.begin().await?;

        // Reserve each tenant's numbers: last_seq moves on by the tenant's count. The row
        // lock this takes makes other appenders of the tenant wait for our commit; rows
        // are locked in tenant order, so two appenders cannot deadlock.
        let (tenant_ids, tenant_counts): (Vec<i64>, Vec<i64>) = counts
            .iter()
            .map(|(tenant, count)| (tenant.0, *count))
            .unzip();
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

    // ---- ledger ----

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

    // ---- invites ----

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

    async fn consume_invite(
        &self,
        code: &str,
        user: UserId,
        now: DateTime<Utc>,
    ) -> MemoryResult<Invite> {
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
        .execute(&self.pool)
        .await
        .map_err(|e| rows::write_error(e, "checkpoint", "tenant"))?;
        Ok(())
    }

    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>> {
        sqlx::query(concat!(
            "select ",
            rows::checkpoint_columns!(),
            " from autopilot_checkpoints where tenant_id = $1"
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
}
