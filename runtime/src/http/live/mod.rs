//! The live view's API: a tenant's swarm as a stream, its state, its charts' series,
//! and the controls the dashboard needs that the rest of the API lacks. Every route is
//! the owner's only: another user's business answers 404 like a missing one.
//!
//! - `GET /api/live/{id}/events`: server-sent events (see `stream`).
//! - `GET /api/live/{id}/swarm`: the graph's nodes, the swarm's status, autopilot, tier
//!   and throttles, for the first paint; the stream keeps it current.
//! - `GET /api/live/{id}/series?minutes=`: revenue, profit, ad spend, events and LLM
//!   tokens per time bucket (see `series`).
//! - `GET /api/live/{id}/series/days?days=`: the same per simulated day, for a business
//!   on the sandbox market.
//! - `POST /api/live/{id}/run-cycle`: run an autopilot cycle now.
//! - `PUT /api/live/{id}/products/{product_id}/price-override`: pin a product's price
//!   (`{"price": "12.50"}`) or give it back to the pricing agent (`{"price": null}`).
//!
//! Pausing and resuming the autopilot and switching personality are
//! `PUT /api/business/{id}` (`autopilot`, `personality`), which already exist.
//!
//! ## Layout
//! - `stream`: the SSE stream and its slow-client rules.
//! - `series`: the charts' time series.
//! - `relay`: [`LiveRelay`], the live view across nodes, through Redis.
//! - [`LiveStreams`]: the open streams, counted and closed at shutdown.

mod relay;
mod series;
mod stream;

pub use relay::LiveRelay;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use boardroom_agents::PRICE_OVERRIDE_NAMESPACE;
use boardroom_memory::{NewEvent, Product};
use boardroom_supervisor::AgentState;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::fields::PositiveAmount;
use crate::http::routes::{DELETED_PRODUCT, activate_owned, owned_business, swarm_view};

/// The live streams that are open: counted (for `/metrics` and the benchmark's memory
/// per subscriber) and told to end when the server shuts down, so that graceful
/// shutdown does not wait for viewers who would never leave. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveStreams {
    inner: Arc<LiveInner>,
}

#[derive(Default)]
struct LiveInner {
    connected: AtomicUsize,
    closing: watch::Sender<bool>,
}

/// Counts one open stream while it lives.
pub(crate) struct Connection {
    inner: Arc<LiveInner>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.inner.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LiveStreams {
    /// Streams open now.
    pub fn connected(&self) -> usize {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// Ends every open stream and every stream opened from now on.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    pub(crate) fn connect(&self) -> Connection {
        self.inner.connected.fetch_add(1, Ordering::Relaxed);
        Connection { inner: self.inner.clone() }
    }

    /// Completes once [`LiveStreams::close`] was called.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closing = self.inner.closing.subscribe();
        async move {
            // An error means the sender is gone, which also means shutting down.
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }
}

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(stream::events))
        .routes(routes!(swarm))
        .routes(routes!(series::series))
        .routes(routes!(series::days))
        .routes(routes!(run_cycle))
        .routes(routes!(price_override))
}

/// What the dashboard draws before the stream starts: the swarm as the admin view shows
/// it (status, autopilot, tier, throttles), plus `name`, `personality`, `agents`,
/// `agent_states` (each agent's lifecycle: `asleep` until its first message and after
/// an idle spell, `waking`, `idle`, `restarting`, `stopped`), `adapters` (their nodes),
/// `adapter_states` (a connected account's adapter actor: `idle`, `working`,
/// `throttled`, `circuit_open`, `restarting`; a connected marketing channel's node
/// `channel:<network>`: `ready`, `circuit_open`, `needs_owner`), `simulated_market`,
/// `llm` and `last_seq`.
#[utoipa::path(
    get,
    path = "/api/live/{id}/swarm",
    tag = "live",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "The swarm's state.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn swarm(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let mut view = serde_json::to_value(swarm_view(&state, &tenant).await?)
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("the swarm view did not serialize")))?;
    let running = state.app.swarms.get(tenant.id);
    let agents = running.as_ref().map_or_else(|| state.app.swarms.agent_names(), |swarm| swarm.agent_names());
    // The swarm's own market once it runs (a connected account's adapter actor).
    let market = running.as_ref().map_or_else(|| state.app.services.market.clone(), |swarm| swarm.market_for_api());
    let adapter = boardroom_supervisor::adapter_node(market.platform());
    let mut adapter_states: serde_json::Map<String, Value> = running
        .as_ref()
        .and_then(|swarm| swarm.adapter())
        .map(|view| (view.node, json!(view.state)))
        .into_iter()
        .collect();
    view["name"] = json!(tenant.name);
    view["personality"] = json!(running.as_ref().map_or(tenant.personality.clone(), |s| s.personality().name.clone()));
    view["agents"] = json!(agents);
    // Each agent's lifecycle: a swarm that is not running has every agent asleep.
    let agent_states: serde_json::Map<String, Value> = match &running {
        Some(swarm) => swarm.agent_states().into_iter().map(|(name, state)| (name.to_owned(), json!(state))).collect(),
        None => agents.iter().map(|name| ((*name).to_owned(), json!(AgentState::Asleep))).collect(),
    };
    view["agent_states"] = Value::Object(agent_states);
    // Each connected marketing channel is a node beside the market's adapter.
    let mut adapters = vec![json!(&*adapter)];
    for channel in view["market"]["channels"].as_array().into_iter().flatten() {
        if let Some(node) = channel["node"].as_str() {
            adapters.push(json!(node));
            adapter_states.insert(node.to_owned(), channel["state"].clone());
        }
    }
    view["adapters"] = Value::Array(adapters);
    view["adapter_states"] = Value::Object(adapter_states);
    view["simulated_market"] = json!(market.is_simulated());
    view["llm"] = json!(state.app.services.brain.describe());
    view["last_seq"] = json!(state.app.store.last_event_seq(tenant.id).await?);
    Ok(Json(view))
}

/// Runs an autopilot cycle now, whether or not the autopilot is on. With the autopilot
/// off, the driver is started paused, so this one cycle runs and no other follows.
#[utoipa::path(
    post,
    path = "/api/live/{id}/run-cycle",
    tag = "live",
    params(("id" = i64, Path, description = "The business's id.")),
    responses(
        (status = 202, description = "`{requested, autopilot}`: the cycle is under way.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn run_cycle(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let swarm = activate_owned(&state, &tenant).await?;
    if swarm.autopilot().running {
        swarm.run_cycle_now();
    } else {
        swarm.pause_autopilot().await;
        swarm.start_autopilot(state.app.settings.autopilot_interval);
    }
    tracing::info!(tenant = %tenant.id, user = %caller.user.id, "cycle requested");
    Ok((StatusCode::ACCEPTED, Json(json!({ "requested": true, "autopilot": swarm.autopilot() }))))
}

/// `PUT …/price-override`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PriceOverride {
    /// The price to hold; `null` (or leaving it out) hands the price back to the agents.
    price: Option<PositiveAmount>,
}

/// Pins (or releases) a product's price. The product's price changes at once; the
/// CEO's next revenue-optimisation step sets it on the platform and leaves it alone
/// (`pricing.override_kept`) until the owner releases it.
#[utoipa::path(
    put,
    path = "/api/live/{id}/products/{product_id}/price-override",
    tag = "live",
    params(
        ("id" = i64, Path, description = "The business's id."),
        ("product_id" = i64, Path, description = "The product's id."),
    ),
    request_body = PriceOverride,
    responses(
        (status = 200, description = "`{product, override}`: the product as it now is.", body = Object),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
    )
)]
async fn price_override(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path((id, product_id)): Path<(i64, i64)>,
    Json(request): Json<PriceOverride>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, id).await?;
    let store = &state.app.store;
    let product = store
        .product(tenant.id, product_id)
        .await?
        .filter(|product| product.status != DELETED_PRODUCT)
        .ok_or_else(|| ApiError::NotFound("product".into()))?;
    let key = product_id.to_string();
    let (product, event) = match request.price {
        Some(price) => {
            let price = price.value();
            store.put_agent_memory(tenant.id, PRICE_OVERRIDE_NAMESPACE, &key, json!({ "price": price }), None).await?;
            let updated = store.update_product_price(tenant.id, product_id, price).await?;
            let summary = format!("owner pinned \"{}\" at {price} (was {})", product.title, product.price);
            let data = json!({ "product_id": product_id, "from": product.price, "to": price });
            (updated, NewEvent::now(tenant.id, "owner", "pricing.override_set", summary).with_data(data))
        }
        None => {
            store.put_agent_memory(tenant.id, PRICE_OVERRIDE_NAMESPACE, &key, Value::Null, None).await?;
            let summary = format!("owner released \"{}\" to the pricing agent", product.title);
            let data = json!({ "product_id": product_id, "price": product.price });
            (product, NewEvent::now(tenant.id, "owner", "pricing.override_cleared", summary).with_data(data))
        }
    };
    state.app.events.append(event).await?;
    tracing::info!(tenant = %tenant.id, product = product_id, "price override changed");
    Ok(Json(json!({ "product": product_json(&product), "override": request.price.map(PositiveAmount::value) })))
}

fn product_json(product: &Product) -> Value {
    json!({ "id": product.id, "title": product.title, "price": product.price, "status": product.status })
}
