//! `GET /metrics`: the process's numbers in the Prometheus text format (version 0.0.4).
//!
//! A small hand-written exposition, kept per router (so several applications in one
//! process, as in the tests, each count their own requests; no global recorder):
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::secret::{constant_time_eq, hash_secret};
use super::error::{ApiError, ErrorBody, Fields};
use crate::config::SecretKey;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The counters of one router.
pub(crate) struct Metrics {
    started: Instant,
    app: AppState,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    appends: Arc<AtomicU64>,
}

impl Metrics {
    /// Starts counting; the event-log counter runs in a task that ends with the log.
    pub(crate) fn start(app: &AppState) -> Arc<Self> {
        let appends = Arc::new(AtomicU64::new(0));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut feed = app.events.subscribe_all();
            let counter = appends.clone();
            runtime.spawn(async move {
                loop {
                    match feed.recv().await {
                        Ok(_) => counter.fetch_add(1, Ordering::Relaxed),
                        Err(RecvError::Lagged(missed)) => counter.fetch_add(missed, Ordering::Relaxed),
                        Err(RecvError::Closed) => break,
                    };
                }
            });
        }
        Arc::new(Self { started: Instant::now(), app: app.clone(), requests: Mutex::default(), appends })
    }

    fn count(&self, method: &str, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests.entry((method.to_owned(), route.to_owned(), status)).or_insert(0) += 1;
    }

    /// Counts a request that matched no route (answered 404 by the fallback).
    pub(crate) fn count_unmatched(&self, method: &str) {
        self.count(method, "unmatched", 404);
    }

    /// The exposition text.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("# HELP boardroom_http_requests_total HTTP requests answered, by method, route and status.\n");
        text.push_str("# TYPE boardroom_http_requests_total counter\n");
        {
            let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            for ((method, route, status), count) in requests.iter() {
                let _ = writeln!(
                    text,
                    "boardroom_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(method),
                    escape(route)
                );
            }
        }
        text.push_str("# HELP boardroom_active_swarms Tenants whose swarm is running.\n");
        text.push_str("# TYPE boardroom_active_swarms gauge\n");
        let _ = writeln!(text, "boardroom_active_swarms {}", self.app.swarms.active_tenants());
        text.push_str("# HELP boardroom_event_log_appends_total Events persisted by the event log.\n");
        text.push_str("# TYPE boardroom_event_log_appends_total counter\n");
        let _ = writeln!(text, "boardroom_event_log_appends_total {}", self.appends.load(Ordering::Relaxed));
        text.push_str("# HELP boardroom_uptime_seconds Seconds since the server started.\n");
        text.push_str("# TYPE boardroom_uptime_seconds gauge\n");
        let _ = writeln!(text, "boardroom_uptime_seconds {:.3}", self.started.elapsed().as_secs_f64());
        text
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
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

/// The process's numbers in the Prometheus text format.
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
        (status = 200, description = "The exposition.", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
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
