//! The outside platforms a tenant can connect.

use serde::{Deserialize, Serialize};

/// An outside platform a tenant can connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// The built-in simulated market.
    Sandbox,
    /// Shopify Admin GraphQL.
    Shopify,
    /// Stripe payments and Connect.
    Stripe,
    /// Gumroad digital products.
    Gumroad,
    /// Google Ads.
    GoogleAds,
    /// Meta (Facebook/Instagram) ads.
    MetaAds,
    /// YouTube uploads.
    Youtube,
    /// X posts.
    X,
    /// LinkedIn posts.
    Linkedin,
    /// Reddit submissions.
    Reddit,
    /// TikTok videos.
    Tiktok,
}
