//! [`LearningStore`]: experiences and patterns, market insights, agent memory.

use async_trait::async_trait;
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::types::Json;

use super::{Connection, Dialect, Exec, Lock, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{LearningStore, MemoryResult};

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    /// Inserts an experience; `None` when `key` is given and the tenant already recorded it.
    async fn insert_experience<'e>(
        &self,
        on: impl Into<Exec<'e, D>> + Send,
        experience: &NewExperience,
        key: Option<&str>,
    ) -> MemoryResult<Option<Experience>> {
        let row = query::<D>(concat!(
            "insert into experiences (tenant_id, action_type, context, result, success, \
             revenue_generated, lessons_learned, created_at, record_key) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             on conflict (tenant_id, record_key) do nothing returning ",
            rows::experience_columns!()
        ))
        .bind(experience.tenant_id.0)
        .bind(&experience.action_type)
        .bind(Json(&experience.context))
        .bind(Json(&experience.result))
        .bind(experience.success)
        .bind(experience.revenue)
        .bind(&experience.lessons)
        .bind(rows::stored_time(Utc::now()))
        .bind(key)
        .fetch_optional(on)
        .await
        .map_err(|e| rows::write_error(e, "experience", "tenant"))?;
        row.as_ref().map(rows::experience).transpose()
    }

    /// Folds one outcome into a pattern inside the caller's write transaction: take the
    /// tenant's pattern lock, make sure the row exists, read its counts, fold the outcome
    /// in (exact decimals, in Rust) and write them back, so concurrent outcomes are all
    /// counted.
    async fn fold_pattern_outcome(
        &self,
        connection: &mut Connection<D>,
        tenant: TenantId,
        outcome: &PatternOutcome,
    ) -> MemoryResult<SuccessfulPattern> {
        D::lock(&mut *connection, Lock::PatternsOf(tenant)).await?;
        let now = rows::stored_time(Utc::now());
        query::<D>(
            "insert into successful_patterns (tenant_id, pattern_type, pattern_key, pattern_data, \
             usage_count, success_count, success_rate, avg_revenue, last_used) \
             values ($1, $2, $3, $4, 0, 0, 0.0, $5, $6) \
             on conflict (tenant_id, pattern_type, pattern_key) do nothing",
        )
        .bind(tenant.0)
        .bind(&outcome.pattern_type)
        .bind(&outcome.pattern_key)
        .bind(Json(&outcome.pattern_data))
        .bind(Decimal::ZERO)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|e| rows::write_error(e, "pattern", "tenant"))?;
        let current = query::<D>(
            "select usage_count, success_count, cast(avg_revenue as text) as avg_revenue \
             from successful_patterns where tenant_id = $1 and pattern_type = $2 and pattern_key = $3",
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
        let row = query::<D>(concat!(
            "update successful_patterns set pattern_data = $1, usage_count = $2, success_count = $3, \
             success_rate = $4, avg_revenue = $5, last_used = $6 \
             where tenant_id = $7 and pattern_type = $8 and pattern_key = $9 returning ",
            rows::pattern_columns!()
        ))
        .bind(Json(&outcome.pattern_data))
        .bind(stats.usage_count)
        .bind(stats.success_count)
        .bind(stats.success_rate)
        .bind(stats.avg_revenue)
        .bind(now)
        .bind(tenant.0)
        .bind(&outcome.pattern_type)
        .bind(&outcome.pattern_key)
        .fetch_one(&mut *connection)
        .await?;
        rows::pattern(&row)
    }
}

#[async_trait]
impl<D: Dialect> LearningStore for SqlStore<D> {
    // ---- experiences and patterns ----

    async fn record_experience(&self, experience: NewExperience) -> MemoryResult<Experience> {
        let writer = self.write().await;
        let recorded = self.insert_experience(&writer, &experience, None).await?;
        recorded.ok_or_else(|| MemoryError::Corrupt("an experience without a key was not inserted".into()))
    }

    async fn record_experience_once(
        &self,
        key: &str,
        experience: NewExperience,
        outcome: PatternOutcome,
    ) -> MemoryResult<Option<SuccessfulPattern>> {
        let mut tx = self.write_transaction().await?;
        // A concurrent call with the same key waits (on PostgreSQL, on the unique index)
        // for our commit, then finds the key taken.
        if self.insert_experience(&mut *tx, &experience, Some(key)).await?.is_none() {
            return Ok(None);
        }
        let pattern = self.fold_pattern_outcome(&mut tx, experience.tenant_id, &outcome).await?;
        tx.commit().await?;
        Ok(Some(pattern))
    }

    async fn experiences(
        &self,
        tenant: TenantId,
        action_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<Experience>> {
        query::<D>(concat!(
            "select ",
            rows::experience_columns!(),
            " from experiences where tenant_id = $1 and ($2 is null or action_type = $2) \
              order by created_at desc, id desc limit $3"
        ))
        .bind(tenant.0)
        .bind(action_type)
        .bind(limit.max(0))
        .fetch_all(self.db())
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
        let mut tx = self.write_transaction().await?;
        let pattern = self.fold_pattern_outcome(&mut tx, tenant, &outcome).await?;
        tx.commit().await?;
        Ok(pattern)
    }

    async fn patterns(
        &self,
        tenant: TenantId,
        pattern_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<SuccessfulPattern>> {
        // Ranked in Rust (rows::rank_patterns) over all of the tenant's patterns (of the
        // type), one row per key, few: SQLite's money is text and would sort as text.
        let mut patterns = query::<D>(concat!(
            "select ",
            rows::pattern_columns!(),
            " from successful_patterns where tenant_id = $1 and ($2 is null or pattern_type = $2)"
        ))
        .bind(tenant.0)
        .bind(pattern_type)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::pattern)
        .collect::<MemoryResult<Vec<_>>>()?;
        rows::rank_patterns(&mut patterns);
        patterns.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        Ok(patterns)
    }

    // ---- market insights ----

    async fn upsert_market_insight(&self, insight: NewMarketInsight) -> MemoryResult<MarketInsight> {
        let writer = self.write().await;
        let row = query::<D>(concat!(
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
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "market_insight", "tenant"))?;
        rows::market_insight(&row)
    }

    async fn market_insights(&self, tenant: TenantId) -> MemoryResult<Vec<MarketInsight>> {
        let mut insights = query::<D>(concat!(
            "select ",
            rows::market_insight_columns!(),
            " from market_insights where tenant_id = $1"
        ))
        .bind(tenant.0)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::market_insight)
        .collect::<MemoryResult<Vec<_>>>()?;
        // Byte order, whatever the database's collation; one insight per niche.
        insights.sort_by(|a, b| a.niche.cmp(&b.niche));
        Ok(insights)
    }

    // ---- agent memory ----

    async fn put_agent_memory(
        &self,
        tenant: TenantId,
        agent: &str,
        key: &str,
        content: Value,
        success_score: Option<Decimal>,
    ) -> MemoryResult<AgentMemory> {
        let now = rows::stored_time(Utc::now());
        let writer = self.write().await;
        let row = query::<D>(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values ($1, $2, $3, $4, $5, $6, $6) \
             on conflict (tenant_id, agent_type, memory_type) do update set \
             content = excluded.content, success_score = excluded.success_score, \
             last_accessed = excluded.last_accessed returning ",
            rows::agent_memory_columns!()
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(success_score)
        .bind(now)
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        rows::agent_memory(&row)
    }

    async fn agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<Option<AgentMemory>> {
        let writer = self.write().await;
        query::<D>(concat!(
            "update agent_memory set last_accessed = $1 \
             where tenant_id = $2 and agent_type = $3 and memory_type = $4 returning ",
            rows::agent_memory_columns!()
        ))
        .bind(rows::stored_time(Utc::now()))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .fetch_optional(&writer)
        .await?
        .map(|row| rows::agent_memory(&row))
        .transpose()
    }

    async fn agent_memories(&self, tenant: TenantId, agent: &str) -> MemoryResult<Vec<AgentMemory>> {
        let mut memories = query::<D>(concat!(
            "select ",
            rows::agent_memory_columns!(),
            " from agent_memory where tenant_id = $1 and agent_type = $2"
        ))
        .bind(tenant.0)
        .bind(agent)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::agent_memory)
        .collect::<MemoryResult<Vec<_>>>()?;
        // Byte order, whatever the database's collation; keys are unique per agent.
        memories.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(memories)
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
        let mut tx = self.write_transaction().await?;
        if let Some(limit) = limit {
            // As for products: one limited write per tenant at a time until commit.
            tx.lock(Lock::AgentMemoryOf(tenant)).await?;
            // A prefix compared, not matched with `like`: `_` and `%` are plain characters.
            let count = query::<D>(
                "select count(*) as counted from agent_memory \
                 where tenant_id = $1 and agent_type = $2 and substr(memory_type, 1, length($3)) = $3",
            )
            .bind(tenant.0)
            .bind(agent)
            .bind(counted_prefix)
            .fetch_one(&mut *tx)
            .await?
            .int("counted")?;
            rows::within_limit(count, limit, agent)?;
        }
        let row = query::<D>(concat!(
            "insert into agent_memory (tenant_id, agent_type, memory_type, content, success_score, \
             created_at, last_accessed) values ($1, $2, $3, $4, null, $5, $5) returning ",
            rows::agent_memory_columns!()
        ))
        .bind(tenant.0)
        .bind(agent)
        .bind(key)
        .bind(content.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "agent_memory", "tenant"))?;
        let written = rows::agent_memory(&row)?;
        tx.commit().await?;
        Ok(written)
    }

    async fn forget_agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<bool> {
        let writer = self.write().await;
        let forgotten =
            query::<D>("delete from agent_memory where tenant_id = $1 and agent_type = $2 and memory_type = $3")
                .bind(tenant.0)
                .bind(agent)
                .bind(key)
                .execute(&writer)
                .await?;
        Ok(forgotten > 0)
    }
}
