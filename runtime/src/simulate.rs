//! `boardroom bench --simulate`: decision quality, measured.
//!
//! Runs one tenant of each personality for N simulated days on the sandbox market (one
//! autopilot cycle per day, offline brain) and two baselines in the very same world
//! (same seed, same tenant id, so the same niches, demand and noise):
//! - **fixed**: the most-demanded niche, listed at the market's reference price and
//!   never re-priced, with the budget split evenly between ads, content and tools;
//! - **random**: a random niche, random prices and random ad budgets, re-drawn weekly
//!   (seeded, so the run repeats).
//!
//! Profit is the market's own account: revenue − refunds − payment fees − cost of
//! goods − ad spend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use boardroom_adapters::{
    AdChannel, CampaignSpec, IdempotencyKey, Marketplace, PerformanceReport, PostSpec, ProductListing, SandboxMarket,
    SocialNetwork,
};
use boardroom_agents::{AgentRegistry, CEO, Task};
use boardroom_memory::{EventLog, EventLogConfig, NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::json;

use crate::bench::ScratchSqlite;

/// Base marketing money per day, the same for every policy.
const DAILY_BUDGET: i64 = 30;

/// One row of the table.
struct Outcome {
    policy: String,
    revenue: Decimal,
    ad_spend: Decimal,
    profit: Decimal,
}

impl Outcome {
    fn from_report(policy: impl Into<String>, report: &PerformanceReport) -> Self {
        Self {
            policy: policy.into(),
            revenue: report.gross_revenue(),
            ad_spend: report.ad_spend(),
            profit: report.net_profit(),
        }
    }

    /// Profit per unit of ad spend.
    fn roi(&self) -> Option<f64> {
        let spend = self.ad_spend.to_f64()?;
        (spend > 0.0).then(|| self.profit.to_f64().unwrap_or(0.0) / spend)
    }
}

/// Runs the simulation and prints the table.
pub(crate) async fn run(days: u32, seed: u64) -> anyhow::Result<()> {
    println!("decision quality: {days} simulated days on the sandbox market (seed {seed}), offline brain");
    let started = Instant::now();
    let fixed = fixed_baseline(days, seed).await?;
    let random = random_baseline(days, seed).await?;
    let mut rows = Vec::new();
    for personality in boardroom_personalities::built_in() {
        rows.push(swarm(&personality.name, days, seed).await?);
    }
    println!(
        "\n{:<14} {:>12} {:>12} {:>12} {:>10}  beats both baselines",
        "policy", "revenue", "ad spend", "profit", "profit/ad"
    );
    for row in rows.iter().chain([&fixed, &random]) {
        let roi = row.roi().map_or("—".to_owned(), |r| format!("{r:.2}"));
        let verdict = if rows.iter().any(|r| r.policy == row.policy) {
            if row.profit > fixed.profit && row.profit > random.profit { "yes" } else { "NO" }
        } else {
            ""
        };
        println!(
            "{:<14} {:>12} {:>12} {:>12} {:>10}  {verdict}",
            row.policy,
            row.revenue.round_dp(2),
            row.ad_spend.round_dp(2),
            row.profit.round_dp(2),
            roi
        );
    }
    println!("\n({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The tenant every policy plays: the first tenant of a fresh database, so every
/// policy's world is the same one.
const TENANT: TenantId = TenantId(1);

async fn swarm(personality: &str, days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let scratch = ScratchSqlite::new();
    let store: SharedStore = boardroom_memory::connect(&scratch.url).await?;
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let market = Arc::new(SandboxMarket::new(seed));
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(boardroom_agents::brain::OfflineBrain),
        market: market.clone(),
        redis: None,
        markets: None,
        media: None,
    };
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await?;
    let owner = store
        .create_user(NewUser {
            email: "sim@localhost".into(),
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Free,
        })
        .await?;
    let tenant = store
        .create_tenant(NewTenant {
            user_id: owner.id,
            name: format!("{personality} simulation"),
            domain: None,
            personality: personality.to_lowercase(),
            settings: json!({}),
        })
        .await?;
    anyhow::ensure!(tenant.id == TENANT, "the simulation's tenant must be the first of its database");
    let swarm = root.activate(tenant.id).await?;
    for day in 1..=days {
        swarm
            .call_with_timeout(CEO, Task::bare("run_cycle"), Duration::from_secs(120))
            .await
            .with_context(|| format!("{personality}: cycle {day} failed"))?;
    }
    let report = market.report(tenant.id, 0, days).await?;
    root.shutdown().await;
    events.close().await;
    store.close().await;
    Ok(Outcome::from_report(personality, &report))
}

/// Lists a product and runs a policy's daily decisions, advancing a day at a time.
struct Player {
    market: SandboxMarket,
    product: String,
}

impl Player {
    async fn open(
        seed: u64,
        niche_pick: impl FnOnce(&boardroom_adapters::MarketSnapshot) -> usize,
        price: impl FnOnce(Decimal) -> Decimal,
    ) -> anyhow::Result<(Self, Decimal)> {
        let market = SandboxMarket::new(seed);
        let snapshot = market.market_snapshot(TENANT).await?;
        let niche = snapshot.niches.get(niche_pick(&snapshot)).context("no niche")?.clone();
        let store =
            market.create_store(TENANT, "baseline", &IdempotencyKey::for_step(TENANT, 0, "store", "store")).await?;
        let listing = ProductListing {
            store_id: store.store_id,
            niche: niche.name.clone(),
            title: format!("{} bundle", niche.name),
            description: "baseline product".into(),
            tags: Vec::new(),
            price: price(niche.reference_price).max(niche.unit_cost + Decimal::ONE),
            unit_cost: niche.unit_cost,
        };
        let listed =
            market.list_product(TENANT, &listing, &IdempotencyKey::for_step(TENANT, 0, "list", "product")).await?;
        Ok((Self { market, product: listed.product_id }, niche.reference_price))
    }

    async fn flight(&self, day: u32, channel: AdChannel, daily_budget: Decimal) -> anyhow::Result<()> {
        if daily_budget < Decimal::ONE {
            return Ok(());
        }
        let spec = CampaignSpec {
            product_id: self.product.clone(),
            channel,
            daily_budget: daily_budget.round_dp(2),
            days: 7,
            // The simulation runs on the sandbox, which shows no ad anyone reads.
            creative: Default::default(),
        };
        let key = IdempotencyKey::for_step(TENANT, i64::from(day), "flight", &format!("{channel:?}"));
        self.market.launch_campaign(TENANT, &spec, &key).await?;
        Ok(())
    }

    async fn post(&self, day: u32) -> anyhow::Result<()> {
        let post = PostSpec {
            product_id: self.product.clone(),
            network: SocialNetwork::X,
            text: "New: our bundle is live".into(),
            video: None,
        };
        self.market.publish_post(TENANT, &post, &IdempotencyKey::for_step(TENANT, i64::from(day), "post", "x")).await?;
        Ok(())
    }
}

async fn fixed_baseline(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let most_demanded = |snapshot: &boardroom_adapters::MarketSnapshot| {
        (0..snapshot.niches.len())
            .max_by(|&a, &b| snapshot.niches[a].demand.total_cmp(&snapshot.niches[b].demand))
            .unwrap_or(0)
    };
    let (player, _) = Player::open(seed, most_demanded, |reference| reference).await?;
    // Even split: a third of the budget to ads, shared evenly by the two channels.
    let per_channel = Decimal::from(DAILY_BUDGET) / Decimal::from(6);
    for day in 0..days {
        if day % 7 == 0 {
            player.flight(day, AdChannel::SearchAds, per_channel).await?;
            player.flight(day, AdChannel::SocialAds, per_channel).await?;
        }
        player.post(day).await?;
        player.market.advance(TENANT, 1).await?;
    }
    Ok(Outcome::from_report("fixed", &player.market.report(TENANT, 0, days).await?))
}

async fn random_baseline(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let pick = rng.random_range(0..1000usize);
    let first_factor = rng.random_range(0.5..2.0);
    let (player, reference) = Player::open(
        seed,
        |snapshot| pick % snapshot.niches.len().max(1),
        |reference| (reference * Decimal::from_f64(first_factor).unwrap_or(Decimal::ONE)).round_dp(2),
    )
    .await?;
    for day in 0..days {
        if day % 7 == 0 {
            let budget = Decimal::from(DAILY_BUDGET);
            for channel in AdChannel::ALL {
                let share = Decimal::from_f64(rng.random_range(0.0..0.5)).unwrap_or_default();
                player.flight(day, channel, budget * share).await?;
            }
            if day > 0 {
                let factor = Decimal::from_f64(rng.random_range(0.5..2.0)).unwrap_or(Decimal::ONE);
                let key = IdempotencyKey::for_step(TENANT, i64::from(day), "price", "product");
                player.market.set_price(TENANT, &player.product, (reference * factor).round_dp(2), &key).await?;
            }
        }
        if rng.random_bool(0.5) {
            player.post(day).await?;
        }
        player.market.advance(TENANT, 1).await?;
    }
    Ok(Outcome::from_report("random", &player.market.report(TENANT, 0, days).await?))
}
