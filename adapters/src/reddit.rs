//! [`RedditClient`]: Reddit's API as typed operations (the signed-in user, submissions),
//! in a user's name through OAuth 2.0 ([`OAuthSession`]), each call wrapped in the
//! connection's breaker, retry policy and rate-limit mirror.
//!
//! What Reddit's protocol asks of a client, and how this one answers:
//! - **Two hosts**: tokens come from `https://www.reddit.com/api/v1/access_token`
//!   (HTTP Basic with the application's id and secret), the API is
//!   `https://oauth.reddit.com`. Both addresses are part of the connection, so a test
//!   server or a proxy can stand in for either.
//! - **A descriptive `User-Agent`** on every request (`<platform>:<app id>:<version>
//!   (by /u/<user>)`); Reddit throttles or blocks generic ones.
//! - **Errors inside a `200`**: `api_type=json` answers `{"json": {"errors": [[code,
//!   message, field]], …}}`, and a non-empty list is the call's failure even at HTTP 200.
//!   `RATELIMIT` ("try again in 5 minutes") becomes a rate limit with that wait; the
//!   others are rejections naming Reddit's code.
//! - **Rate limits**: `X-Ratelimit-Used`, `-Remaining` and `-Reset` (seconds until the
//!   window resets) on every answer feed the connection's bucket.
//! - **No idempotency key**: a submission retried after its answer was lost would post
//!   twice, so a retry first looks among the account's newest submissions for one with
//!   the same subreddit and title, and returns it if it is there.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession, Payload};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest::{self, Form};
use crate::{
    AdapterError, ConnectionKeeper, IdempotencyKey, Platform, PostEngagement, PostRef, PostSpec, SocialChannel,
    SocialNetwork,
};

/// Where tokens are refreshed.
pub const REDDIT_AUTH_BASE: &str = "https://www.reddit.com";
/// Where the API is.
pub const REDDIT_API_BASE: &str = "https://oauth.reddit.com";
/// The longest title Reddit takes.
pub const REDDIT_MAX_TITLE_CHARS: usize = 300;

/// Newest submissions searched for one whose answer was lost.
const RECENT_SUBMISSIONS: u32 = 25;

/// Most fullnames one `GET /api/info` takes.
const INFO_IDS: usize = 100;

/// A connection to one Reddit account, through the platform's Reddit application.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RedditConnection {
    /// The token host's origin: [`REDDIT_AUTH_BASE`], or a test server.
    pub auth_base_url: String,
    /// The API's origin: [`REDDIT_API_BASE`], or a test server.
    pub api_base_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the account's owner granted (`duration=permanent`, scopes
    /// `identity submit history`).
    pub refresh_token: OAuthSecret,
    /// The `User-Agent` Reddit asks for, like `web:boardroom:1.0 (by /u/acme)`.
    pub user_agent: String,
}

impl RedditConnection {
    /// The two origins, or a rejection saying what is wrong with the connection.
    fn origins(&self) -> Result<(String, String), AdapterError> {
        let auth = rest::origin(Platform::Reddit, "Reddit token address", &self.auth_base_url, REDDIT_AUTH_BASE)?;
        let api = rest::origin(Platform::Reddit, "Reddit API address", &self.api_base_url, REDDIT_API_BASE)?;
        if self.client_id.trim().is_empty() {
            return Err(AdapterError::rejected(Platform::Reddit, "the Reddit client id is empty"));
        }
        if self.client_secret.is_malformed() || self.refresh_token.is_malformed() {
            return Err(AdapterError::rejected(
                Platform::Reddit,
                "the Reddit client secret or refresh token is empty or malformed",
            ));
        }
        let agent = self.user_agent.trim();
        if agent.len() < 10 || !agent.contains(':') || agent.chars().any(char::is_control) {
            return Err(AdapterError::rejected(
                Platform::Reddit,
                "Reddit asks for a descriptive User-Agent, like \"web:boardroom:1.0 (by /u/yourname)\"",
            ));
        }
        Ok((auth, api))
    }
}

/// A submission as Reddit answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedditSubmission {
    /// Its fullname (`t3_…`).
    pub name: String,
    /// Its permalink.
    pub url: String,
}

/// A client of one Reddit account; see the module's notes.
#[derive(Clone)]
pub struct RedditClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    api: String,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
    username: OnceCell<String>,
}

impl fmt::Debug for RedditClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedditClient")
            .field("api", &self.shared.api)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .finish()
    }
}

#[derive(Deserialize)]
struct Me {
    name: String,
}

impl RedditClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: RedditConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    pub fn with_settings(connection: RedditConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let (auth, api) = connection.origins()?;
        // Every request carries it, the token endpoint's too.
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .user_agent(connection.user_agent.trim())
            .build()
            .map_err(|error| {
                AdapterError::rejected(Platform::Reddit, format!("cannot build the HTTP client: {error}"))
            })?;
        let application = OAuthApplication {
            token_url: format!("{auth}/api/v1/access_token"),
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::Basic,
        };
        let oauth = OAuthSession::new(Platform::Reddit, application, connection.refresh_token, http.clone());
        let resilience = Resilience::new(Platform::Reddit, settings);
        let shared = Shared { api, http, resilience, oauth, username: OnceCell::new() };
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

    /// The connection's tokens.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// The signed-in account's name (`GET /api/v1/me`), asked once per client.
    pub async fn username(&self) -> Result<String, AdapterError> {
        let deadline = self.deadline();
        let name = self
            .shared
            .username
            .get_or_try_init(|| async {
                let answer = self.call("me", Method::GET, "/api/v1/me".to_owned(), None, deadline).await?;
                rest::typed::<Me>(Platform::Reddit, "me", answer).map(|me| me.name)
            })
            .await?;
        Ok(name.clone())
    }

    /// Submits a text post titled `title` to `subreddit` (`POST /api/submit`,
    /// `kind=self`). A retry of an attempt whose answer was lost returns the submission
    /// that attempt made, if it is among the account's newest.
    pub async fn submit_text(
        &self,
        subreddit: &str,
        title: &str,
        text: &str,
    ) -> Result<RedditSubmission, AdapterError> {
        let subreddit = subreddit.trim().trim_start_matches("r/");
        if subreddit.is_empty()
            || subreddit.len() > 21
            || !subreddit.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
        {
            return Err(AdapterError::rejected(Platform::Reddit, format!("{subreddit:?} is not a subreddit name")));
        }
        let length = title.chars().count();
        if title.trim().is_empty() || length > REDDIT_MAX_TITLE_CHARS {
            return Err(AdapterError::rejected(
                Platform::Reddit,
                format!("a Reddit title takes 1 to {REDDIT_MAX_TITLE_CHARS} characters; this one has {length}"),
            ));
        }
        let deadline = self.deadline();
        let mut form = Form::new();
        form.push("api_type", "json")
            .push("kind", "self")
            .push("sr", subreddit)
            .push("title", title)
            .push("text", text);
        let attempts = AtomicU32::new(0);
        let (form, attempts) = (&form, &attempts);
        self.shared
            .resilience
            .run("submit", 1.0, deadline, move || async move {
                if attempts.fetch_add(1, Ordering::Relaxed) > 0
                    && let Some(made) = self.find_submission(subreddit, title, deadline).await?
                {
                    tracing::info!(submission = %made.name, "Reddit submission already made by an earlier attempt");
                    return Ok(made);
                }
                let answer = self.send("submit", &Method::POST, "/api/submit", Some(form), deadline).await?;
                submission_from(answer)
            })
            .await
    }

    /// The account's newest submission to `subreddit` titled `title`, if any.
    async fn find_submission(
        &self,
        subreddit: &str,
        title: &str,
        deadline: Instant,
    ) -> Result<Option<RedditSubmission>, AdapterError> {
        let user = self.until(deadline).username().await?;
        let path = format!("/user/{user}/submitted?limit={RECENT_SUBMISSIONS}&raw_json=1");
        let listing = self.send("recent_submissions", &Method::GET, &path, None, deadline).await?;
        let children = listing.pointer("/data/children").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(children.iter().filter_map(|child| child.get("data")).find_map(|post| {
            let same_place =
                post.get("subreddit").and_then(Value::as_str).is_some_and(|sr| sr.eq_ignore_ascii_case(subreddit));
            let same_title = post.get("title").and_then(Value::as_str) == Some(title);
            (same_place && same_title).then(|| RedditSubmission {
                name: post.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                url: post.get("url").and_then(Value::as_str).unwrap_or_default().to_owned(),
            })
        }))
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: String,
        form: Option<Form>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let (method, path, form) = (&method, path.as_str(), form.as_ref());
        self.shared
            .resilience
            .run(operation, 1.0, deadline, || self.send(operation, method, path, form, deadline))
            .await
    }

    /// One request, with the current token and once more with a refreshed one if
    /// Reddit refuses it.
    async fn send(
        &self,
        operation: &'static str,
        method: &Method,
        path: &str,
        form: Option<&Form>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let shared = &self.shared;
        tracing::debug!(operation, "Reddit request");
        let url = format!("{}{path}", shared.api);
        let (status, headers, text) = shared
            .oauth
            .send_bearer(
                &shared.http,
                (operation, deadline),
                (method, &url),
                &[],
                form.map_or(Payload::Empty, Payload::Form),
            )
            .await?;
        self.observe_rate_limit(&headers);
        read_answer(operation, status, &headers, &text)
    }

    /// Feeds the bucket from `X-Ratelimit-*` (`-Reset` is seconds from now).
    fn observe_rate_limit(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
        let (Some(used), Some(remaining)) = (number("x-ratelimit-used"), number("x-ratelimit-remaining")) else {
            return;
        };
        let window = used + remaining;
        if window <= 0.0 {
            return;
        }
        let until_reset = number("x-ratelimit-reset").map_or(600.0, |secs| secs.max(1.0));
        self.shared.resilience.bucket().observe(window, remaining.max(0.0), used.max(1.0) / until_reset);
    }
}

/// The value of an answer, or the error it means (errors arrive inside `200`s too).
fn read_answer(operation: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> Result<Value, AdapterError> {
    let value: Option<Value> = serde_json::from_str(body).ok();
    if status.is_success() {
        let value = value.ok_or_else(|| AdapterError::Unavailable {
            platform: Platform::Reddit,
            message: format!("{operation}: Reddit answered {status} with a body that is not JSON"),
        })?;
        if let Some(error) = first_error(&value) {
            return Err(error_in_body(operation, &error));
        }
        return Ok(value);
    }
    let said = value
        .as_ref()
        .and_then(|value| value.get("message").or_else(|| value.get("error")))
        .map(|words| format!(": {}", words.as_str().map_or_else(|| words.to_string(), str::to_owned)))
        .unwrap_or_default();
    match status {
        StatusCode::TOO_MANY_REQUESTS => Err(AdapterError::RateLimited {
            platform: Platform::Reddit,
            retry_after_secs: rest::retry_after(headers)
                .or_else(|| {
                    let reset = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim().parse::<f64>().ok()?;
                    Duration::try_from_secs_f64(reset).ok()
                })
                .map_or(60, |wait| wait.as_secs().max(1)),
        }),
        StatusCode::UNAUTHORIZED => Err(AdapterError::rejected(
            Platform::Reddit,
            format!("{operation}: Reddit refused the access token even after refreshing it{said}"),
        )),
        status if status.is_server_error() => Err(AdapterError::Unavailable {
            platform: Platform::Reddit,
            message: format!("{operation}: Reddit answered {status}{said}"),
        }),
        status => Err(AdapterError::rejected(Platform::Reddit, format!("{operation}: Reddit answered {status}{said}"))),
    }
}

/// The first of `json.errors`: `[code, message, field]`.
fn first_error(value: &Value) -> Option<Vec<String>> {
    let error = value.pointer("/json/errors")?.as_array()?.first()?.as_array()?;
    Some(error.iter().map(|part| part.as_str().unwrap_or_default().to_owned()).collect())
}

/// `RATELIMIT` waits as long as its message says; every other code is a rejection.
fn error_in_body(operation: &str, error: &[String]) -> AdapterError {
    let code = error.first().map_or("", String::as_str);
    let message = error.get(1).map_or("", String::as_str);
    if code == "RATELIMIT" {
        return AdapterError::RateLimited { platform: Platform::Reddit, retry_after_secs: wait_in_words(message) };
    }
    AdapterError::rejected(Platform::Reddit, format!("{operation}: Reddit refused it ({code}): {message}"))
}

/// "try again in 5 minutes" / "in 30 seconds" / "in 1 minute", in seconds (a minute if
/// the words say nothing readable).
fn wait_in_words(message: &str) -> u64 {
    let words: Vec<&str> = message.split_whitespace().collect();
    words
        .windows(2)
        .find_map(|pair| {
            let amount: u64 = pair[0].parse().ok()?;
            let unit = pair[1].trim_end_matches(['.', ',']);
            match unit {
                "second" | "seconds" => Some(amount),
                "minute" | "minutes" => Some(amount * 60),
                "hour" | "hours" => Some(amount * 3600),
                _ => None,
            }
        })
        .unwrap_or(60)
        .max(1)
}

/// A Reddit account as one of a business's marketing channels: each post becomes a text
/// submission to `subreddit`, or to the account's own profile (`u_<name>`) when none
/// was chosen, titled with the post's first sentence. A post whose title is among the
/// account's newest submissions there is that submission, not a new one.
#[derive(Debug, Clone)]
pub struct RedditChannel {
    client: RedditClient,
    subreddit: Option<String>,
}

impl RedditChannel {
    /// The account behind `client`, submitting to `subreddit` (its own profile when
    /// `None`).
    pub fn new(client: RedditClient, subreddit: Option<String>) -> Self {
        Self { client, subreddit }
    }
}

/// A submission's title: the text's first line, cut after its first sentence when that
/// line is longer than Reddit allows, and to the limit at a word when even that is.
fn title_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    if line.chars().count() <= REDDIT_MAX_TITLE_CHARS {
        return line.to_owned();
    }
    let sentence_end = line.char_indices().find(|(_, c)| matches!(c, '.' | '!' | '?')).map(|(at, _)| at + 1);
    if let Some(end) = sentence_end.filter(|end| line[..*end].chars().count() <= REDDIT_MAX_TITLE_CHARS) {
        return line[..end].to_owned();
    }
    let mut title = String::new();
    for word in line.split_whitespace() {
        if title.chars().count() + word.chars().count() + 2 > REDDIT_MAX_TITLE_CHARS {
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    title.push('\u{2026}');
    title
}

#[derive(Deserialize)]
struct Listing<T> {
    data: Children<T>,
}

#[derive(Deserialize)]
struct Children<T> {
    children: Vec<Thing<T>>,
}

#[derive(Deserialize)]
struct Thing<T> {
    data: T,
}

/// A submission's numbers as `GET /api/info` answers them. Reddit shows its vote count
/// and comments to anyone; views (`view_count`) only to moderators, and mostly `null`.
#[derive(Deserialize)]
struct MeasuredSubmission {
    name: String,
    #[serde(default)]
    ups: u64,
    #[serde(default)]
    num_comments: u64,
    #[serde(default)]
    view_count: Option<u64>,
}

#[async_trait::async_trait]
impl SocialChannel for RedditChannel {
    fn network(&self) -> SocialNetwork {
        SocialNetwork::Reddit
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
        _key: &IdempotencyKey,
        _keeper: &dyn ConnectionKeeper,
    ) -> Result<PostRef, AdapterError> {
        let text = post.text.as_str();
        let subreddit = match &self.subreddit {
            Some(subreddit) => subreddit.clone(),
            None => format!("u_{}", self.client.username().await?),
        };
        let title = title_of(text);
        // Reddit refuses no repeat, so a post the step makes again after a crash would
        // be a second submission: the same title among the account's newest there is
        // that post.
        let deadline = self.client.deadline();
        let submission = match self.client.find_submission(subreddit.trim_start_matches("r/"), &title, deadline).await?
        {
            Some(made) => made,
            None => self.client.until(deadline).submit_text(&subreddit, &title, text).await?,
        };
        Ok(PostRef { post_id: submission.name, url: submission.url })
    }

    /// Upvotes and comments, from `GET /api/info` in batches of [`INFO_IDS`].
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError> {
        if let Some(bad) = post_ids.iter().find(|id| {
            !id.strip_prefix("t3_")
                .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
        }) {
            return Err(AdapterError::rejected(Platform::Reddit, format!("{bad:?} is not a submission's fullname")));
        }
        let deadline = self.client.deadline();
        let mut engagement = Vec::with_capacity(post_ids.len());
        for batch in post_ids.chunks(INFO_IDS) {
            let path = format!("/api/info?id={}&raw_json=1", batch.join(","));
            let answer = self
                .client
                .shared
                .resilience
                .run("submission_metrics", 1.0, deadline, || {
                    self.client.send("submission_metrics", &Method::GET, &path, None, deadline)
                })
                .await?;
            let listing = rest::typed::<Listing<MeasuredSubmission>>(Platform::Reddit, "submission_metrics", answer)?;
            engagement.extend(listing.data.children.into_iter().map(|thing| PostEngagement {
                post_id: thing.data.name,
                network: SocialNetwork::Reddit,
                impressions: thing.data.view_count.unwrap_or(0),
                engagements: thing.data.ups + thing.data.num_comments,
                clicks: 0,
            }));
        }
        Ok(engagement)
    }
}

fn submission_from(answer: Value) -> Result<RedditSubmission, AdapterError> {
    let data = answer.pointer("/json/data").ok_or_else(|| AdapterError::Unavailable {
        platform: Platform::Reddit,
        message: "submit: Reddit's answer has no json.data".into(),
    })?;
    let text = |field: &str| data.get(field).and_then(Value::as_str).map(str::to_owned);
    match (text("name"), text("url")) {
        (Some(name), Some(url)) => Ok(RedditSubmission { name, url }),
        _ => Err(AdapterError::Unavailable {
            platform: Platform::Reddit,
            message: "submit: Reddit's answer lacks the submission's name or url".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_the_first_line_or_its_first_sentence_within_the_limit() {
        assert_eq!(title_of("Plan your week in 10 minutes.\n\nMore below."), "Plan your week in 10 minutes.");
        let long = format!("Short start. {}", "word ".repeat(100));
        assert_eq!(title_of(&long), "Short start.");
        let endless = "word ".repeat(100);
        let title = title_of(&endless);
        assert!(title.chars().count() <= REDDIT_MAX_TITLE_CHARS && title.ends_with('\u{2026}'), "{title}");
        assert_eq!(title_of(""), "");
    }

    #[test]
    fn waits_are_read_from_reddits_words() {
        assert_eq!(wait_in_words("you are doing that too much. try again in 5 minutes."), 300);
        assert_eq!(wait_in_words("try again in 30 seconds"), 30);
        assert_eq!(wait_in_words("try again in 1 minute."), 60);
        assert_eq!(wait_in_words("slow down"), 60);
    }

    #[test]
    fn an_error_list_inside_a_200_is_the_calls_failure() {
        let ratelimited =
            serde_json::json!({ "json": { "errors": [["RATELIMIT", "try again in 2 minutes.", "ratelimit"]] } });
        let error =
            read_answer("submit", StatusCode::OK, &HeaderMap::new(), &ratelimited.to_string()).expect_err("an error");
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 120, .. }), "{error:?}");
        let missing =
            serde_json::json!({ "json": { "errors": [["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]] } });
        let error =
            read_answer("submit", StatusCode::OK, &HeaderMap::new(), &missing.to_string()).expect_err("an error");
        assert!(!error.is_retryable() && error.to_string().contains("SUBREDDIT_NOEXIST"), "{error}");
        let fine = serde_json::json!({ "json": { "errors": [], "data": { "name": "t3_abc", "url": "https://x" } } });
        assert!(read_answer("submit", StatusCode::OK, &HeaderMap::new(), &fine.to_string()).is_ok());
    }

    #[test]
    fn connections_need_a_descriptive_user_agent_and_never_show_secrets() {
        let connection = RedditConnection {
            auth_base_url: REDDIT_AUTH_BASE.into(),
            api_base_url: REDDIT_API_BASE.into(),
            client_id: "app".into(),
            client_secret: OAuthSecret::new("secret-value"),
            refresh_token: OAuthSecret::new("refresh-value"),
            user_agent: "web:boardroom:1.0 (by /u/acme)".into(),
        };
        assert!(connection.origins().is_ok());
        let shown = format!("{connection:?}");
        assert!(!shown.contains("secret-value") && !shown.contains("refresh-value"), "{shown}");
        let generic = RedditConnection { user_agent: "reqwest".into(), ..connection };
        assert!(generic.origins().expect_err("refused").to_string().contains("User-Agent"));
    }
}
