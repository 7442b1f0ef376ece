//! `GET /api/business/{id}/reports`: the board minutes the CEO writes when each
//! autopilot cycle ends, newest first.
//!
//! A report is the cycle's headline and minutes, the facts they were written from
//! (`data`: the market, the launch, marketing, price moves, the day's money, the
//! reinvestment, the lessons) and `source`, who wrote the words: `offline` (composed
//! from the agents' own reasons) or `llm:<model>`. Newest first suits a history read
//! from the top, so pages go backwards: `?before=` is the `next_before` of the page
//! before, a cycle number. Another user's business answers 404 like a missing one.

use axum::extract::State;
use boardroom_memory::CycleReport;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(reports))
}

/// `?before=&limit=`: one page of a business's reports, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportsQuery {
    /// Only cycles before this one: the `next_before` of the previous page (absent for
    /// the newest page).
    #[serde(default)]
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Items per page, 1 to 100 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// One page of reports, newest cycle first.
#[derive(Debug, Serialize, ToSchema)]
struct ReportPage {
    /// This page's reports, newest cycle first.
    items: Vec<CycleReport>,
    /// Pass as `?before=` for the next (older) page; `null` when there is none.
    next_before: Option<i64>,
}

/// A business's board minutes, one per autopilot cycle, newest first.
///
/// Each report has a headline, the minutes (short paragraphs separated by blank lines),
/// the facts they were written from and who wrote them (`source`: `offline` or
/// `llm:<model>`).
#[utoipa::path(
    get,
    path = "/api/business/{id}/reports",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id."), ReportsQuery),
    responses(
        (status = 200, description = "One page of reports, newest cycle first.", body = ReportPage),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn reports(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<ReportsQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    // The same page sizes as every list.
    let limit = PageQuery { after: None, limit: query.limit }.limit()?;
    if query.before.is_some_and(|before| before < 1) {
        return Err(ApiError::invalid_query("before", "must be a cycle number, 1 or more"));
    }
    let mut items = state.app.store.cycle_reports(tenant.id, query.before, limit + 1).await?;
    // The extra report only says whether there is an older page.
    let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_before = if more { items.last().map(|report| report.cycle) } else { None };
    Ok(Json(ReportPage { items, next_before }))
}
