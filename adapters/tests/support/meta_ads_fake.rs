//! A local Graph API (Marketing API, v27.0) that follows the documented protocol and
//! refuses anything else, for the Meta Ads client's tests (an axum server on
//! `127.0.0.1:0`). Shapes and words follow Meta's reference for the ad account's
//! `campaigns`, `adsets`, `adimages`, `adcreatives`, `ads` and `insights` edges, an
//! object's update, cursor paging, the
//! usage headers and the Graph error model
//! (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`).
//!
//! What it enforces, as Meta does (or, where marked, more strictly):
//! - every call: the version in the path (another: code 2500), an access token as the
//!   `access_token` parameter or an `Authorization: Bearer`/`OAuth` header (none: code
//!   104; not the account owner's, or invalidated: code 190), and `appsecret_proof`, the
//!   hex HMAC-SHA256 of that token keyed with [`APP_SECRET`], as for an app that
//!   requires it (missing or wrong: code 100, `GraphMethodException`); the ad account
//!   `act_{AD_ACCOUNT}` (another: code 100, subcode 33);
//! - only the parameters each call serves (stricter: Meta ignores some it does not
//!   know);
//! - campaigns: a `name`, an `objective` among the `OUTCOME_*` ones, `status` `PAUSED`
//!   or `ACTIVE`, `special_ad_categories` as a JSON array of known categories (required:
//!   `[]` says none), `buying_type` `AUCTION` or `RESERVED`;
//! - ad sets: a `name`, a `campaign_id` of this account's campaigns, `daily_budget` as a
//!   whole number of cents of the account's US dollars, at least [`MIN_DAILY_BUDGET`]
//!   (`12.34` is refused), `billing_event`, `optimization_goal`, `bid_strategy`
//!   `LOWEST_COST_WITHOUT_CAP` (stricter: the others need a bid or cap this fake does
//!   not serve), `targeting` as JSON with `geo_locations.countries` and
//!   `targeting_automation.advantage_audience` (0 or 1; required since Meta made
//!   Advantage+ audience the default), `start_time` and `end_time` as ISO 8601 with an
//!   offset, the end after the start, and a `status`;
//! - images: `bytes`, base64 of a picture (stricter: the multipart upload is not
//!   served), answered as `{"images":{"bytes":{"hash","url"}}}`, the hash that of the
//!   bytes, so the same picture uploaded twice is one image;
//! - ad creatives: a `name` and an `object_story_spec` holding the account's Page as
//!   `page_id` and `link_data` with a `link` to an `http(s)` page, and optionally
//!   `message`, `name`, `description`, an `image_hash` of an uploaded picture and a
//!   `call_to_action` of a known `type` whose `value.link` is the link;
//! - ads: a `name`, an `adset_id` of this account's ad sets, a `creative` of the form
//!   `{"creative_id"}` naming one of its creatives, and a `status`;
//! - an object's update: `status` only (stricter), of a campaign or ad set it knows;
//! - listings: `fields` it knows for the node type, `filtering` on `name` with `EQUAL`
//!   only (stricter), pages of at most [`PAGE_ROWS`] rows whatever the `limit` (Meta:
//!   25 by default; few here so that the client's paging is exercised), `after` a
//!   cursor it handed out;
//! - insights: `level=campaign` and `time_increment=1` (stricter: the only ones served),
//!   a `time_range` of `since` and `until` dates, `fields` among those it serves; a row
//!   per campaign per day that delivered, numbers as strings, purchases both as
//!   `purchase` and as the pixel's `offsite_conversion.fb_pixel_purchase`, as Meta
//!   reports them.
//!
//! Every answer carries `X-App-Usage`, `X-Ad-Account-Usage` and
//! `X-Business-Use-Case-Usage`. It counts calls per route, keeps the campaigns, ad sets,
//! images, creatives and ads made and the days a test sets, and can be told to refuse
//! calls with code 17 (naming `estimated_time_to_regain_access`), to fail a route's
//! calls with code 2 before doing them, to invalidate the token (code 190), or to cut
//! the connection after doing a call (its answer lost).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use boardroom_adapters::{MetaAdsConnection, OAuthSecret};
use chrono::{DateTime, NaiveDate};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The version this fake speaks, pinned apart from the client's.
pub(crate) const VERSION: &str = "v27.0";
/// The system user's long-lived token, and the app's secret.
pub(crate) const ACCESS_TOKEN: &str = "EAAFakeSystemUserToken0123456789";
pub(crate) const APP_SECRET: &str = "fake-meta-app-secret";
/// The ad account (digits), its business and its Page.
pub(crate) const AD_ACCOUNT: &str = "1234567890";
pub(crate) const BUSINESS_ID: &str = "4455667788";
pub(crate) const PAGE_ID: &str = "102030405060";
/// Rows per page of a listing.
pub(crate) const PAGE_ROWS: usize = 2;
/// The least daily budget, in cents (Meta's minimum depends on the currency and
/// billing event; a dollar here).
pub(crate) const MIN_DAILY_BUDGET: i64 = 100;

/// The routes, as counted.
pub(crate) const CREATE_CAMPAIGN: &str = "POST campaigns";
pub(crate) const LIST_CAMPAIGNS: &str = "GET campaigns";
pub(crate) const CREATE_AD_SET: &str = "POST adsets";
pub(crate) const LIST_AD_SETS: &str = "GET adsets";
pub(crate) const INSIGHTS: &str = "GET insights";
pub(crate) const SET_STATUS: &str = "POST object";
pub(crate) const UPLOAD_IMAGE: &str = "POST adimages";
pub(crate) const CREATE_CREATIVE: &str = "POST adcreatives";
pub(crate) const LIST_CREATIVES: &str = "GET adcreatives";
pub(crate) const CREATE_AD: &str = "POST ads";
pub(crate) const LIST_ADS: &str = "GET ads";

const OBJECTIVES: [&str; 6] = [
    "OUTCOME_APP_PROMOTION",
    "OUTCOME_AWARENESS",
    "OUTCOME_ENGAGEMENT",
    "OUTCOME_LEADS",
    "OUTCOME_SALES",
    "OUTCOME_TRAFFIC",
];
const SPECIAL_AD_CATEGORIES: [&str; 6] =
    ["NONE", "EMPLOYMENT", "HOUSING", "CREDIT", "ISSUES_ELECTIONS_POLITICS", "ONLINE_GAMBLING_AND_GAMING"];
const STATUSES: [&str; 2] = ["ACTIVE", "PAUSED"];
const BILLING_EVENTS: [&str; 2] = ["IMPRESSIONS", "LINK_CLICKS"];
const OPTIMIZATION_GOALS: [&str; 5] =
    ["LINK_CLICKS", "LANDING_PAGE_VIEWS", "IMPRESSIONS", "REACH", "OFFSITE_CONVERSIONS"];
const INSIGHTS_FIELDS: [&str; 6] = ["campaign_id", "campaign_name", "spend", "impressions", "clicks", "actions"];
/// Parameters every call may carry.
const AUTH_PARAMS: [&str; 2] = ["access_token", "appsecret_proof"];

/// A campaign as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeCampaign {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) objective: String,
    pub(crate) status: String,
    pub(crate) special_ad_categories: Vec<String>,
    pub(crate) buying_type: Option<String>,
}

/// An ad set as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeAdSet {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) campaign_id: String,
    /// Cents.
    pub(crate) daily_budget: i64,
    pub(crate) billing_event: String,
    pub(crate) optimization_goal: String,
    pub(crate) bid_strategy: String,
    pub(crate) countries: Vec<String>,
    pub(crate) start_time: String,
    pub(crate) end_time: String,
    pub(crate) status: String,
}

/// An ad creative as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeCreative {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) page_id: String,
    pub(crate) link: String,
    pub(crate) message: Option<String>,
    pub(crate) headline: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) image_hash: Option<String>,
    pub(crate) call_to_action: Option<String>,
}

/// An ad as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeAd {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) ad_set_id: String,
    pub(crate) creative_id: String,
    pub(crate) status: String,
}

/// A campaign's day of delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeDay {
    /// Dollars, as Meta writes them (`"12.34"`).
    pub(crate) spend: String,
    pub(crate) impressions: u64,
    pub(crate) clicks: u64,
    pub(crate) purchases: u64,
}

#[derive(Default)]
struct MetaState {
    token_invalidated: bool,
    next_id: u64,
    campaigns: Vec<FakeCampaign>,
    ad_sets: Vec<FakeAdSet>,
    /// Uploaded pictures: hash, and size in bytes.
    images: HashMap<String, usize>,
    creatives: Vec<FakeCreative>,
    ads: Vec<FakeAd>,
    /// Per route: calls left to fail with code 2 before doing anything.
    outages: HashMap<String, u32>,
    /// Per route: calls left to refuse with code 200 before doing anything.
    permission_refusals: HashMap<String, u32>,
    days: BTreeMap<(NaiveDate, String), FakeDay>,
    /// Refusals with code 17 left, and the minutes each names.
    rate_limited: Option<(u32, u64)>,
    /// Per route: answers left to lose.
    cuts: HashMap<String, u32>,
    calls: HashMap<String, u32>,
    /// The usage share every answer reports, in percent.
    usage_percent: u64,
    /// Each refusal's code.
    refusals: Vec<i64>,
    /// The `after` cursors asked of insights, in order.
    insights_cursors: Vec<String>,
}

/// A running fake Graph API.
#[derive(Clone, Default)]
pub(crate) struct MetaAdsFake {
    state: Arc<Mutex<MetaState>>,
}

/// An answer before it is sent: its status, JSON body and extra headers.
struct Answer {
    status: StatusCode,
    body: Value,
    regain_minutes: u64,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body, regain_minutes: 0 }
    }
}

/// A Graph error: code, subcode, type and message.
fn graph_error(fake: &MetaAdsFake, code: i64, subcode: Option<i64>, kind: &str, message: &str) -> Answer {
    let mut state = fake.state();
    state.refusals.push(code);
    state.next_id += 1;
    let trace = format!("FakeTrace{}", state.next_id);
    drop(state);
    let mut error = json!({ "message": message, "type": kind, "code": code, "fbtrace_id": trace });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Answer { status: StatusCode::BAD_REQUEST, body: json!({ "error": error }), regain_minutes: 0 }
}

/// Code 100, a parameter Meta refuses, with the words it tells people.
fn invalid_parameter(fake: &MetaAdsFake, subcode: Option<i64>, message: &str, user_message: &str) -> Answer {
    let mut answer = graph_error(fake, 100, subcode, "OAuthException", message);
    if !user_message.is_empty() {
        answer.body["error"]["error_user_title"] = json!("Invalid parameter");
        answer.body["error"]["error_user_msg"] = json!(user_message);
    }
    answer
}

fn required(fake: &MetaAdsFake, name: &str) -> Answer {
    invalid_parameter(fake, None, &format!("(#100) The parameter {name} is required"), "")
}

impl MetaAdsFake {
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/{version}/{node}/{edge}", get(edge).post(edge))
            .route("/{version}/{node}", post(object))
            .fallback(|| async { unknown_path() })
            .with_state(self.clone())
    }

    /// A connection to this fake at `base_url`, the account written as digits alone.
    pub(crate) fn connection(base_url: &str) -> MetaAdsConnection {
        MetaAdsConnection {
            api_base_url: base_url.to_owned(),
            access_token: OAuthSecret::new(ACCESS_TOKEN),
            app_secret: OAuthSecret::new(APP_SECRET),
            ad_account_id: AD_ACCOUNT.to_owned(),
            page_id: Some(PAGE_ID.to_owned()),
            currency_minor_digits: 2,
            countries: vec!["US".to_owned(), "CA".to_owned()],
        }
    }

    fn state(&self) -> MutexGuard<'_, MetaState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls received by `route` ([`CREATE_CAMPAIGN`], [`INSIGHTS`], …), refused ones
    /// included.
    pub(crate) fn calls(&self, route: &str) -> u32 {
        self.state().calls.get(route).copied().unwrap_or(0)
    }

    /// Calls received on every route.
    pub(crate) fn all_calls(&self) -> u32 {
        self.state().calls.values().sum()
    }

    pub(crate) fn campaigns(&self) -> Vec<FakeCampaign> {
        self.state().campaigns.clone()
    }

    pub(crate) fn ad_sets(&self) -> Vec<FakeAdSet> {
        self.state().ad_sets.clone()
    }

    pub(crate) fn creatives(&self) -> Vec<FakeCreative> {
        self.state().creatives.clone()
    }

    pub(crate) fn ads(&self) -> Vec<FakeAd> {
        self.state().ads.clone()
    }

    /// The uploaded pictures: hash and size.
    pub(crate) fn images(&self) -> Vec<(String, usize)> {
        self.state().images.iter().map(|(hash, size)| (hash.clone(), *size)).collect()
    }

    /// The next `times` calls to `route` fail with code 2 (a temporary issue), nothing
    /// done.
    pub(crate) fn fail_calls(&self, route: &str, times: u32) {
        self.state().outages.insert(route.to_owned(), times);
    }

    /// The next `times` calls to `route` are refused with code 200, a permissions error
    /// (the system user lost the ad account's `ads_management` task for a moment),
    /// nothing done. Unlike an outage it is an answer, so a client neither retries it nor
    /// counts it towards opening its circuit.
    pub(crate) fn refuse_calls(&self, route: &str, times: u32) {
        self.state().permission_refusals.insert(route.to_owned(), times);
    }

    /// The error codes refused so far.
    pub(crate) fn refusals(&self) -> Vec<i64> {
        self.state().refusals.clone()
    }

    /// The `after` cursors insights were asked for, in order.
    pub(crate) fn insights_cursors(&self) -> Vec<String> {
        self.state().insights_cursors.clone()
    }

    /// `campaign` delivered `day` on `date`.
    pub(crate) fn set_day(&self, campaign: &str, date: NaiveDate, day: FakeDay) {
        self.state().days.insert((date, campaign.to_owned()), day);
    }

    /// The next `times` calls are refused with code 17 (the ad account's subcode
    /// 2446079), `X-Business-Use-Case-Usage` naming `regain_minutes`.
    pub(crate) fn rate_limit(&self, times: u32, regain_minutes: u64) {
        self.state().rate_limited = Some((times, regain_minutes));
    }

    /// The owner changed their password: the token stops working (code 190).
    pub(crate) fn invalidate_token(&self) {
        self.state().token_invalidated = true;
    }

    /// The next `times` calls to `route` are done as asked (made, or refused), then the
    /// connection is cut before their answer is whole.
    pub(crate) fn cut_answers(&self, route: &str, times: u32) {
        self.state().cuts.insert(route.to_owned(), times);
    }

    /// Every answer from now reports `percent` of the quotas used.
    pub(crate) fn set_usage(&self, percent: u64) {
        self.state().usage_percent = percent;
    }

    fn count(&self, route: &str) {
        *self.state().calls.entry(route.to_owned()).or_default() += 1;
    }

    fn take_outage(&self, route: &str) -> bool {
        let mut state = self.state();
        state.outages.get_mut(route).and_then(|left| left.checked_sub(1).map(|now| *left = now)).is_some()
    }

    fn take_permission_refusal(&self, route: &str) -> bool {
        let mut state = self.state();
        state.permission_refusals.get_mut(route).and_then(|left| left.checked_sub(1).map(|now| *left = now)).is_some()
    }

    fn take_cut(&self, route: &str) -> bool {
        let mut state = self.state();
        state.cuts.get_mut(route).and_then(|left| left.checked_sub(1).map(|now| *left = now)).is_some()
    }

    fn take_rate_limit(&self) -> Option<u64> {
        let mut state = self.state();
        let (left, minutes) = state.rate_limited.as_mut()?;
        *left = left.checked_sub(1)?;
        Some(*minutes)
    }

    fn new_id(&self, prefix: u64) -> String {
        let mut state = self.state();
        state.next_id += 1;
        format!("{prefix}{:06}", state.next_id)
    }
}

fn unknown_path() -> Response {
    let body = json!({ "error": { "message": "Unknown path components", "type": "OAuthException", "code": 2500,
        "fbtrace_id": "FakeTrace0" } });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// The usage headers, then the body; a refusal for a rate limit names its wait.
fn render(fake: &MetaAdsFake, answer: Answer) -> Response {
    let percent = if answer.regain_minutes > 0 { 100 } else { fake.state().usage_percent };
    let app = json!({ "call_count": percent, "total_time": percent / 2, "total_cputime": percent / 2 });
    let account =
        json!({ "acc_id_util_pct": percent, "reset_time_duration": 0, "ads_api_access_tier": "standard_access" });
    let business = json!({ BUSINESS_ID: [{ "type": "ads_management", "call_count": percent, "total_cputime": 1,
        "total_time": 1, "estimated_time_to_regain_access": answer.regain_minutes,
        "ads_api_access_tier": "standard_access" }] });
    let mut response = (answer.status, axum::Json(answer.body)).into_response();
    for (name, value) in
        [("x-app-usage", app), ("x-ad-account-usage", account), ("x-business-use-case-usage", business)]
    {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// An answer cut off: the head promises more than the body holds, so the server closes
/// the connection once the body ends, and the client reads an incomplete message.
fn cut_off() -> Response {
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"i").into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
    response
}

/// The call's parameters: its query string, and a `POST`'s form body (Graph reads both).
fn parameters(method: &Method, query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Result<Params, ()> {
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    if *method == Method::POST && !body.is_empty() {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(());
        }
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    Ok(Params(params))
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The first parameter not among `served` or the auth ones.
    fn unknown(&self, served: &[&str]) -> Option<&str> {
        self.0.iter().map(|(key, _)| key.as_str()).find(|key| !served.contains(key) && !AUTH_PARAMS.contains(key))
    }
}

/// The checks every call passes: version, token, proof, rate limit.
fn admit(fake: &MetaAdsFake, version: &str, headers: &HeaderMap, params: &Params) -> Result<(), Answer> {
    if version != VERSION {
        return Err(graph_error(fake, 2500, None, "OAuthException", &format!("Unknown path components: /{version}")));
    }
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("OAuth ")));
    let Some(token) = params.get("access_token").or(from_header) else {
        return Err(graph_error(
            fake,
            104,
            None,
            "OAuthException",
            "An access token is required to request this resource.",
        ));
    };
    if token != ACCESS_TOKEN {
        return Err(graph_error(
            fake,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        ));
    }
    if fake.state().token_invalidated {
        return Err(graph_error(
            fake,
            190,
            Some(460),
            "OAuthException",
            "Error validating access token: The session has been invalidated because the user changed their password \
             or Facebook has changed the session for security reasons.",
        ));
    }
    let Some(proof) = params.get("appsecret_proof") else {
        return Err(graph_error(
            fake,
            100,
            None,
            "GraphMethodException",
            "API calls from the server require an appsecret_proof argument",
        ));
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    if proof != hex::encode(mac.finalize().into_bytes()) {
        return Err(graph_error(
            fake,
            100,
            None,
            "GraphMethodException",
            "Invalid appsecret_proof provided in the API argument",
        ));
    }
    if let Some(minutes) = fake.take_rate_limit() {
        let mut answer = graph_error(fake, 17, Some(2446079), "OAuthException", "(#17) User request limit reached");
        answer.body["error"]["is_transient"] = json!(true);
        answer.body["error"]["error_user_title"] = json!("Ad Account Has Too Many API Calls");
        answer.body["error"]["error_user_msg"] =
            json!("There have been too many calls to this ad-account. Wait a bit and try again.");
        answer.regain_minutes = minutes;
        return Err(answer);
    }
    Ok(())
}

fn unsupported(fake: &MetaAdsFake, method: &Method, node: &str) -> Answer {
    let verb = if *method == Method::GET { "get" } else { "post" };
    graph_error(
        fake,
        100,
        Some(33),
        "GraphMethodException",
        &format!(
            "Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be loaded due to missing \
             permissions, or does not support this operation."
        ),
    )
}

async fn edge(
    State(fake): State<MetaAdsFake>,
    method: Method,
    Path((version, node, edge)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = format!("{method} {edge}");
    fake.count(&route);
    let answer = match parameters(&method, query.as_deref(), &headers, &body) {
        Err(()) => invalid_parameter(&fake, None, "(#100) The body must be form-encoded", ""),
        Ok(params) => match admit(&fake, &version, &headers, &params) {
            Err(refusal) => refusal,
            Ok(()) if node != format!("act_{AD_ACCOUNT}") => unsupported(&fake, &method, &node),
            Ok(()) if fake.take_outage(&route) => {
                let mut answer = graph_error(
                    &fake,
                    2,
                    None,
                    "OAuthException",
                    "An unexpected error has occurred. Please retry your request later.",
                );
                answer.status = StatusCode::INTERNAL_SERVER_ERROR;
                answer.body["error"]["is_transient"] = json!(true);
                answer
            }
            Ok(()) if fake.take_permission_refusal(&route) => graph_error(
                &fake,
                200,
                None,
                "OAuthException",
                "(#200) Requires ads_management permission to manage the object",
            ),
            Ok(()) => {
                let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
                let next_base = format!("http://{host}/{VERSION}/{node}/{edge}");
                match (route.as_str(), &params) {
                    (CREATE_CAMPAIGN, params) => create_campaign(&fake, params),
                    (CREATE_AD_SET, params) => create_ad_set(&fake, params),
                    (UPLOAD_IMAGE, params) => upload_image(&fake, params),
                    (CREATE_CREATIVE, params) => create_ad_creative(&fake, params),
                    (CREATE_AD, params) => create_ad(&fake, params),
                    (LIST_CAMPAIGNS | LIST_AD_SETS | LIST_CREATIVES | LIST_ADS, params) => {
                        list(&fake, &edge, params, &next_base)
                    }
                    (INSIGHTS, params) => insights(&fake, params, &next_base),
                    _ => unsupported(&fake, &method, &format!("{node}/{edge}")),
                }
            }
        },
    };
    if fake.take_cut(&route) {
        return cut_off();
    }
    render(&fake, answer)
}

async fn object(
    State(fake): State<MetaAdsFake>,
    Path((version, node)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.count(SET_STATUS);
    let answer = match parameters(&Method::POST, query.as_deref(), &headers, &body) {
        Err(()) => invalid_parameter(&fake, None, "(#100) The body must be form-encoded", ""),
        Ok(params) => match admit(&fake, &version, &headers, &params) {
            Err(refusal) => refusal,
            Ok(()) => set_status(&fake, &node, &params),
        },
    };
    if fake.take_cut(SET_STATUS) {
        return cut_off();
    }
    render(&fake, answer)
}

fn one_of(fake: &MetaAdsFake, params: &Params, name: &str, allowed: &[&str]) -> Result<String, Answer> {
    let value = params.get(name).ok_or_else(|| required(fake, name))?;
    if !allowed.contains(&value) {
        return Err(invalid_parameter(
            fake,
            None,
            &format!("(#100) {name} must be one of the following values: {}", allowed.join(", ")),
            "",
        ));
    }
    Ok(value.to_owned())
}

fn create_campaign(fake: &MetaAdsFake, params: &Params) -> Answer {
    let served =
        ["name", "objective", "status", "special_ad_categories", "buying_type", "is_adset_budget_sharing_enabled"];
    if let Some(unknown) = params.unknown(&served) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let made = (|| {
        let name = params.get("name").filter(|name| !name.trim().is_empty()).ok_or_else(|| required(fake, "name"))?;
        let objective = one_of(fake, params, "objective", &OBJECTIVES)?;
        let status = one_of(fake, params, "status", &STATUSES)?;
        let categories = params.get("special_ad_categories").ok_or_else(|| {
            invalid_parameter(
                fake,
                Some(1885829),
                "(#100) The parameter special_ad_categories is required",
                "Special Ad Categories Required: you must declare whether your campaign is about credit, employment, \
                 housing, or social issues, elections or politics. Send [] if it is none of these.",
            )
        })?;
        let categories: Vec<String> = serde_json::from_str(categories)
            .ok()
            .filter(|list: &Vec<String>| list.iter().all(|category| SPECIAL_AD_CATEGORIES.contains(&category.as_str())))
            .ok_or_else(|| {
                invalid_parameter(fake, None, "(#100) special_ad_categories must be an array of categories", "")
            })?;
        let buying_type = match params.get("buying_type") {
            None => None,
            Some(_) => Some(one_of(fake, params, "buying_type", &["AUCTION", "RESERVED"])?),
        };
        if params.get("is_adset_budget_sharing_enabled").is_some() {
            one_of(fake, params, "is_adset_budget_sharing_enabled", &["true", "false"])?;
        }
        Ok(FakeCampaign {
            id: fake.new_id(120_210),
            name: name.to_owned(),
            objective,
            status,
            special_ad_categories: categories,
            buying_type,
        })
    })();
    match made {
        Ok(campaign) => {
            let id = campaign.id.clone();
            fake.state().campaigns.push(campaign);
            Answer::ok(json!({ "id": id }))
        }
        Err(refusal) => refusal,
    }
}

fn create_ad_set(fake: &MetaAdsFake, params: &Params) -> Answer {
    let served = [
        "name",
        "campaign_id",
        "daily_budget",
        "billing_event",
        "optimization_goal",
        "bid_strategy",
        "targeting",
        "start_time",
        "end_time",
        "status",
    ];
    if let Some(unknown) = params.unknown(&served) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let made = (|| {
        let name = params.get("name").filter(|name| !name.trim().is_empty()).ok_or_else(|| required(fake, "name"))?;
        let campaign_id = params.get("campaign_id").ok_or_else(|| required(fake, "campaign_id"))?;
        if !fake.state().campaigns.iter().any(|campaign| campaign.id == campaign_id) {
            return Err(invalid_parameter(
                fake,
                Some(1487057),
                "(#100) Param campaign_id must be a valid campaign id",
                "The campaign you selected does not exist or was deleted.",
            ));
        }
        let budget = params.get("daily_budget").ok_or_else(|| required(fake, "daily_budget"))?;
        let budget: i64 = budget
            .parse()
            .map_err(|_| invalid_parameter(fake, None, "(#100) Param daily_budget must be an integer", ""))?;
        if budget < MIN_DAILY_BUDGET {
            return Err(invalid_parameter(
                fake,
                Some(1885272),
                "Invalid parameter",
                "Your budget is too low. The minimum budget for this ad set is $1.00.",
            ));
        }
        let billing_event = one_of(fake, params, "billing_event", &BILLING_EVENTS)?;
        let optimization_goal = one_of(fake, params, "optimization_goal", &OPTIMIZATION_GOALS)?;
        let bid_strategy = one_of(fake, params, "bid_strategy", &["LOWEST_COST_WITHOUT_CAP"])?;
        let targeting: Value = params.get("targeting").ok_or_else(|| required(fake, "targeting")).and_then(|text| {
            serde_json::from_str(text)
                .map_err(|_| invalid_parameter(fake, None, "(#100) Param targeting must be a JSON object", ""))
        })?;
        let countries: Vec<String> = targeting
            .pointer("/geo_locations/countries")
            .and_then(|countries| serde_json::from_value(countries.clone()).ok())
            .filter(|countries: &Vec<String>| !countries.is_empty())
            .ok_or_else(|| {
                invalid_parameter(fake, Some(1487079), "Invalid parameter", "Your audience needs a location.")
            })?;
        let advantage = targeting.pointer("/targeting_automation/advantage_audience").and_then(Value::as_i64);
        if !matches!(advantage, Some(0 | 1)) {
            return Err(invalid_parameter(
                fake,
                Some(1870227),
                "Invalid parameter",
                "Advantage audience flag required: set targeting_automation.advantage_audience to 0 or 1.",
            ));
        }
        let time = |name: &str| {
            let text = params.get(name).ok_or_else(|| required(fake, name))?;
            DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
                .map(|time| (text.to_owned(), time))
                .map_err(|_| invalid_parameter(fake, None, &format!("(#100) Param {name} must be a valid time"), ""))
        };
        let (start_time, start) = time("start_time")?;
        let (end_time, end) = time("end_time")?;
        if end <= start {
            return Err(invalid_parameter(
                fake,
                Some(1487013),
                "Invalid parameter",
                "The end time of your ad set must be after its start time.",
            ));
        }
        let status = one_of(fake, params, "status", &STATUSES)?;
        Ok(FakeAdSet {
            id: fake.new_id(120_220),
            name: name.to_owned(),
            campaign_id: campaign_id.to_owned(),
            daily_budget: budget,
            billing_event,
            optimization_goal,
            bid_strategy,
            countries,
            start_time,
            end_time,
            status,
        })
    })();
    match made {
        Ok(ad_set) => {
            let id = ad_set.id.clone();
            fake.state().ad_sets.push(ad_set);
            Answer::ok(json!({ "id": id }))
        }
        Err(refusal) => refusal,
    }
}

/// The buttons a link ad's call to action may name (those this fake serves).
const CALLS_TO_ACTION: [&str; 5] = ["SHOP_NOW", "LEARN_MORE", "BUY_NOW", "SIGN_UP", "ORDER_NOW"];

/// An uploaded picture's hash: the image library names a picture by its bytes.
fn image_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(Sha256::digest(bytes))[..32].to_owned()
}

fn upload_image(fake: &MetaAdsFake, params: &Params) -> Answer {
    use base64::Engine as _;
    // Stricter: the multipart `filename` upload is not served, only `bytes`.
    if let Some(unknown) = params.unknown(&["bytes"]) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let Some(encoded) = params.get("bytes") else {
        return required(fake, "bytes");
    };
    let bytes = match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(bytes) if !bytes.is_empty() => bytes,
        _ => return invalid_parameter(fake, Some(1487242), "Invalid parameter", "The image could not be read."),
    };
    let hash = image_hash(&bytes);
    fake.state().images.insert(hash.clone(), bytes.len());
    Answer::ok(json!({ "images": { "bytes": {
        "hash": hash,
        "url": format!("https://scontent.example.com/{hash}.png"),
    } } }))
}

fn create_ad_creative(fake: &MetaAdsFake, params: &Params) -> Answer {
    if let Some(unknown) = params.unknown(&["name", "object_story_spec"]) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let made = (|| {
        let name = params.get("name").filter(|name| !name.trim().is_empty()).ok_or_else(|| required(fake, "name"))?;
        let spec: Value =
            params.get("object_story_spec").ok_or_else(|| required(fake, "object_story_spec")).and_then(|text| {
                serde_json::from_str(text)
                    .map_err(|_| invalid_parameter(fake, None, "(#100) Param object_story_spec must be JSON", ""))
            })?;
        if spec.get("page_id").and_then(Value::as_str) != Some(PAGE_ID) {
            return Err(invalid_parameter(
                fake,
                Some(1487472),
                "(#100) Param object_story_spec[page_id] must be a valid Page ID",
                "An ad speaks as a Facebook Page the ad account may use.",
            ));
        }
        let Some(link_data) = spec.get("link_data").and_then(Value::as_object) else {
            return Err(required(fake, "object_story_spec[link_data]"));
        };
        let served = ["link", "message", "name", "description", "image_hash", "call_to_action"];
        if let Some(unknown) = link_data.keys().find(|key| !served.contains(&key.as_str())) {
            return Err(invalid_parameter(fake, None, &format!("(#100) link_data[{unknown}] is not served"), ""));
        }
        let text = |name: &str| link_data.get(name).and_then(Value::as_str).map(str::to_owned);
        let link = text("link").filter(|link| link.starts_with("https://") || link.starts_with("http://")).ok_or_else(
            || invalid_parameter(fake, Some(1443048), "Invalid parameter", "A link ad needs a link to a web page."),
        )?;
        if let Some(hash) = text("image_hash")
            && !fake.state().images.contains_key(&hash)
        {
            return Err(invalid_parameter(fake, Some(1487242), "Invalid parameter", "Image not found in the library."));
        }
        let call_to_action = link_data.get("call_to_action").map(|action| {
            let kind = action.get("type").and_then(Value::as_str).unwrap_or_default();
            let to = action.pointer("/value/link").and_then(Value::as_str);
            (kind.to_owned(), to.map(str::to_owned))
        });
        if let Some((kind, to)) = &call_to_action
            && (!CALLS_TO_ACTION.contains(&kind.as_str()) || to.as_deref() != Some(link.as_str()))
        {
            return Err(invalid_parameter(
                fake,
                None,
                "(#100) call_to_action needs a known type and value.link, the ad's link",
                "",
            ));
        }
        Ok(FakeCreative {
            id: fake.new_id(120_230),
            name: name.to_owned(),
            page_id: PAGE_ID.to_owned(),
            link,
            message: text("message"),
            headline: text("name"),
            description: text("description"),
            image_hash: text("image_hash"),
            call_to_action: call_to_action.map(|(kind, _)| kind),
        })
    })();
    match made {
        Ok(creative) => {
            let id = creative.id.clone();
            fake.state().creatives.push(creative);
            Answer::ok(json!({ "id": id }))
        }
        Err(refusal) => refusal,
    }
}

fn create_ad(fake: &MetaAdsFake, params: &Params) -> Answer {
    if let Some(unknown) = params.unknown(&["name", "adset_id", "creative", "status"]) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let made = (|| {
        let name = params.get("name").filter(|name| !name.trim().is_empty()).ok_or_else(|| required(fake, "name"))?;
        let ad_set_id = params.get("adset_id").ok_or_else(|| required(fake, "adset_id"))?;
        if !fake.state().ad_sets.iter().any(|ad_set| ad_set.id == ad_set_id) {
            return Err(invalid_parameter(
                fake,
                Some(1487063),
                "(#100) Param adset_id must be a valid ad set id",
                "The ad set you selected does not exist or was deleted.",
            ));
        }
        let creative: Value = params.get("creative").ok_or_else(|| required(fake, "creative")).and_then(|text| {
            serde_json::from_str(text)
                .map_err(|_| invalid_parameter(fake, None, "(#100) Param creative must be a JSON object", ""))
        })?;
        let creative_id = creative.get("creative_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        if !fake.state().creatives.iter().any(|known| known.id == creative_id) {
            return Err(invalid_parameter(
                fake,
                Some(1487169),
                "(#100) Param creative must name an ad creative of this account",
                "The creative you selected does not exist.",
            ));
        }
        let status = one_of(fake, params, "status", &STATUSES)?;
        Ok(FakeAd {
            id: fake.new_id(120_240),
            name: name.to_owned(),
            ad_set_id: ad_set_id.to_owned(),
            creative_id,
            status,
        })
    })();
    match made {
        Ok(ad) => {
            let id = ad.id.clone();
            fake.state().ads.push(ad);
            Answer::ok(json!({ "id": id }))
        }
        Err(refusal) => refusal,
    }
}

fn set_status(fake: &MetaAdsFake, node: &str, params: &Params) -> Answer {
    if let Some(unknown) = params.unknown(&["status"]) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let status = match one_of(fake, params, "status", &STATUSES) {
        Ok(status) => status,
        Err(refusal) => return refusal,
    };
    let mut state = fake.state();
    let campaign = state.campaigns.iter_mut().find(|campaign| campaign.id == node).map(|campaign| &mut campaign.status);
    let target = match campaign {
        Some(target) => Some(target),
        None => state.ad_sets.iter_mut().find(|ad_set| ad_set.id == node).map(|ad_set| &mut ad_set.status),
    };
    match target {
        Some(target) => {
            *target = status;
            drop(state);
            Answer::ok(json!({ "success": true }))
        }
        None => {
            drop(state);
            unsupported(fake, &Method::POST, node)
        }
    }
}

/// A page of `rows` from the cursor in `params`, with Meta's `paging`.
fn page(fake: &MetaAdsFake, rows: Vec<Value>, params: &Params, next_base: &str) -> Answer {
    let start = match params.get("after") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("QVFIUm").and_then(|offset| offset.parse::<usize>().ok()) {
            Some(offset) if offset <= rows.len() => offset,
            _ => return invalid_parameter(fake, None, "(#100) The after cursor is not valid", ""),
        },
    };
    let end = (start + PAGE_ROWS).min(rows.len());
    let data: Vec<Value> = rows[start..end].to_vec();
    let mut body = json!({ "data": data });
    if !data.is_empty() {
        let mut paging = json!({ "cursors": { "before": format!("QVFIUm{start}"), "after": format!("QVFIUm{end}") } });
        if end < rows.len() {
            let query: Vec<(String, String)> = params
                .0
                .iter()
                .filter(|(key, _)| !AUTH_PARAMS.contains(&key.as_str()) && key != "after")
                .cloned()
                .chain([("after".to_owned(), format!("QVFIUm{end}"))])
                .collect();
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
            paging["next"] = json!(format!("{next_base}?{query}"));
        }
        body["paging"] = paging;
    }
    Answer::ok(body)
}

fn list(fake: &MetaAdsFake, edge: &str, params: &Params, next_base: &str) -> Answer {
    if let Some(unknown) = params.unknown(&["fields", "filtering", "limit", "after"]) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    let (node_type, known): (&str, &[&str]) = match edge {
        "campaigns" => ("Campaign", &["id", "name", "status", "objective"]),
        "adcreatives" => ("AdCreative", &["id", "name", "object_story_spec"]),
        "ads" => ("Adgroup", &["id", "name", "status", "adset_id", "creative"]),
        _ => ("AdCampaign", &["id", "name", "status", "campaign_id", "daily_budget"]),
    };
    let fields: Vec<&str> = params.get("fields").unwrap_or("id").split(',').map(str::trim).collect();
    if let Some(field) = fields.iter().find(|field| !known.contains(field)) {
        return invalid_parameter(
            fake,
            None,
            &format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"),
            "",
        );
    }
    let mut name_equal: Option<String> = None;
    if let Some(filtering) = params.get("filtering") {
        let filters: Option<Vec<Value>> = serde_json::from_str(filtering).ok();
        for filter in filters.unwrap_or_else(|| vec![Value::Null]) {
            let served = filter.get("field").and_then(Value::as_str) == Some("name")
                && filter.get("operator").and_then(Value::as_str) == Some("EQUAL");
            match filter.get("value").and_then(Value::as_str) {
                Some(value) if served => name_equal = Some(value.to_owned()),
                _ => {
                    return invalid_parameter(
                        fake,
                        Some(1815180),
                        "(#100) Filtering field is invalid (this fake serves name EQUAL only)",
                        "",
                    );
                }
            }
        }
    }
    let state = fake.state();
    let objects: Vec<Value> = match edge {
        "campaigns" => state
            .campaigns
            .iter()
            .map(|campaign| {
                json!({ "id": campaign.id, "name": campaign.name, "status": campaign.status,
                    "objective": campaign.objective })
            })
            .collect(),
        "adcreatives" => state
            .creatives
            .iter()
            .map(|creative| {
                json!({ "id": creative.id, "name": creative.name,
                    "object_story_spec": { "page_id": creative.page_id, "link_data": { "link": creative.link } } })
            })
            .collect(),
        "ads" => state
            .ads
            .iter()
            .map(|ad| {
                json!({ "id": ad.id, "name": ad.name, "status": ad.status, "adset_id": ad.ad_set_id,
                    "creative": { "id": ad.creative_id } })
            })
            .collect(),
        _ => state
            .ad_sets
            .iter()
            .map(|ad_set| {
                json!({ "id": ad_set.id, "name": ad_set.name, "status": ad_set.status,
                    "campaign_id": ad_set.campaign_id, "daily_budget": ad_set.daily_budget.to_string() })
            })
            .collect(),
    };
    drop(state);
    let rows: Vec<Value> = objects
        .into_iter()
        .filter(|object| name_equal.as_deref().is_none_or(|name| object["name"].as_str() == Some(name)))
        .map(|object| {
            let mut row = json!({ "id": object["id"] });
            for field in &fields {
                row[*field] = object[*field].clone();
            }
            row
        })
        .collect();
    page(fake, rows, params, next_base)
}

fn insights(fake: &MetaAdsFake, params: &Params, next_base: &str) -> Answer {
    let served = ["level", "time_increment", "time_range", "fields", "limit", "after"];
    if let Some(unknown) = params.unknown(&served) {
        return invalid_parameter(fake, None, &format!("(#100) Param {unknown} is not served by this fake"), "");
    }
    if let Err(refusal) = one_of(fake, params, "level", &["campaign"]) {
        return refusal;
    }
    if let Err(refusal) = one_of(fake, params, "time_increment", &["1"]) {
        return refusal;
    }
    let range: Option<(NaiveDate, NaiveDate)> =
        params.get("time_range").and_then(|text| serde_json::from_str::<Value>(text).ok()).and_then(|range| {
            let date = |name: &str| range.get(name)?.as_str()?.parse::<NaiveDate>().ok();
            Some((date("since")?, date("until")?))
        });
    let Some((since, until)) = range.filter(|(since, until)| since <= until) else {
        return invalid_parameter(fake, None, "(#100) Param time_range must be {\"since\":..., \"until\":...}", "");
    };
    let fields: Vec<&str> = params.get("fields").unwrap_or_default().split(',').map(str::trim).collect();
    if let Some(field) = fields.iter().find(|field| !INSIGHTS_FIELDS.contains(field)) {
        return invalid_parameter(
            fake,
            None,
            &format!("(#100) {field} is not valid for fields param. please check the documentation"),
            "",
        );
    }
    if let Some(after) = params.get("after") {
        fake.state().insights_cursors.push(after.to_owned());
    }
    let state = fake.state();
    let rows: Vec<Value> = state
        .days
        .range((since, String::new())..)
        .take_while(|((date, _), _)| *date <= until)
        .filter(|(_, day)| day.impressions > 0 || day.spend != "0")
        .map(|((date, campaign_id), day)| {
            let name = state.campaigns.iter().find(|campaign| campaign.id == *campaign_id).map(|c| c.name.clone());
            let mut actions = Vec::new();
            if day.clicks > 0 {
                actions.push(json!({ "action_type": "link_click", "value": day.clicks.to_string() }));
            }
            if day.purchases > 0 {
                let purchases = day.purchases.to_string();
                actions.push(json!({ "action_type": "offsite_conversion.fb_pixel_purchase", "value": purchases }));
                actions.push(json!({ "action_type": "purchase", "value": purchases }));
            }
            let has_actions = !actions.is_empty();
            let all = json!({
                "campaign_id": campaign_id,
                "campaign_name": name,
                "spend": day.spend,
                "impressions": day.impressions.to_string(),
                "clicks": day.clicks.to_string(),
                "actions": actions,
            });
            let mut row = json!({ "date_start": date.to_string(), "date_stop": date.to_string() });
            for field in &fields {
                // Meta leaves an empty `actions` out.
                if *field == "actions" && !has_actions {
                    continue;
                }
                row[*field] = all[*field].clone();
            }
            row
        })
        .collect();
    drop(state);
    page(fake, rows, params, next_base)
}
