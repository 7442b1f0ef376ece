//! The web pages: sign-up, login, the tenant dashboard (the live view) and the admin
//! pages, with their scripts and style sheet.
//!
//! Every asset is compiled into the binary (`include_str!`), so the server needs no
//! files beside it, no CDN and no build step. Pages hold no inline script or style:
//! the `Content-Security-Policy: default-src 'self'` header stays strict, and every
//! script and style sheet is a file of its own under `/assets/`. Pages are static;
//! their scripts call the JSON API with the session cookie, and a page whose caller is
//! not logged in sends them to `/login`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

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

const LOGIN_PAGE: &str = include_str!("../../web/login.html");
const SIGNUP_PAGE: &str = include_str!("../../web/signup.html");
const APP_PAGE: &str = include_str!("../../web/app.html");
const ADMIN_PAGE: &str = include_str!("../../web/admin.html");

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/login", get(|| async { page(LOGIN_PAGE) }))
        .route("/signup", get(|| async { page(SIGNUP_PAGE) }))
        .route("/app", get(|| async { page(APP_PAGE) }))
        .route("/admin", get(|| async { page(ADMIN_PAGE) }))
        .route("/favicon.ico", get(|| async { Redirect::permanent("/assets/favicon.svg") }))
        .route("/assets/{name}", get(asset))
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

/// `GET /assets/{name}`: a built-in asset, revalidated on every load (they are small,
/// and an upgraded server must not run old scripts against a new API).
async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
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
