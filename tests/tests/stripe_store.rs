//! A business selling digital products through Stripe Connect (here a local server that
//! speaks Stripe's API as documented and refuses anything else): its owner opens a
//! Stripe account through payouts onboarding and switches the business to live; with
//! no Shopify shop, the autopilot lists its product as a Stripe product, price and
//! payment link whose payments go to the owner's account less the platform's fee; a
//! buyer's checkout, delivered signed, lands in the ledger as one revenue row and one
//! platform-fee row, moving the dashboard's revenue, however often it is delivered; a
//! cycle cut short after the listing resumes without a second product, price or link;
//! concurrent refund deliveries of one charge book exactly its final refunded total;
//! going live with nothing connected is a clear refusal.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, run_a_cycle_to_its_end, spawn_app_with};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;
use support::stripe_fake::{SECRET_KEY, StripeFake, StripeFault};

const WEBHOOK_SECRET: &str = "whsec_stripe_store_story";
const PRODUCTS: &str = "POST /v1/products";
const PRICES: &str = "POST /v1/prices";
const LINKS: &str = "POST /v1/payment_links";

async fn spawn_app(backends: Backends, stripe: &StripeFake) -> TestApp {
    spawn_app_with(
        backends,
        &[
            ("DEMO_TENANT", "false"),
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", stripe.base_url()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await
}

/// A pro owner (the platform keeps 7 % of each sale) and their business.
async fn owner_with_business(app: &TestApp) -> (Caller, i64) {
    let owner = app.new_account_on("ada@example.com", Tier::Pro).await;
    let created =
        owner.post("/api/business/create", &json!({ "name": "Focus & Flow", "personality": "hustlebot" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    (owner, created.body["id"].as_i64().expect("business id"))
}

/// Opens the business's Stripe account through payouts onboarding; its id.
async fn open_stripe_account(app: &TestApp, owner: &Caller, business: i64) -> String {
    let return_url = format!("{}/app?business={business}", app.address);
    let opened =
        owner.post(&format!("/api/business/{business}/stripe/onboard"), &json!({ "return_url": return_url })).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    opened.body["account"].as_str().expect("an account").to_owned()
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

/// A Stripe delivery, signed as Stripe signs: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
async fn deliver(app: &TestApp, event: &Value) -> ApiResponse {
    let body = serde_json::to_vec(event).expect("JSON");
    let now = Utc::now().timestamp();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{now}.").as_bytes());
    mac.update(&body);
    let signature = format!("t={now},v1={}", hex::encode(mac.finalize().into_bytes()));
    let response = app
        .client
        .post(format!("{}/webhooks/stripe", app.address))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("delivered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    ApiResponse { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
}

/// The business's Stripe ledger rows: (transaction id, amount, category), oldest first.
async fn ledger_rows(app: &TestApp, business: i64) -> Vec<(Option<String>, Decimal, String)> {
    let to = Utc::now() + chrono::Duration::days(1);
    app.state
        .store
        .ledger_entries(TenantId(business), chrono::DateTime::<Utc>::MIN_UTC, to)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|entry| entry.source == "stripe")
        .map(|entry| (entry.transaction_id, entry.amount, entry.category))
        .collect()
}

async fn revenue(owner: &Caller, business: i64) -> Decimal {
    let path = format!("/api/finance/revenue?business_id={business}&from=2020-01-01T00:00:00Z");
    let answer = owner.get(&path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["revenue"].as_str().and_then(|text| text.parse().ok()).expect("revenue")
}

/// The objects of `kind` the fake holds.
fn count(stripe: &StripeFake, kind: &str) -> usize {
    stripe.objects(kind).len()
}

async fn a_business_on_stripe_lists_its_product_as_a_payment_link_and_books_each_sale_and_fee_once(backends: Backends) {
    // Arrange: an onboarded Stripe account, switched to live, and no shop.
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let (owner, business) = owner_with_business(&app).await;
    let account = open_stripe_account(&app, &owner, business).await;
    stripe.complete_onboarding(&account);
    let live = go(&owner, business, "live").await;
    assert_eq!((live.status, &live.body["market_mode"]), (200, &json!("live")), "{}", live.body);

    // Act: the autopilot's first cycle.
    let first = run_a_cycle_to_its_end(&app, &owner, business).await;

    // Assert: one product, price and link, made by the platform, paying the account.
    assert!(ended_well(&first), "{:#?}", kinds(&first));
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"],
        json!({ "mode": "live", "platform": "stripe", "simulated": false, "circuit": "closed",
                "adapter": { "node": "market:stripe", "platform": "stripe", "state": "idle" } }),
        "the dashboard shows where the swarm acts, and the account's adapter actor"
    );
    assert_eq!(swarm.body["adapters"], json!(["market:stripe"]), "the account's adapter is a node of the graph");
    assert_eq!((stripe.calls(PRODUCTS), stripe.calls(PRICES), stripe.calls(LINKS)), (1, 1, 1));
    let (owner_of_link, link) = stripe.objects("payment_link").remove(0);
    assert_eq!(owner_of_link, None, "a destination charge is made by the platform");
    assert_eq!(link["transfer_data"]["destination"], json!(account));
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    let product = stripe.objects("product").remove(0).1;
    assert_eq!(products[0].external_id.as_deref(), product["id"].as_str(), "the row points at Stripe's product");
    let price = stripe.objects("price").remove(0).1;
    let cents = price["unit_amount"].as_i64().expect("an amount");
    assert_eq!(Decimal::new(cents, 2), products[0].price, "at the swarm's price");
    let fee = link["application_fee_amount"].as_i64().expect("a fee");
    assert_eq!(fee, (cents * 7 + 50) / 100, "the pro tier's 7 %, rounded half up");
    assert!(ledger_rows(&app, business).await.is_empty(), "no money before a buyer pays");
    let before = revenue(&owner, business).await;

    // Act: a buyer pays through the link; Stripe tells the platform, signed.
    let link_id = link["id"].as_str().expect("a link id");
    let purchase = stripe.buy(link_id);
    let completed = stripe
        .events()
        .into_iter()
        .rfind(|event| event["type"] == "checkout.session.completed")
        .expect("Stripe's event");
    assert!(completed.get("account").is_none(), "a destination charge's event is the platform's: {completed}");
    let delivered = deliver(&app, &completed).await;

    // Assert: one revenue row and one platform-fee row; the dashboard's revenue moved.
    assert_eq!((delivered.status, &delivered.body["duplicate"]), (200, &json!(false)), "{}", delivered.body);
    let paid_by = &purchase.payment_intent;
    let booked = [
        (Some(format!("stripe:{paid_by}")), Decimal::new(cents, 2), "revenue".to_owned()),
        (Some(format!("stripe:{paid_by}:application_fee")), Decimal::new(-fee, 2), "platform_fee".to_owned()),
    ];
    assert_eq!(ledger_rows(&app, business).await, booked);
    assert_eq!(revenue(&owner, business).await - before, Decimal::new(cents, 2));
    let expenses = owner.get(&format!("/api/finance/expenses?business_id={business}&from=2020-01-01T00:00:00Z")).await;
    assert_eq!(
        expenses.body["by_category"]["platform_fee"],
        json!(Decimal::new(-fee, 2).to_string()),
        "{}",
        expenses.body
    );

    // A replay, and the same payment in a delivery of its own: nothing more.
    let replay = deliver(&app, &completed).await;
    assert_eq!((replay.status, &replay.body["duplicate"]), (200, &json!(true)));
    let mut again = completed.clone();
    again["id"] = json!("evt_resent_by_hand");
    assert_eq!(deliver(&app, &again).await.status, 200);
    assert_eq!(ledger_rows(&app, business).await, booked, "a payment is booked once, with its fee once");

    // Its refund happens on the platform's account too, and finds the business by the
    // payment it refunds.
    let refund = json!({
        "id": "evt_refund_1", "object": "event", "type": "charge.refunded", "created": Utc::now().timestamp(),
        "livemode": false,
        "data": { "object": { "id": purchase.charge, "object": "charge", "amount": cents, "amount_refunded": cents,
                              "currency": "usd", "payment_intent": paid_by, "metadata": {} } },
    });
    assert_eq!(deliver(&app, &refund).await.status, 200);
    let rows = ledger_rows(&app, business).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[2].1, rows[2].2.as_str()), (Decimal::new(-cents, 2), "refund"));
}

async fn a_cycle_cut_short_after_the_listing_resumes_without_a_second_product_price_or_link(backends: Backends) {
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let (owner, business) = owner_with_business(&app).await;
    let account = open_stripe_account(&app, &owner, business).await;
    assert_eq!(go(&owner, business, "live").await.status, 200, "an account is enough to go live");

    // Before onboarding is finished the account cannot take charges: the cycle stops
    // there, saying so, with nothing made.
    let early = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(!ended_well(&early), "{:#?}", kinds(&early));
    let why = &early.last().expect("an event").summary;
    assert!(why.contains("onboarding"), "the failure says why: {why}");
    assert_eq!(count(&stripe, "product"), 0);

    // Onboarded; the product and its price are made, then Stripe fails the link (and
    // says not to retry): the cycle stops after the listing began.
    stripe.complete_onboarding(&account);
    stripe.fail_next(Some(LINKS), 1, StripeFault::ServerError { should_retry: Some(false) });
    let failed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    assert_eq!((count(&stripe, "product"), count(&stripe, "price"), count(&stripe, "payment_link")), (1, 1, 0));

    // The next cycle resumes the listing with the same keys: Stripe replays the product
    // and the price, and the link is made once.
    let resumed = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&resumed), "{:#?}", kinds(&resumed));
    assert!(resumed.iter().any(|event| event.kind == "cycle.resumed"), "{:#?}", kinds(&resumed));
    assert_eq!((count(&stripe, "product"), count(&stripe, "price"), count(&stripe, "payment_link")), (1, 1, 1));
    assert_eq!(
        (stripe.calls(PRODUCTS), stripe.calls(PRICES), stripe.calls(LINKS), stripe.replays()),
        (2, 2, 2, 2),
        "the product and the price sent again and replayed, the link made on its second try"
    );
    let products = app.state.store.products(TenantId(business)).await.expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].external_id.as_deref(), stripe.objects("product")[0].1["id"].as_str());
}

async fn eight_concurrent_refund_deliveries_of_a_charge_book_exactly_its_final_total(backends: Backends) {
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let (owner, business) = owner_with_business(&app).await;
    let account = open_stripe_account(&app, &owner, business).await;

    // For each of several charges, eight refunds, each delivery saying all refunded on
    // the charge so far; all of them at once, in no particular order.
    const CHARGES: i64 = 4;
    let deliveries = (0..CHARGES).flat_map(|charge| (1..=8).map(move |step| (charge, step))).map(|(charge, step)| {
        let event = json!({
            "id": format!("evt_refund_{charge}_{step}"), "object": "event", "type": "charge.refunded",
            "account": account, "created": Utc::now().timestamp(), "livemode": false,
            "data": { "object": { "id": format!("ch_race_{charge}"), "object": "charge", "amount": 10_000,
                                  "amount_refunded": 1_000 * step, "currency": "usd",
                                  "payment_intent": format!("pi_race_{charge}"), "metadata": {} } },
        });
        let app = &app;
        async move { deliver(app, &event).await }
    });
    let answers = futures::future::join_all(deliveries).await;

    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    let rows = ledger_rows(&app, business).await;
    for charge in 0..CHARGES {
        let series = format!("stripe:ch_race_{charge}:refunded:");
        let refunded: Decimal =
            rows.iter().filter(|row| row.0.as_deref().is_some_and(|id| id.starts_with(&series))).map(|row| row.1).sum();
        assert_eq!(refunded, Decimal::new(-8_000, 2), "charge {charge}: its final total, booked once: {rows:?}");
    }
    let events = app.state.store.events_after(TenantId(business), 0, 10_000).await.expect("events");
    let impact: Decimal =
        events.iter().filter(|event| event.kind == "stripe.refund").filter_map(|event| event.revenue_impact).sum();
    assert_eq!(impact, Decimal::new(-8_000 * CHARGES, 2), "and the dashboard's money moved by as much");
}

async fn going_live_with_neither_a_shop_nor_a_stripe_account_is_a_clear_refusal(backends: Backends) {
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let (owner, business) = owner_with_business(&app).await;

    let refused = go(&owner, business, "live").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let why = refused.body["error"]["fields"]["market_mode"].as_str().expect("on market_mode");
    assert!(why.contains("/api/stores/connect") && why.contains("/stripe/onboard"), "both ways to connect: {why}");

    // With a Stripe account, live is allowed; a dry run still rehearses a shop only.
    open_stripe_account(&app, &owner, business).await;
    let rehearsal = go(&owner, business, "dry_run").await;
    assert_eq!(rehearsal.status, 422, "{}", rehearsal.body);
    let why = rehearsal.body["error"]["fields"]["market_mode"].as_str().expect("on market_mode");
    assert!(why.contains("Shopify"), "{why}");
    let live = go(&owner, business, "live").await;
    assert_eq!((live.status, &live.body["market_mode"]), (200, &json!("live")), "{}", live.body);
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    a_business_on_stripe_lists_its_product_as_a_payment_link_and_books_each_sale_and_fee_once,
    a_cycle_cut_short_after_the_listing_resumes_without_a_second_product_price_or_link,
    eight_concurrent_refund_deliveries_of_a_charge_book_exactly_its_final_total,
    going_live_with_neither_a_shop_nor_a_stripe_account_is_a_clear_refusal,
}
