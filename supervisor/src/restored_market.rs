//! A tenant's share of a shared simulated market, its saved world restored from the
//! store when the swarm first uses it rather than when the swarm starts: most
//! activations (an API request, a viewer) never touch the market, and need not pay a
//! database read for it.

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, StoreRef,
};
use boardroom_memory::{SharedStore, TenantId};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::OnceCell;

/// The shared market as one swarm sees it: every call first makes sure the tenant's
/// saved world has been handed to the market, once per activation (a failed restore is
/// tried again on the next call).
pub(crate) struct RestoredMarket {
    inner: Arc<dyn Marketplace>,
    tenant: TenantId,
    store: SharedStore,
    restored: OnceCell<()>,
}

impl RestoredMarket {
    pub(crate) fn new(inner: Arc<dyn Marketplace>, tenant: TenantId, store: SharedStore) -> Self {
        Self { inner, tenant, store, restored: OnceCell::new() }
    }

    async fn ready(&self) -> Result<&dyn Marketplace, AdapterError> {
        self.restored
            .get_or_try_init(|| async {
                let platform = self.inner.platform();
                let saved = self.store.adapter_state(self.tenant, platform.as_str()).await.map_err(|error| {
                    AdapterError::Unavailable {
                        platform,
                        message: format!("the saved {} world could not be read: {error}", platform.as_str()),
                    }
                })?;
                match saved {
                    Some(world) => self.inner.import_state(self.tenant, world).await,
                    None => Ok(()),
                }
            })
            .await?;
        Ok(self.inner.as_ref())
    }
}

#[async_trait]
impl Marketplace for RestoredMarket {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn is_simulated(&self) -> bool {
        self.inner.is_simulated()
    }

    fn advertises(&self) -> bool {
        self.inner.advertises()
    }

    fn ad_channels(&self) -> Vec<boardroom_adapters::AdChannel> {
        self.inner.ad_channels()
    }

    fn social_networks(&self) -> Vec<boardroom_adapters::SocialNetwork> {
        self.inner.social_networks()
    }

    async fn channel_states(&self) -> Vec<boardroom_adapters::ChannelStatus> {
        self.inner.channel_states().await
    }

    fn circuit_state(&self) -> Option<boardroom_adapters::CircuitState> {
        self.inner.circuit_state()
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.ready().await?.market_snapshot(tenant).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.ready().await?.create_store(tenant, name, key).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.ready().await?.list_product(tenant, listing, key).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.ready().await?.set_price(tenant, product_id, price, key).await
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        self.ready().await?.launch_campaign(tenant, spec, key).await
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        self.ready().await?.publish_post(tenant, post, key).await
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[boardroom_adapters::PublishedPost],
    ) -> Result<Vec<boardroom_adapters::PostEngagement>, AdapterError> {
        self.ready().await?.post_engagement(tenant, posts).await
    }

    async fn campaign_days(
        &self,
        tenant: TenantId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<boardroom_adapters::CampaignDay>, AdapterError> {
        self.ready().await?.campaign_days(tenant, from, to).await
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.ready().await?.advance(tenant, days).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.ready().await?.report(tenant, from_day, to_day).await
    }

    // Exporting before the saved world is restored would save a fresh world over it.
    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.ready().await.ok()?.export_state(tenant).await
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        // What is imported now supersedes what was saved: no restore after it.
        let _ = self.restored.set(());
        self.inner.import_state(tenant, state).await
    }

    fn rehome_state(&self, state: Value, to: TenantId) -> Result<Value, AdapterError> {
        self.inner.rehome_state(state, to)
    }
}
