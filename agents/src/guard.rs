//! The spending guard: the brakes an owner puts on a swarm that spends money on its own.
//!
//! Per business the owner sets caps and an approval threshold ([`SpendingCaps`], kept in
//! the agent-memory namespace [`GUARD_NAMESPACE`]). Before the CEO commits money it asks
//! the guard for a [`Verdict`]:
//!
//! - over a cap, the action is **refused**, and the event says which cap, its limit and
//!   what the action would have taken it to;
//! - above the threshold (and within the caps), the action **waits for the owner** in the
//!   approval queue (`boardroom_memory::ApprovalStore`); once approved it is carried
//!   out at the next cycle, with the idempotency key it was planned with, so it happens
//!   once even across a crash;
//! - otherwise it goes ahead.
//!
//! What each cap counts:
//! - **ad spend a day**: the daily budgets of every ad flight running on the market's
//!   current day, the new flight included;
//! - **ad spend a month**: what the flights spend inside the current 30-day month of the
//!   market's days (days 0–29, 30–59, …), the new flight's days in it included;
//! - **largest price cut per cycle**: a price may fall by at most this share (percent)
//!   of what it was in one cycle; the owner's own price pins are not the swarm's and are
//!   not checked;
//! - **refunds a day**: refunds issued through Boardroom (`POST
//!   /api/business/{id}/refunds`: by the owner, or an integration with the owner's API
//!   token) on a live payment platform, per UTC day. Buyers' refunds made on the
//!   platform itself are the platform's doing, not Boardroom's, and are not counted.
//!
//! The threshold applies to the money an action commits: an ad flight's whole budget
//! (daily budget × days), a refund's amount. A cap or threshold left unset does not
//! apply: a new business has none until its owner sets them.

use boardroom_adapters::CampaignPerformance;
use boardroom_memory::{Approval, EventLog, MemoryError, NewApproval, NewEvent, SharedStore, TenantId};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent::AgentContext;
use crate::minutes::money;

/// The agent-memory namespace the guard's settings live in.
pub const GUARD_NAMESPACE: &str = "guard";
/// The key of the caps in [`GUARD_NAMESPACE`].
pub const CAPS_KEY: &str = "caps";
/// Days in a month of the market's days.
pub const MARKET_MONTH_DAYS: u32 = 30;
/// How long an approval request waits for its owner when the owner has not said.
pub const DEFAULT_APPROVAL_HOURS: u32 = 24;
/// The longest an owner may let a request wait: 30 days.
pub const MAX_APPROVAL_HOURS: u32 = 720;

/// A business's caps and approval threshold. `None` means "not set": that limit does
/// not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendingCaps {
    /// Most ad spend a day, across every running flight.
    pub ad_spend_per_day: Option<Decimal>,
    /// Most ad spend in a 30-day month of the market's days.
    pub ad_spend_per_month: Option<Decimal>,
    /// Largest price cut in one cycle, in percent of the price before it (0 to 100).
    pub price_cut_percent_per_cycle: Option<Decimal>,
    /// Most refunds the swarm may issue in a day.
    pub refunds_per_day: Option<Decimal>,
    /// Actions committing more money than this wait for the owner's approval.
    pub approval_threshold: Option<Decimal>,
    /// Hours an approval request waits before it expires unanswered (1 to 720).
    pub approval_expires_after_hours: u32,
}

impl Default for SpendingCaps {
    fn default() -> Self {
        Self {
            ad_spend_per_day: None,
            ad_spend_per_month: None,
            price_cut_percent_per_cycle: None,
            refunds_per_day: None,
            approval_threshold: None,
            approval_expires_after_hours: DEFAULT_APPROVAL_HOURS,
        }
    }
}

/// One of the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    /// [`SpendingCaps::ad_spend_per_day`].
    AdSpendPerDay,
    /// [`SpendingCaps::ad_spend_per_month`].
    AdSpendPerMonth,
    /// [`SpendingCaps::price_cut_percent_per_cycle`].
    PriceCutPercentPerCycle,
    /// [`SpendingCaps::refunds_per_day`].
    RefundsPerDay,
}

impl Cap {
    /// The cap's field name, as the API and events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdSpendPerDay => "ad_spend_per_day",
            Self::AdSpendPerMonth => "ad_spend_per_month",
            Self::PriceCutPercentPerCycle => "price_cut_percent_per_cycle",
            Self::RefundsPerDay => "refunds_per_day",
        }
    }

    /// The cap in words, for the feed.
    pub fn words(self) -> &'static str {
        match self {
            Self::AdSpendPerDay => "the cap on ad spend a day",
            Self::AdSpendPerMonth => "the cap on ad spend a month",
            Self::PriceCutPercentPerCycle => "the cap on a price cut per cycle",
            Self::RefundsPerDay => "the cap on refunds a day",
        }
    }
}

/// What the guard says about an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within every cap and the threshold: go ahead.
    Allowed,
    /// Within the caps but above the threshold: ask the owner first.
    NeedsApproval {
        /// The money the action commits.
        amount: Decimal,
        /// The threshold it is above.
        threshold: Decimal,
    },
    /// Over a cap: do not.
    Refused {
        /// Which cap.
        cap: Cap,
        /// The cap's limit.
        limit: Decimal,
        /// What the action would have taken the capped figure to.
        would_be: Decimal,
    },
}

impl Verdict {
    /// The event data of a refusal: which cap, its limit, what the action would have
    /// made of it. `Null` for other verdicts.
    pub fn refusal_data(&self) -> serde_json::Value {
        match self {
            Self::Refused { cap, limit, would_be } => {
                json!({ "cap": cap.as_str(), "limit": limit, "would_be": would_be })
            }
            _ => serde_json::Value::Null,
        }
    }
}

/// An ad flight the guard is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdFlight {
    /// What it spends each day.
    pub daily_budget: Decimal,
    /// Its first day (the market's).
    pub start_day: u32,
    /// How many days it runs.
    pub days: u32,
}

impl AdFlight {
    /// Its whole budget.
    pub fn total(&self) -> Decimal {
        self.daily_budget * Decimal::from(self.days)
    }

    fn end_day(&self) -> u32 {
        self.start_day.saturating_add(self.days)
    }

    /// Days of `start..end` it runs on.
    fn days_within(&self, start: u32, end: u32) -> u32 {
        self.end_day().min(end).saturating_sub(self.start_day.max(start))
    }
}

impl From<&CampaignPerformance> for AdFlight {
    fn from(campaign: &CampaignPerformance) -> Self {
        Self {
            daily_budget: campaign.daily_budget,
            start_day: campaign.start_day,
            days: campaign.end_day.saturating_sub(campaign.start_day),
        }
    }
}

impl SpendingCaps {
    /// Whether any ad cap is set (so the running flights are worth reading).
    pub fn caps_ads(&self) -> bool {
        self.ad_spend_per_day.is_some() || self.ad_spend_per_month.is_some() || self.approval_threshold.is_some()
    }

    /// The verdict on launching `flight` next to the flights already `running` (every
    /// flight the market knows of, finished ones included: only their days that count
    /// are counted).
    pub fn check_ad_flight(&self, running: &[AdFlight], flight: AdFlight) -> Verdict {
        let today = flight.start_day;
        if let Some(limit) = self.ad_spend_per_day {
            let today_spend: Decimal = running
                .iter()
                .filter(|other| other.days_within(today, today.saturating_add(1)) == 1)
                .map(|other| other.daily_budget)
                .sum();
            let would_be = today_spend + flight.daily_budget;
            if would_be > limit {
                return Verdict::Refused { cap: Cap::AdSpendPerDay, limit, would_be };
            }
        }
        if let Some(limit) = self.ad_spend_per_month {
            let month_start = today / MARKET_MONTH_DAYS * MARKET_MONTH_DAYS;
            let month_end = month_start.saturating_add(MARKET_MONTH_DAYS);
            let in_month = |f: &AdFlight| f.daily_budget * Decimal::from(f.days_within(month_start, month_end));
            let would_be = running.iter().map(in_month).sum::<Decimal>() + in_month(&flight);
            if would_be > limit {
                return Verdict::Refused { cap: Cap::AdSpendPerMonth, limit, would_be };
            }
        }
        self.above_threshold(flight.total())
    }

    /// The verdict on moving a price from `from` to `to` within one cycle.
    pub fn check_price_change(&self, from: Decimal, to: Decimal) -> Verdict {
        match self.price_cut_percent_per_cycle {
            Some(limit) if to < from && from > Decimal::ZERO => {
                let cut = ((from - to) / from * Decimal::ONE_HUNDRED).round_dp(2);
                if cut > limit {
                    Verdict::Refused { cap: Cap::PriceCutPercentPerCycle, limit, would_be: cut }
                } else {
                    Verdict::Allowed
                }
            }
            _ => Verdict::Allowed,
        }
    }

    /// The verdict on the swarm refunding `amount` when it has refunded `refunded_today`
    /// already today.
    pub fn check_refund(&self, refunded_today: Decimal, amount: Decimal) -> Verdict {
        if let Some(limit) = self.refunds_per_day {
            let would_be = refunded_today + amount;
            if would_be > limit {
                return Verdict::Refused { cap: Cap::RefundsPerDay, limit, would_be };
            }
        }
        self.above_threshold(amount)
    }

    fn above_threshold(&self, amount: Decimal) -> Verdict {
        match self.approval_threshold {
            Some(threshold) if amount > threshold => Verdict::NeedsApproval { amount, threshold },
            _ => Verdict::Allowed,
        }
    }
}

/// An action to put before the owner.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// What the action is: asked once per key.
    pub action_key: String,
    /// The kind of action (`ad_flight`).
    pub kind: &'static str,
    /// One sentence for the owner.
    pub summary: String,
    /// The money it commits.
    pub amount: Decimal,
    /// The threshold it is above.
    pub threshold: Decimal,
    /// What the agent expects from it.
    pub expected: Value,
    /// What to do once approved.
    pub action: Value,
}

/// Puts `request` in the owner's approval queue, unless the same action was asked for
/// before (whatever became of it); announces a new request on the feed.
pub async fn ask_owner(
    context: &AgentContext,
    caps: &SpendingCaps,
    request: ApprovalRequest,
) -> Result<Approval, MemoryError> {
    let threshold = request.threshold;
    let (approval, new) =
        context.store.request_approval(new_approval(context.tenant, caps, request, Utc::now())).await?;
    if new {
        let (summary, data) = approval_requested(&approval, threshold);
        context.emit("guard.approval_requested", summary, data).await;
    }
    Ok(approval)
}

/// The queue's row for `request` of `tenant`, asked `now`, expiring after the caps' hours.
pub fn new_approval(
    tenant: TenantId,
    caps: &SpendingCaps,
    request: ApprovalRequest,
    now: chrono::DateTime<Utc>,
) -> NewApproval {
    let hours = caps.approval_expires_after_hours.clamp(1, MAX_APPROVAL_HOURS);
    NewApproval {
        tenant_id: tenant,
        action_key: request.action_key,
        kind: request.kind.to_owned(),
        summary: request.summary,
        amount: request.amount,
        expected: request.expected,
        action: request.action,
        requested_at: now,
        expires_at: now + chrono::Duration::hours(i64::from(hours)),
    }
}

/// The `guard.approval_requested` event of a new request above `threshold`: its
/// summary and data.
pub fn approval_requested(approval: &Approval, threshold: Decimal) -> (String, Value) {
    let summary = format!(
        "Waiting for the owner's approval: {} (above the approval threshold of {})",
        approval.summary,
        money(threshold, "USD")
    );
    let data = json!({ "approval_id": approval.id, "kind": approval.kind, "amount": approval.amount,
                       "threshold": threshold, "expected": approval.expected, "expires_at": approval.expires_at });
    (summary, data)
}

/// Records that the guard refused `action` (in words: "cutting “Mug” from $20.00 to
/// $9.00"), naming the cap.
pub async fn refused(context: &AgentContext, action: &str, verdict: &Verdict, details: Value) {
    if let Some((summary, data)) = refusal(action, verdict, details) {
        context.emit("guard.refused", summary, data).await;
    }
}

/// The `guard.refused` event of `verdict` on `action`: its summary and data (which cap,
/// its limit, what the action would have made of it, and `details`); `None` unless the
/// verdict is a refusal.
pub fn refusal(action: &str, verdict: &Verdict, details: Value) -> Option<(String, Value)> {
    let Verdict::Refused { cap, limit, would_be } = verdict else { return None };
    let (limit_text, would_be_text) = match cap {
        Cap::PriceCutPercentPerCycle => (format!("{limit} %"), format!("{would_be} %")),
        _ => (money(*limit, "USD"), money(*would_be, "USD")),
    };
    let summary = format!(
        "The spending guard refused {action}: it would take {} to {would_be_text}, over its limit of {limit_text}",
        cap.words().trim_start_matches("the cap on ")
    );
    let mut data = verdict.refusal_data();
    data["action"] = details;
    Some((summary, data))
}

/// Marks the tenant's requests that expired unanswered as expired, one event each.
pub async fn expire_overdue(
    store: &SharedStore,
    events: &EventLog,
    tenant: TenantId,
) -> Result<Vec<Approval>, MemoryError> {
    let expired = store.expire_approvals(tenant, Utc::now()).await?;
    for approval in &expired {
        let summary = format!("Expired unanswered: {}", approval.summary);
        let event = NewEvent::now(tenant, "guard", "guard.approval_expired", summary)
            .with_data(json!({ "approval_id": approval.id, "amount": approval.amount }));
        if let Err(error) = events.append(event).await {
            tracing::warn!(%error, %tenant, "an expiry was not recorded on the event log");
        }
    }
    Ok(expired)
}

/// The business's caps, the defaults (nothing capped) when its owner never set any.
pub async fn load_caps(store: &SharedStore, tenant: TenantId) -> Result<SpendingCaps, MemoryError> {
    let stored = store.agent_memory(tenant, GUARD_NAMESPACE, CAPS_KEY).await?;
    Ok(stored.and_then(|memory| serde_json::from_value(memory.content).ok()).unwrap_or_default())
}

/// Stores the business's caps; the next check reads them.
pub async fn save_caps(store: &SharedStore, tenant: TenantId, caps: &SpendingCaps) -> Result<(), MemoryError> {
    let content = serde_json::to_value(caps).map_err(|error| MemoryError::Corrupt(error.to_string()))?;
    store.put_agent_memory(tenant, GUARD_NAMESPACE, CAPS_KEY, content, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn flight(daily: Decimal, start_day: u32, days: u32) -> AdFlight {
        AdFlight { daily_budget: daily, start_day, days }
    }

    #[test]
    fn nothing_set_allows_everything() {
        let caps = SpendingCaps::default();
        assert_eq!(caps.check_ad_flight(&[flight(dec!(1000), 0, 30)], flight(dec!(1000), 3, 7)), Verdict::Allowed);
        assert_eq!(caps.check_price_change(dec!(100), dec!(1)), Verdict::Allowed);
        assert_eq!(caps.check_refund(dec!(10000), dec!(10000)), Verdict::Allowed);
        assert!(!caps.caps_ads());
    }

    #[test]
    fn the_daily_cap_counts_only_the_flights_running_today() {
        let caps = SpendingCaps { ad_spend_per_day: Some(dec!(50)), ..SpendingCaps::default() };
        // Day 10: a flight that ended on day 9 and one that starts on day 11 do not count.
        let running = [flight(dec!(30), 3, 7), flight(dec!(20), 8, 7), flight(dec!(40), 11, 7)];
        assert_eq!(caps.check_ad_flight(&running, flight(dec!(30), 10, 7)), Verdict::Allowed, "20 + 30 = 50");
        assert_eq!(
            caps.check_ad_flight(&running, flight(dec!(30.01), 10, 7)),
            Verdict::Refused { cap: Cap::AdSpendPerDay, limit: dec!(50), would_be: dec!(50.01) }
        );
    }

    #[test]
    fn the_monthly_cap_counts_the_days_inside_the_current_30_day_month() {
        let caps = SpendingCaps { ad_spend_per_month: Some(dec!(300)), ..SpendingCaps::default() };
        // Month 1 is days 30..60. A flight of days 25..32 spends 2 of its days in it.
        let running = [flight(dec!(10), 25, 7), flight(dec!(10), 40, 7)];
        // 2×10 + 7×10 = 90 already; a flight at day 55 runs 5 days in the month.
        assert_eq!(caps.check_ad_flight(&running, flight(dec!(42), 55, 7)), Verdict::Allowed, "90 + 210 = 300");
        assert_eq!(
            caps.check_ad_flight(&running, flight(dec!(43), 55, 7)),
            Verdict::Refused { cap: Cap::AdSpendPerMonth, limit: dec!(300), would_be: dec!(305) }
        );
    }

    #[test]
    fn a_flight_within_the_caps_but_above_the_threshold_waits_for_the_owner() {
        let caps = SpendingCaps {
            ad_spend_per_day: Some(dec!(100)),
            approval_threshold: Some(dec!(140)),
            ..SpendingCaps::default()
        };
        assert_eq!(caps.check_ad_flight(&[], flight(dec!(20), 0, 7)), Verdict::Allowed, "140 is not above 140");
        assert_eq!(
            caps.check_ad_flight(&[], flight(dec!(20.01), 0, 7)),
            Verdict::NeedsApproval { amount: dec!(140.07), threshold: dec!(140) }
        );
        // A cap outranks the threshold: over the cap, there is nothing to approve.
        assert!(matches!(caps.check_ad_flight(&[], flight(dec!(101), 0, 7)), Verdict::Refused { .. }));
    }

    #[test]
    fn a_price_may_fall_by_at_most_the_capped_share_and_rise_freely() {
        let caps = SpendingCaps { price_cut_percent_per_cycle: Some(dec!(20)), ..SpendingCaps::default() };
        assert_eq!(caps.check_price_change(dec!(50), dec!(40)), Verdict::Allowed, "exactly 20 %");
        assert_eq!(
            caps.check_price_change(dec!(50), dec!(39.99)),
            Verdict::Refused { cap: Cap::PriceCutPercentPerCycle, limit: dec!(20), would_be: dec!(20.02) }
        );
        assert_eq!(caps.check_price_change(dec!(50), dec!(500)), Verdict::Allowed);
        assert_eq!(caps.check_price_change(Decimal::ZERO, Decimal::ZERO), Verdict::Allowed);
    }

    #[test]
    fn refunds_are_capped_a_day_and_large_ones_wait_for_the_owner() {
        let caps = SpendingCaps {
            refunds_per_day: Some(dec!(100)),
            approval_threshold: Some(dec!(60)),
            ..SpendingCaps::default()
        };
        assert_eq!(caps.check_refund(dec!(40), dec!(60)), Verdict::Allowed);
        assert_eq!(
            caps.check_refund(dec!(40), dec!(60.01)),
            Verdict::Refused { cap: Cap::RefundsPerDay, limit: dec!(100), would_be: dec!(100.01) }
        );
        assert_eq!(
            caps.check_refund(Decimal::ZERO, dec!(61)),
            Verdict::NeedsApproval { amount: dec!(61), threshold: dec!(60) }
        );
    }

    #[test]
    fn the_largest_days_and_budgets_do_not_wrap() {
        let caps = SpendingCaps {
            ad_spend_per_day: Some(Decimal::MAX),
            ad_spend_per_month: Some(dec!(1)),
            ..SpendingCaps::default()
        };
        let at_the_end = flight(dec!(0.5), u32::MAX - 1, u32::MAX);
        assert_eq!(caps.check_ad_flight(&[at_the_end], flight(dec!(0.5), u32::MAX - 1, 7)), Verdict::Allowed);
        assert!(matches!(
            caps.check_ad_flight(&[at_the_end], flight(dec!(0.51), u32::MAX - 1, 7)),
            Verdict::Refused { cap: Cap::AdSpendPerMonth, .. }
        ));
    }
}
