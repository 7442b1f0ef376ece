//! Deliveries from Stripe and Shopify over HTTP: a signed delivery is accepted and
//! recorded once on its business, however often it is replayed; a wrong, tampered,
//! stale or missing signature is refused before the body is trusted; an unconfigured
//! receiver is 404. And `/metrics` shows what the server has been doing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boardroom_memory::TenantId;
use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, spawn_app_with};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const STRIPE_SECRET: &str = "whsec_test";
const SHOPIFY_SECRET: &str = "shpss_test";

async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(
        backends,
        &[
            ("DEMO_TENANT", "false"),
            ("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET),
            ("SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET),
        ],
    )
    .await
}

fn hmac_sha256(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A `Stripe-Signature` header for `body` signed at `timestamp` with `secret`.
fn stripe_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let signature = hmac_sha256(secret, &[format!("{timestamp}.").as_bytes(), body]);
    format!("t={timestamp},v1={}", hex::encode(signature))
}

/// A Stripe event on connected account `account` (`None`: the platform's own account).
/// The metadata names a business, as a payload may claim anything: it is not what
/// finds the business.
fn stripe_event(id: &str, account: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": false,
        "account": account,
        "created": 1_700_000_000,
        "data": { "object": { "id": "pi_123", "object": "payment_intent", "amount": 2900,
                              "metadata": { "business_id": "1" } } },
    }))
    .expect("JSON")
}

/// Links a Stripe connected account to a business, as onboarding it through Connect does.
async fn link_stripe_account(app: &TestApp, business: i64, account: &str) {
    app.state
        .store
        .link_platform_account("stripe", account, TenantId(business), "connect", Utc::now())
        .await
        .expect("link the account");
}

/// `POST`s raw bytes with the given headers.
async fn post_raw(app: &TestApp, path: &str, headers: &[(&str, impl AsRef<str>)], body: Vec<u8>) -> ApiResponse {
    let mut request = app.client.request(Method::POST, format!("{}{path}", app.address)).body(body);
    request = request.header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value.as_ref());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    ApiResponse { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), raw: bytes.to_vec() }
}

async fn send_stripe(app: &TestApp, signature: Option<&str>, body: Vec<u8>) -> ApiResponse {
    let headers: Vec<(&str, &str)> = signature.map(|value| ("Stripe-Signature", value)).into_iter().collect();
    post_raw(app, "/webhooks/stripe", &headers, body).await
}

async fn create_business(caller: &Caller, name: &str) -> i64 {
    let created = caller.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

/// The business's recorded Stripe deliveries.
async fn stripe_events(app: &TestApp, business: i64) -> Vec<Value> {
    app.state.events.flush().await.expect("flush");
    let events = app.state.store.events_after(TenantId(business), 0, 1000).await.expect("events");
    events.into_iter().filter(|event| event.kind == "webhook.stripe").map(|event| event.data).collect()
}

async fn a_signed_stripe_event_is_recorded_on_its_business_once_however_often_it_is_replayed(backends: Backends) {
    let app = spawn_app(backends).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    link_stripe_account(&app, business, "acct_planner").await;

    // Stripe tells us a payment on that business's account succeeded.
    let body = stripe_event("evt_paid_1", Some("acct_planner"));
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
    let delivered = send_stripe(&app, Some(&signature), body.clone()).await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    assert_eq!(delivered.body["received"], true);
    assert_eq!(delivered.body["duplicate"], false);

    let recorded = stripe_events(&app, business).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["id"], "evt_paid_1");
    assert_eq!(recorded[0]["type"], "payment_intent.succeeded");

    // Stripe retries the same event (freshly signed, as its retries are): acknowledged,
    // not recorded again.
    for _ in 0..2 {
        let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
        let replay = send_stripe(&app, Some(&signature), body.clone()).await;
        assert_eq!(replay.status, 200, "{}", replay.body);
        assert_eq!(replay.body["duplicate"], true);
    }
    assert_eq!(stripe_events(&app, business).await.len(), 1, "a replay is not recorded twice");

    // The id is remembered in the database, so a restarted process still knows it.
    let mut app = app;
    app.restart().await;
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
    let after_restart = send_stripe(&app, Some(&signature), body.clone()).await;
    assert_eq!(after_restart.status, 200, "{}", after_restart.body);
    assert_eq!(after_restart.body["duplicate"], true);
    assert_eq!(stripe_events(&app, business).await.len(), 1);

    // A different event is recorded.
    let other = stripe_event("evt_paid_2", Some("acct_planner"));
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &other);
    assert_eq!(send_stripe(&app, Some(&signature), other).await.status, 200);
    assert_eq!(stripe_events(&app, business).await.len(), 2);

    // An event of the platform's own account, or of an account no business has, is
    // acknowledged and nothing else, whatever its metadata claims.
    for (id, account) in [("evt_nobody", None), ("evt_ghost", Some("acct_unknown"))] {
        let body = stripe_event(id, account);
        let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
        let response = send_stripe(&app, Some(&signature), body).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.body["received"], true);
    }
}

async fn a_stripe_delivery_that_is_not_signed_by_our_secret_is_refused_before_it_is_read(backends: Backends) {
    let app = spawn_app(backends).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    link_stripe_account(&app, business, "acct_planner").await;
    let body = stripe_event("evt_forged", Some("acct_planner"));
    let now = Utc::now().timestamp();

    // Signed with another secret.
    let wrong = stripe_signature("whsec_someone_else", now, &body);
    let refused = send_stripe(&app, Some(&wrong), body.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    // Signed correctly, then the body was changed in transit.
    let signature = stripe_signature(STRIPE_SECRET, now, &body);
    let tampered = String::from_utf8(body.clone()).expect("utf-8").replace("2900", "290000").into_bytes();
    let refused = send_stripe(&app, Some(&signature), tampered).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    // Correctly signed, but six minutes old: a replay attack.
    let old = stripe_signature(STRIPE_SECRET, now - 360, &body);
    let refused = send_stripe(&app, Some(&old), body.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    // Garbage in the header.
    let refused = send_stripe(&app, Some("nonsense"), body.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    // No header at all.
    let refused = send_stripe(&app, None, body.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (400, "missing_signature"), "{}", refused.body);

    // A correctly signed body that is not JSON is a 400 too, never a 500.
    let garbage = b"not json".to_vec();
    let signature = stripe_signature(STRIPE_SECRET, now, &garbage);
    let refused = send_stripe(&app, Some(&signature), garbage).await;
    assert_eq!((refused.status, refused.error_code()), (400, "invalid_json"), "{}", refused.body);

    assert!(stripe_events(&app, business).await.is_empty(), "nothing refused was recorded");

    // The refusals did not burn the id: the genuine delivery still goes through.
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
    let accepted = send_stripe(&app, Some(&signature), body).await;
    assert_eq!((accepted.status, &accepted.body["duplicate"]), (200, &json!(false)), "{}", accepted.body);
    assert_eq!(stripe_events(&app, business).await.len(), 1);
}

async fn shopify_deliveries_are_accepted_only_with_the_right_hmac(backends: Backends) {
    let app = spawn_app(backends).await;
    let body =
        serde_json::to_vec(&json!({ "id": 820_982_911_946_154_508_u64, "email": "jon@example.com" })).expect("JSON");
    let good = BASE64.encode(hmac_sha256(SHOPIFY_SECRET, &[&body]));
    let headers = |hmac: &str| -> Vec<(&'static str, String)> {
        vec![
            ("X-Shopify-Hmac-Sha256", hmac.to_owned()),
            ("X-Shopify-Topic", "orders/create".to_owned()),
            ("X-Shopify-Shop-Domain", "planner-shop.myshopify.com".to_owned()),
            ("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".to_owned()),
        ]
    };
    let good = good.as_str();

    let accepted = post_raw(&app, "/webhooks/shopify", &headers(good), body.clone()).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!((&accepted.body["received"], &accepted.body["duplicate"]), (&json!(true), &json!(false)));

    // Shopify retries with the same webhook id: acknowledged as a duplicate.
    let replay = post_raw(&app, "/webhooks/shopify", &headers(good), body.clone()).await;
    assert_eq!((replay.status, &replay.body["duplicate"]), (200, &json!(true)), "{}", replay.body);

    let wrong = BASE64.encode(hmac_sha256("shpss_someone_else", &[&body]));
    let refused = post_raw(&app, "/webhooks/shopify", &headers(&wrong), body.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let refused = post_raw(&app, "/webhooks/shopify", &headers(good), tampered).await;
    assert_eq!((refused.status, refused.error_code()), (400, "bad_signature"), "{}", refused.body);

    let refused = post_raw(&app, "/webhooks/shopify", &[("X-Shopify-Topic", "orders/create")], body).await;
    assert_eq!((refused.status, refused.error_code()), (400, "missing_signature"), "{}", refused.body);
}

/// `POST /webhooks/shopify` with a correct HMAC, and the webhook id when there is one.
async fn send_shopify(app: &TestApp, webhook_id: Option<&str>, body: &[u8]) -> ApiResponse {
    let mut headers = vec![
        ("X-Shopify-Hmac-Sha256", BASE64.encode(hmac_sha256(SHOPIFY_SECRET, &[body]))),
        ("X-Shopify-Topic", "orders/create".to_owned()),
        ("X-Shopify-Shop-Domain", "planner-shop.myshopify.com".to_owned()),
    ];
    if let Some(id) = webhook_id {
        headers.push(("X-Shopify-Webhook-Id", id.to_owned()));
    }
    post_raw(app, "/webhooks/shopify", &headers, body.to_vec()).await
}

/// `POST /webhooks/stripe`, freshly signed as Stripe's retries are.
async fn send_signed_stripe(app: &TestApp, body: &[u8]) -> ApiResponse {
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), body);
    send_stripe(app, Some(&signature), body.to_vec()).await
}

fn duplicate(response: &ApiResponse) -> bool {
    assert_eq!(response.status, 200, "{}", response.body);
    response.body["duplicate"].as_bool().expect("duplicate flag")
}

async fn the_same_delivery_is_processed_once_even_across_a_restart(backends: Backends) {
    // Arrange
    let mut app = spawn_app(backends).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    link_stripe_account(&app, business, "acct_planner").await;
    let recorded = stripe_event("evt_restart_1", Some("acct_planner"));
    let unrecorded = stripe_event("evt_restart_nobody", None);
    let order =
        serde_json::to_vec(&json!({ "id": 820_982_911_946_154_508_u64, "total_price": "29.00" })).expect("JSON");
    let webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";

    // Act: each delivered once, then the server restarts.
    assert!(!duplicate(&send_signed_stripe(&app, &recorded).await));
    assert!(!duplicate(&send_signed_stripe(&app, &unrecorded).await));
    assert!(!duplicate(&send_shopify(&app, Some(webhook_id), &order).await));
    app.restart().await;

    // Assert: the platforms' retries after the restart are duplicates, and nothing is
    // recorded twice.
    assert!(duplicate(&send_signed_stripe(&app, &recorded).await), "a Stripe event for a business");
    assert!(duplicate(&send_signed_stripe(&app, &unrecorded).await), "a Stripe event for no business");
    assert!(duplicate(&send_shopify(&app, Some(webhook_id), &order).await), "a Shopify delivery");
    assert_eq!(stripe_events(&app, business).await.len(), 1);
    // Another Shopify delivery of the same body is its own delivery.
    assert!(!duplicate(&send_shopify(&app, Some("another-delivery"), &order).await));
}

#[tokio::test]
async fn the_same_delivery_is_processed_once_even_across_a_restart_on_sqlite() {
    the_same_delivery_is_processed_once_even_across_a_restart(Backends::Embedded).await;
}

#[tokio::test]
async fn the_same_delivery_is_processed_once_even_across_a_restart_on_postgres() {
    the_same_delivery_is_processed_once_even_across_a_restart(Backends::Production).await;
}

async fn deliveries_without_an_id_are_known_by_their_body(backends: Backends) {
    let app = spawn_app(backends).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    link_stripe_account(&app, business, "acct_planner").await;

    // Shopify without X-Shopify-Webhook-Id: the same body twice is one delivery.
    let order = serde_json::to_vec(&json!({ "id": 1, "total_price": "29.00" })).expect("JSON");
    let other_order = serde_json::to_vec(&json!({ "id": 2, "total_price": "29.00" })).expect("JSON");
    assert!(!duplicate(&send_shopify(&app, None, &order).await));
    assert!(duplicate(&send_shopify(&app, None, &order).await), "the same body again");
    assert!(!duplicate(&send_shopify(&app, None, &other_order).await), "a different body");

    // A Stripe event without an id: the same, and it is recorded once.
    let without_id = |amount: u64| {
        serde_json::to_vec(&json!({
            "object": "event",
            "type": "charge.refunded",
            "account": "acct_planner",
            "data": { "object": { "id": "ch_1", "amount": amount, "metadata": {} } },
        }))
        .expect("JSON")
    };
    assert!(!duplicate(&send_signed_stripe(&app, &without_id(100)).await));
    assert!(duplicate(&send_signed_stripe(&app, &without_id(100)).await), "the same body again");
    assert!(!duplicate(&send_signed_stripe(&app, &without_id(200)).await), "a different body");
    assert_eq!(stripe_events(&app, business).await.len(), 2);
}

#[tokio::test]
async fn deliveries_without_an_id_are_known_by_their_body_on_sqlite() {
    deliveries_without_an_id_are_known_by_their_body(Backends::Embedded).await;
}

#[tokio::test]
async fn deliveries_without_an_id_are_known_by_their_body_on_postgres() {
    deliveries_without_an_id_are_known_by_their_body(Backends::Production).await;
}

async fn webhook_bodies_may_be_larger_than_api_bodies_but_are_still_bounded(backends: Backends) {
    let app = spawn_app(backends).await;
    // 200 KiB: over the API's 64 KiB limit, within the webhooks' 1 MiB.
    let mut event: Value = serde_json::from_slice(&stripe_event("evt_big", None)).expect("JSON");
    event["data"]["object"]["description"] = json!("x".repeat(200 * 1024));
    let body = serde_json::to_vec(&event).expect("JSON");
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
    let accepted = send_stripe(&app, Some(&signature), body).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    let huge = vec![b' '; 2 * 1024 * 1024];
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &huge);
    let refused = send_stripe(&app, Some(&signature), huge).await;
    assert_eq!((refused.status, refused.error_code()), (413, "payload_too_large"), "{}", refused.body);
}

async fn a_receiver_without_a_secret_is_not_there(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let body = stripe_event("evt_1", None);
    let signature = stripe_signature(STRIPE_SECRET, Utc::now().timestamp(), &body);
    let stripe = send_stripe(&app, Some(&signature), body.clone()).await;
    assert_eq!((stripe.status, stripe.error_code()), (404, "not_configured"), "{}", stripe.body);
    let shopify = post_raw(&app, "/webhooks/shopify", &[("X-Shopify-Hmac-Sha256", "AAAA")], body).await;
    assert_eq!((shopify.status, shopify.error_code()), (404, "not_configured"), "{}", shopify.body);
}

async fn metrics_show_requests_swarms_events_and_uptime_in_prometheus_text(backends: Backends) {
    // `/metrics` needs its token (see `security.rs`).
    let app =
        spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("METRICS_TOKEN", "metrics-token-0123456789")]).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    for _ in 0..3 {
        assert_eq!(app.anonymous().get("/health").await.status, 200);
    }
    assert_eq!(app.anonymous().get("/no/such/route").await.status, 404);
    assert_eq!(owner.get(&format!("/api/business/{business}")).await.status, 200);
    app.state.events.flush().await.expect("flush");

    let logged = app.state.store.last_event_seq(TenantId(business)).await.expect("seq");
    // The appends counter follows the log's live feed; give it a moment to catch up.
    let mut text = String::new();
    for _ in 0..50 {
        let request = app.client.get(format!("{}/metrics", app.address)).bearer_auth("metrics-token-0123456789");
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()["content-type"].to_str().expect("text").to_owned();
        assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
        text = response.text().await.expect("text");
        if logged == 0 || appends(&text) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(logged == 0 || appends(&text) > 0, "events were logged ({logged}) but not counted: {text}");

    assert!(text.contains(r#"boardroom_http_requests_total{method="GET",route="/health",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"route="/api/business/{id}",status="200"} 1"#), "route patterns, not raw paths: {text}");
    assert!(text.contains("# TYPE boardroom_http_requests counter"), "{text}");
    assert!(text.ends_with("# EOF\n"), "a complete OpenMetrics exposition: {text}");
    assert!(text.lines().any(|line| line.starts_with("boardroom_active_swarms ")), "{text}");
    assert!(text.lines().any(|line| line.starts_with("boardroom_uptime_seconds ")), "{text}");

    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let value = line.rsplit_once(' ').map(|(_, value)| value).expect("name value");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

/// The value of `boardroom_event_log_appends_total` in an exposition.
fn appends(text: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix("boardroom_event_log_appends_total "))
        .and_then(|value| value.parse().ok())
        .expect("the appends counter")
}

// Every story above without a backend in its name runs twice: `sqlite::…` on the embedded
// defaults and `postgres::…` on PostgreSQL with Redis.
/// The business's Stripe rows in the ledger: (transaction id, amount, category).
async fn stripe_ledger(app: &TestApp, business: i64) -> Vec<(String, String, String)> {
    let to = Utc::now() + chrono::Duration::days(1);
    app.state
        .store
        .ledger_entries(TenantId(business), chrono::DateTime::<Utc>::MIN_UTC, to)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|entry| entry.source == "stripe")
        .map(|entry| (entry.transaction_id.unwrap_or_default(), entry.amount.to_string(), entry.category))
        .collect()
}

async fn a_paid_checkout_on_a_connected_account_is_booked_once_and_its_refunds_as_they_grow(backends: Backends) {
    let app = spawn_app(backends).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    let other = create_business(&app.new_account("eve@example.com").await, "Eve's").await;
    link_stripe_account(&app, business, "acct_planner").await;
    let event = |id: &str, kind: &str, object: Value| {
        serde_json::to_vec(&json!({ "id": id, "object": "event", "type": kind, "account": "acct_planner",
                                    "created": Utc::now().timestamp(), "livemode": false, "data": { "object": object } }))
        .expect("JSON")
    };
    // The payload names the other business in its metadata: it is not believed.
    let paid = event(
        "evt_checkout",
        "checkout.session.completed",
        json!({ "id": "cs_1", "object": "checkout.session", "amount_total": 2900, "currency": "usd",
                "payment_status": "paid", "payment_intent": "pi_1", "metadata": { "business_id": other.to_string() } }),
    );
    assert!(!duplicate(&send_signed_stripe(&app, &paid).await));
    assert!(duplicate(&send_signed_stripe(&app, &paid).await), "a replay");
    // The same payment in another event id books nothing more.
    let again = String::from_utf8(paid.clone()).expect("utf-8").replace("evt_checkout", "evt_checkout_2").into_bytes();
    assert!(!duplicate(&send_signed_stripe(&app, &again).await));
    assert_eq!(
        stripe_ledger(&app, business).await,
        [("stripe:pi_1".to_owned(), "29.00".to_owned(), "revenue".to_owned())]
    );
    assert!(stripe_ledger(&app, other).await.is_empty(), "the metadata's claim books nothing elsewhere");

    // Refunds: `amount_refunded` is all refunded so far; each new total books its difference.
    let refunded = |id: &str, so_far: u64| {
        event(
            id,
            "charge.refunded",
            json!({ "id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 2900,
                                             "amount_refunded": so_far, "currency": "usd", "metadata": {} }),
        )
    };
    assert!(!duplicate(&send_signed_stripe(&app, &refunded("evt_r1", 1000)).await));
    assert!(!duplicate(&send_signed_stripe(&app, &refunded("evt_r2", 2900)).await));
    assert!(!duplicate(&send_signed_stripe(&app, &refunded("evt_r2_late_copy", 2900)).await));
    let rows = stripe_ledger(&app, business).await;
    let refunds: Vec<&str> = rows.iter().filter(|row| row.2 == "refund").map(|row| row.1.as_str()).collect();
    assert_eq!(refunds, ["-10.00", "-19.00"], "{rows:?}");

    // An unpaid checkout (a delayed method still clearing) books nothing yet.
    let unpaid = event(
        "evt_unpaid",
        "checkout.session.completed",
        json!({ "id": "cs_2", "object": "checkout.session", "amount_total": 500, "currency": "usd",
                "payment_status": "unpaid", "payment_intent": "pi_2", "metadata": {} }),
    );
    assert!(!duplicate(&send_signed_stripe(&app, &unpaid).await));
    assert_eq!(stripe_ledger(&app, business).await.len(), 3);
    let events = app.state.store.events_after(TenantId(business), 0, 1000).await.expect("events");
    let payment = events.iter().find(|event| event.kind == "stripe.payment").expect("a payment event");
    assert_eq!(payment.revenue_impact, Some(rust_decimal::Decimal::new(2900, 2)), "it moves the dashboard's revenue");
}

boardroom_tests::on_both_backends! {
    a_paid_checkout_on_a_connected_account_is_booked_once_and_its_refunds_as_they_grow,
    a_signed_stripe_event_is_recorded_on_its_business_once_however_often_it_is_replayed,
    a_stripe_delivery_that_is_not_signed_by_our_secret_is_refused_before_it_is_read,
    shopify_deliveries_are_accepted_only_with_the_right_hmac,
    webhook_bodies_may_be_larger_than_api_bodies_but_are_still_bounded,
    a_receiver_without_a_secret_is_not_there,
    metrics_show_requests_swarms_events_and_uptime_in_prometheus_text,
}
