//! The web pages: sign-up, login, the tenant dashboard (the live view) and the admin
//! pages, with their scripts and style sheet.
//!
//! Every asset is compiled into the binary (`include_str!`), so the server needs no
//! files beside it, no CDN and no build step. Pages hold no inline script or style:
//! the `Content-Security-Policy: default-src 'self'` header stays strict, and every
//! script and style sheet is a file of its own under `/assets/`. Pages are static;
//! their scripts call the JSON API with the session cookie, and a page whose caller is
//! not logged in sends them to `/login`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::ApiError;
use crate::http::extract::Path;

/// A built-in file: its name under `/assets/`, its media type and its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset { name: "style.css", media_type: "text/css; charset=utf-8", body: include_str!("../../web/style.css") },
    Asset {
        name: "common.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/common.js"),
    },
    Asset { name: "auth.js", media_type: "text/javascript; charset=utf-8", body: include_str!("../../web/auth.js") },
    Asset { name: "app.js", media_type: "text/javascript; charset=utf-8", body: include_str!("../../web/app.js") },
    Asset { name: "admin.js", media_type: "text/javascript; charset=utf-8", body: include_str!("../../web/admin.js") },
    Asset { name: "favicon.svg", media_type: "image/svg+xml", body: include_str!("../../web/favicon.svg") },
];

/// `/assets/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct AssetPath {
    /// The file's name.
    #[param(inline, value_type = AssetName)]
    name: String,
}

/// The names of the built-in files, as the document's `enum`.
struct AssetName;

impl PartialSchema for AssetName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(ASSETS.iter().map(|asset| asset.name))).into()
    }
}

impl ToSchema for AssetName {}

const LOGIN_PAGE: &str = include_str!("../../web/login.html");
const SIGNUP_PAGE: &str = include_str!("../../web/signup.html");
const APP_PAGE: &str = include_str!("../../web/app.html");
const ADMIN_PAGE: &str = include_str!("../../web/admin.html");

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(login_page))
        .routes(routes!(signup_page))
        .routes(routes!(dashboard_page))
        .routes(routes!(admin_page))
        .routes(routes!(favicon))
        .routes(routes!(asset))
}

/// The home page: the dashboard (which sends a visitor who is not logged in to `/login`).
#[utoipa::path(get, path = "/", tag = "pages", security(()), responses((status = 303, description = "To `/app`.")))]
async fn home() -> Redirect {
    Redirect::to("/app")
}

/// The login page.
#[utoipa::path(get, path = "/login", tag = "pages", security(()), responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String)))]
async fn login_page() -> Response {
    page(LOGIN_PAGE)
}

/// The sign-up page (with an invite code field when sign-up is private; `?invite=` fills it).
#[utoipa::path(get, path = "/signup", tag = "pages", security(()), responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String)))]
async fn signup_page() -> Response {
    page(SIGNUP_PAGE)
}

/// The dashboard: the live swarm graph, event feed, charts and control panel.
#[utoipa::path(get, path = "/app", tag = "pages", security(()), responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String)))]
async fn dashboard_page() -> Response {
    page(APP_PAGE)
}

/// The admin pages: users and roles, invites, private mode, every business's swarm.
#[utoipa::path(get, path = "/admin", tag = "pages", security(()), responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String)))]
async fn admin_page() -> Response {
    page(ADMIN_PAGE)
}

/// The site's icon.
#[utoipa::path(
    get,
    path = "/favicon.ico",
    tag = "pages",
    security(()),
    responses((status = 308, description = "To `/assets/favicon.svg` (an SVG image).",
        headers(("Location" = String, description = "`/assets/favicon.svg`."))))
)]
async fn favicon() -> Redirect {
    Redirect::permanent("/assets/favicon.svg")
}

/// A page: HTML that is never cached, so a new binary's pages show at once.
fn page(html: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}

/// A built-in script, style sheet or icon, revalidated on every load (they are small,
/// and an upgraded server must not run old scripts against a new API).
#[utoipa::path(
    get,
    path = "/assets/{name}",
    tag = "pages",
    security(()),
    params(AssetPath),
    responses(
        (status = 200, description = "The file, under its media type: style sheets, scripts and the SVG icon.",
            content(
                (String = "text/css; charset=utf-8"),
                (String = "text/javascript; charset=utf-8"),
                (String = "image/svg+xml"),
            )),
        (status = 404, description = "`not_found`: no such asset."),
    )
)]
async fn asset(Path(AssetPath { name }): Path<AssetPath>) -> Result<Response, ApiError> {
    let asset = ASSETS.iter().find(|asset| asset.name == name).ok_or_else(|| ApiError::NotFound("asset".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.media_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        asset.body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_no_inline_script_or_style_so_the_strict_csp_holds() {
        for html in [LOGIN_PAGE, SIGNUP_PAGE, APP_PAGE, ADMIN_PAGE] {
            assert!(!html.contains("<script>"), "an inline script");
            assert!(!html.contains("<style"), "an inline style sheet");
            assert!(!html.contains(" style="), "an inline style attribute");
            assert!(!html.contains(" onclick="), "an inline event handler");
            assert!(!html.contains("http://") && !html.contains("https://"), "a link off the server");
        }
    }
}
