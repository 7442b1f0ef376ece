//! A local Reddit (token host and API in one server) that follows the protocol and
//! refuses anything else, for the client's tests. Shapes follow Reddit's API
//! documentation (`/api/v1/access_token`, `/api/v1/me`, `/api/submit` with
//! `api_type=json`, `/user/{name}/submitted`).
//!
//! What it enforces, as Reddit does (or, where marked, more strictly):
//! - a descriptive `User-Agent` (`platform:app:version`) on every request, else `429`,
//!   as Reddit throttles generic agents;
//! - the token endpoint: HTTP Basic with the application's id and secret, a form with
//!   `grant_type=refresh_token` and the owner's refresh token (not rotated, as Reddit's
//!   permanent tokens are not); access tokens last a day;
//! - `Authorization: bearer` with a live token on the API, else `401`
//!   `{"message": "Unauthorized", "error": 401}`;
//! - `/api/submit`: a form with `api_type=json`, `kind=self`, `sr`, `title` (1 to 300
//!   characters) and `text` (stricter: Reddit takes more fields); errors come back at
//!   HTTP 200 in `json.errors` (`SUBREDDIT_NOEXIST`, `RATELIMIT` when told to);
//! - `/api/info`: `id`, 1 to 100 comma-separated fullnames; a Listing of the ones it
//!   knows, with `ups`, `num_comments`, `score` and a `null` `view_count` (Reddit shows
//!   views to moderators only);
//! - `X-Ratelimit-Used/-Remaining/-Reset` on every API answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use boardroom_adapters::{OAuthSecret, RedditConnection};
use serde_json::json;

pub(crate) const CLIENT_ID: &str = "fake-reddit-app";
pub(crate) const CLIENT_SECRET: &str = "fake-reddit-secret";
pub(crate) const REFRESH_TOKEN: &str = "fake-reddit-refresh";
pub(crate) const USERNAME: &str = "acme_prompts";
/// The subreddits that exist.
pub(crate) const SUBREDDITS: [&str; 2] = ["SideProject", "Entrepreneur"];

#[derive(Default)]
struct RedditState {
    access_tokens: Vec<String>,
    issued: u32,
    /// (name, subreddit, title)
    submissions: Vec<(String, String, String)>,
    ratelimit_next_submits: u32,
    answer_next_submit_after: Option<Duration>,
    calls: HashMap<String, u32>,
    /// Each submission's (upvotes, comments).
    votes: HashMap<String, (u64, u64)>,
}

/// A running fake Reddit.
#[derive(Clone, Default)]
pub(crate) struct RedditFake {
    state: Arc<Mutex<RedditState>>,
}

impl RedditFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/access_token", post(token))
            .route("/api/v1/me", get(me))
            .route("/api/submit", post(submit))
            .route("/user/{name}/submitted", get(submitted))
            .route("/api/info", get(info))
            .with_state(self.clone())
    }

    /// A connection with both hosts at `base_url`.
    pub(crate) fn connection(base_url: &str) -> RedditConnection {
        RedditConnection {
            auth_base_url: base_url.to_owned(),
            api_base_url: base_url.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: OAuthSecret::new(CLIENT_SECRET),
            refresh_token: OAuthSecret::new(REFRESH_TOKEN),
            user_agent: "web:boardroom-tests:1.0 (by /u/acme_prompts)".to_owned(),
        }
    }

    fn state(&self) -> MutexGuard<'_, RedditState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// Submissions made: (name, subreddit, title).
    pub(crate) fn submissions(&self) -> Vec<(String, String, String)> {
        self.state().submissions.clone()
    }

    /// People vote and comment on submission `name`.
    pub(crate) fn set_votes(&self, name: &str, ups: u64, comments: u64) {
        self.state().votes.insert(name.to_owned(), (ups, comments));
    }

    /// The next `count` submissions are refused with `RATELIMIT` inside a 200.
    pub(crate) fn ratelimit_next_submits(&self, count: u32) {
        self.state().ratelimit_next_submits = count;
    }

    /// The next submission is made at once and answered after `delay`.
    pub(crate) fn answer_next_submit_after(&self, delay: Duration) {
        self.state().answer_next_submit_after = Some(delay);
    }
}

fn count(fake: &RedditFake, route: &str) {
    *fake.state().calls.entry(route.to_owned()).or_default() += 1;
}

/// `None` when the `User-Agent` is descriptive; Reddit's throttling answer otherwise.
fn generic_agent(headers: &HeaderMap) -> Option<Response> {
    let agent = headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or_default();
    (agent.split(':').count() < 3).then(|| {
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({ "message": "Too Many Requests", "error": 429 })))
            .into_response()
    })
}

fn unauthorized(fake: &RedditFake, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .unwrap_or_default();
    let live = fake.state().access_tokens.iter().any(|issued| issued == token);
    (!live).then(|| {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized", "error": 401 }))).into_response()
    })
}

fn with_rate_headers(mut response: Response) -> Response {
    for (name, value) in [("x-ratelimit-used", "3"), ("x-ratelimit-remaining", "97.0"), ("x-ratelimit-reset", "420")] {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn token(State(fake): State<RedditFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /api/v1/access_token");
    if let Some(refusal) = generic_agent(&headers) {
        return refusal;
    }
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized", "error": 401 })))
            .into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("refresh_token")
        || form.get("refresh_token").map(String::as_str) != Some(REFRESH_TOKEN)
    {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    let mut state = fake.state();
    state.issued += 1;
    let access = format!("fake-reddit-access-{}", state.issued);
    state.access_tokens.push(access.clone());
    axum::Json(json!({ "access_token": access, "token_type": "bearer", "expires_in": 86400, "scope": "identity submit history" }))
        .into_response()
}

async fn me(State(fake): State<RedditFake>, headers: HeaderMap) -> Response {
    count(&fake, "GET /api/v1/me");
    if let Some(refusal) = generic_agent(&headers).or_else(|| unauthorized(&fake, &headers)) {
        return refusal;
    }
    with_rate_headers(axum::Json(json!({ "name": USERNAME, "id": "abc123" })).into_response())
}

async fn submit(State(fake): State<RedditFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "POST /api/submit");
    if let Some(refusal) = generic_agent(&headers).or_else(|| unauthorized(&fake, &headers)) {
        return refusal;
    }
    let errors = |code: &str, message: &str, field: &str| {
        with_rate_headers(axum::Json(json!({ "json": { "errors": [[code, message, field]] } })).into_response())
    };
    if headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "message": "Bad Request", "error": 400 })))
            .into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if let Some(unknown) = form.keys().find(|key| !["api_type", "kind", "sr", "title", "text"].contains(&key.as_str()))
    {
        return errors("BAD_FIELD", &format!("{unknown} is not served by this fake"), unknown);
    }
    if form.get("api_type").map(String::as_str) != Some("json") || form.get("kind").map(String::as_str) != Some("self")
    {
        return errors("INVALID_OPTION", "api_type=json and kind=self are served", "kind");
    }
    let subreddit = form.get("sr").cloned().unwrap_or_default();
    // The account's own profile takes submissions too, as `u_<name>`.
    let profile = format!("u_{USERNAME}");
    let Some(subreddit) = SUBREDDITS
        .iter()
        .map(|known| (*known).to_owned())
        .chain([profile])
        .find(|known| known.eq_ignore_ascii_case(&subreddit))
    else {
        return errors("SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr");
    };
    let title = form.get("title").cloned().unwrap_or_default();
    if title.is_empty() || title.chars().count() > 300 {
        return errors("TOO_LONG", "this is too long (max: 300)", "title");
    }
    let (name, delay) = {
        let mut state = fake.state();
        if state.ratelimit_next_submits > 0 {
            state.ratelimit_next_submits -= 1;
            drop(state);
            return errors("RATELIMIT", "you are doing that too much. try again in 1 second.", "ratelimit");
        }
        let name = format!("t3_{:x}", 0x1a2b3c + state.submissions.len());
        state.submissions.push((name.clone(), subreddit.clone(), title));
        (name, state.answer_next_submit_after.take())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let id = name.trim_start_matches("t3_").to_owned();
    let url = format!("https://www.reddit.com/r/{subreddit}/comments/{id}/");
    with_rate_headers(
        axum::Json(json!({ "json": { "errors": [], "data": { "url": url, "id": id, "name": name } } })).into_response(),
    )
}

async fn submitted(State(fake): State<RedditFake>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    count(&fake, "GET /user/{name}/submitted");
    if let Some(refusal) = generic_agent(&headers).or_else(|| unauthorized(&fake, &headers)) {
        return refusal;
    }
    if name != USERNAME {
        return (StatusCode::NOT_FOUND, axum::Json(json!({ "message": "Not Found", "error": 404 }))).into_response();
    }
    let children: Vec<_> = fake
        .state()
        .submissions
        .iter()
        .rev()
        .map(|(name, subreddit, title)| {
            let id = name.trim_start_matches("t3_");
            json!({ "kind": "t3", "data": { "name": name, "subreddit": subreddit, "title": title,
                "url": format!("https://www.reddit.com/r/{subreddit}/comments/{id}/") } })
        })
        .collect();
    with_rate_headers(
        axum::Json(json!({ "kind": "Listing", "data": { "children": children, "after": null } })).into_response(),
    )
}

async fn info(State(fake): State<RedditFake>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    count(&fake, "GET /api/info");
    if let Some(refusal) = generic_agent(&headers).or_else(|| unauthorized(&fake, &headers)) {
        return refusal;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let ids: Vec<&str> = query.get("id").map(|ids| ids.split(',').collect()).unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "message": "Bad Request", "error": 400 })))
            .into_response();
    }
    let state = fake.state();
    let children: Vec<_> = state
        .submissions
        .iter()
        .filter(|(name, _, _)| ids.contains(&name.as_str()))
        .map(|(name, subreddit, title)| {
            let (ups, comments) = state.votes.get(name).copied().unwrap_or((1, 0));
            let id = name.trim_start_matches("t3_");
            json!({ "kind": "t3", "data": { "name": name, "subreddit": subreddit, "title": title, "ups": ups,
                "score": ups, "num_comments": comments, "view_count": null,
                "url": format!("https://www.reddit.com/r/{subreddit}/comments/{id}/") } })
        })
        .collect();
    drop(state);
    with_rate_headers(
        axum::Json(json!({ "kind": "Listing", "data": { "children": children, "after": null } })).into_response(),
    )
}
