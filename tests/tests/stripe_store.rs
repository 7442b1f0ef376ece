//! A business selling digital products through Stripe Connect (here a local server that
//! speaks Stripe's API as documented and refuses anything else): its owner opens a
//! Stripe account through payouts onboarding and switches the business to live; with
//! no Shopify shop, the autopilot lists its product as a Stripe product, price and
//! payment link whose payments go to the owner's account less the platform's fee; a
//! buyer's checkout, delivered signed, lands in the ledger as one revenue row and one
//! platform-fee row, moving the dashboard's revenue, however often it is delivered; a
//! cycle cut short after the listing resumes without a second product, price or link;
//! concurrent refund deliveries of one charge book exactly its final refunded total;
//! going live with nothing connected is a clear refusal; the owner refunds a buyer
//! through Boardroom within the spending guard (a larger refund waits for approval, the
//! refunds-a-day cap holds against eight requests at once).

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
const REFUNDS: &str = "POST /v1/refunds";

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
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Pro, "Focus & Flow").await;
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
        json!({ "mode": "live", "platform": "stripe", "simulated": false, "circuit": "closed", "channels": [],
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
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Pro, "Focus & Flow").await;
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
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Pro, "Focus & Flow").await;
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

/// A live business on Stripe whose product a buyer has bought, the checkout delivered:
/// the app, the owner, the business, the buyer's payment intent and what it paid in cents.
async fn a_sale_on_stripe(backends: Backends, stripe: &StripeFake) -> (TestApp, Caller, i64, String, i64) {
    let app = spawn_app(backends, stripe).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Pro, "Focus & Flow").await;
    let account = open_stripe_account(&app, &owner, business).await;
    stripe.complete_onboarding(&account);
    assert_eq!(go(&owner, business, "live").await.status, 200);
    let cycle = run_a_cycle_to_its_end(&app, &owner, business).await;
    assert!(ended_well(&cycle), "{:#?}", kinds(&cycle));
    let (_, link) = stripe.objects("payment_link").remove(0);
    let purchase = stripe.buy(link["id"].as_str().expect("a link id"));
    let completed = stripe.events().into_iter().rfind(|event| event["type"] == "checkout.session.completed");
    assert_eq!(deliver(&app, &completed.expect("Stripe's event")).await.status, 200);
    let paid = stripe.objects("price").remove(0).1["unit_amount"].as_i64().expect("an amount");
    (app, owner, business, purchase.payment_intent, paid)
}

async fn set_guard(owner: &Caller, business: i64, refunds_per_day: &str, approval_threshold: &str) {
    let guard = json!({ "refunds_per_day": refunds_per_day, "approval_threshold": approval_threshold });
    let set = owner.put(&format!("/api/business/{business}/guard"), &guard).await;
    assert_eq!(set.status, 200, "{}", set.body);
}

async fn ask_refund(owner: &Caller, business: i64, payment: &str, amount: &str) -> ApiResponse {
    let request = json!({ "payment_intent": payment, "amount": amount });
    owner.post(&format!("/api/business/{business}/refunds"), &request).await
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

async fn event_kinds(app: &TestApp, business: i64) -> Vec<String> {
    app.state.events.flush().await.expect("the event log is open");
    let events = app.state.store.events_after(TenantId(business), 0, 10_000).await.expect("events");
    events.into_iter().map(|event| event.kind).collect()
}

async fn an_owner_refunds_a_buyer_within_the_guard_and_a_larger_refund_waits_for_approval(backends: Backends) {
    let stripe = StripeFake::start().await;
    let (app, owner, business, payment, paid) = a_sale_on_stripe(backends, &stripe).await;
    assert!(paid >= 200, "a product dearer than the refunds below: {paid}");
    set_guard(&owner, business, "1.00", "0.60").await;

    // Within the threshold: refunded at once, reversing the transfer and the fee.
    let first = ask_refund(&owner, business, &payment, "0.40").await;
    assert_eq!((first.status, &first.body["outcome"]), (201, &json!("refunded")), "{}", first.body);
    assert_eq!(first.body["refund"]["amount"], json!(40));
    assert_eq!(first.body["approval"]["status"], json!("done"));
    assert_eq!(stripe.calls(REFUNDS), 1);
    let sent = stripe.last(REFUNDS);
    assert_eq!(
        ["payment_intent", "amount", "reverse_transfer", "refund_application_fee"]
            .map(|name| field(&sent.fields, name)),
        [Some(payment.as_str()), Some("40"), Some("true"), Some("true")],
        "a destination charge's refund takes the money back from the business and the fee from the platform"
    );
    assert!(sent.idempotency_key.is_some(), "keyed, so a retry refunds once");

    // The same refund asked again is the same refund: nothing new is sent.
    let again = ask_refund(&owner, business, &payment, "0.40").await;
    assert_eq!((again.status, &again.body["refund"]["id"]), (200, &first.body["refund"]["id"]), "{}", again.body);
    assert_eq!(stripe.calls(REFUNDS), 1);

    // Stripe's delivery of it books it in the ledger.
    let refunded = stripe.events().into_iter().rfind(|event| event["type"] == "charge.refunded").expect("an event");
    assert_eq!(deliver(&app, &refunded).await.status, 200);
    let rows = ledger_rows(&app, business).await;
    let booked: Decimal = rows.iter().filter(|row| row.2 == "refund").map(|row| row.1).sum();
    assert_eq!(booked, Decimal::new(-40, 2), "{rows:?}");

    // Above the threshold it waits; approved, it would pass the day's cap, so it is not sent.
    let larger = ask_refund(&owner, business, &payment, "0.70").await;
    assert_eq!((larger.status, &larger.body["outcome"]), (202, &json!("awaiting_approval")), "{}", larger.body);
    let approval = larger.body["approval"]["id"].as_i64().expect("an approval id");
    let approved = owner.post(&format!("/api/approvals/{approval}/approve"), &json!({})).await;
    assert_eq!((approved.status, &approved.body["error"]["code"]), (409, &json!("over_cap")), "{}", approved.body);
    assert_eq!(stripe.calls(REFUNDS), 1, "nothing sent over the cap");
    let kinds = event_kinds(&app, business).await;
    assert!(kinds.contains(&"guard.approval_requested".to_owned()) && kinds.contains(&"guard.refused".to_owned()));

    // What is left of the day's cap can still be refunded; beyond the whole cap, refused at once.
    let rest = ask_refund(&owner, business, &payment, "0.50").await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(stripe.calls(REFUNDS), 2);
    let whole = ask_refund(&owner, business, &payment, "1.01").await;
    assert_eq!((whole.status, &whole.body["error"]["code"]), (409, &json!("over_cap")), "{}", whole.body);

    // A payment that is not the business's, more than was paid, less than a cent.
    let unknown = ask_refund(&owner, business, "pi_not_ours", "0.10").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let too_much = ask_refund(&owner, business, &payment, &Decimal::new(paid + 1, 2).to_string()).await;
    assert_eq!(too_much.status, 422, "{}", too_much.body);
    let nothing = ask_refund(&owner, business, &payment, "0.001").await;
    assert_eq!(nothing.status, 422, "{}", nothing.body);
    assert_eq!(stripe.calls(REFUNDS), 2);
    assert_eq!(event_kinds(&app, business).await.iter().filter(|kind| *kind == "refund.issued").count(), 2);
}

async fn eight_refunds_asked_at_once_pass_the_daily_cap_no_further_than_it_allows(backends: Backends) {
    let stripe = StripeFake::start().await;
    let (app, owner, business, payment, paid) = a_sale_on_stripe(backends, &stripe).await;
    assert!(paid >= 200, "a product dearer than the refunds below: {paid}");
    set_guard(&owner, business, "1.00", "5.00").await;

    // Eight different refunds of 0.40 to 0.47: any two fit the cap of 1.00, no three do.
    let asked = (40..48).map(|cents| {
        let (owner, payment) = (&owner, &payment);
        async move { ask_refund(owner, business, payment, &Decimal::new(cents, 2).to_string()).await }
    });
    let answers = futures::future::join_all(asked).await;

    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses.iter().filter(|status| **status == 201).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|status| **status == 409).count(), 6, "{statuses:?}");
    assert!(answers.iter().filter(|a| a.status == 409).all(|a| a.body["error"]["code"] == "over_cap"));
    assert_eq!(stripe.calls(REFUNDS), 2, "Stripe was asked for the two refunds only");
    assert_eq!(event_kinds(&app, business).await.iter().filter(|kind| *kind == "guard.refused").count(), 6);
}

async fn going_live_with_neither_a_shop_nor_a_stripe_account_is_a_clear_refusal(backends: Backends) {
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Pro, "Focus & Flow").await;

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
    an_owner_refunds_a_buyer_within_the_guard_and_a_larger_refund_waits_for_approval,
    eight_refunds_asked_at_once_pass_the_daily_cap_no_further_than_it_allows,
}
