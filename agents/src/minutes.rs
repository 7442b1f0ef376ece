//! The board minutes: what the CEO tells the owner when an autopilot cycle ends.
//!
//! The CEO collects [`CycleFacts`] step by step (they live in its checkpointed state, so
//! a resumed cycle keeps what earlier steps found) and [`compose`]s them into a
//! headline and a few short paragraphs: the market and the strategist's choice, the
//! launch, the marketing, every price move with the pricing agent's reason, the day's
//! money, the reinvestment and the lessons, each with its currency. The words follow
//! the personality's [`Tone`]; where a tone has more than one way to open or close,
//! a [`Variation`] seeded from the tenant and the cycle chooses, so the same cycle is
//! always written the same way (no thread randomness, no clock in the text).
//!
//! What [`compose`] writes is the offline proposal: the CEO then puts it before the
//! brain like any other decision, and a model, when one is configured, rewrites it.
//!
//! [`money`] writes an amount as an owner reads it (`$1,234.50`, `-$0.10`), and
//! [`readable_niche`] a market's niche key as words: the feed's sentences use both.

use boardroom_memory::TenantId;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::copywriting::{self, Tone, Variation};

/// Longest headline, in characters (the brain's shape says the same).
pub const HEADLINE_LIMIT: usize = 200;
/// Longest minutes, in characters (the brain's shape says the same).
pub const MINUTES_LIMIT: usize = 6000;

/// What one cycle did, as the minutes report it. Every part is optional or empty until
/// the step that finds it has run; `#[serde(default)]` keeps checkpoints written before
/// a field existed readable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CycleFacts {
    /// The currency every amount is in (ISO 4217).
    pub currency: String,
    /// What market analysis read and chose.
    pub market: Option<MarketFacts>,
    /// The product listed this cycle, if any.
    pub launch: Option<LaunchFacts>,
    /// Why nothing was launched, when nothing was.
    pub no_launch: Option<String>,
    /// Ad flights and posts.
    pub marketing: MarketingFacts,
    /// Prices the cycle looked at and moved.
    pub pricing: PricingFacts,
    /// What the simulated day brought.
    pub outcome: Option<DayFacts>,
    /// What the accountant put back into the business.
    pub reinvestment: Option<ReinvestmentFacts>,
    /// What reflection concluded, one line each.
    pub lessons: Vec<String>,
}

/// The market as market analysis read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketFacts {
    /// How many niches the market showed.
    pub niches_read: usize,
    /// The niche the strategist chose (the market's key for it).
    pub chosen: Option<String>,
    /// The strategist's reason, in words.
    pub reason: Option<String>,
}

/// The product a cycle listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LaunchFacts {
    /// Its title on the market (the sentences name it by [`product_name`]).
    pub title: String,
    /// The niche it was made for.
    pub niche: String,
    /// Its launch price.
    pub price: Decimal,
    /// What one unit costs.
    pub unit_cost: Decimal,
    /// The platform it is listed on (`sandbox`, `shopify`, …).
    pub platform: String,
}

/// Ad flights and posts of one cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketingFacts {
    /// Active products the marketing worked for.
    pub products: usize,
    /// Ad flights launched this cycle.
    pub flights_launched: u32,
    /// Flights the spending guard holds for the owner's approval.
    pub awaiting_approval: u32,
    /// Flights the spending guard refused (over a cap).
    pub refused_by_guard: u32,
    /// The market runs no ads and posts (a shop with no ad or social platform).
    pub no_ad_platform: bool,
    /// Their daily budget, summed.
    pub daily_ad_budget: Decimal,
    /// What they commit over their whole flight.
    pub ad_budget_committed: Decimal,
    /// How many days a flight runs.
    pub flight_days: u32,
    /// Social posts published this cycle.
    pub posts: u32,
    /// Posts a network refused or failed to take this cycle.
    pub posts_failed: u32,
    /// Revenue the plan expects for the day.
    pub expected_revenue: Decimal,
}

/// Prices one cycle reviewed and moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PricingFacts {
    /// Active products whose price was reviewed.
    pub reviewed: usize,
    /// Prices that changed, in the order they changed.
    pub moves: Vec<PriceMove>,
    /// Products held at the owner's pinned price.
    pub pinned: Vec<String>,
}

/// One price change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceMove {
    /// The product's title (the sentence names it by [`product_name`]).
    pub product: String,
    /// The price before.
    pub from: Decimal,
    /// The price after.
    pub to: Decimal,
    /// The pricing agent's reason.
    pub reason: String,
}

impl PriceMove {
    /// `Pricing raised "Sunrise Mug" from $18.00 to $19.50: <reason>`: the sentence the
    /// feed and the minutes both show.
    pub fn sentence(&self, currency: &str) -> String {
        let verb = if self.to > self.from { "raised" } else { "lowered" };
        let mut sentence = format!(
            "Pricing {verb} \"{}\" from {} to {}",
            product_name(&self.product),
            money(self.from, currency),
            money(self.to, currency)
        );
        if !self.reason.trim().is_empty() {
            sentence.push_str(": ");
            sentence.push_str(self.reason.trim().trim_end_matches('.'));
        }
        sentence
    }
}

/// What the simulated day brought.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayFacts {
    /// The simulated day.
    pub day: u32,
    /// Units sold.
    pub units: u64,
    /// Gross revenue.
    pub revenue: Decimal,
    /// Ad spend (a positive amount).
    pub ad_spend: Decimal,
    /// Net profit: revenue less refunds, fees, cost of goods and ad spend.
    pub net: Decimal,
    /// Each product's day, in the market's order.
    pub products: Vec<ProductDay>,
}

/// One product's day on the market.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductDay {
    /// Its title (the sentences name it by [`product_name`]).
    pub title: String,
    /// The price it sold at.
    pub price: Decimal,
    /// Units sold.
    pub units: u64,
    /// Gross revenue.
    pub revenue: Decimal,
}

impl DayFacts {
    /// "Day 3 closed: 14 sales, revenue $312.40, net $88.10": the sentence the feed
    /// shows when a cycle completes.
    pub fn closing_sentence(&self, currency: &str) -> String {
        format!(
            "Day {} closed: {}, revenue {}, net {}",
            self.day,
            count(self.units, "sale", "sales"),
            money(self.revenue, currency),
            money(self.net, currency)
        )
    }
}

/// The accountant's reinvestment plan of the cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReinvestmentFacts {
    /// Put back into the business this cycle.
    pub total: Decimal,
    /// Of which ads.
    pub ads: Decimal,
    /// Of which content.
    pub content: Decimal,
    /// Of which tools.
    pub tools: Decimal,
    /// All-time profit the owner keeps after the platform's fee and the tax reserve.
    pub retained: Decimal,
    /// Retained profit past which reinvestment starts.
    pub threshold: Decimal,
}

/// Who writes: the personality's tone and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voice {
    /// How the personality sounds.
    pub tone: Tone,
    /// Its name, e.g. `CoachTy`.
    pub name: String,
}

/// Composed minutes: a headline and the minutes, paragraphs separated by blank lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    /// One line.
    pub headline: String,
    /// The minutes.
    pub minutes: String,
}

/// Writes the minutes of `cycle` from its facts, in `voice`.
pub fn compose(facts: &CycleFacts, voice: &Voice, tenant: TenantId, cycle: i64) -> Minutes {
    let currency = if facts.currency.is_empty() { "USD" } else { facts.currency.as_str() };
    let variation = Variation::new(&[&tenant.to_string(), "minutes", &cycle.to_string()]);
    let day = facts.outcome.as_ref().map_or_else(|| u32::try_from(cycle).unwrap_or(0), |d| d.day);
    let mut paragraphs = vec![opening(voice, &variation, day, facts)];
    paragraphs.push(launch_paragraph(voice, facts, currency));
    paragraphs.push(marketing_paragraph(voice, &facts.marketing, currency));
    paragraphs.push(pricing_paragraph(voice, &facts.pricing, currency));
    if let Some(result) = &facts.outcome {
        paragraphs.push(day_paragraph(voice, result, facts.marketing.expected_revenue, currency));
    }
    if let Some(plan) = &facts.reinvestment {
        paragraphs.push(reinvestment_paragraph(voice, plan, currency));
    }
    if !facts.lessons.is_empty() {
        paragraphs.push(lessons_paragraph(voice, &facts.lessons));
    }
    if let Some(closing) = closing(voice, &variation) {
        paragraphs.push(closing);
    }
    let minutes = paragraphs.join("\n\n");
    Minutes {
        headline: copywriting::fit(&headline(facts, day, currency), HEADLINE_LIMIT),
        minutes: copywriting::fit_sentences(&minutes, MINUTES_LIMIT),
    }
}

/// The day's decision and result in one line, the money included.
fn headline(facts: &CycleFacts, day: u32, currency: &str) -> String {
    let result = facts.outcome.as_ref().map(|d| {
        format!(
            "{}, revenue {}, net {}",
            count(d.units, "sale", "sales"),
            money(d.revenue, currency),
            money(d.net, currency)
        )
    });
    let decision = match &facts.launch {
        Some(launch) => {
            Some(format!("launched \"{}\" at {}", product_name(&launch.title), money(launch.price, currency)))
        }
        None => match facts.pricing.moves.len() {
            0 => None,
            1 => Some(facts.pricing.moves[0].short(currency)),
            moves => Some(format!("{moves} price moves")),
        },
    };
    match (decision, result) {
        (Some(decision), Some(result)) => format!("Day {day}: {decision}; {result}"),
        (Some(decision), None) => format!("Day {day}: {decision}"),
        (None, Some(result)) => format!("Day {day}: {result}"),
        (None, None) => format!("Day {day}: a quiet cycle"),
    }
}

impl PriceMove {
    /// "raised "Sunrise Mug" to $19.50", for a headline.
    fn short(&self, currency: &str) -> String {
        let verb = if self.to > self.from { "raised" } else { "lowered" };
        format!("{verb} \"{}\" to {}", product_name(&self.product), money(self.to, currency))
    }
}

fn opening(voice: &Voice, variation: &Variation, day: u32, facts: &CycleFacts) -> String {
    let greetings: &[&str] = match voice.tone {
        Tone::Mentor => &[
            "Here is how the day went, and why we chose what we chose.",
            "Another chapter of this business's story: what happened, and why.",
        ],
        Tone::Hustler => &["Fast recap: what we shipped and what it earned.", "Quick debrief, then back to work."],
        Tone::Premium => &["The board convened to review the day.", "For the record, a measured review of the day."],
        Tone::Plain => &["Minutes of the day's cycle."],
    };
    let greeting = variation.pick("opening", greetings).copied().unwrap_or("Minutes of the day's cycle.");
    let market = match &facts.market {
        None => "The market was not read this cycle.".to_owned(),
        Some(market) => {
            let read = count(market.niches_read as u64, "niche", "niches");
            match (&market.chosen, voice.tone) {
                (None, _) => format!("We read {read}; none was worth choosing."),
                (Some(niche), tone) => {
                    let niche = readable_niche(niche);
                    let why = market.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
                    match (tone, why) {
                        (Tone::Mentor, Some(why)) => {
                            format!(
                                "We listened to the market first: {read} read. The strategist chose {niche}: {why}."
                            )
                        }
                        (Tone::Hustler, Some(why)) => format!("Scanned {read}. The pick: {niche}. Why: {why}."),
                        (Tone::Premium, Some(why)) => {
                            format!("The market was reviewed, {read} in all; the strategist selected {niche}: {why}.")
                        }
                        (_, Some(why)) => format!("Market: {read} read; the strategist chose {niche} ({why})."),
                        (_, None) => format!("Market: {read} read; the strategist chose {niche}."),
                    }
                }
            }
        }
    };
    format!("Day {day}. {greeting} {market}")
}

fn launch_paragraph(voice: &Voice, facts: &CycleFacts, currency: &str) -> String {
    let Some(launch) = &facts.launch else {
        let why = facts.no_launch.as_deref().map(str::trim).filter(|w| !w.is_empty());
        return match why {
            Some(why) => format!("No launch this cycle: {}.", why.trim_end_matches('.')),
            None => "No launch this cycle.".to_owned(),
        };
    };
    let name = product_name(&launch.title);
    let margin = margin_text(launch.price, launch.unit_cost);
    let price = money(launch.price, currency);
    let cost = money(launch.unit_cost, currency);
    let platform = if launch.platform.is_empty() { "the market" } else { launch.platform.as_str() };
    match voice.tone {
        Tone::Mentor => format!(
            "We launched \"{}\" at {price} on the {platform} market: a unit costs {cost}, so each sale keeps {margin} before fees. A fair price for real value.",
            name
        ),
        Tone::Hustler => format!(
            "Launched: \"{}\" at {price} on the {platform} market. Unit cost {cost}, {margin} margin. Shipped.",
            name
        ),
        Tone::Premium => format!(
            "The house listed \"{}\" at {price} on the {platform} market; at a unit cost of {cost} it keeps {margin} of each sale before fees.",
            name
        ),
        Tone::Plain => format!(
            "Launch: \"{}\" listed at {price} on the {platform} market (unit cost {cost}, {margin} margin before fees).",
            name
        ),
    }
}

fn marketing_paragraph(voice: &Voice, marketing: &MarketingFacts, currency: &str) -> String {
    if marketing.products == 0 {
        return "Marketing waits for a product: nothing to promote yet.".to_owned();
    }
    let held = marketing.awaiting_approval + marketing.refused_by_guard;
    let flights = if marketing.no_ad_platform {
        "no ads (no ad or social platform is connected)".to_owned()
    } else if marketing.flights_launched == 0 && held > 0 {
        "no new ad flights".to_owned()
    } else if marketing.flights_launched == 0 {
        "no new ad flights (this week's are already running)".to_owned()
    } else {
        format!(
            "{} at {} a day, {} committed over {} days",
            count(u64::from(marketing.flights_launched), "new ad flight", "new ad flights"),
            money(marketing.daily_ad_budget, currency),
            money(marketing.ad_budget_committed, currency),
            marketing.flight_days
        )
    };
    let mut flights = flights;
    if marketing.awaiting_approval > 0 {
        flights.push_str(&format!(
            " ({} waiting for the owner's approval)",
            count(u64::from(marketing.awaiting_approval), "flight", "flights")
        ));
    }
    if marketing.refused_by_guard > 0 {
        flights.push_str(&format!(
            " ({} refused by the spending guard's caps)",
            count(u64::from(marketing.refused_by_guard), "flight", "flights")
        ));
    }
    let mut posts = count(u64::from(marketing.posts), "post published", "posts published");
    if marketing.posts_failed > 0 {
        posts.push_str(&format!(
            " ({} not taken by its network)",
            count(u64::from(marketing.posts_failed), "post", "posts")
        ));
    }
    let plan = money(marketing.expected_revenue, currency);
    match voice.tone {
        Tone::Mentor => format!("To reach people: {flights}, and {posts}. The plan expects {plan} today."),
        Tone::Hustler => format!("Marketing: {flights}; {posts}. Target today: {plan}."),
        Tone::Premium => format!("Promotion was kept deliberate: {flights}; {posts}. The plan expects {plan} today."),
        Tone::Plain => format!("Marketing: {flights}; {posts}. The plan expects {plan} today."),
    }
}

fn pricing_paragraph(voice: &Voice, pricing: &PricingFacts, currency: &str) -> String {
    let mut sentences: Vec<String> = pricing.moves.iter().map(|m| format!("{}.", m.sentence(currency))).collect();
    if !pricing.pinned.is_empty() {
        let names: Vec<String> = pricing.pinned.iter().map(|title| format!("\"{title}\"")).collect();
        sentences.push(format!("The owner's price holds for {}.", names.join(", ")));
    }
    if sentences.is_empty() {
        let held = if pricing.reviewed == 0 {
            "No prices to review yet.".to_owned()
        } else {
            let reviewed = count(pricing.reviewed as u64, "price", "prices");
            match voice.tone {
                Tone::Hustler => format!("Prices: {reviewed} checked, all held."),
                Tone::Premium => format!("Pricing: {reviewed} reviewed and held; nothing called for a move."),
                Tone::Mentor | Tone::Plain => format!("Pricing reviewed {reviewed}; none needed to move."),
            }
        };
        sentences.push(held);
    }
    sentences.join(" ")
}

fn day_paragraph(voice: &Voice, day: &DayFacts, expected: Decimal, currency: &str) -> String {
    let mut sentence = format!(
        "Day {} closed with {}: revenue {}, ad spend {}, net {}",
        day.day,
        count(day.units, "sale", "sales"),
        money(day.revenue, currency),
        money(day.ad_spend, currency),
        money(day.net, currency)
    );
    if expected > Decimal::ZERO {
        sentence.push_str(&format!(" (the plan expected {} in revenue)", money(expected, currency)));
    }
    sentence.push('.');
    if !day.products.is_empty() {
        let each: Vec<String> = day
            .products
            .iter()
            .map(|product| {
                format!(
                    "\"{}\" {} at {} ({})",
                    product_name(&product.title),
                    count(product.units, "sale", "sales"),
                    money(product.price, currency),
                    money(product.revenue, currency)
                )
            })
            .collect();
        sentence.push_str(&format!(" By product: {}.", each.join("; ")));
    }
    let verdict = if expected <= Decimal::ZERO {
        None
    } else if day.revenue >= expected {
        Some(match voice.tone {
            Tone::Mentor => "We met the plan: the work is paying off.",
            Tone::Hustler => "Beat the plan. More of that.",
            Tone::Premium => "The plan was met.",
            Tone::Plain => "On or above plan.",
        })
    } else {
        Some(match voice.tone {
            Tone::Mentor => "We fell short of the plan; that is something to learn from, not to fear.",
            Tone::Hustler => "Below plan. We adjust and push.",
            Tone::Premium => "The plan was not met; we stay patient.",
            Tone::Plain => "Below plan.",
        })
    };
    match verdict {
        Some(verdict) => format!("{sentence} {verdict}"),
        None => sentence,
    }
}

fn reinvestment_paragraph(voice: &Voice, plan: &ReinvestmentFacts, currency: &str) -> String {
    if plan.total > Decimal::ZERO {
        let split = format!(
            "ads {}, content {}, tools {}",
            money(plan.ads, currency),
            money(plan.content, currency),
            money(plan.tools, currency)
        );
        return match voice.tone {
            Tone::Mentor => format!("We put {} back into the business: {split}.", money(plan.total, currency)),
            Tone::Hustler => format!("Reinvesting {} straight back in: {split}.", money(plan.total, currency)),
            Tone::Premium => format!("{} is reinvested: {split}.", money(plan.total, currency)),
            Tone::Plain => format!("Reinvestment: {} ({split}).", money(plan.total, currency)),
        };
    }
    format!(
        "Nothing reinvested this cycle: the profit kept so far is {}, and {} reinvests only what is kept past {}.",
        money(plan.retained, currency),
        voice.name,
        money(plan.threshold, currency)
    )
}

fn lessons_paragraph(voice: &Voice, lessons: &[String]) -> String {
    let lead = match voice.tone {
        Tone::Mentor => "What we learned",
        Tone::Hustler => "Takeaways",
        Tone::Premium => "Observations",
        Tone::Plain => "Lessons",
    };
    let lines: Vec<&str> = lessons.iter().map(|l| l.trim().trim_end_matches('.')).filter(|l| !l.is_empty()).collect();
    format!("{lead}: {}.", lines.join("; "))
}

fn closing(voice: &Voice, variation: &Variation) -> Option<String> {
    let closings: &[&str] = match voice.tone {
        Tone::Mentor => &["One honest step at a time.", "Steady growth, built on trust."],
        Tone::Hustler => &["Momentum is everything. Next cycle, bigger.", "On to the next one."],
        Tone::Premium => &["We remain selective: quality before volume.", "Restraint is the strategy."],
        Tone::Plain => &[],
    };
    variation.pick("closing", closings).map(|closing| format!("{closing} — {}", voice.name))
}

/// `1 sale`, `14 sales`.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// A gross margin as a whole percentage: "79 %".
fn margin_text(price: Decimal, cost: Decimal) -> String {
    if price <= Decimal::ZERO {
        return "no".to_owned();
    }
    let percent = ((price - cost) / price * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    format!("{percent} %")
}

/// A product as a sentence names it: its name, without the qualifiers its listing title
/// carries for search ("Sunrise Mug | Gift for Her" → "Sunrise Mug").
pub fn product_name(title: &str) -> &str {
    copywriting::name_in_title(title)
}

/// A niche as words in a sentence: `notion-productivity-templates` reads "Notion
/// productivity templates".
pub fn readable_niche(niche: &str) -> String {
    copywriting::in_sentence(niche)
}

/// An amount as an owner reads it, with its currency: `$1,234.50`, `-$0.10`, `€12.00`,
/// `1,500 JPY`. Cents are rounded half away from zero; currencies without a minor unit
/// (JPY, KRW) show none.
pub fn money(amount: Decimal, currency: &str) -> String {
    let places = if matches!(currency, "JPY" | "KRW") { 0 } else { 2 };
    let rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded < Decimal::ZERO;
    let digits = format!("{:.*}", places as usize, rounded.abs());
    let (whole, fraction) = digits.split_once('.').map_or((digits.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    let sign = if negative { "-" } else { "" };
    match currency {
        "USD" => format!("{sign}${grouped}"),
        "EUR" => format!("{sign}€{grouped}"),
        "GBP" => format!("{sign}£{grouped}"),
        other => format!("{sign}{grouped} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn voice(tone: Tone, name: &str) -> Voice {
        Voice { tone, name: name.into() }
    }

    fn launch_day() -> CycleFacts {
        CycleFacts {
            currency: "USD".into(),
            market: Some(MarketFacts {
                niches_read: 12,
                chosen: Some("notion-productivity-templates".into()),
                reason: Some("rising demand, little competition".into()),
            }),
            launch: Some(LaunchFacts {
                title: "Sunrise Mug | Gift for Her".into(),
                niche: "notion-productivity-templates".into(),
                price: dec!(29.00),
                unit_cost: dec!(6.00),
                platform: "sandbox".into(),
            }),
            no_launch: None,
            marketing: MarketingFacts {
                products: 1,
                flights_launched: 2,
                awaiting_approval: 0,
                refused_by_guard: 0,
                no_ad_platform: false,
                daily_ad_budget: dec!(12.50),
                ad_budget_committed: dec!(87.50),
                flight_days: 7,
                posts: 1,
                posts_failed: 0,
                expected_revenue: dec!(290.00),
            },
            pricing: PricingFacts {
                reviewed: 1,
                moves: vec![PriceMove {
                    product: "Sunrise Mug".into(),
                    from: dec!(18.00),
                    to: dec!(19.50),
                    reason: "demand held at the higher price".into(),
                }],
                pinned: Vec::new(),
            },
            outcome: Some(DayFacts {
                day: 3,
                units: 14,
                revenue: dec!(312.4),
                ad_spend: dec!(42),
                net: dec!(88.1),
                products: vec![ProductDay {
                    title: "Sunrise Mug | Gift for Her".into(),
                    price: dec!(19.50),
                    units: 14,
                    revenue: dec!(312.4),
                }],
            }),
            reinvestment: Some(ReinvestmentFacts {
                total: Decimal::ZERO,
                retained: dec!(250.00),
                threshold: dec!(1000),
                ..ReinvestmentFacts::default()
            }),
            lessons: vec!["ads returned 2.40 per unit spent; raising ad budget".into()],
        }
    }

    #[test]
    fn money_reads_with_its_currency_sign_and_thousands() {
        assert_eq!(money(dec!(1234.5), "USD"), "$1,234.50");
        assert_eq!(money(dec!(-0.1), "USD"), "-$0.10");
        assert_eq!(money(dec!(0), "EUR"), "€0.00");
        assert_eq!(money(dec!(1000000), "GBP"), "£1,000,000.00");
        assert_eq!(money(dec!(1500.4), "JPY"), "1,500 JPY");
        assert_eq!(money(dec!(0.005), "USD"), "$0.01", "half a cent rounds away from zero");
    }

    #[test]
    fn a_price_move_reads_as_a_sentence_with_the_agents_reason() {
        let raised = PriceMove {
            product: "Sunrise Mug | Gift for Her".into(),
            from: dec!(18),
            to: dec!(19.5),
            reason: "demand held at the higher price".into(),
        };
        assert_eq!(
            raised.sentence("USD"),
            "Pricing raised \"Sunrise Mug\" from $18.00 to $19.50: demand held at the higher price"
        );
        let lowered = PriceMove { to: dec!(16.2), reason: String::new(), ..raised };
        assert_eq!(lowered.sentence("USD"), "Pricing lowered \"Sunrise Mug\" from $18.00 to $16.20");
    }

    #[test]
    fn the_minutes_name_the_product_the_money_and_the_reasons() {
        let written = compose(&launch_day(), &voice(Tone::Mentor, "CoachTy"), TenantId(1), 3);
        assert_eq!(
            written.headline,
            "Day 3: launched \"Sunrise Mug\" at $29.00; 14 sales, revenue $312.40, net $88.10"
        );
        for needle in [
            "12 niches",
            "Notion productivity templates",
            "rising demand, little competition",
            "\"Sunrise Mug\" at $29.00",
            "$6.00",
            "79 %",
            "2 new ad flights at $12.50 a day, $87.50 committed over 7 days",
            "1 post published",
            "Pricing raised \"Sunrise Mug\" from $18.00 to $19.50: demand held at the higher price.",
            "revenue $312.40, ad spend $42.00, net $88.10",
            "By product: \"Sunrise Mug\" 14 sales at $19.50 ($312.40).",
            "$290.00",
            "$250.00",
            "$1,000.00",
            "raising ad budget",
            "CoachTy",
        ] {
            assert!(written.minutes.contains(needle), "{needle:?} missing from:\n{}", written.minutes);
        }
        assert!(written.minutes.split("\n\n").count() >= 6, "short paragraphs:\n{}", written.minutes);
    }

    #[test]
    fn the_same_cycle_is_written_the_same_way_and_each_personality_in_its_own_voice() {
        let facts = launch_day();
        let mentor = compose(&facts, &voice(Tone::Mentor, "CoachTy"), TenantId(1), 3);
        assert_eq!(mentor, compose(&facts, &voice(Tone::Mentor, "CoachTy"), TenantId(1), 3), "deterministic");
        let hustler = compose(&facts, &voice(Tone::Hustler, "HustleBot"), TenantId(1), 3);
        let premium = compose(&facts, &voice(Tone::Premium, "LuxuryScaler"), TenantId(1), 3);
        let plain = compose(&facts, &voice(Tone::Plain, "Custom"), TenantId(1), 3);
        let all = [&mentor.minutes, &hustler.minutes, &premium.minutes, &plain.minutes];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b, "two voices wrote the same minutes");
            }
            assert!(a.contains("$312.40"), "every voice keeps the money: {a}");
        }
        assert!(hustler.minutes.contains("Shipped"), "{}", hustler.minutes);
        assert!(premium.minutes.contains("The house listed"), "{}", premium.minutes);
        assert_eq!(mentor.headline, hustler.headline, "the headline is the facts");
    }

    #[test]
    fn a_cycle_without_a_launch_says_why_and_headlines_its_price_moves() {
        let facts = CycleFacts {
            launch: None,
            no_launch: Some("the portfolio holds 2 products; the next launch is due in cycle 8".into()),
            ..launch_day()
        };
        let written = compose(&facts, &voice(Tone::Plain, "Custom"), TenantId(4), 5);
        assert_eq!(written.headline, "Day 3: raised \"Sunrise Mug\" to $19.50; 14 sales, revenue $312.40, net $88.10");
        assert!(
            written.minutes.contains("No launch this cycle: the portfolio holds 2 products"),
            "{}",
            written.minutes
        );
        let quiet = compose(&CycleFacts::default(), &voice(Tone::Plain, "Custom"), TenantId(4), 1);
        assert_eq!(quiet.headline, "Day 1: a quiet cycle");
        assert!(quiet.minutes.contains("No prices to review yet."), "{}", quiet.minutes);
    }

    #[test]
    fn reinvested_money_is_split_in_the_minutes() {
        let facts = CycleFacts {
            reinvestment: Some(ReinvestmentFacts {
                total: dec!(120),
                ads: dec!(72),
                content: dec!(36),
                tools: dec!(12),
                retained: dec!(1300),
                threshold: dec!(1000),
            }),
            ..launch_day()
        };
        let written = compose(&facts, &voice(Tone::Hustler, "HustleBot"), TenantId(1), 9);
        assert!(
            written.minutes.contains("Reinvesting $120.00 straight back in: ads $72.00, content $36.00, tools $12.00."),
            "{}",
            written.minutes
        );
    }

    #[test]
    fn old_checkpoints_without_facts_still_read() {
        let facts: CycleFacts = serde_json::from_value(serde_json::json!({ "currency": "USD" })).expect("reads");
        assert_eq!(facts.marketing, MarketingFacts::default());
        let partial: CycleFacts =
            serde_json::from_value(serde_json::json!({ "market": { "niches_read": 3 } })).expect("reads");
        assert_eq!(partial.market.map(|m| m.niches_read), Some(3));
    }
}
