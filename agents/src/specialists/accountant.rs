//! Accountant: the ledger's arithmetic. Profit and loss per period, the platform's fee
//! split (the user keeps 90–95 %), a tax reserve, and the reinvestment budget once
//! retained profit passes the threshold, split the personality's way.

use async_trait::async_trait;
use boardroom_memory::{MemoryError, NewEvent, NewLedgerEntry};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ack, to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

/// Ledger categories the swarm books. Money in is positive, money out negative.
pub mod category {
    /// A sale.
    pub const REVENUE: &str = "revenue";
    /// Money returned to a buyer.
    pub const REFUND: &str = "refund";
    /// Payment processing fees.
    pub const PAYMENT_FEE: &str = "payment_fee";
    /// Boardroom's share of the user's profit.
    pub const PLATFORM_FEE: &str = "platform_fee";
    /// Paid advertising.
    pub const AD_SPEND: &str = "ad_spend";
    /// Content production.
    pub const CONTENT_SPEND: &str = "content_spend";
    /// Tools and services.
    pub const TOOLS_SPEND: &str = "tools_spend";
}

/// A period's profit and loss.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfitAndLoss {
    /// Sales.
    pub revenue: Decimal,
    /// Refunds (negative or zero).
    pub refunds: Decimal,
    /// Payment and platform fees (negative or zero).
    pub fees: Decimal,
    /// Ad spend (negative or zero).
    pub ad_spend: Decimal,
    /// Everything else spent (negative or zero).
    pub other_spend: Decimal,
    /// The sum of all the above.
    pub net_profit: Decimal,
}

/// Sums `(category, amount)` rows into a P&L. Unknown categories count as other spend
/// (or other income when positive), so nothing booked is ever left out of the net.
pub fn profit_and_loss<'a>(rows: impl IntoIterator<Item = (&'a str, Decimal)>) -> ProfitAndLoss {
    let mut pnl = ProfitAndLoss::default();
    for (kind, amount) in rows {
        match kind {
            category::REVENUE => pnl.revenue += amount,
            category::REFUND => pnl.refunds += amount,
            category::PAYMENT_FEE | category::PLATFORM_FEE => pnl.fees += amount,
            category::AD_SPEND => pnl.ad_spend += amount,
            _ => pnl.other_spend += amount,
        }
        pnl.net_profit += amount;
    }
    pnl
}

/// The platform's cut of a profit by subscription tier: free 10 %, pro 7 %,
/// enterprise 5 % — the user keeps 90–95 %.
pub fn platform_fee_rate(tier: boardroom_memory::Tier) -> Decimal {
    match tier {
        boardroom_memory::Tier::Free => dec!(0.10),
        boardroom_memory::Tier::Pro => dec!(0.07),
        boardroom_memory::Tier::Enterprise => dec!(0.05),
    }
}

/// How a positive profit is shared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitSplit {
    /// The platform's fee.
    pub platform_fee: Decimal,
    /// Put aside for taxes.
    pub tax_reserve: Decimal,
    /// What the user keeps.
    pub retained: Decimal,
}

/// Splits a period's net profit: the platform's fee first, then the tax reserve on the
/// rest; a loss has no fee and no reserve. Cents round half away from zero and the
/// parts always add up to the profit exactly.
pub fn split_profit(net_profit: Decimal, fee_rate: Decimal, tax_rate: Decimal) -> ProfitSplit {
    if net_profit <= Decimal::ZERO {
        return ProfitSplit { platform_fee: Decimal::ZERO, tax_reserve: Decimal::ZERO, retained: net_profit };
    }
    let platform_fee = cents(net_profit * fee_rate);
    let tax_reserve = cents((net_profit - platform_fee) * tax_rate);
    ProfitSplit { platform_fee, tax_reserve, retained: net_profit - platform_fee - tax_reserve }
}

/// The part of a budget that goes to each of ads, content and tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReinvestmentPlan {
    /// Total to reinvest now.
    pub total: Decimal,
    /// Ad budget.
    pub ads: Decimal,
    /// Content budget.
    pub content: Decimal,
    /// Tools budget.
    pub tools: Decimal,
}

/// The reinvestment budget: nothing until retained profit (minus what was already
/// reinvested) passes `threshold`; then `rate` of the excess, split by the personality's
/// ads/content/tools shares. Tools takes the rounding remainder so the parts sum
/// exactly to the total.
pub fn reinvestment(
    retained_profit: Decimal,
    already_reinvested: Decimal,
    threshold: Decimal,
    rate: Decimal,
    shares: (Decimal, Decimal, Decimal),
) -> ReinvestmentPlan {
    let excess = retained_profit - already_reinvested - threshold;
    if excess <= Decimal::ZERO || rate <= Decimal::ZERO {
        let zero = Decimal::ZERO;
        return ReinvestmentPlan { total: zero, ads: zero, content: zero, tools: zero };
    }
    let total = cents(excess * rate.min(Decimal::ONE));
    let ads = cents(total * shares.0);
    let content = cents(total * shares.1);
    ReinvestmentPlan { total, ads, content, tools: total - ads - content }
}

fn cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Retained profit past which reinvestment starts (the spec's trigger).
pub const DEFAULT_REINVESTMENT_THRESHOLD: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
/// Share of taxable profit put aside.
pub const DEFAULT_TAX_RATE: Decimal = Decimal::from_parts(25, 0, 0, false, 2);

/// The accountant agent. Actions: `book` (`{"entries": [...]}`; a transaction id
/// already booked is skipped, so re-booking after a crash is harmless), `pnl`
/// (`{"from", "to"}`), `plan_reinvestment` (`{"cycle", "threshold"?}`; once per cycle —
/// asking again for the same cycle returns the same plan).
#[derive(Debug, Default)]
pub struct Accountant;

/// One ledger row to book.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Booking {
    /// Where the money came from or went.
    pub source: String,
    /// Exact amount; money out is negative.
    pub amount: Decimal,
    /// One of [`category`].
    pub category: String,
    /// The platform's transaction id: the key that makes booking idempotent.
    pub transaction_id: String,
    /// Details.
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Deserialize)]
struct BookRequest {
    entries: Vec<Booking>,
}

#[derive(Deserialize)]
struct PeriodRequest {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ReinvestRequest {
    cycle: i64,
    #[serde(default)]
    threshold: Option<Decimal>,
}

/// Agent-memory keys of the per-cycle reinvestment plans start with this.
const PLAN_KEY_PREFIX: &str = "reinvestment:";

/// Everything reinvested so far: the sum of the per-cycle plans the accountant
/// recorded.
pub async fn reinvested_so_far(context: &AgentContext) -> Result<Decimal, AgentError> {
    let plans = context
        .store
        .agent_memories(context.tenant, "accountant")
        .await
        .map_err(|error| AgentError::Failed(error.to_string()))?;
    Ok(plans
        .iter()
        .filter(|memory| memory.key.starts_with(PLAN_KEY_PREFIX))
        .filter_map(|memory| serde_json::from_value::<Decimal>(memory.content["plan"]["total"].clone()).ok())
        .sum())
}

impl Accountant {
    async fn book(context: &AgentContext, request: BookRequest) -> Result<Value, AgentError> {
        let (mut booked, mut duplicates, mut net) = (0, 0, Decimal::ZERO);
        for entry in request.entries {
            let row = NewLedgerEntry {
                tenant_id: context.tenant,
                source: entry.source,
                amount: entry.amount,
                category: entry.category,
                transaction_id: Some(entry.transaction_id),
                metadata: entry.metadata,
                recorded_at: Utc::now(),
            };
            match context.store.record_ledger_entry(row).await {
                Ok(stored) => {
                    booked += 1;
                    net += stored.amount;
                }
                Err(MemoryError::Conflict(_)) => duplicates += 1,
                Err(error) => return Err(AgentError::Failed(error.to_string())),
            }
        }
        if booked > 0 {
            let event = NewEvent::now(
                context.tenant,
                context.agent,
                "accountant.booked",
                format!("Booked {booked} ledger {}, net {net}", if booked == 1 { "row" } else { "rows" }),
            )
            .with_data(json!({ "booked": booked, "duplicates": duplicates }))
            .with_revenue_impact(net);
            context.record(event).await;
        }
        Ok(ack(json!({ "booked": booked, "duplicates": duplicates, "net": net })))
    }

    async fn pnl(context: &AgentContext, request: PeriodRequest) -> Result<ProfitAndLoss, AgentError> {
        let rows = context
            .store
            .ledger_totals(context.tenant, request.from, request.to)
            .await
            .map_err(|error| AgentError::Failed(error.to_string()))?;
        Ok(profit_and_loss(rows.iter().map(|(kind, amount)| (kind.as_str(), *amount))))
    }

    async fn plan_reinvestment(context: &AgentContext, request: ReinvestRequest) -> Result<Value, AgentError> {
        let failed = |error: MemoryError| AgentError::Failed(error.to_string());
        let key = format!("{PLAN_KEY_PREFIX}{}", request.cycle);
        if let Some(existing) = context.store.agent_memory(context.tenant, context.agent, &key).await.map_err(failed)? {
            return Ok(existing.content);
        }
        let all_time = Self::pnl(
            context,
            PeriodRequest { from: DateTime::<Utc>::MIN_UTC, to: Utc::now() + chrono::Duration::days(1) },
        )
        .await?;
        let tier = match context.store.tenant(context.tenant).await.map_err(failed)? {
            Some(tenant) => {
                context.store.user(tenant.user_id).await.map_err(failed)?.map(|u| u.tier).unwrap_or_default()
            }
            None => return Err(AgentError::Failed("tenant vanished".into())),
        };
        let split = split_profit(all_time.net_profit, platform_fee_rate(tier), DEFAULT_TAX_RATE);
        let already = reinvested_so_far(context).await?;
        let decisions = &context.personality.decisions;
        let shares = (decisions.budget_split.ads, decisions.budget_split.content, decisions.budget_split.tools);
        let threshold = request.threshold.unwrap_or(DEFAULT_REINVESTMENT_THRESHOLD);
        let plan = reinvestment(split.retained, already, threshold, decisions.reinvestment_rate, shares);
        let answer = json!({ "pnl": all_time, "split": split, "plan": plan, "tier": tier });
        // One record per cycle, written once: the total so far is derived from these
        // records, so a crash can never count a plan twice or lose one.
        context
            .store
            .put_agent_memory(context.tenant, context.agent, &key, answer.clone(), None)
            .await
            .map_err(failed)?;
        if plan.total > Decimal::ZERO {
            context
                .emit(
                    "accountant.reinvestment",
                    format!(
                        "Reinvesting {} of the profit kept: ads {}, content {}, tools {}",
                        plan.total, plan.ads, plan.content, plan.tools
                    ),
                    to_value(&plan)?,
                )
                .await;
        }
        Ok(answer)
    }
}

#[async_trait]
impl Agent for Accountant {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "book" => Self::book(context, task.parse()?).await,
            "pnl" => to_value(&Self::pnl(context, task.parse()?).await?),
            "plan_reinvestment" => Self::plan_reinvestment(context, task.parse()?).await,
            _ => unknown(context.agent, task),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_memory::Tier;

    #[test]
    fn profit_and_loss_adds_up_every_row_exactly() {
        let rows = [
            (category::REVENUE, dec!(100.10)),
            (category::REVENUE, dec!(0.20)),
            (category::REFUND, dec!(-10.00)),
            (category::PAYMENT_FEE, dec!(-3.21)),
            (category::AD_SPEND, dec!(-25.50)),
            ("consulting", dec!(-1.09)),
        ];
        let pnl = profit_and_loss(rows);
        assert_eq!(pnl.revenue, dec!(100.30));
        assert_eq!(pnl.fees, dec!(-3.21));
        assert_eq!(pnl.other_spend, dec!(-1.09));
        assert_eq!(pnl.net_profit, dec!(60.50));
    }

    #[test]
    fn the_user_keeps_90_to_95_percent_and_the_parts_sum_to_the_profit() {
        for (tier, kept) in [(Tier::Free, dec!(0.90)), (Tier::Pro, dec!(0.93)), (Tier::Enterprise, dec!(0.95))] {
            let split = split_profit(dec!(1000.00), platform_fee_rate(tier), Decimal::ZERO);
            assert_eq!(split.retained, dec!(1000.00) * kept, "{tier:?}");
            assert_eq!(split.retained + split.platform_fee, dec!(1000.00));
        }
        let split = split_profit(dec!(333.33), dec!(0.10), dec!(0.25));
        assert_eq!(split.platform_fee, dec!(33.33));
        assert_eq!(split.tax_reserve, dec!(75.00));
        assert_eq!(split.retained, dec!(225.00));
        assert_eq!(split_profit(dec!(-50), dec!(0.10), dec!(0.25)).retained, dec!(-50));
    }

    #[test]
    fn nothing_is_reinvested_below_the_threshold_and_the_excess_is_split_by_personality() {
        let shares = (dec!(0.6), dec!(0.3), dec!(0.1));
        assert_eq!(reinvestment(dec!(999.99), dec!(0), dec!(1000), dec!(0.5), shares).total, Decimal::ZERO);
        let plan = reinvestment(dec!(1500), dec!(100), dec!(1000), dec!(0.5), shares);
        assert_eq!(plan.total, dec!(200.00));
        assert_eq!((plan.ads, plan.content, plan.tools), (dec!(120.00), dec!(60.00), dec!(20.00)));
        let odd = reinvestment(dec!(1000.03), dec!(0), dec!(1000), dec!(1), (dec!(0.333), dec!(0.333), dec!(0.334)));
        assert_eq!(odd.ads + odd.content + odd.tools, odd.total);
    }
}
