//! The brain and the market as a tenant's agents see them: every LLM call and every
//! platform call first passes the tenant's [`ThrottleGate`].

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, StoreRef,
};
use boardroom_agents::brain::{Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest};
use boardroom_memory::TenantId;
use rust_decimal::Decimal;
use serde_json::Value;

use super::ThrottleGate;

/// A brain behind the tenant's LLM limits. The offline brain spends no tokens and
/// calls nothing, so it passes straight through.
pub(crate) struct GuardedBrain {
    inner: Arc<dyn Brain>,
    gate: Arc<ThrottleGate>,
    remote: bool,
}

impl GuardedBrain {
    pub(crate) fn new(inner: Arc<dyn Brain>, gate: Arc<ThrottleGate>) -> Self {
        let remote = inner.calls_a_model();
        Self { inner, gate, remote }
    }
}

#[async_trait]
impl Brain for GuardedBrain {
    fn describe(&self) -> BrainInfo {
        self.inner.describe()
    }

    fn calls_a_model(&self) -> bool {
        self.remote
    }

    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        if !self.remote {
            return self.inner.decide(request).await;
        }
        let _slot = self.gate.admit_llm(&request.agent).await.map_err(|refusal| BrainError::Throttled {
            reason: refusal.reason.to_owned(),
            retry_after_secs: refusal.retry_after.as_secs_f64(),
        })?;
        self.inner.decide(request).await
    }
}

/// A market behind the tenant's limit on platform calls in flight.
pub(crate) struct GuardedMarket {
    inner: Arc<dyn Marketplace>,
    gate: Arc<ThrottleGate>,
    agent: &'static str,
}

impl GuardedMarket {
    pub(crate) fn new(inner: Arc<dyn Marketplace>, gate: Arc<ThrottleGate>, agent: &'static str) -> Self {
        Self { inner, gate, agent }
    }

    async fn slot(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, AdapterError> {
        self.gate.admit_adapter(self.agent).await.map_err(|refusal| AdapterError::Throttled {
            platform: self.inner.platform(),
            reason: refusal.reason.to_owned(),
            retry_after_secs: refusal.retry_after.as_secs_f64(),
        })
    }
}

#[async_trait]
impl Marketplace for GuardedMarket {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn is_simulated(&self) -> bool {
        self.inner.is_simulated()
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.market_snapshot(tenant).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.create_store(tenant, name, key).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.list_product(tenant, listing, key).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        let _slot = self.slot().await?;
        self.inner.set_price(tenant, product_id, price, key).await
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.launch_campaign(tenant, spec, key).await
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.publish_post(tenant, post, key).await
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        let _slot = self.slot().await?;
        self.inner.advance(tenant, days).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        let _slot = self.slot().await?;
        self.inner.report(tenant, from_day, to_day).await
    }

    // Saving and restoring the simulated world is bookkeeping, not a platform call.
    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.inner.export_state(tenant).await
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.inner.import_state(tenant, state).await
    }
}
