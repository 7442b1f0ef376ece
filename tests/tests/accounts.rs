//! Accounts and security, the business routes and the admin basics, driven over HTTP
//! against the real router: sign-up, login, sessions (database and Redis), CSRF, API
//! tokens, invites and private mode, throttling, access controls, the error model.

use boardroom_memory::{NewInvite, UserId};
use boardroom_tests::{Backends, Caller, TEST_PASSWORD, TestApp, spawn_app_with};
use chrono::{TimeDelta, Utc};
use serde_json::json;

/// The app without its demo tenant, whose autopilot these stories do not need.
async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

/// The app in private mode (invite-only sign-up), demo tenant included: its system
/// owner must not stop the first person from signing up without an invite. Refused
/// sign-ups count against the address's allowance too (so invite codes cannot be
/// guessed fast), and these stories make more than five from one address.
async fn spawn_private_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("PRIVATE_MODE", "true"), ("SIGNUPS_PER_ADDRESS_PER_HOUR", "20")]).await
}

/// An admin (the first account) and a regular user.
async fn admin_and_user(app: &TestApp) -> (Caller, Caller) {
    let admin = app.new_account("admin@example.com").await;
    let user = app.new_account("user@example.com").await;
    (admin, user)
}

async fn create_business(caller: &Caller, name: &str) -> i64 {
    let created = caller.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

// ---- the main story ----

async fn a_new_user_signs_up_logs_in_and_runs_a_business_through_its_life(backends: Backends) {
    let app = spawn_app(backends).await;

    // Sign up and log in.
    let signed_up = app.sign_up("Ada@Example.com", TEST_PASSWORD, None).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    assert_eq!(signed_up.body["email"], "ada@example.com", "addresses are stored lower-case");
    assert!(!signed_up.body.to_string().contains("argon2"), "the hash never leaves the server");
    let (logged_in, ada) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    let ada = ada.unwrap_or_else(|| panic!("login: {} {}", logged_in.status, logged_in.body));
    let cookie = logged_in.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP gets no Secure flag: {cookie}");

    // The profile.
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert_eq!(profile.body["user"]["email"], "ada@example.com");
    assert_eq!(profile.body["role"], "admin", "the first account is admin");
    assert_eq!(profile.body["tier"], "free");
    assert_eq!(profile.body["tenants"], 0);
    assert_eq!(profile.body["usage"]["api_calls"], 0);
    assert_eq!(profile.body["limits"]["products"], 5);
    assert_eq!((&profile.body["limits"]["businesses"], &profile.body["usage"]["businesses"]), (&json!(1), &json!(0)));
    assert_eq!(profile.body["csrf_token"], logged_in.body["csrf_token"]);

    // Create, list, update, delete a business.
    let created = ada
        .post(
            "/api/business/create",
            &json!({ "name": "Mugs & Co", "domain": "Mugs.Example.com", "personality": "HustleBot" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["personality"], "hustlebot");
    assert_eq!(created.body["domain"], "mugs.example.com");
    assert_eq!(created.body["autopilot"], false);
    let id = created.body["id"].as_i64().expect("id");

    let listed = ada.get("/api/business/list").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed.body["items"][0]["name"], "Mugs & Co");
    assert_eq!(listed.body["next_after"], json!(null));
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!((&profile.body["tenants"], &profile.body["usage"]["businesses"]), (&json!(1), &json!(1)));

    let updated = ada.put(&format!("/api/business/{id}"), &json!({ "name": "Mugs", "domain": null })).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!((updated.body["name"].as_str(), &updated.body["domain"]), (Some("Mugs"), &json!(null)));
    assert_eq!(updated.body["personality"], "hustlebot", "absent fields are kept");
    assert_eq!(ada.get(&format!("/api/business/{id}")).await.body["name"], "Mugs");

    let deleted = ada.delete(&format!("/api/business/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(ada.get(&format!("/api/business/{id}")).await.status, 404);
    assert_eq!(ada.get("/api/business/list").await.body["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_a_new_user_signs_up_logs_in_and_runs_a_business() {
    a_new_user_signs_up_logs_in_and_runs_a_business_through_its_life(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_a_new_user_signs_up_logs_in_and_runs_a_business() {
    a_new_user_signs_up_logs_in_and_runs_a_business_through_its_life(Backends::Production).await;
}

async fn businesses_are_listed_page_by_page_and_validated(backends: Backends) {
    let app = spawn_app(backends).await;
    // Three businesses: more than a free account may have.
    let ada = app.new_account_on("ada@example.com", boardroom_memory::Tier::Pro).await;
    for name in ["One", "Two", "Three"] {
        create_business(&ada, name).await;
    }
    let first = ada.get("/api/business/list?limit=2").await;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(2), "{}", first.body);
    let after = first.body["next_after"].as_i64().expect("a next page");
    let second = ada.get(&format!("/api/business/list?limit=2&after={after}")).await;
    assert_eq!(second.body["items"][0]["name"], "Three");
    assert_eq!(second.body["next_after"], json!(null));

    let refused =
        ada.post("/api/business/create", &json!({ "name": " ", "personality": "Grumpy", "domain": "nope" })).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let fields = &refused.body["error"]["fields"];
    assert_eq!(fields["name"], "must not be empty");
    assert!(fields["personality"].as_str().is_some_and(|p| p.contains("CoachTy")), "{fields}");
    assert!(fields["domain"].is_string(), "{fields}");

    let too_many = ada.get("/api/business/list?limit=1000").await;
    assert_eq!((too_many.status, too_many.error_code()), (400, "invalid_query"));
    assert!(too_many.body["error"]["fields"]["limit"].is_string(), "{}", too_many.body);
}

async fn turning_autopilot_on_starts_the_swarm_and_deleting_the_business_stops_it(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let created = ada.post("/api/business/create", &json!({ "name": "Mugs", "autopilot": true })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["autopilot"], true);
    let id = boardroom_memory::TenantId(created.body["id"].as_i64().expect("id"));
    let swarm = app.state.swarms.get(id).expect("the swarm is active");
    assert!(swarm.autopilot().running);

    let paused = ada.put(&format!("/api/business/{}", id.0), &json!({ "autopilot": false })).await;
    assert_eq!(paused.body["autopilot"], false, "{}", paused.body);
    assert!(swarm.autopilot().paused);

    assert_eq!(ada.delete(&format!("/api/business/{}", id.0)).await.status, 204);
    assert!(app.state.swarms.get(id).is_none(), "the swarm is stopped with its business");
}

// ---- roles, admin ----

async fn the_first_account_is_admin_and_the_second_is_not(backends: Backends) {
    // With the demo tenant running: its owner is a system account and does not take
    // the admin's place.
    let app = spawn_app_with(backends, &[]).await;
    let (admin, user) = admin_and_user(&app).await;
    assert_eq!(admin.get("/api/auth/profile").await.body["role"], "admin");
    assert_eq!(user.get("/api/auth/profile").await.body["role"], "user");

    assert_eq!(admin.get("/admin/users").await.status, 200);
    let refused = user.get("/admin/users").await;
    assert_eq!((refused.status, refused.error_code()), (403, "forbidden"));
    let anonymous = app.anonymous().get("/admin/users").await;
    assert_eq!((anonymous.status, anonymous.error_code()), (401, "unauthorized"));
}

async fn an_admin_generates_invites_lists_users_and_changes_roles(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, user) = admin_and_user(&app).await;

    let invite = admin.post("/admin/generate-invite", &json!({ "uses": 3, "expires_hours": 2 })).await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    let code = invite.body["code"].as_str().expect("code");
    assert_eq!(invite.body["uses"], 3);
    let url = invite.body["signup_url"].as_str().expect("url");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with(&format!("/signup?invite={code}")), "{url}");
    let too_many = admin.post("/admin/generate-invite", &json!({ "uses": 1000 })).await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.body["error"]["fields"]["uses"].is_string());
    assert_eq!(user.post("/admin/generate-invite", &json!({})).await.status, 403);
    let defaults = admin.send(reqwest::Method::POST, "/admin/generate-invite", None).await;
    assert_eq!((defaults.status, &defaults.body["uses"]), (201, &json!(1)), "no body, defaults: {}", defaults.body);

    let first_page = admin.get("/admin/users?limit=1").await;
    assert_eq!(first_page.body["items"][0]["email"], "admin@example.com", "{}", first_page.body);
    let after = first_page.body["next_after"].as_i64().expect("a next page");
    let second_page = admin.get(&format!("/admin/users?limit=1&after={after}")).await;
    assert_eq!(second_page.body["items"][0]["email"], "user@example.com");
    let user_id = second_page.body["items"][0]["id"].as_i64().expect("id");

    let promoted = admin.put(&format!("/admin/users/{user_id}/role"), &json!({ "role": "admin" })).await;
    assert_eq!((promoted.status, &promoted.body["role"]), (200, &json!("admin")), "{}", promoted.body);
    assert_eq!(user.get("/admin/users").await.status, 200, "the new role applies to the live session");

    let bad_role = admin.put(&format!("/admin/users/{user_id}/role"), &json!({ "role": "overlord" })).await;
    assert_eq!(bad_role.status, 422);
    assert!(bad_role.body["error"]["fields"]["role"].as_str().is_some_and(|p| p.contains("overlord")));
    let admin_id = admin.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id");
    let own = admin.put(&format!("/admin/users/{admin_id}/role"), &json!({ "role": "user" })).await;
    assert_eq!((own.status, own.error_code()), (403, "own_role"), "an admin cannot demote themselves: {}", own.body);
    assert_eq!(admin.put("/admin/users/999999/role", &json!({ "role": "user" })).await.status, 404);
}

// ---- private mode and invites ----

async fn in_private_mode_sign_up_needs_a_valid_invite_and_says_why_a_code_is_refused(backends: Backends) {
    let app = spawn_private_app(backends).await;
    // Nobody could have made an invite yet: the first account needs none and is admin.
    let founder = app.sign_up("founder@example.com", TEST_PASSWORD, None).await;
    assert_eq!(founder.status, 201, "{}", founder.body);
    let (_, admin) = app.log_in("founder@example.com", TEST_PASSWORD).await;
    let admin = admin.expect("admin logs in");
    assert_eq!(admin.get("/api/auth/profile").await.body["role"], "admin");

    let no_code = app.sign_up("bob@example.com", TEST_PASSWORD, None).await;
    assert_eq!((no_code.status, no_code.error_code()), (403, "invite_required"), "{}", no_code.body);
    assert_eq!(no_code.body["error"]["fields"]["invite_code"], "is required");

    let unknown = app.sign_up("bob@example.com", TEST_PASSWORD, Some("no-such-code")).await;
    assert_eq!((unknown.status, unknown.error_code()), (403, "invite_rejected"));
    assert_eq!(unknown.body["error"]["fields"]["invite_code"], "unknown code");

    let store = app.state.store.clone();
    let founder_id = UserId(admin.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id"));
    let expired = NewInvite {
        code: "expired-code".into(),
        created_by: Some(founder_id),
        uses: 5,
        expires_at: Some(Utc::now() - TimeDelta::hours(1)),
    };
    store.create_invite(expired).await.expect("expired invite");
    let refused = app.sign_up("bob@example.com", TEST_PASSWORD, Some("expired-code")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"]["fields"]["invite_code"], "code has expired");

    let invite = admin.post("/admin/generate-invite", &json!({ "uses": 1 })).await;
    let code = invite.body["code"].as_str().expect("code").to_owned();
    let welcomed = app.sign_up("bob@example.com", TEST_PASSWORD, Some(&code)).await;
    assert_eq!(welcomed.status, 201, "{}", welcomed.body);
    let (bob_login, bob) = app.log_in("bob@example.com", TEST_PASSWORD).await;
    assert_eq!(bob_login.status, 200, "the invited account works");
    assert_eq!(bob.expect("bob").get("/api/auth/profile").await.body["role"], "user");

    let exhausted = app.sign_up("carol@example.com", TEST_PASSWORD, Some(&code)).await;
    assert_eq!(exhausted.status, 403);
    assert_eq!(exhausted.body["error"]["fields"]["invite_code"], "code has no uses left");
    assert!(store.user_by_email("carol@example.com").await.expect("lookup").is_none(), "no account is left behind");
}

async fn an_admin_switches_private_mode_at_run_time(backends: Backends) {
    let app = spawn_app(backends).await;
    let (admin, user) = admin_and_user(&app).await;

    assert_eq!(user.post("/admin/toggle-private", &json!({ "enabled": true })).await.status, 403);
    let on = admin.post("/admin/toggle-private", &json!({ "enabled": true })).await;
    assert_eq!((on.status, &on.body["private_mode"]), (200, &json!(true)), "{}", on.body);
    let refused = app.sign_up("carol@example.com", TEST_PASSWORD, None).await;
    assert_eq!((refused.status, refused.error_code()), (403, "invite_required"));

    let off = admin.post("/admin/toggle-private", &json!({ "enabled": false })).await;
    assert_eq!(off.body["private_mode"], false);
    assert_eq!(app.sign_up("carol@example.com", TEST_PASSWORD, None).await.status, 201);
}

async fn ten_sign_ups_race_for_the_last_use_of_an_invite_and_exactly_one_wins(backends: Backends) {
    // Eleven sign-ups from one address: more than the default allows in an hour.
    let app = spawn_app_with(backends, &[("PRIVATE_MODE", "true"), ("SIGNUPS_PER_ADDRESS_PER_HOUR", "20")]).await;
    assert_eq!(app.sign_up("founder@example.com", TEST_PASSWORD, None).await.status, 201);
    let (_, admin) = app.log_in("founder@example.com", TEST_PASSWORD).await;
    let invite = admin.expect("admin").post("/admin/generate-invite", &json!({ "uses": 1 })).await;
    let code = invite.body["code"].as_str().expect("code").to_owned();

    // Ten tasks on the runtime's threads, released together.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let racers: Vec<_> = (0..10)
        .map(|n| {
            let (anonymous, start, code) = (app.anonymous(), start.clone(), code.clone());
            tokio::spawn(async move {
                let email = format!("racer{n}@example.com");
                let body = json!({ "email": email, "password": TEST_PASSWORD, "invite_code": code });
                start.wait().await;
                (email, anonymous.post("/api/auth/signup", &body).await)
            })
        })
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.expect("racer"));
    }

    let winners: Vec<&String> = results.iter().filter(|(_, r)| r.status == 201).map(|(email, _)| email).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (email, response) in results.iter().filter(|(_, r)| r.status != 201) {
        assert_eq!(response.status, 403, "{email}: {}", response.body);
        assert_eq!(response.body["error"]["fields"]["invite_code"], "code has no uses left");
        let left = app.state.store.user_by_email(email).await.expect("lookup");
        assert!(left.is_none(), "{email}: a refused sign-up leaves no account");
    }
    let (login, _) = app.log_in(winners[0], TEST_PASSWORD).await;
    assert_eq!(login.status, 200, "the winner can log in: {}", login.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_ten_sign_ups_race_for_the_last_invite_use_and_one_wins() {
    ten_sign_ups_race_for_the_last_use_of_an_invite_and_exactly_one_wins(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_ten_sign_ups_race_for_the_last_invite_use_and_one_wins() {
    ten_sign_ups_race_for_the_last_use_of_an_invite_and_exactly_one_wins(Backends::Production).await;
}

// ---- sessions, CSRF, tokens ----

async fn a_cookie_authenticated_write_needs_the_csrf_token(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let body = json!({ "name": "Mugs" });

    let missing = ada.without_csrf().post("/api/business/create", &body).await;
    assert_eq!((missing.status, missing.error_code()), (403, "csrf"), "{}", missing.body);
    let wrong = ada.with_csrf("not-the-token").post("/api/business/create", &body).await;
    assert_eq!((wrong.status, wrong.error_code()), (403, "csrf"));
    assert_eq!(ada.get("/api/business/list").await.body["items"], json!([]), "nothing was created");

    assert_eq!(ada.without_csrf().get("/api/business/list").await.status, 200, "reads need no token");
    assert_eq!(ada.post("/api/business/create", &body).await.status, 201);
    let logout = ada.without_csrf().post("/api/auth/logout", &json!({})).await;
    assert_eq!(logout.status, 403, "logging out is a write too");
}

async fn logging_out_ends_the_session(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let logout = ada.send(reqwest::Method::POST, "/api/auth/logout", None).await;
    assert_eq!(logout.status, 204, "{}", logout.body);
    assert!(logout.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")), "the cookie is cleared");
    let after = ada.get("/api/auth/profile").await;
    assert_eq!((after.status, after.error_code()), (401, "session_expired"));
    assert_eq!(ada.send(reqwest::Method::POST, "/api/auth/logout", None).await.status, 204, "idempotent");
}

async fn an_api_token_authenticates_a_program_until_it_is_revoked(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;

    let created = ada.post("/api/auth/tokens", &json!({ "name": "ci" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("br_") && token.len() == 46, "{token}");
    let token_id = created.body["id"].as_i64().expect("id");

    let program = ada.with_token(&token);
    let profile = program.get("/api/auth/profile").await;
    assert_eq!((profile.status, &profile.body["authenticated_by"]), (200, &json!("token")), "{}", profile.body);
    assert_eq!(profile.body["csrf_token"], json!(null));
    let write = program.post("/api/business/create", &json!({ "name": "Bot shop" })).await;
    assert_eq!(write.status, 201, "bearer writes need no CSRF token: {}", write.body);

    let listed = ada.get("/api/auth/tokens").await;
    assert_eq!(listed.body["items"][0]["name"], "ci", "{}", listed.body);
    assert!(listed.body["items"][0]["last_used_at"].is_string(), "use is stamped: {}", listed.body);
    assert!(!listed.body.to_string().contains(&token), "the secret is never listed");

    assert_eq!(ada.delete(&format!("/api/auth/tokens/{token_id}")).await.status, 204);
    let revoked = program.get("/api/auth/profile").await;
    assert_eq!((revoked.status, revoked.error_code()), (401, "invalid_token"));
    assert!(ada.get("/api/auth/tokens").await.body["items"][0]["revoked_at"].is_string());
    assert_eq!(ada.delete(&format!("/api/auth/tokens/{token_id}")).await.status, 404);

    let forged = ada.with_token("br_forged").get("/api/auth/profile").await;
    assert_eq!(forged.status, 401);
    let not_bearer = ada.with_token("x").send_raw(reqwest::Method::GET, "/api/auth/profile", None, vec![]).await;
    assert_eq!(not_bearer.status, 401);
}

async fn a_session_survives_a_restart_of_the_app(backends: Backends) {
    let mut app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let production = app.postgres.is_some();
    if production {
        // With Redis the database keeps no session: sweeping everything finds none.
        let in_database = app.state.store.delete_expired_sessions(Utc::now() + TimeDelta::days(36_500)).await;
        assert_eq!(in_database.expect("sweep"), 0, "sessions live in Redis");
    }

    app.restart().await;

    let ada = ada.on(&app);
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert_eq!(profile.body["user"]["email"], "ada@example.com");
    assert_eq!(ada.post("/api/business/create", &json!({ "name": "After restart" })).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_a_session_survives_a_restart() {
    a_session_survives_a_restart_of_the_app(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_a_session_survives_a_restart() {
    a_session_survives_a_restart_of_the_app(Backends::Production).await;
}

// ---- access controls, throttling ----

async fn an_ip_allow_list_refuses_other_addresses_and_a_session_timeout_shortens_sessions(backends: Backends) {
    // The controls are written straight to the database, as another process would;
    // such changes apply within CACHE_SECS, so this story turns the caches off to see
    // them at once.
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("CACHE_SECS", "0")]).await;
    let ada = app.new_account("ada@example.com").await;
    let id = UserId(ada.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id"));
    let store = app.state.store.clone();

    store.set_access_control(id, "ip_whitelist", "10.0.0.0/8, 192.0.2.1").await.expect("control");
    let refused = ada.get("/api/auth/profile").await;
    assert_eq!((refused.status, refused.error_code()), (403, "ip_not_allowed"));
    let (login, _) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!((login.status, login.error_code()), (403, "ip_not_allowed"));

    store.set_access_control(id, "ip_whitelist", "10.0.0.0/8, 127.0.0.1").await.expect("control");
    assert_eq!(ada.get("/api/auth/profile").await.status, 200);

    store.set_access_control(id, "session_timeout", "5").await.expect("control");
    let (login, _) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    let expires_at: chrono::DateTime<Utc> =
        serde_json::from_value(login.body["expires_at"].clone()).expect("expires_at");
    let minutes = (expires_at - Utc::now()).num_seconds() as f64 / 60.0;
    assert!((4.0..=5.0).contains(&minutes), "{minutes} minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_two_processes_count_failed_logins_together() {
    let first = spawn_app(Backends::Production).await;
    let second = first.another_process().await;
    first.new_account("ada@example.com").await;
    for app in [&second, &first, &second, &first, &second] {
        let (wrong, _) = app.log_in("ada@example.com", "wrong password").await;
        assert_eq!((wrong.status, wrong.error_code()), (401, "invalid_credentials"));
    }
    // Five failures from this address, spread over two processes: either refuses it now.
    let (throttled, _) = first.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!((throttled.status, throttled.error_code()), (429, "rate_limited"), "{}", throttled.body);
    assert!(throttled.header("retry-after").is_some());
    let (also, _) = second.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!(also.status, 429, "{}", also.body);
}

async fn an_address_that_failed_five_times_on_an_account_is_refused_with_retry_after(backends: Backends) {
    let app = spawn_app(backends).await;
    app.new_account("ada@example.com").await; // a success: nothing counted
    for _ in 0..5 {
        let (wrong, _) = app.log_in("ada@example.com", "wrong password").await;
        assert_eq!((wrong.status, wrong.error_code()), (401, "invalid_credentials"));
    }
    let (throttled, _) = app.log_in("ada@example.com", TEST_PASSWORD).await;
    assert_eq!((throttled.status, throttled.error_code()), (429, "rate_limited"), "{}", throttled.body);
    let retry_after: u64 = throttled.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=180).contains(&retry_after), "{retry_after}");
    let (other, _) = app.log_in("grace@example.com", TEST_PASSWORD).await;
    assert_eq!(other.status, 401, "another account is not throttled");
}

// ---- cross-tenant isolation ----

async fn another_users_business_answers_404_exactly_like_a_missing_one(backends: Backends) {
    let app = spawn_app(backends).await;
    let (ada, bob) = admin_and_user(&app).await;
    let adas = create_business(&ada, "Ada's").await;
    let missing = 9_999_999;

    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PUT, Some(json!({ "name": "Stolen" }))),
        (reqwest::Method::DELETE, None),
    ] {
        let theirs = bob.send(method.clone(), &format!("/api/business/{adas}"), body.as_ref()).await;
        let nobodys = bob.send(method.clone(), &format!("/api/business/{missing}"), body.as_ref()).await;
        assert_eq!(theirs.status, 404, "{method} another's: {}", theirs.body);
        assert_eq!(theirs.body, nobodys.body, "{method}: indistinguishable from a missing id");
    }
    assert_eq!(bob.get("/api/business/list").await.body["items"], json!([]));
    let still = ada.get(&format!("/api/business/{adas}")).await;
    assert_eq!((still.status, &still.body["name"]), (200, &json!("Ada's")), "untouched");
}

// ---- the error model ----

async fn malformed_requests_get_a_4xx_json_error_naming_the_field(backends: Backends) {
    let app = spawn_app(backends).await;
    let anonymous = app.anonymous();
    let post_raw = |content_type: Option<&'static str>, body: &'static str| {
        anonymous.send_raw(reqwest::Method::POST, "/api/auth/signup", content_type, body.as_bytes().to_vec())
    };

    let broken = post_raw(Some("application/json"), r#"{"email": "a@example.com", "#).await;
    assert_eq!((broken.status, broken.error_code()), (400, "invalid_json"), "{}", broken.body);

    let unknown = anonymous
        .post("/api/auth/signup", &json!({ "email": "a@example.com", "password": TEST_PASSWORD, "nickname": "A" }))
        .await;
    assert_eq!((unknown.status, unknown.error_code()), (422, "validation"));
    assert!(
        unknown.body["error"]["fields"]["nickname"].as_str().is_some_and(|p| p.starts_with("is not a known field"))
    );

    let missing = anonymous.post("/api/auth/signup", &json!({ "email": "a@example.com" })).await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["error"]["fields"]["password"], "is required");

    let wrong_type = anonymous.post("/api/auth/signup", &json!({ "email": 42, "password": TEST_PASSWORD })).await;
    assert_eq!(wrong_type.status, 422);
    assert!(wrong_type.body["error"]["fields"]["email"].as_str().is_some_and(|p| p.contains("invalid type")));

    let bad_values =
        anonymous.post("/api/auth/signup", &json!({ "email": "not-an-address", "password": "short" })).await;
    assert_eq!(bad_values.status, 422);
    assert!(bad_values.body["error"]["fields"]["email"].is_string(), "{}", bad_values.body);
    assert_eq!(bad_values.body["error"]["fields"]["password"], "must be at least 8 characters");

    let form = post_raw(Some("application/x-www-form-urlencoded"), "email=a").await;
    assert_eq!((form.status, form.error_code()), (415, "unsupported_media_type"));

    let ada = app.new_account("ada@example.com").await;
    let bad_path = ada.get("/api/business/abc").await;
    assert_eq!((bad_path.status, bad_path.error_code()), (400, "invalid_path"));
    assert!(bad_path.body["error"]["fields"]["id"].is_string(), "{}", bad_path.body);
    let bad_query = ada.get("/api/business/list?after=soon").await;
    assert_eq!(bad_query.status, 400);
    assert!(bad_query.body["error"]["fields"]["after"].is_string(), "{}", bad_query.body);
    let unknown_query = ada.get("/api/business/list?page=2").await;
    assert!(unknown_query.body["error"]["fields"]["page"].is_string(), "{}", unknown_query.body);

    let no_route = anonymous.get("/api/nothing-here").await;
    assert_eq!((no_route.status, no_route.error_code()), (404, "not_found"));
    let wrong_method = anonymous.get("/api/auth/signup").await;
    assert_eq!((wrong_method.status, wrong_method.error_code()), (405, "method_not_allowed"));
    // A taken address is not an error (see the sign-up stories in `security.rs`).
    let taken = app.sign_up("ADA@example.com", "another password", None).await;
    assert_eq!((taken.status, &taken.body["email"]), (201, &json!("ada@example.com")), "{}", taken.body);
}

async fn a_body_over_64_kib_is_refused_with_413(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let name = "x".repeat(70 * 1024);
    let refused = ada.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!((refused.status, refused.error_code()), (413, "payload_too_large"), "{}", refused.body);
}

async fn every_response_carries_the_secure_headers(backends: Backends) {
    let app = spawn_app(backends).await;
    let anonymous = app.anonymous();
    for response in [
        anonymous.get("/health").await,
        anonymous.get("/api/auth/profile").await,
        anonymous.get("/no/such/route").await,
        app.sign_up("ada@example.com", TEST_PASSWORD, None).await,
    ] {
        assert_eq!(response.header("content-security-policy"), Some("default-src 'self'"));
        assert_eq!(response.header("x-frame-options"), Some("DENY"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    }
}

// Every story above without a backend in its name runs twice: `sqlite::…` on the embedded
// defaults and `postgres::…` on PostgreSQL with Redis.
boardroom_tests::on_both_backends! {
    businesses_are_listed_page_by_page_and_validated,
    turning_autopilot_on_starts_the_swarm_and_deleting_the_business_stops_it,
    the_first_account_is_admin_and_the_second_is_not,
    an_admin_generates_invites_lists_users_and_changes_roles,
    in_private_mode_sign_up_needs_a_valid_invite_and_says_why_a_code_is_refused,
    an_admin_switches_private_mode_at_run_time,
    a_cookie_authenticated_write_needs_the_csrf_token,
    logging_out_ends_the_session,
    an_api_token_authenticates_a_program_until_it_is_revoked,
    an_ip_allow_list_refuses_other_addresses_and_a_session_timeout_shortens_sessions,
    an_address_that_failed_five_times_on_an_account_is_refused_with_retry_after,
    another_users_business_answers_404_exactly_like_a_missing_one,
    malformed_requests_get_a_4xx_json_error_naming_the_field,
    a_body_over_64_kib_is_refused_with_413,
    every_response_carries_the_secure_headers,
}
