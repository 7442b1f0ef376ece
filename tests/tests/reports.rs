//! The board minutes: after every autopilot cycle the CEO writes a report the owner reads
//! through the API, newest first, naming the cycle's product and money as the rest of
//! the API serves them; written offline it says so; a cycle resumed after a crash does
//! not report twice; with a model the model writes it, and when the model fails the
//! offline minutes stand and the cycle still completes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::SandboxMarket;
use boardroom_agents::brain::{Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, DecisionSource};
use boardroom_agents::minutes::{money, product_name};
use boardroom_agents::{AgentRegistry, CEO, Task};
use boardroom_memory::testing::create_tenant;
use boardroom_memory::{Checkpoint, EventLog, EventLogConfig, SharedStore, TenantId, Tier};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices};
use boardroom_tests::{Backends, Caller, TestApp, TestDatabase, spawn_app_with};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// How long a story waits for a cycle to report.
const PATIENCE: Duration = Duration::from_secs(60);

/// The app without its demo tenant, whose autopilot these stories do not need.
async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await
}

// The owners here are on the enterprise tier and their businesses' autopilot is off
// (cycles run when asked), so the free tier's 60 agent messages a minute do not
// stretch three cycles over minutes.

/// Asks for a cycle through the dashboard's route and waits for its report's event.
async fn run_a_cycle(app: &TestApp, owner: &Caller, business: i64) -> Value {
    let tenant = TenantId(business);
    let mut feed = app.state.events.subscribe(tenant, app.state.store.last_event_seq(tenant).await.expect("seq"));
    let requested = owner.post(&format!("/api/live/{business}/run-cycle"), &json!({})).await;
    assert_eq!(requested.status, 202, "{}", requested.body);
    let report = tokio::time::timeout(PATIENCE, async {
        loop {
            let event = feed.next().await.expect("the feed stays open").expect("an event");
            if event.kind == "ceo.report" {
                return event;
            }
            assert_ne!(event.kind, "autopilot.cycle_failed", "{}", event.summary);
        }
    })
    .await
    .expect("the cycle reports in time");
    report.data.clone()
}

/// The ledger's money over `[from, to)`, as the finance API serves it.
async fn booked(owner: &Caller, business: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let path = format!(
        "/api/finance/revenue?business_id={business}&from={}&to={}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let revenue = owner.get(&path).await;
    assert_eq!(revenue.status, 200, "{}", revenue.body);
    revenue.body
}

fn amount(value: &Value) -> rust_decimal::Decimal {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("an amount: {value}"))
}

async fn reports(owner: &Caller, business: i64, query: &str) -> Value {
    let answer = owner.get(&format!("/api/business/{business}/reports{query}")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn cycles(page: &Value) -> Vec<i64> {
    page["items"].as_array().expect("items").iter().map(|report| report["cycle"].as_i64().expect("cycle")).collect()
}

async fn every_cycle_leaves_minutes_naming_its_product_and_money_and_a_resumed_cycle_reports_once(backends: Backends) {
    // Arrange
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Mugs & Co").await;
    let empty = reports(&owner, business, "").await;
    assert_eq!(empty, json!({ "items": [], "next_before": null }), "no minutes before the first cycle");

    // Act: three cycles, each checked against what the rest of the API serves. Before
    // the second, the owner doubles the product's price, which the pricing agent will
    // not leave there: that cycle moves a price.
    let mut doubled = None;
    for cycle in 1..=3 {
        if cycle == 2 {
            let listed = owner.get(&format!("/api/products/list?business_id={business}")).await.body;
            let product = &listed["items"][0];
            let price = amount(&product["price"]) * rust_decimal::Decimal::TWO;
            let path = format!("/api/products/{}", product["id"]);
            let changed = owner.put(&path, &json!({ "business_id": business, "price": price.to_string() })).await;
            assert_eq!(changed.status, 200, "{}", changed.body);
            doubled = Some(price);
        }
        let from = Utc::now();
        let event = run_a_cycle(&app, &owner, business).await;
        let to = Utc::now();
        assert_eq!(event["cycle"], cycle);
        let newest = reports(&owner, business, "?limit=1").await;
        let report = &newest["items"][0];
        assert_eq!(report["cycle"], cycle, "the newest report is this cycle's");
        assert_eq!(report["source"], "offline", "written from the agents' own reasons, and labelled so");
        let headline = report["headline"].as_str().expect("headline");
        let minutes = report["minutes"].as_str().expect("minutes");
        assert!(minutes.split("\n\n").count() >= 5, "a few short paragraphs:\n{minutes}");

        // The day's money, as the ledger the finance API serves has it.
        let ledger = booked(&owner, business, from, to).await;
        let revenue = money(amount(&ledger["revenue"]), "USD");
        let net = money(amount(&ledger["net_profit"]), "USD");
        for figure in [&revenue, &net] {
            assert!(headline.contains(figure.as_str()), "cycle {cycle}: {figure} not in the headline {headline:?}");
            assert!(minutes.contains(figure.as_str()), "cycle {cycle}: {figure} not in the minutes:\n{minutes}");
        }
        assert_eq!(amount(&report["data"]["outcome"]["revenue"]), amount(&ledger["revenue"]));

        // The products, as the products API serves them.
        let products = owner.get(&format!("/api/products/list?business_id={business}")).await.body;
        let products = products["items"].as_array().expect("products").clone();
        assert_eq!(products.len(), 1, "one launch in a hustler's first week: {products:?}");
        let title = products[0]["title"].as_str().expect("title");
        let price = amount(&products[0]["price"]);
        // Sentences name a product without the qualifiers its title carries for search.
        let name = product_name(title);
        assert!(minutes.contains(&format!("\"{name}\"")), "cycle {cycle}: the minutes name {name:?}:\n{minutes}");
        if cycle == 1 {
            let launched = format!("launched \"{name}\" at {}", money(price, "USD"));
            assert!(headline.contains(&launched), "{headline:?} does not say {launched:?}");
        }
        // Every price move is told with its figures, and the product's price is where the
        // last one left it.
        for moved in report["data"]["pricing"]["moves"].as_array().expect("moves") {
            assert_eq!(moved["product"], title);
            let (from, to) = (money(amount(&moved["from"]), "USD"), money(amount(&moved["to"]), "USD"));
            assert!(minutes.contains(&format!("from {from} to {to}")), "cycle {cycle}: {from} → {to}:\n{minutes}");
        }
        if let Some(last) = report["data"]["pricing"]["moves"].as_array().and_then(|moves| moves.last()) {
            assert_eq!(amount(&last["to"]), price, "the products API shows the moved price");
        }
        if cycle == 2 {
            let moves = report["data"]["pricing"]["moves"].as_array().expect("moves");
            assert_eq!(moves.len(), 1, "the doubled price moved: {report}");
            assert_eq!(Some(amount(&moves[0]["from"])), doubled);
            assert!(minutes.contains(&format!("Pricing lowered \"{name}\"")), "{minutes}");
        }
        println!("cycle {cycle}: {headline}\n{minutes}\n");
    }

    // Assert: one report per cycle, newest first, page by page.
    let all = reports(&owner, business, "").await;
    assert_eq!(cycles(&all), [3, 2, 1]);
    assert_eq!(all["next_before"], Value::Null);
    let first_page = reports(&owner, business, "?limit=2").await;
    assert_eq!((cycles(&first_page), first_page["next_before"].as_i64()), (vec![3, 2], Some(2)));
    let second_page = reports(&owner, business, "?limit=2&before=2").await;
    assert_eq!((cycles(&second_page), second_page["next_before"].as_i64()), (vec![1], None));

    // A crash after the report was written but before the checkpoint that closes the
    // cycle leaves the cycle at its last step: resumed, it writes the report again.
    let tenant = TenantId(business);
    let done = app.state.store.checkpoint(tenant).await.expect("read").expect("a checkpoint");
    assert_eq!((done.cycle, done.step.as_str()), (3, "done"));
    let before_crash = Checkpoint { step: "reinvestment".into(), updated_at: Utc::now(), ..done };
    app.state.store.save_checkpoint(&before_crash).await.expect("rewind");
    let resumed = run_a_cycle(&app, &owner, business).await;
    assert_eq!(resumed["cycle"], 3, "the interrupted cycle finishes, no new one starts");
    app.state.events.flush().await.expect("flush");
    let events = app.state.store.events_after(tenant, 0, 10_000).await.expect("events");
    assert!(events.iter().any(|event| event.kind == "cycle.resumed"), "the cycle resumed");
    let again = reports(&owner, business, "").await;
    assert_eq!(cycles(&again), [3, 2, 1], "the resumed cycle replaced its report instead of adding one");
    assert_eq!(again["items"][0]["minutes"], all["items"][0]["minutes"], "offline minutes are written the same way");
}

async fn reports_are_the_owners_only_and_bad_queries_are_refused(backends: Backends) {
    let app = spawn_app(backends).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Mugs & Co").await;
    run_a_cycle(&app, &owner, business).await;
    let eve = app.new_account("eve@example.com").await;

    let refused = eve.get(&format!("/api/business/{business}/reports")).await;
    assert_eq!((refused.status, refused.error_code()), (404, "not_found"), "{}", refused.body);
    let missing = owner.get("/api/business/999999/reports").await;
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"), "{}", missing.body);
    assert_eq!(app.anonymous().get(&format!("/api/business/{business}/reports")).await.status, 401);
    for query in ["?limit=0", "?limit=101", "?before=0", "?before=-3", "?before=soon", "?after=1", "?limit=1.5"] {
        let answer = owner.get(&format!("/api/business/{business}/reports{query}")).await;
        assert_eq!((answer.status, answer.error_code()), (400, "invalid_query"), "{query}: {}", answer.body);
    }
    assert_eq!(cycles(&reports(&owner, business, "?before=2").await), [1]);
}

// ---- the brain writes the minutes ----

/// A brain that writes the CEO's minutes itself (and leaves every other decision to the
/// agents' rules), or, when `fails`, cannot be reached for them.
struct MinutesBrain {
    fails: bool,
}

#[async_trait]
impl Brain for MinutesBrain {
    fn describe(&self) -> BrainInfo {
        BrainInfo { backend: "remote".into(), models: vec!["test/writer".into()], base_url: None }
    }
    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        if request.agent != CEO {
            return Ok(BrainAnswer { decision: request.proposal, source: DecisionSource::Offline, usage: None });
        }
        if self.fails {
            return Err(BrainError::AllModelsFailed { attempts: vec!["test/writer: HTTP 503".into()], usage: None });
        }
        assert!(request.input["outcome"]["revenue"].is_string(), "the model sees the facts: {}", request.input);
        let offline = request.proposal["minutes"].as_str().unwrap_or_default();
        Ok(BrainAnswer {
            decision: json!({ "headline": "The model's headline", "minutes": format!("In the model's words.\n\n{offline}") }),
            source: DecisionSource::Remote { model: "test/writer".into() },
            usage: None,
        })
    }
}

/// One cycle on a swarm of its own over `store`, with `brain`.
async fn one_cycle_with(store: &SharedStore, brain: MinutesBrain) -> (TenantId, Value) {
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(brain),
        market: Arc::new(SandboxMarket::new(7)),
        redis: None,
        markets: None,
        media: None,
    };
    let root =
        SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await.expect("root");
    let tenant = create_tenant(store.as_ref(), "Acme", "luxuryscaler").await;
    let swarm = root.activate(tenant).await.expect("activates");
    let summary = swarm.call_with_timeout(CEO, Task::bare("run_cycle"), PATIENCE).await.expect("the cycle completes");
    root.shutdown().await;
    events.close().await;
    (tenant, summary)
}

async fn a_model_writes_the_minutes_and_a_failing_one_leaves_the_offline_minutes(backends: Backends) {
    let (_database, store) = TestDatabase::fresh(backends).await;

    let (written, _) = one_cycle_with(&store, MinutesBrain { fails: false }).await;
    let by_model = store.cycle_reports(written, None, 10).await.expect("reports");
    assert_eq!(by_model.len(), 1);
    assert_eq!(by_model[0].source, "llm:test/writer");
    assert_eq!(by_model[0].headline, "The model's headline");
    assert!(by_model[0].minutes.starts_with("In the model's words."), "{}", by_model[0].minutes);

    let (fallen_back, summary) = one_cycle_with(&store, MinutesBrain { fails: true }).await;
    assert_eq!(summary["cycle"], 1, "the cycle completed without the model");
    let offline = store.cycle_reports(fallen_back, None, 10).await.expect("reports");
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].source, "offline");
    assert!(offline[0].headline.starts_with("Day 1: launched \""), "{}", offline[0].headline);
    assert!(offline[0].minutes.contains("LuxuryScaler"), "in the personality's voice: {}", offline[0].minutes);
    let events = store.events_after(fallen_back, 0, 10_000).await.expect("events");
    assert!(events.iter().any(|event| event.kind == "brain.fallback"), "the fallback is an event");
    let announced: Vec<&str> =
        events.iter().filter(|event| event.kind == "ceo.report").map(|event| event.summary.as_str()).collect();
    assert_eq!(announced, [offline[0].headline.as_str()], "the live view learns of the report by its headline");
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    every_cycle_leaves_minutes_naming_its_product_and_money_and_a_resumed_cycle_reports_once,
    reports_are_the_owners_only_and_bad_queries_are_refused,
    a_model_writes_the_minutes_and_a_failing_one_leaves_the_offline_minutes,
}
