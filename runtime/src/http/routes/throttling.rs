//! `/admin/users/{id}/tier` and `/admin/businesses/{id}/*`: an admin's live controls
//! over tiers and swarms. Every route needs an admin account (anyone else gets 403,
//! anonymous callers 401). Changes apply to a running swarm at once: its throttle
//! judges the very next message by the new limits, and each change is an event.

use crate::markets::MarketMode;
use std::borrow::Cow;
use std::num::NonZeroU32;

use axum::extract::State;
use boardroom_adapters::{ChannelStatus, CircuitState};
use boardroom_memory::{Tenant, TenantChanges, TenantId, Tier, User, UserId};
use boardroom_supervisor::{AdapterView, SwarmStatus, TenantHandle, ThrottleLimits};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageQuery, swarm_error};
use crate::http::ApiState;
use crate::http::auth::AdminUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::tiers::{self, ActivateError, OVERRIDE_AGENT, OVERRIDE_KEY, TierLimits};

/// Largest burst an override may allow. The rate limiter keeps `burst` times the interval
/// between messages in nanoseconds as a `u64`: a burst of 2^31 at one message a minute
/// overflows it, and the panic would come back at every activation of the swarm, since
/// the override is stored. 100,000 is far beyond any real need and far from overflow.
const MAX_BURST: u32 = 100_000;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(set_tier))
        .routes(routes!(list_businesses))
        .routes(routes!(show_swarm, control_swarm))
        .routes(routes!(set_throttle, clear_throttle))
}

/// `PUT /admin/users/{id}/tier`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetTier {
    /// The new tier.
    tier: Tier,
}

/// Changes an account's tier.
///
/// The running swarms of their businesses take the new tier's throttle at once (unless
/// an admin override holds them).
#[utoipa::path(
    put,
    path = "/admin/users/{id}/tier",
    tag = "admin",
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = SetTier,
    responses(
        (status = 200, description = "The account as changed.", body = User),
        (status = 404, description = "`not_found`: no such account."),
    )
)]
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

/// A business in the admin's list: its name and personality, and its swarm.
#[derive(Debug, Serialize, ToSchema)]
struct BusinessView {
    /// The business's name.
    name: String,
    /// Its personality profile.
    personality: String,
    /// Its swarm.
    #[serde(flatten)]
    swarm: SwarmView,
}

/// Every business, one page at a time, with its swarm's state.
#[utoipa::path(
    get,
    path = "/admin/businesses",
    tag = "admin",
    params(PageQuery),
    responses((status = 200, description = "One page of businesses.", body = Page<BusinessView>))
)]
async fn list_businesses(
    State(state): State<ApiState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<BusinessView>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.app.store.list_tenants(page.after.map(TenantId), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |tenant| tenant.id.0);
    let mut items = Vec::with_capacity(page.items.len());
    for tenant in &page.items {
        let swarm = swarm_view(&state, tenant).await?;
        items.push(BusinessView { name: tenant.name.clone(), personality: tenant.personality.clone(), swarm });
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

/// A business's swarm as an admin sees it (and, through the live view, its owner).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SwarmView {
    /// The business.
    business_id: TenantId,
    /// Its owner.
    owner_id: UserId,
    /// The owner's tier.
    tier: Tier,
    /// Whether the business's settings ask for the autopilot.
    autopilot_setting: bool,
    /// The swarm's state; `passivated` when it is not in memory.
    status: SwarmStatus,
    /// The running swarm's autopilot; `null` when the swarm is not running.
    autopilot: Option<AutopilotView>,
    /// The running swarm's throttle; `null` when the swarm is not running.
    throttle: Option<ThrottleView>,
    /// The market the running swarm acts on; `null` when the swarm is not running.
    market: Option<MarketView>,
    /// What the owner's tier allows; `null` is unlimited.
    tier_limits: TierLimits,
    /// The admin's throttle override: the limits it replaces (`null` inside is
    /// unlimited); `null` when the tier's throttle applies.
    #[serde(rename = "override")]
    #[schema(value_type = Option<Object>)]
    overridden: Option<Value>,
}

/// The market a running swarm acts on.
#[derive(Debug, Serialize, ToSchema)]
struct MarketView {
    /// The business's `market_mode` as the swarm took it up: `sandbox`, `dry_run` or
    /// `live`.
    mode: MarketMode,
    /// The platform whose world the swarm acts in: `sandbox` (also in a dry run) or the
    /// connected platform (`shopify`).
    platform: String,
    /// Whether it is simulated (the sandbox, or a dry run).
    simulated: bool,
    /// The circuit breaker in front of a real platform: `closed` (calls go through),
    /// `open` (it kept failing: calls fail at once until a trial) or `half_open` (one
    /// trial call may go); `null` for the sandbox.
    circuit: Option<String>,
    /// The adapter actor of the connected account the swarm acts on (its node on the
    /// swarm graph, and `idle`, `working`, `throttled`, `circuit_open` or
    /// `restarting`); `null` on a shared market (the sandbox, a dry run).
    adapter: Option<AdapterView>,
    /// The connected marketing channels the swarm posts on (a live business's social
    /// accounts), each a node of the swarm graph; empty on the sandbox, a dry run, or
    /// a live business with none connected.
    channels: Vec<ChannelView>,
}

/// A connected marketing channel.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelView {
    /// Its node on the swarm graph: `channel:<platform>`.
    pub(crate) node: String,
    /// The platform: `x`, `reddit`, `linkedin`, `tiktok`, `youtube`, `google_ads`,
    /// `meta_ads`.
    pub(crate) platform: &'static str,
    /// `ready`, `circuit_open` (it kept failing: posts there fail at once until a
    /// trial) or `needs_owner` (the platform refused its grant: connect it again).
    pub(crate) state: &'static str,
    /// Why the owner must connect it again, in the platform's words; `null` while it
    /// works.
    pub(crate) needs_owner: Option<String>,
}

impl From<ChannelStatus> for ChannelView {
    fn from(status: ChannelStatus) -> Self {
        let state = match (&status.needs_owner, status.circuit) {
            (Some(_), _) => "needs_owner",
            (None, CircuitState::Open) => "circuit_open",
            (None, _) => "ready",
        };
        let platform = status.platform.as_str();
        Self { node: format!("channel:{platform}"), platform, state, needs_owner: status.needs_owner }
    }
}

/// A running swarm's autopilot.
#[derive(Debug, Serialize, ToSchema)]
struct AutopilotView {
    /// Whether its cycle task runs.
    running: bool,
    /// Whether an admin or the owner paused it.
    paused: bool,
    /// Seconds between cycles.
    interval_secs: u64,
    /// Cycles run since the swarm started.
    cycles_run: u64,
}

/// A running swarm's throttle.
#[derive(Debug, Serialize, ToSchema)]
struct ThrottleView {
    /// The limits it applies now.
    limits: LimitsView,
    /// Where the message rate is kept: `redis` (shared by every process on it) or
    /// `process`.
    rate_kept_in: &'static str,
    /// What it has done since the swarm started.
    counters: ThrottleCounters,
    /// Calls holding a slot now.
    in_flight: InFlight,
}

/// LLM and platform calls in flight.
#[derive(Debug, Serialize, ToSchema)]
struct InFlight {
    /// LLM calls.
    llm_calls: u32,
    /// Platform (adapter) calls.
    adapter_calls: u32,
}

/// Throttle limits; `null` is unlimited.
#[derive(Debug, Serialize, ToSchema)]
struct LimitsView {
    /// Agent messages per minute.
    messages_per_minute: Option<u32>,
    /// Messages that may pass at once before the rate applies.
    burst: Option<u32>,
    /// Longest a call waits for its turn (or a free slot) before it is refused, in
    /// milliseconds.
    max_wait_ms: u64,
    /// LLM tokens per UTC day.
    llm_tokens_per_day: Option<u64>,
    /// LLM calls in flight at once.
    concurrent_llm_calls: Option<u32>,
    /// Platform (adapter) calls in flight at once.
    concurrent_adapter_calls: Option<u32>,
}

/// Messages the throttle held back.
#[derive(Debug, Serialize, ToSchema)]
struct ThrottleCounters {
    /// Messages that waited for their turn.
    waited: u64,
    /// Messages refused (they would have waited too long).
    refused: u64,
}

impl LimitsView {
    fn of(limits: &ThrottleLimits) -> Self {
        Self {
            messages_per_minute: limits.messages_per_minute.map(NonZeroU32::get),
            burst: limits.burst.map(NonZeroU32::get),
            max_wait_ms: u64::try_from(limits.max_wait.as_millis()).unwrap_or(u64::MAX),
            llm_tokens_per_day: limits.llm_tokens_per_day,
            concurrent_llm_calls: limits.concurrent_llm_calls.map(NonZeroU32::get),
            concurrent_adapter_calls: limits.concurrent_adapter_calls.map(NonZeroU32::get),
        }
    }
}

/// The swarm as an admin sees it (and, through the live view, its owner).
pub(crate) async fn swarm_view(state: &ApiState, tenant: &Tenant) -> Result<SwarmView, ApiError> {
    let owner = state.app.store.user(tenant.user_id).await?;
    let tier = owner.map(|owner| owner.tier).unwrap_or_default();
    let overridden = tiers::throttle_override(&state.app, tenant.id).await?;
    let swarm = state.app.swarms.get(tenant.id);
    let (status, autopilot, throttle, market) = match &swarm {
        None => (SwarmStatus::Passivated, None, None, None),
        Some(swarm) => {
            let autopilot = swarm.autopilot();
            let (waited, refused) = swarm.throttle().counters();
            let (llm_calls, adapter_calls) = swarm.throttle().in_flight();
            let autopilot = AutopilotView {
                running: autopilot.running,
                paused: autopilot.paused,
                interval_secs: autopilot.interval.as_secs(),
                cycles_run: autopilot.cycles_run,
            };
            let throttle = ThrottleView {
                limits: LimitsView::of(&swarm.throttle().limits()),
                rate_kept_in: swarm.throttle().rate_backend(),
                counters: ThrottleCounters { waited, refused },
                in_flight: InFlight { llm_calls, adapter_calls },
            };
            let acting_on = swarm.market_for_api();
            let market = MarketView {
                mode: MarketMode::of(tenant),
                platform: acting_on.platform().as_str().to_owned(),
                simulated: acting_on.is_simulated(),
                circuit: acting_on.circuit_state().map(|state| state.as_str().to_owned()),
                adapter: swarm.adapter(),
                channels: acting_on.channel_states().await.into_iter().map(ChannelView::from).collect(),
            };
            (swarm.status(), Some(autopilot), Some(throttle), Some(market))
        }
    };
    Ok(SwarmView {
        business_id: tenant.id,
        owner_id: tenant.user_id,
        tier,
        autopilot_setting: tenant.settings["autopilot"] == true,
        status,
        autopilot,
        throttle,
        market,
        tier_limits: *tiers::limits(tier),
        overridden,
    })
}

/// A business's swarm: status, autopilot, throttle limits and counters.
#[utoipa::path(
    get,
    path = "/admin/businesses/{id}/swarm",
    tag = "admin",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The swarm.", body = SwarmView),
        (status = 404, description = "`not_found`: no such business."),
    )
)]
async fn show_swarm(
    State(state): State<ApiState>,
    AdminUser(_): AdminUser,
    Path(id): Path<i64>,
) -> Result<Json<SwarmView>, ApiError> {
    let tenant = business(&state, id).await?;
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// `PUT /admin/businesses/{id}/throttle`: the limits to replace, at least one. A limit
/// sent as `null` is unlimited; one left out keeps the owner's tier's value (a new
/// `messages_per_minute` without a `burst` takes the default burst).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetThrottle {
    /// Agent messages per minute, 1 to 4294967295; `null` is unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_u64)]
    messages_per_minute: Option<Option<u32>>,
    /// Messages that may pass at once before the rate applies; 1 to 100000.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100_000)]
    burst: Option<Option<u32>>,
    /// LLM tokens per UTC day, 0 to 9223372036854775807; 0 is no LLM at all (the
    /// agents' rules decide), `null` is unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    llm_tokens_per_day: Option<Option<u64>>,
    /// LLM calls in flight at once, 1 to 4294967295; `null` is unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_u64)]
    concurrent_llm_calls: Option<Option<u32>>,
    /// Platform calls in flight at once, 1 to 4294967295; `null` is unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_u64)]
    concurrent_adapter_calls: Option<Option<u32>>,
}

/// The document's schema of [`SetThrottle`]: the derived one with `minProperties: 1`
/// (at least one limit), which the derive cannot add (utoipa 5.5 writes its
/// `min_properties` as `maxProperties`).
struct SetThrottleSchema;

impl PartialSchema for SetThrottleSchema {
    fn schema() -> RefOr<Schema> {
        let mut schema = <SetThrottle as PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.min_properties = Some(1);
        }
        schema
    }
}

impl ToSchema for SetThrottleSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SetThrottle")
    }
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
        if self.burst.flatten().is_some_and(|burst| !(1..=MAX_BURST).contains(&burst)) {
            return Err(ApiError::invalid("burst", format!("must be between 1 and {MAX_BURST}")));
        }
        // The document's `int64`: a larger budget is no different from `null`.
        if self.llm_tokens_per_day.flatten().is_some_and(|tokens| i64::try_from(tokens).is_err()) {
            return Err(ApiError::invalid("llm_tokens_per_day", format!("must be at most {}, or null", i64::MAX)));
        }
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

/// Overrides a business's swarm throttle, whatever its owner's tier.
///
/// The override is stored and applied to the swarm at once (activating it if needed).
/// The answer is the swarm, as `GET` shows it.
#[utoipa::path(
    put,
    path = "/admin/businesses/{id}/throttle",
    tag = "admin",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = SetThrottleSchema,
    responses(
        (status = 200, description = "The swarm with its new throttle.", body = SwarmView),
        (status = 404, description = "`not_found`: no such business."),
        (status = 503, description = "`unavailable`: the swarm could not start."),
    )
)]
async fn set_throttle(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetThrottle>,
) -> Result<Json<SwarmView>, ApiError> {
    let tenant = business(&state, id).await?;
    let content = request.to_override()?;
    state.app.store.put_agent_memory(tenant.id, OVERRIDE_AGENT, OVERRIDE_KEY, content, None).await?;
    // Activation applies the override just stored.
    activate(&state, &tenant).await?;
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, "throttle override set");
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// Removes a business's throttle override: back to its owner's tier.
#[utoipa::path(
    delete,
    path = "/admin/businesses/{id}/throttle",
    tag = "admin",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The swarm with its tier's throttle.", body = SwarmView),
        (status = 404, description = "`not_found`: no such business."),
    )
)]
async fn clear_throttle(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
) -> Result<Json<SwarmView>, ApiError> {
    let tenant = business(&state, id).await?;
    state.app.store.put_agent_memory(tenant.id, OVERRIDE_AGENT, OVERRIDE_KEY, Value::Null, None).await?;
    if let Some(swarm) = state.app.swarms.get(tenant.id) {
        tiers::apply_limits(&swarm, tiers::wanted_limits(&state.app, &tenant).await?).await;
    }
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, "throttle override cleared");
    Ok(Json(swarm_view(&state, &tenant).await?))
}

/// `POST /admin/businesses/{id}/swarm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ControlSwarm {
    /// What to do.
    action: SwarmAction,
}

/// What an admin can do to a swarm.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum SwarmAction {
    /// Hold the autopilot's cycles.
    Pause,
    /// Let them run again (a cycle starts now).
    Resume,
    /// Passivate the swarm and turn its autopilot off.
    Stop,
}

/// Pauses or resumes a business's autopilot, or stops its swarm (autopilot off).
///
/// The answer is the swarm, as `GET` shows it.
#[utoipa::path(
    post,
    path = "/admin/businesses/{id}/swarm",
    tag = "admin",
    params(("id" = i64, Path, description = "The business's id.")),
    request_body = ControlSwarm,
    responses(
        (status = 200, description = "The swarm after the action.", body = SwarmView),
        (status = 404, description = "`not_found`: no such business."),
        (status = 503, description = "`unavailable`: the swarm could not start."),
    )
)]
async fn control_swarm(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<ControlSwarm>,
) -> Result<Json<SwarmView>, ApiError> {
    let tenant = business(&state, id).await?;
    match request.action {
        SwarmAction::Pause => activate(&state, &tenant).await?.pause_autopilot().await,
        SwarmAction::Resume => activate(&state, &tenant).await?.resume_autopilot().await,
        SwarmAction::Stop => {
            let mut settings = if tenant.settings.is_object() { tenant.settings.clone() } else { json!({}) };
            settings["autopilot"] = json!(false);
            let changes = TenantChanges { settings: Some(settings), ..TenantChanges::default() };
            state.app.store.update_tenant(tenant.id, tenant.user_id, changes).await?;
            super::business::businesses_changed(&state, tenant.user_id);
            state.app.swarms.passivate(tenant.id).await;
        }
    }
    tracing::info!(admin = %admin.user.id, tenant = %tenant.id, action = ?request.action, "swarm controlled");
    let tenant = business(&state, id).await?;
    Ok(Json(swarm_view(&state, &tenant).await?))
}
