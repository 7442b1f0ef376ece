//! The live view: a tenant watches its swarm through a server-sent event stream, and in a
//! real browser. The HTTP stories prove the stream's promises (resume without gap or
//! duplicate, one tenant's events only, owner only); the browser stories walk through
//! the dashboard as a user would, and save screenshots of it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use boardroom_memory::{NewEvent, TenantId};
use boardroom_tests::browser::Browser;
use boardroom_tests::live::SseMessage;
use boardroom_tests::{Backends, Caller, TEST_PASSWORD, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn create_business(owner: &Caller, name: &str, autopilot: bool) -> TenantId {
    let created = owner.post("/api/business/create", &json!({ "name": name, "autopilot": autopilot })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    TenantId(created.body["id"].as_i64().expect("business id"))
}

/// Appends a test event to the tenant's log as a swarm actor would, and waits until it
/// is persisted; returns its sequence number.
async fn act(app: &TestApp, tenant: TenantId, what: &str) -> i64 {
    let event = NewEvent::now(tenant, "tester", "test.acted", what).with_data(json!({ "what": what }));
    app.state.events.append_and_wait(event).await.expect("event persisted").seq
}

fn stream_path(tenant: TenantId) -> String {
    format!("/api/live/{}/events", tenant.0)
}

#[tokio::test]
async fn a_reconnecting_viewer_gets_exactly_the_events_it_missed_then_live_ones() {
    resume_without_gap_or_duplicate(Backends::Embedded).await;
}

#[tokio::test]
async fn on_postgresql_and_redis_a_reconnecting_viewer_also_resumes_without_gap_or_duplicate() {
    resume_without_gap_or_duplicate(Backends::Production).await;
}

async fn resume_without_gap_or_duplicate(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs", false).await;
    let mut first_seen = Vec::new();
    for n in 0..5 {
        first_seen.push(act(&app, shop, &format!("before {n}")).await);
    }

    // A first visit from the beginning of the log.
    let mut stream = ada.open_stream(&format!("{}?after=0", stream_path(shop)), None).await.expect("stream opens");
    let mut received = Vec::new();
    while received.last() != first_seen.last() {
        received.push(stream.next_swarm_event().await.id.expect("persisted events have ids"));
    }
    let last_received = *received.last().expect("events");
    drop(stream); // the connection drops (a train goes into a tunnel)

    let mut missed = Vec::new();
    for n in 0..7 {
        missed.push(act(&app, shop, &format!("while away {n}")).await);
    }

    // The browser reconnects with the last id it saw.
    let mut stream = ada.open_stream(&stream_path(shop), Some(last_received)).await.expect("stream reopens");
    let mut live = Vec::new();
    for n in 0..3 {
        live.push(act(&app, shop, &format!("after {n}")).await);
    }
    let expected: Vec<i64> = missed.iter().chain(&live).copied().collect();
    let mut resumed = Vec::new();
    while resumed.len() < expected.len() {
        let message = stream.next_swarm_event().await;
        resumed.push(message.id.expect("id"));
        assert_eq!(message.data["tenant_id"], json!(shop.0), "{message:?}");
    }
    assert_eq!(resumed, expected, "exactly the missed events, then the live ones, in order");
    assert!(
        resumed.windows(2).all(|pair| pair[1] == pair[0] + 1) && resumed[0] == last_received + 1,
        "no gap after {last_received}: {resumed:?}"
    );
    // And nothing more: no duplicate trails behind.
    let extra = stream.next_within(Duration::from_millis(300)).await;
    assert!(
        !matches!(&extra, Some(Some(SseMessage { event, .. })) if event == "swarm"),
        "an extra event arrived: {extra:?}"
    );
}

async fn a_viewer_sees_only_its_own_tenants_events_and_activity(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let bob = app.new_account("bob@example.com").await;
    let adas = create_business(&ada, "Ada's mugs", false).await;
    let bobs = create_business(&bob, "Bob's hats", false).await;
    let mut stream = ada.open_stream(&stream_path(adas), None).await.expect("stream opens");

    // Bob's swarm works hard: persisted events and live messages between its agents.
    for n in 0..20 {
        act(&app, bobs, &format!("bob {n}")).await;
    }
    let advice = bob
        .post(
            "/api/ai/optimize-pricing",
            &json!({ "business_id": bobs.0, "unit_cost": 2, "reference_price": 30, "current_price": 29 }),
        )
        .await;
    assert_eq!(advice.status, 200, "{}", advice.body);
    let sentinel = act(&app, adas, "ada's own").await;

    loop {
        let message = stream.next().await.expect("the stream stays open");
        assert_ne!(message.event, "activity", "Ada's swarm is not even running: {message:?}");
        assert_eq!(message.data["tenant_id"], json!(adas.0), "another tenant's event arrived: {message:?}");
        if message.id == Some(sentinel) {
            break;
        }
    }
}

async fn another_users_business_is_not_found_on_every_live_route(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let eve = app.new_account("eve@example.com").await;
    let adas = create_business(&ada, "Mugs", false).await;
    let id = adas.0;

    let refused = eve.open_stream(&stream_path(adas), None).await.err().expect("refused");
    assert_eq!(refused.status, 404, "{}", refused.body);
    let anonymous = app.anonymous().open_stream(&stream_path(adas), None).await.err().expect("refused");
    assert_eq!(anonymous.status, 401);
    for answer in [
        eve.get(&format!("/api/live/{id}/swarm")).await,
        eve.get(&format!("/api/live/{id}/series")).await,
        eve.get(&format!("/api/live/{id}/series/days")).await,
        eve.post(&format!("/api/live/{id}/run-cycle"), &json!({})).await,
        eve.put(&format!("/api/live/{id}/products/1/price-override"), &json!({ "price": "9.99" })).await,
    ] {
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(answer.error_code(), "not_found");
    }
    // The owner is served.
    assert_eq!(ada.get(&format!("/api/live/{id}/swarm")).await.status, 200);
    assert_eq!(ada.get(&format!("/api/live/{id}/series")).await.status, 200);
}

async fn an_agents_call_lights_its_edge_on_the_stream(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs", false).await;
    let mut stream = ada.open_stream(&stream_path(shop), None).await.expect("stream opens");

    let advice = ada
        .post(
            "/api/ai/optimize-pricing",
            &json!({ "business_id": shop.0, "unit_cost": 2, "reference_price": 30, "current_price": 29 }),
        )
        .await;
    assert_eq!(advice.status, 200, "{}", advice.body);

    let mut phases = Vec::new();
    let mut last_persisted = None;
    while phases.last().map(String::as_str) != Some("finished") {
        let message = stream.next().await.expect("stream open");
        if message.event == "swarm" {
            last_persisted = message.id;
        }
        if message.event == "activity" && message.data["to"] == "pricing" {
            assert_eq!(message.id, last_persisted, "activity is not persisted: it leaves the last event id as it was");
            assert_eq!(message.data["from"], "api");
            phases.push(message.data["phase"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(phases, ["sent", "started", "finished"]);
}

async fn a_viewer_who_leaves_is_forgotten_by_the_server(backends: Backends) {
    let app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs", false).await;
    // The first account is the admin, who sees the open streams in `/health`.
    let open_streams = || async { ada.get("/health").await.body["live"]["streams"].as_u64() };

    let stream = ada.open_stream(&stream_path(shop), None).await.expect("stream opens");
    assert_eq!(open_streams().await, Some(1));
    drop(stream);
    // The server learns of the closed socket when it next writes to it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        act(&app, shop, "anyone there?").await;
        if open_streams().await == Some(0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server still holds the stream of a viewer who left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn shutting_down_ends_open_streams_instead_of_waiting_for_viewers(backends: Backends) {
    let mut app = spawn_app(backends).await;
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs", false).await;
    let mut stream = ada.open_stream(&stream_path(shop), None).await.expect("stream opens");

    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("the server stopped with a viewer connected");
    assert_eq!(stream.next_within(Duration::from_secs(5)).await, Some(None), "the stream ended");
}

// ---------------------------------------------------------------------------------------
// In a real browser.

/// Where the stories save their screenshots (printed, to be looked at): one folder per
/// backend, since every story runs on both.
fn screenshot_path(backend: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-view").join(backend).join(name)
}

/// The browser's newest event of `kind` in the feed, with its data.
fn newest_in_feed(kind: &str) -> String {
    format!(
        "const li = document.querySelector('#feed li[data-kind=\"{kind}\"]'); \
         return li ? {{ seq: Number(li.dataset.seq), text: li.innerText }} : null;"
    )
}

async fn an_owner_signs_up_watches_the_swarm_work_pauses_it_and_pins_a_price(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app(backends).await;
    let browser = Browser::launch(1280, 800).await;
    let site = &app.address;

    // Sign up, which logs in and lands on the dashboard.
    browser.enter(site, "/signup", "owner@example.com", TEST_PASSWORD).await;
    browser
        .wait_for(
            "the dashboard's first-business form",
            "return location.pathname === '/app' && !document.getElementById('create-business').hidden",
        )
        .await;

    // A business with the autopilot on: its first cycle starts at once.
    browser.fill("#new-name", "Mugs & Co").await;
    browser.click("#create-form button[type=submit]").await;
    // The page before showed the demo business (the first account is the admin): wait
    // for the new business's own page and stream.
    browser
        .wait_for(
            "the new business's live stream",
            "return document.getElementById('graph-title').textContent.startsWith('Mugs & Co') \
             && document.getElementById('stream-state').textContent === 'live'",
        )
        .await;
    let tenant = TenantId(
        browser.run("return Number(new URLSearchParams(location.search).get('business'))").await.as_i64().expect("id"),
    );
    let swarm = app.state.swarms.get(tenant).expect("the autopilot activated the swarm");
    // Cycles back to back (the tier's minimum is for real use, not for watching).
    swarm.set_autopilot_interval(Duration::from_millis(200));

    // The agents act: events arrive in the feed and edges light in the graph.
    let cycle = browser.wait_for("a cycle step in the feed", &newest_in_feed("cycle.step")).await;
    let lit = browser
        .wait_for(
            "a lit edge from the CEO",
            "const e = document.querySelector('#graph .edge[data-lit=\"true\"][data-edge^=\"ceo>\"]'); return e ? e.dataset.edge : null;",
        )
        .await;
    println!("feed shows {cycle}; graph lit {lit}");
    let delay = browser
        .wait_for(
            "a measured delivery delay",
            "const li = document.querySelector('#feed li'); if (!li) return null; \
             const sent = Date.parse(JSON.parse(li.querySelector('pre').textContent).occurred_at); \
             return { ms: Date.now() - sent };",
        )
        .await;
    println!("the newest event showed {} ms after it happened (an upper bound: measured when read)", delay["ms"]);
    browser.wait_for("the event's details", "return document.querySelectorAll('#feed li').length > 5").await;
    browser.run("document.querySelector('#feed li details').open = true; return true").await;
    browser.wait_for("charts", "return document.querySelectorAll('#charts figure').length === 5").await;
    // The first product comes with the first launch, a cycle's worth of agent messages
    // that the free tier's 60 a minute spread out (`throttle.waited`): on a busy machine
    // more than a page's patience.
    browser
        .wait_for_within(
            "a product to price",
            "return document.querySelector('#products input.price')",
            Duration::from_secs(90),
        )
        .await;

    let wide = browser.screenshot(&screenshot_path(backend, "dashboard-1280x800.png")).await;
    println!("screenshot: {}", wide.display());

    // Pause: the cycle in flight finishes its steps, then the swarm goes quiet.
    browser.click("#pause").await;
    browser.wait_for("the paused event", &newest_in_feed("autopilot.paused")).await;
    let before = cycle_finished(&app, tenant).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // ten intervals: cycles would show
    app.state.events.flush().await.expect("flush");
    let later = app.state.store.events_after(tenant, before, 100).await.expect("events");
    let kinds: Vec<String> =
        later.iter().map(|event| format!("{} {}: {}", event.actor, event.kind, event.summary)).collect();
    assert!(later.is_empty(), "a paused swarm kept working: {kinds:#?}");
    browser
        .wait_for("the feed to be up to date", &format!("return Number(document.body.dataset.lastSeq) === {before}"))
        .await;

    // Pin the first product's price, then run one cycle: the CEO keeps the owner's price.
    let product: Value = browser
        .run("const i = document.querySelector('#products input.price'); return { id: Number(i.dataset.product), price: i.value };")
        .await;
    let product_id = product["id"].as_i64().expect("a product id");
    browser.fill(&format!("input[data-product=\"{product_id}\"]"), "42.50").await;
    browser.click(&format!("button[data-pin=\"{product_id}\"]")).await;
    browser.wait_for("the pin in the feed", &newest_in_feed("pricing.override_set")).await;
    browser.click("#run-now").await;
    let kept = browser.wait_for("the next cycle keeping the price", &newest_in_feed("pricing.override_kept")).await;
    assert!(kept["text"].as_str().unwrap_or_default().contains("42.5"), "{kept}");
    browser
        .wait_for(
            "the products table to show the pinned price",
            &format!("const r = document.querySelector('tr[data-product-row=\"{product_id}\"] td.num'); return r && Number(r.textContent) === 42.5;"),
        )
        .await;
    let stored = app.state.store.product(tenant, product_id).await.expect("read").expect("product");
    assert_eq!(stored.price.to_string(), "42.50");

    // The same dashboard on a phone.
    browser.resize(390, 844).await;
    browser.run("window.scrollTo(0, 0); return true").await;
    let narrow = browser.screenshot(&screenshot_path(backend, "dashboard-390x844.png")).await;
    println!("screenshot: {}", narrow.display());
    let overflow = browser.run("return document.documentElement.scrollWidth - window.innerWidth").await;
    assert_eq!(overflow, json!(0), "the dashboard scrolls sideways on a phone");
    browser.quit().await;
}

/// The first account (the admin) opens the dashboard on the demo business: its media
/// library shows each product's cover, plays its voice-over and its clip; and the
/// personality's voice plays at a tap.
async fn the_admin_sees_plays_and_hears_the_demos_media_in_the_library(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app(backends).await;
    let browser = Browser::launch(1280, 800).await;
    browser.enter(&app.address, "/signup", "admin@example.com", TEST_PASSWORD).await;
    browser
        .wait_for(
            "the demo's page",
            "return document.getElementById('graph-title').textContent.startsWith('Demo Business')",
        )
        .await;
    // The demo's first launch keeps a cover, a voice-over and a clip: the library shows
    // them as they are made, the picture decoded, the sound and the video playable.
    let cover = browser
        .wait_for_within(
            "a cover shown in the media library",
            "const img = document.querySelector('#media figure[data-type=\"image/png\"] img'); \
             return img && img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null;",
            Duration::from_secs(90),
        )
        .await;
    assert_eq!(cover, json!([1024, 1024]));
    let clip = browser
        .wait_for(
            "a clip's metadata loaded in its player",
            "const v = document.querySelector('#media figure[data-type=\"video/mp4\"] video'); \
             return v && v.readyState >= 1 ? { width: v.videoWidth, height: v.videoHeight, seconds: v.duration } : null;",
        )
        .await;
    assert_eq!((clip["width"].as_u64(), clip["height"].as_u64()), (Some(720), Some(1280)), "{clip}");
    assert!(clip["seconds"].as_f64().is_some_and(|seconds| seconds >= 3.0), "{clip}");
    let voice_over = browser
        .run(
            "const a = document.querySelector('#media figure[data-type=\"audio/ogg\"] audio'); \
             if (!a) return null; a.preload = 'metadata'; a.load(); return true;",
        )
        .await;
    assert_eq!(voice_over, json!(true), "a voice-over's player in the library");
    let voice_over = browser
        .wait_for(
            "the voice-over's length read by its player (an Ogg file's length is read from its end: a range)",
            "const a = document.querySelector('#media figure[data-type=\"audio/ogg\"] audio'); \
             return a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 1 ? a.duration : null;",
        )
        .await;
    println!("the library plays a {voice_over} s voice-over and a {} s clip", clip["seconds"]);
    browser.run("document.getElementById('media-card').scrollIntoView(); return true").await;
    let shot = browser.screenshot(&screenshot_path(backend, "media-library-1280x800.png")).await;
    println!("screenshot: {}", shot.display());

    // Hear a personality: its line plays in its voice.
    browser.run("document.getElementById('personality').value = 'hustlebot'; return true").await;
    browser.click("#hear-personality").await;
    let heard = browser
        .wait_for(
            "HustleBot's voice loaded",
            "const a = document.getElementById('personality-voice'); \
             return !a.hidden && a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 1 ? a.duration : null;",
        )
        .await;
    println!("HustleBot speaks for {heard} s");
    browser.quit().await;
}

/// Waits until the cycle in flight (if any) has finished, and returns the log's last
/// sequence number then; fails after 30 seconds. A cycle may be held by the throttle
/// for a while between two of its events, so silence alone proves nothing.
async fn cycle_finished(app: &TestApp, tenant: TenantId) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        app.state.events.flush().await.expect("flush");
        let events = app.state.store.events_after(tenant, 0, 100_000).await.expect("events");
        let last_of = |kinds: &[&str]| events.iter().rev().find(|e| kinds.contains(&e.kind.as_str())).map(|e| e.seq);
        let started = last_of(&["cycle.started"]);
        let ended = last_of(&["cycle.completed", "autopilot.cycle_failed"]);
        if started <= ended {
            return events.last().map_or(0, |event| event.seq);
        }
        assert!(tokio::time::Instant::now() < deadline, "the cycle in flight never finished after the pause");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn an_admin_throttles_and_pauses_a_swarm_live_then_signs_someone_up_by_invitation(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app(backends).await;
    let admin = app.new_account("admin@example.com").await; // the first account is the admin
    let owner = app.new_account("owner@example.com").await;
    let shop = create_business(&owner, "Hats", true).await;

    let owner_view = Browser::launch(1280, 800).await;
    let site = &app.address;
    owner_view.enter(site, "/login", "owner@example.com", TEST_PASSWORD).await;
    owner_view
        .wait_for("the live stream", "return document.getElementById('stream-state').textContent === 'live'")
        .await;

    let admin_view = Browser::launch(1280, 800).await;
    admin_view.enter(site, "/login", "admin@example.com", TEST_PASSWORD).await;
    admin_view.wait_for("the dashboard", "return location.pathname === '/app'").await;
    admin_view.visit(&format!("{site}/admin")).await;
    admin_view
        .wait_for(
            "the platform's figures and health",
            &format!(
                "const text = document.getElementById('platform').textContent; \
                 return text.includes('Businesses') && text.includes('System') && text.includes('database {backend} up')"
            ),
        )
        .await;
    let row = format!("tr[data-business=\"{}\"]", shop.0);
    admin_view.wait_for("the owner's business", &format!("return document.querySelector('{row}')")).await;
    admin_view.fill(&format!("{row} input[type=number]"), "30").await;
    admin_view.click(&format!("{row} button[data-action=\"set-throttle\"]")).await;
    owner_view.wait_for("the throttle change on the owner's page", &newest_in_feed("throttle.changed")).await;
    owner_view.wait_for("the new limit", "return document.getElementById('limit-mpm').textContent === '30'").await;

    admin_view.click(&format!("{row} button[data-action=\"pause\"]")).await;
    owner_view.wait_for("the pause on the owner's page", &newest_in_feed("autopilot.paused")).await;
    owner_view
        .wait_for(
            "the paused badge",
            "return document.getElementById('autopilot-status').textContent.includes('paused')",
        )
        .await;
    let admin_shot = admin_view.screenshot(&screenshot_path(backend, "admin-1280x800.png")).await;
    println!("screenshot: {}", admin_shot.display());
    let users: HashSet<String> = admin_view
        .run("return [...document.querySelectorAll('#users td:first-child')].map(td => td.textContent)")
        .await
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert!(users.contains("admin@example.com") && users.contains("owner@example.com"), "{users:?}");
    drop(admin);

    // Sign-up by invitation: the admin closes sign-up and hands out an invite link.
    admin_view.click("#private-on").await;
    admin_view
        .wait_for(
            "private mode on",
            "return document.getElementById('private-state').textContent.includes('invite only')",
        )
        .await;
    admin_view.click("#invite").await;
    let link = admin_view
        .wait_for("the invite link", "const c = document.querySelectorAll('#invite-result code'); return c.length === 2 ? c[1].textContent : null;")
        .await;
    let link = link.as_str().expect("a link").to_owned();
    owner_view.click("#logout").await;
    owner_view.wait_for("the login page", "return location.pathname === '/login'").await;

    owner_view.enter(site, "/signup", "uninvited@example.com", TEST_PASSWORD).await;
    owner_view
        .wait_for(
            "the refusal",
            "const e = document.getElementById('form-error'); return !e.hidden && e.textContent.includes('invit');",
        )
        .await;

    owner_view.visit(&link).await;
    let prefilled = owner_view.run("return document.getElementById('invite_code').value").await;
    assert!(link.ends_with(prefilled.as_str().unwrap_or("?")), "the link's code fills the form: {prefilled}");
    owner_view.fill("#email", "invited@example.com").await;
    owner_view.fill("#password", TEST_PASSWORD).await;
    owner_view.click("#submit").await;
    owner_view
        .wait_for(
            "the invited owner's first-business form",
            "return location.pathname === '/app' && !document.getElementById('create-business').hidden",
        )
        .await;
    owner_view.quit().await;
    admin_view.quit().await;
}

/// A swarm starts with its CEO only: the live view shows the specialists asleep, the
/// admin's controls work on it as on any, and a request for one specialist wakes that
/// one alone (the stream shows it waking), while a whole cycle wakes those it needs.
async fn a_swarm_whose_specialists_sleep_shows_them_so_and_wakes_one_on_demand(backends: Backends) {
    let app = spawn_app(backends).await;
    let admin = app.new_account("admin@example.com").await; // the first account is the admin
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "Mugs", false).await;
    let states = |view: &Value, agent: &str| view["agent_states"][agent].as_str().unwrap_or("?").to_owned();

    // Not running: every agent asleep. The admin's controls start it, CEO only.
    let view = ada.get(&format!("/api/live/{}/swarm", shop.0)).await.body;
    assert_eq!((states(&view, "ceo"), states(&view, "pricing")), ("asleep".into(), "asleep".into()), "{view}");
    let throttled =
        admin.put(&format!("/admin/businesses/{}/throttle", shop.0), &json!({ "messages_per_minute": 600 })).await;
    assert_eq!(throttled.status, 200, "{}", throttled.body);
    let paused = admin.post(&format!("/admin/businesses/{}/swarm", shop.0), &json!({ "action": "pause" })).await;
    assert_eq!((paused.status, &paused.body["status"]), (200, &json!("running")), "{}", paused.body);
    let view = ada.get(&format!("/api/live/{}/swarm", shop.0)).await.body;
    assert_eq!(states(&view, "ceo"), "idle", "{view}");
    let asleep = view["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter(|a| states(&view, a.as_str().unwrap_or("")) == "asleep");
    assert_eq!(asleep.count(), 8, "the eight specialists sleep: {view}");
    assert_eq!(view["throttle"]["limits"]["messages_per_minute"], 600, "{view}");

    // A request for pricing wakes pricing, and the stream shows it.
    let mut stream = ada.open_stream(&stream_path(shop), None).await.expect("stream opens");
    let advice = ada
        .post(
            "/api/ai/optimize-pricing",
            &json!({ "business_id": shop.0, "unit_cost": 2, "reference_price": 30, "current_price": 29 }),
        )
        .await;
    assert_eq!(advice.status, 200, "{}", advice.body);
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("finished") {
        let message = stream.next().await.expect("stream open");
        let data = &message.data;
        if message.event == "activity" && (data["agent"] == "pricing" || data["to"] == "pricing") {
            seen.push(data["state"].as_str().or(data["phase"].as_str()).unwrap_or_default().to_owned());
        }
    }
    assert_eq!(seen, ["sent", "waking", "idle", "started", "finished"]);
    let view = ada.get(&format!("/api/live/{}/swarm", shop.0)).await.body;
    assert_eq!((states(&view, "pricing"), states(&view, "seo")), ("idle".into(), "asleep".into()), "{view}");

    // The dashboard says so in words and outline.
    let browser = Browser::launch(1280, 800).await;
    browser.enter(&app.address, "/login", "ada@example.com", TEST_PASSWORD).await;
    browser.wait_for("the dashboard", "return location.pathname === '/app'").await;
    browser.visit(&format!("{}/app?business={}", app.address, shop.0)).await;
    let node = |agent: &str, state: &str, words: &str| {
        format!(
            "const n = document.getElementById('node-{agent}'); \
             return n && n.dataset.state === '{state}' && n.querySelector('.state').textContent === '{words}';"
        )
    };
    browser.wait_for("seo asleep", &node("seo", "asleep", "☾ asleep")).await;
    browser.wait_for("pricing awake", &node("pricing", "idle", "○ idle")).await;

    // The admin resumes it and a whole cycle runs, waking the agents it calls.
    let resumed = admin.post(&format!("/admin/businesses/{}/swarm", shop.0), &json!({ "action": "resume" })).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let cycle = boardroom_tests::run_a_cycle_to_its_end(&app, &ada, shop.0).await;
    assert_eq!(cycle.last().map(|event| event.kind.as_str()), Some("ceo.report"));
    let view = ada.get(&format!("/api/live/{}/swarm", shop.0)).await.body;
    for agent in ["strategist", "seo", "pricing", "content", "accountant"] {
        assert_eq!(states(&view, agent), "idle", "{agent}: {view}");
    }
    browser.wait_for("seo woken by the cycle", &node("seo", "idle", "○ idle")).await;
    browser.quit().await;
}

// Every story above without a backend in its name runs twice: `sqlite::…` on the embedded
// defaults and `postgres::…` on PostgreSQL with Redis.
/// A new owner on the free tier watches a sandbox business: cycles come one simulated
/// day apart (a second here), not at the tier's 30-minute minimum, because on the
/// sandbox with the offline brain a cycle costs nothing. Once nobody watches, the
/// business slows down to its own interval again.
async fn a_watched_sandbox_business_cycles_day_after_day_and_rests_when_nobody_watches(backends: Backends) {
    let app = spawn_app_with(backends, &[("SANDBOX_DAY_SECS", "1"), ("DEMO_TENANT", "false")]).await;
    let ada = app.new_account("ada@example.com").await;
    let shop = create_business(&ada, "My Shop", true).await;

    let mut stream = ada.open_stream(&stream_path(shop), None).await.expect("stream opens");
    let mut closed_days = Vec::new();
    while closed_days.len() < 3 {
        let message = stream.next_swarm_event().await;
        if message.data["kind"] == "cycle.completed" {
            closed_days.push(message.data["data"].clone());
        }
    }

    // The charts follow simulated days: a point per closed day, with the money its
    // cycle booked, while the day under way (if any) is marked open.
    let series = ada.get(&format!("/api/live/{}/series/days?days=30", shop.0)).await;
    assert_eq!(series.status, 200, "{}", series.body);
    let points = series.body["points"].as_array().expect("points");
    for closed in &closed_days {
        let day = closed["cycle"].as_i64().expect("the cycle is the day");
        let point = points.iter().find(|p| p["day"] == day).unwrap_or_else(|| panic!("day {day} in {points:#?}"));
        assert_eq!(point["completed"], true, "{point}");
        assert_eq!(point["revenue"], closed["outcome"]["revenue"], "{point} vs {closed}");
        assert_eq!(point["profit"], closed["outcome"]["net"], "{point} vs {closed}");
        assert!(point["events"].as_u64().unwrap_or(0) >= 7, "a day holds at least its seven steps: {point}");
    }
    let days: Vec<i64> = points.iter().map(|p| p["day"].as_i64().expect("day")).collect();
    assert_eq!(days, (1..=days.len() as i64).collect::<Vec<_>>(), "days from the first, none missing");
    assert_eq!(series.body["today"], json!(days.len()));
    drop(stream);

    // The cycle under way when the viewer left may still finish; after that, none.
    let cycles = async || {
        let events = app.state.store.events_after(shop, 0, 10_000).await.expect("events");
        events.iter().filter(|event| event.kind == "cycle.completed").count()
    };
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let settled = cycles().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(cycles().await, settled, "nobody watches: the next cycle is the tier's 30 minutes away");
}

boardroom_tests::on_both_backends! {
    a_viewer_sees_only_its_own_tenants_events_and_activity,
    another_users_business_is_not_found_on_every_live_route,
    an_agents_call_lights_its_edge_on_the_stream,
    a_viewer_who_leaves_is_forgotten_by_the_server,
    shutting_down_ends_open_streams_instead_of_waiting_for_viewers,
    an_owner_signs_up_watches_the_swarm_work_pauses_it_and_pins_a_price,
    an_admin_throttles_and_pauses_a_swarm_live_then_signs_someone_up_by_invitation,
    a_watched_sandbox_business_cycles_day_after_day_and_rests_when_nobody_watches,
    a_swarm_whose_specialists_sleep_shows_them_so_and_wakes_one_on_demand,
    the_admin_sees_plays_and_hears_the_demos_media_in_the_library,
}
