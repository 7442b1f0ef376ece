//! The throttle beyond agent messages: a tenant's LLM tokens per day, its LLM and
//! platform calls in flight, and a message rate that holds across processes sharing a
//! Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, SandboxMarket, StoreRef,
};
use boardroom_agents::brain::{
    Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, DecisionSource, ExpectedShape, TokenUsage,
};
use boardroom_agents::{Agent, AgentContext, AgentError, AgentRegistry, Task};
use boardroom_memory::testing::{TestSqlite, create_tenant, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, RedisLink, SharedStore, TenantId};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices, TenantHandle, ThrottleLimits};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Counts how many calls are inside at once, and the most there ever were.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
    total: AtomicUsize,
}

impl InFlight {
    async fn around<T>(&self, hold: Duration, work: impl Future<Output = T>) -> T {
        let inside = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(inside, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(hold).await;
        let result = work.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn reset(&self) {
        self.most.store(0, Ordering::SeqCst);
        self.total.store(0, Ordering::SeqCst);
    }
}

/// A language model stand-in that answers with the agent's proposal, reports 80 tokens
/// per call and takes `hold` to think.
struct MeteredModel {
    calls: Arc<InFlight>,
    hold: Duration,
}

#[async_trait]
impl Brain for MeteredModel {
    fn describe(&self) -> BrainInfo {
        BrainInfo { backend: "remote".into(), models: vec!["metered-1".into()], base_url: None }
    }

    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        self.calls
            .around(self.hold, async {
                Ok(BrainAnswer {
                    decision: request.proposal,
                    source: DecisionSource::Remote { model: "metered-1".into() },
                    usage: Some(TokenUsage { model: "metered-1".into(), prompt_tokens: 30, completion_tokens: 50 }),
                })
            })
            .await
    }
}

/// The sandbox market, with every market snapshot taking `hold`.
struct SlowMarket {
    inner: SandboxMarket,
    calls: Arc<InFlight>,
    hold: Duration,
}

#[async_trait]
impl Marketplace for SlowMarket {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }
    fn is_simulated(&self) -> bool {
        true
    }
    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.calls.around(self.hold, self.inner.market_snapshot(tenant)).await
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
        self.inner.launch_campaign(tenant, spec, key).await
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
}

/// An agent that asks the brain once per `think` and looks at the market once per
/// `look`, answering where the decision came from.
struct Analyst;

#[async_trait]
impl Agent for Analyst {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "think" => {
                let shape = ExpectedShape::object().number("score", Some(0.0), Some(10.0));
                let decided = context.decide("Score it.", json!({}), json!({ "score": 5 }), shape).await?;
                Ok(json!({ "source": decided.source.to_string() }))
            }
            // A model call that is not a decision (remote media): admitted or refused.
            "admit" => match context.brain.admit_model_call(context.agent).await {
                Ok(_permit) => Ok(json!({ "admitted": true })),
                Err(refusal) => Ok(json!({ "admitted": false, "why": refusal.to_string() })),
            },
            "look" => {
                let snapshot = context.market.market_snapshot(context.tenant).await.map_err(|error| match error {
                    AdapterError::Throttled { reason, retry_after_secs, .. } => {
                        AgentError::Throttled { reason, retry_after_secs }
                    }
                    other => AgentError::Failed(other.to_string()),
                })?;
                Ok(json!({ "niches": snapshot.niches.len() }))
            }
            other => Err(AgentError::UnknownAction { agent: "analyst".into(), action: other.into() }),
        }
    }
}

const ANALYSTS: [&str; 4] = ["analyst_a", "analyst_b", "analyst_c", "analyst_d"];

struct Office {
    _database: TestSqlite,
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
    llm: Arc<InFlight>,
    platform: Arc<InFlight>,
}

async fn office(hold: Duration) -> Office {
    let database = fresh_sqlite().await;
    let store: SharedStore = Arc::new(database.store.clone());
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let llm = Arc::new(InFlight::default());
    let platform = Arc::new(InFlight::default());
    let mut services = SwarmServices::embedded(store.clone(), events.clone());
    services.brain = Arc::new(MeteredModel { calls: llm.clone(), hold });
    let market: Arc<dyn Marketplace> =
        Arc::new(SlowMarket { inner: SandboxMarket::new(7), calls: platform.clone(), hold });
    services.market = market;
    let registry =
        ANALYSTS.iter().fold(AgentRegistry::standard(), |registry, name| registry.with(name, || Box::new(Analyst)));
    let root = SwarmRoot::start_with(services, registry, SupervisorConfig::default()).await.expect("root starts");
    Office { _database: database, store, events, root, llm, platform }
}

impl Office {
    async fn swarm(&self, limits: ThrottleLimits) -> (TenantId, TenantHandle) {
        let tenant = create_tenant(self.store.as_ref(), "Analysts Ltd", "coachty").await;
        let swarm = self.root.activate(tenant).await.expect("activates");
        swarm.throttle().set_limits(limits).await;
        (tenant, swarm)
    }

    /// Every analyst at once doing `action`; their answers.
    async fn all_at_once(swarm: &TenantHandle, action: &str) -> Vec<Result<Value, AgentError>> {
        let calls = ANALYSTS.iter().map(|name| swarm.call(name, Task::bare(action)));
        futures::future::join_all(calls).await
    }

    async fn event_summaries(&self, tenant: TenantId, kind: &str) -> Vec<String> {
        self.events.flush().await.expect("log flushes");
        let events = self.store.events_after(tenant, 0, 10_000).await.expect("events read");
        events.into_iter().filter(|event| event.kind == kind).map(|event| event.summary).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_token_budget_sends_the_agents_back_to_their_rules() {
    let office = office(Duration::ZERO).await;
    let (tenant, swarm) =
        office.swarm(ThrottleLimits { llm_tokens_per_day: Some(100), ..ThrottleLimits::default() }).await;

    // Each call costs 80 tokens: the first two start under the budget of 100.
    for _ in 0..2 {
        let answer = swarm.call("analyst_a", Task::bare("think")).await.expect("answers");
        assert_eq!(answer["source"], "llm:metered-1", "{answer}");
    }
    // The third would start with 160 spent: the model is not asked, the rules answer.
    let answer = swarm.call("analyst_a", Task::bare("think")).await.expect("still answers");
    assert_eq!(answer["source"], "offline", "{answer}");
    assert_eq!(office.llm.total.load(Ordering::SeqCst), 2, "the model was asked only within the budget");

    let refused = office.event_summaries(tenant, "throttle.refused").await;
    assert!(refused.iter().any(|summary| summary.contains("LLM tokens per day")), "{refused:?}");
    let fallbacks = office.event_summaries(tenant, "brain.fallback").await;
    assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");

    // Remote media (a picture, a voice-over) is refused the same way: made offline.
    let media = swarm.call("analyst_a", Task::bare("admit")).await.expect("answers");
    assert_eq!(media["admitted"], false, "{media}");
    assert!(media["why"].as_str().is_some_and(|why| why.contains("LLM tokens per day")), "{media}");

    // An admin raising the budget lets the model back in on the next call.
    swarm.throttle().set_limits(ThrottleLimits { llm_tokens_per_day: Some(1_000), ..ThrottleLimits::default() }).await;
    let answer = swarm.call("analyst_a", Task::bare("think")).await.expect("answers");
    assert_eq!(answer["source"], "llm:metered-1", "{answer}");
    let media = swarm.call("analyst_a", Task::bare("admit")).await.expect("answers");
    assert_eq!(media["admitted"], true, "{media}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_calls_in_flight_never_exceed_the_limit_and_the_rest_wait_their_turn() {
    let office = office(Duration::from_millis(120)).await;
    let one_at_a_time = ThrottleLimits {
        concurrent_llm_calls: std::num::NonZeroU32::new(1),
        max_wait: Duration::from_secs(5),
        ..ThrottleLimits::default()
    };
    let (_, swarm) = office.swarm(one_at_a_time).await;

    let answers = Office::all_at_once(&swarm, "think").await;
    for answer in &answers {
        assert_eq!(answer.as_ref().expect("each waits and answers")["source"], "llm:metered-1");
    }
    assert_eq!(office.llm.total.load(Ordering::SeqCst), 4);
    assert_eq!(office.llm.most.load(Ordering::SeqCst), 1, "one LLM call at a time");

    // Lifted, the same four overlap: the measurement can see concurrency.
    office.llm.reset();
    swarm.throttle().set_limits(ThrottleLimits::default()).await;
    Office::all_at_once(&swarm, "think").await;
    assert!(office.llm.most.load(Ordering::SeqCst) > 1, "without the limit the calls overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_calls_in_flight_are_capped_and_a_call_that_waits_too_long_is_refused() {
    let office = office(Duration::from_millis(150)).await;
    let two_at_a_time = ThrottleLimits {
        concurrent_adapter_calls: std::num::NonZeroU32::new(2),
        max_wait: Duration::from_secs(5),
        ..ThrottleLimits::default()
    };
    let (tenant, swarm) = office.swarm(two_at_a_time).await;

    let answers = Office::all_at_once(&swarm, "look").await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(office.platform.most.load(Ordering::SeqCst), 2, "two platform calls at a time");
    let (_, adapter_in_flight) = swarm.throttle().in_flight();
    assert_eq!(adapter_in_flight, 0, "every slot is handed back");

    // With no time to wait, the calls beyond the limit are refused, not queued forever.
    office.platform.reset();
    let impatient = ThrottleLimits {
        concurrent_adapter_calls: std::num::NonZeroU32::new(1),
        max_wait: Duration::from_millis(20),
        ..ThrottleLimits::default()
    };
    swarm.throttle().set_limits(impatient).await;
    let answers = Office::all_at_once(&swarm, "look").await;
    let refused = answers.iter().filter(|answer| matches!(answer, Err(AgentError::Throttled { .. }))).count();
    assert!(refused >= 1, "{answers:?}");
    assert!(answers.iter().any(Result::is_ok), "{answers:?}");
    let events = office.event_summaries(tenant, "throttle.refused").await;
    assert!(events.iter().any(|summary| summary.contains("concurrent adapter calls")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_platform_calls_count_against_the_same_limit_as_the_agents() {
    let office = office(Duration::from_millis(150)).await;
    let one_at_a_time = ThrottleLimits {
        concurrent_adapter_calls: std::num::NonZeroU32::new(1),
        max_wait: Duration::from_millis(20),
        ..ThrottleLimits::default()
    };
    let (tenant, swarm) = office.swarm(one_at_a_time).await;
    let api_market = swarm.market_for_api();

    // An agent's call holds the one slot; the API's call beside it is refused.
    let (agent, api) = tokio::join!(swarm.call("analyst_a", Task::bare("look")), async {
        let slot_taken = async {
            while swarm.throttle().in_flight().1 == 0 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), slot_taken).await.expect("the agent's call takes the slot");
        api_market.market_snapshot(tenant).await
    });
    assert!(agent.is_ok(), "{agent:?}");
    assert!(matches!(api, Err(AdapterError::Throttled { .. })), "{:?}", api.map(|_| ()));
    assert_eq!(office.platform.most.load(Ordering::SeqCst), 1);

    // Alone, it passes.
    api_market.market_snapshot(tenant).await.expect("a free slot");
}

/// A Redis link under a key prefix no other test uses.
async fn shared_redis(prefix: &str) -> Arc<RedisLink> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let link = RedisLink::new(&url, prefix.to_owned()).expect("a valid Redis URL");
    if let Err(error) = link.ping().await {
        panic!("this test needs Redis at {url} (set TEST_REDIS_URL): {error}");
    }
    Arc::new(link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_share_one_message_rate() {
    let prefix = format!("boardroom-test-{}:", uuid_like());
    let redis = shared_redis(&prefix).await;
    let database = fresh_sqlite().await;
    let store: SharedStore = Arc::new(database.store.clone());
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let tenant = create_tenant(store.as_ref(), "Shared Co", "coachty").await;
    let limits = ThrottleLimits {
        messages_per_minute: std::num::NonZeroU32::new(60),
        burst: std::num::NonZeroU32::new(2),
        max_wait: Duration::ZERO,
        ..ThrottleLimits::default()
    };
    // Two roots stand for two `boardroom` processes: each has its own swarm for the tenant.
    let process = |redis: Option<Arc<RedisLink>>| {
        let mut services = SwarmServices::embedded(store.clone(), events.clone());
        services.redis = redis;
        SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default())
    };
    let first = process(Some(redis.clone())).await.expect("first process");
    let second = process(Some(redis.clone())).await.expect("second process");
    let in_first = first.activate(tenant).await.expect("activates");
    let in_second = second.activate(tenant).await.expect("activates");
    in_first.throttle().set_limits(limits).await;
    in_second.throttle().set_limits(limits).await;
    assert_eq!(in_first.throttle().rate_backend(), "redis");

    in_first.call("seo", Task::bare("ping")).await.expect("the first message fits the burst");
    in_second.call("seo", Task::bare("ping")).await.expect("so does the second, from the other process");
    let third = in_first.call("seo", Task::bare("ping")).await;
    assert!(matches!(third, Err(AgentError::Throttled { .. })), "the burst of two is shared: {third:?}");
    let fourth = in_second.call("seo", Task::bare("ping")).await;
    assert!(matches!(fourth, Err(AgentError::Throttled { .. })), "in either process: {fourth:?}");

    // Kept in process, the same limits let each process have its own burst.
    let alone = process(None).await.expect("a process without Redis");
    let local = alone.activate(tenant).await.expect("activates");
    local.throttle().set_limits(limits).await;
    assert_eq!(local.throttle().rate_backend(), "process");
    for _ in 0..2 {
        local.call("seo", Task::bare("ping")).await.expect("its own burst");
    }
    for root in [first, second, alone] {
        root.shutdown().await;
    }
}

/// A fresh, unique-enough name for Redis keys.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{}", std::process::id())
}
