//! [`MeteringStore`]: usage counters and LLM calls.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlStore, query};
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{MemoryResult, MeteringStore};

#[async_trait]
impl<D: Dialect> MeteringStore for SqlStore<D> {
    async fn add_usage(&self, subject: UsageSubject, counter: &str, period: &str, amount: i64) -> MemoryResult<i64> {
        let (kind, id) = rows::usage_key(subject);
        let writer = self.write().await;
        query::<D>(
            "insert into usage_counters (subject_kind, subject_id, counter, period, value) values ($1, $2, $3, $4, $5) \
             on conflict (subject_kind, subject_id, counter, period) \
             do update set value = usage_counters.value + excluded.value returning value",
        )
        .bind(kind)
        .bind(id)
        .bind(counter)
        .bind(period)
        .bind(amount)
        .fetch_one(&writer)
        .await?
        .int("value")
    }

    async fn usage(&self, subject: UsageSubject, counter: &str, period: &str) -> MemoryResult<i64> {
        let (kind, id) = rows::usage_key(subject);
        let row = query::<D>(
            "select value from usage_counters where subject_kind = $1 and subject_id = $2 and counter = $3 and period = $4",
        )
        .bind(kind)
        .bind(id)
        .bind(counter)
        .bind(period)
        .fetch_optional(self.db())
        .await?;
        row.map_or(Ok(0), |row| row.int("value"))
    }

    async fn record_llm_call(&self, call: NewLlmCall) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>(
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
        .execute(&writer)
        .await
        .map_err(|e| rows::write_error(e, "llm_call", "tenant"))?;
        Ok(())
    }

    async fn llm_token_totals(&self, tenant: TenantId, since: DateTime<Utc>) -> MemoryResult<Vec<LlmTokenTotal>> {
        // `sum(bigint)` is `numeric` on PostgreSQL; the casts bring it back to bigint.
        let mut totals = query::<D>(
            "select agent, model, count(*) as calls, cast(sum(prompt_tokens) as bigint) as prompt_tokens, \
             cast(sum(completion_tokens) as bigint) as completion_tokens from llm_calls \
             where tenant_id = $1 and created_at >= $2 group by agent, model",
        )
        .bind(tenant.0)
        .bind(rows::stored_time(since))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::llm_token_total)
        .collect::<MemoryResult<Vec<_>>>()?;
        // Byte order, whatever the database's collation; one row per agent and model.
        totals.sort_by(|a, b| (&a.agent, &a.model).cmp(&(&b.agent, &b.model)));
        Ok(totals)
    }
}
