//! Which market each business's swarm acts on: its `market_mode`, set by its owner
//! (`PUT /api/business/{id}`, `"market_mode"`).
//!
//! - `sandbox` (the default): the shared simulated market.
//! - `dry_run`: the sandbox carries the cycle, and every call the connected shop would
//!   get is written on the event log with its body, not sent ([`DryRunMarket`]).
//! - `live`: the connected Shopify shop ([`ShopifyMarket`]), reached through the swarm's
//!   adapter actor, which opens the credentials when it starts and hands them to the
//!   shop's client only. A shop that cannot be used (disconnected, its credentials no
//!   longer opening under the server's key) keeps the adapter from starting, and the
//!   calls that needed it fail saying why, so the owner's cycles fail with that reason
//!   instead of quietly going back to the sandbox.
//!
//! The mode is read when the swarm starts; changing it restarts a running swarm.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, DryRunMarket, Marketplace, Platform, ResilienceSettings, RetryPolicy, ShopifyClient,
    ShopifyMarket,
};
use boardroom_memory::{EventLog, SharedStore, Tenant, TenantId};
use boardroom_supervisor::{AccountOpener, SwarmMarket, TenantMarkets};
use serde::{Deserialize, Serialize};

use crate::http::crypto::CredentialSealer;
use crate::http::routes::stores::shopify_connection;

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
        let account =
            ShopifyAccount { tenant, store: self.store.clone(), sealer: self.sealer.clone(), research: shared.clone() };
        match mode {
            MarketMode::Sandbox => SwarmMarket::Shared(shared.clone()),
            MarketMode::Live => SwarmMarket::Account(Arc::new(account)),
            MarketMode::DryRun => {
                // A rehearsal needs a shop to rehearse for; without one its adapter's
                // start fails saying why, and so do the cycles.
                if !matches!(shopify_connection(&self.store, &self.sealer, tenant).await, Ok(Some(_))) {
                    return SwarmMarket::Account(Arc::new(account));
                }
                match DryRunMarket::new(shared.clone(), Platform::Shopify, self.events.clone()) {
                    Ok(market) => SwarmMarket::Shared(Arc::new(market)),
                    Err(_) => SwarmMarket::Account(Arc::new(account)),
                }
            }
        }
    }
}

/// A business's connected Shopify shop, opened by its adapter actor: the credentials
/// are unsealed there, and handed to the shop's client only.
struct ShopifyAccount {
    tenant: TenantId,
    store: SharedStore,
    sealer: Arc<CredentialSealer>,
    research: Arc<dyn Marketplace>,
}

#[async_trait]
impl AccountOpener for ShopifyAccount {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        let refused = |why: String| AdapterError::rejected(Platform::Shopify, why);
        let connection = shopify_connection(&self.store, &self.sealer, self.tenant)
            .await
            .map_err(refused)?
            .ok_or_else(|| refused("no Shopify shop is connected: connect one, or go back to the sandbox".into()))?;
        let client = ShopifyClient::with_settings(connection, live_settings())?;
        Ok(Arc::new(ShopifyMarket::new(self.tenant, client, self.research.clone())))
    }
}
