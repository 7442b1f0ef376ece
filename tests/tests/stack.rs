//! The whole stack, in process, on both backend pairs: what an operator gets from
//! `boardroom` with the embedded defaults and with PostgreSQL + Redis.

use boardroom_agents::Task;
use boardroom_memory::testing::create_tenant;
use boardroom_runtime::AppState;
use boardroom_tests::{Backends, redis_url, spawn_app};
use serde_json::json;

async fn a_tenant_swarm_works_and_its_events_survive_shutdown(backends: Backends, backend_name: &str) {
    let mut app = spawn_app(backends).await;
    let admin = app.new_account("admin@example.com").await;
    let health = admin.get("/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.body["database"]["backend"], backend_name);

    let store = app.state.store.clone();
    let tenant = create_tenant(store.as_ref(), "Acme", "hustlebot").await;
    let swarm = app.state.swarms.activate(tenant).await.expect("swarm activates");
    let report = swarm.call("ceo", Task::bare("roll_call")).await.expect("roll call");
    assert_eq!(report["present"].as_array().map(Vec::len), Some(8));

    let state: AppState = app.stop().await;
    // Open the database afresh, as the next process would.
    let reopened = boardroom_memory::connect(&state.settings.database_url).await.expect("database reopens");
    let events = reopened.events_after(tenant, 0, 100).await.expect("events readable after shutdown");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["swarm.started", "ceo.roll_call", "swarm.stopped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_a_swarm_works_and_its_events_survive_shutdown() {
    a_tenant_swarm_works_and_its_events_survive_shutdown(Backends::Embedded, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_a_swarm_works_and_its_events_survive_shutdown() {
    a_tenant_swarm_works_and_its_events_survive_shutdown(Backends::Production, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_redis_and_answers_503_when_the_database_goes_away() {
    let mut app = spawn_app(Backends::Production).await;
    let admin = app.new_account("admin@example.com").await;
    let health = admin.get("/health").await.body;
    assert_eq!(
        health["redis"]["status"],
        "up",
        "Redis must be running at {} for this test (redis-server --daemonize yes --port 6379): {health}",
        redis_url()
    );
    assert_eq!(health["status"], "ok");
    assert_eq!(app.get_json("/health").await, (200, json!({ "status": "ok" })), "anyone sees the status only");

    // Drop the database under the running server.
    drop(app.postgres.take().expect("postgres database"));
    let (status, health) = app.get_json("/health").await;
    assert_eq!((status, health), (503, json!({ "status": "unavailable" })));
}
