//! The Gumroad client against a local fake of Gumroad's v2 API that follows the protocol
//! and refuses anything else: `success: false` at HTTP 200 read as the error it is,
//! products made once per key (Gumroad takes no idempotency key) and enabled, offer
//! codes, sales read across pages, unsigned webhook pings re-fetched before they are
//! trusted, and rate limits, outages and a wrong token, on tokio's paused clock; and the
//! account as the swarm's market ([`GumroadMarket`]).

mod support;

use std::time::Duration;

use std::sync::Arc;

use boardroom_adapters::{
    AdChannel, AdapterError, CallBudget, CampaignSpec, CircuitState, GumroadClient, GumroadConnection, GumroadDiscount,
    GumroadMarket, GumroadOfferCodeDraft, GumroadProduct, IdempotencyKey, Marketplace, Platform, ProductListing,
    ResilienceSettings, RetryPolicy, SandboxMarket, sale_from_webhook,
};
use boardroom_memory::TenantId;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use support::gumroad_fake::{ACCESS_TOKEN, GumroadFake, GumroadFault, SELLER_ID};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const PER_REQUEST: Duration = Duration::from_secs(10);
const CREATE: &str = "POST /v2/products";
const LIST: &str = "GET /v2/products";

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

/// A fake Gumroad and a client signed in to it.
async fn spawn_gumroad() -> (GumroadFake, GumroadClient) {
    let fake = GumroadFake::start().await;
    let client = GumroadClient::with_settings(fake.connection(), settings()).expect("a valid connection");
    (fake, client)
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TenantId(7), 1, "gumroad_setup", item)
}

async fn create(client: &GumroadClient, name: &str, price_cents: u64) -> GumroadProduct {
    client.create_product(name, price_cents, "Fifty prompts.", &key(name)).await.expect("the product is created")
}

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::Gumroad, message } => message,
        other => panic!("expected a rejection from Gumroad, got {other:?}"),
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
}

fn day(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().expect("a valid time")
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).expect("a valid date")
}

// ---------------------------------------------------------------------------------------
// Errors at 200
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_success_false_answer_at_200_is_an_error() {
    let (fake, client) = spawn_gumroad().await;
    fake.fail_next(Some(LIST), 1, GumroadFault::SuccessFalse("Your account is suspended."));

    let error = client.products().await.expect_err("success: false");

    assert!(!error.is_retryable());
    assert!(rejected_message(error).contains("Your account is suspended."));
    assert_eq!(fake.calls(LIST), 1, "not retried");

    let missing = client.enable_product("Fk00000000000000000404Q==").await.expect_err("no such product");
    assert!(rejected_message(missing).contains("The product was not found."));
    let blank = client.create_product("  ", 500, "", &key("blank")).await.expect_err("no name");
    assert!(rejected_message(blank).contains("Name can't be blank"));
    let cheap = client.create_product("Sticker", 50, "", &key("cheap")).await.expect_err("under $0.99");
    assert!(rejected_message(cheap).contains("at least $0.99"));
    assert!(fake.products().is_empty());
    assert_eq!(client.circuit_state(), CircuitState::Closed, "refusals are not outages");
}

// ---------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_product_is_created_once_and_enabled() {
    let (fake, client) = spawn_gumroad().await;

    let draft = create(&client, "Prompt Pack", 2_400).await;
    let again = create(&client, "Prompt Pack", 2_400).await;
    let renamed = client.create_product("Prompt Pack v2", 2_400, "", &key("Prompt Pack")).await.expect("found");

    assert_eq!((&again, &renamed), (&draft, &draft), "the same key finds the same product, whatever its name now");
    assert!(!draft.published, "made as a draft");
    assert_eq!((draft.name.as_str(), draft.price_cents, draft.currency.as_str()), ("Prompt Pack", 2_400, "usd"));
    let permalink = draft.custom_permalink.clone().expect("the key's marker");
    assert!(permalink.starts_with("prompt-pack-") && permalink.len() == "prompt-pack-".len() + 12, "{permalink}");
    assert_eq!(fake.products().len(), 1);
    assert_eq!(fake.calls(CREATE), 1, "the second and third found it first");

    let sent = fake.received().into_iter().find(|request| request.route == CREATE).expect("a creation");
    assert_eq!(field(&sent.form, "access_token"), Some(ACCESS_TOKEN), "the token in the form body");
    assert!(sent.query.is_empty(), "nothing in the URL of a POST: {:?}", sent.query);
    assert_eq!(field(&sent.form, "price"), Some("2400"));
    assert_eq!(field(&sent.form, "description"), Some("Fifty prompts."));

    let enabled = client.enable_product(&draft.id).await.expect("published");
    assert!(enabled.published);
    assert!(fake.products()[0].published);
    assert!(client.enable_product(&draft.id).await.expect("again").published, "harmless twice");
    assert!(!client.disable_product(&draft.id).await.expect("unpublished").published);
    assert!(!client.product(&draft.id).await.expect("read").published);
    assert_eq!(fake.calls("PUT /v2/products/{id}/enable"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_lost_creation_is_found_on_retry_not_made_twice() {
    let (fake, client) = spawn_gumroad().await;
    fake.fail_next(Some(CREATE), 1, GumroadFault::AnswerLate(Duration::from_secs(60)));
    let started = Instant::now();

    let product = create(&client, "Notion Kit", 1_250).await;

    assert!(started.elapsed() >= PER_REQUEST, "the first answer was waited for, then given up on");
    assert_eq!(fake.products().len(), 1);
    assert_eq!(fake.products()[0].id, product.id);
    assert_eq!(fake.calls(CREATE), 1);
    assert_eq!(fake.calls(LIST), 2, "each attempt looked for the key first");
}

#[tokio::test(start_paused = true)]
async fn products_are_read_across_pages() {
    let (fake, client) = spawn_gumroad().await;
    for number in 0..23 {
        create(&client, &format!("Product {number}"), 500).await;
    }
    let before = fake.calls(LIST);

    let products = client.products().await.expect("every page");

    assert_eq!(products.len(), 23);
    assert_eq!(products[0].name, "Product 22", "newest first");
    assert_eq!(fake.calls(LIST) - before, 3, "10 + 10 + 3");
}

// ---------------------------------------------------------------------------------------
// Offer codes
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn offer_codes_are_made_once_by_name() {
    let (fake, client) = spawn_gumroad().await;
    let product = create(&client, "AI Course", 4_900).await;
    let launch = GumroadOfferCodeDraft {
        name: "LAUNCH10".to_owned(),
        discount: GumroadDiscount::Percent(10),
        max_purchase_count: Some(100),
    };

    let code = client.create_offer_code(&product.id, &launch).await.expect("made");
    let again = client.create_offer_code(&product.id, &launch).await.expect("found");
    let fixed = GumroadOfferCodeDraft {
        name: "FIVE_OFF".to_owned(),
        discount: GumroadDiscount::Cents(500),
        max_purchase_count: None,
    };
    let five = client.create_offer_code(&product.id, &fixed).await.expect("made");

    assert_eq!(code, again);
    assert_eq!(
        (code.name.as_str(), code.discount, code.max_purchase_count),
        ("LAUNCH10", GumroadDiscount::Percent(10), Some(100))
    );
    assert_eq!((five.discount, five.max_purchase_count), (GumroadDiscount::Cents(500), None));
    assert_eq!(fake.calls("POST /v2/products/{id}/offer_codes"), 2);
    let listed = client.offer_codes(&product.id).await.expect("listed");
    assert_eq!(listed.iter().map(|code| code.name.as_str()).collect::<Vec<_>>(), ["LAUNCH10", "FIVE_OFF"]);

    let too_big = GumroadOfferCodeDraft {
        name: "HALF".to_owned(),
        discount: GumroadDiscount::Cents(4_900),
        max_purchase_count: None,
    };
    let message =
        rejected_message(client.create_offer_code(&product.id, &too_big).await.expect_err("free is not a discount"));
    assert!(message.contains("price after discount"), "{message}");
    let odd = GumroadOfferCodeDraft { name: "10 % off".to_owned(), ..launch };
    client.create_offer_code(&product.id, &odd).await.expect_err("not a code");
}

// ---------------------------------------------------------------------------------------
// Sales
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn sales_are_read_across_pages() {
    let (fake, client) = spawn_gumroad().await;
    let product = create(&client, "Prompt Pack", 2_400).await;
    // 27 sales, three a day from the 1st to the 9th of November.
    for number in 0..27u32 {
        fake.hold_sale(&product.id, 2_400, day(1 + number / 3, 9 + number % 3));
    }

    let sales = client.all_sales(date(3)).await.expect("every page");

    assert_eq!(sales.len(), 21, "the 3rd to the 9th");
    assert_eq!(fake.calls("GET /v2/sales"), 3, "10 + 10 + 1");
    assert!(sales.windows(2).all(|pair| pair[0].created_at >= pair[1].created_at), "newest first");
    assert_eq!(sales[0].created_at, day(9, 11));
    assert_eq!(sales.last().map(|sale| sale.created_at), Some(day(3, 9)));
    let first = &sales[0];
    assert_eq!(
        (first.product_id.as_str(), first.product_name.as_str(), first.price_cents),
        (product.id.as_str(), "Prompt Pack", 2_400)
    );
    assert_eq!((first.gumroad_fee_cents, first.refunded), (Some(240), false));
    let sent = fake.received().into_iter().rfind(|request| request.route == "GET /v2/sales").expect("a page");
    assert_eq!(field(&sent.query, "after"), Some("2026-11-03"));
    assert!(field(&sent.query, "page_key").is_some());

    let page = client.sales(None, None).await.expect("one page");
    assert_eq!(page.sales.len(), 10);
    let next = client.sales(None, page.next_page_key.as_deref()).await.expect("the next page");
    assert_eq!(next.sales.len(), 10);
    assert_ne!(page.sales[0].id, next.sales[0].id);

    let message = rejected_message(client.sales(None, Some("nonsense")).await.expect_err("a made-up key"));
    assert!(message.contains("(400)") && message.contains("Invalid page_key."), "{message}");
}

#[tokio::test(start_paused = true)]
async fn a_webhook_sale_is_refetched_before_it_is_trusted() {
    let (fake, client) = spawn_gumroad().await;
    let product = create(&client, "AI Course", 4_900).await;
    let real = fake.hold_sale(&product.id, 4_900, day(2, 10));
    // A ping as Gumroad posts it (form fields), but tampered with: the price is a lie.
    let ping: Vec<(String, String)> = [
        ("seller_id", "seller_fake"),
        ("product_id", product.id.as_str()),
        ("sale_id", real.as_str()),
        ("price", "1"),
        ("resource_name", "sale"),
        ("email", "buyer@example.com"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();

    assert_eq!(sale_from_webhook(&ping).expect("a sale id"), real);
    let sale = client.sale_from_ping(&ping).await.expect("re-fetched");

    assert_eq!((sale.id.as_str(), sale.price_cents), (real.as_str(), 4_900), "what the API says, not the ping");
    assert_eq!(fake.calls("GET /v2/sales/{id}"), 1);

    let mut forged = ping.clone();
    forged[2].1 = "Fk99999999999999999999Q==".to_owned();
    let message = rejected_message(client.sale_from_ping(&forged).await.expect_err("no such sale"));
    assert!(message.contains("The sale was not found."), "{message}");
    let nothing = rejected_message(client.sale_from_ping(&ping[..2]).await.expect_err("no sale id"));
    assert!(nothing.contains("sale_id is missing"), "{nothing}");
    assert_eq!(fake.calls("GET /v2/sales/{id}"), 2, "only the forged id was asked about");
}

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn rate_limits_and_outages_are_retried() {
    let (fake, client) = spawn_gumroad().await;
    fake.fail_next(Some(LIST), 1, GumroadFault::RateLimited { retry_after_secs: 3 });
    fake.fail_next(Some(LIST), 1, GumroadFault::BadGateway);
    let started = Instant::now();

    client.products().await.expect("answered on the third try");

    assert_eq!(fake.calls(LIST), 3);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "3 s, then a short back-off: {waited:?}"
    );

    fake.fail_next(None, 5, GumroadFault::BadGateway);
    let outage = client.products().await.expect_err("five 502s");
    assert!(outage.is_retryable() && outage.to_string().contains("502"), "{outage}");
    assert_eq!(client.circuit_state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_token_is_a_clear_rejection() {
    let fake = GumroadFake::start().await;
    let client = GumroadClient::with_settings(GumroadConnection::new(fake.base_url(), "gr_wrong_token"), settings())
        .expect("a valid connection");

    let error = client.products().await.expect_err("refused");

    assert!(rejected_message(error).contains("Gumroad refused the access token (401)"));
    assert_eq!(fake.refused_tokens(), 1, "not retried");
}

#[tokio::test(start_paused = true)]
async fn the_token_never_shows_in_debug_or_errors() {
    let fake = GumroadFake::start().await;
    let secret = "gr_sup3r_s3cret_t0ken_0123456789";
    let connection = GumroadConnection::new(fake.base_url(), secret);
    let client = GumroadClient::with_settings(connection.clone(), settings()).expect("valid");
    let refused = client.sales(None, None).await.expect_err("wrong token");
    drop(fake);
    // The token travels in the query string of a GET: a failed connection must not
    // quote the URL.
    let unreachable = client.sales(Some(date(1)), None).await.expect_err("nobody listens any more");
    assert!(unreachable.is_retryable(), "{unreachable:?}");

    let shown = format!(
        "{connection:?} {:?} {client:?} {:?} {refused} {refused:?} {unreachable} {unreachable:?}",
        connection.access_token,
        client.until(Instant::now() + Duration::from_secs(1)),
    );
    assert!(!shown.contains(secret) && !shown.contains("sup3r"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// The fake keeps to the protocol
// ---------------------------------------------------------------------------------------

async fn raw(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("the fake answers");
    (response.status().as_u16(), response.text().await.expect("a body"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test(start_paused = true)]
async fn the_fake_refuses_what_gumroad_would_refuse() {
    let fake = GumroadFake::start().await;
    let url = |path: &str| format!("{}{path}", fake.base_url());
    let with_token = |path: &str| {
        format!("{}{path}{}access_token={ACCESS_TOKEN}", fake.base_url(), if path.contains('?') { "&" } else { "?" })
    };
    let http = reqwest::Client::new();

    let (status, body) = raw(http.get(url("/v2/products"))).await;
    assert_eq!((status, body.as_str()), (401, ""), "Doorkeeper answers with no body");
    let (status, _) = raw(http.get(url("/v2/products")).bearer_auth(ACCESS_TOKEN)).await;
    assert_eq!(status, 200, "a Bearer header is a token too");
    let (status, body) = raw(http.get(with_token("/v2/customers"))).await;
    assert!(status == 404 && body.contains("doesn't exist"), "{status} {body}");

    let (status, body) = raw(http.get(with_token("/v2/sales?after=03%2F11%2F2026"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        json(&body)["error"],
        "Invalid date format provided in field 'after'. Dates must be in the format YYYY-MM-DD."
    );
    let (status, body) = raw(http.get(with_token("/v2/sales?colour=blue"))).await;
    assert_eq!((status, json(&body)["status"].clone()), (400, serde_json::json!(400)));

    let (status, body) = raw(http
        .post(with_token("/v2/products"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "name": "Kit" }).to_string()))
    .await;
    assert_eq!(status, 400, "{body}");
    let form = format!("access_token={ACCESS_TOKEN}&price=500");
    let (status, body) =
        raw(http.post(url("/v2/products")).header("content-type", "application/x-www-form-urlencoded").body(form))
            .await;
    let answer = json(&body);
    assert_eq!(
        (status, &answer["success"], &answer["message"]),
        (200, &serde_json::json!(false), &serde_json::json!("Name can't be blank"))
    );
    let (status, body) = raw(http.get(with_token("/v2/sales/nope"))).await;
    assert_eq!((status, json(&body)["message"].clone()), (200, serde_json::json!("The sale was not found.")));
    assert!(fake.products().is_empty());
}

// ---------------------------------------------------------------------------------------
// The seller and prices
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_seller_is_read_with_the_token() {
    let (fake, client) = spawn_gumroad().await;

    let seller = client.user().await.expect("the seller");

    assert_eq!(seller.user_id, SELLER_ID);
    assert_eq!(seller.url.as_deref(), Some("https://gumroad.com/focusandflow"));
    let stranger = GumroadClient::with_settings(GumroadConnection::new(fake.base_url(), "gr_wrong"), settings())
        .expect("a valid connection");
    let refused = rejected_message(stranger.user().await.expect_err("a wrong token"));
    assert!(refused.contains("(401)"), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_price_change_is_a_product_update_in_cents() {
    let (fake, client) = spawn_gumroad().await;
    let product = create(&client, "Prompt Pack", 2900).await;

    let changed = client.set_price(&product.id, 2500).await.expect("the new price");

    assert_eq!(changed.price_cents, 2500);
    assert_eq!(fake.products()[0].price, 2500);
    let update = fake.received().into_iter().find(|r| r.route == "PUT /v2/products/{id}").expect("the update");
    assert_eq!(field(&update.form, "price"), Some("2500"));
    let too_cheap = rejected_message(client.set_price(&product.id, 50).await.expect_err("under $0.99"));
    assert!(too_cheap.contains("at least $0.99"), "{too_cheap}");
}

// ---------------------------------------------------------------------------------------
// The account as the swarm's market
// ---------------------------------------------------------------------------------------

fn listing(price: Decimal) -> ProductListing {
    ProductListing {
        store_id: SELLER_ID.to_owned(),
        niche: "productivity".to_owned(),
        title: "Deep Work Planner".to_owned(),
        description: "A planner for focused weeks.".to_owned(),
        tags: vec!["planner".to_owned()],
        price,
        unit_cost: Decimal::new(100, 2),
    }
}

fn market(client: GumroadClient) -> GumroadMarket {
    GumroadMarket::new(TenantId(7), client, Arc::new(SandboxMarket::new(2026)))
}

#[tokio::test(start_paused = true)]
async fn the_market_lists_a_product_once_on_sale_and_reprices_it() {
    let (fake, client) = spawn_gumroad().await;
    let market = market(client);
    let tenant = TenantId(7);

    let store = market.create_store(tenant, "Focus & Flow", &key("store")).await.expect("the account");
    let first = market.list_product(tenant, &listing(Decimal::new(2900, 2)), &key("planner")).await.expect("listed");
    let again = market.list_product(tenant, &listing(Decimal::new(2900, 2)), &key("planner")).await.expect("again");
    market.set_price(tenant, &first.product_id, Decimal::new(2450, 2), &key("price")).await.expect("repriced");

    assert_eq!(store.store_id, SELLER_ID, "the store is the seller's account");
    assert_eq!(first, again, "the same key finds the same product");
    assert_eq!(fake.calls(CREATE), 1, "made once");
    let products = fake.products();
    assert_eq!(products.len(), 1);
    assert!(products[0].published, "on sale, not a draft");
    assert_eq!((products[0].name.as_str(), products[0].price), ("Deep Work Planner", 2450));
    assert!(first.url.starts_with("https://") && first.url.contains("deep-work-planner"), "{}", first.url);
    assert!(!market.advertises() && !market.is_simulated());
    assert_eq!(market.platform(), Platform::Gumroad);
    assert_eq!(market.circuit_state(), Some(CircuitState::Closed));
    let ads = CampaignSpec {
        product_id: first.product_id.clone(),
        channel: AdChannel::SearchAds,
        daily_budget: Decimal::TEN,
        days: 1,
        creative: Default::default(),
    };
    let refused = rejected_message(market.launch_campaign(tenant, &ads, &key("ads")).await.expect_err("no ads"));
    assert!(refused.contains("ad or social platform"), "{refused}");
    market.create_store(TenantId(8), "Other", &key("store")).await.expect_err("another business's account");
}

#[tokio::test(start_paused = true)]
async fn a_days_report_is_the_sellers_sales_between_the_marks() {
    let (fake, client) = spawn_gumroad().await;
    let market = market(client);
    let tenant = TenantId(7);
    let listed = market.list_product(tenant, &listing(Decimal::new(2900, 2)), &key("planner")).await.expect("listed");
    // Eleven sales today (two pages), one of them refunded, one from before the day
    // began, and one of a product the swarm did not list.
    for _ in 0..11 {
        fake.hold_sale(&listed.product_id, 2900, Utc::now());
    }
    let refunded = fake.hold_sale(&listed.product_id, 2900, Utc::now());
    fake.refund_sale(&refunded);
    fake.hold_sale(&listed.product_id, 2900, Utc::now() - chrono::Duration::days(2));
    fake.hold_sale("someone-elses-product", 900, Utc::now());

    market.advance(tenant, 1).await.expect("a day passes");
    let report = market.report(tenant, 0, 1).await.expect("the day's report");

    let planner = report.product(&listed.product_id).expect("the listed product");
    assert_eq!((report.today, report.platform), (1, Platform::Gumroad));
    assert_eq!(planner.units_sold, 12);
    assert_eq!(planner.gross_revenue, Decimal::new(12 * 2900, 2));
    assert_eq!((planner.refunded_units, planner.refunds), (1, Decimal::new(2900, 2)));
    assert_eq!(planner.payment_fees, Decimal::new(12 * 290, 2), "Gumroad's fee on each sale");
    assert_eq!(report.products.len(), 1, "only what the swarm listed");
    assert!(fake.calls("GET /v2/sales") >= 2, "both pages were read");
    let today = market.report(tenant, 1, 2).await.expect("today's report, not over yet");
    assert_eq!(today.units_sold(), 0);

    // A restarted process goes on counting from the saved state.
    let saved = market.export_state(tenant).await.expect("a state");
    let (_fake, client) = spawn_gumroad().await;
    let restarted = self::market(client);
    restarted.import_state(tenant, saved).await.expect("restored");
    assert_eq!(restarted.market_snapshot(tenant).await.expect("a snapshot").today, 1);
    restarted.import_state(tenant, serde_json::json!({ "day_starts": [], "listed": {} })).await.expect_err("no days");
}
