//! The HTTP surface: `/health`, the accounts and business API, a business's data
//! (products, stores, marketing, social, finance, AI advice), and the admin basics.
//!
//! ## Conventions
//! - JSON in and out. Every failure is an [`error::ApiError`] rendered as
//!   `{"error": {"code", "message", "fields"}}` (see `error`).
//! - Request bodies are at most 64 KiB (413 beyond). **Unknown fields are rejected**:
//!   every request type is `#[serde(deny_unknown_fields)]`, so a misspelt field is a
//!   422 naming it instead of a silently ignored value (see `extract`).
//! - Lists paginate by id: `?after=&limit=` in, `{items, next_after}` out.
//! - Another user's resource answers 404, exactly like a missing one.
//! - Every response carries `Content-Security-Policy: default-src 'self'`,
//!   `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`; `Strict-Transport-Security` when the request came
//!   over HTTPS, and `Cache-Control: no-store` on authenticated JSON (see `client`).
//! - Authentication, sessions, CSRF and API tokens: see `auth`.
//! - Every route is described in the OpenAPI document at `/api/openapi.json`, read at
//!   `/api/docs` (see `openapi`, `docs`).
//!
//! ## Layout
//! - `error`: the one error type.
//! - `extract`: `Json`, `Query` and `Path` with that error model; `strict_json`: JSON
//!   bodies read the way their JSON Schema reads them.
//! - `fields`: request fields with rules beyond their JSON type (names, texts, money),
//!   each parsed as it is read and stated as the same rule in the document.
//! - `auth`: who is calling (sessions, tokens, CSRF, access controls, throttling).
//! - `client`: the client's address and scheme behind trusted proxies; HSTS and
//!   `Cache-Control: no-store`.
//! - `crypto`: platform credentials sealed at rest.
//! - `meter`: monthly API calls, counted in memory and written in batches.
//! - `openapi`: the OpenAPI document's frame and the conventions every operation shares.
//! - `docs`: `GET /api/openapi.json` and the offline docs page at `/api/docs`.
//! - `metrics`: `GET /metrics` (OpenMetrics text, by `prometheus-client`) and the request counter.
//! - `recent`: short-lived caches of reads every request would repeat.
//! - `forward`: a request for a business whose swarm runs on another node, passed on
//!   to that node.
//! - `routes`: the API's routes.
//! - `live`: the live view's API (`/api/live/*`: the SSE stream, swarm state, chart
//!   series, controls).
//! - `pages`: the web pages (sign-up, login, dashboard, admin) and their built-in
//!   assets.
//! - `tiers`: subscription tiers, their limits and the swarm throttles they set.

mod auth;
pub(crate) mod client;
pub(crate) mod crypto;
mod docs;
mod error;
mod extract;
pub(crate) mod fields;
mod file_checks;
mod forward;
mod live;
mod meter;
mod metrics;
pub(crate) mod names;
mod openapi;
mod pages;
mod recent;
pub(crate) mod routes;
mod strict_json;
pub(crate) mod tiers;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use boardroom_memory::{EventLog, MediaLibrary, SharedStore, Tenant, UserId};
use boardroom_supervisor::{SwarmRoot, SwarmServices};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::auth::cache::AuthCache;
use self::auth::session::{DatabaseSessions, RedisSessions, SessionBackend, Sessions};
use self::auth::throttle::{LoginThrottle, RateKeeper, SignupThrottle};
use self::error::ApiError;
use self::extract::MAX_BODY_BYTES;
pub use self::meter::ApiCallMeter;
use self::recent::Recent;
use crate::config::Settings;
use boardroom_memory::RedisLink;

/// What every route can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: SharedStore,
    /// Files: their records in the database, their bytes in the media store.
    pub media: MediaLibrary,
    /// What pictures and voice-overs are made with (offline, or the remote API first).
    pub studio: boardroom_media::Studio,
    /// The event log.
    pub events: EventLog,
    /// The swarm tree.
    pub swarms: SwarmRoot,
    /// What the swarms work with (brain, market).
    pub services: SwarmServices,
    /// Redis, when configured.
    pub redis: Option<Arc<RedisLink>>,
    /// Monthly API calls, counted in memory and written in batches.
    pub api_calls: Arc<ApiCallMeter>,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The live view's open streams.
    pub live: LiveStreams,
    /// The live view across nodes, when Redis is configured.
    pub live_relay: Option<LiveRelay>,
}

pub use self::live::{LiveRelay, LiveStreams};

/// The router's own state: the application's, plus what only the HTTP layer keeps
/// (sessions, login throttles).
#[derive(Clone)]
pub(crate) struct ApiState {
    /// The application's shared state.
    pub(crate) app: AppState,
    /// Server-side sessions (database or Redis).
    pub(crate) sessions: Arc<Sessions>,
    /// Login attempt limiters.
    pub(crate) login_throttle: Arc<LoginThrottle>,
    /// Sign-up limiters.
    pub(crate) signup_throttle: Arc<SignupThrottle>,
    /// Recently authenticated callers.
    pub(crate) auth_cache: Arc<AuthCache>,
    /// Users' recently read lists of businesses.
    pub(crate) business_lists: Arc<BusinessLists>,
}

/// Pages of users' businesses, by user, `after` and page size.
pub(crate) type BusinessLists = Recent<(UserId, Option<i64>, i64), Vec<Tenant>>;

impl FromRef<ApiState> for AppState {
    fn from_ref(state: &ApiState) -> Self {
        state.app.clone()
    }
}

/// The application's routes, with the security headers, the body limit, panic
/// recovery, tracing and a 30-second time-out on every request.
///
/// Every route is added as an `OpenApiRouter` route, so the OpenAPI document served at
/// `/api/openapi.json` is split off the same value the router is: it describes exactly
/// the routes served.
pub fn router(state: AppState) -> Router {
    let backend: Arc<dyn SessionBackend> = match &state.redis {
        Some(link) => Arc::new(RedisSessions::new(link.clone())),
        None => Arc::new(DatabaseSessions::new(state.store.clone())),
    };
    let metrics = metrics::Metrics::start(&state);
    let cache_for = state.settings.cache_for;
    let rates = Arc::new(RateKeeper::new(state.redis.clone()));
    let signup_throttle = SignupThrottle::new(
        rates.clone(),
        state.settings.signups_per_address_per_hour,
        state.settings.signups_per_minute,
    );
    let trust = Arc::new(client::ProxyTrust::new(state.settings.trusted_proxies.clone()));
    let api = ApiState {
        app: state,
        sessions: Arc::new(Sessions::new(backend)),
        login_throttle: Arc::new(LoginThrottle::new(rates)),
        signup_throttle: Arc::new(signup_throttle),
        auth_cache: Arc::new(AuthCache::new(cache_for)),
        business_lists: Arc::new(Recent::new(cache_for)),
    };
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let (routes, mut document) = OpenApiRouter::with_openapi(openapi::frame())
        .routes(routes!(health))
        .merge(routes::routes())
        .merge(live::routes())
        .merge(pages::routes())
        .merge(routes::webhooks::routes(&api.app))
        .merge(metrics::routes(metrics.clone(), api.app.settings.metrics_token.clone()))
        .merge(docs::routes())
        .split_for_parts();
    openapi::apply_conventions(&mut document);
    // Strings, numbers and maps only: serializing it cannot fail.
    let document = docs::ServedDocument::render(&document).expect("the OpenAPI document serializes to JSON");
    let passing_on = api.clone();
    routes
        .layer(Extension(document))
        .route_layer(axum::middleware::from_fn_with_state(passing_on, forward::to_owner))
        .route_layer(axum::middleware::from_fn_with_state(metrics.clone(), metrics::track))
        .fallback(move |method: axum::http::Method| async move {
            metrics.count_unmatched(method.as_str());
            ApiError::NotFound("route".into())
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(trust, client::layer))
        .layer(header(header::CONTENT_SECURITY_POLICY, "default-src 'self'"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .with_state(api)
}

/// A handler that panicked (a bug) answers like any other 500; the panic is logged.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// Whether the service is up; to admins, also the database, Redis, the LLM backend and
/// the running swarms.
///
/// 503 when the database does not answer (the service can do nothing without it). A
/// Redis outage is reported as `degraded` with 200: the swarms keep working, though
/// signed-in requests (sessions live in Redis when it is configured) are refused until
/// it is back. Anyone gets only `{"status"}` (`ok`, `degraded` or `unavailable`): the
/// version, backends, LLM endpoint and models are no business of an anonymous caller.
/// An admin (session or bearer token) also gets `database`, `redis`, `llm`, `swarms`
/// (`active`), `live` (`streams`) and `version`.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    security((), ("session_cookie" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Up (`ok`, or `degraded` without Redis): `{\"status\"}` to anyone; \
            to an admin also `database`, `redis`, `llm`, `swarms`, `live` and `version`.", body = Object),
        (status = 503, description = "`unavailable`: the database does not answer (the same two shapes as 200).", body = Object),
    )
)]
async fn health(State(state): State<ApiState>, mut parts: axum::http::request::Parts) -> impl IntoResponse {
    let (database_up, body) = health_report(&state.app).await;
    let code = if database_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    // A credential that does not authenticate (with the database gone, none may) is
    // simply not an admin's: the status alone is still answered.
    let body = if auth::is_admin(&mut parts, &state).await { body } else { json!({ "status": body["status"] }) };
    (code, Json(body))
}

/// Whether the database answers, and the health report `/health` and the admin's
/// analytics show.
pub(crate) async fn health_report(state: &AppState) -> (bool, serde_json::Value) {
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
        "live": { "streams": state.live.connected() },
        "version": env!("CARGO_PKG_VERSION"),
    });
    (database_up, body)
}
