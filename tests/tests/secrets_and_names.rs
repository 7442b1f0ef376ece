//! Keys and names, on both backends: a store's sealed credentials survive a change of
//! `SECRET_KEY` (opened with `SECRET_KEY_PREVIOUS` until `rotate-secrets` re-seals them)
//! and the move to HKDF-derived keys (the legacy sealing opens and is re-sealed), and names that would mislead whoever reads them (control, bidi-override, zero-width
//! characters, or a file name that is not UTF-8) are refused by every route that takes
//! one, while names in any script are kept as sent.

use boardroom_tests::{ApiResponse, Backends, Caller, TestApp, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

const OLD_SECRET: &str = "old-secret-key-0123456789abcdef0123456789";
const NEW_SECRET: &str = "new-secret-key-fedcba9876543210fedcba9876";

async fn create_business(caller: &Caller, name: &str) -> i64 {
    let created = caller.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

/// What `/api/stores/sync` says of each store's credentials (`ok` or `unreadable`).
async fn credentials_state(caller: &Caller, business: i64) -> Vec<Value> {
    let synced = caller.post("/api/stores/sync", &json!({ "business_id": business })).await;
    assert_eq!(synced.status, 200, "{}", synced.body);
    synced.body["stores"].as_array().expect("stores").iter().map(|store| store["credentials"].clone()).collect()
}

async fn rotate(app: &TestApp) -> boardroom_runtime::RotationReport {
    boardroom_runtime::rotate_secrets(&app.state.settings, &app.state.store, |_, _| {}).await.expect("rotation runs")
}

async fn stored_credentials_survive_a_secret_rotation(backends: Backends) {
    // Arrange: a store connected under the old secret.
    let mut app = spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("SECRET_KEY", OLD_SECRET)]).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    let connected = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "etsy", "store_url": "https://planner.myshopify.com",
                     "credentials": { "access_token": "shpat_secret" } }),
        )
        .await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert_eq!(credentials_state(&owner, business).await, [json!("ok")]);

    // Act: a new secret, the old one kept as the previous.
    app.restart_with(&[("SECRET_KEY", Some(NEW_SECRET)), ("SECRET_KEY_PREVIOUS", Some(OLD_SECRET))]).await;
    let owner = owner.on(&app);

    // Assert: the previous secret still opens them.
    assert_eq!(credentials_state(&owner, business).await, [json!("ok")]);

    // The rotation re-seals them under the new secret, once.
    let first = rotate(&app).await;
    assert_eq!((first.resealed, first.already_current, first.unreadable), (1, 0, 0), "{first:?}");
    let second = rotate(&app).await;
    assert_eq!((second.resealed, second.already_current, second.unreadable), (0, 1, 0), "idempotent: {second:?}");

    // Without the old secret at all, they still open.
    app.restart_with(&[("SECRET_KEY_PREVIOUS", None)]).await;
    let owner = owner.on(&app);
    assert_eq!(credentials_state(&owner, business).await, [json!("ok")]);

    // And a secret that sealed nothing opens nothing: the check is real.
    app.restart_with(&[("SECRET_KEY", Some(OLD_SECRET))]).await;
    let owner = owner.on(&app);
    assert_eq!(credentials_state(&owner, business).await, [json!("unreadable")]);
    let report = rotate(&app).await;
    assert_eq!((report.resealed, report.unreadable), (0, 1), "unreadable ones are left alone: {report:?}");
}

#[tokio::test]
async fn stored_credentials_survive_a_secret_rotation_on_sqlite() {
    stored_credentials_survive_a_secret_rotation(Backends::Embedded).await;
}

#[tokio::test]
async fn stored_credentials_survive_a_secret_rotation_on_postgres() {
    stored_credentials_survive_a_secret_rotation(Backends::Production).await;
}

/// Seals `plaintext` as the code before HKDF did: the key was SHA-256 over a label and
/// the secret, and the value is stored as algorithm `chacha20poly1305`.
fn legacy_sealed(secret: &str, plaintext: &[u8], context: &str) -> Value {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    use sha2::{Digest, Sha256};
    let key: [u8; 32] = Sha256::new()
        .chain_update(b"boardroom/credentials/chacha20poly1305/v1\0")
        .chain_update(secret.as_bytes())
        .finalize()
        .into();
    let nonce = Nonce::generate();
    let ciphertext = ChaCha20Poly1305::new(&key.into())
        .encrypt(&nonce, Payload { msg: plaintext, aad: context.as_bytes() })
        .expect("sealed");
    json!({ "algorithm": "chacha20poly1305", "nonce": BASE64.encode(nonce), "ciphertext": BASE64.encode(ciphertext) })
}

async fn credentials_sealed_before_hkdf_still_open_and_are_resealed(backends: Backends) {
    // Arrange: a connected store whose credentials are sealed as before HKDF.
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("SECRET_KEY", OLD_SECRET)]).await;
    let owner = app.new_account("owner@example.com").await;
    let business = create_business(&owner, "Planner Shop").await;
    let connected = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "etsy", "store_url": "https://planner.myshopify.com",
                     "credentials": { "access_token": "shpat_secret" } }),
        )
        .await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    let store_id = connected.body["id"].as_str().expect("store id").to_owned();
    let tenant = boardroom_memory::TenantId(business);
    let key = format!("store:{store_id}");
    let mut record =
        app.state.store.agent_memory(tenant, "stores", &key).await.expect("query").expect("stored").content;
    let plaintext = serde_json::to_vec(&json!({ "access_token": "shpat_secret" })).expect("JSON");
    record["credentials"] = legacy_sealed(OLD_SECRET, &plaintext, &format!("tenant:{business}/store:{store_id}"));
    app.state.store.put_agent_memory(tenant, "stores", &key, record, None).await.expect("written");

    // Assert: it opens, and the rotation moves it to the HKDF scheme.
    assert_eq!(credentials_state(&owner, business).await, [json!("ok")]);
    let report = rotate(&app).await;
    assert_eq!((report.resealed, report.unreadable), (1, 0), "{report:?}");
    let record = app.state.store.agent_memory(tenant, "stores", &key).await.expect("query").expect("stored").content;
    assert_eq!(record["credentials"]["algorithm"], "hkdf-sha256/chacha20poly1305");
    assert_eq!(credentials_state(&owner, business).await, [json!("ok")]);
}

#[tokio::test]
async fn credentials_sealed_before_hkdf_still_open_and_are_resealed_on_sqlite() {
    credentials_sealed_before_hkdf_still_open_and_are_resealed(Backends::Embedded).await;
}

#[tokio::test]
async fn credentials_sealed_before_hkdf_still_open_and_are_resealed_on_postgres() {
    credentials_sealed_before_hkdf_still_open_and_are_resealed(Backends::Production).await;
}

/// Names that read as something they are not.
const MISLEADING: &[(&str, &str)] = &[
    ("a control character", "Mugs\u{7}More"),
    ("a right-to-left override", "Invoice \u{202E}fdp.exe"),
    ("a left-to-right isolate", "Mugs \u{2066}More"),
    ("a zero-width space", "Mu\u{200B}gs"),
    ("a zero-width joiner", "Mu\u{200D}gs"),
    ("a word joiner", "Mu\u{2060}gs"),
    ("a byte-order mark", "\u{FEFF}Mugs"),
];

/// Names that are fine: accents, emoji, CJK, other scripts.
const ORDINARY: &[&str] = &["Café Crème", "🚀 Rocket Mugs ☕", "東京の雑貨店", "서울 상점", "Ελληνικά Δώρα"];

/// Percent-encodes a query value.
fn encoded(value: &str) -> String {
    value.bytes().map(|byte| format!("%{byte:02X}")).collect()
}

/// Every route that takes a name, sending `name` as it; the field each names.
async fn send_name(caller: &Caller, business: i64, name: &str) -> Vec<(&'static str, &'static str, ApiResponse)> {
    vec![
        ("business create", "name", caller.post("/api/business/create", &json!({ "name": name })).await),
        ("business update", "name", caller.put(&format!("/api/business/{business}"), &json!({ "name": name })).await),
        (
            "product create",
            "title",
            caller
                .post(
                    "/api/products/create",
                    &json!({ "business_id": business, "title": name, "niche": "mugs", "price": "12.00", "cost": "3.00" }),
                )
                .await,
        ),
        (
            "campaign create",
            "name",
            caller
                .post(
                    "/api/marketing/campaign",
                    &json!({ "business_id": business, "name": name, "channel": "email", "budget": "10.00" }),
                )
                .await,
        ),
        (
            "media upload",
            "name",
            caller
                .send_raw(
                    Method::POST,
                    &format!("/api/media/upload?business_id={business}&name={}", encoded(name)),
                    Some("text/plain"),
                    b"hello".to_vec(),
                )
                .await,
        ),
        ("token create", "name", caller.post("/api/auth/tokens", &json!({ "name": name })).await),
    ]
}

async fn misleading_names_are_refused_and_ordinary_ones_kept(backends: Backends) {
    // No cache, so the tier set below applies at once.
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false"), ("CACHE_SECS", "0")]).await;
    let owner = app.new_account("owner@example.com").await;
    // Enterprise: room for the API calls, products and campaigns this story makes.
    let user = app.state.store.user_by_email("owner@example.com").await.expect("query").expect("user");
    app.state.store.set_user_tier(user.id, boardroom_memory::Tier::Enterprise).await.expect("tier");
    let business = create_business(&owner, "Planner Shop").await;

    for (what, name) in MISLEADING {
        for (route, field, response) in send_name(&owner, business, name).await {
            assert_eq!(
                (response.status, response.error_code()),
                (422, "validation"),
                "{route}, {what}: {}",
                response.body
            );
            let problem = response.body["error"]["fields"][field].as_str().unwrap_or_default();
            assert!(problem.contains("zero-width"), "{route}, {what}: the field {field} is named: {}", response.body);
        }
    }

    // A file name whose bytes are not UTF-8 is refused, not kept as U+FFFD.
    let not_utf8 = owner
        .send_raw(
            Method::POST,
            &format!("/api/media/upload?business_id={business}&name=%FF%FEreport.txt"),
            Some("text/plain"),
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(not_utf8.status, 422, "{}", not_utf8.body);
    assert!(
        not_utf8.body["error"]["fields"]["name"].as_str().unwrap_or_default().contains("UTF-8"),
        "{}",
        not_utf8.body
    );

    for name in ORDINARY {
        for (route, field, response) in send_name(&owner, business, name).await {
            assert!(response.status == 200 || response.status == 201, "{route} refused {name:?}: {}", response.body);
            let kept = if route == "product create" { &response.body["title"] } else { &response.body["name"] };
            assert_eq!(kept, &json!(name), "{route} keeps the {field} as sent");
        }
    }
}

#[tokio::test]
async fn misleading_names_are_refused_and_ordinary_ones_kept_on_sqlite() {
    misleading_names_are_refused_and_ordinary_ones_kept(Backends::Embedded).await;
}

#[tokio::test]
async fn misleading_names_are_refused_and_ordinary_ones_kept_on_postgres() {
    misleading_names_are_refused_and_ordinary_ones_kept(Backends::Production).await;
}
