//! [`PlatformStore`]: the database itself, platform settings, webhook deliveries and
//! platform-wide counts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Dialect, SqlStore, query};
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{Backend, MemoryResult, PlatformStore, WEBHOOK_DELIVERY_RETENTION};

/// The platform-wide counts: `$1` is the start of the window, `$2` the metered period.
/// `sum(bigint)` is `numeric` on PostgreSQL: the casts bring the sums back to integers.
const PLATFORM_STATS: &str = "select \
     (select count(*) from users) as users, \
     (select count(*) from users where role = 'admin') as admins, \
     (select count(*) from users where tier = 'free') as free_users, \
     (select count(*) from users where tier = 'pro') as pro_users, \
     (select count(*) from users where tier = 'enterprise') as enterprise_users, \
     (select count(*) from users where created_at >= $1) as new_users, \
     (select count(*) from users where last_login >= $1) as active_users, \
     (select count(*) from tenants) as businesses, \
     (select count(*) from tenants where is_active) as active_businesses, \
     (select count(*) from products) as products, \
     (select count(*) from product_stores) as stores, \
     (select count(*) from campaigns) as campaigns, \
     (select count(*) from ai_events where occurred_at >= $1) as events, \
     (select count(*) from llm_calls where created_at >= $1) as llm_calls, \
     (select cast(coalesce(sum(prompt_tokens + completion_tokens), 0) as bigint) from llm_calls \
      where created_at >= $1) as llm_tokens, \
     (select cast(coalesce(sum(value), 0) as bigint) from usage_counters \
      where subject_kind = 'user' and counter = 'api_calls' and period = $2) as api_calls";

#[async_trait]
impl<D: Dialect> PlatformStore for SqlStore<D> {
    fn backend(&self) -> Backend {
        D::BACKEND
    }

    async fn ping(&self) -> MemoryResult<()> {
        query::<D>("select 1").execute(self.db()).await?;
        Ok(())
    }

    async fn close(&self) {
        self.db().close().await;
        self.dialect.upkeep_pool().close().await;
    }

    async fn set_platform_setting(&self, key: &str, value: &Value) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>(
            "insert into platform_settings (key, value, updated_at) values ($1, $2, $3) \
             on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(Json(value))
        .bind(rows::stored_time(Utc::now()))
        .execute(&writer)
        .await?;
        Ok(())
    }

    async fn platform_setting(&self, key: &str) -> MemoryResult<Option<Value>> {
        query::<D>("select value from platform_settings where key = $1")
            .bind(key)
            .fetch_optional(self.db())
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
        let writer = self.write().await;
        query::<D>("delete from webhook_deliveries where received_at < $1")
            .bind(rows::stored_time(received_at - WEBHOOK_DELIVERY_RETENTION))
            .execute(&writer)
            .await?;
        // The primary key settles races: a second insert of the same id changes nothing.
        let inserted = query::<D>(
            "insert into webhook_deliveries (provider, delivery_id, received_at) values ($1, $2, $3) \
             on conflict (provider, delivery_id) do nothing",
        )
        .bind(provider)
        .bind(delivery_id)
        .bind(received_at)
        .execute(&writer)
        .await?;
        Ok(inserted == 1)
    }

    async fn forget_webhook_delivery(&self, provider: &str, delivery_id: &str) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>("delete from webhook_deliveries where provider = $1 and delivery_id = $2")
            .bind(provider)
            .bind(delivery_id)
            .execute(&writer)
            .await?;
        Ok(())
    }

    async fn platform_stats(&self, since: DateTime<Utc>, period: &str) -> MemoryResult<PlatformStats> {
        let row = query::<D>(PLATFORM_STATS).bind(rows::stored_time(since)).bind(period).fetch_one(self.db()).await?;
        rows::platform_stats(&row)
    }
}
