//! A business on Gumroad: its owner connects a Gumroad account (here a local server that
//! speaks Gumroad's v2 API as documented and refuses anything else), switches the
//! business to live, and the autopilot makes its product there and puts it on sale;
//! Gumroad's unsigned pings, posted to the business's secret URL, are re-fetched from
//! the API before anything is booked, so each sale lands in the ledger once and moves
//! the dashboard's revenue, a refund books the money back once, and a forged ping books
//! nothing; a cycle cut short after the listing resumes without a second product; a
//! wrong token and another business's account are refused with clear answers.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, run_a_cycle_to_its_end, spawn_app_with};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::gumroad_fake::{ACCESS_TOKEN, GumroadFake, GumroadFault, SELLER_ID};

const CREATE: &str = "POST /v2/products";
const ENABLE: &str = "PUT /v2/products/{id}/enable";

async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

async fn connect(owner: &Caller, business: i64, api_origin: &str, token: &str) -> ApiResponse {
    owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "gumroad", "store_url": api_origin,
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

/// A ping as Gumroad posts it: an unsigned form, to `path` on the app.
async fn ping(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> ApiResponse {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .expect("posted");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    ApiResponse { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
}

/// The fields of a ping for `sale_id`; the price says what a forger would like booked.
fn sale_ping<'a>(sale_id: &'a str, product_id: &'a str, price: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("seller_id", SELLER_ID),
        ("sale_id", sale_id),
        ("product_id", product_id),
        ("product_name", "Planner"),
        ("price", price),
        ("email", "buyer@example.com"),
        ("test", "false"),
    ]
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
        .filter(|entry| entry.source == "gumroad")
        .map(|entry| (entry.transaction_id, entry.amount, entry.category))
        .collect()
}

async fn revenue(owner: &Caller, business: i64) -> Decimal {
    let path = format!("/api/finance/revenue?business_id={business}&from=2020-01-01T00:00:00Z");
    let answer = owner.get(&path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["revenue"].as_str().and_then(|text| text.parse().ok()).expect("revenue")
}

async fn a_connected_gumroad_account_sells_the_autopilots_product_and_books_each_pinged_sale_once(backends: Backends) {
    // Arrange: a Gumroad account, connected and switched to live.
    let gumroad = GumroadFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let connected = connect(&owner, business, gumroad.base_url(), ACCESS_TOKEN).await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert_eq!((&connected.body["credentials"], &connected.body["account"]), (&json!("stored"), &json!(SELLER_ID)));
    let ping_path = connected.body["ping_path"].as_str().expect("the ping URL, shown once").to_owned();
    assert!(ping_path.starts_with("/webhooks/gumroad/"), "{ping_path}");
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"][0]["ping_path"], Value::Null, "the secret is not shown again");
    let rehearsal = go(&owner, business, "dry_run").await;
    assert_eq!(rehearsal.status, 422, "a dry run rehearses a shop: {}", rehearsal.body);
    assert!(rehearsal.body["error"]["fields"]["market_mode"].as_str().is_some_and(|m| m.contains("Shopify")));
    let live = go(&owner, business, "live").await;
    assert_eq!((live.status, &live.body["market_mode"]), (200, &json!("live")), "{}", live.body);

    // Act: the autopilot's first cycle.
    let first = run_a_cycle_to_its_end(&app, &owner, business).await;

    // Assert: one product, made once and on sale, is the business's product.
    assert!(ended_well(&first), "{:#?}", kinds(&first));
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"],
        json!({ "mode": "live", "platform": "gumroad", "simulated": false, "circuit": "closed", "channels": [],
                "adapter": { "node": "market:gumroad", "platform": "gumroad", "state": "idle" } }),
        "the dashboard shows where the swarm acts, and the account's adapter actor"
    );
    assert_eq!(swarm.body["adapters"], json!(["market:gumroad"]), "the account's adapter is a node of the graph");
    assert_eq!(gumroad.calls(CREATE), 1, "made once");
    let made = gumroad.products();
    assert_eq!(made.len(), 1);
    assert!(made[0].published, "on sale, not a draft");
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].external_id.as_deref(), Some(made[0].id.as_str()), "the row points at Gumroad's product");
    assert_eq!(
        (made[0].name.as_str(), Decimal::new(made[0].price as i64, 2)),
        (products[0].title.as_str(), products[0].price)
    );
    assert!(ledger_rows(&app, business).await.is_empty(), "no money before a sale");
    let before = revenue(&owner, business).await;

    // Act: a buyer pays; Gumroad pings the business's URL.
    let sale = gumroad.hold_sale(&made[0].id, 2900, Utc::now());
    let pinged = ping(&app, &ping_path, &sale_ping(&sale, &made[0].id, "2900")).await;

    // Assert: the sale was read back from Gumroad, booked once, and the dashboard moved.
    assert_eq!((pinged.status, &pinged.body["duplicate"]), (200, &json!(false)), "{}", pinged.body);
    assert_eq!(gumroad.calls("GET /v2/sales/{id}"), 1, "the ping was checked against the API");
    let sale_row = (Some(format!("gumroad:{sale}")), Decimal::new(2900, 2), "revenue".to_owned());
    assert_eq!(ledger_rows(&app, business).await, std::slice::from_ref(&sale_row));
    assert_eq!(revenue(&owner, business).await - before, Decimal::new(2900, 2));
    let events = app.state.store.events_after(TenantId(business), 0, 10_000).await.expect("events");
    let booked: Vec<_> = events.iter().filter(|event| event.kind == "gumroad.sale").collect();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].revenue_impact, Some(Decimal::new(2900, 2)), "the charts' money");

    // The same ping again: nothing new.
    let again = ping(&app, &ping_path, &sale_ping(&sale, &made[0].id, "2900")).await;
    assert_eq!((again.status, &again.body["duplicate"]), (200, &json!(true)), "{}", again.body);
    assert_eq!(ledger_rows(&app, business).await, std::slice::from_ref(&sale_row));

    // A forged ping, for a sale the seller does not have, at a price of its choosing:
    // acknowledged, booked nowhere.
    let forged = ping(&app, &ping_path, &sale_ping("Fk99999999999999999999Q==", &made[0].id, "999900")).await;
    assert_eq!(forged.status, 200, "{}", forged.body);
    assert_eq!(ledger_rows(&app, business).await, std::slice::from_ref(&sale_row), "a forged ping books nothing");

    // A URL no business has is acknowledged and recorded nowhere; one we never issue is
    // not found; a ping with no sale id is refused.
    let stranger = ping(&app, &format!("/webhooks/gumroad/{}", "A".repeat(43)), &sale_ping(&sale, "p", "1")).await;
    assert_eq!((stranger.status, &stranger.body["received"]), (200, &json!(true)), "{}", stranger.body);
    assert_eq!(ping(&app, "/webhooks/gumroad/short", &sale_ping(&sale, "p", "1")).await.status, 404);
    let empty = ping(&app, &ping_path, &[("price", "100")]).await;
    assert_eq!((empty.status, empty.error_code()), (400, "invalid_payload"), "{}", empty.body);
    assert_eq!(ledger_rows(&app, business).await.len(), 1);

    // The sale is refunded on Gumroad; its ping books the money back, once.
    gumroad.refund_sale(&sale);
    let refunded = ping(&app, &ping_path, &sale_ping(&sale, &made[0].id, "2900")).await;
    assert_eq!((refunded.status, &refunded.body["duplicate"]), (200, &json!(false)), "{}", refunded.body);
    assert_eq!(ping(&app, &ping_path, &sale_ping(&sale, &made[0].id, "2900")).await.body["duplicate"], true);
    let refund_row = (Some(format!("gumroad:{sale}:refund")), Decimal::new(-2900, 2), "refund".to_owned());
    assert_eq!(ledger_rows(&app, business).await, [sale_row, refund_row]);
    let finance = owner.get(&format!("/api/finance/revenue?business_id={business}&from=2020-01-01T00:00:00Z")).await;
    assert_eq!(finance.body["refunds"], json!("-29.00"), "the dashboard shows the money back: {}", finance.body);

    // The next cycle reads the day's sales from Gumroad for its minutes, and books
    // nothing itself (the pings did).
    let second = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&second), "{:#?}", kinds(&second));
    assert!(gumroad.calls("GET /v2/sales") >= 1, "the day's sales were read from Gumroad");
    assert_eq!(ledger_rows(&app, business).await.len(), 2);
    assert_eq!(gumroad.calls(CREATE), 1, "still one product");

    // The owner syncs: the account as it is now, labelled live.
    let synced = owner.post("/api/stores/sync", &json!({ "business_id": business })).await;
    assert_eq!((synced.status, &synced.body["figures"]), (200, &json!("live")), "{}", synced.body);
    let account = &synced.body["gumroad"];
    assert_eq!(
        [&account["products"], &account["published"], &account["sales"], &account["revenue"], &account["refunded"]],
        [&json!(1), &json!(1), &json!(1), &json!("29.00"), &json!("29.00")],
        "{account}"
    );
    assert_eq!(synced.body["stores"][0]["credentials"], "ok");
    let analytics = owner.get(&format!("/api/stores/analytics?business_id={business}")).await;
    assert_eq!((analytics.status, &analytics.body["figures"]), (200, &json!("live")), "{}", analytics.body);
}

async fn a_cycle_cut_short_after_the_listing_resumes_without_a_second_product(backends: Backends) {
    let gumroad = GumroadFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    assert_eq!(connect(&owner, business, gumroad.base_url(), ACCESS_TOKEN).await.status, 201);
    assert_eq!(go(&owner, business, "live").await.status, 200);

    // The product is made, then putting it on sale is refused (as Gumroad refuses, at
    // 200): the cycle stops there, after the listing.
    gumroad.fail_next(Some(ENABLE), 1, GumroadFault::SuccessFalse("You must verify your email to publish."));
    let failed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    assert_eq!(gumroad.products().len(), 1, "the product was made before the failure");
    assert!(!gumroad.products()[0].published);

    // The next cycle resumes the listing step: it finds the product by its key.
    let resumed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&resumed), "{:#?}", kinds(&resumed));
    assert!(resumed.iter().any(|event| event.kind == "cycle.resumed"), "{:#?}", kinds(&resumed));
    assert_eq!(gumroad.calls(CREATE), 1, "made once, across the failure");
    assert_eq!(gumroad.calls(ENABLE), 2, "put on sale by the resumed step");
    let made = gumroad.products();
    assert_eq!(made.len(), 1);
    assert!(made[0].published);
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].external_id.as_deref(), Some(made[0].id.as_str()));
}

async fn a_wrong_token_or_another_businesss_account_is_a_clear_refusal(backends: Backends) {
    let gumroad = GumroadFake::start().await;
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;

    let wrong = connect(&owner, business, gumroad.base_url(), "gr_not_the_token_at_all").await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let problem = wrong.body["error"]["fields"]["credentials"].as_str().expect("on credentials");
    assert!(problem.contains("401"), "{problem}");
    assert!(!wrong.raw.windows(11).any(|w| w == b"gr_not_the_"), "the token is not echoed: {}", wrong.body);

    // A port nothing listens on.
    let silent = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("address");
        drop(listener);
        format!("http://{address}")
    };
    let nobody = connect(&owner, business, &silent, ACCESS_TOKEN).await;
    assert_eq!(nobody.status, 422, "{}", nobody.body);
    assert!(
        nobody.body["error"]["fields"]["store_url"].as_str().is_some_and(|p| p.contains("did not answer")),
        "{}",
        nobody.body
    );
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was kept");
    let live = go(&owner, business, "live").await;
    assert_eq!(live.status, 422, "nothing to go live on: {}", live.body);

    // One account, one business.
    assert_eq!(connect(&owner, business, gumroad.base_url(), ACCESS_TOKEN).await.status, 201);
    let (other_owner, other) = app.owner_with_business("bob@example.com", Tier::Enterprise, "Focus & Flow").await;
    let taken = connect(&other_owner, other, gumroad.base_url(), ACCESS_TOKEN).await;
    assert_eq!((taken.status, taken.error_code()), (409, "account_taken"), "{}", taken.body);
    assert!(taken.body["error"]["message"].as_str().is_some_and(|m| m.contains("Gumroad account")), "{}", taken.body);
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    a_connected_gumroad_account_sells_the_autopilots_product_and_books_each_pinged_sale_once,
    a_cycle_cut_short_after_the_listing_resumes_without_a_second_product,
    a_wrong_token_or_another_businesss_account_is_a_clear_refusal,
}
