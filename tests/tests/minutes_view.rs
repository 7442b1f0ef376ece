//! The board minutes on the dashboard, in a real browser (headless Chromium): an owner
//! sees the card's empty state before the first cycle, then each cycle's minutes arrive
//! live on top — headline, who wrote them, the money — with the older ones folded
//! below; the card reads without sideways scrolling on a laptop and on a phone.

use std::path::PathBuf;
use std::time::Duration;

use boardroom_memory::{TenantId, Tier};
use boardroom_tests::browser::Browser;
use boardroom_tests::{Backends, Caller, TEST_PASSWORD, TestApp, spawn_app_with};
use serde_json::{Value, json};

/// Where the story saves its screenshots (printed, to be looked at).
fn screenshot_path(backend: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("minutes-view").join(backend).join(name)
}

/// Asks for a cycle through the dashboard's route and waits until its minutes are
/// announced (`ceo.report`); returns the report as the API serves it.
async fn run_a_cycle(app: &TestApp, owner: &Caller, business: i64) -> Value {
    let tenant = TenantId(business);
    let mut feed = app.state.events.subscribe(tenant, app.state.store.last_event_seq(tenant).await.expect("seq"));
    let requested = owner.post(&format!("/api/live/{business}/run-cycle"), &json!({})).await;
    assert_eq!(requested.status, 202, "{}", requested.body);
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = feed.next().await.expect("the feed stays open").expect("an event");
            if event.kind == "ceo.report" {
                return;
            }
            assert_ne!(event.kind, "autopilot.cycle_failed", "{}", event.summary);
        }
    })
    .await
    .expect("the cycle reports in time");
    let newest = owner.get(&format!("/api/business/{business}/reports?limit=1")).await;
    assert_eq!(newest.status, 200, "{}", newest.body);
    newest.body["items"][0].clone()
}

/// The card's state as the page shows it.
const CARD: &str = "const card = document.getElementById('minutes-card'); \
    const latest = card.querySelector('#minutes-latest article.minutes'); \
    return { \
      latest: latest ? Number(latest.dataset.cycle) : null, \
      headline: latest ? latest.querySelector('h3').innerText : null, \
      meta: latest ? latest.querySelector('.meta').innerText : null, \
      money: latest ? [...latest.querySelectorAll('dl.money dt')].map((dt) => dt.innerText) : [], \
      paragraphs: latest ? latest.querySelectorAll(':scope > p:not(.meta)').length : 0, \
      folded: [...card.querySelectorAll('#minutes-history details')].map((d) => ({ cycle: Number(d.dataset.cycle), open: d.open })), \
      empty: card.querySelector('#minutes-latest').innerText, \
      cardWidth: card.getBoundingClientRect().width, \
      pageWidth: document.documentElement.scrollWidth, \
      viewport: window.innerWidth };";

async fn an_owner_sees_each_cycles_minutes_arrive_on_top_with_the_history_folded_below(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    // Enterprise: the free tier's 60 agent messages a minute would stretch two cycles.
    let owner = app.new_account_on("owner@example.com", Tier::Enterprise).await;
    let created = owner.post("/api/business/create", &json!({ "name": "Mugs & Co", "personality": "coachty" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("business id");

    let browser = Browser::launch(1280, 800).await;
    let site = &app.address;
    browser.visit(&format!("{site}/login")).await;
    browser.fill("#email", "owner@example.com").await;
    browser.fill("#password", TEST_PASSWORD).await;
    browser.click("#submit").await;
    browser.wait_for("the live stream", "return document.getElementById('stream-state').textContent === 'live'").await;

    // Before the first cycle: the card says what will come.
    let empty = browser.wait_for("the minutes card", CARD).await;
    assert_eq!(empty["latest"], Value::Null);
    assert_eq!(empty["empty"], "No minutes yet: the first cycle's report appears here when it ends.");

    // Two cycles: each one's minutes arrive on top while the owner watches.
    let mut reports = Vec::new();
    for cycle in 1..=2 {
        let report = run_a_cycle(&app, &owner, business).await;
        assert_eq!(report["cycle"], cycle);
        browser
            .wait_for(
                &format!("cycle {cycle}'s minutes on top"),
                &format!("const a = document.querySelector('#minutes-latest article.minutes'); return a && a.dataset.cycle === '{cycle}';"),
            )
            .await;
        reports.push(report);
    }
    let card = browser.run(CARD).await;
    assert_eq!(card["headline"], reports[1]["headline"], "the newest report's headline, as the API serves it");
    let meta = card["meta"].as_str().expect("meta");
    assert!(meta.contains("Cycle 2") && meta.contains("simulated day 2"), "{meta}");
    assert!(meta.contains("written offline"), "who wrote the minutes is shown: {meta}");
    assert_eq!(card["money"], json!(["Revenue", "Ad spend", "Net"]), "the money the cycle moved");
    assert!(card["paragraphs"].as_u64().unwrap_or(0) >= 5, "the minutes in paragraphs: {card}");
    assert_eq!(card["folded"], json!([{ "cycle": 1, "open": false }]), "the history, folded, newest first");
    assert!(card["pageWidth"].as_f64() <= card["viewport"].as_f64(), "no sideways scrolling at 1280 px: {card}");
    browser.run("document.getElementById('minutes-card').scrollIntoView(); return true").await;
    let wide = browser.screenshot(&screenshot_path(backend, "minutes-1280x800.png")).await;
    println!("screenshot: {}", wide.display());

    // A folded report opens to its minutes.
    browser.click("#minutes-history details summary").await;
    let opened = browser
        .wait_for(
            "the older minutes open",
            "const d = document.querySelector('#minutes-history details'); return d.open && d.querySelector('p:not(.meta)').offsetHeight > 0;",
        )
        .await;
    assert_eq!(opened, json!(true));

    // On a phone the card keeps to the screen.
    browser.resize(390, 844).await;
    let narrow =
        browser.wait_for("the phone layout", "return window.innerWidth === 390 ? window.innerWidth : null").await;
    assert_eq!(narrow, json!(390));
    let card = browser.run(CARD).await;
    assert!(card["cardWidth"].as_f64().is_some_and(|width| width <= 390.0), "{card}");
    assert!(card["pageWidth"].as_f64() <= card["viewport"].as_f64(), "no sideways scrolling at 390 px: {card}");
    browser.run("document.getElementById('minutes-card').scrollIntoView(); return true").await;
    let phone = browser.screenshot(&screenshot_path(backend, "minutes-390x844.png")).await;
    println!("screenshot: {}", phone.display());
    browser.quit().await;
}

boardroom_tests::on_both_backends! {
    an_owner_sees_each_cycles_minutes_arrive_on_top_with_the_history_folded_below,
}
