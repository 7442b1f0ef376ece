//! Which market each business's swarm acts on: its `market_mode`, set by its owner
//! (`PUT /api/business/{id}`, `"market_mode"`).
//!
//! - `sandbox` (the default): the shared simulated market.
//! - `dry_run`: the sandbox carries the cycle, and every call the connected shop would
//!   get is written on the event log with its body, not sent ([`DryRunMarket`]). A dry
//!   run rehearses a Shopify shop only.
//! - `live`: the connected Shopify shop ([`ShopifyMarket`]), its credentials opened here
//!   and handed to its client only; without a shop, the business's Stripe Connect
//!   account from payouts onboarding ([`StripeMarket`]: digital products sold through
//!   destination-charge payment links, the platform keeping the owner's tier's fee),
//!   when the server has the platform's key. A connected shop wins over the Stripe
//!   account. A market that cannot be used (nothing connected, a shop's credentials no
//!   longer opening under the server's key, no platform key) refuses every call saying
//!   why, so the owner's cycles fail with that reason instead of quietly going back to
//!   the sandbox.
//!
//! The mode is read when the swarm starts; changing it restarts a running swarm.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, CampaignRef, CampaignSpec, DryRunMarket, IdempotencyKey, ListedProduct, MarketSnapshot,
    Marketplace, PerformanceReport, Platform, PlatformFeeShare, PostRef, PostSpec, ProductListing, ResilienceSettings,
    RetryPolicy, ShopifyClient, ShopifyMarket, StoreRef, StripeClient, StripeConnection, StripeLinkRegistry,
    StripeMarket,
};
use boardroom_agents::accountant::platform_fee_rate;
use boardroom_memory::{EventLog, MemoryError, SharedStore, Tenant, TenantId, Tier};
use boardroom_supervisor::TenantMarkets;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::config::StripePlatform;
use crate::http::crypto::CredentialSealer;
use crate::http::routes::payouts::connect_account;
use crate::http::routes::stores::shopify_connection;
use crate::http::routes::webhooks::STRIPE_PAYMENT_LINKS;

/// The key of the mode in a tenant's settings.
pub(crate) const MARKET_MODE: &str = "market_mode";

/// Where a business's swarm acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MarketMode {
    /// The simulated market.
    #[default]
    Sandbox,
    /// The sandbox, with the calls the connected shop would get recorded, not sent.
    DryRun,
    /// The connected shop.
    Live,
}

impl MarketMode {
    /// The business's mode (the default when its settings name none, or an unknown one).
    pub(crate) fn of(tenant: &Tenant) -> Self {
        serde_json::from_value(tenant.settings[MARKET_MODE].clone()).unwrap_or_default()
    }

    /// The mode as settings and answers spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::DryRun => "dry_run",
            Self::Live => "live",
        }
    }
}

/// Time-outs for a live shop's calls: a request gets 15 s, a call (its retries and
/// rate-limit waits included) a minute, well inside the ten minutes a cycle may take.
fn live_settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy { max_delay: Duration::from_secs(8), ..RetryPolicy::default() },
        budget: CallBudget { per_request_timeout: Duration::from_secs(15), default_deadline: Duration::from_secs(60) },
        ..ResilienceSettings::default()
    }
}

/// Chooses each tenant's market from its `market_mode`.
pub(crate) struct ConnectedMarkets {
    store: SharedStore,
    sealer: CredentialSealer,
    events: EventLog,
    /// The platform's Stripe key and address, when payouts are set up.
    stripe: Option<StripePlatform>,
}

impl ConnectedMarkets {
    pub(crate) fn new(
        store: SharedStore,
        sealer: CredentialSealer,
        events: EventLog,
        stripe: Option<StripePlatform>,
    ) -> Self {
        Self { store, sealer, events, stripe }
    }

    /// The business selling through its Stripe Connect account, or why it cannot.
    async fn stripe_market(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> Arc<dyn Marketplace> {
        let account = match connect_account(&self.store, row.id).await {
            Ok(Some(account)) => account,
            Ok(None) => return unusable(Platform::Shopify, nothing_connected(row.id)),
            Err(error) => return unusable(Platform::Stripe, format!("the Stripe account cannot be read: {error}")),
        };
        let Some(platform) = &self.stripe else {
            return unusable(
                Platform::Stripe,
                "this server has no Stripe platform key (STRIPE_SECRET_KEY): it cannot sell through Stripe",
            );
        };
        let connection = StripeConnection::new(platform.api_base.clone(), platform.secret_key.expose());
        let client = match StripeClient::with_settings(connection, live_settings()) {
            Ok(client) => client,
            Err(error) => return unusable(Platform::Stripe, error.to_string()),
        };
        let links = Arc::new(RecordedPaymentLinks { store: self.store.clone() });
        let share = self.fee_share(row).await;
        match StripeMarket::new(row.id, client, &account, share, shared.clone(), links) {
            Ok(market) => Arc::new(market),
            Err(error) => unusable(Platform::Stripe, error.to_string()),
        }
    }

    /// The platform's share of each sale: the owner's tier's fee (free 10 %, pro 7 %,
    /// enterprise 5 %, as the accountant splits profit), 7 % when the tier cannot be read.
    async fn fee_share(&self, row: &Tenant) -> PlatformFeeShare {
        match self.store.user(row.user_id).await {
            Ok(Some(user)) => fee_share_of(user.tier),
            _ => PlatformFeeShare::DEFAULT,
        }
    }
}

/// The platform's share of each sale on `tier`: the accountant's rate, in basis points.
fn fee_share_of(tier: Tier) -> PlatformFeeShare {
    let basis_points = (platform_fee_rate(tier) * Decimal::from(10_000)).to_u32();
    basis_points.and_then(|points| PlatformFeeShare::from_basis_points(points).ok()).unwrap_or_default()
}

/// Why business `tenant` cannot go live with nothing connected, naming both ways to
/// connect.
pub(crate) fn nothing_connected(tenant: TenantId) -> String {
    format!(
        "neither a Shopify shop nor a Stripe account is connected: connect a shop (POST /api/stores/connect) or \
         open a Stripe account (POST /api/business/{tenant}/stripe/onboard)"
    )
}

/// Records a Stripe market's payment links as the business's (`platform_accounts`), so
/// the platform's deliveries about their checkouts find it.
struct RecordedPaymentLinks {
    store: SharedStore,
}

#[async_trait]
impl StripeLinkRegistry for RecordedPaymentLinks {
    async fn register_payment_link(&self, tenant: TenantId, link: &str) -> Result<(), AdapterError> {
        match self
            .store
            .link_platform_account(STRIPE_PAYMENT_LINKS, link, tenant, "payment_link", chrono::Utc::now())
            .await
        {
            Ok(()) => Ok(()),
            Err(MemoryError::Conflict(_)) => Err(AdapterError::rejected(
                Platform::Stripe,
                format!("the payment link {link} is recorded as another business's"),
            )),
            // Storage trouble: the listing is retried with the same key, which gets
            // the same link back to record.
            Err(error) => Err(AdapterError::Unavailable {
                platform: Platform::Stripe,
                message: format!("the payment link {link} could not be recorded: {error}"),
            }),
        }
    }
}

#[async_trait]
impl TenantMarkets for ConnectedMarkets {
    async fn market_for(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> Arc<dyn Marketplace> {
        let (tenant, mode) = (row.id, MarketMode::of(row));
        if mode == MarketMode::Sandbox {
            return shared.clone();
        }
        // A connected shop wins; without one, a live business sells through Stripe.
        let connection = match shopify_connection(&self.store, &self.sealer, tenant).await {
            Ok(Some(connection)) => connection,
            Ok(None) if mode == MarketMode::Live => return self.stripe_market(row, shared).await,
            Ok(None) => return unusable(Platform::Shopify, DRY_RUN_NEEDS_A_SHOP),
            Err(why) => return unusable(Platform::Shopify, why),
        };
        if mode == MarketMode::DryRun {
            return match DryRunMarket::new(shared.clone(), Platform::Shopify, self.events.clone()) {
                Ok(market) => Arc::new(market),
                Err(error) => unusable(Platform::Shopify, error.to_string()),
            };
        }
        match ShopifyClient::with_settings(connection, live_settings()) {
            Ok(client) => Arc::new(ShopifyMarket::new(tenant, client, shared.clone())),
            Err(error) => unusable(Platform::Shopify, error.to_string()),
        }
    }
}

/// Why a dry run needs a shop.
pub(crate) const DRY_RUN_NEEDS_A_SHOP: &str = "a dry run rehearses the calls of a connected Shopify shop: connect \
     one first (POST /api/stores/connect); a business selling through its Stripe account goes live directly";

fn unusable(platform: Platform, why: impl Into<String>) -> Arc<dyn Marketplace> {
    Arc::new(UnusableMarket { platform, why: why.into() })
}

/// The market of a business set to go live on a platform it cannot use: every call is
/// refused with the reason.
struct UnusableMarket {
    platform: Platform,
    why: String,
}

impl UnusableMarket {
    fn refuse(&self) -> AdapterError {
        AdapterError::rejected(self.platform, self.why.clone())
    }
}

#[async_trait]
impl Marketplace for UnusableMarket {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn advertises(&self) -> bool {
        false
    }

    async fn market_snapshot(&self, _tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        Err(self.refuse())
    }

    async fn create_store(
        &self,
        _tenant: TenantId,
        _name: &str,
        _key: &IdempotencyKey,
    ) -> Result<StoreRef, AdapterError> {
        Err(self.refuse())
    }

    async fn list_product(
        &self,
        _tenant: TenantId,
        _listing: &ProductListing,
        _key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        Err(self.refuse())
    }

    async fn set_price(&self, _: TenantId, _: &str, _: Decimal, _: &IdempotencyKey) -> Result<(), AdapterError> {
        Err(self.refuse())
    }

    async fn launch_campaign(
        &self,
        _: TenantId,
        _: &CampaignSpec,
        _: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(self.refuse())
    }

    async fn publish_post(&self, _: TenantId, _: &PostSpec, _: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        Err(self.refuse())
    }

    async fn advance(&self, _tenant: TenantId, _days: u32) -> Result<(), AdapterError> {
        Err(self.refuse())
    }

    async fn report(&self, _tenant: TenantId, _from_day: u32, _to_day: u32) -> Result<PerformanceReport, AdapterError> {
        Err(self.refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_keeps_the_owners_tiers_share_of_each_stripe_sale() {
        let shares = [Tier::Free, Tier::Pro, Tier::Enterprise].map(|tier| fee_share_of(tier).basis_points());
        assert_eq!(shares, [1000, 700, 500], "10 %, 7 % and 5 %");
        assert_eq!(fee_share_of(Tier::Pro).fee_on(2900), 203);
    }
}
