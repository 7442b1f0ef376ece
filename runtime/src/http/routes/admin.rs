//! `/admin/*`: the admin panel's basics. Every route needs an admin account (anyone
//! else gets 403, anonymous callers 401).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boardroom_memory::{NewInvite, Role, User, UserId};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::{PRIVATE_MODE_SETTING, private_mode};
use super::{Page, PageQuery};
use crate::http::ApiState;
use crate::http::auth::AdminUser;
use crate::http::auth::secret::random_urlsafe;
use crate::http::client::ClientFacts;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::tiers;

/// Most uses one invite may carry (the spec's `max_invite_uses`).
const MAX_INVITE_USES: i32 = 100;
/// Validity of an invite created without `expires_hours`: 7 days (the spec's
/// `default_expiry`).
const DEFAULT_INVITE_HOURS: i64 = 7 * 24;
/// Longest validity an invite may be given: a year.
const MAX_INVITE_HOURS: i64 = 365 * 24;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(generate_invite))
        .routes(routes!(toggle_private, show_private))
        .routes(routes!(list_users))
        .routes(routes!(set_role))
        .routes(routes!(analytics))
}

/// The platform at a glance: accounts (`users`: total, admins, by tier, new and active
/// in the last 30 days), `businesses` (total, active, swarms running), `activity`
/// (products, stores, campaigns, events in the last 24 hours and 30 days), `usage`
/// (API calls this month, LLM calls and tokens), and the `system`'s health as
/// `/health` reports it.
#[utoipa::path(
    get,
    path = "/admin/analytics",
    tag = "admin",
    responses((status = 200, description = "Platform analytics and system health.", body = Object))
)]
async fn analytics(State(state): State<ApiState>, AdminUser(_): AdminUser) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    let period = tiers::period(now);
    let store = &state.app.store;
    // Counted calls are written in batches; write them so the month's total is exact.
    if let Err(error) = state.app.api_calls.flush().await {
        tracing::warn!(%error, "API call counts not written before analytics");
    }
    let month = store.platform_stats(now - TimeDelta::days(30), &period).await?;
    let day = store.platform_stats(now - TimeDelta::days(1), &period).await?;
    let (_, health) = crate::http::health_report(&state.app).await;
    Ok(Json(json!({
        "generated_at": now,
        "users": {
            "total": month.users,
            "admins": month.admins,
            "by_tier": { "free": month.free_users, "pro": month.pro_users, "enterprise": month.enterprise_users },
            "new_last_30_days": month.new_users,
            "active_last_30_days": month.active_users,
        },
        "businesses": {
            "total": month.businesses,
            "active": month.active_businesses,
            "swarms_running": state.app.swarms.active_tenants(),
        },
        "activity": {
            "products": month.products,
            "stores": month.stores,
            "campaigns": month.campaigns,
            "events_last_24_hours": day.events,
            "events_last_30_days": month.events,
        },
        "usage": {
            "period": period,
            "api_calls_this_month": month.api_calls,
            "llm_calls_last_30_days": month.llm_calls,
            "llm_tokens_last_24_hours": day.llm_tokens,
            "llm_tokens_last_30_days": month.llm_tokens,
        },
        "system": health,
        "sessions": state.sessions.kind(),
    })))
}

/// `POST /admin/generate-invite`; the body may be left out (one use, seven days).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GenerateInvite {
    /// Sign-ups the code allows, 1 to 100 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    uses: Option<i32>,
    /// Hours until it expires, 1 to 8760 (default 168).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 8760)]
    expires_hours: Option<i64>,
}

/// A new invite code.
#[derive(Debug, Serialize, ToSchema)]
struct Invite {
    /// The code to sign up with.
    code: String,
    /// Sign-ups it allows.
    uses: i32,
    /// When it expires.
    expires_at: Option<DateTime<Utc>>,
    /// The sign-up page with the code filled in, on the host the admin called.
    signup_url: String,
}

/// Generates an invite code (needed to sign up in private mode).
///
/// The body may be left out: one use, valid for seven days.
#[utoipa::path(
    post,
    path = "/admin/generate-invite",
    tag = "admin",
    request_body(content = Option<GenerateInvite>, description = "Optional: send no body (and no `Content-Type`), or `null`, for the defaults."),
    responses((status = 201, description = "The invite.", body = Invite))
)]
async fn generate_invite(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    headers: HeaderMap,
    client: ClientFacts,
    // No body, or a JSON `null`, is all defaults (what the document says: optional, and
    // `null` or the object).
    request: Option<Json<Option<GenerateInvite>>>,
) -> Result<Response, ApiError> {
    let request = request.and_then(|Json(request)| request).unwrap_or_default();
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
    let body = Invite {
        code: invite.code,
        uses: invite.uses_remaining,
        expires_at: invite.expires_at,
        signup_url: signup_url(&headers, client.https, &code),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `https://host/signup?invite=CODE`, from the host the admin reached us on (`https`
/// when the request came over HTTPS, as a trusted proxy says); a relative URL when the
/// request named no host.
fn signup_url(headers: &HeaderMap, https: bool, code: &str) -> String {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    match host {
        Some(host) => {
            let scheme = if https { "https" } else { "http" };
            format!("{scheme}://{host}/signup?invite={code}")
        }
        None => format!("/signup?invite={code}"),
    }
}

/// `POST /admin/toggle-private`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TogglePrivate {
    /// `true`: sign-up needs an invite.
    enabled: bool,
}

/// Whether sign-up needs an invite.
#[derive(Debug, Serialize, ToSchema)]
struct PrivateMode {
    /// Private mode as it now is.
    private_mode: bool,
}

/// Turns private mode (invite-only sign-up) on or off.
///
/// From then on the stored value wins over `PRIVATE_MODE`, in every process sharing the
/// database.
#[utoipa::path(
    post,
    path = "/admin/toggle-private",
    tag = "admin",
    request_body = TogglePrivate,
    responses((status = 200, description = "Private mode as it now is.", body = PrivateMode))
)]
async fn toggle_private(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Json(request): Json<TogglePrivate>,
) -> Result<Json<PrivateMode>, ApiError> {
    state.app.store.set_platform_setting(PRIVATE_MODE_SETTING, &json!(request.enabled)).await?;
    tracing::info!(admin = %admin.user.id, enabled = request.enabled, "private mode toggled");
    Ok(Json(PrivateMode { private_mode: private_mode(&state).await? }))
}

/// Whether sign-up needs an invite now.
#[utoipa::path(
    get,
    path = "/admin/toggle-private",
    tag = "admin",
    responses((status = 200, description = "Private mode as it is.", body = PrivateMode))
)]
async fn show_private(State(state): State<ApiState>, AdminUser(_): AdminUser) -> Result<Json<PrivateMode>, ApiError> {
    Ok(Json(PrivateMode { private_mode: private_mode(&state).await? }))
}

/// Every account, one page at a time.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(PageQuery),
    responses((status = 200, description = "One page of accounts.", body = Page<User>))
)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetRole {
    /// `user` or `admin`.
    role: Role,
}

/// Makes an account admin, or not; an admin cannot change their own role.
#[utoipa::path(
    put,
    path = "/admin/users/{id}/role",
    tag = "admin",
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = SetRole,
    responses(
        (status = 200, description = "The account as changed.", body = User),
        (status = 403, description = "`own_role`: admins cannot change their own role; or, as on every admin \
            route, `forbidden` (not an admin), `csrf` or `ip_not_allowed`."),
        (status = 404, description = "`not_found`: no such account."),
    )
)]
async fn set_role(
    State(state): State<ApiState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(request): Json<SetRole>,
) -> Result<Json<User>, ApiError> {
    let id = UserId(id);
    if id == admin.user.id {
        // An admin demoting themselves could leave the platform without any admin. A
        // request the caller may not make (403), not a malformed one: the body is valid.
        return Err(ApiError::forbidden("own_role", "you cannot change your own role; ask another admin"));
    }
    let store = &state.app.store;
    let user = store.user(id).await?.ok_or_else(|| ApiError::NotFound("user".into()))?;
    store.set_user_role(id, request.role).await?;
    state.auth_cache.forget_user(id);
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
        assert_eq!(signup_url(&headers, false, "abc"), "/signup?invite=abc");
        headers.insert(header::HOST, HeaderValue::from_static("boardroom.example:8080"));
        assert_eq!(signup_url(&headers, false, "abc"), "http://boardroom.example:8080/signup?invite=abc");
        assert_eq!(signup_url(&headers, true, "abc"), "https://boardroom.example:8080/signup?invite=abc");
    }
}
