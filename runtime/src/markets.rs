//! Which market each business's swarm acts on: its `market_mode`, set by its owner
//! (`PUT /api/business/{id}`, `"market_mode"`).
//!
//! - `sandbox` (the default): the shared simulated market.
//! - `dry_run`: the sandbox carries the cycle, and every call the connected shop would
//!   get is written on the event log with its body, not sent ([`DryRunMarket`]).
//! - `live`: the business's newest connected selling account, a Shopify shop
//!   ([`ShopifyMarket`]) or a Gumroad account ([`GumroadMarket`]): connecting one is
//!   also choosing it. Without either, its Stripe Connect account from payouts
//!   onboarding ([`StripeMarket`]: digital products sold through destination-charge
//!   payment links, the platform keeping the owner's tier's fee), when the server has
//!   the platform's key. The account is reached through the swarm's adapter actor,
//!   which opens the credentials when it starts and hands them to the account's client
//!   only. An account that cannot be used (disconnected, its credentials no longer
//!   opening under the server's key, no platform key) keeps the adapter from starting,
//!   and the calls that needed it fail saying why, so the owner's cycles fail with that
//!   reason instead of quietly going back to the sandbox.
//!
//! A live business's connected social accounts (X, Reddit, LinkedIn, TikTok, YouTube)
//! publish its posts and its Google Ads and Meta ad accounts run its ads
//! (a `ChannelMarket` in front of the selling account, each account a [`ChannelAccount`]
//! opened by an adapter actor of its own: tenant × channel); the refresh tokens they
//! rotate are saved, sealed, over the stored ones, and the videos on their way up are
//! kept in the business's memory until they are posted.
//!
//! A dry run rehearses a shop's calls only: it needs a connected Shopify shop, whatever
//! else is connected.
//!
//! The mode is read when the swarm starts; changing it restarts a running swarm.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, ChannelAccount, ConnectionKeeper, DryRunMarket, GumroadClient, GumroadMarket,
    Marketplace, OAuthSecret, Platform, PlatformFeeShare, ResilienceSettings, RetryPolicy, ShopifyClient,
    ShopifyMarket, StripeClient, StripeConnection, StripeLinkRegistry, StripeMarket,
};
use boardroom_agents::accountant::platform_fee_rate;
use boardroom_memory::{EventLog, MemoryError, SharedStore, Tenant, TenantId, Tier, UserId};
use boardroom_supervisor::{AccountOpener, SwarmMarket, TenantMarkets};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::StripePlatform;
use crate::http::crypto::CredentialSealer;
use crate::http::routes::payouts::connect_account;
use crate::http::routes::stores::{
    ChannelClient, SellingAccount, StorePlatform, connected_channels, keep_refresh_token, newest_selling_platform,
    open_channel_account, selling_account,
};
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
        Self { store, sealer: Arc::new(sealer), events, stripe }
    }
}

#[async_trait]
impl TenantMarkets for ConnectedMarkets {
    async fn market_for(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> SwarmMarket {
        let (tenant, mode) = (row.id, MarketMode::of(row));
        // A live business's channels (read only then: a sandbox swarm starts without
        // touching the store).
        let channels = match mode {
            MarketMode::Live => connected_channels(&self.store, tenant).await.unwrap_or_else(|why| {
                tracing::warn!(%tenant, "the connected channels could not be read: {why}");
                Vec::new()
            }),
            MarketMode::Sandbox | MarketMode::DryRun => Vec::new(),
        };
        let account = |selling: Selling| {
            SwarmMarket::Account(Arc::new(LiveAccount {
                tenant,
                owner: row.user_id,
                selling,
                store: self.store.clone(),
                sealer: self.sealer.clone(),
                stripe: self.stripe.clone(),
                research: shared.clone(),
                channels: channels.clone(),
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
                    _ => account(Selling::Store(vec![StorePlatform::Shopify])),
                }
            }
            // The adapter is named after the account it will open: the newest shop or
            // Gumroad account, else the Stripe account.
            MarketMode::Live => match newest_selling_platform(&self.store, tenant, &LIVE_PLATFORMS).await {
                Ok(Some(platform)) => account(Selling::Store(vec![platform])),
                Ok(None) if matches!(connect_account(&self.store, tenant).await, Ok(Some(_))) => {
                    account(Selling::Stripe)
                }
                _ => account(Selling::Store(LIVE_PLATFORMS.to_vec())),
            },
        }
    }
}

/// What a live business sells on.
enum Selling {
    /// Its newest connected store among these platforms.
    Store(Vec<StorePlatform>),
    /// Its Stripe Connect account, through the platform's key.
    Stripe,
}

/// A business's connected selling account, opened by its adapter actor: the
/// credentials are unsealed there, and handed to the account's client only.
struct LiveAccount {
    tenant: TenantId,
    owner: UserId,
    selling: Selling,
    store: SharedStore,
    sealer: Arc<CredentialSealer>,
    stripe: Option<StripePlatform>,
    research: Arc<dyn Marketplace>,
    /// Its connected marketing channels, each behind an adapter actor of its own.
    channels: Vec<StorePlatform>,
}

impl LiveAccount {
    async fn open_store(&self, platforms: &[StorePlatform]) -> Result<Arc<dyn Marketplace>, AdapterError> {
        let refused = |why: String| AdapterError::rejected(self.platform(), why);
        let opened = selling_account(&self.store, &self.sealer, self.tenant, platforms).await.map_err(refused)?;
        Ok(match opened {
            Some(SellingAccount::Shopify(connection)) => {
                let client = ShopifyClient::with_settings(connection, live_settings())?;
                Arc::new(ShopifyMarket::new(self.tenant, client, self.research.clone()))
            }
            Some(SellingAccount::Gumroad { connection, .. }) => {
                let client = GumroadClient::with_settings(connection, live_settings())?;
                Arc::new(GumroadMarket::new(self.tenant, client, self.research.clone()))
            }
            None if platforms == [StorePlatform::Shopify] => {
                return Err(refused("no Shopify shop is connected: connect one, or go back to the sandbox".into()));
            }
            None => return Err(refused(nothing_connected(self.tenant))),
        })
    }

    /// The business selling through its Stripe Connect account, or why it cannot.
    async fn open_stripe(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        let refused = |why: String| AdapterError::rejected(Platform::Stripe, why);
        let account = connect_account(&self.store, self.tenant)
            .await
            .map_err(|error| refused(format!("the Stripe account cannot be read: {error}")))?
            .ok_or_else(|| refused(nothing_connected(self.tenant)))?;
        let platform = self.stripe.as_ref().ok_or_else(|| {
            refused("this server has no Stripe platform key (STRIPE_SECRET_KEY): it cannot sell through Stripe".into())
        })?;
        let connection = StripeConnection::new(platform.api_base.clone(), platform.secret_key.expose());
        let client = StripeClient::with_settings(connection, live_settings())?;
        let links = Arc::new(RecordedPaymentLinks { store: self.store.clone() });
        let share = match self.store.user(self.owner).await {
            Ok(Some(user)) => fee_share_of(user.tier),
            _ => PlatformFeeShare::DEFAULT,
        };
        Ok(Arc::new(StripeMarket::new(self.tenant, client, &account, share, self.research.clone(), links)?))
    }
}

#[async_trait]
impl AccountOpener for LiveAccount {
    fn platform(&self) -> Platform {
        match &self.selling {
            Selling::Stripe => Platform::Stripe,
            Selling::Store(platforms) if platforms.as_slice() == [StorePlatform::Gumroad] => Platform::Gumroad,
            Selling::Store(_) => Platform::Shopify,
        }
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        match &self.selling {
            Selling::Store(platforms) => self.open_store(platforms).await,
            Selling::Stripe => self.open_stripe().await,
        }
    }

    fn channels(&self) -> Vec<Arc<dyn AccountOpener>> {
        self.channels
            .iter()
            .filter_map(|&channel| {
                let opener = ChannelOpener {
                    tenant: self.tenant,
                    channel,
                    platform: channel.channel()?,
                    store: self.store.clone(),
                    sealer: self.sealer.clone(),
                };
                Some(Arc::new(opener) as Arc<dyn AccountOpener>)
            })
            .collect()
    }
}

/// One of a live business's connected marketing accounts, opened by its own adapter
/// actor: its credentials are unsealed there (at each start, so a restarted actor signs
/// in with the refresh token saved last) and handed to its client only.
struct ChannelOpener {
    tenant: TenantId,
    channel: StorePlatform,
    platform: Platform,
    store: SharedStore,
    sealer: Arc<CredentialSealer>,
}

#[async_trait]
impl AccountOpener for ChannelOpener {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        let platform = self.platform;
        let refused = |why: String| AdapterError::rejected(platform, why);
        let opened = open_channel_account(&self.store, &self.sealer, self.tenant, self.channel, live_settings())
            .await
            .map_err(refused)?
            .ok_or_else(|| refused(format!("the {} was disconnected", self.channel.connected_thing())))?;
        let keeper = Arc::new(SavedConnections {
            tenant: self.tenant,
            store: self.store.clone(),
            sealer: self.sealer.clone(),
            stores: vec![(platform, opened.store_id)],
        });
        Ok(Arc::new(match opened.client {
            ChannelClient::Social(channel) => ChannelAccount::social(channel, keeper),
            ChannelClient::Ads(account) => ChannelAccount::ads(account, keeper),
        }))
    }
}

/// Saves a channel's rotated refresh token over the one its connected account holds,
/// and its uploads on their way in the business's memory (agent [`CHANNEL_UPLOADS`]).
struct SavedConnections {
    tenant: TenantId,
    store: SharedStore,
    sealer: Arc<CredentialSealer>,
    /// The stored account behind each platform's channel.
    stores: Vec<(Platform, String)>,
}

/// The memory in which a business's video uploads on their way are kept, each under
/// `{platform}:{product}`.
const CHANNEL_UPLOADS: &str = "channel_uploads";

#[async_trait]
impl ConnectionKeeper for SavedConnections {
    async fn kept_upload(&self, platform: Platform, slot: &str) -> Result<Option<Value>, AdapterError> {
        let key = format!("{}:{slot}", platform.as_str());
        let kept = self.store.agent_memory(self.tenant, CHANNEL_UPLOADS, &key).await.map_err(|error| {
            AdapterError::Unavailable { platform, message: format!("the upload kept could not be read: {error}") }
        })?;
        Ok(kept.map(|row| row.content))
    }

    async fn keep_upload(&self, platform: Platform, slot: &str, upload: Value) -> Result<(), AdapterError> {
        let key = format!("{}:{slot}", platform.as_str());
        self.store.put_agent_memory(self.tenant, CHANNEL_UPLOADS, &key, upload, None).await.map_err(|error| {
            AdapterError::Unavailable { platform, message: format!("the upload could not be kept: {error}") }
        })?;
        Ok(())
    }

    async fn keep_refresh_token(&self, platform: Platform, refresh_token: &OAuthSecret) -> Result<(), AdapterError> {
        let Some((_, store_id)) = self.stores.iter().find(|(kept, _)| *kept == platform) else {
            return Err(AdapterError::rejected(platform, "no connected account holds this channel's tokens"));
        };
        keep_refresh_token(&self.store, &self.sealer, self.tenant, store_id, refresh_token).await.map_err(|why| {
            AdapterError::Unavailable { platform, message: format!("the refresh token was not saved: {why}") }
        })
    }
}

/// The platform's share of each sale on `tier`: the accountant's rate, in basis points.
fn fee_share_of(tier: Tier) -> PlatformFeeShare {
    let basis_points = (platform_fee_rate(tier) * Decimal::from(10_000)).to_u32();
    basis_points.and_then(|points| PlatformFeeShare::from_basis_points(points).ok()).unwrap_or_default()
}

/// Why business `tenant` cannot go live with nothing connected, naming the ways to
/// connect.
pub(crate) fn nothing_connected(tenant: TenantId) -> String {
    format!(
        "neither a Shopify shop, a Gumroad account nor a Stripe account is connected: connect a shop or a Gumroad \
         account (POST /api/stores/connect) or open a Stripe account (POST /api/business/{tenant}/stripe/onboard)"
    )
}

/// Why a dry run needs a shop.
pub(crate) const DRY_RUN_NEEDS_A_SHOP: &str = "a dry run rehearses the calls of a connected Shopify shop: connect \
     one first (POST /api/stores/connect); a business selling on Gumroad or through its Stripe account goes live \
     directly";

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
