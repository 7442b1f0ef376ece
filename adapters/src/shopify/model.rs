//! What the Shopify client hands back: typed shops, products, orders and refunds, with
//! money as [`Decimal`] and Shopify's global ids (`gid://shopify/Product/123`) as they
//! come.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The shop a connection signs in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyShop {
    /// The shop's name.
    pub name: String,
    /// Its `{shop}.myshopify.com` domain.
    pub myshopify_domain: String,
    /// The shop's currency (ISO 4217), in which Shopify reports its money.
    pub currency: String,
}

/// A product to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyProductDraft {
    /// The product's title.
    pub title: String,
    /// Its description, as plain text (it is escaped into `descriptionHtml`).
    pub description: String,
    /// Its tags (the client adds one more, carrying the idempotency key).
    pub tags: Vec<String>,
    /// The price of its default variant, in the shop's currency.
    pub price: Decimal,
}

/// A product created (or found again) in a shop: what later calls refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyProduct {
    /// The product's id, `gid://shopify/Product/…`.
    pub product_id: String,
    /// Its default variant's id, `gid://shopify/ProductVariant/…` (prices live there).
    pub variant_id: String,
    /// The variant's inventory item, `gid://shopify/InventoryItem/…` (stock lives there).
    pub inventory_item_id: String,
    /// The URL handle, as in `/products/{handle}`.
    pub handle: String,
    /// The page on the online store, once the product is published there.
    pub online_store_url: Option<String>,
    /// The default variant's price.
    pub price: Decimal,
}

/// A product as listed by [`ShopifyClient::products`](crate::ShopifyClient::products).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyCatalogProduct {
    /// The product's id, `gid://shopify/Product/…`.
    pub product_id: String,
    /// Its title.
    pub title: String,
    /// Its URL handle.
    pub handle: String,
    /// `ACTIVE`, `DRAFT` or `ARCHIVED`.
    pub status: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The page on the online store, once published there.
    pub online_store_url: Option<String>,
    /// Its first variant's id, if it has one.
    pub variant_id: Option<String>,
    /// That variant's inventory item.
    pub inventory_item_id: Option<String>,
    /// That variant's price.
    pub price: Option<Decimal>,
}

/// One page of a list read with cursor pagination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyPage<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An order, from the Admin API or from an `orders/*` webhook. Money is in the shop's
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyOrder {
    /// The order's id, `gid://shopify/Order/…`.
    pub id: String,
    /// Its name as the merchant sees it, like `#1001`.
    pub name: String,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// The shop's currency (ISO 4217).
    pub currency: String,
    /// What the buyer paid in all: items, shipping and taxes, less discounts.
    pub total: Decimal,
    /// Its lines. From the Admin API, only the first
    /// [`ORDER_LINE_ITEMS_READ`](crate::ORDER_LINE_ITEMS_READ) lines are
    /// read (the total above is always whole).
    pub line_items: Vec<ShopifyLineItem>,
    /// What has been refunded so far.
    pub refunded: Decimal,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyLineItem {
    /// The product sold, `gid://shopify/Product/…`; `None` for a custom line or a product
    /// deleted since.
    pub product_id: Option<String>,
    /// How many.
    pub quantity: i64,
    /// Unit price × quantity, before discounts.
    pub amount: Decimal,
}

/// A refund, from a `refunds/create` webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyRefund {
    /// The refund's id, `gid://shopify/Refund/…`.
    pub id: String,
    /// The refunded order, `gid://shopify/Order/…`.
    pub order_id: String,
    /// When it was made, if the webhook said.
    pub created_at: Option<DateTime<Utc>>,
    /// The money given back, in the shop's currency.
    pub amount: Decimal,
}

/// What a Shopify webhook told us, from [`order_from_webhook`](crate::order_from_webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "topic", content = "payload")]
pub enum ShopifyWebhookEvent {
    /// `orders/create`: an order was placed (not necessarily paid).
    #[serde(rename = "orders/create")]
    OrderCreated(ShopifyOrder),
    /// `orders/paid`: an order's payment was captured.
    #[serde(rename = "orders/paid")]
    OrderPaid(ShopifyOrder),
    /// `refunds/create`: money was given back on an order.
    #[serde(rename = "refunds/create")]
    RefundCreated(ShopifyRefund),
}
