//! Stripe, with Connect: a typed client of the platform's account (and, through
//! [`StripeClient::on_account`], of its tenants' connected accounts), kept polite and
//! alive by the [resilience](crate::Resilience) layer, the platform's fee, and the
//! mapping of the webhook events the platform books.
//!
//! Requests go to `{base_url}/v1/…` with `Authorization: Bearer sk_…`, a pinned
//! `Stripe-Version`, and form bodies in bracket notation (`metadata[k]=v`,
//! `line_items[0][price]=…`); every `POST` carries an `Idempotency-Key`. Errors arrive
//! as `{"error": {type, code, decline_code, message, param}}` with a status that says
//! whether to retry, and `Stripe-Should-Retry` overrides it.
//!
//! ## Layout
//! - `connection`: [`StripeConnection`], its redacted [`StripeSecretKey`] and the
//!   pinned [`STRIPE_API_VERSION`].
//! - `client`: [`StripeClient`] and its operations.
//! - `wire`: the objects as Stripe sends them, and how an answer becomes a result or
//!   an error.
//! - `model`: what the client takes and hands back ([`StripePaymentLinkDraft`],
//!   [`StripeCheckoutSession`], …).
//! - `fee`: [`PlatformFeeShare`] and [`platform_fee`].
//! - `market`: [`StripeMarket`], a tenant selling digital products through its
//!   connected account (destination charges) as the swarm's market, and the
//!   [`StripeLinkRegistry`] its payment links are recorded with.
//! - `webhook`: [`event_from_webhook`].

mod client;
mod connection;
mod fee;
mod market;
mod model;
mod webhook;
mod wire;

pub use client::{STRIPE_MAX_PAGE, StripeClient};
pub use connection::{STRIPE_API_BASE, STRIPE_API_VERSION, StripeConnection, StripeSecretKey};
pub use fee::{PlatformFeeShare, platform_fee};
pub use market::{PLATFORM_FEE_METADATA, PRODUCT_METADATA, STRIPE_MARKET_CURRENCY, StripeLinkRegistry, StripeMarket};
pub use model::{
    StripeAccount, StripeAccountLink, StripeApplicationFee, StripeCharge, StripeCheckoutSession, StripeEventPayload,
    StripeList, StripePaymentLink, StripePaymentLinkDraft, StripePrice, StripeProduct, StripeRefund,
    StripeWebhookEvent,
};
pub use webhook::event_from_webhook;
