//! The spending guard, over HTTP: an owner sets caps and an approval threshold; the
//! autopilot's ad flights above the threshold wait in the approval queue with what the
//! agent expects from them; the owner approves one and rejects another (of eight answers
//! at once to one request, one is recorded); the approved flight is launched once at the
//! next cycle and the rejected one never; flights over a cap and price cuts over the cap
//! are refused with events naming the cap; nobody else can see or answer the queue; bad
//! settings are refused field by field.

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{Backends, Caller, TestApp, run_a_cycle, spawn_app_with};
use serde_json::{Value, json};

async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

// The owners here are on the enterprise tier and their businesses' autopilot is off,
// so cycles are not stretched by the free tier's message limits.

fn of_kind<'a>(events: &'a [SwarmEvent], kind: &str) -> Vec<&'a SwarmEvent> {
    events.iter().filter(|event| event.kind == kind).collect()
}

async fn campaigns(owner: &Caller, business: i64) -> Vec<Value> {
    let listed = owner.get(&format!("/api/marketing/list?business_id={business}")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["items"].as_array().expect("items").clone()
}

async fn approvals(owner: &Caller, business: i64, query: &str) -> Vec<Value> {
    let listed = owner.get(&format!("/api/business/{business}/approvals{query}")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["items"].as_array().expect("items").clone()
}

async fn flights_above_the_threshold_wait_for_the_owner_and_only_the_approved_one_runs(backends: Backends) {
    // Arrange: a new business has a guard with nothing set.
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Mugs & Co").await;
    let guard = owner.get(&format!("/api/business/{business}/guard")).await;
    assert_eq!(guard.status, 200, "{}", guard.body);
    assert_eq!(
        guard.body,
        json!({ "ad_spend_per_day": null, "ad_spend_per_month": null, "price_cut_percent_per_cycle": null,
                "refunds_per_day": null, "approval_threshold": null, "approval_expires_after_hours": 24,
                "pending_approvals": 0 })
    );
    let set = owner.put(&format!("/api/business/{business}/guard"), &json!({ "approval_threshold": "10" })).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["approval_threshold"], "10.00");

    // Act: the first cycle lists a product and plans its ad flights, each over $10.
    let first = run_a_cycle(&app, &owner, business).await;

    // Assert: every flight waits for the owner, none runs.
    let asked = of_kind(&first, "guard.approval_requested");
    assert!(asked.len() >= 2, "a flight per channel waits: {:?}", first.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert!(asked[0].summary.starts_with("Waiting for the owner's approval: Run "), "{}", asked[0].summary);
    assert!(asked[0].summary.contains("above the approval threshold of $10.00"), "{}", asked[0].summary);
    assert!(campaigns(&owner, business).await.is_empty(), "nothing spent before the owner says so");
    let pending = approvals(&owner, business, "?status=pending").await;
    assert_eq!(pending.len(), asked.len());
    let (to_approve, to_reject) = (&pending[pending.len() - 1], &pending[pending.len() - 2]);
    assert_eq!(to_approve["kind"], "ad_flight");
    assert!(to_approve["amount"].as_str().expect("amount").parse::<f64>().expect("money") > 10.0);
    assert!(to_approve["expected"]["why"].as_str().expect("why").contains("a day"), "{}", to_approve["expected"]);
    assert!(to_approve["expires_at"].as_str() > to_approve["requested_at"].as_str());
    let minutes = owner.get(&format!("/api/business/{business}/reports?limit=1")).await.body;
    let minutes = minutes["items"][0]["minutes"].as_str().expect("minutes").to_owned();
    assert!(minutes.contains("waiting for the owner's approval"), "the minutes say why no flight runs:\n{minutes}");
    let guard = owner.get(&format!("/api/business/{business}/guard")).await;
    assert_eq!(guard.body["pending_approvals"], pending.len());

    // Nobody else sees the queue or can answer it, even knowing the ids.
    let stranger = app.new_account("eve@example.com").await;
    assert_eq!(stranger.get(&format!("/api/business/{business}/approvals")).await.status, 404);
    assert_eq!(stranger.get(&format!("/api/business/{business}/guard")).await.status, 404);
    let meddled = stranger.post(&format!("/api/approvals/{}/approve", to_approve["id"]), &json!({})).await;
    assert_eq!((meddled.status, meddled.error_code()), (404, "not_found"), "{}", meddled.body);
    assert_eq!(owner.post("/api/approvals/999999999/approve", &json!({})).await.status, 404);

    // Eight answers at once to one request, half yes and half no: exactly one counts.
    let id = to_approve["id"].as_i64().expect("id");
    let answers = futures::future::join_all((0..8).map(|n| {
        let owner = owner.clone();
        let verb = if n % 2 == 0 { "approve" } else { "reject" };
        async move { owner.post(&format!("/api/approvals/{id}/{verb}"), &json!({})).await }
    }))
    .await;
    let recorded: Vec<_> = answers.iter().filter(|answer| answer.status == 200).collect();
    assert_eq!(recorded.len(), 1, "{:?}", answers.iter().map(|a| (a.status, a.body.clone())).collect::<Vec<_>>());
    assert!(answers.iter().filter(|a| a.status != 200).all(|a| a.status == 409 && a.error_code() == "already_decided"));
    let approved = recorded[0].body["status"] == "approved";
    if !approved {
        // The race went to a "no": approve the other request instead, so the story goes on.
        let other = owner.post(&format!("/api/approvals/{}/approve", to_reject["id"]), &json!({})).await;
        assert_eq!(other.status, 200, "{}", other.body);
    } else {
        let rejected = owner.post(&format!("/api/approvals/{}/reject", to_reject["id"]), &json!({})).await;
        assert_eq!((rejected.status, &rejected.body["status"]), (200, &json!("rejected")), "{}", rejected.body);
    }
    let (approved_id, rejected_id) =
        if approved { (id, to_reject["id"].as_i64()) } else { (to_reject["id"].as_i64().expect("id"), Some(id)) };

    // Act: the next cycle carries out the approved flight, once; the rejected one never.
    let second = run_a_cycle(&app, &owner, business).await;
    let third = run_a_cycle(&app, &owner, business).await;

    // Assert
    let carried = of_kind(&second, "guard.carried_out");
    assert_eq!(carried.len(), 1, "{:?}", second.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert!(carried[0].summary.starts_with("Launched with the owner's approval: "), "{}", carried[0].summary);
    assert!(of_kind(&third, "guard.carried_out").is_empty(), "carried out once");
    assert!(of_kind(&second, "guard.approval_requested").is_empty(), "the same flights are not asked about again");
    let running = campaigns(&owner, business).await;
    assert_eq!(running.len(), 1, "only the approved flight runs: {running:?}");
    let all = approvals(&owner, business, "").await;
    let status_of = |id: Option<i64>| all.iter().find(|a| a["id"].as_i64() == id).map(|a| a["status"].clone());
    assert_eq!(status_of(Some(approved_id)), Some(json!("done")));
    assert_eq!(status_of(rejected_id), Some(json!("rejected")));
    let late = owner.post(&format!("/api/approvals/{approved_id}/reject"), &json!({})).await;
    assert_eq!((late.status, late.error_code()), (409, "already_decided"));

    // Every decision is an event on the business's log.
    let events = app.state.store.events_after(TenantId(business), 0, 10_000).await.expect("events");
    for kind in ["guard.updated", "guard.approved", "guard.rejected"] {
        assert!(events.iter().any(|event| event.kind == kind), "no {kind} event");
    }
}

async fn flights_over_a_cap_and_price_cuts_over_the_cap_are_refused_naming_the_cap(backends: Backends) {
    // Arrange: ads capped at 50 cents a day, price cuts at 1 % a cycle.
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Mugs & Co").await;
    let set = owner
        .put(
            &format!("/api/business/{business}/guard"),
            &json!({ "ad_spend_per_day": 0.5, "price_cut_percent_per_cycle": "1", "approval_expires_after_hours": 2 }),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        (&set.body["ad_spend_per_day"], &set.body["price_cut_percent_per_cycle"], &set.body["approval_threshold"]),
        (&json!("0.50"), &json!("1.00"), &Value::Null)
    );

    // Act: a cycle, then the owner doubles the price, which the pricing agent would cut.
    let first = run_a_cycle(&app, &owner, business).await;
    let listed = owner.get(&format!("/api/products/list?business_id={business}")).await.body;
    let product = &listed["items"][0];
    let price: f64 = product["price"].as_str().expect("price").parse().expect("money");
    let doubled = format!("{:.2}", price * 2.0);
    let changed = owner
        .put(&format!("/api/products/{}", product["id"]), &json!({ "business_id": business, "price": doubled }))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let second = run_a_cycle(&app, &owner, business).await;

    // Assert: the flights were refused, naming the daily cap; the cut too, naming its cap.
    let refused = of_kind(&first, "guard.refused");
    assert!(!refused.is_empty(), "{:?}", first.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert_eq!(refused[0].data["cap"], "ad_spend_per_day");
    assert_eq!(refused[0].data["limit"], "0.50");
    assert!(refused[0].summary.contains("ad spend a day"), "{}", refused[0].summary);
    assert!(campaigns(&owner, business).await.is_empty(), "no flight over the cap runs");
    assert!(approvals(&owner, business, "").await.is_empty(), "a cap is not something to approve");
    let cuts: Vec<_> = of_kind(&second, "guard.refused")
        .into_iter()
        .filter(|e| e.data["cap"] == "price_cut_percent_per_cycle")
        .collect();
    assert_eq!(cuts.len(), 1, "{:?}", second.iter().map(|e| (&e.kind, &e.summary)).collect::<Vec<_>>());
    assert!(cuts[0].summary.contains("over its limit of 1.00 %"), "{}", cuts[0].summary);
    let now = owner.get(&format!("/api/products/list?business_id={business}")).await.body;
    let kept = now["items"].as_array().expect("items").iter().find(|p| p["id"] == product["id"]).expect("the product");
    assert_eq!(kept["price"], json!(doubled), "the price stays where the cap holds it");
    assert!(of_kind(&second, "pricing.changed").is_empty(), "no price moved past the cap");
}

async fn bad_guard_settings_are_refused_field_by_field(backends: Backends) {
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Mugs & Co").await;
    let path = format!("/api/business/{business}/guard");
    for (body, field) in [
        (json!({ "price_cut_percent_per_cycle": "100.01" }), "price_cut_percent_per_cycle"),
        (json!({ "price_cut_percent_per_cycle": -1 }), "price_cut_percent_per_cycle"),
        (json!({ "ad_spend_per_day": "-5" }), "ad_spend_per_day"),
        (json!({ "ad_spend_per_month": "1.001" }), "ad_spend_per_month"),
        (json!({ "approval_threshold": "1e3" }), "approval_threshold"),
        (json!({ "refunds_per_day": 1e300 }), "refunds_per_day"),
        (json!({ "approval_expires_after_hours": 0 }), "approval_expires_after_hours"),
        (json!({ "approval_expires_after_hours": 721 }), "approval_expires_after_hours"),
        (json!({ "approval_expires_after_hours": 4_294_967_296_i64 }), "approval_expires_after_hours"),
        (json!({ "approval_expires_after_hours": -1 }), "approval_expires_after_hours"),
        (json!({ "card_limit": "10" }), "card_limit"),
    ] {
        let refused = owner.put(&path, &body).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.body);
        assert!(refused.body["error"]["fields"].get(field).is_some(), "{body}: {}", refused.body);
    }
    assert_eq!(owner.get(&path).await.body["approval_threshold"], Value::Null, "nothing was changed");
    assert_eq!(owner.put("/api/business/999999999/guard", &json!({})).await.status, 404);
    assert_eq!(owner.get(&format!("/api/business/{business}/approvals?status=maybe")).await.status, 400);
    assert_eq!(owner.get(&format!("/api/business/{business}/approvals?limit=0")).await.status, 400);
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    flights_above_the_threshold_wait_for_the_owner_and_only_the_approved_one_runs,
    flights_over_a_cap_and_price_cuts_over_the_cap_are_refused_naming_the_cap,
    bad_guard_settings_are_refused_field_by_field,
}
