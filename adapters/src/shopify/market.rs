//! [`ShopifyMarket`]: a tenant's connected shop as the market its swarm acts on.
//!
//! The CEO's cycle is written against [`Marketplace`]; this is that interface over one
//! shop's [`ShopifyClient`]:
//!
//! - **Research** (the niches, their demand and prices) is not something a shop knows:
//!   it comes from a research market, the sandbox's model of the niches, labelled as
//!   such by [`Marketplace::is_simulated`] on that market, never on this one.
//! - **Selling** is the shop's: opening the store reads the shop (and so checks the
//!   token), listing a product creates it on Shopify (once per idempotency key), and a
//!   price change sets the variant's price.
//! - **Days** are marks in real time (see `live_days`): [`Marketplace::report`] reads
//!   the orders Shopify took between two marks (in pages, under the shop's rate
//!   limit). The marks, and the variants and unit costs of the products listed, are
//!   this market's state, saved and restored like the sandbox's world, so a restarted
//!   process goes on counting.
//! - **Ads and posts** belong to ad and social platforms, not to a shop:
//!   [`Marketplace::advertises`] is `false`, and the calls are refused.
//!
//! Money reaches the ledger from the shop's own order deliveries (webhooks) and from
//! `stores/sync`, each order once by its id; the report here is for the swarm's
//! decisions and minutes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use boardroom_memory::TenantId;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ShopifyClient, ShopifyProductDraft};
use crate::live_days::DayMarks;
use crate::{
    AdChannel, AdapterError, CampaignRef, CampaignSpec, ChannelPerformance, IdempotencyKey, ListedProduct,
    MarketSnapshot, Marketplace, PerformanceReport, Platform, PostRef, PostSpec, ProductListing, ProductPerformance,
    StoreRef,
};

/// One tenant's connected shop as its swarm's market.
pub struct ShopifyMarket {
    tenant: TenantId,
    client: ShopifyClient,
    research: Arc<dyn Marketplace>,
    state: Mutex<LiveState>,
}

/// What the market keeps between calls (and across restarts, through
/// [`Marketplace::export_state`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LiveState {
    /// When each day began.
    day_starts: DayMarks,
    /// The products this swarm listed, by Shopify product id.
    listed: BTreeMap<String, Listed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listed {
    variant_id: String,
    niche: String,
    price: Decimal,
    unit_cost: Decimal,
}

impl LiveState {
    fn new(now: DateTime<Utc>) -> Self {
        Self { day_starts: DayMarks::starting(now), listed: BTreeMap::new() }
    }

    fn today(&self) -> u32 {
        self.day_starts.today()
    }
}

impl ShopifyMarket {
    /// `tenant`'s shop behind `client`, with its niches researched on `research`.
    pub fn new(tenant: TenantId, client: ShopifyClient, research: Arc<dyn Marketplace>) -> Self {
        Self { tenant, client, research, state: Mutex::new(LiveState::new(Utc::now())) }
    }

    /// The client of the shop (its circuit's state, for a dashboard).
    pub fn client(&self) -> &ShopifyClient {
        &self.client
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LiveState> {
        // The state is plain data, consistent between statements: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_tenant(&self, tenant: TenantId) -> Result<(), AdapterError> {
        if tenant == self.tenant {
            Ok(())
        } else {
            Err(AdapterError::rejected(Platform::Shopify, format!("this shop belongs to business {}", self.tenant)))
        }
    }

    fn no_ads() -> AdapterError {
        AdapterError::rejected(
            Platform::Shopify,
            "a shop runs no ads and publishes no posts: connect an ad or social platform for that",
        )
    }
}

#[async_trait]
impl Marketplace for ShopifyMarket {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn advertises(&self) -> bool {
        false
    }

    fn circuit_state(&self) -> Option<crate::CircuitState> {
        Some(self.client.circuit_state())
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.check_tenant(tenant)?;
        let research = self.research.market_snapshot(tenant).await?;
        Ok(MarketSnapshot { today: self.state().today(), niches: research.niches })
    }

    async fn create_store(
        &self,
        tenant: TenantId,
        _name: &str,
        _key: &IdempotencyKey,
    ) -> Result<StoreRef, AdapterError> {
        // The shop exists already: "opening" it checks the token and names it.
        self.check_tenant(tenant)?;
        let shop = self.client.shop().await?;
        Ok(StoreRef { url: format!("https://{}", shop.myshopify_domain), store_id: shop.myshopify_domain })
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.check_tenant(tenant)?;
        let draft = ShopifyProductDraft {
            title: listing.title.clone(),
            description: listing.description.clone(),
            tags: listing.tags.clone(),
            price: listing.price,
        };
        let product = self.client.create_product(&draft, key).await?;
        self.state().listed.insert(
            product.product_id.clone(),
            Listed {
                variant_id: product.variant_id.clone(),
                niche: listing.niche.clone(),
                price: listing.price,
                unit_cost: listing.unit_cost,
            },
        );
        let url = product.online_store_url.clone().unwrap_or_else(|| admin_url(&self.client, &product.product_id));
        Ok(ListedProduct { product_id: product.product_id, url })
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        _key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.check_tenant(tenant)?;
        let known = self.state().listed.get(product_id).map(|listed| listed.variant_id.clone());
        let variant_id = match known {
            Some(variant_id) => variant_id,
            None => find_variant(&self.client, product_id).await?,
        };
        // Setting the same price twice is harmless, so the key is not needed here.
        self.client.set_price(product_id, &variant_id, price).await?;
        if let Some(listed) = self.state().listed.get_mut(product_id) {
            listed.price = price;
        }
        Ok(())
    }

    async fn launch_campaign(
        &self,
        _tenant: TenantId,
        _spec: &CampaignSpec,
        _key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(Self::no_ads())
    }

    async fn publish_post(
        &self,
        _tenant: TenantId,
        _post: &PostSpec,
        _key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        Err(Self::no_ads())
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.check_tenant(tenant)?;
        self.state().day_starts.advance(days, Utc::now());
        Ok(())
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.check_tenant(tenant)?;
        let (today, window, listed) = {
            let state = self.state();
            (state.today(), state.day_starts.window(Platform::Shopify, from_day, to_day)?, state.listed.clone())
        };
        let mut totals: BTreeMap<&str, (u64, Decimal)> = BTreeMap::new();
        if let Some((start, end)) = window {
            for order in self.client.all_orders(start).await? {
                if order.created_at >= end {
                    continue;
                }
                for line in &order.line_items {
                    let Some(product) = line.product_id.as_deref() else { continue };
                    let Some((id, _)) = listed.get_key_value(product) else { continue };
                    let entry = totals.entry(id.as_str()).or_default();
                    entry.0 += u64::try_from(line.quantity).unwrap_or(0);
                    entry.1 += line.amount;
                }
            }
        }
        let products = listed
            .iter()
            .map(|(id, product)| {
                let (units, revenue) = totals.get(id.as_str()).copied().unwrap_or_default();
                ProductPerformance {
                    product_id: id.clone(),
                    niche: product.niche.clone(),
                    price: product.price,
                    units_sold: units,
                    gross_revenue: revenue,
                    // Refunds and Shopify's fees reach the ledger from the shop's own
                    // deliveries; a day's orders do not say them.
                    refunded_units: 0,
                    refunds: Decimal::ZERO,
                    payment_fees: Decimal::ZERO,
                    cost_of_goods: product.unit_cost * Decimal::from(units),
                    channels: AdChannel::ALL
                        .iter()
                        .map(|&channel| ChannelPerformance { channel, spend: Decimal::ZERO, clicks: 0, conversions: 0 })
                        .collect(),
                }
            })
            .collect();
        Ok(PerformanceReport {
            platform: Platform::Shopify,
            from_day,
            to_day,
            today,
            products,
            campaigns: Vec::new(),
            posts: Vec::new(),
        })
    }

    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        if tenant != self.tenant {
            return None;
        }
        serde_json::to_value(&*self.state()).ok()
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.check_tenant(tenant)?;
        let restored: LiveState = serde_json::from_value(state).map_err(|error| {
            AdapterError::rejected(Platform::Shopify, format!("the saved state of the shop is unreadable: {error}"))
        })?;
        if !restored.day_starts.is_valid() {
            return Err(AdapterError::rejected(Platform::Shopify, "the saved state of the shop has no days"));
        }
        *self.state() = restored;
        Ok(())
    }
}

/// Where the shop's admin shows a product, for a product not published to the online
/// store yet.
fn admin_url(client: &ShopifyClient, product_id: &str) -> String {
    let origin = client.endpoint().split("/admin/").next().unwrap_or_default();
    let number = product_id.rsplit('/').next().unwrap_or(product_id);
    format!("{origin}/admin/products/{number}")
}

/// The first variant of a product this market did not list (or has forgotten).
async fn find_variant(client: &ShopifyClient, product_id: &str) -> Result<String, AdapterError> {
    let mut after = None;
    loop {
        let page = client.products(after.as_deref()).await?;
        if let Some(variant) = page.items.iter().find(|p| p.product_id == product_id).and_then(|p| p.variant_id.clone())
        {
            return Ok(variant);
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => {
                return Err(AdapterError::rejected(
                    Platform::Shopify,
                    format!("the shop has no product {product_id} (was it deleted on Shopify?)"),
                ));
            }
        }
    }
}
