//! A local YouTube Data API (resumable uploads) and Google token endpoint that follow
//! the documented protocol and refuse anything else, for the client's tests.
//!
//! What it enforces, as Google does (or, where marked, more strictly):
//! - the token endpoint: a form with `grant_type=refresh_token`, the refresh token and
//!   the client's id and secret in the body;
//! - starting a session: `POST /upload/youtube/v3/videos?uploadType=resumable&part=…`
//!   with a live bearer token, `X-Upload-Content-Length`, a `video/*`
//!   `X-Upload-Content-Type` and JSON metadata with a title and a privacy status; the
//!   session URI in `Location`;
//! - chunks: `PUT` to the session with `Content-Range: bytes first-last/total`, starting
//!   where the session stands, every chunk but the last a multiple of 256 KiB; `308` with
//!   `Range: bytes=0-n` until the last, then `201` with the video;
//! - a status query (`Content-Range: bytes */total`, no body): `308` with what it holds,
//!   or the video once complete.
//!
//! - `channels.list` with `mine=true`: the channel signed in as;
//! - `videos.list` with `part=statistics` and at most 50 ids: each known video's
//!   counts, as strings.
//!
//! It can be told to drop a chunk half way (keeping what arrived, as a connection that
//! broke would, and answering `503`), to break the next several chunks (keeping none of
//! them), or to refuse new sessions for the day's quota.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use boardroom_adapters::{OAuthSecret, YouTubeConnection};
use serde_json::{Value, json};

pub(crate) const CLIENT_ID: &str = "fake-google-client.apps.googleusercontent.com";
pub(crate) const CLIENT_SECRET: &str = "fake-google-secret";
pub(crate) const REFRESH_TOKEN: &str = "fake-google-refresh";
/// The channel the owner signs in as.
pub(crate) const CHANNEL_ID: &str = "UCfakechannel000000000001";
const UNIT: usize = 256 * 1024;

#[derive(Default)]
struct Upload {
    total: usize,
    title: String,
    bytes: Vec<u8>,
    video_id: Option<String>,
}

#[derive(Default)]
struct YouTubeState {
    access_tokens: Vec<String>,
    uploads: HashMap<String, Upload>,
    drop_next_chunk_half_way: bool,
    failing_chunks: u32,
    hang_next_chunk: bool,
    statistics: HashMap<String, [u64; 3]>,
    quota_exceeded: bool,
    calls: HashMap<String, u32>,
}

/// A running fake YouTube.
#[derive(Clone, Default)]
pub(crate) struct YouTubeFake {
    state: Arc<Mutex<YouTubeState>>,
}

impl YouTubeFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/upload/youtube/v3/videos", post(start).put(chunk))
            .route("/youtube/v3/channels", get(channels))
            .route("/youtube/v3/videos", get(videos))
            .with_state(self.clone())
    }

    pub(crate) fn connection(base_url: &str) -> YouTubeConnection {
        YouTubeConnection {
            api_base_url: base_url.to_owned(),
            token_url: format!("{base_url}/token"),
            client_id: CLIENT_ID.to_owned(),
            client_secret: OAuthSecret::new(CLIENT_SECRET),
            refresh_token: OAuthSecret::new(REFRESH_TOKEN),
        }
    }

    fn state(&self) -> MutexGuard<'_, YouTubeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// Sessions opened.
    pub(crate) fn sessions(&self) -> usize {
        self.state().uploads.len()
    }

    /// The bytes and title of each finished video, by id.
    pub(crate) fn videos(&self) -> Vec<(String, String, Vec<u8>)> {
        self.state()
            .uploads
            .values()
            .filter_map(|upload| Some((upload.video_id.clone()?, upload.title.clone(), upload.bytes.clone())))
            .collect()
    }

    /// The next chunk breaks off half way.
    pub(crate) fn drop_next_chunk_half_way(&self) {
        self.state().drop_next_chunk_half_way = true;
    }

    /// The next `chunks` chunks break off (`503`, nothing of them kept).
    pub(crate) fn fail_chunks(&self, chunks: u32) {
        self.state().failing_chunks = chunks;
    }

    /// Sets a video's views, likes and comments.
    pub(crate) fn set_statistics(&self, video_id: &str, counts: [u64; 3]) {
        self.state().statistics.insert(video_id.to_owned(), counts);
    }

    /// The next chunk is never answered (its client gives up, as a process that died).
    pub(crate) fn hang_next_chunk(&self) {
        self.state().hang_next_chunk = true;
    }

    /// New sessions are refused for the day's quota.
    pub(crate) fn exceed_quota(&self) {
        self.state().quota_exceeded = true;
    }
}

fn count(fake: &YouTubeFake, route: &str) {
    *fake.state().calls.entry(route.to_owned()).or_default() += 1;
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": status.as_u16(), "message": message,
        "errors": [{ "domain": "youtube.quota", "reason": reason, "message": message }] } });
    (status, axum::Json(body)).into_response()
}

fn authorized(fake: &YouTubeFake, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    fake.state().access_tokens.iter().any(|issued| issued == token)
}

async fn token(State(fake): State<YouTubeFake>, body: Bytes) -> Response {
    count(&fake, "POST /token");
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "invalid_client" }))).into_response();
    }
    if field("grant_type") != Some("refresh_token") || field("refresh_token") != Some(REFRESH_TOKEN) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant", "error_description": "Bad Request" })),
        )
            .into_response();
    }
    let mut state = fake.state();
    let access = format!("ya29.fake-{}", state.access_tokens.len() + 1);
    state.access_tokens.push(access.clone());
    axum::Json(json!({ "access_token": access, "expires_in": 3599, "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/youtube.upload" }))
    .into_response()
}

async fn start(
    State(fake): State<YouTubeFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    count(&fake, "POST /upload/youtube/v3/videos");
    if !authorized(&fake, &headers) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    if fake.state().quota_exceeded {
        return google_error(
            StatusCode::FORBIDDEN,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
        );
    }
    if query.get("uploadType").map(String::as_str) != Some("resumable") || !query.contains_key("part") {
        return google_error(StatusCode::BAD_REQUEST, "invalidParameter", "uploadType=resumable and part are required");
    }
    let header_text =
        |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let Ok(total) = header_text("x-upload-content-length").parse::<usize>() else {
        return google_error(StatusCode::BAD_REQUEST, "invalidParameter", "X-Upload-Content-Length is required");
    };
    if !header_text("x-upload-content-type").starts_with("video/") {
        return google_error(StatusCode::BAD_REQUEST, "invalidParameter", "X-Upload-Content-Type must be a video type");
    }
    let metadata: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let title = metadata.pointer("/snippet/title").and_then(Value::as_str).unwrap_or_default().to_owned();
    if title.is_empty() || metadata.pointer("/status/privacyStatus").and_then(Value::as_str).is_none() {
        return google_error(StatusCode::BAD_REQUEST, "invalidVideoMetadata", "The request metadata is invalid.");
    }
    let upload_id = {
        let mut state = fake.state();
        let upload_id = format!("fake-upload-{}", state.uploads.len() + 1);
        state.uploads.insert(upload_id.clone(), Upload { total, title, ..Upload::default() });
        upload_id
    };
    let host = header_text("host");
    let location = format!("http://{host}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}");
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `308` with what the upload holds, or the finished video.
fn standing(upload: &Upload, finished_now: bool) -> Response {
    if let Some(id) = &upload.video_id {
        let status = if finished_now { StatusCode::CREATED } else { StatusCode::OK };
        let video = json!({ "kind": "youtube#video", "id": id, "snippet": { "title": upload.title },
            "status": { "uploadStatus": "uploaded" } });
        return (status, axum::Json(video)).into_response();
    }
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if !upload.bytes.is_empty()
        && let Ok(value) = HeaderValue::from_str(&format!("bytes=0-{}", upload.bytes.len() - 1))
    {
        response.headers_mut().insert("range", value);
    }
    response
}

async fn chunk(
    State(fake): State<YouTubeFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&fake, &headers) {
        count(&fake, "PUT chunk");
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    let range = headers.get(header::CONTENT_RANGE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    if !range.contains('*') && std::mem::take(&mut fake.state().hang_next_chunk) {
        // Nothing of it is kept: the connection is dropped before the body is read.
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        return StatusCode::REQUEST_TIMEOUT.into_response();
    }
    let mut state = fake.state();
    let drop_half = !range.contains('*') && std::mem::take(&mut state.drop_next_chunk_half_way);
    let mut breaks = !range.contains('*') && state.failing_chunks > 0;
    if breaks {
        state.failing_chunks -= 1;
    }
    let Some(upload) = query.get("upload_id").and_then(|id| state.uploads.get_mut(id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(range) = range.strip_prefix("bytes ") else {
        return google_error(StatusCode::BAD_REQUEST, "badContent", "Content-Range is required");
    };
    let (span, total) = range.split_once('/').unwrap_or((range, ""));
    if total.parse::<usize>().ok() != Some(upload.total) {
        return google_error(StatusCode::BAD_REQUEST, "badContent", "Content-Range names another total");
    }
    if span == "*" {
        let standing = standing(upload, false);
        drop(state);
        count(&fake, "PUT status");
        return standing;
    }
    let Some((first, last)) =
        span.split_once('-').and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
    else {
        return google_error(StatusCode::BAD_REQUEST, "badContent", "Content-Range is malformed");
    };
    let is_last = last + 1 == upload.total;
    if first != upload.bytes.len()
        || last < first
        || body.len() != last - first + 1
        || (!is_last && !body.len().is_multiple_of(UNIT))
    {
        return google_error(StatusCode::BAD_REQUEST, "badContent", "the chunk does not continue the upload");
    }
    if std::mem::take(&mut breaks) {
        drop(state);
        count(&fake, "PUT chunk");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if drop_half {
        let kept = body.len() / 2;
        upload.bytes.extend_from_slice(&body[..kept]);
        drop(state);
        count(&fake, "PUT chunk");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    upload.bytes.extend_from_slice(&body);
    if is_last {
        upload.video_id = Some(format!("vid{}-{}", upload.total, upload_number(&query)));
    }
    let standing = standing(upload, is_last);
    drop(state);
    count(&fake, "PUT chunk");
    standing
}

/// The number in a session's `upload_id` (`fake-upload-{n}`).
fn upload_number(query: &HashMap<String, String>) -> String {
    query.get("upload_id").and_then(|id| id.rsplit('-').next()).unwrap_or_default().to_owned()
}

async fn channels(
    State(fake): State<YouTubeFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    count(&fake, "GET /youtube/v3/channels");
    if !authorized(&fake, &headers) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    if !query.contains_key("part") || query.get("mine").map(String::as_str) != Some("true") {
        return google_error(StatusCode::BAD_REQUEST, "missingRequiredParameter", "part and a filter are required");
    }
    axum::Json(json!({ "kind": "youtube#channelListResponse",
        "items": [{ "kind": "youtube#channel", "id": CHANNEL_ID }] }))
    .into_response()
}

async fn videos(
    State(fake): State<YouTubeFake>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    count(&fake, "GET /youtube/v3/videos");
    if !authorized(&fake, &headers) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    if query.get("part").is_none_or(|part| !part.split(',').any(|part| part == "statistics")) {
        return google_error(StatusCode::BAD_REQUEST, "missingRequiredParameter", "part is required");
    }
    let ids: Vec<&str> = query.get("id").map(|ids| ids.split(',').collect()).unwrap_or_default();
    if ids.is_empty() || ids.len() > 50 {
        return google_error(StatusCode::BAD_REQUEST, "invalidFilters", "id takes 1 to 50 video ids");
    }
    let state = fake.state();
    let items: Vec<Value> = ids
        .iter()
        .filter(|id| state.uploads.values().any(|upload| upload.video_id.as_deref() == Some(**id)))
        .map(|id| {
            let [views, likes, comments] = state.statistics.get(*id).copied().unwrap_or_default();
            json!({ "kind": "youtube#video", "id": id, "statistics": { "viewCount": views.to_string(),
                "likeCount": likes.to_string(), "favoriteCount": "0", "commentCount": comments.to_string() } })
        })
        .collect();
    axum::Json(json!({ "kind": "youtube#videoListResponse", "items": items })).into_response()
}
