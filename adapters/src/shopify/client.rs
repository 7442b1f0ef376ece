//! [`ShopifyClient`]: the Admin API's operations as typed methods, each call wrapped in
//! the connection's breaker, bucket and retry policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::connection::ShopifyConnection;
use super::graphql::{self, Request, typed};
use super::model::{
    ShopifyCatalogProduct, ShopifyLineItem, ShopifyOrder, ShopifyPage, ShopifyProduct, ShopifyProductDraft, ShopifyShop,
};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::{AdapterError, IdempotencyKey, Platform};

/// The header Shopify reads the access token from.
const TOKEN_HEADER: &str = "X-Shopify-Access-Token";

/// The tag that marks a product created with an idempotency key: see
/// [`ShopifyClient::create_product`].
pub const IDEMPOTENCY_TAG_PREFIX: &str = "boardroom-key:";

/// A client of one shop's GraphQL Admin API.
///
/// Every call goes through the connection's [`CircuitBreaker`](crate::CircuitBreaker),
/// waits for its estimated cost in the [`CostBucket`](crate::CostBucket) that Shopify's
/// `throttleStatus` keeps up to date, and is retried by the
/// [`RetryPolicy`](crate::RetryPolicy) while it fails in a retryable way, each request
/// with its own time-out.
///
/// **Deadlines.** A call must be over by its deadline, back-offs and rate-limit waits
/// included: nothing sleeps past it. By default the deadline is
/// [`CallBudget::default_deadline`](crate::CallBudget) after the call starts; a caller
/// with a deadline of its own (the CEO's step) uses [`ShopifyClient::until`], which
/// gives a handle on the same connection bound to that instant. `all_orders` reads all
/// its pages within one deadline.
///
/// Clones are cheap and share the connection: one breaker and one bucket per shop, as
/// Shopify keeps one bucket per app and shop.
#[derive(Clone)]
pub struct ShopifyClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    endpoint: String,
    // Marked sensitive, so it is never printed even in a header dump.
    token: HeaderValue,
    http: reqwest::Client,
    resilience: Resilience,
}

impl fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("endpoint", &self.shared.endpoint)
            .field("access_token", &"[redacted]")
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl ShopifyClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: ShopifyConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address, the API version or the token cannot make a request.
    pub fn with_settings(connection: ShopifyConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let endpoint = connection.endpoint()?;
        let mut token = HeaderValue::from_str(connection.access_token.expose()).map_err(|_| {
            AdapterError::rejected(Platform::Shopify, "the access token has characters an HTTP header cannot carry")
        })?;
        token.set_sensitive(true);
        let http = reqwest::Client::builder().connect_timeout(settings.budget.per_request_timeout).build().map_err(
            |error| AdapterError::rejected(Platform::Shopify, format!("cannot build the HTTP client: {error}")),
        )?;
        let resilience = Resilience::new(Platform::Shopify, settings);
        Ok(Self { shared: Arc::new(Shared { endpoint, token, http, resilience }), deadline: None })
    }

    /// The same connection, with every call (and every page of `all_orders`) bound to
    /// end by `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        Self { shared: Arc::clone(&self.shared), deadline: Some(deadline) }
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.shared.endpoint
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    /// Query-cost points Shopify would grant now, as last reported and refilled since;
    /// `None` before the first answer.
    pub fn available_points(&self) -> Option<f64> {
        self.shared.resilience.bucket().available()
    }

    /// The shop the token signs in to: the way to check a tenant's credentials. A wrong
    /// or revoked token is [`AdapterError::Rejected`] ("Shopify refused the access token
    /// (401)"), never an outage.
    pub async fn shop(&self) -> Result<ShopifyShop, AdapterError> {
        let request = Request {
            root: "shop",
            document: graphql::SHOP.to_owned(),
            variables: json!({}),
            cost: graphql::SHOP_COST,
            has_user_errors: false,
        };
        let data: graphql::ShopData = typed("shop", self.call(&request, self.deadline()).await?)?;
        Ok(ShopifyShop {
            name: data.shop.name,
            myshopify_domain: data.shop.myshopify_domain,
            currency: data.shop.currency_code,
        })
    }

    /// Creates a product with one variant at `draft.price`; called again with the same
    /// `key` it returns the product made the first time instead of making a second.
    ///
    /// `productCreate` takes no idempotency key, so a retry after a lost answer (a
    /// time-out, a crash, a restart) could list the product twice. Instead the product
    /// carries a tag made from the key, `boardroom-key:<key>`, and every attempt first
    /// searches for it (`products(first: 1, query: "tag:'boardroom-key:<key>'")`) and
    /// returns what it finds; only when nothing carries the tag does it create. The price
    /// is then set on the default variant with `productVariantsBulkUpdate`, unless it is
    /// already right, so a retry also finishes a creation interrupted before its price.
    ///
    /// One gap remains: Shopify's product search is updated asynchronously (usually
    /// within seconds), so a retry very soon after a creation whose answer was lost may
    /// not see it yet. The retry back-off makes that unlikely, not impossible.
    pub async fn create_product(
        &self,
        draft: &ShopifyProductDraft,
        key: &IdempotencyKey,
    ) -> Result<ShopifyProduct, AdapterError> {
        let deadline = self.deadline();
        let (lookup, create) = product_create_requests(draft, key);
        let (lookup, create) = (&lookup, &create);
        // Look-up and creation are one attempt, so that every retry looks again first.
        let node = self
            .shared
            .resilience
            .run("productCreate", lookup.cost + create.cost, deadline, move || async move {
                let found: graphql::ProductsData<graphql::Nodes<graphql::ProductNode>> =
                    typed("products", self.send(lookup).await?)?;
                if let Some(existing) = found.products.nodes.into_iter().next() {
                    tracing::info!(product = %existing.id, "product already created with this key");
                    return Ok(existing);
                }
                let created: graphql::ProductCreateData = typed("productCreate", self.send(create).await?)?;
                created.product_create.product.ok_or_else(|| {
                    AdapterError::rejected(Platform::Shopify, "productCreate answered neither a product nor an error")
                })
            })
            .await?;
        let mut product = product_of(node)?;
        if product.price != draft.price {
            self.update_price(&product.product_id, &product.variant_id, draft.price, deadline).await?;
            product.price = draft.price;
        }
        Ok(product)
    }

    /// Sets a variant's price (`productVariantsBulkUpdate`); setting the same price twice
    /// is harmless, so no key is needed.
    pub async fn set_price(&self, product_id: &str, variant_id: &str, price: Decimal) -> Result<(), AdapterError> {
        self.update_price(product_id, variant_id, price, self.deadline()).await
    }

    /// Sets the `available` quantity of an inventory item at a location
    /// (`inventorySetQuantities`, reason `correction`) and returns the change Shopify
    /// made.
    ///
    /// `change_from_quantity` is the quantity the caller last read: Shopify sets the new
    /// one only if it still is, and otherwise answers `CHANGE_FROM_QUANTITY_STALE`
    /// ([`AdapterError::Rejected`]: read again, then decide). `None` skips that check
    /// (sent as an explicit `null`, as 2026-04 and later require). `key` goes in the
    /// `@idempotent` directive: a retry with the same key is applied once.
    pub async fn set_inventory(
        &self,
        inventory_item_id: &str,
        location_id: &str,
        quantity: i64,
        change_from_quantity: Option<i64>,
        key: &IdempotencyKey,
    ) -> Result<i64, AdapterError> {
        let request = Request {
            root: "inventorySetQuantities",
            document: graphql::inventory_set(key.as_str()),
            variables: json!({ "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [{
                    "inventoryItemId": inventory_item_id,
                    "locationId": location_id,
                    "quantity": quantity,
                    "changeFromQuantity": change_from_quantity,
                }],
            }}),
            cost: graphql::INVENTORY_SET_COST,
            has_user_errors: true,
        };
        let data: graphql::InventorySetData = typed(request.root, self.call(&request, self.deadline()).await?)?;
        Ok(data
            .inventory_set_quantities
            .inventory_adjustment_group
            .map(|group| {
                group.changes.iter().filter(|change| change.name == "available").map(|change| change.delta).sum()
            })
            .unwrap_or(0))
    }

    /// One page of the shop's products, from `after` (a cursor from the previous page)
    /// or from the start.
    pub async fn products(&self, after: Option<&str>) -> Result<ShopifyPage<ShopifyCatalogProduct>, AdapterError> {
        let request = Request {
            root: "products",
            document: graphql::PRODUCTS.to_owned(),
            variables: json!({ "first": graphql::PRODUCTS_PAGE, "after": after }),
            cost: graphql::PRODUCTS_PAGE_COST,
            has_user_errors: false,
        };
        let data: graphql::ProductsData<graphql::Page<graphql::CatalogNode>> =
            typed(request.root, self.call(&request, self.deadline()).await?)?;
        let items = data
            .products
            .nodes
            .into_iter()
            .map(|node| {
                let variant = node.variants.nodes.into_iter().next();
                ShopifyCatalogProduct {
                    product_id: node.id,
                    title: node.title,
                    handle: node.handle,
                    status: node.status,
                    tags: node.tags,
                    online_store_url: node.online_store_url,
                    price: variant.as_ref().map(|variant| variant.price),
                    inventory_item_id: variant.as_ref().map(|variant| variant.inventory_item.id.clone()),
                    variant_id: variant.map(|variant| variant.id),
                }
            })
            .collect();
        Ok(ShopifyPage { items, next_cursor: data.products.page_info.next_cursor() })
    }

    /// One page of the orders placed at or after `since`, oldest first, from `after` or
    /// from the start.
    pub async fn orders(
        &self,
        since: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<ShopifyPage<ShopifyOrder>, AdapterError> {
        self.orders_page(since, after, self.deadline()).await
    }

    /// Every order placed at or after `since`, oldest first, following the pages within
    /// one deadline.
    pub async fn all_orders(&self, since: DateTime<Utc>) -> Result<Vec<ShopifyOrder>, AdapterError> {
        let deadline = self.deadline();
        let mut orders = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.orders_page(since, after.as_deref(), deadline).await?;
            orders.extend(page.items);
            match page.next_cursor {
                Some(next) if after.as_deref() == Some(next.as_str()) => {
                    return Err(AdapterError::Unavailable {
                        platform: Platform::Shopify,
                        message: "orders: Shopify answered the same cursor twice".to_owned(),
                    });
                }
                Some(next) => after = Some(next),
                None => return Ok(orders),
            }
        }
    }

    async fn orders_page(
        &self,
        since: DateTime<Utc>,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<ShopifyPage<ShopifyOrder>, AdapterError> {
        let request = Request {
            root: "orders",
            document: graphql::orders(),
            variables: json!({
                "first": graphql::ORDERS_PAGE,
                "after": after,
                "query": format!("created_at:>='{}'", since.to_rfc3339_opts(SecondsFormat::Secs, true)),
            }),
            cost: graphql::ORDERS_PAGE_COST,
            has_user_errors: false,
        };
        let data: graphql::OrdersData = typed(request.root, self.call(&request, deadline).await?)?;
        let items = data
            .orders
            .nodes
            .into_iter()
            .map(|node| ShopifyOrder {
                id: node.id,
                name: node.name,
                created_at: node.created_at,
                currency: node.currency_code,
                total: node.total_price_set.shop_money.amount,
                line_items: node
                    .line_items
                    .nodes
                    .into_iter()
                    .map(|line| ShopifyLineItem {
                        product_id: line.product.map(|product| product.id),
                        quantity: line.quantity,
                        amount: line.original_total_set.shop_money.amount,
                    })
                    .collect(),
                refunded: node.total_refunded_set.map_or(Decimal::ZERO, |refunded| refunded.shop_money.amount),
            })
            .collect();
        Ok(ShopifyPage { items, next_cursor: data.orders.page_info.next_cursor() })
    }

    async fn update_price(
        &self,
        product_id: &str,
        variant_id: &str,
        price: Decimal,
        deadline: Instant,
    ) -> Result<(), AdapterError> {
        self.call(&price_request(product_id, variant_id, price), deadline).await.map(drop)
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    /// `request` through the breaker, the bucket and the retry policy.
    async fn call(&self, request: &Request, deadline: Instant) -> Result<Value, AdapterError> {
        self.shared.resilience.run(request.root, request.cost, deadline, || self.send(request)).await
    }

    /// One HTTP request, its answer read by [`graphql::read_answer`].
    async fn send(&self, request: &Request) -> Result<Value, AdapterError> {
        tracing::debug!(operation = request.root, "Shopify request");
        let body = json!({ "query": request.document, "variables": request.variables });
        let response = self
            .shared
            .http
            .post(&self.shared.endpoint)
            .header(TOKEN_HEADER, self.shared.token.clone())
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|error| transport_failure(request.root, &error))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let text = response.text().await.map_err(|error| transport_failure(request.root, &error))?;
        graphql::read_answer(request, status, retry_after, &text, self.shared.resilience.bucket())
    }
}

/// The tag that marks the product made with `key`. A key that is not plain letters,
/// digits and dashes (ours are UUIDs) is hashed into one, so the tag is always safe in
/// a search query and within Shopify's 255 characters.
/// The requests a listing sends, as `{"query", "variables"}` bodies, for a dry run to
/// show: the look-up by the key's tag, the creation, and the price on its variant (whose
/// id Shopify gives only once the product exists: `<the new variant>` stands for it).
pub fn planned_product_creation(draft: &ShopifyProductDraft, key: &IdempotencyKey) -> Vec<Value> {
    let (lookup, create) = product_create_requests(draft, key);
    let price = price_request("<the new product>", "<the new variant>", draft.price);
    [lookup, create, price].iter().map(Request::body).collect()
}

/// The request that reads the shop (and so checks the token), as a `{"query",
/// "variables"}` body.
pub fn planned_shop_read() -> Value {
    json!({ "query": graphql::SHOP, "variables": {} })
}

/// The request a price change sends, as a `{"query", "variables"}` body.
pub fn planned_price_change(product_id: &str, variant_id: &str, price: Decimal) -> Value {
    price_request(product_id, variant_id, price).body()
}

/// The tag look-up and the `productCreate` of a listing: see
/// [`ShopifyClient::create_product`].
fn product_create_requests(draft: &ShopifyProductDraft, key: &IdempotencyKey) -> (Request, Request) {
    let tag = idempotency_tag(key);
    let mut tags = draft.tags.clone();
    if !tags.contains(&tag) {
        tags.push(tag.clone());
    }
    let lookup = Request {
        root: "products",
        document: graphql::product_by_tag(),
        variables: json!({ "query": format!("tag:'{tag}'") }),
        cost: graphql::PRODUCT_BY_TAG_COST,
        has_user_errors: false,
    };
    let create = Request {
        root: "productCreate",
        document: graphql::product_create(),
        variables: json!({ "product": {
            "title": draft.title,
            "descriptionHtml": description_html(&draft.description),
            "tags": tags,
            "status": "ACTIVE",
        }}),
        cost: graphql::PRODUCT_CREATE_COST,
        has_user_errors: true,
    };
    (lookup, create)
}

fn price_request(product_id: &str, variant_id: &str, price: Decimal) -> Request {
    Request {
        root: "productVariantsBulkUpdate",
        document: graphql::VARIANTS_UPDATE.to_owned(),
        variables: json!({
            "productId": product_id,
            "variants": [{ "id": variant_id, "price": price.to_string() }],
        }),
        cost: graphql::VARIANTS_UPDATE_COST,
        has_user_errors: true,
    }
}

fn idempotency_tag(key: &IdempotencyKey) -> String {
    let key = key.as_str();
    let plain =
        !key.is_empty() && key.len() <= 200 && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if plain {
        format!("{IDEMPOTENCY_TAG_PREFIX}{key}")
    } else {
        format!("{IDEMPOTENCY_TAG_PREFIX}{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes()))
    }
}

/// Plain text as `descriptionHtml`: escaped, one paragraph per blank-line-separated
/// block.
fn description_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| {
            let mut escaped = String::with_capacity(paragraph.len() + 7);
            escaped.push_str("<p>");
            for character in paragraph.chars() {
                match character {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#39;"),
                    '\n' => escaped.push_str("<br>"),
                    other => escaped.push(other),
                }
            }
            escaped.push_str("</p>");
            escaped
        })
        .collect()
}

fn product_of(node: graphql::ProductNode) -> Result<ShopifyProduct, AdapterError> {
    let Some(variant) = node.variants.nodes.into_iter().next() else {
        return Err(AdapterError::rejected(Platform::Shopify, format!("product {} has no variant to price", node.id)));
    };
    Ok(ShopifyProduct {
        product_id: node.id,
        variant_id: variant.id,
        inventory_item_id: variant.inventory_item.id,
        handle: node.handle,
        online_store_url: node.online_store_url,
        price: variant.price,
    })
}

/// `Retry-After` in seconds (Shopify sends decimals like `2.0`).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok()?;
    Duration::try_from_secs_f64(value).ok()
}

/// A request that got no HTTP answer: an outage, worth retrying. The message names the
/// operation and the cause (reqwest's errors name the URL, which holds no secret).
fn transport_failure(root: &str, error: &reqwest::Error) -> AdapterError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause.push_str(": ");
        cause.push_str(&inner.to_string());
        source = inner.source();
    }
    AdapterError::Unavailable { platform: Platform::Shopify, message: format!("{root}: {what}: {cause}") }
}

#[cfg(test)]
mod tests {
    use boardroom_memory::TenantId;

    use super::*;

    #[test]
    fn the_idempotency_tag_carries_the_key_or_a_hash_of_an_odd_one() {
        let key = IdempotencyKey::for_step(TenantId(1), 1, "product_creation", "mugs");
        assert_eq!(idempotency_tag(&key), format!("boardroom-key:{key}"));
        let odd: IdempotencyKey = serde_json::from_value(json!("it's, odd")).expect("a key");
        let tag = idempotency_tag(&odd);
        assert!(tag.starts_with("boardroom-key:") && !tag.contains('\'') && !tag.contains(','), "{tag}");
        assert_eq!(tag, idempotency_tag(&odd), "stable");
    }

    #[test]
    fn descriptions_are_escaped_into_paragraphs() {
        assert_eq!(
            description_html("Mugs & <cups>\nfor \"you\"\n\nSecond"),
            "<p>Mugs &amp; &lt;cups&gt;<br>for &quot;you&quot;</p><p>Second</p>"
        );
    }

    #[test]
    fn the_client_debug_shows_the_endpoint_but_never_the_token() {
        let client = ShopifyClient::new(ShopifyConnection::new("https://mugs.myshopify.com", "shpat_do_not_show"))
            .expect("valid");
        let shown = format!("{client:?}");
        assert!(!shown.contains("shpat_do_not_show"), "{shown}");
        assert!(shown.contains("mugs.myshopify.com/admin/api/2026-10/graphql.json"), "{shown}");
    }
}
