//! `POST /webhooks/stripe` and `POST /webhooks/shopify`: deliveries from the payment
//! and store platforms. Gumroad's unsigned pings, `POST /webhooks/gumroad/{secret}`,
//! are the `gumroad` submodule's.
//!
//! ## Trust
//! The signature is checked on the raw body **before** anything is parsed from it; a
//! delivery that fails the check is refused without reading its JSON.
//! - Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`. Expected is
//!   hex(HMAC-SHA256(`STRIPE_WEBHOOK_SECRET`, "{t}.{raw body}")); accepted when any `v1`
//!   matches (compared in constant time) and `t` is within 300 seconds of now.
//! - Shopify: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(`SHOPIFY_WEBHOOK_SECRET`, raw
//!   body)), compared in constant time.
//!
//! A missing signature header is 400 `missing_signature`; a wrong, tampered, malformed
//! or stale one is 400 `bad_signature`. A route whose secret is not configured answers
//! 404 `not_configured`. Webhook bodies may be up to 1 MiB (platform events are larger
//! than the API's own 64 KiB bodies).
//!
//! ## What a delivery does
//! - Stripe: the connected account the event happened on (`account`, set by Connect)
//!   finds the business it is linked to (`platform_accounts`). An event on the
//!   platform's own account (a destination charge is the platform's) finds it by an
//!   object the business's market made: the payment link a checkout came through
//!   (recorded when the link was made), or, for a refund, the payment such a checkout
//!   paid with (recorded when it was booked). What the payload claims, such as
//!   metadata, is never trusted for that. The event is recorded as a `webhook.stripe`
//!   event on that business's log, and its money booked in its ledger: a paid
//!   `checkout.session.completed` as revenue and, when its link took one, the
//!   platform's application fee as the business's `platform_fee` expense, each once
//!   per payment; a `charge.refunded` as what it adds to the charge's refunds so far
//!   (read and booked atomically, so concurrent deliveries of one charge's growing
//!   refunds book exactly the final total). Events for no business are acknowledged
//!   and logged.
//! - Shopify: the shop's domain (`X-Shopify-Shop-Domain`, believable because the HMAC
//!   is the app's) finds the business that connected the shop. `orders/paid` books the
//!   order's total as revenue, `refunds/create` the refund, each once by the order's or
//!   refund's id, with an event that moves the dashboard's revenue; `orders/create` is an
//!   event only (placed is not paid). A shop no business connected is acknowledged and
//!   recorded nowhere; a payload a topic cannot have is 400 `invalid_payload`.
//!
//! Every success answers 200 `{"received": true, "duplicate": …}`.
//!
//! ## Idempotency
//! Platforms retry, so a delivery is handled once per delivery id (Stripe's event `id`,
//! Shopify's `X-Shopify-Webhook-Id`); a delivery without one is known by the SHA-256 of
//! its raw body (`sha256:<hex>`), which a platform's retry repeats byte for byte. A
//! replay answers 200 with `"duplicate": true` and records nothing.
//!
//! The ids are kept in the database (`webhook_deliveries`), so a restart, or a second
//! process, still knows them; claiming an id is one atomic insert, so of two concurrent
//! deliveries exactly one is handled. Ids are claimed only after the signature and the
//! JSON have been accepted (a refused delivery burns nothing), and a delivery whose
//! handling then fails is forgotten again so the platform's retry goes through. Ids are
//! pruned after [`WEBHOOK_DELIVERY_RETENTION`](boardroom_memory::WEBHOOK_DELIVERY_RETENTION)
//! (7 days), longer than either platform retries.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boardroom_adapters::{
    PLATFORM_FEE_METADATA, ShopifyWebhookEvent, StripeEventPayload, event_from_webhook as stripe_event_from_webhook,
    order_from_webhook,
};
use boardroom_memory::{MemoryError, NewEvent, NewLedgerEntry, NewLedgerTotal, TenantId};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::SecretKey;

mod gumroad;
use crate::http::error::{ApiError, ErrorBody, Fields};
use crate::http::{ApiState, AppState};

/// Largest webhook body accepted, in bytes.
pub(crate) const WEBHOOK_MAX_BYTES: usize = 1024 * 1024;
/// How far a Stripe signature's timestamp may be from now, in seconds.
pub(crate) const STRIPE_TOLERANCE_SECS: i64 = 300;

/// The webhook receivers, with their own state (the application's).
pub(crate) fn routes(app: &AppState) -> OpenApiRouter<ApiState> {
    let state = WebhookState { app: app.clone() };
    OpenApiRouter::new()
        .routes(routes!(stripe))
        .routes(routes!(shopify))
        .routes(routes!(gumroad::gumroad))
        .layer(DefaultBodyLimit::max(WEBHOOK_MAX_BYTES))
        .with_state(state)
}

#[derive(Clone)]
struct WebhookState {
    app: AppState,
}

impl WebhookState {
    /// Claims a delivery: `true` when it is new (and is now remembered), `false` for a
    /// replay. Atomic across requests and processes.
    async fn first_time(&self, delivery: &Delivery) -> Result<bool, WebhookError> {
        Ok(self.app.store.record_webhook_delivery(delivery.provider, &delivery.id, chrono::Utc::now()).await?)
    }

    /// Forgets a delivery, so the platform's retry of one whose handling failed goes through.
    async fn forget(&self, delivery: &Delivery) {
        if let Err(error) = self.app.store.forget_webhook_delivery(delivery.provider, &delivery.id).await {
            tracing::warn!(%error, provider = delivery.provider, delivery = %delivery.id, "a failed delivery could not be forgotten; its retry will be taken for a duplicate");
        }
    }
}

/// What a delivery is remembered by: its platform and its id, or the SHA-256 of its raw
/// body when it came without one.
struct Delivery {
    provider: &'static str,
    id: String,
}

impl Delivery {
    fn new(provider: &'static str, id: Option<&str>, body: &[u8]) -> Self {
        let id = match id {
            Some(id) => id.to_owned(),
            None => format!("sha256:{}", crate::http::auth::secret::to_hex(&Sha256::digest(body))),
        };
        Self { provider, id }
    }
}

/// A webhook's failure: the API's errors, plus 404 `not_configured` (same JSON shape).
#[derive(Debug)]
enum WebhookError {
    NotConfigured(&'static str),
    Api(ApiError),
}

impl From<ApiError> for WebhookError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<boardroom_memory::MemoryError> for WebhookError {
    fn from(error: boardroom_memory::MemoryError) -> Self {
        Self::Api(error.into())
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        match self {
            Self::NotConfigured(variable) => {
                let message = format!("this webhook is not configured (set {variable})");
                let body = ErrorBody::new("not_configured", message, Fields::new());
                (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
            }
            Self::Api(error) => error.into_response(),
        }
    }
}

fn missing_signature(header: &str) -> WebhookError {
    WebhookError::Api(ApiError::BadRequest {
        code: "missing_signature",
        message: format!("the {header} header is missing"),
        fields: Fields::from([(header.to_owned(), "is required".to_owned())]),
    })
}

fn bad_signature(header: &str, problem: &str) -> WebhookError {
    WebhookError::Api(ApiError::BadRequest {
        code: "bad_signature",
        message: format!("the webhook signature was rejected: {problem}"),
        fields: Fields::from([(header.to_owned(), problem.to_owned())]),
    })
}

/// The raw body, within [`WEBHOOK_MAX_BYTES`].
async fn raw_body(request: Request) -> Result<Bytes, WebhookError> {
    Bytes::from_request(request, &()).await.map_err(|rejection| {
        WebhookError::Api(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: WEBHOOK_MAX_BYTES }
        } else {
            ApiError::BadRequest {
                code: "invalid_body",
                message: format!("the request body could not be read: {}", rejection.body_text()),
                fields: Fields::new(),
            }
        })
    })
}

/// JSON of a body whose signature has been checked.
fn parse(body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body).map_err(|error| {
        WebhookError::Api(ApiError::BadRequest {
            code: "invalid_json",
            message: format!("the body is not JSON: {error}"),
            fields: Fields::from([("body".to_owned(), error.to_string())]),
        })
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

/// A delivery's acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
struct Received {
    /// Always `true`.
    received: bool,
    /// `true` when this delivery (its id, or without one its body) was handled before:
    /// nothing was recorded again.
    duplicate: bool,
}

fn received(duplicate: bool) -> axum::Json<Received> {
    axum::Json(Received { received: true, duplicate })
}

fn mac(secret: &SecretKey) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes()).unwrap_or_else(|_| unreachable!())
}

/// Why a Stripe signature is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StripeRejection {
    /// No `t=` or no `v1=` in the header.
    Malformed,
    /// No `v1` matches the body.
    Mismatch,
    /// `t` is more than [`STRIPE_TOLERANCE_SECS`] from now.
    Stale,
}

impl StripeRejection {
    fn describe(&self) -> &'static str {
        match self {
            Self::Malformed => "expected t=<unix seconds>,v1=<hex signature>",
            Self::Mismatch => "no v1 signature matches the body",
            Self::Stale => "the timestamp is more than 300 seconds from now",
        }
    }
}

/// Checks a `Stripe-Signature` header against the raw body at `now` (unix seconds).
pub(crate) fn verify_stripe(secret: &SecretKey, header: &str, body: &[u8], now: i64) -> Result<(), StripeRejection> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) if timestamp.is_none() => timestamp = Some(value),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(StripeRejection::Malformed);
    };
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return Err(StripeRejection::Malformed);
    };
    if candidates.is_empty() {
        return Err(StripeRejection::Malformed);
    }
    let mut expected = mac(secret);
    expected.update(timestamp.as_bytes());
    expected.update(b".");
    expected.update(body);
    // `verify_slice` compares in constant time.
    let matches = candidates
        .iter()
        .filter_map(|candidate| decode_hex(candidate))
        .any(|signature| expected.clone().verify_slice(&signature).is_ok());
    if !matches {
        return Err(StripeRejection::Mismatch);
    }
    if now.abs_diff(seconds) > STRIPE_TOLERANCE_SECS.unsigned_abs() {
        return Err(StripeRejection::Stale);
    }
    Ok(())
}

/// Checks an `X-Shopify-Hmac-Sha256` header against the raw body.
pub(crate) fn verify_shopify(secret: &SecretKey, header: &str, body: &[u8]) -> bool {
    let Ok(signature) = BASE64.decode(header.trim()) else {
        return false;
    };
    let mut expected = mac(secret);
    expected.update(body);
    expected.verify_slice(&signature).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok()).collect()
}

/// Receives a Stripe event.
///
/// The signature is checked on the raw body before anything is parsed. An event on a
/// connected account (`account`) linked to a business is recorded on that business's
/// event log and its money booked (a paid checkout, a refund); each event id (or,
/// without one, each body) is handled once, across restarts.
#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    tag = "webhooks",
    security(()),
    params(("Stripe-Signature" = String, Header, min_length = 1,
        description = "`t=<unix>,v1=<hex>`: HMAC-SHA256 of `{t}.{raw body}` under `STRIPE_WEBHOOK_SECRET`, `t` within 300 seconds.")),
    request_body(content = Object, description = "A Stripe event, up to 1 MiB.", content_type = "application/json"),
    responses(
        (status = 200, description = "Acknowledged (`duplicate` for a replayed event id).", body = Received),
        (status = 400, description = "`missing_signature` or `bad_signature` (wrong, tampered, malformed or stale)."),
        (status = 404, description = "`not_configured`: `STRIPE_WEBHOOK_SECRET` is not set."),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB."),
    )
)]
async fn stripe(State(state): State<WebhookState>, request: Request) -> Result<Response, WebhookError> {
    let secret =
        state.app.settings.stripe_webhook_secret.clone().ok_or(WebhookError::NotConfigured("STRIPE_WEBHOOK_SECRET"))?;
    let signature = header(request.headers(), "stripe-signature")
        .map(str::to_owned)
        .ok_or_else(|| missing_signature("Stripe-Signature"))?;
    let body = raw_body(request).await?;
    verify_stripe(&secret, &signature, &body, chrono::Utc::now().timestamp())
        .map_err(|rejection| bad_signature("Stripe-Signature", rejection.describe()))?;

    let event = parse(&body)?;
    let id = event["id"].as_str().filter(|id| !id.is_empty()).map(str::to_owned);
    let delivery = Delivery::new("stripe", id.as_deref(), &body);
    let kind = event["type"].as_str().unwrap_or("unknown").to_owned();

    if !state.first_time(&delivery).await? {
        tracing::info!(delivery = %delivery.id, event_type = %kind, "Stripe webhook replayed; already handled");
        return Ok(received(true).into_response());
    }
    let tenant = match stripe_business(&state, &event).await {
        Ok(Some(tenant)) => state.app.store.tenant(tenant).await,
        other => other.map(|_| None),
    };
    let recorded = match tenant {
        Ok(Some(tenant)) => {
            if let Err(error) = book_stripe(&state, tenant.id, &event).await {
                state.forget(&delivery).await;
                return Err(error);
            }
            let data = json!({
                "provider": "stripe",
                "id": id,
                "type": kind,
                "object_id": event["data"]["object"]["id"],
                "livemode": event["livemode"],
            });
            let summary = format!("Stripe: {kind}");
            state
                .app
                .events
                .append_and_wait(NewEvent::now(tenant.id, "webhooks", "webhook.stripe", summary).with_data(data))
                .await
                .map(|_| Some(tenant.id))
        }
        Ok(None) => Ok(None),
        Err(error) => Err(error),
    };
    match recorded {
        Ok(Some(tenant)) => {
            tracing::info!(delivery = %delivery.id, event_type = %kind, tenant = tenant.0, "Stripe webhook recorded");
        }
        Ok(None) => tracing::info!(delivery = %delivery.id, event_type = %kind, "Stripe webhook for no known business"),
        Err(error) => {
            // Not recorded: let Stripe's retry through.
            state.forget(&delivery).await;
            return Err(error.into());
        }
    }
    Ok(received(false).into_response())
}

/// Where the business a Stripe event is for is recorded (`platform_accounts`): its
/// connected account, a payment link its market made, a payment made through one.
const STRIPE_ACCOUNTS: &str = "stripe";
pub(crate) const STRIPE_PAYMENT_LINKS: &str = "stripe_payment_link";
pub(crate) const STRIPE_PAYMENTS: &str = "stripe_payment";

/// The business a Stripe event is for: the one linked to the connected account it
/// happened on; for an event on the platform's own account (destination charges), the
/// one whose market made the payment link a checkout came through, or whose checkout
/// made the payment a refund is of. Never what the payload merely claims (metadata).
async fn stripe_business(state: &WebhookState, event: &Value) -> Result<Option<TenantId>, MemoryError> {
    let store = &state.app.store;
    if let Some(account) = event["account"].as_str() {
        return store.platform_account_tenant(STRIPE_ACCOUNTS, account).await;
    }
    let object = &event["data"]["object"];
    match event["type"].as_str() {
        Some("checkout.session.completed") => match object["payment_link"].as_str() {
            Some(link) => store.platform_account_tenant(STRIPE_PAYMENT_LINKS, link).await,
            None => Ok(None),
        },
        Some("charge.refunded") => match object["payment_intent"].as_str() {
            Some(payment) => store.platform_account_tenant(STRIPE_PAYMENTS, payment).await,
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Books the money of a Stripe event of a business's: a paid checkout's total as
/// revenue and the platform's application fee on it as the business's expense (each
/// once per payment); a refund as what it adds to the charge's refunds so far
/// (`amount_refunded` is cumulative: see [`LedgerStore::record_ledger_total`]). Other
/// events book nothing.
///
/// [`LedgerStore::record_ledger_total`]: boardroom_memory::LedgerStore::record_ledger_total
async fn book_stripe(state: &WebhookState, tenant: TenantId, event: &Value) -> Result<(), WebhookError> {
    let Ok(Some(event)) = stripe_event_from_webhook(event) else { return Ok(()) };
    match event.payload {
        StripeEventPayload::CheckoutSessionCompleted {
            session,
            amount_total,
            currency,
            payment_status,
            payment_intent,
            payment_link,
            metadata,
        } => {
            if payment_status != "paid" {
                return Ok(());
            }
            let amount = minor_units(amount_total, &currency);
            let paid_by = payment_intent.clone().unwrap_or_else(|| session.clone());
            if let Some(payment) = &payment_intent {
                // So the refunds of this payment, which happen on the platform's account
                // too, find the business.
                let linked = state
                    .app
                    .store
                    .link_platform_account(STRIPE_PAYMENTS, payment, tenant, "checkout", chrono::Utc::now())
                    .await;
                match linked {
                    Ok(()) | Err(MemoryError::Conflict(_)) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            let revenue = NewLedgerEntry {
                tenant_id: tenant,
                source: "stripe".into(),
                amount,
                category: "revenue".into(),
                transaction_id: Some(format!("stripe:{paid_by}")),
                metadata: json!({ "session": session, "payment_intent": paid_by, "payment_link": payment_link,
                                  "currency": currency, "event": event.id }),
                recorded_at: chrono::Utc::now(),
            };
            let summary = format!("Stripe payment: {amount} {}", currency.to_uppercase());
            book_once(state, revenue, "stripe.payment", summary).await?;
            // The fee the link was made with (`application_fee_amount`), which Stripe
            // kept for the platform out of this payment: a cost of the business.
            let fee = metadata
                .get(PLATFORM_FEE_METADATA)
                .and_then(|fee| fee.parse::<u64>().ok())
                .filter(|fee| *fee > 0 && *fee <= amount_total);
            if let Some(fee) = fee {
                let fee = minor_units(fee, &currency);
                let entry = NewLedgerEntry {
                    tenant_id: tenant,
                    source: "stripe".into(),
                    amount: -fee,
                    category: "platform_fee".into(),
                    transaction_id: Some(format!("stripe:{paid_by}:application_fee")),
                    metadata: json!({ "session": session, "payment_intent": paid_by, "payment_link": payment_link,
                                      "currency": currency, "event": event.id }),
                    recorded_at: chrono::Utc::now(),
                };
                let summary = format!("Boardroom's fee on the Stripe payment: {fee} {}", currency.to_uppercase());
                book_once(state, entry, "stripe.platform_fee", summary).await?;
            }
            Ok(())
        }
        StripeEventPayload::ChargeRefunded { charge, amount_refunded, currency, .. } => {
            let total = NewLedgerTotal {
                tenant_id: tenant,
                source: "stripe".into(),
                category: "refund".into(),
                series: format!("stripe:{charge}:refunded"),
                total: -minor_units(amount_refunded, &currency),
                metadata: json!({ "charge": charge, "refunded_in_all": amount_refunded, "currency": currency, "event": event.id }),
                recorded_at: chrono::Utc::now(),
            };
            // Booked already, or a delivery older than one booked: nothing to add.
            let Some(booked) = state.app.store.record_ledger_total(total).await? else { return Ok(()) };
            let summary = format!("Stripe refund: {} {}", -booked.amount, currency.to_uppercase());
            let event = NewEvent::now(tenant, "stripe", "stripe.refund", summary)
                .with_data(booked.metadata.clone())
                .with_revenue_impact(booked.amount);
            state.app.events.append_and_wait(event).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Books `entry` (its transaction id makes it once per tenant) and, the first time only,
/// records `kind` with its revenue impact, so the dashboard's money moves once too.
async fn book_once(
    state: &WebhookState,
    entry: NewLedgerEntry,
    kind: &str,
    summary: String,
) -> Result<(), WebhookError> {
    let (tenant, actor, amount, data) = (entry.tenant_id, entry.source.clone(), entry.amount, entry.metadata.clone());
    match state.app.store.record_ledger_entry(entry).await {
        Ok(_) => {}
        // Booked already: an earlier delivery of the same order, payment or refund.
        Err(MemoryError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    }
    let event = NewEvent::now(tenant, actor, kind, summary).with_data(data).with_revenue_impact(amount);
    state.app.events.append_and_wait(event).await?;
    Ok(())
}

/// An amount in a currency's minor units as money: cents, except in the currencies
/// Stripe counts in whole units.
fn minor_units(amount: u64, currency: &str) -> rust_decimal::Decimal {
    let whole = matches!(
        currency.to_ascii_lowercase().as_str(),
        "bif"
            | "clp"
            | "djf"
            | "gnf"
            | "jpy"
            | "kmf"
            | "krw"
            | "mga"
            | "pyg"
            | "rwf"
            | "ugx"
            | "vnd"
            | "vuv"
            | "xaf"
            | "xof"
            | "xpf"
    );
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    rust_decimal::Decimal::new(amount, if whole { 0 } else { 2 })
}

/// Receives a Shopify webhook.
///
/// The HMAC is checked on the raw body before anything is parsed; the delivery is
/// acknowledged and logged with its topic and shop, once per `X-Shopify-Webhook-Id` (or,
/// without one, per body), across restarts.
#[utoipa::path(
    post,
    path = "/webhooks/shopify",
    tag = "webhooks",
    security(()),
    params(
        ("X-Shopify-Hmac-Sha256" = String, Header, min_length = 1,
            description = "base64 of HMAC-SHA256 of the raw body under `SHOPIFY_WEBHOOK_SECRET`."),
        ("X-Shopify-Webhook-Id" = Option<String>, Header, description = "The delivery's id (a replay is acknowledged as a duplicate; without an id, a delivery is known by its body's SHA-256)."),
        ("X-Shopify-Topic" = Option<String>, Header, description = "The event's topic."),
        ("X-Shopify-Shop-Domain" = Option<String>, Header, description = "The shop that sent it."),
    ),
    request_body(content = Object, description = "A Shopify payload, up to 1 MiB.", content_type = "application/json"),
    responses(
        (status = 200, description = "Acknowledged (`duplicate` for a replayed delivery).", body = Received),
        (status = 400, description = "`missing_signature` or `bad_signature`."),
        (status = 404, description = "`not_configured`: `SHOPIFY_WEBHOOK_SECRET` is not set."),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB."),
    )
)]
async fn shopify(State(state): State<WebhookState>, request: Request) -> Result<Response, WebhookError> {
    let secret = state
        .app
        .settings
        .shopify_webhook_secret
        .clone()
        .ok_or(WebhookError::NotConfigured("SHOPIFY_WEBHOOK_SECRET"))?;
    let headers = request.headers().clone();
    let signature =
        header(&headers, "x-shopify-hmac-sha256").ok_or_else(|| missing_signature("X-Shopify-Hmac-Sha256"))?;
    let body = raw_body(request).await?;
    if !verify_shopify(&secret, signature, &body) {
        return Err(bad_signature("X-Shopify-Hmac-Sha256", "the HMAC does not match the body"));
    }
    let payload = parse(&body)?;
    let topic = header(&headers, "x-shopify-topic").unwrap_or("unknown");
    let shop = header(&headers, "x-shopify-shop-domain").unwrap_or("unknown");
    // The shop's domain finds its business; the HMAC under the app's secret is what
    // makes the header believable.
    let tenant = state.app.store.platform_account_tenant("shopify", shop).await?;
    // Only a connected shop's payload is read: the others are recorded nowhere.
    let event = match tenant {
        Some(_) => order_from_webhook(topic, &payload).map_err(|error| {
            WebhookError::Api(ApiError::BadRequest {
                code: "invalid_payload",
                message: format!("the {topic} payload is not one Shopify sends: {error}"),
                fields: Fields::new(),
            })
        })?,
        None => None,
    };
    let delivery = Delivery::new("shopify", header(&headers, "x-shopify-webhook-id"), &body);
    if !state.first_time(&delivery).await? {
        tracing::info!(%topic, %shop, delivery = %delivery.id, "Shopify webhook replayed; already handled");
        return Ok(received(true).into_response());
    }
    match (tenant, event) {
        (Some(tenant), Some(event)) => {
            if let Err(error) = book_shopify(&state, tenant, shop, event).await {
                // Not booked: let Shopify's retry through.
                state.forget(&delivery).await;
                return Err(error);
            }
        }
        (Some(tenant), None) => tracing::info!(%topic, tenant = tenant.0, "Shopify webhook with nothing to book"),
        (None, _) => tracing::info!(%topic, %shop, delivery = %delivery.id, "Shopify webhook for no connected shop"),
    }
    Ok(received(false).into_response())
}

/// Books a Shopify order or refund in the business's ledger, once per order or refund
/// id, with an event that moves the dashboard's revenue.
async fn book_shopify(
    state: &WebhookState,
    tenant: TenantId,
    shop: &str,
    event: ShopifyWebhookEvent,
) -> Result<(), WebhookError> {
    let (entry, kind, summary) = match event {
        ShopifyWebhookEvent::OrderCreated(order) => {
            // Placed, not paid: the money is booked when `orders/paid` comes.
            let summary = format!("Shopify order {} placed: {} {}", order.name, order.total, order.currency);
            let data = json!({ "order_id": order.id, "total": order.total, "currency": order.currency, "shop": shop });
            state
                .app
                .events
                .append_and_wait(NewEvent::now(tenant, "shopify", "shopify.order_placed", summary).with_data(data))
                .await?;
            return Ok(());
        }
        ShopifyWebhookEvent::OrderPaid(order) => {
            let summary = format!("Shopify order {} paid: {} {}", order.name, order.total, order.currency);
            let entry = NewLedgerEntry {
                tenant_id: tenant,
                source: "shopify".into(),
                amount: order.total,
                category: "revenue".into(),
                transaction_id: Some(format!("shopify:{}", order.id)),
                metadata: json!({ "order_id": order.id, "order": order.name, "currency": order.currency, "shop": shop,
                                  "line_items": order.line_items }),
                recorded_at: chrono::Utc::now(),
            };
            (entry, "shopify.order_paid", summary)
        }
        ShopifyWebhookEvent::RefundCreated(refund) => {
            let summary = format!("Shopify refund on order {}: {}", refund.order_id, refund.amount);
            let entry = NewLedgerEntry {
                tenant_id: tenant,
                source: "shopify".into(),
                amount: -refund.amount,
                category: "refund".into(),
                transaction_id: Some(format!("shopify:{}", refund.id)),
                metadata: json!({ "refund_id": refund.id, "order_id": refund.order_id, "shop": shop }),
                recorded_at: chrono::Utc::now(),
            };
            (entry, "shopify.refund", summary)
        }
    };
    book_once(state, entry, kind, summary).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretKey {
        SecretKey::new("whsec_test")
    }

    fn sign(secret: &SecretKey, timestamp: i64, body: &[u8]) -> String {
        let mut mac = mac(secret);
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        crate::http::auth::secret::to_hex(&mac.finalize().into_bytes())
    }

    #[test]
    fn stripe_signatures_are_checked_on_the_raw_body_and_the_clock() {
        let secret = secret();
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        let good = sign(&secret, now, body);
        assert_eq!(verify_stripe(&secret, &format!("t={now},v1={good}"), body, now), Ok(()));
        assert_eq!(verify_stripe(&secret, &format!("t={now},v1=00ff,v1={good}"), body, now + 300), Ok(()));
        assert_eq!(
            verify_stripe(&secret, &format!("t={now},v1={good}"), br#"{"id":"evt_2"}"#, now),
            Err(StripeRejection::Mismatch)
        );
        assert_eq!(verify_stripe(&secret, &format!("t={now},v1={good}"), body, now + 301), Err(StripeRejection::Stale));
        assert_eq!(verify_stripe(&secret, &format!("t={now},v1={good}"), body, now - 301), Err(StripeRejection::Stale));
        assert_eq!(verify_stripe(&secret, &format!("v1={good}"), body, now), Err(StripeRejection::Malformed));
        assert_eq!(verify_stripe(&secret, &format!("t={now}"), body, now), Err(StripeRejection::Malformed));
        assert_eq!(verify_stripe(&secret, &format!("t={now},v1=zz"), body, now), Err(StripeRejection::Mismatch));
    }

    #[test]
    fn shopify_hmacs_are_base64() {
        let secret = secret();
        let mut mac = mac(&secret);
        mac.update(b"{}");
        let good = BASE64.encode(mac.finalize().into_bytes());
        assert!(verify_shopify(&secret, &good, b"{}"));
        assert!(!verify_shopify(&secret, &good, b"{ }"));
        assert!(!verify_shopify(&secret, "not base64!", b"{}"));
    }

    #[test]
    fn a_delivery_without_an_id_is_known_by_its_bodys_hash() {
        assert_eq!(Delivery::new("stripe", Some("evt_1"), b"{}").id, "evt_1");
        let hashed = Delivery::new("shopify", None, b"abc");
        assert_eq!(hashed.id, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(Delivery::new("shopify", None, b"abd").id, hashed.id);
    }
}
