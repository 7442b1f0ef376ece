//! OAuth 2.0 for the channels that sign in with it (X, LinkedIn, Reddit, Google, TikTok):
//! a connection's access token, refreshed from its refresh token by the adapter when it
//! runs out or is refused, one refresh at a time however many calls need one.
//!
//! A refresh token the platform no longer accepts (`invalid_grant`: revoked by the
//! user, expired, or already rotated away) cannot be mended by the adapter: the session
//! remembers it, refuses every later call with a message saying the owner must connect
//! the channel again, and sends nothing more to the token endpoint.
//!
//! A refresh token the platform rotated is handed to the session's
//! [`RotationListener`] the moment it arrives, before any call uses the new access
//! token: a process that dies mid-call (an upload cut short) must not take the only
//! refresh token that still works with it.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::rest::{self, Form};
use crate::{AdapterError, Platform};

/// Access tokens are refreshed this long before they expire, so that no request leaves
/// with a token about to lapse on its way.
const REFRESH_EARLY: Duration = Duration::from_secs(60);

/// A token or secret that never shows: `Debug` prints `[redacted]`, there is no
/// `Display`, and [`OAuthSecret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthSecret(String);

impl OAuthSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the header or form field it belongs in and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty or holds characters no token has (spaces, control codes).
    pub(crate) fn is_malformed(&self) -> bool {
        self.0.trim().is_empty() || self.0.chars().any(|character| character.is_whitespace() || character.is_control())
    }
}

impl fmt::Debug for OAuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The platform's token endpoint and the application that refreshes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthApplication {
    /// The token endpoint, like `https://api.x.com/2/oauth2/token`.
    pub token_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// How the token endpoint wants the application to prove itself.
    pub authentication: ClientAuthentication,
}

/// RFC 6749 section 2.3.1: the two ways a confidential client sends its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// HTTP Basic with the id and secret (`client_secret_basic`: X, Reddit).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`:
    /// LinkedIn).
    InBody,
    /// The id as `client_key` and the secret as `client_secret` in the form body: TikTok's
    /// own spelling of `client_secret_post`, which refuses a `client_id`.
    InBodyAsClientKey,
}

/// Told of each refresh token the platform rotated, as soon as it arrives (with the
/// session's token lock held: it must not call back into the session).
#[async_trait::async_trait]
pub trait RotationListener: Send + Sync {
    /// The platform handed `refresh_token` in place of the one before.
    async fn rotated(&self, refresh_token: &OAuthSecret);
}

/// One connection's tokens: what its calls send, refreshed when needed.
pub struct OAuthSession {
    platform: Platform,
    application: OAuthApplication,
    http: reqwest::Client,
    tokens: Mutex<Tokens>,
    refreshes: AtomicU32,
    on_rotation: OnceLock<Arc<dyn RotationListener>>,
}

struct Tokens {
    access: Option<AccessToken>,
    refresh: OAuthSecret,
    /// Why the platform refused the refresh token, once it has.
    revoked: Option<String>,
}

struct AccessToken {
    token: OAuthSecret,
    /// `None` when the platform did not say (then it lasts until refused).
    expires_at: Option<Instant>,
}

impl AccessToken {
    fn lasts(&self) -> bool {
        self.expires_at.is_none_or(|expires_at| Instant::now() + REFRESH_EARLY < expires_at)
    }
}

/// RFC 6749 section 5.1.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Platforms that rotate refresh tokens (X among them) hand a new one each time.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// RFC 6749 section 5.2.
#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSession")
            .field("platform", &self.platform)
            .field("application", &self.application)
            .field("refreshes", &self.refreshes())
            .finish_non_exhaustive()
    }
}

impl OAuthSession {
    /// A session that starts with `refresh_token` only: its first call refreshes.
    pub fn new(
        platform: Platform,
        application: OAuthApplication,
        refresh_token: OAuthSecret,
        http: reqwest::Client,
    ) -> Self {
        let tokens = Tokens { access: None, refresh: refresh_token, revoked: None };
        Self {
            platform,
            application,
            http,
            tokens: Mutex::new(tokens),
            refreshes: AtomicU32::new(0),
            on_rotation: OnceLock::new(),
        }
    }

    /// A session holding a long-lived access token that no endpoint refreshes (Meta's
    /// user and system-user tokens): [`OAuthSession::access_token`] hands it out until the
    /// platform refuses it; then [`OAuthSession::after_refusal`] sends nothing, and the
    /// session needs its owner. Its [`OAuthSession::refresh_token`] is the access token
    /// itself, which never rotates.
    pub fn fixed(platform: Platform, access_token: OAuthSecret, http: reqwest::Client) -> Self {
        let application = OAuthApplication {
            token_url: String::new(),
            client_id: String::new(),
            client_secret: OAuthSecret::new(""),
            authentication: ClientAuthentication::InBody,
        };
        let access = AccessToken { token: access_token.clone(), expires_at: None };
        let tokens = Tokens { access: Some(access), refresh: access_token, revoked: None };
        Self {
            platform,
            application,
            http,
            tokens: Mutex::new(tokens),
            refreshes: AtomicU32::new(0),
            on_rotation: OnceLock::new(),
        }
    }

    /// Hands every refresh token rotated from now on to `listener`; a session has one
    /// listener, and `false` says another was there first.
    pub fn on_rotation(&self, listener: Arc<dyn RotationListener>) -> bool {
        self.on_rotation.set(listener).is_ok()
    }

    /// The access token to send now: the current one while it lasts, otherwise a fresh
    /// one (calls arriving during a refresh wait for it and share its token).
    pub async fn access_token(&self, deadline: Instant) -> Result<OAuthSecret, AdapterError> {
        let mut tokens = self.tokens.lock().await;
        self.check_not_revoked(&tokens)?;
        if let Some(access) = tokens.access.as_ref().filter(|access| access.lasts()) {
            return Ok(access.token.clone());
        }
        self.refresh(&mut tokens, deadline).await
    }

    /// The token to send after the platform refused `refused`: the one another call has
    /// refreshed meanwhile, or a fresh one. Ten calls refused at once refresh once.
    pub async fn after_refusal(&self, refused: &OAuthSecret, deadline: Instant) -> Result<OAuthSecret, AdapterError> {
        let mut tokens = self.tokens.lock().await;
        self.check_not_revoked(&tokens)?;
        if let Some(access) = tokens.access.as_ref().filter(|access| access.token != *refused && access.lasts()) {
            return Ok(access.token.clone());
        }
        self.refresh(&mut tokens, deadline).await
    }

    /// The refresh token as it stands: a platform that rotates them hands a new one with
    /// every refresh, and the old one stops working, so the connection's owner saves it.
    pub async fn refresh_token(&self) -> OAuthSecret {
        self.tokens.lock().await.refresh.clone()
    }

    /// Why the owner must connect the channel again, in words for the owner, once the
    /// platform has refused the refresh token.
    pub async fn needs_owner(&self) -> Option<String> {
        let reason = self.tokens.lock().await.revoked.clone()?;
        Some(owner_message(self.platform, &reason))
    }

    /// Refreshes sent to the token endpoint so far.
    pub fn refreshes(&self) -> u32 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Sends the request `build` makes with the current access token and, if the
    /// platform answers `401`, once more with a token refreshed since (by this call or
    /// another): the answer's status, headers and body. A second `401` is the caller's
    /// to read.
    pub(crate) async fn send_authorized(
        &self,
        operation: &str,
        deadline: Instant,
        build: impl Fn(&OAuthSecret) -> reqwest::RequestBuilder,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, String), AdapterError> {
        let failure = |error: reqwest::Error| rest::transport_failure(self.platform, operation, &error);
        let mut token = self.access_token(deadline).await?;
        let mut refreshed = false;
        loop {
            let response = build(&token).send().await.map_err(failure)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.text().await.map_err(failure)?;
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                token = self.after_refusal(&token, deadline).await?;
                refreshed = true;
                continue;
            }
            return Ok((status, headers, body));
        }
    }

    /// [`OAuthSession::send_authorized`] for a channel's API call: `method` to `url`
    /// with the bearer token, `Accept: application/json`, `headers` and `payload`.
    pub(crate) async fn send_bearer(
        &self,
        http: &reqwest::Client,
        (operation, deadline): (&str, Instant),
        (method, url): (&reqwest::Method, &str),
        headers: &[(&'static str, &'static str)],
        payload: Payload<'_>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, String), AdapterError> {
        self.send_authorized(operation, deadline, |token| {
            let mut request = http
                .request(method.clone(), url)
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", token.expose()))
                .header(ACCEPT, "application/json");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            match payload {
                Payload::Empty => request,
                Payload::Json(body) => request.header(CONTENT_TYPE, "application/json").body(body.to_string()),
                Payload::Form(form) => {
                    request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(form.encode())
                }
            }
        })
        .await
    }

    fn check_not_revoked(&self, tokens: &Tokens) -> Result<(), AdapterError> {
        match &tokens.revoked {
            Some(reason) => Err(needs_owner(self.platform, reason)),
            None => Ok(()),
        }
    }

    /// One `grant_type=refresh_token` request (RFC 6749 section 6), under the lock.
    async fn refresh(&self, tokens: &mut Tokens, deadline: Instant) -> Result<OAuthSecret, AdapterError> {
        const OPERATION: &str = "refreshing the access token";
        let platform = self.platform;
        // A fixed session's token, once refused, has nothing to be refreshed from.
        if self.application.token_url.is_empty() {
            let reason = format!("{} refused the access token, which cannot be refreshed", platform.display_name());
            tracing::warn!(?platform, "access token refused; the connection needs its owner");
            tokens.access = None;
            tokens.revoked = Some(reason.clone());
            return Err(needs_owner(platform, &reason));
        }
        let mut form = Form::new();
        form.push("grant_type", "refresh_token").push("refresh_token", tokens.refresh.expose());
        let mut request = self.http.post(&self.application.token_url);
        let (id, secret) = (&self.application.client_id, self.application.client_secret.expose());
        match self.application.authentication {
            ClientAuthentication::Basic => {
                form.push("client_id", id);
                request = request.basic_auth(id, Some(secret));
            }
            ClientAuthentication::InBody => {
                form.push("client_id", id).push("client_secret", secret);
            }
            ClientAuthentication::InBodyAsClientKey => {
                form.push("client_key", id).push("client_secret", secret);
            }
        }
        let request = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form.encode());
        let remaining = deadline.saturating_duration_since(Instant::now());
        let failure = |error: reqwest::Error| rest::transport_failure(platform, OPERATION, &error);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let response = tokio::time::timeout(remaining, request.send())
            .await
            .map_err(|_| AdapterError::Unavailable {
                platform,
                message: format!("{OPERATION}: no answer before the call's deadline"),
            })?
            .map_err(failure)?;
        let status = response.status();
        let retry_after = rest::retry_after(response.headers());
        let body = response.text().await.map_err(failure)?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_str(&body).map_err(|_| AdapterError::Unavailable {
                platform,
                message: format!("{OPERATION}: the token endpoint answered {status} without an access token"),
            })?;
            let token = OAuthSecret::new(answer.access_token);
            let expires_at = answer.expires_in.map(|secs| Instant::now() + Duration::from_secs(secs));
            tokens.access = Some(AccessToken { token: token.clone(), expires_at });
            // Some platforms hand the same refresh token back (LinkedIn does): only a new
            // one is a rotation.
            if let Some(rotated) = answer.refresh_token.filter(|rotated| rotated != tokens.refresh.expose()) {
                tokens.refresh = OAuthSecret::new(rotated);
                if let Some(listener) = self.on_rotation.get() {
                    listener.rotated(&tokens.refresh).await;
                }
            }
            tracing::debug!(?platform, "access token refreshed");
            return Ok(token);
        }
        let refusal: Option<TokenRefusal> = serde_json::from_str(&body).ok();
        let described = |refusal: &TokenRefusal| match &refusal.error_description {
            Some(description) => format!("{} ({description})", refusal.error),
            None => refusal.error.clone(),
        };
        match (status, refusal) {
            (_, Some(refusal)) if refusal.error == "invalid_grant" => {
                let reason = format!("{} refused the refresh token: {}", platform.as_str(), described(&refusal));
                tracing::warn!(?platform, "refresh token refused; the connection needs its owner");
                tokens.access = None;
                tokens.revoked = Some(reason.clone());
                Err(needs_owner(platform, &reason))
            }
            (_, Some(refusal)) if refusal.error == "invalid_client" => Err(AdapterError::rejected(
                platform,
                format!("{OPERATION}: the application's client id or secret was refused: {}", described(&refusal)),
            )),
            (StatusCode::TOO_MANY_REQUESTS, _) => Err(AdapterError::RateLimited {
                platform,
                retry_after_secs: retry_after.map_or(60, |wait| wait.as_secs().max(1)),
            }),
            (status, _) if status.is_server_error() => Err(AdapterError::Unavailable {
                platform,
                message: format!("{OPERATION}: the platform answered {status}"),
            }),
            (status, refusal) => Err(AdapterError::rejected(
                platform,
                format!(
                    "{OPERATION}: the platform answered {status}{}",
                    refusal.map(|refusal| format!(": {}", described(&refusal))).unwrap_or_default()
                ),
            )),
        }
    }
}

/// What a channel's API call sends.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// Nothing.
    Empty,
    /// A JSON body.
    Json(&'a serde_json::Value),
    /// A form-encoded body.
    Form(&'a Form),
}

/// The refusal every call gets once the refresh token is gone.
fn needs_owner(platform: Platform, reason: &str) -> AdapterError {
    AdapterError::rejected(platform, owner_message(platform, reason))
}

fn owner_message(platform: Platform, reason: &str) -> String {
    format!("the {name} connection needs its owner: {reason}; connect {name} again", name = platform.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let application = OAuthApplication {
            token_url: "https://api.x.com/2/oauth2/token".into(),
            client_id: "client".into(),
            client_secret: OAuthSecret::new("s3cr3t-value"),
            authentication: ClientAuthentication::Basic,
        };
        let session =
            OAuthSession::new(Platform::X, application, OAuthSecret::new("refresh-value"), reqwest::Client::new());
        let shown = format!("{session:?}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("refresh-value"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn malformed_secrets_are_recognised() {
        assert!(OAuthSecret::new(" ").is_malformed());
        assert!(OAuthSecret::new("a b").is_malformed());
        assert!(!OAuthSecret::new("abc.def-123").is_malformed());
    }
}
