//! A business live on a connected account reaches it through one adapter actor in its
//! swarm: started by the first call that needs it (the account's credentials opened
//! there and nowhere else), restarted one for one when a call panics (the caller told,
//! the next call served), counted in the swarm's restart intensity, colouring its node
//! on the live view (working, throttled, restarting), restoring the account's saved
//! state when it starts, and stopped with the swarm. Each story runs on SQLite and on
//! PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, SandboxMarket, StoreRef,
};
use boardroom_agents::AgentRegistry;
use boardroom_memory::testing::{create_tenant, fresh_postgres, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, SwarmEvent, Tenant, TenantId};
use boardroom_supervisor::{
    AccountOpener, Activity, AdapterState, Backoff, RestartIntensity, SupervisorConfig, SwarmMarket, SwarmRoot,
    SwarmServices, SwarmStatus, TenantMarkets,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// What the opener puts in the market it builds: a secret that must never leave it.
const SECRET_TOKEN: &str = "shpat_never_in_an_event_0123456789";
/// A product title the test account panics on.
const PANIC_TITLE: &str = "panic, please";
/// A product title the test account answers with the platform's rate limit.
const RATE_LIMITED_TITLE: &str = "slow down";

/// A test account on "Shopify": the sandbox's research and numbers, its own listing
/// rules, and the token it was opened with.
struct TestAccount {
    token: String,
    /// The platform's side, which outlives any adapter's connection to it.
    sandbox: Arc<SandboxMarket>,
    side_by_side: tokio::sync::Barrier,
    imported: std::sync::Mutex<Option<Value>>,
}

#[async_trait]
impl Marketplace for TestAccount {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn advertises(&self) -> bool {
        false
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.sandbox.market_snapshot(tenant).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.sandbox.create_store(tenant, name, key).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        assert_eq!(self.token, SECRET_TOKEN, "the account was opened with its credentials");
        if listing.title == PANIC_TITLE {
            panic!("the platform client hit a bug");
        }
        if listing.title == RATE_LIMITED_TITLE {
            return Err(AdapterError::RateLimited { platform: Platform::Shopify, retry_after_secs: 2 });
        }
        if listing.title.starts_with("side by side") {
            // Both such calls must be in flight at once to get past here.
            let met = tokio::time::timeout(Duration::from_secs(5), self.side_by_side.wait()).await;
            if met.is_err() {
                return Err(AdapterError::Unavailable {
                    platform: Platform::Shopify,
                    message: "the other call never came: calls were queued one behind the other".into(),
                });
            }
        }
        self.sandbox.list_product(tenant, listing, key).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.sandbox.set_price(tenant, id, price, key).await
    }

    async fn launch_campaign(
        &self,
        _: TenantId,
        _: &CampaignSpec,
        _: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(AdapterError::rejected(Platform::Shopify, "a shop runs no ads"))
    }

    async fn publish_post(&self, _: TenantId, _: &PostSpec, _: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        Err(AdapterError::rejected(Platform::Shopify, "a shop publishes no posts"))
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.sandbox.advance(tenant, days).await
    }

    async fn report(&self, tenant: TenantId, from: u32, to: u32) -> Result<PerformanceReport, AdapterError> {
        self.sandbox.report(tenant, from, to).await
    }

    async fn export_state(&self, _tenant: TenantId) -> Option<Value> {
        Some(json!({ "marks": 3 }))
    }

    async fn import_state(&self, _tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        *self.imported.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(state);
        Ok(())
    }
}

/// Opens the test account, counting how often.
struct TestOpener {
    platform_side: Arc<SandboxMarket>,
    refuse: Arc<std::sync::atomic::AtomicBool>,
    opened: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Option<Arc<TestAccount>>>>,
}

#[async_trait]
impl AccountOpener for TestOpener {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        if self.refuse.load(Ordering::SeqCst) {
            return Err(AdapterError::rejected(
                Platform::Shopify,
                "the shop's credentials no longer open: connect it again",
            ));
        }
        let account = Arc::new(TestAccount {
            token: SECRET_TOKEN.to_owned(),
            sandbox: self.platform_side.clone(),
            side_by_side: tokio::sync::Barrier::new(2),
            imported: std::sync::Mutex::new(None),
        });
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(account.clone());
        Ok(account)
    }
}

/// Every tenant is live on its test account.
struct LiveOnTestAccounts {
    platform_side: Arc<SandboxMarket>,
    refuse: Arc<std::sync::atomic::AtomicBool>,
    opened: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Option<Arc<TestAccount>>>>,
}

#[async_trait]
impl TenantMarkets for LiveOnTestAccounts {
    async fn market_for(&self, _tenant: &Tenant, _shared: &Arc<dyn Marketplace>) -> SwarmMarket {
        SwarmMarket::Account(Arc::new(TestOpener {
            platform_side: self.platform_side.clone(),
            refuse: self.refuse.clone(),
            opened: self.opened.clone(),
            last: self.last.clone(),
        }))
    }
}

struct World {
    refuse: Arc<std::sync::atomic::AtomicBool>,
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
    opened: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Option<Arc<TestAccount>>>>,
}

impl World {
    async fn start(store: SharedStore) -> Self {
        let events = EventLog::start(store.clone(), EventLogConfig::default());
        let opened = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(std::sync::Mutex::new(None));
        let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let services = SwarmServices {
            markets: Some(Arc::new(LiveOnTestAccounts {
                platform_side: Arc::new(SandboxMarket::new(7)),
                refuse: refuse.clone(),
                opened: opened.clone(),
                last: last.clone(),
            })),
            ..SwarmServices::embedded(store.clone(), events.clone())
        };
        let config = SupervisorConfig {
            restart_intensity: RestartIntensity { max_restarts: 2, within: Duration::from_secs(30) },
            backoff: Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), jitter: 0.0 },
            ..SupervisorConfig::default()
        };
        let root = SwarmRoot::start_with(services, AgentRegistry::standard(), config).await.expect("the root starts");
        Self { refuse, store, events, root, opened, last }
    }

    async fn events(&self, tenant: TenantId) -> Vec<SwarmEvent> {
        self.events.flush().await.expect("flush");
        self.store.events_after(tenant, 0, 10_000).await.expect("events")
    }

    async fn kinds(&self, tenant: TenantId) -> Vec<String> {
        self.events(tenant).await.into_iter().map(|event| event.kind).collect()
    }
}

fn key(tenant: TenantId, item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(tenant, 1, "store_setup", item)
}

fn listing(title: &str, store_id: &str, niche: &str) -> ProductListing {
    ProductListing {
        store_id: store_id.to_owned(),
        niche: niche.to_owned(),
        title: title.to_owned(),
        description: "A test product.".to_owned(),
        tags: vec!["test".to_owned()],
        price: Decimal::new(2900, 2),
        unit_cost: Decimal::new(300, 2),
    }
}

/// Waits (at most 5 s) for the adapter to reach `state` on the live feed.
async fn until_shown(
    viewer: &mut tokio::sync::broadcast::Receiver<Activity>,
    state: AdapterState,
) -> Vec<AdapterState> {
    let mut seen = Vec::new();
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match viewer.recv().await {
                Ok(Activity::Adapter { adapter, state: shown }) => {
                    assert_eq!(&*adapter, "market:shopify");
                    seen.push(shown);
                    if shown == state {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => panic!("the live feed ended: {error}"),
            }
        }
    });
    waited.await.unwrap_or_else(|_| panic!("the adapter never showed {state:?}; it showed {seen:?}"));
    seen
}

async fn the_adapter_starts_when_first_needed_and_a_panicking_call_restarts_it(store: SharedStore) {
    let world = World::start(store).await;
    let tenant = create_tenant(world.store.as_ref(), "Focus & Flow", "coachty").await;
    world.store.save_adapter_state(tenant, "shopify", &json!({ "marks": 2 })).await.expect("a saved state");
    let mut viewer = world.root.watch_activity(tenant);
    let swarm = world.root.activate(tenant).await.expect("activates");

    let adapter = swarm.adapter().expect("a live business has an adapter");
    assert_eq!(
        (adapter.node.as_str(), adapter.platform, adapter.state),
        ("market:shopify", Platform::Shopify, AdapterState::Idle)
    );
    assert_eq!(world.opened.load(Ordering::SeqCst), 0, "no call needed the account yet: its credentials stay sealed");

    let market = swarm.market_for_api();
    let snapshot = market.market_snapshot(tenant).await.expect("the first call starts the adapter");
    let niche = snapshot.niches[0].name.clone();
    assert_eq!(world.opened.load(Ordering::SeqCst), 1);
    let restored =
        world.last.lock().expect("lock").as_ref().and_then(|account| account.imported.lock().expect("lock").clone());
    assert_eq!(restored, Some(json!({ "marks": 2 })), "the adapter restored the account's saved state as it started");
    let shop = market.create_store(tenant, "Focus & Flow", &key(tenant, "store-1")).await.expect("store");

    // Two calls that each wait for the other: they pass only if the one actor runs
    // them side by side, neither queued behind the other.
    let (one, two) =
        (listing("side by side 1", &shop.store_id, &niche), listing("side by side 2", &shop.store_id, &niche));
    let (key_one, key_two) = (key(tenant, "p-1"), key(tenant, "p-2"));
    let (first, second) =
        tokio::join!(market.list_product(tenant, &one, &key_one), market.list_product(tenant, &two, &key_two));
    first.expect("listed");
    second.expect("listed");
    until_shown(&mut viewer, AdapterState::Working).await;

    let limited =
        market.list_product(tenant, &listing(RATE_LIMITED_TITLE, &shop.store_id, &niche), &key(tenant, "p-3")).await;
    assert!(matches!(limited, Err(AdapterError::RateLimited { .. })), "{limited:?}");
    until_shown(&mut viewer, AdapterState::Throttled).await;
    assert_eq!(swarm.adapter().map(|view| view.state), Some(AdapterState::Throttled));

    let crashed = market.list_product(tenant, &listing(PANIC_TITLE, &shop.store_id, &niche), &key(tenant, "p-4")).await;
    assert!(
        matches!(&crashed, Err(AdapterError::Unavailable { message, .. }) if message.contains("stopped during the call")),
        "the caller learns the adapter died under its call: {crashed:?}"
    );
    until_shown(&mut viewer, AdapterState::Restarting).await;
    until_shown(&mut viewer, AdapterState::Idle).await;
    let again =
        market.list_product(tenant, &listing("after the crash", &shop.store_id, &niche), &key(tenant, "p-5")).await;
    again.expect("the restarted adapter serves the next call");
    assert_eq!(world.opened.load(Ordering::SeqCst), 2, "the replacement opened the account again");
    assert_eq!(swarm.status(), SwarmStatus::Running, "one failure is within the restart intensity");

    let events = world.events(tenant).await;
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    let adapter_kinds: Vec<&str> = kinds.iter().copied().filter(|kind| kind.starts_with("adapter.")).collect();
    assert_eq!(adapter_kinds, ["adapter.started", "adapter.failed", "adapter.restarted"]);
    let failed = events.iter().find(|event| event.kind == "adapter.failed").expect("adapter.failed");
    assert_eq!(failed.actor, "shopify");
    assert!(failed.summary.contains("a call panicked: the platform client hit a bug"), "{}", failed.summary);
    for event in &events {
        let written = format!("{} {} {}", event.summary, event.data, event.actor);
        assert!(!written.contains(SECRET_TOKEN), "a credential reached the event log: {written}");
    }

    // Stopped with the swarm: calls then fail at once, and the next activation starts
    // a new adapter when first needed.
    assert!(world.root.passivate(tenant).await, "passivated");
    let after = market.market_snapshot(tenant).await;
    assert!(
        matches!(&after, Err(AdapterError::Unavailable { message, .. }) if message.contains("not running")),
        "{after:?}"
    );
    let swarm = world.root.activate(tenant).await.expect("activates again");
    assert_eq!(swarm.adapter().map(|view| view.state), Some(AdapterState::Idle));
    swarm.market_for_api().market_snapshot(tenant).await.expect("a new adapter");
    assert_eq!(world.opened.load(Ordering::SeqCst), 3);
    world.root.shutdown().await;
}

async fn an_adapter_that_keeps_failing_escalates_its_swarm(store: SharedStore) {
    let world = World::start(store).await;
    let tenant = create_tenant(world.store.as_ref(), "Crashy Crafts", "coachty").await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    let market = swarm.market_for_api();
    let niche = market.market_snapshot(tenant).await.expect("snapshot").niches[0].name.clone();
    for attempt in 0..3 {
        let key = IdempotencyKey::for_step(tenant, attempt, "store_setup", "crash");
        let crashed = market.list_product(tenant, &listing(PANIC_TITLE, "store", &niche), &key).await;
        assert!(crashed.is_err(), "attempt {attempt}: {crashed:?}");
        // Let the supervisor see the failure before the next one.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        swarm.wait_for_status(|status| matches!(status, SwarmStatus::Restarting | SwarmStatus::Degraded)),
    )
    .await
    .expect("the swarm escalated within 5 s");
    assert!(matches!(status, SwarmStatus::Restarting | SwarmStatus::Degraded), "{status:?}");
    let kinds = world.kinds(tenant).await;
    assert_eq!(kinds.iter().filter(|kind| *kind == "adapter.failed").count(), 3, "{kinds:?}");
    let escalated = world.events(tenant).await.into_iter().find(|event| event.kind == "swarm.escalated");
    let escalated = escalated.expect("the third failure in the window escalates, like an agent's");
    assert_eq!(escalated.data["last_failed"], "market:shopify");
    world.root.shutdown().await;
}

async fn an_account_that_does_not_open_fails_the_calls_with_its_reason_until_it_does(store: SharedStore) {
    let world = World::start(store).await;
    let tenant = create_tenant(world.store.as_ref(), "Locked Out", "coachty").await;
    world.refuse.store(true, Ordering::SeqCst);
    let swarm = world.root.activate(tenant).await.expect("activation does not open the account");
    let market = swarm.market_for_api();

    let refused = market.market_snapshot(tenant).await;
    match refused {
        Err(AdapterError::Rejected { platform, message }) => {
            assert_eq!(platform, Platform::Shopify);
            assert_eq!(message, "the shop's credentials no longer open: connect it again", "the account's own words");
        }
        other => panic!("the call should carry the account's refusal: {other:?}"),
    }
    assert_eq!(swarm.adapter().map(|view| view.state), Some(AdapterState::Idle));
    assert!(!world.kinds(tenant).await.iter().any(|kind| kind.starts_with("adapter.")), "nothing started");

    // The owner fixes the connection: the next call opens it.
    world.refuse.store(false, Ordering::SeqCst);
    market.market_snapshot(tenant).await.expect("opened now");
    assert_eq!(world.opened.load(Ordering::SeqCst), 2);
    assert!(world.kinds(tenant).await.contains(&"adapter.started".to_owned()));
    world.root.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_account_that_does_not_open_fails_the_calls_with_its_reason_until_it_does() {
    let database = fresh_sqlite().await;
    an_account_that_does_not_open_fails_the_calls_with_its_reason_until_it_does(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_account_that_does_not_open_fails_the_calls_with_its_reason_until_it_does() {
    let database = fresh_postgres().await;
    an_account_that_does_not_open_fails_the_calls_with_its_reason_until_it_does(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_adapter_starts_when_first_needed_and_a_panicking_call_restarts_it() {
    let database = fresh_sqlite().await;
    the_adapter_starts_when_first_needed_and_a_panicking_call_restarts_it(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_adapter_starts_when_first_needed_and_a_panicking_call_restarts_it() {
    let database = fresh_postgres().await;
    the_adapter_starts_when_first_needed_and_a_panicking_call_restarts_it(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_adapter_that_keeps_failing_escalates_its_swarm() {
    let database = fresh_sqlite().await;
    an_adapter_that_keeps_failing_escalates_its_swarm(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_adapter_that_keeps_failing_escalates_its_swarm() {
    let database = fresh_postgres().await;
    an_adapter_that_keeps_failing_escalates_its_swarm(Arc::new(database.store.clone())).await;
}
