//! The dashboard's charts, from the tenant's own records, in one of two time scales.
//!
//! `GET /api/live/{id}/series?minutes=60`: equal buckets of wall time ending now.
//!
//! - `revenue`, `ad_spend` (as a positive amount) and `profit` (every ledger row summed:
//!   revenue less refunds, fees, cost of goods and ad spend) come from the ledger, exact
//!   decimals answered as strings.
//! - `events` and `llm_tokens` come from the event log: events per bucket, and the
//!   prompt and completion tokens of its `llm.call` events. Only the newest
//!   [`EVENT_SAMPLE`] events are read, so a very busy tenant's older buckets may count
//!   short; the answer says so with `events_truncated`.
//!
//! `GET /api/live/{id}/series/days?days=30`: one point per simulated day, the last
//! `days` of them, for a business on
//! the sandbox market, where a cycle is a day and a day may pass in a minute (an hour
//! of wall time would show one spike, not a curve). Each day's revenue, profit (net) and
//! ad spend are those its `cycle.completed` event booked; events and LLM tokens are
//! counted from the day's `cycle.started` to the next, over the same newest events.

use axum::extract::State;
use boardroom_agents::accountant::category;
use std::collections::BTreeMap;

use boardroom_memory::{SharedStore, SwarmEvent, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::routes::owned_business;

/// Most events read to count events and tokens.
const EVENT_SAMPLE: i64 = 5_000;
/// The longest window: a week.
const MAX_MINUTES: i64 = 7 * 24 * 60;
/// Buckets per window.
const BUCKETS: i64 = 60;

/// The most simulated days one answer covers.
const MAX_DAYS: i64 = 365;

/// `?minutes=`: the window, 1 minute to a week (default an hour).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SeriesQuery {
    /// The window in minutes, 1 to 10080 (default 60).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10080)]
    minutes: Option<i64>,
}

/// `?days=`: how many simulated days, 1 to 365 (default 30).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DaysQuery {
    /// The last 1 to 365 simulated days (default 30).
    #[serde(default)]
    #[param(minimum = 1, maximum = 365)]
    days: Option<i64>,
}

/// One bucket's figures.
#[derive(Debug, Default, Clone, PartialEq)]
struct Bucket {
    revenue: Decimal,
    ad_spend: Decimal,
    profit: Decimal,
    events: u64,
    llm_tokens: u64,
}

/// The charts' series over the last `minutes`: revenue, profit and ad spend from the
/// ledger, events and LLM tokens from the log, in 60 buckets.
#[utoipa::path(
    get,
    path = "/api/live/{id}/series",
    tag = "live",
    params(("id" = i64, Path, description = "The business's id."), SeriesQuery),
    responses(
        (status = 200, description = "Revenue, profit, ad spend, events and LLM tokens per time bucket.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
pub(super) async fn series(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<SeriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let store = &state.app.store;
    let minutes = query.minutes.unwrap_or(60);
    // Out of the range the document states: a bad query value, as `limit` is.
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::invalid_query("minutes", format!("must be between 1 and {MAX_MINUTES}")));
    }
    let to = Utc::now();
    let from = to - TimeDelta::minutes(minutes);
    let width = TimeDelta::milliseconds(minutes * 60_000 / BUCKETS);
    let mut buckets = vec![Bucket::default(); BUCKETS as usize];
    let index = |at: DateTime<Utc>| -> Option<usize> {
        if at < from || at >= to {
            return None;
        }
        let offset = (at - from).num_milliseconds() / width.num_milliseconds().max(1);
        usize::try_from(offset).ok().map(|i| i.min(BUCKETS as usize - 1))
    };

    for entry in store.ledger_entries(tenant.id, from, to).await? {
        let Some(i) = index(entry.recorded_at) else { continue };
        let bucket = &mut buckets[i];
        bucket.profit += entry.amount;
        match entry.category.as_str() {
            category::REVENUE => bucket.revenue += entry.amount,
            category::AD_SPEND => bucket.ad_spend -= entry.amount,
            _ => {}
        }
    }

    let first_read = read_recent_events(store, tenant.id, |event| {
        if let Some(i) = index(event.occurred_at) {
            buckets[i].count(event);
        }
    })
    .await?;
    let mut truncated = false;
    if first_read > 0
        && let Some(oldest) = store.events_after(tenant.id, first_read, 1).await?.first()
    {
        truncated = oldest.occurred_at > from;
    }

    let points: Vec<Value> = buckets
        .iter()
        .enumerate()
        .map(|(i, bucket)| {
            json!({
                "at": from + width * i as i32,
                "revenue": bucket.revenue,
                "profit": bucket.profit,
                "ad_spend": bucket.ad_spend,
                "events": bucket.events,
                "llm_tokens": bucket.llm_tokens,
            })
        })
        .collect();
    Ok(Json(json!({
        "from": from,
        "to": to,
        "bucket_secs": width.num_seconds(),
        "events_truncated": truncated,
        "points": points,
    })))
}

impl Bucket {
    /// Counts one event, and the LLM tokens of an `llm.call`.
    fn count(&mut self, event: &SwarmEvent) {
        self.events += 1;
        if event.kind == "llm.call" {
            let tokens = |field: &str| event.data[field].as_u64().unwrap_or(0);
            self.llm_tokens += tokens("prompt_tokens") + tokens("completion_tokens");
        }
    }
}

/// Hands the tenant's newest [`EVENT_SAMPLE`] events to `each`, oldest first; answers
/// the sequence number the reading started after (0 when it read them all).
async fn read_recent_events(
    store: &SharedStore,
    tenant: TenantId,
    mut each: impl FnMut(&SwarmEvent),
) -> Result<i64, ApiError> {
    let last = store.last_event_seq(tenant).await?;
    let first_read = (last - EVENT_SAMPLE).max(0);
    let mut after = first_read;
    while after < last {
        let page = store.events_after(tenant, after, 1_000).await?;
        let Some(newest) = page.last() else { break };
        after = newest.seq;
        page.iter().for_each(&mut each);
    }
    Ok(first_read)
}

/// The charts' series over the last `days` simulated days, a point per day: for a
/// business on the sandbox market, where a cycle is a day.
#[utoipa::path(
    get,
    path = "/api/live/{id}/series/days",
    tag = "live",
    params(("id" = i64, Path, description = "The business's id."), DaysQuery),
    responses(
        (status = 200, description = "Revenue, profit, ad spend, events and LLM tokens per simulated day.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
pub(super) async fn days(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<DaysQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let days = query.days.unwrap_or(30);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid_query("days", format!("must be between 1 and {MAX_DAYS}")));
    }
    Ok(Json(daily_series(&state.app.store, tenant.id, days).await?))
}

/// A point per simulated day (a cycle is a day: cycle N runs the world to day N), the
/// last `days` of them up to the newest day begun, with `completed` false for a day
/// whose cycle has not closed yet.
async fn daily_series(store: &SharedStore, tenant: TenantId, days: i64) -> Result<Value, ApiError> {
    let mut by_day: BTreeMap<i64, (Bucket, bool)> = BTreeMap::new();
    let mut today = None;
    let money = |outcome: &Value, field: &str| -> Decimal {
        serde_json::from_value(outcome[field].clone()).unwrap_or(Decimal::ZERO)
    };
    read_recent_events(store, tenant, |event| {
        if matches!(event.kind.as_str(), "cycle.started" | "cycle.resumed") {
            today = event.data["cycle"].as_i64().or(today);
        }
        let Some(day) = today else { return };
        let (bucket, completed) = by_day.entry(day).or_default();
        bucket.count(event);
        if event.kind == "cycle.completed" {
            let outcome = &event.data["outcome"];
            bucket.revenue = money(outcome, "revenue");
            bucket.profit = money(outcome, "net");
            bucket.ad_spend = money(outcome, "ad_spend");
            *completed = true;
        }
    })
    .await?;
    let newest = by_day.keys().next_back().copied().unwrap_or(0);
    let first = (newest - days + 1).max(1);
    let points: Vec<Value> = (first..=newest)
        .map(|day| {
            let (bucket, completed) = by_day.get(&day).cloned().unwrap_or_default();
            json!({
                "day": day,
                "completed": completed,
                "revenue": bucket.revenue,
                "profit": bucket.profit,
                "ad_spend": bucket.ad_spend,
                "events": bucket.events,
                "llm_tokens": bucket.llm_tokens,
            })
        })
        .collect();
    Ok(json!({
        "unit": "day",
        "today": newest,
        "days_completed": points.iter().filter(|p| p["completed"] == true).count(),
        "points": points,
    }))
}
