//! `/api/business/*`: the caller's businesses (tenants).
//!
//! Every route is scoped to the caller: a business that belongs to someone else
//! answers 404 exactly like one that does not exist, so ids cannot be probed. The one
//! exception is the demo business (see `crate::demo`): `GET /api/business/demo` names
//! it to every account, and the admin may open it.
//!
//! The `autopilot` flag lives in the tenant's settings. Turning it on activates the
//! tenant's swarm and starts its autopilot cycle at once; turning it off pauses the
//! cycle. Changing the personality restarts a running swarm so it plans under the new
//! profile. Deleting a business stops its swarm first. `autopilot_interval_secs`
//! (seconds between cycles) is raised to the owner's tier's minimum, and the swarm
//! runs with the throttle its tier sets (see `tiers`).

use crate::http::crypto::CredentialSealer;
use crate::http::routes::payouts::connect_account;
use crate::http::routes::stores::{selling_account, shopify_connection};
use crate::markets::{DRY_RUN_NEEDS_A_SHOP, LIVE_PLATFORMS, MARKET_MODE, MarketMode, nothing_connected};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boardroom_memory::{MemoryError, NewTenant, Role, Tenant, TenantChanges, TenantId, Tier, UserId};
use boardroom_supervisor::SwarmStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageQuery};
use crate::demo::CopyError;
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Path, Query};
use crate::http::fields::{Checked, Domain, Name, PersonalityName};
use crate::http::tiers::{self, Counted, MAX_AUTOPILOT_INTERVAL_SECS};

/// The personality of a business created without one.
const DEFAULT_PERSONALITY: &str = "coachty";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(demo))
        .routes(routes!(show, update, remove))
}

/// A business as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct Business {
    /// Its id (the tenant's).
    id: TenantId,
    /// Its name.
    name: String,
    /// Its domain, such as `shop.example.com`.
    domain: Option<String>,
    /// The personality its agents plan under (lower case).
    personality: String,
    /// Whether its autopilot runs cycles on its own.
    autopilot: bool,
    /// Where its swarm acts: `sandbox` (the simulated market), `dry_run` (the sandbox,
    /// with the calls the connected shop would get recorded on the feed, not sent) or
    /// `live` (the connected shop).
    market_mode: MarketMode,
    /// Whether it is active.
    is_active: bool,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// The swarm's state when it is in memory, `null` when it is not running.
    swarm: Option<SwarmStatus>,
}

impl Business {
    fn of(tenant: Tenant, state: &ApiState) -> Self {
        let swarm = state.app.swarms.status(tenant.id);
        Self {
            id: tenant.id,
            autopilot: autopilot_of(&tenant),
            market_mode: MarketMode::of(&tenant),
            name: tenant.name,
            domain: tenant.domain,
            personality: tenant.personality,
            is_active: tenant.is_active,
            created_at: tenant.created_at,
            swarm,
        }
    }
}

fn autopilot_of(tenant: &Tenant) -> bool {
    tenant.settings["autopilot"] == true
}

/// `POST /api/business/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBusiness {
    /// The business's name.
    #[schema(value_type = Name)]
    name: Checked<Name>,
    /// Its domain, such as `shop.example.com`.
    #[serde(default)]
    #[schema(value_type = Option<Domain>)]
    domain: Option<Checked<Domain>>,
    /// The personality its agents plan under (default CoachTy).
    #[serde(default)]
    #[schema(value_type = Option<PersonalityName>)]
    personality: Option<Checked<PersonalityName>>,
    /// Start the autopilot at once (default `false`).
    #[serde(default)]
    autopilot: bool,
    /// Seconds between autopilot cycles: a whole number from 1 to 2592000 (30 days);
    /// raised to the tier's minimum (free 1800, pro 300, enterprise 60).
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 2592000, example = 3600)]
    autopilot_interval_secs: Option<IntervalSecs>,
    /// Start as a copy of the demo business as its last completed day left it
    /// (products, market, ledger, lessons) instead of from nothing (default `false`).
    #[serde(default)]
    start_from_demo: bool,
}

/// A requested autopilot interval: a whole number of seconds from 1 to
/// [`MAX_AUTOPILOT_INTERVAL_SECS`]. Anything else (0, a negative number, a fraction, a
/// number past the maximum or past `u64`, a string) is refused as the field's 422, so
/// no client number can wrap when it becomes a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntervalSecs(u64);

impl IntervalSecs {
    /// Checks a JSON value; the problem in words when it is not an interval.
    fn parse(value: &serde_json::Value) -> Result<Self, String> {
        value.as_u64().filter(|secs| (1..=MAX_AUTOPILOT_INTERVAL_SECS).contains(secs)).map(Self).ok_or_else(|| {
            format!("must be a whole number of seconds from 1 to {MAX_AUTOPILOT_INTERVAL_SECS} (30 days)")
        })
    }

    /// The interval the tier allows: raised to its minimum.
    fn for_tier(self, tier: Tier) -> u64 {
        tiers::autopilot_interval(tier, Duration::from_secs(self.0)).as_secs()
    }
}

impl<'de> Deserialize<'de> for IntervalSecs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Any JSON number (or other value) is read first, so the answer names the range
        // instead of serde's "expected u64", and a number past `u64` is refused alike.
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// Creates a business; with `autopilot` its swarm starts working at once.
///
/// The tier limits how many businesses an account has (free 1, pro 5, enterprise
/// unlimited): one more is a 402 `tier_limit`, even when requests race.
#[utoipa::path(
    post,
    path = "/api/business/create",
    tag = "business",
    request_body = CreateBusiness,
    responses(
        (status = 201, description = "The new business.", body = Business),
        (status = 402, description = "`tier_limit`: the tier's businesses per account are reached."),
        (status = 422, description = "`validation`: a field is wrong; `start_from_demo` when this installation runs \
            no demo business."),
        (status = 503, description = "`unavailable`: the demo business stayed mid-cycle; try again (see `Retry-After`)."),
    )
)]
async fn create(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreateBusiness>,
) -> Result<Response, ApiError> {
    let mut problems = Fields::new();
    let name = request.name.check(&mut problems, "name");
    let domain = Checked::check_optional(request.domain, &mut problems, "domain");
    let personality = Checked::check_optional(request.personality, &mut problems, "personality");
    let (Some(name), Some(domain), Some(personality)) = (name, domain, personality) else {
        return Err(ApiError::Validation(problems));
    };
    let new = NewTenant {
        user_id: caller.user.id,
        name: name.into_inner(),
        domain: domain.map(Domain::into_inner),
        personality: personality.map_or_else(|| DEFAULT_PERSONALITY.to_owned(), PersonalityName::into_inner),
        settings: match request.autopilot_interval_secs {
            Some(secs) => json!({
                "autopilot": request.autopilot,
                "autopilot_interval_secs": secs.for_tier(caller.user.tier),
            }),
            None => json!({ "autopilot": request.autopilot }),
        },
    };
    let tier = caller.user.tier;
    let limit = tiers::count_limit(tier, Counted::Businesses);
    let tenant = if request.start_from_demo {
        crate::demo::start_from_demo(&state.app, new, limit).await.map_err(|error| match error {
            CopyError::NoDemo => ApiError::invalid("start_from_demo", error.to_string()),
            CopyError::Busy => ApiError::Unavailable(error.to_string()),
            CopyError::Store(error) => tiers::count_error(tier, Counted::Businesses)(error),
        })?
    } else {
        state
            .app
            .store
            .create_tenant_within_limit(new, limit)
            .await
            .map_err(tiers::count_error(tier, Counted::Businesses))?
    };
    businesses_changed(&state, caller.user.id);
    tracing::info!(tenant = %tenant.id, user = %caller.user.id, "business created");
    if request.autopilot {
        start_autopilot(&state, &tenant, caller.user.tier).await;
    }
    Ok((StatusCode::CREATED, Json(Business::of(tenant, &state))).into_response())
}

/// The caller's businesses, one page at a time.
#[utoipa::path(
    get,
    path = "/api/business/list",
    tag = "business",
    params(PageQuery),
    responses((status = 200, description = "One page of the caller's businesses.", body = Page<Business>))
)]
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Business>>, ApiError> {
    let limit = page.limit()?;
    let key = (caller.user.id, page.after, limit);
    let rows = match state.business_lists.get(&key) {
        Some(rows) => rows,
        None => {
            let rows =
                state.app.store.tenants_of_user_page(caller.user.id, page.after.map(TenantId), limit + 1).await?;
            state.business_lists.put(key, rows)
        }
    };
    let page = Page::from_rows(rows.to_vec(), limit, |tenant| tenant.id.0).map(|tenant| Business::of(tenant, &state));
    Ok(Json(page))
}

/// `GET /api/business/demo`.
#[derive(Debug, Serialize, ToSchema)]
struct DemoBusiness {
    /// The demo business.
    business: Business,
    /// Whether the caller may open it (the admin may; an owner may start from a copy).
    can_open: bool,
}

/// The demo business a fresh install runs on the sandbox market, which the admin can
/// open and watch.
#[utoipa::path(
    get,
    path = "/api/business/demo",
    tag = "business",
    responses(
        (status = 200, description = "The demo business, and whether the caller may open it.", body = DemoBusiness),
        (status = 404, description = "`not_found`: this installation runs no demo business."),
    )
)]
async fn demo(State(state): State<ApiState>, caller: CurrentUser) -> Result<Json<DemoBusiness>, ApiError> {
    let tenant =
        crate::demo::find(&state.app.store).await?.ok_or_else(|| ApiError::NotFound("demo business".into()))?;
    let can_open = caller.user.role == Role::Admin;
    Ok(Json(DemoBusiness { business: Business::of(tenant, &state), can_open }))
}

/// Drops the remembered business lists of `user`: every route that creates, changes or
/// deletes a business calls this, so its owner's next list shows the change.
pub(crate) fn businesses_changed(state: &ApiState, user: UserId) {
    state.business_lists.forget_where(move |(owner, _, _), _| *owner == user);
}

/// One of the caller's businesses, with its swarm's state.
#[utoipa::path(
    get,
    path = "/api/business/{id}",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The business.", body = Business),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn show(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Business>, ApiError> {
    let tenant = owned_tenant(&state, caller.user.id, TenantId(id)).await?;
    Ok(Json(Business::of(tenant, &state)))
}

/// `PUT /api/business/{id}`: absent fields are kept; `"domain": null` clears the domain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBusiness {
    /// A new name.
    #[serde(default)]
    #[schema(value_type = Option<Name>)]
    name: Option<Checked<Name>>,
    /// A new domain; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Domain>)]
    domain: Option<Option<Checked<Domain>>>,
    /// A new personality; changing it restarts a running swarm.
    #[serde(default)]
    #[schema(value_type = Option<PersonalityName>)]
    personality: Option<Checked<PersonalityName>>,
    /// `true` starts the autopilot, `false` pauses it.
    #[serde(default)]
    autopilot: Option<bool>,
    /// Seconds between autopilot cycles: a whole number from 1 to 2592000 (30 days);
    /// raised to the tier's minimum (free 1800, pro 300, enterprise 60).
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 2592000, example = 3600)]
    autopilot_interval_secs: Option<IntervalSecs>,
    /// Where the swarm acts: `sandbox`, `dry_run` or `live`. `live` needs a connected
    /// Shopify shop or Gumroad account (`POST /api/stores/connect`; the newest one is
    /// where it sells) or, without one, a Stripe account
    /// (`POST /api/business/{id}/stripe/onboard`) to sell through; `dry_run` needs a
    /// shop. Changing it restarts a running swarm.
    #[serde(default)]
    market_mode: Option<MarketMode>,
}

/// A field that is present (even as `null`) becomes `Some`; with `#[serde(default)]`
/// an absent one stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Changes a business; absent fields are kept.
#[utoipa::path(
    put,
    path = "/api/business/{id}",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = UpdateBusiness,
    responses(
        (status = 200, description = "The business as changed.", body = Business),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 422, description = "`validation`: a field is wrong, or `market_mode` is `live` with neither a \
            usable connected Shopify shop or Gumroad account nor a Stripe account, or `dry_run` without a usable \
            connected shop."),
    )
)]
async fn update(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<UpdateBusiness>,
) -> Result<Json<Business>, ApiError> {
    let id = TenantId(id);
    let current = owned_tenant(&state, caller.user.id, id).await?;
    let mut problems = Fields::new();
    let name = Checked::check_optional(request.name, &mut problems, "name");
    let domain = match request.domain {
        None => Some(None),
        Some(None) => Some(Some(None)),
        Some(Some(domain)) => domain.check(&mut problems, "domain").map(|domain| Some(Some(domain.into_inner()))),
    };
    let personality = Checked::check_optional(request.personality, &mut problems, "personality");
    let (Some(name), Some(domain), Some(personality)) = (name, domain, personality) else {
        return Err(ApiError::Validation(problems));
    };
    let mut changes = TenantChanges {
        name: name.map(Name::into_inner),
        domain,
        personality: personality.map(PersonalityName::into_inner),
        ..TenantChanges::default()
    };
    let mut settings = current.settings.clone();
    if !settings.is_object() {
        settings = json!({});
    }
    if let Some(autopilot) = request.autopilot {
        settings["autopilot"] = json!(autopilot);
    }
    if let Some(secs) = request.autopilot_interval_secs {
        settings["autopilot_interval_secs"] = json!(secs.for_tier(caller.user.tier));
    }
    if let Some(mode) = request.market_mode {
        // As the swarm will choose: a dry run rehearses a shop; live sells on the newest
        // shop or Gumroad account, else through the Stripe account (which needs the
        // platform's key).
        let sealer = CredentialSealer::from_settings(&state.app.settings);
        let store = &state.app.store;
        match mode {
            MarketMode::Sandbox => {}
            MarketMode::DryRun => match shopify_connection(store, &sealer, id).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(ApiError::invalid("market_mode", DRY_RUN_NEEDS_A_SHOP)),
                Err(why) => return Err(ApiError::invalid("market_mode", why)),
            },
            MarketMode::Live => match selling_account(store, &sealer, id, &LIVE_PLATFORMS).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let selling_through_stripe =
                        state.app.settings.stripe.is_some() && connect_account(store, id).await?.is_some();
                    if !selling_through_stripe {
                        return Err(ApiError::invalid("market_mode", nothing_connected(id)));
                    }
                }
                Err(why) => return Err(ApiError::invalid("market_mode", why)),
            },
        }
        settings[MARKET_MODE] = json!(mode.as_str());
    }
    if changes.personality.is_some()
        && let Some(object) = settings.as_object_mut()
    {
        // A custom profile in the settings wins over the name; choosing a built-in one
        // through the API replaces it.
        object.remove("personality_profile");
    }
    if settings != current.settings {
        changes.settings = Some(settings);
    }
    let personality_changed = changes.personality.as_ref().is_some_and(|new| *new != current.personality)
        || current.settings.get("personality_profile").is_some() && changes.personality.is_some();
    let market_changed = request.market_mode.is_some_and(|mode| mode != MarketMode::of(&current));
    let updated = state.app.store.update_tenant(id, caller.user.id, changes).await.map_err(business_not_found)?;
    businesses_changed(&state, caller.user.id);

    // The swarm follows the new settings.
    // A swarm takes its personality and its market when it starts.
    let restarted = (personality_changed || market_changed) && state.app.swarms.passivate(id).await;
    if let Some(swarm) = state.app.swarms.get(id)
        && request.autopilot_interval_secs.is_some()
    {
        tiers::tenant_cadence(&state.app, &updated, caller.user.tier).apply(&swarm);
    }
    if autopilot_of(&updated) && (request.autopilot == Some(true) || restarted) {
        start_autopilot(&state, &updated, caller.user.tier).await;
    } else if request.autopilot == Some(false)
        && let Some(swarm) = state.app.swarms.get(id)
    {
        swarm.pause_autopilot().await;
    }
    tracing::info!(tenant = %id, user = %caller.user.id, "business updated");
    Ok(Json(Business::of(updated, &state)))
}

/// Deletes a business and everything that is its, after stopping its swarm.
#[utoipa::path(
    delete,
    path = "/api/business/{id}",
    tag = "business",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn remove(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let id = TenantId(id);
    owned_tenant(&state, caller.user.id, id).await?;
    if state.app.swarms.passivate(id).await {
        // The swarm's last events are persisted before its tenant's rows go, so the
        // event log never writes rows for a deleted tenant.
        state.app.events.flush().await?;
    }
    state.app.store.delete_tenant(id, caller.user.id).await.map_err(business_not_found)?;
    businesses_changed(&state, caller.user.id);
    tracing::info!(tenant = %id, user = %caller.user.id, "business deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// One of `owner`'s tenants; 404 for another user's as for a missing one.
async fn owned_tenant(state: &ApiState, owner: UserId, id: TenantId) -> Result<Tenant, ApiError> {
    state
        .app
        .store
        .tenant(id)
        .await?
        .filter(|tenant| tenant.user_id == owner)
        .ok_or_else(|| ApiError::NotFound("business".into()))
}

fn business_not_found(error: MemoryError) -> ApiError {
    match error {
        MemoryError::NotFound(_) => ApiError::NotFound("business".into()),
        other => other.into(),
    }
}

/// Activates the tenant's swarm and (re)starts its autopilot. A swarm that cannot start
/// is logged: the business itself was saved, and the next start-up retries.
async fn start_autopilot(state: &ApiState, tenant: &Tenant, tier: Tier) {
    let cadence = tiers::tenant_cadence(&state.app, tenant, tier);
    match tiers::activate(&state.app, tenant).await {
        Ok(swarm) => {
            cadence.start(&swarm);
            swarm.resume_autopilot().await;
        }
        Err(error) => tracing::error!(%error, tenant = %tenant.id, "autopilot turned on but the swarm did not start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_a_whole_number_of_seconds_up_to_30_days() {
        use serde_json::json;
        assert_eq!(IntervalSecs::parse(&json!(1)), Ok(IntervalSecs(1)));
        assert_eq!(IntervalSecs::parse(&json!(2_592_000)), Ok(IntervalSecs(2_592_000)));
        let two_to_the_64: serde_json::Value = serde_json::from_str("18446744073709551616").expect("a number");
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!(2_592_001),
            json!(1_u64 << 63),
            json!(u64::MAX),
            two_to_the_64,
            json!("60"),
            json!(true),
        ] {
            let problem = IntervalSecs::parse(&bad).expect_err("refused");
            assert!(problem.contains("from 1 to 2592000"), "{bad}: {problem}");
        }
        // Raised to the tier's minimum, never past the maximum.
        assert_eq!(IntervalSecs(1).for_tier(Tier::Free), 1800);
        assert_eq!(IntervalSecs(600).for_tier(Tier::Pro), 600);
        assert_eq!(IntervalSecs(2_592_000).for_tier(Tier::Enterprise), 2_592_000);
    }
}
