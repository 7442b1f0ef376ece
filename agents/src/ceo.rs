//! The CEO: runs the autopilot cycle, delegating each step to the specialists and
//! acting on the market through the tenant's platform adapter.
//!
//! ```text
//! market analysis → product creation → store set-up → marketing launch
//!   → performance monitoring → revenue optimisation → reinvestment
//! ```
//!
//! Every step ends with a checkpoint (cycle, next step, what the steps produced), so a
//! process killed mid-cycle resumes at the step it stopped at. Every platform call
//! carries an idempotency key derived from the tenant, the cycle, the step and the item,
//! so the step repeated after a crash replays instead of acting twice; local rows are
//! matched by the platform's ids and ledger rows by transaction ids for the same reason.
//! A sandbox world is saved right after each call that changed it.
//!
//! When the last step is done, the CEO writes the cycle's board minutes (see
//! `minutes`) from the facts the steps collected in the checkpointed state, puts them
//! before the brain like any decision, and stores them before the checkpoint that closes
//! the cycle: a crash in between resumes the last step, which writes them again over
//! the first write (one report per cycle). The event that announces them, `ceo.report`,
//! commits with that checkpoint.
//!
//! Event summaries are sentences an owner reads in the live feed ("Pricing raised
//! "Sunrise Mug" from $18.00 to $19.50: …"); their `kind` and `data` are for programs.
//!
//! An owner can pin a product's price (agent memory [`PRICE_OVERRIDE_NAMESPACE`], keyed
//! by the product's id, `{"price": …}`): revenue optimisation then sets that price on
//! the platform and does not ask the pricing agent about the product until the pin is
//! released (a `null` entry).

use std::collections::HashMap;

use async_trait::async_trait;
use boardroom_adapters::{
    AdChannel, CampaignSpec, IdempotencyKey, MarketSnapshot, PostSpec, ProductListing, PublishedPost,
};
use boardroom_memory::{
    ApprovalStatus, Checkpoint, CycleReport, NewCampaign, NewEvent, NewMarketInsight, NewProduct, NewSocialPost,
    Product,
};
use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent::{Agent, AgentContext, AgentError, Decided, Task};
use crate::brain::{DecisionSource, ExpectedShape};
use crate::copywriting::{self, Tone, Variation};
use crate::guard::{self, AdFlight, SpendingCaps, Verdict};
use crate::minutes::{
    self, CycleFacts, DayFacts, LaunchFacts, MarketFacts, MarketingFacts, PriceMove, PricingFacts, ProductDay,
    ReinvestmentFacts, Voice, money, readable_niche,
};
use crate::specialists::{Network, NetworkEngagement, SalesObservation, content, network_name};

/// The steps of a cycle, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Read the market, rank niches.
    MarketAnalysis,
    /// Design a product for the chosen niche (when the portfolio has room).
    ProductCreation,
    /// Open the store and list the product.
    StoreSetup,
    /// Launch ad flights and social posts.
    MarketingLaunch,
    /// Let the market run, read its report, book the ledger.
    PerformanceMonitoring,
    /// Re-price products from their own sales.
    RevenueOptimization,
    /// Plan reinvestment, record the experience, reflect.
    Reinvestment,
    /// The cycle is over.
    Done,
}

impl Step {
    /// Every step of a cycle, in order.
    pub const ORDER: [Step; 7] = [
        Step::MarketAnalysis,
        Step::ProductCreation,
        Step::StoreSetup,
        Step::MarketingLaunch,
        Step::PerformanceMonitoring,
        Step::RevenueOptimization,
        Step::Reinvestment,
    ];

    /// The step's name, as stored in checkpoints and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::MarketAnalysis => "market_analysis",
            Step::ProductCreation => "product_creation",
            Step::StoreSetup => "store_setup",
            Step::MarketingLaunch => "marketing_launch",
            Step::PerformanceMonitoring => "performance_monitoring",
            Step::RevenueOptimization => "revenue_optimization",
            Step::Reinvestment => "reinvestment",
            Step::Done => "done",
        }
    }

    /// The step as the feed names it: "Market analysis".
    pub fn title(self) -> &'static str {
        match self {
            Step::MarketAnalysis => "Market analysis",
            Step::ProductCreation => "Product creation",
            Step::StoreSetup => "Store set-up",
            Step::MarketingLaunch => "Marketing launch",
            Step::PerformanceMonitoring => "Performance monitoring",
            Step::RevenueOptimization => "Revenue optimisation",
            Step::Reinvestment => "Reinvestment",
            Step::Done => "Done",
        }
    }

    fn parse(text: &str) -> Option<Step> {
        Step::ORDER.into_iter().chain([Step::Done]).find(|step| step.as_str() == text)
    }

    fn next(self) -> Step {
        match Step::ORDER.iter().position(|s| *s == self) {
            Some(index) if index + 1 < Step::ORDER.len() => Step::ORDER[index + 1],
            _ => Step::Done,
        }
    }
}

/// Marketing money per simulated day before the personality's split, in the store's
/// currency; reinvestment adds to it.
const BASE_DAILY_BUDGET: Decimal = Decimal::from_parts(30, 0, 0, false, 0);
/// Ad flights last a week.
pub(crate) const FLIGHT_DAYS: u32 = 7;
/// The most products a tenant runs at once.
pub const MAX_PRODUCTS: usize = 5;
/// The most organic posts a product gets a day.
pub const MAX_POSTS_PER_PRODUCT_A_DAY: usize = 2;

/// What the steps of one cycle hand each other, saved in the checkpoint. Every field has
/// a default, so a checkpoint written before a field existed still loads (and keeps the
/// rest of what it holds) rather than restarting the cycle's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct CycleState {
    /// The market as read at the start of the cycle.
    snapshot: Option<MarketSnapshot>,
    /// The niche the strategist chose.
    niche: Option<String>,
    /// A product designed this cycle, not yet listed.
    draft: Option<Draft>,
    /// Revenue the plan expects for the day.
    expected_revenue: Decimal,
    /// What the day brought.
    outcome: Option<DayOutcome>,
    /// When the cycle started (to the microsecond, as the store keeps times): tells a
    /// resumed step which of its rows this cycle already made.
    started_at: Option<DateTime<Utc>>,
    /// What the board minutes will report, collected step by step.
    facts: CycleFacts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Draft {
    niche: String,
    category: String,
    title: String,
    description: String,
    tags: Vec<String>,
    price: Decimal,
    unit_cost: Decimal,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DayOutcome {
    revenue: Decimal,
    net: Decimal,
    ad_spend: Decimal,
    ad_revenue: Decimal,
    units: u64,
    /// What the recent posts drew, per network.
    #[serde(default)]
    engagement: Vec<NetworkEngagement>,
}

/// The CEO agent. Actions: `run_cycle` (run or resume the autopilot cycle; answers with
/// the cycle's summary), `roll_call` (ping every peer), `ping`, `status`.
#[derive(Debug, Default)]
pub struct Ceo;

#[async_trait]
impl Agent for Ceo {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "roll_call" => Ok(roll_call(context).await),
            "run_cycle" => run_cycle(context).await,
            _ => Err(AgentError::UnknownAction { agent: context.agent.to_owned(), action: task.action }),
        }
    }
}

async fn roll_call(context: &AgentContext) -> Value {
    let mut present = Vec::new();
    let mut absent = serde_json::Map::new();
    for name in context.peers.names().into_iter().filter(|name| *name != context.agent) {
        // Any answer — even "I have no such action" — proves the agent is up.
        match context.call(name, Task::bare("ping")).await {
            Err(error @ (AgentError::Unavailable(_) | AgentError::Throttled { .. } | AgentError::NoSuchAgent(_))) => {
                absent.insert(name.to_owned(), Value::String(error.to_string()));
            }
            Ok(_) | Err(_) => present.push(name),
        }
    }
    let summary = format!("Roll call: {} present, {} absent", present.len(), absent.len());
    let report = json!({ "present": present, "absent": absent });
    context.emit("ceo.roll_call", summary, report.clone()).await;
    report
}

fn store_error(error: boardroom_memory::MemoryError) -> AgentError {
    AgentError::Failed(format!("storage: {error}"))
}

fn market_error(error: boardroom_adapters::AdapterError) -> AgentError {
    AgentError::Failed(format!("market: {error}"))
}

/// Runs the cycle the checkpoint points at, from its step to the end.
async fn run_cycle(context: &AgentContext) -> Result<Value, AgentError> {
    let checkpoint = context.store.checkpoint(context.tenant).await.map_err(store_error)?;
    let (cycle, mut step, mut state) = match checkpoint {
        Some(c) if c.step != Step::Done.as_str() => {
            let step = Step::parse(&c.step).unwrap_or(Step::MarketAnalysis);
            let state: CycleState = serde_json::from_value(c.state).unwrap_or_default();
            context
                .emit(
                    "cycle.resumed",
                    format!("Cycle {} resumed at {} after an interruption", c.cycle, step.title().to_lowercase()),
                    json!({ "cycle": c.cycle, "step": step.as_str() }),
                )
                .await;
            (c.cycle, step, state)
        }
        previous => {
            let cycle = previous.map_or(1, |c| c.cycle + 1);
            // The new cycle's first checkpoint commits with its start: after a crash the
            // next run resumes this cycle instead of starting (and announcing) it again.
            let state = CycleState {
                started_at: Some(Utc::now().trunc_subsecs(6)),
                facts: CycleFacts { currency: CURRENCY.to_owned(), ..CycleFacts::default() },
                ..CycleState::default()
            };
            let started = NewEvent::now(
                context.tenant,
                context.agent,
                "cycle.started",
                format!("Cycle {cycle} started: the CEO reads the market first"),
            )
            .with_data(json!({ "cycle": cycle }));
            commit_step(context, cycle, Step::MarketAnalysis, &state, vec![started]).await?;
            (cycle, Step::MarketAnalysis, state)
        }
    };
    while step != Step::Done {
        let summary = match step {
            Step::MarketAnalysis => market_analysis(context, &mut state).await?,
            Step::ProductCreation => product_creation(context, cycle, &mut state).await?,
            Step::StoreSetup => store_setup(context, cycle, &mut state).await?,
            Step::MarketingLaunch => marketing_launch(context, cycle, &mut state).await?,
            Step::PerformanceMonitoring => performance_monitoring(context, cycle, &mut state).await?,
            Step::RevenueOptimization => revenue_optimization(context, cycle, &mut state).await?,
            Step::Reinvestment => reinvestment(context, cycle, &mut state).await?,
            Step::Done => break,
        };
        let next = step.next();
        let mut events = vec![
            NewEvent::now(context.tenant, context.agent, "cycle.step", format!("{}: {summary}", step.title()))
                .with_data(json!({ "cycle": cycle, "step": step.as_str(), "next": next.as_str() })),
        ];
        if next == Step::Done {
            // The minutes are stored before the checkpoint that closes the cycle, so a
            // crash between the two resumes this step and writes them again (an upsert);
            // the event that announces them commits with that checkpoint.
            let report = write_report(context, cycle, &state).await?;
            events.push(completed_event(context, cycle, &state));
            events.push(report);
        }
        commit_step(context, cycle, next, &state, events).await?;
        step = next;
    }
    let outcome = state.outcome.clone().unwrap_or_default();
    Ok(json!({ "cycle": cycle, "niche": state.niche, "expected_revenue": state.expected_revenue, "outcome": outcome }))
}

/// The event that closes a cycle, with its money.
fn completed_event(context: &AgentContext, cycle: i64, state: &CycleState) -> NewEvent {
    let outcome = state.outcome.clone().unwrap_or_default();
    let summary = match &state.facts.outcome {
        Some(day) => day.closing_sentence(currency(state)),
        None => format!("Cycle {cycle} closed"),
    };
    NewEvent::now(context.tenant, context.agent, "cycle.completed", summary)
    .with_data(
        json!({ "cycle": cycle, "niche": state.niche, "expected_revenue": state.expected_revenue, "outcome": outcome }),
    )
    .with_revenue_impact(outcome.net)
}

/// The currency the cycle's facts are in.
fn currency(state: &CycleState) -> &str {
    if state.facts.currency.is_empty() { CURRENCY } else { &state.facts.currency }
}

/// What the CEO asks the brain when the minutes are written.
const MINUTES_INSTRUCTION: &str = "Write the minutes of this cycle's board meeting for the business's owner, in \
    your own voice: a one-line headline, then short paragraphs on the market and the strategist's choice, the \
    launch, the ads and posts, each price move and why, the day's money, the reinvestment and the lessons. Use \
    only the facts given and keep every amount with its currency.";

/// Writes the cycle's board minutes: composed offline from the facts the steps
/// collected, in the personality's voice, then put before the brain (a model, when
/// there is one, words them its own way; if it fails, the offline minutes stand), and
/// stored. Returns the `ceo.report` event that announces them.
async fn write_report(context: &AgentContext, cycle: i64, state: &CycleState) -> Result<NewEvent, AgentError> {
    let voice = Voice {
        tone: Tone::from_marketing_approach(&context.personality.marketing_approach),
        name: context.personality.name.clone(),
    };
    let proposal = minutes::compose(&state.facts, &voice, context.tenant, cycle);
    let day = state.facts.outcome.as_ref().map_or(cycle, |outcome| i64::from(outcome.day));
    let mut data = serde_json::to_value(&state.facts).map_err(|e| AgentError::Failed(e.to_string()))?;
    data["cycle"] = json!(cycle);
    data["day"] = json!(day);
    data["personality"] = json!(voice.name);
    let shape =
        ExpectedShape::object().string("headline", minutes::HEADLINE_LIMIT).string("minutes", minutes::MINUTES_LIMIT);
    let offered = json!({ "headline": proposal.headline, "minutes": proposal.minutes });
    let decided = match context.decide(MINUTES_INSTRUCTION, data.clone(), offered.clone(), shape).await {
        Ok(decided) => decided,
        Err(error) => {
            // `decide` already falls back to the proposal when the brain fails; this
            // covers anything else, so the cycle still closes with its minutes.
            tracing::warn!(%error, tenant = %context.tenant, cycle, "minutes written offline");
            Decided { decision: offered, source: DecisionSource::Offline }
        }
    };
    let written = |field: &str, offline: &str| {
        decided.decision[field].as_str().map(str::trim).filter(|text| !text.is_empty()).unwrap_or(offline).to_owned()
    };
    let report = CycleReport {
        tenant_id: context.tenant,
        cycle,
        headline: written("headline", &proposal.headline),
        minutes: written("minutes", &proposal.minutes),
        data,
        source: decided.source.to_string(),
        written_at: Utc::now(),
    };
    context.store.save_cycle_report(&report).await.map_err(store_error)?;
    Ok(NewEvent::now(context.tenant, context.agent, "ceo.report", report.headline.clone())
        .with_data(json!({ "cycle": cycle, "day": day, "source": report.source })))
}

/// Saves the checkpoint (the cycle is at `step` with `state`) and the events that
/// report how it got there, in one transaction: a crash keeps both or neither.
async fn commit_step(
    context: &AgentContext,
    cycle: i64,
    step: Step,
    state: &CycleState,
    events: Vec<NewEvent>,
) -> Result<(), AgentError> {
    let checkpoint = Checkpoint {
        tenant_id: context.tenant,
        cycle,
        step: step.as_str().to_owned(),
        state: serde_json::to_value(state).map_err(|e| AgentError::Failed(e.to_string()))?,
        updated_at: Utc::now(),
    };
    context.events.commit(events, checkpoint).await.map_err(store_error)?;
    Ok(())
}

/// Saves a simulated world with the tenant's data, so a restarted process continues the
/// same world (and its idempotency record) instead of a fresh one. Called right after
/// every call that changes the world and before anything local refers to its result,
/// as a real platform keeps what it did: a crash can lose a change the tenant's rows
/// never heard of (the repeated call then makes it again, with the same ids), but never
/// one they refer to (a store or campaign id the world would hand out a second time).
async fn save_market(context: &AgentContext) -> Result<(), AgentError> {
    if let Some(world) = context.market.export_state(context.tenant).await {
        let platform =
            serde_json::to_value(context.market.platform()).map_err(|e| AgentError::Failed(e.to_string()))?;
        let platform = platform.as_str().unwrap_or("sandbox").to_owned();
        context.store.save_adapter_state(context.tenant, &platform, &world).await.map_err(store_error)?;
    }
    Ok(())
}

/// The agent-memory namespace of owners' price pins, keyed by product id.
pub const PRICE_OVERRIDE_NAMESPACE: &str = "price_override";

/// The price the owner pinned for `product`, if any.
async fn pinned_price(context: &AgentContext, product: i64) -> Result<Option<Decimal>, AgentError> {
    let stored = context
        .store
        .agent_memory(context.tenant, PRICE_OVERRIDE_NAMESPACE, &product.to_string())
        .await
        .map_err(store_error)?;
    Ok(stored.and_then(|memory| serde_json::from_value(memory.content["price"].clone()).ok()))
}

fn key(context: &AgentContext, cycle: i64, step: Step, item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(context.tenant, cycle, step.as_str(), item)
}

async fn market_analysis(context: &AgentContext, state: &mut CycleState) -> Result<String, AgentError> {
    let snapshot = context.market.market_snapshot(context.tenant).await.map_err(market_error)?;
    for niche in &snapshot.niches {
        let insight = NewMarketInsight {
            tenant_id: context.tenant,
            niche: niche.name.clone(),
            trend_data: json!({ "trend": niche.trend, "day": snapshot.today }),
            performance_data: json!({ "demand": niche.demand, "competition": niche.competition }),
            optimal_pricing: json!({ "reference_price": niche.reference_price, "unit_cost": niche.unit_cost }),
            best_times: json!({}),
        };
        context.store.upsert_market_insight(insight).await.map_err(store_error)?;
    }
    let ranking = context.call("strategist", Task::new("rank_niches", json!({ "niches": snapshot.niches }))).await?;
    let chosen = ranking["choice"]["niche"].as_str().map(str::to_owned);
    let reason = ranking["choice"]["reason"].as_str().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let read = plural(snapshot.niches.len(), "niche", "niches");
    let summary = match (&chosen, &reason) {
        (Some(niche), Some(reason)) => {
            format!("{read} read; the strategist chose {} ({reason})", readable_niche(niche))
        }
        (Some(niche), None) => format!("{read} read; the strategist chose {}", readable_niche(niche)),
        (None, _) => format!("{read} read; the strategist chose none"),
    };
    state.facts.market = Some(MarketFacts { niches_read: snapshot.niches.len(), chosen: chosen.clone(), reason });
    state.niche = chosen;
    state.snapshot = Some(snapshot);
    Ok(summary)
}

/// A bold personality launches a product a week, a careful one every three weeks.
fn launch_cadence(risk_appetite: f64) -> i64 {
    (21.0 - 14.0 * risk_appetite.clamp(0.0, 1.0)).round().max(1.0) as i64
}

/// Product creation when nothing is launched: the reason goes into the minutes too.
fn no_launch(state: &mut CycleState, why: String) -> String {
    state.facts.no_launch = Some(why.clone());
    format!("no launch ({why})")
}

async fn product_creation(context: &AgentContext, cycle: i64, state: &mut CycleState) -> Result<String, AgentError> {
    let products = context.store.products(context.tenant).await.map_err(store_error)?;
    let cadence = launch_cadence(context.personality.decisions.risk_appetite);
    let due = products.is_empty() || (cycle - 1) % cadence == 0;
    let (Some(snapshot), Some(niche_name)) = (state.snapshot.clone(), state.niche.clone()) else {
        return Ok(no_launch(state, "no niche was chosen".into()));
    };
    if products.len() >= MAX_PRODUCTS {
        let why = format!("the portfolio is full at {}", plural(products.len(), "product", "products"));
        return Ok(no_launch(state, why));
    }
    if !due {
        let why = format!(
            "the portfolio holds {}; the next launch is due in cycle {}",
            plural(products.len(), "product", "products"),
            next_launch(cycle, cadence)
        );
        return Ok(no_launch(state, why));
    }
    if products.iter().any(|p| p.niche == niche_name) {
        return Ok(no_launch(state, format!("the business already sells in {}", readable_niche(&niche_name))));
    }
    let Some(niche) = snapshot.niche(&niche_name) else {
        return Ok(no_launch(state, format!("{} is no longer on the market", readable_niche(&niche_name))));
    };
    // The words buyers read are chosen by a variation of the tenant, the niche and the
    // cycle: a resumed step writes the same draft again.
    let tone = Tone::from_marketing_approach(&context.personality.marketing_approach);
    let variation = Variation::for_listing(context.tenant, &niche.name, cycle);
    let product_name = copywriting::product_name(&niche.name, &niche.category, tone, &variation);
    let pitch = content::pitch(&product_name, &niche.name, &niche.category, &variation);
    let seo = context
        .call(
            "seo",
            Task::new(
                "optimize_listing",
                json!({ "niche": niche.name, "product_name": product_name, "pitch": pitch, "category": niche.category,
                        "demand": niche.demand, "competition": niche.competition, "platform": platform_name(context),
                        "cycle": cycle }),
            ),
        )
        .await?;
    let keywords: Vec<String> = seo["keywords"].as_array().map_or_else(Vec::new, |list| {
        list.iter().filter_map(|k| k["phrase"].as_str().map(str::to_owned)).take(5).collect()
    });
    let quote = context
        .call(
            "pricing",
            Task::new("quote", json!({ "unit_cost": niche.unit_cost, "reference_price": niche.reference_price })),
        )
        .await?;
    let price: Decimal = serde_json::from_value(quote["price"].clone())
        .map_err(|e| AgentError::Failed(format!("pricing answer: {e}")))?;
    let brief = json!({ "product": product_name, "niche": niche.name, "category": niche.category,
                        "price": price_text(price, CURRENCY), "keywords": keywords });
    let description = context
        .call("content", Task::new("product_description", json!({ "brief": brief, "limit": 500, "cycle": cycle })))
        .await?;
    let listing = &seo["listing"];
    state.draft = Some(Draft {
        niche: niche.name.clone(),
        category: niche.category.clone(),
        title: listing["title"].as_str().unwrap_or(&product_name).to_owned(),
        description: description["text"].as_str().unwrap_or(&pitch).to_owned(),
        tags: listing["tags"]
            .as_array()
            .map_or_else(Vec::new, |t| t.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()),
        price,
        unit_cost: niche.unit_cost,
    });
    Ok(format!(
        "designed \"{product_name}\" at {} (unit cost {})",
        money(price, CURRENCY),
        money(niche.unit_cost, CURRENCY)
    ))
}

fn next_launch(cycle: i64, cadence: i64) -> i64 {
    cycle + (cadence - (cycle - 1) % cadence)
}

/// The currency the CEO prices and lists in.
const CURRENCY: &str = "USD";

/// A price as a buyer reads it: "$29.00", "€12.50", "1500 JPY".
fn price_text(price: Decimal, currency: &str) -> String {
    match currency {
        "USD" => format!("${price}"),
        "EUR" => format!("€{price}"),
        "GBP" => format!("£{price}"),
        other => format!("{price} {other}"),
    }
}

/// `1 product`, `3 products`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// The market's platform as its listing limits know it ("sandbox", "shopify", …).
fn platform_name(context: &AgentContext) -> String {
    serde_json::to_value(context.market.platform())
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "sandbox".into())
}

/// The tenant's store on the market, opened on first need and remembered.
async fn ensure_store(context: &AgentContext, cycle: i64) -> Result<String, AgentError> {
    if let Some(memory) =
        context.store.agent_memory(context.tenant, context.agent, "store").await.map_err(store_error)?
        && let Some(id) = memory.content["store_id"].as_str()
    {
        return Ok(id.to_owned());
    }
    let tenant = context.store.tenant(context.tenant).await.map_err(store_error)?;
    let name = tenant.map_or_else(|| format!("tenant {}", context.tenant), |t| t.name);
    let store = context
        .market
        .create_store(context.tenant, &name, &key(context, cycle, Step::StoreSetup, "store"))
        .await
        .map_err(market_error)?;
    save_market(context).await?;
    context
        .store
        .put_agent_memory(
            context.tenant,
            context.agent,
            "store",
            json!({ "store_id": store.store_id, "url": store.url }),
            None,
        )
        .await
        .map_err(store_error)?;
    context
        .emit(
            "ceo.store_opened",
            format!("Opened the store \"{name}\" on the {} market", platform_name(context)),
            json!({ "store_id": store.store_id, "url": store.url }),
        )
        .await;
    Ok(store.store_id)
}

async fn store_setup(context: &AgentContext, cycle: i64, state: &mut CycleState) -> Result<String, AgentError> {
    let store_id = ensure_store(context, cycle).await?;
    let Some(draft) = state.draft.clone() else {
        return Ok("no new product to list".into());
    };
    let platform = platform_name(context);
    let listed_as = format!(
        "\"{}\" at {} on the {platform} market",
        minutes::product_name(&draft.title),
        money(draft.price, CURRENCY)
    );
    let listing = ProductListing {
        store_id,
        niche: draft.niche.clone(),
        title: draft.title.clone(),
        description: draft.description.clone(),
        tags: draft.tags.clone(),
        price: draft.price,
        unit_cost: draft.unit_cost,
    };
    let listed = context
        .market
        .list_product(context.tenant, &listing, &key(context, cycle, Step::StoreSetup, &draft.niche))
        .await
        .map_err(market_error)?;
    save_market(context).await?;
    // Where buyers find it, for the ads that lead there (the product row keeps no
    // address). Written on a resumed step too: the first run may have died before it.
    let page = json!({ "url": listed.url });
    let page_key = format!("{PRODUCT_PAGE}{}", listed.product_id);
    context.store.put_agent_memory(context.tenant, context.agent, &page_key, page, None).await.map_err(store_error)?;
    // A repeat of this step finds the row the first run made, by the platform's id.
    let existing = context.store.products(context.tenant).await.map_err(store_error)?;
    if !existing.iter().any(|p| p.external_id.as_deref() == Some(listed.product_id.as_str())) {
        let product = NewProduct {
            tenant_id: context.tenant,
            store_id: None,
            niche: draft.niche.clone(),
            title: draft.title.clone(),
            description: draft.description.clone(),
            tags: draft.tags.clone(),
            price: draft.price,
            cost: draft.unit_cost,
            currency: CURRENCY.into(),
            status: "active".into(),
            external_id: Some(listed.product_id.clone()),
        };
        let product = context.store.create_product(product).await.map_err(store_error)?;
        context
            .emit(
                "ceo.product_launched",
                format!("Listed {listed_as}"),
                json!({ "product_id": listed.product_id, "url": listed.url, "niche": draft.niche }),
            )
            .await;
        crate::launch_media::give(context, &product).await;
    }
    // A resumed step lists nothing new (the row is there) but this is still the
    // cycle's launch.
    state.facts.launch = Some(LaunchFacts {
        title: draft.title.clone(),
        niche: draft.niche.clone(),
        price: draft.price,
        unit_cost: draft.unit_cost,
        platform,
    });
    state.draft = None;
    Ok(format!("listed {listed_as}"))
}

/// The marketing budget of a day: the base plus reinvested money spread over a week.
async fn daily_budget(context: &AgentContext) -> Result<Decimal, AgentError> {
    let reinvested = crate::specialists::accountant::reinvested_so_far(context).await?;
    Ok(BASE_DAILY_BUDGET + reinvested / Decimal::from(FLIGHT_DAYS * 4))
}

async fn marketing_launch(context: &AgentContext, cycle: i64, state: &mut CycleState) -> Result<String, AgentError> {
    let products: Vec<Product> = context
        .store
        .products(context.tenant)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|p| p.status == "active")
        .collect();
    state.facts.marketing =
        MarketingFacts { products: products.len(), flight_days: FLIGHT_DAYS, ..MarketingFacts::default() };
    if products.is_empty() {
        return Ok("nothing to market yet".into());
    }
    let (ad_channels, networks) = (context.market.ad_channels(), context.market.social_networks());
    if ad_channels.is_empty() && networks.is_empty() {
        // A shop alone runs no ads and publishes no posts.
        state.expected_revenue = expected_revenue(state.snapshot.as_ref(), &products);
        state.facts.marketing.expected_revenue = state.expected_revenue;
        state.facts.marketing.no_ad_platform = true;
        return Ok(format!(
            "no ad or social platform is connected, so no flights or posts; the plan expects {} today",
            money(state.expected_revenue, CURRENCY)
        ));
    }
    let decisions = &context.personality.decisions;
    let strategy = crate::specialists::load_strategy(context).await;
    let budget = daily_budget(context).await?;
    let ads_total = budget * decisions.budget_split.ads * Decimal::from_f64(strategy.ad_bias).unwrap_or(Decimal::ONE);
    let weights = decisions.channel_weights.normalized();
    let paid = weights.search_ads + weights.social_ads;
    let per_product = ads_total / Decimal::from(products.len());
    let mut flights: u32 = 0;
    let mut posts: u32 = 0;
    let mut posts_failed: u32 = 0;
    let mut daily_ads = Decimal::ZERO;
    let mut brakes = AdBrakes::read(context, state).await?;
    // Flights the owner approved since the last cycle go first: they were planned
    // already, and the flights below count them against the caps.
    for (launched, daily) in brakes.launch_approved(context).await? {
        flights += u32::from(launched);
        daily_ads += daily;
    }
    let existing_campaigns = context.store.campaigns(context.tenant).await.map_err(store_error)?;
    for product in &products {
        let Some(external_id) = product.external_id.clone() else { continue };
        for (channel, weight) in
            [(AdChannel::SearchAds, weights.search_ads), (AdChannel::SocialAds, weights.social_ads)]
        {
            if paid <= 0.0 || weight <= 0.0 || !ad_channels.contains(&channel) {
                continue;
            }
            let daily = cents(per_product * Decimal::from_f64(weight / paid).unwrap_or(Decimal::ZERO));
            if daily < Decimal::ONE {
                continue;
            }
            // One flight a week per product and channel.
            let flight = (cycle - 1) / i64::from(FLIGHT_DAYS);
            let item = format!("{}:{:?}:{flight}", product.id, channel);
            let flight_name = format!("{} · {:?} · week {}", product.title, channel, flight + 1);
            if let Some(running) = existing_campaigns.iter().find(|c| c.name == flight_name) {
                // Launched earlier this week, or by this very cycle before a crash made
                // the step run again: only the latter counts as this cycle's flight.
                if state.started_at.is_some_and(|started| running.created_at >= started) {
                    flights += 1;
                    daily_ads += daily;
                }
                continue;
            }
            let planned = PlannedFlight {
                product_id: product.id,
                external_id: external_id.clone(),
                product: product.title.clone(),
                channel,
                daily_budget: daily,
                flight,
                item,
                name: flight_name,
            };
            let expected = expected_revenue(state.snapshot.as_ref(), std::slice::from_ref(product));
            if !brakes.allow(context, &planned, expected).await? {
                continue;
            }
            launch_flight(context, &planned).await?;
            brakes.launched(&planned);
            flights += 1;
            daily_ads += daily;
        }
        // Organic posts: as many per day as the content share allows (0 to the most).
        let per_day = (decisions.budget_split.content * Decimal::from(3))
            .round()
            .to_usize()
            .unwrap_or(0)
            .min(MAX_POSTS_PER_PRODUCT_A_DAY);
        if per_day == 0 || networks.is_empty() {
            continue;
        }
        // A post names the product, not the qualifiers its search-result title carries.
        let category = state.snapshot.as_ref().and_then(|s| s.niche(&product.niche)).map(|n| n.category.clone());
        let brief = json!({ "product": copywriting::name_in_title(&product.title), "niche": product.niche, "category": category.unwrap_or_default(),
                            "price": price_text(product.price, &product.currency), "keywords": product.tags });
        let drafted = context
            .call("content", Task::new("social_posts", json!({ "brief": brief, "cycle": cycle, "among": networks })))
            .await?;
        let existing_posts = context.store.social_posts(context.tenant, 500).await.map_err(store_error)?;
        for post in drafted["posts"].as_array().into_iter().flatten().take(per_day) {
            let Ok(network) = serde_json::from_value::<Network>(post["network"].clone()) else { continue };
            let text = post["text"].as_str().unwrap_or_default().to_owned();
            // The product's clip in the network's shape, or its card, where it shows one.
            let shown = crate::launch_media::for_post(context, product, network).await;
            let (shown, video) = shown.map_or((None, None), |shown| (Some(shown.address), shown.video));
            let spec = PostSpec { product_id: external_id.clone(), network, text: text.clone(), video };
            let published = match context
                .market
                .publish_post(
                    context.tenant,
                    &spec,
                    &key(context, cycle, Step::MarketingLaunch, &format!("{}:{:?}", product.id, network)),
                )
                .await
            {
                Ok(published) => published,
                // A network that refuses or fails (a revoked grant, an outage) costs
                // its post, not the cycle: the sales, prices and ledger still need it.
                Err(error) => {
                    context
                        .emit(
                            "marketing.post_failed",
                            format!("The post on {} was not published: {error}", network_name(network)),
                            json!({ "network": network, "product_id": product.id }),
                        )
                        .await;
                    posts_failed += 1;
                    continue;
                }
            };
            save_market(context).await?;
            // The key is this cycle's, so a post the platform already had is this
            // cycle's too, published before a crash made the step run again.
            posts += 1;
            if existing_posts.iter().any(|p| p.external_id.as_deref() == Some(published.post_id.as_str())) {
                continue;
            }
            let row = NewSocialPost {
                tenant_id: context.tenant,
                platform: format!("{network:?}").to_lowercase(),
                content: text,
                media_urls: shown.into_iter().collect(),
                scheduled_time: None,
                status: "posted".into(),
                external_id: Some(published.post_id),
            };
            context.store.create_social_post(row).await.map_err(store_error)?;
        }
    }
    state.expected_revenue = expected_revenue(state.snapshot.as_ref(), &products);
    let marketing = &mut state.facts.marketing;
    marketing.flights_launched = flights;
    marketing.awaiting_approval = brakes.awaiting;
    marketing.refused_by_guard = brakes.refused;
    marketing.daily_ad_budget = daily_ads;
    marketing.ad_budget_committed = daily_ads * Decimal::from(FLIGHT_DAYS);
    marketing.posts = posts;
    marketing.posts_failed = posts_failed;
    marketing.expected_revenue = state.expected_revenue;
    let flights = match flights {
        0 => "no new ad flights".to_owned(),
        1 => format!("1 new ad flight at {} a day", money(daily_ads, CURRENCY)),
        n => format!("{n} new ad flights at {} a day", money(daily_ads, CURRENCY)),
    };
    Ok(format!(
        "{flights}, {}; the plan expects {} today",
        if posts == 1 { "1 post published".to_owned() } else { format!("{posts} posts published") },
        money(state.expected_revenue, CURRENCY)
    ))
}

/// The flights the swarm launched on live ad platforms, as the caps count them: each
/// campaign row spends its budget over [`FLIGHT_DAYS`] from the day it was made, `today`
/// being the market's day at `now`.
fn live_flights(campaigns: &[boardroom_memory::Campaign], today: u32, now: DateTime<Utc>) -> Vec<AdFlight> {
    campaigns
        .iter()
        .filter(|campaign| campaign.status == "active" && campaign.external_id.is_some())
        .filter_map(|campaign| {
            let age = u32::try_from((now - campaign.created_at).num_days()).unwrap_or(0);
            (age < FLIGHT_DAYS).then(|| AdFlight {
                daily_budget: campaign.budget / Decimal::from(FLIGHT_DAYS),
                start_day: today.saturating_sub(age),
                days: FLIGHT_DAYS,
            })
        })
        .collect()
}

/// How many of the newest approval requests the marketing step reads to know which
/// flights it asked about: more than a month of weekly flights for a full portfolio.
const ASKED_FLIGHTS_READ: i64 = 1000;

/// An ad flight the marketing step wants: one product, one channel, one week.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlannedFlight {
    product_id: i64,
    external_id: String,
    product: String,
    channel: AdChannel,
    daily_budget: Decimal,
    /// The week it belongs to (`(cycle - 1) / FLIGHT_DAYS`): with `item`, what its
    /// idempotency key is derived from.
    flight: i64,
    item: String,
    /// The campaign row's name: what tells the step a flight was launched.
    name: String,
}

impl PlannedFlight {
    fn key(&self, tenant: boardroom_memory::TenantId) -> IdempotencyKey {
        IdempotencyKey::for_step(tenant, self.flight, "marketing_launch", &self.item)
    }

    fn total(&self) -> Decimal {
        self.daily_budget * Decimal::from(FLIGHT_DAYS)
    }

    /// The flight in words: "search ads for “Sunrise Mug” for 7 days at $20.00 a day".
    fn words(&self) -> String {
        let channel = match self.channel {
            AdChannel::SearchAds => "search ads",
            AdChannel::SocialAds => "social ads",
        };
        format!(
            "{channel} for \u{201c}{}\u{201d} for {FLIGHT_DAYS} days at {} a day",
            minutes::product_name(&self.product),
            money(self.daily_budget, CURRENCY)
        )
    }
}

/// The CEO's memory of a listed product's page, under this prefix and the market's id
/// for the product.
const PRODUCT_PAGE: &str = "product_page:";

/// Launches a flight on the market, its ads saying what the product's listing says,
/// and records its campaign row.
async fn launch_flight(context: &AgentContext, planned: &PlannedFlight) -> Result<(), AgentError> {
    let spec = CampaignSpec {
        product_id: planned.external_id.clone(),
        channel: planned.channel,
        daily_budget: planned.daily_budget,
        days: FLIGHT_DAYS,
        creative: flight_creative(context, planned).await?,
    };
    let campaign = context
        .market
        .launch_campaign(context.tenant, &spec, &planned.key(context.tenant))
        .await
        .map_err(market_error)?;
    save_market(context).await?;
    let row = NewCampaign {
        tenant_id: context.tenant,
        product_id: Some(planned.product_id),
        name: planned.name.clone(),
        channel: format!("{:?}", planned.channel),
        budget: planned.total(),
        status: "active".into(),
        external_id: Some(campaign.campaign_id),
    };
    context.store.create_campaign(row).await.map_err(store_error)?;
    Ok(())
}

/// The ads' copy for `planned`, from its product's listing: headlines of the product's
/// name, its price, its title's qualifiers and its tags; descriptions of its
/// description's sentences and its price; its tags and name as keywords; the listing's
/// page as where they lead (the store's, if no listing event says). Each is cut at a
/// word boundary to the strictest platform's limits (Google's 30 and 90 characters), so
/// that neither platform has reason to refuse it; a product too thin for three
/// headlines is left for the platform's client to refuse in words.
async fn flight_creative(
    context: &AgentContext,
    planned: &PlannedFlight,
) -> Result<boardroom_adapters::AdCreative, AgentError> {
    const HEADLINE_CHARS: usize = boardroom_adapters::GOOGLE_ADS_MAX_HEADLINE_CHARS;
    const DESCRIPTION_CHARS: usize = boardroom_adapters::GOOGLE_ADS_MAX_DESCRIPTION_CHARS;
    const MAX_HEADLINES: usize = 15;
    const MAX_DESCRIPTIONS: usize = 4;

    let Some(product) = context.store.product(context.tenant, planned.product_id).await.map_err(store_error)? else {
        return Ok(boardroom_adapters::AdCreative::default());
    };
    // The product's page as its listing gave it, or failing that the store's (a store
    // front is a page the ads can lead to).
    let url_in = |memory: Option<boardroom_memory::AgentMemory>| {
        memory.and_then(|memory| memory.content.get("url")?.as_str().map(str::to_owned)).filter(|url| !url.is_empty())
    };
    let page_key = format!("{PRODUCT_PAGE}{}", planned.external_id);
    let page = context.store.agent_memory(context.tenant, context.agent, &page_key).await.map_err(store_error)?;
    let landing_url = match url_in(page) {
        Some(url) => url,
        None => {
            let store =
                context.store.agent_memory(context.tenant, context.agent, "store").await.map_err(store_error)?;
            url_in(store).unwrap_or_default()
        }
    };

    let name = copywriting::name_in_title(&product.title);
    let price = money(product.price, &product.currency);
    let mut headlines: Vec<String> = Vec::new();
    let qualifiers = product.title.split(copywriting::TITLE_SEPARATOR).skip(1);
    let tags = product.tags.iter().map(|tag| copywriting::title_case(tag));
    let candidates = [name.to_owned(), format!("{name} for {price}"), format!("Only {price}")]
        .into_iter()
        .chain(qualifiers.map(str::to_owned))
        .chain(tags);
    for candidate in candidates {
        // A headline is never cut: a cut one reads as broken, and another will do.
        let candidate = candidate.split_whitespace().collect::<Vec<_>>().join(" ");
        let fits = !candidate.is_empty() && candidate.chars().count() <= HEADLINE_CHARS;
        if fits && !headlines.iter().any(|kept| kept.eq_ignore_ascii_case(&candidate)) {
            headlines.push(candidate);
        }
    }
    if headlines.is_empty() {
        // Even a name too long for a headline gives one, cut where a title may be cut.
        headlines.push(copywriting::fit_title(name, HEADLINE_CHARS));
    }
    headlines.truncate(MAX_HEADLINES);

    let mut descriptions: Vec<String> = Vec::new();
    let mut rest = product.description.trim();
    while descriptions.len() < MAX_DESCRIPTIONS - 1 && !rest.is_empty() {
        let line = copywriting::fit_sentences(rest, DESCRIPTION_CHARS);
        // `fit_sentences` ends a line cut mid-sentence with an ellipsis: nothing of
        // that sentence is left to say after it.
        let said = if line.ends_with('…') { rest.len() } else { line.len().min(rest.len()) };
        rest = rest[said..].trim_start();
        if !line.is_empty() && line != "…" {
            descriptions.push(line);
        }
    }
    descriptions.push(copywriting::fit(&format!("{name}, yours for {price}."), DESCRIPTION_CHARS));

    let mut keywords: Vec<String> = Vec::new();
    for keyword in product.tags.iter().map(String::as_str).chain([name]) {
        let keyword = keyword.trim().to_lowercase();
        if !keyword.is_empty() && !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }

    // Social ads show the product's cover; search ads show no picture.
    let image = match planned.channel {
        AdChannel::SocialAds => crate::launch_media::cover_of(context, &product).await,
        AdChannel::SearchAds => None,
    };
    Ok(boardroom_adapters::AdCreative { landing_url, headlines, descriptions, keywords, image })
}

/// The spending guard as the marketing step meets it: the owner's caps, the flights
/// the market runs (read only when an ad cap or the threshold is set), and what the
/// guard held back this cycle.
struct AdBrakes {
    caps: SpendingCaps,
    today: u32,
    flights: Vec<AdFlight>,
    /// What became of the flights put before the owner, by action key: a flight asked
    /// about once is not asked about again, and one the owner rejected (or left to
    /// expire) is not launched, whatever the guard says later.
    asked: HashMap<String, ApprovalStatus>,
    awaiting: u32,
    refused: u32,
}

impl AdBrakes {
    async fn read(context: &AgentContext, state: &CycleState) -> Result<Self, AgentError> {
        let caps = guard::load_caps(&context.store, context.tenant).await.map_err(store_error)?;
        guard::expire_overdue(&context.store, &context.events, context.tenant).await.map_err(store_error)?;
        let asked = context
            .store
            .approvals(context.tenant, None, ASKED_FLIGHTS_READ)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|approval| approval.kind == "ad_flight")
            .map(|approval| (approval.action_key, approval.status))
            .collect();
        let mut brakes = Self { caps, today: 0, flights: Vec::new(), asked, awaiting: 0, refused: 0 };
        if brakes.caps.caps_ads() {
            let today = state.snapshot.as_ref().map_or(0, |snapshot| snapshot.today);
            let report = context.market.report(context.tenant, today, today).await.map_err(market_error)?;
            brakes.today = report.today;
            brakes.flights = report.campaigns.iter().map(AdFlight::from).collect();
            if !context.market.is_simulated() {
                // Live flights run on the ad platforms, which the market's report does
                // not cover: the swarm's own rows say what each commits.
                let campaigns = context.store.campaigns(context.tenant).await.map_err(store_error)?;
                brakes.flights.extend(live_flights(&campaigns, report.today, Utc::now()));
            }
        }
        Ok(brakes)
    }

    fn as_flight(&self, planned: &PlannedFlight) -> AdFlight {
        AdFlight { daily_budget: planned.daily_budget, start_day: self.today, days: FLIGHT_DAYS }
    }

    /// Whether `planned` may go ahead now; when not, it was refused (an event says which
    /// cap) or it waits for the owner (asked once per flight).
    async fn allow(
        &mut self,
        context: &AgentContext,
        planned: &PlannedFlight,
        expected_per_day: Decimal,
    ) -> Result<bool, AgentError> {
        let action_key = format!("ad_flight:{}", planned.name);
        if let Some(status) = self.asked.get(&action_key) {
            // Approved ones were launched (or held by a cap) before this loop.
            if *status == ApprovalStatus::Pending {
                self.awaiting += 1;
            }
            return Ok(false);
        }
        match self.caps.check_ad_flight(&self.flights, self.as_flight(planned)) {
            Verdict::Allowed => Ok(true),
            refused @ Verdict::Refused { .. } => {
                guard::refused(context, &planned.words(), &refused, json!({ "flight": planned })).await;
                self.refused += 1;
                Ok(false)
            }
            Verdict::NeedsApproval { amount, threshold } => {
                let request = guard::ApprovalRequest {
                    action_key,
                    kind: "ad_flight",
                    summary: format!("Run {} ({} in all)", planned.words(), money(amount, CURRENCY)),
                    amount,
                    threshold,
                    expected: json!({
                        "revenue_per_day": expected_per_day,
                        "why": format!("\u{201c}{}\u{201d} is expected to sell {} a day; the ads bring it buyers it would not reach otherwise",
                                       minutes::product_name(&planned.product), money(expected_per_day, CURRENCY)),
                    }),
                    action: serde_json::to_value(planned).map_err(|e| AgentError::Failed(e.to_string()))?,
                };
                guard::ask_owner(context, &self.caps, request).await.map_err(store_error)?;
                self.awaiting += 1;
                Ok(false)
            }
        }
    }

    fn launched(&mut self, planned: &PlannedFlight) {
        self.flights.push(self.as_flight(planned));
    }

    /// Launches the flights the owner approved, within the caps as they are now (the
    /// approval waives the threshold, not a cap). Each is `(launched, daily budget)`.
    async fn launch_approved(&mut self, context: &AgentContext) -> Result<Vec<(bool, Decimal)>, AgentError> {
        let approved =
            context.store.approvals(context.tenant, Some(ApprovalStatus::Approved), 100).await.map_err(store_error)?;
        let within_caps = SpendingCaps { approval_threshold: None, ..self.caps.clone() };
        let mut launched = Vec::new();
        for approval in approved.into_iter().rev().filter(|approval| approval.kind == "ad_flight") {
            let Ok(planned) = serde_json::from_value::<PlannedFlight>(approval.action.clone()) else {
                tracing::warn!(approval = approval.id, "an approved ad flight is unreadable; left as it is");
                continue;
            };
            if let refused @ Verdict::Refused { .. } =
                within_caps.check_ad_flight(&self.flights, self.as_flight(&planned))
            {
                guard::refused(
                    context,
                    &planned.words(),
                    &refused,
                    json!({ "flight": planned, "approval_id": approval.id }),
                )
                .await;
                self.refused += 1;
                continue;
            }
            // A crash after the launch and before `done` launches it again with the same
            // key: the market replays the first launch, and the row is not made twice.
            let already = context
                .store
                .campaigns(context.tenant)
                .await
                .map_err(store_error)?
                .iter()
                .any(|c| c.name == planned.name);
            if !already {
                launch_flight(context, &planned).await?;
            }
            self.launched(&planned);
            if context.store.complete_approval(context.tenant, approval.id).await.map_err(store_error)? {
                context
                    .emit(
                        "guard.carried_out",
                        format!("Launched with the owner's approval: {}", planned.words()),
                        json!({ "approval_id": approval.id, "amount": approval.amount, "flight": planned }),
                    )
                    .await;
            }
            launched.push((!already, planned.daily_budget));
        }
        Ok(launched)
    }
}

/// What the plan expects a day to bring: each product's niche demand at its price,
/// assuming a typical elasticity of 1.5 before the tenant's own data says otherwise.
fn expected_revenue(snapshot: Option<&MarketSnapshot>, products: &[Product]) -> Decimal {
    let Some(snapshot) = snapshot else { return Decimal::ZERO };
    let mut total = 0.0;
    for product in products {
        let Some(niche) = snapshot.niche(&product.niche) else { continue };
        let (Some(price), Some(reference)) = (product.price.to_f64(), niche.reference_price.to_f64()) else { continue };
        if price <= 0.0 || reference <= 0.0 {
            continue;
        }
        let share = 1.0 - 0.5 * niche.competition.clamp(0.0, 1.0);
        total += niche.demand * share * (price / reference).powf(-1.5) * price;
    }
    cents(Decimal::from_f64(total).unwrap_or(Decimal::ZERO))
}

async fn performance_monitoring(
    context: &AgentContext,
    cycle: i64,
    state: &mut CycleState,
) -> Result<String, AgentError> {
    // One simulated day per cycle. Advancing is not idempotent, so it is done only if
    // the world has not reached this cycle's day yet: a resumed step does not advance
    // twice.
    let target_day = u32::try_from(cycle).unwrap_or(u32::MAX);
    let before = context.market.market_snapshot(context.tenant).await.map_err(market_error)?.today;
    if before < target_day {
        context.market.advance(context.tenant, target_day - before).await.map_err(market_error)?;
        save_market(context).await?;
    }
    let report =
        context.market.report(context.tenant, target_day.saturating_sub(1), target_day).await.map_err(market_error)?;
    let mut entries = Vec::new();
    let platform = serde_json::to_value(context.market.platform())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "market".into());
    let mut ad_revenue = Decimal::ZERO;
    // The minutes name each product by its title, which the market does not know.
    let titles: Vec<(String, String)> = context
        .store
        .products(context.tenant)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter_map(|product| Some((product.external_id?, product.title)))
        .collect();
    let mut product_days = Vec::new();
    for product in &report.products {
        if let Some((_, title)) = titles.iter().find(|(id, _)| *id == product.product_id) {
            product_days.push(ProductDay {
                title: title.clone(),
                price: product.price,
                units: product.units_sold,
                revenue: product.gross_revenue,
            });
        }
        let id = format!("{platform}:{}:{}:{}", context.tenant, cycle, product.product_id);
        let rows = [
            ("revenue", product.gross_revenue),
            ("refund", -product.refunds),
            ("payment_fee", -product.payment_fees),
            ("cost_of_goods", -product.cost_of_goods),
            ("ad_spend", -product.ad_spend()),
        ];
        for (category, amount) in rows {
            if amount.is_zero() {
                continue;
            }
            entries.push(json!({ "source": platform, "amount": amount, "category": category, "transaction_id": format!("{id}:{category}"),
                                 "metadata": { "product_id": product.product_id, "day": target_day } }));
        }
        let converted: u64 = product.channels.iter().map(|c| c.conversions).sum();
        ad_revenue += product.price * Decimal::from(converted);
        let mut history = price_history(context, &product.product_id).await?;
        if !history.iter().any(|(day, _)| *day == target_day) {
            history.push((
                target_day,
                SalesObservation { price: product.price, units: u32::try_from(product.units_sold).unwrap_or(u32::MAX) },
            ));
            history.sort_by_key(|(day, _)| *day);
            let keep = history.len().saturating_sub(60);
            context
                .store
                .put_agent_memory(
                    context.tenant,
                    "pricing",
                    &format!("history:{}", product.product_id),
                    json!(history[keep..]),
                    None,
                )
                .await
                .map_err(store_error)?;
        }
    }
    // A real platform's money reaches the ledger from its own deliveries (webhooks) and
    // the store sync, each order once by its id; booking the day's report as well
    // would count it twice.
    let mut live_ads = LiveAdDay::default();
    if !context.market.is_simulated() {
        entries.clear();
        // Ad platforms send no deliveries: their spend is read back and booked here.
        live_ads = read_back_ad_days(context, &mut entries).await?;
    }
    let booked = context.call("accountant", Task::new("book", json!({ "entries": entries }))).await?;
    let engagement = read_back_engagement(context, state.started_at).await?;
    let outcome = DayOutcome {
        revenue: report.gross_revenue(),
        net: report.net_profit() - live_ads.spend,
        ad_spend: report.ad_spend() + live_ads.spend,
        ad_revenue: ad_revenue + live_ads.revenue,
        units: report.units_sold(),
        engagement,
    };
    let day = DayFacts {
        day: target_day,
        units: outcome.units,
        revenue: outcome.revenue,
        ad_spend: outcome.ad_spend.abs(),
        net: outcome.net,
        products: product_days,
    };
    let summary = format!(
        "day {target_day} brought {}, revenue {}, ad spend {}, net {} ({} ledger rows booked)",
        if day.units == 1 { "1 sale".to_owned() } else { format!("{} sales", day.units) },
        money(day.revenue, CURRENCY),
        money(day.ad_spend, CURRENCY),
        money(day.net, CURRENCY),
        booked["booked"].as_u64().unwrap_or(0)
    );
    state.facts.outcome = Some(day);
    state.outcome = Some(outcome);
    Ok(summary)
}

/// Completed days of live ad spend read back each cycle: a cycle missed, or a platform
/// that revised a day, is caught up within a week.
const AD_DAYS_READ: u64 = 7;

/// What the live ad campaigns cost and brought on the last completed day.
#[derive(Debug, Default)]
struct LiveAdDay {
    spend: Decimal,
    revenue: Decimal,
}

/// Adds a ledger row for each completed day (UTC) of the business's own live campaigns
/// over the last [`AD_DAYS_READ`] days: its spend, booked once per campaign and day by
/// its transaction id, so reading a day again books nothing more. Today is left until
/// it is over, as its figures still grow. A platform that cannot be read now is noted on
/// the feed and read next cycle.
async fn read_back_ad_days(context: &AgentContext, entries: &mut Vec<Value>) -> Result<LiveAdDay, AgentError> {
    let mut day = LiveAdDay::default();
    if context.market.ad_channels().is_empty() {
        return Ok(day);
    }
    let campaigns = context.store.campaigns(context.tenant).await.map_err(store_error)?;
    if campaigns.iter().all(|campaign| campaign.external_id.is_none()) {
        return Ok(day);
    }
    let products = context.store.products(context.tenant).await.map_err(store_error)?;
    let today = Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);
    let days =
        match context.market.campaign_days(context.tenant, today - chrono::Days::new(AD_DAYS_READ), yesterday).await {
            Ok(days) => days,
            Err(error) => {
                context
                    .emit(
                        "marketing.ad_days_unread",
                        format!("The ad campaigns' spend could not be read this cycle: {error}"),
                        json!({ "from": today - chrono::Days::new(AD_DAYS_READ), "to": yesterday }),
                    )
                    .await;
                return Ok(day);
            }
        };
    for measured in days {
        let Some(campaign) =
            campaigns.iter().find(|campaign| campaign.external_id.as_deref() == Some(measured.campaign_id.as_str()))
        else {
            // The account's own campaigns, not the swarm's: not this ledger's to book.
            continue;
        };
        let price = products.iter().find(|product| Some(product.id) == campaign.product_id).map(|p| p.price);
        if measured.date == yesterday {
            day.spend += measured.spend;
            day.revenue += price.unwrap_or_default() * Decimal::from(measured.conversions);
        }
        if measured.spend <= Decimal::ZERO {
            continue;
        }
        let source = measured.platform.as_str();
        entries.push(json!({
            "source": source,
            "amount": -measured.spend,
            "category": "ad_spend",
            "transaction_id": format!("{source}:{}:{}", measured.campaign_id, measured.date),
            "metadata": { "campaign_id": measured.campaign_id, "product_id": campaign.product_id, "date": measured.date,
                          "impressions": measured.impressions, "clicks": measured.clicks, "conversions": measured.conversions },
        }));
    }
    Ok(day)
}

/// How many of the newest posts have their engagement read back each cycle: a post's
/// numbers settle within a fortnight, and a cycle publishes a few.
const POSTS_MEASURED: i64 = 50;

/// Reads what the newest posts drew from the networks they are on, keeps each post's
/// engagement on its row (the totals the network counts, so a resumed step sets the
/// same numbers again), and sums them per network for reflection: only the posts made
/// before this cycle started, as one made minutes ago has drawn nothing yet anywhere.
/// A network that cannot be read now is noted on the feed and left for the next cycle:
/// the day's sales are what this step is for.
async fn read_back_engagement(
    context: &AgentContext,
    cycle_started: Option<DateTime<Utc>>,
) -> Result<Vec<NetworkEngagement>, AgentError> {
    let rows = context.store.social_posts(context.tenant, POSTS_MEASURED).await.map_err(store_error)?;
    let published: Vec<PublishedPost> = rows
        .iter()
        .filter_map(|row| {
            let network = serde_json::from_value::<Network>(json!(row.platform)).ok()?;
            Some(PublishedPost { network, post_id: row.external_id.clone()? })
        })
        .collect();
    if published.is_empty() {
        return Ok(Vec::new());
    }
    let measured = match context.market.post_engagement(context.tenant, &published).await {
        Ok(measured) => measured,
        Err(error) => {
            context
                .emit(
                    "marketing.engagement_unread",
                    format!("The posts' engagement could not be read this cycle: {error}"),
                    json!({ "posts": published.len() }),
                )
                .await;
            return Ok(Vec::new());
        }
    };
    let mut per_network: Vec<NetworkEngagement> = Vec::new();
    for post in &measured {
        let Some(row) = rows.iter().find(|row| row.external_id.as_deref() == Some(post.post_id.as_str())) else {
            continue;
        };
        let score = i64::try_from(post.engagements).unwrap_or(i64::MAX);
        if row.engagement_score != score {
            context.store.set_post_engagement(context.tenant, row.id, score).await.map_err(store_error)?;
        }
        let settled = cycle_started.is_none_or(|started| row.posted_at.is_some_and(|posted| posted < started));
        if !settled {
            continue;
        }
        match per_network.iter_mut().find(|network| network.network == post.network) {
            Some(network) => {
                network.posts += 1;
                network.engagements = network.engagements.saturating_add(post.engagements);
                network.impressions = network.impressions.saturating_add(post.impressions);
            }
            None => per_network.push(NetworkEngagement {
                network: post.network,
                posts: 1,
                engagements: post.engagements,
                impressions: post.impressions,
            }),
        }
    }
    if !per_network.is_empty() {
        let words: Vec<String> = per_network
            .iter()
            .map(|network| {
                format!(
                    "{} on {} on {}",
                    plural(usize::try_from(network.engagements).unwrap_or(usize::MAX), "engagement", "engagements"),
                    plural(network.posts as usize, "post", "posts"),
                    network_name(network.network)
                )
            })
            .collect();
        context
            .emit(
                "marketing.engagement",
                format!("The posts drew {}", words.join(", ")),
                json!({ "live": !context.market.is_simulated(), "networks": per_network }),
            )
            .await;
    }
    Ok(per_network)
}

async fn price_history(context: &AgentContext, product_id: &str) -> Result<Vec<(u32, SalesObservation)>, AgentError> {
    let stored = context
        .store
        .agent_memory(context.tenant, "pricing", &format!("history:{product_id}"))
        .await
        .map_err(store_error)?;
    Ok(stored.and_then(|m| serde_json::from_value(m.content).ok()).unwrap_or_default())
}

async fn revenue_optimization(
    context: &AgentContext,
    cycle: i64,
    state: &mut CycleState,
) -> Result<String, AgentError> {
    let products = context.store.products(context.tenant).await.map_err(store_error)?;
    let caps = guard::load_caps(&context.store, context.tenant).await.map_err(store_error)?;
    let mut pricing = PricingFacts::default();
    for product in products.iter().filter(|p| p.status == "active") {
        let Some(external_id) = &product.external_id else { continue };
        pricing.reviewed += 1;
        if let Some(pinned) = pinned_price(context, product.id).await? {
            // The owner decides this price: put it on the platform (idempotent per cycle)
            // and leave the pricing agent out of it.
            let item = format!("{}:pinned:{pinned}", product.id);
            context
                .market
                .set_price(context.tenant, external_id, pinned, &key(context, cycle, Step::RevenueOptimization, &item))
                .await
                .map_err(market_error)?;
            save_market(context).await?;
            if product.price != pinned {
                context.store.update_product_price(context.tenant, product.id, pinned).await.map_err(store_error)?;
            }
            context
                .emit(
                    "pricing.override_kept",
                    format!(
                        "\"{}\" stays at the owner's price {}",
                        minutes::product_name(&product.title),
                        money(pinned, &product.currency)
                    ),
                    json!({ "product_id": product.id, "price": pinned, "cycle": cycle }),
                )
                .await;
            pricing.pinned.push(product.title.clone());
            continue;
        }
        let reference =
            state.snapshot.as_ref().and_then(|s| s.niche(&product.niche)).map_or(product.price, |n| n.reference_price);
        let history: Vec<SalesObservation> =
            price_history(context, external_id).await?.into_iter().map(|(_, o)| o).collect();
        let quote = context
            .call(
                "pricing",
                Task::new("quote", json!({ "unit_cost": product.cost, "reference_price": reference, "current_price": product.price, "history": history })),
            )
            .await?;
        let price: Decimal = serde_json::from_value(quote["price"].clone())
            .map_err(|e| AgentError::Failed(format!("pricing answer: {e}")))?;
        if price == product.price {
            continue;
        }
        if let refused @ Verdict::Refused { .. } = caps.check_price_change(product.price, price) {
            let action = format!(
                "cutting \u{201c}{}\u{201d} from {} to {}",
                minutes::product_name(&product.title),
                money(product.price, &product.currency),
                money(price, &product.currency)
            );
            guard::refused(
                context,
                &action,
                &refused,
                json!({ "product_id": product.id, "from": product.price, "to": price }),
            )
            .await;
            continue;
        }
        context
            .market
            .set_price(
                context.tenant,
                external_id,
                price,
                &key(context, cycle, Step::RevenueOptimization, &product.id.to_string()),
            )
            .await
            .map_err(market_error)?;
        save_market(context).await?;
        context.store.update_product_price(context.tenant, product.id, price).await.map_err(store_error)?;
        let moved = PriceMove {
            product: product.title.clone(),
            from: product.price,
            to: price,
            reason: quote["reason"].as_str().unwrap_or_default().to_owned(),
        };
        context
            .emit("pricing.changed", moved.sentence(&product.currency), json!({ "product_id": product.id, "from": product.price, "to": price, "reason": quote["reason"], "source": quote["source"] }))
            .await;
        pricing.moves.push(moved);
    }
    let summary = match (pricing.reviewed, pricing.moves.len()) {
        (0, _) => "no products to price yet".to_owned(),
        (reviewed, 0) => format!("{} held", plural(reviewed, "price", "prices")),
        (reviewed, moved) => format!("{moved} of {} moved", plural(reviewed, "price", "prices")),
    };
    state.facts.pricing = pricing;
    Ok(summary)
}

async fn reinvestment(context: &AgentContext, cycle: i64, state: &mut CycleState) -> Result<String, AgentError> {
    let plan = context.call("accountant", Task::new("plan_reinvestment", json!({ "cycle": cycle }))).await?;
    let outcome = state.outcome.clone().unwrap_or_default();
    let niche = state.niche.clone().unwrap_or_else(|| "portfolio".into());
    // The lessons are read by people (the feed, the minutes) and by models (prompts):
    // they name the niche in words, not by the market's key.
    let lesson_subject = readable_niche(&niche);
    let reflection = context
        .call(
            "reflection",
            Task::new(
                "reflect",
                json!({ "cycle": cycle, "outcome": { "niche": lesson_subject, "expected_revenue": state.expected_revenue, "actual_revenue": outcome.revenue,
                                                     "ad_spend": outcome.ad_spend, "ad_revenue": outcome.ad_revenue, "net": outcome.net, "products": state.facts.marketing.products,
                                                     "engagement": outcome.engagement } }),
            ),
        )
        .await?;
    let lessons = reflection["lessons"]
        .as_array()
        .map_or_else(String::new, |l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
    context
        .call(
            "memory",
            Task::new(
                "record",
                json!({ "key": format!("cycle:{cycle}"), "action_type": "autopilot_cycle", "niche": niche,
                        "context": { "cycle": cycle, "expected_revenue": state.expected_revenue },
                        "result": outcome, "success": reflection["success"].as_bool().unwrap_or(false),
                        "revenue": outcome.net, "lessons": lessons }),
            ),
        )
        .await?;
    let amount = |value: &Value| serde_json::from_value::<Decimal>(value.clone()).unwrap_or(Decimal::ZERO);
    let reinvested = ReinvestmentFacts {
        total: amount(&plan["plan"]["total"]),
        ads: amount(&plan["plan"]["ads"]),
        content: amount(&plan["plan"]["content"]),
        tools: amount(&plan["plan"]["tools"]),
        retained: amount(&plan["split"]["retained"]),
        threshold: crate::specialists::accountant::DEFAULT_REINVESTMENT_THRESHOLD,
    };
    let summary = if reinvested.total > Decimal::ZERO {
        format!("{} put back into the business", money(reinvested.total, CURRENCY))
    } else {
        format!("nothing reinvested yet (profit kept so far {})", money(reinvested.retained, CURRENCY))
    };
    state.facts.reinvestment = Some(reinvested);
    state.facts.lessons = reflection["lessons"]
        .as_array()
        .map_or_else(Vec::new, |l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    Ok(if lessons.is_empty() { summary } else { format!("{summary}; lessons: {lessons}") })
}

fn cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_the_spec_order_and_round_trip_through_their_names() {
        let mut step = Step::MarketAnalysis;
        let mut seen = vec![step];
        while step != Step::Done {
            step = step.next();
            seen.push(step);
        }
        assert_eq!(seen.len(), 8);
        for step in seen {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
    }

    #[test]
    fn bold_personalities_launch_more_often() {
        assert_eq!(launch_cadence(1.0), 7);
        assert_eq!(launch_cadence(0.5), 14);
        assert_eq!(launch_cadence(0.0), 21);
        assert_eq!(next_launch(1, 7), 8);
        assert_eq!(next_launch(8, 7), 15);
    }

    #[test]
    fn a_checkpoint_written_before_the_minutes_existed_still_loads_with_what_it_held() {
        let old = json!({ "snapshot": null, "niche": "ai-prompt-library", "draft": null, "expected_revenue": "12.50",
                          "outcome": { "revenue": "30", "net": "4", "ad_spend": "2", "ad_revenue": "10", "units": 3 } });
        let state: CycleState = serde_json::from_value(old).expect("an old checkpoint loads");
        assert_eq!(state.niche.as_deref(), Some("ai-prompt-library"));
        assert_eq!(state.expected_revenue, Decimal::new(1250, 2));
        assert_eq!(state.outcome.map(|o| o.units), Some(3));
        assert_eq!(state.facts, CycleFacts::default());
        assert_eq!(state.started_at, None);
    }

    #[test]
    fn step_titles_read_as_the_feed_shows_them() {
        assert_eq!(Step::MarketAnalysis.title(), "Market analysis");
        assert_eq!(Step::RevenueOptimization.title(), "Revenue optimisation");
    }

    #[test]
    fn prices_read_with_their_currency() {
        assert_eq!(price_text(Decimal::new(2900, 2), "USD"), "$29.00");
        assert_eq!(price_text(Decimal::new(1250, 2), "EUR"), "€12.50");
        assert_eq!(price_text(Decimal::new(1500, 0), "JPY"), "1500 JPY");
    }
}
