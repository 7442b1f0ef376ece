//! What the simulator knows about a tenant's world and no agent may read, and the best
//! play it allows: the yardstick `boardroom bench --simulate` measures every policy
//! against.
//!
//! Agents see a market only through [`crate::Marketplace`], which has no way to this:
//! [`crate::SandboxMarket::truth`] is a method of the concrete sandbox, reached only by
//! the benchmark's oracle.
//!
//! The oracle plays expected values: the model's formulas with the noise at its mean.
//! Its choices follow from them in closed form where they can:
//! - **price**: every buyer a product gets (organic, from ads, from posts) scales with
//!   the same price response `F(p)`, so the best price maximises `F(p) · m(p)`, with
//!   `m(p) = p · (1 − refund rate − 2.9 %) − (unit cost + 0.30)` the unit margin, on
//!   each side of the reference price's kink;
//! - **ad budget**: a channel adds `v · a · (1 − e^(−s/k))` for spend `s`, with `v` the
//!   value of a buyer that day, so the best spend is `k · ln(v · a / k)` when `v · a > k`
//!   and nothing otherwise;
//! - **products**: chosen one at a time, each the niche (a repeat included) that adds
//!   the most expected profit over the horizon.

use rust_decimal::Decimal;

use super::catalogue::NicheModel;
use super::model::{self, AdCurve};
use super::money;
use crate::{AdChannel, SocialNetwork};

/// Card fee rate and fixed fee, as floats for the planning maths.
const FEE_RATE: f64 = 0.029;
const FEE_FIXED: f64 = 0.30;

/// A tenant world's hidden parameters: demand curves, seasons, ad and post response.
#[derive(Debug)]
pub struct WorldTruth {
    niches: Vec<NicheModel>,
}

/// A product the oracle runs: its niche and price, and what a unit costs to make.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleProduct {
    /// The niche it is listed in.
    pub niche: String,
    /// Its best price ([`WorldTruth::best_price`]).
    pub price: Decimal,
    /// What a unit costs to make in that niche.
    pub unit_cost: Decimal,
}

impl WorldTruth {
    /// Tags a listing needs for the best listing quality the oracle plans with.
    pub const TAGS_THAT_COUNT: usize = model::TAGS_THAT_COUNT;
    /// Characters a description needs for the best listing quality.
    pub const DESCRIPTION_CHARS_THAT_COUNT: usize = model::DESCRIPTION_CHARS_THAT_COUNT;

    pub(super) fn new(niches: Vec<NicheModel>) -> Self {
        Self { niches }
    }

    fn niche(&self, name: &str) -> Option<&NicheModel> {
        self.niches.iter().find(|niche| niche.spec.name == name)
    }

    /// The listing quality of a listing with enough tags and a real description.
    fn best_quality() -> f64 {
        model::listing_quality(Self::TAGS_THAT_COUNT, &" ".repeat(Self::DESCRIPTION_CHARS_THAT_COUNT))
    }

    /// What one unit sold at `price` earns on average: the price less refunds, card fees
    /// and the cost of goods.
    pub fn unit_margin(&self, niche: &str, price: f64) -> Option<f64> {
        let niche = self.niche(niche)?;
        Some(unit_margin(niche, price))
    }

    /// The price that earns the most, whatever brings the buyers (see the module doc).
    pub fn best_price(&self, niche: &str) -> Option<Decimal> {
        let niche = self.niche(niche)?;
        let reference = money::to_f64(niche.reference_price);
        let elasticity = niche.spec.elasticity;
        let keep = 1.0 - niche.spec.refund_rate - FEE_RATE;
        let per_sale = money::to_f64(niche.unit_cost) + FEE_FIXED;
        // `p^-e · (keep·p − per_sale)` peaks at `e · per_sale / ((e − 1) · keep)` for
        // e > 1, and rises without end for e ≤ 1 (then the kink bounds it).
        let peak = |e: f64| (e > 1.0).then(|| e * per_sale / ((e - 1.0) * keep));
        let above = peak(elasticity).map_or(reference, |p| p.max(reference));
        let below_elasticity = elasticity * model::BELOW_REFERENCE_DAMPING;
        let below = peak(below_elasticity).map_or(reference, |p| p.clamp(0.5, reference));
        let earns = |p: f64| model::price_response(p / reference, elasticity) * unit_margin(niche, p);
        let best = if earns(below) > earns(above) { below } else { above };
        let max = money::to_f64(money::MAX_AMOUNT);
        Some(money::cents_from_f64(best.clamp(0.5, max) * 100.0))
    }

    /// The daily budget on `channel` for a product of `niche` at `price` that earns the
    /// most on `day` (zero when no spend pays for itself).
    pub fn best_daily_budget(&self, niche: &str, channel: AdChannel, day: u32, price: Decimal) -> Decimal {
        let Some(niche) = self.niche(niche) else { return Decimal::ZERO };
        let value = buyer_value(niche, day, money::to_f64(price));
        let spend = best_spend(model::ad_curve(channel, niche), value);
        money::cents_from_f64(spend * 100.0)
    }

    /// The network whose posts bring the most buyers: the most clicks over a post's life.
    pub fn best_network(&self) -> SocialNetwork {
        SocialNetwork::ALL
            .into_iter()
            .max_by(|a, b| post_clicks(*a).total_cmp(&post_clicks(*b)))
            .unwrap_or(SocialNetwork::X)
    }

    /// Expected profit over days `from_day..from_day + days` of `portfolio` (one niche per
    /// product, repeats allowed), each product listed on `from_day` at its best price,
    /// with the best ad budgets every day and `posts_per_day` posts a day on the best
    /// network. Niches the world lacks add nothing.
    pub fn expected_profit(&self, portfolio: &[&str], from_day: u32, days: u32, posts_per_day: u32) -> f64 {
        let post_clicks = post_clicks(self.best_network());
        let mut total = 0.0;
        for (index, name) in portfolio.iter().enumerate() {
            let Some(niche) = self.niche(name) else { continue };
            let Some(price) = self.best_price(name) else { continue };
            let price = money::to_f64(price);
            let siblings = portfolio.iter().filter(|other| *other == name).count();
            // Only the first of a niche's products counts the niche's organic buyers
            // (all of them, shared among the siblings), so each is counted once.
            let first_of_niche = portfolio.iter().position(|other| other == name) == Some(index);
            let response = model::price_response(price / money::to_f64(niche.reference_price), niche.spec.elasticity);
            let margin = unit_margin(niche, price);
            for day in from_day..from_day.saturating_add(days) {
                let value = buyer_value(niche, day, price);
                if first_of_niche {
                    let niche_share = siblings as f64 * model::market_share(niche.competition, siblings);
                    total += niche.demand * niche_share * value;
                }
                for channel in AdChannel::ALL {
                    total += ad_profit(model::ad_curve(channel, niche), value);
                }
                let post_buyers = f64::from(posts_per_day)
                    * post_clicks
                    * model::POST_CLICK_CONVERSION
                    * response
                    * Self::best_quality();
                total += post_buyers * margin;
            }
        }
        total
    }

    /// Up to `max_products` products for a run of `days` days from day 0, chosen one at a
    /// time: each the niche (a repeat included) that adds the most expected profit to
    /// those chosen before it. Stops early when no product adds anything.
    pub fn best_portfolio(&self, max_products: usize, days: u32, posts_per_day: u32) -> Vec<OracleProduct> {
        let mut chosen: Vec<&str> = Vec::new();
        for _ in 0..max_products {
            let before = self.expected_profit(&chosen, 0, days, posts_per_day);
            let best = self
                .niches
                .iter()
                .map(|niche| {
                    let mut with = chosen.clone();
                    with.push(niche.spec.name);
                    (niche.spec.name, self.expected_profit(&with, 0, days, posts_per_day) - before)
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((name, gain)) if gain > 0.0 => chosen.push(name),
                _ => break,
            }
        }
        chosen
            .into_iter()
            .filter_map(|name| {
                let niche = self.niche(name)?;
                Some(OracleProduct {
                    niche: name.to_owned(),
                    price: self.best_price(name)?,
                    unit_cost: niche.unit_cost,
                })
            })
            .collect()
    }
}

/// `p · (1 − refund rate − fee rate) − (unit cost + fixed fee)`.
fn unit_margin(niche: &NicheModel, price: f64) -> f64 {
    price * (1.0 - niche.spec.refund_rate - FEE_RATE) - (money::to_f64(niche.unit_cost) + FEE_FIXED)
}

/// What one buyer the niche would send at the reference price on a plain day is worth on
/// `day` at `price`: the season, the price response, the best listing and the margin.
fn buyer_value(niche: &NicheModel, day: u32, price: f64) -> f64 {
    let season = model::weekly_season(niche.spec, day)
        * model::yearly_season(niche.spec, day)
        * model::trend_growth(niche.trend, day);
    let response = model::price_response(price / money::to_f64(niche.reference_price), niche.spec.elasticity);
    season * response * WorldTruth::best_quality() * unit_margin(niche, price)
}

/// `argmax_s v · a · (1 − e^(−s/k)) − s`.
fn best_spend(curve: AdCurve, value: f64) -> f64 {
    let gain = value * curve.ceiling / curve.saturation;
    if gain.is_finite() && gain > 1.0 { curve.saturation * gain.ln() } else { 0.0 }
}

/// The expected profit of the best spend: `v·a − k − k·ln(v·a/k)` where it pays.
fn ad_profit(curve: AdCurve, value: f64) -> f64 {
    let spend = best_spend(curve, value);
    if spend <= 0.0 {
        return 0.0;
    }
    value * curve.ceiling * (1.0 - (-spend / curve.saturation).exp()) - spend
}

/// Expected clicks to the product over one post's life on `network`: the mean of the
/// log-normal first-day reach, decaying daily, times the click rate.
fn post_clicks(network: SocialNetwork) -> f64 {
    let network_model = model::network_model(network);
    let mean_reach = network_model.reach * (model::POST_REACH_SIGMA.powi(2) / 2.0).exp();
    let lifetime: f64 = (0..model::POST_LIFETIME_DAYS).map(|age| model::POST_DAILY_DECAY.powi(age as i32)).sum();
    mean_reach * lifetime * network_model.click_rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::catalogue::NicheSpec;

    /// A niche small enough to work out by hand: 25 buyers a day at 25, no rivals, no
    /// trend or yearly season, refunds of 2.1 % (so a sale keeps 95 % of its price after
    /// the card's 2.9 %), and a peak on Mondays (day 0).
    const PLAIN_SPEC: NicheSpec = NicheSpec {
        name: "plain",
        category: "templates",
        demand: 25.0,
        competition: 0.0,
        reference_price_cents: 2500,
        unit_cost_cents: 345,
        trend: 0.0,
        elasticity: 2.0,
        refund_rate: 0.021,
        yearly_amplitude: 0.0,
        yearly_peak_day: 0,
        weekday_peak: 0,
    };

    static PLAIN: NicheSpec = PLAIN_SPEC;

    /// The same, but each unit costs 18.70: at 25 a sale barely pays.
    static COSTLY: NicheSpec = NicheSpec { name: "costly", unit_cost_cents: 1870, ..PLAIN_SPEC };

    fn model_of(spec: &'static NicheSpec) -> NicheModel {
        NicheModel {
            spec,
            demand: spec.demand,
            competition: spec.competition,
            reference_price: Decimal::new(spec.reference_price_cents, 2),
            unit_cost: Decimal::new(spec.unit_cost_cents, 2),
            trend: spec.trend,
        }
    }

    fn world() -> WorldTruth {
        WorldTruth::new(vec![model_of(&PLAIN), model_of(&COSTLY)])
    }

    #[test]
    fn a_unit_earns_its_price_less_refunds_fees_and_cost() {
        // 25 × 0.95 − (3.45 + 0.30) = 20.
        let margin = world().unit_margin("plain", 25.0).expect("niche");
        assert!((margin - 20.0).abs() < 1e-9, "{margin}");
        assert_eq!(world().unit_margin("elsewhere", 25.0), None);
    }

    #[test]
    fn the_best_price_is_the_reference_when_cost_is_low_and_above_it_when_cost_is_high() {
        // Plain: above the reference, p* = 2 × 3.75 / 0.95 = 7.89 < 25, so the kink holds
        // it at 25; below it the damped elasticity (0.7) is under 1, so lower earns less.
        assert_eq!(world().best_price("plain"), Some(Decimal::new(2500, 2)));
        // Costly: p* = 2 × (18.70 + 0.30) / 0.95 = 40: 1.6^-2 = 39 % of the buyers, each
        // earning 38 − 19 = 19 (7.42 a buyer at the reference), against nothing at 25.
        assert_eq!(world().best_price("costly"), Some(Decimal::new(4000, 2)));
        let earns = |p: f64| model::price_response(p / 25.0, 2.0) * world().unit_margin("costly", p).expect("niche");
        assert!((earns(40.0) - 7.421875).abs() < 1e-9, "{}", earns(40.0));
        for other in [25.0, 30.0, 39.0, 41.0, 60.0] {
            assert!(earns(other) < earns(40.0), "{other} earns more than 40");
        }
    }

    #[test]
    fn the_best_budget_spends_until_the_next_unit_of_money_returns_one() {
        // Search in the plain niche: a = 10 buyers, k = 120. On Monday (weekly peak,
        // ×1.12) at 25 a buyer is worth 1.12 × 1.05 × 20 = 23.52, so v·a/k = 1.96 and
        // s* = 120 × ln 1.96 = 80.75.
        let budget = world().best_daily_budget("plain", AdChannel::SearchAds, 0, Decimal::new(2500, 2));
        assert_eq!(budget, Decimal::new(8075, 2));
        // Where a buyer earns almost nothing, no spend pays.
        let costly = world().best_daily_budget("costly", AdChannel::SearchAds, 0, Decimal::new(2500, 2));
        assert_eq!(costly, Decimal::ZERO);
        assert_eq!(world().best_daily_budget("elsewhere", AdChannel::SearchAds, 0, Decimal::ONE), Decimal::ZERO);
    }

    #[test]
    fn posts_go_where_they_bring_the_most_clicks() {
        // Reddit: 1,500 × 1.5 % = 22.5 first-day clicks, against TikTok's 12, YouTube's
        // 12, LinkedIn's 7.2 and X's 6.4.
        assert_eq!(world().best_network(), SocialNetwork::Reddit);
    }

    #[test]
    fn the_portfolio_takes_the_niche_that_pays_and_repeats_it_while_a_sibling_adds() {
        let portfolio = world().best_portfolio(3, 30, 0);
        // Plain pays; costly earns 7.42 a buyer at best against plain's 20, and a second
        // plain product adds its own ads and a share of the niche's extra buyers.
        assert!(!portfolio.is_empty());
        assert_eq!(portfolio[0].niche, "plain");
        assert_eq!(portfolio[0].price, Decimal::new(2500, 2));
        let names: Vec<&str> = portfolio.iter().map(|p| p.niche.as_str()).collect();
        let chosen = world().expected_profit(&names, 0, 30, 0);
        for alternative in [vec!["plain"], vec!["costly"], vec!["costly", "costly", "costly"]] {
            assert!(world().expected_profit(&alternative, 0, 30, 0) <= chosen, "{alternative:?} beats {names:?}");
        }
        assert!(world().best_portfolio(0, 30, 0).is_empty());
    }

    /// The rules of the game, at the interface: what an agent can read of the market
    /// (through `Marketplace`, the only way a swarm holds one) is what a real seller sees,
    /// and none of what the truth adds.
    #[tokio::test]
    async fn an_agent_reads_what_a_seller_sees_and_none_of_the_truth() {
        use crate::Marketplace;
        use boardroom_memory::TenantId;
        let market: std::sync::Arc<dyn Marketplace> = std::sync::Arc::new(crate::SandboxMarket::new(5));
        let snapshot = market.market_snapshot(TenantId(1)).await.expect("snapshot");
        let seen = serde_json::to_value(&snapshot).expect("json");
        for niche in seen["niches"].as_array().expect("niches") {
            let mut fields: Vec<&str> = niche.as_object().expect("niche").keys().map(String::as_str).collect();
            fields.sort_unstable();
            assert_eq!(fields, ["category", "competition", "demand", "name", "reference_price", "trend", "unit_cost"]);
        }
        let text = seen.to_string();
        for hidden in ["elasticity", "refund_rate", "yearly", "weekday", "saturation", "ceiling", "reach"] {
            assert!(!text.contains(hidden), "the snapshot shows {hidden}");
        }
    }

    #[test]
    fn expected_profit_by_hand_for_one_plain_product_on_one_monday() {
        // Organic: 25 buyers × 1.12 × 1.05 = 29.4 at 20 each = 588. Each channel at its
        // best spend: v·a − k − k·ln(v·a/k) with v = 23.52.
        let value = 1.12 * 1.05 * 20.0;
        let ads: f64 = [(10.0, 120.0), (16.0, 250.0)]
            .iter()
            .map(|&(a, k): &(f64, f64)| {
                let gain: f64 = value * a / k;
                if gain > 1.0 { value * a - k - k * gain.ln() } else { 0.0 }
            })
            .sum();
        let expected = 25.0 * value + ads;
        let profit = world().expected_profit(&["plain"], 0, 1, 0);
        assert!((profit - expected).abs() < 1e-6, "{profit} against {expected}");
    }
}
