//! `/admin/users/{id}/tier` and `/admin/businesses/{id}/*`: an admin's live controls
//! over tiers and swarms. Every route needs an admin account (anyone else gets 403,
//! anonymous callers 401). Changes apply to a running swarm at once: its throttle
//! judges the very next message by the new limits, and each change is an event.

use std::num::NonZeroU32;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use boardroom_memory::{Tenant, TenantChanges, TenantId, Tier, User, UserId};
use boardroom_supervisor::{TenantHandle, ThrottleLimits};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Page, PageQuery, swarm_error};
use crate::http::ApiState;
use crate::http::auth::AdminUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::tiers::{self, ActivateError, OVERRIDE_AGENT, OVERRIDE_KEY};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/admin/users/{id}/tier", put(set_tier))
        .route("/admin/businesses", get(list_businesses))
        .route("/admin/businesses/{id}/swarm", get(show_swarm).post(control_swarm))
        .route("/admin/businesses/{id}/throttle", put(set_throttle).delete(clear_throttle))
}

/// `PUT /admin/users/{id}/tier`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetTier {
    tier: Tier,
}

/// Changes a user's tier; the running swarms of their businesses take the new tier's
/// throttle at once (unless an admin override holds them).
async fn set_tier(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetTier>,
) -> Result<Json<User>, ApiError> {
    let id = UserId(id);
    let store = &state.app.store;
    let user = store.user(id).await?.ok_or_else(|| ApiError::NotFound("user".into()))?;
    store.set_user_tier(id, request.tier).await?;
    for tenant in store.tenants_of_user(id).await? {
        if let Some(swarm) = state.app.swarms.get(tenant.id) {
            let limits = tiers::wanted_limits(&state.app, &tenant).await?;
            tiers::apply_limits(&swarm, limits).await;
        }
    }
    tracing::info!(admin = %admin.user.id, user = %id, tier = tiers::tier_name(request.tier), "tier changed");
    Ok(Json(User { tier: request.tier, ..user }))
}

/// `GET /admin/businesses?after=&limit=`: every business, with its swarm's state.
async fn list_businesses(
    State(state): State<ApiState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Value>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.app.store.list_tenants(page.after.map(TenantId), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |tenant| tenant.id.0);
    let mut items = Vec::with_capacity(page.items.len());
    for tenant in &page.items {
        let mut view = swarm_view(&state, tenant).await?;
        view["name"] = json!(tenant.name);
        view["personality"] = json!(tenant.personality);
        items.push(view);
    }
    Ok(Json(Page { items, next_after: page.next_after }))
}

/// Any business, by id (admins see every tenant).
async fn business(state: &ApiState, id: i64) -> Result<Tenant, ApiError> {
    state.app.store.tenant(TenantId(id)).await?.ok_or_else(|| ApiError::NotFound("business".into()))
}

async fn activate(state: &ApiState, tenant: &Tenant) -> Result<TenantHandle, ApiError> {
    tiers::activate(&state.app, tenant).await.map_err(|error| match error {
        ActivateError::Api(error) => error,
        ActivateError::Swarm(error) => swarm_error(error),
    })
}

/// The swarm as an admin sees it (and, through the live view, its owner).
pub(crate) async fn swarm_view(state: &ApiState, tenant: &Tenant) -> Result<Value, ApiError> {
    let owner = state.app.store.user(tenant.user_id).await?;
    let tier = owner.map(|owner| owner.tier).unwrap_or_default();
    let overridden = tiers::throttle_override(&state.app, tenant.id).await?;
    let swarm = state.app.swarms.get(tenant.id);
    let running = swarm.as_ref().map(|swarm| {
        let autopilot = swarm.autopilot();
        let (waited, refused) = swarm.throttle().counters();
        json!({
            "status": swarm.status(),
            "autopilot": {
                "running": autopilot.running,
                "paused": autopilot.paused,
                "interval_secs": autopilot.interval.as_secs(),
                "cycles_run": autopilot.cycles_run,
            },
            "throttle": {
                "limits": limits_json(&swarm.throttle().limits()),
                "counters": { "waited": waited, "refused": refused },
            },
        })
    });
    Ok(json!({
        "business_id": tenant.id,
        "owner_id": tenant.user_id,
        "tier": tier,
        "autopilot_setting": tenant.settings["autopilot"] == true,
        "status": running.as_ref().map_or(json!("passivated"), |running| running["status"].clone()),
        "autopilot": running.as_ref().map_or(Value::Null, |running| running["autopilot"].clone()),
        "throttle": running.as_ref().map_or(Value::Null, |running| running["throttle"].clone()),
        "tier_limits": tiers::describe(tier),
        "override": overridden.as_ref().map(limits_json),
    }))
}

fn limits_json(limits: &ThrottleLimits) -> Value {
    json!({
        "messages_per_minute": limits.messages_per_minute.map(NonZeroU32::get),
        "burst": limits.burst.map(NonZeroU32::get),
        "max_wait_ms": u64::try_from(limits.max_wait.as_millis()).unwrap_or(u64::MAX),
    })
}

/// `GET /admin/businesses/{id}/swarm`: status, autopilot, throttle limits and counters.
async fn show_swarm(
    State(state): State<ApiState>,
    AdminUser(_): AdminUser,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let tenant = business(&state, id).await?;
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// `PUT /admin/businesses/{id}/throttle`: `messages_per_minute` `null` is unlimited.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetThrottle {
    messages_per_minute: Option<u32>,
    #[serde(default)]
    burst: Option<u32>,
}

/// Stores the override and applies it to the swarm (activating it if needed).
async fn set_throttle(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetThrottle>,
) -> Result<Json<Value>, ApiError> {
    let tenant = business(&state, id).await?;
    if request.messages_per_minute == Some(0) {
        return Err(ApiError::invalid("messages_per_minute", "must be at least 1, or null for unlimited"));
    }
    if request.burst == Some(0) {
        return Err(ApiError::invalid("burst", "must be at least 1"));
    }
    let content = json!({ "messages_per_minute": request.messages_per_minute, "burst": request.burst });
    state.app.store.put_agent_memory(tenant.id, OVERRIDE_AGENT, OVERRIDE_KEY, content, None).await?;
    // Activation applies the override just stored.
    activate(&state, &tenant).await?;
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, "throttle override set");
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// `DELETE /admin/businesses/{id}/throttle`: back to the owner's tier.
async fn clear_throttle(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let tenant = business(&state, id).await?;
    state.app.store.put_agent_memory(tenant.id, OVERRIDE_AGENT, OVERRIDE_KEY, Value::Null, None).await?;
    if let Some(swarm) = state.app.swarms.get(tenant.id) {
        tiers::apply_limits(&swarm, tiers::wanted_limits(&state.app, &tenant).await?).await;
    }
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, "throttle override cleared");
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// `POST /admin/businesses/{id}/swarm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlSwarm {
    action: SwarmAction,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SwarmAction {
    /// Hold the autopilot's cycles.
    Pause,
    /// Let them run again (a cycle starts now).
    Resume,
    /// Passivate the swarm and turn its autopilot off.
    Stop,
}

async fn control_swarm(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<ControlSwarm>,
) -> Result<Json<Value>, ApiError> {
    let tenant = business(&state, id).await?;
    match request.action {
        SwarmAction::Pause => activate(&state, &tenant).await?.pause_autopilot().await,
        SwarmAction::Resume => activate(&state, &tenant).await?.resume_autopilot().await,
        SwarmAction::Stop => {
            let mut settings = if tenant.settings.is_object() { tenant.settings.clone() } else { json!({}) };
            settings["autopilot"] = json!(false);
            let changes = TenantChanges { settings: Some(settings), ..TenantChanges::default() };
            state.app.store.update_tenant(tenant.id, tenant.user_id, changes).await?;
            state.app.swarms.passivate(tenant.id).await;
        }
    }
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, action = ?request.action, "swarm controlled");
    let tenant = business(&state, id).await?;
    Ok(Json(swarm_view(&state, &tenant).await?))
}
