//! [`GumroadClient`]: Gumroad's operations (products, offer codes, sales) as typed
//! methods, each call wrapped in the connection's breaker and retry policy.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use tokio::time::Instant;

use super::connection::{GumroadAccessToken, GumroadConnection};
use super::model::{
    GumroadDiscount, GumroadOfferCode, GumroadOfferCodeDraft, GumroadProduct, GumroadSale, GumroadSalesPage,
    GumroadUser,
};
use super::webhook::sale_from_webhook;
use super::wire::{self, typed};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest::{self, Form};
use crate::{AdapterError, IdempotencyKey, Platform};

/// How many hex digits of a key's hash mark a product made with it (48 bits: no two
/// keys of one seller collide in practice).
const MARKER_LENGTH: usize = 12;

/// A client of one seller's Gumroad account.
///
/// Every call goes through the connection's [`CircuitBreaker`](crate::CircuitBreaker)
/// and is retried by the [`RetryPolicy`](crate::RetryPolicy) while it fails in a
/// retryable way, each request with its own time-out. A call must be over by its
/// deadline ([`CallBudget::default_deadline`](crate::CallBudget) after it starts, or
/// the one given to [`GumroadClient::until`]); the readers of several pages read them
/// all within one deadline.
///
/// Gumroad takes no idempotency key, so the calls that make something look first for
/// what an earlier attempt may have made: see [`GumroadClient::create_product`] and
/// [`GumroadClient::create_offer_code`].
#[derive(Clone)]
pub struct GumroadClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

struct Shared {
    api_root: String,
    token: GumroadAccessToken,
    http: reqwest::Client,
    resilience: Resilience,
}

impl fmt::Debug for GumroadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GumroadClient")
            .field("api_root", &self.shared.api_root)
            .field("access_token", &"[redacted]")
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// One request: where it goes and its parameters (the token is added when it is sent).
struct Request {
    operation: &'static str,
    method: Method,
    /// After `/v2`, like `/products`.
    path: String,
    form: Form,
}

impl GumroadClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: GumroadConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address or the token cannot make a request.
    pub fn with_settings(connection: GumroadConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let api_root = connection.api_root()?;
        let http = reqwest::Client::builder().connect_timeout(settings.budget.per_request_timeout).build().map_err(
            |error| AdapterError::rejected(Platform::Gumroad, format!("cannot build the HTTP client: {error}")),
        )?;
        let resilience = Resilience::new(Platform::Gumroad, settings);
        let shared = Shared { api_root, token: connection.access_token, http, resilience };
        Ok(Self { shared: Arc::new(shared), deadline: None })
    }

    /// The same connection, with every call bound to end by `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        Self { shared: Arc::clone(&self.shared), deadline: Some(deadline) }
    }

    /// `{base_url}/v2`, where requests go.
    pub fn api_root(&self) -> &str {
        &self.shared.api_root
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    // -----------------------------------------------------------------------------------
    // The seller
    // -----------------------------------------------------------------------------------

    /// The seller the token belongs to (`GET /v2/user`): what connecting an account
    /// checks, and whose `user_id` finds the account's business.
    pub async fn user(&self) -> Result<GumroadUser, AdapterError> {
        let request = Request::get("user", "/user".to_owned(), Form::new());
        let answer: wire::UserAnswer = typed(request.operation, self.call(&request, self.deadline()).await?)?;
        Ok(answer.user.into())
    }

    // -----------------------------------------------------------------------------------
    // Products
    // -----------------------------------------------------------------------------------

    /// Every product of the seller (`GET /v2/products`, ten a page, following
    /// `next_page_key` within one deadline), newest first.
    pub async fn products(&self) -> Result<Vec<GumroadProduct>, AdapterError> {
        let deadline = self.deadline();
        let all = self.all_products(deadline).await?;
        Ok(all.into_iter().map(GumroadProduct::from).collect())
    }

    /// One product (`GET /v2/products/:id`).
    pub async fn product(&self, id: &str) -> Result<GumroadProduct, AdapterError> {
        let request = Request::get("product", format!("/products/{}", segment(id)?), Form::new());
        let answer: wire::ProductAnswer = typed(request.operation, self.call(&request, self.deadline()).await?)?;
        Ok(answer.product.into())
    }

    /// Creates a product (`POST /v2/products`, a draft until
    /// [enabled](GumroadClient::enable_product)) at `price_cents`; called again with the
    /// same `key` it returns the product made the first time instead of making another.
    ///
    /// Gumroad takes no idempotency key, so the key is carried by the product's custom
    /// permalink: `{name as a slug}-{12 hex digits of a hash of the key}` (like
    /// `prompt-pack-3f9a1c2e07bd`, a readable URL). Each attempt first lists the
    /// seller's products and returns the one whose permalink ends in the key's marker
    /// (whatever its name has become); only when none does, it creates. Gumroad keeps
    /// permalinks unique per seller, so even two racing attempts cannot both create:
    /// the loser is told the permalink is taken, and is retried, finding the winner's.
    /// An empty `description` is left out.
    pub async fn create_product(
        &self,
        name: &str,
        price_cents: u64,
        description: &str,
        key: &IdempotencyKey,
    ) -> Result<GumroadProduct, AdapterError> {
        let deadline = self.deadline();
        let marker = key_marker(key);
        let suffix = format!("-{marker}");
        let mut form = Form::new();
        form.push("name", name)
            .push("price", price_cents.to_string())
            .push("custom_permalink", permalink(name, &marker));
        if !description.trim().is_empty() {
            form.push("description", description);
        }
        let create = Request::post("create_product", Method::POST, "/products".to_owned(), form);
        let (create, suffix) = (&create, suffix.as_str());
        // The look-up and the creation are one attempt, so that every retry looks first.
        let object = self
            .shared
            .resilience
            .run("create_product", 1.0, deadline, move || async move {
                let existing = self.all_products_once().await?;
                if let Some(found) = existing
                    .into_iter()
                    .find(|product| product.custom_permalink.as_deref().is_some_and(|link| link.ends_with(suffix)))
                {
                    tracing::info!(product = %found.id, "Gumroad product already created with this key");
                    return Ok(found);
                }
                match self.send(create, 1).await {
                    Ok(answer) => typed::<wire::ProductAnswer>(create.operation, answer).map(|answer| answer.product),
                    Err(AdapterError::Rejected { message, .. })
                        if message.contains("permalink has already been taken") =>
                    {
                        // Another attempt with this key won the race: look again.
                        Err(AdapterError::Unavailable { platform: Platform::Gumroad, message })
                    }
                    Err(other) => Err(other),
                }
            })
            .await
            .map_err(|error| self.scrub(error))?;
        Ok(object.into())
    }

    /// Changes a product's price (`PUT /v2/products/:id` with `price` in cents), from
    /// the next sale on; setting the same price twice is harmless, so it needs no key.
    pub async fn set_price(&self, id: &str, price_cents: u64) -> Result<GumroadProduct, AdapterError> {
        let mut form = Form::new();
        form.push("price", price_cents.to_string());
        let request = Request::post("set_price", Method::PUT, format!("/products/{}", segment(id)?), form);
        let answer: wire::ProductAnswer = typed(request.operation, self.call(&request, self.deadline()).await?)?;
        Ok(answer.product.into())
    }

    /// Publishes a product (`PUT /v2/products/:id/enable`), so it can be bought; doing it
    /// twice is harmless.
    pub async fn enable_product(&self, id: &str) -> Result<GumroadProduct, AdapterError> {
        self.toggle("enable_product", id, "enable").await
    }

    /// Takes a product off sale (`PUT /v2/products/:id/disable`); doing it twice is
    /// harmless.
    pub async fn disable_product(&self, id: &str) -> Result<GumroadProduct, AdapterError> {
        self.toggle("disable_product", id, "disable").await
    }

    async fn toggle(&self, operation: &'static str, id: &str, verb: &str) -> Result<GumroadProduct, AdapterError> {
        let request = Request::post(operation, Method::PUT, format!("/products/{}/{verb}", segment(id)?), Form::new());
        let answer: wire::ProductAnswer = typed(operation, self.call(&request, self.deadline()).await?)?;
        Ok(answer.product.into())
    }

    // -----------------------------------------------------------------------------------
    // Offer codes
    // -----------------------------------------------------------------------------------

    /// The offer codes that apply to a product, its own and the seller's universal ones
    /// (`GET /v2/products/:id/offer_codes`).
    pub async fn offer_codes(&self, product_id: &str) -> Result<Vec<GumroadOfferCode>, AdapterError> {
        let request = self.offer_codes_request(product_id)?;
        let answer: wire::OfferCodesAnswer = typed(request.operation, self.call(&request, self.deadline()).await?)?;
        answer.offer_codes.into_iter().map(TryInto::try_into).collect()
    }

    /// Creates an offer code on a product (`POST /v2/products/:id/offer_codes`), or
    /// returns the one already there with that name: a code's name is unique in the
    /// seller's account, so it is its own idempotency key, and each attempt looks for it
    /// first.
    pub async fn create_offer_code(
        &self,
        product_id: &str,
        draft: &GumroadOfferCodeDraft,
    ) -> Result<GumroadOfferCode, AdapterError> {
        let name = draft.name.trim();
        if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
            return Err(AdapterError::rejected(
                Platform::Gumroad,
                format!("create_offer_code: {name:?} must be letters, digits, dashes and underscores"),
            ));
        }
        let mut form = Form::new();
        form.push("name", name);
        match draft.discount {
            GumroadDiscount::Cents(cents) => form.push("offer_type", "cents").push("amount_off", cents.to_string()),
            GumroadDiscount::Percent(percent) if (1..=100).contains(&percent) => {
                form.push("offer_type", "percent").push("amount_off", percent.to_string())
            }
            GumroadDiscount::Percent(percent) => {
                return Err(AdapterError::rejected(
                    Platform::Gumroad,
                    format!("create_offer_code: {percent} % is not 1 to 100 %"),
                ));
            }
        };
        form.push_some("max_purchase_count", draft.max_purchase_count.map(|count| count.to_string()));
        let lookup = self.offer_codes_request(product_id)?;
        let create = Request::post(
            "create_offer_code",
            Method::POST,
            format!("/products/{}/offer_codes", segment(product_id)?),
            form,
        );
        let (lookup, create) = (&lookup, &create);
        let object = self
            .shared
            .resilience
            .run("create_offer_code", 1.0, self.deadline(), move || async move {
                let listed: wire::OfferCodesAnswer = typed(lookup.operation, self.send(lookup, 1).await?)?;
                if let Some(found) = listed.offer_codes.into_iter().find(|code| code.name == name) {
                    return Ok(found);
                }
                let created: wire::OfferCodeAnswer = typed(create.operation, self.send(create, 1).await?)?;
                Ok(created.offer_code)
            })
            .await
            .map_err(|error| self.scrub(error))?;
        object.try_into()
    }

    fn offer_codes_request(&self, product_id: &str) -> Result<Request, AdapterError> {
        Ok(Request::get("offer_codes", format!("/products/{}/offer_codes", segment(product_id)?), Form::new()))
    }

    // -----------------------------------------------------------------------------------
    // Sales
    // -----------------------------------------------------------------------------------

    /// One page of sales (`GET /v2/sales`, ten a page, newest first): those made on or
    /// after the day `after` (all if `None`), from `page_key` (a previous page's
    /// `next_page_key`) or from the newest.
    pub async fn sales(
        &self,
        after: Option<NaiveDate>,
        page_key: Option<&str>,
    ) -> Result<GumroadSalesPage, AdapterError> {
        self.sales_page(after, page_key, self.deadline()).await
    }

    /// Every sale made on or after the day `since`, newest first, following the pages
    /// within one deadline.
    pub async fn all_sales(&self, since: NaiveDate) -> Result<Vec<GumroadSale>, AdapterError> {
        let deadline = self.deadline();
        let mut sales = Vec::new();
        let mut page_key: Option<String> = None;
        loop {
            let page = self.sales_page(Some(since), page_key.as_deref(), deadline).await?;
            sales.extend(page.sales);
            match page.next_page_key {
                Some(next) if page_key.as_deref() == Some(next.as_str()) => {
                    return Err(AdapterError::Unavailable {
                        platform: Platform::Gumroad,
                        message: "sales: Gumroad answered the same page key twice".to_owned(),
                    });
                }
                Some(next) => page_key = Some(next),
                None => return Ok(sales),
            }
        }
    }

    async fn sales_page(
        &self,
        after: Option<NaiveDate>,
        page_key: Option<&str>,
        deadline: Instant,
    ) -> Result<GumroadSalesPage, AdapterError> {
        let mut form = Form::new();
        form.push_some("after", after.map(|day| day.format("%Y-%m-%d").to_string())).push_some("page_key", page_key);
        let request = Request::get("sales", "/sales".to_owned(), form);
        let answer: wire::SalesAnswer = typed(request.operation, self.call(&request, deadline).await?)?;
        Ok(GumroadSalesPage {
            sales: answer.sales.into_iter().map(GumroadSale::from).collect(),
            next_page_key: answer.next_page_key,
        })
    }

    /// One sale (`GET /v2/sales/:id`), as Gumroad has it now.
    pub async fn sale(&self, id: &str) -> Result<GumroadSale, AdapterError> {
        let request = Request::get("sale", format!("/sales/{}", segment(id)?), Form::new());
        let answer: wire::SaleAnswer = typed(request.operation, self.call(&request, self.deadline()).await?)?;
        Ok(answer.sale.into())
    }

    /// The sale a webhook ping names, re-fetched from Gumroad: pings are unsigned, so
    /// nothing in one is trusted but the sale id (see
    /// [`sale_from_webhook`](crate::sale_from_webhook)); the sale that is returned is
    /// what Gumroad's API says, and a forged id is refused by Gumroad as not found.
    pub async fn sale_from_ping(&self, fields: &[(String, String)]) -> Result<GumroadSale, AdapterError> {
        let id = sale_from_webhook(fields)?;
        self.sale(&id).await
    }

    // -----------------------------------------------------------------------------------
    // The wire
    // -----------------------------------------------------------------------------------

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    /// Every page of products, each page a call of its own.
    async fn all_products(&self, deadline: Instant) -> Result<Vec<wire::ProductObject>, AdapterError> {
        let mut products = Vec::new();
        let mut page_key: Option<String> = None;
        loop {
            let mut form = Form::new();
            form.push_some("page_key", page_key.as_deref());
            let request = Request::get("products", "/products".to_owned(), form);
            let page: wire::ProductsAnswer = typed(request.operation, self.call(&request, deadline).await?)?;
            products.extend(page.products);
            match page.next_page_key {
                Some(next) if page_key.as_deref() != Some(next.as_str()) => page_key = Some(next),
                Some(_) => {
                    return Err(AdapterError::Unavailable {
                        platform: Platform::Gumroad,
                        message: "products: Gumroad answered the same page key twice".to_owned(),
                    });
                }
                None => return Ok(products),
            }
        }
    }

    /// Every page of products within one attempt (no retries of its own: the caller's
    /// attempt is retried as a whole).
    async fn all_products_once(&self) -> Result<Vec<wire::ProductObject>, AdapterError> {
        let mut products = Vec::new();
        let mut page_key: Option<String> = None;
        loop {
            let mut form = Form::new();
            form.push_some("page_key", page_key.as_deref());
            let request = Request::get("products", "/products".to_owned(), form);
            let page: wire::ProductsAnswer = typed(request.operation, self.send(&request, 1).await?)?;
            products.extend(page.products);
            match page.next_page_key {
                Some(next) if page_key.as_deref() != Some(next.as_str()) => page_key = Some(next),
                _ => return Ok(products),
            }
        }
    }

    /// `request` through the breaker and the retry policy.
    async fn call(&self, request: &Request, deadline: Instant) -> Result<Value, AdapterError> {
        let attempts = AtomicU32::new(0);
        self.shared
            .resilience
            .run(request.operation, 1.0, deadline, || {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
                self.send(request, attempt)
            })
            .await
            .map_err(|error| self.scrub(error))
    }

    /// One HTTP request with the `access_token` parameter, its answer read by
    /// [`wire::read_answer`].
    async fn send(&self, request: &Request, attempt: u32) -> Result<Value, AdapterError> {
        tracing::debug!(operation = request.operation, attempt, "Gumroad request");
        let shared = &self.shared;
        let mut form = request.form.clone();
        form.push("access_token", shared.token.expose());
        let url = format!("{}{}", shared.api_root, request.path);
        let builder = if request.method == Method::GET || request.method == Method::DELETE {
            shared.http.request(request.method.clone(), format!("{url}?{}", form.encode()))
        } else {
            shared
                .http
                .request(request.method.clone(), url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.encode())
        };
        // The URL may carry the token, so errors are described without it.
        let failure =
            |error: reqwest::Error| rest::transport_failure(Platform::Gumroad, request.operation, &error.without_url());
        let response = builder.header(ACCEPT, "application/json").send().await.map_err(failure)?;
        let status = response.status();
        let retry_after = rest::retry_after(response.headers());
        let body = response.text().await.map_err(failure)?;
        let backoff = shared.resilience.settings().retry.backoff(attempt);
        wire::read_answer(request.operation, status, retry_after, &body, backoff)
    }

    /// `error` with the token, should any message quote it, replaced.
    fn scrub(&self, error: AdapterError) -> AdapterError {
        let token = self.shared.token.expose();
        let clean = |message: String| {
            if token.len() >= 8 && message.contains(token) { message.replace(token, "[redacted]") } else { message }
        };
        match error {
            AdapterError::Rejected { platform, message } => {
                AdapterError::Rejected { platform, message: clean(message) }
            }
            AdapterError::Unavailable { platform, message } => {
                AdapterError::Unavailable { platform, message: clean(message) }
            }
            other => other,
        }
    }
}

impl Request {
    fn get(operation: &'static str, path: String, form: Form) -> Self {
        Self { operation, method: Method::GET, path, form }
    }

    fn post(operation: &'static str, method: Method, path: String, form: Form) -> Self {
        Self { operation, method, path, form }
    }
}

/// The marker of the product made with `key`: hex digits of a name-based UUID of it.
fn key_marker(key: &IdempotencyKey) -> String {
    let hashed = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("gumroad-product:{key}").as_bytes());
    hashed.simple().to_string()[..MARKER_LENGTH].to_owned()
}

/// `{name as a slug}-{marker}`: lowercase letters and digits joined by single dashes,
/// at most 40 characters of the name.
fn permalink(name: &str, marker: &str) -> String {
    let mut slug = String::new();
    for character in name.chars().flat_map(char::to_lowercase) {
        if character.is_ascii_alphanumeric() {
            slug.push(character);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { format!("product-{marker}") } else { format!("{slug}-{marker}") }
}

/// An id as one path segment: percent-encoded but for unreserved characters (Gumroad's
/// ids are base64 with `=` padding).
fn segment(id: &str) -> Result<String, AdapterError> {
    if id.is_empty() || id.len() > 200 || id == "." || id == ".." {
        return Err(AdapterError::rejected(Platform::Gumroad, format!("{id:?} is not a Gumroad id")));
    }
    let mut encoded = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use boardroom_memory::TenantId;

    use super::*;

    #[test]
    fn a_keys_permalink_is_a_readable_slug_and_a_stable_marker() {
        let key = IdempotencyKey::for_step(TenantId(7), 1, "gumroad", "prompt-pack");
        let marker = key_marker(&key);
        assert_eq!(marker.len(), MARKER_LENGTH);
        assert_eq!(marker, key_marker(&key), "stable");
        assert_eq!(permalink("Prompt Pack: 50 prompts!", &marker), format!("prompt-pack-50-prompts-{marker}"));
        assert_eq!(permalink("¡¿?!", &marker), format!("product-{marker}"));
        assert!(permalink(&"x".repeat(100), &marker).len() <= 40 + 1 + MARKER_LENGTH);
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment() {
        assert_eq!(segment("A-m3CDDC5dlrSdKZp0RFhA==").expect("an id"), "A-m3CDDC5dlrSdKZp0RFhA%3D%3D");
        assert_eq!(segment("../user").expect("encoded"), "..%2Fuser");
        segment("").expect_err("empty");
        segment("..").expect_err("a dot segment");
    }
}
