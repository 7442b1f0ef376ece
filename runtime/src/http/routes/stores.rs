//! `/api/stores/*`: the external stores a business connects, and what its market says.
//!
//! Credentials are sealed (see `crypto`) before they are written, bound to their
//! business and store, and never leave the server again: answers say
//! `"credentials": "stored"` and name the credential fields, never a value. The request
//! type has no `Debug`, so no log line can print them either.
//!
//! A Shopify shop or a Gumroad account is checked when it is connected (its token must
//! open it) and linked to the business (`platform_accounts`: the shop's domain, the
//! seller's `user_id`), so no second business can take it; that is how a shop's order
//! webhooks find their ledger. `sync` reads a shop as it is now.
//!
//! A Gumroad account also gets a ping URL, `/webhooks/gumroad/{secret}` with 256 random
//! bits of secret, shown once in the connect answer (`ping_path`) for the owner to paste
//! into Gumroad's settings. Gumroad signs nothing it pushes, so the secret is what finds
//! the business; like every bearer secret here only its SHA-256 is kept (linked as the
//! `gumroad_ping` account), so the stored data cannot forge a ping. Connecting again
//! issues a new URL.
//!
//! Connected stores are kept in the `stores` agent-memory namespace of their business,
//! one key `store:<uuid>` each, so they go when the business goes. `boardroom
//! rotate-secrets` re-seals them under the current `SECRET_KEY` ([`reseal`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boardroom_adapters::{
    AdAccount, AdapterError, CallBudget, GOOGLE_ADS_API_BASE, GOOGLE_TOKEN_URL, GoogleAdsClient, GoogleAdsConnection,
    GumroadClient, GumroadConnection, LINKEDIN_API_BASE, LINKEDIN_AUTH_BASE, LinkedInClient, LinkedInConnection,
    MetaAdsClient, MetaAdsConnection, OAuthSecret, Platform, REDDIT_API_BASE, REDDIT_AUTH_BASE, RedditChannel,
    RedditClient, RedditConnection, ResilienceSettings, RetryPolicy, ShopifyClient, ShopifyConnection, SocialChannel,
    TikTokChannel, TikTokClient, TikTokConnection, XClient, XConnection, YOUTUBE_API_BASE, YouTubeChannel,
    YouTubeClient, YouTubeConnection,
};
use boardroom_memory::{AgentMemory, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessBody, BusinessQuery, Items, activate_owned, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::auth::secret::{hash_secret, random_urlsafe};
use crate::http::crypto::{CredentialSealer, Opened, Sealed};
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Query};
use crate::http::fields::{Checked, Field};
use crate::http::names::WHITESPACE_CLASS;
use crate::http::tiers::{self, Counted};

/// The agent-memory namespace connected stores live in.
pub(crate) const STORES: &str = "stores";
/// What the key of each connected store starts with (`store:<uuid>`); the keys with it
/// are what the tier counts.
pub(crate) const STORE_KEY_PREFIX: &str = "store:";
/// Longest store address.
const MAX_URL_CHARS: usize = 500;
/// Most credential fields, and the longest name and value.
const MAX_CREDENTIAL_FIELDS: usize = 10;
const MAX_CREDENTIAL_NAME_CHARS: usize = 50;
const MAX_CREDENTIAL_VALUE_CHARS: usize = 4096;
/// Days the analytics cover.
const ANALYTICS_DAYS: u32 = 30;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(connect)).routes(routes!(list)).routes(routes!(sync)).routes(routes!(analytics))
}

/// `POST /api/stores/connect`. No `Debug`: it holds credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectStore {
    /// The business the store sells for.
    business_id: i64,
    /// The platform the store is on.
    platform: StorePlatform,
    /// The store's address.
    #[schema(value_type = StoreUrl)]
    store_url: Checked<StoreUrl>,
    /// What the platform needs to let us in.
    #[schema(value_type = Credentials)]
    credentials: Checked<Credentials>,
}

/// The platforms a store can be connected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StorePlatform {
    Shopify,
    Gumroad,
    Stripe,
    Etsy,
    Sandbox,
    /// An X account the swarm posts from (a marketing channel).
    X,
    /// A Reddit account the swarm submits from (a marketing channel).
    Reddit,
    /// A LinkedIn member or page the swarm posts as (a marketing channel).
    Linkedin,
    /// A Google Ads account the swarm runs its search ads on (a marketing channel).
    GoogleAds,
    /// A Meta ad account the swarm runs its social ads on (a marketing channel).
    MetaAds,
    /// A TikTok account the swarm posts its clips to (a marketing channel).
    Tiktok,
    /// A YouTube channel the swarm uploads its clips to (a marketing channel).
    Youtube,
}

impl StorePlatform {
    /// The platform's name, as stored and as `platform_accounts` knows it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StorePlatform::Shopify => "shopify",
            StorePlatform::Gumroad => "gumroad",
            StorePlatform::Stripe => "stripe",
            StorePlatform::Etsy => "etsy",
            StorePlatform::Sandbox => "sandbox",
            StorePlatform::X => "x",
            StorePlatform::Reddit => "reddit",
            StorePlatform::Linkedin => "linkedin",
            StorePlatform::GoogleAds => "google_ads",
            StorePlatform::MetaAds => "meta_ads",
            StorePlatform::Tiktok => "tiktok",
            StorePlatform::Youtube => "youtube",
        }
    }

    /// The marketing channel's platform, for the platforms that are one.
    pub(crate) fn channel(self) -> Option<Platform> {
        Some(match self {
            StorePlatform::X => Platform::X,
            StorePlatform::Reddit => Platform::Reddit,
            StorePlatform::Linkedin => Platform::Linkedin,
            StorePlatform::GoogleAds => Platform::GoogleAds,
            StorePlatform::MetaAds => Platform::MetaAds,
            StorePlatform::Tiktok => Platform::Tiktok,
            StorePlatform::Youtube => Platform::Youtube,
            StorePlatform::Shopify
            | StorePlatform::Gumroad
            | StorePlatform::Stripe
            | StorePlatform::Etsy
            | StorePlatform::Sandbox => return None,
        })
    }

    /// What a connected store of this platform is called in messages.
    pub(crate) fn connected_thing(self) -> &'static str {
        match self {
            StorePlatform::Shopify => "Shopify shop",
            StorePlatform::Gumroad => "Gumroad account",
            StorePlatform::Stripe => "Stripe account",
            StorePlatform::Etsy => "Etsy shop",
            StorePlatform::Sandbox => "sandbox store",
            StorePlatform::X => "X account",
            StorePlatform::Reddit => "Reddit account",
            StorePlatform::Linkedin => "LinkedIn author",
            StorePlatform::GoogleAds => "Google Ads account",
            StorePlatform::MetaAds => "Meta ad account",
            StorePlatform::Tiktok => "TikTok account",
            StorePlatform::Youtube => "YouTube channel",
        }
    }
}

/// The `platform_accounts` platform under which the SHA-256 of a business's Gumroad
/// ping secret is linked to it.
pub(crate) const GUMROAD_PING: &str = "gumroad_ping";

/// Where Gumroad pings a business: this path on the server's public address.
fn gumroad_ping_path(secret: &str) -> String {
    format!("/webhooks/gumroad/{secret}")
}

/// A store's address: `https://` and a host, or `http://` for this machine only
/// (`localhost` or `127.0.0.1`), at most 500 characters, no white space.
struct StoreUrl(String);

impl Field for StoreUrl {
    type Raw = String;

    fn parse(url: String) -> Result<Self, String> {
        check_url(&url).map(|()| StoreUrl(url))
    }
}

impl PartialSchema for StoreUrl {
    fn schema() -> RefOr<Schema> {
        let printable = format!("[^{}{}]", r"\u0000-\u001F\u007F-\u009F", WHITESPACE_CLASS);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The store's address: `https://` and a host, or `http://localhost` / `http://127.0.0.1` \
                 (with a port or path), at most 500 characters, no white space.",
            ))
            .max_length(Some(MAX_URL_CHARS))
            .pattern(Some(format!(
                r"^(https://[^/?#{ws}{control}]{printable}*|http://(localhost|127\.0\.0\.1)([:/?#]{printable}*)?)$",
                ws = WHITESPACE_CLASS,
                control = r"\u0000-\u001F\u007F-\u009F",
            )))
            .examples(["https://mugs.myshopify.com"])
            .into()
    }
}

impl ToSchema for StoreUrl {}

/// Credential names and values. Its own `Deserialize` so that a malformed value is
/// refused without being quoted back: serde's message for `"credentials": "sk_…"`
/// would otherwise repeat the secret in the 422.
struct Credentials(BTreeMap<String, String>);

/// Credentials as sent, before their rule: names and string values.
struct RawCredentials(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for RawCredentials {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        serde_json::from_value(value)
            .map(RawCredentials)
            .map_err(|_| serde::de::Error::custom("must be an object whose values are strings"))
    }
}

impl Field for Credentials {
    type Raw = RawCredentials;

    fn parse(RawCredentials(credentials): RawCredentials) -> Result<Self, String> {
        check_credentials(&credentials).map(|()| Credentials(credentials))
    }
}

impl PartialSchema for Credentials {
    fn schema() -> RefOr<Schema> {
        let value = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_CREDENTIAL_VALUE_CHARS));
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^[A-Za-z0-9_-]{{1,{MAX_CREDENTIAL_NAME_CHARS}}}$")));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Credential names and values, such as `{\"api_key\": \"…\"}`: 1 to 10 fields, each named by 1 to 50 \
                 letters, digits, `_` or `-`, with a value of 1 to 4096 characters.",
            ))
            .min_properties(Some(1))
            .max_properties(Some(MAX_CREDENTIAL_FIELDS))
            .property_names(Some(name))
            .additional_properties(Some(value))
            .into()
    }
}

impl ToSchema for Credentials {}

/// What is stored for one connected store.
#[derive(Debug, serde::Serialize, Deserialize)]
struct StoredStore {
    id: String,
    platform: String,
    store_url: String,
    credential_fields: Vec<String>,
    credentials: Sealed,
    connected_at: chrono::DateTime<Utc>,
    /// The platform's own id of the account, when it was checked on connecting (a
    /// shop's `myshopify.com` domain, a Gumroad seller's `user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
}

/// A connected store as a client sees it: everything but the sealed credentials.
#[derive(Debug, Serialize, ToSchema)]
struct StoreView {
    /// Its id (a UUID).
    id: String,
    /// The platform it is on.
    platform: String,
    /// Its address.
    store_url: String,
    /// Always `stored`: credentials never leave the server.
    #[schema(example = "stored")]
    credentials: String,
    /// The names of the credential fields stored.
    credential_fields: Vec<String>,
    /// When it was connected.
    connected_at: DateTime<Utc>,
    /// The platform's id of the account (a shop's domain, a Gumroad seller's id), when
    /// it was checked on connecting.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// Gumroad only, and only in the answer to connecting: where Gumroad should ping
    /// (Settings → Advanced → Ping), this server's public address followed by this path.
    /// Only its hash is kept, so it is shown this once; connecting again issues another.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/webhooks/gumroad/3q2-7wVu…")]
    ping_path: Option<String>,
}

impl StoredStore {
    /// What a client sees: everything but the sealed credentials.
    fn view(&self) -> StoreView {
        StoreView {
            id: self.id.clone(),
            platform: self.platform.clone(),
            store_url: self.store_url.clone(),
            credentials: "stored".to_owned(),
            credential_fields: self.credential_fields.clone(),
            connected_at: self.connected_at,
            account: self.account.clone(),
            ping_path: None,
        }
    }
}

/// The associated data a store's credentials are sealed under.
fn seal_context(tenant: TenantId, store_id: &str) -> String {
    format!("tenant:{}/store:{store_id}", tenant.0)
}

/// Connects an external store; its credentials are sealed and never returned.
#[utoipa::path(
    post,
    path = "/api/stores/connect",
    tag = "stores",
    request_body = ConnectStore,
    responses(
        (status = 201, description = "The connected store.", body = StoreView),
        (status = 402, description = "`tier_limit`: the tier's stores per business are reached."),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 409, description = "`account_taken`: the shop or account is connected to another business."),
        (status = 422, description = "`validation`: a field is wrong; for a Shopify shop, a Gumroad account \
            (whose `store_url` is the API's origin, `https://api.gumroad.com`) or an X account (`store_url` \
            `https://api.x.com`, credentials `client_id`, `client_secret` and the owner's `refresh_token`) also \
            credentials the platform refuses (on `credentials`) or an address that does not answer (on \
            `store_url`). X rotates the refresh token when it is checked: the new one is kept, and a refused \
            connection's owner grants access again. A Reddit account (`store_url` `https://oauth.reddit.com`) \
            needs `client_id`, `client_secret` and `refresh_token`, and takes an optional `user_agent`; a \
            LinkedIn author (`store_url` `https://api.linkedin.com`) needs `client_id`, `client_secret`, \
            `refresh_token` and `author` (`urn:li:person:…` or `urn:li:organization:…`). A Google Ads account \
            (`store_url` `https://googleads.googleapis.com`) needs `client_id`, `client_secret`, `refresh_token`, \
            `developer_token` and `customer_id`, and takes an optional `login_customer_id`. A Meta ad account \
            (`store_url` `https://graph.facebook.com`) needs `access_token`, `app_secret`, `ad_account_id` and \
            `page_id` (the Page its ads speak as), and takes optional `countries` and `currency_minor_digits`. \
            A TikTok account (`store_url` `https://open.tiktokapis.com`) needs `client_key`, `client_secret` \
            and `refresh_token` (TikTok rotates it when it is checked, like X), and takes an optional \
            `privacy_level` among those TikTok offers the account. A YouTube channel (`store_url` \
            `https://www.googleapis.com`) needs `client_id`, `client_secret` and `refresh_token`, and takes an \
            optional `privacy` (`public`, `unlisted` or `private`). Reddit takes an optional `subreddit` to \
            post in (the account's own profile otherwise)."),
    )
)]
async fn connect(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<ConnectStore>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let platform = request.platform.as_str().to_owned();
    let mut problems = Fields::new();
    let store_url = request.store_url.check(&mut problems, "store_url");
    let credentials = request.credentials.check(&mut problems, "credentials");
    let (Some(StoreUrl(store_url)), Some(mut credentials)) = (store_url, credentials) else {
        return Err(ApiError::Validation(problems));
    };
    // A shop or a Gumroad account is checked before it is kept: its token must open it,
    // and an account is one business's only (its deliveries find their ledger by it).
    let account = match request.platform {
        StorePlatform::Shopify => Some(check_shopify(&store_url, &credentials.0).await?),
        StorePlatform::Gumroad => Some(check_gumroad(&store_url, &credentials.0).await?),
        StorePlatform::X => Some(check_x(&store_url, &mut credentials.0).await?),
        StorePlatform::Reddit => Some(check_reddit(&store_url, &credentials.0).await?),
        StorePlatform::Linkedin => Some(check_linkedin(&store_url, &credentials.0).await?),
        StorePlatform::GoogleAds => Some(check_google_ads(&store_url, &credentials.0).await?),
        StorePlatform::MetaAds => Some(check_meta_ads(&store_url, &credentials.0).await?),
        StorePlatform::Tiktok => Some(check_tiktok(&store_url, &mut credentials.0).await?),
        StorePlatform::Youtube => Some(check_youtube(&store_url, &credentials.0).await?),
        _ => None,
    };
    if let Some(account) = &account {
        let holder = state.app.store.platform_account_tenant(request.platform.as_str(), account).await?;
        if holder.is_some_and(|holder| holder != tenant.id) {
            return Err(account_taken(request.platform));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let plaintext = serde_json::to_vec(&credentials.0).map_err(anyhow::Error::new)?;
    let sealed =
        CredentialSealer::from_settings(&state.app.settings).seal(&plaintext, &seal_context(tenant.id, &id))?;
    let stored = StoredStore {
        id: id.clone(),
        platform,
        store_url,
        credential_fields: credentials.0.keys().cloned().collect(),
        credentials: sealed,
        connected_at: Utc::now(),
        account: account.clone(),
    };
    let content = serde_json::to_value(&stored).map_err(anyhow::Error::new)?;
    let tier = caller.user.tier;
    state
        .app
        .store
        .add_agent_memory_within_limit(
            tenant.id,
            STORES,
            &format!("{STORE_KEY_PREFIX}{id}"),
            content,
            STORE_KEY_PREFIX,
            tiers::count_limit(tier, Counted::Stores),
        )
        .await
        .map_err(tiers::count_error(tier, Counted::Stores))?;
    let taken = |error| match error {
        boardroom_memory::MemoryError::Conflict(_) => account_taken(request.platform),
        other => other.into(),
    };
    if let Some(account) = &account {
        let platform = request.platform.as_str();
        let linked = state.app.store.link_platform_account(platform, account, tenant.id, &id, Utc::now()).await;
        if let Err(error) = linked {
            // Another business linked the account between our check and now: the store
            // just kept is not this business's after all.
            state.app.store.forget_agent_memory(tenant.id, STORES, &format!("{STORE_KEY_PREFIX}{id}")).await?;
            return Err(taken(error));
        }
    }
    let mut view = stored.view();
    if request.platform == StorePlatform::Gumroad {
        let secret = random_urlsafe(32);
        state
            .app
            .store
            .link_platform_account(GUMROAD_PING, &hash_secret(&secret), tenant.id, &id, Utc::now())
            .await
            .map_err(taken)?;
        view.ping_path = Some(gumroad_ping_path(&secret));
    }
    tracing::info!(tenant = %tenant.id, store = %id, platform = %stored.platform, "store connected");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Opens the shop at `store_url` with the `access_token` among `credentials` and
/// returns its `myshopify.com` domain. One quick attempt: a wrong token is 422 on
/// `credentials` with Shopify's refusal, a shop that does not answer 422 on `store_url`.
async fn check_shopify(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let Some(token) = credentials.get("access_token") else {
        return Err(ApiError::invalid("credentials", "a Shopify shop needs an access_token (its Admin API token)"));
    };
    let connection = ShopifyConnection::new(store_url.trim_end_matches('/'), token.as_str());
    let client = ShopifyClient::with_settings(connection, check_settings())
        .map_err(|error| ApiError::invalid("store_url", error.to_string()))?;
    let shop = checked(client.shop().await, "the shop")?;
    Ok(shop.myshopify_domain)
}

/// Reads the seller of the Gumroad API at `store_url` (its origin) with the
/// `access_token` among `credentials` and returns the seller's `user_id`. One quick
/// attempt, as for a shop: a refused token is 422 on `credentials` with Gumroad's
/// refusal, an address that does not answer 422 on `store_url`.
async fn check_gumroad(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let Some(token) = credentials.get("access_token") else {
        return Err(ApiError::invalid(
            "credentials",
            "a Gumroad account needs an access_token (Settings → Advanced → Applications → Generate access token)",
        ));
    };
    let connection = GumroadConnection::new(store_url.trim_end_matches('/'), token.as_str());
    let client = GumroadClient::with_settings(connection, check_settings()).map_err(|error| match error {
        // The connection refuses a malformed token before any request.
        AdapterError::Rejected { message, .. } if message.contains("token") => {
            ApiError::invalid("credentials", message)
        }
        other => ApiError::invalid("store_url", other.to_string()),
    })?;
    let seller = checked(client.user().await, "the Gumroad API")?;
    Ok(seller.user_id)
}

/// Signs in to the X API at `store_url` (its origin, `https://api.x.com`) as the
/// platform's X application (`client_id`, `client_secret`) with the account owner's
/// `refresh_token`, all among `credentials`, and returns the account's user id. X hands
/// a new refresh token with every refresh and the old one stops working, so the one
/// left in `credentials` (and sealed) is the one X returned. One quick attempt, as for
/// a shop: credentials X refuses are 422 on `credentials` with X's words, an address
/// that does not answer 422 on `store_url`.
async fn check_x(store_url: &str, credentials: &mut BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        x_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = XClient::with_settings(connection, check_settings()).map_err(|error| match error {
        // The connection refuses malformed credentials before any request.
        AdapterError::Rejected { message, .. } if message.contains("X API address") => {
            ApiError::invalid("store_url", message)
        }
        other => ApiError::invalid("credentials", other.to_string()),
    })?;
    let user = checked(client.me().await, "the X API")?;
    credentials.insert("refresh_token".to_owned(), client.oauth().refresh_token().await.expose().to_owned());
    Ok(user.id)
}

/// An X account's connection from its stored fields, or which one is missing.
fn x_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<XConnection, String> {
    let thing = "n X account";
    Ok(XConnection::new(
        store_url.trim_end_matches('/'),
        needed(credentials, thing, "client_id", "the platform's X application's OAuth 2.0 client id")?,
        needed(credentials, thing, "client_secret", "that application's client secret")?,
        needed(credentials, thing, "refresh_token", "the token the account's owner granted with offline.access")?,
    ))
}

/// A credential a channel needs, or what to say about its absence ("a{thing} needs …":
/// `thing` starts with its article's ending, " Reddit account" or "n X account").
fn needed(credentials: &BTreeMap<String, String>, thing: &str, name: &str, what: &str) -> Result<String, String> {
    credentials.get(name).cloned().ok_or_else(|| format!("a{thing} needs {name} ({what})"))
}

/// The token host that goes with a channel's API origin: the platform's own beside its
/// production API, and the same origin for any other server (a test server or a proxy
/// that serves both).
fn token_origin(api_origin: &str, production_api: &str, production_auth: &str) -> String {
    if api_origin == production_api { production_auth.to_owned() } else { api_origin.to_owned() }
}

/// Google's token endpoint beside one of its production APIs, and `{origin}/token` on
/// any other server (a test server or a proxy that serves both).
fn google_token_url(api_origin: &str, production_api: &str) -> String {
    if api_origin == production_api { GOOGLE_TOKEN_URL.to_owned() } else { format!("{api_origin}/token") }
}

/// How a channel's client refusal becomes a 422: an address problem on `store_url`,
/// anything else on `credentials`.
fn refused_connection(error: AdapterError) -> ApiError {
    match error {
        AdapterError::Rejected { message, .. } if message.contains("address") => {
            ApiError::invalid("store_url", message)
        }
        other => ApiError::invalid("credentials", other.to_string()),
    }
}

/// Signs in to the Reddit API at `store_url` (`https://oauth.reddit.com`, its tokens
/// from `https://www.reddit.com`) with the application's `client_id` and
/// `client_secret` and the owner's `refresh_token`, and returns the account's name.
async fn check_reddit(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        reddit_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = RedditClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    checked(client.username().await, "the Reddit API")
}

/// A Reddit account's connection from its stored fields, or which one is missing.
fn reddit_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<RedditConnection, String> {
    let thing = " Reddit account";
    let api = store_url.trim_end_matches('/').to_owned();
    Ok(RedditConnection {
        auth_base_url: token_origin(&api, REDDIT_API_BASE, REDDIT_AUTH_BASE),
        api_base_url: api,
        client_id: needed(credentials, thing, "client_id", "the platform's Reddit application's id")?,
        client_secret: OAuthSecret::new(needed(credentials, thing, "client_secret", "that application's secret")?),
        refresh_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "refresh_token",
            "the token the account's owner granted with duration=permanent",
        )?),
        user_agent: credentials
            .get("user_agent")
            .cloned()
            .unwrap_or_else(|| format!("web:boardroom:{} (by the business's owner)", env!("CARGO_PKG_VERSION"))),
    })
}

/// Gets a LinkedIn access token for the `author` among `credentials` (LinkedIn's API
/// at `store_url`, `https://api.linkedin.com`, its tokens from
/// `https://www.linkedin.com`) and returns the author's URN, which links the author to
/// one business.
async fn check_linkedin(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        linkedin_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let author = connection.author.clone();
    let client = LinkedInClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    let deadline = tokio::time::Instant::now() + SHOP_CHECK_TIMEOUT;
    checked(client.oauth().access_token(deadline).await, "LinkedIn")?;
    Ok(author)
}

/// A LinkedIn author's connection from its stored fields, or which one is missing.
fn linkedin_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<LinkedInConnection, String> {
    let thing = " LinkedIn author";
    let api = store_url.trim_end_matches('/').to_owned();
    Ok(LinkedInConnection {
        auth_base_url: token_origin(&api, LINKEDIN_API_BASE, LINKEDIN_AUTH_BASE),
        api_base_url: api,
        client_id: needed(credentials, thing, "client_id", "the platform's LinkedIn application's id")?,
        client_secret: OAuthSecret::new(needed(credentials, thing, "client_secret", "that application's secret")?),
        refresh_token: OAuthSecret::new(needed(credentials, thing, "refresh_token", "the token the author granted")?),
        author: needed(credentials, thing, "author", "urn:li:person:… or urn:li:organization:…")?,
    })
}

/// Reads a day of the Google Ads account among `credentials` (its `customer_id`, the
/// platform's `developer_token`, the application's `client_id` and `client_secret`, the
/// owner's `refresh_token`, and a manager's `login_customer_id` when the account is
/// reached through one) through the API at `store_url` (`https://googleads.googleapis.com`,
/// its tokens from Google's token endpoint) and returns the ten-digit customer id, which
/// links the account to one business.
async fn check_google_ads(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        google_ads_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = GoogleAdsClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    let today = Utc::now().date_naive();
    checked(client.campaign_metrics(today, today).await, "the Google Ads API")?;
    Ok(client.customer_id().to_owned())
}

/// A Google Ads account's connection from its stored fields, or which one is missing.
fn google_ads_connection(
    store_url: &str,
    credentials: &BTreeMap<String, String>,
) -> Result<GoogleAdsConnection, String> {
    let thing = " Google Ads account";
    let api = store_url.trim_end_matches('/').to_owned();
    let token_url = google_token_url(&api, GOOGLE_ADS_API_BASE);
    Ok(GoogleAdsConnection {
        api_base_url: api,
        token_url,
        client_id: needed(credentials, thing, "client_id", "the platform's Google OAuth client id")?,
        client_secret: OAuthSecret::new(needed(credentials, thing, "client_secret", "that client's secret")?),
        refresh_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "refresh_token",
            "the token the account's owner granted with the adwords scope",
        )?),
        developer_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "developer_token",
            "the platform's Google Ads API developer token",
        )?),
        customer_id: needed(credentials, thing, "customer_id", "the account's ten-digit id, 123-456-7890")?,
        login_customer_id: credentials.get("login_customer_id").cloned(),
    })
}

/// Reads a day of the Meta ad account among `credentials` (its `ad_account_id`, a
/// long-lived `access_token` with `ads_management`, and the `app_secret` of the Meta app
/// it was issued to) through the Graph API at `store_url` (`https://graph.facebook.com`)
/// and returns the account's id, which links it to one business. Its `page_id` is the
/// Page its ads speak as. Optional:
/// `countries` (comma-separated ISO codes, `US` when absent) and `currency_minor_digits`
/// (2 when absent).
async fn check_meta_ads(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        meta_ads_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = MetaAdsClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    let today = Utc::now().date_naive();
    checked(client.campaign_insights(today, today).await, "the Graph API")?;
    Ok(client.ad_account_id().to_owned())
}

/// A Meta ad account's connection from its stored fields, or which one is missing.
fn meta_ads_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<MetaAdsConnection, String> {
    let thing = " Meta ad account";
    let currency_minor_digits = match credentials.get("currency_minor_digits") {
        None => 2,
        Some(digits) => digits
            .parse::<u32>()
            .ok()
            .filter(|digits| *digits <= 4)
            .ok_or_else(|| format!("currency_minor_digits is 0 to 4, not {digits:?}"))?,
    };
    let countries = credentials.get("countries").map_or_else(
        || vec!["US".to_owned()],
        |listed| listed.split(',').map(|code| code.trim().to_ascii_uppercase()).collect(),
    );
    Ok(MetaAdsConnection {
        api_base_url: store_url.trim_end_matches('/').to_owned(),
        access_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "access_token",
            "a long-lived system-user token with ads_management",
        )?),
        app_secret: OAuthSecret::new(needed(credentials, thing, "app_secret", "the Meta app's secret")?),
        ad_account_id: needed(credentials, thing, "ad_account_id", "act_<digits>")?,
        page_id: Some(needed(credentials, thing, "page_id", "the Facebook Page the ads speak as")?),
        currency_minor_digits,
        countries,
    })
}

/// Reads what the TikTok account among `credentials` may post (the platform's TikTok
/// application's `client_key` and `client_secret`, the owner's `refresh_token` granted
/// with `video.publish` and `video.list`) through the API at `store_url`
/// (`https://open.tiktokapis.com`, which also issues its tokens) and returns the
/// account's name, which links it to one business. TikTok rotates refresh tokens, so the
/// one left in `credentials` is the one TikTok returned. Optional: `privacy_level`, one
/// of the levels TikTok offers the account (public where allowed when absent).
async fn check_tiktok(store_url: &str, credentials: &mut BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        tiktok_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = TikTokClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    let creator = checked(client.creator_info().await, "the TikTok API")?;
    if let Some(level) = credentials.get("privacy_level")
        && !creator.privacy_level_options.contains(level)
    {
        return Err(ApiError::invalid(
            "credentials",
            format!(
                "@{} may not post with privacy_level {level:?}; TikTok offers it {}",
                creator.creator_username,
                creator.privacy_level_options.join(", ")
            ),
        ));
    }
    credentials.insert("refresh_token".to_owned(), client.oauth().refresh_token().await.expose().to_owned());
    Ok(creator.creator_username)
}

/// A TikTok account's connection from its stored fields, or which one is missing.
fn tiktok_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<TikTokConnection, String> {
    let thing = " TikTok account";
    Ok(TikTokConnection {
        api_base_url: store_url.trim_end_matches('/').to_owned(),
        client_key: needed(credentials, thing, "client_key", "the platform's TikTok application's client key")?,
        client_secret: OAuthSecret::new(needed(credentials, thing, "client_secret", "that application's secret")?),
        refresh_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "refresh_token",
            "the token the account's owner granted with video.publish and video.list",
        )?),
    })
}

/// Reads the channel of the YouTube account among `credentials` (the platform's Google
/// OAuth `client_id` and `client_secret`, the owner's `refresh_token` granted with
/// `youtube.upload` and `youtube.readonly`) through the Data API at `store_url`
/// (`https://www.googleapis.com`, its tokens from Google's token endpoint) and returns
/// the channel's id, which links it to one business. Optional: `privacy` (`public`,
/// `unlisted` or `private`; `public` when absent).
async fn check_youtube(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let connection =
        youtube_connection(store_url, credentials).map_err(|message| ApiError::invalid("credentials", message))?;
    let client = YouTubeClient::with_settings(connection, check_settings()).map_err(refused_connection)?;
    YouTubeChannel::new(client.clone(), credentials.get("privacy").cloned())
        .map_err(|error| ApiError::invalid("credentials", error.to_string()))?;
    checked(client.my_channel().await, "the YouTube API")
}

/// A YouTube channel's connection from its stored fields, or which one is missing.
fn youtube_connection(store_url: &str, credentials: &BTreeMap<String, String>) -> Result<YouTubeConnection, String> {
    let thing = " YouTube channel";
    let api = store_url.trim_end_matches('/').to_owned();
    let token_url = google_token_url(&api, YOUTUBE_API_BASE);
    Ok(YouTubeConnection {
        api_base_url: api,
        token_url,
        client_id: needed(credentials, thing, "client_id", "the platform's Google OAuth client id")?,
        client_secret: OAuthSecret::new(needed(credentials, thing, "client_secret", "that client's secret")?),
        refresh_token: OAuthSecret::new(needed(
            credentials,
            thing,
            "refresh_token",
            "the token the channel's owner granted with youtube.upload and youtube.readonly",
        )?),
    })
}

/// A connection check's answer as the connect route gives it: a refusal is a 422 on
/// `credentials` in the platform's words; anything else (no answer, an outage) a 422 on
/// `store_url` saying `who` did not answer.
fn checked<T>(answer: Result<T, AdapterError>, who: &str) -> Result<T, ApiError> {
    answer.map_err(|error| match error {
        AdapterError::Rejected { message, .. } => ApiError::invalid("credentials", message),
        other => ApiError::invalid("store_url", format!("{who} did not answer: {other}")),
    })
}

/// One attempt, within [`SHOP_CHECK_TIMEOUT`]: connecting is a person waiting.
fn check_settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        budget: CallBudget { per_request_timeout: SHOP_CHECK_TIMEOUT, default_deadline: SHOP_CHECK_TIMEOUT },
        ..ResilienceSettings::default()
    }
}

/// How long connecting waits for a shop or the Gumroad API to answer.
const SHOP_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

fn account_taken(platform: StorePlatform) -> ApiError {
    ApiError::StateConflict {
        code: "account_taken",
        message: format!(
            "this {} is connected to another business; disconnect it there first",
            platform.connected_thing()
        ),
    }
}

/// A business's connected stores.
#[utoipa::path(
    get,
    path = "/api/stores/list",
    tag = "stores",
    params(BusinessQuery),
    responses(
        (status = 200, description = "Every store of the business.", body = Items<StoreView>),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<Items<StoreView>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let stores = stored_stores(&state, tenant.id).await?;
    Ok(Json(Items { items: stores.iter().map(StoredStore::view).collect() }))
}

/// Checks the stores' credentials and fetches the market as it is now.
///
/// Each store's credentials are checked to still open under the server's key (or, during
/// a rotation, the previous one); a connected Shopify shop is read as it is now (`shop`:
/// its products and the last 30 days' orders and revenue, `figures: "live"`, or the
/// `problem` that kept it from being read, also shown on the store as `credentials:
/// "refused: …"`); a connected Gumroad account likewise (`gumroad`: its products, how
/// many are published, and the last 30 days' sales, revenue and refunds). The market is
/// the business's (`market_mode`). The answer has `platform`, `simulated`, `figures`
/// (`simulated` or `live`), `stores` (`id`, `platform`, `credentials`), `shop`,
/// `gumroad`, the market's `snapshot` and `synced_at`.
#[utoipa::path(
    post,
    path = "/api/stores/sync",
    tag = "stores",
    request_body = BusinessBody,
    responses(
        (status = 200, description = "The stores' state and the market snapshot.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the store platform asked us to slow down.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: the store platform does not answer."),
    )
)]
async fn sync(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<BusinessBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let sealer = CredentialSealer::from_settings(&state.app.settings);
    let mut stores: Vec<Value> = stored_stores(&state, tenant.id)
        .await?
        .iter()
        .map(|store| {
            let readable = sealer.open(&store.credentials, &seal_context(tenant.id, &store.id)).is_some();
            json!({ "id": store.id, "platform": store.platform, "credentials": if readable { "ok" } else { "unreadable" } })
        })
        .collect();
    // The connected shop, read as it is now: its products and the last 30 days' orders.
    let shop = match shopify_connection(&state.app.store, &sealer, tenant.id).await {
        Ok(Some(connection)) => Some(read_shop(connection).await),
        Ok(None) => None,
        Err(why) => Some(json!({ "figures": "live", "problem": why })),
    };
    // The connected Gumroad account, likewise: its products and the last 30 days' sales.
    let gumroad = match selling_account(&state.app.store, &sealer, tenant.id, &[StorePlatform::Gumroad]).await {
        Ok(Some(SellingAccount::Gumroad { connection, .. })) => Some(read_gumroad(connection).await),
        Ok(_) => None,
        Err(why) => Some(json!({ "figures": "live", "problem": why })),
    };
    for (platform, read) in [("shopify", &shop), ("gumroad", &gumroad)] {
        if let Some(problem) = read.as_ref().and_then(|read| read["problem"].as_str()) {
            for store in stores.iter_mut().filter(|store| store["platform"] == platform) {
                store["credentials"] = json!(format!("refused: {problem}"));
            }
        }
    }
    let market = activate_owned(&state, &tenant).await?.market_for_api();
    let snapshot = market.market_snapshot(tenant.id).await.map_err(adapter_error)?;
    Ok(Json(json!({
        "platform": market.platform(),
        "simulated": market.is_simulated(),
        "figures": figures(market.is_simulated()),
        "stores": stores,
        "shop": shop,
        "gumroad": gumroad,
        "snapshot": snapshot,
        "synced_at": Utc::now(),
    })))
}

/// How figures are labelled: `simulated` (the sandbox, or a dry run) or `live`.
fn figures(simulated: bool) -> &'static str {
    if simulated { "simulated" } else { "live" }
}

/// The shop's products and its last 30 days' orders, or the problem that kept them
/// from being read (a refused token, a shop that does not answer) in words.
async fn read_shop(connection: ShopifyConnection) -> Value {
    let client = match ShopifyClient::with_settings(connection, sync_settings()) {
        Ok(client) => client,
        Err(error) => return json!({ "figures": "live", "problem": error.to_string() }),
    };
    let since = Utc::now() - chrono::Duration::days(i64::from(ANALYTICS_DAYS));
    let (products, orders) = tokio::join!(client.products(None), client.all_orders(since));
    match (products, orders) {
        (Ok(products), Ok(orders)) => json!({
            "figures": "live",
            "products": products.items.len(),
            "more_products": products.next_cursor.is_some(),
            "orders": orders.len(),
            "revenue": orders.iter().map(|order| order.total).sum::<rust_decimal::Decimal>(),
            "refunded": orders.iter().map(|order| order.refunded).sum::<rust_decimal::Decimal>(),
            "days": ANALYTICS_DAYS,
        }),
        (Err(error), _) | (_, Err(error)) => json!({ "figures": "live", "problem": error.to_string() }),
    }
}

/// The Gumroad account's products and its last 30 days' sales (what was paid, and what
/// of it went back: sales refunded in full or charged back), or the problem that kept
/// them from being read.
async fn read_gumroad(connection: GumroadConnection) -> Value {
    let client = match GumroadClient::with_settings(connection, sync_settings()) {
        Ok(client) => client,
        Err(error) => return json!({ "figures": "live", "problem": error.to_string() }),
    };
    let since = (Utc::now() - chrono::Duration::days(i64::from(ANALYTICS_DAYS))).date_naive();
    let (products, sales) = tokio::join!(client.products(), client.all_sales(since));
    match (products, sales) {
        (Ok(products), Ok(sales)) => json!({
            "figures": "live",
            "products": products.len(),
            "published": products.iter().filter(|product| product.published).count(),
            "sales": sales.len(),
            "revenue": dollars(sales.iter().map(|sale| sale.price_cents)),
            "refunded": dollars(sales.iter().filter(|sale| sale.refunded || sale.chargedback).map(|sale| sale.price_cents)),
            "days": ANALYTICS_DAYS,
        }),
        (Err(error), _) | (_, Err(error)) => json!({ "figures": "live", "problem": error.to_string() }),
    }
}

/// A sum of cents, in dollars.
fn dollars(cents: impl Iterator<Item = u64>) -> rust_decimal::Decimal {
    let cents = cents.fold(0_i64, |sum, cents| sum.saturating_add(i64::try_from(cents).unwrap_or(i64::MAX)));
    rust_decimal::Decimal::new(cents, 2)
}

/// A request may wait 10 s for the shop, the sync 20 s in all.
fn sync_settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy { max_attempts: 2, ..RetryPolicy::default() },
        budget: CallBudget {
            per_request_timeout: std::time::Duration::from_secs(10),
            default_deadline: std::time::Duration::from_secs(20),
        },
        ..ResilienceSettings::default()
    }
}

/// The market's report on the last 30 days, with the business's stores.
///
/// The answer has `simulated`, `figures` (`simulated` for the sandbox and a dry run,
/// `live` for a connected shop, whose report is its orders), `stores` (as listed) and
/// the market's `report`.
#[utoipa::path(
    get,
    path = "/api/stores/analytics",
    tag = "stores",
    params(BusinessQuery),
    responses(
        (status = 200, description = "The report.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the store platform asked us to slow down.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: the store platform does not answer."),
    )
)]
async fn analytics(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let market = activate_owned(&state, &tenant).await?.market_for_api();
    let today = market.market_snapshot(tenant.id).await.map_err(adapter_error)?.today;
    let report = market.report(tenant.id, today.saturating_sub(ANALYTICS_DAYS), today).await.map_err(adapter_error)?;
    let stores = stored_stores(&state, tenant.id).await?;
    Ok(Json(json!({
        "simulated": market.is_simulated(),
        "figures": figures(market.is_simulated()),
        "stores": stores.iter().map(StoredStore::view).collect::<Vec<_>>(),
        "report": report,
    })))
}

/// What re-sealing one connected store's stored record came to.
pub(crate) enum Reseal {
    /// Its credentials were readable under the previous secret or the legacy scheme:
    /// the record to store instead, sealed under the current secret.
    Resealed(Value),
    /// Already sealed under the current secret: nothing to do.
    Current,
    /// Neither secret opens its credentials: left as it is.
    Unreadable,
}

/// Re-seals a connected store's credentials (its agent-memory `content`) under the
/// sealer's current secret when they are sealed under anything else.
pub(crate) fn reseal(tenant: TenantId, content: Value, sealer: &CredentialSealer) -> anyhow::Result<Reseal> {
    let mut stored: StoredStore = serde_json::from_value(content)?;
    let context = seal_context(tenant, &stored.id);
    Ok(match sealer.open_for_rotation(&stored.credentials, &context) {
        Opened::Current(_) => Reseal::Current,
        Opened::Unreadable => Reseal::Unreadable,
        Opened::Stale(plaintext) => {
            stored.credentials = sealer.seal(&plaintext, &context)?;
            Reseal::Resealed(serde_json::to_value(&stored)?)
        }
    })
}

/// A connected account the swarm can sell on, its access token opened.
pub(crate) enum SellingAccount {
    /// A Shopify shop.
    Shopify(ShopifyConnection),
    /// A Gumroad seller, with the `user_id` checked on connecting (`None` for an
    /// account connected before it was recorded).
    Gumroad { connection: GumroadConnection, seller_id: Option<String> },
}

/// The platform of the business's newest connected store on one of `platforms`, read
/// without opening its credentials (which its adapter does, with [`selling_account`]):
/// `Ok(None)` when it has none.
pub(crate) async fn newest_selling_platform(
    store: &boardroom_memory::SharedStore,
    tenant: TenantId,
    platforms: &[StorePlatform],
) -> Result<Option<StorePlatform>, String> {
    Ok(newest_store(store, tenant, platforms).await?.map(|(platform, _)| platform))
}

async fn newest_store(
    store: &boardroom_memory::SharedStore,
    tenant: TenantId,
    platforms: &[StorePlatform],
) -> Result<Option<(StorePlatform, StoredStore)>, String> {
    let rows = store.agent_memories(tenant, STORES).await.map_err(|error| error.to_string())?;
    Ok(rows
        .into_iter()
        .filter(|row| row.key.starts_with(STORE_KEY_PREFIX))
        .filter_map(|row| serde_json::from_value::<StoredStore>(row.content).ok())
        .filter_map(|stored| {
            let platform = platforms.iter().copied().find(|platform| platform.as_str() == stored.platform)?;
            Some((platform, stored))
        })
        .max_by_key(|(_, stored)| stored.connected_at))
}

/// The business's newest connected store on one of `platforms`, with its credentials
/// opened: `Ok(None)` when it has none, `Err` saying why the newest cannot be used (its
/// credentials no longer open under the server's key, or hold no `access_token`). The
/// newest wins, so connecting a store is also choosing it.
pub(crate) async fn selling_account(
    store: &boardroom_memory::SharedStore,
    sealer: &CredentialSealer,
    tenant: TenantId,
    platforms: &[StorePlatform],
) -> Result<Option<SellingAccount>, String> {
    let Some((platform, stored)) = newest_store(store, tenant, platforms).await? else { return Ok(None) };
    let thing = platform.connected_thing();
    let credentials = open_credentials(sealer, tenant, &stored, thing)?;
    let token = credentials
        .get("access_token")
        .ok_or_else(|| format!("the connected {thing} has no access_token among its credentials: connect it again"))?;
    let base_url = stored.store_url.trim_end_matches('/');
    Ok(Some(match platform {
        StorePlatform::Gumroad => SellingAccount::Gumroad {
            connection: GumroadConnection::new(base_url, token.as_str()),
            seller_id: stored.account,
        },
        _ => SellingAccount::Shopify(ShopifyConnection::new(base_url, token.as_str())),
    }))
}

/// The platforms a business's posts and ad flights go to once it is live, each its
/// newest connected account there.
pub(crate) const CHANNEL_PLATFORMS: [StorePlatform; 7] = [
    StorePlatform::X,
    StorePlatform::Reddit,
    StorePlatform::Linkedin,
    StorePlatform::Tiktok,
    StorePlatform::Youtube,
    StorePlatform::GoogleAds,
    StorePlatform::MetaAds,
];

/// A connected social or ad account's client.
pub(crate) enum ChannelClient {
    Social(Arc<dyn SocialChannel>),
    Ads(Arc<dyn AdAccount>),
}

/// A connected marketing account, ready to use: the store it is kept as, and its
/// client.
pub(crate) struct OpenedChannel {
    pub(crate) store_id: String,
    pub(crate) client: ChannelClient,
}

/// The marketing platforms the business has an account connected on, in the order of
/// [`CHANNEL_PLATFORMS`], read without opening any credentials.
pub(crate) async fn connected_channels(
    store: &boardroom_memory::SharedStore,
    tenant: TenantId,
) -> Result<Vec<StorePlatform>, String> {
    let rows = store.agent_memories(tenant, STORES).await.map_err(|error| error.to_string())?;
    let connected: Vec<String> = rows
        .into_iter()
        .filter(|row| row.key.starts_with(STORE_KEY_PREFIX))
        .filter_map(|row| serde_json::from_value::<StoredStore>(row.content).ok())
        .map(|stored| stored.platform)
        .collect();
    Ok(CHANNEL_PLATFORMS.into_iter().filter(|platform| connected.iter().any(|p| p == platform.as_str())).collect())
}

/// The business's newest connected account on `platform`, its credentials opened into a
/// client with `settings`: `Ok(None)` when none is connected (any more), `Err` saying
/// why the account cannot be used (credentials no longer opening under the server's
/// key, a field missing).
pub(crate) async fn open_channel_account(
    store: &boardroom_memory::SharedStore,
    sealer: &CredentialSealer,
    tenant: TenantId,
    platform: StorePlatform,
    settings: ResilienceSettings,
) -> Result<Option<OpenedChannel>, String> {
    let Some((_, stored)) = newest_store(store, tenant, &[platform]).await? else { return Ok(None) };
    let client = open_channel(sealer, tenant, platform, &stored, settings)?;
    Ok(Some(OpenedChannel { store_id: stored.id, client }))
}

fn open_channel(
    sealer: &CredentialSealer,
    tenant: TenantId,
    platform: StorePlatform,
    stored: &StoredStore,
    settings: ResilienceSettings,
) -> Result<ChannelClient, String> {
    let thing = platform.connected_thing();
    let credentials = open_credentials(sealer, tenant, stored, thing)?;
    let unusable = |error: AdapterError| format!("the connected {thing} cannot be used: {error}");
    Ok(match platform {
        StorePlatform::X => {
            let connection = x_connection(&stored.store_url, &credentials)?;
            let client = XClient::with_settings(connection, settings).map_err(unusable)?;
            ChannelClient::Social(Arc::new(client))
        }
        StorePlatform::Reddit => {
            let connection = reddit_connection(&stored.store_url, &credentials)?;
            let client = RedditClient::with_settings(connection, settings).map_err(unusable)?;
            let channel = RedditChannel::new(client, credentials.get("subreddit").cloned());
            ChannelClient::Social(Arc::new(channel))
        }
        StorePlatform::Linkedin => {
            let connection = linkedin_connection(&stored.store_url, &credentials)?;
            let client = LinkedInClient::with_settings(connection, settings).map_err(unusable)?;
            ChannelClient::Social(Arc::new(client))
        }
        StorePlatform::GoogleAds => {
            let connection = google_ads_connection(&stored.store_url, &credentials)?;
            let client = GoogleAdsClient::with_settings(connection, settings).map_err(unusable)?;
            ChannelClient::Ads(Arc::new(client))
        }
        StorePlatform::MetaAds => {
            let connection = meta_ads_connection(&stored.store_url, &credentials)?;
            let client = MetaAdsClient::with_settings(connection, settings).map_err(unusable)?;
            ChannelClient::Ads(Arc::new(client))
        }
        StorePlatform::Tiktok => {
            let connection = tiktok_connection(&stored.store_url, &credentials)?;
            let client = TikTokClient::with_settings(connection, settings).map_err(unusable)?;
            let channel = TikTokChannel::new(client, credentials.get("privacy_level").cloned());
            ChannelClient::Social(Arc::new(channel))
        }
        StorePlatform::Youtube => {
            let connection = youtube_connection(&stored.store_url, &credentials)?;
            let client = YouTubeClient::with_settings(connection, settings).map_err(unusable)?;
            let channel = YouTubeChannel::new(client, credentials.get("privacy").cloned()).map_err(unusable)?;
            ChannelClient::Social(Arc::new(channel))
        }
        other => return Err(format!("{} is not a marketing channel", other.as_str())),
    })
}

/// A stored account's credentials, opened.
fn open_credentials(
    sealer: &CredentialSealer,
    tenant: TenantId,
    stored: &StoredStore,
    thing: &str,
) -> Result<BTreeMap<String, String>, String> {
    let plaintext = sealer
        .open(&stored.credentials, &seal_context(tenant, &stored.id))
        .ok_or_else(|| format!("the connected {thing}'s credentials no longer open: connect it again"))?;
    serde_json::from_slice(&plaintext).map_err(|_| format!("the connected {thing}'s credentials are unreadable"))
}

/// Keeps `refresh_token` as the stored account `store_id`'s, sealed like the rest of its
/// credentials: a platform that rotates refresh tokens refuses the old one from now on.
pub(crate) async fn keep_refresh_token(
    store: &boardroom_memory::SharedStore,
    sealer: &CredentialSealer,
    tenant: TenantId,
    store_id: &str,
    refresh_token: &OAuthSecret,
) -> Result<(), String> {
    let key = format!("{STORE_KEY_PREFIX}{store_id}");
    let row = store
        .agent_memory(tenant, STORES, &key)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| "the account was disconnected".to_owned())?;
    let mut stored: StoredStore = serde_json::from_value(row.content).map_err(|error| error.to_string())?;
    let mut credentials = open_credentials(sealer, tenant, &stored, "account")?;
    credentials.insert("refresh_token".to_owned(), refresh_token.expose().to_owned());
    let plaintext = serde_json::to_vec(&credentials).map_err(|error| error.to_string())?;
    stored.credentials =
        sealer.seal(&plaintext, &seal_context(tenant, &stored.id)).map_err(|error| error.to_string())?;
    let content = serde_json::to_value(&stored).map_err(|error| error.to_string())?;
    store.put_agent_memory(tenant, STORES, &key, content, None).await.map_err(|error| error.to_string())?;
    Ok(())
}

/// The business's connected Shopify shop, with its credentials opened (the newest one
/// when it connected several); see [`selling_account`].
pub(crate) async fn shopify_connection(
    store: &boardroom_memory::SharedStore,
    sealer: &CredentialSealer,
    tenant: TenantId,
) -> Result<Option<ShopifyConnection>, String> {
    Ok(match selling_account(store, sealer, tenant, &[StorePlatform::Shopify]).await? {
        Some(SellingAccount::Shopify(connection)) => Some(connection),
        _ => None,
    })
}

/// How many stores the business has connected (what its tier counts).
pub(super) async fn count(state: &ApiState, tenant: TenantId) -> Result<usize, ApiError> {
    Ok(stored_stores(state, tenant).await?.len())
}

async fn stored_stores(state: &ApiState, tenant: TenantId) -> Result<Vec<StoredStore>, ApiError> {
    let rows: Vec<AgentMemory> = state.app.store.agent_memories(tenant, STORES).await?;
    rows.into_iter()
        .filter(|row| row.key.starts_with(STORE_KEY_PREFIX))
        .map(|row| {
            serde_json::from_value(row.content)
                .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("a stored store is unreadable")))
        })
        .collect()
}

/// The market's refusal: its rate limit is ours to pass on (429), anything else is a
/// temporary outage as far as the client can tell (503).
fn adapter_error(error: AdapterError) -> ApiError {
    match error {
        AdapterError::RateLimited { retry_after_secs, .. } => ApiError::TooManyRequests {
            message: "the store platform asked us to slow down".into(),
            retry_after: std::time::Duration::from_secs(retry_after_secs),
        },
        AdapterError::Throttled { reason, retry_after_secs, .. } => ApiError::TooManyRequests {
            message: format!("the business's platform calls are throttled: {reason}"),
            retry_after: std::time::Duration::try_from_secs_f64(retry_after_secs.max(0.0))
                .unwrap_or(std::time::Duration::from_secs(1)),
        },
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// An `https://` address with a host (plain `http://` only for `localhost` or
/// `127.0.0.1`), at most 500 characters, without white space or control characters.
fn check_url(url: &str) -> Result<(), String> {
    let problem = || format!("must be an https:// address of at most {MAX_URL_CHARS} characters, without spaces");
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem());
    }
    if let Some(rest) = url.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        return if host.is_empty() { Err(problem()) } else { Ok(()) };
    }
    let local = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split([':', '/', '?', '#']).next())
        .is_some_and(|host| host == "localhost" || host == "127.0.0.1");
    if local { Ok(()) } else { Err("must be an https:// address (http:// only for localhost)".into()) }
}

/// At least one and at most 10 named, non-empty values. The problem never quotes a value.
fn check_credentials(credentials: &BTreeMap<String, String>) -> Result<(), String> {
    if credentials.is_empty() {
        return Err("must hold at least one credential".into());
    }
    if credentials.len() > MAX_CREDENTIAL_FIELDS {
        return Err(format!("must hold at most {MAX_CREDENTIAL_FIELDS} fields"));
    }
    for (name, value) in credentials {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_CREDENTIAL_NAME_CHARS
            && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if !name_ok {
            return Err(format!("field names must be 1 to {MAX_CREDENTIAL_NAME_CHARS} letters, digits, '_' or '-'"));
        }
        if value.is_empty() || value.chars().count() > MAX_CREDENTIAL_VALUE_CHARS {
            return Err(format!("{name} must be 1 to {MAX_CREDENTIAL_VALUE_CHARS} characters"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_addresses_are_https() {
        assert!(check_url("https://shop.example.com").is_ok());
        assert!(check_url("http://localhost:8080/x").is_ok());
        assert!(check_url("http://127.0.0.1").is_ok());
        for bad in [
            "http://shop.example.com",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example/",
            "ftp://x",
            "https://",
            "https:///path",
            "https://a b.com",
            " https://shop.example.com",
            "shop.example.com",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credential_problems_never_quote_a_value() {
        let secret = "sk_live_topsecret";
        let too_long = BTreeMap::from([("api_key".to_owned(), secret.repeat(1000))]);
        let problem = check_credentials(&too_long).expect_err("too long");
        assert!(!problem.contains(secret), "{problem}");
        assert!(check_credentials(&BTreeMap::new()).is_err());
        assert!(check_credentials(&BTreeMap::from([("api key".to_owned(), "x".to_owned())])).is_err());
    }
}
