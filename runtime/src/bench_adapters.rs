//! `boardroom bench --adapters`: platform calls as a tenant's swarm makes them.
//!
//! 1. **Overhead**: the same call made directly, through the tenant's guarded market (a
//!    slot of its platform calls in flight, the live view's started/finished signals),
//!    and through the guarded market and the tenant's adapter actor (a live business's
//!    path: a message to the actor, a task per call, the answer back), on a market that
//!    answers at once, so the differences are the paths.
//! 2. **Throughput under the throttle**: 32 callers of one live tenant (through its
//!    adapter actor) against a platform answering in 20 ms, under each tier's limit of
//!    platform calls in flight (free 2, pro 8, enterprise unlimited): calls per second,
//!    and the slowest wait for a slot.
//! 3. **A throttled channel** (`bench_channels`): how long a post waits when its X
//!    account says "slow down", and another tenant's posts meanwhile.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, StoreRef,
};
use boardroom_agents::AgentRegistry;
use boardroom_memory::{EventLog, EventLogConfig, Tenant, TenantId};
use boardroom_supervisor::{
    AccountOpener, SupervisorConfig, SwarmMarket, SwarmRoot, SwarmServices, TenantMarkets, ThrottleLimits,
};
use rust_decimal::Decimal;

use crate::bench::{ScratchSqlite, create_tenants};

/// Calls timed for the overhead figure, each way.
const OVERHEAD_CALLS: usize = 200_000;
/// How long the throughput figure's platform takes to answer.
const PLATFORM_LATENCY: Duration = Duration::from_millis(20);
/// Concurrent callers of the one tenant in the throughput figure.
const CALLERS: usize = 32;
/// How long each throughput run lasts.
const RUN: Duration = Duration::from_secs(3);

/// A platform that answers market snapshots after `latency` (at once when zero).
struct Platformish {
    latency: Duration,
}

impl Platformish {
    fn refuse() -> AdapterError {
        AdapterError::rejected(Platform::Shopify, "the bench's platform only answers snapshots")
    }
}

#[async_trait]
impl Marketplace for Platformish {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn is_simulated(&self) -> bool {
        true
    }

    async fn market_snapshot(&self, _tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        Ok(MarketSnapshot { today: 0, niches: Vec::new() })
    }

    async fn create_store(&self, _: TenantId, _: &str, _: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        Err(Self::refuse())
    }

    async fn list_product(
        &self,
        _: TenantId,
        _: &ProductListing,
        _: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        Err(Self::refuse())
    }

    async fn set_price(&self, _: TenantId, _: &str, _: Decimal, _: &IdempotencyKey) -> Result<(), AdapterError> {
        Err(Self::refuse())
    }

    async fn launch_campaign(
        &self,
        _: TenantId,
        _: &CampaignSpec,
        _: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        Err(Self::refuse())
    }

    async fn publish_post(&self, _: TenantId, _: &PostSpec, _: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        Err(Self::refuse())
    }

    async fn advance(&self, _: TenantId, _: u32) -> Result<(), AdapterError> {
        Err(Self::refuse())
    }

    async fn report(&self, _: TenantId, _: u32, _: u32) -> Result<PerformanceReport, AdapterError> {
        Err(Self::refuse())
    }
}

/// The bench's platform as every tenant's own account, reached through its adapter actor.
struct BenchAccount(Arc<dyn Marketplace>);

#[async_trait]
impl AccountOpener for BenchAccount {
    fn platform(&self) -> Platform {
        self.0.platform()
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        Ok(self.0.clone())
    }
}

#[async_trait]
impl TenantMarkets for BenchAccount {
    async fn market_for(&self, _: &Tenant, _: &Arc<dyn Marketplace>) -> SwarmMarket {
        SwarmMarket::Account(Arc::new(BenchAccount(self.0.clone())))
    }
}

/// Where the bench's tenant reaches the platform.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// As a shared market (the sandbox's path).
    Shared,
    /// As its own account, through its adapter actor (a live business's path).
    Account,
}

/// A swarm root whose tenants reach `market` by `path`, and one tenant.
async fn tenant_on(market: Arc<dyn Marketplace>, path: Path) -> anyhow::Result<(ScratchSqlite, SwarmRoot, TenantId)> {
    let scratch = ScratchSqlite::new();
    let store = boardroom_memory::connect(&scratch.url).await?;
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let mut services = SwarmServices::embedded(store.clone(), events);
    if path == Path::Account {
        services.markets = Some(Arc::new(BenchAccount(market.clone())));
    }
    services.market = market;
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await?;
    let tenant = create_tenants(&store, 1).await?[0];
    Ok((scratch, root, tenant))
}

/// Nanoseconds a call of `market_snapshot` takes on `market`, over [`OVERHEAD_CALLS`]
/// sequential calls after a warm-up.
async fn time_calls(market: &Arc<dyn Marketplace>, tenant: TenantId) -> anyhow::Result<f64> {
    for _ in 0..10_000 {
        market.market_snapshot(tenant).await?;
    }
    let started = Instant::now();
    for _ in 0..OVERHEAD_CALLS {
        market.market_snapshot(tenant).await?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e9 / OVERHEAD_CALLS as f64)
}

pub(crate) async fn run() -> anyhow::Result<()> {
    println!(
        "boardroom bench --adapters — {} worker threads",
        tokio::runtime::Handle::current().metrics().num_workers()
    );

    println!("\n1. overhead of each path ({OVERHEAD_CALLS} sequential calls each, a market answering at once)");
    let instant: Arc<dyn Marketplace> = Arc::new(Platformish { latency: Duration::ZERO });
    let (_scratch, shared_root, tenant) = tenant_on(instant.clone(), Path::Shared).await?;
    let guarded = shared_root.activate(tenant).await?.market_for_api();
    let (_scratch, account_root, account_tenant) = tenant_on(instant.clone(), Path::Account).await?;
    let through_actor = account_root.activate(account_tenant).await?.market_for_api();
    let direct = time_calls(&instant, tenant).await?;
    let guarded = time_calls(&guarded, tenant).await?;
    let through_actor = time_calls(&through_actor, account_tenant).await?;
    println!("   direct:                        {direct:>8.0} ns a call");
    println!("   guarded (shared market):       {guarded:>8.0} ns a call (+{:.0})", guarded - direct);
    println!("   guarded + adapter actor:       {through_actor:>8.0} ns a call (+{:.0})", through_actor - direct);
    println!("   the adapter actor itself adds {:.0} ns a call", through_actor - guarded);
    shared_root.shutdown().await;
    account_root.shutdown().await;

    println!(
        "\n2. platform calls per second for one tenant ({CALLERS} callers, a platform answering in {} ms, {} s a run)",
        PLATFORM_LATENCY.as_millis(),
        RUN.as_secs()
    );
    let slow: Arc<dyn Marketplace> = Arc::new(Platformish { latency: PLATFORM_LATENCY });
    let (_scratch, root, tenant) = tenant_on(slow, Path::Account).await?;
    let handle = root.activate(tenant).await?;
    for (tier, in_flight) in [("free", Some(2)), ("pro", Some(8)), ("enterprise", None)] {
        let limits = ThrottleLimits {
            concurrent_adapter_calls: in_flight.and_then(NonZeroU32::new),
            max_wait: Duration::from_secs(30),
            ..ThrottleLimits::default()
        };
        handle.throttle().set_limits(limits).await;
        let market = handle.market_for_api();
        let started = Instant::now();
        let deadline = started + RUN;
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..CALLERS {
            let market = market.clone();
            callers.spawn(async move {
                let (mut calls, mut slowest) = (0_u64, Duration::ZERO);
                while Instant::now() < deadline {
                    let started = Instant::now();
                    if market.market_snapshot(tenant).await.is_ok() {
                        calls += 1;
                    }
                    slowest = slowest.max(started.elapsed());
                }
                (calls, slowest)
            });
        }
        let (mut calls, mut slowest) = (0_u64, Duration::ZERO);
        while let Some(done) = callers.join_next().await {
            let (made, longest) = done?;
            calls += made;
            slowest = slowest.max(longest);
        }
        // Calls queued for a slot at the deadline finish after it: count the time they took.
        let elapsed = started.elapsed();
        let ceiling = in_flight.map_or(CALLERS, |limit| limit as usize) as f64 / PLATFORM_LATENCY.as_secs_f64();
        println!(
            "   {tier:<10} ({:>9} in flight): {:>6.0} calls/s (ceiling {ceiling:.0}), slowest call {:.0} ms",
            in_flight.map_or("unlimited".to_owned(), |limit| limit.to_string()),
            calls as f64 / elapsed.as_secs_f64(),
            slowest.as_secs_f64() * 1000.0
        );
    }
    root.shutdown().await;
    crate::bench_channels::run().await
}
