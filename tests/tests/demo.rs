//! The demo business a fresh install runs: the admin watches it from the first sign-in,
//! and any owner can start a business from a copy of it.

use std::time::Duration;

use boardroom_memory::TenantId;
use boardroom_tests::{Backends, Caller, TestApp, spawn_app, spawn_app_with};
use chrono::{TimeDelta, Utc};
use rust_decimal::Decimal;
use serde_json::json;

async fn create_business(owner: &Caller, name: &str, autopilot: bool) -> TenantId {
    let created = owner.post("/api/business/create", &json!({ "name": name, "autopilot": autopilot })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    TenantId(created.body["id"].as_i64().expect("business id"))
}

fn stream_path(tenant: TenantId) -> String {
    format!("/api/live/{}/events", tenant.0)
}

/// Waits (up to a minute) until the demo business exists and has completed `cycles`
/// cycles; answers its id and how many events its log holds then.
async fn demo_after_cycles(app: &TestApp, cycles: usize) -> (TenantId, usize) {
    let done = async {
        loop {
            let tenants = app.state.store.list_tenants(None, 10).await.expect("tenants");
            if let Some(demo) = tenants.iter().find(|t| t.name == "Demo Business") {
                let events = app.state.store.events_after(demo.id, 0, 100_000).await.expect("events");
                if events.iter().filter(|e| e.kind == "cycle.completed").count() >= cycles {
                    return (demo.id, events.len());
                }
                if let Some(swarm) = app.state.swarms.get(demo.id) {
                    swarm.run_cycle_now();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), done).await.expect("the demo ran its cycles")
}

/// A fresh install runs the demo business. The first account (the admin) sees it, with
/// the history it made before anyone signed up, and it does not count against the
/// admin's own businesses; another owner is told it exists but cannot open it.
async fn the_admin_sees_the_demo_business_and_its_history_from_the_first_sign_in(backends: Backends) {
    let app = spawn_app(backends).await;
    // The server creates the demo as it starts serving, and its first cycle at once.
    let (demo, history) = demo_after_cycles(&app, 1).await;

    let admin = app.new_account("admin@example.com").await;
    let shown = admin.get("/api/business/demo").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    // Each product the first cycle listed has its cover and its voice-over among the
    // business's files: a PNG drawn here and Ogg/Opus spoken here (labelled offline in
    // the feed).
    let products = app.state.store.products(demo).await.expect("products");
    assert!(!products.is_empty(), "the first cycle lists a product");
    let files = admin.get(&format!("/api/media/list?business_id={}", demo.0)).await;
    for product in &products {
        let name = format!("cover-product-{}.png", product.id);
        let file = files.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|file| file["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} among {}", files.body));
        let id = file["id"].as_i64().expect("id");
        let cover = admin.get(&format!("/api/media/{id}?business_id={}", demo.0)).await;
        let image = image::load_from_memory_with_format(&cover.raw, image::ImageFormat::Png).expect("a PNG");
        assert_eq!((image.width(), image.height()), (1024, 1024));
        let name = format!("voice-product-{}.ogg", product.id);
        let file = files.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|file| file["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} among {} (scripts/test installs espeak-ng and ffmpeg)", files.body));
        let id = file["id"].as_i64().expect("id");
        let voice = admin.get(&format!("/api/media/{id}?business_id={}", demo.0)).await;
        let probed = boardroom_tests::probe_media(&voice.raw);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "audio"), ["opus"]);
        assert!(boardroom_tests::probed_seconds(&probed) > 1.0, "{probed}");
    }
    let events = app.state.store.events_after(demo, 0, 100_000).await.expect("events");
    for kind in ["content.cover_made", "content.voice_over_made"] {
        let made: Vec<_> = events.iter().filter(|event| event.kind == kind).collect();
        assert_eq!(made.len(), products.len(), "one {kind} per product");
        assert!(made.iter().all(|event| event.summary.contains("(offline")), "{:?}", made[0].summary);
    }
    assert_eq!((shown.body["business"]["id"].as_i64(), &shown.body["can_open"]), (Some(demo.0), &json!(true)));
    assert_eq!(admin.get(&format!("/api/live/{}/swarm", demo.0)).await.status, 200);
    // The stream replays the demo's history from its first event: the cycle it
    // completed before the admin existed comes among the events already written.
    let mut stream = admin.open_stream(&stream_path(demo), Some(0)).await.expect("the admin watches the demo");
    let completed = loop {
        let message = stream.next_swarm_event().await;
        if message.data["kind"] == "cycle.completed" {
            break message;
        }
    };
    let seq = completed.data["seq"].as_i64().expect("seq");
    assert!(seq <= history as i64, "the completed cycle (#{seq}) is history (the first {history} events)");
    drop(stream);
    // Not the admin's own: its free tier's one business is still to create.
    let own = admin.get("/api/business/list").await;
    assert!(own.body["items"].as_array().expect("items").is_empty(), "{}", own.body);
    create_business(&admin, "My Shop", false).await;

    let owner = app.new_account("owner@example.com").await;
    let named = owner.get("/api/business/demo").await;
    assert_eq!((named.status, &named.body["can_open"]), (200, &json!(false)), "{}", named.body);
    for path in [format!("/api/live/{}/swarm", demo.0), format!("/api/business/{}", demo.0)] {
        assert_eq!(owner.get(&path).await.status, 404, "{path}");
    }

    let mut without = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let someone = without.new_account("someone@example.com").await;
    assert_eq!(someone.get("/api/business/demo").await.status, 404);
    without.stop().await;
}

/// From its first cycle the demo's feed shows a voiced clip of each product it listed:
/// the admin plays it, an MP4 in the vertical shape short-video feeds take, the pitch
/// spoken over its captions for as long as the voice-over.
async fn the_demos_feed_shows_a_voiced_clip_of_each_product_from_its_first_cycle(backends: Backends) {
    let app = spawn_app(backends).await;
    let (demo, _) = demo_after_cycles(&app, 1).await;
    let admin = app.new_account("admin@example.com").await;
    let products = app.state.store.products(demo).await.expect("products");
    let events = app.state.store.events_after(demo, 0, 100_000).await.expect("events");
    let clips: Vec<_> = events.iter().filter(|event| event.kind == "content.clip_made").collect();
    assert_eq!(clips.len(), products.len(), "one clip per product (scripts/test installs ffmpeg)");
    for made in clips {
        assert!(made.summary.contains("(offline") && made.summary.contains("vertical"), "{}", made.summary);
        let file = made.data["file_id"].as_i64().expect("the clip's file");
        let clip = admin.get(&format!("/api/media/{file}?business_id={}", demo.0)).await;
        assert_eq!((clip.status, clip.header("content-type")), (200, Some("video/mp4")));
        let probed = boardroom_tests::probe_media(&clip.raw);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "video"), ["h264"]);
        assert_eq!(boardroom_tests::probed_codecs(&probed, "audio"), ["aac"], "voiced");
        let streams = probed["streams"].as_array().expect("streams");
        let video = streams.iter().find(|stream| stream["codec_type"] == "video").expect("a video stream");
        assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(720), Some(1280)));
        let reported = made.data["duration_ms"].as_u64().expect("duration_ms") as f64 / 1000.0;
        let measured = boardroom_tests::probed_seconds(&probed);
        assert!(reported >= 3.0 && (measured - reported).abs() < 0.15, "{measured} s played, {reported} s said");
    }
}

/// An owner starts a business from the demo: it holds the demo's products, ledger and
/// lessons as its last completed day left them, and its first cycle is the demo's next
/// day, on the same market. Without a demo, or past the tier's businesses, it is
/// refused like any creation.
async fn an_owner_starts_from_a_copy_of_the_demo_and_goes_on_from_its_day(backends: Backends) {
    let app = spawn_app(backends).await;
    let (demo, _) = demo_after_cycles(&app, 2).await;
    // Hold the demo still, so what the copy holds can be compared with it.
    let swarm = app.state.swarms.get(demo).expect("the demo runs");
    swarm.pause_autopilot().await;
    let _admin = app.new_account("admin@example.com").await;
    let owner = app.new_account("owner@example.com").await;

    let created = owner
        .post("/api/business/create", &json!({ "name": "Copy Shop", "start_from_demo": true, "autopilot": false }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let copy = TenantId(created.body["id"].as_i64().expect("id"));

    let store = &app.state.store;
    let day = store.checkpoint(demo).await.expect("read").expect("the demo's checkpoint").cycle;
    assert_eq!(store.checkpoint(copy).await.expect("read").expect("the copy's checkpoint").cycle, day);
    let listing = |products: Vec<boardroom_memory::Product>| {
        products.into_iter().map(|p| (p.title, p.price, p.external_id)).collect::<Vec<_>>()
    };
    let demo_products = listing(store.products(demo).await.expect("products"));
    assert!(!demo_products.is_empty(), "the demo launched a product in two days");
    assert_eq!(listing(store.products(copy).await.expect("products")), demo_products);
    let (from, to) = (Utc::now() - TimeDelta::days(1), Utc::now() + TimeDelta::days(1));
    let net = async |tenant| -> Decimal {
        store.ledger_entries(tenant, from, to).await.expect("ledger").iter().map(|entry| entry.amount).sum()
    };
    assert_eq!(net(copy).await, net(demo).await, "the copy's ledger is the demo's");
    let shown = owner.get(&format!("/api/products/list?business_id={}", copy.0)).await;
    assert_eq!(shown.body["items"].as_array().map(Vec::len), Some(demo_products.len()), "{}", shown.body);

    // Its log starts with where it came from, and its first cycle is the demo's next day.
    let mut stream = owner.open_stream(&stream_path(copy), Some(0)).await.expect("the owner watches the copy");
    let first = stream.next_swarm_event().await;
    assert_eq!(first.data["kind"], "business.started_from_demo", "{}", first.data);
    assert!(first.data["summary"].as_str().unwrap_or_default().contains(&format!("day {day}")), "{}", first.data);
    let run = owner.post(&format!("/api/live/{}/run-cycle", copy.0), &json!({})).await;
    assert_eq!(run.status, 202, "{}", run.body);
    let completed = loop {
        let message = stream.next_swarm_event().await;
        assert_ne!(message.data["kind"], "autopilot.cycle_failed", "{}", message.data);
        if message.data["kind"] == "cycle.completed" {
            break message;
        }
    };
    assert_eq!(completed.data["data"]["cycle"], json!(day + 1), "{}", completed.data);
    // The demo did not move meanwhile: the copy acts on a market of its own.
    assert_eq!(store.checkpoint(demo).await.expect("read").expect("checkpoint").cycle, day);

    // The free tier's one business is taken: a second copy is refused as any creation.
    let second = owner.post("/api/business/create", &json!({ "name": "Again", "start_from_demo": true })).await;
    assert_eq!((second.status, second.error_code()), (402, "tier_limit"), "{}", second.body);

    // Eight copies at once for a new free owner: the limit holds, exactly one is made.
    let carol = app.new_account("carol@example.com").await;
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..8 {
        let carol = carol.clone();
        requests.spawn(async move {
            carol.post("/api/business/create", &json!({ "name": format!("Copy {n}"), "start_from_demo": true })).await
        });
    }
    let statuses: Vec<u16> = requests.join_all().await.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 402), "{statuses:?}");

    let mut without = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let someone = without.new_account("someone@example.com").await;
    let refused = someone.post("/api/business/create", &json!({ "name": "Mine", "start_from_demo": true })).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body["error"]["fields"]["start_from_demo"].is_string(), "{}", refused.body);
    without.stop().await;
}

boardroom_tests::on_both_backends! {
    the_admin_sees_the_demo_business_and_its_history_from_the_first_sign_in,
    the_demos_feed_shows_a_voiced_clip_of_each_product_from_its_first_cycle,
    an_owner_starts_from_a_copy_of_the_demo_and_goes_on_from_its_day,
}
