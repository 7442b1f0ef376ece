//! A local Shopify Admin GraphQL API that follows the protocol and refuses anything
//! else, for the client's tests (an axum server on `127.0.0.1:0`).
//!
//! What it enforces, as Shopify does:
//! - only `POST /admin/api/{pinned version}/graphql.json` (another version or path is a
//!   404, another method a 405);
//! - the `X-Shopify-Access-Token` header, else 401 with Shopify's own body;
//! - a JSON body `{"query": string, "variables"?: object, "operationName"?: string}`,
//!   else 400;
//! - GraphQL validation before anything runs: one operation, known root fields and
//!   arguments, variables declared with the argument's type, declared variables used,
//!   non-null variables given, input objects holding only known keys, every selected
//!   field known, objects given a sub-selection and scalars none, connections given
//!   `first` (at most 250); the answer holds only what was selected;
//! - `inventorySetQuantities` only with `@idempotent(key:)` and with `changeFromQuantity`
//!   on every quantity (2026-04 rules), replaying a key's first answer and refusing the
//!   key with other parameters;
//! - a leaky bucket of query-cost points computed from the selection the way Shopify
//!   documents it, reported in `extensions.cost.throttleStatus` on every answer, and
//!   `THROTTLED` when a query costs more than is left.
//!
//! It keeps products with variants and inventory levels, holds the orders a test gives
//! it, counts the calls it receives per root field, and can be told to fail the next
//! calls in the ways Shopify does ([`Fault`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use boardroom_adapters::{SHOPIFY_API_VERSION, ShopifyConnection};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::graphql::{self, Field, Kind, Literal, Operation};

/// The token the fake shop accepts.
pub(crate) const TOKEN: &str = "shpat_fake_0123456789abcdef";
/// The fake shop's one location.
pub(crate) const LOCATION: &str = "gid://shopify/Location/1";
/// Shopify's answer to a wrong token.
pub(crate) const INVALID_TOKEN: &str = "[API] Invalid API key or access token (unrecognized login or wrong password)";

/// A way for the next call to fail, as Shopify's do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// HTTP 500 with no GraphQL body.
    ServerError,
    /// HTTP 200 with an `INTERNAL_SERVER_ERROR` error.
    InternalError,
    /// HTTP 200 with `THROTTLED`: the bucket is drained first, as a real throttle means.
    ThrottledAt200,
    /// HTTP 429 with `THROTTLED` and a `Retry-After` of this many seconds.
    ThrottledAt429 { retry_after_secs: u64 },
    /// HTTP 200 with `ACCESS_DENIED` (the app lacks a scope).
    AccessDenied,
    /// `userErrors` with `IDEMPOTENCY_CONCURRENT_REQUEST` (an earlier request with the
    /// key is still running).
    ConcurrentRequest,
    /// Does the work, but answers only after this long: with a shorter client time-out,
    /// an answer lost on the way back.
    AnswerLate(Duration),
}

/// An order for the fake to hold, to be read back through `orders`.
#[derive(Debug, Clone)]
pub(crate) struct HeldOrder {
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) total: Decimal,
    pub(crate) refunded: Decimal,
    /// Product id (gid), quantity, line amount.
    pub(crate) lines: Vec<(Option<String>, i64, Decimal)>,
}

/// A product as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeProduct {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) handle: String,
    pub(crate) description_html: String,
    pub(crate) status: String,
    pub(crate) tags: Vec<String>,
    pub(crate) variants: Vec<FakeVariant>,
}

/// A variant as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeVariant {
    pub(crate) id: String,
    pub(crate) price: Decimal,
    pub(crate) inventory_item_id: String,
}

/// A request as received, for tests to inspect.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) root: String,
    pub(crate) query: String,
    pub(crate) variables: Value,
}

/// The running fake.
pub(crate) struct ShopifyFake {
    world: Arc<Mutex<World>>,
    server: super::LocalServer,
}

impl ShopifyFake {
    /// Starts a fake shop on a free local port.
    pub(crate) async fn start() -> Self {
        let world = Arc::new(Mutex::new(World::new()));
        let app = Router::new()
            .route("/admin/api/{version}/graphql.json", post(graphql_endpoint))
            .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"errors": "Not Found"}))) })
            .with_state(Arc::clone(&world));
        Self { world, server: super::LocalServer::start(app).await }
    }

    /// `http://127.0.0.1:{port}`.
    pub(crate) fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// A connection with the right token.
    pub(crate) fn connection(&self) -> ShopifyConnection {
        ShopifyConnection::new(self.server.base_url(), TOKEN)
    }

    /// Calls received for a root field (`productCreate`, `orders`, …), whatever came of
    /// them; documents that could not be parsed count as `<unparsed>`.
    pub(crate) fn calls(&self, root: &str) -> usize {
        self.world().calls.get(root).copied().unwrap_or(0)
    }

    /// Requests refused for a missing or wrong token.
    pub(crate) fn refused_tokens(&self) -> usize {
        self.world().refused_tokens
    }

    /// Answers that were `THROTTLED`, scripted or because the bucket ran dry.
    pub(crate) fn throttled(&self) -> usize {
        self.world().throttled
    }

    /// Every call received with a readable document, in order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.world().received.clone()
    }

    /// Makes the next `times` calls to `root` (any root field if `None`) fail with
    /// `fault`, after those already queued.
    pub(crate) fn fail_next(&self, root: Option<&str>, times: usize, fault: Fault) {
        let mut world = self.world();
        for _ in 0..times {
            world.faults.push_back((root.map(str::to_owned), fault));
        }
    }

    /// Sets the bucket: `maximum` points, `available` now, refilled at `restore_rate`.
    pub(crate) fn set_bucket(&self, maximum: f64, available: f64, restore_rate: f64) {
        self.world().bucket = Bucket { maximum, available, restore_rate, at: Instant::now() };
    }

    /// Holds an order; returns its gid.
    pub(crate) fn hold_order(&self, order: HeldOrder) -> String {
        let mut world = self.world();
        let number = world.data.next_id();
        let id = format!("gid://shopify/Order/{number}");
        let name = format!("#{}", 1000 + world.data.orders.len() + 1);
        world.data.orders.push(StoredOrder { id: id.clone(), name, order });
        id
    }

    /// The products in the shop.
    pub(crate) fn products(&self) -> Vec<FakeProduct> {
        self.world().data.products.clone()
    }

    /// The `available` quantity of an item at a location.
    pub(crate) fn available(&self, inventory_item_id: &str, location_id: &str) -> Option<i64> {
        self.world().data.inventory.get(&(inventory_item_id.to_owned(), location_id.to_owned())).copied()
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------------------
// The HTTP edge
// ---------------------------------------------------------------------------------------

async fn graphql_endpoint(
    State(world): State<Arc<Mutex<World>>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if version != SHOPIFY_API_VERSION {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"errors": "Not Found"}))).into_response();
    }
    if headers.get("x-shopify-access-token").and_then(|value| value.to_str().ok()) != Some(TOKEN) {
        lock(&world).refused_tokens += 1;
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"errors": INVALID_TOKEN}))).into_response();
    }
    let json_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(';').next().is_some_and(|kind| kind.trim() == "application/json"));
    let bad_request = || {
        (StatusCode::BAD_REQUEST, axum::Json(json!({"errors": {"query": "Required parameter missing or invalid"}})))
            .into_response()
    };
    if !json_content {
        return bad_request();
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else { return bad_request() };
    let known = request.keys().all(|key| matches!(key.as_str(), "query" | "variables" | "operationName"));
    let Some(Value::String(query)) = request.get("query") else { return bad_request() };
    let variables = match request.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables.clone(),
        Some(_) => return bad_request(),
    };
    if !known || request.get("operationName").is_some_and(|name| !name.is_string() && !name.is_null()) {
        return bad_request();
    }

    let operation = graphql::parse(query);
    let root = match &operation {
        Ok(operation) => {
            operation.selection.first().map_or_else(|| "<unparsed>".to_owned(), |field| field.name.clone())
        }
        Err(_) => "<unparsed>".to_owned(),
    };
    let fault = {
        let mut world = lock(&world);
        *world.calls.entry(root.clone()).or_default() += 1;
        if operation.is_ok() {
            world.received.push(Received {
                root: root.clone(),
                query: query.clone(),
                variables: Value::Object(variables.clone()),
            });
        }
        world.take_fault(&root)
    };
    let operation = match operation {
        Ok(operation) => operation,
        Err(message) => {
            let mut world = lock(&world);
            world.bucket.refill();
            let cost = world.bucket.cost(0.0, None);
            return graphql_errors(vec![error(message, "parseError")], Some(cost));
        }
    };
    let response = lock(&world).answer(&operation, &variables, fault);
    if let Some(Fault::AnswerLate(wait)) = fault {
        tokio::time::sleep(wait).await;
    }
    response
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

fn graphql_errors(errors: Vec<Value>, cost: Option<Value>) -> Response {
    let mut body = json!({ "errors": errors });
    if let Some(cost) = cost {
        body["extensions"] = json!({ "cost": cost });
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(message: impl Into<String>, code: &str) -> Value {
    json!({ "message": message.into(), "extensions": { "code": code } })
}

// ---------------------------------------------------------------------------------------
// The shop
// ---------------------------------------------------------------------------------------

struct World {
    data: Data,
    calls: HashMap<String, usize>,
    received: Vec<Received>,
    faults: VecDeque<(Option<String>, Fault)>,
    bucket: Bucket,
    refused_tokens: usize,
    throttled: usize,
}

/// What a mutation may change: cloned before one runs, kept only if its answer is valid.
#[derive(Clone)]
struct Data {
    next_id: u64,
    products: Vec<FakeProduct>,
    inventory: BTreeMap<(String, String), i64>,
    orders: Vec<StoredOrder>,
    /// Idempotency key → (input, answer, whether it failed).
    idempotency: HashMap<String, (Value, Value, bool)>,
}

#[derive(Clone)]
struct StoredOrder {
    id: String,
    name: String,
    order: HeldOrder,
}

struct Bucket {
    maximum: f64,
    available: f64,
    restore_rate: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        self.available = (self.available + self.restore_rate * now.saturating_duration_since(self.at).as_secs_f64())
            .min(self.maximum);
        self.at = now;
    }

    fn cost(&self, requested: f64, actual: Option<f64>) -> Value {
        json!({
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": self.available.floor(),
                "restoreRate": self.restore_rate,
            }
        })
    }
}

impl World {
    fn new() -> Self {
        Self {
            data: Data {
                next_id: 1000,
                products: Vec::new(),
                inventory: BTreeMap::new(),
                orders: Vec::new(),
                idempotency: HashMap::new(),
            },
            calls: HashMap::new(),
            received: Vec::new(),
            faults: VecDeque::new(),
            refused_tokens: 0,
            throttled: 0,
            // A standard plan's bucket.
            bucket: Bucket { maximum: 1000.0, available: 1000.0, restore_rate: 50.0, at: Instant::now() },
        }
    }

    fn take_fault(&mut self, root: &str) -> Option<Fault> {
        let at = self.faults.iter().position(|(only, _)| only.as_deref().is_none_or(|only| only == root))?;
        self.faults.remove(at).map(|(_, fault)| fault)
    }

    fn answer(&mut self, operation: &Operation, variables: &Map<String, Value>, fault: Option<Fault>) -> Response {
        self.bucket.refill();
        let requested = match validate(operation, variables) {
            Ok(cost) => cost,
            Err(errors) => return graphql_errors(errors, Some(self.bucket.cost(0.0, None))),
        };
        let throttled = |bucket: &Bucket| {
            json!({
                "errors": [{ "message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                "extensions": { "cost": bucket.cost(requested, None) },
            })
        };
        match fault {
            Some(Fault::ServerError) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
            }
            Some(Fault::ThrottledAt429 { retry_after_secs }) => {
                self.throttled += 1;
                let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(throttled(&self.bucket))).into_response();
                let wait = HeaderValue::from_str(&format!("{retry_after_secs}.0")).expect("a header value");
                response.headers_mut().insert(header::RETRY_AFTER, wait);
                return response;
            }
            Some(Fault::ThrottledAt200) => {
                self.throttled += 1;
                self.bucket.available = 0.0;
                return (StatusCode::OK, axum::Json(throttled(&self.bucket))).into_response();
            }
            Some(Fault::InternalError) => {
                let message = "Internal error. Looks like something went wrong on our end.";
                return graphql_errors(
                    vec![error(message, "INTERNAL_SERVER_ERROR")],
                    Some(self.bucket.cost(requested, None)),
                );
            }
            Some(Fault::AccessDenied) => {
                let root = &operation.selection[0].name;
                let message =
                    format!("Access denied for {root} field. Required access: `write_products` access scope.");
                return graphql_errors(vec![error(message, "ACCESS_DENIED")], Some(self.bucket.cost(requested, None)));
            }
            Some(Fault::ConcurrentRequest | Fault::AnswerLate(_)) | None => {}
        }
        if requested > self.bucket.maximum {
            let message = format!(
                "Query cost is {requested}, which exceeds the single query max cost limit ({}).",
                self.bucket.maximum
            );
            return graphql_errors(vec![error(message, "MAX_COST_EXCEEDED")], Some(self.bucket.cost(requested, None)));
        }
        if self.bucket.available < requested {
            self.throttled += 1;
            return (StatusCode::OK, axum::Json(throttled(&self.bucket))).into_response();
        }
        self.bucket.available -= requested;

        let root = &operation.selection[0];
        let arguments: Map<String, Value> =
            root.arguments.iter().map(|(name, value)| (name.clone(), value.resolve(variables))).collect();
        let mut next = self.data.clone();
        let payload = if fault == Some(Fault::ConcurrentRequest) {
            Ok(json!({ "inventoryAdjustmentGroup": null, "userErrors": [{
                "code": "IDEMPOTENCY_CONCURRENT_REQUEST", "field": null,
                "message": "This request is currently in progress, please try again." }] }))
        } else {
            next.execute(root, &arguments, variables)
        };
        let cost = self.bucket.cost(requested, Some(requested));
        // The root's answer is pruned like any field, so `{ shop }` is refused too.
        let root_type = if operation.kind == Kind::Query { "QueryRoot" } else { "Mutation" };
        let data = payload.and_then(|payload| {
            let mut full = Map::new();
            full.insert(root.name.clone(), payload);
            prune(&Value::Object(full), std::slice::from_ref(root), variables, root_type)
        });
        match data {
            Ok(data) => {
                // The mutation's changes stand only once its answer is known to be valid.
                self.data = next;
                let body = json!({ "data": data, "extensions": { "cost": cost } });
                (StatusCode::OK, axum::Json(body)).into_response()
            }
            Err(errors) => graphql_errors(errors, Some(cost)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation and cost
// ---------------------------------------------------------------------------------------

/// A root field's arguments: name and type as written in the schema.
type Arguments = &'static [(&'static str, &'static str)];

/// The root fields the fake answers, with their arguments' types.
const ROOTS: &[(Kind, &str, Arguments)] = &[
    (Kind::Query, "shop", &[]),
    (
        Kind::Query,
        "products",
        &[
            ("first", "Int"),
            ("last", "Int"),
            ("after", "String"),
            ("before", "String"),
            ("query", "String"),
            ("reverse", "Boolean"),
            ("sortKey", "ProductSortKeys"),
        ],
    ),
    (
        Kind::Query,
        "orders",
        &[
            ("first", "Int"),
            ("last", "Int"),
            ("after", "String"),
            ("before", "String"),
            ("query", "String"),
            ("reverse", "Boolean"),
            ("sortKey", "OrderSortKeys"),
        ],
    ),
    (Kind::Mutation, "productCreate", &[("product", "ProductCreateInput!"), ("media", "[CreateMediaInput!]")]),
    (
        Kind::Mutation,
        "productVariantsBulkUpdate",
        &[
            ("productId", "ID!"),
            ("variants", "[ProductVariantsBulkInput!]!"),
            ("media", "[CreateMediaInput!]"),
            ("allowPartialUpdates", "Boolean"),
        ],
    ),
    (Kind::Mutation, "inventorySetQuantities", &[("input", "InventorySetQuantitiesInput!")]),
];

/// Checks `operation` as a GraphQL server would before running it; its requested cost.
fn validate(operation: &Operation, variables: &Map<String, Value>) -> Result<f64, Vec<Value>> {
    let op_name = operation.name.clone().unwrap_or_else(|| "anonymous".to_owned());
    let [root] = operation.selection.as_slice() else {
        return Err(vec![error("this fake answers one root field per request", "tooManyRootFields")]);
    };
    let root_type = if operation.kind == Kind::Query { "QueryRoot" } else { "Mutation" };
    let Some((_, _, arguments)) = ROOTS.iter().find(|(kind, name, _)| *kind == operation.kind && *name == root.name)
    else {
        return Err(vec![error(
            format!("Field '{}' doesn't exist on type '{root_type}'", root.name),
            "undefinedField",
        )]);
    };
    let mut errors = Vec::new();
    for (name, value) in &root.arguments {
        let Some((_, expected)) = arguments.iter().find(|(argument, _)| argument == name) else {
            errors
                .push(error(format!("Field '{}' doesn't accept argument '{name}'", root.name), "argumentNotAccepted"));
            continue;
        };
        if let Literal::Variable(variable) = value
            && let Some((_, declared, default)) =
                operation.variables.iter().find(|(declared, _, _)| declared == variable)
        {
            let compatible = declared.trim_end_matches('!') == expected.trim_end_matches('!')
                && (!expected.ends_with('!') || declared.ends_with('!') || default.is_some());
            if !compatible {
                errors.push(error(
                    format!("Type mismatch on variable ${variable} and argument {name} ({declared} / {expected})"),
                    "variableMismatch",
                ));
            }
        }
    }
    let missing: Vec<&str> = arguments
        .iter()
        .filter(|(name, kind)| kind.ends_with('!') && root.argument(name).is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        errors.push(error(
            format!("Field '{}' is missing required arguments: {}", root.name, missing.join(", ")),
            "missingRequiredArguments",
        ));
    }
    for (directive, _) in &root.directives {
        if directive != "idempotent" || operation.kind != Kind::Mutation {
            errors.push(error(format!("Directive '@{directive}' is not allowed here"), "directiveCannotBeApplied"));
        }
    }

    let mut used = Vec::new();
    collect_variables(&operation.selection, &mut used);
    for variable in &used {
        if !operation.variables.iter().any(|(declared, _, _)| declared == variable) {
            errors.push(error(
                format!("Variable ${variable} is used by {op_name} but not declared"),
                "variableNotDefined",
            ));
        }
    }
    for (declared, kind, default) in &operation.variables {
        if !used.contains(&declared.as_str()) {
            errors
                .push(error(format!("Variable ${declared} is declared by {op_name} but not used"), "variableNotUsed"));
        }
        let value = variables.get(declared).unwrap_or(&Value::Null);
        if let Some(problem) = type_problem(kind, value, default.is_some()) {
            errors.push(json!({
                "message": format!("Variable ${declared} of type {kind} was provided invalid value"),
                "extensions": { "code": "INVALID_VARIABLE", "value": value, "problems": [{ "path": [], "explanation": problem }] },
            }));
        }
    }
    if errors.is_empty() { Ok(cost(operation, variables)) } else { Err(errors) }
}

fn collect_variables<'a>(fields: &'a [Field], into: &mut Vec<&'a str>) {
    for field in fields {
        field.arguments.iter().for_each(|(_, value)| value.variables(into));
        field.directives.iter().flat_map(|(_, arguments)| arguments).for_each(|(_, value)| value.variables(into));
        collect_variables(&field.selection, into);
    }
}

/// Why `value` does not fit the declared `kind`, for the scalar and list types the fake
/// knows; input objects are checked key by key where they are used.
fn type_problem(kind: &str, value: &Value, has_default: bool) -> Option<String> {
    if value.is_null() {
        return (kind.ends_with('!') && !has_default).then(|| "Expected value to not be null".to_owned());
    }
    let base = kind.trim_end_matches('!');
    if let Some(inner) = base.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')) {
        let Value::Array(items) = value else { return Some(format!("Expected a list for {kind}")) };
        return items.iter().find_map(|item| type_problem(inner, item, false));
    }
    let fits = match base {
        "Int" => value.is_i64(),
        "String" | "ID" => value.is_string(),
        "Boolean" => value.is_boolean(),
        _ if base.ends_with("Input") => value.is_object(),
        _ => value.is_string(),
    };
    (!fits).then(|| format!("Could not coerce value {value} to {base}"))
}

/// Shopify's requested cost: a mutation 10; an object 1 plus its fields; a connection
/// 2 plus `first` times one node; a scalar nothing.
fn cost(operation: &Operation, variables: &Map<String, Value>) -> f64 {
    match operation.kind {
        Kind::Mutation => 10.0,
        Kind::Query => operation.selection.iter().map(|field| field_cost(field, variables)).sum(),
    }
}

fn field_cost(field: &Field, variables: &Map<String, Value>) -> f64 {
    if field.selection.is_empty() {
        return 0.0;
    }
    let children: f64 = field.selection.iter().map(|child| field_cost(child, variables)).sum();
    match field.name.as_str() {
        "nodes" | "edges" | "node" | "pageInfo" => children,
        _ => match field.argument("first").or_else(|| field.argument("last")) {
            Some(count) => 2.0 + count.resolve(variables).as_f64().unwrap_or(250.0) * children,
            None => 1.0 + children,
        },
    }
}

/// The answer holding only what `selection` asked for; unknown fields, objects without
/// a sub-selection, scalars with one and connections without `first` are refused.
fn prune(full: &Value, selection: &[Field], variables: &Map<String, Value>, path: &str) -> Result<Value, Vec<Value>> {
    match full {
        Value::Array(items) => items
            .iter()
            .map(|item| prune(item, selection, variables, path))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(fields) => {
            let mut out = Map::new();
            let mut errors = Vec::new();
            for field in selection {
                let inner_path = format!("{path}.{}", field.name);
                if field.name == "__typename" {
                    out.insert(field.key().to_owned(), Value::String(path.to_owned()));
                    continue;
                }
                let Some(value) = fields.get(&field.name) else {
                    errors.push(error(format!("Field '{}' doesn't exist on '{path}'", field.name), "undefinedField"));
                    continue;
                };
                let is_object =
                    value.is_object() || value.as_array().is_some_and(|items| items.iter().any(Value::is_object));
                if field.selection.is_empty() {
                    if is_object {
                        errors.push(error(
                            format!("Field '{inner_path}' must have a selection of subfields"),
                            "selectionMismatch",
                        ));
                    } else {
                        out.insert(field.key().to_owned(), value.clone());
                    }
                    continue;
                }
                if value.is_null() {
                    out.insert(field.key().to_owned(), Value::Null);
                    continue;
                }
                if field.name == "userErrors" && value.as_array().is_some_and(Vec::is_empty) {
                    // No errors to prune, but the selection must still fit the type:
                    // `productCreate`'s `UserError` has no `code`, the others do.
                    let template = if path.contains("productCreate") {
                        json!([{ "field": null, "message": "" }])
                    } else {
                        json!([{ "field": null, "message": "", "code": null }])
                    };
                    if let Err(more) = prune(&template, &field.selection, variables, &inner_path) {
                        errors.extend(more);
                        continue;
                    }
                }
                if !is_object && !value.as_array().is_some_and(Vec::is_empty) {
                    errors.push(error(
                        format!("Selections can't be made on scalars ('{inner_path}')"),
                        "selectionMismatch",
                    ));
                    continue;
                }
                // Root connections are paged by their handlers; nested ones here.
                let at_root = path == "QueryRoot" || path == "Mutation";
                let paged = if at_root { Ok(value.clone()) } else { page(value, field, variables, path) };
                let value = match paged {
                    Ok(value) => value,
                    Err(problem) => {
                        errors.push(problem);
                        continue;
                    }
                };
                match prune(&value, &field.selection, variables, &inner_path) {
                    Ok(pruned) => {
                        out.insert(field.key().to_owned(), pruned);
                    }
                    Err(more) => errors.extend(more),
                }
            }
            if errors.is_empty() { Ok(Value::Object(out)) } else { Err(errors) }
        }
        scalar => Ok(scalar.clone()),
    }
}

/// A nested connection cut to its `first` nodes (root connections are paged by their
/// handlers); a connection without `first` is refused, as Shopify does.
fn page(value: &Value, field: &Field, variables: &Map<String, Value>, path: &str) -> Result<Value, Value> {
    let is_connection = value.get("pageInfo").is_some() && value.get("nodes").is_some();
    if !is_connection {
        return Ok(value.clone());
    }
    let first = field.argument("first").map(|first| first.resolve(variables));
    let Some(first) = first.as_ref().and_then(Value::as_u64) else {
        return Err(error(
            format!("'{path}.{}': you must provide one of first or last", field.name),
            "argumentLiteralsIncompatible",
        ));
    };
    if first > 250 {
        return Err(error(format!("'{path}.{}': first cannot exceed 250", field.name), "argumentLiteralsIncompatible"));
    }
    let mut value = value.clone();
    let total = value["nodes"].as_array().map_or(0, Vec::len);
    let keep = usize::try_from(first).unwrap_or(usize::MAX).min(total);
    if let Some(nodes) = value["nodes"].as_array_mut() {
        nodes.truncate(keep);
    }
    if let Some(edges) = value["edges"].as_array_mut() {
        edges.truncate(keep);
    }
    let end = value["edges"]
        .as_array()
        .and_then(|edges| edges.last())
        .map(|edge| edge["cursor"].clone())
        .unwrap_or(Value::Null);
    value["pageInfo"]["hasNextPage"] = Value::Bool(total > keep);
    value["pageInfo"]["endCursor"] = end;
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

impl Data {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn execute(
        &mut self,
        root: &Field,
        arguments: &Map<String, Value>,
        variables: &Map<String, Value>,
    ) -> Result<Value, Vec<Value>> {
        match root.name.as_str() {
            "shop" => Ok(json!({
                "id": "gid://shopify/Shop/1",
                "name": "Focus & Flow",
                "myshopifyDomain": "focus-and-flow.myshopify.com",
                "currencyCode": "USD",
                "email": "owner@example.com",
                "ianaTimezone": "UTC",
            })),
            "products" => self.products(arguments),
            "orders" => self.orders(arguments),
            "productCreate" => self.product_create(arguments),
            "productVariantsBulkUpdate" => self.variants_update(arguments),
            "inventorySetQuantities" => self.inventory_set(root, arguments, variables),
            other => Err(vec![error(format!("Field '{other}' is not answered by this fake"), "undefinedField")]),
        }
    }

    fn products(&self, arguments: &Map<String, Value>) -> Result<Value, Vec<Value>> {
        let tag = match arguments.get("query").and_then(Value::as_str) {
            None | Some("") => None,
            Some(query) => {
                let Some(tag) = query.strip_prefix("tag:") else {
                    return Err(vec![error(
                        format!("this fake understands only tag: searches, not {query:?}"),
                        "fakeLimitation",
                    )]);
                };
                Some(tag.trim_matches('\'').trim_matches('"').to_owned())
            }
        };
        let products: Vec<&FakeProduct> =
            self.products.iter().filter(|product| tag.as_ref().is_none_or(|tag| product.tags.contains(tag))).collect();
        let nodes: Vec<(String, Value)> =
            products.iter().map(|product| (cursor(&product.id), product_json(product, &self.inventory))).collect();
        root_page(nodes, arguments)
    }

    fn orders(&self, arguments: &Map<String, Value>) -> Result<Value, Vec<Value>> {
        let since = match arguments.get("query").and_then(Value::as_str) {
            None | Some("") => None,
            Some(query) => {
                let Some(since) = query.strip_prefix("created_at:>=") else {
                    return Err(vec![error(
                        format!("this fake understands only created_at:>= searches, not {query:?}"),
                        "fakeLimitation",
                    )]);
                };
                let since = since.trim_matches('\'').trim_matches('"');
                let Ok(since) = DateTime::parse_from_rfc3339(since) else {
                    return Err(vec![error(format!("Invalid date in search: {since:?}"), "invalidSearch")]);
                };
                Some(since.with_timezone(&Utc))
            }
        };
        match arguments.get("sortKey").and_then(Value::as_str) {
            None | Some("CREATED_AT" | "ID" | "PROCESSED_AT") => {}
            Some(other) => {
                return Err(vec![error(
                    format!("Argument 'sortKey' has an invalid value ({other})"),
                    "argumentLiteralsIncompatible",
                )]);
            }
        }
        let mut orders: Vec<&StoredOrder> =
            self.orders.iter().filter(|stored| since.is_none_or(|since| stored.order.created_at >= since)).collect();
        orders.sort_by_key(|stored| (stored.order.created_at, stored.id.clone()));
        if arguments.get("reverse").and_then(Value::as_bool) == Some(true) {
            orders.reverse();
        }
        let nodes = orders.iter().map(|stored| (cursor(&stored.id), order_json(stored))).collect();
        root_page(nodes, arguments)
    }

    fn product_create(&mut self, arguments: &Map<String, Value>) -> Result<Value, Vec<Value>> {
        const KNOWN: &[&str] = &[
            "title",
            "descriptionHtml",
            "handle",
            "tags",
            "status",
            "vendor",
            "productType",
            "seo",
            "metafields",
            "productOptions",
            "templateSuffix",
            "giftCard",
            "requiresSellingPlan",
            "category",
            "collectionsToJoin",
            "combinedListingRole",
        ];
        let input = arguments.get("product").and_then(Value::as_object).cloned().unwrap_or_default();
        unknown_keys("product", "ProductCreateInput", &input, KNOWN)?;
        let title = input.get("title").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        if title.is_empty() {
            return Ok(
                json!({ "product": null, "userErrors": [{ "field": ["title"], "message": "Title can't be blank" }] }),
            );
        }
        let status = input.get("status").and_then(Value::as_str).unwrap_or("ACTIVE").to_owned();
        if !matches!(status.as_str(), "ACTIVE" | "DRAFT" | "ARCHIVED" | "UNLISTED") {
            return Err(vec![error(
                format!("Variable $product was provided invalid value for status ({status})"),
                "INVALID_VARIABLE",
            )]);
        }
        let tags = match input.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {
                tags.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }
            Some(_) => {
                return Err(vec![error("Variable $product was provided invalid value for tags", "INVALID_VARIABLE")]);
            }
        };
        let base = input.get("handle").and_then(Value::as_str).map_or_else(|| slug(&title), slug);
        let mut handle = base.clone();
        let mut suffix = 1;
        while self.products.iter().any(|product| product.handle == handle) {
            handle = format!("{base}-{suffix}");
            suffix += 1;
        }
        let product_id = format!("gid://shopify/Product/{}", self.next_id());
        let variant_id = format!("gid://shopify/ProductVariant/{}", self.next_id());
        let inventory_item_id = format!("gid://shopify/InventoryItem/{}", self.next_id());
        // The default variant is stocked at the shop's location, with nothing in stock.
        self.inventory.insert((inventory_item_id.clone(), LOCATION.to_owned()), 0);
        let product = FakeProduct {
            id: product_id,
            title,
            handle,
            description_html: input.get("descriptionHtml").and_then(Value::as_str).unwrap_or("").to_owned(),
            status,
            tags,
            variants: vec![FakeVariant { id: variant_id, price: Decimal::ZERO, inventory_item_id }],
        };
        let answer = json!({ "product": product_json(&product, &self.inventory), "userErrors": [] });
        self.products.push(product);
        Ok(answer)
    }

    fn variants_update(&mut self, arguments: &Map<String, Value>) -> Result<Value, Vec<Value>> {
        const KNOWN: &[&str] = &[
            "id",
            "price",
            "compareAtPrice",
            "barcode",
            "inventoryPolicy",
            "taxable",
            "inventoryItem",
            "optionValues",
            "metafields",
            "mediaId",
            "mediaSrc",
            "requiresComponents",
            "showUnitPrice",
            "unitPriceMeasurement",
        ];
        let refused = |field: Value, message: &str, code: &str| {
            Ok(json!({ "product": null, "productVariants": null,
                       "userErrors": [{ "field": field, "message": message, "code": code }] }))
        };
        let product_id = arguments.get("productId").and_then(Value::as_str).unwrap_or("");
        let Some(at) = self.products.iter().position(|product| product.id == product_id) else {
            return refused(json!(["productId"]), "Product does not exist", "PRODUCT_DOES_NOT_EXIST");
        };
        let inputs = arguments.get("variants").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut updated = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            let input = input.as_object().cloned().unwrap_or_default();
            unknown_keys("variants", "ProductVariantsBulkInput", &input, KNOWN)?;
            let variant_id = input.get("id").and_then(Value::as_str).unwrap_or("");
            let Some(variant) = self.products[at].variants.iter().position(|variant| variant.id == variant_id) else {
                return refused(
                    json!(["variants", index.to_string(), "id"]),
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                );
            };
            if let Some(price) = input.get("price") {
                let price = price.as_str().and_then(|price| Decimal::from_str(price).ok());
                match price {
                    Some(price) if price >= Decimal::ZERO => self.products[at].variants[variant].price = price,
                    _ => {
                        return refused(
                            json!(["variants", index.to_string(), "price"]),
                            "Price must be greater than or equal to 0",
                            "GREATER_THAN_OR_EQUAL_TO",
                        );
                    }
                }
            }
            updated.push(variant_json(&self.products[at].variants[variant], &self.inventory));
        }
        Ok(json!({
            "product": product_json(&self.products[at], &self.inventory),
            "productVariants": updated,
            "userErrors": [],
        }))
    }

    fn inventory_set(
        &mut self,
        root: &Field,
        arguments: &Map<String, Value>,
        variables: &Map<String, Value>,
    ) -> Result<Value, Vec<Value>> {
        let key = root
            .directives
            .iter()
            .find(|(name, _)| name == "idempotent")
            .and_then(|(_, arguments)| arguments.iter().find(|(name, _)| name == "key"))
            .map(|(_, key)| key.resolve(variables));
        let Some(Value::String(key)) = key.filter(|key| key.as_str().is_some_and(|key| !key.is_empty())) else {
            return Err(vec![error(
                "The @idempotent directive with a key is required for inventorySetQuantities (2026-04 and later).",
                "BAD_REQUEST",
            )]);
        };
        let input = arguments.get("input").cloned().unwrap_or(Value::Null);
        if let Some((first_input, first_answer, failed)) = self.idempotency.get(&key) {
            return Ok(if first_input != &input {
                user_error(
                    json!(null),
                    "The same idempotency key cannot be used with different operation parameters.",
                    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                )
            } else if *failed {
                user_error(
                    json!(null),
                    "A previous request with this idempotency key failed. Retry with a new idempotency key.",
                    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
                )
            } else {
                first_answer.clone()
            });
        }
        let answer = self.set_quantities(&input)?;
        let failed = answer["userErrors"].as_array().is_some_and(|errors| !errors.is_empty());
        self.idempotency.insert(key, (input, answer.clone(), failed));
        Ok(answer)
    }

    fn set_quantities(&mut self, input: &Value) -> Result<Value, Vec<Value>> {
        let input = input.as_object().cloned().unwrap_or_default();
        unknown_keys(
            "input",
            "InventorySetQuantitiesInput",
            &input,
            &["name", "reason", "referenceDocumentUri", "quantities"],
        )?;
        let name = input.get("name").and_then(Value::as_str).unwrap_or("");
        if !matches!(name, "available" | "on_hand") {
            return Ok(user_error(
                json!(["input", "name"]),
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            ));
        }
        let reason = input.get("reason").and_then(Value::as_str).unwrap_or("");
        const REASONS: &[&str] = &[
            "correction",
            "cycle_count_available",
            "damaged",
            "movement_created",
            "movement_updated",
            "movement_received",
            "movement_canceled",
            "other",
            "promotion",
            "quality_control",
            "received",
            "reservation_created",
            "reservation_deleted",
            "reservation_updated",
            "restock",
            "safety_stock",
            "shrinkage",
        ];
        if !REASONS.contains(&reason) {
            return Ok(user_error(json!(["input", "reason"]), "The specified reason is invalid.", "INVALID_REASON"));
        }
        let quantities = input.get("quantities").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut changes = Vec::new();
        for (index, quantity) in quantities.iter().enumerate() {
            let quantity = quantity.as_object().cloned().unwrap_or_default();
            unknown_keys(
                "quantities",
                "InventoryQuantityInput",
                &quantity,
                &["inventoryItemId", "locationId", "quantity", "changeFromQuantity"],
            )?;
            let field = |name: &str| json!(["input", "quantities", index.to_string(), name]);
            let Some(change_from) = quantity.get("changeFromQuantity") else {
                return Ok(user_error(
                    field("changeFromQuantity"),
                    "changeFromQuantity is required: pass the quantity last read, or null to skip the check.",
                    "INVALID_QUANTITY",
                ));
            };
            let item = quantity.get("inventoryItemId").and_then(Value::as_str).unwrap_or("").to_owned();
            let location = quantity.get("locationId").and_then(Value::as_str).unwrap_or("").to_owned();
            let Some(new) = quantity.get("quantity").and_then(Value::as_i64) else {
                return Err(vec![error(
                    "Variable $input was provided invalid value for quantities.quantity",
                    "INVALID_VARIABLE",
                )]);
            };
            if location != LOCATION {
                return Ok(user_error(
                    field("locationId"),
                    "The specified location could not be found.",
                    "INVALID_LOCATION",
                ));
            }
            let Some(current) = self.inventory.get(&(item.clone(), location.clone())).copied() else {
                return Ok(user_error(
                    field("inventoryItemId"),
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                ));
            };
            if new > 1_000_000_000 {
                return Ok(user_error(
                    field("quantity"),
                    "The total quantity can't be higher than 1,000,000,000.",
                    "INVALID_QUANTITY_TOO_HIGH",
                ));
            }
            if !change_from.is_null() && change_from.as_i64() != Some(current) {
                return Ok(user_error(
                    field("changeFromQuantity"),
                    "The changeFromQuantity value does not match persisted value.",
                    "CHANGE_FROM_QUANTITY_STALE",
                ));
            }
            self.inventory.insert((item.clone(), location.clone()), new);
            for quantity_name in [name, "on_hand"] {
                changes.push(json!({
                    "name": quantity_name, "delta": new - current, "quantityAfterChange": new,
                    "item": { "id": item }, "location": { "id": location },
                }));
            }
        }
        Ok(json!({
            "inventoryAdjustmentGroup": {
                "id": format!("gid://shopify/InventoryAdjustmentGroup/{}", self.next_id()),
                "reason": reason, "referenceDocumentUri": input.get("referenceDocumentUri").cloned().unwrap_or(Value::Null),
                "createdAt": "2026-11-02T10:00:00Z",
                "changes": changes,
            },
            "userErrors": [],
        }))
    }
}

fn user_error(field: Value, message: &str, code: &str) -> Value {
    json!({ "inventoryAdjustmentGroup": null, "userErrors": [{ "field": field, "message": message, "code": code }] })
}

fn unknown_keys(variable: &str, type_name: &str, input: &Map<String, Value>, known: &[&str]) -> Result<(), Vec<Value>> {
    match input.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(vec![error(
            format!(
                "Variable ${variable} of type {type_name} was provided invalid value for {key} (Field is not defined on {type_name})"
            ),
            "INVALID_VARIABLE",
        )]),
    }
}

/// One page of a root connection, from `after`, `first` at most 250.
fn root_page(nodes: Vec<(String, Value)>, arguments: &Map<String, Value>) -> Result<Value, Vec<Value>> {
    let Some(first) = arguments.get("first").and_then(Value::as_u64) else {
        return Err(vec![error("you must provide one of first or last", "argumentLiteralsIncompatible")]);
    };
    if first > 250 {
        return Err(vec![error("The first argument cannot exceed 250", "argumentLiteralsIncompatible")]);
    }
    let start = match arguments.get("after").and_then(Value::as_str) {
        None => 0,
        Some(after) => match nodes.iter().position(|(cursor, _)| cursor == after) {
            Some(at) => at + 1,
            None => {
                return Err(vec![error(
                    format!("Invalid cursor for current pagination sort: {after:?}"),
                    "invalidCursor",
                )]);
            }
        },
    };
    let end = (start + usize::try_from(first).unwrap_or(usize::MAX)).min(nodes.len());
    let page = &nodes[start.min(end)..end];
    Ok(connection(page, end < nodes.len(), start > 0))
}

fn connection(page: &[(String, Value)], has_next: bool, has_previous: bool) -> Value {
    json!({
        "nodes": page.iter().map(|(_, node)| node.clone()).collect::<Vec<_>>(),
        "edges": page.iter().map(|(cursor, node)| json!({ "cursor": cursor, "node": node })).collect::<Vec<_>>(),
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": page.first().map(|(cursor, _)| cursor.clone()),
            "endCursor": page.last().map(|(cursor, _)| cursor.clone()),
        },
    })
}

/// An opaque cursor, as Shopify's are to clients.
fn cursor(id: &str) -> String {
    id.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn product_json(product: &FakeProduct, inventory: &BTreeMap<(String, String), i64>) -> Value {
    let variants: Vec<(String, Value)> =
        product.variants.iter().map(|variant| (cursor(&variant.id), variant_json(variant, inventory))).collect();
    json!({
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "descriptionHtml": product.description_html,
        "status": product.status,
        "tags": product.tags,
        "vendor": "Focus & Flow",
        "productType": "",
        // Products made through the API are not published to the online store.
        "onlineStoreUrl": null,
        "totalInventory": product.variants.iter().map(|variant| stock(variant, inventory)).sum::<i64>(),
        "variants": connection(&variants, false, false),
    })
}

fn variant_json(variant: &FakeVariant, inventory: &BTreeMap<(String, String), i64>) -> Value {
    json!({
        "id": variant.id,
        "title": "Default Title",
        "price": variant.price.to_string(),
        "compareAtPrice": null,
        "sku": "",
        "inventoryQuantity": stock(variant, inventory),
        "inventoryItem": { "id": variant.inventory_item_id, "tracked": true },
    })
}

fn stock(variant: &FakeVariant, inventory: &BTreeMap<(String, String), i64>) -> i64 {
    inventory.get(&(variant.inventory_item_id.clone(), LOCATION.to_owned())).copied().unwrap_or(0)
}

fn money_bag(amount: Decimal) -> Value {
    let money = json!({ "amount": amount.to_string(), "currencyCode": "USD" });
    json!({ "shopMoney": money, "presentmentMoney": money })
}

fn order_json(stored: &StoredOrder) -> Value {
    let lines: Vec<(String, Value)> = stored
        .order
        .lines
        .iter()
        .enumerate()
        .map(|(index, (product, quantity, amount))| {
            let id = format!("{}-{index}", stored.id.replace("Order", "LineItem"));
            let node = json!({
                "id": id,
                "title": "Line",
                "quantity": quantity,
                "product": product.as_ref().map(|product| json!({ "id": product })),
                "originalTotalSet": money_bag(*amount),
                "originalUnitPriceSet": money_bag(if *quantity == 0 { *amount } else { *amount / Decimal::from(*quantity) }),
            });
            (cursor(&id), node)
        })
        .collect();
    json!({
        "id": stored.id,
        "name": stored.name,
        "createdAt": stored.order.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "currencyCode": "USD",
        "displayFinancialStatus": if stored.order.refunded > Decimal::ZERO { "PARTIALLY_REFUNDED" } else { "PAID" },
        "totalPriceSet": money_bag(stored.order.total),
        "totalRefundedSet": money_bag(stored.order.refunded),
        "lineItems": connection(&lines, false, false),
    })
}

fn slug(title: &str) -> String {
    let mut slug = String::new();
    for character in title.to_lowercase().chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}
