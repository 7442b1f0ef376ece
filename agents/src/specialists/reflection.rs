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
use boardroom_adapters::SocialNetwork;

/// A tenant's adjustable strategy, stored by the reflection agent between cycles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// How the strategist weighs niches.
    pub weights: StrategyWeights,
    /// Multiplier on the personality's ad budget, learnt week by week from what the
    /// ads returned ([`AD_BIAS_RANGE`]).
    pub ad_bias: f64,
    /// What the ads of this flight week and the last spent and brought, from which
    /// the next week's budget is learnt.
    #[serde(default)]
    pub ad_weeks: AdWeeks,
    /// Multipliers on the personality's leaning to each social network, learnt from
    /// what the posts there drew.
    #[serde(default)]
    pub networks: NetworkBias,
    /// How revenue has compared with the plans so far.
    #[serde(default)]
    pub plans: PlanRecord,
}

/// How revenue has compared with the plans: a plan that is always off by the same share
/// is a plan to read differently, not news about the market. Only a cycle that departs
/// from this record moves the weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanRecord {
    /// Revenue as a share of the plan: the mean over the first [`PLAN_MEMORY`] cycles,
    /// then a moving average that forgets at that pace.
    pub ratio: f64,
    /// Cycles with a plan counted so far.
    pub cycles: u32,
}

impl Default for PlanRecord {
    fn default() -> Self {
        Self { ratio: 1.0, cycles: 0 }
    }
}

/// How many cycles the plan record remembers.
const PLAN_MEMORY: u32 = 10;
/// Cycles with a plan counted before a departure from the record moves the weights.
const PLAN_CYCLES_BEFORE_JUDGING: u32 = 3;

impl PlanRecord {
    /// Adds a cycle's revenue as a share of its plan (held within 1/100 and 100 times,
    /// so one freak day cannot throw the record).
    fn with(self, share: f64) -> Self {
        let share = if share.is_finite() { share.clamp(0.01, 100.0) } else { self.ratio };
        let cycles = self.cycles.saturating_add(1);
        let weight = 1.0 / f64::from(cycles.min(PLAN_MEMORY));
        Self { ratio: self.ratio + (share - self.ratio) * weight, cycles }
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Self {
            weights: StrategyWeights::default(),
            ad_bias: 1.0,
            ad_weeks: AdWeeks::default(),
            networks: NetworkBias::default(),
            plans: PlanRecord::default(),
        }
    }
}

/// The least and most the ad bias may become: ads that stop paying still get a little
/// money, to notice when they pay again; ads that keep paying may grow a hundredfold
/// (the owner's spending caps, where set, hold whatever the bias).
pub const AD_BIAS_RANGE: (f64, f64) = (0.3, 100.0);
/// How much the ad bias moves at the end of a flight week: up by a quarter, down by a
/// fifth, so a step up and a step down cancel.
const AD_BIAS_STEP: f64 = 1.25;
/// The gross profit a unit of ad spend must bring back to grow the budget, and under
/// which the budget shrinks: a band around 1, the return at which the last unit spent
/// pays for itself, wide enough that a week's noise does not steer.
const AD_RETURN_BAND: (f64, f64) = (0.8, 1.2);

/// One flight week of ads, as the cycles in it reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdWeek {
    /// The flight week (`(cycle - 1) / 7`).
    pub week: i64,
    /// Ad spend.
    pub spend: f64,
    /// What buyers the ads brought paid.
    pub ad_revenue: f64,
    /// All sales.
    pub revenue: f64,
    /// What sales kept after refunds, fees and the cost of goods, before ads.
    pub kept: f64,
    /// Products running, summed over the week's cycles.
    pub product_days: f64,
}

impl AdWeek {
    fn spend_a_product(&self) -> f64 {
        self.spend / self.product_days.max(1.0)
    }

    fn ad_revenue_a_product(&self) -> f64 {
        self.ad_revenue / self.product_days.max(1.0)
    }

    /// The share of a sale's money kept before ads (1 when nothing sold yet).
    fn margin(&self) -> f64 {
        if self.revenue > 0.0 { (self.kept / self.revenue).clamp(0.0, 1.0) } else { 1.0 }
    }
}

/// This flight week's tally and the last complete one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdWeeks {
    /// The week the cycles are in.
    pub current: AdWeek,
    /// The week before it, once complete.
    pub last: Option<AdWeek>,
    /// The budget's last move: 1 up, -1 down, 0 none yet.
    pub last_move: i8,
}

/// How much more (above 1) or less (below 1) than the personality leans to it the
/// content agent posts on each network: [`NETWORK_BIAS_RANGE`], 1 to start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkBias {
    /// X.
    pub x: f64,
    /// LinkedIn.
    pub linkedin: f64,
    /// Reddit.
    pub reddit: f64,
    /// TikTok.
    pub tiktok: f64,
    /// YouTube.
    pub youtube: f64,
}

/// The least and most a network's bias may become: a network that stops paying still
/// gets a post now and then, to notice when it pays again.
pub const NETWORK_BIAS_RANGE: (f64, f64) = (0.3, 3.0);

impl Default for NetworkBias {
    fn default() -> Self {
        Self { x: 1.0, linkedin: 1.0, reddit: 1.0, tiktok: 1.0, youtube: 1.0 }
    }
}

impl NetworkBias {
    /// The bias for `network`.
    pub fn of(&self, network: SocialNetwork) -> f64 {
        match network {
            SocialNetwork::X => self.x,
            SocialNetwork::LinkedIn => self.linkedin,
            SocialNetwork::Reddit => self.reddit,
            SocialNetwork::TikTok => self.tiktok,
            SocialNetwork::YouTube => self.youtube,
        }
    }

    fn set(&mut self, network: SocialNetwork, bias: f64) {
        let bias = bias.clamp(NETWORK_BIAS_RANGE.0, NETWORK_BIAS_RANGE.1);
        match network {
            SocialNetwork::X => self.x = bias,
            SocialNetwork::LinkedIn => self.linkedin = bias,
            SocialNetwork::Reddit => self.reddit = bias,
            SocialNetwork::TikTok => self.tiktok = bias,
            SocialNetwork::YouTube => self.youtube = bias,
        }
    }
}

/// What the posts on one network have drawn, as the monitoring step read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEngagement {
    /// The network.
    pub network: SocialNetwork,
    /// Posts measured.
    pub posts: u32,
    /// Their likes, reposts, replies and comments, summed.
    pub engagements: u64,
    /// Their impressions, summed (0 where the network does not tell).
    pub impressions: u64,
}

impl NetworkEngagement {
    /// Engagements per post.
    pub fn per_post(&self) -> f64 {
        if self.posts == 0 { 0.0 } else { self.engagements as f64 / f64::from(self.posts) }
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
    /// What the cycle's day kept after refunds, fees, the cost of goods and ads.
    #[serde(default)]
    pub net: Decimal,
    /// Products on sale during the cycle.
    #[serde(default)]
    pub products: u32,
    /// What the recent posts drew, per network (read from the networks on a live
    /// business, from the simulated world on the sandbox).
    #[serde(default)]
    pub engagement: Vec<NetworkEngagement>,
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
/// per cycle so one noisy cycle cannot swing it. Revenue is compared with the plan as
/// plans have turned out so far ([`PlanRecord`]), from the fourth cycle with a plan:
/// - more than 20 % short of that: demand estimates were too rosy — trust open markets
///   and margin more, demand less;
/// - more than 20 % over: the demand signal works — lean on it and on trend;
/// - the ad budget is learnt once a flight week ([`learn_ad_budget`]).
///
/// `cycle` is the cycle the outcome is of (the first is 1).
pub fn reflect(current: &Strategy, cycle: i64, outcome: &CycleOutcome) -> Reflection {
    let expected = outcome.expected_revenue.to_f64().unwrap_or(0.0);
    let actual = outcome.actual_revenue.to_f64().unwrap_or(0.0);
    let revenue_gap = if expected > 0.0 { (actual - expected) / expected } else { 0.0 };
    // Judged against what plans have come to so far, once there is a record to go by.
    let surprise = if expected > 0.0 && current.plans.cycles >= PLAN_CYCLES_BEFORE_JUDGING {
        actual / (expected * current.plans.ratio) - 1.0
    } else {
        0.0
    };
    let plans = if expected > 0.0 { current.plans.with(actual / expected) } else { current.plans };
    let mut weights = current.weights.normalized();
    let mut lessons = Vec::new();
    if surprise < -0.2 {
        let shift = weights.demand * 0.1;
        weights.demand -= shift;
        weights.competition += shift / 2.0;
        weights.margin += shift / 2.0;
        lessons.push(format!(
            "{}: revenue {:.0} % below what plans have come to; weigh open markets and margin over raw demand",
            outcome.niche,
            -surprise * 100.0
        ));
    } else if surprise > 0.2 {
        let shift = (weights.competition + weights.margin) * 0.05;
        weights.competition -= shift / 2.0;
        weights.margin -= shift / 2.0;
        weights.demand += shift / 2.0;
        weights.trend += shift / 2.0;
        lessons.push(format!(
            "{}: revenue {:.0} % above what plans have come to; demand signal is reliable",
            outcome.niche,
            surprise * 100.0
        ));
    }
    let spend = outcome.ad_spend.abs().to_f64().unwrap_or(0.0);
    let return_on_ad_spend = (spend > 0.0).then(|| outcome.ad_revenue.to_f64().unwrap_or(0.0) / spend);
    let (ad_bias, ad_weeks) = learn_ad_budget(current.ad_bias, current.ad_weeks, cycle, outcome, &mut lessons);
    let networks = learn_networks(current.networks, &outcome.engagement, &mut lessons);
    if lessons.is_empty() {
        lessons.push(format!("{}: on plan; strategy unchanged", outcome.niche));
    }
    Reflection {
        strategy: Strategy { weights: weights.normalized(), ad_bias, ad_weeks, networks, plans },
        revenue_gap,
        return_on_ad_spend,
        success: revenue_gap >= -0.2,
        lessons,
    }
}

/// Adds the cycle's ads to its flight week's tally and, on the week's last cycle (the
/// one before next week's flights are bought), moves the ad bias by what the week
/// showed, as an advertiser without a model of the market would. Spend and what the ads
/// brought are compared per product running, so a product launched in between is not
/// mistaken for ads that paid:
/// - when the week spent at least a tenth more or less a product than the week before,
///   the gross profit the difference made or lost per unit (the marginal return)
///   steers: above [`AD_RETURN_BAND`] the budget grows, below it shrinks, within it
///   holds;
/// - otherwise the budget probes: down when the week's ads kept less than the band's top
///   on average (a unit more cannot pay then), else the other way from its last move
///   (up the first time), so probes do not ratchet the budget one way.
///
/// Returns the new bias and tallies.
pub fn learn_ad_budget(
    bias: f64,
    mut weeks: AdWeeks,
    cycle: i64,
    outcome: &CycleOutcome,
    lessons: &mut Vec<String>,
) -> (f64, AdWeeks) {
    let days = i64::from(crate::ceo::FLIGHT_DAYS);
    let week = (cycle.max(1) - 1) / days;
    if weeks.current.week != week {
        // Cycles missed the end of the week: what it tallied is still a week to compare.
        weeks.last = Some(weeks.current);
        weeks.current = AdWeek { week, ..AdWeek::default() };
    }
    let number = |value: Decimal| value.to_f64().unwrap_or(0.0);
    let spend = number(outcome.ad_spend.abs());
    let this = &mut weeks.current;
    this.spend += spend;
    this.ad_revenue += number(outcome.ad_revenue);
    this.revenue += number(outcome.actual_revenue);
    this.kept += number(outcome.net) + spend;
    this.product_days += f64::from(outcome.products.max(1));
    if cycle % days != 0 {
        return (bias, weeks);
    }
    let this = weeks.current;
    let mut next = AdWeeks { current: AdWeek { week: week + 1, ..AdWeek::default() }, last: Some(this), ..weeks };
    if this.spend <= 0.0 {
        return (bias, next);
    }
    let margin = this.margin();
    let marginal = weeks
        .last
        .filter(|last| {
            last.spend > 0.0 && (this.spend_a_product() - last.spend_a_product()).abs() >= 0.1 * last.spend_a_product()
        })
        .map(|last| {
            (this.ad_revenue_a_product() - last.ad_revenue_a_product()) * margin
                / (this.spend_a_product() - last.spend_a_product())
        });
    let average = this.ad_revenue * margin / this.spend;
    let said = |marginal: f64| format!("the last change in ad spend made {marginal:.2} in gross profit a unit");
    let (step, why) = match marginal {
        Some(marginal) if marginal > AD_RETURN_BAND.1 => (1, said(marginal)),
        Some(marginal) if marginal < AD_RETURN_BAND.0 => (-1, said(marginal)),
        Some(marginal) => (0, said(marginal)),
        None => {
            // Ads that do not pay on average cannot pay at the margin: never up then.
            let up_pays = average > AD_RETURN_BAND.1;
            let probe = if weeks.last_move == 0 || !up_pays { if up_pays { 1 } else { -1 } } else { -weeks.last_move };
            (
                probe,
                format!(
                    "ads kept {average:.2} in gross profit a unit spent this week; trying a budget a step {}",
                    if probe > 0 { "up" } else { "down" }
                ),
            )
        }
    };
    let moved = match step {
        1 => (bias * AD_BIAS_STEP).min(AD_BIAS_RANGE.1),
        -1 => (bias / AD_BIAS_STEP).max(AD_BIAS_RANGE.0),
        _ => bias,
    };
    let verdict = if moved > bias {
        "raising ad budget"
    } else if moved < bias {
        "cutting ad budget"
    } else {
        "holding ad budget"
    };
    if step != 0 {
        next.last_move = step;
    }
    lessons.push(format!("{why}; {verdict}"));
    (if moved.is_finite() { moved } else { bias }, next)
}

/// Moves posting towards the networks whose posts draw more than the average post, 10 %
/// a cycle: a network at least 25 % above the mean engagement per post gains, one at
/// least 25 % below loses. It takes two networks with posts to compare.
fn learn_networks(current: NetworkBias, engagement: &[NetworkEngagement], lessons: &mut Vec<String>) -> NetworkBias {
    let measured: Vec<&NetworkEngagement> = engagement.iter().filter(|network| network.posts > 0).collect();
    if measured.len() < 2 {
        return current;
    }
    let posts: u32 = measured.iter().map(|network| network.posts).sum();
    let engagements: u64 = measured.iter().map(|network| network.engagements).sum();
    let mean = engagements as f64 / f64::from(posts.max(1));
    if mean <= 0.0 {
        return current;
    }
    let mut learnt = current;
    let (mut more, mut less) = (Vec::new(), Vec::new());
    for network in measured {
        let ratio = network.per_post() / mean;
        let name = network_name(network.network);
        if ratio >= 1.25 {
            learnt.set(network.network, current.of(network.network) * 1.1);
            more.push(format!("{name} ({:.1} per post)", network.per_post()));
        } else if ratio <= 0.75 {
            learnt.set(network.network, current.of(network.network) * 0.9);
            less.push(format!("{name} ({:.1} per post)", network.per_post()));
        }
    }
    if !more.is_empty() || !less.is_empty() {
        let mut lesson = format!("posts drew {mean:.1} engagements each on average");
        if !more.is_empty() {
            lesson.push_str(&format!("; more posts go to {}", more.join(" and ")));
        }
        if !less.is_empty() {
            lesson.push_str(&format!("; fewer to {}", less.join(" and ")));
        }
        lessons.push(lesson);
    }
    learnt
}

/// A network's name as people write it.
pub fn network_name(network: SocialNetwork) -> &'static str {
    match network {
        SocialNetwork::X => "X",
        SocialNetwork::LinkedIn => "LinkedIn",
        SocialNetwork::Reddit => "Reddit",
        SocialNetwork::TikTok => "TikTok",
        SocialNetwork::YouTube => "YouTube",
    }
}

/// The reflection agent. Action `reflect` (`{"cycle", "outcome": CycleOutcome}`)
/// compares the cycle's outcome with its plan, stores the adjusted strategy and the
/// lessons, once per cycle.
#[derive(Debug)]
pub struct Reflector {
    /// Whether the adjusted strategy is kept (always, but in an experiment's control).
    learning: bool,
}

impl Default for Reflector {
    fn default() -> Self {
        Self { learning: true }
    }
}

impl Reflector {
    /// A reflector that draws its lessons but keeps the strategy as it was: the control
    /// that shows what learning changes (`bench --simulate`'s "no learning" rows).
    pub fn without_learning() -> Self {
        Self { learning: false }
    }
}

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
        let reflection = reflect(&current, request.cycle, &request.outcome);
        let answer = to_value(&reflection)?;
        context
            .store
            .put_agent_memory(context.tenant, context.agent, &key, answer.clone(), None)
            .await
            .map_err(failed)?;
        if self.learning {
            context
                .store
                .put_agent_memory(context.tenant, STRATEGY_KEY.0, STRATEGY_KEY.1, to_value(&reflection.strategy)?, None)
                .await
                .map_err(failed)?;
        }
        let kept = if self.learning { "" } else { " (learning is off: the strategy stays as it was)" };
        let summary = format!("Lessons of cycle {}{kept}: {}", request.cycle, reflection.lessons.join("; "));
        context.emit("reflection.lessons", summary, answer.clone()).await;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromPrimitive;
    use rust_decimal_macros::dec;

    fn outcome(expected: Decimal, actual: Decimal, spend: Decimal, ad_revenue: Decimal) -> CycleOutcome {
        CycleOutcome {
            niche: "templates".into(),
            expected_revenue: expected,
            actual_revenue: actual,
            ad_spend: spend,
            ad_revenue,
            net: Decimal::ZERO,
            products: 1,
            engagement: Vec::new(),
        }
    }

    fn drew(network: SocialNetwork, posts: u32, engagements: u64) -> NetworkEngagement {
        NetworkEngagement { network, posts, engagements, impressions: 0 }
    }

    #[test]
    fn posting_moves_towards_the_network_whose_posts_draw_more_within_bounds() {
        let on_plan = outcome(dec!(100), dec!(100), dec!(0), dec!(0));
        let engagement = vec![
            drew(SocialNetwork::X, 2, 84),
            drew(SocialNetwork::LinkedIn, 2, 6),
            drew(SocialNetwork::Reddit, 2, 40),
        ];
        let after =
            reflect(&Strategy::default(), 1, &CycleOutcome { engagement: engagement.clone(), ..on_plan.clone() });
        let networks = after.strategy.networks;
        assert!((networks.x - 1.1).abs() < 1e-12 && (networks.linkedin - 0.9).abs() < 1e-12, "{networks:?}");
        assert!((networks.reddit - 1.0).abs() < 1e-12, "Reddit's 20 a post is the 21.7 mean, give or take: kept");
        assert_eq!(
            after.lessons,
            [
                "posts drew 21.7 engagements each on average; more posts go to X (42.0 per post); fewer to LinkedIn (3.0 \
              per post)"
            ]
        );

        let mut strategy = Strategy::default();
        for _ in 0..40 {
            strategy =
                reflect(&strategy, 1, &CycleOutcome { engagement: engagement.clone(), ..on_plan.clone() }).strategy;
        }
        assert_eq!((strategy.networks.x, strategy.networks.linkedin), (NETWORK_BIAS_RANGE.1, NETWORK_BIAS_RANGE.0));

        let one_network = CycleOutcome { engagement: vec![drew(SocialNetwork::X, 3, 90)], ..on_plan.clone() };
        assert_eq!(reflect(&Strategy::default(), 1, &one_network).strategy.networks, NetworkBias::default());
        let silent = CycleOutcome {
            engagement: vec![drew(SocialNetwork::X, 3, 0), drew(SocialNetwork::Reddit, 1, 0)],
            ..on_plan
        };
        assert_eq!(reflect(&Strategy::default(), 1, &silent).strategy.networks, NetworkBias::default());
    }

    #[test]
    fn a_shortfall_moves_weight_from_demand_to_openness_and_margin() {
        // Three cycles on plan make the record; then half the plan is a surprise.
        let mut before = Strategy::default();
        for cycle in 1..=3 {
            before = reflect(&before, cycle, &outcome(dec!(100), dec!(100), dec!(0), dec!(0))).strategy;
        }
        assert_eq!(before.plans, PlanRecord { ratio: 1.0, cycles: 3 });
        let after = reflect(&before, 4, &outcome(dec!(100), dec!(50), dec!(0), dec!(0)));
        assert!(!after.success);
        assert!(after.strategy.weights.demand < before.weights.normalized().demand);
        assert!(after.strategy.weights.competition > before.weights.normalized().competition);
        assert!((after.revenue_gap + 0.5).abs() < 1e-12);
        assert!(after.lessons[0].contains("50 % below what plans have come to"), "{:?}", after.lessons);
    }

    #[test]
    fn a_plan_that_is_always_off_by_the_same_share_is_read_through_its_record_not_held_against_demand() {
        // Every plan expects five times what comes: after three cycles the record
        // knows, and the weights never move.
        let mut strategy = Strategy::default();
        for cycle in 1..=30 {
            let reflected = reflect(&strategy, cycle, &outcome(dec!(500), dec!(100), dec!(0), dec!(0)));
            assert_eq!(reflected.strategy.weights, Strategy::default().weights.normalized(), "cycle {cycle}");
            strategy = reflected.strategy;
        }
        assert!((strategy.plans.ratio - 0.2).abs() < 1e-9, "{:?}", strategy.plans);
        assert_eq!(strategy.plans.cycles, 30);
        // The record forgets at the pace of PLAN_MEMORY cycles, and a freak day is held.
        let freak = strategy.plans.with(f64::INFINITY);
        assert_eq!(freak.ratio, strategy.plans.ratio);
        let huge = PlanRecord { ratio: 1.0, cycles: u32::MAX }.with(1e300);
        assert!((huge.ratio - (1.0 + 99.0 / 10.0)).abs() < 1e-9 && huge.cycles == u32::MAX);
    }

    /// Plays flight week `week` (cycles 7·week+1 to 7·week+7), each day spending
    /// `spend` for `ad_revenue` from ad buyers, of `revenue` in all, keeping `margin` of
    /// it before ads.
    fn ad_week(mut strategy: Strategy, week: i64, spend: Decimal, ad_revenue: Decimal, margin: Decimal) -> Reflection {
        let revenue = ad_revenue * dec!(2);
        let day = CycleOutcome { net: revenue * margin - spend, ..outcome(revenue, revenue, spend, ad_revenue) };
        for cycle in 7 * week + 1..7 * week + 7 {
            let quiet = reflect(&strategy, cycle, &day);
            assert_eq!(quiet.strategy.ad_bias, strategy.ad_bias, "the bias moves only when a week ends");
            strategy = quiet.strategy;
        }
        reflect(&strategy, 7 * week + 7, &day)
    }

    #[test]
    fn a_first_week_of_ads_that_pay_raises_the_budget_and_one_that_does_not_cuts_it() {
        // 10 spent a day for 30 from ad buyers, 90 % kept: 2.70 a unit.
        let paying = ad_week(Strategy::default(), 0, dec!(10), dec!(30), dec!(0.9));
        assert!((paying.strategy.ad_bias - 1.25).abs() < 1e-12);
        assert!(paying.lessons.iter().any(|l| l
            == "ads kept 2.70 in gross profit a unit spent this week; trying a budget a step up; raising ad budget"));
        // Paid back at 1.08 a unit: too close to 1 for the next unit to pay.
        let even = ad_week(Strategy::default(), 0, dec!(10), dec!(12), dec!(0.9));
        assert!((even.strategy.ad_bias - 0.8).abs() < 1e-12, "{}", even.strategy.ad_bias);
        assert!(even.lessons.iter().any(|l| l.ends_with("cutting ad budget")));
        let week = even.strategy.ad_weeks.last.expect("the week is kept to compare with");
        assert_eq!((week.week, week.spend, week.ad_revenue), (0, 70.0, 84.0));
        assert_eq!(even.strategy.ad_weeks.current, AdWeek { week: 1, ..AdWeek::default() });
    }

    #[test]
    fn the_budget_follows_what_the_last_change_in_spend_returned() {
        let first = ad_week(Strategy::default(), 0, dec!(10), dec!(30), dec!(1)).strategy;
        // 25 % more spend (17.50 a week): 20 more from ad buyers a week is 1.14 a unit, held.
        let held = ad_week(first, 1, dec!(12.5), dec!(32) + dec!(6) / dec!(7), dec!(1));
        assert_eq!(held.strategy.ad_bias, first.ad_bias, "{:?}", held.lessons);
        assert!(held.lessons.iter().any(|l| l.contains("made 1.14 in gross profit a unit; holding ad budget")));
        // 100 more a week for the same 17.50: grow.
        let grown = ad_week(first, 1, dec!(12.5), dec!(30) + dec!(100) / dec!(7), dec!(1));
        assert!((grown.strategy.ad_bias - first.ad_bias * 1.25).abs() < 1e-12);
        // 3.50 more a week: cut, back where it was.
        let cut = ad_week(first, 1, dec!(12.5), dec!(30.5), dec!(1));
        assert!((cut.strategy.ad_bias - 1.0).abs() < 1e-12, "{:?}", cut.lessons);
        // The same difference is worth half as much where sales keep half their money.
        let thin = ad_week(
            ad_week(Strategy::default(), 0, dec!(10), dec!(30), dec!(0.5)).strategy,
            1,
            dec!(12.5),
            dec!(32) + dec!(6) / dec!(7),
            dec!(0.5),
        );
        assert!(
            thin.lessons.iter().any(|l| l.contains("made 0.57 in gross profit a unit; cutting ad budget")),
            "{:?}",
            thin.lessons
        );
    }

    #[test]
    fn the_ad_bias_stays_within_its_range_and_a_week_without_ads_teaches_nothing() {
        // Ads whose every unit brings 100 back: the budget grows to its ceiling.
        let mut strategy = Strategy::default();
        let mut highest: f64 = 0.0;
        for week in 0..40 {
            let spend = Decimal::from_f64(10.0 * strategy.ad_bias).expect("a spend");
            strategy = ad_week(strategy, week, spend, spend * dec!(100), dec!(1)).strategy;
            highest = highest.max(strategy.ad_bias);
        }
        // At the ceiling it still probes a step down now and then, and comes back.
        assert_eq!(highest, AD_BIAS_RANGE.1);
        assert!(strategy.ad_bias >= AD_BIAS_RANGE.1 / AD_BIAS_STEP, "{}", strategy.ad_bias);
        // Then every unit brings a hundredth back: down to the floor, and it stays there.
        for week in 40..80 {
            let spend = Decimal::from_f64(10.0 * strategy.ad_bias).expect("a spend");
            strategy = ad_week(strategy, week, spend, spend / dec!(100), dec!(1)).strategy;
        }
        assert_eq!(strategy.ad_bias, AD_BIAS_RANGE.0);
        let idle = ad_week(Strategy::default(), 0, dec!(0), dec!(0), dec!(1));
        assert_eq!(idle.strategy.ad_bias, 1.0);
    }

    #[test]
    fn probes_alternate_so_a_budget_that_pays_at_the_margin_as_much_as_it_costs_does_not_drift() {
        // The same spend and returns every week: nothing to compare, so the budget
        // tries a step up, then a step down, and so on.
        let mut strategy = Strategy::default();
        let mut biases = Vec::new();
        for week in 0..6 {
            strategy = ad_week(strategy, week, dec!(10), dec!(30), dec!(1)).strategy;
            biases.push(strategy.ad_bias);
        }
        assert_eq!(biases, [1.25, 1.0, 1.25, 1.0, 1.25, 1.0]);
    }

    #[test]
    fn a_product_launched_in_between_is_not_taken_for_ads_that_paid() {
        let one = ad_week(Strategy::default(), 0, dec!(10), dec!(30), dec!(1)).strategy;
        // Twice the products, twice the spend and twice what the ads brought: a
        // product's spend did not change, so there is no margin to read; a probe.
        let mut two = one;
        let day = CycleOutcome { net: dec!(100), products: 2, ..outcome(dec!(120), dec!(120), dec!(20), dec!(60)) };
        let mut lessons = Vec::new();
        for cycle in 8..=14 {
            let reflected = reflect(&two, cycle, &day);
            two = reflected.strategy;
            lessons = reflected.lessons;
        }
        assert!(lessons.iter().any(|l| l.contains("trying a budget a step down")), "{lessons:?}");
        assert_eq!(two.ad_bias, 1.0);
    }

    #[test]
    fn cycles_that_skip_a_weeks_end_still_compare_what_the_weeks_tallied() {
        let day = CycleOutcome { net: dec!(20), ..outcome(dec!(40), dec!(40), dec!(10), dec!(30)) };
        let early = reflect(&Strategy::default(), 3, &day).strategy;
        assert_eq!(early.ad_weeks.current.spend, 10.0);
        // Cycle 9 is in week 1: week 0's tally becomes the last week, unjudged.
        let later = reflect(&early, 9, &day).strategy;
        assert_eq!(later.ad_bias, 1.0);
        assert_eq!(later.ad_weeks.last.map(|w| (w.week, w.spend)), Some((0, 10.0)));
        assert_eq!((later.ad_weeks.current.week, later.ad_weeks.current.spend), (1, 10.0));
        // The largest cycle numbers neither wrap nor panic.
        let far = reflect(&later, i64::MAX, &day).strategy;
        assert!(far.ad_bias.is_finite());
        let before = reflect(&later, i64::MIN, &day).strategy;
        assert!(before.ad_bias.is_finite());
    }

    #[test]
    fn an_on_plan_cycle_changes_nothing_and_says_so() {
        let before = Strategy::default();
        let after = reflect(&before, 1, &outcome(dec!(100), dec!(110), dec!(0), dec!(0)));
        assert!(after.success);
        assert_eq!(after.strategy.ad_bias, 1.0);
        let w = after.strategy.weights;
        assert!((w.demand - before.weights.normalized().demand).abs() < 1e-12);
        assert_eq!(after.lessons, ["templates: on plan; strategy unchanged"]);
    }
}
