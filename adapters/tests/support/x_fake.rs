//! A local X API v2 that follows the protocol and refuses anything else, for the
//! client's tests (an axum server on `127.0.0.1:0`). Shapes and words follow X's
//! documentation of `POST /2/oauth2/token`, `GET /2/users/me`, `POST /2/tweets` and
//! `GET /2/users/:id/tweets`, and its problem documents.
//!
//! What it enforces, as X does (or, where marked, more strictly):
//! - the token endpoint: `grant_type=refresh_token` form-encoded, the application's id
//!   and secret in HTTP Basic authentication, the current refresh token (rotated on
//!   every refresh: the old one is then refused with `invalid_grant`, as is a revoked
//!   one); access tokens last [`ACCESS_TOKEN_SECS`];
//! - every API route: `Authorization: Bearer` with a live access token, else `401`
//!   with X's `Unauthorized` problem document;
//! - `POST /2/tweets`: a JSON body (`Content-Type: application/json`) with `text` only
//!   (stricter: X takes more fields), 1 to 280 characters (else `400` with `errors[]`),
//!   not the text of one of the account's posts (`403`, duplicate content);
//! - `GET /2/tweets`: `ids` (1 to 100 comma-separated numeric ids) and
//!   `tweet.fields=public_metrics` (stricter: X takes other fields too); ids it does not
//!   know are answered in `errors[]` (a `Not Found Error` each), and `data` is absent
//!   when none is known;
//! - `x-rate-limit-limit/-remaining/-reset` on every answer, and `429` without
//!   `Retry-After` once the window is spent.
//!
//! It counts calls per route, and can be told to answer a post late (the post is made
//! before the answer leaves), to expire every access token, or to revoke the refresh
//! token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use boardroom_adapters::XConnection;
use serde_json::{Value, json};

/// The application the fake knows.
pub(crate) const CLIENT_ID: &str = "fake-x-client-id";
pub(crate) const CLIENT_SECRET: &str = "fake-x-client-secret";
/// The refresh token the account's owner granted.
pub(crate) const FIRST_REFRESH_TOKEN: &str = "fake-x-refresh-0";
/// The signed-in account.
pub(crate) const USER_ID: &str = "1234567890";
/// How long an access token lives (X: two hours).
pub(crate) const ACCESS_TOKEN_SECS: u64 = 7_200;
/// Posts allowed per window.
pub(crate) const POSTS_PER_WINDOW: u32 = 100;

/// The fake's state, shared with the test.
#[derive(Default)]
pub(crate) struct XState {
    refresh_token: String,
    refresh_revoked: bool,
    /// Live access tokens and when each expires.
    access_tokens: HashMap<String, Instant>,
    issued: u32,
    posts: Vec<(String, String)>,
    next_post_id: u64,
    remaining: u32,
    /// When `remaining` is back to the full window (epoch seconds).
    reset_at: u64,
    answer_next_post_after: Option<Duration>,
    calls: HashMap<String, u32>,
    /// Each post's public numbers, as people liked, reposted, replied and saw it.
    metrics: HashMap<String, PublicMetrics>,
}

/// A post's `public_metrics`.
#[derive(Clone, Copy, Default)]
pub(crate) struct PublicMetrics {
    pub(crate) likes: u64,
    pub(crate) reposts: u64,
    pub(crate) replies: u64,
    pub(crate) impressions: u64,
}

/// A running fake X.
#[derive(Clone)]
pub(crate) struct XFake {
    state: Arc<Mutex<XState>>,
}

impl XFake {
    pub(crate) fn new() -> Self {
        let state = XState {
            refresh_token: FIRST_REFRESH_TOKEN.to_owned(),
            remaining: POSTS_PER_WINDOW,
            next_post_id: 1_800_000_000_000_000_000,
            ..XState::default()
        };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/2/oauth2/token", post(token))
            .route("/2/users/me", get(me))
            .route("/2/tweets", post(create_post).get(lookup_posts))
            .route("/2/users/{id}/tweets", get(user_posts))
            .fallback(|| async {
                problem(StatusCode::NOT_FOUND, "Not Found Error", "The requested resource was not found.")
            })
            .with_state(self.clone())
    }

    /// A connection to this fake at `base_url`, with the owner's first refresh token.
    pub(crate) fn connection(base_url: &str) -> XConnection {
        XConnection::new(base_url, CLIENT_ID, CLIENT_SECRET, FIRST_REFRESH_TOKEN)
    }

    fn state(&self) -> MutexGuard<'_, XState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls received on `route` (`"POST /2/tweets"`).
    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// Refreshes granted and refused.
    pub(crate) fn refreshes(&self) -> u32 {
        self.calls("POST /2/oauth2/token")
    }

    /// The posts made, oldest first: (id, text).
    pub(crate) fn posts(&self) -> Vec<(String, String)> {
        self.state().posts.clone()
    }

    /// The refresh token now valid.
    pub(crate) fn refresh_token(&self) -> String {
        self.state().refresh_token.clone()
    }

    /// Every access token handed out expires now.
    pub(crate) fn expire_access_tokens(&self) {
        self.state().access_tokens.clear();
    }

    /// The owner revokes the application's access.
    pub(crate) fn revoke_refresh_token(&self) {
        let mut state = self.state();
        state.refresh_revoked = true;
        state.access_tokens.clear();
    }

    /// The window has `remaining` posts left and resets in `reset_in`.
    pub(crate) fn set_rate_window(&self, remaining: u32, reset_in: Duration) {
        let mut state = self.state();
        state.remaining = remaining;
        state.reset_at = epoch_secs() + reset_in.as_secs();
    }

    /// People react to post `id`: its public numbers are now `metrics`.
    pub(crate) fn set_metrics(&self, id: &str, metrics: PublicMetrics) {
        self.state().metrics.insert(id.to_owned(), metrics);
    }

    /// The next post is made at once and answered after `delay`.
    pub(crate) fn answer_next_post_after(&self, delay: Duration) {
        self.state().answer_next_post_after = Some(delay);
    }
}

fn epoch_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

fn count(fake: &XFake, route: &str) {
    *fake.state().calls.entry(route.to_owned()).or_default() += 1;
}

/// X's problem document.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "title": title, "detail": detail, "type": "about:blank", "status": status.as_u16() });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

/// OAuth 2.0's error document (RFC 6749 section 5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

async fn token(State(fake): State<XFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /2/oauth2/token");
    if headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Body must be form-encoded.");
    }
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) != Some(expected.as_str()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Missing valid authorization header");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Only refresh_token is served here.");
    }
    let mut state = fake.state();
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    if state.refresh_revoked || presented != state.refresh_token {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Value passed for the token was invalid.");
    }
    state.issued += 1;
    let access = format!("fake-x-access-{}", state.issued);
    let rotated = format!("fake-x-refresh-{}", state.issued);
    state.access_tokens.insert(access.clone(), Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECS));
    state.refresh_token = rotated.clone();
    axum::Json(json!({
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECS,
        "access_token": access,
        "scope": "tweet.read tweet.write users.read offline.access",
        "refresh_token": rotated,
    }))
    .into_response()
}

/// `None` when the bearer token is live; the 401 otherwise.
fn unauthorized(fake: &XFake, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let live = fake.state().access_tokens.get(token).is_some_and(|expires| *expires > Instant::now());
    (!live).then(|| problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"))
}

/// Adds the window's headers to an answer.
fn with_rate_headers(fake: &XFake, mut response: Response) -> Response {
    let state = fake.state();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", POSTS_PER_WINDOW.to_string()),
        ("x-rate-limit-remaining", state.remaining.to_string()),
        (
            "x-rate-limit-reset",
            if state.reset_at > epoch_secs() { state.reset_at } else { epoch_secs() + 900 }.to_string(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

async fn me(State(fake): State<XFake>, headers: HeaderMap) -> Response {
    count(&fake, "GET /2/users/me");
    if let Some(refusal) = unauthorized(&fake, &headers) {
        return refusal;
    }
    let answer = axum::Json(json!({ "data": { "id": USER_ID, "name": "Acme Prompts", "username": "acmeprompts" } }));
    with_rate_headers(&fake, answer.into_response())
}

async fn create_post(State(fake): State<XFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /2/tweets");
    if let Some(refusal) = unauthorized(&fake, &headers) {
        return refusal;
    }
    {
        let mut state = fake.state();
        if state.reset_at <= epoch_secs() {
            state.remaining = POSTS_PER_WINDOW;
        }
        if state.remaining == 0 {
            drop(state);
            // X's 429 for posts carries the window's headers and no Retry-After.
            let refusal = problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "Too Many Requests");
            return with_rate_headers(&fake, refusal);
        }
    }
    if headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) != Some("application/json") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "Content-Type must be application/json",
        );
    }
    let invalid = |message: &str| {
        let body = json!({
            "errors": [{ "message": message }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    };
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Request body is not valid JSON");
    };
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "text") {
        return invalid(&format!("The `{unknown}` field is not served by this fake"));
    }
    let Some(text) = fields.get("text").and_then(Value::as_str) else {
        return invalid("$.text is required");
    };
    let length = text.chars().count();
    if length == 0 || length > 280 {
        return invalid(&format!("text: {length} characters is outside 1 to 280"));
    }
    let (answer, delay) = {
        let mut state = fake.state();
        if state.posts.iter().any(|(_, earlier)| earlier == text) {
            drop(state);
            return problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            );
        }
        state.remaining = state.remaining.saturating_sub(1);
        state.next_post_id += 1;
        let id = state.next_post_id.to_string();
        state.posts.push((id.clone(), text.to_owned()));
        let answer = json!({ "data": { "id": id, "text": text, "edit_history_tweet_ids": [id] } });
        (answer, state.answer_next_post_after.take())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    with_rate_headers(&fake, (StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn user_posts(State(fake): State<XFake>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    count(&fake, "GET /2/users/{id}/tweets");
    if let Some(refusal) = unauthorized(&fake, &headers) {
        return refusal;
    }
    if id != USER_ID {
        return problem(StatusCode::NOT_FOUND, "Not Found Error", "Could not find user with id.");
    }
    let posts: Vec<Value> = fake
        .state()
        .posts
        .iter()
        .rev()
        .take(20)
        .map(|(id, text)| json!({ "id": id, "text": text, "edit_history_tweet_ids": [id] }))
        .collect();
    let answer = json!({ "data": posts, "meta": { "result_count": posts.len() } });
    with_rate_headers(&fake, axum::Json(answer).into_response())
}

async fn lookup_posts(State(fake): State<XFake>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    count(&fake, "GET /2/tweets");
    if let Some(refusal) = unauthorized(&fake, &headers) {
        return refusal;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let invalid = |message: String| {
        let body = json!({
            "errors": [{ "message": message }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    };
    if query.get("tweet.fields").map(String::as_str) != Some("public_metrics") {
        return invalid("This fake serves tweet.fields=public_metrics only".into());
    }
    let ids: Vec<&str> = query.get("ids").map(|ids| ids.split(',').collect()).unwrap_or_default();
    if ids.is_empty()
        || ids.len() > 100
        || ids.iter().any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return invalid(format!(
            "The `ids` query parameter value [{}] is not valid",
            query.get("ids").cloned().unwrap_or_default()
        ));
    }
    let state = fake.state();
    let (mut data, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        match state.posts.iter().find(|(post, _)| post == id) {
            Some((_, text)) => {
                let numbers = state.metrics.get(id).copied().unwrap_or_default();
                data.push(json!({ "id": id, "text": text, "edit_history_tweet_ids": [id], "public_metrics": {
                    "retweet_count": numbers.reposts, "reply_count": numbers.replies, "like_count": numbers.likes,
                    "quote_count": 0, "bookmark_count": 0, "impression_count": numbers.impressions } }));
            }
            None => errors.push(json!({ "value": id, "detail": format!("Could not find tweet with ids: [{id}]."),
                                        "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                                        "resource_id": id, "type": "https://api.twitter.com/2/problems/resource-not-found" })),
        }
    }
    drop(state);
    let mut answer = serde_json::Map::new();
    if !data.is_empty() {
        answer.insert("data".into(), Value::Array(data));
    }
    if !errors.is_empty() {
        answer.insert("errors".into(), Value::Array(errors));
    }
    with_rate_headers(&fake, axum::Json(Value::Object(answer)).into_response())
}
