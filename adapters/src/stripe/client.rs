//! [`StripeClient`]: Stripe's operations (products, prices, payment links, Connect
//! accounts, refunds, lists) as typed methods, each call wrapped in the connection's
//! breaker and retry policy.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::connection::{StripeConnection, StripeSecretKey};
use super::model::{
    StripeAccount, StripeAccountLink, StripeApplicationFee, StripeCharge, StripeCheckoutSession, StripeList,
    StripePaymentLink, StripePaymentLinkDraft, StripePrice, StripeProduct, StripeRefund,
};
use super::wire::{self, Answer, typed};
use crate::resilience::{CircuitState, Resilience, ResilienceSettings};
use crate::rest::{self, Form};
use crate::{AdapterError, IdempotencyKey, Platform};

/// The most items Stripe returns in one page, and the page size of the `all_…` readers.
pub const STRIPE_MAX_PAGE: u32 = 100;

/// Stripe's cap on an `Idempotency-Key`.
const MAX_KEY_LENGTH: usize = 255;

/// A client of Stripe's API as the platform, or, through [`StripeClient::on_account`],
/// acting on one connected account.
///
/// Every call goes through the connection's [`CircuitBreaker`](crate::CircuitBreaker)
/// and is retried by the [`RetryPolicy`](crate::RetryPolicy) while it fails in a
/// retryable way, each request with its own time-out. Every `POST` carries an
/// `Idempotency-Key`, the same on every retry of a call, so Stripe acts once however
/// often the request is sent: a repeat gets the first answer back.
///
/// **Deadlines.** A call must be over by its deadline, back-offs included. By default
/// that is [`CallBudget::default_deadline`](crate::CallBudget) after the call starts; a
/// caller with a deadline of its own uses [`StripeClient::until`]. The `all_…` readers
/// read all their pages within one deadline.
///
/// Clones are cheap and share the connection: one breaker for the platform's key, as
/// Stripe limits the rate per platform account.
#[derive(Clone)]
pub struct StripeClient {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
    /// `Stripe-Account`: the connected account acted on, if not the platform.
    account: Option<String>,
}

struct Shared {
    api_root: String,
    // Marked sensitive, so it is never printed even in a header dump.
    authorization: HeaderValue,
    version: HeaderValue,
    // Kept to scrub from any message that might quote it (Stripe's own 401 message
    // masks all but the last four characters, but a proxy's might not).
    secret_key: StripeSecretKey,
    http: reqwest::Client,
    resilience: Resilience,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_root", &self.shared.api_root)
            .field("secret_key", &"[redacted]")
            .field("stripe_version", &self.shared.version)
            .field("account", &self.account)
            .field("circuit", &self.circuit_state())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// One request: where it goes and what it carries.
struct Request<'a> {
    /// Names the call in errors and logs.
    operation: &'static str,
    method: Method,
    /// After `/v1`, like `/products`.
    path: String,
    form: Form,
    idempotency_key: Option<&'a str>,
}

impl StripeClient {
    /// A client of `connection` with the default [`ResilienceSettings`].
    pub fn new(connection: StripeConnection) -> Result<Self, AdapterError> {
        Self::with_settings(connection, ResilienceSettings::default())
    }

    /// A client of `connection` with its own retry, breaker and time-out settings.
    /// Refused when the address, the key or the version cannot make a request.
    pub fn with_settings(connection: StripeConnection, settings: ResilienceSettings) -> Result<Self, AdapterError> {
        let api_root = connection.api_root()?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", connection.secret_key.expose())).map_err(|_| {
                AdapterError::rejected(Platform::Stripe, "the secret key has characters an HTTP header cannot carry")
            })?;
        authorization.set_sensitive(true);
        let version = HeaderValue::from_str(&connection.stripe_version)
            .map_err(|_| AdapterError::rejected(Platform::Stripe, "the Stripe version cannot go in a header"))?;
        let http = reqwest::Client::builder().connect_timeout(settings.budget.per_request_timeout).build().map_err(
            |error| AdapterError::rejected(Platform::Stripe, format!("cannot build the HTTP client: {error}")),
        )?;
        let resilience = Resilience::new(Platform::Stripe, settings);
        let shared = Shared { api_root, authorization, version, secret_key: connection.secret_key, http, resilience };
        Ok(Self { shared: Arc::new(shared), deadline: None, account: None })
    }

    /// The same connection, with every call (and every page of the `all_…` readers)
    /// bound to end by `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        Self { deadline: Some(deadline), ..self.clone() }
    }

    /// The same connection acting on the connected account `account` (`acct_…`): every
    /// request carries `Stripe-Account: acct_…`, so objects are made in, and read from,
    /// that account (direct charges). Refused when `account` is not an account id.
    pub fn on_account(&self, account: &str) -> Result<Self, AdapterError> {
        Ok(Self { account: Some(account_id(account)?.to_owned()), ..self.clone() })
    }

    /// The connected account this handle acts on, `None` for the platform itself.
    pub fn acting_on(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// `{base_url}/v1`, where requests go.
    pub fn api_root(&self) -> &str {
        &self.shared.api_root
    }

    /// The connection's circuit, for a dashboard.
    pub fn circuit_state(&self) -> CircuitState {
        self.shared.resilience.breaker().state()
    }

    // -----------------------------------------------------------------------------------
    // Catalogue
    // -----------------------------------------------------------------------------------

    /// Creates a product (`POST /v1/products`); an empty `description` is left out.
    /// Called again with the same `key`, Stripe returns the product made the first time.
    pub async fn create_product(
        &self,
        name: &str,
        description: &str,
        metadata: &BTreeMap<String, String>,
        key: &IdempotencyKey,
    ) -> Result<StripeProduct, AdapterError> {
        let mut form = Form::new();
        form.push("name", name);
        if !description.trim().is_empty() {
            form.push("description", description);
        }
        push_metadata(&mut form, metadata);
        let request = self.post("create_product", "/products", form, key)?;
        let object: wire::ProductObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    /// Creates a one-time price of `product` (`POST /v1/prices`): `unit_amount` minor
    /// units of `currency` (ISO 4217, any case; sent lowercase).
    pub async fn create_price(
        &self,
        product: &str,
        unit_amount: u64,
        currency: &str,
        key: &IdempotencyKey,
    ) -> Result<StripePrice, AdapterError> {
        let mut form = Form::new();
        form.push("product", product)
            .push("unit_amount", unit_amount.to_string())
            .push("currency", currency_code(currency)?);
        let request = self.post("create_price", "/prices", form, key)?;
        let object: wire::PriceObject = typed(request.operation, self.call(&request).await?)?;
        object.try_into()
    }

    /// Creates a payment link (`POST /v1/payment_links`) selling `draft.quantity` of
    /// `draft.price`, so the product can be bought.
    ///
    /// With Connect, this is a destination charge made by the platform: the platform's
    /// fee goes in `application_fee_amount` (or `application_fee_percent` for recurring
    /// prices) and the tenant's account in `transfer_data[destination]`, both of which
    /// Payment Links take directly (Stripe's OpenAPI spec lists them on
    /// `PostPaymentLinks`), so no Checkout Session needs to be made per buyer.
    pub async fn create_payment_link(
        &self,
        draft: &StripePaymentLinkDraft,
        key: &IdempotencyKey,
    ) -> Result<StripePaymentLink, AdapterError> {
        if draft.quantity == 0 {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                "create_payment_link: the quantity must be at least 1",
            ));
        }
        let mut form = Form::new();
        form.push("line_items[0][price]", draft.price.as_str())
            .push("line_items[0][quantity]", draft.quantity.to_string());
        match draft.application_fee {
            None => {}
            Some(StripeApplicationFee::Amount(amount)) => {
                form.push("application_fee_amount", amount.to_string());
            }
            Some(StripeApplicationFee::Percent(percent)) => {
                form.push("application_fee_percent", fee_percent(percent)?);
            }
        }
        if let Some(destination) = &draft.transfer_destination {
            form.push("transfer_data[destination]", account_id(destination)?);
        }
        push_metadata(&mut form, &draft.metadata);
        let request = self.post("create_payment_link", "/payment_links", form, key)?;
        let object: wire::PaymentLinkObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    /// Stops a payment link taking payments (`POST /v1/payment_links/{link}` with
    /// `active=false`): buyers who open its URL are told it was deactivated. A link's
    /// line items cannot be re-priced, so a new price means a new link and this one
    /// retired. `inactive_message`, when given, is what its page tells buyers instead
    /// (where to buy now). Doing it twice is harmless; the key makes a retry replay the
    /// first answer.
    pub async fn deactivate_payment_link(
        &self,
        link: &str,
        inactive_message: Option<&str>,
        key: &IdempotencyKey,
    ) -> Result<StripePaymentLink, AdapterError> {
        let mut form = Form::new();
        form.push("active", "false").push_some("inactive_message", inactive_message);
        let path = format!("/payment_links/{}", object_id(link, "plink_")?);
        let request = self.post("deactivate_payment_link", &path, form, key)?;
        let object: wire::PaymentLinkObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    // -----------------------------------------------------------------------------------
    // Connect
    // -----------------------------------------------------------------------------------

    /// Creates a connected account for a tenant (`POST /v1/accounts`), configured by
    /// controller properties rather than the legacy `type=express`: an Express
    /// dashboard (`controller[stripe_dashboard][type]=express`), Stripe's fees paid by
    /// the platform (`controller[fees][payer]=application`), the platform liable for
    /// negative balances (`controller[losses][payments]=application`), and Stripe
    /// collecting the account's requirements (`controller[requirement_collection]=stripe`).
    /// The `card_payments` and `transfers` capabilities are requested, so that once
    /// onboarded the account can receive destination charges. `country` is ISO 3166-1
    /// alpha-2. Only the platform can make accounts.
    pub async fn create_connected_account(
        &self,
        email: &str,
        country: &str,
        key: &IdempotencyKey,
    ) -> Result<StripeAccount, AdapterError> {
        if self.account.is_some() {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                "create_connected_account: accounts are made by the platform, not on a connected account",
            ));
        }
        let country = country.trim();
        if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("create_connected_account: {country:?} is not a two-letter country code"),
            ));
        }
        let mut form = Form::new();
        form.push("controller[stripe_dashboard][type]", "express")
            .push("controller[fees][payer]", "application")
            .push("controller[losses][payments]", "application")
            .push("controller[requirement_collection]", "stripe")
            .push("capabilities[card_payments][requested]", "true")
            .push("capabilities[transfers][requested]", "true")
            .push("email", email.trim())
            .push("country", country.to_ascii_uppercase());
        let request = self.post("create_connected_account", "/accounts", form, key)?;
        let object: wire::AccountObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    /// A link to Stripe's hosted onboarding of `account` (`POST /v1/account_links`,
    /// `type=account_onboarding`). The owner comes back to `return_url` when done (which
    /// does not mean finished: check [`StripeClient::account`]), or to `refresh_url` when
    /// the link expired or was already used, to be sent a new one.
    ///
    /// An account link is single-use and short-lived, so replaying an old one is never
    /// wanted: each call gets a fresh idempotency key (kept across its own retries).
    pub async fn create_account_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<StripeAccountLink, AdapterError> {
        let mut form = Form::new();
        form.push("account", account_id(account)?)
            .push("refresh_url", refresh_url)
            .push("return_url", return_url)
            .push("type", "account_onboarding");
        let key = uuid::Uuid::new_v4().to_string();
        let request = Request {
            operation: "create_account_link",
            method: Method::POST,
            path: "/account_links".to_owned(),
            form,
            idempotency_key: Some(&key),
        };
        let object: wire::AccountLinkObject = typed(request.operation, self.call(&request).await?)?;
        object.try_into()
    }

    /// A connected account as it stands (`GET /v1/accounts/{account}`): whether it can
    /// take payments and be paid out yet.
    pub async fn account(&self, account: &str) -> Result<StripeAccount, AdapterError> {
        let request = Request {
            operation: "account",
            method: Method::GET,
            path: format!("/accounts/{}", account_id(account)?),
            form: Form::new(),
            idempotency_key: None,
        };
        let object: wire::AccountObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    // -----------------------------------------------------------------------------------
    // Refunds
    // -----------------------------------------------------------------------------------

    /// Refunds `amount` minor units of a payment (`POST /v1/refunds`), or all of what is
    /// left of it when `None`. On a destination charge the platform pays the refund; see
    /// [`StripeClient::create_destination_refund`] to take it back from the tenant.
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount: Option<u64>,
        key: &IdempotencyKey,
    ) -> Result<StripeRefund, AdapterError> {
        self.refund(payment_intent, amount, false, key).await
    }

    /// Refunds a destination charge the way a platform whose tenant made the sale
    /// should: with `reverse_transfer=true` the refunded share of the transfer comes
    /// back from the tenant's account, and with `refund_application_fee=true` the same
    /// share of the platform's fee goes back to the tenant. The tenant bears the refund
    /// less the platform's fee on it; the platform keeps no fee on money returned.
    pub async fn create_destination_refund(
        &self,
        payment_intent: &str,
        amount: Option<u64>,
        key: &IdempotencyKey,
    ) -> Result<StripeRefund, AdapterError> {
        self.refund(payment_intent, amount, true, key).await
    }

    async fn refund(
        &self,
        payment_intent: &str,
        amount: Option<u64>,
        reverse: bool,
        key: &IdempotencyKey,
    ) -> Result<StripeRefund, AdapterError> {
        if amount == Some(0) {
            return Err(AdapterError::rejected(Platform::Stripe, "create_refund: a refund of nothing"));
        }
        let mut form = Form::new();
        form.push("payment_intent", payment_intent).push_some("amount", amount.map(|amount| amount.to_string()));
        if reverse {
            form.push("reverse_transfer", "true").push("refund_application_fee", "true");
        }
        let request = self.post("create_refund", "/refunds", form, key)?;
        let object: wire::RefundObject = typed(request.operation, self.call(&request).await?)?;
        Ok(object.into())
    }

    // -----------------------------------------------------------------------------------
    // Lists
    // -----------------------------------------------------------------------------------

    /// One page of checkout sessions (`GET /v1/checkout/sessions`), newest first:
    /// `limit` of them (1–100), after the session `starting_after` or from the newest.
    pub async fn list_checkout_sessions(
        &self,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<StripeList<StripeCheckoutSession>, AdapterError> {
        self.page(&CHECKOUT_SESSIONS, &[], limit, starting_after, self.deadline()).await
    }

    /// Every checkout session, newest first, following the pages within one deadline.
    pub async fn all_checkout_sessions(&self) -> Result<Vec<StripeCheckoutSession>, AdapterError> {
        self.all(&CHECKOUT_SESSIONS).await
    }

    /// Every checkout session started from the payment link `link` and created at or
    /// after `created_from` (`GET /v1/checkout/sessions?payment_link=…&created[gte]=…`),
    /// newest first, following the pages within one deadline: what one listing sold,
    /// without reading the rest of the platform's sessions.
    pub async fn checkout_sessions_of_link(
        &self,
        link: &str,
        created_from: Option<DateTime<Utc>>,
    ) -> Result<Vec<StripeCheckoutSession>, AdapterError> {
        let mut filters = vec![("payment_link", object_id(link, "plink_")?.to_owned())];
        if let Some(from) = created_from {
            filters.push(("created[gte]", from.timestamp().to_string()));
        }
        self.all_with(&CHECKOUT_SESSIONS, &filters).await
    }

    /// One page of charges (`GET /v1/charges`), newest first: `limit` of them (1–100),
    /// after the charge `starting_after` or from the newest.
    pub async fn list_charges(
        &self,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<StripeList<StripeCharge>, AdapterError> {
        self.page(&CHARGES, &[], limit, starting_after, self.deadline()).await
    }

    /// Every charge, newest first, following the pages within one deadline.
    pub async fn all_charges(&self) -> Result<Vec<StripeCharge>, AdapterError> {
        self.all(&CHARGES).await
    }

    async fn page<W: DeserializeOwned, T>(
        &self,
        list: &Listing<W, T>,
        filters: &[(&str, String)],
        limit: u32,
        starting_after: Option<&str>,
        deadline: Instant,
    ) -> Result<StripeList<T>, AdapterError> {
        if !(1..=STRIPE_MAX_PAGE).contains(&limit) {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("{}: a page holds 1 to {STRIPE_MAX_PAGE} items, not {limit}", list.operation),
            ));
        }
        let mut form = Form::new();
        for (name, value) in filters {
            form.push(*name, value.as_str());
        }
        form.push("limit", limit.to_string()).push_some("starting_after", starting_after);
        let request = Request {
            operation: list.operation,
            method: Method::GET,
            path: list.path.to_owned(),
            form,
            idempotency_key: None,
        };
        let page: wire::ListObject<W> = typed(request.operation, self.call_until(&request, deadline).await?)?;
        let page = page.checked(request.operation)?;
        let data = page.data.into_iter().map(list.convert).collect::<Result<_, _>>()?;
        Ok(StripeList { data, has_more: page.has_more })
    }

    async fn all<W: DeserializeOwned, T: HasId>(&self, list: &Listing<W, T>) -> Result<Vec<T>, AdapterError> {
        self.all_with(list, &[]).await
    }

    async fn all_with<W: DeserializeOwned, T: HasId>(
        &self,
        list: &Listing<W, T>,
        filters: &[(&str, String)],
    ) -> Result<Vec<T>, AdapterError> {
        let deadline = self.deadline();
        let mut items: Vec<T> = Vec::new();
        loop {
            let after = items.last().map(|item| item.id().to_owned());
            let page = self.page(list, filters, STRIPE_MAX_PAGE, after.as_deref(), deadline).await?;
            let empty = page.data.is_empty();
            items.extend(page.data);
            if !page.has_more {
                return Ok(items);
            }
            if empty {
                return Err(AdapterError::Unavailable {
                    platform: Platform::Stripe,
                    message: format!("{}: Stripe said there was more but sent an empty page", list.operation),
                });
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // The wire
    // -----------------------------------------------------------------------------------

    fn post<'a>(
        &self,
        operation: &'static str,
        path: &str,
        form: Form,
        key: &'a IdempotencyKey,
    ) -> Result<Request<'a>, AdapterError> {
        let key = key.as_str();
        if key.is_empty() || key.len() > MAX_KEY_LENGTH || HeaderValue::from_str(key).is_err() {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("{operation}: an idempotency key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters"),
            ));
        }
        Ok(Request { operation, method: Method::POST, path: path.to_owned(), form, idempotency_key: Some(key) })
    }

    fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(|| self.shared.resilience.default_deadline())
    }

    async fn call(&self, request: &Request<'_>) -> Result<Value, AdapterError> {
        self.call_until(request, self.deadline()).await
    }

    /// `request` through the breaker and the retry policy, with the same idempotency key
    /// on every attempt.
    async fn call_until(&self, request: &Request<'_>, deadline: Instant) -> Result<Value, AdapterError> {
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

    /// One HTTP request, its answer read by [`wire::read_answer`].
    async fn send(&self, request: &Request<'_>, attempt: u32) -> Result<Value, AdapterError> {
        tracing::debug!(operation = request.operation, account = ?self.account, attempt, "Stripe request");
        let shared = &self.shared;
        let mut url = format!("{}{}", shared.api_root, request.path);
        let mut builder = if request.method == Method::GET {
            if !request.form.is_empty() {
                url.push('?');
                url.push_str(&request.form.encode());
            }
            shared.http.get(url)
        } else {
            shared
                .http
                .request(request.method.clone(), url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(request.form.encode())
        };
        builder = builder
            .header(AUTHORIZATION, shared.authorization.clone())
            .header("Stripe-Version", shared.version.clone())
            .header(ACCEPT, "application/json");
        if let Some(account) = &self.account {
            builder = builder.header("Stripe-Account", account.as_str());
        }
        if let Some(key) = request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let failure = |error: reqwest::Error| rest::transport_failure(Platform::Stripe, request.operation, &error);
        let response = builder.send().await.map_err(failure)?;
        let status = response.status();
        let headers = response.headers();
        let should_retry = headers.get("stripe-should-retry").and_then(|value| match value.as_bytes() {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        });
        let retry_after = rest::retry_after(headers);
        if headers.get("idempotent-replayed").is_some_and(|value| value.as_bytes() == b"true") {
            tracing::info!(operation = request.operation, "Stripe replayed the first answer to this idempotency key");
        }
        let body = response.text().await.map_err(failure)?;
        let backoff = shared.resilience.settings().retry.backoff(attempt);
        wire::read_answer(request.operation, &Answer { status, should_retry, retry_after, body: &body }, backoff)
    }

    /// `error` with the secret key, should any message quote it, replaced.
    fn scrub(&self, error: AdapterError) -> AdapterError {
        let secret = self.shared.secret_key.expose();
        let clean = |message: String| {
            if secret.len() >= 8 && message.contains(secret) { message.replace(secret, "[redacted]") } else { message }
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

/// A list endpoint: where it is and how its items become ours.
struct Listing<W, T> {
    operation: &'static str,
    path: &'static str,
    convert: fn(W) -> Result<T, AdapterError>,
}

const CHECKOUT_SESSIONS: Listing<wire::CheckoutSessionObject, StripeCheckoutSession> =
    Listing { operation: "list_checkout_sessions", path: "/checkout/sessions", convert: TryInto::try_into };

const CHARGES: Listing<wire::ChargeObject, StripeCharge> =
    Listing { operation: "list_charges", path: "/charges", convert: TryInto::try_into };

/// Items whose id the next page starts after.
trait HasId {
    fn id(&self) -> &str;
}

impl HasId for StripeCheckoutSession {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for StripeCharge {
    fn id(&self) -> &str {
        &self.id
    }
}

/// `metadata[key]=value` for each entry.
fn push_metadata(form: &mut Form, metadata: &BTreeMap<String, String>) {
    for (key, value) in metadata {
        form.push(format!("metadata[{key}]"), value.as_str());
    }
}

/// `acct_…`, checked, since it goes in a path and a header.
fn account_id(account: &str) -> Result<&str, AdapterError> {
    let valid = account.strip_prefix("acct_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 250 && rest.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
    });
    if valid {
        Ok(account)
    } else {
        Err(AdapterError::rejected(Platform::Stripe, format!("{account:?} is not a Stripe account id (acct_…)")))
    }
}

/// An id of Stripe's with its `prefix` (`plink_…`), checked, since it goes in a path.
fn object_id<'a>(id: &'a str, prefix: &str) -> Result<&'a str, AdapterError> {
    let valid = id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 250 && rest.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
    });
    if valid {
        Ok(id)
    } else {
        Err(AdapterError::rejected(Platform::Stripe, format!("{id:?} is not a Stripe id ({prefix}…)")))
    }
}

/// A currency as Stripe takes it: three letters, lowercase.
fn currency_code(currency: &str) -> Result<String, AdapterError> {
    let currency = currency.trim();
    if currency.len() == 3 && currency.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        Ok(currency.to_ascii_lowercase())
    } else {
        Err(AdapterError::rejected(Platform::Stripe, format!("{currency:?} is not an ISO 4217 currency code")))
    }
}

/// `application_fee_percent`: 0 to 100 with at most two decimals, as Stripe requires.
fn fee_percent(percent: Decimal) -> Result<String, AdapterError> {
    let percent = percent.normalize();
    if percent.is_sign_negative() || percent > Decimal::ONE_HUNDRED || percent.scale() > 2 {
        return Err(AdapterError::rejected(
            Platform::Stripe,
            format!("an application fee of {percent} % is not 0 to 100 with at most two decimals"),
        ));
    }
    Ok(percent.to_string())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn ids_currencies_and_percentages_are_checked_before_they_are_sent() {
        assert_eq!(account_id("acct_1Nv0FGQ9RKHgCVdK").expect("an account"), "acct_1Nv0FGQ9RKHgCVdK");
        for bad in ["acct_", "cus_123", "acct_../../v1/charges", "acct_1\r\nX: y"] {
            account_id(bad).expect_err(bad);
        }
        assert_eq!(object_id("plink_1Abc", "plink_").expect("a link"), "plink_1Abc");
        for bad in ["plink_", "price_1", "plink_1/../../accounts", "plink_1?active=true"] {
            object_id(bad, "plink_").expect_err(bad);
        }
        assert_eq!(currency_code(" USD ").expect("a currency"), "usd");
        currency_code("dollars").expect_err("not a code");
        assert_eq!(fee_percent(Decimal::from_str("7.50").expect("decimal")).expect("fine"), "7.5");
        fee_percent(Decimal::from_str("7.125").expect("decimal")).expect_err("three decimals");
        fee_percent(Decimal::from_str("-1").expect("decimal")).expect_err("negative");
    }

    #[test]
    fn the_client_debug_shows_the_address_but_never_the_key() {
        let client = StripeClient::new(StripeConnection::live("sk_live_do_not_show")).expect("valid");
        let on_account = client.on_account("acct_123").expect("an account");
        let shown = format!("{client:?} {on_account:?}");
        assert!(!shown.contains("sk_live_do_not_show"), "{shown}");
        assert!(shown.contains("https://api.stripe.com/v1") && shown.contains("acct_123"), "{shown}");
    }
}
