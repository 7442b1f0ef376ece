//! [`GumroadMarket`]: a tenant's connected Gumroad account as the market its swarm acts
//! on.
//!
//! The CEO's cycle is written against [`Marketplace`]; this is that interface over one
//! seller's [`GumroadClient`]:
//!
//! - **Research** (the niches, their demand and prices) is not something a seller's
//!   account knows: it comes from a research market, the sandbox's model of the niches.
//! - **Selling** is the account's: opening the store reads the seller (and so checks the
//!   token), listing a product creates it (`POST /products`, price in cents, once per
//!   idempotency key: the key lives in the product's permalink) and enables it, and a
//!   price change is `PUT /products/:id` with the new price.
//! - **Days** are marks in real time (see `live_days`): [`Marketplace::report`] reads
//!   the seller's sales between two marks, page by page. The marks, and the niches and
//!   unit costs of the products listed, are this market's state, saved and restored like
//!   the sandbox's world, so a restarted process goes on counting.
//! - **Ads and posts** belong to ad and social platforms: [`Marketplace::advertises`]
//!   is `false`, and the calls are refused.
//!
//! Money reaches the ledger from the account's pings (re-fetched before they are
//! believed), each sale once by its id; the report here is for the swarm's decisions
//! and minutes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use boardroom_memory::TenantId;
use chrono::Utc;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::GumroadClient;
use crate::live_days::DayMarks;
use crate::{
    AdChannel, AdapterError, CampaignRef, CampaignSpec, ChannelPerformance, IdempotencyKey, ListedProduct,
    MarketSnapshot, Marketplace, PerformanceReport, Platform, PostRef, PostSpec, ProductListing, ProductPerformance,
    StoreRef,
};

/// Where a seller's profile is when Gumroad does not say.
const GUMROAD_HOME: &str = "https://gumroad.com";

/// One tenant's Gumroad account as its swarm's market.
pub struct GumroadMarket {
    tenant: TenantId,
    client: GumroadClient,
    research: Arc<dyn Marketplace>,
    state: Mutex<LiveState>,
}

/// What the market keeps between calls (and across restarts, through
/// [`Marketplace::export_state`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LiveState {
    /// When each day began.
    day_starts: DayMarks,
    /// The products this swarm listed, by Gumroad product id.
    listed: BTreeMap<String, Listed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listed {
    niche: String,
    price: Decimal,
    unit_cost: Decimal,
}

impl GumroadMarket {
    /// `tenant`'s Gumroad account behind `client`, with its niches researched on
    /// `research`.
    pub fn new(tenant: TenantId, client: GumroadClient, research: Arc<dyn Marketplace>) -> Self {
        let state = LiveState { day_starts: DayMarks::starting(Utc::now()), listed: BTreeMap::new() };
        Self { tenant, client, research, state: Mutex::new(state) }
    }

    /// The client of the account (its circuit's state, for a dashboard).
    pub fn client(&self) -> &GumroadClient {
        &self.client
    }

    fn state(&self) -> MutexGuard<'_, LiveState> {
        // The state is plain data, consistent between statements: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_tenant(&self, tenant: TenantId) -> Result<(), AdapterError> {
        if tenant == self.tenant {
            Ok(())
        } else {
            Err(AdapterError::rejected(
                Platform::Gumroad,
                format!("this Gumroad account belongs to business {}", self.tenant),
            ))
        }
    }

    fn no_ads() -> AdapterError {
        AdapterError::rejected(
            Platform::Gumroad,
            "a Gumroad account runs no ads and publishes no posts: connect an ad or social platform for that",
        )
    }
}

/// `price` in cents, as Gumroad's `price` takes it (rounded to the cent).
fn cents(price: Decimal) -> Result<u64, AdapterError> {
    (price.round_dp(2) * Decimal::ONE_HUNDRED).to_u64().ok_or_else(|| {
        AdapterError::rejected(Platform::Gumroad, format!("{price} is not a price Gumroad can take (in cents)"))
    })
}

/// Cents as money.
fn money(cents: u64) -> Decimal {
    Decimal::new(i64::try_from(cents).unwrap_or(i64::MAX), 2)
}

#[async_trait]
impl Marketplace for GumroadMarket {
    fn platform(&self) -> Platform {
        Platform::Gumroad
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
        Ok(MarketSnapshot { today: self.state().day_starts.today(), niches: research.niches })
    }

    async fn create_store(
        &self,
        tenant: TenantId,
        _name: &str,
        _key: &IdempotencyKey,
    ) -> Result<StoreRef, AdapterError> {
        // The account exists already: "opening" it checks the token and names the seller.
        self.check_tenant(tenant)?;
        let seller = self.client.user().await?;
        Ok(StoreRef { url: seller.url.unwrap_or_else(|| GUMROAD_HOME.to_owned()), store_id: seller.user_id })
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.check_tenant(tenant)?;
        let price_cents = cents(listing.price)?;
        // Made once per key (a repeat finds the first), then put on sale: enabling twice
        // is harmless, so a step resumed between the two finishes the job.
        let made = self.client.create_product(&listing.title, price_cents, &listing.description, key).await?;
        let product = if made.published { made } else { self.client.enable_product(&made.id).await? };
        self.state().listed.insert(
            product.id.clone(),
            Listed { niche: listing.niche.clone(), price: listing.price, unit_cost: listing.unit_cost },
        );
        let url = product.short_url.clone().unwrap_or_else(|| {
            let permalink = product.custom_permalink.as_deref().unwrap_or(product.id.as_str());
            format!("{GUMROAD_HOME}/l/{permalink}")
        });
        Ok(ListedProduct { product_id: product.id, url })
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        _key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.check_tenant(tenant)?;
        // Setting the same price twice is harmless, so the key is not needed here.
        self.client.set_price(product_id, cents(price)?).await?;
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
            (
                state.day_starts.today(),
                state.day_starts.window(Platform::Gumroad, from_day, to_day)?,
                state.listed.clone(),
            )
        };
        #[derive(Default)]
        struct Totals {
            units: u64,
            revenue: Decimal,
            refunded_units: u64,
            refunds: Decimal,
            fees: Decimal,
        }
        let mut totals: BTreeMap<&str, Totals> = BTreeMap::new();
        if let Some((start, end)) = window {
            // Gumroad filters sales by day; the marks cut them to the moment.
            for sale in self.client.all_sales(start.date_naive()).await? {
                if sale.created_at < start || sale.created_at >= end {
                    continue;
                }
                let Some((id, _)) = listed.get_key_value(sale.product_id.as_str()) else { continue };
                let entry = totals.entry(id.as_str()).or_default();
                entry.units += 1;
                entry.revenue += money(sale.price_cents);
                entry.fees += money(sale.gumroad_fee_cents.unwrap_or(0));
                // What Gumroad says now of the range's sales: refunded in full.
                if sale.refunded {
                    entry.refunded_units += 1;
                    entry.refunds += money(sale.price_cents);
                }
            }
        }
        let products = listed
            .iter()
            .map(|(id, product)| {
                let sold = totals.remove(id.as_str()).unwrap_or_default();
                ProductPerformance {
                    product_id: id.clone(),
                    niche: product.niche.clone(),
                    price: product.price,
                    units_sold: sold.units,
                    gross_revenue: sold.revenue,
                    refunded_units: sold.refunded_units,
                    refunds: sold.refunds,
                    payment_fees: sold.fees,
                    cost_of_goods: product.unit_cost * Decimal::from(sold.units),
                    channels: AdChannel::ALL
                        .iter()
                        .map(|&channel| ChannelPerformance { channel, spend: Decimal::ZERO, clicks: 0, conversions: 0 })
                        .collect(),
                }
            })
            .collect();
        Ok(PerformanceReport {
            platform: Platform::Gumroad,
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
            AdapterError::rejected(
                Platform::Gumroad,
                format!("the saved state of the Gumroad account is unreadable: {error}"),
            )
        })?;
        if !restored.day_starts.is_valid() {
            return Err(AdapterError::rejected(
                Platform::Gumroad,
                "the saved state of the Gumroad account has no days",
            ));
        }
        *self.state() = restored;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_become_whole_cents() {
        assert_eq!(cents(Decimal::new(2900, 2)).expect("a price"), 2900);
        assert_eq!(cents(Decimal::new(19_995, 3)).expect("a price"), 2000, "rounded to the cent");
        cents(Decimal::new(-1, 0)).expect_err("negative");
        assert_eq!(money(2900), Decimal::new(2900, 2));
    }
}
