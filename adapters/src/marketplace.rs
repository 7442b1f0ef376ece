//! The interface every platform adapter implements, and the requests and answers it
//! speaks.
//!
//! The CEO's autopilot cycle (market analysis → product creation → store set-up →
//! marketing → monitoring → optimisation) is written against [`Marketplace`] alone, so
//! the same swarm runs on the [`SandboxMarket`](crate::SandboxMarket) or on real
//! accounts. Money is [`Decimal`] everywhere; counts of people (demand, clicks) are
//! plain numbers.

use async_trait::async_trait;
use boardroom_memory::TenantId;
use bytes::Bytes;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AdapterError, IdempotencyKey, Platform};

/// A market a tenant can sell on: stores, products, prices, ads, posts and the numbers
/// they produce.
///
/// Every side-effecting method takes an [`IdempotencyKey`]: called again with the same
/// key and the same parameters it returns the first result and changes nothing; the
/// same key with other parameters is [`AdapterError::Rejected`] with an idempotency
/// message (Stripe's `idempotency_error`). The trait is object-safe, so callers hold an
/// `Arc<dyn Marketplace>`.
#[async_trait]
pub trait Marketplace: Send + Sync {
    /// Which platform this is.
    fn platform(&self) -> Platform;

    /// Whether this market is simulated (the sandbox) rather than a real account.
    fn is_simulated(&self) -> bool;

    /// Whether this market runs ad campaigns and publishes social posts. The sandbox
    /// does; a shop alone does not (ads and posts need an ad or social platform), and
    /// the swarm's marketing skips them there instead of failing.
    fn advertises(&self) -> bool {
        true
    }

    /// The ad channels this market runs flights on: every channel on the sandbox, none
    /// on a shop alone.
    fn ad_channels(&self) -> Vec<AdChannel> {
        if self.advertises() { AdChannel::ALL.to_vec() } else { Vec::new() }
    }

    /// The social networks this market publishes posts on: every network on the
    /// sandbox, the connected accounts' on a live business
    /// ([`ChannelMarket`](crate::ChannelMarket)), none on a shop alone.
    fn social_networks(&self) -> Vec<SocialNetwork> {
        if self.advertises() { SocialNetwork::ALL.to_vec() } else { Vec::new() }
    }

    /// The connected marketing channels and their state, for a dashboard; none on the
    /// sandbox or a shop alone.
    async fn channel_states(&self) -> Vec<ChannelStatus> {
        Vec::new()
    }

    /// The state of the circuit breaker in front of the platform, for a dashboard;
    /// `None` for a market with none (the sandbox).
    fn circuit_state(&self) -> Option<crate::CircuitState> {
        None
    }

    /// The niches the tenant could sell in, with demand, competition and prices.
    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError>;

    /// Opens a store called `name`.
    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError>;

    /// Lists a product in one of the tenant's stores.
    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError>;

    /// Changes a product's price from the next sale on.
    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError>;

    /// Starts an ad campaign for a product; it spends its daily budget every day it runs.
    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError>;

    /// Publishes a social post promoting a product.
    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError>;

    /// What each of `posts` has drawn since it was published, as the network counts it
    /// now (totals, so reading them twice books nothing twice). A post the market
    /// does not know is left out; a market that publishes nothing knows none.
    async fn post_engagement(
        &self,
        _tenant: TenantId,
        _posts: &[PublishedPost],
    ) -> Result<Vec<PostEngagement>, AdapterError> {
        Ok(Vec::new())
    }

    /// Each ad campaign's numbers per day over `from..=to` (the platform's calendar
    /// days), as the ad platforms behind this market report them: what a live
    /// business's ledger books its ad spend from. The sandbox's campaigns are in its
    /// [`report`](Marketplace::report) instead, and a market that runs no ads on a real
    /// platform has none.
    async fn campaign_days(
        &self,
        _tenant: TenantId,
        _from: chrono::NaiveDate,
        _to: chrono::NaiveDate,
    ) -> Result<Vec<CampaignDay>, AdapterError> {
        Ok(Vec::new())
    }

    /// Lets `days` simulated days pass (sales happen, campaigns spend, refunds arrive).
    /// Real platforms keep their own time and do nothing here.
    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError>;

    /// What happened on days `from_day..to_day` (half-open: `to_day` is excluded), per
    /// product, campaign and post. Days that have not happened yet count as empty.
    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError>;

    /// The tenant's simulated world as JSON, for the caller to persist after a step that
    /// touched it (the idempotency record included). `None` for real platforms, whose
    /// state lives on the platform, and for a tenant that has not used the market yet.
    async fn export_state(&self, _tenant: TenantId) -> Option<Value> {
        None
    }

    /// Restores a world saved with [`Marketplace::export_state`], so a restarted process
    /// continues it instead of starting afresh. Real platforms have nothing to restore
    /// and accept any state as a no-op.
    async fn import_state(&self, _tenant: TenantId, _state: Value) -> Result<(), AdapterError> {
        Ok(())
    }

    /// A saved world made over to another tenant: what a business started as a copy of
    /// another one continues from. Real platforms keep no such state, and cannot copy
    /// an account: refused.
    fn rehome_state(&self, _state: Value, _to: TenantId) -> Result<Value, AdapterError> {
        Err(AdapterError::rejected(self.platform(), "a real platform's account cannot be copied"))
    }
}

/// The niches a tenant could sell in, as the market looks today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketSnapshot {
    /// The (simulated) day this snapshot describes.
    pub today: u32,
    /// One entry per niche.
    pub niches: Vec<Niche>,
}

impl MarketSnapshot {
    /// The niche called `name`, if the market has it.
    pub fn niche(&self, name: &str) -> Option<&Niche> {
        self.niches.iter().find(|niche| niche.name == name)
    }
}

/// One niche of a market: who buys, at what price, against whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Niche {
    /// The niche's name; listings refer to it.
    pub name: String,
    /// The kind of product: "courses", "templates", "digital_products",
    /// "coaching_programs", "automation_tools", "premium_courses", "e_books", ...
    pub category: String,
    /// Expected buyers per day across the niche at the reference price.
    pub demand: f64,
    /// How crowded the niche is, from 0 (empty) to 1 (saturated).
    pub competition: f64,
    /// The competitors' median price.
    pub reference_price: Decimal,
    /// What making and delivering one unit typically costs.
    pub unit_cost: Decimal,
    /// Recent growth, from -1 (collapsing) to 1 (booming), per year.
    pub trend: f64,
}

/// A store a tenant opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRef {
    /// The platform's id for the store.
    pub store_id: String,
    /// Where buyers find it.
    pub url: String,
}

/// A product to list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductListing {
    /// The store it goes in ([`StoreRef::store_id`]).
    pub store_id: String,
    /// The niche it sells in ([`Niche::name`]).
    pub niche: String,
    /// The product's title.
    pub title: String,
    /// The product's description.
    pub description: String,
    /// Search tags.
    pub tags: Vec<String>,
    /// The asking price (rounded to cents).
    pub price: Decimal,
    /// What one unit costs the tenant to make and deliver.
    pub unit_cost: Decimal,
}

/// A product the platform accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedProduct {
    /// The platform's id for the product.
    pub product_id: String,
    /// Where buyers find it.
    pub url: String,
}

/// Where an ad campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdChannel {
    /// Search ads (Google Ads): high intent, limited volume.
    SearchAds,
    /// Social ads (Meta): broad reach, lower intent.
    SocialAds,
}

impl AdChannel {
    /// Every channel, in report order.
    pub const ALL: [AdChannel; 2] = [AdChannel::SearchAds, AdChannel::SocialAds];

    /// The channel `platform` serves, if it serves one.
    pub fn served_by(platform: Platform) -> Option<Self> {
        Self::ALL.into_iter().find(|channel| channel.platform() == platform)
    }

    /// The real platform that serves this channel.
    pub fn platform(self) -> Platform {
        match self {
            Self::SearchAds => Platform::GoogleAds,
            Self::SocialAds => Platform::MetaAds,
        }
    }
}

/// An ad campaign to launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSpec {
    /// The product advertised ([`ListedProduct::product_id`]).
    pub product_id: String,
    /// Where the ads run.
    pub channel: AdChannel,
    /// What it spends per day (rounded to cents).
    pub daily_budget: Decimal,
    /// How many days it runs, starting today.
    pub days: u32,
    /// What the ads say and where they lead. The sandbox runs no ads anyone reads and
    /// ignores it; a real ad platform refuses a launch whose copy it could not serve.
    /// Specs written before ads carried copy read as having none.
    #[serde(default)]
    pub creative: AdCreative,
}

/// The copy of a flight's ads: what the platforms show and where a click leads. Each
/// platform's client checks it against its own limits before anything is created (Google
/// takes 3 to 15 headlines of at most 30 characters, Meta one headline), so the
/// writer cuts it to fit rather than the client guessing what to drop.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdCreative {
    /// The product's page on the market: where every ad leads.
    pub landing_url: String,
    /// Short headlines, the strongest first (Meta shows the first).
    pub headlines: Vec<String>,
    /// Longer lines under them, the strongest first (Meta's primary text is the
    /// first, its description the second).
    pub descriptions: Vec<String>,
    /// Search phrases the ads answer (Google Ads' keywords).
    pub keywords: Vec<String>,
    /// The picture social ads show; without one Meta shows what the landing page
    /// offers. Not recorded: a rehearsal's log says what is advertised, not its bytes.
    #[serde(skip)]
    pub image: Option<AdImage>,
}

/// A picture an ad shows.
#[derive(Clone, PartialEq, Eq)]
pub struct AdImage {
    /// Its media type (`image/png`, `image/jpeg`).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for AdImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdImage").field("content_type", &self.content_type).field("bytes", &self.bytes.len()).finish()
    }
}

impl CampaignSpec {
    /// The flight as an ad platform takes it: the campaign's name (the platform's client
    /// adds the idempotency key) and its first and last days, starting `today`; refused
    /// for another channel than the platform's or a flight of no days.
    pub fn flight_on(
        &self,
        platform: Platform,
        channel: AdChannel,
        today: chrono::NaiveDate,
    ) -> Result<(String, chrono::NaiveDate, chrono::NaiveDate), AdapterError> {
        if self.channel != channel {
            return Err(AdapterError::rejected(
                platform,
                format!("{} runs the {channel:?} flights only", platform.display_name()),
            ));
        }
        let Some(last_offset) = self.days.checked_sub(1) else {
            return Err(AdapterError::rejected(platform, "a flight runs for at least one day"));
        };
        let end = today + chrono::Days::new(u64::from(last_offset));
        Ok((format!("Flight for product {}", self.product_id), today, end))
    }
}

/// A campaign the platform accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRef {
    /// The platform's id for the campaign.
    pub campaign_id: String,
}

/// A social network a post can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SocialNetwork {
    /// X (formerly Twitter).
    #[serde(rename = "x")]
    X,
    /// LinkedIn.
    #[serde(rename = "linkedin")]
    LinkedIn,
    /// Reddit.
    #[serde(rename = "reddit")]
    Reddit,
    /// TikTok.
    #[serde(rename = "tiktok")]
    TikTok,
    /// YouTube.
    #[serde(rename = "youtube")]
    YouTube,
}

impl SocialNetwork {
    /// Every network.
    pub const ALL: [SocialNetwork; 5] = [
        SocialNetwork::X,
        SocialNetwork::LinkedIn,
        SocialNetwork::Reddit,
        SocialNetwork::TikTok,
        SocialNetwork::YouTube,
    ];

    /// The network `platform` is, if it is one.
    pub fn served_by(platform: Platform) -> Option<Self> {
        Self::ALL.into_iter().find(|network| network.platform() == platform)
    }

    /// The real platform behind this network.
    pub fn platform(self) -> Platform {
        match self {
            Self::X => Platform::X,
            Self::LinkedIn => Platform::Linkedin,
            Self::Reddit => Platform::Reddit,
            Self::TikTok => Platform::Tiktok,
            Self::YouTube => Platform::Youtube,
        }
    }

    /// The longest post text the network accepts, in characters (X: 280; LinkedIn
    /// commentary: 3,000; Reddit self-post: 40,000; TikTok caption: 2,200; YouTube
    /// description: 5,000).
    pub fn max_text_chars(self) -> usize {
        match self {
            Self::X => 280,
            Self::LinkedIn => 3_000,
            Self::Reddit => 40_000,
            Self::TikTok => 2_200,
            Self::YouTube => 5_000,
        }
    }
}

/// A social post to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostSpec {
    /// The product promoted ([`ListedProduct::product_id`]).
    pub product_id: String,
    /// Where it goes.
    pub network: SocialNetwork,
    /// What it says.
    pub text: String,
    /// The product's clip, for the networks that post videos (TikTok, YouTube); the
    /// others show no video. Not recorded: a rehearsal's log says what is posted, not
    /// its bytes.
    #[serde(skip)]
    pub video: Option<PostVideo>,
}

/// A video a post carries.
#[derive(Clone, PartialEq, Eq)]
pub struct PostVideo {
    /// Its file name among the business's files.
    pub name: String,
    /// Its media type (`video/mp4`).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Bytes,
}

impl std::fmt::Debug for PostVideo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostVideo")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A post the network accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRef {
    /// The network's id for the post.
    pub post_id: String,
    /// Where it can be seen.
    pub url: String,
}

/// What happened over a range of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceReport {
    /// The platform that reported.
    pub platform: Platform,
    /// The first day covered.
    pub from_day: u32,
    /// The day after the last day covered (the range is half-open).
    pub to_day: u32,
    /// The current day: days before it have happened, it and later have not.
    pub today: u32,
    /// One entry per product, in listing order.
    pub products: Vec<ProductPerformance>,
    /// One entry per campaign, in launch order.
    pub campaigns: Vec<CampaignPerformance>,
    /// One entry per post, in publishing order.
    pub posts: Vec<PostPerformance>,
}

impl PerformanceReport {
    /// The product with id `product_id`, if it is in the report.
    pub fn product(&self, product_id: &str) -> Option<&ProductPerformance> {
        self.products.iter().find(|product| product.product_id == product_id)
    }

    /// Units sold across all products.
    pub fn units_sold(&self) -> u64 {
        self.products.iter().map(|product| product.units_sold).sum()
    }

    /// Gross revenue across all products.
    pub fn gross_revenue(&self) -> Decimal {
        self.products.iter().map(|product| product.gross_revenue).sum()
    }

    /// Ad spend across all products and channels.
    pub fn ad_spend(&self) -> Decimal {
        self.products.iter().map(ProductPerformance::ad_spend).sum()
    }

    /// Profit across all products (see [`ProductPerformance::net_profit`]).
    pub fn net_profit(&self) -> Decimal {
        self.products.iter().map(ProductPerformance::net_profit).sum()
    }
}

/// One product's numbers over a report's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPerformance {
    /// The product.
    pub product_id: String,
    /// Its niche.
    pub niche: String,
    /// Its price now.
    pub price: Decimal,
    /// Units sold (including those bought through ads).
    pub units_sold: u64,
    /// What buyers paid.
    pub gross_revenue: Decimal,
    /// Units refunded in the range (they may have been sold before it).
    pub refunded_units: u64,
    /// Money refunded in the range.
    pub refunds: Decimal,
    /// Payment processing fees (2.9 % + 0.30 per sale; not returned on refunds).
    pub payment_fees: Decimal,
    /// Cost of making and delivering the units sold.
    pub cost_of_goods: Decimal,
    /// Ad numbers, one entry per channel in [`AdChannel::ALL`] order.
    pub channels: Vec<ChannelPerformance>,
}

impl ProductPerformance {
    /// Ad spend over all channels.
    pub fn ad_spend(&self) -> Decimal {
        self.channels.iter().map(|channel| channel.spend).sum()
    }

    /// The numbers for one ad channel.
    pub fn channel(&self, channel: AdChannel) -> Option<&ChannelPerformance> {
        self.channels.iter().find(|entry| entry.channel == channel)
    }

    /// Gross revenue less refunds, payment fees, cost of goods and ad spend.
    pub fn net_profit(&self) -> Decimal {
        self.gross_revenue - self.refunds - self.payment_fees - self.cost_of_goods - self.ad_spend()
    }
}

/// One product's ad numbers on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPerformance {
    /// The channel.
    pub channel: AdChannel,
    /// Money spent.
    pub spend: Decimal,
    /// Ad clicks.
    pub clicks: u64,
    /// Sales that came through the ads.
    pub conversions: u64,
}

/// One campaign's numbers over a report's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPerformance {
    /// The campaign.
    pub campaign_id: String,
    /// The product it advertises.
    pub product_id: String,
    /// Where it runs.
    pub channel: AdChannel,
    /// What it spends per running day.
    pub daily_budget: Decimal,
    /// Its first day.
    pub start_day: u32,
    /// The day after its last day.
    pub end_day: u32,
    /// What it spent in the range.
    pub spend: Decimal,
}

/// One post's engagement over a report's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPerformance {
    /// The post.
    pub post_id: String,
    /// The product it promotes.
    pub product_id: String,
    /// Where it was published.
    pub network: SocialNetwork,
    /// The day it was published.
    pub published_day: u32,
    /// Times it was shown.
    pub impressions: u64,
    /// Likes, shares and comments.
    pub engagements: u64,
    /// Clicks through to the product.
    pub clicks: u64,
}

/// A post the swarm published: where, and the network's id for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPost {
    /// Where it was published.
    pub network: SocialNetwork,
    /// The network's id for it ([`PostRef::post_id`]).
    pub post_id: String,
}

/// A post's engagement so far, as its network counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostEngagement {
    /// The post.
    pub post_id: String,
    /// Where it was published.
    pub network: SocialNetwork,
    /// Times it was shown (0 where the network does not tell an account's own posts'
    /// views: Reddit, LinkedIn members).
    pub impressions: u64,
    /// Likes, reposts, replies and comments.
    pub engagements: u64,
    /// Clicks through to the product, where the network tells them.
    pub clicks: u64,
}

/// A connected marketing channel (a social account or an ad account) as a dashboard
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatus {
    /// The platform.
    pub platform: Platform,
    /// The circuit breaker in front of it.
    pub circuit: crate::CircuitState,
    /// Why the owner must connect it again (the platform refused its grant), if so.
    pub needs_owner: Option<String>,
}

/// One campaign's numbers on one day, as its ad platform reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDay {
    /// The platform that ran it.
    pub platform: Platform,
    /// The campaign ([`CampaignRef::campaign_id`]).
    pub campaign_id: String,
    /// The day, in the ad account's time zone.
    pub date: chrono::NaiveDate,
    /// What it cost.
    pub spend: Decimal,
    /// Times its ads were shown.
    pub impressions: u64,
    /// Clicks on them.
    pub clicks: u64,
    /// Sales the platform credits to them (whole sales; fractional attributions are
    /// rounded down).
    pub conversions: u64,
}
