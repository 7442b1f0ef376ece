//! The Stripe client against a local fake of Stripe's API that follows the protocol and
//! refuses anything else: products, prices and payment links made once per idempotency
//! key, Connect accounts onboarded by link, the platform's fee on destination and
//! direct charges, refunds, lists read page by page, webhook events, and every kind of
//! failure Stripe answers with (rate limits, outages, card declines, a wrong key, a key
//! reused with other parameters, `Stripe-Should-Retry`), all on tokio's paused clock.

mod support;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use boardroom_adapters::{
    AdapterError, CallBudget, CircuitState, IdempotencyKey, Platform, PlatformFeeShare, ResilienceSettings,
    RetryPolicy, STRIPE_API_VERSION, StripeAccount, StripeApplicationFee, StripeClient, StripeConnection,
    StripeEventPayload, StripePaymentLink, StripePaymentLinkDraft, StripePrice, StripeProduct, event_from_webhook,
    platform_fee,
};
use boardroom_memory::TenantId;
use chrono::Utc;
use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::stripe_fake::{SECRET_KEY, StripeFake, StripeFault};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const PER_REQUEST: Duration = Duration::from_secs(10);
const PRODUCTS: &str = "POST /v1/products";
const REFUNDS: &str = "POST /v1/refunds";

fn settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            jitter: 0.5,
        },
        failure_threshold: 5,
        cool_down: Duration::from_secs(30),
        budget: CallBudget { per_request_timeout: PER_REQUEST, default_deadline: Duration::from_secs(120) },
    }
}

/// A fake Stripe and a client signed in to it as the platform.
async fn spawn_stripe() -> (StripeFake, StripeClient) {
    let fake = StripeFake::start().await;
    let client = StripeClient::with_settings(fake.connection(), settings()).expect("a valid connection");
    (fake, client)
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TenantId(7), 1, "stripe_setup", item)
}

fn business(id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("business_id".to_owned(), id.to_owned())])
}

async fn try_product(client: &StripeClient, name: &str) -> Result<StripeProduct, AdapterError> {
    client.create_product(name, "Fifty prompts & checklists", &business("7"), &key(&format!("product/{name}"))).await
}

async fn product(client: &StripeClient, name: &str) -> StripeProduct {
    try_product(client, name).await.expect("the product is created")
}

async fn price(client: &StripeClient, product: &StripeProduct, unit_amount: u64) -> StripePrice {
    client
        .create_price(&product.id, unit_amount, "USD", &key(&format!("price/{}", product.id)))
        .await
        .expect("the price is created")
}

/// A connected account whose owner finished onboarding.
async fn onboarded_tenant(fake: &StripeFake, client: &StripeClient, email: &str) -> StripeAccount {
    let account = client.create_connected_account(email, "US", &key(&format!("account/{email}"))).await.expect("made");
    fake.complete_onboarding(&account.id);
    account
}

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::Stripe, message } => message,
        other => panic!("expected a rejection from Stripe, got {other:?}"),
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
}

// ---------------------------------------------------------------------------------------
// Products, prices and payment links
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_product_its_price_and_a_payment_link_are_made_once_per_key() {
    let (fake, client) = spawn_stripe().await;

    let made = product(&client, "Prompt Pack").await;
    let priced = price(&client, &made, 2_500).await;
    let draft = StripePaymentLinkDraft::new(&priced.id, 1).with_metadata("business_id", "7");
    let link = client.create_payment_link(&draft, &key("link")).await.expect("a link");

    let made_again = product(&client, "Prompt Pack").await;
    let priced_again = price(&client, &made, 2_500).await;
    let link_again = client.create_payment_link(&draft, &key("link")).await.expect("the same link");

    assert!(made.id.starts_with("prod_") && priced.id.starts_with("price_") && link.id.starts_with("plink_"));
    assert_eq!((made_again, priced_again, &link_again), (made.clone(), priced.clone(), &link));
    assert_eq!(made.name, "Prompt Pack");
    assert_eq!(made.description.as_deref(), Some("Fifty prompts & checklists"));
    assert_eq!(made.metadata, business("7"));
    assert_eq!(
        (priced.product.as_str(), priced.unit_amount, priced.currency.as_str()),
        (made.id.as_str(), 2_500, "usd")
    );
    assert!(link.url.starts_with("https://buy.stripe.com/"), "{link:?}");
    assert_eq!(link.metadata, business("7"));
    for kind in ["product", "price", "payment_link"] {
        assert_eq!(fake.objects(kind).len(), 1, "one {kind}");
    }
    assert_eq!(fake.replays(), 3, "the second of each was Stripe's replay");
    assert_eq!(fake.calls(PRODUCTS), 2);

    let sent = fake.last("POST /v1/payment_links");
    assert_eq!(sent.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(sent.idempotency_key.as_deref(), Some(key("link").as_str()));
    assert_eq!(field(&sent.fields, "line_items[0][price]"), Some(priced.id.as_str()));
    assert_eq!(field(&sent.fields, "line_items[0][quantity]"), Some("1"));
    assert_eq!(field(&sent.fields, "metadata[business_id]"), Some("7"));
    assert_eq!(field(&fake.last("POST /v1/prices").fields, "currency"), Some("usd"));
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_retried_with_the_same_key_and_acted_on_once() {
    let (fake, client) = spawn_stripe().await;
    // The product is made at once, but its answer comes 12 s later: the client gives up
    // after 10 s and sends the same key again, meeting a 409 while the first still runs,
    // then the first answer replayed.
    fake.fail_next(Some(PRODUCTS), 1, StripeFault::AnswerLate(Duration::from_secs(12)));
    let started = Instant::now();

    let made = product(&client, "Notion Kit").await;

    assert!(started.elapsed() >= Duration::from_secs(12), "{:?}", started.elapsed());
    assert_eq!(fake.objects("product").len(), 1);
    assert_eq!(fake.objects("product")[0].1["id"], made.id.as_str());
    assert!(fake.calls(PRODUCTS) >= 3, "the lost one, at least one 409, the replay: {}", fake.calls(PRODUCTS));
    assert_eq!(fake.replays(), 1);
    let keys: Vec<_> = fake.received().into_iter().filter_map(|request| request.idempotency_key).collect();
    assert!(keys.iter().all(|sent| sent == key("product/Notion Kit").as_str()), "one key throughout: {keys:?}");
    assert_eq!(client.circuit_state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_replayed_post_returns_the_first_answer() {
    let fake = StripeFake::start().await;
    let form = "name=Prompt+Pack&metadata%5Bbusiness_id%5D=7";

    let first = post(&fake, "/v1/products", Some("key-1"), form).await;
    let again = post(&fake, "/v1/products", Some("key-1"), form).await;

    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!((again.status, &again.body), (first.status, &first.body), "byte for byte");
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(again.headers.get("idempotent-replayed").map(|value| value.as_bytes()), Some(&b"true"[..]));
    assert_eq!(fake.objects("product").len(), 1);

    // A request refused before it ran is not kept under its key: fixed, it goes through.
    let refused = post(&fake, "/v1/products", Some("key-2"), "name=Kit&colour=blue").await;
    assert_eq!((refused.status, refused.json()["error"]["param"].clone()), (400, json!("colour")));
    let fixed = post(&fake, "/v1/products", Some("key-2"), "name=Kit").await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    assert!(fixed.headers.get("idempotent-replayed").is_none());
}

#[tokio::test(start_paused = true)]
async fn the_same_key_with_other_parameters_is_a_clear_rejection() {
    let (fake, client) = spawn_stripe().await;
    let the_key = key("one-product");
    client.create_product("Prompt Pack", "", &BTreeMap::new(), &the_key).await.expect("made");

    let error =
        client.create_product("Another Pack", "", &BTreeMap::new(), &the_key).await.expect_err("the key is taken");

    let message = rejected_message(error);
    assert!(message.contains("create_product: this idempotency key was first used with other parameters"), "{message}");
    assert!(message.contains("idempotency_error") && message.contains(the_key.as_str()), "{message}");
    assert_eq!(fake.calls(PRODUCTS), 2, "not retried");
    assert_eq!(fake.objects("product").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn parameter_errors_name_the_param() {
    let (fake, client) = spawn_stripe().await;
    let made = product(&client, "Prompt Pack").await;

    let unknown_currency = client.create_price(&made.id, 100, "xyz", &key("xyz")).await.expect_err("no such currency");
    let message = rejected_message(unknown_currency);
    assert!(message.contains("Invalid currency: xyz") && message.contains("param currency"), "{message}");

    let no_product = client.create_price("prod_missing", 100, "usd", &key("missing")).await.expect_err("no product");
    let message = rejected_message(no_product);
    assert!(message.contains("No such product: 'prod_missing'") && message.contains("param product"), "{message}");
    assert!(message.contains("code resource_missing"), "{message}");

    let blank = client.create_product("", "", &BTreeMap::new(), &key("blank")).await.expect_err("no name");
    let message = rejected_message(blank);
    assert!(message.contains("empty string for 'name'") && message.contains("param name"), "{message}");
    assert_eq!(fake.objects("price").len(), 0);
}

// ---------------------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_connected_account_is_created_with_controller_properties_and_onboarded_by_link() {
    let (fake, client) = spawn_stripe().await;

    let account = client.create_connected_account("owner@focus.example", "us", &key("account")).await.expect("created");

    assert!(account.id.starts_with("acct_"), "{account:?}");
    assert_eq!((account.email.as_deref(), account.country.as_deref()), (Some("owner@focus.example"), Some("US")));
    assert!(!account.charges_enabled && !account.payouts_enabled && !account.details_submitted);
    let sent = fake.last("POST /v1/accounts").fields;
    for (name, value) in [
        ("controller[stripe_dashboard][type]", "express"),
        ("controller[fees][payer]", "application"),
        ("controller[losses][payments]", "application"),
        ("controller[requirement_collection]", "stripe"),
        ("capabilities[transfers][requested]", "true"),
    ] {
        assert_eq!(field(&sent, name), Some(value), "{name}");
    }
    assert_eq!(field(&sent, "type"), None, "the legacy account type is not sent");
    let stored = fake.object(&account.id);
    assert_eq!(stored["controller"]["fees"]["payer"], "application");

    let before = Utc::now();
    let link = client
        .create_account_link(
            &account.id,
            "https://boardroom.example/stripe/refresh",
            "https://boardroom.example/stripe/done",
        )
        .await
        .expect("an onboarding link");
    assert!(link.url.starts_with("https://connect.stripe.com/") && link.url.contains(&account.id), "{link:?}");
    let lifetime = link.expires_at - before;
    assert!(lifetime > chrono::Duration::minutes(4) && lifetime < chrono::Duration::minutes(6), "{link:?}");
    let sent = fake.last("POST /v1/account_links");
    assert_eq!(field(&sent.fields, "type"), Some("account_onboarding"));
    assert_eq!(field(&sent.fields, "return_url"), Some("https://boardroom.example/stripe/done"));
    assert!(sent.idempotency_key.is_some(), "every POST carries a key");
    let second = client
        .create_account_link(&account.id, "https://boardroom.example/r", "https://boardroom.example/d")
        .await
        .expect("another link");
    assert_ne!(second.url, link.url, "a fresh link each time, never a replayed one");

    assert!(!client.account(&account.id).await.expect("read").charges_enabled);
    fake.complete_onboarding(&account.id);
    let ready = client.account(&account.id).await.expect("read");
    assert!(ready.charges_enabled && ready.payouts_enabled && ready.details_submitted, "{ready:?}");
    assert_eq!(fake.calls("GET /v1/accounts/{account}"), 2);
}

#[tokio::test(start_paused = true)]
async fn the_platform_fee_goes_to_the_platform_and_the_rest_to_the_tenant() {
    let (fake, client) = spawn_stripe().await;
    let tenant = client.create_connected_account("owner@focus.example", "US", &key("tenant")).await.expect("made");
    let made = product(&client, "AI Course").await;
    let priced = price(&client, &made, 2_500).await;
    let fee = platform_fee(priced.unit_amount, PlatformFeeShare::default());
    let draft = StripePaymentLinkDraft::new(&priced.id, 1)
        .paying_to(&tenant.id, StripeApplicationFee::Amount(fee))
        .with_metadata("business_id", "7");

    let early = client.create_payment_link(&draft, &key("early")).await.expect_err("not onboarded yet");
    let message = rejected_message(early);
    assert!(message.contains("capabilities") && message.contains("param transfer_data[destination]"), "{message}");

    fake.complete_onboarding(&tenant.id);
    let link: StripePaymentLink = client.create_payment_link(&draft, &key("link")).await.expect("a link");
    assert_eq!(fee, 175, "7 % of $25.00");
    assert_eq!(
        (link.application_fee_amount, link.transfer_destination.as_deref()),
        (Some(175), Some(tenant.id.as_str()))
    );
    let sent = fake.last("POST /v1/payment_links").fields;
    assert_eq!(field(&sent, "application_fee_amount"), Some("175"));
    assert_eq!(field(&sent, "transfer_data[destination]"), Some(tenant.id.as_str()));

    let purchase = fake.buy(&link.id);
    assert_eq!(fake.balance(None), 175, "the platform keeps its fee");
    assert_eq!(fake.balance(Some(&tenant.id)), 2_325, "the tenant gets the rest");

    let refund = client
        .create_destination_refund(&purchase.payment_intent, Some(1_000), &key("refund"))
        .await
        .expect("refunded");
    assert_eq!((refund.amount, refund.status.as_deref()), (1_000, Some("succeeded")));
    assert_eq!(refund.payment_intent.as_deref(), Some(purchase.payment_intent.as_str()));
    // The tenant gives back $10.00 and gets back the platform's fee on it, $0.70.
    assert_eq!(fake.balance(Some(&tenant.id)), 2_325 - 1_000 + 70);
    assert_eq!(fake.balance(None), 175 - 70);
    let charges = client.all_charges().await.expect("the charges");
    assert_eq!(charges.len(), 1);
    assert_eq!((charges[0].amount, charges[0].amount_refunded, charges[0].refunded), (2_500, 1_000, false));
    assert_eq!(charges[0].application_fee_amount, Some(175));
    assert_eq!(charges[0].transfer_destination.as_deref(), Some(tenant.id.as_str()));

    let too_much = client.create_refund(&purchase.payment_intent, Some(2_000), &key("too-much")).await;
    let message = rejected_message(too_much.expect_err("only 1,500 is left"));
    assert!(message.contains("greater than unrefunded amount") && message.contains("param amount"), "{message}");

    let percent = StripePaymentLinkDraft::new(&priced.id, 1)
        .paying_to(&tenant.id, StripeApplicationFee::Percent(Decimal::from_str("7").expect("a decimal")));
    let refused = client.create_payment_link(&percent, &key("percent")).await.expect_err("one-time price");
    let message = rejected_message(refused);
    assert!(message.contains("param application_fee_percent") && message.contains("recurring"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn a_connected_account_handle_acts_with_its_stripe_account_header() {
    let (fake, client) = spawn_stripe().await;
    let tenant = onboarded_tenant(&fake, &client, "owner@focus.example").await;
    let on_tenant = client.on_account(&tenant.id).expect("an account id");
    assert_eq!(on_tenant.acting_on(), Some(tenant.id.as_str()));

    let tenant_product = product(&on_tenant, "Prompt Pack").await;
    let platform_product = product(&client, "Prompt Pack").await;
    let tenant_price = price(&on_tenant, &tenant_product, 900).await;

    assert_ne!(tenant_product.id, platform_product.id, "keys are scoped to the account acted on");
    assert_eq!(fake.last(PRODUCTS).stripe_account, None);
    let sent =
        fake.received().into_iter().find(|request| request.stripe_account.is_some()).expect("sent on the tenant");
    assert_eq!(sent.stripe_account.as_deref(), Some(tenant.id.as_str()));
    let owners: Vec<_> = fake.objects("product").into_iter().map(|(owner, _)| owner).collect();
    assert_eq!(owners, [Some(tenant.id.clone()), None]);

    let elsewhere = client.create_payment_link(&StripePaymentLinkDraft::new(&tenant_price.id, 1), &key("x")).await;
    let message = rejected_message(elsewhere.expect_err("the platform cannot see the tenant's price"));
    assert!(message.contains("No such price") && message.contains("param line_items[0][price]"), "{message}");

    let stranger = client.on_account("acct_1NotConnected").expect("an account id");
    let message = rejected_message(stranger.all_charges().await.expect_err("not the platform's account"));
    assert!(message.contains("(403)") && message.contains("does not have access"), "{message}");
    assert!(!message.contains(SECRET_KEY), "{message}");
    let nested =
        on_tenant.create_connected_account("x@y.example", "US", &key("nested")).await.expect_err("platform only");
    assert!(rejected_message(nested).contains("made by the platform"));
    client.on_account("cus_123").expect_err("not an account id");
}

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_429_is_waited_out_and_stripe_should_retry_false_is_not_retried() {
    let (fake, client) = spawn_stripe().await;
    fake.fail_next(Some(PRODUCTS), 2, StripeFault::RateLimited { should_retry: None });
    let started = Instant::now();

    product(&client, "Prompt Pack").await;

    assert_eq!(fake.calls(PRODUCTS), 3);
    // No Retry-After from Stripe: the policy's back-off, 0.5 s and 1 s, in whole seconds.
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    fake.fail_next(Some(PRODUCTS), 1, StripeFault::RateLimited { should_retry: Some(false) });
    let refused = try_product(&client, "Kit").await.expect_err("the call fails");
    let message = rejected_message(refused);
    assert!(message.contains("Stripe-Should-Retry: false"), "{message}");
    assert_eq!(fake.calls(PRODUCTS), 4, "not retried");

    fake.fail_next(Some(PRODUCTS), 10, StripeFault::RateLimited { should_retry: None });
    let started = Instant::now();
    let limited = try_product(&client, "Course").await.expect_err("the call fails");
    assert!(matches!(limited, AdapterError::RateLimited { platform: Platform::Stripe, .. }), "{limited:?}");
    assert_eq!(fake.calls(PRODUCTS), 9, "five attempts");
    assert_eq!(started.elapsed(), Duration::from_secs(1 + 1 + 2 + 4));
    assert_eq!(client.circuit_state(), CircuitState::Closed, "a rate limit is not an outage");
}

#[tokio::test(start_paused = true)]
async fn outages_are_retried_unless_stripe_says_not_to_and_a_lock_timeout_is_retried() {
    let (fake, client) = spawn_stripe().await;
    fake.fail_next(Some(PRODUCTS), 1, StripeFault::ServerError { should_retry: None });
    product(&client, "Prompt Pack").await;
    assert_eq!(fake.calls(PRODUCTS), 2);

    fake.fail_next(Some(PRODUCTS), 1, StripeFault::ServerError { should_retry: Some(false) });
    let message = rejected_message(try_product(&client, "Kit").await.expect_err("the call fails"));
    assert!(message.contains("500") && message.contains("An unknown error occurred"), "{message}");
    assert_eq!(fake.calls(PRODUCTS), 3);

    fake.fail_next(Some(PRODUCTS), 1, StripeFault::LockTimeout);
    product(&client, "Course").await;
    assert_eq!(fake.calls(PRODUCTS), 5, "a 400 with Stripe-Should-Retry: true was retried");

    fake.fail_next(None, 5, StripeFault::ServerError { should_retry: None });
    let outage = client.all_charges().await.expect_err("five 500s");
    assert!(outage.is_retryable());
    assert_eq!(client.circuit_state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_key_is_a_clear_rejection() {
    let fake = StripeFake::start().await;
    let client =
        StripeClient::with_settings(StripeConnection::new(fake.base_url(), "sk_test_wrong_key_9876"), settings())
            .expect("a valid connection");

    let error = client.all_charges().await.expect_err("the key is refused");

    assert!(!error.is_retryable());
    let message = rejected_message(error);
    assert!(message.contains("Stripe refused the API key (401)"), "{message}");
    assert_eq!(fake.refused_keys(), 1, "not retried");
    assert_eq!(client.circuit_state(), CircuitState::Closed, "a refusal is not an outage");
    let publishable = StripeClient::new(StripeConnection::new(fake.base_url(), "pk_test_abc")).expect_err("not secret");
    assert!(publishable.to_string().contains("secret key"), "{publishable}");
}

#[tokio::test(start_paused = true)]
async fn a_card_decline_names_its_code() {
    let (fake, client) = spawn_stripe().await;
    fake.fail_next(Some(REFUNDS), 1, StripeFault::CardDeclined { decline_code: "insufficient_funds" });

    let error = client.create_refund("pi_1Anything", None, &key("refund")).await.expect_err("declined");

    let message = rejected_message(error);
    assert!(message.contains("card was declined (402)"), "{message}");
    assert!(message.contains("decline code insufficient_funds") && message.contains("insufficient funds"), "{message}");
    assert_eq!(fake.calls(REFUNDS), 1, "not retried");
}

#[tokio::test(start_paused = true)]
async fn the_secret_key_never_shows_in_debug_or_errors() {
    let fake = StripeFake::start().await;
    let secret = "sk_live_sup3r_s3cret_k3y_0123456789";
    let connection = StripeConnection::new(fake.base_url(), secret);
    let client = StripeClient::with_settings(connection.clone(), settings()).expect("valid");
    let refused = client.all_charges().await.expect_err("wrong key");
    drop(fake);
    let unreachable = client.all_charges().await.expect_err("nobody listens any more");
    assert!(unreachable.is_retryable(), "{unreachable:?}");

    let shown = format!(
        "{connection:?} {:?} {client:?} {:?} {:?} {refused} {refused:?} {unreachable} {unreachable:?}",
        connection.secret_key,
        client.until(Instant::now() + Duration::from_secs(1)).on_account("acct_1Tenant"),
        StripeClient::new(connection.clone()),
    );
    assert!(!shown.contains(secret) && !shown.contains("sup3r_s3cret"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn lists_are_read_page_by_page() {
    let (fake, client) = spawn_stripe().await;
    let made = product(&client, "Prompt Pack").await;
    let priced = price(&client, &made, 1_200).await;
    let draft = StripePaymentLinkDraft::new(&priced.id, 2).with_metadata("business_id", "7");
    let link = client.create_payment_link(&draft, &key("link")).await.expect("a link");
    let purchases: Vec<_> = (0..150).map(|_| fake.buy(&link.id)).collect();

    let first = client.list_checkout_sessions(100, None).await.expect("a page");
    let last_id = first.data.last().map(|session| session.id.clone()).expect("sessions");
    let second = client.list_checkout_sessions(100, Some(&last_id)).await.expect("the next page");

    assert_eq!((first.data.len(), first.has_more), (100, true));
    assert_eq!((second.data.len(), second.has_more), (50, false));
    assert_eq!(first.data[0].id, purchases[149].session, "newest first");
    assert_eq!(second.data[49].id, purchases[0].session);
    let session = &first.data[0];
    assert_eq!((session.amount_total, session.currency.as_deref()), (Some(2_400), Some("usd")));
    assert_eq!((session.status.as_deref(), session.payment_status.as_str()), (Some("complete"), "paid"));
    assert_eq!(session.payment_link.as_deref(), Some(link.id.as_str()));
    assert_eq!(session.metadata, business("7"), "copied from the link");
    assert_eq!(field(&fake.last("GET /v1/checkout/sessions").fields, "starting_after"), Some(last_id.as_str()));

    let all = client.all_checkout_sessions().await.expect("every page");
    assert_eq!(all.len(), 150);
    assert_eq!(fake.calls("GET /v1/checkout/sessions"), 4, "two pages, twice");
    let charges = client.all_charges().await.expect("every page");
    assert_eq!(charges.len(), 150);
    assert!(charges.iter().all(|charge| charge.amount == 2_400 && charge.paid));

    for limit in [0, 101] {
        let message = rejected_message(client.list_charges(limit, None).await.expect_err("out of range"));
        assert!(message.contains("1 to 100"), "{message}");
    }
    assert_eq!(fake.calls("GET /v1/charges"), 2, "refused before sending");
    let small = client.list_charges(3, None).await.expect("a small page");
    assert_eq!((small.data.len(), small.has_more), (3, true));
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn webhook_events_map_to_money_with_their_account() {
    let (fake, client) = spawn_stripe().await;
    let tenant = onboarded_tenant(&fake, &client, "owner@focus.example").await;
    // A direct charge: the link is the tenant's own, and the platform's fee is taken
    // from each payment to it.
    let on_tenant = client.on_account(&tenant.id).expect("an account id");
    let made = product(&on_tenant, "AI Course").await;
    let priced = price(&on_tenant, &made, 4_900).await;
    let fee = platform_fee(4_900, PlatformFeeShare::from_basis_points(1_000).expect("10 %"));
    let draft = StripePaymentLinkDraft::new(&priced.id, 1).with_metadata("business_id", "7");
    let draft = StripePaymentLinkDraft { application_fee: Some(StripeApplicationFee::Amount(fee)), ..draft };
    let link = on_tenant.create_payment_link(&draft, &key("tenant-link")).await.expect("a link");
    let purchase = fake.buy(&link.id);
    on_tenant.create_refund(&purchase.payment_intent, Some(900), &key("refund")).await.expect("refunded");
    assert_eq!(fake.balance(Some(&tenant.id)), 4_900 - 490 - 900);

    let events: Vec<_> =
        fake.events().iter().map(|event| event_from_webhook(event).expect("maps").expect("a booked type")).collect();

    assert_eq!(
        events.len(),
        4,
        "account.updated, checkout.session.completed, payment_intent.succeeded, charge.refunded"
    );
    assert!(events.iter().all(|event| event.account.as_deref() == Some(tenant.id.as_str())), "{events:?}");
    assert!(events.iter().all(|event| event.id.starts_with("evt_") && !event.livemode));
    let StripeEventPayload::AccountUpdated(account) = &events[0].payload else { panic!("{:?}", events[0]) };
    assert!(account.charges_enabled && account.payouts_enabled && account.details_submitted);
    let StripeEventPayload::CheckoutSessionCompleted {
        session,
        amount_total,
        currency,
        payment_status,
        payment_intent,
        payment_link,
        metadata,
    } = &events[1].payload
    else {
        panic!("{:?}", events[1])
    };
    assert_eq!((session, *amount_total, currency.as_str()), (&purchase.session, 4_900, "usd"));
    assert_eq!((payment_status.as_str(), payment_intent.as_deref()), ("paid", Some(purchase.payment_intent.as_str())));
    assert_eq!((payment_link.as_deref(), metadata), (Some(link.id.as_str()), &business("7")));
    let StripeEventPayload::PaymentIntentSucceeded { amount_received, .. } = &events[2].payload else {
        panic!("{:?}", events[2])
    };
    assert_eq!(*amount_received, 4_900);
    let StripeEventPayload::ChargeRefunded { charge, amount, amount_refunded, .. } = &events[3].payload else {
        panic!("{:?}", events[3])
    };
    assert_eq!((charge, *amount, *amount_refunded), (&purchase.charge, 4_900, 900));
}

#[test]
fn platform_events_have_no_account_and_other_types_are_ignored() {
    let event = json!({
        "id": "evt_1Platform", "object": "event", "type": "checkout.session.completed", "created": 1_794_000_000,
        "livemode": true, "api_version": STRIPE_API_VERSION,
        "data": { "object": { "id": "cs_live_1", "object": "checkout.session", "amount_total": 2_500,
            "currency": "eur", "payment_status": "paid", "payment_intent": { "id": "pi_1", "object": "payment_intent" },
            "payment_link": null, "metadata": null } },
    });
    let mapped = event_from_webhook(&event).expect("maps").expect("booked");
    assert_eq!((mapped.id.as_str(), mapped.account.as_deref(), mapped.livemode), ("evt_1Platform", None, true));
    let StripeEventPayload::CheckoutSessionCompleted { payment_intent, payment_link, metadata, .. } = mapped.payload
    else {
        panic!("a completed session")
    };
    assert_eq!((payment_intent.as_deref(), payment_link, metadata.len()), (Some("pi_1"), None, 0));

    let other = json!({ "id": "evt_2", "type": "customer.created", "created": 1, "data": { "object": {} } });
    assert_eq!(event_from_webhook(&other).expect("fine"), None);
    let mut broken = event;
    broken["data"]["object"]["amount_total"] = json!("lots");
    let message = rejected_message(event_from_webhook(&broken).expect_err("not an amount"));
    assert!(message.contains("checkout.session.completed webhook: amount_total"), "{message}");
    rejected_message(event_from_webhook(&json!({ "id": "evt_3" })).expect_err("no type"));
}

// ---------------------------------------------------------------------------------------
// The fake keeps to the protocol
// ---------------------------------------------------------------------------------------

struct Raw {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(request: reqwest::RequestBuilder) -> Raw {
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Raw { status, headers, body: response.text().await.expect("a body") }
}

/// A well-formed POST with the right key and version, and `idempotency_key` if given.
async fn post(fake: &StripeFake, path: &str, idempotency_key: Option<&str>, form: &str) -> Raw {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .bearer_auth(SECRET_KEY)
        .header("Stripe-Version", STRIPE_API_VERSION)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    send(request).await
}

#[tokio::test(start_paused = true)]
async fn the_fake_refuses_what_stripe_would_refuse() {
    let fake = StripeFake::start().await;
    let url = |path: &str| format!("{}{path}", fake.base_url());
    let http = reqwest::Client::new();

    let anonymous = send(http.get(url("/v1/charges")).header("Stripe-Version", STRIPE_API_VERSION)).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.json()["error"]["message"].as_str().is_some_and(|text| text.contains("did not provide an API key"))
    );
    let wrong = send(http.get(url("/v1/charges")).bearer_auth("sk_test_wrong_1234")).await;
    assert_eq!(wrong.json()["error"]["message"], "Invalid API Key provided: sk_test_****1234");

    let unknown = send(http.get(url("/v1/customers")).bearer_auth(SECRET_KEY)).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("Unrecognized request URL (GET: /v1/customers)"), "{}", unknown.body);
    let no_version = send(http.get(url("/v1/charges")).bearer_auth(SECRET_KEY)).await;
    assert_eq!(no_version.status, 400, "{}", no_version.body);
    let old_version =
        send(http.get(url("/v1/charges")).bearer_auth(SECRET_KEY).header("Stripe-Version", "2020-08-27")).await;
    assert!(old_version.body.contains("Invalid Stripe API version: 2020-08-27"), "{}", old_version.body);

    let as_json = send(
        http.post(url("/v1/products"))
            .bearer_auth(SECRET_KEY)
            .header("Stripe-Version", STRIPE_API_VERSION)
            .header("Idempotency-Key", "k-json")
            .header("content-type", "application/json")
            .body(json!({ "name": "Kit" }).to_string()),
    )
    .await;
    assert_eq!(as_json.status, 400);
    assert!(as_json.body.contains("x-www-form-urlencoded"), "{}", as_json.body);

    let without_key = post(&fake, "/v1/products", None, "name=Kit").await;
    assert_eq!(without_key.status, 400);
    assert!(without_key.body.contains("Idempotency-Key"), "{}", without_key.body);
    let long_key = "k".repeat(256);
    assert_eq!(post(&fake, "/v1/products", Some(&long_key), "name=Kit").await.status, 400);

    let cases = [
        ("/v1/products", "description=No+name", "parameter_missing", "name"),
        (
            "/v1/products",
            "name=Kit&metadata%5Bbusiness_id%5D%5Bnested%5D=1",
            "parameter_invalid",
            "metadata[business_id]",
        ),
        ("/v1/prices", "currency=usd&product=prod_x&unit_amount=ten", "parameter_invalid_integer", "unit_amount"),
        ("/v1/payment_links", "line_items%5B0%5D%5Bprice%5D=price_x", "parameter_missing", "line_items[0][quantity]"),
        (
            "/v1/payment_links",
            "line_items%5B1%5D%5Bprice%5D=price_x&line_items%5B1%5D%5Bquantity%5D=1",
            "parameter_invalid",
            "line_items",
        ),
        // A link's prices cannot be changed: a new price is a new link.
        (
            "/v1/payment_links/plink_x",
            "line_items%5B0%5D%5Bprice%5D=price_y&line_items%5B0%5D%5Bquantity%5D=1",
            "parameter_unknown",
            "line_items",
        ),
        ("/v1/payment_links/plink_x", "active=no", "parameter_invalid", "active"),
        ("/v1/accounts", "controller%5Bfees%5D%5Bpayer%5D=stripe", "parameter_invalid", "controller[fees][payer]"),
        ("/v1/accounts", "controller%5Bfee%5D%5Bpayer%5D=application", "parameter_unknown", "controller[fee]"),
        ("/v1/accounts", "type=express&controller%5Bfees%5D%5Bpayer%5D=application", "parameter_invalid", "controller"),
        ("/v1/account_links", "account=acct_x&type=onboarding", "parameter_invalid", "type"),
        ("/v1/refunds", "payment_intent=pi_x&expand%5B%5D=charge", "parameter_unknown", "expand"),
    ];
    for (at, (path, form, code, param)) in cases.into_iter().enumerate() {
        let answer = post(&fake, path, Some(&format!("case-{at}")), form).await;
        let error = &answer.json()["error"];
        assert_eq!(
            (answer.status, &error["code"], &error["param"]),
            (400, &json!(code), &json!(param)),
            "{path} {form}: {}",
            answer.body
        );
    }
    let long_metadata = format!("name=Kit&metadata%5B{}%5D=1", "k".repeat(41));
    assert_eq!(post(&fake, "/v1/products", Some("long-metadata"), &long_metadata).await.status, 400);

    let get_with_body = send(
        http.get(url("/v1/charges"))
            .bearer_auth(SECRET_KEY)
            .header("Stripe-Version", STRIPE_API_VERSION)
            .body("limit=3"),
    )
    .await;
    assert_eq!(get_with_body.status, 400);
    assert!(fake.objects("product").is_empty() && fake.objects("account").is_empty(), "nothing refused was made");
}
