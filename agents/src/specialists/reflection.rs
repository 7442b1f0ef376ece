//! Reflection: after each cycle, compares what happened with what was expected, adjusts
//! the tenant's strategy, and writes down the lessons.

use async_trait::async_trait;
use serde_json::Value;

use super::strategist::{STRATEGY_KEY, load_strategy};
use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::strategist::StrategyWeights;

/// A tenant's adjustable strategy, stored by the reflection agent between cycles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// How the strategist weighs niches.
    pub weights: StrategyWeights,
    /// Multiplier on the personality's ad budget, learnt from ad returns (0.3–1.5).
    pub ad_bias: f64,
}

impl Default for Strategy {
    fn default() -> Self {
        Self { weights: StrategyWeights::default(), ad_bias: 1.0 }
    }
}

/// What a cycle expected and what it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleOutcome {
    /// The niche the cycle worked on.
    pub niche: String,
    /// Revenue the plan expected.
    pub expected_revenue: Decimal,
    /// Revenue booked.
    pub actual_revenue: Decimal,
    /// Ad spend booked.
    pub ad_spend: Decimal,
    /// Revenue from buyers the ads brought.
    pub ad_revenue: Decimal,
}

/// What reflection concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reflection {
    /// The strategy for the next cycle.
    pub strategy: Strategy,
    /// (actual − expected) / expected; 0 when nothing was expected.
    pub revenue_gap: f64,
    /// Ad revenue per unit of ad spend, if anything was spent.
    pub return_on_ad_spend: Option<f64>,
    /// Whether the cycle met its expectation (within 20 %).
    pub success: bool,
    /// Lessons, one line each.
    pub lessons: Vec<String>,
}

/// Compares outcome and expectation and nudges the strategy, at most 10 % of a weight
/// per cycle so one noisy cycle cannot swing it:
/// - revenue more than 20 % short: demand estimates were too rosy — trust open markets
///   and margin more, demand less;
/// - revenue more than 20 % over: the demand signal works — lean on it and on trend;
/// - ads returning less than they cost: cut the ad bias by 0.1; more than twice their
///   cost: raise it by 0.1.
pub fn reflect(current: &Strategy, outcome: &CycleOutcome) -> Reflection {
    let expected = outcome.expected_revenue.to_f64().unwrap_or(0.0);
    let actual = outcome.actual_revenue.to_f64().unwrap_or(0.0);
    let revenue_gap = if expected > 0.0 { (actual - expected) / expected } else { 0.0 };
    let mut weights = current.weights.normalized();
    let mut lessons = Vec::new();
    if revenue_gap < -0.2 {
        let shift = weights.demand * 0.1;
        weights.demand -= shift;
        weights.competition += shift / 2.0;
        weights.margin += shift / 2.0;
        lessons.push(format!(
            "{}: revenue {:.0} % below plan; weigh open markets and margin over raw demand",
            outcome.niche,
            -revenue_gap * 100.0
        ));
    } else if revenue_gap > 0.2 {
        let shift = (weights.competition + weights.margin) * 0.05;
        weights.competition -= shift / 2.0;
        weights.margin -= shift / 2.0;
        weights.demand += shift / 2.0;
        weights.trend += shift / 2.0;
        lessons.push(format!(
            "{}: revenue {:.0} % above plan; demand signal is reliable",
            outcome.niche,
            revenue_gap * 100.0
        ));
    }
    let spend = outcome.ad_spend.abs().to_f64().unwrap_or(0.0);
    let return_on_ad_spend = (spend > 0.0).then(|| outcome.ad_revenue.to_f64().unwrap_or(0.0) / spend);
    let mut ad_bias = current.ad_bias;
    match return_on_ad_spend {
        Some(roas) if roas < 1.0 => {
            ad_bias = (ad_bias - 0.1).max(0.3);
            lessons.push(format!("ads returned {roas:.2} per unit spent; cutting ad budget"));
        }
        Some(roas) if roas > 2.0 => {
            ad_bias = (ad_bias + 0.1).min(1.5);
            lessons.push(format!("ads returned {roas:.2} per unit spent; raising ad budget"));
        }
        _ => {}
    }
    if lessons.is_empty() {
        lessons.push(format!("{}: on plan; strategy unchanged", outcome.niche));
    }
    Reflection {
        strategy: Strategy { weights: weights.normalized(), ad_bias },
        revenue_gap,
        return_on_ad_spend,
        success: revenue_gap >= -0.2,
        lessons,
    }
}

/// The reflection agent. Action `reflect` (`{"cycle", "outcome": CycleOutcome}`)
/// compares the cycle's outcome with its plan, stores the adjusted strategy and the
/// lessons, once per cycle.
#[derive(Debug, Default)]
pub struct Reflector;

#[derive(Deserialize)]
struct ReflectRequest {
    cycle: i64,
    outcome: CycleOutcome,
}

#[async_trait]
impl Agent for Reflector {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        if task.action != "reflect" {
            return unknown(context.agent, task);
        }
        let request: ReflectRequest = task.parse()?;
        let failed = |error: boardroom_memory::MemoryError| AgentError::Failed(error.to_string());
        let key = format!("reflection:{}", request.cycle);
        if let Some(done) = context.store.agent_memory(context.tenant, context.agent, &key).await.map_err(failed)? {
            return Ok(done.content);
        }
        let current = load_strategy(context).await;
        let reflection = reflect(&current, &request.outcome);
        let answer = to_value(&reflection)?;
        context
            .store
            .put_agent_memory(context.tenant, context.agent, &key, answer.clone(), None)
            .await
            .map_err(failed)?;
        context
            .store
            .put_agent_memory(context.tenant, STRATEGY_KEY.0, STRATEGY_KEY.1, to_value(&reflection.strategy)?, None)
            .await
            .map_err(failed)?;
        let summary = format!("Lessons of cycle {}: {}", request.cycle, reflection.lessons.join("; "));
        context.emit("reflection.lessons", summary, answer.clone()).await;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn outcome(expected: Decimal, actual: Decimal, spend: Decimal, ad_revenue: Decimal) -> CycleOutcome {
        CycleOutcome {
            niche: "templates".into(),
            expected_revenue: expected,
            actual_revenue: actual,
            ad_spend: spend,
            ad_revenue,
        }
    }

    #[test]
    fn a_shortfall_moves_weight_from_demand_to_openness_and_margin() {
        let before = Strategy::default();
        let after = reflect(&before, &outcome(dec!(100), dec!(50), dec!(0), dec!(0)));
        assert!(!after.success);
        assert!(after.strategy.weights.demand < before.weights.normalized().demand);
        assert!(after.strategy.weights.competition > before.weights.normalized().competition);
        assert!((after.revenue_gap + 0.5).abs() < 1e-12);
        assert!(after.lessons[0].contains("50 % below plan"));
    }

    #[test]
    fn ads_that_lose_money_lower_the_ad_bias_and_good_ones_raise_it_within_bounds() {
        let losing = reflect(&Strategy::default(), &outcome(dec!(100), dec!(100), dec!(50), dec!(20)));
        assert!((losing.strategy.ad_bias - 0.9).abs() < 1e-12);
        let floor = reflect(
            &Strategy { ad_bias: 0.3, ..Strategy::default() },
            &outcome(dec!(100), dec!(100), dec!(50), dec!(20)),
        );
        assert!((floor.strategy.ad_bias - 0.3).abs() < 1e-12);
        let winning = reflect(&Strategy::default(), &outcome(dec!(100), dec!(100), dec!(-50), dec!(150)));
        assert_eq!(winning.return_on_ad_spend, Some(3.0));
        assert!((winning.strategy.ad_bias - 1.1).abs() < 1e-12);
    }

    #[test]
    fn an_on_plan_cycle_changes_nothing_and_says_so() {
        let before = Strategy::default();
        let after = reflect(&before, &outcome(dec!(100), dec!(110), dec!(0), dec!(0)));
        assert!(after.success);
        assert_eq!(after.strategy.ad_bias, 1.0);
        let w = after.strategy.weights;
        assert!((w.demand - before.weights.normalized().demand).abs() < 1e-12);
        assert_eq!(after.lessons, ["templates: on plan; strategy unchanged"]);
    }
}
