//! [`XClient`]: X's API v2 as typed operations (the signed-in user, posts), in a user's
//! name through OAuth 2.0 ([`OAuthSession`]), each call wrapped in the connection's
//! breaker, retry policy and rate-limit mirror.
//!
//! What X's protocol asks of a client, and how this one answers:
//! - **Tokens**: user-context access tokens last two hours; the refresh token rotates on
//!   every refresh. The session refreshes before expiry and after a `401`, one refresh at
//!   a time; the rotated refresh token is the connection owner's to save
//!   ([`OAuthSession::refresh_token`]).
//! - **Rate limits**: every answer carries `x-rate-limit-limit`, `-remaining` and
//!   `-reset` (epoch seconds); they feed the connection's [`CostBucket`](crate::CostBucket)
//!   so a busy account slows down before X says no. A `429` may come without
//!   `Retry-After`: the wait is read from `x-rate-limit-reset`.
//! - **No idempotency key**: X refuses a post whose text repeats one of the account's
//!   recent posts (`403`, "duplicate content"). A post retried after its answer was lost
//!   meets that refusal; the client then finds the earlier post among the account's
//!   recent ones and returns it, so a retry never posts twice.
//! - **Errors** are problem documents (`{"title","detail","type","status"}`, with
//!   `errors[]` for invalid requests); their words reach the caller.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession, Payload};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest;
use crate::{
    AdapterError, ConnectionKeeper, IdempotencyKey, Platform, PostEngagement, PostRef, PostSpec, SocialChannel,
    SocialNetwork,
};

/// The production API's origin. Requests go to `{origin}/2/…`.
pub const X_API_BASE: &str = "https://api.x.com";

/// The longest post X takes, in characters (X weighs some characters double and counts
/// every link as 23; this client counts characters, which is never more lenient for
/// plain text).
pub const X_MAX_POST_CHARS: usize = 280;

/// The words of X's refusal of a repeated post.
const DUPLICATE_CONTENT: &str = "duplicate content";

/// Recent posts searched for one whose answer was lost (X allows 5 to 100).
const RECENT_POSTS: u32 = 20;

/// Most posts one lookup (`GET /2/tweets?ids=`) takes.
const LOOKUP_IDS: usize = 100;

/// A connection to one X account, through the platform's X application.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct XConnection {
    /// The API's origin: [`X_API_BASE`], or `http://127.0.0.1:{port}` for tests. The
    /// token endpoint is `{base_url}/2/oauth2/token`.
    pub base_url: String,
    /// The application's OAuth 2.0 client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the account's owner granted (scopes `tweet.read tweet.write
    /// users.read offline.access`).
    pub refresh_token: OAuthSecret,
}

impl XConnection {
    /// A connection to the API at `base_url`.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret: OAuthSecret::new(client_secret),
            refresh_token: OAuthSecret::new(refresh_token),
        }
    }

    /// The API's origin, or a rejection saying what is wrong with the address or the
    /// credentials.
    pub fn origin(&self) -> Result<String, AdapterError> {
        let origin = rest::origin(Platform::X, "X API address", &self.base_url, X_API_BASE)?;
        if self.client_id.trim().is_empty() {
            return Err(AdapterError::rejected(Platform::X, "the X client id is empty"));
        }
        if self.client_secret.is_malformed() {
            return Err(AdapterError::rejected(Platform::X, "the X client secret is empty or malformed"));
        }
        if self.refresh_token.is_malformed() {
            return Err(AdapterError::rejected(Platform::X, "the X refresh token is empty or malformed"));
        }
        Ok(origin)
    }
}

/// A post as X answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XPost {
    /// Its id (a 64-bit number, as a string).
    pub id: String,
    /// Its text as X keeps it.
    pub text: String,
}

/// The account the connection signs in as.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XUser {
    /// Its id.
    pub id: String,
    /// Its handle, without the `@`.
    pub username: String,
    /// Its display name.
    pub name: String,
}

/// A client of one X account.
///
/// Every call goes through the connection's [`CircuitBreaker`](crate::CircuitBreaker),
/// waits for the rate limit X last reported, and is retried by the
/// [`RetryPolicy`](crate::RetryPolicy) while it fails in a retryable way; a call must be
/// over by its deadline ([`CallBudget::default_deadline`](crate::CallBudget) after it
/// starts, or the one given to [`XClient::until`]).
#[derive(Clone)]
pub struct XClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    origin: String,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
    user: OnceCell<XUser>,
}

impl fmt::Debug for XClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XClient")
            .field("origin", &self.shared.origin)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// `{"data": …}`, X's envelope.
#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// A list's envelope: `data` is absent when the list is empty (or, for a lookup, when
/// none of the ids was found; each missing one is then among `errors`).
#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

impl XClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: XConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address or the credentials cannot make a request.
    pub fn with_settings(connection: XConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let origin = connection.origin()?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .build()
            .map_err(|error| AdapterError::rejected(Platform::X, format!("cannot build the HTTP client: {error}")))?;
        let application = OAuthApplication {
            token_url: format!("{origin}/2/oauth2/token"),
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::Basic,
        };
        let oauth = OAuthSession::new(Platform::X, application, connection.refresh_token, http.clone());
        let resilience = Resilience::new(Platform::X, settings);
        let shared = Shared { origin, http, resilience, oauth, user: OnceCell::new() };
        Ok(Self { shared: Arc::new(shared), deadline: None })
    }

    /// The same connection, with every call bound to end by `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        Self { shared: Arc::clone(&self.shared), deadline: Some(deadline) }
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    /// The connection's tokens: the refresh token to save after a rotation, and whether
    /// the owner must connect again.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// The account signed in (`GET /2/users/me`), asked once per client: what connecting
    /// a channel checks.
    pub async fn me(&self) -> Result<XUser, AdapterError> {
        let deadline = self.deadline();
        let user = self
            .shared
            .user
            .get_or_try_init(|| async {
                let answer = self.call("me", Method::GET, "/2/users/me".to_owned(), None, deadline).await?;
                rest::typed::<Data<XUser>>(Platform::X, "me", answer).map(|data| data.data)
            })
            .await?;
        Ok(user.clone())
    }

    /// Publishes `text` (`POST /2/tweets`) and returns the post. Called again with the
    /// same text after its answer was lost, it returns the post made the first time (see
    /// the module's notes on duplicates). Text over [`X_MAX_POST_CHARS`] characters, or
    /// blank, is refused before anything is sent.
    pub async fn post(&self, text: &str) -> Result<XPost, AdapterError> {
        let length = text.chars().count();
        if text.trim().is_empty() {
            return Err(AdapterError::rejected(Platform::X, "an X post needs some text"));
        }
        if length > X_MAX_POST_CHARS {
            return Err(AdapterError::rejected(
                Platform::X,
                format!("an X post takes at most {X_MAX_POST_CHARS} characters; this one has {length}"),
            ));
        }
        let deadline = self.deadline();
        let body = json!({ "text": text });
        match self.call("create_post", Method::POST, "/2/tweets".to_owned(), Some(body), deadline).await {
            Ok(answer) => rest::typed::<Data<XPost>>(Platform::X, "create_post", answer).map(|data| data.data),
            Err(AdapterError::Rejected { message, .. }) if message.contains(DUPLICATE_CONTENT) => {
                // An earlier attempt made it and its answer was lost: find that post.
                let me = self.until(deadline).me().await?;
                let recent = self.recent_posts_until(&me.id, deadline).await?;
                recent.into_iter().find(|post| post.text == text).ok_or_else(|| {
                    AdapterError::rejected(
                        Platform::X,
                        "X refuses this post as a duplicate of an earlier one that is no longer among the account's \
                         recent posts",
                    )
                })
            }
            Err(other) => Err(other),
        }
    }

    /// The account's latest posts, newest first (`GET /2/users/:id/tweets`).
    pub async fn recent_posts(&self, user_id: &str) -> Result<Vec<XPost>, AdapterError> {
        self.recent_posts_until(user_id, self.deadline()).await
    }

    async fn recent_posts_until(&self, user_id: &str, deadline: Instant) -> Result<Vec<XPost>, AdapterError> {
        if user_id.is_empty() || !user_id.chars().all(|character| character.is_ascii_digit()) {
            return Err(AdapterError::rejected(Platform::X, format!("{user_id:?} is not an X user id")));
        }
        let path = format!("/2/users/{user_id}/tweets?max_results={RECENT_POSTS}");
        let answer = self.call("recent_posts", Method::GET, path, None, deadline).await?;
        rest::typed::<List<XPost>>(Platform::X, "recent_posts", answer).map(|list| list.data)
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: String,
        body: Option<Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let (method, path, body) = (&method, path.as_str(), body.as_ref());
        self.shared
            .resilience
            .run(operation, 1.0, deadline, || self.send(operation, method, path, body, deadline))
            .await
    }

    /// One attempt: with the current token, and once more with a refreshed one if X
    /// refuses it.
    async fn send(
        &self,
        operation: &'static str,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let shared = &self.shared;
        tracing::debug!(operation, "X request");
        let url = format!("{}{path}", shared.origin);
        let (status, headers, text) = shared
            .oauth
            .send_bearer(
                &shared.http,
                (operation, deadline),
                (method, &url),
                &[],
                body.map_or(Payload::Empty, Payload::Json),
            )
            .await?;
        self.observe_rate_limit(&headers);
        read_answer(operation, status, &headers, &text)
    }

    /// Feeds the bucket from `x-rate-limit-*`. X's window refills whole at its reset, so
    /// the mirror refills what is spent by then; without a reset, over the 15 minutes X
    /// counts in.
    fn observe_rate_limit(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        let (Some(limit), Some(remaining)) = (number("x-rate-limit-limit"), number("x-rate-limit-remaining")) else {
            return;
        };
        if limit <= 0.0 {
            return;
        }
        let remaining = remaining.clamp(0.0, limit);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs_f64();
        let until_reset = number("x-rate-limit-reset").map_or(15.0 * 60.0, |reset| (reset - now).max(1.0));
        let restore_rate = (limit - remaining).max(1.0) / until_reset;
        self.shared.resilience.bucket().observe(limit, remaining, restore_rate);
    }
}

/// The value of a successful answer, or the error X's answer means.
fn read_answer(operation: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> Result<Value, AdapterError> {
    if status.is_success() {
        return serde_json::from_str(body).map_err(|_| AdapterError::Unavailable {
            platform: Platform::X,
            message: format!("{operation}: X answered {status} with a body that is not JSON"),
        });
    }
    let problem = describe_problem(body);
    let said = problem.as_deref().map(|words| format!(": {words}")).unwrap_or_default();
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            Err(AdapterError::RateLimited { platform: Platform::X, retry_after_secs: wait_for_reset(headers) })
        }
        StatusCode::UNAUTHORIZED => Err(AdapterError::rejected(
            Platform::X,
            format!("{operation}: X refused the access token even after refreshing it{said}"),
        )),
        status if status.is_server_error() => Err(AdapterError::Unavailable {
            platform: Platform::X,
            message: format!("{operation}: X answered {status}{said}"),
        }),
        status => Err(AdapterError::rejected(Platform::X, format!("{operation}: X answered {status}{said}"))),
    }
}

/// A problem document's words: its `detail`, and each `errors[].message`.
fn describe_problem(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let mut words: Vec<String> = Vec::new();
    if let Some(detail) = value.get("detail").and_then(Value::as_str) {
        words.push(detail.to_owned());
    }
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        words.extend(errors.iter().filter_map(|error| error.get("message")?.as_str().map(str::to_owned)));
    }
    (!words.is_empty()).then(|| words.join("; "))
}

/// Seconds until the window resets: `Retry-After` if X sent it, else
/// `x-rate-limit-reset` (epoch seconds) from now, else a minute.
fn wait_for_reset(headers: &HeaderMap) -> u64 {
    if let Some(wait) = rest::retry_after(headers) {
        return wait.as_secs().max(1);
    }
    let reset = headers.get("x-rate-limit-reset").and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    reset.map_or(60, |reset| reset.saturating_sub(now).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_checked_and_never_show_their_secrets() {
        let connection = XConnection::new("https://api.x.com/", "client", "secret-value", "refresh-value");
        assert_eq!(connection.origin().expect("valid"), "https://api.x.com");
        let shown = format!("{connection:?}");
        assert!(!shown.contains("secret-value") && !shown.contains("refresh-value"), "{shown}");
        for bad in [
            XConnection::new("https://api.x.com/2", "client", "secret", "refresh"),
            XConnection::new(X_API_BASE, " ", "secret", "refresh"),
            XConnection::new(X_API_BASE, "client", "", "refresh"),
            XConnection::new(X_API_BASE, "client", "secret", "two words"),
        ] {
            assert!(!bad.origin().expect_err("refused").is_retryable());
        }
    }

    #[test]
    fn a_rate_limit_without_retry_after_waits_for_the_window_reset() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-reset", (now + 30).to_string().parse().expect("a header value"));
        let wait = wait_for_reset(&headers);
        assert!((29..=30).contains(&wait), "{wait}");
        headers.insert("retry-after", "7".parse().expect("a header value"));
        assert_eq!(wait_for_reset(&headers), 7);
        assert_eq!(wait_for_reset(&HeaderMap::new()), 60);
    }

    #[test]
    fn problem_documents_are_put_in_words() {
        let invalid = r#"{"errors":[{"message":"text is too long"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid."}"#;
        assert_eq!(
            describe_problem(invalid).as_deref(),
            Some("One or more parameters to your request was invalid.; text is too long")
        );
        assert_eq!(describe_problem("<html>"), None);
    }
}

/// A post's public numbers, as the posts lookup answers with `tweet.fields=public_metrics`.
#[derive(Deserialize)]
struct MeasuredPost {
    id: String,
    public_metrics: PublicMetrics,
}

#[derive(Deserialize)]
struct PublicMetrics {
    #[serde(default)]
    impression_count: u64,
    #[serde(default)]
    like_count: u64,
    #[serde(default)]
    retweet_count: u64,
    #[serde(default)]
    reply_count: u64,
    #[serde(default)]
    quote_count: u64,
}

#[async_trait::async_trait]
impl SocialChannel for XClient {
    fn network(&self) -> SocialNetwork {
        SocialNetwork::X
    }

    fn circuit_state(&self) -> CircuitState {
        XClient::circuit_state(self)
    }

    fn oauth(&self) -> &OAuthSession {
        XClient::oauth(self)
    }

    async fn publish(
        &self,
        post: &PostSpec,
        _key: &IdempotencyKey,
        _keeper: &dyn ConnectionKeeper,
    ) -> Result<PostRef, AdapterError> {
        let text = post.text.as_str();
        let post = self.post(text).await?;
        Ok(PostRef { url: format!("https://x.com/i/web/status/{}", post.id), post_id: post.id })
    }

    /// Likes, reposts, replies and quotes, and the impressions X counts, from the posts
    /// lookup in batches of [`LOOKUP_IDS`].
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError> {
        if let Some(bad) = post_ids.iter().find(|id| id.is_empty() || !id.chars().all(|c| c.is_ascii_digit())) {
            return Err(AdapterError::rejected(Platform::X, format!("{bad:?} is not an X post id")));
        }
        let deadline = self.deadline();
        let mut engagement = Vec::with_capacity(post_ids.len());
        for batch in post_ids.chunks(LOOKUP_IDS) {
            let path = format!("/2/tweets?ids={}&tweet.fields=public_metrics", batch.join(","));
            let answer = self.call("post_metrics", Method::GET, path, None, deadline).await?;
            let found = rest::typed::<List<MeasuredPost>>(Platform::X, "post_metrics", answer)?;
            engagement.extend(found.data.into_iter().map(|post| {
                let numbers = post.public_metrics;
                PostEngagement {
                    post_id: post.id,
                    network: SocialNetwork::X,
                    impressions: numbers.impression_count,
                    engagements: numbers.like_count + numbers.retweet_count + numbers.reply_count + numbers.quote_count,
                    clicks: 0,
                }
            }));
        }
        Ok(engagement)
    }
}
