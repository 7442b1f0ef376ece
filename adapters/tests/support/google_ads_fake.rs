//! A local Google Ads API (REST, v26) and Google token endpoint that follow the documented
//! protocol and refuse anything else, for the client's tests (an axum server on
//! `127.0.0.1:0`). Shapes and words follow Google's reference for
//! `CampaignBudgetService.MutateCampaignBudgets`, `CampaignService.MutateCampaigns`,
//! `AdGroupService.MutateAdGroups`, `AdGroupCriterionService.MutateAdGroupCriteria`,
//! `AdGroupAdService.MutateAdGroupAds`, `GoogleAdsService.SearchStream` and its error
//! model (`google.rpc.Status` with a `GoogleAdsFailure` in `details`).
//!
//! What it enforces, as Google does (or, where marked, more strictly):
//! - the token endpoint: a form with `grant_type=refresh_token`, the refresh token, and
//!   the client's id and secret in the body; access tokens last [`ACCESS_TOKEN_SECS`]; a
//!   revoked refresh token is `400 {"error":"invalid_grant"}`;
//! - every API call: `POST /v26/customers/{CUSTOMER_ID}/{method}` (another version: 404;
//!   another account: 403 `USER_PERMISSION_DENIED`), a live bearer token (else 401
//!   `UNAUTHENTICATED`), the `developer-token` (else 401 `DEVELOPER_TOKEN_INVALID`),
//!   `login-customer-id` with the manager's ten digits, as the account is managed (else
//!   403 `USER_PERMISSION_DENIED`), and a JSON body;
//! - mutates: one operation a request (stricter: Google takes up to 10,000) and only the
//!   fields this fake serves, anything else refused as Google's JSON parser refuses an
//!   unknown field (400 `Unknown name`): so v22's `startDate` is refused, as v26 does;
//! - budgets: a `name` no other budget has (`DUPLICATE_NAME`), `amountMicros` as a JSON
//!   string (stricter: Google also reads a number) of a positive whole number of cents of
//!   the account's US dollars (`NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT`), `deliveryMethod`
//!   `STANDARD`, `explicitlyShared` a boolean;
//! - campaigns: a `name` no other campaign that is not removed has
//!   (`DUPLICATE_CAMPAIGN_NAME`), at most 255 characters; a `status` of `PAUSED` or
//!   `ENABLED`; `advertisingChannelType` `SEARCH` (stricter: the only type served); a
//!   `campaignBudget` of this account; one bidding strategy (`manualCpc`,
//!   `maximizeConversions` or `targetSpend`; two are Google's `oneof` parse error);
//!   `containsEuPoliticalAdvertising` (`FieldError.REQUIRED` without it); optional
//!   `networkSettings` of booleans; optional `startDateTime` and `endDateTime` as
//!   `yyyy-MM-dd HH:mm:ss`, the start not in the past nor after the end;
//! - ad groups: a `name` no other ad group of the campaign that is not removed has
//!   (`DUPLICATE_ADGROUP_NAME`), at most 255 characters; a `campaign` of this account
//!   (`RESOURCE_NOT_FOUND`); `status` `ENABLED` or `PAUSED`; `type` `SEARCH_STANDARD`
//!   (stricter: the only type served); `cpcBidMicros` as a JSON string of a positive
//!   whole number of cents;
//! - keywords (ad group criteria): many operations a request, all made or none; each an
//!   `adGroup` of this account, `status` `ENABLED` or `PAUSED`, and a `keyword` with
//!   `text` (at most 80 characters, `KEYWORD_TEXT_TOO_LONG`; at most 10 words,
//!   `KEYWORD_HAS_TOO_MANY_WORDS`; none of Google's refused symbols,
//!   `KEYWORD_HAS_INVALID_CHARS`) and `matchType` `EXACT`, `PHRASE` or `BROAD`. A keyword
//!   the ad group holds already is kept twice here (Google's handling is not served),
//!   so a test counting keywords sees any sent twice;
//! - ads: an `adGroup` of this account, `status` `ENABLED` or `PAUSED`, and an `ad` with
//!   `finalUrls` (at least one, each `http` or `https`) and a `responsiveSearchAd` (the
//!   only ad type served) of 3 to 15 `headlines` of at most 30 characters and 2 to 4
//!   `descriptions` of at most 90 (`collectionSizeError.TOO_FEW`/`TOO_MANY`,
//!   `stringLengthError.TOO_LONG`), each `{text}`;
//! - a campaign's update: `updateMask` naming exactly the fields set besides
//!   `resourceName` (stricter: only `status` is served), of a campaign of this account;
//! - `searchStream`: a GAQL query `SELECT … FROM campaign|campaign_budget|ad_group|
//!   ad_group_criterion|ad_group_ad [WHERE …]` over
//!   the fields it serves, conditions `=` and `!=` on strings and `BETWEEN` on
//!   `segments.date`, joined by `AND`; `segments.date` selected needs a date filter, and
//!   metrics need `segments.date` (stricter); answered as a JSON array of batches of at
//!   most [`BATCH_ROWS`] rows (Google: up to 10,000; few here so that the client's
//!   joining of batches is exercised), `int64`s as strings, and errors inside the array.
//!
//! It counts calls per method, keeps the budgets, campaigns, ad groups, keywords, ads and
//! status updates made and the metrics a test sets per campaign per day, and can be told
//! to answer `RESOURCE_EXHAUSTED` with a `retryDelay`, to fail calls with a `503` before
//! doing them, to expire every access token, to revoke the refresh token, or to cut the
//! connection after doing a call (its answer lost).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use boardroom_adapters::{GoogleAdsConnection, OAuthSecret};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// The version this fake speaks, pinned apart from the client's.
pub(crate) const VERSION: &str = "v26";
/// The Google application the fake knows.
pub(crate) const CLIENT_ID: &str = "fake-ads-client.apps.googleusercontent.com";
pub(crate) const CLIENT_SECRET: &str = "fake-ads-client-secret";
/// The refresh token the account's owner granted.
pub(crate) const REFRESH_TOKEN: &str = "1//fake-ads-refresh";
/// The platform's developer token (22 characters, as Google's are).
pub(crate) const DEVELOPER_TOKEN: &str = "FakeDevToken0123456789";
/// The advertiser's account, and the manager account it is reached through.
pub(crate) const CUSTOMER_ID: &str = "1234567890";
pub(crate) const MANAGER_ID: &str = "9876543210";
/// How long an access token lives (Google: an hour, less a second).
pub(crate) const ACCESS_TOKEN_SECS: u64 = 3599;
/// Rows per batch of a `searchStream` answer.
pub(crate) const BATCH_ROWS: usize = 2;

/// The methods, as counted.
pub(crate) const BUDGETS: &str = "campaignBudgets:mutate";
pub(crate) const CAMPAIGNS: &str = "campaigns:mutate";
pub(crate) const AD_GROUPS: &str = "adGroups:mutate";
pub(crate) const KEYWORDS: &str = "adGroupCriteria:mutate";
pub(crate) const ADS: &str = "adGroupAds:mutate";
pub(crate) const SEARCH_STREAM: &str = "googleAds:searchStream";
pub(crate) const TOKEN: &str = "token";

/// A budget as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeBudget {
    pub(crate) resource_name: String,
    pub(crate) name: String,
    pub(crate) amount_micros: i64,
    pub(crate) delivery_method: String,
    pub(crate) explicitly_shared: bool,
}

/// A campaign as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeCampaign {
    pub(crate) resource_name: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) channel: String,
    pub(crate) budget: String,
    /// `manualCpc`, `maximizeConversions` or `targetSpend`.
    pub(crate) bidding: String,
    pub(crate) eu_political_advertising: String,
    pub(crate) network_settings: Option<Value>,
    pub(crate) start: Option<String>,
    pub(crate) end: Option<String>,
}

/// An ad group as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeAdGroup {
    pub(crate) resource_name: String,
    pub(crate) name: String,
    pub(crate) campaign: String,
    pub(crate) status: String,
    pub(crate) kind: String,
    pub(crate) cpc_bid_micros: i64,
}

/// A keyword (an ad group criterion) as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeKeyword {
    pub(crate) resource_name: String,
    pub(crate) ad_group: String,
    pub(crate) status: String,
    pub(crate) text: String,
    pub(crate) match_type: String,
}

/// A responsive search ad as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeAd {
    pub(crate) resource_name: String,
    pub(crate) ad_group: String,
    pub(crate) status: String,
    pub(crate) final_urls: Vec<String>,
    pub(crate) headlines: Vec<String>,
    pub(crate) descriptions: Vec<String>,
}

/// A campaign update as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusUpdate {
    pub(crate) campaign: String,
    pub(crate) status: String,
    pub(crate) update_mask: String,
}

/// A campaign's day of metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FakeDay {
    pub(crate) cost_micros: i64,
    pub(crate) impressions: u64,
    pub(crate) clicks: u64,
    pub(crate) conversions: f64,
}

#[derive(Default)]
struct AdsState {
    refresh_revoked: bool,
    access_tokens: HashMap<String, Instant>,
    issued: u32,
    next_id: u64,
    budgets: Vec<FakeBudget>,
    campaigns: Vec<FakeCampaign>,
    ad_groups: Vec<FakeAdGroup>,
    keywords: Vec<FakeKeyword>,
    ads: Vec<FakeAd>,
    updates: Vec<StatusUpdate>,
    days: BTreeMap<(String, NaiveDate), FakeDay>,
    /// Per method: refusals left, and the delay each names.
    exhausted: HashMap<String, (u32, Duration)>,
    /// Per method: answers left to lose.
    cuts: HashMap<String, u32>,
    /// Per method: calls left to fail with a `503` before doing anything.
    outages: HashMap<String, u32>,
    calls: HashMap<String, u32>,
    unauthorized: u32,
    /// Each `GoogleAdsFailure` error code refused, as `category.CODE`.
    refusals: Vec<String>,
}

/// A running fake Google Ads.
#[derive(Clone, Default)]
pub(crate) struct GoogleAdsFake {
    state: Arc<Mutex<AdsState>>,
}

/// An answer before it is sent: its status and JSON body.
type Answer = (StatusCode, Value);

impl GoogleAdsFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/{version}/customers/{customer}/{method}", post(api))
            .fallback(|| async { not_found() })
            .with_state(self.clone())
    }

    /// A connection to this fake at `base_url`, with the ids written as people write
    /// them.
    pub(crate) fn connection(base_url: &str) -> GoogleAdsConnection {
        GoogleAdsConnection {
            api_base_url: base_url.to_owned(),
            token_url: format!("{base_url}/token"),
            client_id: CLIENT_ID.to_owned(),
            client_secret: OAuthSecret::new(CLIENT_SECRET),
            refresh_token: OAuthSecret::new(REFRESH_TOKEN),
            developer_token: OAuthSecret::new(DEVELOPER_TOKEN),
            customer_id: "123-456-7890".to_owned(),
            login_customer_id: Some("987-654-3210".to_owned()),
        }
    }

    fn state(&self) -> MutexGuard<'_, AdsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls received by `method` ([`BUDGETS`], [`CAMPAIGNS`], [`SEARCH_STREAM`],
    /// [`TOKEN`]), refused ones included.
    pub(crate) fn calls(&self, method: &str) -> u32 {
        self.state().calls.get(method).copied().unwrap_or(0)
    }

    /// Refreshes asked of the token endpoint, granted or not.
    pub(crate) fn refreshes(&self) -> u32 {
        self.calls(TOKEN)
    }

    /// API calls refused for their bearer token.
    pub(crate) fn unauthorized(&self) -> u32 {
        self.state().unauthorized
    }

    pub(crate) fn budgets(&self) -> Vec<FakeBudget> {
        self.state().budgets.clone()
    }

    pub(crate) fn campaigns(&self) -> Vec<FakeCampaign> {
        self.state().campaigns.clone()
    }

    pub(crate) fn ad_groups(&self) -> Vec<FakeAdGroup> {
        self.state().ad_groups.clone()
    }

    pub(crate) fn keywords(&self) -> Vec<FakeKeyword> {
        self.state().keywords.clone()
    }

    pub(crate) fn ads(&self) -> Vec<FakeAd> {
        self.state().ads.clone()
    }

    /// The next `times` calls to `method` fail with `503 UNAVAILABLE`, nothing done.
    pub(crate) fn fail_calls(&self, method: &str, times: u32) {
        self.state().outages.insert(method.to_owned(), times);
    }

    pub(crate) fn status_updates(&self) -> Vec<StatusUpdate> {
        self.state().updates.clone()
    }

    /// The `GoogleAdsFailure` codes refused so far (`campaignError.DUPLICATE_CAMPAIGN_NAME`).
    pub(crate) fn refusals(&self) -> Vec<String> {
        self.state().refusals.clone()
    }

    /// `campaign` had `day` on `date`.
    pub(crate) fn set_day(&self, campaign: &str, date: NaiveDate, day: FakeDay) {
        self.state().days.insert((campaign.to_owned(), date), day);
    }

    /// The next `times` calls to `method` are refused with `RESOURCE_EXHAUSTED`, naming
    /// `retry_delay`.
    pub(crate) fn exhaust_quota(&self, method: &str, times: u32, retry_delay: Duration) {
        self.state().exhausted.insert(method.to_owned(), (times, retry_delay));
    }

    /// Every access token handed out stops working now.
    pub(crate) fn expire_access_tokens(&self) {
        self.state().access_tokens.clear();
    }

    /// The owner revokes the application's access.
    pub(crate) fn revoke_refresh_token(&self) {
        let mut state = self.state();
        state.refresh_revoked = true;
        state.access_tokens.clear();
    }

    /// The next `times` calls to `method` are done as asked (made, or refused), then the
    /// connection is cut before their answer is whole.
    pub(crate) fn cut_answers(&self, method: &str, times: u32) {
        self.state().cuts.insert(method.to_owned(), times);
    }
}

fn count(fake: &GoogleAdsFake, method: &str) {
    *fake.state().calls.entry(method.to_owned()).or_default() += 1;
}

impl AdsState {
    /// The delay to name if `method`'s next call is to be refused for its quota.
    fn take_exhaustion(&mut self, method: &str) -> Option<Duration> {
        let (left, delay) = self.exhausted.get_mut(method)?;
        *left = left.checked_sub(1)?;
        Some(*delay)
    }

    /// Whether `method`'s next answer is to be lost.
    fn take_cut(&mut self, method: &str) -> bool {
        self.cuts.get_mut(method).and_then(|left| left.checked_sub(1).map(|now| *left = now)).is_some()
    }

    /// Whether `method`'s next call is to fail before it is done.
    fn take_outage(&mut self, method: &str) -> bool {
        self.outages.get_mut(method).and_then(|left| left.checked_sub(1).map(|now| *left = now)).is_some()
    }
}

fn status_name(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        429 => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        503 => ("UNAVAILABLE", "The service is currently unavailable."),
        _ => ("INTERNAL", "Internal error encountered."),
    }
}

/// Google's refusal with one `GoogleAdsFailure` error, recorded for the tests; `at` is
/// the field's path under the request's one operation (`create.name`), if any.
fn failure(
    fake: &GoogleAdsFake,
    status: StatusCode,
    (category, code): (&str, &str),
    message: &str,
    at: &str,
) -> Answer {
    let mut state = fake.state();
    state.refusals.push(format!("{category}.{code}"));
    state.next_id += 1;
    let request_id = format!("fake-request-{}", state.next_id);
    drop(state);
    let mut error = json!({ "errorCode": { category: code }, "message": message });
    if !at.is_empty() {
        let mut path = vec![json!({ "fieldName": "operations", "index": 0 })];
        path.extend(at.split('.').map(|name| json!({ "fieldName": name })));
        error["location"] = json!({ "fieldPathElements": path });
    }
    let (name, words) = status_name(status);
    let body = json!({ "error": {
        "code": status.as_u16(),
        "message": words,
        "status": name,
        "details": [{
            "@type": format!("type.googleapis.com/google.ads.googleads.{VERSION}.errors.GoogleAdsFailure"),
            "errors": [error],
            "requestId": request_id,
        }],
    } });
    (status, body)
}

/// `FieldError.REQUIRED` for the field at `at`.
fn required(fake: &GoogleAdsFake, at: &str) -> Answer {
    failure(fake, StatusCode::BAD_REQUEST, ("fieldError", "REQUIRED"), "The required field was not present.", at)
}

/// `RESOURCE_EXHAUSTED`, naming `delay` both ways Google does: in the quota error's
/// details and as a `google.rpc.RetryInfo`.
fn resource_exhausted(fake: &GoogleAdsFake, delay: Duration) -> Answer {
    let delay = if delay.subsec_nanos() == 0 {
        format!("{}s", delay.as_secs())
    } else {
        format!("{}.{:03}s", delay.as_secs(), delay.subsec_millis())
    };
    let code = ("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED");
    let (status, mut body) =
        failure(fake, StatusCode::TOO_MANY_REQUESTS, code, &format!("Too many requests. Retry in {delay}."), "");
    body["error"]["details"][0]["errors"][0]["details"] = json!({ "quotaErrorDetails": {
        "rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": delay,
    } });
    if let Some(details) = body["error"]["details"].as_array_mut() {
        details.push(json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay }));
    }
    (status, body)
}

/// Google's refusal of a body its JSON parser cannot map onto the request's message.
fn invalid_json(at: &str, description: &str) -> Answer {
    let message = format!("Invalid JSON payload received. {description}");
    let body = json!({ "error": {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{ "field": at, "description": message }],
        }],
    } });
    (StatusCode::BAD_REQUEST, body)
}

/// Google's refusal of an unknown field, for the first of `object`'s fields not in
/// `served`.
fn unknown_field(object: &Map<String, Value>, served: &[&str], at: &str) -> Option<Answer> {
    let unknown = object.keys().find(|name| !served.contains(&name.as_str()))?;
    Some(invalid_json(at, &format!("Unknown name \"{unknown}\" at '{at}': Cannot find field.")))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], "<h1>Error 404 (Not Found)!!1</h1>")
        .into_response()
}

fn render((status, body): Answer, stream: bool) -> Response {
    // A stream's refusal comes inside the stream's array.
    let body = if stream && !status.is_success() { json!([body]) } else { body };
    (status, axum::Json(body)).into_response()
}

/// An answer cut off: the head promises more than the body holds, so the server closes
/// the connection once the body ends, and the client reads an incomplete message.
fn cut_off() -> Response {
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], "[{\"res").into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
    response
}

async fn token(State(fake): State<GoogleAdsFake>, headers: HeaderMap, body: Bytes) -> Response {
    count(&fake, TOKEN);
    let refuse = |status: StatusCode, error: &str, description: &str| {
        (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
    };
    if headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Invalid Content-Type.");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "The OAuth client was not found.");
    }
    if field("grant_type") != Some("refresh_token") {
        return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type.");
    }
    let mut state = fake.state();
    if state.refresh_revoked || field("refresh_token") != Some(REFRESH_TOKEN) {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
    }
    state.issued += 1;
    let access = format!("ya29.fake-ads-{}", state.issued);
    state.access_tokens.insert(access.clone(), Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECS));
    axum::Json(json!({
        "access_token": access,
        "expires_in": ACCESS_TOKEN_SECS,
        "scope": "https://www.googleapis.com/auth/adwords",
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn api(
    State(fake): State<GoogleAdsFake>,
    Path((version, customer, method)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    count(&fake, &method);
    if version != VERSION || ![BUDGETS, CAMPAIGNS, AD_GROUPS, KEYWORDS, ADS, SEARCH_STREAM].contains(&method.as_str()) {
        return not_found();
    }
    if fake.state().take_outage(&method) {
        let (name, words) = status_name(StatusCode::SERVICE_UNAVAILABLE);
        let body = json!({ "error": { "code": 503, "message": words, "status": name } });
        return render((StatusCode::SERVICE_UNAVAILABLE, body), method == SEARCH_STREAM);
    }
    let answer = match admit(&fake, &customer, &headers) {
        Err(refusal) => refusal,
        Ok(()) => {
            let exhausted = fake.state().take_exhaustion(&method);
            match (exhausted, serde_json::from_slice::<Value>(&body)) {
                (Some(delay), _) => resource_exhausted(&fake, delay),
                (None, Err(_)) => invalid_json("", "The body is not JSON."),
                (None, Ok(request)) if method == BUDGETS => mutate_budgets(&fake, &request),
                (None, Ok(request)) if method == CAMPAIGNS => mutate_campaigns(&fake, &request),
                (None, Ok(request)) if method == AD_GROUPS => mutate_ad_groups(&fake, &request),
                (None, Ok(request)) if method == KEYWORDS => mutate_keywords(&fake, &request),
                (None, Ok(request)) if method == ADS => mutate_ads(&fake, &request),
                (None, Ok(request)) => search_stream(&fake, &request),
            }
        }
    };
    if fake.state().take_cut(&method) {
        return cut_off();
    }
    render(answer, method == SEARCH_STREAM)
}

/// The checks every API call passes before its body is read: the token, the developer
/// token, the manager, the account and the body's type.
fn admit(fake: &GoogleAdsFake, customer: &str, headers: &HeaderMap) -> Result<(), Answer> {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let bearer = header_text(header::AUTHORIZATION.as_str()).strip_prefix("Bearer ").unwrap_or_default();
    {
        let mut state = fake.state();
        let live = state.access_tokens.get(bearer).is_some_and(|expires| *expires > Instant::now());
        if !live {
            state.unauthorized += 1;
            let (name, words) = status_name(StatusCode::UNAUTHORIZED);
            return Err((
                StatusCode::UNAUTHORIZED,
                json!({ "error": { "code": 401, "message": words, "status": name } }),
            ));
        }
    }
    if header_text("developer-token") != DEVELOPER_TOKEN {
        let code = ("authenticationError", "DEVELOPER_TOKEN_INVALID");
        return Err(failure(fake, StatusCode::UNAUTHORIZED, code, "The developer token is not valid.", ""));
    }
    if header_text("login-customer-id") != MANAGER_ID || customer != CUSTOMER_ID {
        return Err(failure(
            fake,
            StatusCode::FORBIDDEN,
            ("authorizationError", "USER_PERMISSION_DENIED"),
            "User doesn't have permission to access customer. Note: If you're accessing a client customer, the \
             manager's customer id must be set in the 'login-customer-id' header.",
            "",
        ));
    }
    if header_text(header::CONTENT_TYPE.as_str()) != "application/json" {
        return Err(invalid_json("", "Content-Type must be application/json."));
    }
    Ok(())
}

/// The request's one operation (stricter: Google takes many, and `partialFailure`,
/// `validateOnly` and `responseContentType` beside them).
fn one_operation<'a>(fake: &GoogleAdsFake, request: &'a Value) -> Result<&'a Map<String, Value>, Answer> {
    let Some(request) = request.as_object() else {
        return Err(invalid_json("", "Expected an object."));
    };
    if let Some(refusal) = unknown_field(request, &["operations"], "") {
        return Err(refusal);
    }
    let operations = request.get("operations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    match operations {
        [] => Err(failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("fieldError", "REQUIRED_NONEMPTY_LIST"),
            "Field must contain at least one element.",
            "",
        )),
        [operation] => operation.as_object().ok_or_else(|| invalid_json("operations[0]", "Expected an object.")),
        _ => Err(failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("fieldError", "INVALID_VALUE"),
            "This fake serves one operation a request.",
            "",
        )),
    }
}

fn mutate_budgets(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let operation = match one_operation(fake, request) {
        Ok(operation) => operation,
        Err(refusal) => return refusal,
    };
    // Stricter: budgets are only created here.
    if let Some(refusal) = unknown_field(operation, &["create"], "operations[0]") {
        return refusal;
    }
    let Some(create) = operation.get("create").and_then(Value::as_object) else {
        return required(fake, "create");
    };
    let served = ["name", "amountMicros", "deliveryMethod", "explicitlyShared"];
    if let Some(refusal) = unknown_field(create, &served, "operations[0].create") {
        return refusal;
    }
    let Some(name) = create.get("name").and_then(Value::as_str).filter(|name| !name.trim().is_empty()) else {
        return required(fake, "create.name");
    };
    let amount_micros = match create.get("amountMicros") {
        None => return required(fake, "create.amount_micros"),
        Some(Value::String(text)) => match text.parse::<i64>() {
            Ok(micros) => micros,
            Err(_) => {
                let description =
                    format!("Invalid value at 'operations[0].create.amount_micros' (TYPE_INT64), {text:?}");
                return invalid_json("operations[0].create.amount_micros", &description);
            }
        },
        Some(other) => {
            let description =
                format!("this fake takes an int64 only as a JSON string, as proto3 writes it, not {other}");
            return invalid_json("operations[0].create.amount_micros", &description);
        }
    };
    if amount_micros <= 0 {
        return failure(fake, StatusCode::BAD_REQUEST, ("rangeError", "TOO_LOW"), "Too low.", "create.amount_micros");
    }
    // US dollars: a whole number of cents.
    if amount_micros % 10_000 != 0 {
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("campaignBudgetError", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
            "The budget amount must be a multiple of the minimum unit of the account's currency.",
            "create.amount_micros",
        );
    }
    let delivery_method = create.get("deliveryMethod").and_then(Value::as_str).unwrap_or("STANDARD");
    if delivery_method != "STANDARD" {
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("fieldError", "INVALID_VALUE"),
            "Only STANDARD delivery is served.",
            "create.delivery_method",
        );
    }
    let explicitly_shared = match create.get("explicitlyShared") {
        None => false,
        Some(Value::Bool(shared)) => *shared,
        Some(other) => {
            let description = format!("Invalid value at 'operations[0].create.explicitly_shared' (TYPE_BOOL), {other}");
            return invalid_json("operations[0].create.explicitly_shared", &description);
        }
    };
    let mut state = fake.state();
    if state.budgets.iter().any(|budget| budget.name == name) {
        drop(state);
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("campaignBudgetError", "DUPLICATE_NAME"),
            "Budget with the same name already exists.",
            "create.name",
        );
    }
    state.next_id += 1;
    let resource_name = format!("customers/{CUSTOMER_ID}/campaignBudgets/{}", 7_000_000_000 + state.next_id);
    state.budgets.push(FakeBudget {
        resource_name: resource_name.clone(),
        name: name.to_owned(),
        amount_micros,
        delivery_method: delivery_method.to_owned(),
        explicitly_shared,
    });
    (StatusCode::OK, json!({ "results": [{ "resourceName": resource_name }] }))
}

fn mutate_campaigns(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let operation = match one_operation(fake, request) {
        Ok(operation) => operation,
        Err(refusal) => return refusal,
    };
    if operation.contains_key("create") {
        if let Some(refusal) = unknown_field(operation, &["create"], "operations[0]") {
            return refusal;
        }
        return match operation.get("create").and_then(Value::as_object) {
            Some(create) => create_campaign(fake, create),
            None => invalid_json("operations[0].create", "Expected an object."),
        };
    }
    if let Some(refusal) = unknown_field(operation, &["update", "updateMask"], "operations[0]") {
        return refusal;
    }
    match operation.get("update").and_then(Value::as_object) {
        Some(update) => update_campaign(fake, update, operation.get("updateMask")),
        None => required(fake, "operation"),
    }
}

/// The fields of a campaign this fake creates from.
const CAMPAIGN_FIELDS: [&str; 11] = [
    "name",
    "status",
    "advertisingChannelType",
    "campaignBudget",
    "manualCpc",
    "maximizeConversions",
    "targetSpend",
    "networkSettings",
    "containsEuPoliticalAdvertising",
    "startDateTime",
    "endDateTime",
];

/// The `oneof campaign_bidding_strategy` members served.
const BIDDING_STRATEGIES: [&str; 3] = ["manualCpc", "maximizeConversions", "targetSpend"];

fn create_campaign(fake: &GoogleAdsFake, create: &Map<String, Value>) -> Answer {
    if let Some(refusal) = unknown_field(create, &CAMPAIGN_FIELDS, "operations[0].create") {
        return refusal;
    }
    let text = |name: &str| create.get(name).and_then(Value::as_str);
    let invalid = |at: &str, message: &str| {
        failure(fake, StatusCode::BAD_REQUEST, ("fieldError", "INVALID_VALUE"), message, &format!("create.{at}"))
    };
    let Some(name) = text("name").filter(|name| !name.trim().is_empty()) else {
        return required(fake, "create.name");
    };
    if name.chars().count() > 255 {
        return failure(fake, StatusCode::BAD_REQUEST, ("stringLengthError", "TOO_LONG"), "Too long.", "create.name");
    }
    let status = match text("status") {
        None => return required(fake, "create.status"),
        Some(status @ ("PAUSED" | "ENABLED")) => status,
        Some(other) => return invalid("status", &format!("A new campaign is PAUSED or ENABLED, not {other}.")),
    };
    let channel = match text("advertisingChannelType") {
        None => return required(fake, "create.advertising_channel_type"),
        Some("SEARCH") => "SEARCH",
        Some(other) => {
            return invalid("advertising_channel_type", &format!("This fake serves SEARCH only, not {other}."));
        }
    };
    let Some(budget) = text("campaignBudget") else {
        return required(fake, "create.campaign_budget");
    };
    if !fake.state().budgets.iter().any(|known| known.resource_name == budget) {
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("mutateError", "RESOURCE_NOT_FOUND"),
            "The requested resource was not found.",
            "create.campaign_budget",
        );
    }
    let strategies: Vec<&str> = BIDDING_STRATEGIES.into_iter().filter(|name| create.contains_key(*name)).collect();
    let bidding = match strategies.as_slice() {
        [] => return required(fake, "create.campaign_bidding_strategy"),
        [strategy] => *strategy,
        [first, second, ..] => {
            let description = format!(
                "oneof field 'campaign_bidding_strategy' is already set. Cannot set '{second}' (set: '{first}')"
            );
            return invalid_json("operations[0].create", &description);
        }
    };
    match create.get(bidding) {
        // Stricter: `manualCpc` is served without its (deprecated) enhanced CPC.
        Some(Value::Object(settings)) if bidding != "manualCpc" || settings.is_empty() => {}
        _ => return invalid(bidding, &format!("{bidding} is an empty object here.")),
    }
    let eu_political_advertising = match text("containsEuPoliticalAdvertising") {
        None => return required(fake, "create.contains_eu_political_advertising"),
        Some(value @ ("CONTAINS_EU_POLITICAL_ADVERTISING" | "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING")) => value,
        Some(other) => {
            let description = format!(
                "Invalid value at 'operations[0].create.contains_eu_political_advertising' \
                 (type.googleapis.com/google.ads.googleads.{VERSION}.enums.EuPoliticalAdvertisingStatusEnum.\
                 EuPoliticalAdvertisingStatus), {other:?}"
            );
            return invalid_json("operations[0].create.contains_eu_political_advertising", &description);
        }
    };
    let network_settings = create.get("networkSettings").cloned();
    if let Some(settings) = &network_settings {
        let served =
            ["targetGoogleSearch", "targetSearchNetwork", "targetContentNetwork", "targetPartnerSearchNetwork"];
        let Some(settings) = settings.as_object() else {
            return invalid_json("operations[0].create.network_settings", "Expected an object.");
        };
        if let Some(refusal) = unknown_field(settings, &served, "operations[0].create.network_settings") {
            return refusal;
        }
        if settings.values().any(|value| !value.is_boolean()) {
            return invalid_json("operations[0].create.network_settings", "Expected booleans.");
        }
    }
    let mut dates = [None, None];
    for (slot, (field, at)) in
        dates.iter_mut().zip([("startDateTime", "start_date_time"), ("endDateTime", "end_date_time")])
    {
        let Some(written) = text(field) else { continue };
        match NaiveDateTime::parse_from_str(written, "%Y-%m-%d %H:%M:%S") {
            Ok(moment) => *slot = Some((written.to_owned(), moment)),
            Err(_) => {
                return failure(
                    fake,
                    StatusCode::BAD_REQUEST,
                    ("dateError", "INVALID_FIELD_VALUES_IN_DATE_TIME"),
                    "The field values in the date time are not valid (yyyy-MM-dd HH:mm:ss).",
                    &format!("create.{at}"),
                );
            }
        }
    }
    let [start, end] = dates;
    if let Some((_, start)) = &start
        && start.date() < Utc::now().date_naive()
    {
        let code = ("dateRangeError", "CANNOT_SET_DATE_TO_PAST");
        return failure(fake, StatusCode::BAD_REQUEST, code, "Cannot set date to past.", "create.start_date_time");
    }
    if let (Some((_, start)), Some((_, end))) = (&start, &end)
        && start > end
    {
        let code = ("dateRangeError", "START_DATE_AFTER_END_DATE");
        return failure(fake, StatusCode::BAD_REQUEST, code, "Start date is after end date.", "create.end_date_time");
    }
    let mut state = fake.state();
    if state.campaigns.iter().any(|campaign| campaign.name == name && campaign.status != "REMOVED") {
        drop(state);
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("campaignError", "DUPLICATE_CAMPAIGN_NAME"),
            "Campaign with the same name already exists.",
            "create.name",
        );
    }
    state.next_id += 1;
    let resource_name = format!("customers/{CUSTOMER_ID}/campaigns/{}", 20_000_000_000 + state.next_id);
    state.campaigns.push(FakeCampaign {
        resource_name: resource_name.clone(),
        name: name.to_owned(),
        status: status.to_owned(),
        channel: channel.to_owned(),
        budget: budget.to_owned(),
        bidding: bidding.to_owned(),
        eu_political_advertising: eu_political_advertising.to_owned(),
        network_settings,
        start: start.map(|(written, _)| written),
        end: end.map(|(written, _)| written),
    });
    (StatusCode::OK, json!({ "results": [{ "resourceName": resource_name }] }))
}

fn update_campaign(fake: &GoogleAdsFake, update: &Map<String, Value>, mask: Option<&Value>) -> Answer {
    // Stricter: only the status is served.
    if let Some(refusal) = unknown_field(update, &["resourceName", "status"], "operations[0].update") {
        return refusal;
    }
    let Some(mask) = mask.and_then(Value::as_str).filter(|mask| !mask.is_empty()) else {
        let code = ("fieldMaskError", "FIELD_MASK_MISSING");
        return failure(fake, StatusCode::BAD_REQUEST, code, "The field mask must be present for an update.", "");
    };
    let mut masked: Vec<&str> = mask.split(',').map(str::trim).collect();
    masked.sort_unstable();
    let mut set: Vec<&str> = update.keys().map(String::as_str).filter(|field| *field != "resourceName").collect();
    set.sort_unstable();
    if masked != set {
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("fieldMaskError", "FIELD_NOT_FOUND"),
            &format!("The update mask ({mask}) must name exactly the fields set ({}).", set.join(",")),
            "update_mask",
        );
    }
    let Some(resource_name) = update.get("resourceName").and_then(Value::as_str) else {
        return required(fake, "update.resource_name");
    };
    let status = match update.get("status").and_then(Value::as_str) {
        Some(status @ ("PAUSED" | "ENABLED")) => status,
        _ => {
            let code = ("fieldError", "INVALID_VALUE");
            return failure(fake, StatusCode::BAD_REQUEST, code, "A campaign is PAUSED or ENABLED.", "update.status");
        }
    };
    let mut state = fake.state();
    let Some(campaign) = state.campaigns.iter_mut().find(|campaign| campaign.resource_name == resource_name) else {
        drop(state);
        let code = ("mutateError", "RESOURCE_NOT_FOUND");
        return failure(fake, StatusCode::BAD_REQUEST, code, "The requested resource was not found.", "update");
    };
    campaign.status = status.to_owned();
    state.updates.push(StatusUpdate {
        campaign: resource_name.to_owned(),
        status: status.to_owned(),
        update_mask: mask.to_owned(),
    });
    (StatusCode::OK, json!({ "results": [{ "resourceName": resource_name }] }))
}

/// `text` as an `int64` of micros written as a JSON string, positive and a whole number
/// of cents, or the refusal Google gives.
fn cent_micros(fake: &GoogleAdsFake, value: Option<&Value>, at: &str) -> Result<i64, Answer> {
    let micros = match value {
        None => return Err(required(fake, &format!("create.{at}"))),
        Some(Value::String(text)) => text.parse::<i64>().map_err(|_| {
            invalid_json(&format!("operations[0].create.{at}"), &format!("Invalid value (TYPE_INT64), {text:?}"))
        })?,
        Some(other) => {
            let description = format!("this fake takes an int64 only as a JSON string, not {other}");
            return Err(invalid_json(&format!("operations[0].create.{at}"), &description));
        }
    };
    if micros <= 0 {
        return Err(failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("rangeError", "TOO_LOW"),
            "Too low.",
            &format!("create.{at}"),
        ));
    }
    if micros % 10_000 != 0 {
        let code = ("biddingError", "BID_TOO_MANY_FRACTIONAL_DIGITS");
        let message = "The bid must be a multiple of the minimum unit of the account's currency.";
        return Err(failure(fake, StatusCode::BAD_REQUEST, code, message, &format!("create.{at}")));
    }
    Ok(micros)
}

/// The request's one `create` (stricter: ad groups and ads are only created here).
fn one_create<'a>(fake: &GoogleAdsFake, request: &'a Value) -> Result<&'a Map<String, Value>, Answer> {
    let operation = one_operation(fake, request)?;
    if let Some(refusal) = unknown_field(operation, &["create"], "operations[0]") {
        return Err(refusal);
    }
    operation.get("create").and_then(Value::as_object).ok_or_else(|| required(fake, "create"))
}

/// A new ad group's, keyword's or ad's status.
fn new_status<'a>(fake: &GoogleAdsFake, create: &'a Map<String, Value>) -> Result<&'a str, Answer> {
    match create.get("status").and_then(Value::as_str) {
        Some(status @ ("ENABLED" | "PAUSED")) => Ok(status),
        None => Err(required(fake, "create.status")),
        Some(other) => Err(failure(
            fake,
            StatusCode::BAD_REQUEST,
            ("fieldError", "INVALID_VALUE"),
            &format!("A new one is ENABLED or PAUSED, not {other}."),
            "create.status",
        )),
    }
}

/// The `adGroup` a keyword or ad goes in: one the fake made.
fn existing_ad_group(fake: &GoogleAdsFake, create: &Map<String, Value>) -> Result<String, Answer> {
    let Some(ad_group) = create.get("adGroup").and_then(Value::as_str) else {
        return Err(required(fake, "create.ad_group"));
    };
    if !fake.state().ad_groups.iter().any(|known| known.resource_name == ad_group) {
        let code = ("mutateError", "RESOURCE_NOT_FOUND");
        return Err(failure(
            fake,
            StatusCode::BAD_REQUEST,
            code,
            "The requested resource was not found.",
            "create.ad_group",
        ));
    }
    Ok(ad_group.to_owned())
}

fn mutate_ad_groups(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let create = match one_create(fake, request) {
        Ok(create) => create,
        Err(refusal) => return refusal,
    };
    let served = ["name", "campaign", "status", "type", "cpcBidMicros"];
    if let Some(refusal) = unknown_field(create, &served, "operations[0].create") {
        return refusal;
    }
    let Some(name) = create.get("name").and_then(Value::as_str).filter(|name| !name.trim().is_empty()) else {
        return required(fake, "create.name");
    };
    if name.chars().count() > 255 {
        return failure(fake, StatusCode::BAD_REQUEST, ("stringLengthError", "TOO_LONG"), "Too long.", "create.name");
    }
    let Some(campaign) = create.get("campaign").and_then(Value::as_str) else {
        return required(fake, "create.campaign");
    };
    if !fake.state().campaigns.iter().any(|known| known.resource_name == campaign) {
        let code = ("mutateError", "RESOURCE_NOT_FOUND");
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            code,
            "The requested resource was not found.",
            "create.campaign",
        );
    }
    let status = match new_status(fake, create) {
        Ok(status) => status,
        Err(refusal) => return refusal,
    };
    match create.get("type").and_then(Value::as_str) {
        Some("SEARCH_STANDARD") => {}
        _ => {
            let code = ("adGroupError", "ADGROUP_TYPE_NOT_VALID_FOR_ADVERTISING_CHANNEL_TYPE");
            return failure(
                fake,
                StatusCode::BAD_REQUEST,
                code,
                "A Search campaign's ad group is SEARCH_STANDARD.",
                "create.type",
            );
        }
    }
    let cpc_bid_micros = match cent_micros(fake, create.get("cpcBidMicros"), "cpc_bid_micros") {
        Ok(micros) => micros,
        Err(refusal) => return refusal,
    };
    let mut state = fake.state();
    let taken = state
        .ad_groups
        .iter()
        .any(|group| group.campaign == campaign && group.name == name && group.status != "REMOVED");
    if taken {
        drop(state);
        let code = ("adGroupError", "DUPLICATE_ADGROUP_NAME");
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            code,
            "AdGroup with the same name already exists for the campaign.",
            "create.name",
        );
    }
    state.next_id += 1;
    let resource_name = format!("customers/{CUSTOMER_ID}/adGroups/{}", 150_000_000_000 + state.next_id);
    state.ad_groups.push(FakeAdGroup {
        resource_name: resource_name.clone(),
        name: name.to_owned(),
        campaign: campaign.to_owned(),
        status: status.to_owned(),
        kind: "SEARCH_STANDARD".to_owned(),
        cpc_bid_micros,
    });
    (StatusCode::OK, json!({ "results": [{ "resourceName": resource_name }] }))
}

/// The symbols Google refuses in a keyword's text.
const KEYWORD_REFUSED_SYMBOLS: &[char] =
    &['!', '@', '%', '^', '*', '(', ')', '=', '{', '}', ';', '~', '`', '<', '>', '?', '\\', '|', ','];

/// A keyword the request asks for, checked.
fn checked_keyword(fake: &GoogleAdsFake, index: usize, operation: &Value) -> Result<FakeKeyword, Answer> {
    let at = format!("operations[{index}]");
    let Some(operation) = operation.as_object() else {
        return Err(invalid_json(&at, "Expected an object."));
    };
    // Stricter: keywords are only created here.
    if let Some(refusal) = unknown_field(operation, &["create"], &at) {
        return Err(refusal);
    }
    let Some(create) = operation.get("create").and_then(Value::as_object) else {
        return Err(required(fake, "create"));
    };
    if let Some(refusal) = unknown_field(create, &["adGroup", "status", "keyword"], &format!("{at}.create")) {
        return Err(refusal);
    }
    let ad_group = existing_ad_group(fake, create)?;
    let status = new_status(fake, create)?;
    let Some(keyword) = create.get("keyword").and_then(Value::as_object) else {
        return Err(required(fake, "create.keyword"));
    };
    if let Some(refusal) = unknown_field(keyword, &["text", "matchType"], &format!("{at}.create.keyword")) {
        return Err(refusal);
    }
    let Some(text) = keyword.get("text").and_then(Value::as_str).filter(|text| !text.trim().is_empty()) else {
        return Err(required(fake, "create.keyword.text"));
    };
    let refused = |code: &str, message: &str| {
        failure(fake, StatusCode::BAD_REQUEST, ("criterionError", code), message, "create.keyword.text")
    };
    if text.chars().count() > 80 {
        return Err(refused("KEYWORD_TEXT_TOO_LONG", "Keyword text is too long."));
    }
    if text.split_whitespace().count() > 10 {
        return Err(refused("KEYWORD_HAS_TOO_MANY_WORDS", "Keyword has too many words."));
    }
    if text.contains(KEYWORD_REFUSED_SYMBOLS) {
        return Err(refused("KEYWORD_HAS_INVALID_CHARS", "Keyword has invalid characters."));
    }
    let match_type = match keyword.get("matchType").and_then(Value::as_str) {
        Some(kind @ ("EXACT" | "PHRASE" | "BROAD")) => kind,
        None => return Err(required(fake, "create.keyword.match_type")),
        Some(other) => {
            let description =
                format!("Invalid value at '{at}.create.keyword.match_type' (KeywordMatchType), {other:?}");
            return Err(invalid_json(&format!("{at}.create.keyword.match_type"), &description));
        }
    };
    Ok(FakeKeyword {
        resource_name: String::new(),
        ad_group,
        status: status.to_owned(),
        text: text.to_owned(),
        match_type: match_type.to_owned(),
    })
}

fn mutate_keywords(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let Some(request) = request.as_object() else {
        return invalid_json("", "Expected an object.");
    };
    if let Some(refusal) = unknown_field(request, &["operations"], "") {
        return refusal;
    }
    let operations = request.get("operations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if operations.is_empty() {
        let code = ("fieldError", "REQUIRED_NONEMPTY_LIST");
        return failure(fake, StatusCode::BAD_REQUEST, code, "Field must contain at least one element.", "");
    }
    // Without `partialFailure`, one refused operation refuses them all.
    let mut keywords = Vec::new();
    for (index, operation) in operations.iter().enumerate() {
        match checked_keyword(fake, index, operation) {
            Ok(keyword) => keywords.push(keyword),
            Err(refusal) => return refusal,
        }
    }
    let mut state = fake.state();
    let mut results = Vec::new();
    for mut keyword in keywords {
        state.next_id += 1;
        let group_id = keyword.ad_group.rsplit('/').next().unwrap_or_default().to_owned();
        keyword.resource_name =
            format!("customers/{CUSTOMER_ID}/adGroupCriteria/{group_id}~{}", 400_000 + state.next_id);
        results.push(json!({ "resourceName": keyword.resource_name }));
        state.keywords.push(keyword);
    }
    (StatusCode::OK, json!({ "results": results }))
}

/// `at`'s list of `{text}` assets, between `count`'s bounds, each at most `limit`
/// characters.
fn text_assets(
    fake: &GoogleAdsFake,
    value: Option<&Value>,
    at: &str,
    count: std::ops::RangeInclusive<usize>,
    limit: usize,
) -> Result<Vec<String>, Answer> {
    let assets = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if assets.len() < *count.start() || assets.len() > *count.end() {
        let code = if assets.len() < *count.start() { "TOO_FEW" } else { "TOO_MANY" };
        let message = format!("{at} holds {} to {} assets, not {}.", count.start(), count.end(), assets.len());
        return Err(failure(fake, StatusCode::BAD_REQUEST, ("collectionSizeError", code), &message, at));
    }
    let mut texts = Vec::new();
    for asset in assets {
        let Some(asset) = asset.as_object() else {
            return Err(invalid_json(at, "Expected an object."));
        };
        if let Some(refusal) = unknown_field(asset, &["text", "pinnedField"], at) {
            return Err(refusal);
        }
        let Some(text) = asset.get("text").and_then(Value::as_str).filter(|text| !text.trim().is_empty()) else {
            return Err(required(fake, &format!("{at}.text")));
        };
        if text.chars().count() > limit {
            return Err(failure(fake, StatusCode::BAD_REQUEST, ("stringLengthError", "TOO_LONG"), "Too long.", at));
        }
        texts.push(text.to_owned());
    }
    Ok(texts)
}

fn mutate_ads(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let create = match one_create(fake, request) {
        Ok(create) => create,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = unknown_field(create, &["adGroup", "status", "ad"], "operations[0].create") {
        return refusal;
    }
    let ad_group = match existing_ad_group(fake, create) {
        Ok(ad_group) => ad_group,
        Err(refusal) => return refusal,
    };
    let status = match new_status(fake, create) {
        Ok(status) => status,
        Err(refusal) => return refusal,
    };
    let Some(ad) = create.get("ad").and_then(Value::as_object) else {
        return required(fake, "create.ad");
    };
    // Stricter: responsive search ads are the only ads served.
    if let Some(refusal) = unknown_field(ad, &["finalUrls", "responsiveSearchAd"], "operations[0].create.ad") {
        return refusal;
    }
    let final_urls: Vec<String> = ad
        .get("finalUrls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if final_urls.is_empty() {
        return required(fake, "create.ad.final_urls");
    }
    if final_urls.iter().any(|url| !(url.starts_with("http://") || url.starts_with("https://"))) {
        let code = ("urlFieldError", "INVALID_URL");
        return failure(
            fake,
            StatusCode::BAD_REQUEST,
            code,
            "The URL is not a valid web address.",
            "create.ad.final_urls",
        );
    }
    let Some(search_ad) = ad.get("responsiveSearchAd").and_then(Value::as_object) else {
        return required(fake, "create.ad.responsive_search_ad");
    };
    let at = "operations[0].create.ad.responsive_search_ad";
    if let Some(refusal) = unknown_field(search_ad, &["headlines", "descriptions"], at) {
        return refusal;
    }
    let headlines =
        match text_assets(fake, search_ad.get("headlines"), "create.ad.responsive_search_ad.headlines", 3..=15, 30) {
            Ok(texts) => texts,
            Err(refusal) => return refusal,
        };
    let descriptions = match text_assets(
        fake,
        search_ad.get("descriptions"),
        "create.ad.responsive_search_ad.descriptions",
        2..=4,
        90,
    ) {
        Ok(texts) => texts,
        Err(refusal) => return refusal,
    };
    let mut state = fake.state();
    state.next_id += 1;
    let group_id = ad_group.rsplit('/').next().unwrap_or_default().to_owned();
    let resource_name = format!("customers/{CUSTOMER_ID}/adGroupAds/{group_id}~{}", 700_000_000 + state.next_id);
    state.ads.push(FakeAd {
        resource_name: resource_name.clone(),
        ad_group,
        status: status.to_owned(),
        final_urls,
        headlines,
        descriptions,
    });
    (StatusCode::OK, json!({ "results": [{ "resourceName": resource_name }] }))
}

// ---------------------------------------------------------------------------------------
// searchStream and the GAQL it reads
// ---------------------------------------------------------------------------------------

/// The fields a query may name, per resource.
const CAMPAIGN_QUERY_FIELDS: [&str; 10] = [
    "campaign.resource_name",
    "campaign.name",
    "campaign.status",
    "campaign.campaign_budget",
    "campaign.advertising_channel_type",
    "metrics.cost_micros",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.conversions",
    "segments.date",
];
const BUDGET_QUERY_FIELDS: [&str; 4] = [
    "campaign_budget.resource_name",
    "campaign_budget.name",
    "campaign_budget.amount_micros",
    "campaign_budget.status",
];

const AD_GROUP_QUERY_FIELDS: [&str; 6] = [
    "ad_group.resource_name",
    "ad_group.name",
    "ad_group.status",
    "ad_group.campaign",
    "ad_group.type",
    "ad_group.cpc_bid_micros",
];
const KEYWORD_QUERY_FIELDS: [&str; 6] = [
    "ad_group_criterion.resource_name",
    "ad_group_criterion.ad_group",
    "ad_group_criterion.status",
    "ad_group_criterion.type",
    "ad_group_criterion.keyword.text",
    "ad_group_criterion.keyword.match_type",
];
const AD_QUERY_FIELDS: [&str; 4] =
    ["ad_group_ad.resource_name", "ad_group_ad.ad_group", "ad_group_ad.status", "ad_group_ad.ad.final_urls"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(&'static str),
}

#[derive(Debug)]
enum Operator {
    Equals(String),
    NotEquals(String),
    Between(String, String),
}

#[derive(Debug)]
struct Query {
    fields: Vec<String>,
    resource: String,
    conditions: Vec<(String, Operator)>,
}

type QueryError = (&'static str, String);

fn tokens(query: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&character) = chars.peek() {
        match character {
            _ if character.is_whitespace() => {
                chars.next();
            }
            ',' | '=' => {
                chars.next();
                tokens.push(Token::Symbol(if character == ',' { "," } else { "=" }));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(("QUERY_ERROR", "Error in query: unexpected '!'.".into()));
                }
                tokens.push(Token::Symbol("!="));
            }
            '\'' | '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err(("QUERY_ERROR", "Error in query: unterminated string.".into())),
                        Some('\\') => match chars.next() {
                            Some(escaped) => text.push(escaped),
                            None => return Err(("BAD_ESCAPE_SEQUENCE", "Invalid escape sequence.".into())),
                        },
                        Some(closing) if closing == character => break,
                        Some(other) => text.push(other),
                    }
                }
                tokens.push(Token::Text(text));
            }
            _ if character.is_ascii_alphanumeric() || character == '_' || character == '.' => {
                let mut word = String::new();
                while let Some(&next) =
                    chars.peek().filter(|next| next.is_ascii_alphanumeric() || "_.".contains(**next))
                {
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(("QUERY_ERROR", format!("Error in query: unexpected {other:?}."))),
        }
    }
    Ok(tokens)
}

fn parse_query(query: &str) -> Result<Query, QueryError> {
    let mut tokens = tokens(query)?.into_iter().peekable();
    let keyword = |token: Option<&Token>, expected: &str| matches!(token, Some(Token::Word(word)) if word.eq_ignore_ascii_case(expected));
    if !keyword(tokens.next().as_ref(), "SELECT") {
        return Err(("EXPECTED_SELECT", "Expected SELECT.".into()));
    }
    let mut fields = Vec::new();
    loop {
        match tokens.next() {
            Some(Token::Word(field)) if !field.eq_ignore_ascii_case("FROM") => fields.push(field),
            _ => return Err(("QUERY_ERROR", "Error in query: expected a field name.".into())),
        }
        if tokens.peek() != Some(&Token::Symbol(",")) {
            break;
        }
        tokens.next();
    }
    if !keyword(tokens.next().as_ref(), "FROM") {
        return Err(("EXPECTED_FROM", "Expected FROM.".into()));
    }
    let Some(Token::Word(resource)) = tokens.next() else {
        return Err(("QUERY_ERROR", "Error in query: expected a resource after FROM.".into()));
    };
    let mut conditions = Vec::new();
    if tokens.peek().is_some() {
        if !keyword(tokens.next().as_ref(), "WHERE") {
            return Err(("QUERY_ERROR", "Error in query: expected WHERE.".into()));
        }
        loop {
            let Some(Token::Word(field)) = tokens.next() else {
                return Err(("QUERY_ERROR", "Error in query: expected a field name in WHERE.".into()));
            };
            let operator = match (tokens.next(), tokens.next()) {
                (Some(Token::Symbol("=")), Some(Token::Text(value))) => Operator::Equals(value),
                (Some(Token::Symbol("!=")), Some(Token::Text(value))) => Operator::NotEquals(value),
                (Some(Token::Word(between)), Some(Token::Text(first))) if between.eq_ignore_ascii_case("BETWEEN") => {
                    if !keyword(tokens.next().as_ref(), "AND") {
                        return Err(("EXPECTED_AND", "Expected AND in BETWEEN.".into()));
                    }
                    let Some(Token::Text(last)) = tokens.next() else {
                        return Err(("QUERY_ERROR", "Error in query: expected a value after AND.".into()));
                    };
                    Operator::Between(first, last)
                }
                _ => return Err(("BAD_OPERATOR", format!("Invalid operator or value for {field}."))),
            };
            conditions.push((field, operator));
            match tokens.next() {
                None => break,
                Some(token) if keyword(Some(&token), "AND") => {}
                Some(_) => return Err(("QUERY_ERROR", "Error in query: expected AND or the end.".into())),
            }
        }
    }
    Ok(Query { fields, resource, conditions })
}

/// What a row is made of.
enum Source<'a> {
    Budget(&'a FakeBudget),
    AdGroup(&'a FakeAdGroup),
    Keyword(&'a FakeKeyword),
    Ad(&'a FakeAd),
    Campaign(&'a FakeCampaign, Option<(NaiveDate, FakeDay)>),
}

fn value_of(source: &Source<'_>, field: &str) -> Value {
    match (source, field) {
        (Source::Budget(budget), "campaign_budget.resource_name") => json!(budget.resource_name),
        (Source::Budget(budget), "campaign_budget.name") => json!(budget.name),
        (Source::Budget(budget), "campaign_budget.amount_micros") => json!(budget.amount_micros.to_string()),
        (Source::Budget(_), "campaign_budget.status") => json!("ENABLED"),
        (Source::AdGroup(group), "ad_group.resource_name") => json!(group.resource_name),
        (Source::AdGroup(group), "ad_group.name") => json!(group.name),
        (Source::AdGroup(group), "ad_group.status") => json!(group.status),
        (Source::AdGroup(group), "ad_group.campaign") => json!(group.campaign),
        (Source::AdGroup(group), "ad_group.type") => json!(group.kind),
        (Source::AdGroup(group), "ad_group.cpc_bid_micros") => json!(group.cpc_bid_micros.to_string()),
        (Source::Keyword(keyword), "ad_group_criterion.resource_name") => json!(keyword.resource_name),
        (Source::Keyword(keyword), "ad_group_criterion.ad_group") => json!(keyword.ad_group),
        (Source::Keyword(keyword), "ad_group_criterion.status") => json!(keyword.status),
        (Source::Keyword(_), "ad_group_criterion.type") => json!("KEYWORD"),
        (Source::Keyword(keyword), "ad_group_criterion.keyword.text") => json!(keyword.text),
        (Source::Keyword(keyword), "ad_group_criterion.keyword.match_type") => json!(keyword.match_type),
        (Source::Ad(ad), "ad_group_ad.resource_name") => json!(ad.resource_name),
        (Source::Ad(ad), "ad_group_ad.ad_group") => json!(ad.ad_group),
        (Source::Ad(ad), "ad_group_ad.status") => json!(ad.status),
        (Source::Ad(ad), "ad_group_ad.ad.final_urls") => json!(ad.final_urls),
        (Source::Campaign(campaign, _), "campaign.resource_name") => json!(campaign.resource_name),
        (Source::Campaign(campaign, _), "campaign.name") => json!(campaign.name),
        (Source::Campaign(campaign, _), "campaign.status") => json!(campaign.status),
        (Source::Campaign(campaign, _), "campaign.campaign_budget") => json!(campaign.budget),
        (Source::Campaign(campaign, _), "campaign.advertising_channel_type") => json!(campaign.channel),
        (Source::Campaign(_, Some((_, day))), "metrics.cost_micros") => json!(day.cost_micros.to_string()),
        (Source::Campaign(_, Some((_, day))), "metrics.impressions") => json!(day.impressions.to_string()),
        (Source::Campaign(_, Some((_, day))), "metrics.clicks") => json!(day.clicks.to_string()),
        (Source::Campaign(_, Some((_, day))), "metrics.conversions") => json!(day.conversions),
        (Source::Campaign(_, Some((date, _))), "segments.date") => json!(date.to_string()),
        _ => Value::Null,
    }
}

/// `campaign_budget.resource_name` as a row's `campaignBudget.resourceName`.
fn camel_path(field: &str) -> Vec<String> {
    field
        .split('.')
        .map(|part| {
            let mut camel = String::new();
            let mut upper = false;
            for character in part.chars() {
                if character == '_' {
                    upper = true;
                } else if upper {
                    camel.extend(character.to_uppercase());
                    upper = false;
                } else {
                    camel.push(character);
                }
            }
            camel
        })
        .collect()
}

fn row(source: &Source<'_>, fields: &[String]) -> Value {
    let mut row = json!({});
    for field in fields {
        let path = camel_path(field);
        let mut at = &mut row;
        for part in &path[..path.len() - 1] {
            at = &mut at[part.as_str()];
            if at.is_null() {
                *at = json!({});
            }
        }
        at[path[path.len() - 1].as_str()] = value_of(source, field);
    }
    row
}

fn search_stream(fake: &GoogleAdsFake, request: &Value) -> Answer {
    let Some(request) = request.as_object() else {
        return invalid_json("", "Expected an object.");
    };
    // Stricter: `summaryRowSetting` is not served.
    if let Some(refusal) = unknown_field(request, &["query"], "") {
        return refusal;
    }
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return required(fake, "query");
    };
    let refuse =
        |(code, message): QueryError| failure(fake, StatusCode::BAD_REQUEST, ("queryError", code), &message, "");
    let query = match parse_query(query) {
        Ok(query) => query,
        Err(error) => return refuse(error),
    };
    let known: &[&str] = match query.resource.as_str() {
        "campaign" => &CAMPAIGN_QUERY_FIELDS,
        "campaign_budget" => &BUDGET_QUERY_FIELDS,
        "ad_group" => &AD_GROUP_QUERY_FIELDS,
        "ad_group_criterion" => &KEYWORD_QUERY_FIELDS,
        "ad_group_ad" => &AD_QUERY_FIELDS,
        other => return refuse(("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", format!("Invalid resource in FROM: '{other}'."))),
    };
    let named = query.fields.iter().chain(query.conditions.iter().map(|(field, _)| field));
    if let Some(unknown) = named.into_iter().find(|field| !known.contains(&field.as_str())) {
        return refuse(("UNRECOGNIZED_FIELD", format!("Unrecognized field in the query: '{unknown}'.")));
    }
    let mut range = None;
    for (field, operator) in &query.conditions {
        match (field.as_str(), operator) {
            ("segments.date", Operator::Between(first, last)) => {
                let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
                let (Some(first), Some(last)) = (date(first), date(last)) else {
                    return refuse(("QUERY_ERROR", "Error in query: dates are written yyyy-MM-dd.".into()));
                };
                range = Some((first, last));
            }
            ("segments.date", _) => {
                return refuse(("BAD_OPERATOR", "segments.date is filtered with BETWEEN here.".into()));
            }
            (_, Operator::Between(..)) => return refuse(("BAD_OPERATOR", format!("{field} takes = or != here."))),
            (field, _) if field.starts_with("metrics.") => {
                return refuse(("BAD_OPERATOR", format!("{field} is not filtered here.")));
            }
            _ => {}
        }
    }
    let by_date = query.fields.iter().any(|field| field == "segments.date");
    if by_date && range.is_none() {
        return refuse(("EXPECTED_FILTERS_ON_DATE_RANGE", "A query segmented by date needs a date range.".into()));
    }
    if !by_date && query.fields.iter().any(|field| field.starts_with("metrics.")) {
        return refuse(("QUERY_ERROR", "This fake serves metrics by day only: select segments.date.".into()));
    }
    let matches = |source: &Source<'_>| {
        query.conditions.iter().all(|(field, operator)| match operator {
            Operator::Equals(value) => value_of(source, field).as_str() == Some(value.as_str()),
            Operator::NotEquals(value) => value_of(source, field).as_str() != Some(value.as_str()),
            Operator::Between(..) => true,
        })
    };
    let state = fake.state();
    let sources: Vec<Source<'_>> = match query.resource.as_str() {
        "campaign_budget" => state.budgets.iter().map(Source::Budget).collect(),
        "ad_group" => state.ad_groups.iter().map(Source::AdGroup).collect(),
        "ad_group_criterion" => state.keywords.iter().map(Source::Keyword).collect(),
        "ad_group_ad" => state.ads.iter().map(Source::Ad).collect(),
        _ => match range.filter(|_| by_date) {
            Some((first, last)) => state
                .days
                .iter()
                .filter(|((_, date), _)| (first..=last).contains(date))
                .filter_map(|((campaign, date), day)| {
                    let campaign = state.campaigns.iter().find(|known| &known.resource_name == campaign)?;
                    Some(Source::Campaign(campaign, Some((*date, *day))))
                })
                .collect(),
            None => state.campaigns.iter().map(|campaign| Source::Campaign(campaign, None)).collect(),
        },
    };
    let rows: Vec<Value> =
        sources.iter().filter(|source| matches(source)).map(|source| row(source, &query.fields)).collect();
    drop(state);
    let field_mask = query.fields.iter().map(|field| camel_path(field).join(".")).collect::<Vec<_>>().join(",");
    let request_id = format!("fake-stream-{}", fake.calls(SEARCH_STREAM));
    let mut batches: Vec<Value> = rows
        .chunks(BATCH_ROWS)
        .map(|chunk| json!({ "results": chunk, "fieldMask": field_mask, "requestId": request_id }))
        .collect();
    if batches.is_empty() {
        batches.push(json!({ "fieldMask": field_mask, "requestId": request_id }));
    }
    (StatusCode::OK, Value::Array(batches))
}
