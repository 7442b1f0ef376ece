//! Gumroad: a typed client of one seller's account through the v2 API, kept polite and
//! alive by the [resilience](crate::Resilience) layer, and the reading of its unsigned
//! webhook pings.
//!
//! Requests go to `{base_url}/v2/…` with the `access_token` parameter (in the query of a
//! `GET`, the form body of a `POST` or `PUT`). Gumroad answers most refusals with HTTP
//! 200 and `{"success": false, "message"}`, so `success` is read on every answer.
//! Nothing takes an idempotency key: the calls that make something look first for what
//! an earlier attempt made.
//!
//! ## Layout
//! - `connection`: [`GumroadConnection`] and its redacted [`GumroadAccessToken`].
//! - `client`: [`GumroadClient`] and its operations.
//! - `wire`: the objects as Gumroad sends them, and how an answer becomes a result or
//!   an error.
//! - `model`: what the client takes and hands back ([`GumroadProduct`],
//!   [`GumroadSale`], [`GumroadUser`], …).
//! - `market`: [`GumroadMarket`], a seller's account as the swarm's
//!   [`Marketplace`](crate::Marketplace).
//! - `webhook`: [`sale_from_webhook`].

mod client;
mod connection;
mod market;
mod model;
mod webhook;
mod wire;

pub use client::GumroadClient;
pub use connection::{GUMROAD_API_BASE, GumroadAccessToken, GumroadConnection};
pub use market::GumroadMarket;
pub use model::{
    GumroadDiscount, GumroadOfferCode, GumroadOfferCodeDraft, GumroadProduct, GumroadSale, GumroadSalesPage,
    GumroadUser,
};
pub use webhook::sale_from_webhook;
