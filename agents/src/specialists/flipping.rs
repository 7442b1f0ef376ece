//! Flipping: buy low, resell higher. Works out what a resale really nets after platform
//! fees, payment fees and shipping, the expected return and the chance of a loss, and
//! says go or no-go by the personality's risk tolerance.

use async_trait::async_trait;
use serde_json::Value;

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

/// A possible flip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    /// What the item costs to acquire.
    pub buy_price: Decimal,
    /// The price it is expected to resell at.
    pub expected_sale_price: Decimal,
    /// The resale platform's commission as a fraction of the sale price.
    pub platform_fee_rate: Decimal,
    /// Payment processing fee as a fraction.
    pub payment_fee_rate: Decimal,
    /// Payment processing fee per sale.
    pub payment_fee_fixed: Decimal,
    /// Shipping and handling to deliver it.
    pub shipping: Decimal,
    /// Chance (0–1) that it sells at the expected price within the holding period.
    pub sell_probability: f64,
    /// What it fetches if it does not sell as hoped (clearance), as a fraction of the
    /// expected sale price.
    pub salvage_fraction: Decimal,
}

/// The numbers of a flip and the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlipAnalysis {
    /// What a sale at the expected price leaves after all fees and shipping.
    pub net_proceeds: Decimal,
    /// Net proceeds minus the buy price.
    pub profit: Decimal,
    /// Expected profit over the buy price, weighing the clearance outcome.
    pub expected_roi: f64,
    /// Chance of losing money.
    pub loss_probability: f64,
    /// Whether to do it.
    pub go: bool,
    /// One line a person can read.
    pub reason: String,
}

/// What a sale at `price` leaves after fees and shipping.
fn net_of_fees(deal: &Deal, price: Decimal) -> Decimal {
    price * (Decimal::ONE - deal.platform_fee_rate - deal.payment_fee_rate) - deal.payment_fee_fixed - deal.shipping
}

/// Analyses a flip; `accepts(expected_roi, loss_probability)` is the personality's
/// risk rule.
pub fn analyze(deal: &Deal, accepts: impl Fn(f64, f64) -> bool) -> FlipAnalysis {
    let net_proceeds = net_of_fees(deal, deal.expected_sale_price).round_dp(2);
    let profit = net_proceeds - deal.buy_price;
    let clearance = net_of_fees(deal, deal.expected_sale_price * deal.salvage_fraction) - deal.buy_price;
    let sell = deal.sell_probability.clamp(0.0, 1.0);
    let buy = deal.buy_price.to_f64().unwrap_or(0.0);
    let expected_profit = sell * profit.to_f64().unwrap_or(0.0) + (1.0 - sell) * clearance.to_f64().unwrap_or(0.0);
    let expected_roi = if buy > 0.0 { expected_profit / buy } else { 0.0 };
    let loss_probability = match (profit < Decimal::ZERO, clearance < Decimal::ZERO) {
        (true, _) => 1.0,
        (false, true) => 1.0 - sell,
        (false, false) => 0.0,
    };
    let valid = deal.buy_price > Decimal::ZERO && deal.expected_sale_price > Decimal::ZERO;
    let go = valid && profit > Decimal::ZERO && accepts(expected_roi, loss_probability);
    let reason = if !valid {
        "buy and sale prices must be positive".to_owned()
    } else if profit <= Decimal::ZERO {
        format!("no-go: fees and shipping eat the margin (profit {profit})")
    } else if go {
        format!("go: expected ROI {:.0} %, loss chance {:.0} %", expected_roi * 100.0, loss_probability * 100.0)
    } else {
        format!(
            "no-go for this risk profile: expected ROI {:.0} %, loss chance {:.0} %",
            expected_roi * 100.0,
            loss_probability * 100.0
        )
    };
    FlipAnalysis { net_proceeds, profit, expected_roi, loss_probability, go, reason }
}

/// The flipping agent. Action `analyze_deal` (a [`Deal`]) answers with the numbers and
/// a go/no-go by the personality's risk rule.
#[derive(Debug, Default)]
pub struct Flipper;

#[async_trait]
impl Agent for Flipper {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        if task.action != "analyze_deal" {
            return unknown(context.agent, task);
        }
        let deal: Deal = task.parse()?;
        let decisions = &context.personality.decisions;
        let analysis = analyze(&deal, |roi, loss| decisions.risk_accepts(roi, loss));
        context.emit("flipping.analyzed", analysis.reason.clone(), to_value(&analysis)?).await;
        to_value(&analysis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn deal() -> Deal {
        Deal {
            buy_price: dec!(100),
            expected_sale_price: dec!(180),
            platform_fee_rate: dec!(0.10),
            payment_fee_rate: dec!(0.029),
            payment_fee_fixed: dec!(0.30),
            shipping: dec!(12),
            sell_probability: 0.8,
            salvage_fraction: dec!(0.5),
        }
    }

    #[test]
    fn fees_and_shipping_come_off_the_sale() {
        let analysis = analyze(&deal(), |_, _| true);
        // 180 × (1 − 0.129) − 0.30 − 12 = 144.48
        assert_eq!(analysis.net_proceeds, dec!(144.48));
        assert_eq!(analysis.profit, dec!(44.48));
        // clearance: 90 × 0.871 − 12.30 − 100 = −33.91; E = 0.8·44.48 + 0.2·(−33.91)
        assert!((analysis.expected_roi - (0.8 * 44.48 - 0.2 * 33.91) / 100.0).abs() < 1e-9);
        assert!((analysis.loss_probability - 0.2).abs() < 1e-12);
        assert!(analysis.go);
    }

    #[test]
    fn a_flip_whose_fees_eat_the_margin_is_refused_whatever_the_appetite() {
        let thin = Deal { expected_sale_price: dec!(120), ..deal() };
        let analysis = analyze(&thin, |_, _| true);
        assert!(analysis.profit < Decimal::ZERO);
        assert!(!analysis.go);
        assert!(analysis.reason.contains("eat the margin"));
    }

    #[test]
    fn the_risk_rule_decides_between_careful_and_bold() {
        let careful = |roi: f64, loss: f64| roi >= 0.5 && loss <= 0.1;
        let bold = |roi: f64, loss: f64| roi >= 0.1 && loss <= 0.4;
        assert!(!analyze(&deal(), careful).go);
        assert!(analyze(&deal(), bold).go);
    }

    #[test]
    fn nonsense_prices_are_a_no_go_not_a_panic() {
        let analysis = analyze(&Deal { buy_price: Decimal::ZERO, ..deal() }, |_, _| true);
        assert!(!analysis.go);
        assert_eq!(analysis.expected_roi, 0.0);
    }
}
