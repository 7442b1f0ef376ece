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

impl Platform {
    /// The platform as settings, saved states and node names spell it (`google_ads`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Shopify => "shopify",
            Self::Stripe => "stripe",
            Self::Gumroad => "gumroad",
            Self::GoogleAds => "google_ads",
            Self::MetaAds => "meta_ads",
            Self::Youtube => "youtube",
            Self::X => "x",
            Self::Linkedin => "linkedin",
            Self::Reddit => "reddit",
            Self::Tiktok => "tiktok",
        }
    }

    /// Whether the platform carries a business's marketing (posts, ads) rather than its
    /// sales.
    pub fn is_marketing_channel(self) -> bool {
        matches!(
            self,
            Self::GoogleAds | Self::MetaAds | Self::Youtube | Self::X | Self::Linkedin | Self::Reddit | Self::Tiktok
        )
    }

    /// The platform's name in a sentence (`Google Ads`).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Shopify => "Shopify",
            Self::Stripe => "Stripe",
            Self::Gumroad => "Gumroad",
            Self::GoogleAds => "Google Ads",
            Self::MetaAds => "Meta Ads",
            Self::Youtube => "YouTube",
            Self::X => "X",
            Self::Linkedin => "LinkedIn",
            Self::Reddit => "Reddit",
            Self::Tiktok => "TikTok",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn the_spelling_is_the_serialized_one() {
        for platform in [
            Platform::Sandbox,
            Platform::Shopify,
            Platform::Stripe,
            Platform::Gumroad,
            Platform::GoogleAds,
            Platform::MetaAds,
            Platform::Youtube,
            Platform::X,
            Platform::Linkedin,
            Platform::Reddit,
            Platform::Tiktok,
        ] {
            assert_eq!(serde_json::to_value(platform).ok(), Some(serde_json::json!(platform.as_str())));
        }
    }
}
