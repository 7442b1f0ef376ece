//! [`YouTubeClient`]: videos uploaded to a YouTube channel with the Data API v3's
//! resumable protocol, signed in with OAuth 2.0 ([`OAuthSession`]).
//!
//! What the protocol asks of a client, and how this one answers:
//! - **Start a session**: `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!   with the video's metadata as JSON and its size and type in `X-Upload-Content-Length`
//!   and `X-Upload-Content-Type`; the session's URI comes back in `Location`. The
//!   session ([`UploadSession`]) is the caller's to keep (in a checkpoint), so an upload
//!   cut short by a crash goes on in the same session instead of starting a second
//!   video.
//! - **Send the bytes in chunks** (multiples of 256 KiB but the last) with
//!   `Content-Range: bytes first-last/total`; `308` with `Range: bytes=0-n` says what the
//!   server holds, and the last chunk's answer is the video.
//! - **Resume**: after a dropped connection or a `5xx`, ask the session what it holds
//!   (`PUT` with `Content-Range: bytes */total` and no body) and go on from there. A
//!   `404` means the session expired: the upload must start again.
//! - **Errors** are `{"error":{"code","message","errors":[{"domain","reason"}]}}`:
//!   `quotaExceeded` (the project's daily quota) and `uploadLimitExceeded` (the
//!   channel's) are not worth retrying today.
//! - **Tokens** come from Google's token endpoint with the client's id and secret in the
//!   form body; refresh tokens are not rotated.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest;
use crate::{
    AdapterError, ConnectionKeeper, IdempotencyKey, Platform, PostEngagement, PostRef, PostSpec, PostVideo,
    SocialChannel, SocialNetwork, VideoChannel, publish_video,
};

/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Where the Data API is.
pub const YOUTUBE_API_BASE: &str = "https://www.googleapis.com";
/// The chunk unit the protocol asks for: every chunk but the last is a multiple of it.
pub const YOUTUBE_CHUNK_UNIT: usize = 256 * 1024;

/// Resumes tried within one upload before it gives up.
const MAX_RESUMES: u32 = 5;
/// Ids one `videos.list` call takes.
const MAX_LISTED_IDS: usize = 50;
/// The longest title YouTube takes.
const MAX_TITLE_CHARS: usize = 100;
/// The chunk the swarm's uploads go in: 8 MiB, a multiple of the protocol's unit.
const CHANNEL_CHUNK: usize = 32 * YOUTUBE_CHUNK_UNIT;

/// A connection to one YouTube channel, through the platform's Google application.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct YouTubeConnection {
    /// The API's origin: [`YOUTUBE_API_BASE`], or a test server.
    pub api_base_url: String,
    /// The token endpoint: [`GOOGLE_TOKEN_URL`], or a test server's.
    pub token_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the channel's owner granted (scope `youtube.upload`).
    pub refresh_token: OAuthSecret,
}

/// A video's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoDraft {
    /// Its title (at most 100 characters).
    pub title: String,
    /// Its description.
    pub description: String,
    /// `public`, `unlisted` or `private`.
    pub privacy: String,
}

/// An upload in progress: keep it to go on after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadSession {
    /// The session URI YouTube handed out.
    pub uri: String,
    /// The video's size in bytes.
    pub total: u64,
}

/// An uploaded video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YouTubeVideo {
    /// Its id.
    pub id: String,
    /// Where it can be watched.
    pub url: String,
}

/// A video's public counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YouTubeStatistics {
    /// The video's id.
    pub id: String,
    /// Views.
    pub views: u64,
    /// Likes.
    pub likes: u64,
    /// Comments.
    pub comments: u64,
}

/// A client of one YouTube channel; see the module's notes.
#[derive(Clone)]
pub struct YouTubeClient {
    shared: Arc<Shared>,
}

struct Shared {
    api: String,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
}

impl fmt::Debug for YouTubeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YouTubeClient")
            .field("api", &self.shared.api)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .finish()
    }
}

/// Where the server stands in an upload.
enum Progress {
    /// It holds this many bytes.
    Holds(u64),
    /// The upload is complete: the video.
    Done(YouTubeVideo),
}

impl YouTubeClient {
    /// A client of `connection` with its own retry, breaker and time-out settings.
    pub fn with_settings(connection: YouTubeConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let platform = Platform::Youtube;
        let api = rest::origin(platform, "YouTube API address", &connection.api_base_url, YOUTUBE_API_BASE)?;
        if connection.client_id.trim().is_empty()
            || connection.client_secret.is_malformed()
            || connection.refresh_token.is_malformed()
        {
            return Err(AdapterError::rejected(
                platform,
                "the YouTube client id, client secret or refresh token is empty or malformed",
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .build()
            .map_err(|error| AdapterError::rejected(platform, format!("cannot build the HTTP client: {error}")))?;
        let application = OAuthApplication {
            token_url: connection.token_url,
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::InBody,
        };
        let oauth = OAuthSession::new(platform, application, connection.refresh_token, http.clone());
        let resilience = Resilience::new(platform, settings);
        Ok(Self { shared: Arc::new(Shared { api, http, resilience, oauth }) })
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    /// The connection's tokens.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// The id of the channel the connection signs in as (`channels.list` with
    /// `mine=true`; the grant needs a read scope beside `youtube.upload`).
    pub async fn my_channel(&self) -> Result<String, AdapterError> {
        let answer = self.get("my_channel", "/youtube/v3/channels?part=id&mine=true".to_owned()).await?;
        answer.pointer("/items/0/id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            AdapterError::rejected(Platform::Youtube, "the account signed in has no YouTube channel; create one first")
        })
    }

    /// Each of `video_ids`' counts (`videos.list`, `part=statistics`, 50 ids a call);
    /// videos YouTube no longer has are left out.
    pub async fn video_statistics(&self, video_ids: &[String]) -> Result<Vec<YouTubeStatistics>, AdapterError> {
        if let Some(bad) = video_ids.iter().find(|id| !is_video_id(id)) {
            return Err(AdapterError::rejected(Platform::Youtube, format!("{bad:?} is not a YouTube video id")));
        }
        let mut statistics = Vec::with_capacity(video_ids.len());
        for ids in video_ids.chunks(MAX_LISTED_IDS) {
            let path = format!("/youtube/v3/videos?part=statistics&id={}&maxResults={MAX_LISTED_IDS}", ids.join(","));
            let answer = self.get("video_statistics", path).await?;
            #[derive(Deserialize)]
            struct Listed {
                #[serde(default)]
                items: Vec<Item>,
            }
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Item {
                id: String,
                #[serde(default)]
                statistics: Counts,
            }
            // Counts are uint64s written as strings; a count the channel hides is absent.
            #[derive(Deserialize, Default)]
            #[serde(rename_all = "camelCase")]
            struct Counts {
                #[serde(default)]
                view_count: Option<String>,
                #[serde(default)]
                like_count: Option<String>,
                #[serde(default)]
                comment_count: Option<String>,
            }
            let listed: Listed = rest::typed(Platform::Youtube, "video_statistics", answer)?;
            let count = |text: &Option<String>| text.as_deref().and_then(|text| text.parse().ok()).unwrap_or(0);
            statistics.extend(listed.items.into_iter().map(|item| YouTubeStatistics {
                views: count(&item.statistics.view_count),
                likes: count(&item.statistics.like_count),
                comments: count(&item.statistics.comment_count),
                id: item.id,
            }));
        }
        Ok(statistics)
    }

    /// A `GET` of the Data API, its JSON answer.
    async fn get(&self, operation: &'static str, path_and_query: String) -> Result<Value, AdapterError> {
        let deadline = self.shared.resilience.default_deadline();
        let url = format!("{}{path_and_query}", self.shared.api);
        let url = url.as_str();
        self.shared
            .resilience
            .run(operation, 1.0, deadline, || async move {
                let (status, headers, body) = self
                    .shared
                    .oauth
                    .send_authorized(operation, deadline, |token| {
                        self.shared
                            .http
                            .request(Method::GET, url)
                            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                            .header(ACCEPT, "application/json")
                    })
                    .await?;
                if !status.is_success() {
                    return Err(error_from(operation, status, &headers, &body));
                }
                serde_json::from_str(&body).map_err(|_| AdapterError::Unavailable {
                    platform: Platform::Youtube,
                    message: format!("{operation}: YouTube answered {status} with no JSON"),
                })
            })
            .await
    }

    /// Uploads `bytes` as a video described by `draft`, in chunks of `chunk_size` bytes
    /// (rounded down to a multiple of [`YOUTUBE_CHUNK_UNIT`], at least one unit).
    pub async fn upload(
        &self,
        draft: &VideoDraft,
        content_type: &str,
        bytes: &[u8],
        chunk_size: usize,
    ) -> Result<YouTubeVideo, AdapterError> {
        let session = self.start_upload(draft, content_type, bytes.len() as u64).await?;
        self.continue_upload(&session, bytes, chunk_size).await
    }

    /// Opens an upload session for a video of `total` bytes.
    pub async fn start_upload(
        &self,
        draft: &VideoDraft,
        content_type: &str,
        total: u64,
    ) -> Result<UploadSession, AdapterError> {
        let platform = Platform::Youtube;
        let title_length = draft.title.chars().count();
        if draft.title.trim().is_empty() || title_length > MAX_TITLE_CHARS {
            return Err(AdapterError::rejected(
                platform,
                format!("a YouTube title takes 1 to {MAX_TITLE_CHARS} characters; this one has {title_length}"),
            ));
        }
        if !["public", "unlisted", "private"].contains(&draft.privacy.as_str()) {
            return Err(AdapterError::rejected(
                platform,
                format!("{:?} is not a YouTube privacy status", draft.privacy),
            ));
        }
        if total == 0 || !content_type.starts_with("video/") {
            return Err(AdapterError::rejected(platform, "a YouTube upload needs a video's bytes and a video/* type"));
        }
        let deadline = self.shared.resilience.default_deadline();
        let metadata = json!({
            "snippet": { "title": draft.title, "description": draft.description, "categoryId": "22" },
            "status": { "privacyStatus": draft.privacy },
        });
        let path = format!("{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status", self.shared.api);
        let metadata = &metadata;
        let (path, content_type) = (path.as_str(), content_type);
        self.shared
            .resilience
            .run("start_upload", 1.0, deadline, || async move {
                let (status, headers, body) = self
                    .shared
                    .oauth
                    .send_authorized("start_upload", deadline, |token| {
                        self.shared
                            .http
                            .request(Method::POST, path)
                            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                            .header(CONTENT_TYPE, "application/json; charset=UTF-8")
                            .header("X-Upload-Content-Length", total.to_string())
                            .header("X-Upload-Content-Type", content_type)
                            .body(metadata.to_string())
                    })
                    .await?;
                if !status.is_success() {
                    return Err(error_from("start_upload", status, &headers, &body));
                }
                let uri = headers.get(LOCATION).and_then(|value| value.to_str().ok()).ok_or_else(|| {
                    AdapterError::Unavailable {
                        platform,
                        message: "start_upload: YouTube answered without the session's Location".into(),
                    }
                })?;
                Ok(UploadSession { uri: uri.to_owned(), total })
            })
            .await
    }

    /// Sends what the session does not hold yet: asks it first (so an upload cut short,
    /// in this process or a crashed one, goes on where the server stands), then sends
    /// the rest chunk by chunk, asking again after a chunk that failed.
    pub async fn continue_upload(
        &self,
        session: &UploadSession,
        bytes: &[u8],
        chunk_size: usize,
    ) -> Result<YouTubeVideo, AdapterError> {
        let platform = Platform::Youtube;
        if bytes.len() as u64 != session.total {
            return Err(AdapterError::rejected(
                platform,
                format!("the session is for {} bytes, not {}", session.total, bytes.len()),
            ));
        }
        let chunk = (chunk_size / YOUTUBE_CHUNK_UNIT).max(1) * YOUTUBE_CHUNK_UNIT;
        let deadline = self.shared.resilience.default_deadline();
        let mut resumes = 0;
        let mut held = match self.progress(session, deadline).await? {
            Progress::Done(video) => return Ok(video),
            Progress::Holds(held) => held,
        };
        loop {
            let start = usize::try_from(held).unwrap_or(usize::MAX);
            if start >= bytes.len() {
                // It holds every byte yet has not said it is done: a session this client
                // cannot finish.
                return Err(AdapterError::Unavailable {
                    platform,
                    message: "upload: the session holds every byte but names no video".into(),
                });
            }
            let end = (start + chunk).min(bytes.len());
            match self.send_chunk(session, start, &bytes[start..end], deadline).await {
                Ok(Progress::Done(video)) => return Ok(video),
                Ok(Progress::Holds(now)) if now > held => held = now,
                Ok(Progress::Holds(_)) if resumes < MAX_RESUMES => resumes += 1,
                Ok(Progress::Holds(_)) => {
                    return Err(AdapterError::Unavailable {
                        platform,
                        message: "upload: the session takes no more bytes".into(),
                    });
                }
                Err(error) if error.is_retryable() && resumes < MAX_RESUMES => {
                    resumes += 1;
                    tracing::info!(%error, resumes, "YouTube chunk failed; asking the session where it stands");
                    held = match self.progress(session, deadline).await? {
                        Progress::Done(video) => return Ok(video),
                        Progress::Holds(held) => held,
                    };
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// What the session holds (`PUT` with `Content-Range: bytes */total`).
    async fn progress(&self, session: &UploadSession, deadline: Instant) -> Result<Progress, AdapterError> {
        self.shared
            .resilience
            .run("upload_status", 1.0, deadline, || async move {
                let (status, headers, body) = self
                    .shared
                    .oauth
                    .send_authorized("upload_status", deadline, |token| {
                        self.shared
                            .http
                            .request(Method::PUT, &session.uri)
                            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                            .header(CONTENT_LENGTH, "0")
                            .header(CONTENT_RANGE, format!("bytes */{}", session.total))
                    })
                    .await?;
                read_progress("upload_status", status, &headers, &body)
            })
            .await
    }

    /// One chunk, once: a failure is the caller's to resume from.
    async fn send_chunk(
        &self,
        session: &UploadSession,
        start: usize,
        chunk: &[u8],
        deadline: Instant,
    ) -> Result<Progress, AdapterError> {
        let last = start + chunk.len() - 1;
        let range = format!("bytes {start}-{last}/{}", session.total);
        let permit = self.shared.resilience.breaker().permit()?;
        let sent = tokio::time::timeout(
            self.shared.resilience.settings().budget.per_request_timeout,
            self.shared.oauth.send_authorized("upload_chunk", deadline, |token| {
                self.shared
                    .http
                    .request(Method::PUT, &session.uri)
                    .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                    .header(CONTENT_RANGE, range.clone())
                    .header(ACCEPT, "application/json")
                    .body(chunk.to_vec())
            }),
        )
        .await
        .unwrap_or_else(|_| {
            Err(AdapterError::Unavailable {
                platform: Platform::Youtube,
                message: "upload_chunk: no answer in time".into(),
            })
        });
        let outcome = sent.and_then(|(status, headers, body)| read_progress("upload_chunk", status, &headers, &body));
        permit.record(&outcome);
        outcome
    }
}

/// `308` with or without `Range`, or the finished video, or the error.
fn read_progress(
    operation: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Result<Progress, AdapterError> {
    if status == StatusCode::PERMANENT_REDIRECT {
        // `Range: bytes=0-n`: it holds n + 1 bytes; no Range: nothing yet.
        let held = headers
            .get("range")
            .and_then(|value| value.to_str().ok())
            .and_then(|range| range.strip_prefix("bytes=0-"))
            .and_then(|last| last.trim().parse::<u64>().ok())
            .map_or(0, |last| last + 1);
        return Ok(Progress::Holds(held));
    }
    if status.is_success() {
        let video: Value = serde_json::from_str(body).map_err(|_| AdapterError::Unavailable {
            platform: Platform::Youtube,
            message: format!("{operation}: YouTube answered {status} without the video"),
        })?;
        let id = video.get("id").and_then(Value::as_str).ok_or_else(|| AdapterError::Unavailable {
            platform: Platform::Youtube,
            message: format!("{operation}: the video YouTube answered has no id"),
        })?;
        return Ok(Progress::Done(YouTubeVideo {
            id: id.to_owned(),
            url: format!("https://www.youtube.com/watch?v={id}"),
        }));
    }
    if status == StatusCode::NOT_FOUND {
        return Err(AdapterError::rejected(
            Platform::Youtube,
            format!("{operation}: the upload session expired; the upload must start again"),
        ));
    }
    Err(error_from(operation, status, headers, body))
}

/// The error a failed answer means.
fn error_from(operation: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> AdapterError {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let message = value
        .as_ref()
        .and_then(|value| value.pointer("/error/message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let reason = value
        .as_ref()
        .and_then(|value| value.pointer("/error/errors/0/reason"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let platform = Platform::Youtube;
    match (status, reason.as_str()) {
        (_, "quotaExceeded" | "uploadLimitExceeded") => AdapterError::rejected(
            platform,
            format!("{operation}: YouTube's {reason} for today ({message}); try again tomorrow"),
        ),
        (StatusCode::TOO_MANY_REQUESTS, _) | (_, "rateLimitExceeded" | "userRateLimitExceeded") => {
            AdapterError::RateLimited {
                platform,
                retry_after_secs: rest::retry_after(headers).map_or(30, |wait| wait.as_secs().max(1)),
            }
        }
        (status, _) if status.is_server_error() => {
            AdapterError::Unavailable { platform, message: format!("{operation}: YouTube answered {status} {message}") }
        }
        (status, _) => {
            AdapterError::rejected(platform, format!("{operation}: YouTube answered {status}: {reason} {message}"))
        }
    }
}

/// Whether `id` is shaped like a YouTube video id (letters, digits, `-` and `_`).
fn is_video_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A YouTube channel as the swarm's video network: each post is the product's clip,
/// titled with the post's first line (cut at a word to YouTube's 100 characters) and
/// described by its whole text, uploaded with the resumable protocol and kept until it
/// is done ([`publish_video`]); its views, likes and comments are read back.
#[derive(Debug, Clone)]
pub struct YouTubeChannel {
    client: YouTubeClient,
    privacy: String,
}

impl YouTubeChannel {
    /// `client`'s channel, its videos posted with `privacy` (`public` when `None`;
    /// `unlisted` or `private` otherwise).
    pub fn new(client: YouTubeClient, privacy: Option<String>) -> Result<Self, AdapterError> {
        let privacy = privacy.unwrap_or_else(|| "public".to_owned());
        if !["public", "unlisted", "private"].contains(&privacy.as_str()) {
            return Err(AdapterError::rejected(
                Platform::Youtube,
                format!("{privacy:?} is not a YouTube privacy status (public, unlisted or private)"),
            ));
        }
        Ok(Self { client, privacy })
    }
}

/// A title from a post's text: its first line, cut at a word to fit.
fn title_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    if line.chars().count() <= MAX_TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MAX_TITLE_CHARS - 1).collect();
    let at_word = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head).trim_end();
    format!("{at_word}…")
}

#[async_trait::async_trait]
impl VideoChannel for YouTubeChannel {
    fn video_network(&self) -> SocialNetwork {
        SocialNetwork::YouTube
    }

    async fn start_video(&self, post: &PostSpec, video: &PostVideo) -> Result<Value, AdapterError> {
        let draft =
            VideoDraft { title: title_of(&post.text), description: post.text.clone(), privacy: self.privacy.clone() };
        let session = self.client.start_upload(&draft, &video.content_type, video.bytes.len() as u64).await?;
        serde_json::to_value(session)
            .map_err(|error| AdapterError::rejected(Platform::Youtube, format!("the session cannot be kept: {error}")))
    }

    async fn finish_video(&self, started: &Value, video: &PostVideo) -> Result<PostRef, AdapterError> {
        let session: UploadSession = serde_json::from_value(started.clone()).map_err(|error| {
            AdapterError::rejected(Platform::Youtube, format!("the kept upload session is unreadable: {error}"))
        })?;
        let uploaded = self.client.continue_upload(&session, &video.bytes, CHANNEL_CHUNK).await?;
        Ok(PostRef { post_id: uploaded.id, url: uploaded.url })
    }
}

#[async_trait::async_trait]
impl SocialChannel for YouTubeChannel {
    fn network(&self) -> SocialNetwork {
        SocialNetwork::YouTube
    }

    fn circuit_state(&self) -> CircuitState {
        self.client.circuit_state()
    }

    fn oauth(&self) -> &OAuthSession {
        self.client.oauth()
    }

    async fn publish(
        &self,
        post: &PostSpec,
        key: &IdempotencyKey,
        keeper: &dyn ConnectionKeeper,
    ) -> Result<PostRef, AdapterError> {
        publish_video(self, post, key, keeper).await
    }

    /// Views as impressions; likes and comments as engagements.
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError> {
        Ok(self
            .client
            .video_statistics(post_ids)
            .await?
            .into_iter()
            .map(|counts| PostEngagement {
                post_id: counts.id,
                network: SocialNetwork::YouTube,
                impressions: counts.views,
                engagements: counts.likes + counts.comments,
                clicks: 0,
            })
            .collect())
    }
}
