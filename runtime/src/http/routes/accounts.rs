//! `/api/auth/*`: sign-up, login, logout, profile and API tokens.
//!
//! ## Sign-up and invites
//!
//! The first account ever created becomes admin (atomically, in the store). When
//! private mode is on, sign-up needs an invite code with uses left, active and not
//! expired; each sign-up takes one use, and two sign-ups can never both take the last.
//!
//! The order is what makes that race-free without leaving a usable account behind:
//!
//! 1. `check_invite` — refuses unknown, disabled, used-up and expired codes early,
//!    naming why, before any work.
//! 2. The account is created with a placeholder password hash that is not a PHC
//!    string, so it cannot log in: it exists only to give `consume_invite` its user id.
//! 3. `consume_invite` takes the use atomically. The loser of a race for the last use
//!    is refused here, and its placeholder account is deleted.
//! 4. Only then is the real password hash written, and the account becomes usable.
//!
//! At no moment can anyone log in to an account whose invite use was not taken. If the
//! process dies between 2 and 4, what remains is an account nobody can log in to.
//!
//! In private mode the very first sign-up (no account exists yet, so nobody could have
//! made an invite) needs no code; it goes through the same steps and keeps its account
//! only if it became the admin.
//!
//! ## A taken address
//!
//! Login never says whether an address has an account, so sign-up does not either: a
//! taken address answers the same 201 and body as a free one, after the same Argon2
//! work, and creates and changes nothing (no invite use is taken); the password sent
//! logs in to nothing. With no e-mail to send, "log in with the password you chose" is
//! the answer that is true both ways.
//!
//! ## Throttling
//!
//! Sign-ups are limited per client address and for the whole service, failed logins
//! per (account, address) pair, per address and per account (see `auth::throttle`);
//! the client address is the one `http::client` derives.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boardroom_memory::{ApiToken, MemoryError, NewApiToken, NewUser, Role, Tier, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Items;
use super::products::live_products;
use crate::http::ApiState;
use crate::http::auth::access::AccessRules;
use crate::http::auth::cache::session_key;
use crate::http::auth::password::{Email, Password, hash_password, verify_password};
use crate::http::auth::secret::{hash_secret, new_api_token};
use crate::http::auth::session::{clear_cookie, session_cookie, set_cookie};
use crate::http::auth::{Credential, CurrentUser, came_over_https, check_csrf, peer_address};
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Path};
use crate::http::fields::{Checked, Name};
use crate::http::tiers::{self, TierLimits};

/// The platform setting that, once an admin has toggled it, overrides `PRIVATE_MODE`.
pub(crate) const PRIVATE_MODE_SETTING: &str = "private_mode";

/// The password hash of an account whose invite is not yet taken: not a PHC string, so
/// no password verifies against it.
const PENDING_INVITE_HASH: &str = "!pending-invite";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(profile))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

/// Whether sign-up needs an invite: the admin's run-time toggle once set, else
/// `PRIVATE_MODE`.
pub(crate) async fn private_mode(state: &ApiState) -> Result<bool, ApiError> {
    match state.app.store.platform_setting(PRIVATE_MODE_SETTING).await? {
        Some(Value::Bool(enabled)) => Ok(enabled),
        Some(other) => {
            tracing::warn!(value = %other, "the private_mode platform setting is not a boolean; using PRIVATE_MODE");
            Ok(state.app.settings.private_mode)
        }
        None => Ok(state.app.settings.private_mode),
    }
}

/// `POST /api/auth/signup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignupRequest {
    /// The account's e-mail address (its login).
    #[schema(value_type = Email)]
    email: Checked<Email>,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// Needed in private mode; ignored otherwise.
    #[serde(default)]
    invite_code: Option<String>,
}

/// A sign-up taken: the same answer whether the address was free or not.
#[derive(Debug, Serialize, ToSchema)]
struct SignedUp {
    /// The address signed up with, as stored (lower-case).
    #[schema(example = "owner@example.com")]
    email: String,
    /// What to do next.
    message: String,
}

/// What every taken sign-up says, so the answer does not tell whether the address
/// already had an account.
const SIGNED_UP_MESSAGE: &str = "sign-up received: log in with this address and the password you chose \
    (if the address already had an account, that account is unchanged and only its own password works)";

/// Creates an account.
///
/// The first account ever created becomes admin. In private mode sign-up needs an
/// invite code with uses left (403 `invite_required` or `invite_rejected` otherwise).
///
/// The answer does not say whether the address already had an account (login does not
/// either): signing up with a taken address answers the same 201 and body, creates
/// nothing, changes nothing, and its password logs in to nothing. Sign-ups are limited
/// per client address and for the whole service (429 with `Retry-After`).
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    tag = "accounts",
    security(()),
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Taken: log in next. The same answer when the address already had an \
            account (which is left unchanged).", body = SignedUp),
        (status = 403, description = "`invite_required` or `invite_rejected` (private mode)."),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address, or in all; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
async fn signup(
    State(state): State<ApiState>,
    parts: RequestFacts,
    Json(request): Json<SignupRequest>,
) -> Result<Response, ApiError> {
    let mut problems = Fields::new();
    let email = request.email.check(&mut problems, "email");
    let password =
        Password::parse(request.password).map_err(|problem| problems.insert("password".into(), problem)).ok();
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::Validation(problems));
    };
    state.signup_throttle.admit(parts.peer).await.map_err(|throttled| ApiError::TooManyRequests {
        message: format!("too many {}; try again later", throttled.limit),
        retry_after: throttled.retry_after,
    })?;
    let store = &state.app.store;
    let private = private_mode(&state).await?;
    let invite_code = request.invite_code.map(|code| code.trim().to_owned()).filter(|code| !code.is_empty());
    if private {
        match &invite_code {
            Some(code) => {
                store.check_invite(code, Utc::now()).await?;
            }
            // Mirrors the store's rule: while no admin exists, the next sign-up becomes
            // the admin and needs no invite (someone has to be able to make invites);
            // `claim_invite` keeps the account only if the store did make it admin.
            None if !store.admin_exists().await? => {}
            None => {
                return Err(ApiError::Forbidden {
                    code: "invite_required",
                    message: "sign-up is by invitation only; an invite code is required".into(),
                    fields: Fields::from([("invite_code".into(), "is required".into())]),
                });
            }
        }
    }
    let password_hash = hash_password(password).await?;
    let initial_hash = if private { PENDING_INVITE_HASH.to_owned() } else { password_hash.clone() };
    let new_user =
        NewUser { email: email.as_str().to_owned(), password_hash: initial_hash, role: Role::User, tier: Tier::Free };
    // The hash is made before the address is tried, so a taken address answers in the
    // same time as a free one.
    let signed_up = SignedUp { email: email.as_str().to_owned(), message: SIGNED_UP_MESSAGE.to_owned() };
    let user = match store.create_user_first_is_admin(new_user).await {
        Ok(user) => user,
        Err(MemoryError::Conflict(_)) => {
            // Nothing is created or changed (and no invite use is taken).
            tracing::info!("sign-up with an address that already has an account; nothing changed");
            return Ok((StatusCode::CREATED, Json(signed_up)).into_response());
        }
        Err(error) => return Err(error.into()),
    };
    let user = if private { claim_invite(&state, user, invite_code.as_deref(), &password_hash).await? } else { user };
    tracing::info!(user = %user.id, role = %user.role, private, "account created");
    Ok((StatusCode::CREATED, Json(signed_up)).into_response())
}

/// Steps 3 and 4 of the module docs: take the invite's use (or confirm the bootstrap
/// admin), then make the account usable; undo the account when refused.
async fn claim_invite(
    state: &ApiState,
    user: User,
    invite_code: Option<&str>,
    password_hash: &str,
) -> Result<User, ApiError> {
    let store = &state.app.store;
    let refusal = match invite_code {
        Some(code) => match store.consume_invite(code, user.id, Utc::now()).await {
            Ok(_) => None,
            Err(error @ MemoryError::InviteRejected(_)) => Some(ApiError::from(error)),
            Err(error) => {
                discard_pending(state, &user).await;
                return Err(error.into());
            }
        },
        // Bootstrap: no code, allowed only to the first account, which is the admin.
        None if user.role == Role::Admin => None,
        None => Some(ApiError::Forbidden {
            code: "invite_required",
            message: "sign-up is by invitation only; an invite code is required".into(),
            fields: Fields::from([("invite_code".into(), "is required".into())]),
        }),
    };
    if let Some(refusal) = refusal {
        discard_pending(state, &user).await;
        return Err(refusal);
    }
    store.set_user_password_hash(user.id, password_hash).await?;
    Ok(User { password_hash: password_hash.to_owned(), ..user })
}

/// Deletes an account that never became usable. A failure leaves an account nobody can
/// log in to, which is logged.
async fn discard_pending(state: &ApiState, user: &User) {
    if let Err(error) = state.app.store.delete_user(user.id).await {
        tracing::error!(%error, user = %user.id, "could not delete the account of a refused sign-up; it cannot log in");
    }
}

/// `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    /// The account's e-mail address, in any case. Any text is read (an address that
    /// cannot be an account's is a wrong one, 401, like any other).
    #[schema(min_length = 1, max_length = 254)]
    email: String,
    /// Its password.
    #[schema(min_length = 1)]
    password: String,
}

/// A session just started; the cookie comes in `Set-Cookie`.
#[derive(Debug, Serialize, ToSchema)]
struct LoggedIn {
    /// The account.
    user: User,
    /// Send it as `X-CSRF-Token` on every cookie-authenticated write.
    csrf_token: String,
    /// When the session ends unless used.
    expires_at: DateTime<Utc>,
}

/// Logs in: starts a session and sets the `boardroom_session` cookie.
///
/// Failed logins are counted per (account, client address) pair, per address and per
/// account (429 with `Retry-After`): an address that keeps failing is refused, and an
/// account under attack refuses the addresses failing on it, never the right password
/// from an address that has not failed.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "accounts",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; `Set-Cookie` carries the session.", body = LoggedIn,
            headers(("Set-Cookie" = String, description = "`boardroom_session=…; HttpOnly; SameSite=Lax`"))),
        (status = 401, description = "`invalid_credentials`: wrong e-mail address or password."),
        (status = 403, description = "`ip_not_allowed`: the account does not accept logins from this address."),
        (status = 429, description = "`rate_limited`: too many failed logins from this address (for this \
            account, or any); see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    )
)]
async fn login(
    State(state): State<ApiState>,
    parts: RequestFacts,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = Email::for_login(&request.email).map_err(|problem| ApiError::invalid("email", problem))?;
    if request.password.is_empty() {
        return Err(ApiError::invalid("password", "is required"));
    }
    let attempt =
        state.login_throttle.admit(&email, parts.peer).await.map_err(|throttled| ApiError::TooManyRequests {
            message: format!("too many {}; try again later", throttled.limit),
            retry_after: throttled.retry_after,
        })?;
    let store = &state.app.store;
    let user = store.user_by_email(&email).await?;
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let verified = verify_password(request.password, stored_hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        // The attempt stays counted as a failure.
        return Err(ApiError::unauthorized("invalid_credentials", "wrong e-mail address or password"));
    };
    state.login_throttle.succeeded(attempt).await;
    let rules = AccessRules::from_controls(&store.access_controls(user.id).await?);
    if !rules.allows(parts.peer) {
        return Err(ApiError::forbidden("ip_not_allowed", "your account does not accept logins from this address"));
    }
    if let Some(old) = session_cookie(&parts.headers) {
        // A new login always gets a new session id: a planted cookie is never promoted.
        state.sessions.end_cookie(&old).await?;
        state.auth_cache.forget(&session_key(&hash_secret(&old)));
    }
    let session = state.sessions.start(user.id, rules.session_timeout).await?;
    let now = Utc::now();
    store.touch_last_login(user.id, now).await?;
    let user = User { last_login: Some(now), ..user };
    tracing::info!(user = %user.id, sessions = state.sessions.kind(), "logged in");
    let body = LoggedIn { user, csrf_token: session.csrf_token, expires_at: session.expires_at };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&session.cookie_value, parts.https)?);
    Ok(response)
}

/// What sign-up, login and logout read from the request besides the body.
struct RequestFacts {
    headers: HeaderMap,
    method: axum::http::Method,
    peer: Option<std::net::IpAddr>,
    https: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestFacts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            peer: peer_address(parts),
            https: came_over_https(parts),
        })
    }
}

/// Logs out: ends the cookie's session and clears the cookie.
///
/// CSRF-checked when a live session cookie is sent. Idempotent: without a live session
/// it still answers 204.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "accounts",
    security((), ("session_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Logged out; `Set-Cookie` clears the cookie."),
        (status = 403, description = "`csrf`: a live session cookie without the right `X-CSRF-Token`."),
    )
)]
async fn logout(State(state): State<ApiState>, parts: RequestFacts) -> Result<Response, ApiError> {
    if let Some(cookie) = session_cookie(&parts.headers)
        && let Some(session) = state.sessions.find(&cookie).await?
    {
        check_csrf(&parts.method, &parts.headers, &session)?;
        state.sessions.end(&session.id).await?;
        state.auth_cache.forget(&session_key(&session.id));
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_cookie(parts.https))]).into_response())
}

/// `GET /api/auth/profile`: who the caller is, and where they stand against their tier.
#[derive(Debug, Serialize, ToSchema)]
struct Profile {
    /// The account.
    user: User,
    /// `user` or `admin`.
    role: Role,
    /// The subscription tier.
    tier: Tier,
    /// This month's usage against the tier's limits.
    usage: Usage,
    /// What the tier allows; `null` is unlimited.
    limits: TierLimits,
    /// How many businesses the caller has.
    tenants: usize,
    /// `session` or `token`.
    #[schema(example = "session")]
    authenticated_by: String,
    /// The session's CSRF token; `null` when authenticated by token.
    csrf_token: Option<String>,
    /// When the session ends unless used; `null` when authenticated by token.
    session_expires_at: Option<DateTime<Utc>>,
}

/// Usage that counts against the tier.
#[derive(Debug, Serialize, ToSchema)]
struct Usage {
    /// The calendar month, `YYYY-MM`.
    #[schema(example = "2026-11")]
    period: String,
    /// Authenticated API calls this month.
    api_calls: i64,
    /// The caller's businesses (limited per account).
    businesses: usize,
    /// Products of the caller's busiest business (limits are per business).
    products: usize,
    /// Connected stores of the caller's busiest business.
    stores: usize,
    /// Campaigns of the caller's busiest business.
    campaigns: usize,
    /// Bytes the files of all the caller's businesses take (the tier's file storage).
    file_storage_bytes: i64,
}

/// The caller's account, tier, usage and limits, and the session's CSRF token.
#[utoipa::path(
    get,
    path = "/api/auth/profile",
    tag = "accounts",
    responses((status = 200, description = "The caller's profile.", body = Profile))
)]
async fn profile(State(state): State<ApiState>, caller: CurrentUser) -> Result<Json<Profile>, ApiError> {
    let store = &state.app.store;
    let user = &caller.user;
    let period = tiers::period(Utc::now());
    let api_calls = state.app.api_calls.total(user.id, Utc::now()).await?;
    let businesses = store.tenants_of_user(user.id).await?;
    let tenants = businesses.len();
    // Products, stores and campaigns are limited per business: the busiest one is
    // what stands against the limit.
    let (mut products, mut stores, mut campaigns) = (0, 0, 0);
    for business in &businesses {
        products = products.max(live_products(&state, business.id).await?);
        stores = stores.max(super::stores::count(&state, business.id).await?);
        campaigns = campaigns.max(store.campaigns(business.id).await?.len());
    }
    let file_storage_bytes = store.media_bytes_of_user(user.id).await?;
    let (authenticated_by, session_expires_at) = match &caller.credential {
        Credential::Session(session) => ("session", Some(session.expires_at)),
        Credential::Token(_) => ("token", None),
    };
    Ok(Json(Profile {
        user: user.clone(),
        role: user.role,
        tier: user.tier,
        usage: Usage { period, api_calls, businesses: tenants, products, stores, campaigns, file_storage_bytes },
        limits: *tiers::limits(user.tier),
        tenants,
        authenticated_by: authenticated_by.to_owned(),
        csrf_token: caller.csrf_token().map(str::to_owned),
        session_expires_at,
    }))
}

/// `POST /api/auth/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTokenRequest {
    /// A label for it, such as `reporting script`.
    name: Name,
}

/// A new API token, with its secret: the only time it is shown.
#[derive(Debug, Serialize, ToSchema)]
struct CreatedToken {
    /// Its id (to revoke it).
    id: i64,
    /// Its label.
    name: String,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// The secret, `br_…`: send it as `Authorization: Bearer br_…`.
    token: String,
    /// A reminder that the secret is not shown again.
    note: String,
}

/// Creates an API token for programs.
#[utoipa::path(
    post,
    path = "/api/auth/tokens",
    tag = "accounts",
    request_body = CreateTokenRequest,
    responses((status = 201, description = "The token; store its secret now.", body = CreatedToken))
)]
async fn create_token(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreateTokenRequest>,
) -> Result<Response, ApiError> {
    let name = request.name.into_inner();
    let token = new_api_token();
    let new = NewApiToken { user_id: caller.user.id, name, token_hash: hash_secret(&token) };
    let stored = state.app.store.create_api_token(new).await?;
    tracing::info!(user = %caller.user.id, token = stored.id, "API token created");
    let body = CreatedToken {
        id: stored.id,
        name: stored.name,
        created_at: stored.created_at,
        token,
        note: "this is the only time the token is shown; store it now".to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The caller's API tokens (never their secrets), revoked ones included.
#[utoipa::path(
    get,
    path = "/api/auth/tokens",
    tag = "accounts",
    responses((status = 200, description = "Every token of the caller.", body = Items<ApiToken>))
)]
async fn list_tokens(State(state): State<ApiState>, caller: CurrentUser) -> Result<Json<Items<ApiToken>>, ApiError> {
    let tokens = state.app.store.api_tokens(caller.user.id).await?;
    Ok(Json(Items { items: tokens }))
}

/// Revokes one of the caller's API tokens; it authenticates nothing from then on.
#[utoipa::path(
    delete,
    path = "/api/auth/tokens/{id}",
    tag = "accounts",
    params(("id" = i64, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "`not_found`: no such token of the caller's."),
    )
)]
async fn revoke_token(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.app.store.revoke_api_token(caller.user.id, id).await.map_err(|error| match error {
        MemoryError::NotFound(_) => ApiError::NotFound("token".into()),
        other => other.into(),
    })?;
    state.auth_cache.forget_user(caller.user.id);
    tracing::info!(user = %caller.user.id, token = id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}
