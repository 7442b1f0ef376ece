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
//! A post is made once even when the step runs again after a crash: each text channel's
//! client finds the post an earlier attempt made (X and LinkedIn name it when they
//! refuse the repeat; Reddit's is among the account's newest), so the cycle's
//! idempotency key is not needed on the wire. A video channel (TikTok, YouTube) keeps
//! its upload with the [`ConnectionKeeper`] before the first byte goes ([`VideoChannel`],
//! [`publish_video`]): an upload cut short by a dropped connection or a crash goes on
//! where the platform stands, in this cycle or a later one, and a step run again after
//! the video went up gets the same post back.
//!
//! Refresh tokens some platforms rotate on every refresh (X does; the old one then stops
//! working) are handed to the [`ConnectionKeeper`] as soon as a call has rotated one, so
//! a restarted process signs in with the token that still works.

use std::sync::Arc;

use async_trait::async_trait;
use boardroom_memory::TenantId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::{
    AdChannel, AdapterError, CampaignDay, CampaignRef, CampaignSpec, ChannelStatus, CircuitState, IdempotencyKey,
    ListedProduct, MarketSnapshot, Marketplace, OAuthSecret, OAuthSession, PerformanceReport, Platform, PostEngagement,
    PostRef, PostSpec, PostVideo, ProductListing, PublishedPost, RotationListener, SocialNetwork, StoreRef,
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

    /// Publishes `post` as the account, made once per `key`: called again after the
    /// answer was lost or the process died, it returns the post the first attempt made
    /// (a video channel keeps its upload in `keeper` on the way).
    async fn publish(
        &self,
        post: &PostSpec,
        key: &IdempotencyKey,
        keeper: &dyn ConnectionKeeper,
    ) -> Result<PostRef, AdapterError>;

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

/// What a business's connections keep beyond the process: refresh tokens their
/// platforms rotated, and videos on their way up.
#[async_trait]
pub trait ConnectionKeeper: Send + Sync {
    /// Replaces the refresh token saved for the business's account on `platform`.
    async fn keep_refresh_token(&self, platform: Platform, refresh_token: &OAuthSecret) -> Result<(), AdapterError>;

    /// The upload last kept for `slot` (a product) on `platform`, if any.
    async fn kept_upload(&self, platform: Platform, slot: &str) -> Result<Option<Value>, AdapterError>;

    /// Keeps `upload` as `slot`'s on `platform`, over the one kept before.
    async fn keep_upload(&self, platform: Platform, slot: &str, upload: Value) -> Result<(), AdapterError>;
}

/// A network that posts videos, whose upload outlives the call that started it.
#[async_trait]
pub trait VideoChannel: Send + Sync {
    /// The network.
    fn video_network(&self) -> SocialNetwork;

    /// Starts the post of `video` saying `post`'s text: what to keep to finish it.
    async fn start_video(&self, post: &PostSpec, video: &PostVideo) -> Result<Value, AdapterError>;

    /// Sends what the platform does not hold yet of the upload `started` and waits for
    /// the post.
    async fn finish_video(&self, started: &Value, video: &PostVideo) -> Result<PostRef, AdapterError>;
}

/// Where a product's video post on a network stands, as kept between calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum KeptUpload {
    /// On its way: the channel's upload, for the video of this SHA-256.
    Uploading { key: String, sha256: String, upload: Value },
    /// Posted by the call made with `key`.
    Posted { key: String, post: PostRef },
    /// Refused for good (the session expired, the platform failed the post): the next
    /// post starts afresh.
    Abandoned,
}

/// Publishes `post`'s video on `channel`, made once per `key` and kept in `keeper` on
/// the way (see the module's notes):
/// - the same key again after the post went up returns that post;
/// - an upload of the same video left unfinished, by this key or an earlier cycle's,
///   goes on where the platform stands, instead of a second post being started;
/// - a refusal for good (a failed post, an expired session) is kept too, so the next
///   call starts afresh.
///
/// A post without a video is refused: these networks show nothing else.
pub async fn publish_video(
    channel: &dyn VideoChannel,
    post: &PostSpec,
    key: &IdempotencyKey,
    keeper: &dyn ConnectionKeeper,
) -> Result<PostRef, AdapterError> {
    let network = channel.video_network();
    let platform = network.platform();
    let Some(video) = &post.video else {
        return Err(AdapterError::rejected(
            platform,
            format!("a {} post needs the product's clip, and none came with it", platform.display_name()),
        ));
    };
    let slot = post.product_id.as_str();
    let sha256 = hex::encode(Sha256::digest(&video.bytes));
    let kept = keeper.kept_upload(platform, slot).await?.and_then(|kept| serde_json::from_value(kept).ok());
    let upload = match kept {
        Some(KeptUpload::Posted { key: posted_by, post }) if posted_by == key.as_str() => return Ok(post),
        Some(KeptUpload::Uploading { sha256: kept_sha256, upload, .. }) if kept_sha256 == sha256 => upload,
        _ => {
            let upload = channel.start_video(post, video).await?;
            let uploading = KeptUpload::Uploading { key: key.as_str().to_owned(), sha256, upload: upload.clone() };
            keep(keeper, platform, slot, &uploading).await?;
            upload
        }
    };
    match channel.finish_video(&upload, video).await {
        Ok(posted) => {
            keep(keeper, platform, slot, &KeptUpload::Posted { key: key.as_str().to_owned(), post: posted.clone() })
                .await?;
            Ok(posted)
        }
        Err(error) => {
            if matches!(error, AdapterError::Rejected { .. }) {
                keep(keeper, platform, slot, &KeptUpload::Abandoned).await?;
            }
            Err(error)
        }
    }
}

async fn keep(
    keeper: &dyn ConnectionKeeper,
    platform: Platform,
    slot: &str,
    kept: &KeptUpload,
) -> Result<(), AdapterError> {
    let value = serde_json::to_value(kept)
        .map_err(|error| AdapterError::rejected(platform, format!("the upload cannot be kept: {error}")))?;
    keeper.keep_upload(platform, slot, value).await
}

/// A connected account, and what saves the refresh tokens its platform rotates.
struct Connected {
    account: Account,
    saver: Arc<RotationSaver>,
}

/// Saves an account's rotated refresh tokens the moment they arrive; one whose save
/// failed is tried again after the next call (`pending`), unless a newer one was saved
/// first. Saves run one at a time, so an older token never lands over a newer one.
struct RotationSaver {
    platform: Platform,
    keeper: Arc<dyn ConnectionKeeper>,
    pending: Mutex<Option<OAuthSecret>>,
}

impl RotationSaver {
    /// Saves `rotated`, or else the token whose save failed earlier, if any.
    async fn save(&self, rotated: Option<&OAuthSecret>) {
        let mut pending = self.pending.lock().await;
        let Some(token) = rotated.cloned().or_else(|| pending.take()) else { return };
        match self.keeper.keep_refresh_token(self.platform, &token).await {
            Ok(()) => *pending = None,
            Err(error) => {
                let platform = self.platform;
                tracing::warn!(?platform, %error, "a rotated refresh token could not be saved; retried later");
                *pending = Some(token);
            }
        }
    }
}

#[async_trait]
impl RotationListener for RotationSaver {
    async fn rotated(&self, refresh_token: &OAuthSecret) {
        self.save(Some(refresh_token)).await;
    }
}

/// A live business's market: the one it sells on, with its connected social accounts
/// publishing its posts.
pub struct ChannelMarket {
    selling: Arc<dyn Marketplace>,
    channels: Vec<Connected>,
    keeper: Arc<dyn ConnectionKeeper>,
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
    /// The refresh tokens their platforms rotate go to `keeper` as they arrive.
    pub async fn new(
        selling: Arc<dyn Marketplace>,
        channels: Vec<Arc<dyn SocialChannel>>,
        ad_accounts: Vec<Arc<dyn AdAccount>>,
        keeper: Arc<dyn ConnectionKeeper>,
    ) -> Self {
        let accounts = channels.into_iter().map(Account::Social).chain(ad_accounts.into_iter().map(Account::Ads));
        let mut connected: Vec<Connected> = Vec::new();
        for account in accounts {
            if connected.iter().any(|earlier| earlier.account.platform() == account.platform()) {
                continue;
            }
            let saver = Arc::new(RotationSaver {
                platform: account.platform(),
                keeper: keeper.clone(),
                pending: Mutex::new(None),
            });
            if !account.oauth().on_rotation(saver.clone()) {
                tracing::warn!(platform = ?account.platform(), "the account's rotations already go elsewhere");
            }
            connected.push(Connected { account, saver });
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

    /// Saves a rotated refresh token whose save failed when it arrived. The call itself
    /// went through either way.
    async fn keep_rotated(&self, connected: &Connected) {
        connected.saver.save(None).await;
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
        let published = channel.publish(post, key, self.keeper.as_ref()).await;
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
