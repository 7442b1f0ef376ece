//! A local LinkedIn (token host and REST API in one server) that follows the Posts API
//! as documented and refuses anything else, for the client's tests.
//!
//! What it enforces, as LinkedIn does (or, where marked, more strictly):
//! - the token endpoint (`/oauth/v2/accessToken`): a form with
//!   `grant_type=refresh_token`, the refresh token, and the application's `client_id`
//!   and `client_secret` in the body; refresh tokens are not rotated;
//! - on `/rest/posts`: `Authorization: Bearer` with a live token (else `401`
//!   `{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}`),
//!   `LinkedIn-Version` of a version it serves and `X-Restli-Protocol-Version: 2.0.0`
//!   (else `426`/`400` with LinkedIn's messages), a JSON body with `author`,
//!   `commentary`, `visibility`, `distribution` and `lifecycleState`;
//! - `GET /rest/socialActions/{post URN, percent-encoded}`: the same headers; the post's
//!   `likesSummary` and `commentsSummary`, `404` for a post it does not know;
//! - the answer: `201`, an empty body, the post's URN in `x-restli-id`; a repeat of an
//!   earlier post's commentary is `422` naming the earlier post.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use boardroom_adapters::{LINKEDIN_API_VERSION, LinkedInConnection, OAuthSecret};
use serde_json::{Value, json};

pub(crate) const CLIENT_ID: &str = "fake-linkedin-app";
pub(crate) const CLIENT_SECRET: &str = "fake-linkedin-secret";
pub(crate) const REFRESH_TOKEN: &str = "fake-linkedin-refresh";
pub(crate) const AUTHOR: &str = "urn:li:organization:5515715";

#[derive(Default)]
struct LinkedInState {
    access_tokens: Vec<String>,
    /// (urn, author, commentary)
    posts: Vec<(String, String, String)>,
    answer_next_post_after: Option<Duration>,
    calls: HashMap<String, u32>,
    /// Each post's (likes, comments).
    reactions: HashMap<String, (u64, u64)>,
}

/// A running fake LinkedIn.
#[derive(Clone, Default)]
pub(crate) struct LinkedInFake {
    state: Arc<Mutex<LinkedInState>>,
}

impl LinkedInFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/oauth/v2/accessToken", post(token))
            .route("/rest/posts", post(create_post))
            .route("/rest/socialActions/{urn}", get(social_actions))
            .with_state(self.clone())
    }

    pub(crate) fn connection(base_url: &str) -> LinkedInConnection {
        LinkedInConnection {
            auth_base_url: base_url.to_owned(),
            api_base_url: base_url.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: OAuthSecret::new(CLIENT_SECRET),
            refresh_token: OAuthSecret::new(REFRESH_TOKEN),
            author: AUTHOR.to_owned(),
        }
    }

    fn state(&self) -> MutexGuard<'_, LinkedInState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// Posts made: (urn, author, commentary).
    pub(crate) fn posts(&self) -> Vec<(String, String, String)> {
        self.state().posts.clone()
    }

    /// Every access token handed out expires now.
    /// Members like and comment on post `urn`.
    pub(crate) fn set_reactions(&self, urn: &str, likes: u64, comments: u64) {
        self.state().reactions.insert(urn.to_owned(), (likes, comments));
    }

    pub(crate) fn expire_access_tokens(&self) {
        self.state().access_tokens.clear();
    }

    /// The next post is made at once and answered after `delay`.
    pub(crate) fn answer_next_post_after(&self, delay: Duration) {
        self.state().answer_next_post_after = Some(delay);
    }
}

fn count(fake: &LinkedInFake, route: &str) {
    *fake.state().calls.entry(route.to_owned()).or_default() += 1;
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "status": status.as_u16(), "serviceErrorCode": 100, "code": code, "message": message });
    (status, axum::Json(body)).into_response()
}

async fn token(State(fake): State<LinkedInFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /oauth/v2/accessToken");
    if headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid_request" }))).into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client", "error_description": "Client authentication failed" })),
        )
            .into_response();
    }
    if field("grant_type") != Some("refresh_token") || field("refresh_token") != Some(REFRESH_TOKEN) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({ "error": "invalid_grant", "error_description": "The provided authorization grant is invalid" }),
            ),
        )
            .into_response();
    }
    let mut state = fake.state();
    let access = format!("fake-linkedin-access-{}", state.access_tokens.len() + 1);
    state.access_tokens.push(access.clone());
    axum::Json(json!({ "access_token": access, "expires_in": 5_184_000, "refresh_token": REFRESH_TOKEN,
        "refresh_token_expires_in": 31_536_000, "scope": "w_organization_social" }))
    .into_response()
}

/// The refusal of a REST call without a live token, the version or the protocol header.
fn refused_rest_call(fake: &LinkedInFake, headers: &HeaderMap) -> Option<Response> {
    let header_value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let token = header_value("authorization").strip_prefix("Bearer ").unwrap_or_default().to_owned();
    if !fake.state().access_tokens.contains(&token) {
        return Some(refusal(
            StatusCode::UNAUTHORIZED,
            "REVOKED_ACCESS_TOKEN",
            "The token used in the request has been revoked by the user",
        ));
    }
    if header_value("linkedin-version") != LINKEDIN_API_VERSION {
        return Some(refusal(StatusCode::UPGRADE_REQUIRED, "NONEXISTENT_VERSION", "Requested version is not active"));
    }
    if header_value("x-restli-protocol-version") != "2.0.0" {
        return Some(refusal(
            StatusCode::BAD_REQUEST,
            "ILLEGAL_ARGUMENT",
            "X-Restli-Protocol-Version 2.0.0 is required",
        ));
    }
    None
}

async fn create_post(State(fake): State<LinkedInFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /rest/posts");
    if let Some(refused) = refused_rest_call(&fake, &headers) {
        return refused;
    }
    let header_value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if header_value("content-type") != "application/json" {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/json",
        );
    }
    let Ok(post) = serde_json::from_slice::<Value>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "ILLEGAL_ARGUMENT", "The body is not JSON");
    };
    let text = |pointer: &str| post.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (author, commentary) = (text("/author"), text("/commentary"));
    if author != AUTHOR
        || commentary.is_empty()
        || text("/visibility") != "PUBLIC"
        || text("/distribution/feedDistribution") != "MAIN_FEED"
        || text("/lifecycleState") != "PUBLISHED"
    {
        return refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "The post is not one this fake serves",
        );
    }
    let (urn, delay) = {
        let mut state = fake.state();
        if let Some((earlier, _, _)) = state.posts.iter().find(|(_, _, said)| *said == commentary) {
            let message = format!("Content is a duplicate of {earlier}");
            drop(state);
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, "DUPLICATE_POST", &message);
        }
        let urn = format!("urn:li:share:{}", 7_100_000_000_000_000_000_u64 + state.posts.len() as u64);
        state.posts.push((urn.clone(), author, commentary));
        (urn, state.answer_next_post_after.take())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&urn) {
        response.headers_mut().insert("x-restli-id", value);
    }
    response
}

async fn social_actions(State(fake): State<LinkedInFake>, Path(urn): Path<String>, headers: HeaderMap) -> Response {
    count(&fake, "GET /rest/socialActions/{urn}");
    if let Some(refused) = refused_rest_call(&fake, &headers) {
        return refused;
    }
    let state = fake.state();
    if !state.posts.iter().any(|(known, _, _)| *known == urn) {
        drop(state);
        return refusal(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("Not found: {urn}"));
    }
    let (likes, comments) = state.reactions.get(&urn).copied().unwrap_or_default();
    drop(state);
    axum::Json(json!({
        "target": urn,
        "likesSummary": { "likedByCurrentUser": false, "totalLikes": likes },
        "commentsSummary": { "totalFirstLevelComments": comments, "aggregatedTotalComments": comments },
    }))
    .into_response()
}
