//! # boardroom-adapters
//!
//! Owns every conversation with the outside world: one adapter per platform (stores,
//! payments, ads, social) behind the common [`Marketplace`] interface, and the
//! [`SandboxMarket`] simulator that new tenants act on by default. Every side-effecting
//! call carries an [`IdempotencyKey`], so a retried call (after a crash, a time-out or a
//! restart) never charges, lists or posts twice.
//!
//! ## Layout
//! - `platform`: the [`Platform`] names.
//! - `idempotency`: the [`IdempotencyKey`] derived from tenant, cycle, step and item.
//! - `error`: [`AdapterError`], the one error type at this crate's edge.
//! - `marketplace`: the [`Marketplace`] trait every platform adapter implements, and the
//!   requests and answers it speaks (snapshots, listings, campaigns, posts, reports).
//! - `sandbox`: [`SandboxMarket`], the seeded, deterministic simulated market: a niche
//!   catalogue, the daily demand model, ads, social posts, fees and refunds, and
//!   export/import of a tenant's world.
//! - `resilience`: what every real platform adapter shares: [`RetryPolicy`] (jittered
//!   back-off honouring `Retry-After`), [`CircuitBreaker`] (state `closed`, `open`,
//!   `half_open`), [`CostBucket`] (a rate limiter fed by the platform's own signals), and
//!   [`Resilience`], which puts them around each call with a per-request time-out and a
//!   deadline ([`CallBudget`]).
//! - `shopify`: [`ShopifyClient`], the GraphQL Admin API as typed operations (shop,
//!   products, prices, inventory, orders) over a [`ShopifyConnection`], and
//!   [`order_from_webhook`] for the order and refund webhooks; [`ShopifyMarket`], a
//!   connected shop as the swarm's market.
//! - `channels`: [`SocialChannel`], what a connected social account does for the swarm
//!   (publish a post, count what posts drew), [`VideoChannel`] and [`publish_video`] for
//!   the networks that post videos (an upload kept until it is done, resumed after a
//!   crash), [`ChannelAccount`], one connected account as a market of its own (for its
//!   own adapter actor), and [`ChannelMarket`], a live business's selling market with
//!   its connected accounts in front: posts go to them, their engagement comes back, and
//!   what must outlive the process (rotated refresh tokens, uploads on their way) is
//!   handed to a [`ConnectionKeeper`].
//! - `dry_run`: [`DryRunMarket`], a rehearsal of going live: the cycle runs on the
//!   sandbox and each call the connected platform would get is recorded, not sent.
//! - `stripe`: [`StripeClient`], Stripe with Connect as typed operations (products,
//!   prices, payment links with the platform's fee, connected accounts and their
//!   onboarding, refunds, paged lists) over a [`StripeConnection`], [`platform_fee`],
//!   and [`event_from_webhook`] for the events the platform books; [`StripeMarket`], a
//!   tenant's connected account selling through destination charges as the swarm's
//!   market.
//! - `gumroad`: [`GumroadClient`], a seller's Gumroad account as typed operations
//!   (products made once per key and enabled, offer codes, sales page by page) over a
//!   [`GumroadConnection`], and [`sale_from_webhook`] for its unsigned pings, whose
//!   sale is re-fetched before it is trusted; [`GumroadMarket`], a seller's account as
//!   the swarm's market.
//! - `live_days`: how a market on a real platform counts the swarm's days (marks in
//!   real time, saved with its state).
//! - `rest`: what the REST adapters share at the HTTP edge (addresses, form bodies,
//!   `Retry-After`, transport failures).
//! - `oauth`: [`OAuthSession`], a channel connection's OAuth 2.0 tokens, refreshed one
//!   at a time, and a refused refresh token turned into "the owner must connect again".
//! - `x`: [`XClient`], an X account's posts through API v2 over an [`XConnection`].
//! - `youtube`: [`YouTubeClient`], videos uploaded with the resumable protocol (chunks,
//!   a session kept across crashes, resumed from where the server stands) and their
//!   statistics; [`YouTubeChannel`], a channel as the swarm's video network.
//! - `tiktok`: [`TikTokClient`], videos posted straight to an account with the Content
//!   Posting API (creator check, chunked upload kept across crashes, status polled until
//!   published or failed) and their public counts; [`TikTokChannel`], an account as the
//!   swarm's video network.
//! - `linkedin`: [`LinkedInClient`], posts through LinkedIn's versioned Posts API over a
//!   [`LinkedInConnection`].
//! - `reddit`: [`RedditClient`], a Reddit account's submissions over a
//!   [`RedditConnection`] (errors inside `200`s, the `User-Agent` Reddit asks for).
//! - `google_ads`: [`GoogleAdsClient`], a Google Ads account's Search campaigns through
//!   the pinned REST version over a [`GoogleAdsConnection`]: a budget in exact micros, a
//!   campaign on it, an ad group, its keywords and a responsive search ad of checked copy
//!   ([`SearchAdCopy`]), each made once per key, pause and resume, and each campaign's
//!   daily cost and counts from `searchStream`.
//! - `meta_ads`: [`MetaAdsClient`], a Meta ad account through the pinned Graph API version
//!   over a [`MetaAdsConnection`] (a long-lived token with its `appsecret_proof`): a
//!   campaign, an ad set with the daily budget in minor units, a creative of checked copy
//!   ([`SocialAdCopy`]) speaking as the connection's Page and an ad showing it, each made
//!   once per key, then activated, and each campaign's daily spend and counts from paged
//!   insights.

mod channels;
mod dry_run;
mod error;
mod google_ads;
mod gumroad;
mod idempotency;
mod linkedin;
mod live_days;
mod marketplace;
mod meta_ads;
mod oauth;
mod platform;
mod reddit;
mod resilience;
mod rest;
mod sandbox;
mod shopify;
mod stripe;
mod tiktok;
mod x;
mod youtube;

pub use channels::{
    AdAccount, ChannelAccount, ChannelMarket, ConnectionKeeper, SocialChannel, VideoChannel, publish_video,
};
pub use dry_run::DryRunMarket;
pub use error::AdapterError;
pub use google_ads::{
    GOOGLE_ADS_API_BASE, GOOGLE_ADS_API_VERSION, GOOGLE_ADS_MAX_DESCRIPTION_CHARS, GOOGLE_ADS_MAX_HEADLINE_CHARS,
    GOOGLE_ADS_MAX_KEYWORD_CHARS, GOOGLE_ADS_MAX_NAME_CHARS, GoogleAdsCampaignDay, GoogleAdsCampaignStatus,
    GoogleAdsClient, GoogleAdsConnection, GoogleAdsLaunch, SearchAdCopy,
};
pub use gumroad::{
    GUMROAD_API_BASE, GumroadAccessToken, GumroadClient, GumroadConnection, GumroadDiscount, GumroadMarket,
    GumroadOfferCode, GumroadOfferCodeDraft, GumroadProduct, GumroadSale, GumroadSalesPage, GumroadUser,
    sale_from_webhook,
};
pub use idempotency::IdempotencyKey;
pub use linkedin::{
    LINKEDIN_API_BASE, LINKEDIN_API_VERSION, LINKEDIN_AUTH_BASE, LINKEDIN_MAX_COMMENTARY_CHARS, LinkedInClient,
    LinkedInConnection,
};
pub use marketplace::{
    AdChannel, AdCreative, AdImage, CampaignDay, CampaignPerformance, CampaignRef, CampaignSpec, ChannelPerformance,
    ChannelStatus, ListedProduct, MarketSnapshot, Marketplace, Niche, PerformanceReport, PostEngagement,
    PostPerformance, PostRef, PostSpec, PostVideo, ProductListing, ProductPerformance, PublishedPost, SocialNetwork,
    StoreRef,
};
pub use meta_ads::{
    META_GRAPH_API_BASE, META_GRAPH_API_VERSION, MetaAdsCampaignDay, MetaAdsClient, MetaAdsConnection, MetaAdsLaunch,
    MetaAdsObjective, MetaAdsStatus, SocialAdCopy,
};
pub use oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession, RotationListener};
pub use platform::Platform;
pub use reddit::{
    REDDIT_API_BASE, REDDIT_AUTH_BASE, REDDIT_MAX_TITLE_CHARS, RedditChannel, RedditClient, RedditConnection,
    RedditSubmission,
};
pub use resilience::{
    BreakerPermit, CallBudget, CircuitBreaker, CircuitState, CostBucket, Resilience, ResilienceSettings, RetryPolicy,
};
pub use sandbox::{OracleProduct, SandboxMarket, WorldTruth};
pub use shopify::{
    IDEMPOTENCY_TAG_PREFIX, ORDER_LINE_ITEMS_READ, SHOPIFY_API_VERSION, ShopifyAccessToken, ShopifyCatalogProduct,
    ShopifyClient, ShopifyConnection, ShopifyLineItem, ShopifyMarket, ShopifyOrder, ShopifyPage, ShopifyProduct,
    ShopifyProductDraft, ShopifyRefund, ShopifyShop, ShopifyWebhookEvent, order_from_webhook, planned_price_change,
    planned_product_creation, planned_shop_read,
};
pub use stripe::{
    PLATFORM_FEE_METADATA, PRODUCT_METADATA, PlatformFeeShare, STRIPE_API_BASE, STRIPE_API_VERSION,
    STRIPE_MARKET_CURRENCY, STRIPE_MAX_PAGE, StripeAccount, StripeAccountLink, StripeApplicationFee, StripeCharge,
    StripeCheckoutSession, StripeClient, StripeConnection, StripeEventPayload, StripeLinkRegistry, StripeList,
    StripeMarket, StripePaymentLink, StripePaymentLinkDraft, StripePrice, StripeProduct, StripeRefund, StripeSecretKey,
    StripeWebhookEvent, event_from_webhook, platform_fee,
};
pub use tiktok::{
    TIKTOK_API_BASE, TIKTOK_MAX_CAPTION_UNITS, TIKTOK_MAX_CHUNK, TIKTOK_MIN_CHUNK, TikTokChannel, TikTokClient,
    TikTokConnection, TikTokCreator, TikTokDraft, TikTokPost, TikTokPostStatus, TikTokUpload, TikTokVideoCounts,
    tiktok_chunk_plan,
};
pub use x::{X_API_BASE, X_MAX_POST_CHARS, XClient, XConnection, XPost, XUser};
pub use youtube::{
    GOOGLE_TOKEN_URL, UploadSession, VideoDraft, YOUTUBE_API_BASE, YOUTUBE_CHUNK_UNIT, YouTubeChannel, YouTubeClient,
    YouTubeConnection, YouTubeStatistics, YouTubeVideo,
};
