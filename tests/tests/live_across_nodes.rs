//! The live view across nodes: an owner's browser is connected to one node while the
//! business's swarm works on another. Its persisted events and its live activity reach
//! the browser through Redis; with Redis gone they still arrive, read from the log.
//!
//! These stories run on PostgreSQL and Redis only: several nodes share one PostgreSQL
//! database and one Redis, and the embedded default (SQLite, everything in process) is
//! one node, whose live view the stories of `live_view.rs` cover on both backends.

use std::time::Duration;

use boardroom_memory::{NewEvent, TenantId};
use boardroom_tests::proxy::FaultyProxy;
use boardroom_tests::{Backends, Caller, TestApp, redis_url, spawn_app};
use serde_json::json;

async fn create_business(owner: &Caller, name: &str) -> TenantId {
    let created = owner.post("/api/business/create", &json!({ "name": name, "autopilot": false })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    TenantId(created.body["id"].as_i64().expect("business id"))
}

/// Appends an event to the tenant's log on `node`, as a swarm actor there would, and
/// waits until it is persisted; returns its sequence number.
async fn act(node: &TestApp, tenant: TenantId, what: &str) -> i64 {
    let event = NewEvent::now(tenant, "tester", "test.acted", what).with_data(json!({ "what": what }));
    node.state.events.append_and_wait(event).await.expect("event persisted").seq
}

/// Asks the business's pricing agent for advice on `node`, which runs its swarm there.
async fn ask_for_advice(owner: &Caller, node: &TestApp, tenant: TenantId) {
    let advice = owner
        .on(node)
        .post(
            "/api/ai/optimize-pricing",
            &json!({ "business_id": tenant.0, "unit_cost": 2, "reference_price": 30, "current_price": 29 }),
        )
        .await;
    assert_eq!(advice.status, 200, "{}", advice.body);
}

fn stream_path(tenant: TenantId, after: i64) -> String {
    format!("/api/live/{}/events?after={after}", tenant.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_one_node_watches_the_swarm_that_works_on_another() {
    let browser_node = spawn_app(Backends::Production).await;
    let swarm_node = browser_node.another_process().await;
    let ada = browser_node.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs").await;
    // The swarm starts where the request lands: on the other node.
    ask_for_advice(&ada, &swarm_node, shop).await;
    assert!(swarm_node.state.swarms.get(shop).is_some(), "the swarm runs on the node that was asked");
    assert!(browser_node.state.swarms.get(shop).is_none(), "and only there");

    swarm_node.state.events.flush().await.expect("flush");
    let before = browser_node.state.store.last_event_seq(shop).await.expect("last seq");
    let mut stream = ada.open_stream(&stream_path(shop, before), None).await.expect("stream opens");

    // Persisted events written on the swarm's node, in order, with their ids.
    let written = [act(&swarm_node, shop, "first").await, act(&swarm_node, shop, "second").await];
    let mut received = Vec::new();
    while received.len() < written.len() {
        let message = stream.next_swarm_event().await;
        assert_eq!(message.data["tenant_id"], json!(shop.0), "{message:?}");
        received.push(message.id.expect("persisted events have ids"));
    }
    assert_eq!(received, written, "every event, once, in order");

    // Live activity of the swarm over there lights the edges here. The other node
    // learns of the viewer within a few seconds; ask until its signals come through.
    let mut phases = Vec::new();
    for _attempt in 0..10 {
        ask_for_advice(&ada, &swarm_node, shop).await;
        while let Some(Some(message)) = stream.next_within(Duration::from_secs(2)).await {
            if message.event == "activity" && message.data["from"] == "api" {
                phases.push(message.data["phase"].as_str().unwrap_or_default().to_owned());
            }
            if phases.last().map(String::as_str) == Some("finished") {
                break;
            }
        }
        if phases.last().map(String::as_str) == Some("finished") {
            break;
        }
        phases.clear();
    }
    assert_eq!(phases, ["sent", "started", "finished"], "the message's life, from the other node");
    assert_eq!(
        browser_node.state.swarms.get(shop).map(|_| ()),
        None,
        "watching from here did not start a second swarm here"
    );

    // A reconnecting browser resumes from its last id, exactly as on one node.
    let last = *received.last().expect("received");
    drop(stream);
    let missed = [act(&swarm_node, shop, "while away").await];
    let mut stream = ada.open_stream(&format!("/api/live/{}/events", shop.0), Some(last)).await.expect("reopens");
    let live = act(&swarm_node, shop, "after coming back").await;
    let mut resumed = Vec::new();
    while resumed.last() != Some(&live) {
        resumed.push(stream.next_swarm_event().await.id.expect("ids"));
    }
    assert_eq!(resumed, [missed[0], live], "the missed event, then the live one, nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_gone_the_viewer_still_gets_the_other_nodes_events_from_the_log() {
    let swarm_node = spawn_app(Backends::Production).await;
    // The browser's node reaches Redis through a proxy that can play an outage.
    let upstream = redis_url();
    let upstream = upstream.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_owned();
    let redis = FaultyProxy::start(&upstream);
    let browser_node =
        swarm_node.another_process_with(&[("REDIS_URL", &format!("redis://127.0.0.1:{}", redis.port()))]).await;
    let ada = browser_node.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs").await;
    ask_for_advice(&ada, &swarm_node, shop).await;
    swarm_node.state.events.flush().await.expect("flush");
    let before = swarm_node.state.store.last_event_seq(shop).await.expect("last seq");
    let mut stream = ada.open_stream(&stream_path(shop, before), None).await.expect("stream opens");
    let through_redis = act(&swarm_node, shop, "redis is up").await;
    assert_eq!(stream.next_swarm_event().await.id, Some(through_redis));

    redis.take_down();
    let from_the_log = [act(&swarm_node, shop, "redis is gone").await, act(&swarm_node, shop, "still gone").await];
    for expected in from_the_log {
        assert_eq!(stream.next_swarm_event().await.id, Some(expected), "read from the log while Redis is away");
    }

    redis.restore();
    // Back on Redis: the relay reconnects by itself and events keep coming, in order.
    let after = [act(&swarm_node, shop, "redis is back").await, act(&swarm_node, shop, "and again").await];
    for expected in after {
        assert_eq!(stream.next_swarm_event().await.id, Some(expected), "after Redis came back");
    }
}
