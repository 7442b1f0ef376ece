//! A live business's connected social and ad accounts, in front of the market it sells
//! on.
//!
//! The marketing step is written against [`Marketplace`] alone. On the sandbox the
//! simulated world publishes its posts; on a live business the shop publishes nothing,
//! and the posts go to the accounts its owner connected (X, Reddit, LinkedIn), each
//! behind a [`SocialChannel`], and the ad flights to its ad accounts (Google Ads), each
//! behind an [`AdAccount`]. [`ChannelMarket`] is that business's market: selling calls
//! go to the shop, a post to the account on its network, a flight to the account on its
//! channel, and the swarm reads each post's engagement and each campaign's days back
//! from where they run.
//!
//! A post is made once even when the step runs again after a crash: each channel's
//! client finds the post an earlier attempt made (X and LinkedIn name it when they
//! refuse the repeat; Reddit's is among the account's newest), so the cycle's
//! idempotency key is not needed on the wire.
//!
//! Refresh tokens some platforms rotate on every refresh (X does; the old one then stops
//! working) are handed to a [`RefreshTokenKeeper`] as soon as a call has rotated one, so
//! a restarted process signs in with the token that still works.

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_memory::TenantId;
use chrono::NaiveDate;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::{
    AdChannel, AdapterError, CampaignDay, CampaignRef, CampaignSpec, ChannelStatus, CircuitState, IdempotencyKey,
    ListedProduct, MarketSnapshot, Marketplace, OAuthSecret, OAuthSession, PerformanceReport, Platform, PostEngagement,
    PostRef, PostSpec, ProductListing, PublishedPost, SocialNetwork, StoreRef,
};

/// What a connected social account does for the swarm.
#[async_trait]
pub trait SocialChannel: Send + Sync {
    /// The network the account is on.
    fn network(&self) -> SocialNetwork;

    /// The circuit breaker in front of the network.
    fn circuit_state(&self) -> CircuitState;

    /// The connection's tokens.
    fn oauth(&self) -> &OAuthSession;

    /// Publishes `text` as the account. Called again with the same text after the
    /// answer was lost, it returns the post the first attempt made.
    async fn publish(&self, text: &str) -> Result<PostRef, AdapterError>;

    /// What each of `post_ids` (this account's) has drawn so far; ids the network no
    /// longer knows (deleted posts) are left out.
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError>;
}

/// What a connected ad account does for the swarm.
#[async_trait]
pub trait AdAccount: Send + Sync {
    /// The channel its campaigns run on.
    fn channel(&self) -> AdChannel;

    /// The circuit breaker in front of the platform.
    fn circuit_state(&self) -> CircuitState;

    /// The connection's tokens.
    fn oauth(&self) -> &OAuthSession;

    /// Starts the flight `spec` from today, made once per `key`: run again with the same
    /// key after a crash at any point, it finishes what the first run began and makes
    /// nothing twice.
    async fn launch(&self, spec: &CampaignSpec, key: &IdempotencyKey) -> Result<CampaignRef, AdapterError>;

    /// Every campaign's numbers per day over `from..=to`.
    async fn campaign_days(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<CampaignDay>, AdapterError>;
}

/// A connected account: a social account or an ad account.
enum Account {
    Social(Arc<dyn SocialChannel>),
    Ads(Arc<dyn AdAccount>),
}

impl Account {
    fn oauth(&self) -> &OAuthSession {
        match self {
            Self::Social(channel) => channel.oauth(),
            Self::Ads(account) => account.oauth(),
        }
    }

    fn platform(&self) -> Platform {
        match self {
            Self::Social(channel) => channel.network().platform(),
            Self::Ads(account) => account.channel().platform(),
        }
    }

    fn circuit_state(&self) -> CircuitState {
        match self {
            Self::Social(channel) => channel.circuit_state(),
            Self::Ads(account) => account.circuit_state(),
        }
    }

    fn social(&self) -> Option<&Arc<dyn SocialChannel>> {
        match self {
            Self::Social(channel) => Some(channel),
            Self::Ads(_) => None,
        }
    }

    fn ads(&self) -> Option<&Arc<dyn AdAccount>> {
        match self {
            Self::Ads(account) => Some(account),
            Self::Social(_) => None,
        }
    }
}

/// Saves a connection's refresh token after its platform rotated it.
#[async_trait]
pub trait RefreshTokenKeeper: Send + Sync {
    /// Replaces the refresh token saved for the business's account on `platform`.
    async fn keep(&self, platform: Platform, refresh_token: &OAuthSecret) -> Result<(), AdapterError>;
}

/// A connected account and the refresh token last saved for it.
struct Connected {
    account: Account,
    saved_refresh_token: Mutex<OAuthSecret>,
}

/// A live business's market: the one it sells on, with its connected social accounts
/// publishing its posts.
pub struct ChannelMarket {
    selling: Arc<dyn Marketplace>,
    channels: Vec<Connected>,
    keeper: Arc<dyn RefreshTokenKeeper>,
}

impl std::fmt::Debug for ChannelMarket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let accounts: Vec<Platform> = self.channels.iter().map(|connected| connected.account.platform()).collect();
        f.debug_struct("ChannelMarket")
            .field("selling", &self.selling.platform())
            .field("accounts", &accounts)
            .finish_non_exhaustive()
    }
}

impl ChannelMarket {
    /// `selling` with `channels` (social accounts) and `ad_accounts` in front, one per
    /// platform (a second account on a platform is ignored: the first one given wins).
    pub async fn new(
        selling: Arc<dyn Marketplace>,
        channels: Vec<Arc<dyn SocialChannel>>,
        ad_accounts: Vec<Arc<dyn AdAccount>>,
        keeper: Arc<dyn RefreshTokenKeeper>,
    ) -> Self {
        let accounts = channels.into_iter().map(Account::Social).chain(ad_accounts.into_iter().map(Account::Ads));
        let mut connected: Vec<Connected> = Vec::new();
        for account in accounts {
            if connected.iter().any(|earlier| earlier.account.platform() == account.platform()) {
                continue;
            }
            let saved_refresh_token = Mutex::new(account.oauth().refresh_token().await);
            connected.push(Connected { account, saved_refresh_token });
        }
        Self { selling, channels: connected, keeper }
    }

    fn social(&self, network: SocialNetwork) -> Option<(&Connected, &Arc<dyn SocialChannel>)> {
        self.channels.iter().find_map(|connected| {
            connected
                .account
                .social()
                .filter(|channel| channel.network() == network)
                .map(|channel| (connected, channel))
        })
    }

    fn ads(&self, channel: AdChannel) -> Option<(&Connected, &Arc<dyn AdAccount>)> {
        self.channels.iter().find_map(|connected| {
            connected.account.ads().filter(|account| account.channel() == channel).map(|account| (connected, account))
        })
    }

    /// Saves the account's refresh token if a call rotated it. A save that fails is
    /// logged and tried again after the next call: the call itself went through.
    async fn keep_rotated(&self, connected: &Connected) {
        let mut saved = connected.saved_refresh_token.lock().await;
        let current = connected.account.oauth().refresh_token().await;
        if current == *saved {
            return;
        }
        let platform = connected.account.platform();
        match self.keeper.keep(platform, &current).await {
            Ok(()) => *saved = current,
            Err(error) => {
                tracing::warn!(?platform, %error, "a rotated refresh token could not be saved; retried later");
            }
        }
    }
}

#[async_trait]
impl Marketplace for ChannelMarket {
    fn platform(&self) -> Platform {
        self.selling.platform()
    }

    fn is_simulated(&self) -> bool {
        self.selling.is_simulated()
    }

    fn advertises(&self) -> bool {
        !self.channels.is_empty() || self.selling.advertises()
    }

    fn ad_channels(&self) -> Vec<AdChannel> {
        let mut channels: Vec<AdChannel> =
            self.channels.iter().filter_map(|connected| connected.account.ads()).map(|ads| ads.channel()).collect();
        for channel in self.selling.ad_channels() {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        channels
    }

    fn social_networks(&self) -> Vec<SocialNetwork> {
        let mut networks: Vec<SocialNetwork> = self
            .channels
            .iter()
            .filter_map(|connected| connected.account.social())
            .map(|channel| channel.network())
            .collect();
        for network in self.selling.social_networks() {
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
        networks
    }

    async fn channel_states(&self) -> Vec<ChannelStatus> {
        let mut states = Vec::with_capacity(self.channels.len());
        for connected in &self.channels {
            states.push(ChannelStatus {
                platform: connected.account.platform(),
                circuit: connected.account.circuit_state(),
                needs_owner: connected.account.oauth().needs_owner().await,
            });
        }
        states.extend(self.selling.channel_states().await);
        states
    }

    fn circuit_state(&self) -> Option<CircuitState> {
        self.selling.circuit_state()
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.selling.market_snapshot(tenant).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.selling.create_store(tenant, name, key).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.selling.list_product(tenant, listing, key).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: rust_decimal::Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.selling.set_price(tenant, product_id, price, key).await
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        let Some((connected, account)) = self.ads(spec.channel) else {
            return self.selling.launch_campaign(tenant, spec, key).await;
        };
        let launched = account.launch(spec, key).await;
        self.keep_rotated(connected).await;
        launched
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        let Some((connected, channel)) = self.social(post.network) else {
            return self.selling.publish_post(tenant, post, key).await;
        };
        let published = channel.publish(&post.text).await;
        self.keep_rotated(connected).await;
        published
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[PublishedPost],
    ) -> Result<Vec<PostEngagement>, AdapterError> {
        let mut engagement = Vec::new();
        for connected in &self.channels {
            let Some(channel) = connected.account.social() else { continue };
            let network = channel.network();
            let ids: Vec<String> =
                posts.iter().filter(|post| post.network == network).map(|post| post.post_id.clone()).collect();
            if ids.is_empty() {
                continue;
            }
            let read = channel.engagement(&ids).await;
            self.keep_rotated(connected).await;
            engagement.extend(read?);
        }
        let elsewhere: Vec<PublishedPost> =
            posts.iter().filter(|post| self.social(post.network).is_none()).cloned().collect();
        if !elsewhere.is_empty() {
            engagement.extend(self.selling.post_engagement(tenant, &elsewhere).await?);
        }
        Ok(engagement)
    }

    async fn campaign_days(
        &self,
        tenant: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CampaignDay>, AdapterError> {
        let mut days = Vec::new();
        for connected in &self.channels {
            let Some(account) = connected.account.ads() else { continue };
            let read = account.campaign_days(from, to).await;
            self.keep_rotated(connected).await;
            days.extend(read?);
        }
        days.extend(self.selling.campaign_days(tenant, from, to).await?);
        Ok(days)
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.selling.advance(tenant, days).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.selling.report(tenant, from_day, to_day).await
    }

    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.selling.export_state(tenant).await
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.selling.import_state(tenant, state).await
    }

    fn rehome_state(&self, state: Value, to: TenantId) -> Result<Value, AdapterError> {
        self.selling.rehome_state(state, to)
    }
}
