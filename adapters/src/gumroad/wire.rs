//! Gumroad's wire: the objects as Gumroad sends them, and how an answer (or a failure to
//! get one) becomes a result or an [`AdapterError`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{GumroadDiscount, GumroadOfferCode, GumroadProduct, GumroadSale, GumroadUser};
use crate::resilience::whole_seconds;
use crate::{AdapterError, Platform};

// ---------------------------------------------------------------------------------------
// Objects as Gumroad sends them (only the fields read)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(super) struct ProductObject {
    pub(super) id: String,
    name: String,
    /// Cents.
    price: u64,
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    published: bool,
    pub(super) custom_permalink: Option<String>,
    short_url: Option<String>,
}

fn usd() -> String {
    "usd".to_owned()
}

impl From<ProductObject> for GumroadProduct {
    fn from(object: ProductObject) -> Self {
        Self {
            id: object.id,
            name: object.name,
            price_cents: object.price,
            currency: object.currency.to_ascii_lowercase(),
            published: object.published,
            custom_permalink: object.custom_permalink,
            short_url: object.short_url,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct OfferCodeObject {
    id: String,
    pub(super) name: String,
    amount_cents: Option<u64>,
    percent_off: Option<u8>,
    max_purchase_count: Option<u64>,
    #[serde(default)]
    universal: bool,
    #[serde(default)]
    times_used: u64,
}

impl TryFrom<OfferCodeObject> for GumroadOfferCode {
    type Error = AdapterError;

    fn try_from(object: OfferCodeObject) -> Result<Self, AdapterError> {
        let discount = match (object.percent_off, object.amount_cents) {
            (Some(percent), _) => GumroadDiscount::Percent(percent),
            (None, Some(cents)) => GumroadDiscount::Cents(cents),
            (None, None) => {
                return Err(AdapterError::rejected(
                    Platform::Gumroad,
                    format!("offer code {} has neither amount_cents nor percent_off", object.id),
                ));
            }
        };
        Ok(Self {
            id: object.id,
            name: object.name,
            discount,
            max_purchase_count: object.max_purchase_count,
            universal: object.universal,
            times_used: object.times_used,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct UserObject {
    user_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

impl From<UserObject> for GumroadUser {
    fn from(object: UserObject) -> Self {
        Self { user_id: object.user_id, name: object.name, email: object.email, url: object.url }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SaleObject {
    id: String,
    #[serde(default)]
    seller_id: Option<String>,
    product_id: String,
    product_name: String,
    email: Option<String>,
    /// Cents.
    price: u64,
    gumroad_fee: Option<u64>,
    #[serde(default)]
    refunded: bool,
    #[serde(default)]
    partially_refunded: bool,
    #[serde(default)]
    chargedback: bool,
    created_at: DateTime<Utc>,
}

impl From<SaleObject> for GumroadSale {
    fn from(object: SaleObject) -> Self {
        Self {
            id: object.id,
            seller_id: object.seller_id,
            product_id: object.product_id,
            product_name: object.product_name,
            email: object.email,
            price_cents: object.price,
            gumroad_fee_cents: object.gumroad_fee,
            refunded: object.refunded,
            partially_refunded: object.partially_refunded,
            chargedback: object.chargedback,
            created_at: object.created_at,
        }
    }
}

/// `{"success": true, "products": [...], "next_page_key"?: ...}` and the like.
#[derive(Debug, Deserialize)]
pub(super) struct ProductsAnswer {
    pub(super) products: Vec<ProductObject>,
    pub(super) next_page_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProductAnswer {
    pub(super) product: ProductObject,
}

#[derive(Debug, Deserialize)]
pub(super) struct OfferCodesAnswer {
    pub(super) offer_codes: Vec<OfferCodeObject>,
}

#[derive(Debug, Deserialize)]
pub(super) struct OfferCodeAnswer {
    pub(super) offer_code: OfferCodeObject,
}

#[derive(Debug, Deserialize)]
pub(super) struct SalesAnswer {
    pub(super) sales: Vec<SaleObject>,
    pub(super) next_page_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct UserAnswer {
    pub(super) user: UserObject,
}

#[derive(Debug, Deserialize)]
pub(super) struct SaleAnswer {
    pub(super) sale: SaleObject,
}

/// `value` read as `T`; a shape we did not expect is a rejection, saying which
/// operation and what did not fit.
pub(super) fn typed<T: DeserializeOwned>(operation: &str, value: Value) -> Result<T, AdapterError> {
    serde_json::from_value(value).map_err(|error| {
        AdapterError::rejected(
            Platform::Gumroad,
            format!("{operation}: Gumroad's answer had an unexpected shape: {error}"),
        )
    })
}

// ---------------------------------------------------------------------------------------
// From an HTTP answer to a result
// ---------------------------------------------------------------------------------------

/// Reads one answer to `operation`.
///
/// Gumroad answers most refusals with HTTP 200 and `{"success": false, "message"}`
/// (even "The product was not found."), so `success` is checked on every answer: false
/// is [`AdapterError::Rejected`] quoting the message. Otherwise, by status:
/// - 400 (`{"status": 400, "error"}`: a malformed parameter), 402, 403 (the token lacks
///   a scope), 404 (no such endpoint) and other 4xx: [`AdapterError::Rejected`];
/// - 401: [`AdapterError::Rejected`], "Gumroad refused the access token (401)";
/// - 429: [`AdapterError::RateLimited`], waiting `Retry-After` or else `backoff`;
/// - 5xx, and a 2xx that is not a JSON object: [`AdapterError::Unavailable`].
pub(super) fn read_answer(
    operation: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
    backoff: Duration,
) -> Result<Value, AdapterError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok().filter(Value::is_object);
    let said = parsed
        .as_ref()
        .and_then(|answer| answer.get("message").or_else(|| answer.get("error")))
        .and_then(Value::as_str)
        .map(|message| format!(": {message}"))
        .unwrap_or_default();
    let rejected = |message: String| AdapterError::rejected(Platform::Gumroad, message);
    match status {
        status if status.is_success() => {}
        StatusCode::UNAUTHORIZED => {
            return Err(rejected("Gumroad refused the access token (401): it is wrong, expired or revoked".to_owned()));
        }
        StatusCode::FORBIDDEN => {
            return Err(rejected(format!(
                "{operation}: Gumroad refused the call (403): the token lacks the scope it needs \
                 (edit_products, view_sales){said}"
            )));
        }
        StatusCode::NOT_FOUND => {
            return Err(rejected(format!("{operation}: Gumroad has no such endpoint (404); check the API address")));
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = retry_after.unwrap_or(backoff);
            return Err(AdapterError::RateLimited {
                platform: Platform::Gumroad,
                retry_after_secs: whole_seconds(wait),
            });
        }
        status if status.is_server_error() => {
            return Err(AdapterError::Unavailable {
                platform: Platform::Gumroad,
                message: format!("{operation}: Gumroad answered {status}{said}"),
            });
        }
        status => {
            return Err(rejected(format!("{operation}: Gumroad refused the request ({}){said}", status.as_u16())));
        }
    }
    let Some(answer) = parsed else {
        return Err(AdapterError::Unavailable {
            platform: Platform::Gumroad,
            message: format!("{operation}: Gumroad answered {status} with no JSON object"),
        });
    };
    match answer.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(answer),
        Some(false) => Err(rejected(format!("{operation}: Gumroad said no{said}"))),
        None => Err(rejected(format!("{operation}: Gumroad's answer had no \"success\""))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(status: u16, body: Value) -> Result<Value, AdapterError> {
        let status = StatusCode::from_u16(status).expect("a status");
        read_answer("create_product", status, None, &body.to_string(), Duration::from_millis(500))
    }

    #[test]
    fn success_false_at_200_is_a_rejection_quoting_the_message() {
        let error = read(200, json!({"success": false, "message": "The product was not found."})).expect_err("no");
        assert_eq!(
            error.to_string(),
            "Gumroad rejected the request: create_product: Gumroad said no: The product was not found."
        );
        assert!(!error.is_retryable());
        assert_eq!(read(200, json!({"success": true, "product": {}})).expect("fine")["success"], true);
        assert!(!read(200, json!({"products": []})).expect_err("no success").is_retryable());
    }

    #[test]
    fn statuses_are_sorted_into_rejections_outages_and_rate_limits() {
        let bad = read(400, json!({"status": 400, "error": "Invalid page_key."})).expect_err("bad");
        assert!(!bad.is_retryable() && bad.to_string().contains("Invalid page_key."), "{bad}");
        let denied = read(401, json!({})).expect_err("denied");
        assert!(!denied.is_retryable() && denied.to_string().contains("(401)"), "{denied}");
        assert!(matches!(read(429, json!({})), Err(AdapterError::RateLimited { retry_after_secs: 1, .. })));
        assert!(read(502, json!({})).expect_err("down").is_retryable());
        assert!(read(200, json!("not an object")).expect_err("odd").is_retryable());
    }
}
