//! The policies the swarm is measured against, each playing the sandbox through the same
//! [`Marketplace`] calls a swarm makes, under the same limits (at most
//! [`MAX_PRODUCTS`] products, at most [`MAX_POSTS_PER_PRODUCT_A_DAY`] posts a product a
//! day):
//! - **oracle**: reads the world's truth and plays its best expected play (the upper
//!   bound; see `boardroom_adapters::WorldTruth`);
//! - **strong**: what an experienced seller does without agents;
//! - **fixed**: one product, one price, an even budget;
//! - **random**: random niche, prices and budgets, re-drawn weekly.

use anyhow::Context;
use boardroom_adapters::{
    AdChannel, CampaignSpec, IdempotencyKey, MarketSnapshot, Marketplace, PostSpec, ProductListing, SandboxMarket,
    SocialNetwork, WorldTruth,
};
use boardroom_agents::{MAX_POSTS_PER_PRODUCT_A_DAY, MAX_PRODUCTS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::{DAILY_BUDGET, Outcome, TENANT};

/// A seller's shop in the sandbox: its products and the calls every policy makes.
struct Shop {
    market: SandboxMarket,
    store: String,
    /// (product id, niche, unit cost) in listing order.
    products: Vec<(String, String, Decimal)>,
}

impl Shop {
    async fn open(seed: u64) -> anyhow::Result<Self> {
        let market = SandboxMarket::new(seed);
        let store =
            market.create_store(TENANT, "baseline", &IdempotencyKey::for_step(TENANT, 0, "store", "store")).await?;
        Ok(Self { market, store: store.store_id, products: Vec::new() })
    }

    async fn snapshot(&self) -> anyhow::Result<MarketSnapshot> {
        Ok(self.market.market_snapshot(TENANT).await?)
    }

    /// Lists a product in `niche` at `price` with a description and tags the listing
    /// rewards (every policy writes a proper listing; only what it decides differs).
    async fn list(&mut self, niche: &str, unit_cost: Decimal, price: Decimal) -> anyhow::Result<()> {
        let number = self.products.len();
        let listing = ProductListing {
            store_id: self.store.clone(),
            niche: niche.to_owned(),
            title: format!("{niche} bundle {}", number + 1),
            description: format!(
                "A complete {niche} bundle: everything a buyer needs to start today, with worked examples, \
                 checklists and lifetime updates, delivered as an instant download."
            ),
            tags: (0..WorldTruth::TAGS_THAT_COUNT).map(|tag| format!("{niche}-{tag}")).collect(),
            price: price.max(Decimal::new(50, 2)).round_dp(2),
            unit_cost,
        };
        let key = IdempotencyKey::for_step(TENANT, number as i64, "list", "product");
        let listed = self.market.list_product(TENANT, &listing, &key).await?;
        self.products.push((listed.product_id, niche.to_owned(), unit_cost));
        Ok(())
    }

    async fn flight(
        &self,
        product: &str,
        day: u32,
        channel: AdChannel,
        budget: Decimal,
        days: u32,
    ) -> anyhow::Result<()> {
        let budget = budget.round_dp(2);
        if budget < Decimal::ONE {
            return Ok(());
        }
        let spec = CampaignSpec {
            product_id: product.to_owned(),
            channel,
            daily_budget: budget,
            days,
            // The sandbox shows no ad anyone reads.
            creative: Default::default(),
        };
        let key = IdempotencyKey::for_step(TENANT, i64::from(day), "flight", &format!("{product}:{channel:?}"));
        self.market.launch_campaign(TENANT, &spec, &key).await?;
        Ok(())
    }

    async fn post(&self, product: &str, day: u32, network: SocialNetwork, nth: usize) -> anyhow::Result<()> {
        let post =
            PostSpec { product_id: product.to_owned(), network, text: "New: our bundle is live".into(), video: None };
        let key = IdempotencyKey::for_step(TENANT, i64::from(day), "post", &format!("{product}:{nth}"));
        self.market.publish_post(TENANT, &post, &key).await?;
        Ok(())
    }

    async fn set_price(&self, product: &str, day: u32, price: Decimal) -> anyhow::Result<()> {
        let key = IdempotencyKey::for_step(TENANT, i64::from(day), "price", product);
        self.market.set_price(TENANT, product, price.round_dp(2), &key).await?;
        Ok(())
    }

    async fn next_day(&self) -> anyhow::Result<()> {
        Ok(self.market.advance(TENANT, 1).await?)
    }

    async fn outcome(&self, policy: &str, days: u32) -> anyhow::Result<Outcome> {
        Outcome::measure(policy, &self.market, days).await
    }
}

/// The index of the most-demanded niche of `snapshot` (buyers a day).
fn most_demanded(snapshot: &MarketSnapshot) -> Option<usize> {
    (0..snapshot.niches.len()).max_by(|&a, &b| snapshot.niches[a].demand.total_cmp(&snapshot.niches[b].demand))
}

/// The index of the best-selling niche of `snapshot` that `skip` does not rule out: the
/// most money a day its buyers spend at the market's price on what rivals leave.
fn best_selling(snapshot: &MarketSnapshot, skip: impl Fn(&str) -> bool) -> Option<usize> {
    let sales = |index: usize| {
        let niche = &snapshot.niches[index];
        niche.demand * niche.reference_price.to_f64().unwrap_or(0.0) * (1.0 - niche.competition)
    };
    (0..snapshot.niches.len())
        .filter(|&index| !skip(&snapshot.niches[index].name))
        .max_by(|&a, &b| sales(a).total_cmp(&sales(b)))
}

/// Reads the world's truth and plays its best expected play: the products, prices, daily
/// budgets and networks [`WorldTruth`] computes, every post the limit allows.
pub(super) async fn oracle(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut shop = Shop::open(seed).await?;
    let truth = shop.market.truth(TENANT);
    let posts = MAX_POSTS_PER_PRODUCT_A_DAY as u32;
    let plan = truth.best_portfolio(MAX_PRODUCTS, days, posts);
    for product in &plan {
        shop.list(&product.niche, product.unit_cost, product.price).await?;
    }
    let network = truth.best_network();
    for day in 0..days {
        for ((id, niche, _), planned) in shop.products.iter().zip(&plan) {
            for channel in AdChannel::ALL {
                let budget = truth.best_daily_budget(niche, channel, day, planned.price);
                shop.flight(id, day, channel, budget, 1).await?;
            }
            for nth in 0..MAX_POSTS_PER_PRODUCT_A_DAY {
                shop.post(id, day, network, nth).await?;
            }
        }
        shop.next_day().await?;
    }
    shop.outcome("oracle", days).await
}

/// The margin the strong seller's cost-plus floor keeps after card fees: 60 %.
const STRONG_MARGIN_TARGET: f64 = 0.60;
/// Share of the ad budget the strong seller keeps on the channel that returned less last
/// week, so it still knows what that channel returns.
const STRONG_TEST_SHARE: f64 = 0.2;

/// An experienced seller without agents: lists in the best-selling niche (the most money
/// its buyers spend on what rivals leave) and adds a product a month in the best-selling
/// niche it is not in yet; prices at the market's
/// reference, never below cost plus its margin target; spends the daily budget on ads,
/// each week moving it to the channel that returned the most per unit of spend the week
/// before (keeping a test share on the other); posts daily where posts drew the most
/// clicks so far, after trying each network once.
pub(super) async fn strong(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut shop = Shop::open(seed).await?;
    let mut search_share = 0.5;
    for day in 0..days {
        if day % 30 == 0 && shop.products.len() < MAX_PRODUCTS {
            let snapshot = shop.snapshot().await?;
            let taken = |name: &str| shop.products.iter().any(|(_, niche, _)| niche == name);
            if let Some(index) = best_selling(&snapshot, taken) {
                let niche = &snapshot.niches[index];
                let price = cost_plus(niche.unit_cost).max(niche.reference_price);
                shop.list(&niche.name.clone(), niche.unit_cost, price).await?;
            }
        }
        if day % 7 == 0 && !shop.products.is_empty() {
            if day >= 7 {
                search_share = moved_share(&shop.market.report(TENANT, day - 7, day).await?, search_share);
            }
            let per_product = Decimal::from(DAILY_BUDGET) / Decimal::from(shop.products.len());
            for (id, _, _) in &shop.products {
                let search = per_product * Decimal::from_f64(search_share).unwrap_or_default();
                shop.flight(id, day, AdChannel::SearchAds, search, 7).await?;
                shop.flight(id, day, AdChannel::SocialAds, per_product - search, 7).await?;
            }
        }
        let network = if (day as usize) < SocialNetwork::ALL.len() {
            SocialNetwork::ALL[day as usize]
        } else {
            best_network_so_far(&shop.market.report(TENANT, 0, day).await?)
        };
        for (id, _, _) in &shop.products {
            shop.post(id, day, network, 0).await?;
        }
        shop.next_day().await?;
    }
    shop.outcome("strong", days).await
}

/// The lowest price that keeps [`STRONG_MARGIN_TARGET`] of it after card fees and cost.
fn cost_plus(unit_cost: Decimal) -> Decimal {
    let keep = 1.0 - 0.029 - STRONG_MARGIN_TARGET;
    let price = (unit_cost.to_f64().unwrap_or(0.0) + 0.30) / keep;
    Decimal::from_f64(price).unwrap_or(Decimal::ONE).round_dp(2)
}

/// Search's share of next week's ad budget: most of it to the channel whose spend brought
/// the most sales per unit last week, the test share to the other. A channel nothing was
/// spent on keeps the share it had.
fn moved_share(last_week: &boardroom_adapters::PerformanceReport, search_share: f64) -> f64 {
    let mut returns = [0.0; 2];
    for (slot, channel) in AdChannel::ALL.into_iter().enumerate() {
        let (mut spend, mut revenue) = (0.0, 0.0);
        for product in &last_week.products {
            if let Some(numbers) = product.channel(channel) {
                spend += numbers.spend.to_f64().unwrap_or(0.0);
                revenue += numbers.conversions as f64 * product.price.to_f64().unwrap_or(0.0);
            }
        }
        if spend <= 0.0 {
            return search_share;
        }
        returns[slot] = revenue / spend;
    }
    if returns[0] >= returns[1] { 1.0 - STRONG_TEST_SHARE } else { STRONG_TEST_SHARE }
}

/// The network whose posts drew the most clicks per post so far.
fn best_network_so_far(report: &boardroom_adapters::PerformanceReport) -> SocialNetwork {
    let clicks_per_post = |network: SocialNetwork| {
        let posts: Vec<_> = report.posts.iter().filter(|post| post.network == network).collect();
        if posts.is_empty() {
            0.0
        } else {
            posts.iter().map(|post| post.clicks as f64).sum::<f64>() / posts.len() as f64
        }
    };
    SocialNetwork::ALL
        .into_iter()
        .max_by(|a, b| clicks_per_post(*a).total_cmp(&clicks_per_post(*b)))
        .unwrap_or(SocialNetwork::X)
}

/// One product in the most-demanded niche at the reference price, never re-priced; a
/// third of the daily budget on ads, even between the channels; a post a day on X.
pub(super) async fn fixed(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut shop = Shop::open(seed).await?;
    let snapshot = shop.snapshot().await?;
    let niche = &snapshot.niches[most_demanded(&snapshot).context("no niche")?];
    shop.list(&niche.name, niche.unit_cost, niche.reference_price).await?;
    let id = shop.products[0].0.clone();
    let per_channel = Decimal::from(DAILY_BUDGET) / Decimal::from(6);
    for day in 0..days {
        if day % 7 == 0 {
            shop.flight(&id, day, AdChannel::SearchAds, per_channel, 7).await?;
            shop.flight(&id, day, AdChannel::SocialAds, per_channel, 7).await?;
        }
        shop.post(&id, day, SocialNetwork::X, 0).await?;
        shop.next_day().await?;
    }
    shop.outcome("fixed", days).await
}

/// A random niche and price, then each week random ad budgets and a random price; a post
/// on half the days. Seeded, so it repeats.
pub(super) async fn random(days: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut shop = Shop::open(seed).await?;
    let snapshot = shop.snapshot().await?;
    anyhow::ensure!(!snapshot.niches.is_empty(), "no niche");
    let niche = &snapshot.niches[rng.random_range(0..snapshot.niches.len())];
    let reference = niche.reference_price;
    let factor = |rng: &mut StdRng| Decimal::from_f64(rng.random_range(0.5..2.0)).unwrap_or(Decimal::ONE);
    let price = (reference * factor(&mut rng)).max(niche.unit_cost + Decimal::ONE);
    shop.list(&niche.name, niche.unit_cost, price).await?;
    let id = shop.products[0].0.clone();
    for day in 0..days {
        if day % 7 == 0 {
            for channel in AdChannel::ALL {
                let share = Decimal::from_f64(rng.random_range(0.0..0.5)).unwrap_or_default();
                shop.flight(&id, day, channel, Decimal::from(DAILY_BUDGET) * share, 7).await?;
            }
            if day > 0 {
                shop.set_price(&id, day, reference * factor(&mut rng)).await?;
            }
        }
        if rng.random_bool(0.5) {
            shop.post(&id, day, SocialNetwork::X, 0).await?;
        }
        shop.next_day().await?;
    }
    shop.outcome("random", days).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_adapters::{ChannelPerformance, PerformanceReport, Platform, PostPerformance, ProductPerformance};

    fn report(search: (u64, i64), social: (u64, i64), posts: &[(SocialNetwork, u64)]) -> PerformanceReport {
        let channel = |channel, (conversions, spend): (u64, i64)| ChannelPerformance {
            channel,
            spend: Decimal::from(spend),
            clicks: conversions * 10,
            conversions,
        };
        PerformanceReport {
            platform: Platform::Sandbox,
            from_day: 0,
            to_day: 7,
            today: 7,
            products: vec![ProductPerformance {
                product_id: "p".into(),
                niche: "n".into(),
                price: Decimal::from(20),
                units_sold: 0,
                gross_revenue: Decimal::ZERO,
                refunded_units: 0,
                refunds: Decimal::ZERO,
                payment_fees: Decimal::ZERO,
                cost_of_goods: Decimal::ZERO,
                channels: vec![channel(AdChannel::SearchAds, search), channel(AdChannel::SocialAds, social)],
            }],
            campaigns: Vec::new(),
            posts: posts
                .iter()
                .enumerate()
                .map(|(index, &(network, clicks))| PostPerformance {
                    post_id: format!("post{index}"),
                    product_id: "p".into(),
                    network,
                    published_day: 0,
                    impressions: clicks * 100,
                    engagements: clicks,
                    clicks,
                })
                .collect(),
        }
    }

    #[test]
    fn the_strong_seller_moves_its_budget_to_the_channel_that_returned_more() {
        // Search: 10 sales at 20 for 100 (2.0 a unit of spend); social: 6 for 100 (1.2).
        assert_eq!(moved_share(&report((10, 100), (6, 100), &[]), 0.5), 0.8);
        // The other way round.
        assert_eq!(moved_share(&report((2, 100), (6, 100), &[]), 0.5), 0.2);
        // A channel with no spend last week gives nothing to compare: the share stays.
        assert_eq!(moved_share(&report((2, 100), (0, 0), &[]), 0.8), 0.8);
    }

    #[test]
    fn the_strong_seller_prices_at_the_market_never_below_its_margin_target() {
        // 40 % of the price covers fees (2.9 %) and a cost of 11.70 + 0.30: 12 / 0.371.
        assert_eq!(cost_plus(Decimal::new(1170, 2)), Decimal::new(3235, 2));
        assert_eq!(cost_plus(Decimal::new(1170, 2)).max(Decimal::from(25)), Decimal::new(3235, 2));
        assert_eq!(cost_plus(Decimal::new(40, 2)).max(Decimal::from(19)), Decimal::from(19));
    }

    #[test]
    fn the_strong_seller_posts_where_posts_drew_the_most_clicks_per_post() {
        let posts = [
            (SocialNetwork::X, 9),
            (SocialNetwork::Reddit, 30),
            (SocialNetwork::Reddit, 0),
            (SocialNetwork::TikTok, 14),
        ];
        // Reddit: 15 a post; TikTok 14; X 9.
        assert_eq!(best_network_so_far(&report((0, 0), (0, 0), &posts)), SocialNetwork::Reddit);
    }

    #[tokio::test]
    async fn the_strong_seller_adds_a_product_a_month_in_niches_it_is_not_in_yet() {
        let seed = super::super::draw_seeds(1, 1)[0];
        let outcome = strong(61, seed).await.expect("strong baseline");
        assert_eq!(outcome.products, 3, "day 0, day 30 and day 60");
        assert_eq!(outcome.niches, 3, "each in a niche of its own");
        assert!(outcome.units > 0 && outcome.ad_spend > 0.0);
    }

    #[tokio::test]
    async fn the_oracle_earns_more_than_the_simple_baselines_in_the_same_world() {
        for seed in super::super::draw_seeds(1, 2) {
            let oracle = oracle(60, seed).await.expect("oracle");
            for other in [fixed(60, seed).await.expect("fixed"), random(60, seed).await.expect("random")] {
                assert!(
                    oracle.profit > other.profit,
                    "seed {seed}: oracle {} against {} {}",
                    oracle.profit,
                    other.policy,
                    other.profit
                );
            }
            assert!(oracle.products <= MAX_PRODUCTS);
        }
    }
}
