//! [`LinkedInClient`]: posts on LinkedIn through its versioned REST Posts API, in a
//! member's or an organization's name, signed in with OAuth 2.0 ([`OAuthSession`]),
//! each call wrapped in the connection's breaker and retry policy.
//!
//! What LinkedIn's protocol asks of a client, and how this one answers:
//! - **A version on every call**: `LinkedIn-Version: YYYYMM` ([`LINKEDIN_API_VERSION`],
//!   pinned; LinkedIn retires a version about a year after it ships) and
//!   `X-Restli-Protocol-Version: 2.0.0`.
//! - **Tokens** come from `https://www.linkedin.com/oauth/v2/accessToken` with the
//!   application's id and secret in the form body; refresh tokens last a year and are
//!   not rotated.
//! - **A post** is `POST /rest/posts` with the author's URN, the commentary, public
//!   visibility and the main feed; LinkedIn answers `201` with an empty body and the
//!   post's URN in `x-restli-id`.
//! - **No idempotency key**, but LinkedIn refuses a repeat of a recent post with `422`
//!   ("Content is a duplicate of urn:li:share:…"): a retry whose first attempt was made
//!   meets that refusal, and the client returns the URN it names instead of an error.
//! - **Errors** are `{"status","serviceErrorCode","code","message"}`; `429` is the
//!   application's or member's daily limit.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession, Payload};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest;
use crate::{
    AdapterError, ConnectionKeeper, IdempotencyKey, Platform, PostEngagement, PostRef, PostSpec, SocialChannel,
    SocialNetwork,
};

/// Where tokens are refreshed.
pub const LINKEDIN_AUTH_BASE: &str = "https://www.linkedin.com";
/// Where the API is.
pub const LINKEDIN_API_BASE: &str = "https://api.linkedin.com";
/// The Posts API version every call names.
pub const LINKEDIN_API_VERSION: &str = "202505";
/// The longest commentary LinkedIn takes.
pub const LINKEDIN_MAX_COMMENTARY_CHARS: usize = 3000;

/// A connection to one LinkedIn member or organization, through the platform's
/// LinkedIn application.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkedInConnection {
    /// The token host's origin: [`LINKEDIN_AUTH_BASE`], or a test server.
    pub auth_base_url: String,
    /// The API's origin: [`LINKEDIN_API_BASE`], or a test server.
    pub api_base_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the member granted (scope `w_member_social`, or
    /// `w_organization_social` for a page).
    pub refresh_token: OAuthSecret,
    /// Who posts: `urn:li:person:…` or `urn:li:organization:…`.
    pub author: String,
}

impl LinkedInConnection {
    fn origins(&self) -> Result<(String, String), AdapterError> {
        let platform = Platform::Linkedin;
        let auth = rest::origin(platform, "LinkedIn token address", &self.auth_base_url, LINKEDIN_AUTH_BASE)?;
        let api = rest::origin(platform, "LinkedIn API address", &self.api_base_url, LINKEDIN_API_BASE)?;
        if self.client_id.trim().is_empty() || self.client_secret.is_malformed() || self.refresh_token.is_malformed() {
            return Err(AdapterError::rejected(
                platform,
                "the LinkedIn client id, client secret or refresh token is empty or malformed",
            ));
        }
        let is_author = ["urn:li:person:", "urn:li:organization:"].iter().any(|prefix| {
            self.author.strip_prefix(prefix).is_some_and(|id| {
                !id.is_empty()
                    && id.chars().all(|character| character.is_ascii_alphanumeric() || "-_".contains(character))
            })
        });
        if !is_author {
            return Err(AdapterError::rejected(
                platform,
                format!("{:?} is not a LinkedIn author (urn:li:person:… or urn:li:organization:…)", self.author),
            ));
        }
        Ok((auth, api))
    }
}

/// A client of one LinkedIn author; see the module's notes.
#[derive(Clone)]
pub struct LinkedInClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    api: String,
    author: String,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
}

impl fmt::Debug for LinkedInClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedInClient")
            .field("api", &self.shared.api)
            .field("author", &self.shared.author)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .finish()
    }
}

impl LinkedInClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: LinkedInConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    pub fn with_settings(connection: LinkedInConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let (auth, api) = connection.origins()?;
        let http = reqwest::Client::builder().connect_timeout(settings.budget.per_request_timeout).build().map_err(
            |error| AdapterError::rejected(Platform::Linkedin, format!("cannot build the HTTP client: {error}")),
        )?;
        let application = OAuthApplication {
            token_url: format!("{auth}/oauth/v2/accessToken"),
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::InBody,
        };
        let oauth = OAuthSession::new(Platform::Linkedin, application, connection.refresh_token, http.clone());
        let resilience = Resilience::new(Platform::Linkedin, settings);
        let shared = Shared { api, author: connection.author, http, resilience, oauth };
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

    /// Publishes `commentary` in the author's name to the main feed, publicly, and
    /// returns the post's URN. Retried after its answer was lost, it returns the URN of
    /// the post the first attempt made (LinkedIn names it when it refuses the repeat).
    pub async fn post(&self, commentary: &str) -> Result<String, AdapterError> {
        let length = commentary.chars().count();
        if commentary.trim().is_empty() || length > LINKEDIN_MAX_COMMENTARY_CHARS {
            return Err(AdapterError::rejected(
                Platform::Linkedin,
                format!("a LinkedIn post takes 1 to {LINKEDIN_MAX_COMMENTARY_CHARS} characters; this one has {length}"),
            ));
        }
        let deadline = self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline());
        let body = json!({
            "author": self.shared.author,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": [] },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        let body = &body;
        self.shared
            .resilience
            .run("create_post", 1.0, deadline, || async move {
                match self.send("create_post", Method::POST, "/rest/posts", Some(body), deadline).await {
                    Ok((_, headers)) => {
                        headers.get("x-restli-id").and_then(|value| value.to_str().ok()).map(str::to_owned).ok_or_else(
                            || AdapterError::Unavailable {
                                platform: Platform::Linkedin,
                                message: "create_post: LinkedIn answered without the post's x-restli-id".into(),
                            },
                        )
                    }
                    Err(AdapterError::Rejected { message, .. }) if message.contains("duplicate of urn:li:") => {
                        duplicate_of(&message).ok_or_else(|| AdapterError::rejected(Platform::Linkedin, message))
                    }
                    Err(other) => Err(other),
                }
            })
            .await
    }

    /// One request, with the current token and once more with a refreshed one if
    /// LinkedIn refuses it: the answer's body (if any) and headers.
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(Option<Value>, HeaderMap), AdapterError> {
        let shared = &self.shared;
        let url = format!("{}{path}", shared.api);
        let version = [("LinkedIn-Version", LINKEDIN_API_VERSION), ("X-Restli-Protocol-Version", "2.0.0")];
        let payload = body.map_or(Payload::Empty, Payload::Json);
        let (status, headers, text) =
            shared.oauth.send_bearer(&shared.http, (operation, deadline), (&method, &url), &version, payload).await?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Ok((value, headers));
        }
        let said = value
            .as_ref()
            .and_then(|value| value.get("message"))
            .and_then(Value::as_str)
            .map(|words| format!(": {words}"))
            .unwrap_or_default();
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => AdapterError::RateLimited {
                platform: Platform::Linkedin,
                retry_after_secs: rest::retry_after(&headers).map_or(60, |wait| wait.as_secs().max(1)),
            },
            StatusCode::UNAUTHORIZED => AdapterError::rejected(
                Platform::Linkedin,
                format!("{operation}: LinkedIn refused the access token even after refreshing it{said}"),
            ),
            status if status.is_server_error() => AdapterError::Unavailable {
                platform: Platform::Linkedin,
                message: format!("{operation}: LinkedIn answered {status}{said}"),
            },
            status => {
                AdapterError::rejected(Platform::Linkedin, format!("{operation}: LinkedIn answered {status}{said}"))
            }
        })
    }
}

/// The URN in "Content is a duplicate of urn:li:share:123".
fn duplicate_of(message: &str) -> Option<String> {
    let start = message.find("urn:li:")?;
    let urn: String = message[start..]
        .chars()
        .take_while(|character| character.is_ascii_alphanumeric() || ":-_".contains(*character))
        .collect();
    (urn.len() > "urn:li:".len()).then_some(urn)
}

#[async_trait::async_trait]
impl SocialChannel for LinkedInClient {
    fn network(&self) -> SocialNetwork {
        SocialNetwork::LinkedIn
    }

    fn circuit_state(&self) -> CircuitState {
        LinkedInClient::circuit_state(self)
    }

    fn oauth(&self) -> &OAuthSession {
        LinkedInClient::oauth(self)
    }

    async fn publish(
        &self,
        post: &PostSpec,
        _key: &IdempotencyKey,
        _keeper: &dyn ConnectionKeeper,
    ) -> Result<PostRef, AdapterError> {
        let text = post.text.as_str();
        let urn = self.post(text).await?;
        Ok(PostRef { url: format!("https://www.linkedin.com/feed/update/{urn}"), post_id: urn })
    }

    /// Likes and comments, from `GET /rest/socialActions/{post URN}` one post at a time
    /// (LinkedIn counts a member's post views only in its own pages, not the API).
    async fn engagement(&self, post_ids: &[String]) -> Result<Vec<PostEngagement>, AdapterError> {
        if let Some(bad) = post_ids.iter().find(|id| !id.starts_with("urn:li:")) {
            return Err(AdapterError::rejected(Platform::Linkedin, format!("{bad:?} is not a LinkedIn post URN")));
        }
        let deadline = self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline());
        let mut engagement = Vec::with_capacity(post_ids.len());
        for urn in post_ids {
            let path =
                format!("/rest/socialActions/{}", form_urlencoded::byte_serialize(urn.as_bytes()).collect::<String>());
            let path = path.as_str();
            let answered = self
                .shared
                .resilience
                .run("post_metrics", 1.0, deadline, || async move {
                    match self.send("post_metrics", Method::GET, path, None, deadline).await {
                        Ok((body, _)) => Ok(body),
                        // A post deleted since: nothing to count.
                        Err(AdapterError::Rejected { message, .. }) if message.contains("404") => Ok(None),
                        Err(other) => Err(other),
                    }
                })
                .await?;
            let Some(actions) = answered else { continue };
            let count = |pointer: &str| actions.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
            engagement.push(PostEngagement {
                post_id: urn.clone(),
                network: SocialNetwork::LinkedIn,
                impressions: 0,
                engagements: count("/likesSummary/totalLikes") + count("/commentsSummary/aggregatedTotalComments"),
                clicks: 0,
            });
        }
        Ok(engagement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duplicate_refusal_names_the_earlier_post() {
        assert_eq!(
            duplicate_of("create_post: LinkedIn answered 422: Content is a duplicate of urn:li:share:7123456789.")
                .as_deref(),
            Some("urn:li:share:7123456789")
        );
        assert_eq!(duplicate_of("Content is a duplicate of urn:li:"), None);
    }

    #[test]
    fn connections_need_an_author_urn_and_never_show_secrets() {
        let connection = LinkedInConnection {
            auth_base_url: LINKEDIN_AUTH_BASE.into(),
            api_base_url: LINKEDIN_API_BASE.into(),
            client_id: "app".into(),
            client_secret: OAuthSecret::new("secret-value"),
            refresh_token: OAuthSecret::new("refresh-value"),
            author: "urn:li:organization:5515715".into(),
        };
        assert!(connection.origins().is_ok());
        let shown = format!("{connection:?}");
        assert!(!shown.contains("secret-value") && !shown.contains("refresh-value"), "{shown}");
        for author in ["", "urn:li:person:", "urn:li:group:1", "someone"] {
            let bad = LinkedInConnection { author: author.into(), ..connection.clone() };
            assert!(bad.origins().is_err(), "{author:?}");
        }
    }
}
