//! The spending guard on the dashboard, in a real browser (headless Chromium): an owner
//! sets an approval threshold in the form, the next cycle's ad flights appear in the
//! queue live with what they commit and what the agent expects, the owner approves one
//! and rejects another by clicking, and the cycle after that carries out the approved
//! one (shown as done) while the rejected one never runs. The card keeps to a phone's
//! screen.

use std::path::PathBuf;

use boardroom_memory::Tier;
use boardroom_tests::browser::Browser;
use boardroom_tests::{Backends, TEST_PASSWORD, run_a_cycle, spawn_app_with};
use serde_json::json;

fn screenshot_path(backend: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guard-view").join(backend).join(name)
}

/// A script defining `card()`: the card as the page shows it.
const CARD_FN: &str = "const card = () => { const card = document.getElementById('guard-card'); \
    const item = (li) => ({ id: Number(li.dataset.approval), status: li.dataset.status, text: li.innerText }); \
    return { \
      pending: [...card.querySelectorAll('#approvals li[data-approval]')].map(item), \
      answered: [...card.querySelectorAll('#approvals-answered li[data-approval]')].map(item), \
      threshold: document.getElementById('guard-threshold').value, \
      note: document.getElementById('guard-note').innerText, \
      waiting: document.getElementById('approvals-count').innerText, \
      cardWidth: card.getBoundingClientRect().width, \
      pageWidth: document.documentElement.scrollWidth, \
      viewport: window.innerWidth }; };";

/// A script that calls `card()` and ends with `tail`.
fn with_card(tail: &str) -> String {
    format!("{CARD_FN} {tail}")
}

async fn an_owner_approves_one_flight_and_rejects_another_from_the_dashboard(backends: Backends) {
    let backend = backends.name();
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let owner = app.new_account_on("owner@example.com", Tier::Enterprise).await;
    let created = owner.post("/api/business/create", &json!({ "name": "Mugs & Co", "personality": "hustlebot" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("business id");

    let browser = Browser::launch(1280, 900).await;
    browser.enter(&app.address, "/app", "owner@example.com", TEST_PASSWORD).await;
    browser.wait_for("the live stream", "return document.getElementById('stream-state').textContent === 'live'").await;
    let empty = browser.wait_for("the guard card", &with_card("return card();")).await;
    assert_eq!(empty["pending"], json!([]));
    assert_eq!(empty["threshold"], "", "no threshold until the owner sets one");

    // The owner asks to be asked about anything over $10.
    browser.fill("#guard-threshold", "10").await;
    browser.click("#guard-save").await;
    browser
        .wait_for("the guard saved", "return document.getElementById('guard-note').innerText === 'guard saved'")
        .await;
    let guard = owner.get(&format!("/api/business/{business}/guard")).await;
    assert_eq!(guard.body["approval_threshold"], "10.00", "{}", guard.body);

    // A cycle: its flights arrive in the queue while the owner watches.
    run_a_cycle(&app, &owner, business).await;
    let card = browser
        .wait_for(
            "the flights waiting for approval",
            &with_card("const c = card(); return c.pending.length >= 2 ? c : null;"),
        )
        .await;
    let first = &card["pending"][0];
    let text = first["text"].as_str().expect("text");
    assert!(text.contains("Run ") && text.contains("a day"), "what the flight is: {text}");
    assert!(text.contains("Commits $") && text.contains("the agent expects"), "its money and why: {text}");
    assert_eq!(card["waiting"], format!("({})", card["pending"].as_array().map_or(0, Vec::len)), "{card}");
    assert!(card["pageWidth"].as_f64() <= card["viewport"].as_f64(), "no sideways scrolling: {card}");
    browser.run("document.getElementById('guard-card').scrollIntoView(); return true").await;
    println!("screenshot: {}", browser.screenshot(&screenshot_path(backend, "guard-1280x900.png")).await.display());

    // Approve the first, reject the second, by clicking.
    let approved = first["id"].as_i64().expect("id");
    let rejected = card["pending"][1]["id"].as_i64().expect("id");
    browser.click(&format!("button[data-approve='{approved}']")).await;
    browser
        .wait_for(
            "the approval recorded",
            &format!("return document.querySelector(\"#approvals-answered li[data-approval='{approved}']\")?.dataset.status === 'approved'"),
        )
        .await;
    browser.click(&format!("button[data-reject='{rejected}']")).await;
    browser
        .wait_for(
            "the rejection recorded",
            &format!("return document.querySelector(\"#approvals-answered li[data-approval='{rejected}']\")?.dataset.status === 'rejected'"),
        )
        .await;

    // The next cycle carries out the approved flight: the card shows it done.
    run_a_cycle(&app, &owner, business).await;
    browser
        .wait_for(
            "the approved flight carried out",
            &format!("return document.querySelector(\"#approvals-answered li[data-approval='{approved}']\")?.dataset.status === 'done'"),
        )
        .await;
    let campaigns = owner.get(&format!("/api/marketing/list?business_id={business}")).await;
    assert_eq!(campaigns.body["items"].as_array().map(Vec::len), Some(1), "only the approved flight runs");
    let queue = owner.get(&format!("/api/business/{business}/approvals")).await.body;
    let status =
        |id: i64| queue["items"].as_array().expect("items").iter().find(|a| a["id"] == id).map(|a| a["status"].clone());
    assert_eq!((status(approved), status(rejected)), (Some(json!("done")), Some(json!("rejected"))));

    // On a phone the card keeps to the screen.
    browser.resize(390, 844).await;
    browser.wait_for("the phone layout", "return window.innerWidth === 390 ? true : null").await;
    let card = browser.run(&with_card("return card();")).await;
    assert!(card["cardWidth"].as_f64().is_some_and(|width| width <= 390.0), "{card}");
    assert!(card["pageWidth"].as_f64() <= card["viewport"].as_f64(), "no sideways scrolling at 390 px: {card}");
    browser.run("document.getElementById('guard-card').scrollIntoView(); return true").await;
    println!("screenshot: {}", browser.screenshot(&screenshot_path(backend, "guard-390x844.png")).await.display());
    browser.quit().await;
}

boardroom_tests::on_both_backends! {
    an_owner_approves_one_flight_and_rejects_another_from_the_dashboard,
}
