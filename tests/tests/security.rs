//! Stories of an outside attacker, and of the service behind a reverse proxy: sign-up
//! and login limits that fall on the attacker's address and never on the owner, one
//! answer for a taken address, a business limit per tier, `/health` and `/metrics` that
//! tell strangers nothing, and forwarding headers believed only from trusted proxies.
//!
//! Every story runs on both backends (`sqlite::…` and `postgres::…`). Test clients
//! all come from 127.0.0.1; stories that need several client addresses trust that
//! address as a proxy and send `X-Forwarded-For`.

use boardroom_tests::{ApiResponse, Backends, Caller, TEST_PASSWORD, TestApp, spawn_app_with};
use serde_json::json;

boardroom_tests::on_both_backends! {
    the_sixth_sign_up_from_one_address_is_refused_while_another_address_signs_up,
    a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored,
    an_attacker_failing_on_an_account_is_refused_and_the_owner_still_logs_in,
    signing_up_with_a_taken_address_answers_alike_and_changes_nothing,
    a_free_account_has_one_business_and_a_pro_account_five,
    parallel_business_creations_cannot_squeeze_past_the_tier,
    session_cookies_are_secure_and_hsts_is_sent_only_over_forwarded_https_from_a_trusted_proxy,
    authenticated_json_is_never_stored_by_caches,
    anyone_sees_only_the_status_of_health_and_an_admin_sees_the_details,
    metrics_need_their_token,
    the_ip_allow_list_checks_the_address_a_trusted_proxy_forwards,
}

/// The test client's own address, trusted as a reverse proxy.
const PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1, ::1");

async fn spawn(backends: Backends, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("DEMO_TENANT", "false")];
    env.extend_from_slice(extra);
    spawn_app_with(backends, &env).await
}

/// An anonymous caller whose requests a (trusted or not) proxy says came from `address`.
fn from(app: &TestApp, address: &str) -> Caller {
    app.anonymous().with_header("X-Forwarded-For", address)
}

async fn sign_up(caller: &Caller, email: &str, password: &str) -> ApiResponse {
    caller.post("/api/auth/signup", &json!({ "email": email, "password": password })).await
}

async fn log_in(caller: &Caller, email: &str, password: &str) -> ApiResponse {
    caller.post("/api/auth/login", &json!({ "email": email, "password": password })).await
}

fn retry_after(answer: &ApiResponse) -> u64 {
    answer.header("retry-after").expect("Retry-After").parse().expect("seconds")
}

// ---- sign-up ----

async fn the_sixth_sign_up_from_one_address_is_refused_while_another_address_signs_up(backends: Backends) {
    // Arrange: two processes on one database (and, in production, one Redis).
    let first = spawn(backends, &[PROXY]).await;
    let second = first.another_process().await;
    let production = first.postgres.is_some();
    let attacker = |app: &TestApp| from(app, "203.0.113.9");

    // Act: five sign-ups from one address, through both processes in production.
    for n in 0..5 {
        let app = if production && n % 2 == 1 { &second } else { &first };
        let answer = sign_up(&attacker(app), &format!("bot{n}@example.com"), TEST_PASSWORD).await;
        assert_eq!(answer.status, 201, "sign-up {n}: {}", answer.body);
    }

    // Assert: the sixth is refused, by either process when the count is in Redis.
    let refused = sign_up(&attacker(&first), "bot5@example.com", TEST_PASSWORD).await;
    assert_eq!((refused.status, refused.error_code()), (429, "rate_limited"), "{}", refused.body);
    assert!((1..=720).contains(&retry_after(&refused)), "one sign-up comes back every 12 minutes");
    if production {
        let also = sign_up(&attacker(&second), "bot6@example.com", TEST_PASSWORD).await;
        assert_eq!(also.status, 429, "the limit holds across processes: {}", also.body);
    }
    assert!(first.state.store.user_by_email("bot5@example.com").await.expect("lookup").is_none());
    let other = sign_up(&from(&first, "198.51.100.7"), "ada@example.com", TEST_PASSWORD).await;
    assert_eq!(other.status, 201, "another address still signs up: {}", other.body);
}

async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(backends: Backends) {
    // No TRUSTED_PROXIES: the peer (127.0.0.1) is the client, whatever it claims.
    let app = spawn(backends, &[]).await;
    for n in 0..5 {
        let answer = sign_up(&from(&app, &format!("10.0.0.{n}")), &format!("bot{n}@example.com"), TEST_PASSWORD).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let refused = sign_up(&from(&app, "10.0.0.99"), "bot99@example.com", TEST_PASSWORD).await;
    assert_eq!(refused.status, 429, "the real peer is counted: {}", refused.body);

    // Logins alike: failures "from" ever new addresses are one address's failures.
    for n in 0..5 {
        let wrong = log_in(&from(&app, &format!("10.1.0.{n}")), "bot0@example.com", "wrong password").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    let refused = log_in(&from(&app, "10.1.0.99"), "bot0@example.com", TEST_PASSWORD).await;
    assert_eq!((refused.status, refused.error_code()), (429, "rate_limited"), "{}", refused.body);
}

async fn signing_up_with_a_taken_address_answers_alike_and_changes_nothing(backends: Backends) {
    let app = spawn(backends, &[]).await;
    let fresh = app.sign_up("ada@example.com", TEST_PASSWORD, None).await;
    let taken = app.sign_up("ADA@example.com", "the attacker's password", None).await;

    assert_eq!((fresh.status, taken.status), (201, 201), "{} / {}", fresh.body, taken.body);
    assert_eq!(fresh.body, taken.body, "the same answer whether the address was free or not");
    assert!(fresh.body.get("user").is_none(), "no account is shown: {}", fresh.body);
    let (attacker, _) = app.log_in("ada@example.com", "the attacker's password").await;
    assert_eq!((attacker.status, attacker.error_code()), (401, "invalid_credentials"));
    let (owner, ada) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!(owner.status, 200, "the owner's password still works: {}", owner.body);
    let admin = app.state.store.list_users(None, 10).await.expect("users");
    assert_eq!(admin.len(), 1, "nothing was created");
    assert_eq!(ada.expect("ada").get("/api/auth/profile").await.body["role"], "admin", "nor changed");
}

// ---- logins ----

async fn an_attacker_failing_on_an_account_is_refused_and_the_owner_still_logs_in(backends: Backends) {
    // Arrange
    let app = spawn(backends, &[PROXY]).await;
    let owner = from(&app, "198.51.100.7");
    let attacker = from(&app, "203.0.113.9");
    assert_eq!(sign_up(&owner, "ada@example.com", TEST_PASSWORD).await.status, 201);

    // Act: the attacker guesses; after five failures even the right password is refused.
    for guess in 0..5 {
        let wrong = log_in(&attacker, "ada@example.com", &format!("guess {guess}")).await;
        assert_eq!((wrong.status, wrong.error_code()), (401, "invalid_credentials"), "{}", wrong.body);
    }
    let refused = log_in(&attacker, "ada@example.com", TEST_PASSWORD).await;

    // Assert
    assert_eq!((refused.status, refused.error_code()), (429, "rate_limited"), "{}", refused.body);
    assert!((1..=180).contains(&retry_after(&refused)), "{}", retry_after(&refused));
    for _ in 0..3 {
        let logged_in = log_in(&owner, "ada@example.com", TEST_PASSWORD).await;
        assert_eq!(logged_in.status, 200, "the owner is never locked out: {}", logged_in.body);
    }
    // The owner's own typo does not undo the attacker's count, nor lock the owner out.
    assert_eq!(log_in(&owner, "ada@example.com", "typo").await.status, 401);
    assert_eq!(log_in(&owner, "ada@example.com", TEST_PASSWORD).await.status, 200);
    assert_eq!(log_in(&attacker, "ada@example.com", TEST_PASSWORD).await.status, 429);
}

// ---- businesses per tier ----

async fn a_free_account_has_one_business_and_a_pro_account_five(backends: Backends) {
    // Arrange: with the demo tenant, which the system makes and no limit refuses.
    let app = spawn_app_with(backends, &[]).await;
    let admin = app.new_account("admin@example.com").await;
    let ada = app.new_account("ada@example.com").await;
    let ada_id = ada.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id");

    // Act / Assert: one business, then a 402 naming the tier and the limit.
    assert_eq!(ada.post("/api/business/create", &json!({ "name": "Mugs" })).await.status, 201);
    let refused = ada.post("/api/business/create", &json!({ "name": "Hats" })).await;
    assert_eq!((refused.status, refused.error_code()), (402, "tier_limit"), "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("free tier allows 1 businesses per account"), "{message}");
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!((&profile.body["usage"]["businesses"], &profile.body["limits"]["businesses"]), (&json!(1), &json!(1)));

    let granted = admin.put(&format!("/admin/users/{ada_id}/tier"), &json!({ "tier": "pro" })).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    for n in 2..=5 {
        let created = ada.post("/api/business/create", &json!({ "name": format!("Shop {n}") })).await;
        assert_eq!(created.status, 201, "business {n} on pro: {}", created.body);
    }
    let sixth = ada.post("/api/business/create", &json!({ "name": "Shop 6" })).await;
    assert_eq!((sixth.status, sixth.error_code()), (402, "tier_limit"), "{}", sixth.body);
    assert_eq!(ada.get("/api/auth/profile").await.body["limits"]["businesses"], 5);
}

async fn parallel_business_creations_cannot_squeeze_past_the_tier(backends: Backends) {
    let app = spawn(backends, &[]).await;
    let ada = app.new_account("ada@example.com").await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let (ada, start) = (ada.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                ada.post("/api/business/create", &json!({ "name": format!("Racer {n}") })).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.expect("racer").status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 402, 402, 402, 402, 402, 402, 402]);
    assert_eq!(ada.get("/api/business/list").await.body["items"].as_array().map(Vec::len), Some(1));
}

// ---- behind a reverse proxy ----

async fn session_cookies_are_secure_and_hsts_is_sent_only_over_forwarded_https_from_a_trusted_proxy(
    backends: Backends,
) {
    let behind_proxy = spawn(backends, &[PROXY]).await;
    behind_proxy.new_account("ada@example.com").await;
    let over_https = behind_proxy.anonymous().with_header("X-Forwarded-Proto", "https");
    let secure = log_in(&over_https, "ada@example.com", TEST_PASSWORD).await;
    assert_eq!(secure.status, 200, "{}", secure.body);
    let cookie = secure.header("set-cookie").expect("cookie");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let hsts = secure.header("strict-transport-security").expect("HSTS over https");
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");
    let plain = log_in(&behind_proxy.anonymous(), "ada@example.com", TEST_PASSWORD).await;
    assert!(!plain.header("set-cookie").expect("cookie").contains("Secure"));
    assert!(plain.header("strict-transport-security").is_none());

    // From a peer that is not a trusted proxy, the header is anyone's claim.
    let direct = spawn(Backends::Embedded, &[]).await;
    direct.new_account("ada@example.com").await;
    let claimed =
        log_in(&direct.anonymous().with_header("X-Forwarded-Proto", "https"), "ada@example.com", TEST_PASSWORD).await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    assert!(!claimed.header("set-cookie").expect("cookie").contains("Secure"));
    assert!(claimed.header("strict-transport-security").is_none());
}

async fn authenticated_json_is_never_stored_by_caches(backends: Backends) {
    let app = spawn(backends, &[]).await;
    let ada = app.new_account("ada@example.com").await;
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.header("cache-control"), Some("no-store"));
    let token = ada.post("/api/auth/tokens", &json!({ "name": "ci" })).await;
    assert_eq!(token.header("cache-control"), Some("no-store"), "the token's secret is in it");
    let listed = ada.with_token(token.body["token"].as_str().expect("token")).get("/api/business/list").await;
    assert_eq!((listed.status, listed.header("cache-control")), (200, Some("no-store")));
    let (login, _) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!(login.header("cache-control"), Some("no-store"), "a login answer carries the CSRF token");
}

async fn the_ip_allow_list_checks_the_address_a_trusted_proxy_forwards(backends: Backends) {
    let app = spawn_app_with(backends, &[PROXY, ("DEMO_TENANT", "false"), ("CACHE_SECS", "0")]).await;
    let ada = app.new_account("ada@example.com").await;
    let id = ada.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id");
    app.state
        .store
        .set_access_control(boardroom_memory::UserId(id), "ip_whitelist", "198.51.100.0/24")
        .await
        .expect("control");
    let office = ada.with_header("X-Forwarded-For", "198.51.100.7");
    assert_eq!(office.get("/api/auth/profile").await.status, 200, "the forwarded address is allowed");
    let elsewhere = ada.with_header("X-Forwarded-For", "203.0.113.9").get("/api/auth/profile").await;
    assert_eq!((elsewhere.status, elsewhere.error_code()), (403, "ip_not_allowed"));
    let proxy_itself = ada.get("/api/auth/profile").await;
    assert_eq!(proxy_itself.status, 403, "the proxy's own address is not the client's");
}

// ---- what anonymous callers see ----

async fn anyone_sees_only_the_status_of_health_and_an_admin_sees_the_details(backends: Backends) {
    let app = spawn(backends, &[]).await;
    let admin = app.new_account("admin@example.com").await;
    let user = app.new_account("user@example.com").await;

    assert_eq!(app.get_json("/health").await, (200, json!({ "status": "ok" })));
    assert_eq!(user.get("/health").await.body, json!({ "status": "ok" }), "a user is not an admin");
    let forged = app.anonymous().with_token("br_forged").get("/health").await;
    assert_eq!((forged.status, forged.body), (200, json!({ "status": "ok" })), "a bad token is just anonymous");

    let details = admin.get("/health").await;
    assert_eq!(details.status, 200);
    for key in ["database", "redis", "llm", "swarms", "live", "version"] {
        assert!(details.body.get(key).is_some(), "an admin sees {key}: {}", details.body);
    }
    let token = admin.post("/api/auth/tokens", &json!({ "name": "monitor" })).await.body["token"].clone();
    let by_token = app.anonymous().with_token(token.as_str().expect("token")).get("/health").await;
    assert!(by_token.body["version"].is_string(), "an admin's token sees the details too: {}", by_token.body);
}

async fn metrics_need_their_token(backends: Backends) {
    let token = "metrics-token-0123456789";
    let app = spawn(backends, &[("METRICS_TOKEN", token)]).await;
    let anonymous = app.anonymous().get("/metrics").await;
    assert_eq!((anonymous.status, anonymous.error_code()), (401, "invalid_token"));
    let wrong = app.anonymous().with_token("metrics-token-0123456780").get("/metrics").await;
    assert_eq!(wrong.status, 401);
    let admin = app.new_account("admin@example.com").await;
    assert_eq!(admin.get("/metrics").await.status, 401, "a session is not the metrics token");
    let served = app.anonymous().with_header("Authorization", &format!("Bearer {token}")).get("/metrics").await;
    assert_eq!(served.status, 200);
    assert!(String::from_utf8_lossy(&served.raw).contains("boardroom_uptime_seconds"));

    // Without METRICS_TOKEN there is nothing to see.
    let unconfigured = spawn(Backends::Embedded, &[]).await;
    let absent = unconfigured.anonymous().get("/metrics").await;
    assert_eq!((absent.status, absent.error_code()), (404, "not_configured"), "{}", absent.body);
}
