//! Tiers and live throttling over HTTP: a free account's product limit (402) lifted
//! when an admin moves it to pro, count limits holding against parallel requests on
//! both backends, autopilot intervals out of range refused (422) and never below the
//! tier's minimum, the monthly API-call limit (429 with `Retry-After`),
//! an admin's throttle change taking effect on a running swarm's very next message
//! (and recorded as an event) and holding across two processes that share Redis,
//! admin pause, resume and stop of a swarm, and the admin routes refusing everyone else.

use boardroom_memory::{TenantChanges, TenantId, UsageSubject, UserId};
use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, spawn_app_with};
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
        json!({ "business_id": business, "platform": "etsy", "store_url": url,
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
    // …which runs the business's swarm: the second passes the request on to it, and
    // it has none left…
    let passed_on = ask_pricing(&ada.on(&second), business).await;
    assert_eq!(passed_on.status, 429, "{}", passed_on.body);
    assert_eq!(passed_on.header("x-boardroom-node"), Some(first.state.settings.node.name.as_str()));
    assert!(second.state.swarms.get(TenantId(business)).is_none(), "the second process started no swarm");
    // …until the first lets it go; then the second runs it, and has none left either.
    assert!(first.state.swarms.passivate(TenantId(business)).await);
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

// ---- count limits under concurrent requests ----

/// POSTs every body to `path` at once, each from its own task.
async fn post_in_parallel(caller: &Caller, path: &str, bodies: Vec<serde_json::Value>) -> Vec<ApiResponse> {
    let mut requests = tokio::task::JoinSet::new();
    for body in bodies {
        let (caller, path) = (caller.clone(), path.to_owned());
        requests.spawn(async move { caller.post(&path, &body).await });
    }
    requests.join_all().await
}

/// How many were created (201); asserts every other answer is the tier's 402 naming
/// the limit of `what`.
fn created_and_refused_at_the_limit(answers: &[ApiResponse], what: &str, limit: u64) -> usize {
    let mut created = 0;
    for answer in answers {
        if answer.status == 201 {
            created += 1;
            continue;
        }
        assert_eq!((answer.status, answer.error_code()), (402, "tier_limit"), "{}", answer.body);
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("free tier allows {limit} {what} per business")), "{message}");
        assert_eq!(answer.body["error"]["fields"]["limit"], limit.to_string());
        assert_eq!(answer.body["error"]["fields"]["tier"], "free");
    }
    created
}

async fn eight_parallel_requests_create_exactly_the_free_tiers_limit(backends: Backends) {
    // Arrange
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let ada = app.new_account("ada@example.com").await;
    let business = create_business(&ada, "Planners").await;
    let campaign = |n: usize| json!({ "business_id": business, "name": format!("Launch {n}"), "channel": "google_ads", "budget": "10" });
    let store = |n: usize| {
        json!({ "business_id": business, "platform": "etsy", "store_url": format!("https://s{n}.myshopify.com"),
                "credentials": { "access_token": "shpat_x" } })
    };
    let product = |n: usize| {
        json!({ "business_id": business, "title": format!("Planner {n}"), "niche": "planners",
                "price": "19.00", "cost": "2.00" })
    };

    // Act: eight of each at once.
    let campaigns = post_in_parallel(&ada, "/api/marketing/campaign", (0..8).map(campaign).collect()).await;
    let stores = post_in_parallel(&ada, "/api/stores/connect", (0..8).map(store).collect()).await;
    let products = post_in_parallel(&ada, "/api/products/create", (0..8).map(product).collect()).await;

    // Assert: exactly the limit was created, everything else was a 402…
    assert_eq!(created_and_refused_at_the_limit(&campaigns, "campaigns", 2), 2);
    assert_eq!(created_and_refused_at_the_limit(&stores, "stores", 1), 1);
    assert_eq!(created_and_refused_at_the_limit(&products, "products", 5), 5);
    // …and exactly the limit is stored.
    let listed = |path: String| {
        let ada = ada.clone();
        async move {
            let list = ada.get(&path).await;
            assert_eq!(list.status, 200, "{}", list.body);
            list.body["items"].as_array().map(Vec::len).unwrap_or_default()
        }
    };
    assert_eq!(listed(format!("/api/marketing/list?business_id={business}")).await, 2);
    assert_eq!(listed(format!("/api/stores/list?business_id={business}")).await, 1);
    assert_eq!(listed(format!("/api/products/list?business_id={business}")).await, 5);
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(
        (profile.body["usage"]["products"].as_u64(), profile.body["usage"]["stores"].as_u64()),
        (Some(5), Some(1))
    );

    // A deleted product makes room for exactly one more.
    let first = products.iter().find(|answer| answer.status == 201).expect("a product").body["id"].clone();
    let deleted = ada.delete(&format!("/api/products/{first}?business_id={business}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let again = post_in_parallel(&ada, "/api/products/create", (8..12).map(product).collect()).await;
    assert_eq!(created_and_refused_at_the_limit(&again, "products", 5), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_eight_parallel_requests_create_exactly_the_free_tiers_limit() {
    eight_parallel_requests_create_exactly_the_free_tiers_limit(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_eight_parallel_requests_create_exactly_the_free_tiers_limit() {
    eight_parallel_requests_create_exactly_the_free_tiers_limit(Backends::Production).await;
}

// ---- the autopilot interval ----

/// Numbers no interval may be: past the 30-day maximum, past `i64` and `u64`, negative,
/// zero, fractional, and not a number at all.
const OUT_OF_RANGE_INTERVALS: [&str; 8] =
    ["9223372036854775808", "18446744073709551616", "18446744073709551615", "2592001", "-1", "0", "1.5", "\"60\""];

/// The business's stored `autopilot_interval_secs`.
async fn stored_interval(app: &TestApp, business: i64) -> serde_json::Value {
    let tenant = app.state.store.tenant(TenantId(business)).await.expect("read").expect("the business");
    tenant.settings["autopilot_interval_secs"].clone()
}

fn refused_naming_the_interval(answer: &ApiResponse, sent: &str) {
    assert_eq!((answer.status, answer.error_code()), (422, "validation"), "{sent}: {}", answer.body);
    let problem = answer.body["error"]["fields"]["autopilot_interval_secs"].as_str().unwrap_or_default();
    assert!(problem.contains("from 1 to 2592000"), "{sent}: {}", answer.body);
}

async fn an_autopilot_interval_out_of_range_is_refused_and_none_undercuts_the_tier(backends: Backends) {
    // Arrange
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let ada = app.new_account("ada@example.com").await;
    let raw = |caller: &Caller, method: reqwest::Method, path: String, body: String| {
        let caller = caller.clone();
        async move { caller.send_raw(method, &path, Some("application/json"), body.into_bytes()).await }
    };

    // Creating: every out-of-range number is a 422 naming the field, and nothing is made.
    for sent in OUT_OF_RANGE_INTERVALS {
        let body = format!(r#"{{"name": "Mugs", "autopilot_interval_secs": {sent}}}"#);
        let answer = raw(&ada, reqwest::Method::POST, "/api/business/create".into(), body).await;
        refused_naming_the_interval(&answer, sent);
    }
    assert_eq!(ada.get("/api/business/list").await.body["items"], json!([]));
    // A small positive interval is raised to the free tier's 30 minutes.
    let created = ada.post("/api/business/create", &json!({ "name": "Mugs", "autopilot_interval_secs": 1 })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("business id");
    assert_eq!(stored_interval(&app, business).await, 1800);

    // Updating: refused alike, and the stored interval is kept.
    for sent in OUT_OF_RANGE_INTERVALS {
        let body = format!(r#"{{"autopilot_interval_secs": {sent}}}"#);
        let answer = raw(&ada, reqwest::Method::PUT, format!("/api/business/{business}"), body).await;
        refused_naming_the_interval(&answer, sent);
        assert_eq!(stored_interval(&app, business).await, 1800, "{sent}");
    }
    let raised = ada.put(&format!("/api/business/{business}"), &json!({ "autopilot_interval_secs": 60 })).await;
    assert_eq!(raised.status, 200, "{}", raised.body);
    assert_eq!(stored_interval(&app, business).await, 1800);

    // The longest interval allowed reaches the running autopilot whole.
    let longest = ada
        .put(&format!("/api/business/{business}"), &json!({ "autopilot_interval_secs": 2_592_000, "autopilot": true }))
        .await;
    assert_eq!(longest.status, 200, "{}", longest.body);
    assert_eq!(stored_interval(&app, business).await, 2_592_000);
    let swarm = app.state.swarms.get(TenantId(business)).expect("the autopilot started the swarm");
    assert_eq!(swarm.autopilot().interval.as_secs(), 2_592_000);

    let hourly = ada.put(&format!("/api/business/{business}"), &json!({ "autopilot_interval_secs": 3600 })).await;
    assert_eq!(hourly.status, 200, "{}", hourly.body);
    assert_eq!(swarm.autopilot().interval.as_secs(), 3600);

    // A huge interval stored before the bound was checked is cut to 30 days, never
    // wrapped round to nothing.
    let owner = UserId(user_id(&ada).await);
    let legacy = json!({ "autopilot": false, "autopilot_interval_secs": 1_u64 << 63 });
    let changes = TenantChanges { settings: Some(legacy), ..TenantChanges::default() };
    app.state.store.update_tenant(TenantId(business), owner, changes).await.expect("legacy settings");
    let restarted = ada.put(&format!("/api/business/{business}"), &json!({ "autopilot": true })).await;
    assert_eq!(restarted.status, 200, "{}", restarted.body);
    let swarm = app.state.swarms.get(TenantId(business)).expect("swarm running");
    assert_eq!(swarm.autopilot().interval.as_secs(), 2_592_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_an_autopilot_interval_out_of_range_is_refused() {
    an_autopilot_interval_out_of_range_is_refused_and_none_undercuts_the_tier(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_an_autopilot_interval_out_of_range_is_refused() {
    an_autopilot_interval_out_of_range_is_refused_and_none_undercuts_the_tier(Backends::Production).await;
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
