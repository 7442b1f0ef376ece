//! Stripe's wire: the shapes of the objects as Stripe sends them, and how an answer (or
//! a failure to get one) becomes a result or an [`AdapterError`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{
    StripeAccount, StripeAccountLink, StripeCharge, StripeCheckoutSession, StripePaymentLink, StripePrice,
    StripeProduct, StripeRefund,
};
use crate::resilience::whole_seconds;
use crate::{AdapterError, Platform};

// ---------------------------------------------------------------------------------------
// Objects as Stripe sends them (only the fields read; Stripe sends many more)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(super) struct ProductObject {
    id: String,
    name: String,
    description: Option<String>,
    active: bool,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

impl From<ProductObject> for StripeProduct {
    fn from(object: ProductObject) -> Self {
        Self {
            id: object.id,
            name: object.name,
            description: object.description,
            active: object.active,
            metadata: object.metadata,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PriceObject {
    id: String,
    /// A product id, or the product itself when expanded.
    product: Value,
    unit_amount: Option<u64>,
    currency: String,
    active: bool,
}

impl TryFrom<PriceObject> for StripePrice {
    type Error = AdapterError;

    fn try_from(object: PriceObject) -> Result<Self, AdapterError> {
        let product = id_of(&object.product).ok_or_else(|| shape("price", "product"))?;
        // Prices made by this client always have a unit amount; tiered or custom-amount
        // ones do not, and are not ours to read.
        let unit_amount = object.unit_amount.ok_or_else(|| shape("price", "unit_amount"))?;
        Ok(Self { id: object.id, product, unit_amount, currency: object.currency, active: object.active })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PaymentLinkObject {
    id: String,
    url: String,
    active: bool,
    application_fee_amount: Option<u64>,
    transfer_data: Option<TransferData>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct TransferData {
    /// An account id, or the account itself when expanded.
    destination: Value,
}

impl From<PaymentLinkObject> for StripePaymentLink {
    fn from(object: PaymentLinkObject) -> Self {
        Self {
            id: object.id,
            url: object.url,
            active: object.active,
            application_fee_amount: object.application_fee_amount,
            transfer_destination: object.transfer_data.and_then(|data| id_of(&data.destination)),
            metadata: object.metadata,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AccountObject {
    pub(super) id: String,
    pub(super) email: Option<String>,
    pub(super) country: Option<String>,
    #[serde(default)]
    pub(super) charges_enabled: bool,
    #[serde(default)]
    pub(super) payouts_enabled: bool,
    #[serde(default)]
    pub(super) details_submitted: bool,
}

impl From<AccountObject> for StripeAccount {
    fn from(object: AccountObject) -> Self {
        Self {
            id: object.id,
            email: object.email,
            country: object.country,
            charges_enabled: object.charges_enabled,
            payouts_enabled: object.payouts_enabled,
            details_submitted: object.details_submitted,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AccountLinkObject {
    url: String,
    expires_at: i64,
}

impl TryFrom<AccountLinkObject> for StripeAccountLink {
    type Error = AdapterError;

    fn try_from(object: AccountLinkObject) -> Result<Self, AdapterError> {
        let expires_at = unix_time(object.expires_at).ok_or_else(|| shape("account_link", "expires_at"))?;
        Ok(Self { url: object.url, expires_at })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RefundObject {
    id: String,
    amount: u64,
    currency: String,
    status: Option<String>,
    payment_intent: Option<Value>,
    charge: Option<Value>,
}

impl From<RefundObject> for StripeRefund {
    fn from(object: RefundObject) -> Self {
        Self {
            id: object.id,
            amount: object.amount,
            currency: object.currency,
            status: object.status,
            payment_intent: object.payment_intent.as_ref().and_then(id_of),
            charge: object.charge.as_ref().and_then(id_of),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CheckoutSessionObject {
    id: String,
    status: Option<String>,
    payment_status: String,
    amount_total: Option<u64>,
    currency: Option<String>,
    payment_intent: Option<Value>,
    payment_link: Option<Value>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    created: i64,
}

impl TryFrom<CheckoutSessionObject> for StripeCheckoutSession {
    type Error = AdapterError;

    fn try_from(object: CheckoutSessionObject) -> Result<Self, AdapterError> {
        Ok(Self {
            created: unix_time(object.created).ok_or_else(|| shape("checkout.session", "created"))?,
            id: object.id,
            status: object.status,
            payment_status: object.payment_status,
            amount_total: object.amount_total,
            currency: object.currency,
            payment_intent: object.payment_intent.as_ref().and_then(id_of),
            payment_link: object.payment_link.as_ref().and_then(id_of),
            metadata: object.metadata.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ChargeObject {
    id: String,
    amount: u64,
    amount_refunded: u64,
    currency: String,
    status: String,
    paid: bool,
    refunded: bool,
    payment_intent: Option<Value>,
    application_fee_amount: Option<u64>,
    transfer_data: Option<TransferData>,
    created: i64,
}

impl TryFrom<ChargeObject> for StripeCharge {
    type Error = AdapterError;

    fn try_from(object: ChargeObject) -> Result<Self, AdapterError> {
        Ok(Self {
            created: unix_time(object.created).ok_or_else(|| shape("charge", "created"))?,
            id: object.id,
            amount: object.amount,
            amount_refunded: object.amount_refunded,
            currency: object.currency,
            status: object.status,
            paid: object.paid,
            refunded: object.refunded,
            payment_intent: object.payment_intent.as_ref().and_then(id_of),
            application_fee_amount: object.application_fee_amount,
            transfer_destination: object.transfer_data.and_then(|data| id_of(&data.destination)),
        })
    }
}

/// `{"object": "list", "data": [...], "has_more": bool}`.
#[derive(Debug, Deserialize)]
pub(super) struct ListObject<T> {
    object: String,
    pub(super) data: Vec<T>,
    pub(super) has_more: bool,
}

impl<T> ListObject<T> {
    pub(super) fn checked(self, operation: &str) -> Result<Self, AdapterError> {
        if self.object == "list" {
            Ok(self)
        } else {
            Err(AdapterError::rejected(
                Platform::Stripe,
                format!("{operation}: Stripe answered a {:?} where a list was expected", self.object),
            ))
        }
    }
}

/// An expandable field's id: the string itself, or the expanded object's `id`.
pub(super) fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Stripe's timestamps: unix seconds.
pub(super) fn unix_time(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

fn shape(object: &str, field: &str) -> AdapterError {
    AdapterError::rejected(Platform::Stripe, format!("Stripe's {object} had no usable {field}"))
}

/// `value` read as `T`; a shape we did not expect is a rejection (retrying would get the
/// same shape), saying which operation and what did not fit.
pub(super) fn typed<T: DeserializeOwned>(operation: &str, value: Value) -> Result<T, AdapterError> {
    serde_json::from_value(value).map_err(|error| {
        AdapterError::rejected(
            Platform::Stripe,
            format!("{operation}: Stripe's answer had an unexpected shape: {error}"),
        )
    })
}

// ---------------------------------------------------------------------------------------
// From an HTTP answer to a result
// ---------------------------------------------------------------------------------------

/// What came back for one request, as [`read_answer`] needs it.
#[derive(Debug)]
pub(super) struct Answer<'a> {
    pub(super) status: StatusCode,
    /// The `Stripe-Should-Retry` header, when Stripe sent one.
    pub(super) should_retry: Option<bool>,
    /// The `Retry-After` header, when Stripe sent one (it rarely does).
    pub(super) retry_after: Option<Duration>,
    pub(super) body: &'a str,
}

/// Reads one answer to `operation`: its JSON object on 2xx, otherwise the error Stripe's
/// `{"error": {type, code, decline_code, message, param}}` amounts to.
///
/// By status:
/// - 400 `idempotency_error` (the key was first used with other parameters), 400 other,
///   403 and 404: [`AdapterError::Rejected`], quoting Stripe's message and naming the
///   `param` and `code`;
/// - 401: [`AdapterError::Rejected`], "Stripe refused the API key (401)";
/// - 402 (a card error): [`AdapterError::Rejected`] naming the decline code;
/// - 409 (a request with the same key is still running): [`AdapterError::Unavailable`],
///   so the same key is sent again after a back-off;
/// - 429: [`AdapterError::RateLimited`], waiting `Retry-After` if Stripe gave one, else
///   `backoff` (the retry policy's back-off for this attempt), in whole seconds;
/// - 5xx, and a 2xx that is not a JSON object: [`AdapterError::Unavailable`].
///
/// Then `Stripe-Should-Retry` has the last word: `false` makes any failure a rejection
/// (Stripe knows a retry cannot succeed), `true` makes a would-be rejection an outage
/// to retry with the same idempotency key.
pub(super) fn read_answer(operation: &str, answer: &Answer<'_>, backoff: Duration) -> Result<Value, AdapterError> {
    let parsed: Option<Value> = serde_json::from_str(answer.body).ok();
    if answer.status.is_success() {
        return match parsed {
            Some(object @ Value::Object(_)) => Ok(object),
            _ => Err(AdapterError::Unavailable {
                platform: Platform::Stripe,
                message: format!("{operation}: Stripe answered {} with no JSON object", answer.status),
            }),
        };
    }
    let error = StripeError::of(parsed.as_ref());
    let by_status = match answer.status {
        StatusCode::UNAUTHORIZED => AdapterError::rejected(
            Platform::Stripe,
            "Stripe refused the API key (401): it is wrong, rolled or revoked, or for another mode (test or live)",
        ),
        StatusCode::PAYMENT_REQUIRED => AdapterError::rejected(
            Platform::Stripe,
            format!("{operation}: the card was declined (402){}", error.describe(true)),
        ),
        StatusCode::BAD_REQUEST if error.kind.as_deref() == Some("idempotency_error") => AdapterError::rejected(
            Platform::Stripe,
            format!(
                "{operation}: this idempotency key was first used with other parameters, so Stripe refused to act \
                 again (400 idempotency_error); use a new key for a different request{}",
                error.describe(false)
            ),
        ),
        StatusCode::CONFLICT => AdapterError::Unavailable {
            platform: Platform::Stripe,
            message: format!(
                "{operation}: a request with the same idempotency key is still running (409){}",
                error.describe(false)
            ),
        },
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = answer.retry_after.unwrap_or(backoff);
            AdapterError::RateLimited { platform: Platform::Stripe, retry_after_secs: whole_seconds(wait) }
        }
        status if status.is_server_error() => AdapterError::Unavailable {
            platform: Platform::Stripe,
            message: format!("{operation}: Stripe answered {status}{}", error.describe(false)),
        },
        status => AdapterError::rejected(
            Platform::Stripe,
            format!("{operation}: Stripe refused the request ({}){}", status.as_u16(), error.describe(false)),
        ),
    };
    Err(match (answer.should_retry, by_status) {
        (Some(false), error @ AdapterError::Rejected { .. }) | (None, error) => error,
        (Some(false), error) => AdapterError::rejected(
            Platform::Stripe,
            format!("{error}; Stripe-Should-Retry: false, so it is not retried"),
        ),
        (Some(true), AdapterError::Rejected { message, .. }) => AdapterError::Unavailable {
            platform: Platform::Stripe,
            message: format!("{message}; Stripe-Should-Retry: true, so it is retried with the same key"),
        },
        (Some(true), error) => error,
    })
}

/// Stripe's error object; every field may be missing.
#[derive(Debug, Default)]
struct StripeError {
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
}

impl StripeError {
    fn of(body: Option<&Value>) -> Self {
        let Some(error) = body.and_then(|body| body.get("error")) else { return Self::default() };
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            kind: text("type"),
            code: text("code"),
            decline_code: text("decline_code"),
            message: text("message"),
            param: text("param"),
        }
    }

    /// `: message (param …, code …)`, the decline code first when `decline` is asked.
    fn describe(&self, decline: bool) -> String {
        let mut details = Vec::new();
        if decline {
            details.push(format!(
                "decline code {}",
                self.decline_code.as_deref().or(self.code.as_deref()).unwrap_or("unknown")
            ));
        }
        if let Some(param) = &self.param {
            details.push(format!("param {param}"));
        }
        if let Some(code) = &self.code {
            details.push(format!("code {code}"));
        }
        let message = self.message.as_deref().map(|message| format!(": {message}")).unwrap_or_default();
        if details.is_empty() { message } else { format!("{message} ({})", details.join(", ")) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(status: u16, body: Value, should_retry: Option<bool>) -> Result<Value, AdapterError> {
        let body = body.to_string();
        let answer = Answer {
            status: StatusCode::from_u16(status).expect("a status"),
            should_retry,
            retry_after: None,
            body: &body,
        };
        read_answer("create_price", &answer, Duration::from_millis(1500))
    }

    fn error(kind: &str, code: &str, message: &str, param: Option<&str>) -> Value {
        json!({"error": {"type": kind, "code": code, "message": message, "param": param}})
    }

    #[test]
    fn errors_name_their_param_and_code() {
        let invalid = read(
            400,
            error("invalid_request_error", "parameter_invalid_integer", "Invalid integer: ten", Some("unit_amount")),
            None,
        );
        let message = invalid.expect_err("refused").to_string();
        assert_eq!(
            message,
            "Stripe rejected the request: create_price: Stripe refused the request (400): Invalid integer: ten \
             (param unit_amount, code parameter_invalid_integer)"
        );
        let declined = json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}});
        let message = read(402, declined, None).expect_err("declined").to_string();
        assert!(
            message.contains("declined (402): Your card has insufficient funds. (decline code insufficient_funds"),
            "{message}"
        );
    }

    #[test]
    fn statuses_are_sorted_into_rejections_outages_and_rate_limits() {
        let idempotency = read(
            400,
            json!({"error": {"type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters"}}),
            None,
        );
        let idempotency = idempotency.expect_err("refused");
        assert!(!idempotency.is_retryable() && idempotency.to_string().contains("other parameters"), "{idempotency}");
        assert!(
            read(409, error("idempotency_error", "idempotency_key_in_use", "in progress", None), None)
                .expect_err("busy")
                .is_retryable()
        );
        assert!(read(503, json!("down"), None).expect_err("down").is_retryable());
        let denied = read(
            401,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****1234"}}),
            None,
        );
        let denied = denied.expect_err("denied");
        assert!(!denied.is_retryable() && denied.to_string().contains("Stripe refused the API key (401)"), "{denied}");
        assert!(
            matches!(read(429, json!({}), None), Err(AdapterError::RateLimited { retry_after_secs: 2, .. })),
            "1.5 s rounds up"
        );
        assert!(read(200, json!(["not", "an", "object"]), None).expect_err("odd").is_retryable());
        assert_eq!(read(200, json!({"id": "price_1"}), None).expect("an object")["id"], "price_1");
    }

    #[test]
    fn stripe_should_retry_has_the_last_word() {
        assert!(!read(500, json!({}), Some(false)).expect_err("e").is_retryable());
        assert!(!read(429, json!({}), Some(false)).expect_err("e").is_retryable());
        let lock = read(
            400,
            error("invalid_request_error", "lock_timeout", "This object cannot be accessed right now", None),
            Some(true),
        );
        let lock = lock.expect_err("e");
        assert!(lock.is_retryable() && lock.to_string().contains("lock_timeout"), "{lock}");
        assert!(read(409, json!({}), Some(true)).expect_err("e").is_retryable());
    }
}
