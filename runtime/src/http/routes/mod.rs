//! The API's routes, one module per area, and what they share (pagination, the
//! business a request is about, asking the business's agents).
//!
//! - `accounts`: `/api/auth/*` (sign-up, login, logout, profile, API tokens).
//! - `business`: `/api/business/*` (a user's tenants).
//! - `reports`: `/api/business/{id}/reports` (the CEO's board minutes, newest first).
//! - `payouts`: `/api/business/{id}/stripe` and `/stripe/onboard` (Stripe Connect).
//! - `guard`: `/api/business/{id}/guard`, `/api/business/{id}/approvals`,
//!   `/api/approvals/{id}/approve|reject` (the spending guard and its approval queue).
//! - `products`, `stores`, `marketing`, `social`, `finance`, `ai`: a business's data and
//!   its swarm's advice. Each of these routes names its business as `business_id` (in
//!   the body or the query) and first checks it is the caller's (see [`owned_business`]).
//! - `media`: `/api/media/*` (a business's files, within the tier's storage).
//! - `admin`: `/admin/*` (invites, private mode, users, analytics).
//! - `webhooks`: `/webhooks/stripe`, `/webhooks/shopify` (signed deliveries; built
//!   with the application's state, so registered by `http::router`).
//! - `throttling`: `/admin/users/{id}/tier`, `/admin/businesses`,
//!   `/admin/businesses/{id}/*` (tiers, every business, live swarm throttles and state).
//!
//! ## Adding a route
//! Register it only as `.routes(routes!(handler))` in its module's `routes()` (handlers
//! sharing a path in one `routes!(a, b)`): `routes!` takes the method and path from the
//! handler's `#[utoipa::path(get, path = "/admin/analytics", tag = "admin", params(…),
//! request_body = …, responses((status = 200, body = …), (status = 404, description =
//! "…")))]`, so nothing is served undocumented. Derive `ToSchema` on its body types
//! (`IntoParams` and `#[into_params(parameter_in = Query)]` on a query type); the
//! handler's doc comment becomes its summary. List only the route's own statuses:
//! security and the shared errors are added by `http::openapi` (`security(())` marks a
//! public route). Then add it to `EVERY_ROUTE` in `tests/tests/api_docs.rs`. A plain
//! axum `.route(...)` is refused by a test.

mod accounts;
mod admin;
mod ai;
mod business;
mod finance;
mod guard;
mod marketing;
mod media;
pub(crate) mod payouts;
mod products;
mod refunds;
mod reports;
mod social;
pub(crate) mod stores;
mod throttling;
pub(crate) mod webhooks;

pub(crate) use products::DELETED as DELETED_PRODUCT;
pub(crate) use throttling::swarm_view;

use std::time::Duration;

use boardroom_agents::{AgentError, Task};
use boardroom_memory::{Role, Tenant, TenantId};
use boardroom_supervisor::{SwarmError, TenantHandle};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use super::ApiState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::tiers;

/// Every API route, with its documentation.
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .merge(accounts::routes())
        .merge(business::routes())
        .merge(reports::routes())
        .merge(guard::routes())
        .merge(payouts::routes())
        .merge(refunds::routes())
        .merge(products::routes())
        .merge(stores::routes())
        .merge(marketing::routes())
        .merge(media::routes())
        .merge(social::routes())
        .merge(finance::routes())
        .merge(ai::routes())
        .merge(admin::routes())
        .merge(throttling::routes())
}

/// How long a route waits for an agent's answer. Well under the 30-second request
/// time-out, so a slow agent is a 503 the route chose, not a cut connection.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// `?business_id=`: the query of routes that only name their business.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BusinessQuery {
    /// The business (tenant) the request is about.
    business_id: i64,
}

/// `?business_id=&after=&limit=`: one page of a business's list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BusinessPageQuery {
    /// The business (tenant) the list belongs to.
    business_id: i64,
    /// The last id of the previous page.
    #[serde(default)]
    after: Option<i64>,
    /// Items per page, 1 to 100 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

impl BusinessPageQuery {
    /// One page of `rows` (ordered by id): those after `after`, at most `limit`.
    fn page<T>(&self, rows: impl IntoIterator<Item = T>, id_of: impl Fn(&T) -> i64) -> Result<Page<T>, ApiError> {
        let limit = PageQuery { after: self.after, limit: self.limit }.limit()?;
        let after = self.after.unwrap_or(i64::MIN);
        let take = usize::try_from(limit + 1).unwrap_or(usize::MAX);
        let rows: Vec<T> = rows.into_iter().filter(|row| id_of(row) > after).take(take).collect();
        Ok(Page::from_rows(rows, limit, id_of))
    }
}

/// `{"business_id": …}`: the body of routes that only name their business.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BusinessBody {
    /// The business (tenant) the request is about.
    business_id: i64,
}

/// The caller's business `id` (for the admin, also the demo business). Another user's
/// business answers 404 exactly like a missing one, so ids cannot be probed; every
/// business-data route calls this before it reads or writes anything.
pub(crate) async fn owned_business(state: &ApiState, caller: &CurrentUser, id: i64) -> Result<Tenant, ApiError> {
    let not_found = || ApiError::NotFound("business".into());
    let tenant = state.app.store.tenant(TenantId(id)).await?.ok_or_else(not_found)?;
    // The admin may also act on the demo business, which no person owns.
    let allowed = tenant.user_id == caller.user.id
        || (caller.user.role == Role::Admin && crate::demo::is_demo(&state.app.store, &tenant).await?);
    if allowed { Ok(tenant) } else { Err(not_found()) }
}

/// The tenant's swarm, activated if asleep, with its owner's tier's throttle (or an
/// admin's override). The caller has checked the tenant is one it may act on.
pub(crate) async fn activate_owned(state: &ApiState, tenant: &Tenant) -> Result<TenantHandle, ApiError> {
    tiers::activate(&state.app, tenant).await.map_err(|error| match error {
        tiers::ActivateError::Api(error) => error,
        tiers::ActivateError::Swarm(error) => swarm_error(error),
    })
}

/// Asks one of the tenant's agents (activating its swarm if it is asleep, with the
/// throttle of its owner's tier or an admin's override) and returns the answer, or the
/// agent's refusal as an HTTP error.
pub(crate) async fn ask_agent(
    state: &ApiState,
    tenant: TenantId,
    agent: &str,
    action: &str,
    input: Value,
) -> Result<Value, ApiError> {
    let tenant = state.app.store.tenant(tenant).await?.ok_or_else(|| ApiError::NotFound("business".into()))?;
    let swarm = activate_owned(state, &tenant).await?;
    swarm.call_with_timeout(agent, Task::new(action, input), AGENT_TIMEOUT).await.map_err(agent_error)
}

/// A swarm that cannot start: the business was checked just before, so a missing
/// tenant was deleted in between (404); anything else is temporary (503).
fn swarm_error(error: SwarmError) -> ApiError {
    match error {
        SwarmError::TenantNotFound(_) => ApiError::NotFound("business".into()),
        SwarmError::Store(error) => error.into(),
        SwarmError::HeldElsewhere { node, .. } => ApiError::HeldElsewhere(node),
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// An agent's refusal: its throttle is the tenant's rate limit (429 with
/// `Retry-After`), a restarting or stopped agent is temporary (503), input it rejects
/// is the client's (422); anything else is ours (500, logged).
fn agent_error(error: AgentError) -> ApiError {
    match error {
        AgentError::Throttled { reason, retry_after_secs } => ApiError::TooManyRequests {
            message: format!("the business's agents are throttled: {reason}"),
            retry_after: Duration::try_from_secs_f64(retry_after_secs.max(0.0)).unwrap_or(Duration::from_secs(1)),
        },
        AgentError::Unavailable(cause) => ApiError::Unavailable(cause),
        AgentError::InvalidInput(problem) => ApiError::invalid("body", problem),
        other => ApiError::Internal(anyhow::Error::new(other).context("an agent failed")),
    }
}

/// A time a client sent, checked to lie in the years RFC 3339 writes (1 to 9999):
/// what both databases store, and far enough from the ends of chrono's range that
/// arithmetic on it (a period of days before it) cannot overflow. 422 naming `field`
/// otherwise.
pub(crate) fn calendar_time(field: &str, time: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if (1..=9999).contains(&time.year()) {
        Ok(time)
    } else {
        Err(ApiError::invalid(field, "must be a time in the years 0001 to 9999"))
    }
}

/// Items per page when the client does not say.
const DEFAULT_PAGE_SIZE: i64 = 50;
/// Most items per page.
const MAX_PAGE_SIZE: i64 = 100;

/// `?after=ID&limit=N`: keyset pagination by id. `after` is the `next_after` of the
/// previous page (absent for the first page).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// The last id of the previous page.
    after: Option<i64>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

impl PageQuery {
    /// The page size, checked.
    fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::invalid_query("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
        }
    }
}

/// One page of a list: the items, and the `after` that fetches the next page (`null`
/// on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T> {
    /// This page's items, ordered by id.
    items: Vec<T>,
    /// Pass as `?after=` for the next page; `null` when there is none.
    next_after: Option<i64>,
}

/// A whole list, when it is short enough not to paginate.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Items<T> {
    /// Every item.
    pub(crate) items: Vec<T>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only says whether there is more.
    fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_after = if more { rows.last().map(id_of) } else { None };
        Self { items: rows, next_after }
    }

    /// Changes the items' form, keeping the page.
    fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_after: self.next_after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn an_agents_refusal_becomes_the_matching_http_answer() {
        let throttled =
            agent_error(AgentError::Throttled { reason: "messages per minute".into(), retry_after_secs: 1.5 });
        assert!(
            matches!(&throttled, ApiError::TooManyRequests { retry_after, .. } if *retry_after == Duration::from_millis(1500)),
            "{throttled:?}"
        );
        assert_eq!(agent_error(AgentError::Unavailable("restarting".into())).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            agent_error(AgentError::InvalidInput("quote: price".into())).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(agent_error(AgentError::Failed("boom".into())).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_page_points_at_the_next_one_only_when_there_is_more() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!((page.items.as_slice(), page.next_after), (&[1, 2][..], Some(2)));
        let last = Page::from_rows(vec![3], 2, |n| *n);
        assert_eq!((last.items.as_slice(), last.next_after), (&[3][..], None));
    }

    #[test]
    fn client_times_stay_in_the_years_rfc_3339_writes() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().expect("a time");
        assert!(calendar_time("to", at("2026-11-30T12:00:00Z")).is_ok());
        assert!(calendar_time("to", at("0001-01-01T00:00:00Z")).is_ok());
        assert!(calendar_time("to", DateTime::<Utc>::MIN_UTC).is_err());
        assert!(calendar_time("to", DateTime::<Utc>::MAX_UTC).is_err());
        let refused = calendar_time("scheduled_time", DateTime::<Utc>::MIN_UTC).expect_err("refused");
        assert!(matches!(&refused, ApiError::Validation(fields) if fields.contains_key("scheduled_time")));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageQuery::default().limit().ok(), Some(50));
        assert!(PageQuery { after: None, limit: Some(0) }.limit().is_err());
        assert!(PageQuery { after: None, limit: Some(101) }.limit().is_err());
    }
}
