//! The GraphQL documents the client sends, what each is estimated to cost, the shapes of
//! their answers, and how an answer (or a failure to get one) becomes a result or an
//! [`AdapterError`].
//!
//! Costs follow Shopify's published calculation for a query's *requested* cost: an
//! object field costs 1, a connection 2 plus `first` times the cost of one node, a
//! scalar nothing, and a mutation 10. Each estimate is written next to its document so
//! the two change together; the bucket corrects itself from every answer anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resilience::{CostBucket, whole_seconds};
use crate::{AdapterError, Platform};

/// One request: a document, its variables, and what it is expected to cost.
#[derive(Debug, Clone)]
pub(super) struct Request {
    /// The root field (`productCreate`, `orders`, …): names the call in errors and logs,
    /// and is where a mutation's `userErrors` are.
    pub(super) root: &'static str,
    pub(super) document: String,
    pub(super) variables: Value,
    pub(super) cost: f64,
    /// Whether the payload carries `userErrors` to check.
    pub(super) has_user_errors: bool,
}

impl Request {
    /// The request's body as sent: `{"query", "variables"}`.
    pub(super) fn body(&self) -> Value {
        serde_json::json!({ "query": self.document, "variables": self.variables })
    }
}

pub(super) const SHOP: &str = "query BoardroomShop { shop { name myshopifyDomain currencyCode } }";
pub(super) const SHOP_COST: f64 = 1.0;

/// The fields read of a product, shared by the look-up and the creation.
const PRODUCT_FIELDS: &str = "id handle onlineStoreUrl variants(first: 1) { nodes { id price inventoryItem { id } } }";

/// products(first:1): 2 + 1 × (variants(first:1): 2 + 1 × inventoryItem 1) = 5.
pub(super) const PRODUCT_BY_TAG_COST: f64 = 5.0;
pub(super) fn product_by_tag() -> String {
    format!(
        "query BoardroomProductByKey($query: String!) {{ products(first: 1, query: $query) {{ nodes {{ {PRODUCT_FIELDS} }} }} }}"
    )
}

pub(super) const PRODUCT_CREATE_COST: f64 = 10.0;
pub(super) fn product_create() -> String {
    format!(
        "mutation BoardroomProductCreate($product: ProductCreateInput!) {{ productCreate(product: $product) {{ \
         product {{ {PRODUCT_FIELDS} }} userErrors {{ field message }} }} }}"
    )
}

pub(super) const VARIANTS_UPDATE_COST: f64 = 10.0;
pub(super) const VARIANTS_UPDATE: &str = "mutation BoardroomVariantPrice($productId: ID!, $variants: [ProductVariantsBulkInput!]!) { \
     productVariantsBulkUpdate(productId: $productId, variants: $variants) { \
     productVariants { id price } userErrors { field message } } }";

pub(super) const INVENTORY_SET_COST: f64 = 10.0;
/// `inventorySetQuantities` with the idempotency key written into the directive, as
/// Shopify's examples do. The key is a JSON string literal, which is also a valid
/// GraphQL string literal (same escapes), so no key can break out of it.
pub(super) fn inventory_set(key: &str) -> String {
    let key = Value::String(key.to_owned());
    format!(
        "mutation BoardroomInventorySet($input: InventorySetQuantitiesInput!) {{ \
         inventorySetQuantities(input: $input) @idempotent(key: {key}) {{ \
         inventoryAdjustmentGroup {{ reason changes {{ name delta }} }} userErrors {{ code field message }} }} }}"
    )
}

/// Products per page: 2 + 50 × (variants(first:1): 2 + 1 × inventoryItem 1 = 3) = 152.
pub(super) const PRODUCTS_PAGE: u32 = 50;
pub(super) const PRODUCTS_PAGE_COST: f64 = 152.0;
pub(super) const PRODUCTS: &str = "query BoardroomProducts($first: Int!, $after: String) { \
     products(first: $first, after: $after) { \
     nodes { id title handle status tags onlineStoreUrl variants(first: 1) { nodes { id price inventoryItem { id } } } } \
     pageInfo { hasNextPage endCursor } } }";

/// Orders per page and line items read per order. One order costs totalPriceSet 2 +
/// totalRefundedSet 2 + lineItems (2 + 10 × (product 1 + originalTotalSet 2)) = 36, so
/// a page costs 2 + 20 × 36 = 722, under the 1,000 a single query may cost.
pub(super) const ORDERS_PAGE: u32 = 20;
/// How many of an order's lines are read (see [`ORDERS_PAGE`] for why so few).
pub const ORDER_LINE_ITEMS_READ: u32 = 10;
pub(super) const ORDERS_PAGE_COST: f64 = 722.0;
pub(super) fn orders() -> String {
    format!(
        "query BoardroomOrders($first: Int!, $after: String, $query: String) {{ \
         orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {{ \
         nodes {{ id name createdAt currencyCode \
         totalPriceSet {{ shopMoney {{ amount currencyCode }} }} \
         totalRefundedSet {{ shopMoney {{ amount currencyCode }} }} \
         lineItems(first: {ORDER_LINE_ITEMS_READ}) {{ nodes {{ quantity product {{ id }} \
         originalTotalSet {{ shopMoney {{ amount currencyCode }} }} }} }} }} \
         pageInfo {{ hasNextPage endCursor }} }} }}"
    )
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ShopData {
    pub(super) shop: ShopNode,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ShopNode {
    pub(super) name: String,
    pub(super) myshopify_domain: String,
    pub(super) currency_code: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Nodes<T> {
    pub(super) nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Page<T> {
    pub(super) nodes: Vec<T>,
    pub(super) page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageInfo {
    pub(super) has_next_page: bool,
    pub(super) end_cursor: Option<String>,
}

impl PageInfo {
    pub(super) fn next_cursor(self) -> Option<String> {
        if self.has_next_page { self.end_cursor } else { None }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct IdNode {
    pub(super) id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProductsData<T> {
    pub(super) products: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductNode {
    pub(super) id: String,
    pub(super) handle: String,
    pub(super) online_store_url: Option<String>,
    pub(super) variants: Nodes<VariantNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CatalogNode {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) handle: String,
    pub(super) status: String,
    pub(super) tags: Vec<String>,
    pub(super) online_store_url: Option<String>,
    pub(super) variants: Nodes<VariantNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VariantNode {
    pub(super) id: String,
    pub(super) price: Decimal,
    pub(super) inventory_item: IdNode,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductCreateData {
    pub(super) product_create: ProductCreatePayload,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProductCreatePayload {
    pub(super) product: Option<ProductNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InventorySetData {
    pub(super) inventory_set_quantities: InventorySetPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InventorySetPayload {
    pub(super) inventory_adjustment_group: Option<AdjustmentGroup>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AdjustmentGroup {
    pub(super) changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Change {
    pub(super) name: String,
    pub(super) delta: i64,
}

#[derive(Debug, Deserialize)]
pub(super) struct OrdersData {
    pub(super) orders: Page<OrderNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderNode {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) currency_code: String,
    pub(super) total_price_set: MoneyBag,
    pub(super) total_refunded_set: Option<MoneyBag>,
    pub(super) line_items: Nodes<LineItemNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MoneyBag {
    pub(super) shop_money: Money,
}

#[derive(Debug, Deserialize)]
pub(super) struct Money {
    pub(super) amount: Decimal,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LineItemNode {
    pub(super) quantity: i64,
    pub(super) product: Option<IdNode>,
    pub(super) original_total_set: MoneyBag,
}

/// `data` read as `T`; a shape we did not expect is a rejection (retrying would get the
/// same shape), saying which operation and what did not fit.
pub(super) fn typed<T: DeserializeOwned>(root: &str, data: Value) -> Result<T, AdapterError> {
    serde_json::from_value(data).map_err(|error| {
        AdapterError::rejected(Platform::Shopify, format!("{root}: Shopify's answer had an unexpected shape: {error}"))
    })
}

// ---------------------------------------------------------------------------------------
// From an HTTP answer to a result
// ---------------------------------------------------------------------------------------

/// Reads one HTTP answer to `request`: feeds the bucket from
/// `extensions.cost.throttleStatus` whatever the status, then returns `data` or the
/// error the answer amounts to.
///
/// - 401 (wrong or revoked token), 402 (frozen shop), 403, 404 (wrong address or API
///   version), 423 (locked shop) and other 4xx: [`AdapterError::Rejected`];
/// - `THROTTLED`, at 200 or at 429: [`AdapterError::RateLimited`], waiting the longer of
///   the `Retry-After` header and the time the bucket needs to refill the request's cost;
/// - 5xx and `INTERNAL_SERVER_ERROR`: [`AdapterError::Unavailable`];
/// - `ACCESS_DENIED` and any other GraphQL error: [`AdapterError::Rejected`] quoting
///   Shopify's messages;
/// - a mutation's non-empty `userErrors`: see [`user_errors`].
pub(super) fn read_answer(
    request: &Request,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
    bucket: &CostBucket,
) -> Result<Value, AdapterError> {
    let root = request.root;
    let answer: Option<Value> = serde_json::from_str(body).ok();
    if let Some(throttle) = answer.as_ref().and_then(|answer| answer.pointer("/extensions/cost/throttleStatus")) {
        let number = |name: &str| throttle.get(name).and_then(Value::as_f64);
        if let (Some(maximum), Some(available), Some(rate)) =
            (number("maximumAvailable"), number("currentlyAvailable"), number("restoreRate"))
        {
            bucket.observe(maximum, available, rate);
        }
    }
    let errors = answer.as_ref().map(GraphqlErrors::of).unwrap_or_default();
    let unavailable = |message: String| AdapterError::Unavailable { platform: Platform::Shopify, message };
    let rejected = |message: String| AdapterError::rejected(Platform::Shopify, message);

    match status {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => {
            return Err(rejected(
                "Shopify refused the access token (401): it is wrong, revoked, or for another shop".to_owned(),
            ));
        }
        StatusCode::PAYMENT_REQUIRED => {
            return Err(rejected(
                "Shopify refused the call (402): the shop is frozen until its bill is paid".to_owned(),
            ));
        }
        StatusCode::FORBIDDEN => {
            return Err(rejected(format!(
                "Shopify refused {root} (403): the app lacks a permission it needs{}",
                errors.suffix()
            )));
        }
        StatusCode::NOT_FOUND => {
            return Err(rejected(
                "Shopify has no Admin API at this address (404): check the shop's address, and the API version \
                 (each is retired a year after its release)"
                    .to_owned(),
            ));
        }
        StatusCode::LOCKED => {
            return Err(rejected("Shopify refused the call (423): the shop is locked".to_owned()));
        }
        StatusCode::TOO_MANY_REQUESTS => return Err(throttled(request, answer.as_ref(), retry_after, bucket)),
        status if status.is_server_error() => {
            return Err(unavailable(format!("{root}: Shopify answered {status}{}", errors.suffix())));
        }
        status => return Err(rejected(format!("{root}: Shopify answered {status}{}", errors.suffix()))),
    }

    let Some(answer) = answer.filter(Value::is_object) else {
        return Err(unavailable(format!("{root}: Shopify's answer was not a JSON object")));
    };
    if errors.has_code("THROTTLED") {
        return Err(throttled(request, Some(&answer), retry_after, bucket));
    }
    if errors.has_code("INTERNAL_SERVER_ERROR") {
        return Err(unavailable(format!("{root}: Shopify had an internal error{}", errors.suffix())));
    }
    if errors.has_code("ACCESS_DENIED") {
        return Err(rejected(format!("Shopify denied access to {root} (ACCESS_DENIED){}", errors.suffix())));
    }
    if !errors.is_empty() {
        return Err(rejected(format!("{root}: Shopify refused the query{}", errors.suffix())));
    }
    let data = answer.get("data").cloned().unwrap_or(Value::Null);
    if !data.is_object() {
        return Err(unavailable(format!("{root}: Shopify's answer had neither data nor errors")));
    }
    if request.has_user_errors {
        user_errors(root, &data)?;
    }
    Ok(data)
}

/// A throttled answer as a rate limit: how long until the bucket holds the request's
/// cost (Shopify's own `requestedQueryCost` when it says), or the server's
/// `Retry-After` if longer.
fn throttled(
    request: &Request,
    answer: Option<&Value>,
    retry_after: Option<Duration>,
    bucket: &CostBucket,
) -> AdapterError {
    let requested = answer
        .and_then(|answer| answer.pointer("/extensions/cost/requestedQueryCost"))
        .and_then(Value::as_f64)
        .unwrap_or(request.cost);
    let refill = bucket.wait_for(requested).unwrap_or(Duration::from_secs(60));
    let wait = refill.max(retry_after.unwrap_or_default());
    tracing::info!(operation = request.root, wait_ms = wait.as_millis() as u64, "Shopify throttled the call");
    AdapterError::RateLimited { platform: Platform::Shopify, retry_after_secs: whole_seconds(wait) }
}

/// A mutation payload's `userErrors` as an error naming each field, message and code.
///
/// `IDEMPOTENCY_CONCURRENT_REQUEST` (an earlier request with the same key is still being
/// worked on) is [`AdapterError::Unavailable`], so it is retried with the same key;
/// every other user error is a [`AdapterError::Rejected`], `CHANGE_FROM_QUANTITY_STALE`
/// with a word on what to do.
pub(super) fn user_errors(root: &str, data: &Value) -> Result<(), AdapterError> {
    let Some(errors) = data.get(root).and_then(|payload| payload.get("userErrors")).and_then(Value::as_array) else {
        return Ok(());
    };
    if errors.is_empty() {
        return Ok(());
    }
    let code_of = |error: &Value| error.get("code").and_then(Value::as_str).map(str::to_owned);
    let described: Vec<String> = errors
        .iter()
        .map(|error| {
            let field = error
                .get("field")
                .and_then(Value::as_array)
                .map(|path| {
                    path.iter()
                        .map(|part| part.as_str().map_or_else(|| part.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .filter(|path| !path.is_empty());
            let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)");
            let code = code_of(error).map(|code| format!(" [{code}]")).unwrap_or_default();
            match field {
                Some(field) => format!("{field}: {message}{code}"),
                None => format!("{message}{code}"),
            }
        })
        .collect();
    let described = described.join("; ");
    let codes: Vec<String> = errors.iter().filter_map(code_of).collect();
    if codes.iter().any(|code| code == "IDEMPOTENCY_CONCURRENT_REQUEST") {
        return Err(AdapterError::Unavailable {
            platform: Platform::Shopify,
            message: format!("{root}: an earlier request with this idempotency key is still running: {described}"),
        });
    }
    if codes.iter().any(|code| code == "CHANGE_FROM_QUANTITY_STALE") {
        return Err(AdapterError::rejected(
            Platform::Shopify,
            format!("{root}: the stock changed since it was read, so nothing was set; read it again: {described}"),
        ));
    }
    Err(AdapterError::rejected(Platform::Shopify, format!("{root} refused: {described}")))
}

/// The top-level `errors` of an answer: a list of `{message, extensions{code}}`, or (for
/// some 4xx) a bare string or object.
#[derive(Debug, Default)]
struct GraphqlErrors(Vec<(Option<String>, String)>);

impl GraphqlErrors {
    fn of(answer: &Value) -> Self {
        match answer.get("errors") {
            Some(Value::Array(errors)) => Self(
                errors
                    .iter()
                    .map(|error| {
                        let code = error.pointer("/extensions/code").and_then(Value::as_str).map(str::to_owned);
                        let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_owned();
                        (code, message)
                    })
                    .collect(),
            ),
            Some(Value::String(message)) => Self(vec![(None, message.clone())]),
            Some(Value::Object(fields)) => {
                Self(fields.iter().map(|(field, message)| (None, format!("{field}: {}", plain(message)))).collect())
            }
            _ => Self::default(),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn has_code(&self, wanted: &str) -> bool {
        self.0.iter().any(|(code, _)| code.as_deref() == Some(wanted))
    }

    /// `: message [CODE]; …`, or nothing when there are no errors.
    fn suffix(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let listed: Vec<String> = self
            .0
            .iter()
            .map(|(code, message)| match code {
                Some(code) => format!("{message} [{code}]"),
                None => message.clone(),
            })
            .collect();
        format!(": {}", listed.join("; "))
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request() -> Request {
        Request { root: "shop", document: SHOP.to_owned(), variables: json!({}), cost: 1.0, has_user_errors: false }
    }

    fn read(
        status: u16,
        body: Value,
        retry_after: Option<Duration>,
        bucket: &CostBucket,
    ) -> Result<Value, AdapterError> {
        let status = StatusCode::from_u16(status).expect("a status");
        read_answer(&request(), status, retry_after, &body.to_string(), bucket)
    }

    fn throttle_status(available: f64) -> Value {
        json!({"requestedQueryCost": 101, "actualQueryCost": null,
               "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": available, "restoreRate": 50.0}})
    }

    #[tokio::test(start_paused = true)]
    async fn every_answer_feeds_the_bucket_and_a_throttle_waits_for_the_requested_cost() {
        let bucket = CostBucket::new(Platform::Shopify);
        let body = json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                          "extensions": {"cost": throttle_status(1.0)}});
        let error = read(200, body.clone(), None, &bucket).expect_err("throttled");
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 2, .. }), "(101 - 1) / 50: {error:?}");
        assert_eq!(bucket.restore_rate(), Some(50.0));

        let error = read(429, body, Some(Duration::from_secs(5)), &bucket).expect_err("throttled");
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 5, .. }), "the longer wait: {error:?}");
    }

    #[test]
    fn system_errors_are_sorted_into_outages_and_rejections() {
        let bucket = CostBucket::new(Platform::Shopify);
        let code = |code: &str| json!({"errors": [{"message": "m", "extensions": {"code": code}}]});
        assert!(read(200, code("INTERNAL_SERVER_ERROR"), None, &bucket).expect_err("e").is_retryable());
        assert!(!read(200, code("ACCESS_DENIED"), None, &bucket).expect_err("e").is_retryable());
        assert!(!read(200, code("undefinedField"), None, &bucket).expect_err("e").is_retryable());
        assert!(read(502, json!("bad gateway"), None, &bucket).expect_err("e").is_retryable());
        let denied = read(401, json!({"errors": "[API] Invalid API key"}), None, &bucket).expect_err("e");
        assert!(!denied.is_retryable() && denied.to_string().contains("401"), "{denied}");
        let body = json!({"data": {"shop": {"name": "Mugs"}}, "extensions": {"cost": throttle_status(999.0)}});
        assert_eq!(read(200, body, None, &bucket).expect("data")["shop"]["name"], "Mugs");
    }

    #[test]
    fn user_errors_name_their_fields_and_codes() {
        let data = json!({"productCreate": {"product": null, "userErrors": [
            {"field": ["product", "title"], "message": "Title can't be blank"},
            {"field": ["variants", "0", "price"], "message": "Price must be positive", "code": "INVALID"}]}});
        let error = user_errors("productCreate", &data).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "Shopify rejected the request: productCreate refused: product.title: Title can't be blank; \
             variants.0.price: Price must be positive [INVALID]"
        );
        let busy = json!({"inventorySetQuantities": {"userErrors": [
            {"field": null, "message": "This request is currently in progress, please try again.", "code": "IDEMPOTENCY_CONCURRENT_REQUEST"}]}});
        assert!(user_errors("inventorySetQuantities", &busy).expect_err("busy").is_retryable());
        let ok = json!({"productCreate": {"userErrors": []}});
        user_errors("productCreate", &ok).expect("no errors");
    }
}
