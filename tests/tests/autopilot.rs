//! The swarm at work: a tenant's autopilot runs cycles on the sandbox market (and lists
//! products whose words read like a seller's), the personalities decide differently, a
//! crash mid-cycle resumes without repeating anything, and LLM tokens are accounted
//! per tenant and agent.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, SandboxMarket, StoreRef,
};
use boardroom_agents::brain::{
    Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, DecisionSource, OfflineBrain, TokenUsage,
};
use boardroom_agents::copywriting::{repeated_words, slug_like_tokens};
use boardroom_agents::seo::limits_for;
use boardroom_agents::{AgentError, AgentRegistry, CEO, Task};
use boardroom_memory::testing::create_tenant;
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, TenantId};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices, TenantHandle};
use boardroom_tests::{Backends, TestDatabase};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const SEED: u64 = 7;

/// A market that panics once, right after performing a chosen kind of call: the
/// side effect happened, the caller never heard of it — a crash at the worst moment.
struct CrashingMarket {
    inner: SandboxMarket,
    crash_after_campaign: AtomicBool,
}

#[async_trait]
impl Marketplace for CrashingMarket {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }
    fn is_simulated(&self) -> bool {
        true
    }
    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.inner.market_snapshot(tenant).await
    }
    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.inner.create_store(tenant, name, key).await
    }
    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.inner.list_product(tenant, listing, key).await
    }
    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.inner.set_price(tenant, product_id, price, key).await
    }
    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        let launched = self.inner.launch_campaign(tenant, spec, key).await;
        if self.crash_after_campaign.swap(false, Ordering::SeqCst) {
            panic!("crash right after launching a campaign");
        }
        launched
    }
    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        self.inner.publish_post(tenant, post, key).await
    }
    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.inner.advance(tenant, days).await
    }
    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.inner.report(tenant, from_day, to_day).await
    }
    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.inner.export_state(tenant).await
    }
    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.inner.import_state(tenant, state).await
    }
}

/// A process: a swarm root over a database, with its own market.
struct Process {
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
}

async fn process(store: SharedStore, market: Arc<dyn Marketplace>, brain: Arc<dyn Brain>) -> Process {
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain,
        market,
        redis: None,
        markets: None,
        media: None,
    };
    let root =
        SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await.expect("root");
    Process { store, events, root }
}

impl Process {
    async fn stop(self) {
        self.root.shutdown().await;
        self.events.close().await;
    }
}

/// A fresh database on the story's backend; the guard keeps it for the test.
async fn database(backends: Backends) -> (TestDatabase, SharedStore) {
    TestDatabase::fresh(backends).await
}

async fn tenant(store: &SharedStore, name: &str, personality: &str) -> TenantId {
    create_tenant(store.as_ref(), name, personality).await
}

async fn run_cycle(swarm: &TenantHandle) -> Result<Value, AgentError> {
    swarm.call_with_timeout(CEO, Task::bare("run_cycle"), Duration::from_secs(60)).await
}

async fn kinds(process: &Process, tenant: TenantId) -> Vec<String> {
    process.events.flush().await.expect("flush");
    process.store.events_after(tenant, 0, 100_000).await.expect("events").into_iter().map(|e| e.kind).collect()
}

async fn a_week_of_cycles_fills_the_database_with_products_ledger_rows_insights_and_experiences(backends: Backends) {
    let (_database, store) = database(backends).await;
    let process = process(store.clone(), Arc::new(SandboxMarket::new(SEED)), Arc::new(OfflineBrain)).await;
    let acme = tenant(&store, "Acme", "hustlebot").await;
    let swarm = process.root.activate(acme).await.expect("activates");

    for cycle in 1..=7 {
        let summary = run_cycle(&swarm).await.expect("cycle runs");
        assert_eq!(summary["cycle"], cycle);
    }

    let products = store.products(acme).await.expect("products");
    assert!(!products.is_empty(), "the CEO launched a product");
    assert!(products.iter().all(|p| p.external_id.is_some() && p.price > p.cost));
    for product in &products {
        let title = &product.title;
        assert!(slug_like_tokens(title).is_empty() && repeated_words(title).is_empty(), "reads badly: {title}");
        assert!(title.chars().count() <= limits_for("sandbox").title, "too long: {title}");
        assert!(slug_like_tokens(&product.description).is_empty(), "{}", product.description);
    }
    for post in store.social_posts(acme, 100).await.expect("posts") {
        assert!(slug_like_tokens(&post.content).is_empty(), "{}", post.content);
    }
    let ledger =
        store.ledger_totals(acme, chrono::DateTime::<chrono::Utc>::MIN_UTC, chrono::Utc::now()).await.expect("ledger");
    let categories: HashSet<&str> = ledger.iter().map(|(c, _)| c.as_str()).collect();
    assert!(categories.contains("revenue") && categories.contains("ad_spend"), "{ledger:?}");
    assert!(!store.market_insights(acme).await.expect("insights").is_empty());
    assert_eq!(store.experiences(acme, Some("autopilot_cycle"), 100).await.expect("experiences").len(), 7);
    assert!(!store.campaigns(acme).await.expect("campaigns").is_empty());
    let kinds = kinds(&process, acme).await;
    assert_eq!(kinds.iter().filter(|k| *k == "cycle.completed").count(), 7);
    assert_eq!(kinds.iter().filter(|k| *k == "cycle.step").count(), 49, "seven steps a cycle");
    assert!(kinds.iter().any(|k| k == "reflection.lessons"));
    let completed = process.store.events_after(acme, 0, 100_000).await.expect("events");
    assert!(
        completed.iter().any(|e| e.kind == "cycle.completed" && e.revenue_impact.is_some()),
        "cycles carry their revenue impact"
    );
    process.stop().await;
}

async fn on_the_same_market_the_personalities_decide_differently(backends: Backends) {
    let (_database, store) = database(backends).await;
    let process = process(store.clone(), Arc::new(SandboxMarket::new(SEED)), Arc::new(OfflineBrain)).await;
    let mut prices = Vec::new();
    let mut first_products = Vec::new();
    for personality in ["hustlebot", "coachty", "luxuryscaler"] {
        let id = tenant(&store, personality, personality).await;
        let swarm = process.root.activate(id).await.expect("activates");
        let quote = swarm
            .call("pricing", Task::new("quote", json!({ "unit_cost": "6.00", "reference_price": "49.00" })))
            .await
            .expect("quote");
        prices.push(quote["price"].as_str().and_then(|p| p.parse::<Decimal>().ok()).expect("price"));
        let deal = json!({ "buy_price": "100", "expected_sale_price": "180", "platform_fee_rate": "0.10", "payment_fee_rate": "0.029",
                           "payment_fee_fixed": "0.30", "shipping": "8", "sell_probability": 0.55, "salvage_fraction": "0.6" });
        let flip = swarm.call("flipping", Task::new("analyze_deal", deal)).await.expect("flip");
        first_products.push((personality, flip["go"].as_bool()));
        run_cycle(&swarm).await.expect("cycle");
    }
    assert!(prices[0] < prices[1] && prices[1] < prices[2], "HustleBot < CoachTy < LuxuryScaler: {prices:?}");
    assert_eq!(first_products[0].1, Some(true), "HustleBot takes the risky flip");
    assert_eq!(first_products[1].1, Some(false), "CoachTy does not");
    // The same first cycle on the same market launches products at different prices.
    let mut launch_prices = Vec::new();
    for id in 1..=3 {
        let products = store.products(TenantId(id)).await.expect("products");
        launch_prices.push(products.first().map(|p| p.price));
    }
    let distinct: HashSet<_> = launch_prices.iter().collect();
    assert_eq!(distinct.len(), 3, "{launch_prices:?}");
    process.stop().await;
}

async fn a_crash_mid_cycle_resumes_at_its_step_without_repeating_side_effects(backends: Backends) {
    let (_database, store) = database(backends).await;
    let market =
        Arc::new(CrashingMarket { inner: SandboxMarket::new(SEED), crash_after_campaign: AtomicBool::new(true) });
    let first = process(store.clone(), market.clone(), Arc::new(OfflineBrain)).await;
    let acme = tenant(&store, "Acme", "hustlebot").await;
    let swarm = first.root.activate(acme).await.expect("activates");

    // The CEO dies inside marketing launch, after the market accepted a campaign.
    let crashed = run_cycle(&swarm).await;
    assert!(matches!(crashed, Err(AgentError::Unavailable(_))), "{crashed:?}");
    let checkpoint = store.checkpoint(acme).await.expect("read").expect("checkpoint");
    assert_eq!((checkpoint.cycle, checkpoint.step.as_str()), (1, "marketing_launch"));

    // Restarted in the same process, the CEO resumes there; the market replays the
    // campaign it already launched instead of launching it again.
    let resumed = run_cycle(&swarm).await.expect("resumed cycle");
    assert_eq!(resumed["cycle"], 1);
    let kinds = kinds(&first, acme).await;
    assert!(kinds.iter().any(|k| k == "cycle.resumed"));
    assert_eq!(kinds.iter().filter(|k| *k == "cycle.started").count(), 1);
    let campaigns = store.campaigns(acme).await.expect("campaigns");
    let external: HashSet<_> = campaigns.iter().filter_map(|c| c.external_id.clone()).collect();
    assert_eq!(external.len(), campaigns.len(), "no campaign stored twice");
    let report = market.inner.report(acme, 0, 1).await.expect("report");
    assert_eq!(report.campaigns.len(), campaigns.len(), "the market ran each campaign once");
    let products = store.products(acme).await.expect("products");
    assert_eq!(products.len(), 1);
    first.stop().await;

    // A whole new process on the same database continues the same world.
    let second = process(store.clone(), Arc::new(SandboxMarket::new(SEED)), Arc::new(OfflineBrain)).await;
    let swarm = second.root.activate(acme).await.expect("activates again");
    let next = run_cycle(&swarm).await.expect("cycle 2");
    assert_eq!(next["cycle"], 2);
    assert_eq!(store.products(acme).await.expect("products").len(), 1, "nothing relisted");
    let ledger =
        store.ledger_entries(acme, chrono::DateTime::<chrono::Utc>::MIN_UTC, chrono::Utc::now()).await.expect("ledger");
    let ids: HashSet<_> = ledger.iter().filter_map(|e| e.transaction_id.clone()).collect();
    assert_eq!(ids.len(), ledger.len(), "no ledger row booked twice");
    second.stop().await;
}

/// A brain that answers with the proposal and reports token usage, like a model would.
struct CountingBrain {
    calls: AtomicU32,
}

#[async_trait]
impl Brain for CountingBrain {
    fn describe(&self) -> BrainInfo {
        BrainInfo { backend: "remote".into(), models: vec!["test/model".into()], base_url: None }
    }
    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(request.prompt_prefix.starts_with("As HustleBot"), "the personality's prefix reaches the brain");
        Ok(BrainAnswer {
            decision: request.proposal,
            source: DecisionSource::Remote { model: "test/model".into() },
            usage: Some(TokenUsage { model: "test/model".into(), prompt_tokens: 120, completion_tokens: 30 }),
        })
    }
}

async fn llm_tokens_are_stored_per_tenant_and_agent_and_decisions_say_where_they_came_from(backends: Backends) {
    let (_database, store) = database(backends).await;
    let brain = Arc::new(CountingBrain { calls: AtomicU32::new(0) });
    let process = process(store.clone(), Arc::new(SandboxMarket::new(SEED)), brain.clone()).await;
    let acme = tenant(&store, "Acme", "hustlebot").await;
    let swarm = process.root.activate(acme).await.expect("activates");
    let quote = swarm
        .call("pricing", Task::new("quote", json!({ "unit_cost": "5", "reference_price": "30" })))
        .await
        .expect("quote");
    assert_eq!(quote["source"], "llm:test/model");
    swarm
        .call("pricing", Task::new("quote", json!({ "unit_cost": "5", "reference_price": "31" })))
        .await
        .expect("quote");

    let totals = store.llm_token_totals(acme, chrono::DateTime::<chrono::Utc>::MIN_UTC).await.expect("totals");
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (totals[0].agent.as_str(), totals[0].calls, totals[0].prompt_tokens, totals[0].completion_tokens),
        ("pricing", 2, 240, 60)
    );
    assert_eq!(brain.calls.load(Ordering::SeqCst), 2);
    assert_eq!(kinds(&process, acme).await.iter().filter(|k| *k == "llm.call").count(), 2);
    process.stop().await;
}

async fn the_autopilot_runs_at_once_pauses_resumes_and_runs_a_cycle_on_demand(backends: Backends) {
    let (_database, store) = database(backends).await;
    let process = process(store.clone(), Arc::new(SandboxMarket::new(SEED)), Arc::new(OfflineBrain)).await;
    let acme = tenant(&store, "Acme", "coachty").await;
    let swarm = process.root.activate(acme).await.expect("activates");
    let mut feed = process.events.subscribe(acme, 0);
    let mut completed = 0;
    let mut wait_for = async |kind: &str| {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), feed.next())
                .await
                .expect("in time")
                .expect("open")
                .expect("read");
            if event.kind == kind {
                if kind == "cycle.completed" {
                    completed += 1;
                }
                return event;
            }
        }
    };

    assert!(swarm.start_autopilot(Duration::from_secs(3600)));
    wait_for("cycle.completed").await;
    swarm.pause_autopilot().await;
    wait_for("autopilot.paused").await;
    assert!(swarm.autopilot().paused);
    swarm.resume_autopilot().await;
    wait_for("autopilot.resumed").await;
    let second = wait_for("cycle.completed").await;
    assert_eq!(second.data["cycle"], 2, "resuming runs a cycle at once");
    swarm.run_cycle_now();
    let third = wait_for("cycle.completed").await;
    assert_eq!(third.data["cycle"], 3);
    // The cycle's last event commits with its checkpoint, a moment before the CEO's
    // answer reaches the driver that counts it.
    tokio::time::timeout(Duration::from_secs(10), async {
        while swarm.autopilot().cycles_run < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the driver counts the third cycle");
    assert_eq!(swarm.autopilot().cycles_run, 3);
    process.stop().await;
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    a_week_of_cycles_fills_the_database_with_products_ledger_rows_insights_and_experiences,
    on_the_same_market_the_personalities_decide_differently,
    a_crash_mid_cycle_resumes_at_its_step_without_repeating_side_effects,
    llm_tokens_are_stored_per_tenant_and_agent_and_decisions_say_where_they_came_from,
    the_autopilot_runs_at_once_pauses_resumes_and_runs_a_cycle_on_demand,
}
