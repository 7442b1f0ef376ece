//! `/api/finance/*`: a business's ledger, its goal and a projection.
//!
//! Periods are half-open `[from, to)` in RFC 3339 (`2026-11-01T00:00:00Z`), the last 30
//! days when left out. Money is exact and answered as decimal strings.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use boardroom_agents::ProfitAndLoss;
use boardroom_agents::accountant::profit_and_loss;
use boardroom_memory::Tenant;
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::products::amount;
use super::{BusinessQuery, ask_agent, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Query};

/// The agent-memory namespace and key of the revenue goal.
const FINANCE: &str = "finance";
const GOAL_KEY: &str = "goal";
/// The window the projection extrapolates from, and the default period.
const WINDOW_DAYS: i64 = 30;
/// Longest period a report covers.
const MAX_PERIOD_DAYS: i64 = 3660;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/finance/revenue", get(revenue))
        .route("/api/finance/expenses", get(expenses))
        .route("/api/finance/goal", post(goal))
        .route("/api/finance/projections", get(projections))
}

/// `?business_id=&from=&to=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    business_id: i64,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
}

impl PeriodQuery {
    /// The period, checked: `from` before `to`, at most ten years.
    fn period(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - TimeDelta::days(WINDOW_DAYS));
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

/// `GET /api/finance/revenue`: money in over the period, per category.
async fn revenue(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (from, to) = query.period()?;
    let (rows, pnl) = totals(&state, &tenant, from, to).await?;
    let by_category: serde_json::Map<String, Value> = rows
        .into_iter()
        .filter(|(_, total)| *total > Decimal::ZERO)
        .map(|(category, total)| (category, json!(total)))
        .collect();
    Ok(Json(json!({
        "from": from,
        "to": to,
        "revenue": pnl.revenue,
        "refunds": pnl.refunds,
        "net_profit": pnl.net_profit,
        "by_category": by_category,
    })))
}

/// `GET /api/finance/expenses`: money out over the period (negative amounts), per category.
async fn expenses(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (from, to) = query.period()?;
    let (rows, pnl) = totals(&state, &tenant, from, to).await?;
    let spent: Decimal = rows.iter().map(|(_, total)| *total).filter(|total| *total < Decimal::ZERO).sum();
    let by_category: serde_json::Map<String, Value> = rows
        .into_iter()
        .filter(|(_, total)| *total < Decimal::ZERO)
        .map(|(category, total)| (category, json!(total)))
        .collect();
    Ok(Json(json!({
        "from": from,
        "to": to,
        "total": spent,
        "fees": pnl.fees,
        "ad_spend": pnl.ad_spend,
        "other_spend": pnl.other_spend,
        "by_category": by_category,
    })))
}

/// `POST /api/finance/goal`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetGoal {
    business_id: i64,
    monthly_revenue: Decimal,
}

async fn goal(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<SetGoal>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    if request.monthly_revenue <= Decimal::ZERO {
        return Err(ApiError::invalid("monthly_revenue", "must be greater than 0"));
    }
    let monthly_revenue =
        amount(request.monthly_revenue).map_err(|problem| ApiError::invalid("monthly_revenue", problem))?;
    let goal = json!({ "monthly_revenue": monthly_revenue, "set_at": Utc::now() });
    state.app.store.put_agent_memory(tenant.id, FINANCE, GOAL_KEY, goal.clone(), None).await?;
    tracing::info!(tenant = %tenant.id, "revenue goal set");
    Ok(Json(goal))
}

/// `GET /api/finance/projections`: asks the accountant for the last 30 days' profit and
/// loss and extends it linearly to the next 30, 90 and 365 days. A straight line, not a
/// forecast: the answer says so.
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
