//! A live business posting its clips: its owner connects a Shopify shop, a TikTok
//! account and a YouTube channel (local servers that speak each platform's API as
//! documented and refuse anything else) and goes live. The marketing step posts each
//! product's clip, the vertical one on TikTok and the landscape one on YouTube, the
//! same bytes the business's media library holds; the next cycle reads back the plays,
//! views, likes, comments and shares, keeps them on each post and moves the posting
//! towards the network that drew more. An upload cut short (a connection that keeps
//! dropping) goes on after the server restarts, from where the platform stands: one
//! post initialised on TikTok, one upload session on YouTube, across both cycles.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{Backends, Caller, TestApp, run_a_cycle, spawn_app_with};
use serde_json::{Value, json};
use support::LocalServer;
use support::shopify_fake::{ShopifyFake, TOKEN};
use support::tiktok_fake::{self, TikTokFake};
use support::youtube_fake::{self, YouTubeFake};

/// A business live on a shop, with a TikTok account and a YouTube channel connected.
struct LiveBusiness {
    app: TestApp,
    owner: Caller,
    business: i64,
    tiktok: TikTokFake,
    youtube: YouTubeFake,
    _shop: ShopifyFake,
    _servers: Vec<LocalServer>,
}

async fn live_business_with_video_channels(backends: Backends) -> LiveBusiness {
    let shop = ShopifyFake::start().await;
    let (tiktok, youtube) = (TikTokFake::default(), YouTubeFake::default());
    let tiktok_server = LocalServer::start(tiktok.router()).await;
    let youtube_server = LocalServer::start(youtube.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    // CoachTy puts more than half its budget into content: two posts per product a day.
    let owner = app.new_account_on("ada@example.com", Tier::Enterprise).await;
    let created =
        owner.post("/api/business/create", &json!({ "name": "Focus & Flow", "personality": "coachty" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("id");
    let connect = |platform: &str, origin: &str, credentials: Value| json!({ "business_id": business, "platform": platform, "store_url": origin, "credentials": credentials });
    for request in [
        connect("shopify", shop.base_url(), json!({ "access_token": TOKEN })),
        connect(
            "tiktok",
            tiktok_server.base_url(),
            json!({ "client_key": tiktok_fake::CLIENT_KEY, "client_secret": tiktok_fake::CLIENT_SECRET,
                    "refresh_token": tiktok_fake::REFRESH_TOKEN }),
        ),
        connect(
            "youtube",
            youtube_server.base_url(),
            json!({ "client_id": youtube_fake::CLIENT_ID, "client_secret": youtube_fake::CLIENT_SECRET,
                    "refresh_token": youtube_fake::REFRESH_TOKEN }),
        ),
    ] {
        let connected = owner.post("/api/stores/connect", &request).await;
        assert_eq!(connected.status, 201, "{}", connected.body);
    }
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);
    LiveBusiness { app, owner, business, tiktok, youtube, _shop: shop, _servers: vec![tiktok_server, youtube_server] }
}

/// The business's posts as rows: (platform, external id, engagement, media addresses).
async fn post_rows(live: &LiveBusiness) -> Vec<(String, String, i64, Vec<String>)> {
    let rows = live.app.state.store.social_posts(TenantId(live.business), 100).await.expect("posts");
    rows.into_iter()
        .map(|row| (row.platform, row.external_id.unwrap_or_default(), row.engagement_score, row.media_urls))
        .collect()
}

fn of_kind<'a>(events: &'a [SwarmEvent], kind: &str) -> Vec<&'a SwarmEvent> {
    events.iter().filter(|event| event.kind == kind).collect()
}

/// The bytes of the business's file at `address` (`/api/media/{id}?business_id=…`).
async fn file_bytes(owner: &Caller, address: &str) -> Vec<u8> {
    let file = owner.get(address).await;
    assert_eq!(file.status, 200, "{address}");
    file.raw
}

async fn a_live_business_posts_its_clips_on_tiktok_and_youtube_and_learns_from_what_they_drew(backends: Backends) {
    let live = live_business_with_video_channels(backends).await;
    let (owner, business) = (&live.owner, live.business);

    let first = run_a_cycle(&live.app, owner, business).await;
    assert!(of_kind(&first, "marketing.post_failed").is_empty(), "{:#?}", of_kind(&first, "marketing.post_failed"));
    let on_tiktok = live.tiktok.published();
    let on_youtube = live.youtube.videos();
    assert_eq!((on_tiktok.len(), on_youtube.len()), (1, 1), "one clip on each");
    let rows = post_rows(&live).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (platform, _, _, media) in &rows {
        // Each post shows the clip in its network's shape, and the network got those
        // very bytes.
        let address = media.first().expect("the post's clip");
        let bytes = file_bytes(owner, address).await;
        let probed = boardroom_tests::probe_media(&bytes);
        let video = probed["streams"].as_array().expect("streams").iter().find(|s| s["codec_type"] == "video").cloned();
        let (width, height) = video.map(|v| (v["width"].as_u64(), v["height"].as_u64())).expect("a video stream");
        match platform.as_str() {
            "tiktok" => {
                assert_eq!((width, height), (Some(720), Some(1280)), "vertical on TikTok");
                assert_eq!(on_tiktok[0].2, bytes);
                assert_eq!(on_tiktok[0].1, "PUBLIC_TO_EVERYONE");
            }
            "youtube" => {
                assert_eq!((width, height), (Some(1280), Some(720)), "landscape on YouTube");
                assert_eq!(on_youtube[0].2, bytes);
            }
            other => panic!("nothing is posted where no account is connected: {other}"),
        }
    }
    let tiktok_id = rows.iter().find(|row| row.0 == "tiktok").map(|row| row.1.clone()).expect("TikTok's post");
    let youtube_id = rows.iter().find(|row| row.0 == "youtube").map(|row| row.1.clone()).expect("YouTube's video");
    assert_eq!(youtube_id, on_youtube[0].0);

    // The dashboard shows each account as a node of the swarm graph.
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"]["channels"],
        json!([{ "node": "channel:tiktok", "platform": "tiktok", "state": "ready", "needs_owner": null },
               { "node": "channel:youtube", "platform": "youtube", "state": "ready", "needs_owner": null }]),
        "{}",
        swarm.body
    );

    // People watch: TikTok's clip draws far more than YouTube's.
    live.tiktok.set_counts(&tiktok_id, [9_000, 400, 60, 40]);
    live.youtube.set_statistics(&youtube_id, [300, 4, 1]);
    let second = run_a_cycle(&live.app, owner, business).await;
    let read = of_kind(&second, "marketing.engagement");
    assert_eq!(read.len(), 1, "{:#?}", second.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert_eq!(read[0].data["live"], true);
    let rows = post_rows(&live).await;
    assert!(rows.iter().any(|row| row.1 == tiktok_id && row.2 == 500), "{rows:?}");
    assert!(rows.iter().any(|row| row.1 == youtube_id && row.2 == 5), "{rows:?}");
    let analysis = owner.post("/api/social/analyze", &json!({ "business_id": business })).await;
    assert_eq!((analysis.status, &analysis.body["figures"]), (200, &json!("live")), "{}", analysis.body);
    assert_eq!(analysis.body["best_network"], "tiktok", "{}", analysis.body);
    let strategy = live
        .app
        .state
        .store
        .agent_memory(TenantId(business), "reflection", "strategy")
        .await
        .expect("read")
        .expect("a strategy");
    assert!(
        strategy.content["networks"]["tiktok"].as_f64() > strategy.content["networks"]["youtube"].as_f64(),
        "{}",
        strategy.content
    );
    // The second cycle posted again: a new post on each, the same clip file.
    assert_eq!((live.tiktok.published().len(), live.youtube.videos().len()), (2, 2));
}

async fn a_clip_cut_short_goes_on_after_a_restart_without_a_second_post(backends: Backends) {
    let mut live = live_business_with_video_channels(backends).await;
    let business = live.business;

    // The connection keeps dropping mid-upload: both posts fail, their uploads kept.
    live.tiktok.fail_chunks(6);
    live.youtube.fail_chunks(6);
    let cut = run_a_cycle(&live.app, &live.owner, business).await;
    let failed = of_kind(&cut, "marketing.post_failed");
    assert_eq!(failed.len(), 2, "{:#?}", failed.iter().map(|e| &e.summary).collect::<Vec<_>>());
    assert!(post_rows(&live).await.is_empty());
    assert_eq!((live.tiktok.calls("init"), live.youtube.sessions()), (1, 1));

    // The server restarts; the next cycle's posts go on with the uploads begun.
    live.app.restart().await;
    let owner = live.owner.on(&live.app);
    let next = run_a_cycle(&live.app, &owner, business).await;
    assert!(of_kind(&next, "marketing.post_failed").is_empty(), "{:#?}", of_kind(&next, "marketing.post_failed"));
    assert_eq!(live.tiktok.calls("init"), 1, "TikTok initialised one post across both cycles");
    assert_eq!(live.youtube.sessions(), 1, "YouTube opened one upload session across both cycles");
    assert_eq!((live.tiktok.published().len(), live.youtube.videos().len()), (1, 1));
    let rows = post_rows(&live).await;
    let mut platforms: Vec<&str> = rows.iter().map(|row| row.0.as_str()).collect();
    platforms.sort_unstable();
    assert_eq!(platforms, ["tiktok", "youtube"], "one post each: {rows:?}");
}

boardroom_tests::on_both_backends! {
    a_live_business_posts_its_clips_on_tiktok_and_youtube_and_learns_from_what_they_drew,
    a_clip_cut_short_goes_on_after_a_restart_without_a_second_post,
}
