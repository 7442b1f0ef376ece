//! [`MetaAdsClient`]: a Meta (Facebook and Instagram) ad account's campaigns through the
//! Marketing API on the Graph API ([`META_GRAPH_API_VERSION`], pinned), signed in with a
//! long-lived access token, each call wrapped in the connection's breaker, bucket and
//! retry policy.
//!
//! It owns what a launch needs and what a report reads: a campaign, an ad set under it
//! holding the daily budget (exact minor units of the account's currency), the schedule
//! and the audience's countries, the ad's picture (uploaded to the account's image
//! library), an ad creative speaking as the connection's Page with a link to the
//! product, and the ad in the ad set showing it (each made once per idempotency key,
//! whatever crashes between), their activation, and each campaign's daily spend,
//! impressions, clicks and purchases.
//!
//! A creative speaks as a Facebook Page, so a connection without a `page_id` can launch
//! nothing: the launch is refused before anything is made, saying to connect the ad
//! account again with its Page. The copy is checked before anything is sent as well
//! ([`SocialAdCopy::parse`]): a link to an `http` or `https` page, a headline and a
//! primary text.
//!
//! What Meta's protocol asks of a client, and how this one answers:
//! - **A long-lived token and its proof on every call**: a user or system-user access
//!   token, which no endpoint refreshes (the owner makes a new one), sent as
//!   `Authorization: Bearer` so that it never sits in a URL an error message could
//!   show; and `appsecret_proof`, the hex HMAC-SHA256 of the token keyed with the app
//!   secret, which apps that "require app secret" (as a platform's app should) demand
//!   beside every token. The session holding the token is an [`OAuthSession`] that
//!   never refreshes: once Meta refuses the token (code `190`) it needs its owner, and
//!   later calls send nothing.
//! - **A version in every path** (`/v27.0/act_{id}/campaigns`). Meta retires a
//!   Marketing API version about a year after the next one ships and changes required
//!   fields between versions, so the version is pinned together with the bodies
//!   written for it.
//! - **Money in minor units**: an ad set's `daily_budget` is an integer of the account
//!   currency's smallest unit (cents for dollars, yen for yen), so the connection says
//!   how many decimal places its currency has; an amount that is not a whole number of
//!   them is refused before anything is sent. Reports answer spend as a decimal string
//!   in the currency itself, read exactly.
//! - **No idempotency key**: the Graph API takes none and lets two campaigns share a
//!   name. So the names carry the key (`"Prompt pack [key]"`), and each attempt to
//!   create first looks the name up (the `filtering` parameter, `name` `EQUAL`) and
//!   returns what it finds: [`MetaAdsClient::launch`] run again after a crash at any
//!   point, or retried after an answer was lost, ends with one campaign, one ad set, one
//!   creative and one ad. An image needs no look-up: the library names an image by the
//!   hash of its bytes, so uploading the same picture again gives the same hash.
//! - **Reports** come from the account's `insights` edge at campaign level, one row per
//!   campaign per day (`time_increment=1`), in pages joined by cursor (`after`) for as
//!   long as Meta names a `next` page. Purchases are the `purchase` action, or the
//!   pixel's `offsite_conversion.fb_pixel_purchase` where Meta gives only that (it
//!   reports the same purchases under both, so they are never added together).
//! - **Errors** are `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
//!   Rate limits (codes 4, 17, 32, 613 and the 80000s of the business use cases, and
//!   the ad account's subcodes) wait for the `estimated_time_to_regain_access` in
//!   `X-Business-Use-Case-Usage` (minutes), or the ad account's `reset_time_duration`,
//!   if the deadline allows. Every answer's usage percentages (`X-App-Usage`,
//!   `X-Ad-Account-Usage`, `X-Business-Use-Case-Usage`) feed the connection's
//!   [`CostBucket`](crate::CostBucket), so a busy account slows down before Meta blocks
//!   it. `5xx`, code `2` and `is_transient` are outages, retried; anything else is a
//!   rejection in Meta's words.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::time::Instant;

use crate::oauth::{OAuthSecret, OAuthSession};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings, whole_seconds};
use crate::rest::{self, Form};
use crate::{
    AdAccount, AdChannel, AdCreative, AdImage, AdapterError, CampaignDay, CampaignRef, CampaignSpec, IdempotencyKey,
    Platform,
};

/// Where the Graph API is.
pub const META_GRAPH_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version every path names (released November 2026; Meta retires a
/// Marketing API version about a year after its successor ships).
pub const META_GRAPH_API_VERSION: &str = "v27.0";

const PLATFORM: Platform = Platform::MetaAds;

/// The wait after a rate limit that names none: Meta's own advice is "a few minutes";
/// one lets a per-hour window move on without stalling a call for long.
const UNSAID_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Meta counts its usage percentages over a rolling hour.
const USAGE_WINDOW_SECS: f64 = 3600.0;

/// Error codes that mean "too many calls": application (4), user (17), Page (32), a
/// policy's call rate (613), and the business use cases' limits (80000 to 80014; 80004
/// is ads management).
const RATE_LIMIT_CODES: [i64; 4] = [4, 17, 32, 613];
const BUSINESS_USE_CASE_CODES: std::ops::RangeInclusive<i64> = 80000..=80014;
/// Subcodes of an ad account's own limits: too many calls to it (2446079), too many
/// from it (1487742).
const RATE_LIMIT_SUBCODES: [i64; 2] = [2446079, 1487742];
/// The access token is invalid, expired or revoked.
const TOKEN_REFUSED: i64 = 190;
/// A temporary issue on Meta's side.
const SERVICE_UNAVAILABLE: i64 = 2;

/// The action types that count a purchase, in order of preference (see the module
/// notes on why they are not added together).
const PURCHASE_ACTIONS: [&str; 2] = ["purchase", "offsite_conversion.fb_pixel_purchase"];

/// Rows asked for per page (Meta may answer fewer).
const PAGE_LIMIT: &str = "100";

/// The most decimal places an account currency has (Meta's currencies have 0 or 2).
const MAX_MINOR_DIGITS: u32 = 4;

/// A connection to one Meta ad account.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MetaAdsConnection {
    /// The Graph API's origin: [`META_GRAPH_API_BASE`], or a test server.
    pub api_base_url: String,
    /// A long-lived user or system-user access token with `ads_management` (and
    /// `ads_read`) on the account.
    pub access_token: OAuthSecret,
    /// The secret of the Meta app the token was issued to, for `appsecret_proof`.
    pub app_secret: OAuthSecret,
    /// The ad account: `act_<digits>`, or the digits alone.
    pub ad_account_id: String,
    /// The Facebook Page the ads speak as; without it no creative can be made, so no
    /// flight launched.
    pub page_id: Option<String>,
    /// Decimal places of the account's currency: 2 for dollars and euros, 0 for yen
    /// and won. Budgets are sent in that currency's smallest unit.
    pub currency_minor_digits: u32,
    /// The countries the ad sets reach, as ISO 3166-1 alpha-2 codes (`US`, `DE`).
    pub countries: Vec<String>,
}

/// A connection once checked: what every request is built from.
struct CheckedConnection {
    api: String,
    account: String,
    page_id: Option<String>,
    countries: Vec<String>,
}

impl MetaAdsConnection {
    fn check(&self) -> Result<CheckedConnection, AdapterError> {
        let api = rest::origin(PLATFORM, "Graph API address", &self.api_base_url, META_GRAPH_API_BASE)?;
        if self.access_token.is_malformed() || self.app_secret.is_malformed() {
            return Err(AdapterError::rejected(PLATFORM, "the Meta access token or app secret is empty or malformed"));
        }
        let digits = self.ad_account_id.trim();
        let digits = digits.strip_prefix("act_").unwrap_or(digits);
        let account = graph_id("ad account id", digits).map(|id| format!("act_{id}"))?;
        let page_id =
            self.page_id.as_deref().map(|page| graph_id("Page id", page.trim()).map(str::to_owned)).transpose()?;
        if self.currency_minor_digits > MAX_MINOR_DIGITS {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("no currency has {} decimal places", self.currency_minor_digits),
            ));
        }
        let countries: Vec<String> = self.countries.iter().map(|country| country.trim().to_ascii_uppercase()).collect();
        let malformed = countries.iter().find(|code| code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()));
        if countries.is_empty() || malformed.is_some() {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("an ad set needs countries as two-letter codes like \"US\", not {:?}", self.countries),
            ));
        }
        Ok(CheckedConnection { api, account, page_id, countries })
    }
}

/// What a campaign is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaAdsObjective {
    /// Purchases on the business's site (`OUTCOME_SALES`); its ad sets convert best
    /// with a pixel to optimise for.
    Sales,
    /// Visits to the business's site (`OUTCOME_TRAFFIC`).
    Traffic,
}

impl MetaAdsObjective {
    /// Meta's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sales => "OUTCOME_SALES",
            Self::Traffic => "OUTCOME_TRAFFIC",
        }
    }
}

/// Whether a campaign or ad set delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaAdsStatus {
    /// It delivers (once it has ads).
    Active,
    /// It does not.
    Paused,
}

impl MetaAdsStatus {
    /// Meta's name for it (`ACTIVE`, `PAUSED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Paused => "PAUSED",
        }
    }
}

/// What a launch made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaAdsLaunch {
    /// The campaign's id.
    pub campaign_id: String,
    /// The ad set's id.
    pub ad_set_id: String,
    /// The uploaded picture's hash in the account's image library, if the copy had one.
    pub image_hash: Option<String>,
    /// The ad creative's id.
    pub creative_id: String,
    /// The ad's id.
    pub ad_id: String,
    /// The name all of them carry, the key's suffix included.
    pub name: String,
}

/// What the call to action on a social ad says: the swarm's ads sell a product.
const CALL_TO_ACTION: &str = "SHOP_NOW";

/// A link ad's copy, checked: made only by [`SocialAdCopy::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialAdCopy {
    link: String,
    headline: String,
    message: String,
    description: Option<String>,
    image: Option<AdImage>,
}

impl SocialAdCopy {
    /// `creative` as a link ad: its landing URL as the link, its first headline as the
    /// headline, its first description as the primary text and its second (if any) as
    /// the link's description, with its picture; or a rejection saying what is missing.
    pub fn parse(creative: &AdCreative) -> Result<Self, AdapterError> {
        let link = creative.landing_url.trim();
        if link.is_empty() {
            return Err(AdapterError::rejected(
                PLATFORM,
                "a Meta ad needs the product's page to link to, and the flight names none (no landing URL)",
            ));
        }
        match reqwest::Url::parse(link) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
            _ => {
                return Err(AdapterError::rejected(
                    PLATFORM,
                    format!("{link:?} is not a web page an ad can link to (an http or https address)"),
                ));
            }
        }
        let lines = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|line| !line.is_empty())
                .collect()
        };
        let (headlines, descriptions) = (lines(&creative.headlines), lines(&creative.descriptions));
        let (Some(headline), Some(message)) = (headlines.first(), descriptions.first()) else {
            return Err(AdapterError::rejected(
                PLATFORM,
                "a Meta ad needs a headline and a primary text (the copy's first headline and description)",
            ));
        };
        if let Some(image) = &creative.image
            && (image.bytes.is_empty() || !matches!(image.content_type.as_str(), "image/png" | "image/jpeg"))
        {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!(
                    "a Meta ad's picture is a PNG or JPEG, not {:?} of {} bytes",
                    image.content_type,
                    image.bytes.len()
                ),
            ));
        }
        Ok(Self {
            link: link.to_owned(),
            headline: headline.clone(),
            message: message.clone(),
            description: descriptions.get(1).cloned(),
            image: creative.image.clone(),
        })
    }

    /// Where the ad links.
    pub fn link(&self) -> &str {
        &self.link
    }
}

/// One campaign's day, as Meta reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaAdsCampaignDay {
    /// The campaign's id.
    pub campaign_id: String,
    /// The day, in the ad account's time zone.
    pub date: NaiveDate,
    /// What the day cost, in the account's currency, exactly.
    pub spend: Decimal,
    /// Times its ads were shown.
    pub impressions: u64,
    /// Clicks on them.
    pub clicks: u64,
    /// Purchases attributed to them, exactly as Meta wrote them.
    pub conversions: Decimal,
}

/// A client of one Meta ad account; see the module's notes.
#[derive(Clone)]
pub struct MetaAdsClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    api: String,
    account: String,
    page_id: Option<String>,
    minor_digits: u32,
    countries: Vec<String>,
    app_secret: OAuthSecret,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
}

impl fmt::Debug for MetaAdsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaAdsClient")
            .field("api", &self.shared.api)
            .field("account", &self.shared.account)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The things a launch creates once per name.
#[derive(Debug, Clone, Copy)]
enum Creation {
    Campaign,
    AdSet,
    Creative,
    Ad,
}

impl Creation {
    fn operation(self) -> &'static str {
        match self {
            Self::Campaign => "create_campaign",
            Self::AdSet => "create_ad_set",
            Self::Creative => "create_ad_creative",
            Self::Ad => "create_ad",
        }
    }

    /// The field naming the object it is made under, if its name is unique only
    /// there: one found under another campaign or ad set (made by hand, say) is not
    /// taken for this launch's.
    fn parent_field(self) -> Option<&'static str> {
        match self {
            Self::Campaign | Self::Creative => None,
            Self::AdSet => Some("campaign_id"),
            Self::Ad => Some("adset_id"),
        }
    }

    /// The fields a look-up reads.
    fn fields(self) -> &'static str {
        match self {
            Self::Campaign | Self::Creative => "id,name",
            Self::AdSet => "id,name,campaign_id",
            Self::Ad => "id,name,adset_id",
        }
    }

    /// The ad account's edge it is made on and listed from.
    fn edge(self) -> &'static str {
        match self {
            Self::Campaign => "campaigns",
            Self::AdSet => "adsets",
            Self::Creative => "adcreatives",
            Self::Ad => "ads",
        }
    }
}

impl MetaAdsClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: MetaAdsConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address, the credentials, the ids or the countries cannot make
    /// a request.
    pub fn with_settings(connection: MetaAdsConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let checked = connection.check()?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .build()
            .map_err(|error| AdapterError::rejected(PLATFORM, format!("cannot build the HTTP client: {error}")))?;
        let oauth = OAuthSession::fixed(PLATFORM, connection.access_token, http.clone());
        let shared = Shared {
            api: checked.api,
            account: checked.account,
            page_id: checked.page_id,
            minor_digits: connection.currency_minor_digits,
            countries: checked.countries,
            app_secret: connection.app_secret,
            http,
            resilience: Resilience::new(PLATFORM, settings),
            oauth,
        };
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

    /// The connection's token, and whether the owner must connect again.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// The ad account, `act_<digits>`.
    pub fn ad_account_id(&self) -> &str {
        &self.shared.account
    }

    /// The Page the ads will speak as, if the connection names one.
    pub fn page_id(&self) -> Option<&str> {
        self.shared.page_id.as_deref()
    }

    /// Usage points Meta would grant now (100 less the highest usage percentage it last
    /// reported, refilled since); `None` before the first answer that reported any.
    pub fn usage_headroom(&self) -> Option<f64> {
        self.shared.resilience.bucket().available()
    }

    /// Makes a campaign for `objective`, an ad set under it spending `daily_budget`
    /// (in the account's currency) a day from `start` to `end` (whole UTC days) in the
    /// connection's countries, the copy's picture in the image library, a creative of
    /// the copy speaking as the connection's Page, and an ad in the ad set showing it,
    /// the named ones named `name` with `key`'s suffix; then activates the ad set and
    /// the campaign and returns them. Run again with the same key (after a crash, a
    /// time-out or a restart, at any point), it makes only what the earlier run did
    /// not. Refused before anything is made when the connection names no Page.
    pub async fn launch(
        &self,
        name: &str,
        objective: MetaAdsObjective,
        daily_budget: Decimal,
        (start, end): (NaiveDate, NaiveDate),
        copy: &SocialAdCopy,
        key: &IdempotencyKey,
    ) -> Result<MetaAdsLaunch, AdapterError> {
        let keyed = keyed_name(name, key)?;
        self.page()?;
        minor_units(daily_budget, self.shared.minor_digits)?;
        schedule(start, end)?;
        // One deadline for every step: a launch is one call to its caller.
        let client = self.until(self.deadline());
        let campaign_id = client.create_campaign(name, objective, key).await?;
        let ad_set_id = client.create_ad_set(name, &campaign_id, daily_budget, (start, end), key).await?;
        let image_hash = match &copy.image {
            Some(image) => Some(client.upload_image(image).await?),
            None => None,
        };
        let creative_id = client.create_ad_creative(name, copy, image_hash.as_deref(), key).await?;
        let ad_id = client.create_ad(name, &ad_set_id, &creative_id, key).await?;
        // The ad set first: an active campaign over a paused ad set delivers nothing,
        // and a crash between the two leaves the flight half-started either way.
        client.set_status(&ad_set_id, MetaAdsStatus::Active).await?;
        client.set_status(&campaign_id, MetaAdsStatus::Active).await?;
        Ok(MetaAdsLaunch { campaign_id, ad_set_id, image_hash, creative_id, ad_id, name: keyed })
    }

    /// Uploads `image` to the account's image library (the `bytes` form field, base64)
    /// and returns its hash. The library names an image by its bytes' hash, so the
    /// same picture sent twice (a retry after a lost answer) is the same image.
    pub async fn upload_image(&self, image: &AdImage) -> Result<String, AdapterError> {
        use base64::Engine as _;
        const OPERATION: &str = "upload_image";
        if image.bytes.is_empty() {
            return Err(AdapterError::rejected(PLATFORM, format!("{OPERATION}: the picture is empty")));
        }
        let deadline = self.deadline();
        let mut form = Form::new();
        form.push("bytes", base64::engine::general_purpose::STANDARD.encode(&image.bytes));
        let (form, path) = (&form, &format!("{}/adimages", self.shared.account));
        self.shared
            .resilience
            .run(OPERATION, 1.0, deadline, || async move {
                let answer = self.send(OPERATION, Method::POST, path, form, deadline).await?;
                answer
                    .get("images")
                    .and_then(Value::as_object)
                    .and_then(|images| images.values().find_map(|image| image.get("hash")?.as_str()))
                    .filter(|hash| !hash.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| AdapterError::Unavailable {
                        platform: PLATFORM,
                        message: format!("{OPERATION}: Meta answered without the image's hash"),
                    })
            })
            .await
    }

    /// Makes a link-ad creative named `name` with `key`'s suffix, speaking as the
    /// connection's Page: `copy`'s primary text over its link, headline and
    /// description, the picture `image_hash` names (if any), and a "Shop now" button to
    /// the link; returns its id, or that of the creative with that name already.
    pub async fn create_ad_creative(
        &self,
        name: &str,
        copy: &SocialAdCopy,
        image_hash: Option<&str>,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        let page_id = self.page()?;
        let mut link_data = json!({
            "link": copy.link,
            "message": copy.message,
            "name": copy.headline,
            "call_to_action": { "type": CALL_TO_ACTION, "value": { "link": copy.link } },
        });
        if let Some(description) = &copy.description {
            link_data["description"] = json!(description);
        }
        if let Some(hash) = image_hash {
            link_data["image_hash"] = json!(hash);
        }
        let story = json!({ "page_id": page_id, "link_data": link_data });
        let mut form = Form::new();
        form.push("name", &name).push("object_story_spec", story.to_string());
        self.create_named(Creation::Creative, &name, None, &form, self.deadline()).await
    }

    /// Makes an active ad named `name` with `key`'s suffix in `ad_set_id` (an ad set of
    /// this account) showing `creative_id`, and returns its id; or that of the ad with
    /// that name in the ad set already. Active at once: it delivers when its ad set and
    /// campaign do, and no sooner.
    pub async fn create_ad(
        &self,
        name: &str,
        ad_set_id: &str,
        creative_id: &str,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        let ad_set_id = graph_id("ad set id", ad_set_id)?;
        let creative_id = graph_id("creative id", creative_id)?;
        let mut form = Form::new();
        form.push("name", &name)
            .push("adset_id", ad_set_id)
            .push("creative", json!({ "creative_id": creative_id }).to_string())
            .push("status", MetaAdsStatus::Active.as_str());
        self.create_named(Creation::Ad, &name, Some(ad_set_id), &form, self.deadline()).await
    }

    /// The connection's Page, or the refusal a launch without one meets.
    fn page(&self) -> Result<&str, AdapterError> {
        self.shared.page_id.as_deref().ok_or_else(|| {
            AdapterError::rejected(
                PLATFORM,
                "a Meta ad speaks as a Facebook Page and this connection names none: connect the ad account again \
                 with its page_id",
            )
        })
    }

    /// Makes a paused auction campaign for `objective` named `name` with `key`'s suffix,
    /// its budget left to its ad sets, and returns its id; or, if one with that name is
    /// there already, returns it.
    ///
    /// It declares no special ad category (credit, employment, housing, social issues,
    /// elections or politics), as every campaign must say one way or the other: the
    /// businesses this runtime builds sell products, and such ads are not among what
    /// they may run.
    pub async fn create_campaign(
        &self,
        name: &str,
        objective: MetaAdsObjective,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        let mut form = Form::new();
        form.push("name", &name)
            .push("objective", objective.as_str())
            .push("status", MetaAdsStatus::Paused.as_str())
            .push("special_ad_categories", "[]")
            .push("buying_type", "AUCTION")
            // The budget lives on the ad set, and Meta asks campaigns without one of
            // their own to say whether their ad sets may share budget.
            .push("is_adset_budget_sharing_enabled", "false");
        self.create_named(Creation::Campaign, &name, None, &form, self.deadline()).await
    }

    /// Makes a paused ad set named `name` with `key`'s suffix under `campaign_id`
    /// (a campaign of this account), spending `daily_budget` a day from the start of
    /// `start` to the end of `end` (UTC) on the lowest-cost auction, billed per
    /// impression and optimised for link clicks, reaching the connection's countries;
    /// returns its id, or that of the one with that name under the campaign already.
    pub async fn create_ad_set(
        &self,
        name: &str,
        campaign_id: &str,
        daily_budget: Decimal,
        (start, end): (NaiveDate, NaiveDate),
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        let campaign_id = graph_id("campaign id", campaign_id)?;
        let budget = minor_units(daily_budget, self.shared.minor_digits)?;
        let (start_time, end_time) = schedule(start, end)?;
        let targeting = json!({
            "geo_locations": { "countries": self.shared.countries },
            // Off: the swarm compares flights by their audience, which Meta widening it
            // on its own would muddle.
            "targeting_automation": { "advantage_audience": 0 },
        });
        let mut form = Form::new();
        form.push("name", &name)
            .push("campaign_id", campaign_id)
            .push("daily_budget", budget.to_string())
            .push("billing_event", "IMPRESSIONS")
            .push("optimization_goal", "LINK_CLICKS")
            .push("bid_strategy", "LOWEST_COST_WITHOUT_CAP")
            .push("targeting", targeting.to_string())
            .push("start_time", start_time)
            .push("end_time", end_time)
            .push("status", MetaAdsStatus::Paused.as_str());
        self.create_named(Creation::AdSet, &name, Some(campaign_id), &form, self.deadline()).await
    }

    /// Sets a campaign's or ad set's status. Setting the status it has already is
    /// harmless, so the call is safe to retry.
    pub async fn set_status(&self, object_id: &str, status: MetaAdsStatus) -> Result<(), AdapterError> {
        const OPERATION: &str = "set_status";
        let object_id = graph_id("campaign or ad set id", object_id)?;
        let deadline = self.deadline();
        let mut form = Form::new();
        form.push("status", status.as_str());
        let form = &form;
        self.shared
            .resilience
            .run(OPERATION, 1.0, deadline, || async move {
                let answer = self.send(OPERATION, Method::POST, object_id, form, deadline).await?;
                match answer.get("success").and_then(Value::as_bool) {
                    Some(true) => Ok(()),
                    _ => Err(AdapterError::Unavailable {
                        platform: PLATFORM,
                        message: format!("{OPERATION}: Meta answered without success: {answer}"),
                    }),
                }
            })
            .await
    }

    /// Every campaign's days from `from` to `to` (both included) that have something to
    /// report, oldest first, every page of the account's insights read.
    pub async fn campaign_insights(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<MetaAdsCampaignDay>, AdapterError> {
        const OPERATION: &str = "campaign_insights";
        if to < from {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("the report's range ends ({to}) before it starts ({from})"),
            ));
        }
        let mut query = Form::new();
        query
            .push("level", "campaign")
            .push("time_increment", "1")
            .push("time_range", json!({ "since": from.to_string(), "until": to.to_string() }).to_string())
            .push("fields", "campaign_id,spend,impressions,clicks,actions")
            .push("limit", PAGE_LIMIT);
        let path = format!("{}/insights", self.shared.account);
        let rows = self.read_pages(OPERATION, &path, &query, Paging::EachPageRetried, self.deadline()).await?;
        let mut days = rows.into_iter().map(campaign_day).collect::<Result<Vec<_>, _>>()?;
        days.sort_by(|a, b| (a.date, &a.campaign_id).cmp(&(b.date, &b.campaign_id)));
        Ok(days)
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    /// The object named `name` (an ad set or ad: under its `parent`), found or else
    /// created from `create`. Each attempt looks before it creates, so an attempt
    /// retried after its predecessor's answer was lost finds what that one made.
    async fn create_named(
        &self,
        creation: Creation,
        name: &str,
        parent: Option<&str>,
        create: &Form,
        deadline: Instant,
    ) -> Result<String, AdapterError> {
        let operation = creation.operation();
        let path = format!("{}/{}", self.shared.account, creation.edge());
        let path = &path;
        self.shared
            .resilience
            .run(operation, 1.0, deadline, || async move {
                if let Some(existing) = self.find_named(creation, name, parent, deadline).await? {
                    tracing::info!(operation, %existing, "found by its keyed name; not made again");
                    return Ok(existing);
                }
                let answer = self.send(operation, Method::POST, path, create, deadline).await?;
                created_id(operation, &answer)
            })
            .await
    }

    /// The id of the object (not deleted; an ad set or ad: under `parent`) called
    /// `name`.
    async fn find_named(
        &self,
        creation: Creation,
        name: &str,
        parent: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<String>, AdapterError> {
        let mut query = Form::new();
        query
            .push("fields", creation.fields())
            .push("filtering", json!([{ "field": "name", "operator": "EQUAL", "value": name }]).to_string())
            .push("limit", PAGE_LIMIT);
        let path = format!("{}/{}", self.shared.account, creation.edge());
        let rows = self.read_pages("find_by_name", &path, &query, Paging::InsideAnAttempt, deadline).await?;
        Ok(rows.iter().find_map(|row| {
            let same_name = row.get("name").and_then(Value::as_str) == Some(name);
            let same_parent = match (creation.parent_field(), parent) {
                (Some(field), Some(parent)) => row.get(field).and_then(Value::as_str) == Some(parent),
                _ => true,
            };
            (same_name && same_parent).then(|| row.get("id").and_then(Value::as_str).map(str::to_owned))?
        }))
    }

    /// Every row of a listing edge, page after page by the `after` cursor for as long as
    /// Meta names a `next` page.
    async fn read_pages(
        &self,
        operation: &'static str,
        path: &str,
        query: &Form,
        paging: Paging,
        deadline: Instant,
    ) -> Result<Vec<Value>, AdapterError> {
        let mut rows = Vec::new();
        let mut cursors_seen = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let mut page_query = query.clone();
            page_query.push_some("after", after.clone());
            let page_query = &page_query;
            let answer = match paging {
                Paging::EachPageRetried => {
                    self.shared
                        .resilience
                        .run(operation, 1.0, deadline, || self.send(operation, Method::GET, path, page_query, deadline))
                        .await?
                }
                Paging::InsideAnAttempt => self.send(operation, Method::GET, path, page_query, deadline).await?,
            };
            let page: Page = rest::typed(PLATFORM, operation, answer)?;
            rows.extend(page.data);
            let next = page.paging.filter(|paging| paging.next.is_some()).and_then(|paging| paging.cursors?.after);
            match next {
                None => return Ok(rows),
                // A cursor met twice would page for ever.
                Some(cursor) if !cursors_seen.insert(cursor.clone()) => {
                    return Err(AdapterError::Unavailable {
                        platform: PLATFORM,
                        message: format!("{operation}: Meta named the same page twice (cursor {cursor})"),
                    });
                }
                Some(cursor) => after = Some(cursor),
            }
        }
    }

    /// One request to `/{version}/{path}` with the token, its proof and `params` (the
    /// query of a `GET`, the form of a `POST`): the answer's JSON, or the error Meta's
    /// answer means. Every answer's usage headers feed the bucket.
    async fn send(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        params: &Form,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let shared = &self.shared;
        tracing::debug!(operation, "Graph API request");
        let token = shared.oauth.access_token(deadline).await?;
        let mut params = params.clone();
        params.push("appsecret_proof", appsecret_proof(&shared.app_secret, &token));
        let url = format!("{}/{META_GRAPH_API_VERSION}/{path}", shared.api);
        let request = if method == Method::GET {
            shared.http.get(format!("{url}?{}", params.encode()))
        } else {
            shared
                .http
                .request(method, &url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(params.encode())
        };
        let failure = |error: reqwest::Error| rest::transport_failure(PLATFORM, operation, &error);
        let response =
            request.bearer_auth(token.expose()).header(ACCEPT, "application/json").send().await.map_err(failure)?;
        let status = response.status();
        let usage = Usage::read(response.headers());
        let text = response.text().await.map_err(failure)?;
        usage.observe(&shared.resilience);
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|_| AdapterError::Unavailable {
                platform: PLATFORM,
                message: format!("{operation}: Meta answered {status} with a body that is not JSON"),
            });
        }
        let failure = GraphFailure::read(status, &text);
        if failure.code == Some(TOKEN_REFUSED) {
            // The session learns that the token is gone, so that the dashboard shows the
            // connection needs its owner and later calls send nothing; its own refusal
            // is less telling than Meta's, so the caller gets this one.
            let _needs_owner = shared.oauth.after_refusal(&token, deadline).await;
        }
        Err(failure.into_error(operation, usage.regain))
    }
}

/// How a listing's pages are read.
#[derive(Debug, Clone, Copy)]
enum Paging {
    /// Each page is a call of its own, retried alone: a rate limit on the fifth page
    /// does not read the first four again.
    EachPageRetried,
    /// Within an attempt the caller retries as a whole.
    InsideAnAttempt,
}

/// A page of a listing edge.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    paging: Option<PageLinks>,
}

#[derive(Deserialize)]
struct PageLinks {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

/// What an answer's usage headers say: the highest share of any quota used, in
/// percent, and how long until a blocked caller may call again.
#[derive(Debug, Default, PartialEq)]
struct Usage {
    used_percent: Option<f64>,
    regain: Option<Duration>,
}

impl Usage {
    /// `X-App-Usage` (`call_count`, `total_time`, `total_cputime`), `X-Ad-Account-Usage`
    /// (`acc_id_util_pct`, `reset_time_duration` in seconds) and
    /// `X-Business-Use-Case-Usage` (per business, per use case: the same percentages and
    /// `estimated_time_to_regain_access` in minutes). Each is JSON; what is not is
    /// ignored.
    fn read(headers: &HeaderMap) -> Self {
        let header = |name: &str| {
            headers.get(name).and_then(|value| value.to_str().ok()).and_then(|text| serde_json::from_str(text).ok())
        };
        let mut usage = Self::default();
        let mut note_used = |value: Option<&Value>| {
            if let Some(percent) = value.and_then(Value::as_f64).filter(|percent| percent.is_finite()) {
                usage.used_percent = Some(usage.used_percent.map_or(percent, |used: f64| used.max(percent)));
            }
        };
        let shares = ["call_count", "total_time", "total_cputime"];
        let app: Option<Value> = header("x-app-usage");
        for share in shares {
            note_used(app.as_ref().and_then(|app| app.get(share)));
        }
        let account: Option<Value> = header("x-ad-account-usage");
        note_used(account.as_ref().and_then(|account| account.get("acc_id_util_pct")));
        let business: Option<Value> = header("x-business-use-case-usage");
        let use_cases: Vec<&Value> = business
            .as_ref()
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|businesses| businesses.values())
            .filter_map(Value::as_array)
            .flatten()
            .collect();
        for use_case in &use_cases {
            for share in shares {
                note_used(use_case.get(share));
            }
        }
        let minutes = use_cases
            .iter()
            .filter_map(|use_case| use_case.get("estimated_time_to_regain_access")?.as_f64())
            .map(|minutes| minutes * 60.0);
        let reset = account.as_ref().and_then(|account| account.get("reset_time_duration")?.as_f64());
        // Two waits named: the longer keeps the caller clear of both.
        usage.regain = minutes
            .chain(reset)
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .filter_map(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .max();
        usage
    }

    /// Mirrors the usage into the bucket, in percentage points of 100, one a call: a
    /// blocked caller gets its next point when Meta says access returns; otherwise what
    /// is used drains over Meta's rolling hour.
    fn observe(&self, resilience: &Resilience) {
        let bucket = resilience.bucket();
        if let Some(regain) = self.regain {
            bucket.observe(100.0, 0.0, 1.0 / regain.as_secs_f64());
        } else if let Some(used) = self.used_percent {
            let used = used.clamp(0.0, 100.0);
            bucket.observe(100.0, 100.0 - used, used.max(1.0) / USAGE_WINDOW_SECS);
        }
    }
}

/// A refusal as Meta explains it.
#[derive(Debug, Default)]
struct GraphFailure {
    http: u16,
    code: Option<i64>,
    subcode: Option<i64>,
    /// `OAuthException`, `GraphMethodException`, …
    kind: String,
    message: String,
    /// The explanation Meta writes for people, when it writes one.
    user_message: Option<String>,
    transient: bool,
    trace: Option<String>,
}

impl GraphFailure {
    fn read(status: StatusCode, body: &str) -> Self {
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let Some(error) = value.get("error") else {
            return Self {
                http: status.as_u16(),
                message: body.chars().take(200).collect::<String>().trim().to_owned(),
                ..Self::default()
            };
        };
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            http: status.as_u16(),
            code: error.get("code").and_then(Value::as_i64),
            subcode: error.get("error_subcode").and_then(Value::as_i64),
            kind: text("type").unwrap_or_default(),
            message: text("message").unwrap_or_default(),
            user_message: text("error_user_msg").filter(|message| !message.is_empty()),
            transient: error.get("is_transient").and_then(Value::as_bool).unwrap_or(false),
            trace: text("fbtrace_id"),
        }
    }

    fn is_rate_limit(&self) -> bool {
        self.code.is_some_and(|code| RATE_LIMIT_CODES.contains(&code) || BUSINESS_USE_CASE_CODES.contains(&code))
            || self.subcode.is_some_and(|subcode| RATE_LIMIT_SUBCODES.contains(&subcode))
    }

    /// Meta's words: the code, subcode and type, the message, what it tells people, and
    /// the trace id its support asks for.
    fn describe(&self) -> String {
        let mut said = match (self.code, self.subcode) {
            (Some(code), Some(subcode)) => format!("code {code}, subcode {subcode}"),
            (Some(code), None) => format!("code {code}"),
            (None, _) => format!("HTTP {}", self.http),
        };
        if !self.kind.is_empty() {
            said.push_str(&format!(", {}", self.kind));
        }
        said.push_str(&format!("): {}", self.message));
        if let Some(user_message) = &self.user_message {
            said.push_str(&format!(" ({user_message})"));
        }
        if let Some(trace) = &self.trace {
            said.push_str(&format!(" [fbtrace_id {trace}]"));
        }
        said
    }

    /// The error the refusal means; `regain` is the wait the answer's usage headers
    /// named.
    fn into_error(self, operation: &str, regain: Option<Duration>) -> AdapterError {
        let said = self.describe();
        if self.is_rate_limit() {
            let wait = regain.unwrap_or(UNSAID_RATE_LIMIT_WAIT);
            tracing::info!(operation, %said, wait_secs = wait.as_secs_f64(), "Meta rate limit");
            return AdapterError::RateLimited { platform: PLATFORM, retry_after_secs: whole_seconds(wait) };
        }
        if self.code == Some(TOKEN_REFUSED) {
            return AdapterError::rejected(
                PLATFORM,
                format!("{operation}: Meta refused the access token ({said}; the owner must connect Meta again"),
            );
        }
        if self.http >= 500 || self.transient || self.code == Some(SERVICE_UNAVAILABLE) {
            return AdapterError::Unavailable {
                platform: PLATFORM,
                message: format!("{operation}: Meta failed ({said}"),
            };
        }
        // Meta says only "invalid appsecret_proof"; the usual cause is an app secret
        // from another app than the token's.
        let hint = if self.message.contains("appsecret_proof") {
            "; the app secret must be that of the Meta app the access token was issued to"
        } else {
            ""
        };
        AdapterError::rejected(PLATFORM, format!("{operation}: Meta refused it ({said}{hint}"))
    }
}

/// The id a create answered with (`{"id": "…"}`).
fn created_id(operation: &str, answer: &Value) -> Result<String, AdapterError> {
    answer
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.chars().all(|character| character.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: Meta answered without the new object's id"),
        })
}

/// A row of the insights edge: numbers as strings (a number is read too), zeros and
/// empty actions left out.
#[derive(Deserialize)]
struct InsightsRow {
    campaign_id: String,
    #[serde(default)]
    spend: Option<Value>,
    #[serde(default)]
    impressions: Option<Value>,
    #[serde(default)]
    clicks: Option<Value>,
    #[serde(default)]
    actions: Vec<InsightsAction>,
    date_start: NaiveDate,
}

#[derive(Deserialize)]
struct InsightsAction {
    action_type: String,
    value: Value,
}

fn campaign_day(row: Value) -> Result<MetaAdsCampaignDay, AdapterError> {
    const OPERATION: &str = "campaign_insights";
    let row: InsightsRow = rest::typed(PLATFORM, OPERATION, row)?;
    let not_shaped = |field: &str| AdapterError::Unavailable {
        platform: PLATFORM,
        message: format!("{OPERATION}: Meta answered a {field} that is not what the API documents"),
    };
    let amount = |field: &str, value: Option<&Value>| {
        exact_number(value).filter(|amount| *amount >= Decimal::ZERO).ok_or_else(|| not_shaped(field))
    };
    let count = |field: &str, value: Option<&Value>| {
        exact_number(value)
            .filter(|count| count.fract().is_zero())
            .and_then(|count| count.to_u64())
            .ok_or_else(|| not_shaped(field))
    };
    let purchases = PURCHASE_ACTIONS
        .iter()
        .find_map(|kind| row.actions.iter().find(|action| action.action_type == *kind))
        .map(|action| amount("purchase count", Some(&action.value)))
        .transpose()?
        .unwrap_or(Decimal::ZERO);
    Ok(MetaAdsCampaignDay {
        campaign_id: row.campaign_id,
        date: row.date_start,
        spend: amount("spend", row.spend.as_ref())?,
        impressions: count("impression count", row.impressions.as_ref())?,
        clicks: count("click count", row.clicks.as_ref())?,
        conversions: purchases,
    })
}

/// A number Meta wrote (as a string, its usual form, or a number) as the decimal it
/// wrote, with no float arithmetic on the way; absent is zero.
fn exact_number(value: Option<&Value>) -> Option<Decimal> {
    let text = match value {
        None | Some(Value::Null) => return Some(Decimal::ZERO),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(_) => return None,
    };
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(&text) } else { Decimal::from_str(&text) };
    parsed.ok().map(|number| number.normalize())
}

/// `amount` of the account's currency in its smallest unit (`digits` decimal places),
/// exactly, or a rejection.
fn minor_units(amount: Decimal, digits: u32) -> Result<i64, AdapterError> {
    if amount <= Decimal::ZERO {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("a Meta ad set's budget must be more than zero, not {amount}"),
        ));
    }
    let too_large = || AdapterError::rejected(PLATFORM, format!("{amount} is more than a Meta budget can hold"));
    let units = amount.checked_mul(Decimal::from(10_i64.pow(digits))).ok_or_else(too_large)?;
    if !units.fract().is_zero() {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("{amount} has more decimal places than the account's currency ({digits})"),
        ));
    }
    units.to_i64().ok_or_else(too_large)
}

/// An ad set's `start_time` and `end_time` for whole UTC days from `start` to `end`:
/// the first instant of the first and the first instant after the last.
fn schedule(start: NaiveDate, end: NaiveDate) -> Result<(String, String), AdapterError> {
    let after_end = end.succ_opt().filter(|_| start <= end).ok_or_else(|| {
        AdapterError::rejected(PLATFORM, format!("an ad set cannot end ({end}) before it starts ({start})"))
    })?;
    Ok((format!("{start}T00:00:00+0000"), format!("{after_end}T00:00:00+0000")))
}

/// `name` with `key`'s suffix: what makes a campaign, ad set, creative or ad findable
/// again after the answer to its creation was lost.
fn keyed_name(name: &str, key: &IdempotencyKey) -> Result<String, AdapterError> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("{name:?} cannot name a Meta campaign or ad set (empty, or with control characters)"),
        ));
    }
    Ok(format!("{name} [{key}]"))
}

/// A Graph object id (digits only), or a rejection naming `what`.
fn graph_id<'a>(what: &str, id: &'a str) -> Result<&'a str, AdapterError> {
    if id.is_empty() || id.len() > 32 || !id.chars().all(|character| character.is_ascii_digit()) {
        return Err(AdapterError::rejected(PLATFORM, format!("{id:?} is not a Meta {what} (digits)")));
    }
    Ok(id)
}

/// `appsecret_proof`: the hex HMAC-SHA256 of the access token keyed with the app secret.
fn appsecret_proof(app_secret: &OAuthSecret, access_token: &OAuthSecret) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.expose().as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(access_token.expose().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A Meta ad account as the swarm's social ads: a flight is a traffic campaign with
/// one ad set holding the flight's daily budget and one ad of the flight's copy, named
/// after the product with the flight's key, running from today (UTC) for the flight's
/// days, and activated once made. Traffic, not sales: optimising for purchases needs a pixel the connection does
/// not name.
#[async_trait::async_trait]
impl AdAccount for MetaAdsClient {
    fn channel(&self) -> AdChannel {
        AdChannel::SocialAds
    }

    fn circuit_state(&self) -> CircuitState {
        MetaAdsClient::circuit_state(self)
    }

    fn oauth(&self) -> &OAuthSession {
        MetaAdsClient::oauth(self)
    }

    async fn launch(&self, spec: &CampaignSpec, key: &IdempotencyKey) -> Result<CampaignRef, AdapterError> {
        let (name, start, end) = spec.flight_on(PLATFORM, AdChannel::SocialAds, chrono::Utc::now().date_naive())?;
        // Checked before anything is made: an ad set with no ad Meta would take would
        // hold a budget and deliver nothing.
        let copy = SocialAdCopy::parse(&spec.creative)?;
        let launch =
            MetaAdsClient::launch(self, &name, MetaAdsObjective::Traffic, spec.daily_budget, (start, end), &copy, key)
                .await?;
        Ok(CampaignRef { campaign_id: launch.campaign_id })
    }

    async fn campaign_days(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<CampaignDay>, AdapterError> {
        Ok(self
            .campaign_insights(from, to)
            .await?
            .into_iter()
            .map(|day| CampaignDay {
                platform: PLATFORM,
                campaign_id: day.campaign_id,
                date: day.date,
                spend: day.spend,
                impressions: day.impressions,
                clicks: day.clicks,
                conversions: day.conversions.trunc().to_u64().unwrap_or(0),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    fn key() -> IdempotencyKey {
        IdempotencyKey::for_step(boardroom_memory::TenantId(7), 1, "ads", "launch")
    }

    #[test]
    fn the_proof_is_the_hex_hmac_sha256_of_the_token_keyed_with_the_app_secret() {
        // The well-known HMAC-SHA256 example answer.
        let proof =
            appsecret_proof(&OAuthSecret::new("key"), &OAuthSecret::new("The quick brown fox jumps over the lazy dog"));
        assert_eq!(proof, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    }

    #[test]
    fn money_becomes_minor_units_of_the_accounts_currency_exactly_or_is_refused() {
        assert_eq!(minor_units(decimal("12.34"), 2).expect("dollars"), 1234);
        assert_eq!(minor_units(decimal("1500"), 0).expect("yen"), 1500);
        for (bad, digits) in [("0", 2), ("-5", 2), ("12.345", 2), ("1.5", 0), ("92233720368547758.08", 2)] {
            assert!(!minor_units(decimal(bad), digits).expect_err(bad).is_retryable(), "{bad}");
        }
    }

    #[test]
    fn ad_account_ids_take_act_or_not_and_countries_are_checked() {
        let connection = MetaAdsConnection {
            api_base_url: META_GRAPH_API_BASE.into(),
            access_token: OAuthSecret::new("token-value"),
            app_secret: OAuthSecret::new("secret-value"),
            ad_account_id: "1234567890".into(),
            page_id: Some("555".into()),
            currency_minor_digits: 2,
            countries: vec!["us".into(), "DE".into()],
        };
        let checked = connection.check().expect("valid");
        assert_eq!((checked.account.as_str(), checked.countries), ("act_1234567890", vec!["US".into(), "DE".into()]));
        let with_prefix = MetaAdsConnection { ad_account_id: " act_1234567890 ".into(), ..connection.clone() };
        assert_eq!(with_prefix.check().expect("valid").account, "act_1234567890");
        let shown = format!("{connection:?}");
        assert!(!shown.contains("token-value") && !shown.contains("secret-value"), "{shown}");
        for bad in [
            MetaAdsConnection { ad_account_id: "act_12a4".into(), ..connection.clone() },
            MetaAdsConnection { countries: Vec::new(), ..connection.clone() },
            MetaAdsConnection { countries: vec!["USA".into()], ..connection.clone() },
            MetaAdsConnection { app_secret: OAuthSecret::new(""), ..connection.clone() },
            MetaAdsConnection { currency_minor_digits: 9, ..connection },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_carry_the_key_and_schedules_cover_whole_days() {
        assert_eq!(keyed_name("  Prompt pack ", &key()).expect("valid"), format!("Prompt pack [{}]", key()));
        assert!(keyed_name("two\nlines", &key()).is_err());
        let day = |day| NaiveDate::from_ymd_opt(2026, 12, day).expect("a date");
        assert_eq!(
            schedule(day(2), day(8)).expect("a week"),
            ("2026-12-02T00:00:00+0000".to_owned(), "2026-12-09T00:00:00+0000".to_owned())
        );
        assert!(schedule(day(8), day(2)).is_err());
    }

    #[test]
    fn usage_headers_name_the_highest_share_and_the_longest_wait() {
        let mut headers = HeaderMap::new();
        headers
            .insert("x-app-usage", HeaderValue::from_static(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#));
        headers.insert(
            "x-ad-account-usage",
            HeaderValue::from_static(
                r#"{"acc_id_util_pct":9.67,"reset_time_duration":0,"ads_api_access_tier":"standard_access"}"#,
            ),
        );
        headers.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"123":[{"type":"ads_management","call_count":95,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":3}]}"#,
            ),
        );
        let usage = Usage::read(&headers);
        assert_eq!(usage, Usage { used_percent: Some(95.0), regain: Some(Duration::from_secs(180)) });
        headers.insert("x-business-use-case-usage", HeaderValue::from_static("not json"));
        assert_eq!(Usage::read(&headers), Usage { used_percent: Some(28.0), regain: None });
        assert_eq!(Usage::read(&HeaderMap::new()), Usage::default());
    }

    #[test]
    fn graph_errors_become_waits_outages_or_refusals_in_metas_words() {
        let limited = r#"{"error":{"message":"(#17) User request limit reached","type":"OAuthException","code":17,
            "error_subcode":2446079,"fbtrace_id":"AbC"}}"#;
        let error =
            GraphFailure::read(StatusCode::BAD_REQUEST, limited).into_error("op", Some(Duration::from_secs(120)));
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 120, .. }), "{error:?}");
        let error = GraphFailure::read(StatusCode::BAD_REQUEST, limited).into_error("op", None);
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 60, .. }), "{error:?}");

        let expired = r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException",
            "code":190,"error_subcode":463,"fbtrace_id":"XyZ"}}"#;
        let message = GraphFailure::read(StatusCode::BAD_REQUEST, expired).into_error("op", None).to_string();
        assert!(message.contains("connect Meta again") && message.contains("Session has expired"), "{message}");

        let transient = r#"{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":1,
            "is_transient":true}}"#;
        assert!(GraphFailure::read(StatusCode::BAD_REQUEST, transient).into_error("op", None).is_retryable());
        assert!(GraphFailure::read(StatusCode::BAD_GATEWAY, "<html>").into_error("op", None).is_retryable());

        let invalid = r#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":1487390,
            "error_user_msg":"The daily budget is too low.","fbtrace_id":"Q1"}}"#;
        let error = GraphFailure::read(StatusCode::BAD_REQUEST, invalid).into_error("create_ad_set", None);
        assert!(!error.is_retryable());
        assert!(
            error.to_string().contains("code 100, subcode 1487390, OAuthException): Invalid parameter (The daily budget is too low.) [fbtrace_id Q1]"),
            "{error}"
        );
    }

    #[test]
    fn insights_rows_become_exact_days_counting_purchases_once() {
        let row = json!({ "campaign_id": "120", "spend": "1234.56", "impressions": "10400", "clicks": "312",
            "actions": [{ "action_type": "link_click", "value": "300" },
                        { "action_type": "offsite_conversion.fb_pixel_purchase", "value": "3" },
                        { "action_type": "purchase", "value": "3" }],
            "date_start": "2026-11-28", "date_stop": "2026-11-28" });
        let day = campaign_day(row).expect("a day");
        assert_eq!(
            (day.spend, day.impressions, day.clicks, day.conversions),
            (decimal("1234.56"), 10_400, 312, decimal("3"))
        );
        let pixel_only = json!({ "campaign_id": "120", "spend": "0.99",
            "actions": [{ "action_type": "offsite_conversion.fb_pixel_purchase", "value": "2" }],
            "date_start": "2026-11-29", "date_stop": "2026-11-29" });
        assert_eq!(campaign_day(pixel_only).expect("a day").conversions, decimal("2"));
        let negative = json!({ "campaign_id": "120", "clicks": "-1", "date_start": "2026-11-29" });
        assert!(campaign_day(negative).is_err());
    }
}
