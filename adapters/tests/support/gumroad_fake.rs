//! A local Gumroad v2 API that follows the protocol and refuses anything else, for the
//! client's tests (an axum server on `127.0.0.1:0`). Its shapes and messages follow
//! Gumroad's own API controllers (the v2 `users`, `links`, `offer_codes` and `sales` controllers
//! of `antiwork/gumroad`).
//!
//! What it enforces, as Gumroad does (or, where marked, more strictly):
//! - the access token, as the `access_token` parameter (query string or form body) or a
//!   `Bearer` header, as Doorkeeper takes it; without the right one, 401 with an empty
//!   body and Doorkeeper's `WWW-Authenticate` header;
//! - only the routes it serves under `/v2` (others: Rails' 404 page);
//! - `POST` and `PUT` bodies form-encoded (stricter: Rails would also take JSON);
//! - on each route, only its documented parameters (stricter: Rails ignores unknown
//!   ones): anything else is a 400 `{"status": 400, "error"}`, the shape Gumroad uses
//!   for malformed parameters (`after` not a date, a bad `page_key`);
//! - bad input to a valid call answered as Gumroad does, with HTTP 200 and
//!   `{"success": false, "message"}`: a blank name, a price under $0.99, a custom
//!   permalink already taken, an offer code without an amount or with a taken name, and
//!   a product or sale that is not there ("The product was not found.");
//! - lists of ten a page, newest first, continued by `page_key` (`next_page_key` and
//!   `next_page_url` on every page but the last).
//!
//! It keeps one seller (`GET /v2/user`), products (made as drafts, priced, enabled and
//! disabled), offer codes and the sales a test holds (and can refund), counts calls per route (`"POST /v2/products"`), and can be told to fail
//! the next calls ([`GumroadFault`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use boardroom_adapters::GumroadConnection;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// The seller's token the fake accepts.
pub(crate) const ACCESS_TOKEN: &str = "gr_fake_token_0123456789abcdefXYZ";

/// The seller's id (`user_id`, and each sale's `seller_id`).
pub(crate) const SELLER_ID: &str = "Gs3l_fake-seller0000Q==";

/// Gumroad's page size.
const PAGE: usize = 10;

/// A way for the next call to fail, as Gumroad's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GumroadFault {
    /// 429 with `Retry-After` of this many seconds.
    RateLimited { retry_after_secs: u64 },
    /// 502 with a proxy's HTML page.
    BadGateway,
    /// HTTP 200 with `{"success": false, "message": …}`.
    SuccessFalse(&'static str),
    /// Does the work, but answers only after this long.
    AnswerLate(Duration),
}

/// A request as received, for tests to inspect.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// `"POST /v2/products"`, with ids in paths as `{id}`.
    pub(crate) route: String,
    /// The query string's fields, decoded.
    pub(crate) query: Vec<(String, String)>,
    /// The form body's fields, decoded.
    pub(crate) form: Vec<(String, String)>,
}

/// A product as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeProduct {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) price: u64,
    pub(crate) published: bool,
    pub(crate) custom_permalink: Option<String>,
    pub(crate) description: Option<String>,
}

/// The running fake.
pub(crate) struct GumroadFake {
    world: Arc<Mutex<World>>,
    server: super::LocalServer,
}

impl GumroadFake {
    /// Starts a fake Gumroad on a free local port.
    pub(crate) async fn start() -> Self {
        let world = Arc::new(Mutex::new(World::default()));
        let app = Router::new().fallback(endpoint).with_state(Arc::clone(&world));
        Self { world, server: super::LocalServer::start(app).await }
    }

    /// `http://127.0.0.1:{port}`.
    pub(crate) fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// A connection with the seller's token.
    pub(crate) fn connection(&self) -> GumroadConnection {
        GumroadConnection::new(self.server.base_url(), ACCESS_TOKEN)
    }

    /// Calls received on `route` (`"GET /v2/sales"`, `"PUT /v2/products/{id}/enable"`).
    pub(crate) fn calls(&self, route: &str) -> usize {
        self.world().calls.get(route).copied().unwrap_or(0)
    }

    /// Requests refused for a missing or wrong token.
    pub(crate) fn refused_tokens(&self) -> usize {
        self.world().refused_tokens
    }

    /// Every request that got past the token check, in order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.world().received.clone()
    }

    /// Makes the next `times` calls to `route` (any if `None`) fail with `fault`.
    pub(crate) fn fail_next(&self, route: Option<&str>, times: usize, fault: GumroadFault) {
        let mut world = self.world();
        for _ in 0..times {
            world.faults.push_back((route.map(str::to_owned), fault.clone()));
        }
    }

    /// The products, oldest first.
    pub(crate) fn products(&self) -> Vec<FakeProduct> {
        self.world().products.clone()
    }

    /// Holds a sale of `product_id` for `price` cents made at `created_at`; returns its id.
    pub(crate) fn hold_sale(&self, product_id: &str, price: u64, created_at: DateTime<Utc>) -> String {
        let mut world = self.world();
        let id = world.next_id();
        let product_name = world
            .products
            .iter()
            .find(|product| product.id == product_id)
            .map_or("A product".to_owned(), |p| p.name.clone());
        let order_id = 500_000 + world.sales.len() as u64;
        world.sales.push(json!({
            "id": id, "email": "buyer@example.com", "seller_id": SELLER_ID, "timestamp": "about 1 hour ago",
            "daystamp": created_at.format("%e %b %Y %l:%M %p").to_string(), "created_at": created_at.to_rfc3339(),
            "product_name": product_name, "product_has_variants": false, "price": price,
            "gumroad_fee": price / 10, "subscription_duration": null,
            "formatted_display_price": format!("${}.{:02}", price / 100, price % 100),
            "formatted_total_price": format!("${}.{:02}", price / 100, price % 100), "currency_symbol": "$",
            "amount_refundable_in_currency": format!("{}.{:02}", price / 100, price % 100),
            "product_id": product_id, "product_permalink": "xyz", "partially_refunded": false, "chargedback": false,
            "purchase_email": "buyer@example.com", "paid": true, "has_variants": false, "order_id": order_id,
            "is_product_physical": false, "refunded": false, "disputed": false, "quantity": 1,
        }));
        id
    }

    /// Marks a held sale refunded in full, as Gumroad shows it afterwards.
    pub(crate) fn refund_sale(&self, sale_id: &str) {
        let mut world = self.world();
        let sale = world.sales.iter_mut().find(|sale| sale["id"] == sale_id).expect("a held sale");
        sale["refunded"] = json!(true);
        sale["amount_refundable_in_currency"] = json!("0.00");
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ShowUser,
    ListProducts,
    CreateProduct,
    ShowProduct(String),
    UpdateProduct(String),
    EnableProduct(String),
    DisableProduct(String),
    ListOfferCodes(String),
    CreateOfferCode(String),
    ListSales,
    ShowSale(String),
}

fn route(method: &Method, path: &str) -> Option<(Route, &'static str)> {
    let rest = path.strip_prefix("/v2/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let id = |at: usize| {
        let raw = parts[at];
        let decoded: String = form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        decoded
    };
    let found = match (method.as_str(), parts.as_slice()) {
        ("GET", ["user"]) => (Route::ShowUser, "GET /v2/user"),
        ("GET", ["products"]) => (Route::ListProducts, "GET /v2/products"),
        ("POST", ["products"]) => (Route::CreateProduct, "POST /v2/products"),
        ("GET", ["products", _]) => (Route::ShowProduct(id(1)), "GET /v2/products/{id}"),
        ("PUT", ["products", _]) => (Route::UpdateProduct(id(1)), "PUT /v2/products/{id}"),
        ("PUT", ["products", _, "enable"]) => (Route::EnableProduct(id(1)), "PUT /v2/products/{id}/enable"),
        ("PUT", ["products", _, "disable"]) => (Route::DisableProduct(id(1)), "PUT /v2/products/{id}/disable"),
        ("GET", ["products", _, "offer_codes"]) => (Route::ListOfferCodes(id(1)), "GET /v2/products/{id}/offer_codes"),
        ("POST", ["products", _, "offer_codes"]) => {
            (Route::CreateOfferCode(id(1)), "POST /v2/products/{id}/offer_codes")
        }
        ("GET", ["sales"]) => (Route::ListSales, "GET /v2/sales"),
        ("GET", ["sales", _]) => (Route::ShowSale(id(1)), "GET /v2/sales/{id}"),
        _ => return None,
    };
    Some(found)
}

/// The parameters each route takes (besides `access_token`).
fn allowed(route: &Route) -> &'static [&'static str] {
    match route {
        Route::ShowUser => &[],
        Route::ListProducts => &["page_key"],
        // Of the many fields the update takes, the ones a price change needs.
        Route::UpdateProduct(_) => &["name", "price", "description", "max_purchase_count"],
        Route::CreateProduct => &[
            "name",
            "price",
            "description",
            "custom_permalink",
            "max_purchase_count",
            "customizable_price",
            "suggested_price_cents",
            "price_currency_type",
        ],
        Route::ShowProduct(_) | Route::EnableProduct(_) | Route::DisableProduct(_) | Route::ListOfferCodes(_) => &[],
        Route::CreateOfferCode(_) => {
            &["name", "amount_off", "amount_cents", "offer_type", "max_purchase_count", "universal"]
        }
        Route::ListSales => &["after", "before", "product_id", "email", "order_id", "page_key"],
        Route::ShowSale(_) => &[],
    }
}

async fn endpoint(
    State(world): State<Arc<Mutex<World>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let found = route(&method, uri.path());
    {
        let mut world = lock(&world);
        let counted =
            found.as_ref().map_or_else(|| format!("{method} {}", uri.path()), |(_, template)| (*template).to_owned());
        *world.calls.entry(counted).or_default() += 1;
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let form_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        == Some("application/x-www-form-urlencoded");
    let form: Vec<(String, String)> =
        if form_content { form_urlencoded::parse(&body).into_owned().collect() } else { Vec::new() };

    // The token, as Doorkeeper finds it.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = query
        .iter()
        .chain(form.iter())
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value.clone())
        .or(bearer);
    if token.as_deref() != Some(ACCESS_TOKEN) {
        lock(&world).refused_tokens += 1;
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"The access token is invalid\"",
            ),
        );
        return response;
    }
    let Some((route, template)) = found else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><h1>The page you were looking for doesn't exist.</h1></body></html>",
        )
            .into_response();
    };
    lock(&world).received.push(Received { route: template.to_owned(), query: query.clone(), form: form.clone() });
    if matches!(method, Method::POST | Method::PUT) && !body.is_empty() && !form_content {
        return error_400("This fake takes POST and PUT parameters form-encoded (application/x-www-form-urlencoded).");
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in query.into_iter().chain(form) {
        if name == "access_token" {
            continue;
        }
        if !allowed(&route).contains(&name.as_str()) {
            return error_400(&format!("Unknown parameter: {name}."));
        }
        if params.insert(name.clone(), value).is_some() {
            return error_400(&format!("Parameter given twice: {name}."));
        }
    }
    let fault = {
        let mut world = lock(&world);
        world.take_fault(template)
    };
    match fault {
        Some(GumroadFault::RateLimited { retry_after_secs }) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({ "success": false, "message": "Rate limit exceeded." })),
            )
                .into_response();
            let wait = HeaderValue::from_str(&retry_after_secs.to_string()).expect("a header value");
            response.headers_mut().insert(header::RETRY_AFTER, wait);
            return response;
        }
        Some(GumroadFault::BadGateway) => {
            return (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/html")], "<html>502 Bad Gateway</html>")
                .into_response();
        }
        Some(GumroadFault::SuccessFalse(message)) => return answer(false, json!({ "message": message })),
        Some(GumroadFault::AnswerLate(_)) | None => {}
    }
    let response = lock(&world).run(&route, &params, uri.path());
    if let Some(GumroadFault::AnswerLate(wait)) = fault {
        tokio::time::sleep(wait).await;
    }
    response
}

/// `{"success": …}` merged with `rest`, at HTTP 200 whatever `success` is.
fn answer(success: bool, rest: Value) -> Response {
    let mut body = json!({ "success": success });
    if let (Some(body), Value::Object(rest)) = (body.as_object_mut(), rest) {
        body.extend(rest);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn refused(message: &str) -> Response {
    answer(false, json!({ "message": message }))
}

/// Gumroad's `error_400`.
fn error_400(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "status": 400, "error": message }))).into_response()
}

// ---------------------------------------------------------------------------------------
// The seller's account
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct World {
    next_id: u64,
    calls: HashMap<String, usize>,
    received: Vec<Received>,
    faults: VecDeque<(Option<String>, GumroadFault)>,
    refused_tokens: usize,
    products: Vec<FakeProduct>,
    /// (product id, offer code JSON).
    offer_codes: Vec<(String, Value)>,
    /// Sale JSON, in the order held.
    sales: Vec<Value>,
}

impl World {
    /// An id shaped like Gumroad's (base64 with `=` padding).
    fn next_id(&mut self) -> String {
        self.next_id += 1;
        format!("Fk{:020}Q==", self.next_id)
    }

    fn take_fault(&mut self, route: &str) -> Option<GumroadFault> {
        let at = self.faults.iter().position(|(only, _)| only.as_deref().is_none_or(|only| only == route))?;
        self.faults.remove(at).map(|(_, fault)| fault)
    }

    fn run(&mut self, route: &Route, params: &HashMap<String, String>, path: &str) -> Response {
        match route {
            Route::ShowUser => answer(
                true,
                json!({ "user": {
                    "bio": "Planners and prompts.", "name": "Focus & Flow", "twitter_handle": null,
                    "user_id": SELLER_ID, "email": "seller@example.com", "url": "https://gumroad.com/focusandflow",
                } }),
            ),
            Route::ListProducts => self.list_products(params),
            Route::UpdateProduct(id) => self.update_product(id, params),
            Route::CreateProduct => self.create_product(params),
            Route::ShowProduct(id) => self.product(id).map_or_else(
                || refused("The product was not found."),
                |p| answer(true, json!({ "product": product_json(&p) })),
            ),
            Route::EnableProduct(id) => self.publish(id, true),
            Route::DisableProduct(id) => self.publish(id, false),
            Route::ListOfferCodes(id) => match self.product(id) {
                None => refused("The product was not found."),
                Some(_) => {
                    let codes: Vec<Value> = self
                        .offer_codes
                        .iter()
                        .filter(|(product, code)| product == id || code["universal"] == true)
                        .map(|(_, code)| code.clone())
                        .collect();
                    answer(true, json!({ "offer_codes": codes }))
                }
            },
            Route::CreateOfferCode(id) => self.create_offer_code(id, params),
            Route::ListSales => self.list_sales(params, path),
            Route::ShowSale(id) => match self.sales.iter().find(|sale| sale["id"] == id.as_str()) {
                Some(sale) => answer(true, json!({ "sale": sale })),
                None => refused("The sale was not found."),
            },
        }
    }

    fn product(&self, id: &str) -> Option<FakeProduct> {
        self.products.iter().find(|product| product.id == id).cloned()
    }

    fn list_products(&mut self, params: &HashMap<String, String>) -> Response {
        let newest_first: Vec<Value> = self.products.iter().rev().map(product_json).collect();
        match page(&newest_first, params.get("page_key"), "/v2/products", params) {
            Some((items, more)) => answer(true, json!({ "products": items }).merge(more)),
            None => error_400("Invalid page_key."),
        }
    }

    fn create_product(&mut self, params: &HashMap<String, String>) -> Response {
        let name = params.get("name").map(|name| name.trim()).unwrap_or_default();
        if name.is_empty() {
            return refused("Name can't be blank");
        }
        let price = match params.get("price") {
            None => 0,
            Some(price) => match price.parse::<u64>() {
                Ok(price) => price,
                Err(_) => return refused("Price is not a number"),
            },
        };
        if price > 0 && price < 99 {
            return refused("Sorry, a product must be at least $0.99.");
        }
        if let Some(currency) = params.get("price_currency_type")
            && currency.trim().to_lowercase() != "usd"
        {
            return refused(&format!("'{currency}' is not a supported currency."));
        }
        let permalink = params.get("custom_permalink").cloned();
        if let Some(link) = &permalink {
            if link.is_empty() || !link.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
            {
                return refused("Custom permalink is invalid");
            }
            if self.products.iter().any(|product| product.custom_permalink.as_deref() == Some(link.as_str())) {
                return refused("Custom permalink has already been taken");
            }
        }
        let product = FakeProduct {
            id: self.next_id(),
            name: name.to_owned(),
            price,
            published: false,
            custom_permalink: permalink,
            description: params.get("description").cloned(),
        };
        self.products.push(product.clone());
        answer(true, json!({ "product": product_json(&product) }))
    }

    fn update_product(&mut self, id: &str, params: &HashMap<String, String>) -> Response {
        let Some(product) = self.products.iter_mut().find(|product| product.id == id) else {
            return refused("The product was not found.");
        };
        if let Some(name) = params.get("name") {
            if name.trim().is_empty() {
                return refused("Name can't be blank");
            }
            product.name = name.trim().to_owned();
        }
        if let Some(price) = params.get("price") {
            match price.parse::<u64>() {
                Ok(price) if price == 0 || price >= 99 => product.price = price,
                Ok(_) => return refused("Sorry, a product must be at least $0.99."),
                Err(_) => return refused("Price is not a number"),
            }
        }
        if let Some(description) = params.get("description") {
            product.description = Some(description.clone());
        }
        let shown = product_json(product);
        answer(true, json!({ "product": shown }))
    }

    fn publish(&mut self, id: &str, published: bool) -> Response {
        match self.products.iter_mut().find(|product| product.id == id) {
            Some(product) => {
                product.published = published;
                let shown = product_json(product);
                answer(true, json!({ "product": shown }))
            }
            None => refused("The product was not found."),
        }
    }

    fn create_offer_code(&mut self, product_id: &str, params: &HashMap<String, String>) -> Response {
        let Some(product) = self.product(product_id) else { return refused("The product was not found.") };
        let amount = params.get("amount_cents").or_else(|| params.get("amount_off"));
        let Some(amount) = amount.and_then(|amount| amount.parse::<u64>().ok()) else {
            return refused(
                "You are missing required offer code parameters. Please refer to https://gumroad.com/api#offer-codes \
                 for the correct parameters.",
            );
        };
        let name = params.get("name").map(|name| name.trim()).unwrap_or_default();
        if name.is_empty() {
            return refused("Code can't be blank");
        }
        if self.offer_codes.iter().any(|(_, code)| code["name"] == name) {
            return refused("Discount code must be unique.");
        }
        let percent = params.get("offer_type").map(String::as_str) == Some("percent");
        if percent && !(1..=100).contains(&amount) {
            return refused("Please enter a discount amount that is 100% or less.");
        }
        if !percent && amount >= product.price && product.price > 0 {
            return refused("The price after discount for all of your products must be either $0 or at least $0.99.");
        }
        let max_purchase_count = match params.get("max_purchase_count").map(|count| count.parse::<u64>()) {
            None => None,
            Some(Ok(count)) => Some(count),
            Some(Err(_)) => return refused("Max purchase count is not a number"),
        };
        let universal = params.get("universal").map(String::as_str) == Some("true");
        let mut code = json!({
            "id": self.next_id(), "name": name, "max_purchase_count": max_purchase_count,
            "universal": universal, "times_used": 0,
        });
        if percent {
            code["percent_off"] = json!(amount);
        } else {
            code["amount_cents"] = json!(amount);
        }
        self.offer_codes.push((product_id.to_owned(), code.clone()));
        answer(true, json!({ "offer_code": code }))
    }

    fn list_sales(&mut self, params: &HashMap<String, String>, path: &str) -> Response {
        let mut after: Option<NaiveDate> = None;
        for field in ["before", "after"] {
            if let Some(day) = params.get(field) {
                match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                    Ok(day) if field == "after" => after = Some(day),
                    Ok(_) => {}
                    Err(_) => {
                        return error_400(&format!(
                            "Invalid date format provided in field '{field}'. Dates must be in the format YYYY-MM-DD."
                        ));
                    }
                }
            }
        }
        let mut sales: Vec<&Value> = self
            .sales
            .iter()
            .filter(|sale| {
                let created: DateTime<Utc> =
                    sale["created_at"].as_str().and_then(|at| at.parse().ok()).expect("a held sale's time");
                after.is_none_or(|day| created.date_naive() >= day)
                    && params.get("product_id").is_none_or(|product| sale["product_id"] == product.as_str())
            })
            .collect();
        // Newest first, as Gumroad orders them (created_at desc, id desc).
        sales.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        let sales: Vec<Value> = sales.into_iter().cloned().collect();
        match page(&sales, params.get("page_key"), path, params) {
            Some((items, more)) => answer(true, json!({ "sales": items }).merge(more)),
            None => error_400("Invalid page_key."),
        }
    }
}

/// A page of ten from `items`, after the one `page_key` names, with
/// `next_page_key`/`next_page_url` when more follow; `None` for a `page_key` that names
/// nothing.
fn page(
    items: &[Value],
    page_key: Option<&String>,
    path: &str,
    params: &HashMap<String, String>,
) -> Option<(Vec<Value>, Value)> {
    let start = match page_key {
        None => 0,
        Some(key) => {
            let id = key.strip_prefix("pk-")?;
            items.iter().position(|item| item["id"] == id)? + 1
        }
    };
    let chunk: Vec<Value> = items.iter().skip(start).take(PAGE).cloned().collect();
    let more = if items.len() > start + chunk.len() {
        let key = format!("pk-{}", chunk.last().and_then(|item| item["id"].as_str()).unwrap_or_default());
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params.iter().filter(|(name, _)| name.as_str() != "page_key") {
            query.append_pair(name, value);
        }
        query.append_pair("page_key", &key);
        json!({ "next_page_key": key, "next_page_url": format!("{path}?{}", query.finish()) })
    } else {
        json!({})
    };
    Some((chunk, more))
}

fn product_json(product: &FakeProduct) -> Value {
    let permalink = product.custom_permalink.clone().unwrap_or_else(|| product.id.to_lowercase());
    json!({
        "id": product.id, "name": product.name, "description": product.description.clone().unwrap_or_default(),
        "custom_permalink": product.custom_permalink, "custom_receipt": null, "custom_summary": "",
        "customizable_price": false, "deleted": false, "max_purchase_count": null,
        "price": product.price, "currency": "usd",
        "formatted_price": format!("${}.{:02}", product.price / 100, product.price % 100),
        "published": product.published, "require_shipping": false, "subscription_duration": null,
        "short_url": format!("https://seller.gumroad.com/l/{permalink}"), "url": null, "tags": [],
        "sales_count": 0, "sales_usd_cents": 0, "is_tiered_membership": false,
    })
}

/// Merging JSON objects.
trait Merge {
    fn merge(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: Value) -> Value {
        if let (Some(object), Value::Object(other)) = (self.as_object_mut(), other) {
            object.extend(other);
        }
        self
    }
}
