//! [`GoogleAdsClient`]: a Google Ads account's Search campaigns through the Google Ads
//! API's REST interface ([`GOOGLE_ADS_API_VERSION`], pinned), signed in with OAuth 2.0
//! ([`OAuthSession`]), each call wrapped in the connection's breaker and retry policy.
//!
//! It owns what a launch needs and what a report reads: a daily budget (exact micros), a
//! Search campaign on it, an ad group in the campaign, the ad group's phrase-match
//! keywords and a responsive search ad (each made once per idempotency key, whatever
//! crashes between), a campaign's pause and resume, and each campaign's daily cost,
//! impressions, clicks and conversions.
//!
//! The ad's copy is checked against Google's limits before anything is sent
//! ([`SearchAdCopy::parse`]): a final URL, 3 to 15 headlines of at most
//! [`GOOGLE_ADS_MAX_HEADLINE_CHARS`] characters, 2 to 4 descriptions of at most
//! [`GOOGLE_ADS_MAX_DESCRIPTION_CHARS`], and at least one keyword Google would take (at
//! most [`GOOGLE_ADS_MAX_KEYWORD_CHARS`] characters and ten words, none of the symbols it
//! refuses). Keywords it would refuse are left out; copy it would refuse stops the
//! launch, since a campaign that cannot carry its ad would spend on nothing.
//!
//! What Google's protocol asks of a client, and how this one answers:
//! - **Three credentials on every call**: `Authorization: Bearer` (a Google OAuth token,
//!   refreshed with the application's id and secret in the form body; refresh tokens are
//!   not rotated), `developer-token` (the platform's access to the API), and, when the
//!   account is reached through a manager account, `login-customer-id` (the manager's
//!   id). Customer ids are ten digits; the dashes people write them with are dropped.
//! - **A version in every path** (`/v26/customers/{id}/…`). Google sunsets a version
//!   about a year after it ships and renames fields between versions (v23 replaced a
//!   campaign's `startDate` with `startDateTime`), so the version is pinned together with
//!   the body shapes written for it.
//! - **Money in micros**: an `int64` of millionths of the account's currency, written as
//!   a JSON string (proto3's JSON form of 64-bit integers). Amounts are converted with
//!   exact decimal arithmetic; one that is not a positive whole number of micros, or does
//!   not fit in an `int64`, is refused before anything is sent.
//! - **No idempotency key**: Google Ads takes none. Instead the names carry the key
//!   (`"Prompt pack [key]"`), and Google refuses a second budget or campaign with a name
//!   already taken (`DUPLICATE_NAME`, `DUPLICATE_CAMPAIGN_NAME`). Before creating, the
//!   client looks the name up with a GAQL search; when a retry whose first attempt's
//!   answer was lost meets the refusal, it looks again and returns what that attempt
//!   made. Ad groups carry the key in their names likewise (`DUPLICATE_ADGROUP_NAME`).
//!   Keywords and ads have no names: each attempt to add them first reads what the ad
//!   group holds (`ad_group_criterion`, `ad_group_ad`) and sends only what is missing.
//!   So [`GoogleAdsClient::launch`] run again after a crash at any point ends with one
//!   budget, one campaign, one ad group, each keyword once and one ad.
//! - **Reports** come from `googleAds:searchStream`: one GAQL query, answered as a JSON
//!   array of batches of rows, cost in micros and counts as strings. A stream can fail
//!   after it started: an `error` among the batches fails the whole read.
//! - **Errors** are `{"error":{"code","message","status","details":[…]}}`, the details
//!   holding a `GoogleAdsFailure` whose `errors[].errorCode` says what is wrong
//!   (`{"campaignError":"DUPLICATE_CAMPAIGN_NAME"}`) with Google's words; a refused
//!   request becomes a rejection carrying them. `RESOURCE_EXHAUSTED` (`429`) names its
//!   wait as a `retryDelay` (a `google.rpc.RetryInfo` detail, or the error's
//!   `quotaErrorDetails`), which the call waits out if its deadline allows.
//!   `CONCURRENT_MODIFICATION`, `TRANSIENT_ERROR` and `5xx` are outages, retried. Google
//!   Ads reports no remaining quota in its headers, so the connection's bucket is not
//!   fed.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::oauth::{ClientAuthentication, OAuthApplication, OAuthSecret, OAuthSession};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings, whole_seconds};
use crate::rest;
use crate::{AdAccount, AdChannel, AdapterError, CampaignDay, CampaignRef, CampaignSpec, IdempotencyKey, Platform};

/// Where the API is.
pub const GOOGLE_ADS_API_BASE: &str = "https://googleads.googleapis.com";
/// The API version every path names (released October 2026; Google sunsets a version
/// about a year after its release).
pub const GOOGLE_ADS_API_VERSION: &str = "v26";
/// The longest budget, campaign or ad group name Google Ads takes, the key's suffix
/// included.
pub const GOOGLE_ADS_MAX_NAME_CHARS: usize = 255;
/// The longest headline of a responsive search ad.
pub const GOOGLE_ADS_MAX_HEADLINE_CHARS: usize = 30;
/// The longest description of a responsive search ad.
pub const GOOGLE_ADS_MAX_DESCRIPTION_CHARS: usize = 90;
/// The longest keyword text.
pub const GOOGLE_ADS_MAX_KEYWORD_CHARS: usize = 80;

/// How many headlines a responsive search ad holds, at least and at most.
const HEADLINES: std::ops::RangeInclusive<usize> = 3..=15;
/// How many descriptions it holds.
const DESCRIPTIONS: std::ops::RangeInclusive<usize> = 2..=4;
/// The most words a keyword has.
const MAX_KEYWORD_WORDS: usize = 10;
/// Symbols Google refuses in a keyword's text (`KEYWORD_HAS_INVALID_CHARS`).
const KEYWORD_REFUSED_SYMBOLS: &[char] =
    &['!', '@', '%', '^', '*', '(', ')', '=', '{', '}', ';', '~', '`', '<', '>', '?', '\\', '|', ','];

/// The ad group's manual CPC bid is the day's budget over this many clicks: a bid
/// that a single click cannot spend the day on, yet high enough to win some auctions.
const BUDGETED_CLICKS_PER_DAY: u32 = 20;
/// The lowest bid (one cent).
const MIN_CPC_BID_CENTS: i64 = 1;

const PLATFORM: Platform = Platform::GoogleAds;

/// Micros in one unit of the account's currency.
const MICROS_PER_UNIT: i64 = 1_000_000;

/// The wait after a quota refusal that names none: long enough for a per-minute window
/// to move on.
const UNSAID_QUOTA_WAIT: Duration = Duration::from_secs(30);

/// A connection to one Google Ads account, through the platform's Google application and
/// developer token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GoogleAdsConnection {
    /// The API's origin: [`GOOGLE_ADS_API_BASE`], or a test server.
    pub api_base_url: String,
    /// The token endpoint: [`GOOGLE_TOKEN_URL`](crate::GOOGLE_TOKEN_URL), or a test
    /// server's.
    pub token_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: OAuthSecret,
    /// The refresh token the account's owner granted (scope `adwords`).
    pub refresh_token: OAuthSecret,
    /// The platform's developer token.
    pub developer_token: OAuthSecret,
    /// The account's customer id: ten digits, dashes allowed (`123-456-7890`).
    pub customer_id: String,
    /// The manager account's customer id, when the account is reached through one.
    pub login_customer_id: Option<String>,
}

/// A connection once checked: what every request is built from.
struct CheckedConnection {
    api: String,
    customer_id: String,
    login_customer_id: Option<String>,
}

impl GoogleAdsConnection {
    fn check(&self) -> Result<CheckedConnection, AdapterError> {
        let api = rest::origin(PLATFORM, "Google Ads API address", &self.api_base_url, GOOGLE_ADS_API_BASE)?;
        if self.client_id.trim().is_empty()
            || self.client_secret.is_malformed()
            || self.refresh_token.is_malformed()
            || self.developer_token.is_malformed()
        {
            return Err(AdapterError::rejected(
                PLATFORM,
                "the Google Ads client id, client secret, refresh token or developer token is empty or malformed",
            ));
        }
        let customer_id = customer_digits("customer id", &self.customer_id)?;
        let login_customer_id =
            self.login_customer_id.as_deref().map(|id| customer_digits("login customer id", id)).transpose()?;
        Ok(CheckedConnection { api, customer_id, login_customer_id })
    }
}

/// Whether a campaign serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoogleAdsCampaignStatus {
    /// It serves (once it has ad groups and ads).
    Enabled,
    /// It does not serve.
    Paused,
}

impl GoogleAdsCampaignStatus {
    /// Google's name for it (`ENABLED`, `PAUSED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Paused => "PAUSED",
        }
    }
}

/// What a launch made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleAdsLaunch {
    /// The budget's resource name (`customers/{id}/campaignBudgets/{id}`).
    pub budget: String,
    /// The campaign's resource name (`customers/{id}/campaigns/{id}`).
    pub campaign: String,
    /// The ad group's resource name (`customers/{id}/adGroups/{id}`).
    pub ad_group: String,
    /// The keywords' resource names (`customers/{id}/adGroupCriteria/{ad group}~{id}`).
    pub keywords: Vec<String>,
    /// The responsive search ad's resource name (`customers/{id}/adGroupAds/…`).
    pub ad: String,
    /// The name the budget, campaign and ad group carry, the key's suffix included.
    pub name: String,
}

/// A responsive search ad's copy and its keywords, within Google's limits: made only by
/// [`SearchAdCopy::parse`], so a launch holding one has nothing left for Google to
/// refuse in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchAdCopy {
    final_url: String,
    headlines: Vec<String>,
    descriptions: Vec<String>,
    keywords: Vec<String>,
}

impl SearchAdCopy {
    /// `creative` as a search ad, or a rejection saying what is missing or too long.
    /// Blank and repeated lines are dropped; headlines past the fifteenth and
    /// descriptions past the fourth are left out (the first are the strongest); a
    /// keyword Google would refuse is left out, and copy with none left is refused.
    pub fn parse(creative: &crate::AdCreative) -> Result<Self, AdapterError> {
        let final_url = landing_url(&creative.landing_url)?;
        let headlines = ad_lines("headline", &creative.headlines, GOOGLE_ADS_MAX_HEADLINE_CHARS, HEADLINES)?;
        let descriptions =
            ad_lines("description", &creative.descriptions, GOOGLE_ADS_MAX_DESCRIPTION_CHARS, DESCRIPTIONS)?;
        let mut keywords: Vec<String> = Vec::new();
        for raw in &creative.keywords {
            let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            match keyword_refusal(&text) {
                Some(reason) => tracing::info!(keyword = %raw, reason, "left out: Google Ads would refuse it"),
                None if keywords.iter().any(|kept| kept.eq_ignore_ascii_case(&text)) => {}
                None => keywords.push(text),
            }
        }
        if keywords.is_empty() {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!(
                    "a search ad needs at least one keyword Google Ads takes (at most {GOOGLE_ADS_MAX_KEYWORD_CHARS} \
                     characters and {MAX_KEYWORD_WORDS} words, none of {}); of {:?} none is",
                    KEYWORD_REFUSED_SYMBOLS.iter().collect::<String>(),
                    creative.keywords
                ),
            ));
        }
        Ok(Self { final_url, headlines, descriptions, keywords })
    }

    /// Where the ad leads.
    pub fn final_url(&self) -> &str {
        &self.final_url
    }

    /// The headlines sent, in order.
    pub fn headlines(&self) -> &[String] {
        &self.headlines
    }

    /// The descriptions sent, in order.
    pub fn descriptions(&self) -> &[String] {
        &self.descriptions
    }

    /// The keywords sent, as phrase matches.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }
}

/// `raw` as an ad's final URL: `http` or `https` with a host.
fn landing_url(raw: &str) -> Result<String, AdapterError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(AdapterError::rejected(
            PLATFORM,
            "a search ad needs the product's page to lead to, and the flight names none (no landing URL)",
        ));
    }
    match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(raw.to_owned()),
        _ => Err(AdapterError::rejected(
            PLATFORM,
            format!("{raw:?} is not a web page an ad can lead to (an http or https address)"),
        )),
    }
}

/// An ad's headlines or descriptions (`what`): trimmed, blank and repeated ones dropped,
/// each at most `limit` characters, as many as `count` allows (the first kept).
fn ad_lines(
    what: &str,
    lines: &[String],
    limit: usize,
    count: std::ops::RangeInclusive<usize>,
) -> Result<Vec<String>, AdapterError> {
    let mut kept: Vec<String> = Vec::new();
    for line in lines {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() || kept.iter().any(|known| known.eq_ignore_ascii_case(&line)) {
            continue;
        }
        let length = line.chars().count();
        if length > limit {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("the {what} {line:?} has {length} characters; a Google Ads {what} has at most {limit}"),
            ));
        }
        kept.push(line);
    }
    if kept.len() < *count.start() {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!(
                "a responsive search ad needs at least {} different {what}s; the copy has {}",
                count.start(),
                kept.len()
            ),
        ));
    }
    kept.truncate(*count.end());
    Ok(kept)
}

/// Why Google would refuse `text` as a keyword, if it would.
fn keyword_refusal(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("empty")
    } else if text.chars().count() > GOOGLE_ADS_MAX_KEYWORD_CHARS {
        Some("longer than 80 characters")
    } else if text.split_whitespace().count() > MAX_KEYWORD_WORDS {
        Some("more than ten words")
    } else if text.contains(KEYWORD_REFUSED_SYMBOLS) || text.chars().any(char::is_control) {
        Some("a symbol keywords cannot hold")
    } else {
        None
    }
}

/// One campaign's day, as Google Ads reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleAdsCampaignDay {
    /// The campaign's resource name.
    pub campaign: String,
    /// Its name.
    pub name: String,
    /// The day, in the account's time zone.
    pub date: NaiveDate,
    /// What the day cost, in the account's currency, exactly.
    pub spend: Decimal,
    /// Times its ads were shown.
    pub impressions: u64,
    /// Clicks on them.
    pub clicks: u64,
    /// Conversions counted (fractional under data-driven attribution), exactly as Google
    /// wrote them.
    pub conversions: Decimal,
}

/// A client of one Google Ads account; see the module's notes.
#[derive(Clone)]
pub struct GoogleAdsClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    api: String,
    customer_id: String,
    login_customer_id: Option<String>,
    developer_token: OAuthSecret,
    http: reqwest::Client,
    resilience: Resilience,
    oauth: OAuthSession,
}

impl fmt::Debug for GoogleAdsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleAdsClient")
            .field("api", &self.shared.api)
            .field("customer_id", &self.shared.customer_id)
            .field("login_customer_id", &self.shared.login_customer_id)
            .field("oauth", &self.shared.oauth)
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The things a launch creates once per name.
#[derive(Debug, Clone, Copy)]
enum Creation {
    Budget,
    Campaign,
    AdGroup,
}

impl Creation {
    fn operation(self) -> &'static str {
        match self {
            Self::Budget => "create_budget",
            Self::Campaign => "create_campaign",
            Self::AdGroup => "create_ad_group",
        }
    }

    /// The mutate method, after `customers/{id}/`.
    fn method(self) -> &'static str {
        match self {
            Self::Budget => "campaignBudgets:mutate",
            Self::Campaign => "campaigns:mutate",
            Self::AdGroup => "adGroups:mutate",
        }
    }

    /// The GAQL resource, and its key in a row of the answer.
    fn resource(self) -> (&'static str, &'static str) {
        match self {
            Self::Budget => ("campaign_budget", "campaignBudget"),
            Self::Campaign => ("campaign", "campaign"),
            Self::AdGroup => ("ad_group", "adGroup"),
        }
    }

    /// The error Google refuses a taken name with.
    fn name_taken(self) -> (&'static str, &'static str) {
        match self {
            Self::Budget => ("campaignBudgetError", "DUPLICATE_NAME"),
            Self::Campaign => ("campaignError", "DUPLICATE_CAMPAIGN_NAME"),
            Self::AdGroup => ("adGroupError", "DUPLICATE_ADGROUP_NAME"),
        }
    }
}

impl GoogleAdsClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: GoogleAdsConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address, the credentials or the customer ids cannot make a
    /// request.
    pub fn with_settings(connection: GoogleAdsConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let checked = connection.check()?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.budget.per_request_timeout)
            .build()
            .map_err(|error| AdapterError::rejected(PLATFORM, format!("cannot build the HTTP client: {error}")))?;
        let application = OAuthApplication {
            token_url: connection.token_url,
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            authentication: ClientAuthentication::InBody,
        };
        let oauth = OAuthSession::new(PLATFORM, application, connection.refresh_token, http.clone());
        let shared = Shared {
            api: checked.api,
            customer_id: checked.customer_id,
            login_customer_id: checked.login_customer_id,
            developer_token: connection.developer_token,
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

    /// The connection's tokens, and whether the owner must connect again.
    pub fn oauth(&self) -> &OAuthSession {
        &self.shared.oauth
    }

    /// The account's customer id, ten digits.
    pub fn customer_id(&self) -> &str {
        &self.shared.customer_id
    }

    /// Makes a daily budget and a paused Search campaign on it serving from `start`
    /// to `end` (or at once and for good), an ad group in it bid at a twentieth of the
    /// day's budget, the copy's keywords as phrase matches and its responsive search
    /// ad, the named ones named `name` with `key`'s suffix, and returns them. Run again
    /// with the same key (after a crash, a time-out or a restart, at any point), it
    /// makes only what the earlier run did not, and returns the same objects.
    ///
    /// The campaign is left paused, as Google advises: enable it with
    /// [`GoogleAdsClient::set_campaign_status`] when it should serve.
    pub async fn launch(
        &self,
        name: &str,
        daily_amount: Decimal,
        copy: &SearchAdCopy,
        (start, end): (Option<NaiveDate>, Option<NaiveDate>),
        key: &IdempotencyKey,
    ) -> Result<GoogleAdsLaunch, AdapterError> {
        let keyed = keyed_name(name, key)?;
        micros(daily_amount)?;
        let cpc_bid = cpc_bid_for(daily_amount);
        // One deadline for every step: a launch is one call to its caller.
        let client = self.until(self.deadline());
        let budget = client.create_budget(name, daily_amount, key).await?;
        let campaign = client.create_search_campaign(name, &budget, start, end, key).await?;
        let ad_group = client.create_ad_group(name, &campaign, cpc_bid, key).await?;
        let keywords = client.add_keywords(&ad_group, copy.keywords()).await?;
        let ad = client.create_responsive_search_ad(&ad_group, copy).await?;
        Ok(GoogleAdsLaunch { budget, campaign, ad_group, keywords, ad, name: keyed })
    }

    /// Makes a daily budget of `daily_amount` (in the account's currency) named `name`
    /// with `key`'s suffix, not shared between campaigns, and returns its resource
    /// name; or, if one with that name is there already, returns it.
    pub async fn create_budget(
        &self,
        name: &str,
        daily_amount: Decimal,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        let amount_micros = micros(daily_amount)?;
        let create = json!({
            "name": name,
            "amountMicros": amount_micros.to_string(),
            "deliveryMethod": "STANDARD",
            "explicitlyShared": false,
        });
        self.create_named(Creation::Budget, &name, None, create, self.deadline()).await
    }

    /// Makes a paused Search campaign named `name` with `key`'s suffix on `budget` (a
    /// budget's resource name in this account), bid by manual CPC on Google Search and
    /// its search partners, serving from `start` (or at once) to `end` (or for good) in
    /// the account's time zone, and returns its resource name; or, if one with that
    /// name is there already, returns it.
    ///
    /// It declares that the campaign holds no EU political advertising, as every new
    /// campaign must say one way or the other: the businesses this runtime builds sell
    /// products, and political ads are not among what they may run.
    pub async fn create_search_campaign(
        &self,
        name: &str,
        budget: &str,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        self.check_resource(budget, "campaignBudgets")?;
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("a campaign cannot end ({end}) before it starts ({start})"),
            ));
        }
        let mut create = json!({
            "name": name,
            "status": GoogleAdsCampaignStatus::Paused.as_str(),
            "advertisingChannelType": "SEARCH",
            "campaignBudget": budget,
            "manualCpc": {},
            "networkSettings": {
                "targetGoogleSearch": true,
                "targetSearchNetwork": true,
                "targetContentNetwork": false,
                "targetPartnerSearchNetwork": false,
            },
            "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
        });
        // Whole days: the first second of the first and the last second of the last.
        if let Some(start) = start {
            create["startDateTime"] = json!(format!("{start} 00:00:00"));
        }
        if let Some(end) = end {
            create["endDateTime"] = json!(format!("{end} 23:59:59"));
        }
        self.create_named(Creation::Campaign, &name, None, create, self.deadline()).await
    }

    /// Makes an enabled standard Search ad group named `name` with `key`'s suffix in
    /// `campaign` (a campaign of this account), bidding `cpc_bid` (in the account's
    /// currency) a click, and returns its resource name; or, if the campaign holds one
    /// with that name already, returns it.
    pub async fn create_ad_group(
        &self,
        name: &str,
        campaign: &str,
        cpc_bid: Decimal,
        key: &IdempotencyKey,
    ) -> Result<String, AdapterError> {
        let name = keyed_name(name, key)?;
        self.check_resource(campaign, "campaigns")?;
        let bid_micros = micros(cpc_bid)?;
        let create = json!({
            "name": name,
            "campaign": campaign,
            "status": "ENABLED",
            "type": "SEARCH_STANDARD",
            "cpcBidMicros": bid_micros.to_string(),
        });
        let within = ("ad_group.campaign", campaign);
        self.create_named(Creation::AdGroup, &name, Some(within), create, self.deadline()).await
    }

    /// Adds `keywords` to `ad_group` (an ad group of this account) as enabled phrase
    /// matches, leaving out those it holds already, and returns the resource names of
    /// all of them. Each attempt reads what the ad group holds before it sends, so one
    /// retried after its predecessor's answer was lost adds nothing twice.
    pub async fn add_keywords(&self, ad_group: &str, keywords: &[String]) -> Result<Vec<String>, AdapterError> {
        const OPERATION: &str = "add_keywords";
        self.check_resource(ad_group, "adGroups")?;
        if let Some((keyword, reason)) =
            keywords.iter().find_map(|keyword| keyword_refusal(keyword).map(|reason| (keyword, reason)))
        {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("{OPERATION}: Google Ads would refuse the keyword {keyword:?} ({reason})"),
            ));
        }
        let deadline = self.deadline();
        let query = format!(
            "SELECT ad_group_criterion.resource_name, ad_group_criterion.keyword.text, \
             ad_group_criterion.keyword.match_type FROM ad_group_criterion \
             WHERE ad_group_criterion.ad_group = {} AND ad_group_criterion.type = 'KEYWORD' \
             AND ad_group_criterion.status != 'REMOVED'",
            gaql_string(ad_group)
        );
        let query = &query;
        self.shared
            .resilience
            .run(OPERATION, 1.0, deadline, || async move {
                let rows = self.search_once(OPERATION, query, deadline).await?;
                let mut held = Vec::new();
                let mut missing: Vec<&String> = keywords.iter().collect();
                for row in &rows {
                    let criterion = row.get("adGroupCriterion");
                    let text = criterion.and_then(|found| found.pointer("/keyword/text")).and_then(Value::as_str);
                    let phrase =
                        criterion.and_then(|found| found.pointer("/keyword/matchType")).and_then(Value::as_str)
                            == Some("PHRASE");
                    let resource = criterion.and_then(|found| found.get("resourceName")).and_then(Value::as_str);
                    if let (Some(text), Some(resource), true) = (text, resource, phrase) {
                        let before = missing.len();
                        missing.retain(|keyword| !keyword.eq_ignore_ascii_case(text));
                        if missing.len() < before {
                            held.push(resource.to_owned());
                        }
                    }
                }
                if missing.is_empty() {
                    return Ok(held);
                }
                // One request for all of them: without `partialFailure` Google makes all
                // or none, so a refusal leaves nothing half-added.
                let operations: Vec<Value> = missing
                    .iter()
                    .map(|text| {
                        json!({ "create": {
                            "adGroup": ad_group,
                            "status": "ENABLED",
                            "keyword": { "text": text, "matchType": "PHRASE" },
                        } })
                    })
                    .collect();
                let body = json!({ "operations": operations });
                match self.send(OPERATION, "adGroupCriteria:mutate", &body, deadline).await? {
                    Answer::Done(answer) => {
                        held.extend(mutated_resources(OPERATION, &answer, missing.len())?);
                        Ok(held)
                    }
                    Answer::Refused(failure) => Err(failure.into_error(OPERATION)),
                }
            })
            .await
    }

    /// Makes an enabled responsive search ad of `copy` in `ad_group` (an ad group of
    /// this account) and returns its resource name; or, if the ad group holds an ad
    /// leading to the copy's final URL already, returns that one. Each attempt looks
    /// before it sends, so one retried after its predecessor's answer was lost makes no
    /// second ad.
    pub async fn create_responsive_search_ad(
        &self,
        ad_group: &str,
        copy: &SearchAdCopy,
    ) -> Result<String, AdapterError> {
        const OPERATION: &str = "create_responsive_search_ad";
        self.check_resource(ad_group, "adGroups")?;
        let deadline = self.deadline();
        let query = format!(
            "SELECT ad_group_ad.resource_name, ad_group_ad.ad.final_urls FROM ad_group_ad \
             WHERE ad_group_ad.ad_group = {} AND ad_group_ad.status != 'REMOVED'",
            gaql_string(ad_group)
        );
        let text_assets = |lines: &[String]| lines.iter().map(|text| json!({ "text": text })).collect::<Vec<_>>();
        let body = json!({ "operations": [{ "create": {
            "adGroup": ad_group,
            "status": "ENABLED",
            "ad": {
                "finalUrls": [copy.final_url()],
                "responsiveSearchAd": {
                    "headlines": text_assets(copy.headlines()),
                    "descriptions": text_assets(copy.descriptions()),
                },
            },
        } }] });
        let (query, body) = (&query, &body);
        self.shared
            .resilience
            .run(OPERATION, 1.0, deadline, || async move {
                let rows = self.search_once(OPERATION, query, deadline).await?;
                let existing = rows.iter().find_map(|row| {
                    let ad = row.get("adGroupAd")?;
                    let leads_there = ad
                        .pointer("/ad/finalUrls")?
                        .as_array()?
                        .iter()
                        .any(|url| url.as_str() == Some(copy.final_url()));
                    leads_there.then(|| ad.get("resourceName")?.as_str().map(str::to_owned))?
                });
                if let Some(existing) = existing {
                    tracing::info!(operation = OPERATION, %existing, "the ad group holds the ad; not made again");
                    return Ok(existing);
                }
                match self.send(OPERATION, "adGroupAds:mutate", body, deadline).await? {
                    Answer::Done(answer) => mutated_resource(OPERATION, &answer),
                    Answer::Refused(failure) => Err(failure.into_error(OPERATION)),
                }
            })
            .await
    }

    /// Sets `campaign`'s status (an update with `updateMask: "status"`). Setting the
    /// status it has already is harmless, so the call is safe to retry.
    pub async fn set_campaign_status(
        &self,
        campaign: &str,
        status: GoogleAdsCampaignStatus,
    ) -> Result<(), AdapterError> {
        const OPERATION: &str = "set_campaign_status";
        self.check_resource(campaign, "campaigns")?;
        let deadline = self.deadline();
        let body = json!({
            "operations": [{
                "update": { "resourceName": campaign, "status": status.as_str() },
                "updateMask": "status",
            }],
        });
        let body = &body;
        self.shared
            .resilience
            .run(OPERATION, 1.0, deadline, || async move {
                match self.send(OPERATION, Creation::Campaign.method(), body, deadline).await? {
                    Answer::Done(answer) => mutated_resource(OPERATION, &answer).map(drop),
                    Answer::Refused(failure) => Err(failure.into_error(OPERATION)),
                }
            })
            .await
    }

    /// Every campaign's days from `from` to `to` (both included) that have something to
    /// report, oldest first, read in one `searchStream`.
    pub async fn campaign_metrics(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<GoogleAdsCampaignDay>, AdapterError> {
        const OPERATION: &str = "campaign_metrics";
        if to < from {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!("the report's range ends ({to}) before it starts ({from})"),
            ));
        }
        let query = format!(
            "SELECT campaign.resource_name, campaign.name, metrics.cost_micros, metrics.impressions, \
             metrics.clicks, metrics.conversions, segments.date FROM campaign \
             WHERE segments.date BETWEEN '{from}' AND '{to}'"
        );
        let rows = self.search_stream(OPERATION, &query, self.deadline()).await?;
        let mut days = rows.into_iter().map(campaign_day).collect::<Result<Vec<_>, _>>()?;
        days.sort_by(|a, b| (a.date, &a.campaign).cmp(&(b.date, &b.campaign)));
        Ok(days)
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    /// `resource` is `customers/{this account}/{collection}/{id}`, or a rejection.
    fn check_resource(&self, resource: &str, collection: &str) -> Result<(), AdapterError> {
        let prefix = format!("customers/{}/{collection}/", self.shared.customer_id);
        let id = resource.strip_prefix(&prefix).unwrap_or_default();
        if id.is_empty() || !id.chars().all(|character| character.is_ascii_digit()) {
            return Err(AdapterError::rejected(
                PLATFORM,
                format!(
                    "{resource:?} is not one of this account's {collection} (customers/{{id}}/{collection}/{{id}})"
                ),
            ));
        }
        Ok(())
    }

    /// The resource named `name` (`within` a parent, when its name is unique only
    /// there: `(field, parent)`), found or else created from `create`.
    async fn create_named(
        &self,
        creation: Creation,
        name: &str,
        within: Option<(&str, &str)>,
        create: Value,
        deadline: Instant,
    ) -> Result<String, AdapterError> {
        if let Some(existing) = self.find_named(creation, name, within, deadline).await? {
            tracing::info!(operation = creation.operation(), %existing, "found by its keyed name; not made again");
            return Ok(existing);
        }
        let operation = creation.operation();
        let body = json!({ "operations": [{ "create": create }] });
        let body = &body;
        let made = self
            .shared
            .resilience
            .run(operation, 1.0, deadline, || async move {
                match self.send(operation, creation.method(), body, deadline).await? {
                    Answer::Done(answer) => mutated_resource(operation, &answer).map(Some),
                    Answer::Refused(failure) if failure.has(creation.name_taken()) => Ok(None),
                    Answer::Refused(failure) => Err(failure.into_error(operation)),
                }
            })
            .await?;
        match made {
            Some(resource) => Ok(resource),
            // An earlier attempt made it and its answer was lost (or another run with the
            // same key got there first): the one bearing the name is the one asked for.
            None => self.find_named(creation, name, within, deadline).await?.ok_or_else(|| {
                AdapterError::rejected(
                    PLATFORM,
                    format!(
                        "{operation}: Google Ads refuses {name:?} as taken, yet no {} bears it",
                        creation.resource().0
                    ),
                )
            }),
        }
    }

    /// The resource name of the budget, campaign or ad group (not removed; `within`
    /// the parent, if given) called `name`.
    async fn find_named(
        &self,
        creation: Creation,
        name: &str,
        within: Option<(&str, &str)>,
        deadline: Instant,
    ) -> Result<Option<String>, AdapterError> {
        let (table, row_key) = creation.resource();
        let mut query = format!(
            "SELECT {table}.resource_name, {table}.name FROM {table} \
             WHERE {table}.name = {} AND {table}.status != 'REMOVED'",
            gaql_string(name)
        );
        if let Some((field, parent)) = within {
            query.push_str(&format!(" AND {field} = {}", gaql_string(parent)));
        }
        let rows = self.search_stream("find_by_name", &query, deadline).await?;
        Ok(rows.iter().find_map(|row| {
            let found = row.get(row_key)?;
            (found.get("name")?.as_str()? == name).then(|| found.get("resourceName")?.as_str().map(str::to_owned))?
        }))
    }

    /// Every row `query` selects, the stream's batches joined.
    async fn search_stream(
        &self,
        operation: &'static str,
        query: &str,
        deadline: Instant,
    ) -> Result<Vec<Value>, AdapterError> {
        self.shared.resilience.run(operation, 1.0, deadline, || self.search_once(operation, query, deadline)).await
    }

    /// [`GoogleAdsClient::search_stream`] within an attempt its caller retries as a
    /// whole.
    async fn search_once(&self, operation: &str, query: &str, deadline: Instant) -> Result<Vec<Value>, AdapterError> {
        let body = json!({ "query": query });
        match self.send(operation, "googleAds:searchStream", &body, deadline).await? {
            Answer::Done(answer) => stream_rows(operation, answer),
            Answer::Refused(failure) => Err(failure.into_error(operation)),
        }
    }

    /// One request to `customers/{id}/{method}`, with the current token and once more
    /// with a refreshed one if Google refuses it.
    async fn send(
        &self,
        operation: &str,
        method: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<Answer, AdapterError> {
        let shared = &self.shared;
        tracing::debug!(operation, "Google Ads request");
        let url = format!("{}/{GOOGLE_ADS_API_VERSION}/customers/{}/{method}", shared.api, shared.customer_id);
        let body = body.to_string();
        // `send_bearer` takes only `'static` header values, and the developer token and
        // manager id are the connection's own.
        let (status, _headers, text) = shared
            .oauth
            .send_authorized(operation, deadline, |token| {
                let request = shared
                    .http
                    .post(&url)
                    .bearer_auth(token.expose())
                    .header(ACCEPT, "application/json")
                    .header(CONTENT_TYPE, "application/json")
                    .header("developer-token", shared.developer_token.expose())
                    .body(body.clone());
                match &shared.login_customer_id {
                    Some(manager) => request.header("login-customer-id", manager),
                    None => request,
                }
            })
            .await?;
        if !status.is_success() {
            return Ok(Answer::Refused(GoogleFailure::read(status, &text)));
        }
        serde_json::from_str(&text).map(Answer::Done).map_err(|_| AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: Google Ads answered {status} with a body that is not JSON"),
        })
    }
}

/// What Google answered to a request that reached it.
enum Answer {
    /// The answer's body.
    Done(Value),
    /// Its refusal, read.
    Refused(GoogleFailure),
}

/// A refusal as Google explains it: kept apart from [`AdapterError`] until the caller
/// has looked, since a taken name is not a failure to a create being retried.
#[derive(Debug, Default)]
struct GoogleFailure {
    /// The error's own code (its HTTP status), or the answer's status.
    code: u16,
    /// `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …
    status: String,
    message: String,
    errors: Vec<GoogleAdsError>,
    /// How long Google asked the caller to wait, if it did.
    retry_delay: Option<Duration>,
}

/// One of a `GoogleAdsFailure`'s errors.
#[derive(Debug)]
struct GoogleAdsError {
    /// The error code's kind, like `campaignError`.
    category: String,
    /// The code, like `DUPLICATE_CAMPAIGN_NAME`.
    code: String,
    message: String,
}

impl GoogleFailure {
    /// A refused answer's body: `{"error": …}`, or a stream's `[{"error": …}]`.
    fn read(status: StatusCode, body: &str) -> Self {
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let error = match &value {
            Value::Array(batches) => batches.iter().find_map(|batch| batch.get("error")),
            other => other.get("error"),
        };
        match error {
            Some(error) => Self::from_status(status, error),
            None => Self {
                code: status.as_u16(),
                message: body.chars().take(200).collect::<String>().trim().to_owned(),
                ..Self::default()
            },
        }
    }

    /// A `google.rpc.Status` (an answer's `error`, a stream's, or a
    /// `partialFailureError`).
    fn from_status(answered: StatusCode, error: &Value) -> Self {
        let text = |value: &Value, name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut failure = Self {
            code: error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|code| u16::try_from(code).ok())
                .unwrap_or(answered.as_u16()),
            status: text(error, "status"),
            message: text(error, "message"),
            ..Self::default()
        };
        let mut delays = Vec::new();
        for detail in error.get("details").and_then(Value::as_array).into_iter().flatten() {
            if text(detail, "@type").ends_with("google.rpc.RetryInfo") {
                delays.extend(detail.get("retryDelay").and_then(Value::as_str).and_then(duration));
            }
            for each in detail.get("errors").and_then(Value::as_array).into_iter().flatten() {
                let (category, code) = each
                    .get("errorCode")
                    .and_then(Value::as_object)
                    .and_then(|code| code.iter().next())
                    .map(|(category, code)| (category.clone(), code.as_str().unwrap_or_default().to_owned()))
                    .unwrap_or_default();
                failure.errors.push(GoogleAdsError { category, code, message: text(each, "message") });
                let quota_delay = each.pointer("/details/quotaErrorDetails/retryDelay").and_then(Value::as_str);
                delays.extend(quota_delay.and_then(duration));
            }
        }
        // Two delays for one refusal: the longer keeps the caller clear of both.
        failure.retry_delay = delays.into_iter().max();
        failure
    }

    fn has(&self, (category, code): (&str, &str)) -> bool {
        self.errors.iter().any(|error| error.category == category && error.code == code)
    }

    fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|error| error.code == code)
    }

    /// Google's words: each error's code and message, or the status and message.
    fn describe(&self) -> String {
        if self.errors.is_empty() {
            return format!("{} {}", self.status, self.message).trim().to_owned();
        }
        let errors: Vec<String> =
            self.errors.iter().map(|error| format!("{}.{}: {}", error.category, error.code, error.message)).collect();
        errors.join("; ")
    }

    fn into_error(self, operation: &str) -> AdapterError {
        let said = self.describe();
        let exhausted = self.code == 429
            || self.status == "RESOURCE_EXHAUSTED"
            || self.has_code("RESOURCE_EXHAUSTED")
            || self.has_code("RESOURCE_TEMPORARILY_EXHAUSTED");
        if exhausted {
            let wait = self.retry_delay.unwrap_or(UNSAID_QUOTA_WAIT);
            tracing::info!(operation, %said, wait_secs = wait.as_secs_f64(), "Google Ads quota exhausted");
            return AdapterError::RateLimited { platform: PLATFORM, retry_after_secs: whole_seconds(wait) };
        }
        if self.code == 401 {
            return AdapterError::rejected(
                PLATFORM,
                format!("{operation}: Google Ads refused the credentials even after a fresh access token: {said}"),
            );
        }
        // Google's own advice for these is to try again.
        let transient = self.code >= 500
            || self.status == "ABORTED"
            || self.has_code("CONCURRENT_MODIFICATION")
            || self.has_code("TRANSIENT_ERROR");
        if transient {
            return AdapterError::Unavailable {
                platform: PLATFORM,
                message: format!("{operation}: Google Ads answered {}: {said}", self.code),
            };
        }
        AdapterError::rejected(PLATFORM, format!("{operation}: Google Ads refused it ({}): {said}", self.code))
    }
}

/// The resource a one-operation mutate made or changed, or the refusal hidden in a
/// `partialFailureError`.
fn mutated_resource(operation: &str, answer: &Value) -> Result<String, AdapterError> {
    if let Some(failure) = answer.get("partialFailureError")
        && failure.get("code").and_then(Value::as_u64).is_some_and(|code| code != 0)
    {
        return Err(GoogleFailure::from_status(StatusCode::OK, failure).into_error(operation));
    }
    answer
        .pointer("/results/0/resourceName")
        .and_then(Value::as_str)
        .filter(|resource| !resource.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: Google Ads answered without the resource's name"),
        })
}

/// The resources a mutate of `expected` operations made, in order, or the refusal
/// hidden in a `partialFailureError`.
fn mutated_resources(operation: &str, answer: &Value, expected: usize) -> Result<Vec<String>, AdapterError> {
    mutated_resource(operation, answer)?;
    let made: Vec<String> = answer
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|result| result.get("resourceName")?.as_str())
        .filter(|resource| !resource.is_empty())
        .map(str::to_owned)
        .collect();
    if made.len() != expected {
        return Err(AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: Google Ads answered {} resources for {expected} operations", made.len()),
        });
    }
    Ok(made)
}

/// A manual CPC bid for a day's budget of `daily_amount`: the budget over
/// [`BUDGETED_CLICKS_PER_DAY`], in whole cents (the smallest unit of the currencies the
/// swarm budgets in), at least one.
fn cpc_bid_for(daily_amount: Decimal) -> Decimal {
    let bid = (daily_amount / Decimal::from(BUDGETED_CLICKS_PER_DAY))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    bid.max(Decimal::new(MIN_CPC_BID_CENTS, 2))
}

/// A `searchStream` answer's rows, its batches joined; an error among them fails it.
fn stream_rows(operation: &str, answer: Value) -> Result<Vec<Value>, AdapterError> {
    let Value::Array(batches) = answer else {
        return Err(AdapterError::Unavailable {
            platform: PLATFORM,
            message: format!("{operation}: Google Ads answered a stream that is not an array of batches"),
        });
    };
    let mut rows = Vec::new();
    for mut batch in batches {
        if let Some(error) = batch.get("error") {
            return Err(GoogleFailure::from_status(StatusCode::OK, error).into_error(operation));
        }
        if let Some(Value::Array(results)) = batch.get_mut("results").map(Value::take) {
            rows.extend(results);
        }
    }
    Ok(rows)
}

/// A row of the metrics query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricsRow {
    campaign: RowCampaign,
    /// Absent when every metric is zero.
    #[serde(default)]
    metrics: RowMetrics,
    segments: RowSegments,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowCampaign {
    resource_name: String,
    #[serde(default)]
    name: String,
}

/// proto3 leaves zeros out, and writes `int64`s as strings (a number is read too).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RowMetrics {
    #[serde(default)]
    cost_micros: Option<Value>,
    #[serde(default)]
    impressions: Option<Value>,
    #[serde(default)]
    clicks: Option<Value>,
    #[serde(default)]
    conversions: Option<Value>,
}

#[derive(Deserialize)]
struct RowSegments {
    date: NaiveDate,
}

fn campaign_day(row: Value) -> Result<GoogleAdsCampaignDay, AdapterError> {
    const OPERATION: &str = "campaign_metrics";
    let row: MetricsRow = rest::typed(PLATFORM, OPERATION, row)?;
    let not_shaped = |field: &str| AdapterError::Unavailable {
        platform: PLATFORM,
        message: format!("{OPERATION}: Google Ads answered a {field} that is not what the API documents"),
    };
    let count = |field: &str, value: Option<&Value>| {
        int64(value).and_then(|count| u64::try_from(count).ok()).ok_or_else(|| not_shaped(field))
    };
    let cost_micros = int64(row.metrics.cost_micros.as_ref()).ok_or_else(|| not_shaped("cost"))?;
    Ok(GoogleAdsCampaignDay {
        campaign: row.campaign.resource_name,
        name: row.campaign.name,
        date: row.segments.date,
        spend: money_from_micros(cost_micros),
        impressions: count("impression count", row.metrics.impressions.as_ref())?,
        clicks: count("click count", row.metrics.clicks.as_ref())?,
        conversions: exact_number(row.metrics.conversions.as_ref()).ok_or_else(|| not_shaped("conversion count"))?,
    })
}

/// An `int64` field: absent is zero; a string (proto3's form) or a number.
fn int64(value: Option<&Value>) -> Option<i64> {
    match value {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(text)) => text.parse().ok(),
        Some(Value::Number(number)) => number.as_i64(),
        Some(_) => None,
    }
}

/// A `double` field as the decimal Google wrote (`2.5`, `1e-7`), with no float
/// arithmetic on the way; absent is zero.
fn exact_number(value: Option<&Value>) -> Option<Decimal> {
    let text = match value {
        None | Some(Value::Null) => return Some(Decimal::ZERO),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return None,
    };
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(&text) } else { Decimal::from_str(&text) };
    parsed.ok().map(|number| number.normalize())
}

/// `amount` of the account's currency in micros, exactly, or a rejection.
fn micros(amount: Decimal) -> Result<i64, AdapterError> {
    if amount <= Decimal::ZERO {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("a Google Ads budget must be more than zero, not {amount}"),
        ));
    }
    let too_large = || AdapterError::rejected(PLATFORM, format!("{amount} is more than a Google Ads budget can hold"));
    let micros = amount.checked_mul(Decimal::from(MICROS_PER_UNIT)).ok_or_else(too_large)?;
    if !micros.fract().is_zero() {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("{amount} has more decimal places than Google Ads' micros (six) hold"),
        ));
    }
    micros.to_i64().ok_or_else(too_large)
}

/// `micros` as an amount of the account's currency, exactly.
fn money_from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

/// `name` with `key`'s suffix: what makes a budget or campaign findable again after the
/// answer to its creation was lost.
fn keyed_name(name: &str, key: &IdempotencyKey) -> Result<String, AdapterError> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("{name:?} cannot name a Google Ads budget or campaign (empty, or with control characters)"),
        ));
    }
    let keyed = format!("{name} [{key}]");
    let length = keyed.chars().count();
    if length > GOOGLE_ADS_MAX_NAME_CHARS {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!(
                "a Google Ads name takes at most {GOOGLE_ADS_MAX_NAME_CHARS} characters; this one has {length} with its \
                 key"
            ),
        ));
    }
    Ok(keyed)
}

/// `123-456-7890` as `1234567890`, or a rejection naming `what`.
fn customer_digits(what: &str, raw: &str) -> Result<String, AdapterError> {
    let digits: String = raw.trim().chars().filter(|character| *character != '-').collect();
    if digits.len() != 10 || !digits.chars().all(|character| character.is_ascii_digit()) {
        return Err(AdapterError::rejected(
            PLATFORM,
            format!("{raw:?} is not a Google Ads {what} (ten digits, dashes allowed)"),
        ));
    }
    Ok(digits)
}

/// `text` as a GAQL string literal.
fn gaql_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for character in text.chars() {
        if matches!(character, '\'' | '\\') {
            literal.push('\\');
        }
        literal.push(character);
    }
    literal.push('\'');
    literal
}

/// A protobuf `Duration` in JSON (`"12s"`, `"0.500s"`).
fn duration(text: &str) -> Option<Duration> {
    let seconds = text.trim().strip_suffix('s')?.parse::<f64>().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// A Google Ads account as the swarm's search ads: a flight is a Search campaign on its
/// own daily budget, named after the product with the flight's key, dated from today
/// (UTC) for the flight's days, with one ad group holding the flight's keywords and
/// its responsive search ad, and enabled once all of them are made.
#[async_trait::async_trait]
impl AdAccount for GoogleAdsClient {
    fn channel(&self) -> AdChannel {
        AdChannel::SearchAds
    }

    fn circuit_state(&self) -> CircuitState {
        GoogleAdsClient::circuit_state(self)
    }

    fn oauth(&self) -> &OAuthSession {
        GoogleAdsClient::oauth(self)
    }

    async fn launch(&self, spec: &CampaignSpec, key: &IdempotencyKey) -> Result<CampaignRef, AdapterError> {
        let (name, start, end) = spec.flight_on(PLATFORM, AdChannel::SearchAds, chrono::Utc::now().date_naive())?;
        // Checked before anything is made: a campaign whose ad Google would refuse
        // would hold a budget and serve nothing.
        let copy = SearchAdCopy::parse(&spec.creative)?;
        // One deadline for every step: a launch is one call to its caller.
        let client = self.until(self.deadline());
        let launch = client.launch(&name, spec.daily_budget, &copy, (Some(start), Some(end)), key).await?;
        client.set_campaign_status(&launch.campaign, GoogleAdsCampaignStatus::Enabled).await?;
        Ok(CampaignRef { campaign_id: launch.campaign })
    }

    async fn campaign_days(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<CampaignDay>, AdapterError> {
        Ok(self
            .campaign_metrics(from, to)
            .await?
            .into_iter()
            .map(|day| CampaignDay {
                platform: PLATFORM,
                campaign_id: day.campaign,
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
    use super::*;

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    fn key() -> IdempotencyKey {
        IdempotencyKey::for_step(boardroom_memory::TenantId(7), 1, "ads", "launch")
    }

    #[test]
    fn money_becomes_micros_exactly_or_is_refused() {
        assert_eq!(micros(decimal("12.34")).expect("valid"), 12_340_000);
        assert_eq!(micros(decimal("0.000001")).expect("one micro"), 1);
        assert_eq!(micros(decimal("9223372036854.775807")).expect("the largest"), i64::MAX);
        for bad in ["0", "-5", "0.0000001", "9223372036854.775808", "79228162514264337593543950335"] {
            assert!(!micros(decimal(bad)).expect_err(bad).is_retryable(), "{bad}");
        }
        assert_eq!(money_from_micros(1_234_560_000), decimal("1234.56"));
        assert_eq!(money_from_micros(0), Decimal::ZERO);
    }

    #[test]
    fn customer_ids_lose_their_dashes_and_nothing_else() {
        assert_eq!(customer_digits("customer id", " 123-456-7890 ").expect("valid"), "1234567890");
        for bad in ["", "123-456-789", "123 456 7890", "12345678901", "abc-def-ghij"] {
            assert!(customer_digits("customer id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_carry_the_key_and_fit_googles_limit() {
        let keyed = keyed_name("  Prompt pack ", &key()).expect("valid");
        assert_eq!(keyed, format!("Prompt pack [{}]", key()));
        assert!(keyed_name("", &key()).is_err());
        assert!(keyed_name("two\nlines", &key()).is_err());
        let room = GOOGLE_ADS_MAX_NAME_CHARS - format!(" [{}]", key()).chars().count();
        assert!(keyed_name(&"n".repeat(room), &key()).is_ok());
        assert!(keyed_name(&"n".repeat(room + 1), &key()).is_err());
    }

    #[test]
    fn gaql_strings_escape_quotes_and_backslashes() {
        assert_eq!(gaql_string(r"Founder's \ pack"), r"'Founder\'s \\ pack'");
    }

    #[test]
    fn a_taken_name_is_recognised_and_otherwise_a_rejection_in_googles_words() {
        let body = r#"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
            "errors":[{"errorCode":{"campaignError":"DUPLICATE_CAMPAIGN_NAME"},"message":"Campaign name already exists."}],
            "requestId":"r1"}]}}"#;
        let failure = GoogleFailure::read(StatusCode::BAD_REQUEST, body);
        assert!(failure.has(Creation::Campaign.name_taken()));
        assert!(!failure.has(Creation::Budget.name_taken()));
        let error = failure.into_error("create_campaign");
        assert!(!error.is_retryable());
        assert!(
            error.to_string().contains("campaignError.DUPLICATE_CAMPAIGN_NAME: Campaign name already exists."),
            "{error}"
        );
    }

    #[test]
    fn resource_exhausted_waits_as_long_as_google_says() {
        let retry_info = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Too many requests.",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}"#;
        let quota_details = r#"[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Too many requests.",
            "details":[{"@type":"type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
            "errors":[{"errorCode":{"quotaError":"RESOURCE_TEMPORARILY_EXHAUSTED"},"message":"Too many requests.",
            "details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","retryDelay":"0.500s"}}}]}]}}]"#;
        let unsaid = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Too many requests."}}"#;
        for (body, expected) in [(retry_info, 12), (quota_details, 1), (unsaid, 30)] {
            let error = GoogleFailure::read(StatusCode::TOO_MANY_REQUESTS, body).into_error("op");
            assert!(
                matches!(error, AdapterError::RateLimited { retry_after_secs, .. } if retry_after_secs == expected),
                "{error:?}"
            );
        }
    }

    #[test]
    fn outages_and_concurrent_changes_are_retried_and_the_rest_are_not() {
        let retried = [
            (StatusCode::SERVICE_UNAVAILABLE, "<html>Service Unavailable</html>"),
            (
                StatusCode::CONFLICT,
                r#"{"error":{"code":409,"status":"ABORTED","message":"Multiple requests were attempting to modify the same resource at once.",
                "details":[{"errors":[{"errorCode":{"databaseError":"CONCURRENT_MODIFICATION"},"message":"Retry the request."}]}]}}"#,
            ),
        ];
        for (status, body) in retried {
            assert!(GoogleFailure::read(status, body).into_error("op").is_retryable(), "{body}");
        }
        let refused = GoogleFailure::read(
            StatusCode::FORBIDDEN,
            r#"{"error":{"code":403,"status":"PERMISSION_DENIED","message":"The caller does not have permission"}}"#,
        )
        .into_error("op");
        assert!(!refused.is_retryable());
        assert!(refused.to_string().contains("PERMISSION_DENIED The caller does not have permission"), "{refused}");
    }

    #[test]
    fn a_partial_failure_inside_a_200_is_a_refusal() {
        let answer = json!({ "results": [{}], "partialFailureError": { "code": 3, "message": "Invalid argument.",
            "details": [{ "errors": [{ "errorCode": { "campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT" },
            "message": "The budget amount is not a multiple of the currency's minimum unit." }] }] } });
        let error = mutated_resource("create_budget", &answer).expect_err("refused");
        assert!(
            !error.is_retryable() && error.to_string().contains("NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
            "{error}"
        );
        let made = json!({ "results": [{ "resourceName": "customers/1234567890/campaignBudgets/1" }] });
        assert_eq!(mutated_resource("create_budget", &made).expect("made"), "customers/1234567890/campaignBudgets/1");
    }

    #[test]
    fn report_rows_become_exact_days() {
        let row = json!({
            "campaign": { "resourceName": "customers/1234567890/campaigns/9", "name": "Pack" },
            "metrics": { "costMicros": "1234560000", "impressions": "1000", "clicks": 50, "conversions": 2.5 },
            "segments": { "date": "2026-11-30" },
        });
        let day = campaign_day(row).expect("a day");
        assert_eq!(
            (day.spend, day.impressions, day.clicks, day.conversions),
            (decimal("1234.56"), 1000, 50, decimal("2.5"))
        );
        let quiet = json!({ "campaign": { "resourceName": "customers/1234567890/campaigns/9" },
            "segments": { "date": "2026-11-30" } });
        let day = campaign_day(quiet).expect("zeros left out");
        assert_eq!((day.spend, day.clicks, day.conversions), (Decimal::ZERO, 0, Decimal::ZERO));
        assert_eq!(exact_number(Some(&json!(1e-7))), Some(decimal("0.0000001")));
        let negative = json!({ "campaign": { "resourceName": "c" }, "metrics": { "clicks": "-1" },
            "segments": { "date": "2026-11-30" } });
        assert!(campaign_day(negative).is_err());
    }

    #[test]
    fn connections_never_show_their_secrets() {
        let connection = GoogleAdsConnection {
            api_base_url: GOOGLE_ADS_API_BASE.into(),
            token_url: crate::GOOGLE_TOKEN_URL.into(),
            client_id: "app.apps.googleusercontent.com".into(),
            client_secret: OAuthSecret::new("secret-value"),
            refresh_token: OAuthSecret::new("refresh-value"),
            developer_token: OAuthSecret::new("developer-value"),
            customer_id: "123-456-7890".into(),
            login_customer_id: Some("987-654-3210".into()),
        };
        let checked = connection.check().expect("valid");
        assert_eq!(
            (checked.customer_id.as_str(), checked.login_customer_id.as_deref()),
            ("1234567890", Some("9876543210"))
        );
        let shown = format!("{connection:?}");
        for secret in ["secret-value", "refresh-value", "developer-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let no_token = GoogleAdsConnection { developer_token: OAuthSecret::new(""), ..connection.clone() };
        assert!(no_token.check().is_err());
        let bad_manager = GoogleAdsConnection { login_customer_id: Some("98765".into()), ..connection };
        assert!(bad_manager.check().is_err());
    }
}
