//! `POST /api/business/{id}/refunds`: giving a buyer money back through Stripe, within
//! the business's spending guard.
//!
//! A refund asked through Boardroom (by the owner, or by an integration holding the
//! owner's API token: a support desk, say) is a payment the business received through
//! its Stripe market (its payment intent was booked in its ledger, and recorded as its
//! own when its checkout was), refunded as a destination charge is: the transfer to the
//! business's account is reversed by the same share, and so is the platform's fee.
//!
//! The guard applies as it does to the swarm's own spending:
//! - **refunds a day** (UTC): counted atomically before the refund is sent (a counter
//!   added to, and taken back from when over the cap or when Stripe refuses), so eight
//!   requests at once cannot together pass the cap; over it, 409 `over_cap` naming the
//!   cap, and a `guard.refused` event;
//! - **the approval threshold**: a larger refund waits in the approval queue (202); the
//!   owner's approval carries it out at once.
//!
//! The same amount of the same payment asked again is the same refund: it is one row of
//! the queue (`refund:<payment>:<cents>`), and its Stripe request has one idempotency
//! key, so a retried or doubled request refunds once. The ledger learns of the refund
//! from Stripe's `charge.refunded` delivery, like any other.

use axum::extract::State;
use axum::http::StatusCode;
use boardroom_adapters::{AdapterError, IdempotencyKey, StripeRefund};
use boardroom_agents::guard::{self, ApprovalRequest, Cap, SpendingCaps, Verdict};
use boardroom_memory::{
    Approval, ApprovalAnswer, ApprovalDecision, ApprovalStatus, NewEvent, Tenant, UsageSubject, UserId,
};
use chrono::Utc;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::owned_business;
use super::payouts::platform_client;
use super::webhooks::STRIPE_PAYMENTS;
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::fields::PositiveAmount;

/// The kind of the queue's refund rows.
pub(crate) const REFUND_KIND: &str = "refund";
/// The usage counter of refunds issued, in cents, per tenant and UTC day.
const REFUNDED_CENTS: &str = "refunded_cents";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(refund))
}

/// `POST /api/business/{id}/refunds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    /// The payment to refund (`pi_…`), as the business's ledger row names it
    /// (`stripe:pi_…`).
    #[schema(example = "pi_3Nabc")]
    payment_intent: String,
    /// How much to give back (at most what was paid).
    amount: PositiveAmount,
}

/// What became of a refund request.
#[derive(Debug, Serialize, ToSchema)]
struct RefundAnswer {
    /// `refunded` (sent to Stripe now, or before for the same request),
    /// `awaiting_approval` (above the approval threshold: in the queue).
    outcome: &'static str,
    /// The refund Stripe made (`id`, `amount` in cents, `status`); `null` while it waits.
    #[schema(value_type = Option<Object>)]
    refund: Option<serde_json::Value>,
    /// Its row in the approval queue.
    approval: Approval,
}

/// Refunds a buyer's payment through Stripe, within the business's spending guard.
#[utoipa::path(
    post,
    path = "/api/business/{id}/refunds",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = RefundRequest,
    responses(
        (status = 201, description = "`refunded`: Stripe made the refund.", body = RefundAnswer),
        (status = 200, description = "`refunded`: the same refund was made before; nothing new.", body = RefundAnswer),
        (status = 202, description = "`awaiting_approval`: above the approval threshold; the owner's approval \
            carries it out.", body = RefundAnswer),
        (status = 404, description = "`not_found`: no such business, or no such payment of it."),
        (status = 409, description = "`over_cap`: over the refunds-a-day cap; `not_configured`: no Stripe key \
            on this server; `already_decided`: the same refund was rejected or expired."),
        (status = 422, description = "`validation`: more than was paid, or a refund Stripe refuses."),
        (status = 503, description = "`unavailable`: Stripe does not answer; asking again is safe."),
    )
)]
async fn refund(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<RefundRequest>,
) -> Result<(StatusCode, Json<RefundAnswer>), ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let payment = request.payment_intent.trim();
    let cents = cents(request.amount.value())?;
    let amount = Decimal::new(cents, 2);
    if state.app.store.platform_account_tenant(STRIPE_PAYMENTS, payment).await? != Some(tenant.id) {
        return Err(ApiError::NotFound("payment".into()));
    }
    let paid = paid_for(&state, &tenant, payment).await?;
    if amount > paid {
        return Err(ApiError::invalid("amount", format!("more than the {paid} paid")));
    }
    // Checked before anything is queued or sent, so a request without a key is told so.
    platform_client(&state)?;

    let caps = guard::load_caps(&state.app.store, tenant.id).await?;
    guard::expire_overdue(&state.app.store, &state.app.events, tenant.id).await?;
    // Today's count is checked (and taken) atomically when the refund is sent; a refund
    // larger than the whole cap is refused before it is queued.
    let verdict = caps.check_refund(Decimal::ZERO, amount);
    let threshold = match verdict {
        Verdict::NeedsApproval { threshold, .. } => Some(threshold),
        Verdict::Refused { cap, limit, .. } => {
            return Err(refused(&state, &tenant, &verdict, amount, cap, limit).await?);
        }
        _ => None,
    };
    let asked = ApprovalRequest {
        action_key: format!("refund:{payment}:{cents}"),
        kind: REFUND_KIND,
        summary: format!("refunding {amount} of payment {payment}"),
        amount,
        threshold: threshold.unwrap_or(amount),
        expected: json!({ "why": "the buyer gets the money back; the business keeps the buyer's goodwill" }),
        action: json!({ "payment_intent": payment, "amount_cents": cents }),
    };
    let (mut approval, new) =
        state.app.store.request_approval(guard::new_approval(tenant.id, &caps, asked, Utc::now())).await?;
    if let (true, Some(threshold)) = (new, threshold) {
        let (summary, data) = guard::approval_requested(&approval, threshold);
        state
            .app
            .events
            .append(NewEvent::now(tenant.id, "owner", "guard.approval_requested", summary).with_data(data))
            .await?;
    }
    if approval.status == ApprovalStatus::Pending && threshold.is_none() {
        // Within the threshold, asking is approving.
        approval = match decide(&state, &tenant, &approval, caller.user.id).await? {
            ApprovalAnswer::Recorded(approval) | ApprovalAnswer::TooLate(approval) => approval,
        };
    }
    match approval.status {
        ApprovalStatus::Pending => Ok((StatusCode::ACCEPTED, Json(RefundAnswer::waiting(approval)))),
        ApprovalStatus::Approved | ApprovalStatus::Done => {
            let (made_now, refund) = carry_out(&state, &tenant, &caps, &approval).await?;
            let approval = super::guard::current_row(&state, &tenant, approval).await?;
            let status = if made_now { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(RefundAnswer { outcome: "refunded", refund, approval })))
        }
        ApprovalStatus::Rejected | ApprovalStatus::Expired => Err(ApiError::StateConflict {
            code: "already_decided",
            message: format!("this refund was {} before", approval.status.as_str()),
        }),
    }
}

impl RefundAnswer {
    fn waiting(approval: Approval) -> Self {
        Self { outcome: "awaiting_approval", refund: None, approval }
    }
}

/// Carries out an approved refund: within the refunds-a-day cap, sends it to Stripe
/// (keyed by its queue row, so a doubled request refunds once) and marks the row done.
/// `(true, refund)` when this call made it; `(false, refund)` when it was made before
/// (the refund as recorded then).
pub(crate) async fn carry_out(
    state: &ApiState,
    tenant: &Tenant,
    caps: &SpendingCaps,
    approval: &Approval,
) -> Result<(bool, Option<serde_json::Value>), ApiError> {
    let made = REFUNDS_MADE;
    if approval.status == ApprovalStatus::Done {
        let recorded = state.app.store.agent_memory(tenant.id, made, &approval.action_key).await?;
        return Ok((false, recorded.map(|memory| memory.content)));
    }
    let payment = approval.action["payment_intent"].as_str().unwrap_or_default().to_owned();
    let cents = approval.action["amount_cents"].as_i64().unwrap_or_default();
    let client = platform_client(state)?;
    let reserved = reserve(state, tenant, caps, approval.amount, cents).await?;
    let key = IdempotencyKey::for_step(tenant.id, 0, "refund", &approval.action_key);
    let sent = client.create_destination_refund(&payment, u64::try_from(cents).ok(), &key).await;
    let refund = match sent {
        Ok(refund) => refund,
        Err(error) => {
            release(state, tenant, reserved).await?;
            return Err(refund_error(error));
        }
    };
    let recorded = refund_json(&refund);
    // Of two requests that sent the same refund (Stripe answered both with it), one
    // marks it done and keeps its count; the other gives its count back.
    if !state.app.store.complete_approval(tenant.id, approval.id).await? {
        release(state, tenant, reserved).await?;
        return Ok((false, Some(recorded)));
    }
    state.app.store.put_agent_memory(tenant.id, made, &approval.action_key, recorded.clone(), None).await?;
    let summary = format!("Refunded {} of payment {payment} through Stripe", approval.amount);
    let event = NewEvent::now(tenant.id, "owner", "refund.issued", summary)
        .with_data(json!({ "approval_id": approval.id, "refund": recorded, "amount": approval.amount }));
    state.app.events.append(event).await?;
    tracing::info!(tenant = %tenant.id, refund = %refund.id, "refund issued");
    Ok((true, Some(recorded)))
}

/// Where the refunds made are recorded (agent memory), by their queue row's key.
const REFUNDS_MADE: &str = "refunds";

/// A day's count of refunded cents, added to before a refund is sent.
struct Reserved {
    day: String,
    cents: i64,
}

/// Counts `cents` against today's refunds when the business caps them: over the cap,
/// gives them back and refuses naming the cap (with a `guard.refused` event).
async fn reserve(
    state: &ApiState,
    tenant: &Tenant,
    caps: &SpendingCaps,
    amount: Decimal,
    cents: i64,
) -> Result<Option<Reserved>, ApiError> {
    if caps.refunds_per_day.is_none() {
        return Ok(None);
    }
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let subject = UsageSubject::Tenant(tenant.id);
    let total = state.app.store.add_usage(subject, REFUNDED_CENTS, &day, cents).await?;
    let verdict = caps.check_refund(Decimal::new(total - cents, 2), amount);
    if let Verdict::Refused { cap, limit, .. } = verdict {
        state.app.store.add_usage(subject, REFUNDED_CENTS, &day, -cents).await?;
        return Err(refused(state, tenant, &verdict, amount, cap, limit).await?);
    }
    Ok(Some(Reserved { day, cents }))
}

/// Records the guard's refusal on the event log; the answer that names the cap.
async fn refused(
    state: &ApiState,
    tenant: &Tenant,
    verdict: &Verdict,
    amount: Decimal,
    cap: Cap,
    limit: Decimal,
) -> Result<ApiError, ApiError> {
    let action = format!("refunding {amount}");
    if let Some((summary, data)) = guard::refusal(&action, verdict, json!({ "amount": amount })) {
        state.app.events.append(NewEvent::now(tenant.id, "owner", "guard.refused", summary).with_data(data)).await?;
    }
    Ok(over_cap(cap, limit))
}

async fn release(state: &ApiState, tenant: &Tenant, reserved: Option<Reserved>) -> Result<(), ApiError> {
    if let Some(Reserved { day, cents }) = reserved {
        state.app.store.add_usage(UsageSubject::Tenant(tenant.id), REFUNDED_CENTS, &day, -cents).await?;
    }
    Ok(())
}

fn over_cap(cap: Cap, limit: Decimal) -> ApiError {
    ApiError::StateConflict {
        code: "over_cap",
        message: format!("the spending guard refused: over {} of {limit}", cap.words()),
    }
}

/// Records the owner's approval of a refund within the threshold (asking is approving).
async fn decide(
    state: &ApiState,
    tenant: &Tenant,
    approval: &Approval,
    by: UserId,
) -> Result<ApprovalAnswer, ApiError> {
    Ok(state.app.store.decide_approval(tenant.id, approval.id, ApprovalDecision::Approve, by, Utc::now()).await?)
}

/// What the business was paid for `payment`, as its ledger booked it.
async fn paid_for(state: &ApiState, tenant: &Tenant, payment: &str) -> Result<Decimal, ApiError> {
    let booked = format!("stripe:{payment}");
    let entries = state
        .app
        .store
        .ledger_entries(tenant.id, chrono::DateTime::<Utc>::MIN_UTC, Utc::now() + chrono::Duration::days(1))
        .await?;
    entries
        .into_iter()
        .find(|entry| entry.transaction_id.as_deref() == Some(booked.as_str()) && entry.category == "revenue")
        .map(|entry| entry.amount)
        .ok_or_else(|| ApiError::NotFound("payment".into()))
}

/// An amount in whole cents.
fn cents(amount: Decimal) -> Result<i64, ApiError> {
    match (amount * Decimal::from(100)).round().to_i64() {
        None => Err(ApiError::invalid("amount", "too large to refund")),
        Some(cents) if cents < 1 => Err(ApiError::invalid("amount", "less than a cent")),
        Some(cents) => Ok(cents),
    }
}

fn refund_json(refund: &StripeRefund) -> serde_json::Value {
    json!({ "id": refund.id, "amount": refund.amount, "currency": refund.currency, "status": refund.status })
}

/// Stripe's refusal of a refund (already refunded, more than remains) is the caller's
/// to fix; its outages are temporary.
fn refund_error(error: AdapterError) -> ApiError {
    match error {
        AdapterError::Rejected { message, .. } => ApiError::invalid("amount", format!("Stripe refused: {message}")),
        other => ApiError::Unavailable(other.to_string()),
    }
}
