//! Who is calling: the [`CurrentUser`] and [`AdminUser`] extractors, and the pieces
//! they are built from.
//!
//! A request authenticates in one of two ways:
//!
//! - **Bearer token** (`Authorization: Bearer br_…`), for programs. The token's SHA-256
//!   is looked up; revoked tokens authenticate nothing. Bearer requests are exempt from
//!   CSRF checks: a browser never attaches such a header to a cross-site request on
//!   its own, so a forged request cannot carry one.
//! - **Session cookie** (`boardroom_session`), for browsers. Cookies *are* attached to
//!   cross-site requests, so every cookie-authenticated write (POST, PUT, PATCH,
//!   DELETE) must also send `X-CSRF-Token` equal to the session's token (returned by
//!   login and profile), which another site cannot read. Missing or wrong → 403 `csrf`.
//!
//! An `Authorization` header that is present wins over a cookie, and a bad one is a 401
//! even if a good cookie is also sent: credentials are never silently swapped.
//!
//! Every authenticated `/api/*` request counts as one of the month's API calls (see
//! `tiers`); beyond the tier's limit it is refused with 429.
//!
//! After authentication the user's access controls apply: the IP allow-list (403
//! `ip_not_allowed`, checked against the client address `client` derives: the TCP peer,
//! or what a trusted proxy forwards) and the session time-out (see [`access`]).
//!
//! ## Layout
//! - `secret`: random secrets and their stored hashes.
//! - `password`: [`password::Email`], [`password::Password`], Argon2id.
//! - `session`: server-side sessions and their two backends.
//! - `access`: per-user access rules.
//! - `cache`: recently authenticated callers (a couple of seconds).
//! - `throttle`: login and sign-up throttling.

pub(crate) mod access;
pub(crate) mod cache;
pub(crate) mod password;
pub(crate) mod secret;
pub(crate) mod session;
pub(crate) mod throttle;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use boardroom_memory::{ApiToken, Role, User};
use chrono::{TimeDelta, Utc};

use self::access::AccessRules;
use self::secret::{API_TOKEN_PREFIX, constant_time_eq, hash_secret};
use self::session::{ActiveSession, session_cookie};
use super::client::ClientFacts;
use super::error::ApiError;
use super::tiers;
use super::{ApiState, forward};

/// The header cookie-authenticated writes must carry.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// A token's `last_used_at` is rewritten at most this often, so a busy program does not
/// turn every read into a write.
const TOKEN_TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// How the current request authenticated.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// A browser session.
    Session(ActiveSession),
    /// An API token.
    Token(ApiToken),
}

/// The authenticated caller. Extracting it refuses the request (401, 403) unless it is
/// authenticated, passes the CSRF check and comes from an allowed address.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    /// The account.
    pub(crate) user: User,
    /// How it authenticated.
    pub(crate) credential: Credential,
}

impl CurrentUser {
    /// The session's CSRF token, when authenticated by session.
    pub(crate) fn csrf_token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session(session) => Some(&session.csrf_token),
            Credential::Token(_) => None,
        }
    }
}

/// An authenticated caller with the admin role; anyone else gets 403.
#[derive(Debug, Clone)]
pub(crate) struct AdminUser(pub(crate) CurrentUser);

impl FromRequestParts<ApiState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let user = authenticate(parts, state).await?;
        // A request another node passed on was counted there.
        if tiers::is_metered(parts.uri.path()) && parts.extensions.get::<forward::PassedOn>().is_none() {
            tiers::meter_api_call(&state.app, &user.user).await?;
        }
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl FromRequestParts<ApiState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let caller = CurrentUser::from_request_parts(parts, state).await?;
        if caller.user.role != Role::Admin {
            return Err(ApiError::forbidden("forbidden", "this needs an admin account"));
        }
        Ok(AdminUser(caller))
    }
}

/// The client's address: the TCP peer, or the address a trusted proxy forwarded (see
/// `client`); `None` when the server was started without connection info.
pub(crate) fn peer_address(parts: &Parts) -> Option<IpAddr> {
    match parts.extensions.get::<ClientFacts>() {
        Some(facts) => facts.address,
        None => parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip()),
    }
}

/// Whether the client reached us over HTTPS, as a trusted proxy says (see `client`).
pub(crate) fn came_over_https(parts: &Parts) -> bool {
    parts.extensions.get::<ClientFacts>().is_some_and(|facts| facts.https)
}

/// Whether the caller is an admin, for routes anyone may call that show admins more
/// (`/health`): a missing or failing credential is simply not an admin.
pub(crate) async fn is_admin(parts: &mut Parts, state: &ApiState) -> bool {
    let has_credential = parts.headers.contains_key(header::AUTHORIZATION) || session_cookie(&parts.headers).is_some();
    has_credential && AdminUser::from_request_parts(parts, state).await.is_ok()
}

/// Whether a method only reads (and so needs no CSRF token).
fn is_read_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Refuses a cookie-authenticated write whose `X-CSRF-Token` is missing or wrong.
pub(crate) fn check_csrf(method: &Method, headers: &HeaderMap, session: &ActiveSession) -> Result<(), ApiError> {
    if is_read_only(method) {
        return Ok(());
    }
    let sent = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if sent.is_empty() || !constant_time_eq(sent, &session.csrf_token) {
        return Err(ApiError::forbidden(
            "csrf",
            "missing or wrong X-CSRF-Token header: cookie-authenticated writes must send the csrf_token \
             returned by login and profile",
        ));
    }
    Ok(())
}

/// The credential a request presents, before it is looked up.
enum Presented {
    /// An API token's stored hash.
    Token(String),
    /// A session's stored id (the cookie's hash).
    Session(String),
}

impl Presented {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
                .map(str::trim)
                .filter(|token| token.starts_with(API_TOKEN_PREFIX))
                .ok_or_else(|| {
                    ApiError::unauthorized("invalid_token", "the Authorization header must be `Bearer br_…`")
                })?;
            return Ok(Self::Token(hash_secret(token)));
        }
        if let Some(cookie) = session_cookie(headers) {
            return Ok(Self::Session(hash_secret(&cookie)));
        }
        Err(ApiError::unauthorized(
            "unauthorized",
            "log in first, or send an API token as `Authorization: Bearer br_…`",
        ))
    }

    fn cache_key(&self) -> String {
        match self {
            Self::Token(hash) => cache::token_key(hash),
            Self::Session(id) => cache::session_key(id),
        }
    }
}

async fn authenticate(parts: &Parts, state: &ApiState) -> Result<CurrentUser, ApiError> {
    let presented = Presented::from_headers(&parts.headers)?;
    let key = presented.cache_key();
    let now = Utc::now();
    let cached = state.auth_cache.get(&key).filter(|hit| match &hit.caller.credential {
        Credential::Session(session) => session.expires_at > now,
        Credential::Token(_) => true,
    });
    let (mut caller, rules, mut changed) = match cached {
        Some(hit) => (hit.caller.clone(), hit.rules.clone(), false),
        None => {
            let (caller, rules) = look_up(presented, state).await?;
            (caller, rules, true)
        }
    };
    if let Credential::Session(session) = &caller.credential {
        check_csrf(&parts.method, &parts.headers, session)?;
    }
    if !rules.allows(peer_address(parts)) {
        return Err(ApiError::forbidden("ip_not_allowed", "your account does not accept requests from this address"));
    }
    match &mut caller.credential {
        Credential::Session(session) => {
            if let Some(slid) = state.sessions.touch(session, rules.session_timeout).await? {
                *session = slid;
                changed = true;
            }
        }
        Credential::Token(token) => {
            if token.last_used_at.is_none_or(|last| now - last >= TOKEN_TOUCH_EVERY) {
                match state.app.store.touch_api_token(token.id, now).await {
                    Ok(()) => {
                        token.last_used_at = Some(now);
                        changed = true;
                    }
                    // Bookkeeping only: the request itself is fine.
                    Err(error) => tracing::warn!(%error, token = token.id, "could not stamp the API token's last use"),
                }
            }
        }
    }
    if changed {
        state.auth_cache.put(key, caller.clone(), rules);
    }
    Ok(caller)
}

/// Reads the credential, its account and the account's access rules from storage.
async fn look_up(presented: Presented, state: &ApiState) -> Result<(CurrentUser, AccessRules), ApiError> {
    let store = &state.app.store;
    let credential = match presented {
        Presented::Token(hash) => {
            let api_token = store
                .api_token_by_hash(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid_token", "the API token is unknown or revoked"))?;
            Credential::Token(api_token)
        }
        Presented::Session(id) => {
            let session = state
                .sessions
                .find_stored(id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("session_expired", "your session has ended; log in again"))?;
            Credential::Session(session)
        }
    };
    let user_id = match &credential {
        Credential::Session(session) => session.user_id,
        Credential::Token(token) => token.user_id,
    };
    let user = store
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "the account no longer exists"))?;
    let rules = AccessRules::from_controls(&store.access_controls(user.id).await?);
    Ok((CurrentUser { user, credential }, rules))
}
