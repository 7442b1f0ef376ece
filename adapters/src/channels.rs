//! A live business's connected social and ad accounts, in front of the market it sells
//! on.
//!
//! The marketing step is written against [`Marketplace`] alone. On the sandbox the
//! simulated world publishes its posts; on a live business the shop publishes nothing,
//! and the posts go to the accounts its owner connected (X, Reddit, LinkedIn, TikTok,
//! YouTube), each a [`SocialChannel`], and the ad flights to its ad accounts (Google Ads,
//! Meta), each an [`AdAccount`]. Each account is a [`ChannelAccount`]: a market of its
//! own, so that a swarm reaches it through its own supervised adapter actor. The
//! business's market is a [`ChannelMarket`]: selling calls go to the shop, a post to the
//! account on its network, a flight to the account on its channel, and the swarm reads
//! each post's engagement and each campaign's days back from where they run.
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
//! Refresh tokens some platforms rotate on every refresh (X and TikTok do; the old one
//! then stops working) are handed to the [`ConnectionKeeper`] the moment they arrive, so
//! a restarted process, or one killed mid-call, signs in with the token that still works.

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

/// One connected marketing account as a [`Marketplace`] of its own, so that it can sit
/// behind its own adapter actor: it publishes the posts of its network (a social
/// account) or runs the flights of its channel (an ad account), reads back what they
/// drew or spent, and reports its state. It sells nothing: the selling calls are
/// refused, saying so. The refresh tokens its platform rotates go to the keeper as they
/// arrive.
pub struct ChannelAccount {
    account: Account,
    saver: Arc<RotationSaver>,
    keeper: Arc<dyn ConnectionKeeper>,
}

impl std::fmt::Debug for ChannelAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelAccount").field("platform", &self.account.platform()).finish_non_exhaustive()
    }
}

impl ChannelAccount {
    /// A social account publishing its network's posts.
    pub fn social(channel: Arc<dyn SocialChannel>, keeper: Arc<dyn ConnectionKeeper>) -> Self {
        Self::new(Account::Social(channel), keeper)
    }

    /// An ad account running its channel's flights.
    pub fn ads(account: Arc<dyn AdAccount>, keeper: Arc<dyn ConnectionKeeper>) -> Self {
        Self::new(Account::Ads(account), keeper)
    }

    fn new(account: Account, keeper: Arc<dyn ConnectionKeeper>) -> Self {
        let platform = account.platform();
        let saver = Arc::new(RotationSaver { platform, keeper: keeper.clone(), pending: Mutex::new(None) });
        if !account.oauth().on_rotation(saver.clone()) {
            tracing::warn!(?platform, "the account's rotated refresh tokens already go elsewhere");
        }
        Self { account, saver, keeper }
    }

    /// Refused: a marketing channel sells nothing.
    fn sells_nothing(&self) -> AdapterError {
        let platform = self.account.platform();
        AdapterError::rejected(
            platform,
            format!("the {} account is a marketing channel: it sells nothing", platform.display_name()),
        )
    }

    /// Runs `call` and then saves a rotated refresh token whose save failed when it
    /// arrived; the call's answer stands either way.
    async fn saving_tokens<T>(&self, call: impl Future<Output = T>) -> T {
        let answer = call.await;
        self.saver.save(None).await;
        answer
    }
}

#[async_trait]
impl Marketplace for ChannelAccount {
    fn platform(&self) -> Platform {
        self.account.platform()
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn advertises(&self) -> bool {
        true
    }

    fn ad_channels(&self) -> Vec<AdChannel> {
        self.account.ads().map(|ads| vec![ads.channel()]).unwrap_or_default()
    }

    fn social_networks(&self) -> Vec<SocialNetwork> {
        self.account.social().map(|channel| vec![channel.network()]).unwrap_or_default()
    }

    async fn channel_states(&self) -> Vec<ChannelStatus> {
        vec![ChannelStatus {
            platform: self.account.platform(),
            circuit: self.account.circuit_state(),
            needs_owner: self.account.oauth().needs_owner().await,
        }]
    }

    fn circuit_state(&self) -> Option<CircuitState> {
        Some(self.account.circuit_state())
    }

    async fn market_snapshot(&self, _: TenantId) -> Result<MarketSnapshot, AdapterError> {
        Err(self.sells_nothing())
    }

    async fn create_store(&self, _: TenantId, _: &str, _: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        Err(self.sells_nothing())
    }

    async fn list_product(
        &self,
        _: TenantId,
        _: &ProductListing,
        _: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        Err(self.sells_nothing())
    }

    async fn set_price(
        &self,
        _: TenantId,
        _: &str,
        _: rust_decimal::Decimal,
        _: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        Err(self.sells_nothing())
    }

    async fn launch_campaign(
        &self,
        _: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        let platform = self.account.platform();
        let Some(account) = self.account.ads().filter(|account| account.channel() == spec.channel) else {
            return Err(AdapterError::rejected(
                platform,
                format!("{} runs no {:?} flights", platform.display_name(), spec.channel),
            ));
        };
        self.saving_tokens(account.launch(spec, key)).await
    }

    async fn publish_post(&self, _: TenantId, post: &PostSpec, key: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        let platform = self.account.platform();
        let Some(channel) = self.account.social().filter(|channel| channel.network() == post.network) else {
            return Err(AdapterError::rejected(
                platform,
                format!("{} publishes no {:?} posts", platform.display_name(), post.network),
            ));
        };
        self.saving_tokens(channel.publish(post, key, self.keeper.as_ref())).await
    }

    async fn post_engagement(&self, _: TenantId, posts: &[PublishedPost]) -> Result<Vec<PostEngagement>, AdapterError> {
        let Some(channel) = self.account.social() else { return Ok(Vec::new()) };
        let network = channel.network();
        let ids: Vec<String> =
            posts.iter().filter(|post| post.network == network).map(|post| post.post_id.clone()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.saving_tokens(channel.engagement(&ids)).await
    }

    async fn campaign_days(
        &self,
        _: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CampaignDay>, AdapterError> {
        let Some(account) = self.account.ads() else { return Ok(Vec::new()) };
        self.saving_tokens(account.campaign_days(from, to)).await
    }

    async fn advance(&self, _: TenantId, _: u32) -> Result<(), AdapterError> {
        Err(self.sells_nothing())
    }

    async fn report(&self, _: TenantId, _: u32, _: u32) -> Result<PerformanceReport, AdapterError> {
        Err(self.sells_nothing())
    }

    async fn export_state(&self, _: TenantId) -> Option<Value> {
        None
    }

    async fn import_state(&self, _: TenantId, _: Value) -> Result<(), AdapterError> {
        Ok(())
    }

    fn rehome_state(&self, state: Value, _: TenantId) -> Result<Value, AdapterError> {
        Ok(state)
    }
}

/// A live business's market: the one it sells on, with its connected marketing
/// accounts in front, each a market of its own ([`ChannelAccount`], reached through
/// its own adapter actor in a swarm): a post goes to the account on its network, a
/// flight to the account on its channel, and what they drew or spent is read back from
/// each. Posts and flights with no account of theirs go to the selling market.
pub struct ChannelMarket {
    selling: Arc<dyn Marketplace>,
    channels: Vec<Arc<dyn Marketplace>>,
}

impl std::fmt::Debug for ChannelMarket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let accounts: Vec<Platform> = self.channels.iter().map(|channel| channel.platform()).collect();
        f.debug_struct("ChannelMarket")
            .field("selling", &self.selling.platform())
            .field("accounts", &accounts)
            .finish_non_exhaustive()
    }
}

impl ChannelMarket {
    /// `selling` with `channels` in front, one per platform (a second account on a
    /// platform is ignored: the first one given wins). Each channel is routed to by its
    /// platform, so it need not be open yet.
    pub fn new(selling: Arc<dyn Marketplace>, channels: Vec<Arc<dyn Marketplace>>) -> Self {
        let mut kept: Vec<Arc<dyn Marketplace>> = Vec::with_capacity(channels.len());
        for channel in channels {
            if !kept.iter().any(|earlier| earlier.platform() == channel.platform()) {
                kept.push(channel);
            }
        }
        Self { selling, channels: kept }
    }

    fn on(&self, platform: Platform) -> Option<&Arc<dyn Marketplace>> {
        self.channels.iter().find(|channel| channel.platform() == platform)
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
            self.channels.iter().filter_map(|channel| AdChannel::served_by(channel.platform())).collect();
        for channel in self.selling.ad_channels() {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        channels
    }

    fn social_networks(&self) -> Vec<SocialNetwork> {
        let mut networks: Vec<SocialNetwork> =
            self.channels.iter().filter_map(|channel| SocialNetwork::served_by(channel.platform())).collect();
        for network in self.selling.social_networks() {
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
        networks
    }

    /// Each account's state; one whose actor has not opened it yet is ready as far as
    /// anyone knows.
    async fn channel_states(&self) -> Vec<ChannelStatus> {
        let mut states = Vec::with_capacity(self.channels.len());
        for channel in &self.channels {
            let told = channel.channel_states().await;
            if told.is_empty() {
                let circuit = channel.circuit_state().unwrap_or(CircuitState::Closed);
                states.push(ChannelStatus { platform: channel.platform(), circuit, needs_owner: None });
            }
            states.extend(told);
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
        match self.on(spec.channel.platform()) {
            Some(account) => account.launch_campaign(tenant, spec, key).await,
            None => self.selling.launch_campaign(tenant, spec, key).await,
        }
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        match self.on(post.network.platform()) {
            Some(account) => account.publish_post(tenant, post, key).await,
            None => self.selling.publish_post(tenant, post, key).await,
        }
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[PublishedPost],
    ) -> Result<Vec<PostEngagement>, AdapterError> {
        let mut engagement = Vec::new();
        for channel in &self.channels {
            let theirs: Vec<PublishedPost> =
                posts.iter().filter(|post| post.network.platform() == channel.platform()).cloned().collect();
            if !theirs.is_empty() {
                engagement.extend(channel.post_engagement(tenant, &theirs).await?);
            }
        }
        let elsewhere: Vec<PublishedPost> =
            posts.iter().filter(|post| self.on(post.network.platform()).is_none()).cloned().collect();
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
        for channel in self.channels.iter().filter(|channel| AdChannel::served_by(channel.platform()).is_some()) {
            days.extend(channel.campaign_days(tenant, from, to).await?);
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
