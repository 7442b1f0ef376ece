//! [`DryRunMarket`]: a rehearsal of going live. The swarm runs its cycle on the sandbox
//! as usual, and every call that would change the connected platform is written on the
//! tenant's event log (`dry_run.call`) with the requests it would send, bodies
//! included, and is not sent.
//!
//! Marketing follows the connected platform: a shop runs no ads and publishes no posts,
//! so neither does its rehearsal ([`Marketplace::advertises`]).

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_memory::{EventLog, NewEvent, TenantId};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::shopify::{planned_price_change, planned_product_creation, planned_shop_read};
use crate::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, ShopifyProductDraft, StoreRef,
};

/// The sandbox, with the calls a connected platform would get written down instead of
/// sent.
pub struct DryRunMarket {
    rehearsal: Arc<dyn Marketplace>,
    target: Platform,
    events: EventLog,
}

impl DryRunMarket {
    /// Rehearses going live on `target` (only [`Platform::Shopify`] so far) on the
    /// `rehearsal` market (the sandbox), recording on `events`.
    pub fn new(rehearsal: Arc<dyn Marketplace>, target: Platform, events: EventLog) -> Result<Self, AdapterError> {
        if target != Platform::Shopify {
            return Err(AdapterError::rejected(target, "a dry run is available for Shopify only"));
        }
        Ok(Self { rehearsal, target, events })
    }

    async fn record(&self, tenant: TenantId, operation: &str, summary: String, requests: Vec<Value>) {
        let data = json!({ "platform": self.target, "operation": operation, "sent": false, "requests": requests });
        let event = NewEvent::now(tenant, "shopify", "dry_run.call", summary).with_data(data);
        if let Err(error) = self.events.append(event).await {
            tracing::warn!(%error, %tenant, "a dry-run call was not recorded");
        }
    }
}

/// How a request count reads.
fn requests(count: usize) -> String {
    if count == 1 { "1 request".to_owned() } else { format!("{count} requests") }
}

#[async_trait]
impl Marketplace for DryRunMarket {
    fn platform(&self) -> Platform {
        // The world the cycle really runs in, and whose state is saved, is the sandbox's.
        self.rehearsal.platform()
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn advertises(&self) -> bool {
        false
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.rehearsal.market_snapshot(tenant).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        let summary = "Dry run: would read the connected shop (1 request, not sent)".to_owned();
        self.record(tenant, "create_store", summary, vec![planned_shop_read()]).await;
        self.rehearsal.create_store(tenant, name, key).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        let draft = ShopifyProductDraft {
            title: listing.title.clone(),
            description: listing.description.clone(),
            tags: listing.tags.clone(),
            price: listing.price,
        };
        let planned = planned_product_creation(&draft, key);
        let summary = format!(
            "Dry run: would list \u{201c}{}\u{201d} on Shopify at {} ({}, not sent)",
            listing.title,
            listing.price,
            requests(planned.len())
        );
        self.record(tenant, "list_product", summary, planned).await;
        self.rehearsal.list_product(tenant, listing, key).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        let planned = vec![planned_price_change("<the product on Shopify>", "<its variant>", price)];
        let summary =
            format!("Dry run: would set the price of product {product_id} on Shopify to {price} (1 request, not sent)");
        self.record(tenant, "set_price", summary, planned).await;
        self.rehearsal.set_price(tenant, product_id, price, key).await
    }

    async fn launch_campaign(
        &self,
        _tenant: TenantId,
        _spec: &CampaignSpec,
        _key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(AdapterError::rejected(self.target, "a shop runs no ads: connect an ad platform for that"))
    }

    async fn publish_post(
        &self,
        _tenant: TenantId,
        _post: &PostSpec,
        _key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        Err(AdapterError::rejected(self.target, "a shop publishes no posts: connect a social platform for that"))
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.rehearsal.advance(tenant, days).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.rehearsal.report(tenant, from_day, to_day).await
    }

    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.rehearsal.export_state(tenant).await
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.rehearsal.import_state(tenant, state).await
    }

    fn rehome_state(&self, state: Value, to: TenantId) -> Result<Value, AdapterError> {
        self.rehearsal.rehome_state(state, to)
    }
}
