//! Faults: the database goes away (PostgreSQL) or is locked by another connection
//! (SQLite) under a running server. Requests that need it answer
//! 503 `unavailable` with `Retry-After` within the pool's acquire time-out (instead of
//! hanging until the 30-second request time-out), and the server recovers by itself
//! when the database comes back.
//!
//! No assertion here depends on the machine's speed: the bound asserted (10 s) is five
//! times the acquire time-out (2 s) and a third of the request time-out (30 s), so only
//! the acquire time-out can explain a pass; the measured times are printed.

use std::time::{Duration, Instant};

use boardroom_tests::{ApiResponse, Backends, Caller, TEST_PASSWORD, TestApp, spawn_app_behind_proxy, spawn_app_with};
use serde_json::json;
use sqlx::{Connection, Executor, SqliteConnection};

/// Far above the acquire time-out, far below the request time-out.
const BOUND: Duration = Duration::from_secs(10);

/// A request while the database is down: 503 `unavailable` with `Retry-After`, within
/// [`BOUND`]. Returns how long it took.
async fn refused_for_now(what: &str, request: impl std::future::Future<Output = ApiResponse>) -> Duration {
    let started = Instant::now();
    let response = request.await;
    let took = started.elapsed();
    println!("database down: {what} answered {} in {} ms", response.status, took.as_millis());
    assert_eq!(response.status, 503, "{what}: {}", response.body);
    assert_eq!(response.error_code(), "unavailable", "{what}: {}", response.body);
    let retry_after = response.header("retry-after").and_then(|value| value.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|seconds| seconds >= 1), "{what}: Retry-After {retry_after:?}");
    assert!(took < BOUND, "{what} took {took:?}: the acquire time-out should bound it");
    took
}

async fn business_list(caller: &Caller) -> ApiResponse {
    caller.get("/api/business/list").await
}

async fn log_in(app: &TestApp, email: &str) -> ApiResponse {
    app.anonymous().post("/api/auth/login", &json!({ "email": email, "password": TEST_PASSWORD })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_requests_answer_503_with_retry_after_at_once_and_recover_when_it_returns() {
    // Arrange: a signed-in owner with a business, the database behind a proxy.
    let (app, database) = spawn_app_behind_proxy(&[("DEMO_TENANT", "false"), ("CACHE_SECS", "0")]).await;
    let owner = app.new_account("owner@example.com").await;
    let created = owner.post("/api/business/create", &json!({ "name": "Acme", "personality": "coachty" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(business_list(&owner).await.status, 200);

    // Act: the database goes away.
    database.take_down();
    let outage = Instant::now();
    let first = refused_for_now("GET /api/business/list", business_list(&owner)).await;
    let first_after_outage = outage.elapsed();
    refused_for_now("GET /api/auth/profile", owner.get("/api/auth/profile")).await;
    refused_for_now("POST /api/auth/login", log_in(&app, "owner@example.com")).await;
    refused_for_now("POST /api/auth/signup", app.sign_up("late@example.com", TEST_PASSWORD, None)).await;
    let (status, health) = app.get_json("/health").await;
    // Anonymous callers see the status only (the details are for admins).
    assert_eq!((status, health["status"].as_str()), (503, Some("unavailable")), "{health}");
    println!(
        "database down: first 503 {} ms after the outage began (request {} ms)",
        first_after_outage.as_millis(),
        first.as_millis()
    );

    // Assert: back up, the same requests succeed on the same server.
    database.restore();
    let restored = Instant::now();
    let listed = business_list(&owner).await;
    println!("database back: first request answered {} in {} ms", listed.status, restored.elapsed().as_millis());
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"][0]["name"], "Acme", "{}", listed.body);
    assert_eq!(owner.get("/api/auth/profile").await.status, 200);
    assert_eq!(log_in(&app, "owner@example.com").await.status, 200);
    let signed_up = app.sign_up("late@example.com", TEST_PASSWORD, None).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    let (status, health) = app.get_json("/health").await;
    assert_eq!(status, 200, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sqlite_locked_by_another_connection_writes_answer_503_with_retry_after_and_recover() {
    // Arrange: a signed-in owner on the embedded database.
    let app = spawn_app_with(Backends::Embedded, &[("DEMO_TENANT", "false"), ("CACHE_SECS", "0")]).await;
    let owner = app.new_account("owner@example.com").await;

    // Act: another connection (another process, a backup tool) takes the write lock.
    let mut locker = SqliteConnection::connect(&app.state.settings.database_url).await.expect("a second connection");
    locker.execute("begin exclusive").await.expect("the write lock");
    refused_for_now(
        "POST /api/business/create",
        owner.post("/api/business/create", &json!({ "name": "Acme", "personality": "coachty" })),
    )
    .await;
    refused_for_now("POST /api/auth/signup", app.sign_up("late@example.com", TEST_PASSWORD, None)).await;

    // Assert: once the lock is released, the same writes succeed.
    locker.execute("rollback").await.expect("the lock released");
    let created = owner.post("/api/business/create", &json!({ "name": "Acme", "personality": "coachty" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let signed_up = app.sign_up("late@example.com", TEST_PASSWORD, None).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    locker.close().await.expect("closed");
}
