//! A business on a real shop: its owner connects a Shopify shop (here a local server
//! that speaks the GraphQL Admin API as documented and refuses anything else), switches
//! the business from the sandbox to live, and the autopilot lists its product there;
//! the shop's paid orders arrive as signed webhooks and land in the ledger once each,
//! moving the dashboard's revenue; a cycle cut short after the listing resumes without
//! a second listing; a dry run shows every call it would make and sends none; a wrong
//! token, a silent shop, a shop another business has, and going live with no shop are
//! refused with clear answers.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, run_a_cycle_to_its_end, spawn_app_with};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;
use support::shopify_fake::{Fault, HeldOrder, ShopifyFake, TOKEN};

const SHOPIFY_SECRET: &str = "shpss_webhook_secret_for_tests";
/// The domain the fake shop answers with.
const SHOP_DOMAIN: &str = "focus-and-flow.myshopify.com";

async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET)]).await
}

async fn connect(owner: &Caller, business: i64, store_url: &str, token: &str) -> ApiResponse {
    owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "shopify", "store_url": store_url,
                     "credentials": { "access_token": token } }),
        )
        .await
}

async fn go(owner: &Caller, business: i64, mode: &str) -> ApiResponse {
    owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": mode })).await
}

fn ended_well(events: &[SwarmEvent]) -> bool {
    events.last().is_some_and(|event| event.kind == "ceo.report")
}

fn kinds(events: &[SwarmEvent]) -> Vec<(&str, &str)> {
    events.iter().map(|event| (event.kind.as_str(), event.summary.as_str())).collect()
}

/// A Shopify delivery, signed as Shopify signs: base64 HMAC-SHA256 of the raw body.
async fn deliver(app: &TestApp, topic: &str, shop: &str, webhook_id: &str, body: &Value) -> ApiResponse {
    let body = serde_json::to_vec(body).expect("JSON");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SHOPIFY_SECRET.as_bytes()).expect("any key length");
    mac.update(&body);
    let signature = BASE64.encode(mac.finalize().into_bytes());
    let response = app
        .client
        .post(format!("{}/webhooks/shopify", app.address))
        .header("Content-Type", "application/json")
        .header("X-Shopify-Hmac-Sha256", signature)
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Shop-Domain", shop)
        .header("X-Shopify-Webhook-Id", webhook_id)
        .body(body)
        .send()
        .await
        .expect("delivered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    ApiResponse { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
}

/// An `orders/paid` body as Shopify sends it (REST-shaped), for one unit of `product`.
fn paid_order(number: u64, product_gid: &str, price: &str) -> Value {
    let product = product_gid.rsplit('/').next().and_then(|id| id.parse::<u64>().ok()).expect("a numeric id");
    json!({
        "id": number,
        "admin_graphql_api_id": format!("gid://shopify/Order/{number}"),
        "name": format!("#{}", 1000 + number % 1000),
        "currency": "USD",
        "financial_status": "paid",
        "total_price": price,
        "created_at": Utc::now().to_rfc3339(),
        "line_items": [{ "product_id": product, "quantity": 1, "price": price, "title": "Planner" }],
        "refunds": [],
    })
}

async fn ledger_rows(app: &TestApp, business: i64) -> Vec<(Option<String>, Decimal, String)> {
    let from = chrono::DateTime::<Utc>::MIN_UTC;
    let to = Utc::now() + chrono::Duration::days(1);
    app.state
        .store
        .ledger_entries(TenantId(business), from, to)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|entry| entry.source == "shopify")
        .map(|entry| (entry.transaction_id, entry.amount, entry.category))
        .collect()
}

async fn revenue(owner: &Caller, business: i64) -> Decimal {
    let path = format!("/api/finance/revenue?business_id={business}&from=2020-01-01T00:00:00Z");
    let answer = owner.get(&path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["revenue"].as_str().and_then(|text| text.parse().ok()).expect("revenue")
}

async fn a_connected_shop_gets_its_product_from_the_autopilot_and_its_orders_in_the_ledger(backends: Backends) {
    // Arrange: a shop, connected and switched to live.
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let connected = connect(&owner, business, shop.base_url(), TOKEN).await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert_eq!(connected.body["credentials"], "stored", "the token never comes back");
    let live = go(&owner, business, "live").await;
    assert_eq!((live.status, &live.body["market_mode"]), (200, &json!("live")), "{}", live.body);

    // Act: the autopilot's first cycle.
    let first = run_a_cycle_to_its_end(&app, &owner, business).await;
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"],
        json!({ "mode": "live", "platform": "shopify", "simulated": false, "circuit": "closed", "channels": [],
                "adapter": { "node": "market:shopify", "platform": "shopify", "state": "idle" } }),
        "the dashboard shows where the swarm acts, and its adapter actor"
    );
    assert_eq!(swarm.body["adapters"], json!(["market:shopify"]), "the shop's adapter is a node of the swarm graph");
    assert_eq!(swarm.body["adapter_states"], json!({ "market:shopify": "idle" }));

    // Assert: the product is on the shop, listed once, and is the business's product.
    assert!(ended_well(&first), "{:#?}", kinds(&first));
    let listed = shop.products();
    assert_eq!(listed.len(), 1, "one product on the shop");
    assert_eq!(shop.calls("productCreate"), 1);
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].external_id.as_deref(), Some(listed[0].id.as_str()), "the row points at the shop's product");
    assert_eq!(listed[0].title, products[0].title);
    assert_eq!(listed[0].variants[0].price, products[0].price, "at the swarm's price");
    assert!(listed[0].tags.iter().any(|tag| tag.starts_with("boardroom-key:")), "{:?}", listed[0].tags);
    let minutes = owner.get(&format!("/api/business/{business}/reports?limit=1")).await.body;
    let minutes = minutes["items"][0]["minutes"].as_str().expect("minutes").to_owned();
    assert!(minutes.contains("no ad or social platform is connected"), "{minutes}");
    assert!(ledger_rows(&app, business).await.is_empty(), "no money before the shop takes an order");
    let before = revenue(&owner, business).await;

    // Act: the shop takes an order and tells us, signed.
    let order = paid_order(555, &listed[0].id, "29.00");
    let delivered = deliver(&app, "orders/paid", SHOP_DOMAIN, "delivery-1", &order).await;

    // Assert: one ledger row, the dashboard's revenue moved, an event on the feed.
    assert_eq!((delivered.status, &delivered.body["duplicate"]), (200, &json!(false)), "{}", delivered.body);
    let rows = ledger_rows(&app, business).await;
    assert_eq!(
        rows,
        [(Some("shopify:gid://shopify/Order/555".to_owned()), Decimal::new(2900, 2), "revenue".to_owned())]
    );
    assert_eq!(revenue(&owner, business).await - before, Decimal::new(2900, 2));
    let events = app.state.store.events_after(TenantId(business), 0, 10_000).await.expect("events");
    let paid: Vec<_> = events.iter().filter(|event| event.kind == "shopify.order_paid").collect();
    assert_eq!(paid.len(), 1);
    let adapter_lifecycle: Vec<_> =
        events.iter().filter(|event| event.kind.starts_with("adapter.")).map(|event| event.kind.as_str()).collect();
    assert_eq!(adapter_lifecycle, ["adapter.started"], "the cycle's first call started the shop's adapter, once");
    for event in &events {
        let written = format!("{} {}", event.summary, event.data);
        assert!(!written.contains(TOKEN), "the shop's token reached the event log: {written}");
    }
    assert_eq!(paid[0].revenue_impact, Some(Decimal::new(2900, 2)), "the charts' money");

    // A replay, and the same order in another delivery: still one row.
    let replay = deliver(&app, "orders/paid", SHOP_DOMAIN, "delivery-1", &order).await;
    assert_eq!((replay.status, &replay.body["duplicate"]), (200, &json!(true)));
    let again = deliver(&app, "orders/paid", SHOP_DOMAIN, "delivery-2", &order).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(ledger_rows(&app, business).await.len(), 1, "an order is booked once");

    // A refund books the money back, once.
    let refund = json!({ "id": 77, "admin_graphql_api_id": "gid://shopify/Refund/77", "order_id": 555,
                         "created_at": Utc::now().to_rfc3339(),
                         "transactions": [{ "kind": "refund", "status": "success", "amount": "29.00" }] });
    assert_eq!(deliver(&app, "refunds/create", SHOP_DOMAIN, "delivery-3", &refund).await.status, 200);
    assert_eq!(deliver(&app, "refunds/create", SHOP_DOMAIN, "delivery-4", &refund).await.status, 200);
    let rows = ledger_rows(&app, business).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].1, Decimal::new(-2900, 2));

    // A shop no business connected: acknowledged, recorded nowhere.
    let stranger = deliver(
        &app,
        "orders/paid",
        "someone-else.myshopify.com",
        "delivery-5",
        &paid_order(556, &listed[0].id, "9.00"),
    )
    .await;
    assert_eq!((stranger.status, &stranger.body["received"]), (200, &json!(true)));
    assert_eq!(ledger_rows(&app, business).await.len(), 2);

    // The next cycle reads the day's orders from the shop for its decisions and
    // minutes, and books nothing itself (the deliveries did).
    shop.hold_order(HeldOrder {
        created_at: Utc::now(),
        total: Decimal::new(2900, 2),
        refunded: Decimal::ZERO,
        lines: vec![(Some(listed[0].id.clone()), 1, Decimal::new(2900, 2))],
    });
    let second = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&second), "{:#?}", kinds(&second));
    assert!(shop.calls("orders") >= 1, "the day's orders were read from the shop");
    let report = owner.get(&format!("/api/business/{business}/reports?limit=1")).await.body;
    assert_eq!(report["items"][0]["data"]["outcome"]["units"], 1, "{}", report["items"][0]["data"]);
    assert_eq!(ledger_rows(&app, business).await.len(), 2, "the cycle booked no second copy of the shop's money");
    assert_eq!(shop.calls("productCreate"), 1, "still one listing");

    // The owner syncs: the shop as it is now, labelled live.
    let synced = owner.post("/api/stores/sync", &json!({ "business_id": business })).await;
    assert_eq!(synced.status, 200, "{}", synced.body);
    assert_eq!((&synced.body["figures"], &synced.body["simulated"]), (&json!("live"), &json!(false)));
    assert_eq!(synced.body["shop"]["products"], 1, "{}", synced.body["shop"]);
    assert_eq!((&synced.body["shop"]["orders"], &synced.body["shop"]["revenue"]), (&json!(1), &json!("29.00")));
    assert_eq!(synced.body["stores"][0]["credentials"], "ok");
    let analytics = owner.get(&format!("/api/stores/analytics?business_id={business}")).await;
    assert_eq!((analytics.status, &analytics.body["figures"]), (200, &json!("live")), "{}", analytics.body);
}

async fn a_cycle_cut_short_after_the_listing_resumes_without_a_second_listing(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    assert_eq!(connect(&owner, business, shop.base_url(), TOKEN).await.status, 201);
    assert_eq!(go(&owner, business, "live").await.status, 200);

    // The product is created, then pricing it is refused (a scope the app lacked for a
    // moment): the cycle stops there, after the listing.
    shop.fail_next(Some("productVariantsBulkUpdate"), 1, Fault::AccessDenied);
    let failed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    assert_eq!(shop.products().len(), 1, "the product was made before the failure");

    // The next cycle resumes the listing step: it finds the product by its key.
    let resumed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&resumed), "{:#?}", kinds(&resumed));
    assert!(resumed.iter().any(|event| event.kind == "cycle.resumed"), "{:#?}", kinds(&resumed));
    assert_eq!(shop.calls("productCreate"), 1, "listed once, across the failure");
    assert_eq!(shop.products().len(), 1);
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(shop.products()[0].variants[0].price, products[0].price, "and priced as the swarm decided");
}

async fn a_shop_that_keeps_failing_opens_its_circuit_and_the_dashboard_shows_it(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    assert_eq!(connect(&owner, business, shop.base_url(), TOKEN).await.status, 201);
    assert_eq!(go(&owner, business, "live").await.status, 200);

    // Five outages in a row: the call is retried, then the circuit opens.
    shop.fail_next(None, 5, Fault::ServerError);
    let failed = run_a_cycle_to_its_end(&app, &owner, business).await;

    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    let why = &failed.last().expect("an event").summary;
    assert!(why.contains("Shopify answered 500"), "the failure says why: {why}");
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(swarm.body["market"]["circuit"], "open", "{}", swarm.body["market"]);
    assert_eq!(swarm.body["market"]["adapter"]["state"], "circuit_open", "{}", swarm.body["market"]);
    assert_eq!(swarm.body["adapter_states"], json!({ "market:shopify": "circuit_open" }), "the graph's node shows it");
    assert!(shop.calls("productCreate") <= 1, "nothing was listed twice while it failed");
}

async fn a_dry_run_shows_every_call_it_would_make_and_sends_none(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    assert_eq!(connect(&owner, business, shop.base_url(), TOKEN).await.status, 201);
    let calls_after_connecting = shop.received().len();
    let rehearsal = go(&owner, business, "dry_run").await;
    assert_eq!(rehearsal.body["market_mode"], "dry_run", "{}", rehearsal.body);

    let events = run_a_cycle_to_its_end(&app, &owner, business).await;

    assert!(ended_well(&events), "{:#?}", kinds(&events));
    let planned: Vec<&SwarmEvent> = events.iter().filter(|event| event.kind == "dry_run.call").collect();
    let listing = planned.iter().find(|event| event.data["operation"] == "list_product").expect("the listing, planned");
    assert!(listing.summary.starts_with("Dry run: would list "), "{}", listing.summary);
    assert_eq!(listing.data["sent"], false);
    let bodies = listing.data["requests"].as_array().expect("requests");
    assert!(
        bodies.iter().any(|body| body["query"].as_str().is_some_and(|q| q.contains("productCreate"))),
        "{listing:?}"
    );
    let product = app.state.store.products(TenantId(business)).await.expect("products").remove(0);
    let create =
        bodies.iter().find(|body| body["query"].as_str().is_some_and(|q| q.contains("productCreate"))).expect("create");
    assert_eq!(create["variables"]["product"]["title"], json!(product.title), "the body it would send");
    assert_eq!(shop.received().len(), calls_after_connecting, "nothing was sent to the shop");
    assert!(shop.products().is_empty());
}

async fn going_live_needs_a_connected_shop(backends: Backends) {
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    for mode in ["live", "dry_run"] {
        let refused = go(&owner, business, mode).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(
            refused.body["error"]["fields"]["market_mode"].as_str().is_some_and(|m| m.contains("connect")),
            "{}",
            refused.body
        );
    }
    let unknown = go(&owner, business, "real_money").await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let sandbox = go(&owner, business, "sandbox").await;
    assert_eq!((sandbox.status, &sandbox.body["market_mode"]), (200, &json!("sandbox")));
    let shown = owner.get(&format!("/api/business/{business}")).await;
    assert_eq!(shown.body["market_mode"], "sandbox", "the default");
}

async fn a_wrong_token_or_a_silent_shop_is_a_clear_refusal(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;

    let wrong = connect(&owner, business, shop.base_url(), "shpat_not_the_token").await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let problem = wrong.body["error"]["fields"]["credentials"].as_str().expect("on credentials");
    assert!(problem.contains("401"), "{problem}");
    assert!(!wrong.raw.windows(11).any(|w| w == b"shpat_not_t"), "the token is not echoed: {}", wrong.body);

    // A port nothing listens on.
    let silent = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("address");
        drop(listener);
        format!("http://{address}")
    };
    let nobody = connect(&owner, business, &silent, TOKEN).await;
    assert_eq!(nobody.status, 422, "{}", nobody.body);
    assert!(
        nobody.body["error"]["fields"]["store_url"].as_str().is_some_and(|p| p.contains("did not answer")),
        "{}",
        nobody.body
    );

    let no_token = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "shopify", "store_url": shop.base_url(),
                     "credentials": { "api_key": TOKEN } }),
        )
        .await;
    assert_eq!(no_token.status, 422, "{}", no_token.body);
    let unknown = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "amazon", "store_url": shop.base_url(),
                     "credentials": { "access_token": TOKEN } }),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was kept");

    // One shop, one business.
    assert_eq!(connect(&owner, business, shop.base_url(), TOKEN).await.status, 201);
    let (other_owner, other) = app.owner_with_business("bob@example.com", Tier::Enterprise, "Focus & Flow").await;
    let taken = connect(&other_owner, other, shop.base_url(), TOKEN).await;
    assert_eq!((taken.status, taken.error_code()), (409, "account_taken"), "{}", taken.body);
}

async fn eight_businesses_connecting_one_shop_at_once_leave_it_with_exactly_one(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let app = spawn_app(backends).await;
    // Eight businesses (of one owner: sign-ups are rate limited per address).
    let (owner, first) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let mut owners = vec![(owner.clone(), first)];
    for i in 1..8 {
        let created = owner.post("/api/business/create", &json!({ "name": format!("Shop {i}") })).await;
        assert_eq!(created.status, 201, "{}", created.body);
        owners.push((owner.clone(), created.body["id"].as_i64().expect("business id")));
    }

    let answers = futures::future::join_all(
        owners.iter().map(|(owner, business)| connect(owner, *business, shop.base_url(), TOKEN)),
    )
    .await;

    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses.iter().filter(|&&status| status == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&status| status == 409).count(), 7, "{statuses:?}");
    for ((owner, business), answer) in owners.iter().zip(&answers) {
        let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
        let kept = listed.body["items"].as_array().map_or(0, Vec::len);
        let expected = usize::from(answer.status == 201);
        assert_eq!(kept, expected, "business {business} ({}) keeps {kept} stores", answer.status);
    }
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    a_connected_shop_gets_its_product_from_the_autopilot_and_its_orders_in_the_ledger,
    a_cycle_cut_short_after_the_listing_resumes_without_a_second_listing,
    a_shop_that_keeps_failing_opens_its_circuit_and_the_dashboard_shows_it,
    a_dry_run_shows_every_call_it_would_make_and_sends_none,
    going_live_needs_a_connected_shop,
    a_wrong_token_or_a_silent_shop_is_a_clear_refusal,
    eight_businesses_connecting_one_shop_at_once_leave_it_with_exactly_one,
}
