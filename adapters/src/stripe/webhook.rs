//! Stripe webhook events mapped to what the platform books. Checking the
//! `Stripe-Signature` header is the receiving HTTP route's job (the runtime's
//! `/webhooks/stripe`) and happens before this, on the raw body.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{StripeAccount, StripeEventPayload, StripeWebhookEvent};
use super::wire::{AccountObject, id_of, unix_time};
use crate::{AdapterError, Platform};

/// Maps a Stripe event (the JSON body of a webhook delivery) by its `type`.
///
/// - `checkout.session.completed`: the session's `amount_total`, `currency`,
///   `payment_status`, `payment_intent`, `payment_link` and `metadata`;
/// - `charge.refunded`: the charge's `amount`, `amount_refunded` (all refunded so far),
///   `currency`, `payment_intent` and `metadata`;
/// - `payment_intent.succeeded`: its `amount_received`, `currency` and `metadata`;
/// - `account.updated`: the account's `charges_enabled`, `payouts_enabled` and
///   `details_submitted`;
/// - any other type: `Ok(None)` (acknowledged, nothing to book).
///
/// Every event keeps its `id` (deliveries are retried: the id makes handling
/// exactly-once) and its `account`, which Connect webhooks set to the connected account
/// the event happened on. A body that lacks what its type needs is
/// [`AdapterError::Rejected`] naming the field.
pub fn event_from_webhook(event: &Value) -> Result<Option<StripeWebhookEvent>, AdapterError> {
    let kind = event.get("type").and_then(Value::as_str).ok_or_else(|| missing("event", "type"))?;
    let object = || {
        event.pointer("/data/object").filter(|object| object.is_object()).ok_or_else(|| missing(kind, "data.object"))
    };
    let payload = match kind {
        "checkout.session.completed" => {
            let session = object()?;
            StripeEventPayload::CheckoutSessionCompleted {
                session: text(kind, session, "id")?,
                amount_total: amount(kind, session, "amount_total")?,
                currency: text(kind, session, "currency")?,
                payment_status: text(kind, session, "payment_status")?,
                payment_intent: session.get("payment_intent").and_then(id_of),
                payment_link: session.get("payment_link").and_then(id_of),
                metadata: metadata(kind, session)?,
            }
        }
        "charge.refunded" => {
            let charge = object()?;
            StripeEventPayload::ChargeRefunded {
                charge: text(kind, charge, "id")?,
                payment_intent: charge.get("payment_intent").and_then(id_of),
                amount: amount(kind, charge, "amount")?,
                amount_refunded: amount(kind, charge, "amount_refunded")?,
                currency: text(kind, charge, "currency")?,
                metadata: metadata(kind, charge)?,
            }
        }
        "payment_intent.succeeded" => {
            let intent = object()?;
            StripeEventPayload::PaymentIntentSucceeded {
                payment_intent: text(kind, intent, "id")?,
                amount_received: amount(kind, intent, "amount_received")?,
                currency: text(kind, intent, "currency")?,
                metadata: metadata(kind, intent)?,
            }
        }
        "account.updated" => {
            let account: AccountObject = serde_json::from_value(object()?.clone())
                .map_err(|error| AdapterError::rejected(Platform::Stripe, format!("{kind} webhook: {error}")))?;
            StripeEventPayload::AccountUpdated(StripeAccount::from(account))
        }
        _ => return Ok(None),
    };
    let created =
        event.get("created").and_then(Value::as_i64).and_then(unix_time).ok_or_else(|| missing(kind, "created"))?;
    Ok(Some(StripeWebhookEvent {
        id: text(kind, event, "id")?,
        account: event.get("account").and_then(Value::as_str).map(str::to_owned),
        created,
        livemode: event.get("livemode").and_then(Value::as_bool).unwrap_or(false),
        payload,
    }))
}

fn text(kind: &str, object: &Value, field: &str) -> Result<String, AdapterError> {
    object.get(field).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| missing(kind, field))
}

fn amount(kind: &str, object: &Value, field: &str) -> Result<u64, AdapterError> {
    object.get(field).and_then(Value::as_u64).ok_or_else(|| missing(kind, field))
}

/// `metadata`, a map of strings; missing or `null` is empty.
fn metadata(kind: &str, object: &Value) -> Result<BTreeMap<String, String>, AdapterError> {
    match object.get("metadata") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(key, value)| match value {
                Value::String(value) => Ok((key.clone(), value.clone())),
                _ => Err(missing(kind, &format!("metadata.{key}"))),
            })
            .collect(),
        Some(_) => Err(missing(kind, "metadata")),
    }
}

fn missing(kind: &str, field: &str) -> AdapterError {
    AdapterError::rejected(Platform::Stripe, format!("{kind} webhook: {field} is missing or malformed"))
}
