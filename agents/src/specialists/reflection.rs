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
    /// Multiplier on the personality's ad budget, learnt from ad returns (0.3–1.5).
    pub ad_bias: f64,
    /// Multipliers on the personality's leaning to each social network, learnt from
    /// what the posts there drew.
    #[serde(default)]
    pub networks: NetworkBias,
}

impl Default for Strategy {
    fn default() -> Self {
        Self { weights: StrategyWeights::default(), ad_bias: 1.0, networks: NetworkBias::default() }
    }
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
    let networks = learn_networks(current.networks, &outcome.engagement, &mut lessons);
    if lessons.is_empty() {
        lessons.push(format!("{}: on plan; strategy unchanged", outcome.niche));
    }
    Reflection {
        strategy: Strategy { weights: weights.normalized(), ad_bias, networks },
        revenue_gap,
        return_on_ad_spend,
        success: revenue_gap >= -0.2,
        lessons,
    }
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
        let after = reflect(&Strategy::default(), &CycleOutcome { engagement: engagement.clone(), ..on_plan.clone() });
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
            strategy = reflect(&strategy, &CycleOutcome { engagement: engagement.clone(), ..on_plan.clone() }).strategy;
        }
        assert_eq!((strategy.networks.x, strategy.networks.linkedin), (NETWORK_BIAS_RANGE.1, NETWORK_BIAS_RANGE.0));

        let one_network = CycleOutcome { engagement: vec![drew(SocialNetwork::X, 3, 90)], ..on_plan.clone() };
        assert_eq!(reflect(&Strategy::default(), &one_network).strategy.networks, NetworkBias::default());
        let silent = CycleOutcome {
            engagement: vec![drew(SocialNetwork::X, 3, 0), drew(SocialNetwork::Reddit, 1, 0)],
            ..on_plan
        };
        assert_eq!(reflect(&Strategy::default(), &silent).strategy.networks, NetworkBias::default());
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
