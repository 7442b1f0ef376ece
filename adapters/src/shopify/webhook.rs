//! Shopify webhook bodies (REST-shaped JSON, whatever API the app calls) mapped to the
//! client's typed orders and refunds. Checking the `X-Shopify-Hmac-Sha256` signature is
//! the receiving HTTP route's job and happens before this.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::model::{ShopifyLineItem, ShopifyOrder, ShopifyRefund, ShopifyWebhookEvent};
use crate::{AdapterError, Platform};

/// Maps a webhook body by its `X-Shopify-Topic`.
///
/// - `orders/create` and `orders/paid`: the order, with `id` from
///   `admin_graphql_api_id` (or built from the numeric `id`), `total_price`, `currency`,
///   each line's `price × quantity`, and the refunds already on it (successful
///   `refund` transactions).
/// - `refunds/create`: the refund, its amount being its successful `refund`
///   transactions, or, when it carries none, the subtotals of its `refund_line_items`.
/// - any other topic: `Ok(None)` (acknowledged, nothing to book).
///
/// A body that lacks what its topic needs is [`AdapterError::Rejected`] naming the
/// field.
pub fn order_from_webhook(topic: &str, body: &Value) -> Result<Option<ShopifyWebhookEvent>, AdapterError> {
    match topic {
        "orders/create" => Ok(Some(ShopifyWebhookEvent::OrderCreated(order(topic, body)?))),
        "orders/paid" => Ok(Some(ShopifyWebhookEvent::OrderPaid(order(topic, body)?))),
        "refunds/create" => Ok(Some(ShopifyWebhookEvent::RefundCreated(refund(topic, body)?))),
        _ => Ok(None),
    }
}

fn order(topic: &str, body: &Value) -> Result<ShopifyOrder, AdapterError> {
    let line_items = match body.get("line_items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(lines)) => lines
            .iter()
            .enumerate()
            .map(|(at, line)| {
                let field = |name: &str| format!("line_items.{at}.{name}");
                let quantity =
                    line.get("quantity").and_then(Value::as_i64).ok_or_else(|| missing(topic, &field("quantity")))?;
                let price = amount(line.get("price")).ok_or_else(|| missing(topic, &field("price")))?;
                Ok(ShopifyLineItem {
                    product_id: numeric_id(line.get("product_id")).map(|id| format!("gid://shopify/Product/{id}")),
                    quantity,
                    amount: price * Decimal::from(quantity),
                })
            })
            .collect::<Result<_, AdapterError>>()?,
        Some(_) => return Err(missing(topic, "line_items")),
    };
    let refunded = body
        .get("refunds")
        .and_then(Value::as_array)
        .map(|refunds| refunds.iter().map(|refund| refunded_by_transactions(refund).unwrap_or_default()).sum())
        .unwrap_or_default();
    Ok(ShopifyOrder {
        id: global_id(body, "Order").ok_or_else(|| missing(topic, "admin_graphql_api_id or id"))?,
        name: body.get("name").and_then(Value::as_str).ok_or_else(|| missing(topic, "name"))?.to_owned(),
        created_at: time(body.get("created_at")).ok_or_else(|| missing(topic, "created_at"))?,
        currency: body.get("currency").and_then(Value::as_str).ok_or_else(|| missing(topic, "currency"))?.to_owned(),
        total: amount(body.get("total_price")).ok_or_else(|| missing(topic, "total_price"))?,
        line_items,
        refunded,
    })
}

fn refund(topic: &str, body: &Value) -> Result<ShopifyRefund, AdapterError> {
    let amount = match refunded_by_transactions(body) {
        Some(amount) => amount,
        None => body
            .get("refund_line_items")
            .and_then(Value::as_array)
            .ok_or_else(|| missing(topic, "transactions or refund_line_items"))?
            .iter()
            .enumerate()
            .map(|(at, line)| {
                amount(line.get("subtotal")).ok_or_else(|| missing(topic, &format!("refund_line_items.{at}.subtotal")))
            })
            .sum::<Result<Decimal, AdapterError>>()?,
    };
    let order_id = numeric_id(body.get("order_id")).ok_or_else(|| missing(topic, "order_id"))?;
    Ok(ShopifyRefund {
        id: global_id(body, "Refund").ok_or_else(|| missing(topic, "admin_graphql_api_id or id"))?,
        order_id: format!("gid://shopify/Order/{order_id}"),
        created_at: time(body.get("created_at")),
        amount,
    })
}

/// The sum of a refund's successful `refund` transactions; `None` when it lists none.
fn refunded_by_transactions(refund: &Value) -> Option<Decimal> {
    let transactions = refund.get("transactions")?.as_array()?;
    let refunds: Vec<Decimal> = transactions
        .iter()
        .filter(|transaction| transaction.get("kind").and_then(Value::as_str).is_none_or(|kind| kind == "refund"))
        .filter(|transaction| {
            transaction.get("status").and_then(Value::as_str).is_none_or(|status| status == "success")
        })
        .filter_map(|transaction| amount(transaction.get("amount")))
        .collect();
    if refunds.is_empty() { None } else { Some(refunds.into_iter().sum()) }
}

/// `admin_graphql_api_id`, or `gid://shopify/{kind}/{id}` from the numeric id.
fn global_id(body: &Value, kind: &str) -> Option<String> {
    if let Some(id) = body.get("admin_graphql_api_id").and_then(Value::as_str) {
        return Some(id.to_owned());
    }
    numeric_id(body.get("id")).map(|id| format!("gid://shopify/{kind}/{id}"))
}

/// A REST id: a number, or a string of digits.
fn numeric_id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// Money as Shopify's webhooks send it: a decimal string (`"19.99"`), sometimes a number.
fn amount(value: Option<&Value>) -> Option<Decimal> {
    match value? {
        Value::String(text) => Decimal::from_str(text.trim()).ok(),
        Value::Number(number) => Decimal::from_str(&number.to_string()).ok(),
        _ => None,
    }
}

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?).ok().map(|time| time.with_timezone(&Utc))
}

fn missing(topic: &str, field: &str) -> AdapterError {
    AdapterError::rejected(Platform::Shopify, format!("{topic} webhook: {field} is missing or malformed"))
}
