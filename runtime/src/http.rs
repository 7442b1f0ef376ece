//! The HTTP surface. This first cut serves `/health`; the API routes join it here.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use boardroom_memory::{EventLog, SharedStore};
use boardroom_supervisor::{SwarmRoot, SwarmServices};
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::redis_link::RedisLink;

/// What every route can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: SharedStore,
    /// The event log.
    pub events: EventLog,
    /// The swarm tree.
    pub swarms: SwarmRoot,
    /// What the swarms work with (brain, market).
    pub services: SwarmServices,
    /// Redis, when configured.
    pub redis: Option<Arc<RedisLink>>,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .with_state(state)
}

/// Reports the database, Redis and the LLM backend. 503 when the database does not
/// answer (the service can do nothing without it); a Redis outage is reported but
/// keeps 200, since everything Redis does has an in-process fallback.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let database = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => json!({ "status": "up", "backend": state.store.backend().as_str() }),
        Ok(Err(error)) => {
            json!({ "status": "down", "backend": state.store.backend().as_str(), "error": error.to_string() })
        }
        Err(_) => {
            json!({ "status": "down", "backend": state.store.backend().as_str(), "error": "timed out" })
        }
    };
    let redis = match &state.redis {
        None => json!({ "status": "not configured" }),
        Some(link) => match link.ping().await {
            Ok(()) => json!({ "status": "up" }),
            Err(error) => json!({ "status": "down", "error": error }),
        },
    };
    let database_up = database["status"] == "up";
    let redis_ok = redis["status"] != "down";
    let status = match (database_up, redis_ok) {
        (true, true) => "ok",
        (true, false) => "degraded",
        (false, _) => "unavailable",
    };
    let body = json!({
        "status": status,
        "database": database,
        "redis": redis,
        "llm": state.services.brain.describe(),
        "swarms": { "active": state.swarms.active_tenants() },
        "version": env!("CARGO_PKG_VERSION"),
    });
    let code = if database_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}
