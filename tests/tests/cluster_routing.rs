//! Requests reach the node that runs the business, wherever they arrive: a node that
//! does not run a business's swarm passes the request on to the one that does, and the
//! owner sees one answer, one API call counted, and one swarm.
//!
//! PostgreSQL and Redis only: several nodes share one database and one Redis; the
//! embedded default is one node, where every request already reaches the swarm.

use boardroom_memory::TenantId;
use boardroom_tests::{Backends, Caller, spawn_app_with};
use serde_json::json;

async fn create_business(owner: &Caller, name: &str) -> i64 {
    let created = owner.post("/api/business/create", &json!({ "name": name, "autopilot": false })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

async fn api_calls_used(owner: &Caller) -> i64 {
    let profile = owner.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    profile.body["usage"]["api_calls"].as_i64().unwrap_or_else(|| panic!("no API call count: {}", profile.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_reaches_another_node_is_answered_by_the_one_that_runs_the_business() {
    let first = spawn_app_with(Backends::Production, &[("DEMO_TENANT", "false")]).await;
    let second = first.another_process().await;
    let ada = first.new_account("ada@example.com").await;
    let business = create_business(&ada, "Mugs").await;
    let advice = json!({ "business_id": business, "unit_cost": 2, "reference_price": 30, "current_price": 29 });

    // The first node runs the swarm.
    let asked = ada.post("/api/ai/optimize-pricing", &advice).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(first.state.swarms.get(TenantId(business)).is_some());

    // The same question, sent to the second node, is answered by the first.
    let before = api_calls_used(&ada).await;
    let passed_on = ada.on(&second).post("/api/ai/optimize-pricing", &advice).await;
    assert_eq!(passed_on.status, 200, "{}", passed_on.body);
    assert_eq!(passed_on.body, asked.body, "the same advice, from the same swarm");
    assert_eq!(passed_on.header("x-boardroom-node"), Some(first.state.settings.node.name.as_str()));
    assert!(second.state.swarms.get(TenantId(business)).is_none(), "no second swarm");
    // `/api/auth/profile` itself is not metered: only the passed-on request counts, once.
    // Each node writes its counts in batches; the second, writing last, reads the total.
    first.state.api_calls.flush().await.expect("counts written");
    second.state.api_calls.flush().await.expect("counts written");
    assert_eq!(api_calls_used(&ada.on(&second)).await, before + 1, "counted once, not on both nodes");

    // A control that needs the swarm: run a cycle now, from the second node.
    let cycle = ada.on(&second).post(&format!("/api/live/{business}/run-cycle"), &json!({})).await;
    assert_eq!(cycle.status, 202, "{}", cycle.body);
    assert_eq!(cycle.header("x-boardroom-node"), Some(first.state.settings.node.name.as_str()));
    assert_eq!(cycle.body["requested"], true, "{}", cycle.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarding_stamp_is_refused() {
    let first = spawn_app_with(Backends::Production, &[("DEMO_TENANT", "false")]).await;
    let ada = first.new_account("ada@example.com").await;
    let business = create_business(&ada, "Mugs").await;
    let advice = json!({ "business_id": business, "unit_cost": 2, "reference_price": 30, "current_price": 29 });
    // A client pretending to be a node, to skip the API call count or claim an address.
    let forged = ada
        .with_header("x-boardroom-forwarded", "node-x;1700000000000;10.0.0.1;1;00ff")
        .post("/api/ai/optimize-pricing", &advice)
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(forged.error_code(), "forwarding");
}
