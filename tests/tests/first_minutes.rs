//! The first minutes of a new owner, in a real browser, on a fresh install with the
//! defaults: sign up, see the demo business at work, create a business, and within three
//! minutes watch it close day after day on the sandbox market, with charts that follow
//! the simulated days and the CEO's minutes in words.
//!
//! The story saves screenshots at 1280×800 and 390×844 (printed, to be looked at). Set
//! `BOARDROOM_WATCH_SECS` to keep watching that long after the business is created
//! before they are taken (the five minutes: `BOARDROOM_WATCH_SECS=300`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use boardroom_tests::browser::Browser;
use boardroom_tests::{Backends, TEST_PASSWORD, spawn_app};
use serde_json::json;

/// How long a new owner is promised to wait for three closed days, in words and charts.
const THREE_DAYS_WITHIN: Duration = Duration::from_secs(180);

fn screenshot_path(backend: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("first-minutes").join(backend).join(name)
}

/// The number of elements `selector` matches, as a script for `wait_for`: the count once
/// it reaches `at_least`, else null.
fn at_least(selector: &str, at_least: usize) -> String {
    format!("const n = document.querySelectorAll('{selector}').length; return n >= {at_least} ? n : null;")
}

async fn a_new_owner_watches_their_business_close_three_days_within_three_minutes(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app(backends).await;
    let browser = Browser::launch(1280, 800).await;
    let site = &app.address;

    // Signing up on a fresh install makes the first account, the admin: the dashboard
    // opens on the demo business, already at work, beside the form for a first business.
    browser.enter(site, "/signup", "owner@example.com", TEST_PASSWORD).await;
    browser
        .wait_for(
            "the first-business form beside the demo",
            "return location.pathname === '/app' && !document.getElementById('create-business').hidden \
             && document.getElementById('graph-title').textContent.startsWith('Demo Business')",
        )
        .await;
    let demo_history = browser
        .wait_for_within(
            "the demo's history in the feed",
            &at_least("#feed li[data-kind=\"cycle.completed\"]", 1),
            Duration::from_secs(60),
        )
        .await;
    println!("the admin's first page shows the demo business with {demo_history} closed days in its feed");
    assert!(
        browser.run("return !document.getElementById('from-demo-choice').hidden").await == json!(true),
        "the form offers to start from the demo"
    );

    // A business of their own, autopilot on, from nothing.
    browser.fill("#new-name", "My Shop").await;
    browser.click("#create-form button[type=submit]").await;
    let created = Instant::now();
    browser
        .wait_for(
            "the new business's dashboard",
            "return document.getElementById('graph-title').textContent.startsWith('My Shop') \
             && document.getElementById('stream-state').textContent === 'live'",
        )
        .await;
    let options =
        browser.run("return [...document.querySelectorAll('#business-select option')].map(o => o.textContent)").await;
    assert_eq!(options, json!(["My Shop", "Demo Business (demo)"]), "the admin keeps the demo at hand");

    // Within three minutes: three closed days, a chart of three points, minutes in words.
    let closed = browser
        .wait_for_within(
            "three closed days in the feed",
            &at_least("#feed li[data-kind=\"cycle.completed\"]", 3),
            THREE_DAYS_WITHIN.saturating_sub(created.elapsed()),
        )
        .await;
    let points = browser
        .wait_for_within(
            "a revenue chart of three simulated days",
            "const f = document.querySelector('#charts figure[data-chart=\"revenue\"]'); \
             return f && Number(f.dataset.points) >= 3 ? Number(f.dataset.points) : null;",
            THREE_DAYS_WITHIN.saturating_sub(created.elapsed()),
        )
        .await;
    let minutes = browser
        .wait_for_within(
            "the CEO's latest minutes",
            "const r = document.querySelector('#minutes-latest article.minutes'); \
             return r && r.innerText.length > 80 ? r.innerText : null;",
            THREE_DAYS_WITHIN.saturating_sub(created.elapsed()),
        )
        .await;
    let took = created.elapsed();
    println!(
        "{closed} closed days and a chart of {points} points {:.0} s after creating the business",
        took.as_secs_f64()
    );
    println!("the latest minutes read:\n{}", minutes.as_str().unwrap_or_default());
    let day = browser.run("return document.getElementById('sim-day').textContent").await;
    assert!(day.as_str().is_some_and(|text| text.starts_with("simulated day ")), "{day}");
    let doing = browser.run("return document.getElementById('now-doing').textContent").await;
    assert!(doing.as_str().is_some_and(|text| !text.is_empty()), "the page says what the swarm does now");

    // Keep watching as long as asked, then look at it wide and on a phone.
    if let Some(watch) = std::env::var("BOARDROOM_WATCH_SECS").ok().and_then(|secs| secs.parse::<u64>().ok()) {
        let remaining = Duration::from_secs(watch).saturating_sub(created.elapsed());
        tokio::time::sleep(remaining).await;
    }
    let watched = created.elapsed().as_secs();
    let wide = browser.screenshot(&screenshot_path(backend, &format!("my-shop-{watched}s-1280x800.png"))).await;
    println!("screenshot: {}", wide.display());
    browser.run("document.getElementById('charts-card').scrollIntoView(); return true").await;
    let below = browser.screenshot(&screenshot_path(backend, &format!("my-shop-{watched}s-1280x800-charts.png"))).await;
    println!("screenshot: {}", below.display());
    let cycles = browser.run("return document.getElementById('autopilot-status').textContent").await;
    println!("the autopilot badge reads: {cycles}");
    browser.resize(390, 844).await;
    browser.run("window.scrollTo(0, 0); return true").await;
    let narrow = browser.screenshot(&screenshot_path(backend, &format!("my-shop-{watched}s-390x844.png"))).await;
    println!("screenshot: {}", narrow.display());
    let overflow = browser.run("return document.documentElement.scrollWidth - window.innerWidth").await;
    assert_eq!(overflow, json!(0), "the dashboard scrolls sideways on a phone");
    browser.quit().await;
}

boardroom_tests::on_both_backends! {
    a_new_owner_watches_their_business_close_three_days_within_three_minutes,
}
