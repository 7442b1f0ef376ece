//! Payouts through Stripe Connect: `POST /api/business/{id}/stripe/onboard` gives the
//! business a connected account (once: asking again returns the same account) and a
//! fresh link to Stripe's hosted onboarding; `GET /api/business/{id}/stripe` says how far
//! the account is (charges, payouts, details).
//!
//! The account is made by the platform (`STRIPE_SECRET_KEY`) with controller properties
//! (Stripe's Express dashboard, the platform paying the fees and carrying the losses,
//! Stripe collecting requirements), and linked to the business (`platform_accounts`):
//! Stripe's deliveries for it then find the business by the account they happened on.
//! Without a platform key both routes answer 409 `not_configured`.

use axum::extract::State;
use boardroom_adapters::{
    AdapterError, IdempotencyKey, StripeAccount, StripeAccountLink, StripeClient, StripeConnection,
};
use boardroom_memory::{MemoryError, SharedStore, Tenant, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::owned_business;
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path};

/// Where the business's connected account is remembered (its agent memory).
const STRIPE_NAMESPACE: &str = "stripe";
const ACCOUNT_KEY: &str = "account";
/// The country a new connected account is opened in.
const ACCOUNT_COUNTRY: &str = "US";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(onboard)).routes(routes!(status))
}

/// `POST …/stripe/onboard`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Onboard {
    /// Where Stripe sends the owner back when onboarding ends (and, with `?stripe=refresh`
    /// added, when the link has expired): `https://…`, or `http://localhost…` /
    /// `http://127.0.0.1…`, at most 500 characters.
    #[schema(
        max_length = 500,
        pattern = r"^(https://[^/\u0000-\u0020][^\u0000-\u0020]*|http://(localhost|127\.0\.0\.1)([:/?#][^\u0000-\u0020]*)?)$",
        example = "https://boardroom.example.com/app?business=7"
    )]
    return_url: String,
}

/// A business's Stripe account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct Payouts {
    /// Whether the business has a connected account.
    connected: bool,
    /// The account, `acct_…`.
    account: Option<String>,
    /// Whether it can take payments yet.
    charges_enabled: bool,
    /// Whether Stripe pays out to the owner's bank yet.
    payouts_enabled: bool,
    /// Whether the owner finished onboarding.
    details_submitted: bool,
    /// A fresh onboarding link (only from `onboard`).
    onboarding_url: Option<String>,
    /// When the link stops working.
    onboarding_expires_at: Option<DateTime<Utc>>,
}

impl Payouts {
    /// A business with no connected account yet.
    fn not_connected() -> Self {
        Self {
            connected: false,
            account: None,
            charges_enabled: false,
            payouts_enabled: false,
            details_submitted: false,
            onboarding_url: None,
            onboarding_expires_at: None,
        }
    }

    /// The connected account as Stripe describes it, with a fresh onboarding link when
    /// there is one.
    fn of(account: StripeAccount, link: Option<StripeAccountLink>) -> Self {
        Self {
            connected: true,
            charges_enabled: account.charges_enabled,
            payouts_enabled: account.payouts_enabled,
            details_submitted: account.details_submitted,
            account: Some(account.id),
            onboarding_expires_at: link.as_ref().map(|link| link.expires_at),
            onboarding_url: link.map(|link| link.url),
        }
    }
}

/// Opens (once) the business's Stripe account and returns a link to Stripe's onboarding.
#[utoipa::path(
    post,
    path = "/api/business/{id}/stripe/onboard",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = Onboard,
    responses(
        (status = 200, description = "The account and a fresh onboarding link.", body = Payouts),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 409, description = "`not_configured`: the server has no Stripe platform key."),
        (status = 503, description = "`unavailable`: Stripe does not answer."),
    )
)]
async fn onboard(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<Onboard>,
) -> Result<Json<Payouts>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let client = platform_client(&state)?;
    check_return_url(&request.return_url)?;
    let account = match linked_account(&state, &tenant).await? {
        Some(account) => account,
        None => {
            // One account per business, whatever happens to this request: the key is the
            // business's, so a retry after a lost answer gets the same account back.
            let key = IdempotencyKey::for_step(tenant.id, 0, "stripe_connect", "account");
            let created = client
                .create_connected_account(&caller.user.email, ACCOUNT_COUNTRY, &key)
                .await
                .map_err(stripe_error)?;
            state.app.store.link_platform_account("stripe", &created.id, tenant.id, "connect", Utc::now()).await?;
            state.app.store.put_agent_memory(tenant.id, STRIPE_NAMESPACE, ACCOUNT_KEY, json!(created.id), None).await?;
            tracing::info!(tenant = %tenant.id, account = %created.id, "Stripe account opened");
            created.id
        }
    };
    let separator = if request.return_url.contains('?') { '&' } else { '?' };
    let refresh_url = format!("{}{separator}stripe=refresh", request.return_url);
    let link = client.create_account_link(&account, &refresh_url, &request.return_url).await.map_err(stripe_error)?;
    let details = client.account(&account).await.map_err(stripe_error)?;
    Ok(Json(Payouts::of(details, Some(link))))
}

/// How far the business's Stripe account is.
#[utoipa::path(
    get,
    path = "/api/business/{id}/stripe",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The account's state (`connected: false` before onboarding).", body = Payouts),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 409, description = "`not_configured`: the server has no Stripe platform key."),
        (status = 503, description = "`unavailable`: Stripe does not answer."),
    )
)]
async fn status(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Payouts>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let client = platform_client(&state)?;
    let Some(account) = linked_account(&state, &tenant).await? else {
        return Ok(Json(Payouts::not_connected()));
    };
    let details = client.account(&account).await.map_err(stripe_error)?;
    Ok(Json(Payouts::of(details, None)))
}

pub(super) fn platform_client(state: &ApiState) -> Result<StripeClient, ApiError> {
    let platform = state.app.settings.stripe.as_ref().ok_or_else(|| ApiError::StateConflict {
        code: "not_configured",
        message: "payouts are not set up on this server (STRIPE_SECRET_KEY)".to_owned(),
    })?;
    StripeClient::new(StripeConnection::new(platform.api_base.clone(), platform.secret_key.expose()))
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("the Stripe platform key is unusable")))
}

async fn linked_account(state: &ApiState, tenant: &Tenant) -> Result<Option<String>, ApiError> {
    Ok(connect_account(&state.app.store, tenant.id).await?)
}

/// The business's Stripe Connect account (`acct_…`), if payouts onboarding opened one.
/// Read without stamping the memory's `last_accessed`, so asking is not a write.
pub(crate) async fn connect_account(store: &SharedStore, tenant: TenantId) -> Result<Option<String>, MemoryError> {
    let stored = store.agent_memories(tenant, STRIPE_NAMESPACE).await?;
    Ok(stored
        .into_iter()
        .find(|memory| memory.key == ACCOUNT_KEY)
        .and_then(|memory| memory.content.as_str().map(str::to_owned)))
}

/// `https://` with a host, or `http://` to this machine; at most 500 characters.
fn check_return_url(url: &str) -> Result<(), ApiError> {
    let local = ["http://localhost", "http://127.0.0.1"].iter().any(|origin| url.starts_with(origin));
    let https = url.strip_prefix("https://").is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if url.chars().count() > 500 || url.chars().any(char::is_whitespace) || !(https || local) {
        return Err(ApiError::invalid("return_url", "must be an https:// address (http:// only for localhost)"));
    }
    Ok(())
}

/// Stripe's refusal of a request we made is ours to fix (500, logged); its outages are
/// temporary (503).
fn stripe_error(error: AdapterError) -> ApiError {
    match error {
        AdapterError::Rejected { .. } => ApiError::Internal(anyhow::Error::new(error).context("Stripe refused")),
        other => ApiError::Unavailable(other.to_string()),
    }
}
