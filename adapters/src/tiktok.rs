//! [`TikTokClient`]: videos posted straight to a TikTok account with the Content Posting
//! API ("direct post"), signed in with OAuth 2.0 ([`OAuthSession`]), and their public
//! counts read back.
//!
//! What the protocol asks of a client, and how this one answers:
//! - **Ask the creator first**: `POST /v2/post/publish/creator_info/query/` says which
//!   privacy levels the account may post with (an application TikTok has not audited
//!   gets `SELF_ONLY` only), whether comments are off, and the longest video it takes. A
//!   draft whose privacy level or length the account does not allow is refused before
//!   anything is posted, with the levels it does allow.
//! - **Initialise the post**: `POST /v2/post/publish/video/init/` with the caption and
//!   settings (`post_info`) and the upload's plan (`source_info`: `FILE_UPLOAD`, the size,
//!   the chunk size and the number of chunks); it answers a `publish_id` and an
//!   `upload_url`. The plan follows TikTok's chunk rules ([`tiktok_chunk_plan`]): a video under
//!   5 MB goes whole; otherwise chunks of 5 to 64 MB, as many as the size holds whole, the
//!   last one taking the trailing bytes (up to 128 MB), at most 1,000.
//! - **Send the bytes** to the upload URL (pre-signed: no bearer token), chunk after
//!   chunk, with `Content-Range: bytes first-last/total`; `206` until the last, then
//!   `201`. The upload ([`TikTokUpload`]) is the caller's to keep (in a checkpoint): after
//!   a crash or a chunk that broke off, [`TikTokClient::continue_post`] asks the status
//!   endpoint how many bytes TikTok holds (`uploaded_bytes`) and goes on from there, so
//!   the post is not initialised a second time. A post initialised twice (an answer
//!   lost on the way) still publishes once: TikTok publishes only a post whose bytes
//!   arrive.
//! - **Wait for publishing**: `POST /v2/post/publish/status/fetch/` until the status is
//!   `PUBLISH_COMPLETE` (with `publicaly_available_post_id`, TikTok's spelling, once the
//!   post is public and moderated), `SEND_TO_USER_INBOX`, or `FAILED` with a
//!   `fail_reason`. It is polled no faster than TikTok's 30 requests a minute allow.
//! - **Every answer** is `{"data":{…},"error":{"code","message","log_id"}}`; `code` is
//!   `"ok"` on success and a word otherwise: `access_token_invalid` (`401`: refreshed
//!   once, shared by concurrent calls), `rate_limit_exceeded` (`429`, per-minute windows
//!   with no header saying when: waited a minute unless `Retry-After` says otherwise),
//!   `spam_risk_*` and `privacy_level_option_mismatch` (refused, not retried),
//!   `internal_error` (`5xx`, retried).
//! - **Tokens** come from `/v2/oauth/token/` with the application's `client_key` and
//!   `client_secret` in the form body; refresh tokens rotate, and the rotated one is
//!   what [`OAuthSession::refresh_token`] hands the owner's store.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession, Payload};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest;
use crate::{
    AdapterError, ConnectionKeeper, IdempotencyKey, Platform, PostEngagement, PostRef, PostSpec, PostVideo,
    SocialChannel, SocialNetwork, VideoChannel, publish_video,
};

/// Where the API is.
pub const TIKTOK_API_BASE: &str = "https://open.tiktokapis.com";
/// The longest caption TikTok takes, in UTF-16 code units.
pub const TIKTOK_MAX_CAPTION_UNITS: usize = 2_200;
/// The smallest chunk of a video of more than one chunk, and the size under which a
/// video goes whole.
pub const TIKTOK_MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// The largest chunk but the last.
pub const TIKTOK_MAX_CHUNK: u64 = 64 * 1024 * 1024;

const PLATFORM: Platform = Platform::Tiktok;
/// The last chunk may grow this large with the trailing bytes.
const MAX_FINAL_CHUNK: u64 = 128 * 1024 * 1024;
/// The most chunks one upload takes.
const MAX_CHUNKS: u64 = 1_000;
/// The largest video TikTok takes.
const MAX_VIDEO_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Resumes tried within one upload before it gives up.
const MAX_RESUMES: u32 = 5;
/// The status endpoint takes 30 requests a minute per token.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// TikTok's windows are a minute long and its `429` does not say when one ends.
const RATE_LIMIT_WAIT_SECS: u64 = 60;
/// Videos one metrics query takes.
const MAX_QUERY_IDS: usize = 20;

/// A connection to one TikTok account, through the platform's TikTok application.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TikTokConnection {
    /// The API's origin: [`TIKTOK_API_BASE`], or a test server. The token endpoint is
    /// `/v2/oauth/token/` on it.
    pub api_base_url: String,
    /// The application's client key.
    pub client_key: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the account's owner granted (scopes `video.publish` and
    /// `video.list`).
    pub refresh_token: OAuthSecret,
}

/// What the account may post, as `creator_info/query` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TikTokCreator {
    /// The account's handle.
    pub creator_username: String,
    /// Its display name.
    #[serde(default)]
    pub creator_nickname: String,
    /// The privacy levels a post may take, like `PUBLIC_TO_EVERYONE` or `SELF_ONLY`.
    pub privacy_level_options: Vec<String>,
    /// Whether the account has comments off (a post must then turn them off too).
    #[serde(default)]
    pub comment_disabled: bool,
    /// Whether duets are off.
    #[serde(default)]
    pub duet_disabled: bool,
    /// Whether stitches are off.
    #[serde(default)]
    pub stitch_disabled: bool,
    /// The longest video the account may post.
    pub max_video_post_duration_sec: u32,
}

/// A video post to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TikTokDraft {
    /// The caption, hashtags included.
    pub caption: String,
    /// One of the creator's [`TikTokCreator::privacy_level_options`].
    pub privacy_level: String,
    /// How long the video plays, checked against the account's longest.
    pub duration_secs: u32,
}

/// A post whose bytes are on their way: keep it to go on after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TikTokUpload {
    /// The post's id while it is being published.
    pub publish_id: String,
    /// Where its bytes go.
    pub upload_url: String,
    /// The video's size in bytes.
    pub total: u64,
    /// The size of every chunk but the last.
    pub chunk_size: u64,
    /// How many chunks.
    pub chunks: u64,
}

/// Where a post stands, as `status/fetch` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TikTokPostStatus {
    /// The bytes are arriving; TikTok holds this many.
    ProcessingUpload {
        /// Bytes held.
        uploaded_bytes: u64,
    },
    /// TikTok is fetching the video from a URL (posts made with `PULL_FROM_URL`).
    ProcessingDownload,
    /// Sent to the account's inbox for the owner to finish.
    SentToInbox,
    /// Published; the public ids once moderation has passed (none for private posts).
    Published {
        /// `publicaly_available_post_id`.
        post_ids: Vec<String>,
    },
    /// TikTok did not publish it.
    Failed {
        /// TikTok's `fail_reason`.
        reason: String,
    },
}

/// A published post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TikTokPost {
    /// The id it was published under.
    pub publish_id: String,
    /// Its public video ids (none while private or in moderation).
    pub post_ids: Vec<String>,
    /// Whether it went to the owner's inbox instead of the feed.
    pub in_inbox: bool,
}

/// A video's public counts, from `/v2/video/query/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TikTokVideoCounts {
    /// The video's id.
    pub id: String,
    /// Plays.
    #[serde(default)]
    pub view_count: u64,
    /// Likes.
    #[serde(default)]
    pub like_count: u64,
    /// Comments.
    #[serde(default)]
    pub comment_count: u64,
    /// Shares.
    #[serde(default)]
    pub share_count: u64,
}

/// A client of one TikTok account; see the module's notes.
#[derive(Clone)]
pub struct TikTokClient {
    shared: Arc<Shared>,
    poll_interval: Duration,
}

struct Shared {
    api: String,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
}

impl fmt::Debug for TikTokClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TikTokClient")
            .field("api", &self.shared.api)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .finish()
    }
}

/// The plan of an upload of `total` bytes in chunks of about `wanted` bytes, by TikTok's
/// rules: the chunk size and the number of chunks. A video under [`TIKTOK_MIN_CHUNK`]
/// goes whole; otherwise `wanted` is brought within 5 to 64 MB and, where the last chunk
/// would grow past 128 MB or the chunks pass 1,000, made larger.
pub fn tiktok_chunk_plan(total: u64, wanted: u64) -> Result<(u64, u64), AdapterError> {
    if total == 0 || total > MAX_VIDEO_BYTES {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("TikTok takes a video of 1 byte to 4 GB; this one has {total} bytes"),
        ));
    }
    if total < TIKTOK_MIN_CHUNK {
        return Ok((total, 1));
    }
    let mut chunk = wanted.clamp(TIKTOK_MIN_CHUNK, TIKTOK_MAX_CHUNK).min(total);
    // The fewest chunks the size allows: the last takes up to 128 MB, the rest 64 MB.
    chunk = chunk.max(total.div_ceil(MAX_CHUNKS));
    let chunks = total / chunk;
    let last = total - (chunks - 1) * chunk;
    if last > MAX_FINAL_CHUNK {
        // Only a chunk under 64 MB can leave a last chunk that large; at 64 MB it cannot.
        chunk = TIKTOK_MAX_CHUNK;
    }
    Ok((chunk, total / chunk))
}

impl TikTokClient {
    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address or the credentials cannot make a request.
    pub fn with_settings(connection: TikTokConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let api = rest::origin(PLATFORM, "TikTok API address", &connection.api_base_url, TIKTOK_API_BASE)?;
        if connection.client_key.trim().is_empty()
            || connection.client_secret.is_malformed()
            || connection.refresh_token.is_malformed()
        {
            return Err(AdapterError::rejected(
                PLATFORM,
                "the TikTok client key, client secret or refresh token is empty or malformed",
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .build()
            .map_err(|error| AdapterError::rejected(PLATFORM, format!("cannot build the HTTP client: {error}")))?;
        let application = OAuthApplication {
            token_url: format!("{api}/v2/oauth/token/"),
            client_id: connection.client_key,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::InBodyAsClientKey,
        };
        let oauth = OAuthSession::new(PLATFORM, application, connection.refresh_token, http.clone());
        let resilience = Resilience::new(PLATFORM, settings);
        let shared = Shared { api, http, resilience, oauth };
        Ok(Self { shared: Arc::new(shared), poll_interval: DEFAULT_POLL_INTERVAL })
    }

    /// The same client polling a post's status every `interval` (five seconds by default;
    /// TikTok takes 30 status requests a minute).
    pub fn polling_every(self, interval: Duration) -> Self {
        Self { poll_interval: interval, ..self }
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    /// The connection's tokens, and whether the owner must connect again.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// Posts `bytes` (a video of `content_type`) as `draft` says, in chunks of about
    /// `chunk_size` bytes, and waits until TikTok has published it.
    pub async fn post_video(
        &self,
        draft: &TikTokDraft,
        content_type: &str,
        bytes: &[u8],
        chunk_size: u64,
    ) -> Result<TikTokPost, AdapterError> {
        let upload = self.start_post(draft, bytes.len() as u64, chunk_size).await?;
        self.continue_post(&upload, content_type, bytes).await?;
        self.await_post(&upload).await
    }

    /// What the account may post.
    pub async fn creator_info(&self) -> Result<TikTokCreator, AdapterError> {
        let deadline = self.shared.resilience.default_deadline();
        let data = self.call("creator_info", "/v2/post/publish/creator_info/query/", None, deadline).await?;
        rest::typed(PLATFORM, "creator_info", data)
    }

    /// Checks `draft` against what the account may post and initialises the post of a
    /// video of `total` bytes: the upload to keep until the bytes are sent.
    pub async fn start_post(
        &self,
        draft: &TikTokDraft,
        total: u64,
        chunk_size: u64,
    ) -> Result<TikTokUpload, AdapterError> {
        let plan = planned(draft, total, chunk_size)?;
        let creator = self.creator_info().await?;
        self.initialise(&creator, draft, total, plan).await
    }

    /// [`TikTokClient::start_post`] for a caller that has just read what the account may
    /// post (`creator`), without asking again.
    pub async fn start_post_as(
        &self,
        creator: &TikTokCreator,
        draft: &TikTokDraft,
        total: u64,
        chunk_size: u64,
    ) -> Result<TikTokUpload, AdapterError> {
        let plan = planned(draft, total, chunk_size)?;
        self.initialise(creator, draft, total, plan).await
    }

    /// Checks `draft` against `creator` and initialises the post with its upload's
    /// `(chunk size, chunks)`.
    async fn initialise(
        &self,
        creator: &TikTokCreator,
        draft: &TikTokDraft,
        total: u64,
        (chunk_size, chunks): (u64, u64),
    ) -> Result<TikTokUpload, AdapterError> {
        if !creator.privacy_level_options.contains(&draft.privacy_level) {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!(
                    "@{} may not post with privacy {:?}; TikTok allows {} for this account",
                    creator.creator_username,
                    draft.privacy_level,
                    creator.privacy_level_options.join(", ")
                ),
            ));
        }
        if draft.duration_secs > creator.max_video_post_duration_sec {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!(
                    "@{} may post videos of up to {} s; this one plays {} s",
                    creator.creator_username, creator.max_video_post_duration_sec, draft.duration_secs
                ),
            ));
        }
        let body = json!({
            "post_info": {
                "title": draft.caption,
                "privacy_level": draft.privacy_level,
                "disable_comment": creator.comment_disabled,
                "disable_duet": creator.duet_disabled,
                "disable_stitch": creator.stitch_disabled,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": total,
                "chunk_size": chunk_size,
                "total_chunk_count": chunks,
            },
        });
        let deadline = self.shared.resilience.default_deadline();
        let data = self.call("start_post", "/v2/post/publish/video/init/", Some(&body), deadline).await?;
        #[derive(Deserialize)]
        struct Initialised {
            publish_id: String,
            upload_url: String,
        }
        let initialised: Initialised = rest::typed(PLATFORM, "start_post", data)?;
        Ok(TikTokUpload {
            publish_id: initialised.publish_id,
            upload_url: initialised.upload_url,
            total,
            chunk_size,
            chunks,
        })
    }

    /// Sends what TikTok does not hold yet of `upload`: asks first (so an upload cut
    /// short, in this process or a crashed one, goes on where TikTok stands), then
    /// sends the rest chunk by chunk, asking again after a chunk that failed.
    pub async fn continue_post(
        &self,
        upload: &TikTokUpload,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), AdapterError> {
        if bytes.len() as u64 != upload.total {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("the post is for {} bytes, not {}", upload.total, bytes.len()),
            ));
        }
        if !content_type.starts_with("video/") {
            return Err(AdapterError::rejected(PLATFORM, "a TikTok upload needs a video/* type"));
        }
        let deadline = self.shared.resilience.default_deadline();
        let mut resumes = 0;
        let mut held = self.held(upload, deadline).await?;
        while held < upload.total {
            let index = held / upload.chunk_size;
            let first = index * upload.chunk_size;
            let last = if index + 1 >= upload.chunks { upload.total } else { first + upload.chunk_size };
            let range = (usize::try_from(first).unwrap_or(usize::MAX), usize::try_from(last).unwrap_or(usize::MAX));
            match self.send_chunk(upload, content_type, range, &bytes[range.0..range.1], deadline).await {
                Ok(()) => held = last,
                Err(error) if error.is_retryable() && resumes < MAX_RESUMES => {
                    resumes += 1;
                    tracing::info!(%error, resumes, "TikTok chunk failed; asking how much TikTok holds");
                    held = self.held(upload, deadline).await?;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Where the post stands.
    pub async fn post_status(&self, publish_id: &str) -> Result<TikTokPostStatus, AdapterError> {
        self.status_until(publish_id, self.shared.resilience.default_deadline()).await
    }

    /// Polls the post's status until TikTok has published it, sent it to the inbox, or
    /// failed it; a post still processing when the call's deadline comes is an outage
    /// to try again later (the upload kept, nothing sent twice).
    pub async fn await_post(&self, upload: &TikTokUpload) -> Result<TikTokPost, AdapterError> {
        let deadline = self.shared.resilience.default_deadline();
        loop {
            let post = |post_ids, in_inbox| TikTokPost { publish_id: upload.publish_id.clone(), post_ids, in_inbox };
            match self.status_until(&upload.publish_id, deadline).await? {
                TikTokPostStatus::Published { post_ids } => return Ok(post(post_ids, false)),
                TikTokPostStatus::SentToInbox => return Ok(post(Vec::new(), true)),
                TikTokPostStatus::Failed { reason } => {
                    return Err(AdapterError::rejected(
                        PLATFORM,
                        format!("TikTok did not publish post {}: {reason}", upload.publish_id),
                    ));
                }
                TikTokPostStatus::ProcessingUpload { .. } | TikTokPostStatus::ProcessingDownload => {}
            }
            if Instant::now() + self.poll_interval >= deadline {
                return Err(AdapterError::Unavailable {
                    platform: PLATFORM,
                    message: format!("post {} is still processing at the call's deadline", upload.publish_id),
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// The public counts of `video_ids` (up to 20 a query; more are read in turns).
    pub async fn video_counts(&self, video_ids: &[String]) -> Result<Vec<TikTokVideoCounts>, AdapterError> {
        #[derive(Deserialize)]
        struct Videos {
            #[serde(default)]
            videos: Vec<TikTokVideoCounts>,
        }
        let deadline = self.shared.resilience.default_deadline();
        let mut counts = Vec::with_capacity(video_ids.len());
        for ids in video_ids.chunks(MAX_QUERY_IDS) {
            let body = json!({ "filters": { "video_ids": ids } });
            let path = "/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count";
            let data = self.call("video_counts", path, Some(&body), deadline).await?;
            counts.extend(rest::typed::<Videos>(PLATFORM, "video_counts", data)?.videos);
        }
        Ok(counts)
    }

    /// Bytes TikTok holds of `upload`: all of them once it is past uploading.
    async fn held(&self, upload: &TikTokUpload, deadline: Instant) -> Result<u64, AdapterError> {
        Ok(match self.status_until(&upload.publish_id, deadline).await? {
            TikTokPostStatus::ProcessingUpload { uploaded_bytes } => uploaded_bytes.min(upload.total),
            TikTokPostStatus::Failed { reason } => {
                return Err(AdapterError::rejected(
                    PLATFORM,
                    format!("TikTok failed post {} while its bytes arrived: {reason}", upload.publish_id),
                ));
            }
            _ => upload.total,
        })
    }

    async fn status_until(&self, publish_id: &str, deadline: Instant) -> Result<TikTokPostStatus, AdapterError> {
        #[derive(Deserialize)]
        struct Status {
            status: String,
            #[serde(default)]
            fail_reason: String,
            #[serde(default)]
            publicaly_available_post_id: Vec<Value>,
            #[serde(default)]
            uploaded_bytes: u64,
        }
        let body = json!({ "publish_id": publish_id });
        let data = self.call("post_status", "/v2/post/publish/status/fetch/", Some(&body), deadline).await?;
        let status: Status = rest::typed(PLATFORM, "post_status", data)?;
        Ok(match status.status.as_str() {
            "PROCESSING_UPLOAD" => TikTokPostStatus::ProcessingUpload { uploaded_bytes: status.uploaded_bytes },
            "PROCESSING_DOWNLOAD" => TikTokPostStatus::ProcessingDownload,
            "SEND_TO_USER_INBOX" => TikTokPostStatus::SentToInbox,
            "PUBLISH_COMPLETE" => TikTokPostStatus::Published {
                // int64 ids: numbers in the documented answer, strings where a client
                // must not lose their digits.
                post_ids: status
                    .publicaly_available_post_id
                    .iter()
                    .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
                    .collect(),
            },
            "FAILED" => TikTokPostStatus::Failed { reason: status.fail_reason },
            other => {
                return Err(AdapterError::Unavailable {
                    platform: PLATFORM,
                    message: format!("post_status: TikTok answered a status it does not document: {other:?}"),
                });
            }
        })
    }

    /// One API call under the connection's retries and breaker: the answer's `data`.
    async fn call(
        &self,
        operation: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let shared = &self.shared;
        let url = format!("{}{path}", shared.api);
        let url = url.as_str();
        shared
            .resilience
            .run(operation, 1.0, deadline, || async move {
                let payload = body.map_or(Payload::Empty, Payload::Json);
                let (status, headers, text) = shared
                    .oauth
                    .send_bearer(&shared.http, (operation, deadline), (&Method::POST, url), &[], payload)
                    .await?;
                read_answer(operation, status, &headers, &text)
            })
            .await
    }

    /// One chunk, once: a failure is the caller's to resume from.
    async fn send_chunk(
        &self,
        upload: &TikTokUpload,
        content_type: &str,
        (first, end): (usize, usize),
        chunk: &[u8],
        deadline: Instant,
    ) -> Result<(), AdapterError> {
        let permit = self.shared.resilience.breaker().permit()?;
        let timeout = self
            .shared
            .resilience
            .settings()
            .budget
            .per_request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let request = self
            .shared
            .http
            .request(Method::PUT, &upload.upload_url)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, chunk.len().to_string())
            .header(CONTENT_RANGE, format!("bytes {first}-{}/{}", end - 1, upload.total))
            .body(chunk.to_vec());
        let outcome = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => {
                Err(AdapterError::Unavailable { platform: PLATFORM, message: "upload_chunk: no answer in time".into() })
            }
            Ok(Err(error)) => Err(rest::transport_failure(PLATFORM, "upload_chunk", &error)),
            Ok(Ok(response)) => {
                let status = response.status();
                let headers = response.headers().clone();
                let text = response.text().await.unwrap_or_default();
                match status {
                    StatusCode::PARTIAL_CONTENT | StatusCode::CREATED | StatusCode::OK => Ok(()),
                    status => read_answer("upload_chunk", status, &headers, &text).map(drop),
                }
            }
        };
        permit.record(&outcome);
        outcome
    }
}

/// The `data` of a successful answer, or the error its `error.code` means.
fn read_answer(operation: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> Result<Value, AdapterError> {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let word = |pointer: &str| {
        value.as_ref().and_then(|value| value.pointer(pointer)).and_then(Value::as_str).unwrap_or_default().to_owned()
    };
    let (code, message, log_id) = (word("/error/code"), word("/error/message"), word("/error/log_id"));
    if status.is_success() && code == "ok" {
        return Ok(value.and_then(|mut value| value.get_mut("data").map(Value::take)).unwrap_or(Value::Null));
    }
    let said = format!("{code} {message} (log id {log_id})");
    Err(match (status, code.as_str()) {
        (_, "rate_limit_exceeded") | (StatusCode::TOO_MANY_REQUESTS, _) => AdapterError::RateLimited {
            platform: PLATFORM,
            retry_after_secs: rest::retry_after(headers).map_or(RATE_LIMIT_WAIT_SECS, |wait| wait.as_secs().max(1)),
        },
        (status, _) if status.is_server_error() => AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: TikTok answered {status} {said}"),
        },
        (status, "") if status.is_success() => AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: TikTok answered {status} without its error object"),
        },
        (StatusCode::UNAUTHORIZED, "access_token_invalid") => AdapterError::rejected(
            PLATFORM,
            format!("{operation}: TikTok refused the access token even after refreshing it: {said}"),
        ),
        (StatusCode::UNAUTHORIZED, _) => AdapterError::rejected(
            PLATFORM,
            format!("{operation}: the TikTok connection lacks a permission ({said}); connect TikTok again granting it"),
        ),
        (status, _) => AdapterError::rejected(PLATFORM, format!("{operation}: TikTok answered {status}: {said}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut bytes = u32::try_from(body.len() + 8).expect("small").to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn an_mp4s_length_is_read_from_its_movie_header_in_either_version_and_box_size() {
        // Version 0: 32-bit times, 90,000 units a second.
        let mut v0 = vec![0_u8; 12];
        v0.extend_from_slice(&90_000_u32.to_be_bytes());
        v0.extend_from_slice(&(90_000_u32 * 15).to_be_bytes());
        let file = [boxed(b"ftyp", b"isom"), boxed(b"moov", &boxed(b"mvhd", &v0))].concat();
        assert_eq!(mp4_seconds(&file), Some(15.0));

        // Version 1: 64-bit times, a duration past u32, in a moov with a 64-bit size.
        let mut v1 = vec![1_u8, 0, 0, 0];
        v1.extend_from_slice(&[0; 16]);
        v1.extend_from_slice(&1_000_u32.to_be_bytes());
        v1.extend_from_slice(&(u64::from(u32::MAX) + 1_000).to_be_bytes());
        let mvhd = boxed(b"mvhd", &v1);
        let mut moov = 1_u32.to_be_bytes().to_vec();
        moov.extend_from_slice(b"moov");
        moov.extend_from_slice(&(mvhd.len() as u64 + 16).to_be_bytes());
        moov.extend_from_slice(&mvhd);
        assert_eq!(mp4_seconds(&moov), Some(4_294_968.295));

        // A last box whose size is 0 runs to the end of the file.
        let mut open_ended = 0_u32.to_be_bytes().to_vec();
        open_ended.extend_from_slice(b"moov");
        open_ended.extend_from_slice(&boxed(b"mvhd", &v0));
        assert_eq!(mp4_seconds(&[boxed(b"ftyp", b"isom"), open_ended].concat()), Some(15.0));
    }

    #[test]
    fn bytes_that_are_no_mp4_have_no_length() {
        assert_eq!(mp4_seconds(&[]), None);
        assert_eq!(mp4_seconds(b"not a video at all"), None);
        // A box claiming more bytes than the file holds.
        let mut cut = boxed(b"moov", &[0; 40]);
        cut.truncate(20);
        assert_eq!(mp4_seconds(&cut), None);
        // A time scale of zero, and an unknown header version.
        let mut zero = vec![0_u8; 20];
        zero[16..20].copy_from_slice(&10_u32.to_be_bytes());
        assert_eq!(mp4_seconds(&boxed(b"moov", &boxed(b"mvhd", &zero))), None);
        let mut v2 = vec![2_u8; 4];
        v2.extend_from_slice(&[0; 28]);
        assert_eq!(mp4_seconds(&boxed(b"moov", &boxed(b"mvhd", &v2))), None);
        // A box whose size is below its own header.
        let mut tiny = 4_u32.to_be_bytes().to_vec();
        tiny.extend_from_slice(b"moov");
        assert_eq!(mp4_seconds(&tiny), None);
    }

    #[test]
    fn small_videos_go_whole_and_large_ones_in_chunks_by_tiktoks_rules() {
        assert_eq!(tiktok_chunk_plan(1, 10 * MB).expect("one byte"), (1, 1));
        assert_eq!(tiktok_chunk_plan(5 * MB - 1, 10 * MB).expect("under 5 MB"), (5 * MB - 1, 1));
        assert_eq!(tiktok_chunk_plan(12 * MB, 5 * MB).expect("12 MB"), (5 * MB, 2), "the last chunk takes 7 MB");
        assert_eq!(tiktok_chunk_plan(12 * MB, MB).expect("too small a wish"), (5 * MB, 2));
        assert_eq!(tiktok_chunk_plan(200 * MB, 500 * MB).expect("too large a wish"), (64 * MB, 3));
        for (total, wanted) in [(5 * MB, 0), (1_000 * MB, 5 * MB), (4 * 1024 * MB, 5 * MB), (130 * MB, 65 * MB)] {
            let (chunk, chunks) = tiktok_chunk_plan(total, wanted).expect("a plan");
            let last = total - (chunks - 1) * chunk;
            assert!((TIKTOK_MIN_CHUNK..=TIKTOK_MAX_CHUNK).contains(&chunk), "{total}: chunk {chunk}");
            assert!((1..=MAX_CHUNKS).contains(&chunks), "{total}: {chunks} chunks");
            assert!(last >= chunk && last <= MAX_FINAL_CHUNK, "{total}: last {last}");
            assert_eq!(chunks, total / chunk, "the count is the size over the chunk, rounded down");
        }
    }

    #[test]
    fn empty_and_oversized_videos_are_refused() {
        for total in [0, 4 * 1024 * MB + 1, u64::MAX] {
            assert!(!tiktok_chunk_plan(total, 10 * MB).expect_err("refused").is_retryable(), "{total}");
        }
    }

    #[test]
    fn answers_are_read_by_their_error_code() {
        let headers = HeaderMap::new();
        let ok = r#"{"data":{"publish_id":"v_pub_1"},"error":{"code":"ok","message":"","log_id":"l1"}}"#;
        assert_eq!(read_answer("t", StatusCode::OK, &headers, ok).expect("ok")["publish_id"], "v_pub_1");
        let answer = |code: &str| format!(r#"{{"data":{{}},"error":{{"code":"{code}","message":"m","log_id":"l"}}}}"#);
        let limited = read_answer("t", StatusCode::TOO_MANY_REQUESTS, &headers, &answer("rate_limit_exceeded"));
        assert!(matches!(limited, Err(AdapterError::RateLimited { retry_after_secs: 60, .. })), "{limited:?}");
        let spam = read_answer("t", StatusCode::FORBIDDEN, &headers, &answer("spam_risk_too_many_posts"));
        assert!(!spam.expect_err("refused").is_retryable());
        let internal = read_answer("t", StatusCode::INTERNAL_SERVER_ERROR, &headers, &answer("internal_error"));
        assert!(internal.expect_err("an outage").is_retryable());
        let scope = read_answer("t", StatusCode::UNAUTHORIZED, &headers, &answer("scope_not_authorized"));
        assert!(scope.expect_err("refused").to_string().contains("connect TikTok again"));
    }
}

/// The privacy level a swarm's post asks for when its owner named none and the account
/// allows it.
const PUBLIC: &str = "PUBLIC_TO_EVERYONE";

/// The upload plan of `draft`'s video of `total` bytes in chunks of about `chunk_size`,
/// once its caption is one TikTok takes.
fn planned(draft: &TikTokDraft, total: u64, chunk_size: u64) -> Result<(u64, u64), AdapterError> {
    let caption_units = draft.caption.encode_utf16().count();
    if draft.caption.trim().is_empty() || caption_units > TIKTOK_MAX_CAPTION_UNITS {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("a TikTok caption takes 1 to {TIKTOK_MAX_CAPTION_UNITS} characters; this one has {caption_units}"),
        ));
    }
    tiktok_chunk_plan(total, chunk_size)
}

/// A TikTok account as the swarm's video network: each post is the product's vertical
/// clip with the post's text as its caption, posted straight to the account and kept
/// until TikTok has published it ([`publish_video`]); its plays, likes, comments and
/// shares are read back.
///
/// The privacy level is the owner's choice when they named one, else public where the
/// account allows it, else the first level TikTok offers it (an application TikTok has
/// not audited may post `SELF_ONLY` only).
#[derive(Debug, Clone)]
pub struct TikTokChannel {
    client: TikTokClient,
    privacy_level: Option<String>,
}

/// What [`TikTokChannel`] keeps of a post on its way.
#[derive(Serialize, Deserialize)]
struct StartedPost {
    upload: TikTokUpload,
    /// The account's name, for the post's address.
    username: String,
}

impl TikTokChannel {
    /// `client`'s account, posting with `privacy_level` when given.
    pub fn new(client: TikTokClient, privacy_level: Option<String>) -> Self {
        Self { client, privacy_level }
    }

    /// The public video ids behind `post_ids`: a post kept under its `publish_id` (not
    /// public yet when it was made) is looked up again, and left out while it still has
    /// none.
    async fn public_ids(&self, post_ids: &[String]) -> Result<Vec<(String, String)>, AdapterError> {
        let mut found = Vec::with_capacity(post_ids.len());
        for id in post_ids {
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
                found.push((id.clone(), id.clone()));
                continue;
            }
            if let TikTokPostStatus::Published { post_ids: public } = self.client.post_status(id).await?
                && let Some(public) = public.into_iter().next()
            {
                found.push((id.clone(), public));
            }
        }
        Ok(found)
    }
}

/// The caption a post's text makes: all of it that fits TikTok's 2,200 UTF-16 units.
fn caption_of(text: &str) -> String {
    let mut units = 0;
    text.trim()
        .chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= TIKTOK_MAX_CAPTION_UNITS
        })
        .collect()
}

/// How long an MP4 plays, from its movie header (`moov`/`mvhd`: a time scale and a
/// duration in its units); `None` when the bytes hold none.
pub(crate) fn mp4_seconds(bytes: &[u8]) -> Option<f64> {
    let moov = mp4_box(bytes, *b"moov")?;
    let mvhd = mp4_box(moov, *b"mvhd")?;
    let number = |at: usize, width: usize| -> Option<u64> {
        let field = mvhd.get(at..at + width)?;
        Some(field.iter().fold(0, |value, byte| value << 8 | u64::from(*byte)))
    };
    // Version 0 writes 32-bit times, version 1 64-bit ones, after four bytes of
    // version and flags.
    let (timescale, duration) = match mvhd.first()? {
        0 => (number(12, 4)?, number(16, 4)?),
        1 => (number(20, 4)?, number(24, 8)?),
        _ => return None,
    };
    (timescale > 0).then(|| duration as f64 / timescale as f64)
}

/// The body of the first box of `kind` among the boxes laid end to end in `bytes`.
fn mp4_box(mut bytes: &[u8], kind: [u8; 4]) -> Option<&[u8]> {
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes(bytes[..4].try_into().ok()?);
        let (header, size) = match size {
            // The box runs to the end.
            0 => (8, bytes.len()),
            // A 64-bit size follows the type.
            1 => (16, usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?),
            size => (8, usize::try_from(size).ok()?),
        };
        if size < header || size > bytes.len() {
            return None;
        }
        if bytes[4..8] == kind {
            return Some(&bytes[header..size]);
        }
        bytes = &bytes[size..];
    }
    None
}

#[async_trait::async_trait]
impl VideoChannel for TikTokChannel {
    fn video_network(&self) -> SocialNetwork {
        SocialNetwork::TikTok
    }

    async fn start_video(&self, post: &PostSpec, video: &PostVideo) -> Result<Value, AdapterError> {
        let seconds = mp4_seconds(&video.bytes)
            .ok_or_else(|| AdapterError::rejected(PLATFORM, "the clip is not an MP4 whose length can be read"))?;
        let creator = self.client.creator_info().await?;
        let offered = &creator.privacy_level_options;
        let privacy_level = match &self.privacy_level {
            Some(chosen) => chosen.clone(),
            None if offered.iter().any(|level| level == PUBLIC) => PUBLIC.to_owned(),
            None => offered.first().cloned().ok_or_else(|| {
                AdapterError::rejected(PLATFORM, format!("@{} may not post videos now", creator.creator_username))
            })?,
        };
        let draft = TikTokDraft {
            caption: caption_of(&post.text),
            privacy_level,
            duration_secs: u32::try_from(seconds.ceil() as u64).unwrap_or(u32::MAX),
        };
        let upload = self.client.start_post_as(&creator, &draft, video.bytes.len() as u64, TIKTOK_MAX_CHUNK).await?;
        serde_json::to_value(StartedPost { upload, username: creator.creator_username })
            .map_err(|error| AdapterError::rejected(PLATFORM, format!("the post cannot be kept: {error}")))
    }

    async fn finish_video(&self, started: &Value, video: &PostVideo) -> Result<PostRef, AdapterError> {
        let started: StartedPost = serde_json::from_value(started.clone())
            .map_err(|error| AdapterError::rejected(PLATFORM, format!("the kept post is unreadable: {error}")))?;
        self.client.continue_post(&started.upload, &video.content_type, &video.bytes).await?;
        let posted = self.client.await_post(&started.upload).await?;
        let profile = format!("https://www.tiktok.com/@{}", started.username);
        Ok(match posted.post_ids.into_iter().next() {
            Some(public) => PostRef { url: format!("{profile}/video/{public}"), post_id: public },
            // In the owner's inbox, or public once moderated: kept under its publish id
            // until then.
            None => PostRef { post_id: posted.publish_id, url: profile },
        })
    }
}

#[async_trait::async_trait]
impl SocialChannel for TikTokChannel {
    fn network(&self) -> SocialNetwork {
        SocialNetwork::TikTok
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

    /// Plays as impressions; likes, comments and shares as engagements.
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError> {
        let ids = self.public_ids(post_ids).await?;
        let public: Vec<String> = ids.iter().map(|(_, public)| public.clone()).collect();
        let counts = self.client.video_counts(&public).await?;
        Ok(counts
            .into_iter()
            .filter_map(|counts| {
                let (kept, _) = ids.iter().find(|(_, public)| *public == counts.id)?;
                Some(PostEngagement {
                    post_id: kept.clone(),
                    network: SocialNetwork::TikTok,
                    impressions: counts.view_count,
                    engagements: counts.like_count + counts.comment_count + counts.share_count,
                    clicks: 0,
                })
            })
            .collect())
    }
}
