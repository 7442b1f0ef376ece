//! `/admin/users/{id}/tier` and `/admin/businesses/{id}/*`: an admin's live controls
//! over tiers and swarms. Every route needs an admin account (anyone else gets 403,
//! anonymous callers 401). Changes apply to a running swarm at once: its throttle
//! judges the very next message by the new limits, and each change is an event.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use boardroom_memory::{Tenant, TenantChanges, TenantId, Tier, User, UserId};
use boardroom_supervisor::{TenantHandle, limits_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::swarm_error;
use crate::http::ApiState;
use crate::http::auth::AdminUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::tiers::{self, ActivateError, OVERRIDE_AGENT, OVERRIDE_KEY};

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/admin/users/{id}/tier", put(set_tier))
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
    state.auth_cache.forget_user(id);
    for tenant in store.tenants_of_user(id).await? {
        if let Some(swarm) = state.app.swarms.get(tenant.id) {
            let limits = tiers::wanted_limits(&state.app, &tenant).await?;
            tiers::apply_limits(&swarm, limits).await;
        }
    }
    tracing::info!(admin = %admin.user.id, user = %id, tier = tiers::tier_name(request.tier), "tier changed");
    Ok(Json(User { tier: request.tier, ..user }))
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

/// The swarm as an admin sees it.
async fn swarm_view(state: &ApiState, tenant: &Tenant) -> Result<Value, ApiError> {
    let owner = state.app.store.user(tenant.user_id).await?;
    let tier = owner.map(|owner| owner.tier).unwrap_or_default();
    let overridden = tiers::throttle_override(&state.app, tenant.id).await?;
    let swarm = state.app.swarms.get(tenant.id);
    let running = swarm.as_ref().map(|swarm| {
        let autopilot = swarm.autopilot();
        let (waited, refused) = swarm.throttle().counters();
        let (llm_calls, adapter_calls) = swarm.throttle().in_flight();
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
                "rate_kept_in": swarm.throttle().rate_backend(),
                "counters": { "waited": waited, "refused": refused },
                "in_flight": { "llm_calls": llm_calls, "adapter_calls": adapter_calls },
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
        "override": overridden,
    }))
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

/// `PUT /admin/businesses/{id}/throttle`: the limits to replace. A limit sent as
/// `null` is unlimited; one left out keeps the owner's tier's value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetThrottle {
    #[serde(default, deserialize_with = "present")]
    messages_per_minute: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    burst: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    llm_tokens_per_day: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    concurrent_llm_calls: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    concurrent_adapter_calls: Option<Option<u32>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

impl SetThrottle {
    /// The override to store: only the fields sent. Zero is refused where it would
    /// stop the swarm outright (null is the way to say unlimited).
    fn to_override(&self) -> Result<Value, ApiError> {
        let mut content = serde_json::Map::new();
        let mut put = |name: &'static str, value: Option<Option<u64>>, zero_ok: bool| {
            match value {
                None => {}
                Some(Some(0)) if !zero_ok => {
                    return Err(ApiError::invalid(name, "must be at least 1, or null for unlimited"));
                }
                Some(value) => {
                    content.insert(name.to_owned(), json!(value));
                }
            }
            Ok(())
        };
        let wide = |value: Option<Option<u32>>| value.map(|inner| inner.map(u64::from));
        put("messages_per_minute", wide(self.messages_per_minute), false)?;
        put("burst", wide(self.burst), false)?;
        // A zero token budget is a real choice: no LLM at all, rules only.
        put("llm_tokens_per_day", self.llm_tokens_per_day, true)?;
        put("concurrent_llm_calls", wide(self.concurrent_llm_calls), false)?;
        put("concurrent_adapter_calls", wide(self.concurrent_adapter_calls), false)?;
        if content.is_empty() {
            return Err(ApiError::invalid(
                "body",
                "name at least one limit: messages_per_minute, burst, llm_tokens_per_day, concurrent_llm_calls \
                 or concurrent_adapter_calls",
            ));
        }
        Ok(Value::Object(content))
    }
}

/// Stores the override and applies it to the swarm (activating it if needed).
async fn set_throttle(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetThrottle>,
) -> Result<Json<Value>, ApiError> {
    let tenant = business(&state, id).await?;
    let content = request.to_override()?;
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
