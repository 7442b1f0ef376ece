//! Shopify through its GraphQL Admin API (REST is legacy): a typed client of one
//! shop, kept polite and alive by the [resilience](crate::Resilience) layer, and the
//! mapping of the order and refund webhooks Shopify pushes.
//!
//! Requests go to `{base_url}/admin/api/{version}/graphql.json` as
//! `{"query", "variables"}` with the `X-Shopify-Access-Token` header. Business errors
//! arrive as HTTP 200 with `userErrors`; system errors as top-level
//! `errors[].extensions.code`; rate limits as `THROTTLED` at 200 or at 429, with the
//! bucket's state in every answer's `extensions.cost.throttleStatus`.
//!
//! ## Layout
//! - `connection`: [`ShopifyConnection`], its redacted [`ShopifyAccessToken`] and the
//!   pinned [`SHOPIFY_API_VERSION`].
//! - `client`: [`ShopifyClient`] and its operations.
//! - `graphql`: the documents, their cost estimates, the answers' shapes, and how an
//!   answer becomes a result or an error.
//! - `model`: the typed results ([`ShopifyOrder`], [`ShopifyProduct`], …).
//! - `market`: [`ShopifyMarket`], a shop as the swarm's [`Marketplace`](crate::Marketplace).
//! - `webhook`: [`order_from_webhook`].

mod client;
mod connection;
mod graphql;
mod market;
mod model;
mod webhook;

pub use client::{
    IDEMPOTENCY_TAG_PREFIX, ShopifyClient, planned_price_change, planned_product_creation, planned_shop_read,
};
pub use connection::{SHOPIFY_API_VERSION, ShopifyAccessToken, ShopifyConnection};
pub use graphql::ORDER_LINE_ITEMS_READ;
pub use market::ShopifyMarket;
pub use model::{
    ShopifyCatalogProduct, ShopifyLineItem, ShopifyOrder, ShopifyPage, ShopifyProduct, ShopifyProductDraft,
    ShopifyRefund, ShopifyShop, ShopifyWebhookEvent,
};
pub use webhook::order_from_webhook;
