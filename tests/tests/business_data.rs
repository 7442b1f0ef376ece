//! A business's data over HTTP: products, stores (with sealed credentials), campaigns,
//! social posts, finance, files and the AI routes, each scoped to the caller's business; and
//! the cross-tenant walk, where another user calling every route with the first user's
//! ids gets 404 every time.

use boardroom_memory::{NewLedgerEntry, TenantId};
use boardroom_tests::{Backends, Caller, TestApp, spawn_app_with};
use chrono::{TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[path = "../../media/tests/support/openai_media_fake.rs"]
mod openai_media_fake;

/// The credential the stories connect a store with; it must never come back.
const STORE_SECRET: &str = "shpat_TOPSECRET_9f8e7d6c5b4a";

/// The app without its demo tenant, whose autopilot these stories do not need.
async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

async fn create_business(caller: &Caller, name: &str) -> i64 {
    let created = caller.post("/api/business/create", &json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("business id")
}

async fn create_product(caller: &Caller, business: i64, title: &str) -> i64 {
    let created = caller
        .post(
            "/api/products/create",
            &json!({ "business_id": business, "title": title, "niche": "productivity templates",
                     "price": "29.00", "cost": 2.5, "tags": ["notion", "planner"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_i64().expect("product id")
}

/// What a user builds: a business with a product, a campaign, a post and a store.
struct Built {
    business: i64,
    product: i64,
    campaign: i64,
}

async fn build_a_business(caller: &Caller) -> Built {
    let business = create_business(caller, "Planner Shop").await;
    let product = create_product(caller, business, "Weekly Planner").await;
    let campaign = caller
        .post(
            "/api/marketing/campaign",
            &json!({ "business_id": business, "name": "Launch", "channel": "google_ads", "budget": "150.00", "product_id": product }),
        )
        .await;
    assert_eq!(campaign.status, 201, "{}", campaign.body);
    let post = caller
        .post(
            "/api/social/post",
            &json!({ "business_id": business, "platform": "x", "content": "Plan your week in 5 minutes." }),
        )
        .await;
    assert_eq!(post.status, 201, "{}", post.body);
    let store = caller
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "etsy", "store_url": "https://planner.myshopify.com",
                     "credentials": { "access_token": STORE_SECRET } }),
        )
        .await;
    assert_eq!(store.status, 201, "{}", store.body);
    Built { business, product, campaign: campaign.body["id"].as_i64().expect("campaign id") }
}

fn money(value: &Value) -> Decimal {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_a_user_runs_a_business_and_reads_its_finances() {
    a_user_runs_products_campaigns_posts_and_stores_and_reads_the_finances(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_redis_a_user_runs_a_business_and_reads_its_finances() {
    a_user_runs_products_campaigns_posts_and_stores_and_reads_the_finances(Backends::Production).await;
}

async fn a_user_runs_products_campaigns_posts_and_stores_and_reads_the_finances(backends: Backends) {
    // Arrange
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let built = build_a_business(&ada).await;
    let business = built.business;

    // Products: listed page by page, updated, deleted.
    let second = create_product(&ada, business, "Monthly Planner").await;
    let page = ada.get(&format!("/api/products/list?business_id={business}&limit=1")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["items"][0]["id"], built.product);
    assert_eq!(page.body["items"][0]["price"], "29.00");
    let after = page.body["next_after"].as_i64().expect("a second page");
    let rest = ada.get(&format!("/api/products/list?business_id={business}&after={after}")).await;
    assert_eq!((rest.body["items"][0]["id"].as_i64(), &rest.body["next_after"]), (Some(second), &Value::Null));

    let updated = ada
        .put(&format!("/api/products/{second}"), &json!({ "business_id": business, "price": 35, "status": "active" }))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!((money(&updated.body["price"]), updated.body["status"].as_str()), (Decimal::from(35), Some("active")));
    let deleted = ada.delete(&format!("/api/products/{second}?business_id={business}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let listed = ada.get(&format!("/api/products/list?business_id={business}")).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "a deleted product leaves the list");
    let again = ada.put(&format!("/api/products/{second}"), &json!({ "business_id": business, "price": 1 })).await;
    assert_eq!(again.status, 404, "a deleted product is gone: {}", again.body);

    // Campaigns: listed, paused, their spend analysed.
    let campaigns = ada.get(&format!("/api/marketing/list?business_id={business}&limit=1")).await;
    assert_eq!(campaigns.body["items"][0]["status"], "draft", "{}", campaigns.body);
    assert_eq!(campaigns.body["next_after"], Value::Null, "one campaign, one page");
    let paused = ada
        .put(&format!("/api/marketing/{}", built.campaign), &json!({ "business_id": business, "status": "paused" }))
        .await;
    assert_eq!((paused.status, paused.body["status"].as_str()), (200, Some("paused")), "{}", paused.body);
    app.state.store.add_campaign_spend(TenantId(business), built.campaign, Decimal::new(4050, 2)).await.expect("spend");
    let spend = ada.get(&format!("/api/marketing/analytics?business_id={business}")).await;
    assert_eq!(spend.status, 200, "{}", spend.body);
    assert_eq!(money(&spend.body["campaigns"][0]["remaining"]), Decimal::new(10950, 2));
    assert_eq!(money(&spend.body["total_spent"]), Decimal::new(4050, 2));

    // Social: the calendar and the analysis.
    let later = Utc::now() + TimeDelta::days(2);
    let scheduled = ada
        .post(
            "/api/social/post",
            &json!({ "business_id": business, "platform": "linkedin", "content": "New planner out.", "scheduled_time": later }),
        )
        .await;
    assert_eq!(scheduled.status, 201, "{}", scheduled.body);
    let calendar = ada.get(&format!("/api/social/calendar?business_id={business}")).await;
    assert_eq!(calendar.body["items"][0]["platform"], "linkedin", "scheduled posts first: {}", calendar.body);
    assert_eq!(calendar.body["items"].as_array().map(Vec::len), Some(2));
    let analysis = ada.post("/api/social/analyze", &json!({ "business_id": business })).await;
    assert_eq!((analysis.status, analysis.body["posts"].as_i64()), (200, Some(2)), "{}", analysis.body);

    // Finance: the ledger's revenue and expenses, a goal, a projection.
    for (amount, category, id) in
        [(Decimal::new(29000, 2), "revenue", "t1"), (Decimal::new(-4050, 2), "ad_spend", "t2")]
    {
        app.state
            .store
            .record_ledger_entry(NewLedgerEntry {
                tenant_id: TenantId(business),
                source: "sandbox".into(),
                amount,
                category: category.into(),
                transaction_id: Some(id.into()),
                metadata: json!({}),
                recorded_at: Utc::now() - TimeDelta::days(1),
            })
            .await
            .expect("ledger entry");
    }
    let revenue = ada.get(&format!("/api/finance/revenue?business_id={business}")).await;
    assert_eq!(revenue.status, 200, "{}", revenue.body);
    assert_eq!(money(&revenue.body["revenue"]), Decimal::new(29000, 2));
    assert_eq!(money(&revenue.body["net_profit"]), Decimal::new(24950, 2));
    let expenses = ada.get(&format!("/api/finance/expenses?business_id={business}")).await;
    assert_eq!(money(&expenses.body["ad_spend"]), Decimal::new(-4050, 2), "{}", expenses.body);
    let old = ada
        .get(&format!("/api/finance/revenue?business_id={business}&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z"))
        .await;
    assert_eq!(money(&old.body["revenue"]), Decimal::ZERO, "{}", old.body);
    let goal = ada.post("/api/finance/goal", &json!({ "business_id": business, "monthly_revenue": 1000 })).await;
    assert_eq!(goal.status, 200, "{}", goal.body);
    let projection = ada.get(&format!("/api/finance/projections?business_id={business}")).await;
    assert_eq!(projection.status, 200, "{}", projection.body);
    assert!(
        projection.body["method"].as_str().is_some_and(|method| method.starts_with("linear")),
        "{}",
        projection.body
    );
    assert_eq!(
        money(&projection.body["projections"][1]["revenue"]),
        Decimal::new(87000, 2),
        "90 days at the same rate"
    );
    assert_eq!(projection.body["on_track"], false, "290 a month is short of 1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_defaults_store_credentials_are_sealed_and_never_returned() {
    store_credentials_are_sealed_at_rest_and_never_returned(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_store_credentials_are_sealed_and_never_returned() {
    store_credentials_are_sealed_at_rest_and_never_returned(Backends::Production).await;
}

async fn store_credentials_are_sealed_at_rest_and_never_returned(backends: Backends) {
    // Arrange
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let built = build_a_business(&ada).await;
    let business = built.business;

    // Act
    let bodies = [
        ada.get(&format!("/api/stores/list?business_id={business}")).await,
        ada.get(&format!("/api/stores/analytics?business_id={business}")).await,
        ada.post("/api/stores/sync", &json!({ "business_id": business })).await,
    ];

    // Assert: nothing answers with the secret.
    for response in &bodies {
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(!response.body.to_string().contains(STORE_SECRET), "leaked: {}", response.body);
    }
    let store = &bodies[0].body["items"][0];
    assert_eq!((store["credentials"].as_str(), store["platform"].as_str()), (Some("stored"), Some("etsy")));
    assert_eq!(store["credential_fields"], json!(["access_token"]));
    assert_eq!(bodies[2].body["stores"][0]["credentials"], "ok", "the sealed credentials still open");
    assert_eq!(bodies[2].body["simulated"], true);
    assert!(bodies[2].body["snapshot"]["niches"].as_array().is_some_and(|niches| !niches.is_empty()));
    assert!(bodies[1].body["report"]["products"].is_array(), "{}", bodies[1].body);

    // … and the database holds only ciphertext.
    let rows = app.state.store.agent_memories(TenantId(business), "stores").await.expect("stored stores");
    assert_eq!(rows.len(), 1);
    let stored = rows[0].content.to_string();
    assert!(!stored.contains(STORE_SECRET) && !stored.contains("TOPSECRET"), "plain text at rest: {stored}");
    assert_eq!(rows[0].content["credentials"]["algorithm"], "hkdf-sha256/chacha20poly1305");
}

async fn the_ai_routes_answer_from_the_offline_agents(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let built = build_a_business(&ada).await;
    let business = built.business;
    let brief = json!({ "product": "Weekly Planner", "niche": "productivity templates", "price": "$29", "keywords": ["planner"] });

    let answers = [
        ("analyze-market", ada.post("/api/ai/analyze-market", &json!({ "business_id": business })).await),
        (
            "generate-content",
            ada.post(
                "/api/ai/generate-content",
                &json!({ "business_id": business, "kind": "product_description", "brief": brief }),
            )
            .await,
        ),
        (
            "optimize-pricing",
            ada.post(
                "/api/ai/optimize-pricing",
                &json!({ "business_id": business, "unit_cost": 2, "reference_price": 30, "current_price": 29 }),
            )
            .await,
        ),
        ("recommendations", ada.get(&format!("/api/ai/recommendations?business_id={business}")).await),
    ];
    for (route, answer) in &answers {
        assert_eq!(answer.status, 200, "{route}: {}", answer.body);
        assert_eq!(answer.body["source"], "offline", "{route}: {}", answer.body);
    }
    assert!(answers[0].1.body["opportunities"].as_array().is_some_and(|all| !all.is_empty()));
    assert!(answers[1].1.body["content"]["text"].as_str().is_some_and(|text| !text.is_empty()));

    let optimized =
        ada.post("/api/products/optimize", &json!({ "business_id": business, "product_id": built.product })).await;
    assert_eq!(optimized.status, 200, "{}", optimized.body);
    assert_eq!(optimized.body["pricing"]["source"], "offline", "{}", optimized.body);
    assert_eq!(optimized.body["listing"]["source"], "offline", "{}", optimized.body);
}

async fn upload(caller: &Caller, business: i64, name: &str, bytes: Vec<u8>) -> boardroom_tests::ApiResponse {
    upload_as(caller, business, name, Some("application/octet-stream"), bytes).await
}

async fn upload_as(
    caller: &Caller,
    business: i64,
    name: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> boardroom_tests::ApiResponse {
    let path = format!("/api/media/upload?business_id={business}&name={name}");
    caller.send_raw(reqwest::Method::POST, &path, content_type, bytes).await
}

/// A real PNG of `width` × `height` pixels.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).expect("a PNG");
    bytes.into_inner()
}

async fn the_business_list_shows_each_change_at_once_though_lists_are_remembered(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let names = |caller: Caller| async move {
        let listed = caller.get("/api/business/list").await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        let items = listed.body["items"].as_array().cloned().unwrap_or_default();
        items.iter().map(|item| item["name"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    assert!(names(ada.clone()).await.is_empty());

    let mugs = create_business(&ada, "Mugs").await;
    assert_eq!(names(ada.clone()).await, ["Mugs"], "a new business shows at once");
    let renamed = ada.put(&format!("/api/business/{mugs}"), &json!({ "name": "Cups" })).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(names(ada.clone()).await, ["Cups"], "so does a new name");
    assert_eq!(ada.delete(&format!("/api/business/{mugs}")).await.status, 204);
    assert!(names(ada.clone()).await.is_empty(), "and a deletion");
}

async fn a_business_keeps_its_files_within_the_tiers_storage(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let business = create_business(&ada, "Mugs").await;

    // Arrange & Act: a logo, kept with its type (read from its bytes) and digest. A PNG
    // is encoded again, so what is kept is the image, not the bytes as sent.
    let sent = png(40, 20);
    let kept = upload_as(&ada, business, "logo.png", Some("image/png"), sent).await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    let logo_id = kept.body["id"].as_i64().expect("id");
    let logo = ada.get(&format!("/api/media/{logo_id}?business_id={business}")).await.raw;
    let decoded = image::load_from_memory(&logo).expect("the kept logo decodes");
    assert_eq!((decoded.width(), decoded.height()), (40, 20));
    assert_eq!(kept.body["size_bytes"], logo.len());
    assert_eq!(kept.body["content_type"], "image/png");
    assert_eq!(kept.body["sha256"].as_str().map(str::len), Some(64));

    // It is listed, downloads as the same bytes (as an attachment), and counts as usage.
    let listed = ada.get(&format!("/api/media/list?business_id={business}")).await;
    assert_eq!(listed.body["items"][0]["name"], "logo.png", "{}", listed.body);
    let fetched = ada.get(&format!("/api/media/{logo_id}?business_id={business}")).await;
    assert_eq!((fetched.status, fetched.raw.as_slice()), (200, logo.as_slice()));
    assert_eq!(fetched.header("content-type"), Some("image/png"));
    assert_eq!(fetched.header("content-disposition"), Some("attachment; filename=\"logo.png\""));
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.body["usage"]["file_storage_bytes"], logo.len(), "{}", profile.body);

    // Bad uploads: too big for one file (413), empty (422), unnamed (400, naming `name`).
    let huge = upload(&ada, business, "huge.bin", vec![0; 10 * 1024 * 1024 + 1]).await;
    assert_eq!((huge.status, huge.error_code()), (413, "payload_too_large"), "{}", huge.body);
    let empty = upload(&ada, business, "empty.bin", Vec::new()).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    let unnamed = ada
        .send_raw(reqwest::Method::POST, &format!("/api/media/upload?business_id={business}"), None, b"x".to_vec())
        .await;
    assert_eq!((unnamed.status, unnamed.error_code()), (400, "invalid_query"), "{}", unnamed.body);
    assert!(unnamed.body["error"]["fields"]["name"].is_string(), "{}", unnamed.body);

    // The free tier's 100 MB: nine 10 MiB files fit beside the logo, the tenth does not.
    let ten_mib = vec![7_u8; 10 * 1024 * 1024];
    for n in 0..9 {
        let stored = upload(&ada, business, &format!("video-{n}.mp4"), ten_mib.clone()).await;
        assert_eq!(stored.status, 201, "file {n}: {}", stored.body);
    }
    let over = upload(&ada, business, "video-9.mp4", ten_mib.clone()).await;
    assert_eq!((over.status, over.error_code()), (402, "tier_limit"), "{}", over.body);
    assert!(over.body["error"]["message"].as_str().is_some_and(|m| m.contains("100 MB")), "{}", over.body);

    // Deleting a file frees its room at once.
    let deleted = ada.delete(&format!("/api/media/{logo_id}?business_id={business}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(upload(&ada, business, "video-9.mp4", ten_mib).await.status, 201);
    let gone = ada.get(&format!("/api/media/{logo_id}?business_id={business}")).await;
    assert_eq!(gone.status, 404);

    // Two files deleted leave 20 MiB: of eight 5 MiB uploads at once, exactly the four
    // that fit are kept, and each refusal says how much is used.
    let listed = ada.get(&format!("/api/media/list?business_id={business}&limit=100")).await;
    let items = listed.body["items"].as_array().expect("items").clone();
    for name in ["video-0.mp4", "video-1.mp4"] {
        let id = items.iter().find(|file| file["name"] == name).and_then(|file| file["id"].as_i64()).expect(name);
        assert_eq!(ada.delete(&format!("/api/media/{id}?business_id={business}")).await.status, 204);
    }
    let five_mib = vec![5_u8; 5 * 1024 * 1024];
    let mut uploads = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (ada, bytes) = (ada.clone(), five_mib.clone());
        uploads.spawn(async move { upload(&ada, business, &format!("clip-{n}.mp4"), bytes).await });
    }
    let answers = uploads.join_all().await;
    let kept = answers.iter().filter(|answer| answer.status == 201).count();
    assert_eq!(kept, 4, "{:?}", answers.iter().map(|answer| answer.status).collect::<Vec<_>>());
    for refused in answers.iter().filter(|answer| answer.status != 201) {
        assert_eq!((refused.status, refused.error_code()), (402, "tier_limit"), "{}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("MB are used") && !message.contains(" 0 MB are used"), "{message}");
    }
    let profile = ada.get("/api/auth/profile").await;
    assert_eq!(profile.body["usage"]["file_storage_bytes"], 100 * 1024 * 1024, "{}", profile.body);
}

async fn an_upload_is_judged_by_its_bytes_not_by_what_the_client_says(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let business = create_business(&ada, "Mugs").await;

    // A page sent as a picture is refused, naming the header that lied.
    let page = b"<html><script>document.cookie</script></html>".to_vec();
    let lying = upload_as(&ada, business, "cat.png", Some("image/png"), page.clone()).await;
    assert_eq!((lying.status, lying.error_code()), (422, "validation"), "{}", lying.body);
    assert!(
        lying.body["error"]["fields"]["Content-Type"].as_str().is_some_and(|m| m.contains("text")),
        "{}",
        lying.body
    );
    // Sent as what it is, it is kept as plain text and downloads as an attachment.
    let text = upload_as(&ada, business, "page.html", Some("text/html"), page).await;
    assert_eq!(text.status, 201, "{}", text.body);
    assert_eq!(text.body["content_type"], "text/plain; charset=utf-8");
    let id = text.body["id"].as_i64().expect("id");
    let fetched = ada.get(&format!("/api/media/{id}?business_id={business}")).await;
    assert_eq!(fetched.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(fetched.header("x-content-type-options"), Some("nosniff"));

    // A picture with no header at all is known by its bytes.
    let unlabelled = upload_as(&ada, business, "plain.png", None, png(3, 3)).await;
    assert_eq!((unlabelled.status, unlabelled.body["content_type"].as_str()), (201, Some("image/png")));

    // Folders in a name are cut off; a name that is only a folder is refused.
    for (sent, kept) in [("..%2F..%2Fetc%2Fpasswd", "passwd"), ("C%3A%5Cshop%5Clogo.png", "logo.png")] {
        let uploaded = upload(&ada, business, sent, b"x".to_vec()).await;
        assert_eq!((uploaded.status, uploaded.body["name"].as_str()), (201, Some(kept)), "{sent}: {}", uploaded.body);
    }
    for sent in ["..", "uploads%2F", "a%2F.."] {
        let refused = upload(&ada, business, sent, b"x".to_vec()).await;
        assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{sent}: {}", refused.body);
    }

    // An image that does not decode, or of a kind not taken, is refused; a large one is
    // kept at 4,096 px on its longest side.
    let broken = upload_as(&ada, business, "broken.png", None, b"\x89PNG\r\n\x1a\n and nothing more".to_vec()).await;
    assert_eq!(broken.status, 422, "{}", broken.body);
    assert!(broken.body["error"]["fields"]["body"].as_str().is_some_and(|m| m.contains("not a valid PNG")));
    let bmp = upload_as(&ada, business, "old.bmp", None, b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0".to_vec()).await;
    assert_eq!(bmp.status, 422, "{}", bmp.body);
    let wide = upload_as(&ada, business, "banner.png", Some("image/png"), png(5_000, 50)).await;
    assert_eq!(wide.status, 201, "{}", wide.body);
    let id = wide.body["id"].as_i64().expect("id");
    let banner = image::load_from_memory(&ada.get(&format!("/api/media/{id}?business_id={business}")).await.raw)
        .expect("decodes");
    assert_eq!((banner.width(), banner.height()), (4_096, 41));

    // A name beyond ASCII downloads under its own name for clients that read it.
    let named = upload(&ada, business, "caf%C3%A9.bin", b"x".to_vec()).await;
    let id = named.body["id"].as_i64().expect("id");
    let fetched = ada.get(&format!("/api/media/{id}?business_id={business}")).await;
    assert_eq!(
        fetched.header("content-disposition"),
        Some("attachment; filename=\"caf_.bin\"; filename*=UTF-8''caf%C3%A9.bin")
    );

    // A player asks for byte ranges: one is served with 206 and its Content-Range, a
    // range past the end is 416 with the size, and a Range that does not parse, asks for
    // several ranges or names another version (If-Range) gets the whole file.
    let digits = upload(&ada, business, "digits.bin", b"0123456789".to_vec()).await;
    let id = digits.body["id"].as_i64().expect("id");
    let path = format!("/api/media/{id}?business_id={business}");
    let whole = ada.get(&path).await;
    assert_eq!((whole.status, whole.header("accept-ranges")), (200, Some("bytes")));
    let etag = whole.header("etag").expect("an ETag").to_owned();
    for (range, status, body, content_range) in [
        ("bytes=2-5", 206, &b"2345"[..], Some("bytes 2-5/10")),
        ("bytes=-3", 206, b"789", Some("bytes 7-9/10")),
        ("bytes=8-", 206, b"89", Some("bytes 8-9/10")),
        ("bytes=8-99", 206, b"89", Some("bytes 8-9/10")),
        ("bytes=10-", 416, b"", Some("bytes */10")),
        ("bytes=-11", 416, b"", Some("bytes */10")),
        ("bytes=x-y", 200, b"0123456789", None),
        ("bytes=0-1,4-5", 200, b"0123456789", None),
        ("lines=1-2", 200, b"0123456789", None),
    ] {
        let answer = ada.with_header("Range", range).get(&path).await;
        assert_eq!(
            (answer.status, answer.raw.as_slice(), answer.header("content-range")),
            (status, body, content_range),
            "{range}"
        );
    }
    let same = ada.with_header("Range", "bytes=0-0").with_header("If-Range", &etag).get(&path).await;
    assert_eq!((same.status, same.raw.as_slice()), (206, &b"0"[..]));
    let other = ada.with_header("Range", "bytes=0-0").with_header("If-Range", "\"other\"").get(&path).await;
    assert_eq!((other.status, other.raw.len()), (200, 10));
}

async fn a_business_draws_covers_and_cards_in_its_personalitys_colours(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let business = create_business(&ada, "Calm Mornings").await;
    let product = create_product(&ada, business, "Fifty prompts for calmer mornings").await;

    // A cover of the product: a 1024 × 1024 PNG among the business's files, labelled
    // as drawn here.
    let cover = ada
        .post("/api/media/generate", &json!({ "business_id": business, "shape": "cover", "product_id": product }))
        .await;
    assert_eq!(cover.status, 201, "{}", cover.body);
    assert_eq!((cover.body["source"].as_str(), cover.body["width"].as_u64()), (Some("offline"), Some(1024)));
    assert_eq!(cover.body["file"]["content_type"], "image/png");
    let id = cover.body["file"]["id"].as_i64().expect("id");
    let bytes = ada.get(&format!("/api/media/{id}?business_id={business}")).await.raw;
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("a PNG");
    assert_eq!((image.width(), image.height()), (1024, 1024));
    let listed = ada.get(&format!("/api/media/list?business_id={business}")).await;
    assert_eq!(listed.body["items"][0]["name"], "cover-offline.png", "{}", listed.body);

    // Drawn again, it is the same picture to the byte; a card from a title is 1200 × 630.
    let again = ada
        .post("/api/media/generate", &json!({ "business_id": business, "shape": "cover", "product_id": product }))
        .await;
    assert_eq!(again.body["file"]["sha256"], cover.body["file"]["sha256"]);
    let card = ada
        .post(
            "/api/media/generate",
            &json!({ "business_id": business, "shape": "card", "title": "New: the morning pack", "niche": "wellbeing" }),
        )
        .await;
    assert_eq!((card.status, card.body["width"].as_u64(), card.body["height"].as_u64()), (201, Some(1200), Some(630)));

    // Neither or both of a product and a title, another's product, another's business.
    for body in [
        json!({ "business_id": business, "shape": "cover" }),
        json!({ "business_id": business, "shape": "cover", "product_id": product, "title": "x" }),
        json!({ "business_id": business, "shape": "cover", "title": "   " }),
        json!({ "business_id": business, "shape": "poster", "title": "x" }),
    ] {
        let refused = ada.post("/api/media/generate", &body).await;
        assert!(matches!(refused.status, 400 | 422), "{body}: {}", refused.body);
    }
    let bob = app.new_account("bob@example.com").await;
    let bobs = create_business(&bob, "Bob's").await;
    let stranger =
        bob.post("/api/media/generate", &json!({ "business_id": bobs, "shape": "cover", "product_id": product })).await;
    assert_eq!(stranger.status, 404, "{}", stranger.body);
    let trespass =
        bob.post("/api/media/generate", &json!({ "business_id": business, "shape": "cover", "title": "x" })).await;
    assert_eq!(trespass.status, 404, "{}", trespass.body);
}

async fn a_business_speaks_a_voice_over_in_its_personalitys_voice(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let bob = app.new_account("bob@example.com").await;
    let business = |owner: &Caller, name: &'static str, personality: &'static str| {
        let owner = owner.clone();
        async move {
            let created =
                owner.post("/api/business/create", &json!({ "name": name, "personality": personality })).await;
            assert_eq!(created.status, 201, "{}", created.body);
            created.body["id"].as_i64().expect("business id")
        }
    };
    let calm = business(&ada, "Calm Mornings", "coachty").await;
    let loud = business(&bob, "Fast Wins", "hustlebot").await;
    let script = "Meet the morning pack: fifty prompts that turn the first hour of your day into a plan. \
                  Print them, pick one, and begin.";

    // The same script, spoken by each business: Ogg/Opus among its files, as long as its
    // voice style's speed makes it (CoachTy calm and slow, HustleBot energetic and fast).
    let mut durations = Vec::new();
    for (owner, id) in [(&ada, calm), (&bob, loud)] {
        let spoken =
            owner.post("/api/media/generate", &json!({ "business_id": id, "shape": "voice", "script": script })).await;
        assert_eq!(spoken.status, 201, "{}", spoken.body);
        assert_eq!(
            (spoken.body["source"].as_str(), spoken.body["file"]["content_type"].as_str()),
            (Some("offline"), Some("audio/ogg"))
        );
        let file = spoken.body["file"]["id"].as_i64().expect("id");
        let ogg = owner.get(&format!("/api/media/{file}?business_id={id}")).await.raw;
        let probed = boardroom_tests::probe_media(&ogg);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "audio"), ["opus"]);
        let measured = boardroom_tests::probed_seconds(&probed);
        let reported = spoken.body["duration_ms"].as_u64().expect("duration_ms") as f64 / 1000.0;
        assert!((measured - reported).abs() < 0.1, "{measured} s played, {reported} s reported");
        durations.push(measured);
    }
    assert!(durations[0] > durations[1], "calm {} s against energetic {} s", durations[0], durations[1]);

    // Each built-in personality's own line, in its voice (any case of its name); an
    // unknown name is not found.
    for name in ["coachty", "HustleBot", "luxuryscaler"] {
        let heard = bob.get(&format!("/api/media/voices/{name}")).await;
        assert_eq!((heard.status, heard.header("content-type")), (200, Some("audio/ogg")), "{name}");
        let probed = boardroom_tests::probe_media(&heard.raw);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "audio"), ["opus"]);
        assert!(boardroom_tests::probed_seconds(&probed) > 1.0, "{name}: {probed}");
        let again = bob.get(&format!("/api/media/voices/{name}")).await;
        assert_eq!(again.raw, heard.raw, "the same line, the same sound");
    }
    assert_eq!(bob.get("/api/media/voices/nobody").await.status, 404);

    // A product's voice-over reads its title and description; a script or a product, one.
    let product = create_product(&ada, calm, "Fifty prompts for calmer mornings").await;
    let pitched =
        ada.post("/api/media/generate", &json!({ "business_id": calm, "shape": "voice", "product_id": product })).await;
    assert_eq!(pitched.status, 201, "{}", pitched.body);
    for body in [
        json!({ "business_id": calm, "shape": "voice" }),
        json!({ "business_id": calm, "shape": "voice", "product_id": product, "script": "x" }),
        json!({ "business_id": calm, "shape": "voice", "script": " " }),
        json!({ "business_id": calm, "shape": "voice", "script": "a".repeat(2_001) }),
        json!({ "business_id": calm, "shape": "voice", "script": "x", "orientation": "vertical" }),
        json!({ "business_id": calm, "shape": "clip" }),
        json!({ "business_id": calm, "shape": "clip", "product_id": product, "script": "x" }),
        json!({ "business_id": calm, "shape": "clip", "product_id": product, "orientation": "square" }),
    ] {
        let refused = ada.post("/api/media/generate", &body).await;
        assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{body}: {}", refused.body);
    }
}

async fn a_business_makes_a_promo_clip_of_a_product_in_each_platforms_shape(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let business = create_business(&ada, "Calm Mornings").await;
    let product = create_product(&ada, business, "Fifty prompts for calmer mornings").await;
    // Vertical by default (TikTok's shape), landscape when asked (YouTube's): an MP4 with
    // H.264 video of that size and AAC sound, as long as the product's pitch spoken.
    for (orientation, (width, height)) in [(None, (720, 1280)), (Some("landscape"), (1280, 720))] {
        let mut request = json!({ "business_id": business, "shape": "clip", "product_id": product });
        if let Some(orientation) = orientation {
            request["orientation"] = json!(orientation);
        }
        let made = ada.post("/api/media/generate", &request).await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert_eq!(made.body["file"]["content_type"], "video/mp4");
        assert_eq!((made.body["width"].as_u64(), made.body["height"].as_u64()), (Some(width), Some(height)));
        let id = made.body["file"]["id"].as_i64().expect("id");
        let clip = ada.get(&format!("/api/media/{id}?business_id={business}")).await.raw;
        let probed = boardroom_tests::probe_media(&clip);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "video"), ["h264"]);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "audio"), ["aac"]);
        let video = probed["streams"].as_array().expect("streams").iter().find(|s| s["codec_type"] == "video").cloned();
        let video = video.expect("a video stream");
        assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(width), Some(height)));
        let reported = made.body["duration_ms"].as_u64().expect("duration_ms") as f64 / 1000.0;
        let measured = boardroom_tests::probed_seconds(&probed);
        assert!(reported >= 3.0 && (measured - reported).abs() < 0.15, "{measured} s played, {reported} s reported");
    }
    // Another's product is not found.
    let bob = app.new_account("bob@example.com").await;
    let bobs = create_business(&bob, "Bob's").await;
    let stranger =
        bob.post("/api/media/generate", &json!({ "business_id": bobs, "shape": "clip", "product_id": product })).await;
    assert_eq!(stranger.status, 404, "{}", stranger.body);
}

/// A business whose personality posts on TikTok: each of its TikTok posts carries its
/// product's vertical clip, made once at the launch and shown by every later post; its
/// posts on X and LinkedIn carry the product's social card.
async fn posts_carry_the_products_clip_or_card_made_once(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let created = ada
        .post("/api/business/create", &json!({ "name": "Fast Wins", "personality": "hustlebot", "autopilot": false }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("business id");
    for _ in 0..3 {
        boardroom_tests::run_a_cycle(&app, &ada, business).await;
    }
    let tenant = boardroom_memory::TenantId(business);
    let posts = app.state.store.social_posts(tenant, 500).await.expect("posts");
    let platforms: Vec<&str> = posts.iter().map(|post| post.platform.as_str()).collect();
    let on_tiktok: Vec<_> = posts.iter().filter(|post| post.platform == "tiktok").collect();
    assert!(on_tiktok.len() >= 2, "HustleBot posts on TikTok each day: {platforms:?}");
    assert!(posts.iter().all(|post| post.media_urls.len() == 1), "{posts:?}");
    // Every TikTok post of a product shows the one clip its launch made.
    let products = app.state.store.products(tenant).await.expect("products");
    let events = app.state.store.events_after(tenant, 0, 100_000).await.expect("events");
    let clips: Vec<_> = events.iter().filter(|event| event.kind == "content.clip_made").collect();
    let vertical: Vec<_> = clips.iter().filter(|event| event.summary.contains("vertical")).collect();
    assert_eq!(vertical.len(), products.len(), "one vertical clip per product, made once");
    for post in on_tiktok {
        let shown = &post.media_urls[0];
        assert!(
            vertical.iter().any(|made| *shown == format!("/api/media/{}?business_id={business}", made.data["file_id"])),
            "{shown} is a launch's clip"
        );
        let clip = ada.get(shown).await;
        assert_eq!((clip.status, clip.header("content-type")), (200, Some("video/mp4")), "{shown}");
    }

    // CoachTy posts on LinkedIn and Reddit: LinkedIn's posts carry the product's social
    // card (1200 × 630, one per product), Reddit's text posts nothing.
    let bob = app.new_account("bob@example.com").await;
    let created = bob
        .post("/api/business/create", &json!({ "name": "Calm Mornings", "personality": "coachty", "autopilot": false }))
        .await;
    let calm = created.body["id"].as_i64().expect("business id");
    for _ in 0..2 {
        boardroom_tests::run_a_cycle(&app, &bob, calm).await;
    }
    let posts = app.state.store.social_posts(boardroom_memory::TenantId(calm), 500).await.expect("posts");
    let platforms: Vec<&str> = posts.iter().map(|post| post.platform.as_str()).collect();
    assert!(platforms.contains(&"linkedin") && platforms.contains(&"reddit"), "{platforms:?}");
    for post in &posts {
        assert_eq!(post.media_urls.len(), usize::from(post.platform == "linkedin"), "{post:?}");
    }
    let cards: std::collections::BTreeSet<&String> =
        posts.iter().filter(|post| post.platform == "linkedin").map(|post| &post.media_urls[0]).collect();
    let products = app.state.store.products(boardroom_memory::TenantId(calm)).await.expect("products");
    assert!(cards.len() <= products.len(), "one card per product: {cards:?}");
    for card in cards {
        let shown = bob.get(card).await;
        assert_eq!(shown.header("content-type"), Some("image/png"), "{card}");
        let picture = image::load_from_memory(&shown.raw).expect("a PNG");
        assert_eq!((picture.width(), picture.height()), (1200, 630));
    }
}

/// With an API key, covers and voice-overs come from the OpenAI-compatible API (a local
/// server holding requests to its documented shape), labelled `remote`, and its tokens
/// count against the business; when the API fails, the piece is made offline all the
/// same and the answer says why.
async fn with_a_key_covers_and_voice_overs_come_from_the_api_and_offline_when_it_fails(backends: Backends) {
    let speech = boardroom_media::Speaker::default()
        .speak("Fifty prompts for calmer mornings.", boardroom_personalities::VoiceStyle::Calm)
        .expect("this story needs espeak-ng (scripts/test installs it)");
    let opus = boardroom_media::ClipMaker::default().opus_of(&speech.wav).expect("this story needs ffmpeg");
    let (answering, sent) = openai_media_fake::serve(openai_media_fake::Behaviour::Answers, opus.clone()).await;
    let (failing, _) = openai_media_fake::serve(openai_media_fake::Behaviour::Fails, opus).await;
    for (base_url, remote) in [(answering, true), (failing, false)] {
        let key = openai_media_fake::KEY;
        let mut app =
            spawn_app_with(backends, &[("LLM_API_KEY", key), ("LLM_BASE_URL", &base_url), ("DEMO_TENANT", "false")])
                .await;
        let ada = app.new_account("ada@example.com").await;
        let created = ada.post("/api/business/create", &json!({ "name": "Calm Mornings", "autopilot": false })).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let business = created.body["id"].as_i64().expect("business id");
        let product = create_product(&ada, business, "Fifty prompts for calmer mornings").await;
        let source = if remote { "remote" } else { "offline" };
        let cover = ada
            .post("/api/media/generate", &json!({ "business_id": business, "shape": "cover", "product_id": product }))
            .await;
        assert_eq!((cover.status, cover.body["source"].as_str()), (201, Some(source)), "{}", cover.body);
        assert_eq!((cover.body["width"].as_u64(), cover.body["height"].as_u64()), (Some(1024), Some(1024)));
        let voice = ada
            .post(
                "/api/media/generate",
                &json!({ "business_id": business, "shape": "voice", "script": "Hello there." }),
            )
            .await;
        assert_eq!((voice.status, voice.body["source"].as_str()), (201, Some(source)), "{}", voice.body);
        assert_eq!(voice.body["file"]["content_type"], "audio/ogg");
        let tokens = app
            .state
            .store
            .llm_token_totals(boardroom_memory::TenantId(business), chrono::Utc::now() - chrono::TimeDelta::hours(1))
            .await
            .expect("token totals");
        if remote {
            assert!(cover.body.get("fallback").is_none(), "{}", cover.body);
            let image_tokens =
                tokens.iter().find(|total| total.model == "gpt-image-1").expect("the image model's tokens");
            assert_eq!((image_tokens.prompt_tokens, image_tokens.completion_tokens), (52, 4160), "{tokens:?}");
            assert!(tokens.iter().any(|total| total.model == "gpt-4o-mini-tts"), "{tokens:?}");
            // The free tier's tokens for the day spent: the next cover is drawn offline,
            // and the API is not asked.
            let spent = boardroom_memory::NewLlmCall {
                tenant_id: boardroom_memory::TenantId(business),
                agent: "ceo".into(),
                model: "gpt-4o-mini".into(),
                prompt_tokens: 100_000,
                completion_tokens: 0,
                outcome: "ok".into(),
            };
            app.state.store.record_llm_call(spent).await.expect("recorded");
            let asked = sent.lock().expect("sent").len();
            let card = ada
                .post("/api/media/generate", &json!({ "business_id": business, "shape": "card", "title": "New" }))
                .await;
            assert_eq!((card.status, card.body["source"].as_str()), (201, Some("offline")), "{}", card.body);
            let why = card.body["fallback"].as_str().unwrap_or_default();
            assert!(why.contains("100000 LLM tokens a day are spent"), "{}", card.body);
            assert_eq!(sent.lock().expect("sent").len(), asked, "the API was not asked");
        } else {
            for made in [&cover, &voice] {
                let why = made.body["fallback"].as_str().unwrap_or_default();
                assert!(why.contains("offline") && why.contains("500"), "{}", made.body);
            }
            assert!(tokens.is_empty(), "a failed call used nothing: {tokens:?}");
        }
        app.stop().await;
    }
    let sent = sent.lock().expect("sent").clone();
    assert_eq!(sent.iter().map(|(endpoint, _)| endpoint.as_str()).collect::<Vec<_>>(), ["images", "speech"]);
    // Calm: the soft voice, slower than normal.
    assert_eq!((sent[1].1["voice"].as_str(), sent[1].1["speed"].as_f64()), (Some("shimmer"), Some(0.85)));
}

async fn another_user_gets_404_from_every_route_with_the_first_users_ids(backends: Backends) {
    // Arrange: Ada's business, and Bob with a business of his own (so his ids exist too).
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let bob = app.new_account("bob@example.com").await;
    let Built { business: b, product: p, campaign: c } = build_a_business(&ada).await;
    let f = upload(&ada, b, "logo.png", png(8, 8)).await.body["id"].as_i64().expect("file id");
    let bobs = create_business(&bob, "Bob's").await;
    let bobs_product = create_product(&bob, bobs, "Bob's planner").await;

    // Every route, with Ada's business id.
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;
    let delete = reqwest::Method::DELETE;
    let brief = json!({ "product": "x", "niche": "y", "price": "1", "keywords": [] });
    let routes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            post.clone(),
            "/api/products/create".into(),
            Some(json!({ "business_id": b, "title": "t", "niche": "n", "price": 1, "cost": 0 })),
        ),
        (get.clone(), format!("/api/products/list?business_id={b}"), None),
        (get.clone(), format!("/api/business/{b}/reports"), None),
        (put.clone(), format!("/api/products/{p}"), Some(json!({ "business_id": b, "price": 1 }))),
        (delete.clone(), format!("/api/products/{p}?business_id={b}"), None),
        (post.clone(), "/api/products/optimize".into(), Some(json!({ "business_id": b, "product_id": p }))),
        (
            post.clone(),
            "/api/stores/connect".into(),
            Some(
                json!({ "business_id": b, "platform": "etsy", "store_url": "https://x.example.com", "credentials": { "k": "v" } }),
            ),
        ),
        (get.clone(), format!("/api/stores/list?business_id={b}"), None),
        (post.clone(), "/api/stores/sync".into(), Some(json!({ "business_id": b }))),
        (get.clone(), format!("/api/stores/analytics?business_id={b}"), None),
        (
            post.clone(),
            "/api/marketing/campaign".into(),
            Some(json!({ "business_id": b, "name": "n", "channel": "email", "budget": 1 })),
        ),
        (get.clone(), format!("/api/marketing/list?business_id={b}"), None),
        (put.clone(), format!("/api/marketing/{c}"), Some(json!({ "business_id": b, "status": "paused" }))),
        (get.clone(), format!("/api/marketing/analytics?business_id={b}"), None),
        (post.clone(), "/api/social/post".into(), Some(json!({ "business_id": b, "platform": "x", "content": "hi" }))),
        (get.clone(), format!("/api/social/calendar?business_id={b}"), None),
        (post.clone(), "/api/social/analyze".into(), Some(json!({ "business_id": b }))),
        (get.clone(), format!("/api/finance/revenue?business_id={b}"), None),
        (get.clone(), format!("/api/finance/expenses?business_id={b}"), None),
        (post.clone(), "/api/finance/goal".into(), Some(json!({ "business_id": b, "monthly_revenue": 10 }))),
        (get.clone(), format!("/api/finance/projections?business_id={b}"), None),
        (post.clone(), "/api/ai/analyze-market".into(), Some(json!({ "business_id": b }))),
        (
            post.clone(),
            "/api/ai/generate-content".into(),
            Some(json!({ "business_id": b, "kind": "blog_post", "brief": brief })),
        ),
        (
            post.clone(),
            "/api/ai/optimize-pricing".into(),
            Some(json!({ "business_id": b, "unit_cost": 1, "reference_price": 2 })),
        ),
        (get.clone(), format!("/api/ai/recommendations?business_id={b}"), None),
        (post.clone(), format!("/api/media/upload?business_id={b}&name=x.txt"), Some(json!("bytes"))),
        (get.clone(), format!("/api/media/list?business_id={b}"), None),
        (get.clone(), format!("/api/media/{f}?business_id={b}"), None),
        (delete.clone(), format!("/api/media/{f}?business_id={b}"), None),
        // Bob's own business with Ada's product, campaign and file ids.
        (get.clone(), format!("/api/media/{f}?business_id={bobs}"), None),
        (delete.clone(), format!("/api/media/{f}?business_id={bobs}"), None),
        (put.clone(), format!("/api/products/{p}"), Some(json!({ "business_id": bobs, "price": 1 }))),
        (delete.clone(), format!("/api/products/{p}?business_id={bobs}"), None),
        (post.clone(), "/api/products/optimize".into(), Some(json!({ "business_id": bobs, "product_id": p }))),
        (put.clone(), format!("/api/marketing/{c}"), Some(json!({ "business_id": bobs, "status": "paused" }))),
        (
            post.clone(),
            "/api/marketing/campaign".into(),
            Some(json!({ "business_id": bobs, "name": "n", "channel": "email", "budget": 1, "product_id": p })),
        ),
    ];

    // Act & Assert
    for (method, path, body) in &routes {
        let answer = bob.send(method.clone(), path, body.as_ref()).await;
        assert_eq!((answer.status, answer.error_code()), (404, "not_found"), "{method} {path}: {}", answer.body);
    }
    // Ada's data is untouched, and Bob's own ids still work for Bob.
    let adas = ada.get(&format!("/api/products/list?business_id={b}")).await;
    assert_eq!(adas.body["items"].as_array().map(Vec::len), Some(1), "{}", adas.body);
    assert_eq!(adas.body["items"][0]["price"], "29.00");
    let own = bob.put(&format!("/api/products/{bobs_product}"), &json!({ "business_id": bobs, "price": 12 })).await;
    assert_eq!(own.status, 200, "{}", own.body);
}

async fn bad_inputs_are_422_naming_the_field(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let b = create_business(&ada, "Shop").await;
    let p = create_product(&ada, b, "Planner").await;

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/api/products/create",
            json!({ "business_id": b, "title": "t", "niche": "n", "price": 0, "cost": 0 }),
            "price",
        ),
        (
            "/api/products/create",
            json!({ "business_id": b, "title": "t", "niche": "n", "price": 1, "cost": -1 }),
            "cost",
        ),
        (
            "/api/products/create",
            json!({ "business_id": b, "title": "", "niche": "n", "price": 1, "cost": 0 }),
            "title",
        ),
        (
            "/api/products/create",
            json!({ "business_id": b, "title": "x".repeat(201), "niche": "n", "price": 1, "cost": 0 }),
            "title",
        ),
        (
            "/api/products/create",
            json!({ "business_id": b, "title": "t", "niche": "n", "price": 1, "cost": 0, "colour": "red" }),
            "colour",
        ),
        ("/api/products/create", json!({ "business_id": b, "title": "t", "price": 1, "cost": 0 }), "niche"),
        ("/api/social/post", json!({ "business_id": b, "platform": "x", "content": "x".repeat(281) }), "content"),
        ("/api/social/post", json!({ "business_id": b, "platform": "tiktok", "content": "x".repeat(2201) }), "content"),
        ("/api/social/post", json!({ "business_id": b, "platform": "myspace", "content": "hi" }), "platform"),
        (
            "/api/social/post",
            json!({ "business_id": b, "platform": "x", "content": "hi", "scheduled_time": "2001-01-01T00:00:00Z" }),
            "scheduled_time",
        ),
        (
            "/api/marketing/campaign",
            json!({ "business_id": b, "name": "n", "channel": "email", "budget": -5 }),
            "budget",
        ),
        (
            "/api/marketing/campaign",
            json!({ "business_id": b, "name": "n", "channel": "carrier_pigeon", "budget": 5 }),
            "channel",
        ),
        (
            "/api/stores/connect",
            json!({ "business_id": b, "platform": "etsy", "store_url": "http://x.example.com", "credentials": { "k": "v" } }),
            "store_url",
        ),
        (
            "/api/stores/connect",
            json!({ "business_id": b, "platform": "etsy", "store_url": "https://x.example.com", "credentials": {} }),
            "credentials",
        ),
        ("/api/finance/goal", json!({ "business_id": b, "monthly_revenue": 0 }), "monthly_revenue"),
        (
            "/api/ai/generate-content",
            json!({ "business_id": b, "kind": "poem", "brief": { "product": "p", "niche": "n", "price": "1" } }),
            "kind",
        ),
        (
            "/api/ai/generate-content",
            json!({ "business_id": b, "kind": "blog_post", "brief": { "niche": "n", "price": "1" } }),
            "brief.product",
        ),
        (
            "/api/ai/optimize-pricing",
            json!({ "business_id": b, "unit_cost": 1, "reference_price": 0 }),
            "reference_price",
        ),
    ];
    for (path, body, field) in &cases {
        let answer = ada.post(path, body).await;
        assert_eq!(answer.status, 422, "{path} {body}: {}", answer.body);
        assert!(answer.body["error"]["fields"].get(*field).is_some(), "{path} should name {field}: {}", answer.body);
    }

    let quoted = ada
        .post(
            "/api/stores/connect",
            &json!({ "business_id": b, "platform": "etsy", "store_url": "https://x.example.com", "credentials": STORE_SECRET }),
        )
        .await;
    assert_eq!(quoted.status, 422, "{}", quoted.body);
    assert!(quoted.body["error"]["fields"]["credentials"].is_string(), "{}", quoted.body);
    assert!(
        !quoted.body.to_string().contains(STORE_SECRET),
        "a refused credential is not quoted back: {}",
        quoted.body
    );

    let bad_status = ada.put(&format!("/api/products/{p}"), &json!({ "business_id": b, "status": "on_fire" })).await;
    assert_eq!(
        (bad_status.status, bad_status.body["error"]["fields"]["status"].is_string()),
        (422, true),
        "{}",
        bad_status.body
    );
    let bad_period = ada
        .get(&format!("/api/finance/revenue?business_id={b}&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"))
        .await;
    assert_eq!(
        (bad_period.status, bad_period.body["error"]["fields"]["from"].is_string()),
        (422, true),
        "{}",
        bad_period.body
    );
    let no_business = ada.get("/api/products/list").await;
    assert_eq!(no_business.status, 400, "{}", no_business.body);
    assert!(no_business.body["error"]["fields"].get("business_id").is_some(), "{}", no_business.body);
}

// Every story above without a backend in its name runs twice: `sqlite::…` on the embedded
// defaults and `postgres::…` on PostgreSQL with Redis.
boardroom_tests::on_both_backends! {
    the_ai_routes_answer_from_the_offline_agents,
    the_business_list_shows_each_change_at_once_though_lists_are_remembered,
    a_business_keeps_its_files_within_the_tiers_storage,
    an_upload_is_judged_by_its_bytes_not_by_what_the_client_says,
    a_business_draws_covers_and_cards_in_its_personalitys_colours,
    a_business_speaks_a_voice_over_in_its_personalitys_voice,
    a_business_makes_a_promo_clip_of_a_product_in_each_platforms_shape,
    posts_carry_the_products_clip_or_card_made_once,
    with_a_key_covers_and_voice_overs_come_from_the_api_and_offline_when_it_fails,
    another_user_gets_404_from_every_route_with_the_first_users_ids,
    bad_inputs_are_422_naming_the_field,
}
