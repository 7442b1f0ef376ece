//! Tiers and live throttling over HTTP: a free account's product limit (402) lifted
//! when an admin moves it to pro, the monthly API-call limit (429 with `Retry-After`),
//! an admin's throttle change taking effect on a running swarm's very next message
//! (and recorded as an event) and holding across two processes that share Redis,
//! admin pause, resume and stop of a swarm, and the admin routes refusing everyone else.

use boardroom_memory::{TenantId, UsageSubject, UserId};
use boardroom_tests::{Backends, Caller, TestApp, spawn_app_with};
use chrono::Utc;
use serde_json::json;

/// The app without its demo tenant, whose autopilot these stories do not need.
async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

/// The first account (the admin) and a second, ordinary one.
async fn admin_and_user(app: &TestApp) -> (Caller, Caller) {
    let admin = app.new_account("root@example.com").await;
    let user = app.new_account("ada@example.com").await;
    (admin, user)
}

async fn user_id(caller: &Caller) -> i64 {
    let profile = caller.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    profile.body["user"]["id"].as_i64().expect("user id")
}

async fn create_business(caller: &Caller, name: &str) -> i64 {
    let created = caller.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

async fn create_product(caller: &Caller, business: i64, title: &str) -> boardroom_tests::ApiResponse {
    caller
        .post(
            "/api/products/create",
            &json!({ "business_id": business, "title": title, "niche": "planners", "price": "19.00", "cost": "2.00" }),
        )
        .await
}

/// An agent-backed call: the pricing agent's advice.
async fn ask_pricing(caller: &Caller, business: i64) -> boardroom_tests::ApiResponse {
    caller
        .post(
            "/api/ai/optimize-pricing",
            &json!({ "business_id": business, "unit_cost": "5.00", "reference_price": "20.00" }),
        )
        .await
}

async fn a_free_accounts_sixth_product_needs_pro_and_an_admin_can_grant_it(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, ada) = admin_and_user(&app).await;
    let business = create_business(&ada, "Planners").await;
    for n in 1..=5 {
        let created = create_product(&ada, business, &format!("Planner {n}")).await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let refused = create_product(&ada, business, "Planner 6").await;
    assert_eq!(refused.status, 402, "{}", refused.body);
    assert_eq!(refused.error_code(), "tier_limit");
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("free tier allows 5 products"), "{message}");
    assert_eq!(refused.body["error"]["fields"]["limit"], "5");

    // The profile shows the usage against the limits.
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.body["tier"], "free");
    assert_eq!(profile.body["usage"]["products"], 5);
    assert_eq!(profile.body["limits"]["products"], 5);
    assert_eq!(profile.body["limits"]["min_autopilot_interval_secs"], 1800);

    // One store and two campaigns on free, too.
    let store = |url: &str| {
        json!({ "business_id": business, "platform": "shopify", "store_url": url,
                "credentials": { "access_token": "shpat_x" } })
    };
    assert_eq!(ada.post("/api/stores/connect", &store("https://a.myshopify.com")).await.status, 201);
    let second_store = ada.post("/api/stores/connect", &store("https://b.myshopify.com")).await;
    assert_eq!((second_store.status, second_store.error_code()), (402, "tier_limit"), "{}", second_store.body);
    let campaign = json!({ "business_id": business, "name": "Launch", "channel": "google_ads", "budget": "10" });
    for _ in 0..2 {
        assert_eq!(ada.post("/api/marketing/campaign", &campaign).await.status, 201);
    }
    assert_eq!(ada.post("/api/marketing/campaign", &campaign).await.status, 402);

    let id = user_id(&ada).await;
    let upgraded = admin.put(&format!("/admin/users/{id}/tier"), &json!({ "tier": "pro" })).await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);
    assert_eq!(upgraded.body["tier"], "pro");
    let created = create_product(&ada, business, "Planner 6").await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(ada.get("/api/auth/profile").await.body["limits"]["products"], 50);

    let unknown = admin.put(&format!("/admin/users/{id}/tier"), &json!({ "tier": "platinum" })).await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
}

async fn api_calls_beyond_the_months_limit_are_refused_until_the_month_ends(backends: Backends) {
    let app = spawn_app(backends).await;
    let (_admin, ada) = admin_and_user(&app).await;
    let id = user_id(&ada).await;
    assert_eq!(ada.get("/api/business/list").await.status, 200);

    // Counts are written in batches (within half a second); write them now.
    app.state.api_calls.flush().await.expect("counts written");
    let period = Utc::now().format("%Y-%m").to_string();
    let subject = UsageSubject::User(UserId(id));
    let used = app.state.store.usage(subject, "api_calls", &period).await.expect("usage");
    assert_eq!(used, 1, "the list was metered; the profile is not");
    // Another process sharing the database counts the rest of the month's calls…
    app.state.store.add_usage(subject, "api_calls", &period, 100 - used).await.expect("usage written");
    // …which this one learns with its next write: the call that writes is the 101st.
    assert_eq!(ada.get("/api/business/list").await.status, 200);
    app.state.api_calls.flush().await.expect("counts written");

    let refused = ada.get("/api/business/list").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.error_code(), "rate_limited");
    let retry: u64 = refused.header("retry-after").and_then(|value| value.parse().ok()).expect("Retry-After");
    assert!((1..=31 * 24 * 3600).contains(&retry), "{retry}");

    // The profile still answers, and shows why.
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert!(profile.body["usage"]["api_calls"].as_i64().unwrap_or_default() > 100, "{}", profile.body);
    assert_eq!(profile.body["limits"]["api_calls"], 100);
}

async fn an_admins_throttle_change_holds_on_the_running_swarms_next_message(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, ada) = admin_and_user(&app).await;
    let business = create_business(&ada, "Mugs").await;
    let warmed = ask_pricing(&ada, business).await;
    assert_eq!(warmed.status, 200, "{}", warmed.body);

    // The running swarm carries the free tier's throttle.
    let swarm = app.state.swarms.get(TenantId(business)).expect("swarm running");
    assert_eq!(swarm.throttle().limits().messages_per_minute.map(|rate| rate.get()), Some(60));
    let shown = admin.get(&format!("/admin/businesses/{business}/swarm")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["status"], "running");
    assert_eq!(shown.body["throttle"]["limits"]["messages_per_minute"], 60);
    assert_eq!(shown.body["tier"], "free");

    let changed = admin
        .put(&format!("/admin/businesses/{business}/throttle"), &json!({ "messages_per_minute": 1, "burst": 1 }))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["throttle"]["limits"]["messages_per_minute"], 1);
    assert_eq!(changed.body["override"]["burst"], 1);

    let first = ask_pricing(&ada, business).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = ask_pricing(&ada, business).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.error_code(), "rate_limited");
    assert!(second.header("retry-after").is_some());

    let shown = admin.get(&format!("/admin/businesses/{business}/swarm")).await;
    assert!(shown.body["throttle"]["counters"]["refused"].as_u64().unwrap_or_default() >= 1, "{}", shown.body);

    app.state.events.flush().await.expect("events flushed");
    let events = app.state.store.events_after(TenantId(business), 0, 1000).await.expect("events");
    let change = events.iter().rev().find(|event| event.kind == "throttle.changed").expect("a throttle.changed event");
    assert_eq!(change.data["messages_per_minute"], 1);
    assert_eq!(change.data["burst"], 1);

    // Lifting the limit works as quickly.
    let lifted =
        admin.put(&format!("/admin/businesses/{business}/throttle"), &json!({ "messages_per_minute": null })).await;
    assert_eq!(lifted.status, 200, "{}", lifted.body);
    assert_eq!(ask_pricing(&ada, business).await.status, 200);

    // Invalid limits are refused naming the field.
    let zero = admin.put(&format!("/admin/businesses/{business}/throttle"), &json!({ "messages_per_minute": 0 })).await;
    assert_eq!((zero.status, zero.body["error"]["fields"]["messages_per_minute"].is_string()), (422, true));
    // So is a burst the rate limiter cannot hold (it once overflowed it, and every later
    // activation of the swarm panicked), and the business keeps working.
    let absurd = admin
        .put(
            &format!("/admin/businesses/{business}/throttle"),
            &json!({ "messages_per_minute": 1, "burst": 2_147_483_648_u64 }),
        )
        .await;
    assert_eq!((absurd.status, absurd.body["error"]["fields"]["burst"].is_string()), (422, true), "{}", absurd.body);
    assert_eq!(ask_pricing(&ada, business).await.status, 200);

    // Back to the tier.
    let cleared = admin.delete(&format!("/admin/businesses/{business}/throttle")).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["override"], json!(null));
    assert_eq!(cleared.body["throttle"]["limits"]["messages_per_minute"], 60);
}

#[tokio::test]
async fn two_processes_sharing_redis_hold_a_business_to_one_throttle() {
    let first = spawn_app_with(Backends::Production, &[("DEMO_TENANT", "false")]).await;
    let second = first.another_process().await;
    let (admin, ada) = admin_and_user(&first).await;
    let business = create_business(&ada, "Mugs").await;

    let limited = admin
        .put(&format!("/admin/businesses/{business}/throttle"), &json!({ "messages_per_minute": 1, "burst": 1 }))
        .await;
    assert_eq!(limited.status, 200, "{}", limited.body);
    assert_eq!(limited.body["throttle"]["rate_kept_in"], "redis");

    // The one message of the minute is spent through the first process…
    let spent = ask_pricing(&ada, business).await;
    assert_eq!(spent.status, 200, "{}", spent.body);
    // …so the second process, with its own swarm for the business, has none left.
    let elsewhere = ask_pricing(&ada.on(&second), business).await;
    assert_eq!(elsewhere.status, 429, "{}", elsewhere.body);
    assert!(elsewhere.header("retry-after").is_some());
    assert!(second.state.swarms.get(TenantId(business)).is_some(), "the second process runs its own swarm");
}

async fn an_admin_pauses_resumes_and_stops_a_swarm(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, ada) = admin_and_user(&app).await;
    let created = ada
        .post("/api/business/create", &json!({ "name": "Mugs", "autopilot": true, "autopilot_interval_secs": 60 }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("business id");
    let swarm = app.state.swarms.get(TenantId(business)).expect("autopilot started the swarm");
    // Raised to the free tier's 30 minutes.
    assert_eq!(swarm.autopilot().interval.as_secs(), 1800);

    let path = format!("/admin/businesses/{business}/swarm");
    let paused = admin.post(&path, &json!({ "action": "pause" })).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["autopilot"]["paused"], true);
    assert!(swarm.autopilot().paused);

    let resumed = admin.post(&path, &json!({ "action": "resume" })).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["autopilot"]["paused"], false);
    assert!(!swarm.autopilot().paused);

    let stopped = admin.post(&path, &json!({ "action": "stop" })).await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(stopped.body["status"], "passivated");
    assert_eq!(stopped.body["autopilot_setting"], false);
    assert!(app.state.swarms.get(TenantId(business)).is_none());
    let shown = ada.get(&format!("/api/business/{business}")).await;
    assert_eq!(shown.body["autopilot"], false, "{}", shown.body);

    let bad = admin.post(&path, &json!({ "action": "explode" })).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let missing = admin.post("/admin/businesses/999999/swarm", &json!({ "action": "pause" })).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

async fn the_admin_sees_platform_analytics_and_system_health(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app(backends).await;
    let (admin, ada) = admin_and_user(&app).await;
    let business = create_business(&ada, "Mugs").await;
    assert_eq!(ask_pricing(&ada, business).await.status, 200);
    let pro = user_id(&ada).await;
    assert_eq!(admin.put(&format!("/admin/users/{pro}/tier"), &json!({ "tier": "pro" })).await.status, 200);

    let shown = admin.get("/admin/analytics").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let body = &shown.body;
    assert_eq!(body["users"]["total"], 2, "{body}");
    assert_eq!(body["users"]["admins"], 1);
    assert_eq!(body["users"]["by_tier"], json!({ "free": 1, "pro": 1, "enterprise": 0 }));
    assert_eq!(body["users"]["new_last_30_days"], 2);
    assert_eq!(body["businesses"]["total"], 1);
    assert_eq!(body["businesses"]["swarms_running"], 1, "the pricing question woke the swarm");
    assert!(body["activity"]["events_last_24_hours"].as_i64().unwrap_or_default() >= 1, "{body}");
    // Ada's calls so far: creating the business and asking for a price (profile reads are free).
    assert_eq!(body["usage"]["api_calls_this_month"], 2, "{body}");
    assert_eq!(body["system"]["status"], "ok");
    assert_eq!(body["system"]["database"]["backend"], backend);
}

async fn only_admins_reach_the_tier_and_swarm_controls(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, ada) = admin_and_user(&app).await;
    let business = create_business(&ada, "Mugs").await;
    let id = user_id(&ada).await;
    let routes = [
        (reqwest::Method::PUT, format!("/admin/users/{id}/tier"), Some(json!({ "tier": "enterprise" }))),
        (reqwest::Method::GET, format!("/admin/businesses/{business}/swarm"), None),
        (
            reqwest::Method::PUT,
            format!("/admin/businesses/{business}/throttle"),
            Some(json!({ "messages_per_minute": 1000 })),
        ),
        (reqwest::Method::DELETE, format!("/admin/businesses/{business}/throttle"), None),
        (reqwest::Method::POST, format!("/admin/businesses/{business}/swarm"), Some(json!({ "action": "stop" }))),
        (reqwest::Method::GET, "/admin/analytics".to_owned(), None),
    ];
    for (method, path, body) in &routes {
        let refused = ada.send(method.clone(), path, body.as_ref()).await;
        assert_eq!((refused.status, refused.error_code()), (403, "forbidden"), "{method} {path}: {}", refused.body);
        let anonymous = app.anonymous().send(method.clone(), path, body.as_ref()).await;
        assert_eq!(anonymous.status, 401, "{method} {path}");
    }
    // Nothing changed.
    assert_eq!(ada.get("/api/auth/profile").await.body["tier"], "free");
    let shown = admin.get(&format!("/admin/businesses/{business}/swarm")).await;
    assert_eq!(shown.body["override"], json!(null), "{}", shown.body);
}

// Every story above without a backend in its name runs twice: `sqlite::…` on the embedded
// defaults and `postgres::…` on PostgreSQL with Redis.
boardroom_tests::on_both_backends! {
    a_free_accounts_sixth_product_needs_pro_and_an_admin_can_grant_it,
    api_calls_beyond_the_months_limit_are_refused_until_the_month_ends,
    an_admins_throttle_change_holds_on_the_running_swarms_next_message,
    an_admin_pauses_resumes_and_stops_a_swarm,
    the_admin_sees_platform_analytics_and_system_health,
    only_admins_reach_the_tier_and_swarm_controls,
}
