//! Payouts through Stripe Connect (here a local server that speaks Stripe's API as
//! documented and refuses anything else): an owner asks to be paid out, the platform
//! opens one connected account for the business with controller properties and hands
//! back Stripe's onboarding link; asking again gives the same account and a fresh link;
//! once the owner finishes onboarding the account shows charges and payouts enabled; a
//! payment on that account, delivered signed, lands in that business's ledger. Without
//! the platform's key the routes say so.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::TenantId;
use boardroom_tests::{Backends, TestApp, spawn_app_with};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use support::stripe_fake::{SECRET_KEY, StripeFake};

const WEBHOOK_SECRET: &str = "whsec_payouts_story";

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

async fn an_owner_is_onboarded_once_and_paid_on_the_account(backends: Backends) {
    // Arrange
    let stripe = StripeFake::start().await;
    let app = spawn_app(backends, &stripe).await;
    let owner = app.new_account("ada@example.com").await;
    let created = owner.post("/api/business/create", &json!({ "name": "Focus & Flow" })).await;
    let business = created.body["id"].as_i64().expect("business id");
    let before = owner.get(&format!("/api/business/{business}/stripe")).await;
    assert_eq!((before.status, &before.body["connected"]), (200, &json!(false)), "{}", before.body);

    // Act: the owner asks to be paid out, twice (a double click, a retry).
    let return_url = format!("{}/app?business={business}", app.address);
    let path = format!("/api/business/{business}/stripe/onboard");
    let first = owner.post(&path, &json!({ "return_url": return_url })).await;
    let second = owner.post(&path, &json!({ "return_url": return_url })).await;

    // Assert: one account, with controller properties, and a link each time.
    assert_eq!(first.status, 200, "{}", first.body);
    let account = first.body["account"].as_str().expect("an account").to_owned();
    assert!(account.starts_with("acct_"), "{account}");
    assert_eq!(second.body["account"], json!(account), "the same account");
    assert_eq!(stripe.calls("POST /v1/accounts"), 1, "opened once");
    assert_eq!(stripe.calls("POST /v1/account_links"), 2, "a fresh link each time");
    assert!(first.body["onboarding_url"].as_str().is_some_and(|url| url.starts_with("http")), "{}", first.body);
    assert_eq!(first.body["charges_enabled"], false, "not before onboarding");
    let opened = stripe.object(&account);
    assert_eq!(opened["controller"]["fees"]["payer"], "application", "{opened}");
    assert_eq!(opened["controller"]["losses"]["payments"], "application");
    assert_eq!(opened["controller"]["stripe_dashboard"]["type"], "express");
    assert_eq!(opened["email"], "ada@example.com");
    let link = stripe.last("POST /v1/account_links");
    let field = |name: &str| link.fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    assert_eq!(field("account"), Some(account.clone()));
    assert_eq!(field("type").as_deref(), Some("account_onboarding"));
    assert_eq!(field("return_url"), Some(return_url.clone()), "back to the dashboard");
    assert_eq!(field("refresh_url"), Some(format!("{return_url}&stripe=refresh")), "an expired link starts over");

    // The owner finishes onboarding on Stripe.
    stripe.complete_onboarding(&account);
    let after = owner.get(&format!("/api/business/{business}/stripe")).await;
    assert_eq!(
        (&after.body["connected"], &after.body["charges_enabled"], &after.body["payouts_enabled"]),
        (&json!(true), &json!(true), &json!(true)),
        "{}",
        after.body
    );

    // A payment on the account, delivered signed: booked in this business's ledger.
    let body = serde_json::to_vec(&json!({
        "id": "evt_paid", "object": "event", "type": "checkout.session.completed", "account": account,
        "created": Utc::now().timestamp(), "livemode": false,
        "data": { "object": { "id": "cs_1", "object": "checkout.session", "amount_total": 4900, "currency": "usd",
                              "payment_status": "paid", "payment_intent": "pi_1", "metadata": {} } },
    }))
    .expect("JSON");
    let now = Utc::now().timestamp();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{now}.").as_bytes());
    mac.update(&body);
    let signature = format!("t={now},v1={}", hex::encode(mac.finalize().into_bytes()));
    let delivered = app
        .client
        .post(format!("{}/webhooks/stripe", app.address))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("delivered");
    assert_eq!(delivered.status().as_u16(), 200);
    let to = Utc::now() + chrono::Duration::days(1);
    let ledger =
        app.state.store.ledger_entries(TenantId(business), chrono::DateTime::<Utc>::MIN_UTC, to).await.expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].amount.to_string(), ledger[0].source.as_str()), ("49.00".to_owned(), "stripe"));

    // Someone else's business cannot be onboarded through this one's id, nor read.
    let stranger = app.new_account("eve@example.com").await;
    assert_eq!(stranger.post(&path, &json!({ "return_url": return_url })).await.status, 404);
    assert_eq!(stranger.get(&format!("/api/business/{business}/stripe")).await.status, 404);
    let bad = owner.post(&path, &json!({ "return_url": "javascript:alert(1)" })).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
}

async fn without_the_platforms_key_payouts_say_they_are_not_set_up(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let owner = app.new_account("ada@example.com").await;
    let created = owner.post("/api/business/create", &json!({ "name": "Focus & Flow" })).await;
    let business = created.body["id"].as_i64().expect("business id");
    let answer = owner.get(&format!("/api/business/{business}/stripe")).await;
    assert_eq!((answer.status, answer.error_code()), (409, "not_configured"), "{}", answer.body);
    let onboard = owner
        .post(&format!("/api/business/{business}/stripe/onboard"), &json!({ "return_url": "https://example.com/app" }))
        .await;
    assert_eq!((onboard.status, onboard.error_code()), (409, "not_configured"), "{}", onboard.body);
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    an_owner_is_onboarded_once_and_paid_on_the_account,
    without_the_platforms_key_payouts_say_they_are_not_set_up,
}
