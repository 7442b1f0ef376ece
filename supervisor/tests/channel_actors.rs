//! A live business's marketing channels each run in an adapter actor of their own
//! (tenant × channel), beside the selling account's: a post opens only its channel's
//! account, a channel whose call panics is restarted one for one while the shop and the
//! other channels go on untouched, and each actor shows on the live view as its own
//! node (`channel:x`). A channel whose account does not open needs its owner, for the
//! reason it gave, while the others post. Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, SandboxMarket, SocialNetwork, StoreRef,
};
use boardroom_agents::AgentRegistry;
use boardroom_memory::testing::{create_tenant, fresh_postgres, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, SwarmEvent, Tenant, TenantId};
use boardroom_supervisor::{
    AccountOpener, Activity, AdapterState, SupervisorConfig, SwarmMarket, SwarmRoot, SwarmServices, TenantMarkets,
};
use rust_decimal::Decimal;

/// A post text the test channels panic on.
const PANIC_TEXT: &str = "panic, please";

/// A test social account on `network`: it publishes any post but one, on which its
/// client panics.
struct TestChannel {
    network: SocialNetwork,
    published: Arc<AtomicUsize>,
}

impl TestChannel {
    fn not_a_shop(&self) -> AdapterError {
        AdapterError::rejected(self.network.platform(), "a marketing channel sells nothing")
    }
}

#[async_trait]
impl Marketplace for TestChannel {
    fn platform(&self) -> Platform {
        self.network.platform()
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn social_networks(&self) -> Vec<SocialNetwork> {
        vec![self.network]
    }

    async fn market_snapshot(&self, _: TenantId) -> Result<MarketSnapshot, AdapterError> {
        Err(self.not_a_shop())
    }

    async fn create_store(&self, _: TenantId, _: &str, _: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        Err(self.not_a_shop())
    }

    async fn list_product(
        &self,
        _: TenantId,
        _: &ProductListing,
        _: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        Err(self.not_a_shop())
    }

    async fn set_price(&self, _: TenantId, _: &str, _: Decimal, _: &IdempotencyKey) -> Result<(), AdapterError> {
        Err(self.not_a_shop())
    }

    async fn launch_campaign(
        &self,
        _: TenantId,
        _: &CampaignSpec,
        _: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(self.not_a_shop())
    }

    async fn publish_post(&self, _: TenantId, post: &PostSpec, _: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        if post.text == PANIC_TEXT {
            panic!("the channel's client hit a bug");
        }
        let n = self.published.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(PostRef { post_id: format!("{}-{n}", self.network.platform().as_str()), url: String::new() })
    }

    async fn advance(&self, _: TenantId, _: u32) -> Result<(), AdapterError> {
        Err(self.not_a_shop())
    }

    async fn report(&self, _: TenantId, _: u32, _: u32) -> Result<PerformanceReport, AdapterError> {
        Err(self.not_a_shop())
    }
}

/// Why the test X account refuses to open, when it does.
const X_REFUSAL: &str = "the connected X account's credentials no longer open: connect it again";

/// Opens one account, counting how often (or refuses, saying why).
struct CountingOpener {
    platform: Platform,
    refusal: Option<&'static str>,
    opened: Arc<AtomicUsize>,
    open: Box<dyn Fn() -> Arc<dyn Marketplace> + Send + Sync>,
    channels: Vec<Arc<dyn AccountOpener>>,
}

#[async_trait]
impl AccountOpener for CountingOpener {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        if let Some(why) = self.refusal {
            return Err(AdapterError::rejected(self.platform, why));
        }
        Ok((self.open)())
    }

    fn channels(&self) -> Vec<Arc<dyn AccountOpener>> {
        self.channels.clone()
    }
}

/// How often each account was opened, and what each channel published.
#[derive(Default, Clone)]
struct Counts {
    shop_opened: Arc<AtomicUsize>,
    x_opened: Arc<AtomicUsize>,
    reddit_opened: Arc<AtomicUsize>,
    x_published: Arc<AtomicUsize>,
    reddit_published: Arc<AtomicUsize>,
}

/// Every tenant is live on a sandbox "shop" with an X and a Reddit account in front.
struct LiveWithChannels {
    platform_side: Arc<SandboxMarket>,
    counts: Counts,
    x_refuses: bool,
}

#[async_trait]
impl TenantMarkets for LiveWithChannels {
    async fn market_for(&self, _tenant: &Tenant, _shared: &Arc<dyn Marketplace>) -> SwarmMarket {
        let channel = |network: SocialNetwork, opened: &Arc<AtomicUsize>, published: &Arc<AtomicUsize>| {
            let published = published.clone();
            let refuses = self.x_refuses && network == SocialNetwork::X;
            Arc::new(CountingOpener {
                platform: network.platform(),
                refusal: refuses.then_some(X_REFUSAL),
                opened: opened.clone(),
                open: Box::new(move || Arc::new(TestChannel { network, published: published.clone() })),
                channels: Vec::new(),
            }) as Arc<dyn AccountOpener>
        };
        let counts = &self.counts;
        let platform_side = self.platform_side.clone();
        SwarmMarket::Account(Arc::new(CountingOpener {
            platform: Platform::Sandbox,
            refusal: None,
            opened: counts.shop_opened.clone(),
            open: Box::new(move || platform_side.clone() as Arc<dyn Marketplace>),
            channels: vec![
                channel(SocialNetwork::X, &counts.x_opened, &counts.x_published),
                channel(SocialNetwork::Reddit, &counts.reddit_opened, &counts.reddit_published),
            ],
        }))
    }
}

struct World {
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
    counts: Counts,
}

impl World {
    async fn start(store: SharedStore, x_refuses: bool) -> Self {
        let events = EventLog::start(store.clone(), EventLogConfig::default());
        let counts = Counts::default();
        let services = SwarmServices {
            markets: Some(Arc::new(LiveWithChannels {
                platform_side: Arc::new(SandboxMarket::new(9)),
                counts: counts.clone(),
                x_refuses,
            })),
            ..SwarmServices::embedded(store.clone(), events.clone())
        };
        let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default())
            .await
            .expect("the root starts");
        Self { store, events, root, counts }
    }

    async fn events(&self, tenant: TenantId) -> Vec<SwarmEvent> {
        self.events.flush().await.expect("flush");
        self.store.events_after(tenant, 0, 10_000).await.expect("events")
    }
}

fn post(network: SocialNetwork, text: &str) -> PostSpec {
    PostSpec { product_id: "p-1".into(), network, text: text.into(), video: None }
}

fn key(tenant: TenantId, item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(tenant, 1, "marketing_launch", item)
}

async fn each_channel_runs_in_its_own_actor_and_a_panicking_one_restarts_alone(store: SharedStore) {
    let world = World::start(store, false).await;
    let tenant = create_tenant(world.store.as_ref(), "Focus & Flow", "coachty").await;
    let mut viewer = world.root.watch_activity(tenant);
    let swarm = world.root.activate(tenant).await.expect("activates");
    let market = swarm.market_for_api();
    assert_eq!(market.social_networks(), [SocialNetwork::X, SocialNetwork::Reddit], "routed before any is opened");
    let counts = &world.counts;

    // A post opens its channel's account only.
    market.publish_post(tenant, &post(SocialNetwork::X, "Hello"), &key(tenant, "x-1")).await.expect("posted");
    let opened = |count: &Arc<AtomicUsize>| count.load(Ordering::SeqCst);
    assert_eq!((opened(&counts.x_opened), opened(&counts.reddit_opened), opened(&counts.shop_opened)), (1, 0, 0));
    market.market_snapshot(tenant).await.expect("the shop answers");
    market.publish_post(tenant, &post(SocialNetwork::Reddit, "Hi"), &key(tenant, "r-1")).await.expect("submitted");
    assert_eq!((opened(&counts.x_opened), opened(&counts.reddit_opened), opened(&counts.shop_opened)), (1, 1, 1));

    // X's client panics: its caller is told, X's actor alone is restarted.
    let failed = market.publish_post(tenant, &post(SocialNetwork::X, PANIC_TEXT), &key(tenant, "x-2")).await;
    assert!(matches!(failed, Err(AdapterError::Unavailable { platform: Platform::X, .. })), "{failed:?}");
    let restarted = tokio::time::timeout(Duration::from_secs(5), async {
        while opened(&counts.x_opened) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    restarted.await.expect("X's adapter restarted");
    market.publish_post(tenant, &post(SocialNetwork::X, "Again"), &key(tenant, "x-3")).await.expect("X serves again");
    market.publish_post(tenant, &post(SocialNetwork::Reddit, "Still"), &key(tenant, "r-2")).await.expect("Reddit");
    market.market_snapshot(tenant).await.expect("the shop too");
    assert_eq!(
        (opened(&counts.x_opened), opened(&counts.reddit_opened), opened(&counts.shop_opened)),
        (2, 1, 1),
        "neither the shop nor Reddit was restarted"
    );
    assert_eq!((counts.x_published.load(Ordering::SeqCst), counts.reddit_published.load(Ordering::SeqCst)), (2, 2));

    let events = world.events(tenant).await;
    let lifecycle: Vec<(String, String)> = events
        .iter()
        .filter(|event| event.kind.starts_with("adapter."))
        .map(|event| (event.kind.clone(), event.data["platform"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let of = |kind: &str, platform: &str| lifecycle.iter().filter(|(k, p)| k == kind && p == platform).count();
    assert_eq!((of("adapter.started", "x"), of("adapter.failed", "x"), of("adapter.restarted", "x")), (1, 1, 1));
    assert_eq!((of("adapter.started", "reddit"), of("adapter.failed", "reddit")), (1, 0), "{lifecycle:?}");
    assert_eq!((of("adapter.started", "sandbox"), of("adapter.failed", "sandbox")), (1, 0), "{lifecycle:?}");

    // Each actor colours its own node on the live view.
    let mut nodes: Vec<(String, AdapterState)> = Vec::new();
    while let Ok(activity) = viewer.try_recv() {
        if let Activity::Adapter { adapter, state } = activity {
            nodes.push((adapter.to_string(), state));
        }
    }
    for node in ["channel:x", "channel:reddit", "market:sandbox"] {
        assert!(nodes.iter().any(|(shown, state)| shown == node && *state == AdapterState::Working), "{nodes:?}");
    }
    assert!(nodes.iter().any(|(shown, state)| shown == "channel:x" && *state == AdapterState::Restarting));
    assert!(!nodes.iter().any(|(shown, state)| shown != "channel:x" && *state == AdapterState::Restarting));
    world.root.shutdown().await;
}

async fn a_channel_that_does_not_open_needs_its_owner_and_the_others_go_on(store: SharedStore) {
    let world = World::start(store, true).await;
    let tenant = create_tenant(world.store.as_ref(), "Focus & Flow", "coachty").await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    let market = swarm.market_for_api();
    let states = market.channel_states().await;
    assert!(states.iter().all(|state| state.needs_owner.is_none()), "nothing known before a call: {states:?}");

    let refused = market.publish_post(tenant, &post(SocialNetwork::X, "Hello"), &key(tenant, "x-1")).await;
    assert!(refused.is_err_and(|error| error.to_string().contains("connect it again")));
    market.publish_post(tenant, &post(SocialNetwork::Reddit, "Hi"), &key(tenant, "r-1")).await.expect("Reddit posts");
    let states = market.channel_states().await;
    let x = states.iter().find(|state| state.platform == Platform::X).expect("X's state");
    assert_eq!(x.needs_owner.as_deref(), Some(X_REFUSAL), "the dashboard says why, in the opener's words");
    let reddit = states.iter().find(|state| state.platform == Platform::Reddit).expect("Reddit's state");
    assert_eq!(reddit.needs_owner, None);
    world.root.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_channel_that_does_not_open_needs_its_owner_and_the_others_go_on() {
    let database = fresh_sqlite().await;
    a_channel_that_does_not_open_needs_its_owner_and_the_others_go_on(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_channel_that_does_not_open_needs_its_owner_and_the_others_go_on() {
    let database = fresh_postgres().await;
    a_channel_that_does_not_open_needs_its_owner_and_the_others_go_on(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_each_channel_runs_in_its_own_actor_and_a_panicking_one_restarts_alone() {
    let database = fresh_sqlite().await;
    each_channel_runs_in_its_own_actor_and_a_panicking_one_restarts_alone(Arc::new(database.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_each_channel_runs_in_its_own_actor_and_a_panicking_one_restarts_alone() {
    let database = fresh_postgres().await;
    each_channel_runs_in_its_own_actor_and_a_panicking_one_restarts_alone(Arc::new(database.store.clone())).await;
}
