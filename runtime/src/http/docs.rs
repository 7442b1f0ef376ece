//! `GET /api/openapi.json` and `GET /api/docs`: the API's reference, served by the
//! binary itself so it works with no internet.
//!
//! The page is three files built in with `include_str!` (`docs/index.html`,
//! `docs/docs.js`, `docs/docs.css`): no CDN, no inline script or style, so it runs under
//! the API's `Content-Security-Policy: default-src 'self'`. The script fetches
//! `/api/openapi.json` and renders it grouped by tag: method and path, summary,
//! parameters, request and response schemas, and the authentication each operation
//! needs.

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The docs page.
const INDEX_HTML: &str = include_str!("docs/index.html");
/// The script that renders the document.
const DOCS_JS: &str = include_str!("docs/docs.js");
/// The page's style.
const DOCS_CSS: &str = include_str!("docs/docs.css");

/// The OpenAPI document, serialized once when the router is built and shared by every
/// request (it cannot change while the process runs).
#[derive(Clone)]
pub(crate) struct ServedDocument(Bytes);

impl ServedDocument {
    /// The document as JSON.
    pub(crate) fn render(document: &OpenApi) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(document).map(|json| Self(Bytes::from(json)))
    }
}

/// The documentation routes; the router adds the [`ServedDocument`] as an extension.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .routes(routes!(docs_script))
        .routes(routes!(docs_style))
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
async fn openapi_json(Extension(document): Extension<ServedDocument>) -> Response {
    with_content_type(document.0, "application/json")
}

/// The API reference: a page that renders `/api/openapi.json`, with no outside asset.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "system",
    security(()),
    responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String))
)]
async fn docs_page() -> Response {
    with_content_type(INDEX_HTML, "text/html; charset=utf-8")
}

/// The docs page's script.
#[utoipa::path(
    get,
    path = "/api/docs/docs.js",
    tag = "system",
    security(()),
    responses((status = 200, description = "The script.", content_type = "text/javascript; charset=utf-8", body = String))
)]
async fn docs_script() -> Response {
    with_content_type(DOCS_JS, "text/javascript; charset=utf-8")
}

/// The docs page's style sheet.
#[utoipa::path(
    get,
    path = "/api/docs/docs.css",
    tag = "system",
    security(()),
    responses((status = 200, description = "The style sheet.", content_type = "text/css; charset=utf-8", body = String))
)]
async fn docs_style() -> Response {
    with_content_type(DOCS_CSS, "text/css; charset=utf-8")
}

fn with_content_type(body: impl Into<Bytes>, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body.into()).into_response()
}
