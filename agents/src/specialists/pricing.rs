//! Pricing: a price from cost, fees, the market's reference price and the demand
//! elasticity read from the tenant's own sales, positioned by personality, never below
//! cost plus fees, and moved at most a bounded step per cycle.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// One period of the product's own sales: the price it sold at and how many units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SalesObservation {
    /// Price during the period.
    pub price: Decimal,
    /// Units sold in the period.
    pub units: u32,
}

/// Everything a price decision looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricingInput {
    /// Cost to make or deliver one unit.
    pub unit_cost: Decimal,
    /// The competitors' median price.
    pub reference_price: Decimal,
    /// The price now, if the product is already listed.
    pub current_price: Option<Decimal>,
    /// Payment fee as a fraction of the price (0.029 for 2.9 %).
    pub fee_rate: Decimal,
    /// Payment fee per sale.
    pub fee_fixed: Decimal,
    /// Multiplier on the reference price the personality aims at.
    pub positioning: Decimal,
    /// Largest relative move per cycle.
    pub max_change: Decimal,
    /// Smallest margin over cost plus fees accepted.
    pub min_margin: Decimal,
    /// The product's own sales, oldest first.
    pub history: Vec<SalesObservation>,
}

/// A price decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceQuote {
    /// The price to charge, in cents.
    pub price: Decimal,
    /// The lowest acceptable price: cost plus fees plus the minimum margin.
    pub floor: Decimal,
    /// Where the personality would like the price before the per-cycle bound.
    pub target: Decimal,
    /// The elasticity estimated from the tenant's sales, if there were enough.
    pub elasticity: Option<f64>,
    /// One line a person can read.
    pub reason: String,
}

/// Estimates price elasticity of demand from the product's own sales: the slope of
/// ln(units) against ln(price), by least squares. Needs at least three periods with
/// sales at two or more distinct prices; the result is clamped to [0.3, 4] because a
/// handful of noisy periods can produce absurd slopes.
pub fn estimate_elasticity(history: &[SalesObservation]) -> Option<f64> {
    let points: Vec<(f64, f64)> = history
        .iter()
        .filter(|o| o.units > 0 && o.price > Decimal::ZERO)
        .filter_map(|o| Some((o.price.to_f64()?.ln(), f64::from(o.units).ln())))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx < 1e-6 {
        return None; // one price only: the slope is unknowable
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some((-sxy / sxx).clamp(0.3, 4.0))
}

/// The lowest price that covers cost, both fees and the minimum margin.
pub fn price_floor(input: &PricingInput) -> Decimal {
    let keep = Decimal::ONE - input.fee_rate;
    if keep <= Decimal::ZERO {
        return Decimal::MAX;
    }
    let break_even = (input.unit_cost + input.fee_fixed) / keep;
    round_up_cents(break_even * (Decimal::ONE + input.min_margin))
}

/// Decides a price.
///
/// The personality's target is `reference × positioning`. When the tenant's own sales
/// reveal an elastic demand (ε > 1), the profit-maximising price for constant
/// elasticity, `(cost + fixed fee) / (1 − fee rate) × ε / (ε − 1)`, is blended in,
/// weighted by how much history supports it. The result never drops below the floor
/// and moves at most `max_change` from the current price in one cycle (except to climb
/// back above the floor, which always wins).
pub fn quote(input: &PricingInput) -> PriceQuote {
    let floor = price_floor(input);
    let positioned = input.reference_price * input.positioning;
    let elasticity = estimate_elasticity(&input.history);
    let target = match elasticity.filter(|e| *e > 1.05) {
        Some(e) => {
            let marginal = (input.unit_cost + input.fee_fixed) / (Decimal::ONE - input.fee_rate);
            let optimal = marginal * decimal(e / (e - 1.0));
            // Trust the data more as periods accumulate: 3 periods → 30 %, 10+ → 70 %.
            let confidence = decimal((input.history.len() as f64 / 10.0).clamp(0.3, 0.7));
            positioned * (Decimal::ONE - confidence) + optimal * confidence
        }
        None => positioned,
    };
    let bounded = match input.current_price {
        Some(current) if current > Decimal::ZERO => {
            let low = current * (Decimal::ONE - input.max_change);
            let high = current * (Decimal::ONE + input.max_change);
            target.clamp(low, high)
        }
        _ => target,
    };
    let price = round_cents(bounded).max(floor);
    let reason = if price == floor {
        format!("held at the floor {floor}: cost, fees and the minimum margin")
    } else {
        // What the tenant's own sales say about demand, where the price is heading and
        // whether the per-cycle bound held it back: a sentence an owner can follow.
        let inelastic = elasticity.filter(|e| *e <= 1.05);
        let demand = match (elasticity, inelastic, input.current_price) {
            (_, Some(e), Some(current)) if price > current => {
                format!("demand held at the higher price (elasticity {e:.2} from own sales)")
            }
            (_, Some(e), _) => format!("demand barely reacts to price (elasticity {e:.2} from own sales)"),
            (Some(e), None, _) => format!("buyers react to price (elasticity {e:.2} from own sales)"),
            (None, _, _) => "too few sales yet to read demand".to_owned(),
        };
        let positioning = format!("{}× the market's {}", input.positioning.normalize(), input.reference_price);
        let aim = if elasticity.is_some() && inelastic.is_none() {
            format!("aiming at {} between {positioning} and the price that earns most", round_cents(target))
        } else {
            format!("aiming at {}, {positioning}", round_cents(target))
        };
        let bounded_step = if round_cents(bounded) == round_cents(target) {
            String::new()
        } else {
            format!(", moving at most {} % a cycle", (input.max_change * Decimal::ONE_HUNDRED).normalize())
        };
        format!("{demand}; {aim}{bounded_step}")
    };
    PriceQuote { price, floor, target: round_cents(target), elasticity, reason }
}

fn decimal(value: f64) -> Decimal {
    Decimal::from_f64(value).unwrap_or(Decimal::ONE)
}

fn round_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn round_up_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::AwayFromZero)
}

/// Payment fee rate used when the caller does not give one (card payments).
pub const DEFAULT_FEE_RATE: Decimal = Decimal::from_parts(29, 0, 0, false, 3);
/// Payment fee per sale used when the caller does not give one.
pub const DEFAULT_FEE_FIXED: Decimal = Decimal::from_parts(30, 0, 0, false, 2);

/// The pricing agent. Action `quote` prices a product from its cost, the market and its
/// own sales, positioned by the personality; the rules' floor and per-cycle bound hold
/// whatever the brain answers.
#[derive(Debug, Default)]
pub struct Pricer;

#[derive(Deserialize)]
struct QuoteRequest {
    unit_cost: Decimal,
    reference_price: Decimal,
    #[serde(default)]
    current_price: Option<Decimal>,
    #[serde(default)]
    fee_rate: Option<Decimal>,
    #[serde(default)]
    fee_fixed: Option<Decimal>,
    #[serde(default)]
    history: Vec<SalesObservation>,
}

#[async_trait]
impl Agent for Pricer {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        if task.action != "quote" {
            return unknown(context.agent, task);
        }
        let request: QuoteRequest = task.parse()?;
        if request.unit_cost < Decimal::ZERO || request.reference_price <= Decimal::ZERO {
            return Err(AgentError::InvalidInput("quote: unit_cost must be ≥ 0 and reference_price > 0".into()));
        }
        let decisions = &context.personality.decisions;
        let input = PricingInput {
            unit_cost: request.unit_cost,
            reference_price: request.reference_price,
            current_price: request.current_price,
            fee_rate: request.fee_rate.unwrap_or(DEFAULT_FEE_RATE),
            fee_fixed: request.fee_fixed.unwrap_or(DEFAULT_FEE_FIXED),
            positioning: decisions.price_positioning,
            max_change: decisions.max_price_change,
            min_margin: decisions.min_margin,
            history: request.history,
        };
        let proposal = quote(&input);
        let floor = proposal.floor.to_f64().unwrap_or(0.0);
        let shape = ExpectedShape::object().number("price", Some(floor), None).string("reason", 500);
        let decided = context
            .decide(
                "Set the product's price.",
                to_value(&input)?,
                json!({ "price": proposal.price.to_f64(), "reason": proposal.reason }),
                shape,
            )
            .await?;
        // Guard rails: whatever was decided, never below the floor and never more than
        // the bounded step from the current price.
        let mut chosen =
            decided.decision["price"].as_f64().and_then(Decimal::from_f64).map_or(proposal.price, round_cents);
        if let Some(current) = input.current_price.filter(|c| *c > Decimal::ZERO) {
            chosen =
                chosen.clamp(current * (Decimal::ONE - input.max_change), current * (Decimal::ONE + input.max_change));
        }
        let price = round_cents(chosen).max(proposal.floor);
        Ok(json!({
            "price": price,
            "floor": proposal.floor,
            "target": proposal.target,
            "elasticity": proposal.elasticity,
            "reason": proposal.reason,
            "source": decided.source.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn input() -> PricingInput {
        PricingInput {
            unit_cost: dec!(5),
            reference_price: dec!(40),
            current_price: None,
            fee_rate: dec!(0.029),
            fee_fixed: dec!(0.30),
            positioning: dec!(1.10),
            max_change: dec!(0.10),
            min_margin: dec!(0.20),
            history: Vec::new(),
        }
    }

    fn history(points: &[(Decimal, u32)]) -> Vec<SalesObservation> {
        points.iter().map(|&(price, units)| SalesObservation { price, units }).collect()
    }

    #[test]
    fn without_history_the_price_is_the_positioned_reference() {
        let quote = quote(&input());
        assert_eq!(quote.price, dec!(44.00));
        assert_eq!(quote.elasticity, None);
    }

    #[test]
    fn the_floor_covers_cost_fees_and_margin_and_always_wins() {
        let cheap_market = PricingInput { reference_price: dec!(3), ..input() };
        let quote = quote(&cheap_market);
        // (5 + 0.30) / 0.971 × 1.2 = 6.5499… → rounded up to 6.55
        assert_eq!(quote.floor, dec!(6.55));
        assert_eq!(quote.price, dec!(6.55));
        assert!(quote.price * (Decimal::ONE - dec!(0.029)) - dec!(0.30) > dec!(5), "a sale never loses money");
    }

    #[test]
    fn elasticity_is_read_from_the_tenants_own_sales() {
        // units = 4000 · p^-2 exactly → slope −2
        let sales = history(&[(dec!(10), 40), (dec!(20), 10), (dec!(5), 160)]);
        let e = estimate_elasticity(&sales).expect("enough data");
        assert!((e - 2.0).abs() < 0.05, "{e}");
        assert_eq!(
            estimate_elasticity(&history(&[(dec!(10), 5), (dec!(10), 7), (dec!(10), 6)])),
            None,
            "one price says nothing"
        );
        assert_eq!(estimate_elasticity(&history(&[(dec!(10), 5)])), None);
    }

    #[test]
    fn elastic_demand_pulls_the_price_towards_the_profit_optimum() {
        // ε = 2 ⇒ optimum = (5 + 0.3) / 0.971 × 2 ≈ 10.92, far below the positioned 44.
        let sales = history(&[(dec!(10), 40), (dec!(20), 10), (dec!(5), 160), (dec!(10), 40)]);
        let with_data = quote(&PricingInput { history: sales, ..input() });
        assert!(with_data.target < dec!(44) && with_data.target > dec!(10.92), "{with_data:?}");
    }

    #[test]
    fn the_reason_says_what_demand_did_where_the_price_heads_and_what_held_it_back() {
        assert_eq!(quote(&input()).reason, "too few sales yet to read demand; aiming at 44.00, 1.1× the market's 40");
        let capped = quote(&PricingInput { current_price: Some(dec!(20)), ..input() });
        assert!(capped.reason.ends_with(", moving at most 10 % a cycle"), "{}", capped.reason);
        // Sales that held up as the price rose: units barely fell.
        let steady = history(&[(dec!(18), 10), (dec!(19), 10), (dec!(20), 9)]);
        let held = quote(&PricingInput { current_price: Some(dec!(20)), history: steady, ..input() });
        assert!(held.reason.starts_with("demand held at the higher price (elasticity"), "{}", held.reason);
        let floor = quote(&PricingInput { reference_price: dec!(3), ..input() });
        assert_eq!(floor.reason, "held at the floor 6.55: cost, fees and the minimum margin");
    }

    #[test]
    fn a_cycle_moves_the_price_at_most_the_bounded_step() {
        let up = quote(&PricingInput { current_price: Some(dec!(20)), ..input() });
        assert_eq!(up.price, dec!(22.00), "capped at +10 %");
        let down = quote(&PricingInput { current_price: Some(dec!(80)), ..input() });
        assert_eq!(down.price, dec!(72.00), "capped at −10 %");
    }

    #[test]
    fn positioning_orders_prices_like_the_personalities() {
        let hustle = quote(&PricingInput { positioning: dec!(0.85), ..input() }).price;
        let coach = quote(&PricingInput { positioning: dec!(1.10), ..input() }).price;
        let luxury = quote(&PricingInput { positioning: dec!(1.80), ..input() }).price;
        assert!(hustle < coach && coach < luxury);
    }
}
