//! `POST /webhooks/gumroad/{secret}`: Gumroad's pings (resource subscriptions).
//!
//! ## Trust
//! Gumroad signs nothing it pushes: a ping is a plain form post (`sale_id`,
//! `seller_id`, `product_id`, `price`, …) that anyone who learns the URL could send
//! with any price. So:
//! - the URL's secret (256 random bits, issued when the account was connected, kept
//!   only as its SHA-256 under the `gumroad_ping` platform account) finds the business;
//!   it is hashed before the look-up, so the look-up's timing says nothing about it;
//! - nothing is taken from the payload but the sale's id: the sale is re-fetched with
//!   the business's own token (`GET /v2/sales/:id`, which Gumroad answers only for the
//!   token's seller), checked against the seller the account was connected as, and only
//!   what Gumroad's API says is booked.
//!
//! ## Answers, for a platform that retries
//! Gumroad retries a ping that is not answered 200, so 200 means "do not send it
//! again": a ping for a URL no business has (a disconnected account, a URL pasted
//! twice) and a sale Gumroad says is not the seller's (a forgery, or Gumroad's test
//! ping) are acknowledged and recorded nowhere, since sending them again cannot change
//! that. A secret that is not of the shape we issue is 404 `not_found`; a body that is
//! not a form with one plausible `sale_id` is 400 `invalid_payload`. When the sale
//! cannot be read now (Gumroad down or rate-limiting, the business's token refused) the
//! answer is 503 `unavailable`, so Gumroad's retry comes back later.
//!
//! ## Exactly once
//! A sale is booked as revenue once by its id (`gumroad:{sale_id}`), and, when the
//! re-fetched sale says it was refunded in full, the refund once
//! (`gumroad:{sale_id}:refund`): the ledger's transaction ids make it so, durably and
//! across processes. Each booking writes a `gumroad.sale` or `gumroad.refund` event
//! with its revenue impact, which moves the dashboard. A ping asking for nothing new
//! (the same sale in the same state) is claimed in `webhook_deliveries` and answers
//! `"duplicate": true`; the claim is made only after the sale was read, so a forged
//! ping cannot burn the claim of a real one.

use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use boardroom_adapters::{
    AdapterError, CallBudget, GumroadClient, GumroadSale, ResilienceSettings, RetryPolicy, sale_from_webhook,
};
use boardroom_memory::{NewLedgerEntry, TenantId};
use rust_decimal::Decimal;
use serde_json::json;

use super::{Delivery, Received, WebhookError, WebhookState, book_once, raw_body, received};
use crate::http::auth::secret::hash_secret;
use crate::http::crypto::CredentialSealer;
use crate::http::error::{ApiError, Fields};
use crate::http::routes::stores::{GUMROAD_PING, SellingAccount, StorePlatform, selling_account};

/// The length of the secrets we issue: 32 random bytes as unpadded base64url.
const SECRET_CHARS: usize = 43;

/// Receives a Gumroad ping; see the module's docs for what is trusted and answered.
#[utoipa::path(
    post,
    path = "/webhooks/gumroad/{secret}",
    tag = "webhooks",
    security(()),
    params(
        ("secret" = String, Path, min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$",
            description = "The business's ping secret, from the answer to connecting its Gumroad account."),
    ),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
        description = "Gumroad's ping: form fields, of which only `sale_id` is read (the sale is re-fetched from \
            Gumroad with the business's token before anything is booked)."),
    responses(
        (status = 200, description = "Acknowledged: booked once (`duplicate` when it asked for nothing new), or \
            recorded nowhere (no business has this URL, or Gumroad says the sale is not the seller's).",
            body = Received),
        (status = 400, description = "`invalid_payload`: not a form with one plausible `sale_id`."),
        (status = 404, description = "`not_found`: not a ping URL this server issues."),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB."),
        (status = 503, description = "`unavailable`: the sale cannot be read from Gumroad now; a retry may."),
    )
)]
pub(super) async fn gumroad(
    State(state): State<WebhookState>,
    Path(secret): Path<String>,
    request: Request,
) -> Result<Response, WebhookError> {
    if secret.len() != SECRET_CHARS || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ApiError::NotFound("no such ping URL".to_owned()).into());
    }
    let form_posted = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let body = raw_body(request).await?;
    if !form_posted {
        return Err(invalid_payload("a Gumroad ping is a form post (application/x-www-form-urlencoded)"));
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let sale_id = sale_from_webhook(&fields).map_err(|error| invalid_payload(&error.to_string()))?;

    let Some(tenant) = state.app.store.platform_account_tenant(GUMROAD_PING, &hash_secret(&secret)).await? else {
        tracing::info!("Gumroad ping for a URL no business has; acknowledged");
        return Ok(received(false).into_response());
    };
    let sealer = CredentialSealer::from_settings(&state.app.settings);
    let (connection, seller_id) =
        match selling_account(&state.app.store, &sealer, tenant, &[StorePlatform::Gumroad]).await {
            Ok(Some(SellingAccount::Gumroad { connection, seller_id })) => (connection, seller_id),
            Ok(_) => {
                tracing::info!(tenant = tenant.0, "Gumroad ping for a business with no Gumroad account; acknowledged");
                return Ok(received(false).into_response());
            }
            Err(why) => return Err(unavailable(format!("the business's Gumroad account cannot be used: {why}"))),
        };
    let client = GumroadClient::with_settings(connection, refetch_settings())
        .map_err(|error| unavailable(format!("the business's Gumroad account cannot be used: {error}")))?;
    let sale = match client.sale(&sale_id).await {
        Ok(sale) => sale,
        Err(AdapterError::Rejected { message, .. }) if message.contains("not found") => {
            tracing::warn!(tenant = tenant.0, "Gumroad ping for a sale the seller does not have; nothing booked");
            return Ok(received(false).into_response());
        }
        Err(error) => return Err(unavailable(format!("the sale could not be read from Gumroad: {error}"))),
    };
    if let (Some(expected), Some(seller)) = (&seller_id, &sale.seller_id)
        && expected != seller
    {
        tracing::warn!(tenant = tenant.0, "Gumroad ping for another seller's sale; nothing booked");
        return Ok(received(false).into_response());
    }

    // What this ping can ask for: the sale, or the sale and its refund.
    let booked_state = if sale.refunded { "refunded" } else { "sold" };
    let delivery = Delivery { provider: "gumroad", id: format!("{}:{}:{booked_state}", tenant.0, sale.id) };
    if !state.first_time(&delivery).await? {
        return Ok(received(true).into_response());
    }
    if let Err(error) = book_gumroad(&state, tenant, &sale).await {
        // Not booked: let Gumroad's retry through.
        state.forget(&delivery).await;
        return Err(error);
    }
    tracing::info!(tenant = tenant.0, state = booked_state, "Gumroad sale booked");
    Ok(received(false).into_response())
}

/// Books a re-fetched sale: its price as revenue, and when it was refunded in full the
/// refund, each once by the sale's id.
async fn book_gumroad(state: &WebhookState, tenant: TenantId, sale: &GumroadSale) -> Result<(), WebhookError> {
    let amount = Decimal::new(i64::try_from(sale.price_cents).unwrap_or(i64::MAX), 2);
    let metadata = json!({
        "sale_id": sale.id, "product_id": sale.product_id, "product_name": sale.product_name,
        "gumroad_fee_cents": sale.gumroad_fee_cents, "sold_at": sale.created_at,
    });
    let sold = NewLedgerEntry {
        tenant_id: tenant,
        source: "gumroad".into(),
        amount,
        category: "revenue".into(),
        transaction_id: Some(format!("gumroad:{}", sale.id)),
        metadata: metadata.clone(),
        recorded_at: chrono::Utc::now(),
    };
    book_once(state, sold, "gumroad.sale", format!("Gumroad sale of \"{}\": {amount}", sale.product_name)).await?;
    if sale.refunded {
        let refund = NewLedgerEntry {
            tenant_id: tenant,
            source: "gumroad".into(),
            amount: -amount,
            category: "refund".into(),
            transaction_id: Some(format!("gumroad:{}:refund", sale.id)),
            metadata,
            recorded_at: chrono::Utc::now(),
        };
        let summary = format!("Gumroad refund of \"{}\": {amount}", sale.product_name);
        book_once(state, refund, "gumroad.refund", summary).await?;
    }
    Ok(())
}

/// A re-fetch is one quick try and a retry: Gumroad waits for our answer, and retries
/// the ping itself when we say 503.
fn refetch_settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy { max_attempts: 2, ..RetryPolicy::default() },
        budget: CallBudget {
            per_request_timeout: std::time::Duration::from_secs(8),
            default_deadline: std::time::Duration::from_secs(15),
        },
        ..ResilienceSettings::default()
    }
}

fn invalid_payload(problem: &str) -> WebhookError {
    WebhookError::Api(ApiError::BadRequest {
        code: "invalid_payload",
        message: format!("not a Gumroad ping: {problem}"),
        fields: Fields::from([("body".to_owned(), problem.to_owned())]),
    })
}

fn unavailable(message: String) -> WebhookError {
    tracing::warn!(%message, "Gumroad ping not handled; Gumroad will retry");
    WebhookError::Api(ApiError::Unavailable(message))
}
