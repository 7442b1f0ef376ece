//! `/admin/*`: the admin panel's basics. Every route needs an admin account (anyone
//! else gets 403, anonymous callers 401).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use boardroom_memory::{NewInvite, Role, User, UserId};
use chrono::{TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::accounts::{PRIVATE_MODE_SETTING, private_mode};
use super::{Page, PageQuery};
use crate::http::ApiState;
use crate::http::auth::AdminUser;
use crate::http::auth::secret::random_urlsafe;
use crate::http::auth::session::is_https;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};

/// Most uses one invite may carry (the spec's `max_invite_uses`).
const MAX_INVITE_USES: i32 = 100;
/// Validity of an invite created without `expires_hours`: 7 days (the spec's
/// `default_expiry`).
const DEFAULT_INVITE_HOURS: i64 = 7 * 24;
/// Longest validity an invite may be given: a year.
const MAX_INVITE_HOURS: i64 = 365 * 24;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/admin/generate-invite", post(generate_invite))
        .route("/admin/toggle-private", post(toggle_private).get(show_private))
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}/role", put(set_role))
}

/// `POST /admin/generate-invite`; the body may be left out (one use, seven days).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateInvite {
    /// Sign-ups the code allows, 1 to 100 (default 1).
    #[serde(default)]
    uses: Option<i32>,
    /// Hours until it expires, 1 to 8760 (default 168).
    #[serde(default)]
    expires_hours: Option<i64>,
}

async fn generate_invite(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    headers: HeaderMap,
    request: Option<Json<GenerateInvite>>,
) -> Result<Response, ApiError> {
    let request = request.map(|Json(request)| request).unwrap_or_default();
    let uses = request.uses.unwrap_or(1);
    if !(1..=MAX_INVITE_USES).contains(&uses) {
        return Err(ApiError::invalid("uses", format!("must be between 1 and {MAX_INVITE_USES}")));
    }
    let hours = request.expires_hours.unwrap_or(DEFAULT_INVITE_HOURS);
    if !(1..=MAX_INVITE_HOURS).contains(&hours) {
        return Err(ApiError::invalid("expires_hours", format!("must be between 1 and {MAX_INVITE_HOURS}")));
    }
    let expires_at = Utc::now() + TimeDelta::hours(hours);
    // 128 random bits: 22 base64url characters, within the column's 32.
    let code = random_urlsafe(16);
    let invite = NewInvite { code: code.clone(), created_by: Some(admin.user.id), uses, expires_at: Some(expires_at) };
    let invite = state.app.store.create_invite(invite).await?;
    tracing::info!(admin = %admin.user.id, invite = invite.id, uses, "invite generated");
    let body = json!({
        "code": invite.code,
        "uses": invite.uses_remaining,
        "expires_at": invite.expires_at,
        "signup_url": signup_url(&headers, &code),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `https://host/signup?invite=CODE`, from the host the admin reached us on; a relative
/// URL when the request named no host.
fn signup_url(headers: &HeaderMap, code: &str) -> String {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    match host {
        Some(host) => {
            let scheme = if is_https(headers) { "https" } else { "http" };
            format!("{scheme}://{host}/signup?invite={code}")
        }
        None => format!("/signup?invite={code}"),
    }
}

/// `POST /admin/toggle-private`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TogglePrivate {
    enabled: bool,
}

/// Sets private mode at run time; from then on the stored value wins over
/// `PRIVATE_MODE`, in every process sharing the database.
async fn toggle_private(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Json(request): Json<TogglePrivate>,
) -> Result<Json<Value>, ApiError> {
    state.app.store.set_platform_setting(PRIVATE_MODE_SETTING, &json!(request.enabled)).await?;
    tracing::info!(admin = %admin.user.id, enabled = request.enabled, "private mode toggled");
    Ok(Json(json!({ "private_mode": private_mode(&state).await? })))
}

/// `GET /admin/toggle-private`: whether sign-up needs an invite now.
async fn show_private(State(state): State<ApiState>, AdminUser(_): AdminUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "private_mode": private_mode(&state).await? })))
}

/// `GET /admin/users?after=&limit=`.
async fn list_users(
    State(state): State<ApiState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.app.store.list_users(page.after.map(UserId), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |user| user.id.0)))
}

/// `PUT /admin/users/{id}/role`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRole {
    role: Role,
}

async fn set_role(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetRole>,
) -> Result<Json<User>, ApiError> {
    let id = UserId(id);
    if id == admin.user.id {
        // An admin demoting themselves could leave the platform without any admin.
        return Err(ApiError::invalid("role", "you cannot change your own role; ask another admin"));
    }
    let store = &state.app.store;
    let user = store.user(id).await?.ok_or_else(|| ApiError::NotFound("user".into()))?;
    store.set_user_role(id, request.role).await?;
    tracing::info!(admin = %admin.user.id, user = %id, role = %request.role, "role changed");
    Ok(Json(User { role: request.role, ..user }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_signup_url_uses_the_host_and_scheme_of_the_request() {
        let mut headers = HeaderMap::new();
        assert_eq!(signup_url(&headers, "abc"), "/signup?invite=abc");
        headers.insert(header::HOST, HeaderValue::from_static("boardroom.example:8080"));
        assert_eq!(signup_url(&headers, "abc"), "http://boardroom.example:8080/signup?invite=abc");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(signup_url(&headers, "abc"), "https://boardroom.example:8080/signup?invite=abc");
    }
}
