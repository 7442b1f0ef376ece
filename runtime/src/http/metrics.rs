//! `GET /metrics`: the process's numbers in the OpenMetrics text format, which Prometheus
//! scrapes natively.
//!
//! Encoded by `prometheus-client` (the Prometheus project's Rust client) from a registry
//! per router, so several applications in one process, as in the tests, each count
//! their own requests; there is no global recorder.
//!
//! - `boardroom_http_requests_total{method, route, status}`: requests answered, by the
//!   route's pattern (`/api/business/{id}`, never the raw path, to bound the labels).
//!   Requests that match no route count under `route="unmatched"`.
//! - `boardroom_active_swarms`: tenants whose swarm is running.
//! - `boardroom_event_log_appends_total`: events persisted by the event log since the
//!   router started (counted from its live feed, including events a lagging reader missed).
//! - `boardroom_uptime_seconds`: seconds since the router started.
//!
//! It is not public: the caller sends `Authorization: Bearer <METRICS_TOKEN>` (compared
//! in constant time; missing or wrong is 401 `invalid_token`). Without `METRICS_TOKEN`
//! the route answers 404 `not_configured`, like a webhook without its secret: nothing
//! is exposed by default.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::secret::{constant_time_eq, hash_secret};
use super::error::{ApiError, ErrorBody, Fields};
use crate::config::SecretKey;

/// The OpenMetrics text format's content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The labels of a counted request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// The metrics of one router.
pub(crate) struct Metrics {
    started: Instant,
    app: AppState,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    active_swarms: Gauge,
    uptime: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Starts counting; the event-log counter runs in a task that ends with the log.
    pub(crate) fn start(app: &AppState) -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "boardroom_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let active_swarms = Gauge::default();
        registry.register("boardroom_active_swarms", "Tenants whose swarm is running", active_swarms.clone());
        let appends = Counter::<u64>::default();
        registry.register("boardroom_event_log_appends", "Events persisted by the event log", appends.clone());
        let uptime = Gauge::<f64, AtomicU64>::default();
        registry.register("boardroom_uptime_seconds", "Seconds since the server started", uptime.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut feed = app.events.subscribe_all();
            runtime.spawn(async move {
                loop {
                    match feed.recv().await {
                        Ok(_) => appends.inc(),
                        Err(RecvError::Lagged(missed)) => appends.inc_by(missed),
                        Err(RecvError::Closed) => break,
                    };
                }
            });
        }
        Arc::new(Self { started: Instant::now(), app: app.clone(), registry, requests, active_swarms, uptime })
    }

    fn count(&self, method: &str, route: &str, status: u16) {
        let labels = RequestLabels { method: method.to_owned(), route: route.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts a request that matched no route (answered 404 by the fallback).
    pub(crate) fn count_unmatched(&self, method: &str) {
        self.count(method, "unmatched", 404);
    }

    /// The exposition text.
    pub(crate) fn render(&self) -> String {
        self.active_swarms.set(i64::try_from(self.app.swarms.active_tenants()).unwrap_or(i64::MAX));
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut text = String::new();
        // Writing into a `String` cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// What `GET /metrics` serves from: the counters and the token it needs.
#[derive(Clone)]
pub(crate) struct Exposition {
    metrics: Arc<Metrics>,
    token: Option<SecretKey>,
}

/// `GET /metrics`, served from its own state so it merges into any router; `token` is
/// `METRICS_TOKEN` (none: the route answers 404 `not_configured`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    metrics: Arc<Metrics>,
    token: Option<SecretKey>,
) -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(exposition)).with_state(Exposition { metrics, token })
}

/// The process's numbers in the OpenMetrics text format.
///
/// `boardroom_http_requests_total{method, route, status}`, `boardroom_active_swarms`,
/// `boardroom_event_log_appends_total` and `boardroom_uptime_seconds`. Needs
/// `Authorization: Bearer <METRICS_TOKEN>`; without `METRICS_TOKEN` configured the route
/// is not there (404).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The exposition.", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "`invalid_token`: no `Authorization: Bearer` with the metrics token, or a wrong one."),
        (status = 404, description = "`not_configured`: `METRICS_TOKEN` is not set."),
    )
)]
async fn exposition(State(exposition): State<Exposition>, headers: HeaderMap) -> Response {
    let Some(expected) = &exposition.token else {
        let body =
            ErrorBody::new("not_configured", "metrics are not configured (set METRICS_TOKEN)".into(), Fields::new());
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim);
    // Hashes have one length whatever was sent, so the comparison's time says nothing
    // about the token, not even its length.
    let allowed = sent.is_some_and(|sent| constant_time_eq(&hash_secret(sent), &hash_secret(expected.expose())));
    if !allowed {
        return ApiError::unauthorized("invalid_token", "send `Authorization: Bearer <METRICS_TOKEN>`").into_response();
    }
    let mut response = exposition.metrics.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Middleware counting each request by its route pattern and answer. Apply it with
/// `route_layer` (where [`MatchedPath`] is known) and around the fallback.
pub(crate) async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.count(&method, &route, response.status().as_u16());
    response
}
