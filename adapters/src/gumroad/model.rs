//! What the Gumroad client sends and hands back. Money is in cents (Gumroad's `price`
//! fields), in the product's currency; ids are Gumroad's own opaque strings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The seller a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadUser {
    /// Gumroad's id of the seller (`user_id`), what a sale's `seller_id` names.
    pub user_id: String,
    /// The seller's name, if set.
    pub name: Option<String>,
    /// The seller's email, if the token may read it.
    pub email: Option<String>,
    /// The seller's profile page (`https://gumroad.com/…`).
    pub url: Option<String>,
}

/// A product in a seller's Gumroad account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadProduct {
    /// Gumroad's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its price in cents (of `currency`).
    pub price_cents: u64,
    /// Lowercase ISO 4217 code (`usd`).
    pub currency: String,
    /// Whether it is on sale; a product made through the API starts as a draft.
    pub published: bool,
    /// Its custom permalink (`gumroad.com/l/{permalink}`); the client's idempotency
    /// marker lives here, see [`GumroadClient::create_product`](crate::GumroadClient::create_product).
    pub custom_permalink: Option<String>,
    /// Its short URL, where buyers go.
    pub short_url: Option<String>,
}

/// How much an offer code takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GumroadDiscount {
    /// A fixed amount, in cents of the product's currency.
    Cents(u64),
    /// A percentage, 1 to 100.
    Percent(u8),
}

/// An offer code to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadOfferCodeDraft {
    /// The code buyers type: letters, digits, `-` and `_`. Unique in the seller's account,
    /// which is what makes creating one safe to retry.
    pub name: String,
    /// What it takes off.
    pub discount: GumroadDiscount,
    /// How many times it can be used; `None`: without limit.
    pub max_purchase_count: Option<u64>,
}

/// An offer (discount) code on a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadOfferCode {
    /// Gumroad's id.
    pub id: String,
    /// The code buyers type.
    pub name: String,
    /// What it takes off.
    pub discount: GumroadDiscount,
    /// How many times it can be used; `None`: without limit.
    pub max_purchase_count: Option<u64>,
    /// Whether it applies to all the seller's products.
    pub universal: bool,
    /// How many times it was used.
    pub times_used: u64,
}

/// A sale, as Gumroad reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadSale {
    /// Gumroad's id.
    pub id: String,
    /// The seller's `user_id` ([`GumroadUser::user_id`]), when Gumroad says it.
    pub seller_id: Option<String>,
    /// The product sold.
    pub product_id: String,
    /// Its name at the time.
    pub product_name: String,
    /// The buyer's email, if shared.
    pub email: Option<String>,
    /// What the buyer paid, in cents.
    pub price_cents: u64,
    /// Gumroad's fee on it, in cents, when reported.
    pub gumroad_fee_cents: Option<u64>,
    /// Whether it was refunded in full.
    pub refunded: bool,
    /// Whether part of it was refunded.
    pub partially_refunded: bool,
    /// Whether the buyer's bank took the money back.
    pub chargedback: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// One page of sales, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GumroadSalesPage {
    /// The page's sales.
    pub sales: Vec<GumroadSale>,
    /// The key of the next page (`next_page_key`); `None` on the last.
    pub next_page_key: Option<String>,
}
