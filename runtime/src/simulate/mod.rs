//! `boardroom bench --simulate`: decision quality, measured against the best possible play.
//!
//! Every policy plays the same worlds: for each seed, one tenant of each personality runs
//! one autopilot cycle per simulated day on the sandbox market (offline brain), and each
//! baseline (see `baselines`) plays the very same world (same seed, same tenant id, so
//! the same niches, demand and noise). The seeds are drawn from `--seed` by SplitMix64,
//! never picked. Each policy is reported over the seeds: mean profit, the worst seed, the
//! spread, its share of the oracle's profit, units, margin, how often it beats each
//! baseline, and whether its last 30 days earned more than its first 30. Each
//! personality also plays with learning off (its strategy kept at the start's), the
//! control that shows what learning earns.
//!
//! Profit is the market's own account: revenue − refunds − payment fees − cost of goods
//! − ad spend. Margin is before ads: what sales keep after refunds, fees and the cost of
//! goods, as a share of revenue.

mod baselines;
mod swarm;

use std::sync::Arc;
use std::time::Instant;

use boardroom_adapters::{Marketplace, PerformanceReport, SandboxMarket};
use boardroom_memory::TenantId;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::prelude::ToPrimitive;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Base marketing money per day, the same for every baseline (a personality splits its
/// own, as the autopilot does).
const DAILY_BUDGET: i64 = 30;

/// The tenant every policy plays: the first tenant of a fresh database, so every
/// policy's world is the same one.
const TENANT: TenantId = TenantId(1);

/// Days at each end of a run compared to tell whether the swarm learned.
const LEARNING_WINDOW: u32 = 30;

/// What `--simulate` runs.
#[derive(Debug, Clone)]
pub(crate) struct SimulateOptions {
    /// Run lengths in simulated days; each gets its own table.
    pub(crate) days: Vec<u32>,
    /// How many seeds to draw.
    pub(crate) seeds: usize,
    /// What the seeds are drawn from.
    pub(crate) seed: u64,
}

/// What one policy did in one world.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) policy: String,
    pub(crate) profit: f64,
    pub(crate) ad_spend: f64,
    pub(crate) units: u64,
    /// What sales kept after refunds, fees and cost of goods, as a share of revenue.
    pub(crate) margin: f64,
    /// Profit in the first and the last [`LEARNING_WINDOW`] days.
    pub(crate) first_window: f64,
    pub(crate) last_window: f64,
    /// Products listed, and in how many niches.
    pub(crate) products: usize,
    pub(crate) niches: usize,
}

impl Outcome {
    /// Reads what `policy` did over `days` days from the market's own reports.
    pub(crate) async fn measure(policy: &str, market: &SandboxMarket, days: u32) -> anyhow::Result<Self> {
        let whole = market.report(TENANT, 0, days).await?;
        let window = LEARNING_WINDOW.min(days);
        let first = market.report(TENANT, 0, window).await?;
        let last = market.report(TENANT, days - window, days).await?;
        let revenue = money(whole.gross_revenue());
        let ad_spend = money(whole.ad_spend());
        let profit = money(whole.net_profit());
        let mut niches: Vec<&str> = whole.products.iter().map(|product| product.niche.as_str()).collect();
        niches.sort_unstable();
        niches.dedup();
        Ok(Self {
            policy: policy.to_owned(),
            profit,
            ad_spend,
            units: whole.units_sold(),
            margin: if revenue > 0.0 { (profit + ad_spend) / revenue } else { 0.0 },
            first_window: profit_of(&first),
            last_window: profit_of(&last),
            products: whole.products.len(),
            niches: niches.len(),
        })
    }
}

fn money(amount: rust_decimal::Decimal) -> f64 {
    amount.to_f64().unwrap_or(0.0)
}

fn profit_of(report: &PerformanceReport) -> f64 {
    money(report.net_profit())
}

/// `count` seeds drawn from `base` by SplitMix64: anyone can draw the same ones, and no
/// one picks them.
pub(crate) fn draw_seeds(base: u64, count: usize) -> Vec<u64> {
    let mut state = base;
    (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            // Small enough to type back on the command line.
            (z ^ (z >> 31)) % 1_000_000
        })
        .collect()
}

/// A policy the table has a row for.
#[derive(Debug, Clone)]
enum Policy {
    /// A swarm of this personality.
    Swarm(String),
    /// A swarm of this personality whose strategy does not learn: the control.
    Unlearning(String),
    Oracle,
    Strong,
    Fixed,
    Random,
}

impl Policy {
    async fn play(self, days: u32, seed: u64) -> anyhow::Result<Outcome> {
        match self {
            Policy::Swarm(personality) => swarm::play(&personality, &personality, true, days, seed).await,
            Policy::Unlearning(personality) => {
                swarm::play(&without_learning(&personality), &personality, false, days, seed).await
            }
            Policy::Oracle => baselines::oracle(days, seed).await,
            Policy::Strong => baselines::strong(days, seed).await,
            Policy::Fixed => baselines::fixed(days, seed).await,
            Policy::Random => baselines::random(days, seed).await,
        }
    }
}

/// Runs every policy on every seed for each run length and prints the tables.
pub(crate) async fn run(options: SimulateOptions) -> anyhow::Result<()> {
    anyhow::ensure!(options.seeds > 0, "--seeds must be at least 1");
    anyhow::ensure!(options.days.iter().all(|&days| days > 0), "--days must be at least 1");
    let seeds = draw_seeds(options.seed, options.seeds);
    let personalities: Vec<String> = boardroom_personalities::built_in().into_iter().map(|p| p.name).collect();
    let mut policies: Vec<Policy> = personalities.iter().cloned().map(Policy::Swarm).collect();
    policies.extend(personalities.iter().cloned().map(Policy::Unlearning));
    policies.extend([Policy::Oracle, Policy::Strong, Policy::Fixed, Policy::Random]);
    println!(
        "decision quality: {} seeds drawn from {} ({}), over {} days; offline brain, sandbox market",
        seeds.len(),
        options.seed,
        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        options.days.iter().map(u32::to_string).collect::<Vec<_>>().join(" and ")
    );
    let started = Instant::now();
    let total_days: u64 = options.days.iter().map(|&days| u64::from(days)).sum::<u64>() * seeds.len() as u64;
    let bar = ProgressBar::new(total_days * policies.len() as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent}% simulated days · eta {eta} · {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    // Every (run length, seed, policy) is independent: spread them over the cores.
    let parallel = std::thread::available_parallelism().map_or(2, usize::from);
    let permits = Arc::new(Semaphore::new(parallel));
    let mut jobs = JoinSet::new();
    for (length, &days) in options.days.iter().enumerate() {
        for (seed_index, &seed) in seeds.iter().enumerate() {
            for (policy_index, policy) in policies.iter().enumerate() {
                let (policy, permits, bar) = (policy.clone(), permits.clone(), bar.clone());
                jobs.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let outcome = policy.clone().play(days, seed).await;
                    bar.inc(u64::from(days));
                    bar.set_message(format!("{policy:?} on seed {seed}"));
                    (
                        length,
                        seed_index,
                        policy_index,
                        outcome.map_err(|error| error.context(format!("{policy:?}, seed {seed}, {days} days"))),
                    )
                });
            }
        }
    }
    let mut results = vec![vec![vec![None; policies.len()]; seeds.len()]; options.days.len()];
    while let Some(joined) = jobs.join_next().await {
        let (length, seed_index, policy_index, outcome) = joined?;
        results[length][seed_index][policy_index] = Some(outcome?);
    }
    bar.finish_and_clear();
    for (length, &days) in options.days.iter().enumerate() {
        let table: Vec<Vec<Outcome>> = results[length]
            .iter()
            .map(|row| row.iter().map(|outcome| outcome.clone().expect("every job reported")).collect())
            .collect();
        print_table(days, &personalities, &table);
    }
    println!("\n({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The name of a personality's control row.
fn without_learning(personality: &str) -> String {
    format!("{personality}, no learning")
}

/// The column of `policy` across seeds.
fn column<'a>(table: &'a [Vec<Outcome>], policy: &str) -> Vec<&'a Outcome> {
    table.iter().filter_map(|row| row.iter().find(|outcome| outcome.policy == policy)).collect()
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values.into_iter().fold((0.0, 0usize), |(sum, count), value| (sum + value, count + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Share of seeds on which `policy`'s `measure` is larger than `other`'s.
fn ahead_rate(table: &[Vec<Outcome>], policy: &str, other: &str, measure: impl Fn(&Outcome) -> f64) -> f64 {
    let ahead = table
        .iter()
        .filter(|row| {
            let of = |name: &str| row.iter().find(|outcome| outcome.policy == name).map(&measure);
            matches!((of(policy), of(other)), (Some(a), Some(b)) if a > b)
        })
        .count();
    ahead as f64 / table.len().max(1) as f64
}

/// Share of seeds on which `policy` earned more than `other`.
fn win_rate(table: &[Vec<Outcome>], policy: &str, other: &str) -> f64 {
    ahead_rate(table, policy, other, |outcome| outcome.profit)
}

/// Share of seeds on which `policy` has the largest `measure` among `among`.
fn top_rate(table: &[Vec<Outcome>], policy: &str, among: &[String], measure: impl Fn(&Outcome) -> f64) -> f64 {
    let tops = table
        .iter()
        .filter(|row| {
            let best = row
                .iter()
                .filter(|outcome| among.contains(&outcome.policy))
                .max_by(|a, b| measure(a).total_cmp(&measure(b)));
            best.is_some_and(|best| best.policy == policy)
        })
        .count();
    tops as f64 / table.len().max(1) as f64
}

/// `policy`'s profit as a share of the oracle's, averaged over the seeds.
fn share_of_oracle(table: &[Vec<Outcome>], policy: &str) -> f64 {
    mean(table.iter().filter_map(|row| {
        let oracle = row.iter().find(|o| o.policy == "oracle")?.profit;
        let own = row.iter().find(|o| o.policy == policy)?.profit;
        (oracle > 0.0).then_some(own / oracle)
    }))
}

/// Share of seeds on which `policy`'s last [`LEARNING_WINDOW`] days earned more than
/// `other`'s last ones.
fn ends_ahead(table: &[Vec<Outcome>], policy: &str, other: &str) -> f64 {
    ahead_rate(table, policy, other, |outcome| outcome.last_window)
}

/// Profit's spread across seeds relative to its mean (the coefficient of variation).
fn relative_spread(outcomes: &[&Outcome]) -> f64 {
    let average = mean(outcomes.iter().map(|outcome| outcome.profit));
    let variance = mean(outcomes.iter().map(|outcome| (outcome.profit - average).powi(2)));
    if average.abs() > f64::EPSILON { variance.sqrt() / average.abs() } else { f64::INFINITY }
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn print_table(days: u32, personalities: &[String], table: &[Vec<Outcome>]) {
    let names: Vec<String> =
        table.first().map(|row| row.iter().map(|o| o.policy.clone()).collect()).unwrap_or_default();
    println!("\n== {days} days, {} seeds ==", table.len());
    println!(
        "{:<21} {:>11} {:>11} {:>7} {:>8} {:>9} {:>7} {:>9} {:>8} {:>7} {:>7} {:>8} {:>10}",
        "policy",
        "mean profit",
        "worst seed",
        "spread",
        "% oracle",
        "units",
        "margin",
        "ad spend",
        "products",
        "> fixed",
        "> rand",
        "> strong",
        "last>first"
    );
    for name in &names {
        let outcomes = column(table, name);
        let of_oracle = share_of_oracle(table, name);
        let worst = outcomes.iter().map(|o| o.profit).fold(f64::INFINITY, f64::min);
        let learned =
            outcomes.iter().filter(|o| o.last_window > o.first_window).count() as f64 / outcomes.len().max(1) as f64;
        let wins = |other: &str| if other == name { "—".to_owned() } else { percent(win_rate(table, name, other)) };
        println!(
            "{:<21} {:>11.0} {:>11.0} {:>7.2} {:>8} {:>9.0} {:>7} {:>9.0} {:>8} {:>7} {:>7} {:>8} {:>10}",
            name,
            mean(outcomes.iter().map(|o| o.profit)),
            worst,
            relative_spread(&outcomes),
            percent(of_oracle),
            mean(outcomes.iter().map(|o| o.units as f64)),
            percent(mean(outcomes.iter().map(|o| o.margin))),
            mean(outcomes.iter().map(|o| o.ad_spend)),
            format!(
                "{:.1}/{:.1}",
                mean(outcomes.iter().map(|o| o.products as f64)),
                mean(outcomes.iter().map(|o| o.niches as f64))
            ),
            wins("fixed"),
            wins("random"),
            wins("strong"),
            if days > 2 * LEARNING_WINDOW { percent(learned) } else { "—".to_owned() },
        );
    }
    println!(
        "(spread: standard deviation of profit across seeds over its mean; products: listed/niches; > X: share of seeds beating X; last>first: share of seeds whose last {LEARNING_WINDOW} days earned more than the first {LEARNING_WINDOW})"
    );

    println!("aims:");
    for personality in personalities {
        let least = ["fixed", "random", "strong"]
            .iter()
            .map(|other| win_rate(table, personality, other))
            .fold(f64::INFINITY, f64::min);
        let of_oracle = share_of_oracle(table, personality);
        println!(
            "  {personality}: beats every baseline on {} of seeds at least (aim 95 %: {}); {} of the oracle (aim 70 %: {})",
            percent(least),
            met(least >= 0.95),
            percent(of_oracle),
            met(of_oracle >= 0.70)
        );
    }
    if days > 2 * LEARNING_WINDOW {
        for personality in personalities {
            let control = without_learning(personality);
            let own = column(table, personality);
            let improved =
                own.iter().filter(|o| o.last_window > o.first_window).count() as f64 / own.len().max(1) as f64;
            let ahead = ends_ahead(table, personality, &control);
            println!(
                "  {personality} learns: its last {LEARNING_WINDOW} days beat its first on {} of seeds, and beat the \
                 last {LEARNING_WINDOW} of its control without learning on {} (aim: most seeds: {})",
                percent(improved),
                percent(ahead),
                met(improved > 0.5 && ahead > 0.5)
            );
        }
    }
    let promise = |name: &str, what: &str, share: f64| {
        if personalities.iter().any(|p| p == name) {
            println!("  {name} {what} on {} of seeds (aim: most seeds: {})", percent(share), met(share > 0.5));
        }
    };
    promise("HustleBot", "sells the most units", top_rate(table, "HustleBot", personalities, |o| o.units as f64));
    promise("LuxuryScaler", "has the highest margin", top_rate(table, "LuxuryScaler", personalities, |o| o.margin));
    let spreads: Vec<(String, f64)> =
        personalities.iter().map(|p| (p.clone(), relative_spread(&column(table, p)))).collect();
    if let Some((steadiest, spread)) = spreads.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        println!(
            "  the steadiest profit across seeds: {steadiest} (spread {spread:.2}; aim CoachTy: {})",
            met(steadiest == "CoachTy")
        );
    }
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_drawn_the_same_from_the_same_base_and_differ_between_bases() {
        let drawn = draw_seeds(42, 20);
        assert_eq!(drawn, draw_seeds(42, 20));
        assert_ne!(drawn, draw_seeds(43, 20));
        let mut distinct = drawn.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 20);
        assert!(drawn.iter().all(|&seed| seed < 1_000_000));
        assert_eq!(draw_seeds(u64::MAX, 2).len(), 2);
    }

    fn played(policy: &str, profit: f64, last_window: f64) -> Outcome {
        Outcome {
            policy: policy.into(),
            profit,
            ad_spend: 0.0,
            units: 0,
            margin: 0.0,
            first_window: 0.0,
            last_window,
            products: 1,
            niches: 1,
        }
    }

    #[test]
    fn shares_of_the_oracle_and_the_learning_comparison_are_taken_seed_by_seed() {
        let table = vec![
            vec![played("oracle", 100.0, 10.0), played("A", 50.0, 8.0), played("A, no learning", 40.0, 9.0)],
            vec![played("oracle", 200.0, 10.0), played("A", 20.0, 5.0), played("A, no learning", 10.0, 4.0)],
            // A seed on which the oracle lost money says nothing about shares of it.
            vec![played("oracle", -5.0, 1.0), played("A", 1.0, 3.0), played("A, no learning", 1.0, 2.0)],
        ];
        assert!((share_of_oracle(&table, "A") - (0.5 + 0.1) / 2.0).abs() < 1e-12);
        assert!((ends_ahead(&table, "A", &without_learning("A")) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(ends_ahead(&table, "A", "nobody"), 0.0);
        assert_eq!(share_of_oracle(&[], "A"), 0.0);
    }
}
