//! A local TikTok API (Content Posting API direct post, video query, OAuth v2 token
//! endpoint) that follows the documented protocol and refuses anything else, for the
//! client's tests.
//!
//! What it enforces, as TikTok does (or, where marked, more strictly):
//! - the token endpoint: a form with `grant_type=refresh_token`, the refresh token, the
//!   application's `client_key` and `client_secret`; refresh tokens rotate (the old one
//!   stops working) and a revoked one is `invalid_grant`;
//! - every API call: `POST` with a live bearer token (`401 access_token_invalid`
//!   otherwise) and answers `{"data":…,"error":{"code","message","log_id"}}`;
//! - `creator_info/query`: the account's privacy levels, switches and longest video;
//! - `video/init`: a caption of at most 2,200 UTF-16 units, a privacy level the account
//!   has (`privacy_level_option_mismatch`), `FILE_UPLOAD` with a plan that keeps the chunk
//!   rules (a video under 5 MB whole; chunks of 5 to 64 MB; the count the size over the
//!   chunk rounded down; a last chunk up to 128 MB; at most 1,000);
//! - the upload URL: `PUT` with a video type, `Content-Length` and
//!   `Content-Range: bytes first-last/total`, each chunk the planned one in order
//!   (`206`, and `201` after the last); no bearer token needed;
//! - `status/fetch`: `PROCESSING_UPLOAD` with `uploaded_bytes` while bytes arrive, and
//!   after the last one for as many polls as told, then `PUBLISH_COMPLETE` with the
//!   public ids (for a public post) or `FAILED` with the reason it was told;
//! - `video/query`: each known video's counts, at most 20 ids.
//!
//! It can be told to expire every access token, drop the next chunk half way (keeping
//! nothing of it, answering `503`) or the next several, never answer a chunk, refuse the next init for the rate limit or as spam,
//! and fail the next post.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use boardroom_adapters::{OAuthSecret, TikTokConnection};
use serde_json::{Value, json};

pub(crate) const CLIENT_KEY: &str = "fake-tiktok-client-key";
pub(crate) const CLIENT_SECRET: &str = "fake-tiktok-secret";
pub(crate) const REFRESH_TOKEN: &str = "rft.fake-tiktok-1";

const MB: u64 = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct FakeCreator {
    pub(crate) privacy_level_options: Vec<String>,
    pub(crate) max_video_post_duration_sec: u32,
}

impl Default for FakeCreator {
    fn default() -> Self {
        Self {
            privacy_level_options: vec!["PUBLIC_TO_EVERYONE".into(), "FOLLOWER_OF_CREATOR".into(), "SELF_ONLY".into()],
            max_video_post_duration_sec: 600,
        }
    }
}

struct Post {
    caption: String,
    privacy: String,
    total: u64,
    chunk_size: u64,
    chunks: u64,
    bytes: Vec<u8>,
    polls_after_upload: u32,
    fail_with: Option<String>,
    video_id: Option<String>,
}

#[derive(Default)]
struct TikTokState {
    creator: FakeCreator,
    access_tokens: Vec<String>,
    tokens_issued: u32,
    refresh_token: Option<String>,
    revoked: bool,
    posts: HashMap<String, Post>,
    counts: HashMap<String, [u64; 4]>,
    processing_polls: u32,
    drop_next_chunk_half_way: bool,
    failing_chunks: u32,
    hang_chunk: Option<u64>,
    refuse_next_init: Option<(StatusCode, &'static str)>,
    fail_next_post: Option<String>,
    calls: HashMap<String, u32>,
}

/// A running fake TikTok.
#[derive(Clone, Default)]
pub(crate) struct TikTokFake {
    state: Arc<Mutex<TikTokState>>,
}

impl TikTokFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/v2/oauth/token/", post(token))
            .route("/v2/post/publish/creator_info/query/", post(creator_info))
            .route("/v2/post/publish/video/init/", post(init))
            .route("/v2/post/publish/status/fetch/", post(status))
            .route("/v2/video/query/", post(video_query))
            // Chunks run to 128 MB; axum's default limit is 2 MB.
            .route("/upload/", put(upload_chunk).layer(DefaultBodyLimit::max(128 * 1024 * 1024)))
            .with_state(self.clone())
    }

    pub(crate) fn connection(base_url: &str) -> TikTokConnection {
        TikTokConnection {
            api_base_url: base_url.to_owned(),
            client_key: CLIENT_KEY.to_owned(),
            client_secret: OAuthSecret::new(CLIENT_SECRET),
            refresh_token: OAuthSecret::new(REFRESH_TOKEN),
        }
    }

    fn state(&self) -> MutexGuard<'_, TikTokState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// What the account may post.
    pub(crate) fn set_creator(&self, creator: FakeCreator) {
        self.state().creator = creator;
    }

    /// Posts stay `PROCESSING_UPLOAD` for this many polls after their last byte.
    pub(crate) fn keep_processing_for(&self, polls: u32) {
        self.state().processing_polls = polls;
    }

    /// Every access token handed out so far stops working.
    pub(crate) fn expire_access_tokens(&self) {
        self.state().access_tokens.clear();
    }

    /// The owner revokes the application: the refresh token is refused.
    pub(crate) fn revoke(&self) {
        self.state().revoked = true;
    }

    /// The refresh token the next refresh must bring.
    pub(crate) fn current_refresh_token(&self) -> String {
        self.state().refresh_token.clone().unwrap_or_else(|| REFRESH_TOKEN.to_owned())
    }

    pub(crate) fn drop_next_chunk_half_way(&self) {
        self.state().drop_next_chunk_half_way = true;
    }

    /// The next `chunks` chunks break off (`503`, nothing of them kept), as on a
    /// connection that keeps dropping.
    pub(crate) fn fail_chunks(&self, chunks: u32) {
        self.state().failing_chunks = chunks;
    }

    /// The chunk at `index` (from 0) is never answered and nothing of it kept, as when
    /// the process sending it dies.
    pub(crate) fn hang_chunk(&self, index: u64) {
        self.state().hang_chunk = Some(index);
    }

    /// The next init is refused for the per-minute rate limit.
    pub(crate) fn rate_limit_next_init(&self) {
        self.state().refuse_next_init = Some((StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded"));
    }

    /// The next init is refused: the account posted too much today.
    pub(crate) fn refuse_next_init_as_spam(&self) {
        self.state().refuse_next_init = Some((StatusCode::FORBIDDEN, "spam_risk_too_many_posts"));
    }

    /// The next post initialised fails in processing with `reason`.
    pub(crate) fn fail_next_post(&self, reason: &str) {
        self.state().fail_next_post = Some(reason.to_owned());
    }

    /// Posts initialised.
    pub(crate) fn posts_started(&self) -> usize {
        self.state().posts.len()
    }

    /// Each published post's caption, privacy and bytes.
    pub(crate) fn published(&self) -> Vec<(String, String, Vec<u8>)> {
        self.state()
            .posts
            .values()
            .filter(|post| post.video_id.is_some())
            .map(|post| (post.caption.clone(), post.privacy.clone(), post.bytes.clone()))
            .collect()
    }

    /// Sets a published video's views, likes, comments and shares.
    pub(crate) fn set_counts(&self, video_id: &str, counts: [u64; 4]) {
        self.state().counts.insert(video_id.to_owned(), counts);
    }
}

fn count(fake: &TikTokFake, route: &str) {
    *fake.state().calls.entry(route.to_owned()).or_default() += 1;
}

fn answer(status: StatusCode, data: Value, code: &str, message: &str) -> Response {
    let body = json!({ "data": data, "error": { "code": code, "message": message, "log_id": "2026120214FAKE" } });
    (status, axum::Json(body)).into_response()
}

fn ok(data: Value) -> Response {
    answer(StatusCode::OK, data, "ok", "")
}

fn invalid(message: &str) -> Response {
    answer(StatusCode::BAD_REQUEST, json!({}), "invalid_params", message)
}

/// The JSON body of an authorised API call, or the refusal to answer with.
fn authorised(fake: &TikTokFake, headers: &HeaderMap, body: &Bytes) -> Result<Value, Box<Response>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !fake.state().access_tokens.iter().any(|issued| issued == token) {
        return Err(Box::new(answer(
            StatusCode::UNAUTHORIZED,
            json!({}),
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        )));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !json_type {
        return Err(Box::new(invalid("Content-Type must be application/json; charset=UTF-8")));
    }
    serde_json::from_slice(body).map_err(|_| Box::new(invalid("the body is not JSON")))
}

async fn token(State(fake): State<TikTokFake>, body: Bytes) -> Response {
    count(&fake, "token");
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    let refusal = |status: StatusCode, error: &str, description: &str| {
        let body = json!({ "error": error, "error_description": description, "log_id": "2026120214FAKE" });
        (status, axum::Json(body)).into_response()
    };
    if form.contains_key("client_id") || field("client_key") != Some(CLIENT_KEY) {
        return refusal(StatusCode::BAD_REQUEST, "invalid_request", "client_key is required.");
    }
    if field("client_secret") != Some(CLIENT_SECRET) {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client", "Client secret is invalid.");
    }
    let mut state = fake.state();
    let current = state.refresh_token.clone().unwrap_or_else(|| REFRESH_TOKEN.to_owned());
    if field("grant_type") != Some("refresh_token") || field("refresh_token") != Some(current.as_str()) || state.revoked
    {
        return refusal(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token is invalid or expired.");
    }
    state.tokens_issued += 1;
    let issued = state.tokens_issued;
    let access = format!("act.fake-tiktok-{issued}");
    let rotated = format!("rft.fake-tiktok-{}", issued + 1);
    state.access_tokens.push(access.clone());
    state.refresh_token = Some(rotated.clone());
    axum::Json(json!({ "access_token": access, "expires_in": 86_400, "open_id": "fake-open-id",
        "refresh_expires_in": 31_536_000, "refresh_token": rotated, "scope": "video.publish,video.list",
        "token_type": "Bearer" }))
    .into_response()
}

async fn creator_info(State(fake): State<TikTokFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "creator_info");
    if let Err(refusal) = authorised(&fake, &headers, &body) {
        return *refusal;
    }
    let creator = fake.state().creator.clone();
    ok(json!({ "creator_avatar_url": "https://p16.tiktokcdn.com/fake.jpeg", "creator_username": "promptsmith",
        "creator_nickname": "Prompt Smith", "privacy_level_options": creator.privacy_level_options,
        "comment_disabled": false, "duet_disabled": false, "stitch_disabled": true,
        "max_video_post_duration_sec": creator.max_video_post_duration_sec }))
}

/// Whether a plan keeps TikTok's chunk rules.
fn plan_is_valid(total: u64, chunk: u64, chunks: u64) -> bool {
    if total == 0 || chunk == 0 || chunks == 0 || chunks > 1_000 || chunks != total / chunk {
        return false;
    }
    if total < 5 * MB {
        return chunk == total;
    }
    let last = total - (chunks - 1) * chunk;
    (5 * MB..=64 * MB).contains(&chunk) && last <= 128 * MB
}

async fn init(State(fake): State<TikTokFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "init");
    let request = match authorised(&fake, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    if let Some((status, code)) = fake.state().refuse_next_init.take() {
        return answer(status, json!({}), code, "refused as told");
    }
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |pointer: &str| request.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let caption = text("/post_info/title");
    if caption.encode_utf16().count() > 2_200 {
        return invalid("post_info.title is longer than 2200 characters");
    }
    let privacy = text("/post_info/privacy_level");
    if !fake.state().creator.privacy_level_options.contains(&privacy) {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({}),
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's options",
        );
    }
    if text("/source_info/source") != "FILE_UPLOAD" {
        return invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL");
    }
    let (total, chunk_size, chunks) = (
        number("/source_info/video_size"),
        number("/source_info/chunk_size"),
        number("/source_info/total_chunk_count"),
    );
    if !plan_is_valid(total, chunk_size, chunks) {
        return invalid("source_info does not follow the chunk rules");
    }
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let mut state = fake.state();
    let publish_id = format!("v_pub_file~v2-1.{}", 7_400_000_000_000_000_000_u64 + state.posts.len() as u64);
    let fail_with = state.fail_next_post.take();
    let polls_after_upload = state.processing_polls;
    state.posts.insert(
        publish_id.clone(),
        Post {
            caption,
            privacy,
            total,
            chunk_size,
            chunks,
            bytes: Vec::new(),
            polls_after_upload,
            fail_with,
            video_id: None,
        },
    );
    let upload_url = format!("http://{host}/upload/?upload_id={publish_id}&upload_token=fake-signed");
    ok(json!({ "publish_id": publish_id, "upload_url": upload_url }))
}

async fn upload_chunk(
    State(fake): State<TikTokFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    count(&fake, "chunk");
    let header_text = |name: header::HeaderName| {
        headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    };
    if query.get("upload_token").map(String::as_str) != Some("fake-signed") {
        return StatusCode::FORBIDDEN.into_response();
    }
    if !["video/mp4", "video/quicktime", "video/webm"].contains(&header_text(header::CONTENT_TYPE).as_str()) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    if header_text(header::CONTENT_LENGTH).parse::<usize>().ok() != Some(body.len()) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    {
        let mut state = fake.state();
        match stored_chunk(&mut state, &query, &header_text(header::CONTENT_RANGE), &body) {
            Ok(ChunkOutcome::Hang) => {}
            Ok(ChunkOutcome::Answer(status)) | Err(status) => return status.into_response(),
        }
    }
    // Told to hang: nothing of the chunk is kept and its sender gives up first.
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    StatusCode::REQUEST_TIMEOUT.into_response()
}

enum ChunkOutcome {
    Answer(StatusCode),
    Hang,
}

/// Keeps the chunk if it is the planned next one: `206`, or `201` after the last.
fn stored_chunk(
    state: &mut TikTokState,
    query: &HashMap<String, String>,
    range: &str,
    body: &Bytes,
) -> Result<ChunkOutcome, StatusCode> {
    let drop_half = std::mem::take(&mut state.drop_next_chunk_half_way);
    let hang_at = state.hang_chunk;
    let breaks = state.failing_chunks > 0;
    state.failing_chunks = state.failing_chunks.saturating_sub(1);
    let post = query.get("upload_id").and_then(|id| state.posts.get_mut(id)).ok_or(StatusCode::NOT_FOUND)?;
    let parsed = range.strip_prefix("bytes ").and_then(|range| {
        let (span, total) = range.split_once('/')?;
        let (first, last) = span.split_once('-')?;
        Some((first.parse::<u64>().ok()?, last.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
    });
    let (first, last, total) = parsed.ok_or(StatusCode::BAD_REQUEST)?;
    let held = post.bytes.len() as u64;
    let index = held / post.chunk_size;
    let planned_last = if index + 1 == post.chunks { post.total - 1 } else { held + post.chunk_size - 1 };
    if total != post.total || first != held || last != planned_last || body.len() as u64 != last - first + 1 {
        return Err(StatusCode::RANGE_NOT_SATISFIABLE);
    }
    if drop_half {
        // A chunk is kept whole or not at all.
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    if breaks {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    if hang_at == Some(index) {
        state.hang_chunk = None;
        return Ok(ChunkOutcome::Hang);
    }
    post.bytes.extend_from_slice(body);
    let done = post.bytes.len() as u64 == post.total;
    Ok(ChunkOutcome::Answer(if done { StatusCode::CREATED } else { StatusCode::PARTIAL_CONTENT }))
}

async fn status(State(fake): State<TikTokFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, "status");
    let request = match authorised(&fake, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    let publish_id = request.get("publish_id").and_then(Value::as_str).unwrap_or_default();
    let mut state = fake.state();
    let published = state.posts.values().filter(|post| post.video_id.is_some()).count() as u64;
    let Some(post) = state.posts.get_mut(publish_id) else {
        return invalid("publish_id does not exist");
    };
    let uploaded = post.bytes.len() as u64;
    if uploaded < post.total || post.polls_after_upload > 0 {
        post.polls_after_upload = post.polls_after_upload.saturating_sub(u32::from(uploaded == post.total));
        return ok(json!({ "status": "PROCESSING_UPLOAD", "uploaded_bytes": uploaded }));
    }
    if let Some(reason) = &post.fail_with {
        return ok(json!({ "status": "FAILED", "fail_reason": reason, "uploaded_bytes": uploaded }));
    }
    let video_id = post.video_id.get_or_insert_with(|| (7_300_000_000_000_000_000 + published).to_string()).clone();
    let public = post.privacy == "PUBLIC_TO_EVERYONE";
    let ids: Vec<u64> = if public { video_id.parse().into_iter().collect() } else { Vec::new() };
    ok(json!({ "status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ids, "uploaded_bytes": uploaded }))
}

async fn video_query(
    State(fake): State<TikTokFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    count(&fake, "video_query");
    let request = match authorised(&fake, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    if query.get("fields").is_none_or(|fields| !fields.split(',').any(|field| field == "id")) {
        return invalid("fields is required");
    }
    let ids: Vec<String> = request
        .pointer("/filters/video_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 20 {
        return invalid("filters.video_ids takes 1 to 20 ids");
    }
    let state = fake.state();
    let videos: Vec<Value> = ids
        .iter()
        .filter_map(|id| {
            let [views, likes, comments, shares] = *state.counts.get(id)?;
            Some(json!({ "id": id, "view_count": views, "like_count": likes, "comment_count": comments,
                "share_count": shares }))
        })
        .collect();
    ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
}
