//! [`BusinessStore`]: products, campaigns, social posts, adapter state.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::types::Json;

use super::{Dialect, Lock, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{BusinessStore, MemoryResult};

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    /// A one-row `update` of one of a tenant's rows by id: `NotFound(what)` when the
    /// tenant has no such row. `sql` takes the value as `$1`, the tenant as `$2` and the
    /// id as `$3`.
    async fn update_owned<'v>(
        &self,
        sql: &'static str,
        value: impl Into<super::Param<'v>>,
        tenant: TenantId,
        id: i64,
        what: &str,
    ) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed = query::<D>(sql).bind(value).bind(tenant.0).bind(id).execute(&writer).await?;
        rows::expect_one(changed, what)
    }
}

#[async_trait]
impl<D: Dialect> BusinessStore for SqlStore<D> {
    // ---- products ----

    async fn create_product_within_limit(&self, product: NewProduct, limit: Option<u64>) -> MemoryResult<Product> {
        let now = rows::stored_time(Utc::now());
        let mut tx = self.write_transaction().await?;
        if let Some(limit) = limit {
            // One limited creation per tenant at a time until commit: two cannot both
            // fit under the limit by reading the same count.
            tx.lock(Lock::ProductsOf(product.tenant_id)).await?;
            let count = query::<D>("select count(*) as counted from products where tenant_id = $1 and status <> $2")
                .bind(product.tenant_id.0)
                .bind(DELETED_PRODUCT_STATUS)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "products")?;
        }
        // The foreign key only says the store exists; the guard says it is the tenant's.
        let row = query::<D>(concat!(
            "insert into products (tenant_id, store_id, niche, title, description, tags, price, cost, \
             currency, status, external_id, created_at, updated_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12 \
             where $2 is null or exists (select 1 from product_stores where id = $2 and tenant_id = $1) \
             returning ",
            rows::product_columns!()
        ))
        .bind(product.tenant_id.0)
        .bind(product.store_id)
        .bind(&product.niche)
        .bind(&product.title)
        .bind(&product.description)
        .bind(Json(serde_json::json!(product.tags)))
        .bind(product.price)
        .bind(product.cost)
        .bind(&product.currency)
        .bind(&product.status)
        .bind(&product.external_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "product", "tenant"))?;
        let created = row.as_ref().map(rows::product).transpose()?;
        self.commit_guarded_insert(tx, created, product.tenant_id, "store").await
    }

    async fn products(&self, tenant: TenantId) -> MemoryResult<Vec<Product>> {
        query::<D>(concat!("select ", rows::product_columns!(), " from products where tenant_id = $1 order by id"))
            .bind(tenant.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::product)
            .collect()
    }

    async fn product(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<Product>> {
        query::<D>(concat!("select ", rows::product_columns!(), " from products where tenant_id = $1 and id = $2"))
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::product(&row))
            .transpose()
    }

    async fn update_product_price(&self, tenant: TenantId, id: i64, price: Decimal) -> MemoryResult<Product> {
        let writer = self.write().await;
        query::<D>(concat!(
            "update products set price = $1, updated_at = $2 where tenant_id = $3 and id = $4 returning ",
            rows::product_columns!()
        ))
        .bind(price)
        .bind(rows::stored_time(Utc::now()))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&writer)
        .await?
        .map_or_else(|| Err(MemoryError::NotFound("product".to_owned())), |row| rows::product(&row))
    }

    async fn set_product_external_id(&self, tenant: TenantId, id: i64, external_id: &str) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed =
            query::<D>("update products set external_id = $1, updated_at = $2 where tenant_id = $3 and id = $4")
                .bind(external_id)
                .bind(rows::stored_time(Utc::now()))
                .bind(tenant.0)
                .bind(id)
                .execute(&writer)
                .await?;
        rows::expect_one(changed, "product")
    }

    async fn set_product_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed = query::<D>("update products set status = $1, updated_at = $2 where tenant_id = $3 and id = $4")
            .bind(status)
            .bind(rows::stored_time(Utc::now()))
            .bind(tenant.0)
            .bind(id)
            .execute(&writer)
            .await?;
        rows::expect_one(changed, "product")
    }

    // ---- campaigns ----

    async fn create_campaign_within_limit(&self, campaign: NewCampaign, limit: Option<u64>) -> MemoryResult<Campaign> {
        let mut tx = self.write_transaction().await?;
        if let Some(limit) = limit {
            // As for products: one limited creation per tenant at a time until commit.
            tx.lock(Lock::CampaignsOf(campaign.tenant_id)).await?;
            let count = query::<D>("select count(*) as counted from campaigns where tenant_id = $1")
                .bind(campaign.tenant_id.0)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "campaigns")?;
        }
        let row = query::<D>(concat!(
            "insert into campaigns (tenant_id, product_id, name, channel, budget, spent, status, \
             external_id, created_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             where $2 is null or exists (select 1 from products where id = $2 and tenant_id = $1) \
             returning ",
            rows::campaign_columns!()
        ))
        .bind(campaign.tenant_id.0)
        .bind(campaign.product_id)
        .bind(&campaign.name)
        .bind(&campaign.channel)
        .bind(campaign.budget)
        .bind(Decimal::ZERO)
        .bind(&campaign.status)
        .bind(&campaign.external_id)
        .bind(rows::stored_time(Utc::now()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "campaign", "tenant"))?;
        let created = row.as_ref().map(rows::campaign).transpose()?;
        self.commit_guarded_insert(tx, created, campaign.tenant_id, "product").await
    }

    async fn campaigns(&self, tenant: TenantId) -> MemoryResult<Vec<Campaign>> {
        query::<D>(concat!("select ", rows::campaign_columns!(), " from campaigns where tenant_id = $1 order by id"))
            .bind(tenant.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::campaign)
            .collect()
    }

    async fn add_campaign_spend(&self, tenant: TenantId, id: i64, amount: Decimal) -> MemoryResult<Campaign> {
        // The sum is taken in Rust, exactly (SQLite's money is text), between a read and
        // a write of one transaction that holds the campaign's lock, so no concurrent
        // addition is lost and both backends refuse the same out-of-range totals.
        let mut tx = self.write_transaction().await?;
        tx.lock(Lock::CampaignSpend(id)).await?;
        let spent = query::<D>("select cast(spent as text) as spent from campaigns where tenant_id = $1 and id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MemoryError::NotFound("campaign".to_owned()))?
            .money("spent")?;
        let spent = rows::add_money(spent, amount, "campaign spend")?;
        let row = query::<D>(concat!(
            "update campaigns set spent = $1 where tenant_id = $2 and id = $3 returning ",
            rows::campaign_columns!()
        ))
        .bind(spent)
        .bind(tenant.0)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let campaign = rows::campaign(&row)?;
        tx.commit().await?;
        Ok(campaign)
    }

    async fn set_campaign_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()> {
        self.update_owned(
            "update campaigns set status = $1 where tenant_id = $2 and id = $3",
            status,
            tenant,
            id,
            "campaign",
        )
        .await
    }

    // ---- social posts ----

    async fn create_social_post(&self, post: NewSocialPost) -> MemoryResult<SocialPost> {
        let now = rows::stored_time(Utc::now());
        let writer = self.write().await;
        let row = query::<D>(concat!(
            "insert into social_posts (tenant_id, platform, content, scheduled_time, status, \
             external_id, posted_at, engagement_score, media_urls) values ($1, $2, $3, $4, $5, $6, $7, 0, $8) returning ",
            rows::social_post_columns!()
        ))
        .bind(post.tenant_id.0)
        .bind(&post.platform)
        .bind(&post.content)
        .bind(post.scheduled_time.map(rows::stored_time))
        .bind(&post.status)
        .bind(&post.external_id)
        .bind(rows::posted_at_on_creation(&post.status, now))
        .bind(Json(serde_json::json!(post.media_urls)))
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "post", "tenant"))?;
        rows::social_post(&row)
    }

    async fn social_posts(&self, tenant: TenantId, limit: i64) -> MemoryResult<Vec<SocialPost>> {
        query::<D>(concat!(
            "select ",
            rows::social_post_columns!(),
            " from social_posts where tenant_id = $1 order by id desc limit $2"
        ))
        .bind(tenant.0)
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::social_post)
        .collect()
    }

    async fn set_post_engagement(&self, tenant: TenantId, id: i64, score: i64) -> MemoryResult<()> {
        let sql = "update social_posts set engagement_score = $1 where tenant_id = $2 and id = $3";
        self.update_owned(sql, score, tenant, id, "post").await
    }

    // ---- adapter state ----

    async fn save_adapter_state(&self, tenant: TenantId, platform: &str, state: &Value) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>(
            "insert into adapter_state (tenant_id, platform, state, updated_at) values ($1, $2, $3, $4) \
             on conflict (tenant_id, platform) do update set \
             state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(platform)
        .bind(Json(state))
        .bind(rows::stored_time(Utc::now()))
        .execute(&writer)
        .await
        .map_err(|e| rows::write_error(e, "adapter_state", "tenant"))?;
        Ok(())
    }

    async fn link_platform_account(
        &self,
        platform: &str,
        account: &str,
        tenant: TenantId,
        store_id: &str,
        at: DateTime<Utc>,
    ) -> MemoryResult<()> {
        let writer = self.write().await;
        // The update applies only to the same tenant's link: another tenant's stays, and
        // the insert then returns nothing.
        let linked = query::<D>(
            "insert into platform_accounts (platform, account, tenant_id, store_id, connected_at) \
             values ($1, $2, $3, $4, $5) on conflict (platform, account) do update \
             set store_id = excluded.store_id, connected_at = excluded.connected_at \
             where platform_accounts.tenant_id = excluded.tenant_id returning tenant_id",
        )
        .bind(platform)
        .bind(account)
        .bind(tenant.0)
        .bind(store_id)
        .bind(rows::stored_time(at))
        .fetch_optional(&writer)
        .await
        .map_err(|e| rows::write_error(e, "account", "tenant"))?;
        if linked.is_none() {
            return Err(MemoryError::Conflict("account".to_owned()));
        }
        Ok(())
    }

    async fn platform_account_tenant(&self, platform: &str, account: &str) -> MemoryResult<Option<TenantId>> {
        query::<D>("select tenant_id from platform_accounts where platform = $1 and account = $2")
            .bind(platform)
            .bind(account)
            .fetch_optional(self.db())
            .await?
            .map(|row| row.int("tenant_id").map(TenantId))
            .transpose()
    }

    async fn adapter_state(&self, tenant: TenantId, platform: &str) -> MemoryResult<Option<Value>> {
        query::<D>("select state from adapter_state where tenant_id = $1 and platform = $2")
            .bind(tenant.0)
            .bind(platform)
            .fetch_optional(self.db())
            .await?
            .map(|row| row.json("state"))
            .transpose()
    }
}
