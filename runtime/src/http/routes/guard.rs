//! The spending guard's routes: a business's caps and approval threshold
//! (`GET`/`PUT /api/business/{id}/guard`), its approval queue
//! (`GET /api/business/{id}/approvals`), and the owner's answers
//! (`POST /api/approvals/{id}/approve` and `/reject`).
//!
//! What the caps mean and how the swarm meets them is `boardroom_agents::guard`. Every
//! change and every answer is an event on the business's log (`guard.updated`,
//! `guard.approved`, `guard.rejected`), so the live view shows it. Requests that expired
//! unanswered are marked so (`guard.approval_expired`) whenever the queue is read or
//! answered, as well as by the swarm's next cycle. Of two answers to one request, one is
//! recorded; the other, like an answer to an expired request, is 409 `already_decided`
//! with the request as it stands.

use axum::extract::State;
use boardroom_agents::guard::{self, DEFAULT_APPROVAL_HOURS, MAX_APPROVAL_HOURS, SpendingCaps};
use boardroom_memory::{Approval, ApprovalAnswer, ApprovalDecision, ApprovalStatus, NewEvent, Tenant};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, owned_business, refunds};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::fields::{NonNegativeAmount, Percent};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(read_guard, set_guard))
        .routes(routes!(approvals))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

/// A business's spending guard as the API shows it. A limit that is `null` is not set
/// and does not apply.
#[derive(Debug, Serialize, ToSchema)]
struct GuardView {
    /// Most ad spend a day, across every running ad flight.
    #[schema(value_type = Option<String>, example = "50.00")]
    ad_spend_per_day: Option<Decimal>,
    /// Most ad spend in a 30-day month of the market's days.
    #[schema(value_type = Option<String>, example = "1000.00")]
    ad_spend_per_month: Option<Decimal>,
    /// Largest price cut in one cycle, in percent of the price before it.
    #[schema(value_type = Option<String>, example = "20.00")]
    price_cut_percent_per_cycle: Option<Decimal>,
    /// Most refunds the swarm may issue in a day (on a live payment platform).
    #[schema(value_type = Option<String>, example = "100.00")]
    refunds_per_day: Option<Decimal>,
    /// Actions committing more money than this wait for the owner's approval.
    #[schema(value_type = Option<String>, example = "100.00")]
    approval_threshold: Option<Decimal>,
    /// Hours a request waits before it expires unanswered.
    approval_expires_after_hours: u32,
    /// Requests waiting for the owner now.
    pending_approvals: usize,
}

impl GuardView {
    fn new(caps: SpendingCaps, pending_approvals: usize) -> Self {
        Self {
            ad_spend_per_day: caps.ad_spend_per_day,
            ad_spend_per_month: caps.ad_spend_per_month,
            price_cut_percent_per_cycle: caps.price_cut_percent_per_cycle,
            refunds_per_day: caps.refunds_per_day,
            approval_threshold: caps.approval_threshold,
            approval_expires_after_hours: caps.approval_expires_after_hours,
            pending_approvals,
        }
    }
}

/// `PUT /api/business/{id}/guard`: the whole guard. A limit left out or `null` is not
/// set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetGuard {
    /// Most ad spend a day.
    #[serde(default)]
    ad_spend_per_day: Option<NonNegativeAmount>,
    /// Most ad spend in a 30-day month of the market's days.
    #[serde(default)]
    ad_spend_per_month: Option<NonNegativeAmount>,
    /// Largest price cut in one cycle, in percent (0 to 100).
    #[serde(default)]
    price_cut_percent_per_cycle: Option<Percent>,
    /// Most refunds the swarm may issue in a day.
    #[serde(default)]
    refunds_per_day: Option<NonNegativeAmount>,
    /// Actions committing more money than this wait for the owner's approval.
    #[serde(default)]
    approval_threshold: Option<NonNegativeAmount>,
    /// Hours a request waits before it expires unanswered, 1 to 720 (default 24).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    approval_expires_after_hours: Option<u32>,
}

/// A business's spending guard: its caps, approval threshold and how many requests wait.
#[utoipa::path(
    get,
    path = "/api/business/{id}/guard",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The guard.", body = GuardView),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn read_guard(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<GuardView>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    Ok(Json(view(&state, &tenant).await?))
}

/// Sets a business's spending guard (all of it: a limit left out is not set). The
/// swarm's next action is checked against it.
#[utoipa::path(
    put,
    path = "/api/business/{id}/guard",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = SetGuard,
    responses(
        (status = 200, description = "The guard as it now is.", body = GuardView),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn set_guard(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<SetGuard>,
) -> Result<Json<GuardView>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let hours = request.approval_expires_after_hours.unwrap_or(DEFAULT_APPROVAL_HOURS);
    if !(1..=MAX_APPROVAL_HOURS).contains(&hours) {
        return Err(ApiError::invalid(
            "approval_expires_after_hours",
            format!("must be from 1 to {MAX_APPROVAL_HOURS}"),
        ));
    }
    let caps = SpendingCaps {
        ad_spend_per_day: request.ad_spend_per_day.map(NonNegativeAmount::value),
        ad_spend_per_month: request.ad_spend_per_month.map(NonNegativeAmount::value),
        price_cut_percent_per_cycle: request.price_cut_percent_per_cycle.map(Percent::value),
        refunds_per_day: request.refunds_per_day.map(NonNegativeAmount::value),
        approval_threshold: request.approval_threshold.map(NonNegativeAmount::value),
        approval_expires_after_hours: hours,
    };
    guard::save_caps(&state.app.store, tenant.id, &caps).await?;
    let summary = format!("The owner set the spending guard: {}", describe(&caps));
    let event = NewEvent::now(tenant.id, "owner", "guard.updated", summary)
        .with_data(serde_json::to_value(&caps).map_err(anyhow::Error::new)?);
    state.app.events.append(event).await?;
    tracing::info!(tenant = %tenant.id, user = %caller.user.id, "spending guard set");
    Ok(Json(view(&state, &tenant).await?))
}

/// `?status=&limit=`: which of a business's approval requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ApprovalsQuery {
    /// Only requests in this state (all when absent).
    #[serde(default)]
    status: Option<ApprovalStatus>,
    /// At most this many, newest first: 1 to 100 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// A business's approval requests.
#[derive(Debug, Serialize, ToSchema)]
struct ApprovalList {
    /// Newest first.
    items: Vec<Approval>,
}

/// A business's approval queue: what its swarm asked the owner, newest first, with
/// what each action commits and what the agent expects from it.
#[utoipa::path(
    get,
    path = "/api/business/{id}/approvals",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id."), ApprovalsQuery),
    responses(
        (status = 200, description = "The requests, newest first.", body = ApprovalList),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn approvals(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<ApprovalsQuery>,
) -> Result<Json<ApprovalList>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let limit = PageQuery { after: None, limit: query.limit }.limit()?;
    guard::expire_overdue(&state.app.store, &state.app.events, tenant.id).await?;
    let items = state.app.store.approvals(tenant.id, query.status, limit).await?;
    Ok(Json(ApprovalList { items }))
}

/// Approves a request: the swarm carries the action out at its next cycle.
#[utoipa::path(
    post,
    path = "/api/approvals/{id}/approve",
    tag = "business",
    params(("id" = i64, Path, description = "The approval request's id.")),
    responses(
        (status = 200, description = "The request, approved (a refund: sent to Stripe, and `done`).", body = Approval),
        (status = 404, description = "`not_found`: no such request, or not for one of the caller's businesses."),
        (status = 409, description = "`already_decided`: it was answered before, expired or was carried out; \
            a refund: `over_cap` (approved, not sent: over the refunds-a-day cap)."),
        (status = 422, description = "`validation`: a refund Stripe refuses (approved, not sent)."),
        (status = 503, description = "`unavailable`: a refund Stripe did not answer (approved, not sent; asking \
            for it again sends it)."),
    )
)]
async fn approve(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Approval>, ApiError> {
    answer(&state, &caller, id, ApprovalDecision::Approve).await.map(Json)
}

/// Rejects a request: the swarm does not carry the action out, and does not ask again.
#[utoipa::path(
    post,
    path = "/api/approvals/{id}/reject",
    tag = "business",
    params(("id" = i64, Path, description = "The approval request's id.")),
    responses(
        (status = 200, description = "The request, rejected.", body = Approval),
        (status = 404, description = "`not_found`: no such request, or not for one of the caller's businesses."),
        (status = 409, description = "`already_decided`: it was answered before, expired or was carried out."),
    )
)]
async fn reject(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Approval>, ApiError> {
    answer(&state, &caller, id, ApprovalDecision::Reject).await.map(Json)
}

async fn answer(
    state: &ApiState,
    caller: &CurrentUser,
    id: i64,
    decision: ApprovalDecision,
) -> Result<Approval, ApiError> {
    let not_found = || ApiError::NotFound("approval".into());
    let tenant = state.app.store.approval_tenant(id).await?.ok_or_else(not_found)?;
    // Someone else's request answers 404 exactly like a missing one.
    let tenant = owned_business(state, caller, tenant.0).await.map_err(|_| not_found())?;
    guard::expire_overdue(&state.app.store, &state.app.events, tenant.id).await?;
    let answered = state.app.store.decide_approval(tenant.id, id, decision, caller.user.id, chrono::Utc::now()).await?;
    let approval = match answered {
        ApprovalAnswer::Recorded(approval) => approval,
        ApprovalAnswer::TooLate(approval) => {
            return Err(ApiError::StateConflict {
                code: "already_decided",
                message: format!("this request is already {}", approval.status.as_str()),
            });
        }
    };
    let (kind, verb) = match decision {
        ApprovalDecision::Approve => ("guard.approved", "approved"),
        ApprovalDecision::Reject => ("guard.rejected", "rejected"),
    };
    let summary = format!("The owner {verb}: {}", approval.summary);
    let event = NewEvent::now(tenant.id, "owner", kind, summary)
        .with_data(json!({ "approval_id": approval.id, "amount": approval.amount, "kind": approval.kind }));
    state.app.events.append(event).await?;
    tracing::info!(tenant = %tenant.id, approval = id, user = %caller.user.id, decision = verb, "approval answered");
    if decision == ApprovalDecision::Approve && approval.kind == refunds::REFUND_KIND {
        // A refund waits for no cycle: approving it sends it (within the caps).
        let caps = guard::load_caps(&state.app.store, tenant.id).await?;
        refunds::carry_out(state, &tenant, &caps, &approval).await?;
        return current_row(state, &tenant, approval).await;
    }
    Ok(approval)
}

/// The row as it is now.
pub(super) async fn current_row(state: &ApiState, tenant: &Tenant, approval: Approval) -> Result<Approval, ApiError> {
    let rows = state.app.store.approvals(tenant.id, None, 1_000).await?;
    Ok(rows.into_iter().find(|row| row.id == approval.id).unwrap_or(approval))
}

async fn view(state: &ApiState, tenant: &Tenant) -> Result<GuardView, ApiError> {
    let caps = guard::load_caps(&state.app.store, tenant.id).await?;
    let pending = state.app.store.approvals(tenant.id, Some(ApprovalStatus::Pending), 100).await?.len();
    Ok(GuardView::new(caps, pending))
}

/// The guard in words, for the feed.
fn describe(caps: &SpendingCaps) -> String {
    let limit = |value: Option<Decimal>, text: &dyn Fn(Decimal) -> String| value.map(text);
    let parts: Vec<String> = [
        limit(caps.ad_spend_per_day, &|v| format!("ads at most ${v} a day")),
        limit(caps.ad_spend_per_month, &|v| format!("${v} a month")),
        limit(caps.price_cut_percent_per_cycle, &|v| format!("price cuts at most {v} % a cycle")),
        limit(caps.refunds_per_day, &|v| format!("refunds at most ${v} a day")),
        limit(caps.approval_threshold, &|v| format!("actions over ${v} wait for approval")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() { "no limits".to_owned() } else { parts.join(", ") }
}
