//! `/api/finance/*`: a business's ledger, its goal and a projection.
//!
//! Periods are half-open `[from, to)` in RFC 3339 (`2026-11-01T00:00:00Z`), the last 30
//! days when left out. Money is exact and answered as decimal strings.

use std::collections::BTreeMap;

use axum::extract::State;
use boardroom_agents::ProfitAndLoss;
use boardroom_agents::accountant::profit_and_loss;
use boardroom_memory::Tenant;
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessQuery, ask_agent, calendar_time, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Query};
use crate::http::fields::PositiveAmount;

/// The agent-memory namespace and key of the revenue goal.
const FINANCE: &str = "finance";
const GOAL_KEY: &str = "goal";
/// The window the projection extrapolates from, and the default period.
const WINDOW_DAYS: i64 = 30;
/// Longest period a report covers.
const MAX_PERIOD_DAYS: i64 = 3660;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(revenue))
        .routes(routes!(expenses))
        .routes(routes!(goal))
        .routes(routes!(projections))
}

/// `?business_id=&from=&to=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    /// The business (tenant) the report is about.
    business_id: i64,
    /// The period's start (RFC 3339, inclusive); default 30 days before `to`.
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    /// The period's end (RFC 3339, exclusive); default now. At most 3660 days after `from`.
    #[serde(default)]
    to: Option<DateTime<Utc>>,
}

impl PeriodQuery {
    /// The period, checked: `from` before `to`, at most ten years.
    fn period(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let to = calendar_time("to", self.to.unwrap_or_else(Utc::now))?;
        let from = match self.from {
            Some(from) => calendar_time("from", from)?,
            // `to` is in year 1 or later: 30 days before it is a time chrono can hold.
            None => to - TimeDelta::days(WINDOW_DAYS),
        };
        if from >= to {
            return Err(ApiError::invalid("from", "must be before to"));
        }
        if to - from > TimeDelta::days(MAX_PERIOD_DAYS) {
            return Err(ApiError::invalid("from", format!("the period must be at most {MAX_PERIOD_DAYS} days")));
        }
        Ok((from, to))
    }
}

/// The ledger's totals per category over the period, and their profit and loss.
async fn totals(
    state: &ApiState,
    tenant: &Tenant,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Vec<(String, Decimal)>, ProfitAndLoss), ApiError> {
    let rows = state.app.store.ledger_totals(tenant.id, from, to).await?;
    let pnl = profit_and_loss(rows.iter().map(|(category, total)| (category.as_str(), *total)));
    Ok((rows, pnl))
}

/// Money in over a period.
#[derive(Debug, Serialize, ToSchema)]
struct Revenue {
    /// The period's start.
    from: DateTime<Utc>,
    /// The period's end (exclusive).
    to: DateTime<Utc>,
    /// Sales.
    revenue: Decimal,
    /// Refunds.
    refunds: Decimal,
    /// Everything in less everything out.
    net_profit: Decimal,
    /// Each category with money in, and its total.
    by_category: BTreeMap<String, Decimal>,
}

/// Money in over the period (30 days by default), per ledger category.
#[utoipa::path(
    get,
    path = "/api/finance/revenue",
    tag = "finance",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The revenue.", body = Revenue),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 422, description = "`validation`: `from` is not before `to`, or the period is over 3660 days."),
    )
)]
async fn revenue(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Revenue>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (from, to) = query.period()?;
    let (rows, pnl) = totals(&state, &tenant, from, to).await?;
    let by_category = rows.into_iter().filter(|(_, total)| *total > Decimal::ZERO).collect();
    Ok(Json(Revenue { from, to, revenue: pnl.revenue, refunds: pnl.refunds, net_profit: pnl.net_profit, by_category }))
}

/// Money out over a period (negative amounts).
#[derive(Debug, Serialize, ToSchema)]
struct Expenses {
    /// The period's start.
    from: DateTime<Utc>,
    /// The period's end (exclusive).
    to: DateTime<Utc>,
    /// Everything out, added up (negative).
    total: Decimal,
    /// Platform and payment fees.
    fees: Decimal,
    /// Advertising.
    ad_spend: Decimal,
    /// Everything else.
    other_spend: Decimal,
    /// Each category with money out, and its total.
    by_category: BTreeMap<String, Decimal>,
}

/// Money out over the period (30 days by default), per ledger category.
#[utoipa::path(
    get,
    path = "/api/finance/expenses",
    tag = "finance",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The expenses.", body = Expenses),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 422, description = "`validation`: `from` is not before `to`, or the period is over 3660 days."),
    )
)]
async fn expenses(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Expenses>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (from, to) = query.period()?;
    let (rows, pnl) = totals(&state, &tenant, from, to).await?;
    let spent: Decimal = rows.iter().map(|(_, total)| *total).filter(|total| *total < Decimal::ZERO).sum();
    let by_category = rows.into_iter().filter(|(_, total)| *total < Decimal::ZERO).collect();
    Ok(Json(Expenses {
        from,
        to,
        total: spent,
        fees: pnl.fees,
        ad_spend: pnl.ad_spend,
        other_spend: pnl.other_spend,
        by_category,
    }))
}

/// `POST /api/finance/goal`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetGoal {
    /// The business the goal is for.
    business_id: i64,
    /// Revenue wanted per month.
    monthly_revenue: PositiveAmount,
}

/// A business's revenue goal.
#[derive(Debug, Serialize, ToSchema)]
struct Goal {
    /// Revenue wanted per month.
    monthly_revenue: Decimal,
    /// When it was set.
    set_at: DateTime<Utc>,
}

/// Sets the business's monthly revenue goal (projections say whether it is on track).
#[utoipa::path(
    post,
    path = "/api/finance/goal",
    tag = "finance",
    request_body = SetGoal,
    responses(
        (status = 200, description = "The goal as stored.", body = Goal),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn goal(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<SetGoal>,
) -> Result<Json<Goal>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let goal = Goal { monthly_revenue: request.monthly_revenue.value(), set_at: Utc::now() };
    let content = serde_json::to_value(&goal).map_err(anyhow::Error::new)?;
    state.app.store.put_agent_memory(tenant.id, FINANCE, GOAL_KEY, content, None).await?;
    tracing::info!(tenant = %tenant.id, "revenue goal set");
    Ok(Json(goal))
}

/// A straight-line projection of the last 30 days to the next 30, 90 and 365.
///
/// Asks the accountant agent for the last 30 days' profit and loss and extends it at
/// the same daily rate: not a forecast, and the answer says so. The answer has `method`,
/// `basis` (`from`, `to`, `pnl`), `projections` (`days`, `revenue`, `net_profit` each),
/// `goal` (as set, or `null`) and `on_track` (`null` without a goal).
#[utoipa::path(
    get,
    path = "/api/finance/projections",
    tag = "finance",
    params(BusinessQuery),
    responses(
        (status = 200, description = "The projection.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn projections(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let to = Utc::now();
    let from = to - TimeDelta::days(WINDOW_DAYS);
    let answer = ask_agent(&state, tenant.id, "accountant", "pnl", json!({ "from": from, "to": to })).await?;
    let pnl: ProfitAndLoss = serde_json::from_value(answer)
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("the accountant's P&L is unreadable")))?;
    let window = Decimal::from(WINDOW_DAYS);
    let project = |total: Decimal, days: i64| (total * Decimal::from(days) / window).round_dp(2);
    let horizons: Vec<Value> = [30_i64, 90, 365]
        .iter()
        .map(|days| json!({ "days": days, "revenue": project(pnl.revenue, *days), "net_profit": project(pnl.net_profit, *days) }))
        .collect();
    let goal = state.app.store.agent_memory(tenant.id, FINANCE, GOAL_KEY).await?.map(|memory| memory.content);
    let on_track = goal
        .as_ref()
        .and_then(|goal| goal["monthly_revenue"].as_str().and_then(|text| text.parse::<Decimal>().ok()))
        .map(|target| project(pnl.revenue, 30) >= target);
    Ok(Json(json!({
        "method": "linear: the last 30 days' totals, from the accountant agent, extended at the same daily rate; not a forecast",
        "basis": { "from": from, "to": to, "pnl": pnl },
        "projections": horizons,
        "goal": goal,
        "on_track": on_track,
    })))
}
