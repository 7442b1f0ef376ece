//! [`StripeMarket`]: a tenant selling digital products through Stripe Connect, as the
//! market its swarm acts on.
//!
//! The CEO's cycle is written against [`Marketplace`]; this is that interface over the
//! platform's [`StripeClient`] and one tenant's connected account:
//!
//! - **Research** (niches, demand, prices) is not something Stripe knows: it comes from
//!   a research market (the sandbox's model of the niches), as on a Shopify shop.
//! - **Opening the store** reads the connected account and refuses, saying so, while it
//!   cannot take charges (its owner has not finished Stripe's onboarding).
//! - **Listing** a product makes a Product, a one-time Price and a Payment Link. The
//!   link is a *destination charge* made by the platform: each payment goes to the
//!   tenant's account (`transfer_data[destination]`) less the platform's fee
//!   (`application_fee_amount`, the tenant's [`PlatformFeeShare`] of the price). Each of
//!   the three requests carries a key derived from the listing's [`IdempotencyKey`]
//!   ([`IdempotencyKey::part`]), so a listing resumed after a crash gets the objects
//!   made the first time back instead of making new ones. The link is recorded with
//!   the [`StripeLinkRegistry`] before its URL is handed out: the platform's
//!   `checkout.session.completed` deliveries about it carry no connected account (a
//!   destination charge happens on the platform), so the link is what finds the tenant.
//! - **Prices are immutable** on Stripe, and so are a link's prices: a new price is a
//!   new Price and a new Payment Link, and the old link is deactivated (`active=false`,
//!   its page sending buyers to the new link), each request keyed from the call's key.
//! - **Days** are marks in real time, as on a shop: [`Marketplace::advance`] marks
//!   the start of the next day, and [`Marketplace::report`] reads the paid checkout
//!   sessions of this market's links between the marks. The marks and the listings are
//!   this market's state, exported and imported like the sandbox's world.
//! - **Ads and posts** belong to ad and social platforms: [`Marketplace::advertises`]
//!   is `false`, and the calls are refused.
//!
//! Money reaches the ledger from Stripe's signed deliveries (revenue, the platform's
//! application fee, refunds), each once; the report here is for the swarm's decisions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use boardroom_memory::TenantId;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PlatformFeeShare, StripeApplicationFee, StripeClient, StripePaymentLink, StripePaymentLinkDraft};
use crate::{
    AdChannel, AdapterError, CampaignRef, CampaignSpec, ChannelPerformance, IdempotencyKey, ListedProduct,
    MarketSnapshot, Marketplace, PerformanceReport, Platform, PostRef, PostSpec, ProductListing, ProductPerformance,
    StoreRef,
};

/// The currency a Stripe market sells in.
pub const STRIPE_MARKET_CURRENCY: &str = "usd";

/// The metadata key on a payment link (and so on each checkout session it starts) that
/// holds the platform's fee on one sale, in minor units: what the ledger books as the
/// platform's fee when the sale's delivery arrives.
pub const PLATFORM_FEE_METADATA: &str = "boardroom_platform_fee";

/// The metadata key on a payment link that names the Stripe product it sells.
pub const PRODUCT_METADATA: &str = "boardroom_product";

/// Where a [`StripeMarket`] records each payment link it makes for its tenant, before
/// the link's URL is handed out, so that Stripe's deliveries about the link's checkouts
/// find the tenant by an object the tenant's market made (never by what a payload
/// claims). Recording the same link for the same tenant again is harmless.
#[async_trait]
pub trait StripeLinkRegistry: Send + Sync {
    /// Records that `link` (`plink_…`) sells for `tenant`.
    async fn register_payment_link(&self, tenant: TenantId, link: &str) -> Result<(), AdapterError>;
}

/// One tenant selling through its Stripe Connect account, as its swarm's market.
pub struct StripeMarket {
    tenant: TenantId,
    /// The platform's client: destination charges are made by the platform.
    client: StripeClient,
    /// The tenant's connected account, `acct_…`, where each payment goes.
    account: String,
    fee_share: PlatformFeeShare,
    research: Arc<dyn Marketplace>,
    links: Arc<dyn StripeLinkRegistry>,
    state: Mutex<LiveState>,
}

/// What the market keeps between calls (and across restarts, through
/// [`Marketplace::export_state`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LiveState {
    /// When each day began: day `d` is `[day_starts[d], day_starts[d + 1])`; the last
    /// entry is today's start.
    day_starts: Vec<DateTime<Utc>>,
    /// The products this swarm listed, by Stripe product id.
    listed: BTreeMap<String, Listed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listed {
    niche: String,
    price: Decimal,
    unit_cost: Decimal,
    /// The price sold now, `price_…`.
    price_id: String,
    /// The link selling it now, `plink_…`.
    link_id: String,
    /// Every link that ever sold it, oldest first (retired ones still sold in their
    /// day, so the report reads them all).
    links: Vec<String>,
}

impl LiveState {
    fn new(now: DateTime<Utc>) -> Self {
        Self { day_starts: vec![now], listed: BTreeMap::new() }
    }

    fn today(&self) -> u32 {
        u32::try_from(self.day_starts.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }
}

impl StripeMarket {
    /// `tenant` selling through its connected account `account` (`acct_…`) with the
    /// platform's `client`, keeping `fee_share` of each sale for the platform, its
    /// niches researched on `research` and its links recorded with `links`. Refused when
    /// `account` is not an account id, or `client` acts on a connected account (a
    /// destination charge is the platform's).
    pub fn new(
        tenant: TenantId,
        client: StripeClient,
        account: &str,
        fee_share: PlatformFeeShare,
        research: Arc<dyn Marketplace>,
        links: Arc<dyn StripeLinkRegistry>,
    ) -> Result<Self, AdapterError> {
        if client.acting_on().is_some() {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                "a Stripe market sells through destination charges, which the platform makes: give it the \
                 platform's client",
            ));
        }
        // Checked the way every call checks it.
        client.on_account(account)?;
        Ok(Self {
            tenant,
            client,
            account: account.to_owned(),
            fee_share,
            research,
            links,
            state: Mutex::new(LiveState::new(Utc::now())),
        })
    }

    /// The platform's client (its circuit's state, for a dashboard).
    pub fn client(&self) -> &StripeClient {
        &self.client
    }

    /// The connected account the sales go to.
    pub fn account(&self) -> &str {
        &self.account
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
                Platform::Stripe,
                format!("this Stripe account sells for business {}", self.tenant),
            ))
        }
    }

    fn no_ads() -> AdapterError {
        AdapterError::rejected(
            Platform::Stripe,
            "Stripe takes payments and runs no ads or posts: connect an ad or social platform for that",
        )
    }

    /// A payment link selling one of `price_id` at `amount` minor units, paying the
    /// tenant's account less the platform's fee, recorded before it is returned.
    async fn make_link(
        &self,
        product_id: &str,
        price_id: &str,
        amount: u64,
        key: &IdempotencyKey,
    ) -> Result<StripePaymentLink, AdapterError> {
        let fee = self.fee_share.fee_on(amount);
        let draft = StripePaymentLinkDraft::new(price_id, 1)
            .paying_to(&self.account, StripeApplicationFee::Amount(fee))
            .with_metadata(PRODUCT_METADATA, product_id)
            .with_metadata(PLATFORM_FEE_METADATA, fee.to_string());
        let link = self.client.create_payment_link(&draft, key).await?;
        self.links.register_payment_link(self.tenant, &link.id).await?;
        Ok(link)
    }
}

#[async_trait]
impl Marketplace for StripeMarket {
    fn platform(&self) -> Platform {
        Platform::Stripe
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
        // The account exists already: "opening" the store checks it can be paid.
        self.check_tenant(tenant)?;
        let account = self.client.account(&self.account).await?;
        if !account.charges_enabled {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!(
                    "the Stripe account {} cannot take payments yet: its owner has not finished Stripe's \
                     onboarding (POST /api/business/{}/stripe/onboard gives a fresh link)",
                    account.id, self.tenant
                ),
            ));
        }
        Ok(StoreRef {
            url: format!("https://dashboard.stripe.com/connect/accounts/{}", account.id),
            store_id: account.id,
        })
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.check_tenant(tenant)?;
        let amount = minor_units(listing.price)?;
        let metadata = BTreeMap::from([
            ("boardroom_business".to_owned(), self.tenant.to_string()),
            ("boardroom_niche".to_owned(), listing.niche.clone()),
        ]);
        let product =
            self.client.create_product(&listing.title, &listing.description, &metadata, &key.part("product")).await?;
        let price = self.client.create_price(&product.id, amount, STRIPE_MARKET_CURRENCY, &key.part("price")).await?;
        let link = self.make_link(&product.id, &price.id, amount, &key.part("link")).await?;
        let mut state = self.state();
        let listed = state.listed.entry(product.id.clone()).or_insert_with(|| Listed {
            niche: listing.niche.clone(),
            price: listing.price,
            unit_cost: listing.unit_cost,
            price_id: price.id.clone(),
            link_id: link.id.clone(),
            links: Vec::new(),
        });
        if !listed.links.contains(&link.id) {
            listed.links.push(link.id.clone());
        }
        Ok(ListedProduct { product_id: product.id, url: link.url })
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.check_tenant(tenant)?;
        let Some(old_link) = self.state().listed.get(product_id).map(|listed| listed.link_id.clone()) else {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("this business did not list {product_id} on Stripe, so it has no link to re-price"),
            ));
        };
        let amount = minor_units(price)?;
        let new_price =
            self.client.create_price(product_id, amount, STRIPE_MARKET_CURRENCY, &key.part("price")).await?;
        let link = self.make_link(product_id, &new_price.id, amount, &key.part("link")).await?;
        // A resumed call gets the same new link back; the old one was retired then. Its
        // URL may still be out there, so its page sends buyers to the new one.
        if link.id != old_link {
            let moved = format!("The price has changed: buy it at {}", link.url);
            self.client
                .deactivate_payment_link(&old_link, Some(&moved), &key.part(&format!("retire/{old_link}")))
                .await?;
        }
        if let Some(listed) = self.state().listed.get_mut(product_id) {
            listed.price = price;
            listed.price_id = new_price.id;
            listed.link_id = link.id.clone();
            if !listed.links.contains(&link.id) {
                listed.links.push(link.id);
            }
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
        let now = Utc::now();
        let mut state = self.state();
        // Days are marks in real time; several at once all begin now (empty days).
        for _ in 0..days.min(10_000) {
            state.day_starts.push(now);
        }
        Ok(())
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.check_tenant(tenant)?;
        if from_day > to_day {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("report range is empty: from_day {from_day} is after to_day {to_day}"),
            ));
        }
        let (today, window, listed) = {
            let state = self.state();
            let today = state.today();
            let end = to_day.min(today);
            let bound = |day: u32| state.day_starts.get(day as usize).copied();
            let window = if from_day < end { bound(from_day).zip(bound(end)) } else { None };
            (today, window, state.listed.clone())
        };
        let mut products = Vec::with_capacity(listed.len());
        for (product_id, product) in &listed {
            let (mut units, mut gross, mut fees) = (0_u64, Decimal::ZERO, Decimal::ZERO);
            if let Some((start, end)) = window {
                for link in &product.links {
                    for session in self.client.checkout_sessions_of_link(link, Some(start)).await? {
                        let paid = session.status.as_deref() == Some("complete") && session.payment_status == "paid";
                        if !paid || session.created >= end {
                            continue;
                        }
                        let amount = session.amount_total.unwrap_or(0);
                        // The fee the link was made with; the share's fee on the amount
                        // for a session whose metadata lost it.
                        let fee = session
                            .metadata
                            .get(PLATFORM_FEE_METADATA)
                            .and_then(|fee| fee.parse::<u64>().ok())
                            .unwrap_or_else(|| self.fee_share.fee_on(amount));
                        units += 1;
                        gross += money(amount);
                        fees += money(fee);
                    }
                }
            }
            products.push(ProductPerformance {
                product_id: product_id.clone(),
                niche: product.niche.clone(),
                price: product.price,
                units_sold: units,
                gross_revenue: gross,
                // Refunds reach the ledger from Stripe's own deliveries.
                refunded_units: 0,
                refunds: Decimal::ZERO,
                // What the tenant pays per sale is the platform's fee (the platform pays
                // Stripe's processing fee: `controller[fees][payer]=application`).
                payment_fees: fees,
                cost_of_goods: product.unit_cost * Decimal::from(units),
                channels: AdChannel::ALL
                    .iter()
                    .map(|&channel| ChannelPerformance { channel, spend: Decimal::ZERO, clicks: 0, conversions: 0 })
                    .collect(),
            });
        }
        Ok(PerformanceReport {
            platform: Platform::Stripe,
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
                Platform::Stripe,
                format!("the saved state of the Stripe market is unreadable: {error}"),
            )
        })?;
        if restored.day_starts.is_empty() {
            return Err(AdapterError::rejected(Platform::Stripe, "the saved state of the Stripe market has no days"));
        }
        *self.state() = restored;
        Ok(())
    }
}

/// A price in dollars as Stripe takes it: whole cents, at least one, at most what a
/// Price may be (999,999.99).
fn minor_units(price: Decimal) -> Result<u64, AdapterError> {
    let cents = (price.round_dp(2) * Decimal::ONE_HUNDRED).to_u64().filter(|cents| (1..=99_999_999).contains(cents));
    cents.ok_or_else(|| {
        AdapterError::rejected(
            Platform::Stripe,
            format!("a price of {price} {} is not between 0.01 and 999,999.99", STRIPE_MARKET_CURRENCY.to_uppercase()),
        )
    })
}

/// Minor units of the market's currency as money.
fn money(minor: u64) -> Decimal {
    Decimal::new(i64::try_from(minor).unwrap_or(i64::MAX), 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_become_whole_cents_within_what_stripe_takes() {
        assert_eq!(minor_units(Decimal::new(2900, 2)).expect("29.00"), 2900);
        assert_eq!(minor_units(Decimal::new(19_995, 3)).expect("19.995 rounds"), 2000);
        assert_eq!(minor_units(Decimal::new(1, 2)).expect("a cent"), 1);
        for bad in [Decimal::ZERO, Decimal::new(-500, 2), Decimal::new(1, 3), Decimal::new(100_000_000, 2)] {
            let error = minor_units(bad).expect_err("outside what a price may be");
            assert!(error.to_string().contains("between 0.01 and 999,999.99"), "{error}");
        }
        assert_eq!(money(2900), Decimal::new(2900, 2));
    }

    #[test]
    fn the_state_survives_an_export_and_an_import() {
        let mut state = LiveState::new(Utc::now());
        state.day_starts.push(Utc::now());
        state.listed.insert(
            "prod_1".to_owned(),
            Listed {
                niche: "planners".to_owned(),
                price: Decimal::new(2900, 2),
                unit_cost: Decimal::new(150, 2),
                price_id: "price_1".to_owned(),
                link_id: "plink_2".to_owned(),
                links: vec!["plink_1".to_owned(), "plink_2".to_owned()],
            },
        );
        let saved = serde_json::to_value(&state).expect("JSON");
        let restored: LiveState = serde_json::from_value(saved).expect("read back");
        assert_eq!(restored.today(), 1);
        assert_eq!(restored.listed["prod_1"].links, ["plink_1", "plink_2"]);
        assert_eq!(restored.listed["prod_1"].price, Decimal::new(2900, 2));
    }
}
