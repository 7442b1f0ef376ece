//! Strategist: scores niches from market insights — demand in money, competition, margin,
//! trend and fit with the personality — and ranks the opportunities.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::reflection::Strategy;
use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use crate::copywriting;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

/// What the strategist knows of one niche: the market's own description of it.
pub use boardroom_adapters::Niche as NicheFacts;

/// How much each factor counts; the reflection agent tunes these per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrategyWeights {
    /// Weight of demand in money (buyers a day × what each leaves above cost).
    pub demand: f64,
    /// Weight of low competition.
    pub competition: f64,
    /// Weight of margin.
    pub margin: f64,
    /// Weight of trend.
    pub trend: f64,
    /// Weight of personality fit.
    pub fit: f64,
}

impl Default for StrategyWeights {
    fn default() -> Self {
        Self { demand: 0.3, competition: 0.2, margin: 0.2, trend: 0.15, fit: 0.15 }
    }
}

impl StrategyWeights {
    /// The same weights scaled to sum to 1 (defaults when all are zero or invalid).
    pub fn normalized(&self) -> Self {
        let parts = [self.demand, self.competition, self.margin, self.trend, self.fit];
        if parts.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Self::default();
        }
        let total: f64 = parts.iter().sum();
        if total <= 0.0 {
            return Self::default();
        }
        Self {
            demand: self.demand / total,
            competition: self.competition / total,
            margin: self.margin / total,
            trend: self.trend / total,
            fit: self.fit / total,
        }
    }
}

/// A scored niche, with the parts of its score so a person can see why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    /// Niche name.
    pub niche: String,
    /// Overall score, 0 to 1.
    pub score: f64,
    /// Demand in money: buyers a day × what each leaves above the unit cost at the
    /// market's price, relative to the best niche, 0 to 1.
    pub demand: f64,
    /// 1 − competition.
    pub openness: f64,
    /// Gross margin at the reference price, 0 to 1.
    pub margin: f64,
    /// Trend mapped to 0 to 1.
    pub trend: f64,
    /// Fit with the personality's preferred products, 0.2 to 1.
    pub fit: f64,
}

/// Scores and ranks niches, best first. `preferences` are the personality's preferred
/// product categories, most preferred first; `risk_appetite` (0–1) shifts weight from
/// safety (open, proven markets) to growth (trend) — a bold profile chases rising
/// niches, a careful one avoids crowded ones. Ties keep input order (stable sort), so
/// the ranking is deterministic.
pub fn rank_opportunities(
    niches: &[NicheFacts],
    preferences: &[String],
    risk_appetite: f64,
    weights: &StrategyWeights,
) -> Vec<Opportunity> {
    let weights = weights.normalized();
    let risk = risk_appetite.clamp(0.0, 1.0);
    let max_earnings = niches.iter().map(earnings_a_day).fold(0.0_f64, f64::max);
    let mut ranked: Vec<Opportunity> = niches
        .iter()
        .map(|niche| {
            let demand = if max_earnings > 0.0 { (earnings_a_day(niche) / max_earnings).clamp(0.0, 1.0) } else { 0.0 };
            let openness = 1.0 - niche.competition.clamp(0.0, 1.0);
            let margin = gross_margin(niche.reference_price, niche.unit_cost);
            let trend = (niche.trend.clamp(-1.0, 1.0) + 1.0) / 2.0;
            let fit = fit(&niche.category, preferences);
            let score = weights.demand * demand
                + weights.competition * openness * (1.5 - risk)
                + weights.margin * margin
                + weights.trend * trend * (0.5 + risk)
                + weights.fit * fit;
            Opportunity { niche: niche.name.clone(), score, demand, openness, margin, trend, fit }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked
}

/// Why an opportunity ranks where it does, in words an owner reads: its strongest
/// parts, by what they add to the score ("rising demand, little competition").
pub fn reason(opportunity: &Opportunity, weights: &StrategyWeights) -> String {
    let weights = weights.normalized();
    // Each part that is notably strong, with what it contributes to the score.
    let mut strengths: Vec<(f64, &str)> = [
        (opportunity.trend >= 0.6, weights.trend * opportunity.trend, "rising demand"),
        (opportunity.demand >= 0.8, weights.demand * opportunity.demand, "strong demand"),
        (opportunity.openness >= 0.6, weights.competition * opportunity.openness, "little competition"),
        (opportunity.margin >= 0.75, weights.margin * opportunity.margin, "wide margins"),
        (opportunity.fit >= 0.8, weights.fit * opportunity.fit, "a fit with the products this personality prefers"),
    ]
    .into_iter()
    .filter(|(strong, _, _)| *strong)
    .map(|(_, contribution, words)| (contribution, words))
    .collect();
    strengths.sort_by(|a, b| b.0.total_cmp(&a.0));
    match strengths.as_slice() {
        [] => "the best balance of demand, competition and margin on offer".to_owned(),
        [only] => only.1.to_owned(),
        [first, second, ..] => format!("{}, {}", first.1, second.1),
    }
}

/// What a niche's buyers leave above cost in a day at the market's price: the money its
/// demand is worth. Buyers alone would rank a 9-dollar planner that 40 people buy a day
/// (350 a day above cost) over a 399-dollar course that 4 people buy (1,436 a day).
fn earnings_a_day(niche: &NicheFacts) -> f64 {
    let per_buyer = (niche.reference_price - niche.unit_cost).to_f64().unwrap_or(0.0).max(0.0);
    // A demand past f64's range counts as the largest there is, not as infinity.
    (niche.demand.max(0.0) * per_buyer).min(f64::MAX)
}

fn gross_margin(price: Decimal, cost: Decimal) -> f64 {
    if price <= Decimal::ZERO {
        return 0.0;
    }
    ((price - cost) / price).to_f64().unwrap_or(0.0).clamp(0.0, 1.0)
}

/// 1.0 for the first preference, 0.8 for the second, 0.6 for the third, …, 0.2 for
/// categories the personality does not list.
fn fit(category: &str, preferences: &[String]) -> f64 {
    preferences
        .iter()
        .position(|preferred| preferred.eq_ignore_ascii_case(category))
        .map_or(0.2, |rank| (1.0 - 0.2 * rank as f64).max(0.4))
}

/// The strategist agent. Action `rank_niches` (`{"niches": [NicheFacts]}`, or no input
/// to read the market) ranks the opportunities and picks one, through the brain: the
/// best niche the business does not sell in yet, while there is one.
#[derive(Debug, Default)]
pub struct Strategist;

/// Where the reflection agent keeps a tenant's strategy.
pub const STRATEGY_KEY: (&str, &str) = ("reflection", "strategy");

/// The tenant's current strategy (defaults until reflection has written one).
pub async fn load_strategy(context: &AgentContext) -> Strategy {
    match context.store.agent_memory(context.tenant, STRATEGY_KEY.0, STRATEGY_KEY.1).await {
        Ok(Some(memory)) => serde_json::from_value(memory.content).unwrap_or_default(),
        _ => Strategy::default(),
    }
}

#[derive(Deserialize)]
struct RankRequest {
    #[serde(default)]
    niches: Option<Vec<NicheFacts>>,
}

#[async_trait]
impl Agent for Strategist {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        if task.action != "rank_niches" {
            return unknown(context.agent, task);
        }
        let request: RankRequest = task.parse()?;
        let niches = match request.niches {
            Some(niches) => niches,
            None => {
                context
                    .market
                    .market_snapshot(context.tenant)
                    .await
                    .map_err(|error| AgentError::Failed(error.to_string()))?
                    .niches
            }
        };
        if niches.is_empty() {
            return Err(AgentError::InvalidInput("rank_niches: no niches to rank".into()));
        }
        let strategy = load_strategy(context).await;
        let decisions = &context.personality.decisions;
        let ranked = rank_opportunities(
            &niches,
            &context.personality.product_preferences,
            decisions.risk_appetite,
            &strategy.weights,
        );
        // Niches the business sells in already are ranked like the others, but the
        // choice is the best one it does not sell in yet: a second product in a niche
        // splits its buyers rather than finding new ones.
        let selling: Vec<String> = context
            .store
            .products(context.tenant)
            .await
            .map_err(|error| AgentError::Failed(error.to_string()))?
            .into_iter()
            .map(|product| product.niche)
            .collect();
        let new = |niche: &str| !selling.iter().any(|sold| sold == niche);
        let best = ranked.iter().find(|o| new(&o.niche)).unwrap_or(&ranked[0]);
        let proposal = json!({ "niche": best.niche, "reason": reason(best, &strategy.weights) });
        let shape = ExpectedShape::object().string("niche", 100).string("reason", 500);
        let decided =
            context.decide("Pick the niche to launch next.", to_value(&ranked)?, proposal.clone(), shape).await?;
        // The brain may only choose among the ranked niches, and a new one while there is.
        let allowed = |niche: &str| new(niche) || !new(&best.niche);
        let choice =
            if ranked.iter().any(|o| Some(o.niche.as_str()) == decided.decision["niche"].as_str() && allowed(&o.niche))
            {
                decided.decision
            } else {
                proposal
            };
        let chosen = copywriting::in_sentence(choice["niche"].as_str().unwrap_or("?"));
        let summary = match choice["reason"].as_str().map(str::trim).filter(|why| !why.is_empty()) {
            Some(why) => format!("Ranked {} niches and chose {chosen}: {why}", ranked.len()),
            None => format!("Ranked {} niches and chose {chosen}", ranked.len()),
        };
        context
            .emit("strategist.ranked", summary, json!({ "choice": choice, "source": decided.source.to_string() }))
            .await;
        Ok(json!({ "opportunities": ranked, "choice": choice, "source": decided.source.to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn niche(name: &str, category: &str, demand: f64, competition: f64, trend: f64) -> NicheFacts {
        NicheFacts {
            name: name.into(),
            category: category.into(),
            demand,
            competition,
            reference_price: dec!(40),
            unit_cost: dec!(8),
            trend,
        }
    }

    #[test]
    fn demand_openness_and_fit_each_raise_the_score() {
        let prefs = vec!["courses".to_string()];
        let niches = [
            niche("crowded", "courses", 50.0, 0.9, 0.0),
            niche("open", "courses", 50.0, 0.1, 0.0),
            niche("unfit", "templates", 50.0, 0.1, 0.0),
        ];
        let ranked = rank_opportunities(&niches, &prefs, 0.5, &StrategyWeights::default());
        let names: Vec<&str> = ranked.iter().map(|o| o.niche.as_str()).collect();
        assert_eq!(names, ["open", "unfit", "crowded"]);
        assert!(ranked.iter().all(|o| (0.0..=1.0).contains(&o.score)));
    }

    #[test]
    fn demand_counts_in_money_so_a_few_buyers_of_a_dear_product_beat_many_of_a_cheap_one() {
        let planners =
            NicheFacts { reference_price: dec!(9), unit_cost: dec!(0.25), ..niche("planners", "x", 40.0, 0.5, 0.0) };
        let course =
            NicheFacts { reference_price: dec!(399), unit_cost: dec!(40), ..niche("course", "x", 4.0, 0.5, 0.0) };
        let ranked = rank_opportunities(&[planners, course], &[], 0.5, &StrategyWeights::default());
        assert_eq!(ranked[0].niche, "course");
        assert_eq!(ranked[0].demand, 1.0);
        // 40 × 8.75 = 350 against 4 × 359 = 1,436.
        assert!((ranked[1].demand - 350.0 / 1436.0).abs() < 1e-9, "{}", ranked[1].demand);
    }

    #[test]
    fn a_niche_that_cannot_earn_scores_no_demand_and_nothing_breaks_on_extremes() {
        let at_a_loss =
            NicheFacts { reference_price: dec!(5), unit_cost: dec!(9), ..niche("loss", "x", 1e300, 0.5, 0.0) };
        let empty = niche("empty", "x", 0.0, 0.5, 0.0);
        let ranked = rank_opportunities(&[at_a_loss, empty], &[], 0.5, &StrategyWeights::default());
        assert!(ranked.iter().all(|o| o.demand == 0.0 && o.score.is_finite()));
        let huge = NicheFacts {
            reference_price: Decimal::MAX,
            unit_cost: Decimal::ZERO,
            ..niche("huge", "x", f64::MAX, 0.5, 0.0)
        };
        let ranked =
            rank_opportunities(&[huge, niche("small", "x", 1.0, 0.5, 0.0)], &[], 0.5, &StrategyWeights::default());
        assert_eq!(ranked[0].niche, "huge");
        assert!(ranked.iter().all(|o| o.score.is_finite() && (0.0..=1.0).contains(&o.demand)));
    }

    #[test]
    fn a_bold_personality_prefers_the_rising_crowded_niche_and_a_careful_one_the_quiet_open_one() {
        let prefs: Vec<String> = Vec::new();
        let niches = [niche("rising", "x", 40.0, 0.7, 0.9), niche("quiet", "x", 40.0, 0.2, -0.2)];
        let bold = rank_opportunities(&niches, &prefs, 1.0, &StrategyWeights::default());
        let careful = rank_opportunities(&niches, &prefs, 0.0, &StrategyWeights::default());
        assert_eq!(bold[0].niche, "rising");
        assert_eq!(careful[0].niche, "quiet");
    }

    #[test]
    fn the_reason_names_the_strongest_parts_of_the_score_in_words() {
        let prefs = vec!["courses".to_string()];
        let niches = [niche("rising", "templates", 50.0, 0.2, 0.9), niche("flat", "templates", 10.0, 0.95, -1.0)];
        let weights = StrategyWeights::default();
        let ranked = rank_opportunities(&niches, &prefs, 0.5, &weights);
        // Demand counts most by default; little competition and wide margins tie next,
        // and the first listed of a tie leads.
        assert_eq!(reason(&ranked[0], &weights), "strong demand, little competition");
        let flat = ranked.iter().find(|o| o.niche == "flat").expect("ranked");
        assert_eq!(reason(flat, &weights), "wide margins");
        let dull = Opportunity {
            niche: "x".into(),
            score: 0.1,
            demand: 0.1,
            openness: 0.1,
            margin: 0.1,
            trend: 0.1,
            fit: 0.2,
        };
        assert_eq!(reason(&dull, &weights), "the best balance of demand, competition and margin on offer");
    }

    #[test]
    fn weights_normalise_and_bad_weights_fall_back_to_defaults() {
        let w = StrategyWeights { demand: 2.0, competition: 2.0, margin: 2.0, trend: 2.0, fit: 2.0 }.normalized();
        assert!((w.demand + w.competition + w.margin + w.trend + w.fit - 1.0).abs() < 1e-12);
        let bad = StrategyWeights { demand: f64::NAN, ..StrategyWeights::default() }.normalized();
        assert_eq!(bad, StrategyWeights::default().normalized());
        assert_eq!(fit("Courses", &["courses".into()]), 1.0);
        assert_eq!(fit("x", &["courses".into()]), 0.2);
    }
}
