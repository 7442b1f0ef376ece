//! `boardroom bench --adapters`: platform calls as a tenant's swarm makes them.
//!
//! 1. **Overhead**: a call through the tenant's guarded market (a slot of its platform
//!    calls in flight, the live view's started/finished signals) against the same call
//!    made directly, on a market that answers at once, so the difference is the path.
//! 2. **Throughput under the throttle**: 32 callers of one tenant against a platform
//!    answering in 20 ms, under each tier's limit of platform calls in flight (free 2,
//!    pro 8, enterprise unlimited): calls per second, and the slowest wait for a slot.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostRef, PostSpec, ProductListing, StoreRef,
};
use boardroom_agents::AgentRegistry;
use boardroom_memory::{EventLog, EventLogConfig, TenantId};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices, ThrottleLimits};
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

/// A swarm root whose shared market is `market`, and one tenant on it.
async fn tenant_on(market: Arc<dyn Marketplace>) -> anyhow::Result<(ScratchSqlite, SwarmRoot, TenantId)> {
    let scratch = ScratchSqlite::new();
    let store = boardroom_memory::connect(&scratch.url).await?;
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let mut services = SwarmServices::embedded(store.clone(), events);
    services.market = market;
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await?;
    let tenant = create_tenants(&store, 1).await?[0];
    Ok((scratch, root, tenant))
}

pub(crate) async fn run() -> anyhow::Result<()> {
    println!(
        "boardroom bench --adapters — {} worker threads",
        tokio::runtime::Handle::current().metrics().num_workers()
    );

    println!(
        "\n1. overhead of the guarded path ({OVERHEAD_CALLS} sequential calls each way, a market answering at once)"
    );
    let instant: Arc<dyn Marketplace> = Arc::new(Platformish { latency: Duration::ZERO });
    let (_scratch, root, tenant) = tenant_on(instant.clone()).await?;
    let guarded = root.activate(tenant).await?.market_for_api();
    for _ in 0..10_000 {
        instant.market_snapshot(tenant).await?;
        guarded.market_snapshot(tenant).await?;
    }
    let started = Instant::now();
    for _ in 0..OVERHEAD_CALLS {
        instant.market_snapshot(tenant).await?;
    }
    let direct = started.elapsed();
    let started = Instant::now();
    for _ in 0..OVERHEAD_CALLS {
        guarded.market_snapshot(tenant).await?;
    }
    let through = started.elapsed();
    let per_call = |total: Duration| total.as_secs_f64() * 1e9 / OVERHEAD_CALLS as f64;
    println!("   direct:  {:>8.0} ns a call", per_call(direct));
    println!("   guarded: {:>8.0} ns a call", per_call(through));
    println!("   the throttle slot and live-view signals add {:.0} ns a call", per_call(through) - per_call(direct));
    root.shutdown().await;

    println!(
        "\n2. platform calls per second for one tenant ({CALLERS} callers, a platform answering in {} ms, {} s a run)",
        PLATFORM_LATENCY.as_millis(),
        RUN.as_secs()
    );
    let slow: Arc<dyn Marketplace> = Arc::new(Platformish { latency: PLATFORM_LATENCY });
    let (_scratch, root, tenant) = tenant_on(slow).await?;
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
    Ok(())
}
