//! What the Stripe client sends and hands back. Money is as Stripe counts it: whole minor
//! units of the currency (cents for `usd`, yen for `jpy`) with the currency's lowercase
//! ISO code beside it. Ids are Stripe's own (`prod_…`, `price_…`, `acct_…`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product made with [`StripeClient::create_product`](crate::StripeClient::create_product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeProduct {
    /// `prod_…`.
    pub id: String,
    /// Its name, as buyers see it at checkout.
    pub name: String,
    /// Its description, if it has one.
    pub description: Option<String>,
    /// Whether it can be sold.
    pub active: bool,
    /// Our own keys and values on it.
    pub metadata: BTreeMap<String, String>,
}

/// A one-time price of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripePrice {
    /// `price_…`.
    pub id: String,
    /// The product it prices, `prod_…`.
    pub product: String,
    /// The price in minor units.
    pub unit_amount: u64,
    /// Lowercase ISO 4217 code.
    pub currency: String,
    /// Whether it can be used in new payment links.
    pub active: bool,
}

/// The platform's fee on the payments a link takes, for Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeApplicationFee {
    /// A fixed amount in minor units (`application_fee_amount`), taken from each payment.
    /// Payment Links accept it only when no line item has a recurring price: this is the
    /// one for one-time products (compute it with [`platform_fee`](crate::platform_fee)).
    Amount(u64),
    /// A percentage with at most two decimals (`application_fee_percent`). Payment
    /// Links accept it only when a line item has a recurring price (subscriptions).
    Percent(Decimal),
}

/// A payment link to create: one price at a fixed quantity, and, with Connect, the
/// platform's fee and the tenant's account the rest of each payment goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripePaymentLinkDraft {
    /// The price sold, `price_…` (`line_items[0][price]`).
    pub price: String,
    /// How many are bought at once (`line_items[0][quantity]`), at least 1.
    pub quantity: u64,
    /// The platform's fee on each payment, if any.
    pub application_fee: Option<StripeApplicationFee>,
    /// The connected account (`acct_…`) each payment is transferred to, less the fee
    /// (`transfer_data[destination]`): a destination charge.
    pub transfer_destination: Option<String>,
    /// Our own keys and values; Stripe copies them to each checkout session the link
    /// starts, so a `checkout.session.completed` event carries them back.
    pub metadata: BTreeMap<String, String>,
}

impl StripePaymentLinkDraft {
    /// A link selling `quantity` of `price`, with no fee or destination.
    pub fn new(price: impl Into<String>, quantity: u64) -> Self {
        Self {
            price: price.into(),
            quantity,
            application_fee: None,
            transfer_destination: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The same link as a destination charge: each payment goes to `account`, less
    /// `fee` for the platform.
    pub fn paying_to(mut self, account: impl Into<String>, fee: StripeApplicationFee) -> Self {
        self.transfer_destination = Some(account.into());
        self.application_fee = Some(fee);
        self
    }

    /// The same link carrying `key = value` in its metadata.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// A payment link: a hosted page where buyers pay for its line items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripePaymentLink {
    /// `plink_…`.
    pub id: String,
    /// The page buyers are sent to.
    pub url: String,
    /// Whether it takes payments.
    pub active: bool,
    /// The fixed fee the platform takes from each payment, in minor units.
    pub application_fee_amount: Option<u64>,
    /// The connected account payments are transferred to.
    pub transfer_destination: Option<String>,
    /// Its metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A connected account (a tenant's), as far as taking payments goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeAccount {
    /// `acct_…`.
    pub id: String,
    /// The account's email, if known.
    pub email: Option<String>,
    /// Its country (ISO 3166-1 alpha-2), if known.
    pub country: Option<String>,
    /// Whether it can take payments yet.
    pub charges_enabled: bool,
    /// Whether Stripe pays out to its bank yet.
    pub payouts_enabled: bool,
    /// Whether its owner finished onboarding (Stripe may still want more before
    /// enabling charges).
    pub details_submitted: bool,
}

/// A one-time link to Stripe's hosted onboarding of a connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeAccountLink {
    /// Where to send the account's owner; usable once.
    pub url: String,
    /// When it stops working (a few minutes after it was made); after that, or after a
    /// visit, Stripe sends the owner to the `refresh_url` to get a new one.
    pub expires_at: DateTime<Utc>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeRefund {
    /// `re_…`.
    pub id: String,
    /// The money given back, in minor units.
    pub amount: u64,
    /// Lowercase ISO 4217 code.
    pub currency: String,
    /// `pending`, `succeeded`, `failed`, `requires_action` or `canceled`.
    pub status: Option<String>,
    /// The payment refunded, `pi_…`.
    pub payment_intent: Option<String>,
    /// The charge refunded, `ch_…`.
    pub charge: Option<String>,
}

/// A checkout session: one buyer's visit to a payment page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeCheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// The total, in minor units.
    pub amount_total: Option<u64>,
    /// Lowercase ISO 4217 code.
    pub currency: Option<String>,
    /// The payment, `pi_…`, once there is one.
    pub payment_intent: Option<String>,
    /// The payment link that started it, `plink_…`.
    pub payment_link: Option<String>,
    /// The metadata (a link's is copied here).
    pub metadata: BTreeMap<String, String>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

/// A charge: money taken from a buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeCharge {
    /// `ch_…`.
    pub id: String,
    /// The amount charged, in minor units.
    pub amount: u64,
    /// How much of it has been refunded.
    pub amount_refunded: u64,
    /// Lowercase ISO 4217 code.
    pub currency: String,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
    /// Whether it succeeded or was authorised.
    pub paid: bool,
    /// Whether all of it was refunded.
    pub refunded: bool,
    /// The payment it belongs to, `pi_…`.
    pub payment_intent: Option<String>,
    /// The platform's fee on it, in minor units.
    pub application_fee_amount: Option<u64>,
    /// The connected account the rest went to.
    pub transfer_destination: Option<String>,
    /// When it was made.
    pub created: DateTime<Utc>,
}

/// One page of a list, as Stripe pages: newest first; the next page starts after the
/// last item's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeList<T> {
    /// The page's items.
    pub data: Vec<T>,
    /// Whether there are more after the last.
    pub has_more: bool,
}

/// A webhook event the platform books, from
/// [`event_from_webhook`](crate::event_from_webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeWebhookEvent {
    /// Stripe's event id, `evt_…`: deliveries are retried, so this is what makes handling
    /// exactly-once.
    pub id: String,
    /// The connected account the event happened on (Connect webhooks), or `None` for the
    /// platform's own account.
    pub account: Option<String>,
    /// When Stripe created the event.
    pub created: DateTime<Utc>,
    /// Whether it happened in live mode.
    pub livemode: bool,
    /// What happened.
    pub payload: StripeEventPayload,
}

/// What a [`StripeWebhookEvent`] says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StripeEventPayload {
    /// `checkout.session.completed`: a buyer finished a checkout (for card payments, paid).
    #[serde(rename = "checkout.session.completed")]
    CheckoutSessionCompleted {
        /// `cs_…`.
        session: String,
        /// The total, in minor units.
        amount_total: u64,
        /// Lowercase ISO 4217 code.
        currency: String,
        /// `paid`, `unpaid` (a delayed method still clearing) or `no_payment_required`.
        payment_status: String,
        /// The payment, `pi_…`.
        payment_intent: Option<String>,
        /// The link it came through, `plink_…`.
        payment_link: Option<String>,
        /// The session's metadata (copied from the link).
        metadata: BTreeMap<String, String>,
    },
    /// `charge.refunded`: some or all of a charge was given back.
    #[serde(rename = "charge.refunded")]
    ChargeRefunded {
        /// `ch_…`.
        charge: String,
        /// The payment, `pi_…`.
        payment_intent: Option<String>,
        /// The amount charged, in minor units.
        amount: u64,
        /// All refunded on it so far (not only this refund), in minor units.
        amount_refunded: u64,
        /// Lowercase ISO 4217 code.
        currency: String,
        /// The charge's metadata.
        metadata: BTreeMap<String, String>,
    },
    /// `payment_intent.succeeded`: a payment went through.
    #[serde(rename = "payment_intent.succeeded")]
    PaymentIntentSucceeded {
        /// `pi_…`.
        payment_intent: String,
        /// The amount received, in minor units.
        amount_received: u64,
        /// Lowercase ISO 4217 code.
        currency: String,
        /// The payment's metadata.
        metadata: BTreeMap<String, String>,
    },
    /// `account.updated`: a connected account changed, typically during onboarding.
    #[serde(rename = "account.updated")]
    AccountUpdated(StripeAccount),
}
