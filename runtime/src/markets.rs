//! Which market each business's swarm acts on: its `market_mode`, set by its owner
//! (`PUT /api/business/{id}`, `"market_mode"`).
//!
//! - `sandbox` (the default): the shared simulated market.
//! - `dry_run`: the sandbox carries the cycle, and every call the connected shop would
//!   get is written on the event log with its body, not sent ([`DryRunMarket`]).
//! - `live`: the business's newest connected selling account, a Shopify shop
//!   ([`ShopifyMarket`]) or a Gumroad account ([`GumroadMarket`]): connecting one is
//!   also choosing it. It is reached through the swarm's adapter actor, which opens the
//!   credentials when it starts and hands them to the account's client only. An
//!   account that cannot be used (disconnected, its credentials no longer opening under
//!   the server's key) keeps the adapter from starting, and the calls that needed it
//!   fail saying why, so the owner's cycles fail with that reason instead of quietly
//!   going back to the sandbox.
//!
//! A dry run rehearses a shop's calls only: it needs a connected Shopify shop, whatever
//! else is connected.
//!
//! The mode is read when the swarm starts; changing it restarts a running swarm.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, DryRunMarket, GumroadClient, GumroadMarket, Marketplace, Platform, ResilienceSettings,
    RetryPolicy, ShopifyClient, ShopifyMarket,
};
use boardroom_memory::{EventLog, SharedStore, Tenant, TenantId};
use boardroom_supervisor::{AccountOpener, SwarmMarket, TenantMarkets};
use serde::{Deserialize, Serialize};

use crate::http::crypto::CredentialSealer;
use crate::http::routes::stores::{SellingAccount, StorePlatform, newest_selling_platform, selling_account};

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
    sealer: Arc<CredentialSealer>,
    events: EventLog,
}

impl ConnectedMarkets {
    pub(crate) fn new(store: SharedStore, sealer: CredentialSealer, events: EventLog) -> Self {
        Self { store, sealer: Arc::new(sealer), events }
    }
}

#[async_trait]
impl TenantMarkets for ConnectedMarkets {
    async fn market_for(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> SwarmMarket {
        let (tenant, mode) = (row.id, MarketMode::of(row));
        let account = |platforms: &[StorePlatform]| {
            SwarmMarket::Account(Arc::new(LiveAccount {
                tenant,
                platforms: platforms.to_vec(),
                store: self.store.clone(),
                sealer: self.sealer.clone(),
                research: shared.clone(),
            }))
        };
        match mode {
            MarketMode::Sandbox => SwarmMarket::Shared(shared.clone()),
            MarketMode::DryRun => {
                // A rehearsal needs a shop to rehearse for; without one, the shop's
                // adapter fails to start saying why, and so do the cycles.
                let shop = newest_selling_platform(&self.store, tenant, &[StorePlatform::Shopify]).await;
                match (shop, DryRunMarket::new(shared.clone(), Platform::Shopify, self.events.clone())) {
                    (Ok(Some(_)), Ok(market)) => SwarmMarket::Shared(Arc::new(market)),
                    _ => account(&[StorePlatform::Shopify]),
                }
            }
            MarketMode::Live => match newest_selling_platform(&self.store, tenant, &LIVE_PLATFORMS).await {
                // The adapter is named after the account it will open.
                Ok(Some(platform)) => account(&[platform]),
                _ => account(&LIVE_PLATFORMS),
            },
        }
    }
}

/// A business's connected selling account (the newest of `platforms`), opened by its
/// adapter actor: the credentials are unsealed there, and handed to the account's
/// client only.
struct LiveAccount {
    tenant: TenantId,
    platforms: Vec<StorePlatform>,
    store: SharedStore,
    sealer: Arc<CredentialSealer>,
    research: Arc<dyn Marketplace>,
}

#[async_trait]
impl AccountOpener for LiveAccount {
    fn platform(&self) -> Platform {
        match self.platforms.as_slice() {
            [StorePlatform::Gumroad] => Platform::Gumroad,
            _ => Platform::Shopify,
        }
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        let refused = |why: String| AdapterError::rejected(self.platform(), why);
        let opened = selling_account(&self.store, &self.sealer, self.tenant, &self.platforms).await.map_err(refused)?;
        Ok(match opened {
            Some(SellingAccount::Shopify(connection)) => {
                let client = ShopifyClient::with_settings(connection, live_settings())?;
                Arc::new(ShopifyMarket::new(self.tenant, client, self.research.clone()))
            }
            Some(SellingAccount::Gumroad { connection, .. }) => {
                let client = GumroadClient::with_settings(connection, live_settings())?;
                Arc::new(GumroadMarket::new(self.tenant, client, self.research.clone()))
            }
            None if self.platforms == [StorePlatform::Shopify] => {
                return Err(refused("no Shopify shop is connected: connect one, or go back to the sandbox".into()));
            }
            None => {
                return Err(refused(
                    "no Shopify shop or Gumroad account is connected: connect one, or go back to the sandbox".into(),
                ));
            }
        })
    }
}
