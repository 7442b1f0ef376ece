//! The brain and the market as a tenant's agents (and its API requests) see them: every
//! LLM call and every platform call first passes the tenant's [`ThrottleGate`], and
//! platform calls light their edge on the live view.

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, StoreRef,
};
use boardroom_agents::brain::{Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, ModelCallPermit};
use boardroom_memory::TenantId;
use rust_decimal::Decimal;
use serde_json::Value;

use super::ThrottleGate;
use crate::activity::{Activity, ActivityFeed, MessagePhase, adapter_node};

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
        let admitted = self.gate.admit_llm(&request.agent);
        // Waiting for a free LLM slot counts against the caller's deadline too.
        let admitted = match request.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, admitted)
                .await
                .map_err(|_| BrainError::OutOfTime { attempts: Vec::new(), usage: None })?,
            None => admitted.await,
        };
        let _slot = admitted.map_err(|refusal| BrainError::Throttled {
            reason: refusal.reason.to_owned(),
            retry_after_secs: refusal.retry_after.as_secs_f64(),
        })?;
        self.inner.decide(request).await
    }

    async fn admit_model_call(&self, agent: &str) -> Result<ModelCallPermit, BrainError> {
        // Remote media calls a model whatever the brain is: always under the limits.
        let slot = self.gate.admit_llm(agent).await.map_err(|refusal| BrainError::Throttled {
            reason: refusal.reason.to_owned(),
            retry_after_secs: refusal.retry_after.as_secs_f64(),
        })?;
        Ok(ModelCallPermit(slot))
    }
}

/// A market as one caller (an agent, or the API) of one tenant reaches it: each call
/// first takes a slot of the tenant's platform calls in flight, then lights the
/// caller's edge to the adapter on the live view while it runs.
pub(crate) struct GuardedMarket {
    inner: Arc<dyn Marketplace>,
    gate: Arc<ThrottleGate>,
    caller: &'static str,
    node: Arc<str>,
    feed: ActivityFeed,
}

impl GuardedMarket {
    pub(crate) fn new(
        inner: Arc<dyn Marketplace>,
        gate: Arc<ThrottleGate>,
        caller: &'static str,
        feed: ActivityFeed,
    ) -> Self {
        let node = adapter_node(inner.platform());
        Self { inner, gate, caller, node, feed }
    }

    async fn around<T>(
        &self,
        action: &'static str,
        call: impl Future<Output = Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        let _slot = self.gate.admit_adapter(self.caller).await.map_err(|refusal| AdapterError::Throttled {
            platform: self.inner.platform(),
            reason: refusal.reason.to_owned(),
            retry_after_secs: refusal.retry_after.as_secs_f64(),
        })?;
        let message =
            |phase| Activity::Message { from: self.caller, to: self.node.clone(), action: action.to_owned(), phase };
        self.feed.publish(|| message(MessagePhase::Started));
        let result = call.await;
        let phase = if result.is_ok() { MessagePhase::Finished } else { MessagePhase::Failed };
        self.feed.publish(|| message(phase));
        result
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
        self.around("market_snapshot", self.inner.market_snapshot(tenant)).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.around("create_store", self.inner.create_store(tenant, name, key)).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.around("list_product", self.inner.list_product(tenant, listing, key)).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.around("set_price", self.inner.set_price(tenant, product_id, price, key)).await
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        self.around("launch_campaign", self.inner.launch_campaign(tenant, spec, key)).await
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        self.around("publish_post", self.inner.publish_post(tenant, post, key)).await
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[boardroom_adapters::PublishedPost],
    ) -> Result<Vec<boardroom_adapters::PostEngagement>, AdapterError> {
        self.around("post_engagement", self.inner.post_engagement(tenant, posts)).await
    }

    async fn campaign_days(
        &self,
        tenant: TenantId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<boardroom_adapters::CampaignDay>, AdapterError> {
        self.around("campaign_days", self.inner.campaign_days(tenant, from, to)).await
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.around("advance", self.inner.advance(tenant, days)).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.around("report", self.inner.report(tenant, from_day, to_day)).await
    }

    // Saving and restoring the simulated world is bookkeeping, not a platform call.
    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.inner.export_state(tenant).await
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.inner.import_state(tenant, state).await
    }

    fn rehome_state(&self, state: Value, to: TenantId) -> Result<Value, AdapterError> {
        self.inner.rehome_state(state, to)
    }
}
