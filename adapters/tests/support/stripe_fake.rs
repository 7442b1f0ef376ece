//! A local Stripe API that follows the protocol and refuses anything else, for the
//! client's tests (an axum server on `127.0.0.1:0`).
//!
//! What it enforces, as Stripe does (or, where marked, more strictly, so that the client
//! is held to what it must send):
//! - `Authorization: Bearer {SECRET_KEY}`, else 401 with Stripe's error body (no key, or
//!   an invalid one shown masked as `sk_test_****1234`);
//! - only the paths it serves under `/v1` (others: 404 "Unrecognized request URL");
//! - `Stripe-Version` equal to [`STRIPE_API_VERSION`] (stricter: Stripe would fall back
//!   to the account's default when it is missing);
//! - `Stripe-Account`, when sent, naming one of the platform's connected accounts; the
//!   objects made under it belong to that account and are invisible to others;
//! - `POST` bodies form-encoded (`application/x-www-form-urlencoded`, bracket notation);
//!   JSON bodies and query strings on a `POST` are refused, and so are bodies on a
//!   `GET`;
//! - on each operation, only its documented parameters (a subset of each: the ones
//!   the client may send and a few neighbours) with their types, enums and required
//!   fields: anything else is a 400 `parameter_unknown` / `parameter_missing` /
//!   `parameter_invalid_*` naming the `param`; metadata to Stripe's limits (50 keys,
//!   keys up to 40 characters, values up to 500);
//! - `Idempotency-Key` on every `POST` (stricter: Stripe makes it optional), at most 255
//!   characters, scoped to the account acted on: a repeat with the same parameters gets
//!   the first answer byte for byte with its status, plus `Idempotent-Replayed: true`;
//!   the same key with other parameters is a 400 `idempotency_error`; a repeat while the
//!   first is still running is a 409. Requests refused before they ran (validation, a
//!   scripted fault) are not kept under the key, as Stripe documents.
//!
//! It keeps products, prices, payment links, connected accounts, checkout sessions,
//! payment intents, charges and refunds, the balances money moves between (the
//! platform's and each connected account's), and the events a webhook would deliver. A
//! test can buy through a payment link ([`StripeFake::buy`]), finish an account's
//! onboarding ([`StripeFake::complete_onboarding`]), script failures ([`StripeFault`]),
//! and count the calls it received per route (`"POST /v1/products"`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use boardroom_adapters::{STRIPE_API_VERSION, StripeConnection};
use serde_json::{Map, Number, Value, json};

/// The platform's secret key the fake accepts.
pub(crate) const SECRET_KEY: &str = "sk_test_51FakePlatform0123456789abcdefWXYZ";

/// A way for the next call to fail, as Stripe's do. A scripted failure happens before
/// the request runs, so it is not kept under the idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StripeFault {
    /// 429 `rate_limit`, with `Stripe-Should-Retry` when given.
    RateLimited { should_retry: Option<bool> },
    /// 500 `api_error`, with `Stripe-Should-Retry` when given.
    ServerError { should_retry: Option<bool> },
    /// 402 `card_error` `card_declined` with this decline code.
    CardDeclined { decline_code: &'static str },
    /// 400 `lock_timeout` with `Stripe-Should-Retry: true`: a 4xx worth retrying.
    LockTimeout,
    /// Runs the request, but answers only after this long, its key held as running
    /// until then: with a shorter client time-out, an answer lost on the way back.
    AnswerLate(Duration),
}

/// A request as received, for tests to inspect.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// `"POST /v1/products"`, with ids in paths as `{account}`.
    pub(crate) route: String,
    pub(crate) stripe_account: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) content_type: Option<String>,
    /// The form (or query) fields as sent, decoded, in order.
    pub(crate) fields: Vec<(String, String)>,
}

/// What one purchase through a payment link made.
#[derive(Debug, Clone)]
pub(crate) struct Purchase {
    pub(crate) session: String,
    pub(crate) payment_intent: String,
    pub(crate) charge: String,
}

/// The running fake.
pub(crate) struct StripeFake {
    world: Arc<Mutex<World>>,
    server: super::LocalServer,
}

impl StripeFake {
    /// Starts a fake Stripe on a free local port.
    pub(crate) async fn start() -> Self {
        let world = Arc::new(Mutex::new(World::default()));
        let app = Router::new().fallback(endpoint).with_state(Arc::clone(&world));
        Self { world, server: super::LocalServer::start(app).await }
    }

    /// `http://127.0.0.1:{port}`.
    pub(crate) fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// A connection with the platform's key.
    pub(crate) fn connection(&self) -> StripeConnection {
        StripeConnection::new(self.server.base_url(), SECRET_KEY)
    }

    /// Calls received on `route` (`"POST /v1/products"`, `"GET /v1/accounts/{account}"`),
    /// whatever came of them; unknown paths count under their own method and path.
    pub(crate) fn calls(&self, route: &str) -> usize {
        self.world().calls.get(route).copied().unwrap_or(0)
    }

    /// Answers replayed from an idempotency key.
    pub(crate) fn replays(&self) -> usize {
        self.world().replays
    }

    /// Requests refused for a missing or wrong key.
    pub(crate) fn refused_keys(&self) -> usize {
        self.world().refused_keys
    }

    /// Every request that got past the key check, in order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.world().received.clone()
    }

    /// The last request received on `route`.
    pub(crate) fn last(&self, route: &str) -> Received {
        self.received().into_iter().rfind(|request| request.route == route).expect("a request on the route")
    }

    /// Makes the next `times` calls to `route` (any route if `None`) fail with `fault`,
    /// after those already queued.
    pub(crate) fn fail_next(&self, route: Option<&str>, times: usize, fault: StripeFault) {
        let mut world = self.world();
        for _ in 0..times {
            world.faults.push_back((route.map(str::to_owned), fault));
        }
    }

    /// The objects of `kind` (`"product"`, `"price"`, `"payment_link"`, `"account"`,
    /// `"checkout.session"`, `"charge"`, `"refund"`, …), oldest first, with the account
    /// each belongs to (`None`: the platform's).
    pub(crate) fn objects(&self, kind: &str) -> Vec<(Option<String>, Value)> {
        self.world()
            .objects
            .iter()
            .filter(|stored| stored.value["object"] == kind)
            .map(|stored| (stored.account.clone(), stored.value.clone()))
            .collect()
    }

    /// The object with `id`.
    pub(crate) fn object(&self, id: &str) -> Value {
        self.world().find(id).map(|stored| stored.value.clone()).expect("an object with the id")
    }

    /// The money an account holds, in minor units (`None`: the platform).
    pub(crate) fn balance(&self, account: Option<&str>) -> i64 {
        self.world().balances.get(&account.map(str::to_owned)).copied().unwrap_or(0)
    }

    /// The events a webhook endpoint would have been sent, oldest first.
    pub(crate) fn events(&self) -> Vec<Value> {
        self.world().events.clone()
    }

    /// A buyer pays through the payment link `link`: a completed checkout session, a
    /// succeeded payment intent and its charge are made in the link's account, money
    /// moves (the fee to the platform, the rest to the destination or the connected
    /// account), and `checkout.session.completed` and `payment_intent.succeeded` events
    /// are recorded.
    pub(crate) fn buy(&self, link: &str) -> Purchase {
        self.world().buy(link)
    }

    /// The owner of `account` finishes onboarding: details submitted, charges and
    /// payouts enabled, requested capabilities active; an `account.updated` event is
    /// recorded.
    pub(crate) fn complete_onboarding(&self, account: &str) {
        self.world().complete_onboarding(account);
    }

    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// The HTTP edge
// ---------------------------------------------------------------------------------------

/// An answer: status, JSON body text (kept byte for byte for replays), extra headers.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    body: String,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(object: Value) -> Self {
        Self { status: StatusCode::OK, body: pretty(&object), headers: Vec::new() }
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self, request_id: &str) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("request-id", HeaderValue::from_str(request_id).expect("a header value"));
        headers.insert("stripe-version", HeaderValue::from_static(STRIPE_API_VERSION));
        for (name, value) in self.headers {
            headers.insert(name, HeaderValue::from_str(&value).expect("a header value"));
        }
        response
    }
}

/// Stripe pretty-prints its JSON answers.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON serialises")
}

/// A Stripe error answer.
fn refusal(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    message: impl Into<String>,
    param: Option<&str>,
) -> Answer {
    let mut error = Map::new();
    error.insert("type".to_owned(), json!(kind));
    if let Some(code) = code {
        error.insert("code".to_owned(), json!(code));
        error.insert(
            "doc_url".to_owned(),
            json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))),
        );
    }
    error.insert("message".to_owned(), json!(message.into()));
    if let Some(param) = param {
        error.insert("param".to_owned(), json!(param));
    }
    Answer { status, body: pretty(&json!({ "error": error })), headers: Vec::new() }
}

fn invalid(code: &str, message: impl Into<String>, param: &str) -> Answer {
    refusal(StatusCode::BAD_REQUEST, "invalid_request_error", Some(code), message, Some(param))
}

fn no_such(kind: &str, id: &str, param: &str) -> Answer {
    refusal(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        format!("No such {kind}: '{id}'"),
        Some(param),
    )
}

/// The routes served, as `(method, path) → (route, template)`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    CreateProduct,
    CreatePrice,
    CreatePaymentLink,
    UpdatePaymentLink(String),
    CreateAccount,
    RetrieveAccount(String),
    CreateAccountLink,
    CreateRefund,
    ListCheckoutSessions,
    ListCharges,
}

fn route(method: &Method, path: &str) -> Option<(Route, &'static str)> {
    let found = match (method.as_str(), path) {
        ("POST", "/v1/products") => (Route::CreateProduct, "POST /v1/products"),
        ("POST", "/v1/prices") => (Route::CreatePrice, "POST /v1/prices"),
        ("POST", "/v1/payment_links") => (Route::CreatePaymentLink, "POST /v1/payment_links"),
        ("POST", "/v1/accounts") => (Route::CreateAccount, "POST /v1/accounts"),
        ("POST", "/v1/account_links") => (Route::CreateAccountLink, "POST /v1/account_links"),
        ("POST", "/v1/refunds") => (Route::CreateRefund, "POST /v1/refunds"),
        ("GET", "/v1/checkout/sessions") => (Route::ListCheckoutSessions, "GET /v1/checkout/sessions"),
        ("GET", "/v1/charges") => (Route::ListCharges, "GET /v1/charges"),
        ("POST", path) => {
            let link = path.strip_prefix("/v1/payment_links/").filter(|id| !id.is_empty() && !id.contains('/'))?;
            (Route::UpdatePaymentLink(link.to_owned()), "POST /v1/payment_links/{payment_link}")
        }
        ("GET", path) => {
            let account = path.strip_prefix("/v1/accounts/").filter(|id| !id.is_empty() && !id.contains('/'))?;
            (Route::RetrieveAccount(account.to_owned()), "GET /v1/accounts/{account}")
        }
        _ => return None,
    };
    Some(found)
}

async fn endpoint(
    State(world): State<Arc<Mutex<World>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let found = route(&method, uri.path());
    let request_id = {
        let mut world = lock(&world);
        let counted =
            found.as_ref().map_or_else(|| format!("{method} {}", uri.path()), |(_, template)| (*template).to_owned());
        *world.calls.entry(counted).or_default() += 1;
        world.next_id("req")
    };
    let answer = handle(&world, &method, &uri, found, &headers, &body).await;
    answer.into_response(&request_id)
}

async fn handle(
    world: &Arc<Mutex<World>>,
    method: &Method,
    uri: &Uri,
    found: Option<(Route, &'static str)>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    // 1. The key, before anything else.
    let authorization = header_text("authorization");
    match authorization.as_deref().and_then(|value| value.strip_prefix("Bearer ")) {
        Some(SECRET_KEY) => {}
        presented => {
            lock(world).refused_keys += 1;
            let message = match presented {
                None => "You did not provide an API key. You need to provide your API key in the Authorization \
                         header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See \
                         https://stripe.com/docs/api#authentication for details, or we can help at \
                         https://support.stripe.com/."
                    .to_owned(),
                Some(key) => {
                    let last = key.get(key.len().saturating_sub(4)..).unwrap_or_default();
                    let prefix = key.get(..8).filter(|_| key.len() > 12).unwrap_or("sk_");
                    format!("Invalid API Key provided: {prefix}****{last}")
                }
            };
            return refusal(StatusCode::UNAUTHORIZED, "invalid_request_error", None, message, None);
        }
    }
    // 2. The path.
    let Some((route, template)) = found else {
        return refusal(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {}). Please see https://stripe.com/docs or we can help at \
                 https://support.stripe.com/.",
                uri.path()
            ),
            None,
        );
    };
    // 3. The version.
    match header_text("stripe-version") {
        Some(version) if version == STRIPE_API_VERSION => {}
        Some(version) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                format!("Invalid Stripe API version: {version}"),
                None,
            );
        }
        None => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                format!("This fake requires Stripe-Version: {STRIPE_API_VERSION} on every request."),
                None,
            );
        }
    }
    // 4. The fields: a form body on POST, a query string on GET.
    let content_type = header_text("content-type");
    let raw: &[u8] = if *method == Method::POST {
        let form = content_type.as_deref().and_then(|value| value.split(';').next()).map(str::trim)
            == Some("application/x-www-form-urlencoded");
        if !form {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "Invalid request: Stripe takes parameters as application/x-www-form-urlencoded, not \
                 as JSON or any other type.",
                None,
            );
        }
        if uri.query().is_some() {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "This fake takes the parameters of a POST in its body only.",
                None,
            );
        }
        body
    } else {
        if !body.is_empty() {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "A GET request takes no body.",
                None,
            );
        }
        uri.query().unwrap_or_default().as_bytes()
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(raw).into_owned().collect();
    let stripe_account = header_text("stripe-account");
    let idempotency_key = header_text("idempotency-key");
    lock(world).received.push(Received {
        route: template.to_owned(),
        stripe_account: stripe_account.clone(),
        idempotency_key: idempotency_key.clone(),
        content_type,
        fields: fields.clone(),
    });
    // 5. The account acted on.
    if let Some(account) = &stripe_account
        && !lock(world).is_connected(account)
    {
        return refusal(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            Some("account_invalid"),
            format!(
                "The provided key 'sk_test_****{}' does not have access to account '{account}' (or that account \
                     does not exist). Application access may have been revoked.",
                &SECRET_KEY[SECRET_KEY.len() - 4..]
            ),
            None,
        );
    }
    // 6. The parameters, against the operation's schema.
    let params = match parse(&fields).and_then(|tree| check_params(schema(&route), &tree)) {
        Ok(params) => params,
        Err(answer) => return answer,
    };
    // 7. The idempotency key on a POST.
    let key = if *method == Method::POST {
        match idempotency_key {
            None => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    None,
                    "This fake requires an Idempotency-Key header on every POST.",
                    None,
                );
            }
            Some(key) if key.is_empty() || key.len() > 255 => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    None,
                    format!("Idempotency-Key must be 1 to 255 characters long; this one has {}.", key.len()),
                    None,
                );
            }
            Some(key) => Some(key),
        }
    } else {
        None
    };
    // 8. Scripted failures, before the request runs.
    let fault = {
        let mut world = lock(world);
        world.take_fault(template)
    };
    if let Some(answer) = fault.and_then(scripted) {
        return answer;
    }
    // 9. Replay, refuse or reserve the key; run; keep the answer under the key.
    let scope = (stripe_account.clone(), key.clone().unwrap_or_default());
    let fingerprint = format!("{method} {} {}", uri.path(), params);
    let answer = {
        let mut world = lock(world);
        if let Some(key) = &key {
            match world.idempotency.get(&scope).cloned() {
                Some(Slot::Done { fingerprint: first, answer }) if first == fingerprint => {
                    world.replays += 1;
                    return answer.with_header("idempotent-replayed", "true");
                }
                Some(Slot::Done { .. }) => {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "idempotency_error",
                        None,
                        format!(
                            "Keys for idempotent requests can only be used with the same parameters they were first \
                             used with. Try using a key other than '{key}' if you meant to execute a different request."
                        ),
                        None,
                    );
                }
                Some(Slot::Running) => {
                    return refusal(
                        StatusCode::CONFLICT,
                        "idempotency_error",
                        Some("idempotency_key_in_use"),
                        format!(
                            "There is currently another in-progress request using this Idempotent Key (that probably \
                             means you submitted twice, and the other request is still going through): {key}. \
                             Please try again later."
                        ),
                        None,
                    );
                }
                None => {
                    world.idempotency.insert(scope.clone(), Slot::Running);
                }
            }
        }
        world.run(&route, &params, stripe_account.as_deref())
    };
    let answer = match &key {
        Some(key) => answer.with_header("idempotency-key", key.clone()),
        None => answer,
    };
    let keep = {
        let world = Arc::clone(world);
        let answer = answer.clone();
        let late = match fault {
            Some(StripeFault::AnswerLate(wait)) => wait,
            _ => Duration::ZERO,
        };
        // A task of its own, so that a client that gave up waiting (dropping this
        // handler) does not leave the key running for ever.
        tokio::spawn(async move {
            if !late.is_zero() {
                tokio::time::sleep(late).await;
            }
            if key.is_some() {
                lock(&world).idempotency.insert(scope, Slot::Done { fingerprint, answer });
            }
        })
    };
    keep.await.expect("the answer is kept");
    answer
}

fn scripted(fault: StripeFault) -> Option<Answer> {
    let should_retry = |answer: Answer, should_retry: Option<bool>| match should_retry {
        Some(value) => answer.with_header("stripe-should-retry", value.to_string()),
        None => answer,
    };
    Some(match fault {
        StripeFault::RateLimited { should_retry: flag } => should_retry(
            refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request_error",
                Some("rate_limit"),
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                None,
            ),
            flag,
        ),
        StripeFault::ServerError { should_retry: flag } => should_retry(
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "api_error", None, "An unknown error occurred", None),
            flag,
        ),
        StripeFault::CardDeclined { decline_code } => {
            let message = match decline_code {
                "insufficient_funds" => "Your card has insufficient funds.",
                "expired_card" => "Your card has expired.",
                _ => "Your card was declined.",
            };
            let mut answer = refusal(StatusCode::PAYMENT_REQUIRED, "card_error", Some("card_declined"), message, None);
            let mut body: Value = serde_json::from_str(&answer.body).expect("JSON");
            body["error"]["decline_code"] = json!(decline_code);
            answer.body = pretty(&body);
            answer
        }
        StripeFault::LockTimeout => should_retry(
            refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("lock_timeout"),
                "This object cannot be accessed right now because another API request or Stripe process is \
                 currently accessing it. If you see this error intermittently, retry the request.",
                None,
            ),
            Some(true),
        ),
        StripeFault::AnswerLate(_) => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Parameters: bracket notation, parsed and checked against a schema
// ---------------------------------------------------------------------------------------

/// What a parameter may be.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A non-empty string.
    Text,
    /// A non-negative integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A decimal number.
    Decimal,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Keys and string values, to Stripe's metadata limits.
    Metadata,
    /// A hash with these fields.
    Object(&'static [Field]),
    /// An indexed list (`name[0][...]`) or a pushed one (`name[]=…`).
    List(&'static Shape),
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    shape: Shape,
    required: bool,
}

const fn optional(name: &'static str, shape: Shape) -> Field {
    Field { name, shape, required: false }
}

const fn required(name: &'static str, shape: Shape) -> Field {
    Field { name, shape, required: true }
}

/// The currencies the fake knows (Stripe knows more).
const CURRENCIES: &[&str] = &["usd", "eur", "gbp", "cad", "aud", "jpy", "chf", "sek", "nok", "dkk", "nzd", "sgd"];

const PRODUCT: &[Field] = &[
    required("name", Shape::Text),
    optional("description", Shape::Text),
    optional("metadata", Shape::Metadata),
    optional("active", Shape::Boolean),
    optional("images", Shape::List(&Shape::Text)),
    optional("url", Shape::Text),
    optional("statement_descriptor", Shape::Text),
    optional("unit_label", Shape::Text),
];

const PRICE: &[Field] = &[
    required("currency", Shape::Text),
    optional("product", Shape::Text),
    optional("unit_amount", Shape::Integer),
    optional("active", Shape::Boolean),
    optional("nickname", Shape::Text),
    optional("lookup_key", Shape::Text),
    optional("metadata", Shape::Metadata),
    optional("tax_behavior", Shape::OneOf(&["exclusive", "inclusive", "unspecified"])),
];

const LINE_ITEM: &[Field] = &[required("price", Shape::Text), required("quantity", Shape::Integer)];

const PAYMENT_LINK: &[Field] = &[
    required("line_items", Shape::List(&Shape::Object(LINE_ITEM))),
    optional("application_fee_amount", Shape::Integer),
    optional("application_fee_percent", Shape::Decimal),
    optional(
        "transfer_data",
        Shape::Object(&[required("destination", Shape::Text), optional("amount", Shape::Integer)]),
    ),
    optional("on_behalf_of", Shape::Text),
    optional("metadata", Shape::Metadata),
    optional("allow_promotion_codes", Shape::Boolean),
];

/// What `POST /v1/payment_links/{id}` takes (a subset): a link's prices cannot be
/// changed, only whether it is active and its details.
const PAYMENT_LINK_UPDATE: &[Field] = &[
    optional("active", Shape::Boolean),
    optional("metadata", Shape::Metadata),
    optional("allow_promotion_codes", Shape::Boolean),
    optional("inactive_message", Shape::Text),
];

const CONTROLLER: &[Field] = &[
    optional("fees", Shape::Object(&[optional("payer", Shape::OneOf(&["account", "application"]))])),
    optional("losses", Shape::Object(&[optional("payments", Shape::OneOf(&["application", "stripe"]))])),
    optional("requirement_collection", Shape::OneOf(&["application", "stripe"])),
    optional("stripe_dashboard", Shape::Object(&[optional("type", Shape::OneOf(&["express", "full", "none"]))])),
];

const CAPABILITY: Shape = Shape::Object(&[optional("requested", Shape::Boolean)]);

const ACCOUNT: &[Field] = &[
    optional("controller", Shape::Object(CONTROLLER)),
    optional("type", Shape::OneOf(&["custom", "express", "standard"])),
    optional("country", Shape::Text),
    optional("email", Shape::Text),
    optional("business_type", Shape::OneOf(&["company", "government_entity", "individual", "non_profit"])),
    optional(
        "capabilities",
        Shape::Object(&[optional("card_payments", CAPABILITY), optional("transfers", CAPABILITY)]),
    ),
    optional("metadata", Shape::Metadata),
];

const ACCOUNT_LINK: &[Field] = &[
    required("account", Shape::Text),
    required("type", Shape::OneOf(&["account_onboarding", "account_update"])),
    optional("refresh_url", Shape::Text),
    optional("return_url", Shape::Text),
    optional("collect", Shape::OneOf(&["currently_due", "eventually_due"])),
];

const REFUND: &[Field] = &[
    optional("payment_intent", Shape::Text),
    optional("charge", Shape::Text),
    optional("amount", Shape::Integer),
    optional("reason", Shape::OneOf(&["duplicate", "fraudulent", "requested_by_customer"])),
    optional("metadata", Shape::Metadata),
    optional("reverse_transfer", Shape::Boolean),
    optional("refund_application_fee", Shape::Boolean),
];

const LIST: &[Field] = &[optional("limit", Shape::Integer), optional("starting_after", Shape::Text)];

const CREATED_RANGE: &[Field] = &[
    optional("gt", Shape::Integer),
    optional("gte", Shape::Integer),
    optional("lt", Shape::Integer),
    optional("lte", Shape::Integer),
];

/// `GET /v1/checkout/sessions` takes filters besides the page (a subset of them).
const CHECKOUT_SESSION_LIST: &[Field] = &[
    optional("limit", Shape::Integer),
    optional("starting_after", Shape::Text),
    optional("payment_link", Shape::Text),
    optional("payment_intent", Shape::Text),
    optional("status", Shape::OneOf(&["complete", "expired", "open"])),
    optional("created", Shape::Object(CREATED_RANGE)),
];

const NOTHING: &[Field] = &[];

fn schema(route: &Route) -> &'static [Field] {
    match route {
        Route::CreateProduct => PRODUCT,
        Route::CreatePrice => PRICE,
        Route::CreatePaymentLink => PAYMENT_LINK,
        Route::UpdatePaymentLink(_) => PAYMENT_LINK_UPDATE,
        Route::CreateAccount => ACCOUNT,
        Route::RetrieveAccount(_) => NOTHING,
        Route::CreateAccountLink => ACCOUNT_LINK,
        Route::CreateRefund => REFUND,
        Route::ListCheckoutSessions => CHECKOUT_SESSION_LIST,
        Route::ListCharges => LIST,
    }
}

/// The fields as a tree: `a[b][0]=x` is `a → b → 0 → "x"`; `a[]=x&a[]=y` is a pushed list.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
    Pushed(Vec<String>),
}

fn parse(fields: &[(String, String)]) -> Result<Node, Answer> {
    let mut root = BTreeMap::new();
    for (name, value) in fields {
        let malformed = || invalid("parameter_invalid", format!("Invalid parameter name: {name}"), name);
        let (head, mut rest) = match name.find('[') {
            Some(at) => (&name[..at], &name[at..]),
            None => (name.as_str(), ""),
        };
        if head.is_empty() {
            return Err(malformed());
        }
        let mut path = vec![head.to_owned()];
        while !rest.is_empty() {
            let inner = rest.strip_prefix('[').ok_or_else(malformed)?;
            let close = inner.find(']').ok_or_else(malformed)?;
            path.push(inner[..close].to_owned());
            rest = &inner[close + 1..];
        }
        insert(&mut root, &path, value.clone()).map_err(|()| {
            invalid("parameter_invalid", format!("Invalid array or hash, or a parameter given twice: {name}"), name)
        })?;
    }
    Ok(Node::Branch(root))
}

fn insert(branch: &mut BTreeMap<String, Node>, path: &[String], value: String) -> Result<(), ()> {
    let (first, rest) = path.split_first().ok_or(())?;
    if rest.len() == 1 && rest[0].is_empty() {
        // `name[]=value`: a pushed list.
        return match branch.entry(first.clone()).or_insert_with(|| Node::Pushed(Vec::new())) {
            Node::Pushed(values) => {
                values.push(value);
                Ok(())
            }
            _ => Err(()),
        };
    }
    if rest.is_empty() {
        return match branch.insert(first.clone(), Node::Leaf(value)) {
            None => Ok(()),
            Some(_) => Err(()),
        };
    }
    if rest.iter().any(String::is_empty) {
        return Err(());
    }
    match branch.entry(first.clone()).or_insert_with(|| Node::Branch(BTreeMap::new())) {
        Node::Branch(inner) => insert(inner, rest, value),
        _ => Err(()),
    }
}

fn check_params(fields: &'static [Field], tree: &Node) -> Result<Value, Answer> {
    check_object(fields, tree, "")
}

fn nested(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}[{name}]") }
}

fn check_object(fields: &'static [Field], node: &Node, param: &str) -> Result<Value, Answer> {
    let Node::Branch(entries) = node else {
        return Err(invalid("parameter_invalid", format!("Invalid hash: {param}"), param));
    };
    let mut object = Map::new();
    for (name, child) in entries {
        let name_param = nested(param, name);
        let Some(field) = fields.iter().find(|field| field.name == name) else {
            return Err(invalid("parameter_unknown", format!("Received unknown parameter: {name_param}"), &name_param));
        };
        object.insert(name.clone(), check(field.shape, child, &name_param)?);
    }
    for field in fields.iter().filter(|field| field.required) {
        if !object.contains_key(field.name) {
            let name_param = nested(param, field.name);
            return Err(invalid("parameter_missing", format!("Missing required param: {name_param}."), &name_param));
        }
    }
    Ok(Value::Object(object))
}

fn check(shape: Shape, node: &Node, param: &str) -> Result<Value, Answer> {
    let leaf = || match node {
        Node::Leaf(value) => Ok(value.as_str()),
        _ => Err(invalid("parameter_invalid", format!("Invalid {param}: expected a single value"), param)),
    };
    let empty = || {
        invalid(
            "parameter_invalid_empty",
            format!(
                "You passed an empty string for '{param}'. We assume empty values are an attempt to unset a \
                 parameter; however '{param}' cannot be unset. You should remove '{param}' from your request or \
                 supply a non-empty value."
            ),
            param,
        )
    };
    match shape {
        Shape::Text => {
            let value = leaf()?;
            if value.is_empty() { Err(empty()) } else { Ok(json!(value)) }
        }
        Shape::Integer => {
            let value = leaf()?;
            value
                .parse::<u64>()
                .map(|number| json!(number))
                .map_err(|_| invalid("parameter_invalid_integer", format!("Invalid integer: {value}"), param))
        }
        Shape::Boolean => match leaf()? {
            "true" => Ok(json!(true)),
            "false" => Ok(json!(false)),
            other => Err(invalid("parameter_invalid", format!("Invalid boolean: {other}"), param)),
        },
        Shape::Decimal => {
            let value = leaf()?;
            value
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite() && !value.contains(['e', 'E']))
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| invalid("parameter_invalid", format!("Invalid decimal: {value}"), param))
        }
        Shape::OneOf(allowed) => {
            let value = leaf()?;
            if allowed.contains(&value) {
                Ok(json!(value))
            } else {
                let last = param.rsplit('[').next().unwrap_or(param).trim_end_matches(']');
                Err(invalid(
                    "parameter_invalid",
                    format!("Invalid {last}: must be one of {}", allowed.join(", ")),
                    param,
                ))
            }
        }
        Shape::Metadata => {
            let entries = match node {
                // `metadata=` unsets it all: nothing to keep on a new object.
                Node::Leaf(value) if value.is_empty() => return Ok(json!({})),
                Node::Branch(entries) => entries,
                _ => return Err(invalid("parameter_invalid", format!("Invalid hash: {param}"), param)),
            };
            if entries.len() > 50 {
                return Err(invalid("parameter_invalid", "Metadata can have up to 50 keys.", param));
            }
            let mut metadata = Map::new();
            for (key, value) in entries {
                let key_param = nested(param, key);
                let Node::Leaf(value) = value else {
                    return Err(invalid(
                        "parameter_invalid",
                        format!("Invalid metadata value: {key_param}"),
                        &key_param,
                    ));
                };
                if key.chars().count() > 40 {
                    return Err(invalid(
                        "parameter_invalid",
                        format!("Metadata keys can have up to 40 characters; {key:?} has {}.", key.chars().count()),
                        &key_param,
                    ));
                }
                if value.chars().count() > 500 {
                    return Err(invalid(
                        "parameter_invalid",
                        "Metadata values can have up to 500 characters.",
                        &key_param,
                    ));
                }
                if !value.is_empty() {
                    metadata.insert(key.clone(), json!(value));
                }
            }
            Ok(Value::Object(metadata))
        }
        Shape::Object(fields) => check_object(fields, node, param),
        Shape::List(item) => match node {
            Node::Pushed(values) => values
                .iter()
                .map(|value| check(*item, &Node::Leaf(value.clone()), &format!("{param}[]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Node::Branch(entries) => {
                let mut items = Vec::new();
                for at in 0..entries.len() {
                    let Some(child) = entries.get(&at.to_string()) else {
                        return Err(invalid("parameter_invalid", format!("Invalid array: {param}"), param));
                    };
                    items.push(check(*item, child, &format!("{param}[{at}]"))?);
                }
                Ok(Value::Array(items))
            }
            Node::Leaf(_) => Err(invalid("parameter_invalid", format!("Invalid array: {param}"), param)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The account's objects
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Slot {
    Running,
    Done { fingerprint: String, answer: Answer },
}

#[derive(Debug, Clone)]
struct Stored {
    /// The connected account it belongs to; `None`: the platform.
    account: Option<String>,
    value: Value,
}

#[derive(Default)]
struct World {
    next_id: u64,
    calls: HashMap<String, usize>,
    received: Vec<Received>,
    faults: VecDeque<(Option<String>, StripeFault)>,
    /// (account acted on, key) → the key's state.
    idempotency: HashMap<(Option<String>, String), Slot>,
    replays: usize,
    refused_keys: usize,
    /// Every object, oldest first.
    objects: Vec<Stored>,
    balances: HashMap<Option<String>, i64>,
    events: Vec<Value>,
    /// The fake's clock in unix seconds: the wall clock, but at least a second per
    /// object, so that creation times order lists as Stripe's do.
    now: i64,
}

impl World {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_1Fk{:013}", self.next_id)
    }

    fn tick(&mut self) -> i64 {
        self.now = (self.now + 1).max(chrono::Utc::now().timestamp());
        self.now
    }

    fn take_fault(&mut self, route: &str) -> Option<StripeFault> {
        let at = self.faults.iter().position(|(only, _)| only.as_deref().is_none_or(|only| only == route))?;
        self.faults.remove(at).map(|(_, fault)| fault)
    }

    fn find(&self, id: &str) -> Option<&Stored> {
        self.objects.iter().find(|stored| stored.value["id"] == id)
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Stored> {
        self.objects.iter_mut().find(|stored| stored.value["id"] == id)
    }

    /// The object `id` of `kind` as seen from `account`.
    fn visible(&self, kind: &str, id: &str, account: Option<&str>) -> Option<&Value> {
        self.find(id)
            .filter(|stored| stored.value["object"] == kind && stored.account.as_deref() == account)
            .map(|stored| &stored.value)
    }

    fn is_connected(&self, account: &str) -> bool {
        self.visible("account", account, None).is_some()
    }

    fn keep(&mut self, account: Option<&str>, value: Value) -> Value {
        self.objects.push(Stored { account: account.map(str::to_owned), value: value.clone() });
        value
    }

    fn credit(&mut self, account: Option<&str>, amount: i64) {
        *self.balances.entry(account.map(str::to_owned)).or_default() += amount;
    }

    fn event(&mut self, kind: &str, account: Option<&str>, object: Value) {
        let id = self.next_id("evt");
        let created = self.tick();
        let mut event = json!({
            "id": id, "object": "event", "api_version": STRIPE_API_VERSION, "created": created,
            "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null }, "type": kind,
        });
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        self.events.push(event);
    }

    fn run(&mut self, route: &Route, params: &Value, account: Option<&str>) -> Answer {
        let outcome = match route {
            Route::CreateProduct => self.create_product(params, account),
            Route::CreatePrice => self.create_price(params, account),
            Route::CreatePaymentLink => self.create_payment_link(params, account),
            Route::UpdatePaymentLink(id) => self.update_payment_link(id, params, account),
            Route::CreateAccount => self.create_account(params, account),
            Route::RetrieveAccount(id) => self.retrieve_account(id, account),
            Route::CreateAccountLink => self.create_account_link(params, account),
            Route::CreateRefund => self.create_refund(params, account),
            Route::ListCheckoutSessions => self.list("checkout.session", "/v1/checkout/sessions", params, account),
            Route::ListCharges => self.list("charge", "/v1/charges", params, account),
        };
        outcome.unwrap_or_else(|refused| refused)
    }

    fn create_product(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        let id = self.next_id("prod");
        let created = self.tick();
        let product = json!({
            "id": id, "object": "product", "active": params.get("active").cloned().unwrap_or(json!(true)),
            "created": created, "default_price": null, "description": params.get("description").cloned().unwrap_or(Value::Null),
            "features": [], "images": params.get("images").cloned().unwrap_or(json!([])), "livemode": false,
            "metadata": params.get("metadata").cloned().unwrap_or(json!({})), "name": params["name"],
            "package_dimensions": null, "shippable": null,
            "statement_descriptor": params.get("statement_descriptor").cloned().unwrap_or(Value::Null),
            "tax_code": null, "unit_label": params.get("unit_label").cloned().unwrap_or(Value::Null),
            "updated": created, "url": params.get("url").cloned().unwrap_or(Value::Null),
        });
        Ok(Answer::ok(self.keep(account, product)))
    }

    fn create_price(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        let currency = params["currency"].as_str().unwrap_or_default();
        if !CURRENCIES.contains(&currency) {
            return Err(invalid("parameter_invalid", format!("Invalid currency: {currency}."), "currency"));
        }
        let Some(product) = params.get("product").and_then(Value::as_str) else {
            return Err(invalid("parameter_missing", "Missing required param: product.", "product"));
        };
        if self.visible("product", product, account).is_none() {
            return Err(no_such("product", product, "product"));
        }
        let Some(unit_amount) = params.get("unit_amount").and_then(Value::as_u64) else {
            return Err(invalid("parameter_missing", "Missing required param: unit_amount.", "unit_amount"));
        };
        if unit_amount > 99_999_999 {
            return Err(invalid("parameter_invalid_integer", "Amount must be no more than $999,999.99", "unit_amount"));
        }
        let id = self.next_id("price");
        let created = self.tick();
        let price = json!({
            "id": id, "object": "price", "active": params.get("active").cloned().unwrap_or(json!(true)),
            "billing_scheme": "per_unit", "created": created, "currency": currency, "custom_unit_amount": null,
            "livemode": false, "lookup_key": params.get("lookup_key").cloned().unwrap_or(Value::Null),
            "metadata": params.get("metadata").cloned().unwrap_or(json!({})),
            "nickname": params.get("nickname").cloned().unwrap_or(Value::Null), "product": product,
            "recurring": null, "tax_behavior": params.get("tax_behavior").cloned().unwrap_or(json!("unspecified")),
            "tiers_mode": null, "transform_quantity": null, "type": "one_time", "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount.to_string(),
        });
        Ok(Answer::ok(self.keep(account, price)))
    }

    fn create_payment_link(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        let items = params["line_items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return Err(invalid("parameter_missing", "Missing required param: line_items.", "line_items"));
        }
        let mut currency: Option<String> = None;
        let mut total: u64 = 0;
        for (at, item) in items.iter().enumerate() {
            let param = format!("line_items[{at}][price]");
            let price_id = item["price"].as_str().unwrap_or_default();
            let Some(price) = self.visible("price", price_id, account) else {
                return Err(no_such("price", price_id, &param));
            };
            let quantity = item["quantity"].as_u64().unwrap_or_default();
            if quantity == 0 {
                let param = format!("line_items[{at}][quantity]");
                return Err(invalid("parameter_invalid_integer", "Quantity must be at least 1.", &param));
            }
            let price_currency = price["currency"].as_str().unwrap_or_default().to_owned();
            if currency.as_ref().is_some_and(|first| *first != price_currency) {
                return Err(invalid(
                    "parameter_invalid",
                    "All prices on a payment link must share a currency.",
                    &param,
                ));
            }
            currency = Some(price_currency);
            total = total.saturating_add(price["unit_amount"].as_u64().unwrap_or_default().saturating_mul(quantity));
        }
        let destination = params.pointer("/transfer_data/destination").and_then(Value::as_str);
        if let Some(destination) = destination {
            if account.is_some() {
                return Err(invalid(
                    "parameter_invalid",
                    "transfer_data cannot be used on a connected account's own payment link: make destination \
                     charges as the platform.",
                    "transfer_data[destination]",
                ));
            }
            let Some(connected) = self.visible("account", destination, None) else {
                return Err(no_such("destination", destination, "transfer_data[destination]"));
            };
            if connected.pointer("/capabilities/transfers") != Some(&json!("active")) {
                return Err(invalid(
                    "insufficient_capabilities_for_transfer",
                    "Your destination account needs to have at least one of the following capabilities enabled: \
                     transfers, crypto_transfers, legacy_payments",
                    "transfer_data[destination]",
                ));
            }
        }
        if params.get("application_fee_percent").is_some() {
            // Every price the fake makes is one-time.
            return Err(invalid(
                "parameter_invalid",
                "application_fee_percent can only be used when at least one line item has a recurring price; use \
                 application_fee_amount for one-time prices.",
                "application_fee_percent",
            ));
        }
        let fee = params.get("application_fee_amount").and_then(Value::as_u64);
        if let Some(fee) = fee {
            if destination.is_none() && account.is_none() {
                return Err(invalid(
                    "parameter_invalid",
                    "Can only apply an application_fee_amount when the payment is a direct payment (using the \
                     Stripe-Account header) or a destination payment (using transfer_data[destination]).",
                    "application_fee_amount",
                ));
            }
            if fee > total {
                return Err(invalid(
                    "parameter_invalid_integer",
                    format!("The application fee ({fee}) must be less than or equal to the total amount ({total})."),
                    "application_fee_amount",
                ));
            }
        }
        let id = self.next_id("plink");
        let created = self.tick();
        let link = json!({
            "id": id, "object": "payment_link", "active": true,
            "after_completion": { "hosted_confirmation": { "custom_message": null }, "type": "hosted_confirmation" },
            "allow_promotion_codes": params.get("allow_promotion_codes").cloned().unwrap_or(json!(false)),
            "application": null, "application_fee_amount": fee, "application_fee_percent": null,
            "automatic_tax": { "enabled": false, "liability": null }, "billing_address_collection": "auto",
            "currency": currency, "customer_creation": "if_required", "livemode": false,
            "metadata": params.get("metadata").cloned().unwrap_or(json!({})),
            "on_behalf_of": params.get("on_behalf_of").cloned().unwrap_or(Value::Null),
            "payment_method_types": null,
            "transfer_data": destination.map(|destination| json!({ "amount": null, "destination": destination })),
            "url": format!("https://buy.stripe.com/test_{}", &id[6..]),
            // Not part of Stripe's answer (line items are an expandable list): kept for `buy`.
            "_line_items": items, "_created": created,
        });
        let kept = self.keep(account, link);
        Ok(Answer::ok(public(&kept)))
    }

    fn update_payment_link(&mut self, id: &str, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        if self.visible("payment_link", id, account).is_none() {
            return Err(no_such("payment_link", id, "id"));
        }
        let stored = self.find_mut(id).expect("a visible link");
        let link = &mut stored.value;
        for field in ["active", "allow_promotion_codes", "inactive_message"] {
            if let Some(value) = params.get(field) {
                link[field] = value.clone();
            }
        }
        if let Some(Value::Object(changes)) = params.get("metadata") {
            // As Stripe merges metadata: an empty value removes the key.
            let metadata = link["metadata"].as_object_mut().expect("metadata");
            for (key, value) in changes {
                if value.as_str() == Some("") {
                    metadata.remove(key);
                } else {
                    metadata.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(Answer::ok(public(link)))
    }

    fn create_account(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        if account.is_some() {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "Connected accounts cannot create other accounts.",
                None,
            ));
        }
        let controller = params.get("controller");
        match (params.get("type"), controller) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "parameter_invalid",
                    "You cannot specify both `type` and `controller`. Use controller properties alone.",
                    "controller",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "parameter_missing",
                    "You must specify either `type` or `controller`.",
                    "controller",
                ));
            }
            _ => {}
        }
        let country = params.get("country").and_then(Value::as_str).unwrap_or("US");
        if !matches!(country, "US" | "GB" | "FR" | "DE" | "IE" | "NL" | "ES" | "IT" | "CA" | "AU" | "NZ" | "SE") {
            return Err(invalid(
                "country_unsupported",
                format!("Country '{country}' is unknown or unsupported."),
                "country",
            ));
        }
        if let Some(email) = params.get("email").and_then(Value::as_str)
            && (!email.contains('@') || email.contains(char::is_whitespace))
        {
            return Err(invalid("email_invalid", format!("Invalid email address: {email}"), "email"));
        }
        let dashboard =
            controller.and_then(|controller| controller.pointer("/stripe_dashboard/type")).and_then(Value::as_str);
        let kind = params.get("type").and_then(Value::as_str).or(match dashboard {
            Some("express") => Some("express"),
            Some("full") => Some("standard"),
            _ => Some("custom"),
        });
        let capabilities: Map<String, Value> = params
            .get("capabilities")
            .and_then(Value::as_object)
            .map(|requested| {
                requested
                    .iter()
                    .filter(|(_, wanted)| wanted["requested"] == true)
                    .map(|(name, _)| (name.clone(), json!("inactive")))
                    .collect()
            })
            .unwrap_or_default();
        let id = self.next_id("acct");
        let created = self.tick();
        let account = json!({
            "id": id, "object": "account", "business_profile": { "mcc": null, "name": null, "url": null },
            "business_type": params.get("business_type").cloned().unwrap_or(Value::Null),
            "capabilities": capabilities, "charges_enabled": false,
            "controller": {
                "fees": { "payer": controller.and_then(|c| c.pointer("/fees/payer")).cloned().unwrap_or(json!("account")) },
                "is_controller": true,
                "losses": { "payments": controller.and_then(|c| c.pointer("/losses/payments")).cloned().unwrap_or(json!("stripe")) },
                "requirement_collection": controller.and_then(|c| c.get("requirement_collection")).cloned().unwrap_or(json!("stripe")),
                "stripe_dashboard": { "type": dashboard.unwrap_or("none") },
                "type": "application",
            },
            "country": country, "created": created, "default_currency": "usd", "details_submitted": false,
            "email": params.get("email").cloned().unwrap_or(Value::Null),
            "metadata": params.get("metadata").cloned().unwrap_or(json!({})), "payouts_enabled": false,
            "requirements": {
                "currently_due": ["business_type", "external_account", "tos_acceptance.date", "tos_acceptance.ip"],
                "disabled_reason": "requirements.past_due",
            },
            "type": kind,
        });
        Ok(Answer::ok(self.keep(None, account)))
    }

    fn retrieve_account(&mut self, id: &str, account: Option<&str>) -> Result<Answer, Answer> {
        // The platform reads its connected accounts; a connected account reads itself.
        let visible = account.is_none_or(|acting| acting == id);
        match self.visible("account", id, None).filter(|_| visible) {
            Some(found) => Ok(Answer::ok(found.clone())),
            None => Err(no_such("account", id, "account")),
        }
    }

    fn create_account_link(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        if account.is_some() {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "Account links are made by the platform, without the Stripe-Account header.",
                None,
            ));
        }
        let target = params["account"].as_str().unwrap_or_default();
        if self.visible("account", target, None).is_none() {
            return Err(no_such("account", target, "account"));
        }
        for url in ["refresh_url", "return_url"] {
            match params.get(url).and_then(Value::as_str) {
                None => {
                    return Err(invalid("parameter_missing", format!("Missing required param: {url}."), url));
                }
                Some(value) if !(value.starts_with("https://") || value.starts_with("http://")) => {
                    return Err(invalid("url_invalid", format!("Not a valid URL: {value}"), url));
                }
                Some(_) => {}
            }
        }
        let created = self.tick();
        let token = self.next_id("link");
        Ok(Answer::ok(json!({
            "object": "account_link", "created": created, "expires_at": created + 300,
            "url": format!("https://connect.stripe.com/setup/e/{target}/{token}"),
        })))
    }

    fn create_refund(&mut self, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        let (kind, id, param) = match (params.get("payment_intent"), params.get("charge")) {
            (Some(intent), None) => {
                ("payment_intent", intent.as_str().unwrap_or_default().to_owned(), "payment_intent")
            }
            (None, Some(charge)) => ("charge", charge.as_str().unwrap_or_default().to_owned(), "charge"),
            _ => {
                return Err(invalid(
                    "parameter_missing",
                    "One of `charge` or `payment_intent` is required (and not both).",
                    "payment_intent",
                ));
            }
        };
        let Some(found) = self.visible(kind, &id, account) else { return Err(no_such(kind, &id, param)) };
        let charge_id =
            if kind == "charge" { id.clone() } else { found["latest_charge"].as_str().unwrap_or_default().to_owned() };
        let charge =
            self.visible("charge", &charge_id, account).cloned().ok_or_else(|| no_such("charge", &charge_id, param))?;
        let amount = charge["amount"].as_u64().unwrap_or_default();
        let already = charge["amount_refunded"].as_u64().unwrap_or_default();
        let left = amount - already;
        if left == 0 {
            return Err(invalid(
                "charge_already_refunded",
                format!("Charge {charge_id} has already been refunded."),
                param,
            ));
        }
        let refund_amount = params.get("amount").and_then(Value::as_u64).unwrap_or(left);
        if refund_amount == 0 {
            return Err(invalid("parameter_invalid_integer", "Refund amount must be at least 1.", "amount"));
        }
        if refund_amount > left {
            return Err(invalid(
                "amount_too_large",
                format!("Refund amount ({refund_amount}) is greater than unrefunded amount on charge ({left})"),
                "amount",
            ));
        }
        let destination = charge.pointer("/transfer_data/destination").and_then(Value::as_str).map(str::to_owned);
        let reverse = params.get("reverse_transfer") == Some(&json!(true));
        let refund_fee = params.get("refund_application_fee") == Some(&json!(true));
        if reverse && destination.is_none() {
            return Err(invalid("parameter_invalid", "This charge has no transfer to reverse.", "reverse_transfer"));
        }
        let fee = charge["application_fee_amount"].as_u64().unwrap_or_default();
        // The fee's share of this refund, rounded half up as Stripe prorates.
        let fee_share = i64::try_from(
            (u128::from(fee) * u128::from(refund_amount) * 2 + u128::from(amount)) / (2 * u128::from(amount)),
        )
        .unwrap_or_default();
        let refunded = i64::try_from(refund_amount).unwrap_or_default();
        let owner = account.map(str::to_owned);
        match (&destination, account) {
            // A destination charge: the platform pays the buyer back; a reversed transfer
            // takes the refund from the tenant, and a refunded fee gives the tenant back
            // the platform's share of it.
            (Some(destination), _) => {
                self.credit(None, -refunded);
                if reverse {
                    self.credit(Some(destination), -refunded);
                    self.credit(None, refunded);
                }
                if refund_fee {
                    self.credit(Some(destination), fee_share);
                    self.credit(None, -fee_share);
                }
            }
            // A direct charge on a connected account: it pays, and the platform gives back
            // its fee's share when asked.
            (None, Some(connected)) => {
                self.credit(Some(connected), -refunded);
                if refund_fee {
                    self.credit(Some(connected), fee_share);
                    self.credit(None, -fee_share);
                }
            }
            (None, None) => self.credit(None, -refunded),
        }
        let total_refunded = already + refund_amount;
        let updated = {
            let stored = self.find_mut(&charge_id).expect("the charge exists");
            stored.value["amount_refunded"] = json!(total_refunded);
            stored.value["refunded"] = json!(total_refunded == amount);
            stored.value.clone()
        };
        let id = self.next_id("re");
        let created = self.tick();
        let reversal = if reverse { Some(self.next_id("trr")) } else { None };
        let balance_transaction = self.next_id("txn");
        let refund = json!({
            "id": id, "object": "refund", "amount": refund_amount, "balance_transaction": balance_transaction,
            "charge": charge_id, "created": created, "currency": charge["currency"],
            "metadata": params.get("metadata").cloned().unwrap_or(json!({})),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason").cloned().unwrap_or(Value::Null), "receipt_number": null,
            "source_transfer_reversal": null, "status": "succeeded", "transfer_reversal": reversal,
        });
        let refund = self.keep(owner.as_deref(), refund);
        self.event("charge.refunded", owner.as_deref(), updated);
        Ok(Answer::ok(refund))
    }

    fn list(&mut self, kind: &str, url: &str, params: &Value, account: Option<&str>) -> Result<Answer, Answer> {
        let limit = params.get("limit").and_then(Value::as_u64).unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(invalid("parameter_invalid_integer", "Invalid limit: must be between 1 and 100", "limit"));
        }
        // Newest first, as Stripe lists.
        let created = |object: &Value| object["created"].as_i64().unwrap_or_default();
        let bound = |name: &str| params.pointer(&format!("/created/{name}")).and_then(Value::as_i64);
        let filtered = |object: &Value| {
            ["payment_link", "payment_intent", "status"]
                .iter()
                .all(|field| params.get(*field).is_none_or(|wanted| object[*field] == *wanted))
                && bound("gt").is_none_or(|at| created(object) > at)
                && bound("gte").is_none_or(|at| created(object) >= at)
                && bound("lt").is_none_or(|at| created(object) < at)
                && bound("lte").is_none_or(|at| created(object) <= at)
        };
        let mut all: Vec<&Value> = self
            .objects
            .iter()
            .filter(|stored| stored.value["object"] == kind && stored.account.as_deref() == account)
            .map(|stored| &stored.value)
            .filter(|object| filtered(object))
            .collect();
        all.reverse();
        let start = match params.get("starting_after").and_then(Value::as_str) {
            None => 0,
            Some(after) => match all.iter().position(|object| object["id"] == after) {
                Some(at) => at + 1,
                None => return Err(no_such(kind, after, "starting_after")),
            },
        };
        let limit = usize::try_from(limit).unwrap_or(100);
        let page: Vec<Value> = all.iter().skip(start).take(limit).map(|object| public(object)).collect();
        let has_more = all.len() > start + page.len();
        Ok(Answer::ok(json!({ "object": "list", "data": page, "has_more": has_more, "url": url })))
    }

    // -----------------------------------------------------------------------------------
    // What happens outside the API: buyers, onboarding
    // -----------------------------------------------------------------------------------

    fn buy(&mut self, link_id: &str) -> Purchase {
        let stored = self.find(link_id).expect("a payment link").clone();
        let account = stored.account.clone();
        let link = stored.value;
        assert_eq!(link["active"], true, "a deactivated link takes no payments: {link_id}");
        let mut amount: u64 = 0;
        for item in link["_line_items"].as_array().expect("line items") {
            let price = self.find(item["price"].as_str().expect("a price id")).expect("the price").value.clone();
            amount +=
                price["unit_amount"].as_u64().expect("a unit amount") * item["quantity"].as_u64().expect("a quantity");
        }
        let currency = link["currency"].clone();
        let fee = link["application_fee_amount"].as_u64();
        let destination = link.pointer("/transfer_data/destination").and_then(Value::as_str).map(str::to_owned);
        let (session_id, intent_id, charge_id) = (self.next_id("cs_test"), self.next_id("pi"), self.next_id("ch"));
        let created = self.tick();
        let transfer_data =
            destination.as_ref().map(|destination| json!({ "amount": null, "destination": destination }));
        let charge = json!({
            "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "application_fee": fee.map(|_| format!("fee_{}", &charge_id[3..])), "application_fee_amount": fee,
            "balance_transaction": format!("txn_{}", &charge_id[3..]),
            "billing_details": { "address": null, "email": "buyer@example.com", "name": "A Buyer", "phone": null },
            "captured": true, "created": created, "currency": currency, "customer": null, "description": null,
            "disputed": false, "livemode": false, "metadata": {}, "on_behalf_of": null,
            "outcome": { "network_status": "approved_by_network", "risk_level": "normal", "seller_message": "Payment complete.", "type": "authorized" },
            "paid": true, "payment_intent": intent_id, "payment_method": format!("pm_{}", &charge_id[3..]),
            "refunded": false, "status": "succeeded",
            "transfer": destination.as_ref().map(|_| format!("tr_{}", &charge_id[3..])),
            "transfer_data": transfer_data, "transfer_group": destination.as_ref().map(|_| format!("group_{intent_id}")),
        });
        let intent = json!({
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "application_fee_amount": fee, "created": created, "currency": currency, "latest_charge": charge_id,
            "livemode": false, "metadata": {}, "status": "succeeded", "transfer_data": transfer_data,
        });
        let session = json!({
            "id": session_id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
            "automatic_tax": { "enabled": false, "liability": null, "status": null }, "cancel_url": null,
            "client_reference_id": null, "created": created, "currency": currency, "custom_fields": [],
            "custom_text": { "shipping_address": null, "submit": null }, "customer": null,
            "customer_details": { "email": "buyer@example.com", "name": "A Buyer" }, "expires_at": created + 86_400,
            "livemode": false, "metadata": link["metadata"], "mode": "payment", "payment_intent": intent_id,
            "payment_link": link_id, "payment_method_types": ["card"], "payment_status": "paid",
            "shipping_options": [], "status": "complete", "success_url": null, "url": null,
        });
        let owner = account.as_deref();
        self.keep(owner, charge);
        self.keep(owner, intent.clone());
        self.keep(owner, session.clone());
        let paid = i64::try_from(amount).expect("an amount");
        let fee = i64::try_from(fee.unwrap_or(0)).expect("a fee");
        match (&destination, owner) {
            (Some(destination), _) => {
                self.credit(None, fee);
                self.credit(Some(destination), paid - fee);
            }
            (None, Some(connected)) => {
                self.credit(Some(connected), paid - fee);
                self.credit(None, fee);
            }
            (None, None) => self.credit(None, paid),
        }
        self.event("checkout.session.completed", owner, session);
        self.event("payment_intent.succeeded", owner, intent);
        Purchase { session: session_id, payment_intent: intent_id, charge: charge_id }
    }

    fn complete_onboarding(&mut self, id: &str) {
        let updated = {
            let stored = self.find_mut(id).expect("an account");
            let account = &mut stored.value;
            account["details_submitted"] = json!(true);
            account["charges_enabled"] = json!(true);
            account["payouts_enabled"] = json!(true);
            account["requirements"] = json!({ "currently_due": [], "disabled_reason": null });
            if let Some(capabilities) = account["capabilities"].as_object_mut() {
                for status in capabilities.values_mut() {
                    *status = json!("active");
                }
            }
            account.clone()
        };
        self.event("account.updated", Some(id), updated);
    }
}

/// An object as Stripe would show it: without the fake's own `_` fields.
fn public(object: &Value) -> Value {
    match object {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(name, _)| !name.starts_with('_'))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}
