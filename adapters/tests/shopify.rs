//! The Shopify client against a local fake of the GraphQL Admin API that follows the
//! protocol and refuses anything else: products made once per key, prices, inventory
//! with idempotency keys, orders across pages, and every kind of failure Shopify
//! answers with (throttles at 200 and 429, outages, time-outs, user errors, a wrong
//! token), all on tokio's paused clock.

mod support;

use std::str::FromStr;
use std::time::Duration;

use boardroom_adapters::{
    AdapterError, CallBudget, CircuitState, IdempotencyKey, Platform, ResilienceSettings, RetryPolicy, ShopifyClient,
    ShopifyConnection, ShopifyProduct, ShopifyProductDraft, ShopifyWebhookEvent, order_from_webhook,
};
use boardroom_memory::TenantId;
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::shopify_fake::{Fault, HeldOrder, INVALID_TOKEN, LOCATION, ShopifyFake, TOKEN};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const COOL_DOWN: Duration = Duration::from_secs(30);
const PER_REQUEST: Duration = Duration::from_secs(10);

fn settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            jitter: 0.5,
        },
        failure_threshold: 5,
        cool_down: COOL_DOWN,
        budget: CallBudget { per_request_timeout: PER_REQUEST, default_deadline: Duration::from_secs(120) },
    }
}

/// A fake shop and a client signed in to it.
async fn spawn_shop() -> (ShopifyFake, ShopifyClient) {
    let fake = ShopifyFake::start().await;
    let client = ShopifyClient::with_settings(fake.connection(), settings()).expect("a valid connection");
    (fake, client)
}

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TenantId(7), 1, "store_setup", item)
}

fn draft(title: &str, price: &str) -> ShopifyProductDraft {
    ShopifyProductDraft {
        title: title.to_owned(),
        description: "Fifty prompts & checklists.\n\nFor <busy> founders.".to_owned(),
        tags: vec!["ai".to_owned(), "templates".to_owned()],
        price: money(price),
    }
}

async fn create(client: &ShopifyClient, title: &str, price: &str) -> ShopifyProduct {
    client.create_product(&draft(title, price), &key(title)).await.expect("the product is created")
}

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::Shopify, message } => message,
        other => panic!("expected a rejection from Shopify, got {other:?}"),
    }
}

fn day(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().expect("a valid time")
}

// ---------------------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_shop_answers_the_right_token_with_its_name_and_currency() {
    let (fake, client) = spawn_shop().await;

    let shop = client.shop().await.expect("the token is accepted");

    assert_eq!(shop.name, "Focus & Flow");
    assert_eq!(shop.myshopify_domain, "focus-and-flow.myshopify.com");
    assert_eq!(shop.currency, "USD");
    assert_eq!(fake.calls("shop"), 1);
    assert_eq!(client.available_points(), Some(999.0), "the bucket was learnt from the answer");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_token_is_a_clear_rejection_not_an_outage() {
    let fake = ShopifyFake::start().await;
    let client = ShopifyClient::with_settings(ShopifyConnection::new(fake.base_url(), "shpat_wrong"), settings())
        .expect("a valid connection");

    let error = client.shop().await.expect_err("the token is refused");

    assert!(!error.is_retryable());
    let message = rejected_message(error);
    assert!(message.contains("Shopify refused the access token (401)"), "{message}");
    assert_eq!(fake.refused_tokens(), 1, "not retried");
    assert_eq!(client.circuit_state(), CircuitState::Closed, "a refusal is not an outage");
}

#[tokio::test(start_paused = true)]
async fn the_token_never_shows_in_debug_or_errors() {
    let fake = ShopifyFake::start().await;
    let secret = "shpat_sup3r_s3cret_t0ken";
    let connection = ShopifyConnection::new(fake.base_url(), secret);
    let client = ShopifyClient::with_settings(connection.clone(), settings()).expect("valid");
    let refused = client.shop().await.expect_err("wrong token");
    drop(fake);
    let unreachable = client.shop().await.expect_err("nobody listens any more");
    assert!(unreachable.is_retryable(), "{unreachable:?}");

    let shown = format!(
        "{connection:?} {:?} {client:?} {:?} {:?} {refused} {refused:?} {unreachable} {unreachable:?}",
        connection.access_token,
        client.until(Instant::now() + Duration::from_secs(1)),
        ShopifyClient::new(connection.clone()),
    );
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Products and prices
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_product_is_created_with_its_price_and_a_tag_carrying_its_key() {
    let (fake, client) = spawn_shop().await;

    let product = create(&client, "Prompt Pack", "24.00").await;

    assert!(product.product_id.starts_with("gid://shopify/Product/"), "{product:?}");
    assert!(product.variant_id.starts_with("gid://shopify/ProductVariant/"), "{product:?}");
    assert!(product.inventory_item_id.starts_with("gid://shopify/InventoryItem/"), "{product:?}");
    assert_eq!(product.handle, "prompt-pack");
    assert_eq!(product.price, money("24.00"));
    assert_eq!(product.online_store_url, None, "not published to the online store by the API");
    let stored = fake.products();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].variants[0].price, money("24.00"));
    assert_eq!(stored[0].description_html, "<p>Fifty prompts &amp; checklists.</p><p>For &lt;busy&gt; founders.</p>");
    assert!(stored[0].tags.contains(&format!("boardroom-key:{}", key("Prompt Pack"))), "{:?}", stored[0].tags);
    assert_eq!(fake.calls("productVariantsBulkUpdate"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_product_created_twice_with_one_key_is_listed_once() {
    let (fake, client) = spawn_shop().await;
    let the_key = key("course");

    let first = client.create_product(&draft("AI Course", "49.00"), &the_key).await.expect("created");
    let again = client.create_product(&draft("AI Course", "49.00"), &the_key).await.expect("found again");
    let other = client.create_product(&draft("AI Course", "49.00"), &key("another")).await.expect("created");

    assert_eq!(first, again);
    assert_ne!(first.product_id, other.product_id, "another key is another product");
    assert_eq!(fake.products().len(), 2);
    assert_eq!(fake.calls("productCreate"), 2);
    assert_eq!(fake.calls("productVariantsBulkUpdate"), 2, "the price was already right the second time");
}

#[tokio::test(start_paused = true)]
async fn a_creation_whose_answer_was_lost_is_found_on_retry_not_made_twice() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(Some("productCreate"), 1, Fault::AnswerLate(Duration::from_secs(60)));
    let started = Instant::now();

    let product = create(&client, "Notion Kit", "12.50").await;

    assert!(started.elapsed() >= PER_REQUEST, "the first answer was waited for, then given up on");
    assert_eq!(fake.products().len(), 1);
    assert_eq!(fake.products()[0].id, product.product_id);
    assert_eq!(fake.products()[0].variants[0].price, money("12.50"), "the retry also finished the price");
    assert_eq!(fake.calls("productCreate"), 1);
    assert_eq!(fake.calls("products"), 2, "each attempt looked for the key first");
}

#[tokio::test(start_paused = true)]
async fn a_new_price_is_set_on_the_variant() {
    let (fake, client) = spawn_shop().await;
    let product = create(&client, "Prompt Pack", "24.00").await;

    client.set_price(&product.product_id, &product.variant_id, money("19.99")).await.expect("repriced");

    assert_eq!(fake.products()[0].variants[0].price, money("19.99"));
    let sent = fake.received().into_iter().rfind(|request| request.root == "productVariantsBulkUpdate");
    let sent = sent.expect("a price update was sent");
    assert_eq!(sent.variables["variants"][0]["price"], "19.99", "money goes as a decimal string");
}

#[tokio::test(start_paused = true)]
async fn user_errors_name_the_field() {
    let (fake, client) = spawn_shop().await;

    let blank = client.create_product(&draft("   ", "10.00"), &key("blank")).await.expect_err("no title");
    let message = rejected_message(blank);
    assert!(message.contains("productCreate refused: title: Title can't be blank"), "{message}");
    assert!(fake.products().is_empty());
    assert_eq!(fake.calls("productCreate"), 1, "a rejection is not retried");

    let product = create(&client, "Prompt Pack", "24.00").await;
    let negative = client.set_price(&product.product_id, &product.variant_id, money("-5")).await.expect_err("negative");
    let message = rejected_message(negative);
    assert!(message.contains("variants.0.price: Price must be greater than or equal to 0"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn products_are_read_page_by_page() {
    let (_fake, client) = spawn_shop().await;
    for number in 0..51 {
        create(&client, &format!("Product {number}"), "5.00").await;
    }

    let first = client.products(None).await.expect("a page");
    let cursor = first.next_cursor.clone().expect("more than one page");
    let second = client.products(Some(&cursor)).await.expect("the next page");

    assert_eq!(first.items.len(), 50);
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_cursor, None);
    assert_eq!(second.items[0].title, "Product 50");
    assert_eq!(second.items[0].price, Some(money("5.00")));
    assert_eq!(second.items[0].status, "ACTIVE");
}

// ---------------------------------------------------------------------------------------
// Inventory
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn inventory_is_set_with_an_idempotency_key() {
    let (fake, client) = spawn_shop().await;
    let product = create(&client, "Prompt Pack", "24.00").await;
    let item = &product.inventory_item_id;
    let restock = key("restock-1");

    let delta = client.set_inventory(item, LOCATION, 12, Some(0), &restock).await.expect("set");
    let replayed = client.set_inventory(item, LOCATION, 12, Some(0), &restock).await.expect("replayed");

    assert_eq!((delta, replayed), (12, 12), "the retry got the first answer back");
    assert_eq!(fake.available(item, LOCATION), Some(12));
    let sent: Vec<_> = fake.received().into_iter().filter(|request| request.root == "inventorySetQuantities").collect();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].query.contains(&format!("@idempotent(key: \"{restock}\")")), "{}", sent[0].query);
    let quantity = &sent[0].variables["input"]["quantities"][0];
    assert_eq!(sent[0].variables["input"]["name"], "available");
    assert_eq!(sent[0].variables["input"]["reason"], "correction");
    assert_eq!(quantity["changeFromQuantity"], 0);

    let reused = client.set_inventory(item, LOCATION, 20, Some(12), &restock).await.expect_err("same key, new numbers");
    assert!(rejected_message(reused).contains("IDEMPOTENCY_KEY_PARAMETER_MISMATCH"));

    client.set_inventory(item, LOCATION, 30, None, &key("restock-2")).await.expect("set without the check");
    assert_eq!(fake.available(item, LOCATION), Some(30));
    let last = fake.received().pop().expect("a request");
    let quantity = &last.variables["input"]["quantities"][0];
    assert!(quantity.get("changeFromQuantity").is_some_and(Value::is_null), "an explicit null: {quantity}");
}

#[tokio::test(start_paused = true)]
async fn a_stale_change_from_quantity_is_a_clear_rejection() {
    let (fake, client) = spawn_shop().await;
    let product = create(&client, "Prompt Pack", "24.00").await;

    let error = client
        .set_inventory(&product.inventory_item_id, LOCATION, 5, Some(3), &key("stale"))
        .await
        .expect_err("the stock is 0, not 3");

    let message = rejected_message(error);
    assert!(message.contains("the stock changed since it was read"), "{message}");
    assert!(message.contains("CHANGE_FROM_QUANTITY_STALE"), "{message}");
    assert_eq!(fake.available(&product.inventory_item_id, LOCATION), Some(0));
    assert_eq!(fake.calls("inventorySetQuantities"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_still_running_under_the_same_key_is_retried_with_it() {
    let (fake, client) = spawn_shop().await;
    let product = create(&client, "Prompt Pack", "24.00").await;
    fake.fail_next(Some("inventorySetQuantities"), 1, Fault::ConcurrentRequest);

    let delta =
        client.set_inventory(&product.inventory_item_id, LOCATION, 7, Some(0), &key("busy")).await.expect("set");

    assert_eq!(delta, 7);
    let sent: Vec<_> = fake.received().into_iter().filter(|request| request.root == "inventorySetQuantities").collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].query, sent[1].query, "the same key both times");
}

// ---------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn orders_are_read_across_pages() {
    let (fake, client) = spawn_shop().await;
    let product = "gid://shopify/Product/77".to_owned();
    for number in 0..45u32 {
        fake.hold_order(HeldOrder {
            created_at: day(1 + number / 10, number % 10),
            total: money("29.00"),
            refunded: if number == 44 { money("10.00") } else { Decimal::ZERO },
            lines: vec![(Some(product.clone()), 2, money("24.00")), (None, 1, money("5.00"))],
        });
    }
    let since = day(1, 3);

    let orders = client.all_orders(since).await.expect("all pages");

    assert_eq!(orders.len(), 42, "three were placed before `since`");
    assert_eq!(fake.calls("orders"), 3, "20 + 20 + 2");
    assert!(orders.windows(2).all(|pair| pair[0].created_at <= pair[1].created_at), "oldest first");
    assert_eq!(orders[0].created_at, since);
    let first = &orders[0];
    assert!(first.id.starts_with("gid://shopify/Order/"), "{first:?}");
    assert!(first.name.starts_with('#'));
    assert_eq!((first.currency.as_str(), first.total), ("USD", money("29.00")));
    assert_eq!(first.line_items.len(), 2);
    assert_eq!(first.line_items[0].product_id.as_deref(), Some(product.as_str()));
    assert_eq!((first.line_items[0].quantity, first.line_items[0].amount), (2, money("24.00")));
    assert_eq!(first.line_items[1].product_id, None);
    assert_eq!(orders.last().map(|order| order.refunded), Some(money("10.00")));

    let page = client.orders(since, None).await.expect("one page");
    assert_eq!(page.items.len(), 20);
    assert!(page.next_cursor.is_some());
}

// ---------------------------------------------------------------------------------------
// Rate limits, outages and deadlines
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_throttled_answer_at_200_and_at_429_is_waited_out_and_retried() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(Some("shop"), 1, Fault::ThrottledAt200);
    fake.fail_next(Some("shop"), 1, Fault::ThrottledAt429 { retry_after_secs: 3 });
    let started = Instant::now();

    client.shop().await.expect("answered on the third try");

    assert_eq!(fake.calls("shop"), 3);
    let waited = started.elapsed();
    // 1 s for the drained bucket to hold the query's cost again (rounded up to whole
    // seconds), then the 3 s the 429 asked for.
    assert!(waited >= Duration::from_secs(4) && waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn the_bucket_makes_a_busy_tenant_wait_instead_of_being_throttled() {
    let (fake, client) = spawn_shop().await;
    let since = day(1, 0);
    client.orders(since, None).await.expect("a first page");
    let after_first = client.available_points().expect("learnt from the answer");
    assert!(after_first < 722.0, "{after_first}");
    let started = Instant::now();

    client.orders(since, None).await.expect("a second page");

    assert_eq!(fake.throttled(), 0, "the client waited instead of being throttled");
    let expected = Duration::from_secs_f64((722.0 - after_first) / 50.0);
    let waited = started.elapsed();
    assert!(waited >= expected && waited < expected + Duration::from_millis(50), "{waited:?} vs {expected:?}");
}

#[tokio::test(start_paused = true)]
async fn a_shops_own_restore_rate_is_learnt_not_assumed() {
    let (fake, client) = spawn_shop().await;
    // A bigger plan: twice the bucket, twice the refill, and empty right now.
    fake.set_bucket(2000.0, 0.0, 100.0);
    let started = Instant::now();

    client.orders(day(1, 0), None).await.expect("answered once the bucket refilled");

    assert_eq!((fake.calls("orders"), fake.throttled()), (2, 1), "throttled once, learnt, then waited");
    // 722 points at the reported 100 a second: 7.22 s, rounded up to 8 (at a standard
    // plan's 50 a second it would have been 15).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(8) && waited < Duration::from_secs(9), "{waited:?}");
    assert_eq!(client.available_points().map(f64::round), Some(78.0), "800 refilled, 722 spent");
}

#[tokio::test(start_paused = true)]
async fn throttling_that_outlasts_the_deadline_is_a_rate_limit_with_the_wait() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(None, 10, Fault::ThrottledAt429 { retry_after_secs: 30 });
    let started = Instant::now();

    let error = client.until(started + Duration::from_secs(20)).shop().await.expect_err("30 s will not fit in 20");

    assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 30, .. }), "{error:?}");
    assert_eq!(started.elapsed(), Duration::ZERO, "no pointless wait");
    assert_eq!(fake.calls("shop"), 1);
}

#[tokio::test(start_paused = true)]
async fn five_outages_open_the_circuit_and_a_trial_call_closes_it() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(None, 5, Fault::ServerError);

    let outage = client.shop().await.expect_err("five 500s in a row");
    assert!(outage.is_retryable() && outage.to_string().contains("500"), "{outage}");
    assert_eq!(fake.calls("shop"), 5);
    assert_eq!(client.circuit_state(), CircuitState::Open);

    let refused = client.shop().await.expect_err("the circuit is open");
    assert!(refused.to_string().contains("circuit open"), "{refused}");
    assert_eq!(fake.calls("shop"), 5, "refused without a request");

    tokio::time::sleep(COOL_DOWN).await;
    assert_eq!(client.circuit_state(), CircuitState::HalfOpen);
    client.shop().await.expect("the trial call succeeds");
    assert_eq!(fake.calls("shop"), 6);
    assert_eq!(client.circuit_state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_internal_error_is_retried_and_access_denied_is_not() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(Some("shop"), 1, Fault::InternalError);
    client.shop().await.expect("the retry succeeds");
    assert_eq!(fake.calls("shop"), 2);

    fake.fail_next(Some("productCreate"), 1, Fault::AccessDenied);
    let denied = client.create_product(&draft("Kit", "5.00"), &key("kit")).await.expect_err("no scope");
    let message = rejected_message(denied);
    assert!(message.contains("ACCESS_DENIED") && message.contains("write_products"), "{message}");
    assert_eq!(fake.calls("productCreate"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_shop_times_out_and_the_call_is_retried() {
    let (fake, client) = spawn_shop().await;
    fake.fail_next(Some("shop"), 1, Fault::AnswerLate(Duration::from_secs(300)));
    let started = Instant::now();

    client.shop().await.expect("the second request is answered");

    assert_eq!(fake.calls("shop"), 2);
    assert!(started.elapsed() >= PER_REQUEST, "{:?}", started.elapsed());
    assert_eq!(client.circuit_state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------
// The fake keeps to the protocol
// ---------------------------------------------------------------------------------------

async fn post_raw(
    fake: &ShopifyFake,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().post(format!("{}{path}", fake.base_url())).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("X-Shopify-Access-Token", token);
    }
    let response = request.body(body).send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn post_graphql(fake: &ShopifyFake, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let (status, answer) =
        post_raw(fake, "/admin/api/2026-10/graphql.json", Some(TOKEN), "application/json", body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.pointer("/extensions/cost/throttleStatus/restoreRate").is_some(),
        "every answer reports the bucket: {answer}"
    );
    answer
}

fn first_error(answer: &Value) -> (String, String) {
    let error = &answer["errors"][0];
    let code = error.pointer("/extensions/code").and_then(Value::as_str).unwrap_or_default().to_owned();
    (code, error["message"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(start_paused = true)]
async fn the_fake_refuses_what_shopify_would_refuse_at_the_http_edge() {
    let fake = ShopifyFake::start().await;
    let endpoint = "/admin/api/2026-10/graphql.json";
    let shop = json!({ "query": "{ shop { name } }" }).to_string();

    let (status, body) = post_raw(&fake, endpoint, None, "application/json", shop.clone()).await;
    assert_eq!((status, body), (401, json!({ "errors": INVALID_TOKEN })));
    let (status, _) =
        post_raw(&fake, "/admin/api/2019-04/graphql.json", Some(TOKEN), "application/json", shop.clone()).await;
    assert_eq!(status, 404, "another version");
    let (status, _) =
        post_raw(&fake, "/admin/api/2026-10/products.json", Some(TOKEN), "application/json", shop.clone()).await;
    assert_eq!(status, 404, "REST is not spoken here");
    let get = reqwest::get(format!("{}{endpoint}", fake.base_url())).await.expect("answers");
    assert_eq!(get.status().as_u16(), 405);

    for bad in [
        "[]".to_owned(),
        json!({ "query": 5 }).to_string(),
        json!({ "variables": {} }).to_string(),
        json!({ "query": "{ shop { name } }", "variables": [] }).to_string(),
        json!({ "query": "{ shop { name } }", "extra": 1 }).to_string(),
        "not json".to_owned(),
    ] {
        let (status, body) = post_raw(&fake, endpoint, Some(TOKEN), "application/json", bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (status, _) = post_raw(&fake, endpoint, Some(TOKEN), "text/plain", shop).await;
    assert_eq!(status, 400, "not JSON by its content type");
}

#[tokio::test(start_paused = true)]
async fn the_fake_validates_documents_as_a_graphql_server_does() {
    let fake = ShopifyFake::start().await;
    let create = "mutation M($product: ProductCreateInput!) { productCreate(product: $product) { product { id } } }";
    let created = post_graphql(&fake, create, json!({ "product": { "title": "T" } })).await;
    assert!(created["data"]["productCreate"]["product"]["id"].is_string(), "{created}");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("{ shop { name } ", json!({}), "parseError"),
        ("{ shopp { name } }", json!({}), "undefinedField"),
        ("{ shop { name owner } }", json!({}), "undefinedField"),
        ("{ shop }", json!({}), "selectionMismatch"),
        ("{ shop { name { first } } }", json!({}), "selectionMismatch"),
        (
            "query Q($first: Int!) { products(first: $firstt) { nodes { id } } }",
            json!({ "first": 1 }),
            "variableNotDefined",
        ),
        (
            "query Q($first: Int!, $x: String) { products(first: $first) { nodes { id } } }",
            json!({ "first": 1 }),
            "variableNotUsed",
        ),
        (
            "query Q($first: String!) { products(first: $first) { nodes { id } } }",
            json!({ "first": "1" }),
            "variableMismatch",
        ),
        ("query Q($first: Int!) { products(first: $first) { nodes { id } } }", json!({}), "INVALID_VARIABLE"),
        ("{ products(first: 251) { nodes { id } } }", json!({}), "argumentLiteralsIncompatible"),
        ("{ products(size: 2) { nodes { id } } }", json!({}), "argumentNotAccepted"),
        (
            "{ products(first: 2) { nodes { id variants { nodes { id } } } } }",
            json!({}),
            "argumentLiteralsIncompatible",
        ),
        ("mutation { productCreate { product { id } } }", json!({}), "missingRequiredArguments"),
        (
            "mutation M($product: ProductCreateInput!) { productCreate(product: $product) { product { id } userErrors { code } } }",
            json!({ "product": { "title": "T" } }),
            "undefinedField",
        ),
        (
            "mutation M($product: ProductCreateInput!) { productCreate(product: $product) { product { id } } }",
            json!({ "product": { "title": "T", "bodyHtml": "legacy" } }),
            "INVALID_VARIABLE",
        ),
    ];
    for (query, variables, expected) in cases {
        let answer = post_graphql(&fake, query, variables).await;
        let (code, message) = first_error(&answer);
        assert_eq!(code, expected, "{query}: {message}");
        assert!(answer.get("data").is_none(), "{query}: nothing ran");
    }
    assert_eq!(fake.products().len(), 1, "no refused mutation changed anything");
}

#[tokio::test(start_paused = true)]
async fn the_fake_holds_inventory_to_the_2026_04_rules() {
    let (fake, client) = spawn_shop().await;
    let product = create(&client, "Prompt Pack", "24.00").await;
    let mutation = |directive: &str| {
        format!(
            "mutation M($input: InventorySetQuantitiesInput!) {{ inventorySetQuantities(input: $input){directive} \
             {{ inventoryAdjustmentGroup {{ reason }} userErrors {{ code field message }} }} }}"
        )
    };
    let quantity = json!({ "inventoryItemId": product.inventory_item_id, "locationId": LOCATION, "quantity": 3 });
    let input = json!({ "input": { "name": "available", "reason": "correction", "quantities": [quantity] } });

    let without_key = post_graphql(&fake, &mutation(""), input.clone()).await;
    let (code, message) = first_error(&without_key);
    assert_eq!(code, "BAD_REQUEST", "{message}");
    assert!(message.contains("@idempotent"), "{message}");

    let without_change_from = post_graphql(&fake, &mutation(" @idempotent(key: \"k-1\")"), input).await;
    let user_error = &without_change_from["data"]["inventorySetQuantities"]["userErrors"][0];
    assert_eq!(user_error["field"], json!(["input", "quantities", "0", "changeFromQuantity"]), "{without_change_from}");
    assert_eq!(fake.available(&product.inventory_item_id, LOCATION), Some(0), "nothing was set");
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

fn order_webhook() -> Value {
    json!({
        "id": 820982911946154508u64,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": "#9999",
        "created_at": "2026-11-02T10:15:00-05:00",
        "currency": "USD",
        "total_price": "403.00",
        "line_items": [
            { "product_id": 788032119674292922u64, "quantity": 2, "price": "199.00" },
            { "product_id": null, "quantity": 1, "price": "5.00" }
        ],
        "refunds": [
            { "transactions": [
                { "kind": "refund", "status": "success", "amount": "10.00" },
                { "kind": "refund", "status": "failure", "amount": "99.00" }
            ] }
        ]
    })
}

#[test]
fn an_orders_create_webhook_becomes_an_order() {
    let event = order_from_webhook("orders/create", &order_webhook()).expect("maps").expect("a known topic");

    let ShopifyWebhookEvent::OrderCreated(order) = event else { panic!("an order: {event:?}") };
    assert_eq!(order.id, "gid://shopify/Order/820982911946154508");
    assert_eq!(order.name, "#9999");
    assert_eq!(order.created_at, Utc.with_ymd_and_hms(2026, 11, 2, 15, 15, 0).single().expect("valid"));
    assert_eq!((order.currency.as_str(), order.total), ("USD", money("403.00")));
    assert_eq!(order.line_items.len(), 2);
    assert_eq!(order.line_items[0].product_id.as_deref(), Some("gid://shopify/Product/788032119674292922"));
    assert_eq!((order.line_items[0].quantity, order.line_items[0].amount), (2, money("398.00")));
    assert_eq!(order.line_items[1].product_id, None);
    assert_eq!(order.refunded, money("10.00"), "only the successful refund counts");

    let paid = order_from_webhook("orders/paid", &order_webhook()).expect("maps");
    assert!(matches!(paid, Some(ShopifyWebhookEvent::OrderPaid(_))), "{paid:?}");
}

#[test]
fn a_refunds_create_webhook_sums_its_refund_transactions_or_else_its_lines() {
    let with_transactions = json!({
        "id": 929361463, "order_id": 450789469, "created_at": "2026-11-03T09:00:00Z",
        "admin_graphql_api_id": "gid://shopify/Refund/929361463",
        "transactions": [{ "kind": "refund", "status": "success", "amount": "41.94" },
                         { "kind": "refund", "status": "success", "amount": "8.06" }],
        "refund_line_items": [{ "subtotal": "195.66" }]
    });
    let Some(ShopifyWebhookEvent::RefundCreated(refund)) =
        order_from_webhook("refunds/create", &with_transactions).expect("maps")
    else {
        panic!("a refund")
    };
    assert_eq!(refund.id, "gid://shopify/Refund/929361463");
    assert_eq!(refund.order_id, "gid://shopify/Order/450789469");
    assert_eq!(refund.amount, money("50.00"));

    let lines_only = json!({ "id": 1, "order_id": 2, "transactions": [],
                             "refund_line_items": [{ "subtotal": "10.00" }, { "subtotal": 2.5 }] });
    let Some(ShopifyWebhookEvent::RefundCreated(refund)) =
        order_from_webhook("refunds/create", &lines_only).expect("maps")
    else {
        panic!("a refund")
    };
    assert_eq!((refund.id.as_str(), refund.amount), ("gid://shopify/Refund/1", money("12.50")));
    assert_eq!(refund.created_at, None);
}

#[test]
fn other_topics_are_ignored_and_malformed_bodies_rejected() {
    assert_eq!(order_from_webhook("products/update", &json!({ "id": 1 })).expect("fine"), None);
    let mut broken = order_webhook();
    broken["total_price"] = json!("lots");
    let message = rejected_message(order_from_webhook("orders/create", &broken).expect_err("not an amount"));
    assert!(message.contains("total_price"), "{message}");
}
