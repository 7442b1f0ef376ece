//! Which market each business's swarm acts on: its `market_mode`, set by its owner
//! (`PUT /api/business/{id}`, `"market_mode"`).
//!
//! - `sandbox` (the default): the shared simulated market.
//! - `dry_run`: the sandbox carries the cycle, and every call the connected shop would
//!   get is written on the event log with its body, not sent ([`DryRunMarket`]).
//! - `live`: the business's newest connected selling account, a Shopify shop
//!   ([`ShopifyMarket`]) or a Gumroad account ([`GumroadMarket`]): connecting one is
//!   also choosing it. Its credentials are opened here and handed to its client only.
//!   An account that cannot be used (disconnected, its credentials no longer opening
//!   under the server's key) gives a market that refuses every call saying why, so the
//!   owner's cycles fail with that reason instead of quietly going back to the sandbox.
//!
//! A dry run rehearses a shop's calls only: it needs a connected Shopify shop, whatever
//! else is connected.
//!
//! The mode is read when the swarm starts; changing it restarts a running swarm.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, CampaignRef, CampaignSpec, DryRunMarket, GumroadClient, GumroadMarket, IdempotencyKey,
    ListedProduct, MarketSnapshot, Marketplace, PerformanceReport, Platform, PostRef, PostSpec, ProductListing,
    ResilienceSettings, RetryPolicy, ShopifyClient, ShopifyMarket, StoreRef,
};
use boardroom_memory::{EventLog, SharedStore, Tenant, TenantId};
use boardroom_supervisor::TenantMarkets;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::http::crypto::CredentialSealer;
use crate::http::routes::stores::{SellingAccount, StorePlatform, selling_account, shopify_connection};

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
    /// The newest connected selling account (a Shopify shop or a Gumroad account).
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

/// The platforms `live` sells on, the newest connected of them winning.
pub(crate) const LIVE_PLATFORMS: [StorePlatform; 2] = [StorePlatform::Shopify, StorePlatform::Gumroad];

/// Time-outs for a live account's calls: a request gets 15 s, a call (its retries and
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
}

impl ConnectedMarkets {
    pub(crate) fn new(store: SharedStore, sealer: CredentialSealer, events: EventLog) -> Self {
        Self { store, sealer, events }
    }
}

#[async_trait]
impl TenantMarkets for ConnectedMarkets {
    async fn market_for(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> Arc<dyn Marketplace> {
        let (tenant, mode) = (row.id, MarketMode::of(row));
        if mode == MarketMode::Sandbox {
            return shared.clone();
        }
        if mode == MarketMode::DryRun {
            return match shopify_connection(&self.store, &self.sealer, tenant).await {
                Ok(Some(_)) => match DryRunMarket::new(shared.clone(), Platform::Shopify, self.events.clone()) {
                    Ok(market) => Arc::new(market),
                    Err(error) => unusable(Platform::Shopify, error.to_string()),
                },
                Ok(None) => unusable(
                    Platform::Shopify,
                    "a dry run rehearses a Shopify shop's calls and none is connected: connect one, or go back to \
                     the sandbox",
                ),
                Err(why) => unusable(Platform::Shopify, why),
            };
        }
        match selling_account(&self.store, &self.sealer, tenant, &LIVE_PLATFORMS).await {
            Ok(Some(SellingAccount::Shopify(connection))) => {
                match ShopifyClient::with_settings(connection, live_settings()) {
                    Ok(client) => Arc::new(ShopifyMarket::new(tenant, client, shared.clone())),
                    Err(error) => unusable(Platform::Shopify, error.to_string()),
                }
            }
            Ok(Some(SellingAccount::Gumroad { connection, .. })) => {
                match GumroadClient::with_settings(connection, live_settings()) {
                    Ok(client) => Arc::new(GumroadMarket::new(tenant, client, shared.clone())),
                    Err(error) => unusable(Platform::Gumroad, error.to_string()),
                }
            }
            Ok(None) => unusable(
                Platform::Shopify,
                "no Shopify shop or Gumroad account is connected: connect one, or go back to the sandbox",
            ),
            Err(why) => unusable(Platform::Shopify, why),
        }
    }
}

fn unusable(platform: Platform, why: impl Into<String>) -> Arc<dyn Marketplace> {
    Arc::new(UnusableAccount { platform, why: why.into() })
}

/// The market of a business set to go live on an account it cannot use: every call is
/// refused with the reason.
struct UnusableAccount {
    platform: Platform,
    why: String,
}

impl UnusableAccount {
    fn refuse(&self) -> AdapterError {
        AdapterError::rejected(self.platform, self.why.clone())
    }
}

#[async_trait]
impl Marketplace for UnusableAccount {
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
