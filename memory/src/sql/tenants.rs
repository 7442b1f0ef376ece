//! [`TenantStore`]: the businesses users own.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;
use sqlx::types::Json;

use super::{Dialect, Lock, SqlStore, WriteTransaction, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{MemoryResult, RehomeAdapterState, TenantStore};

#[async_trait]
impl<D: Dialect> TenantStore for SqlStore<D> {
    async fn create_tenant_within_limit(&self, tenant: NewTenant, limit: Option<u64>) -> MemoryResult<Tenant> {
        let mut tx = self.write_transaction().await?;
        let created = insert_tenant(&mut tx, &tenant, limit).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn create_tenant_copy(
        &self,
        tenant: NewTenant,
        limit: Option<u64>,
        source: TenantId,
        rehome: &RehomeAdapterState,
    ) -> MemoryResult<Tenant> {
        let mut tx = self.write_transaction().await?;
        // Touching the source's checkpoint row locks it until commit, so the source
        // cannot start its next cycle (whose first write is that row) while its rows
        // are read; and it matches only between cycles.
        let between_cycles =
            query::<D>("update autopilot_checkpoints set cycle = cycle where tenant_id = $1 and step = 'done'")
                .bind(source.0)
                .execute(&mut *tx)
                .await?;
        let has_checkpoint = query::<D>("select count(*) as n from autopilot_checkpoints where tenant_id = $1")
            .bind(source.0)
            .fetch_one(&mut *tx)
            .await?
            .int("n")?
            > 0;
        if has_checkpoint && between_cycles == 0 {
            return Err(MemoryError::Busy("the business's cycle".into()));
        }
        let created = insert_tenant(&mut tx, &tenant, limit).await?;
        for statement in COPY_STATEMENTS {
            query::<D>(statement).bind(created.id.0).bind(source.0).execute(&mut *tx).await?;
        }
        let states: Vec<(String, Value)> =
            query::<D>("select platform, state from adapter_state where tenant_id = $1 order by platform")
                .bind(source.0)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| Ok((row.text("platform")?, row.json("state")?)))
                .collect::<MemoryResult<_>>()?;
        for (platform, state) in states {
            let Some(state) = rehome(created.id, &platform, state)? else { continue };
            query::<D>("insert into adapter_state (tenant_id, platform, state, updated_at) values ($1, $2, $3, $4)")
                .bind(created.id.0)
                .bind(&platform)
                .bind(Json(&state))
                .bind(rows::stored_time(Utc::now()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where id = $1"))
            .bind(id.0)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::tenant(&row))
            .transpose()
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where id > $1 order by id limit $2"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where user_id = $1 order by id"))
            .bind(user.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed = query::<D>("update tenants set is_active = $1 where id = $2")
            .bind(active)
            .bind(id.0)
            .execute(&writer)
            .await?;
        rows::expect_one(changed, "tenant")
    }

    async fn tenants_of_user_page(
        &self,
        user: UserId,
        after: Option<TenantId>,
        limit: i64,
    ) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where user_id = $1 and id > $2 order by id limit $3"
        ))
        .bind(user.0)
        .bind(after.map_or(0, |id| id.0))
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::tenant)
        .collect()
    }

    async fn update_tenant(&self, id: TenantId, owner: UserId, changes: TenantChanges) -> MemoryResult<Tenant> {
        let (set_domain, domain) = rows::domain_change(&changes);
        let writer = self.write().await;
        query::<D>(concat!(
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
        .fetch_optional(&writer)
        .await?
        .map_or_else(|| Err(MemoryError::NotFound("tenant".to_owned())), |row| rows::tenant(&row))
    }

    async fn delete_tenant(&self, id: TenantId, owner: UserId) -> MemoryResult<()> {
        let (kind, subject) = rows::usage_key(UsageSubject::Tenant(id));
        let mut tx = self.write_transaction().await?;
        // Every foreign key to tenants cascades (0001, 0002, 0007, 0008, 0009); usage_counters has none.
        let deleted = query::<D>("delete from tenants where id = $1 and user_id = $2")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await?;
        rows::expect_one(deleted, "tenant")?;
        query::<D>("delete from usage_counters where subject_kind = $1 and subject_id = $2")
            .bind(kind)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

/// Inserts a tenant unless its user already has `limit` tenants.
async fn insert_tenant<D: Dialect>(
    tx: &mut WriteTransaction<'_, D>,
    tenant: &NewTenant,
    limit: Option<u64>,
) -> MemoryResult<Tenant> {
    if let Some(limit) = limit {
        // One limited creation per user at a time until commit: two cannot both fit
        // under the limit by reading the same count.
        tx.lock(Lock::TenantsOf(tenant.user_id)).await?;
        let count = query::<D>("select count(*) as counted from tenants where user_id = $1")
            .bind(tenant.user_id.0)
            .fetch_one(&mut **tx)
            .await?
            .int("counted")?;
        rows::within_limit(count, limit, "businesses")?;
    }
    let row = query::<D>(concat!(
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
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| rows::write_error(e, "tenant", "user"))?;
    rows::tenant(&row)
}

/// What a copy takes from its source, in order. Each binds `$1` the copy and `$2` the
/// source; rows keep their order and times. Products are copied in id order, so the
/// copy's n-th product is the source's n-th: that is how a copied campaign names its
/// product.
const COPY_STATEMENTS: [&str; 10] = [
    "insert into products (tenant_id, store_id, title, description, price, cost, currency, status, external_id, \
     created_at, updated_at, niche, tags) \
     select $1, null, title, description, price, cost, currency, status, external_id, created_at, updated_at, \
     niche, tags from products where tenant_id = $2 order by id",
    "insert into campaigns (tenant_id, name, channel, budget, spent, status, created_at, external_id, product_id) \
     select $1, c.name, c.channel, c.budget, c.spent, c.status, c.created_at, c.external_id, \
     (select copied.id \
      from (select id, row_number() over (order by id) as n from products where tenant_id = $2) source \
      join (select id, row_number() over (order by id) as n from products where tenant_id = $1) copied \
      on copied.n = source.n where source.id = c.product_id) \
     from campaigns c where c.tenant_id = $2 order by c.id",
    "insert into social_posts (tenant_id, platform, content, media_urls, scheduled_time, posted_at, \
     engagement_score, status, external_id) \
     select $1, platform, content, media_urls, scheduled_time, posted_at, engagement_score, status, external_id \
     from social_posts where tenant_id = $2 order by id",
    "insert into profit_logs (tenant_id, source, amount, category, transaction_id, metadata, recorded_at) \
     select $1, source, amount, category, transaction_id, metadata, recorded_at \
     from profit_logs where tenant_id = $2 order by id",
    "insert into market_insights (tenant_id, niche, trend_data, performance_data, optimal_pricing, best_times, \
     last_updated) \
     select $1, niche, trend_data, performance_data, optimal_pricing, best_times, last_updated \
     from market_insights where tenant_id = $2 order by id",
    "insert into experiences (tenant_id, action_type, context, result, success, revenue_generated, \
     lessons_learned, created_at, record_key) \
     select $1, action_type, context, result, success, revenue_generated, lessons_learned, created_at, record_key \
     from experiences where tenant_id = $2 order by id",
    "insert into successful_patterns (tenant_id, pattern_type, pattern_data, success_rate, avg_revenue, \
     usage_count, last_used, pattern_key, success_count) \
     select $1, pattern_type, pattern_data, success_rate, avg_revenue, usage_count, last_used, pattern_key, \
     success_count from successful_patterns where tenant_id = $2 order by id",
    "insert into agent_memory (tenant_id, agent_type, memory_type, content, context, success_score, created_at, \
     last_accessed) \
     select $1, agent_type, memory_type, content, context, success_score, created_at, last_accessed \
     from agent_memory where tenant_id = $2 and agent_type <> 'price_override' order by id",
    // The board minutes of the cycles copied: the copy's owner reads its history.
    "insert into cycle_reports (tenant_id, cycle, headline, minutes, data, source, written_at) \
     select $1, cycle, headline, minutes, data, source, written_at from cycle_reports where tenant_id = $2 \
     order by cycle",
    // The cycle the source last completed; the copy's next cycle is the one after.
    "insert into autopilot_checkpoints (tenant_id, cycle, step, state, updated_at) \
     select $1, cycle, step, state, updated_at from autopilot_checkpoints where tenant_id = $2",
];
