//! SEO: keyword research for a niche and product, and titles, descriptions and tags
//! optimised within each platform's length limits.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use crate::copywriting::{
    TITLE_SEPARATOR, Tone, Variation, fit_sentences, in_sentence, join_title, names_a_product_kind, readable,
    shares_a_word, slug_like_tokens, tidy_title,
};
use serde::{Deserialize, Serialize};

pub use crate::copywriting::fit;

/// Length limits of a listing on one platform (characters; tags as a count and a
/// length each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingLimits {
    /// Longest title.
    pub title: usize,
    /// Longest description (or meta description).
    pub description: usize,
    /// Most tags.
    pub tags: usize,
    /// Longest tag.
    pub tag_length: usize,
}

/// The platforms with limits of their own; any other gets the default ones.
pub const PLATFORMS_WITH_LIMITS: [&str; 3] = ["shopify", "gumroad", "etsy"];

/// The limits of a platform's listing. Titles are kept to what search results show
/// rather than what the platform accepts: Shopify takes 255 characters but Google shows
/// about 70, and its meta description about 160.
pub fn limits_for(platform: &str) -> ListingLimits {
    match platform {
        "shopify" => ListingLimits { title: 70, description: 160, tags: 250, tag_length: 255 },
        "gumroad" => ListingLimits { title: 100, description: 5000, tags: 5, tag_length: 20 },
        "etsy" => ListingLimits { title: 140, description: 5000, tags: 13, tag_length: 20 },
        _ => ListingLimits { title: 80, description: 500, tags: 10, tag_length: 30 },
    }
}

/// A keyword and how good a target it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The search phrase.
    pub phrase: String,
    /// Estimated daily searches.
    pub volume: f64,
    /// 0 (nobody ranks for it) to 1 (impossible to rank).
    pub difficulty: f64,
    /// Volume discounted by difficulty: what the strategist should chase.
    pub score: f64,
}

/// Buyer-intent modifiers, with how strongly each signals a purchase and whether it
/// goes before the niche ("best …") or after it ("… for beginners").
const MODIFIERS: &[(&str, f64, Placement)] = &[
    ("", 1.0, Placement::Before),
    ("best", 1.2, Placement::Before),
    ("for beginners", 1.1, Placement::After),
    ("template", 1.15, Placement::After),
    ("course", 1.1, Placement::After),
    ("guide", 0.9, Placement::After),
    ("step by step", 1.0, Placement::After),
    ("online", 0.95, Placement::After),
];

/// Modifiers that name a kind of product: nobody searches "… course course", and
/// "notion templates course" is a different product from the templates.
const FORMAT_MODIFIERS: &[&str] = &["template", "course", "guide"];

/// The word a market category is searched by ("courses" → "course"); none for a
/// category too broad to search ("digital_products").
fn search_noun(category: &str) -> String {
    match category {
        "templates" | "luxury_templates" => "template".into(),
        "courses" | "premium_courses" => "course".into(),
        "coaching_programs" => "coaching".into(),
        "masterminds" => "mastermind".into(),
        "ebooks" | "e_books" => "ebook".into(),
        "automation_tools" => "automation".into(),
        "digital_products" | "" => String::new(),
        other => readable(other).to_lowercase(),
    }
}

#[derive(Clone, Copy)]
enum Placement {
    Before,
    After,
}

/// Keyword ideas for a niche and a product kind, best first.
///
/// Volume is modelled from the niche's demand, split among phrases (longer phrases are
/// searched less); difficulty from the niche's competition, which falls off
/// geometrically with every extra word — the classic long-tail trade-off.
///
/// Phrases are words as a buyer types them: a slug niche (`notion-productivity-templates`)
/// is read as words, and no phrase says a word twice ("… templates template").
pub fn research_keywords(niche: &str, product_kind: &str, demand: f64, competition: f64) -> Vec<Keyword> {
    let base = normalise(niche);
    // A niche that already says what it sells ("… course", "… templates") is searched
    // as it is; another gets the category's word ("handmade candles ebook").
    let mut kind = search_noun(product_kind);
    if names_a_product_kind(&base) || shares_a_word(&base, &kind) {
        kind.clear();
    }
    let named = names_a_product_kind(&base) || !kind.is_empty();
    let mut seen = std::collections::BTreeSet::new();
    let mut keywords = Vec::new();
    for (modifier, intent, placement) in MODIFIERS {
        if shares_a_word(&format!("{base} {kind}"), modifier) || (named && FORMAT_MODIFIERS.contains(modifier)) {
            continue;
        }
        let candidates = match placement {
            Placement::Before => [join(&[modifier, &base]), join(&[modifier, &base, &kind])],
            Placement::After => [join(&[&base, modifier]), join(&[&base, &kind, modifier])],
        };
        for phrase in candidates {
            if phrase.is_empty() || !seen.insert(phrase.clone()) {
                continue;
            }
            let words = phrase.split_whitespace().count().max(1) as f64;
            let volume = (demand.max(0.0) * 40.0 / words.powf(1.5)) * intent;
            let difficulty = competition.clamp(0.0, 1.0).powf(0.5 + 0.5 * words);
            let score = volume * (1.0 - 0.8 * difficulty);
            keywords.push(Keyword { phrase, volume, difficulty, score });
        }
    }
    keywords.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.phrase.cmp(&b.phrase)));
    keywords
}

/// A listing's optimised text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizedListing {
    /// Title, within the platform's limit.
    pub title: String,
    /// Description, within the platform's limit.
    pub description: String,
    /// Tags, within the platform's count and length limits, no duplicates.
    pub tags: Vec<String>,
}

/// What a listing is written from.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingBrief<'a> {
    /// The product's name, which leads the title.
    pub product_name: &'a str,
    /// A sentence on what the product is, which leads the description.
    pub pitch: &'a str,
    /// The market category ("templates", "courses", …), which picks the title's format
    /// words ("Instant Download", "Lifetime Access").
    pub category: &'a str,
    /// The personality's tone.
    pub tone: Tone,
    /// The listing's seeded choice among templates.
    pub variation: Variation,
}

/// Buyer-intent modifiers worth saying in a title, and how a title says them.
const TITLE_MODIFIERS: &[(&str, &str)] = &[("for beginners", "For Beginners")];

/// Words on what the buyer receives, by market category, as sellers put them after the
/// name.
fn format_phrases(category: &str) -> &'static [&'static str] {
    match category {
        "templates" | "luxury_templates" => &["Instant Download", "Fully Editable", "Ready to Use", "Digital Template"],
        "courses" | "premium_courses" => &["Lifetime Access", "Video Lessons", "Learn at Your Own Pace"],
        "coaching_programs" | "masterminds" => &["Weekly Calls", "Personal Feedback", "Action Plan Included"],
        "ebooks" | "e_books" => &["PDF Download", "Printable PDF", "Read on Any Device"],
        "automation_tools" => &["Plug and Play", "Setup Guide Included", "Instant Download"],
        _ => &["Instant Download", "Digital Download", "Lifetime Updates"],
    }
}

/// Words in the personality's voice a title may end on.
fn tone_phrases(tone: Tone) -> &'static [&'static str] {
    match tone {
        Tone::Mentor => &["Beginner Friendly", "Support Included", "Made with Care"],
        Tone::Hustler => &["Start Today", "Instant Access", "Save Hours Every Week"],
        Tone::Premium => &["Premium Edition", "Crafted for Professionals", "Concierge Support"],
        Tone::Plain => &["Easy to Use", "Lifetime Updates"],
    }
}

/// A keyword as a sentence says it: "best notion templates" → "the best Notion
/// templates".
fn said(phrase: &str) -> String {
    let phrase = in_sentence(phrase);
    if phrase.starts_with("best ") { format!("the {phrase}") } else { phrase }
}

/// How a meta description points at the next-best searches.
const SEARCH_HINTS: &[&str] = &[
    "Ideal if you are looking for {a} or {b}.",
    "A good fit if you searched for {a} or {b}.",
    "Made for anyone after {a} or {b}.",
];

/// Writes the title, description and tags of a listing around its best keywords.
///
/// The title is the product's name followed by qualifiers, " | " between them, as
/// sellers write them: the best buyer-intent modifier the keywords rank ("For
/// Beginners"), what the buyer receives ("Instant Download") and a phrase in the
/// personality's voice. A qualifier that would repeat a word of the title is left out,
/// and qualifiers are added whole while they fit the platform's limit, so the title
/// never ends on a cut word or a separator. The name itself already holds the niche's
/// words, which are the head keyword.
pub fn optimize_listing(brief: &ListingBrief<'_>, keywords: &[Keyword], limits: ListingLimits) -> OptimizedListing {
    let variation = &brief.variation;
    let mut segments = vec![brief.product_name.trim().to_owned()];
    // A premium voice, or a programme sold to people who lead, does not court beginners.
    let courts_beginners = brief.tone != Tone::Premium
        && !matches!(brief.category, "premium_courses" | "masterminds" | "coaching_programs");
    let intent = keywords
        .iter()
        .find_map(|k| TITLE_MODIFIERS.iter().find(|(modifier, _)| k.phrase.ends_with(modifier)).map(|(_, said)| said))
        .filter(|_| courts_beginners);
    let formats: Vec<&str> = variation.rotated("title format", format_phrases(brief.category)).copied().collect();
    let voiced = variation.pick("title tone", tone_phrases(brief.tone)).copied();
    let candidates =
        intent.copied().into_iter().chain(formats.first().copied()).chain(voiced).chain(formats.get(1).copied());
    for candidate in candidates {
        if !shares_a_word(&segments.join(" "), candidate) {
            segments.push(candidate.to_owned());
        }
    }
    let title = join_title(&segments, TITLE_SEPARATOR, limits.title);

    let name = brief.product_name.to_lowercase();
    let hints: Vec<String> =
        keywords.iter().skip(1).filter(|k| !name.contains(&k.phrase)).take(2).map(|k| said(&k.phrase)).collect();
    let pitch = brief.pitch.trim();
    let description = match (hints.first(), hints.get(1)) {
        (Some(a), Some(b)) => {
            let hint = variation.pick("search hint", SEARCH_HINTS).copied().unwrap_or(SEARCH_HINTS[0]);
            fit_sentences(&format!("{pitch} {}", hint.replace("{a}", a).replace("{b}", b)), limits.description)
        }
        _ => fit_sentences(pitch, limits.description),
    };
    OptimizedListing { title, description, tags: tags(keywords, limits) }
}

/// Tags: the keyword phrases that fit the platform's tag length whole (a tag cut short
/// matches no search), then pairs of the head term's words ("notion productivity",
/// "productivity templates") for platforms whose tags are too short for it.
fn tags(keywords: &[Keyword], limits: ListingLimits) -> Vec<String> {
    let head = keywords.iter().min_by_key(|k| k.phrase.split(' ').count()).map_or("", |k| k.phrase.as_str());
    let head_words: Vec<&str> = head.split(' ').collect();
    let pairs = head_words.windows(2).map(|pair| pair.join(" "));
    let mut tags: Vec<String> = Vec::new();
    for tag in keywords.iter().map(|k| k.phrase.clone()).chain(pairs) {
        if tags.len() >= limits.tags {
            break;
        }
        if !tag.is_empty() && tag.chars().count() <= limits.tag_length && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

fn normalise(text: &str) -> String {
    readable(text).to_lowercase()
}

fn join(parts: &[&str]) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// The title a model answered, made to keep the title's rules: words said twice in a
/// row are said once and the length is cut at a word; a title that still carries a
/// slug is not one a buyer should see, so the offline `proposal` stands in for it.
fn title_from(answered: &str, proposal: &str, limit: usize) -> String {
    let title = tidy_title(answered, limit);
    if title.is_empty() || !slug_like_tokens(&title).is_empty() { proposal.to_owned() } else { title }
}

/// The SEO agent. Action `optimize_listing` researches keywords for a niche and writes
/// the listing's title, description and tags within the platform's limits.
#[derive(Debug, Default)]
pub struct SeoAnalyst;

#[derive(Deserialize)]
struct ListingRequest {
    niche: String,
    product_name: String,
    pitch: String,
    #[serde(default)]
    category: String,
    #[serde(default = "default_demand")]
    demand: f64,
    #[serde(default = "default_competition")]
    competition: f64,
    #[serde(default = "default_platform")]
    platform: String,
    /// The autopilot cycle the listing is written in: with the tenant and the niche it
    /// seeds the choice among templates, so a replayed cycle writes the same title.
    #[serde(default)]
    cycle: i64,
}

fn default_demand() -> f64 {
    10.0
}
fn default_competition() -> f64 {
    0.5
}
fn default_platform() -> String {
    "sandbox".into()
}

#[async_trait]
impl Agent for SeoAnalyst {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        if task.action != "optimize_listing" {
            return unknown(context.agent, task);
        }
        let request: ListingRequest = task.parse()?;
        if request.product_name.trim().is_empty() {
            return Err(AgentError::InvalidInput("optimize_listing: product_name must not be empty".into()));
        }
        let keywords = research_keywords(&request.niche, &request.category, request.demand, request.competition);
        let limits = limits_for(&request.platform);
        let brief = ListingBrief {
            product_name: &request.product_name,
            pitch: &request.pitch,
            category: &request.category,
            tone: Tone::from_marketing_approach(&context.personality.marketing_approach),
            variation: Variation::for_listing(context.tenant, &request.niche, request.cycle),
        };
        let proposal = optimize_listing(&brief, &keywords, limits);
        let shape = ExpectedShape::object()
            .string("title", limits.title)
            .string("description", limits.description)
            .string_array("tags");
        let decided = context
            .decide(
                "Write the listing's title, description and tags. Write the title as a seller would: \
                 words a buyer reads, not slugs or keyword strings, and no word twice.",
                json!({ "keywords": &keywords[..keywords.len().min(10)] }),
                to_value(&proposal)?,
                shape,
            )
            .await?;
        let answered: OptimizedListing = serde_json::from_value(decided.decision).unwrap_or(proposal.clone());
        // The platform's limits and the title's rules hold whoever wrote the text.
        let listing = OptimizedListing {
            title: title_from(&answered.title, &proposal.title, limits.title),
            description: fit_sentences(&answered.description, limits.description),
            tags: answered
                .tags
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty() && t.chars().count() <= limits.tag_length)
                .take(limits.tags)
                .collect(),
        };
        Ok(
            json!({ "keywords": &keywords[..keywords.len().min(10)], "listing": listing, "source": decided.source.to_string() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tail_phrases_are_easier_and_the_list_is_ranked_and_unique() {
        let keywords = research_keywords("Notion Templates", "templates", 50.0, 0.8);
        assert!(keywords.windows(2).all(|w| w[0].score >= w[1].score));
        let phrases: std::collections::BTreeSet<_> = keywords.iter().map(|k| &k.phrase).collect();
        assert_eq!(phrases.len(), keywords.len());
        let short = keywords.iter().find(|k| k.phrase == "notion templates").expect("head term");
        let long = keywords.iter().find(|k| k.phrase == "notion templates for beginners").expect("long tail");
        assert!(long.difficulty < short.difficulty && long.volume < short.volume);
        assert_eq!(research_keywords("x", "y", 10.0, 0.5), research_keywords("x", "y", 10.0, 0.5), "deterministic");
    }

    #[test]
    fn listings_respect_every_platform_limit() {
        let keywords = research_keywords("productivity systems for remote teams", "courses", 30.0, 0.4);
        for platform in PLATFORMS_WITH_LIMITS.into_iter().chain(["sandbox"]) {
            let limits = limits_for(platform);
            let pitch = "A very long pitch. ".repeat(100);
            let brief = ListingBrief {
                product_name: "The Remote Team Operating System Masterclass",
                pitch: &pitch,
                category: "courses",
                tone: Tone::Plain,
                variation: Variation::new(&["test"]),
            };
            let listing = optimize_listing(&brief, &keywords, limits);
            assert!(listing.title.chars().count() <= limits.title, "{platform}: {}", listing.title);
            assert!(listing.description.chars().count() <= limits.description, "{platform}");
            assert!(listing.tags.len() <= limits.tags);
            assert!(listing.tags.iter().all(|t| t.chars().count() <= limits.tag_length));
        }
    }

    #[test]
    fn keywords_read_as_words_and_never_say_one_twice() {
        let keywords = research_keywords("notion-productivity-templates", "templates", 38.0, 0.7);
        assert!(keywords.iter().any(|k| k.phrase == "notion productivity templates for beginners"));
        for keyword in &keywords {
            assert!(crate::copywriting::slug_like_tokens(&keyword.phrase).is_empty(), "{}", keyword.phrase);
            assert_eq!(crate::copywriting::repeated_back_to_back(&keyword.phrase), None, "{}", keyword.phrase);
            assert_eq!(keyword.phrase.matches("template").count(), 1, "{}", keyword.phrase);
        }
        let candles = research_keywords("handmade candles", "e_books", 10.0, 0.5);
        assert!(
            candles.iter().any(|k| k.phrase == "handmade candles ebook"),
            "a niche without a product word gets one"
        );
    }

    #[test]
    fn a_models_title_keeps_the_rules_or_gives_way_to_the_offline_one() {
        let offline = "Notion Productivity Template Pack";
        assert_eq!(title_from("Notion  Templates Template Kit", offline, 80), "Notion Templates Kit");
        assert_eq!(title_from("Kit — Notion-productivity-templates", offline, 80), offline);
        assert_eq!(title_from("notion_templates", offline, 80), offline);
        assert_eq!(title_from("", offline, 80), offline);
        assert_eq!(title_from("Planner Pack | For Beginners", offline, 16), "Planner Pack");
    }

    #[test]
    fn fit_cuts_at_a_word_boundary() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("one two three four", 10), "one two…");
        assert_eq!(fit("supercalifragilistic", 6), "super…");
        assert_eq!(fit("anything", 0), "");
    }
}
