//! SEO: keyword research for a niche and product, and titles, descriptions and tags
//! optimised within each platform's length limits.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use serde::{Deserialize, Serialize};

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
pub fn research_keywords(niche: &str, product_kind: &str, demand: f64, competition: f64) -> Vec<Keyword> {
    let base = normalise(niche);
    let kind = normalise(product_kind).replace('_', " ");
    let mut seen = std::collections::BTreeSet::new();
    let mut keywords = Vec::new();
    for (modifier, intent, placement) in MODIFIERS {
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

/// Writes the title, description and tags of a listing around its best keywords.
pub fn optimize_listing(
    product_name: &str,
    pitch: &str,
    keywords: &[Keyword],
    limits: ListingLimits,
) -> OptimizedListing {
    let primary = keywords.first().map_or(product_name.to_owned(), |k| title_case(&k.phrase));
    let title = if primary.eq_ignore_ascii_case(product_name) {
        fit(product_name, limits.title)
    } else {
        fit(&format!("{product_name} — {primary}"), limits.title)
    };
    let secondary: Vec<&str> = keywords.iter().skip(1).take(2).map(|k| k.phrase.as_str()).collect();
    let description = if secondary.is_empty() {
        fit(pitch, limits.description)
    } else {
        fit(&format!("{pitch} Ideal if you are looking for {}.", secondary.join(" or ")), limits.description)
    };
    let mut tags: Vec<String> = Vec::new();
    for keyword in keywords {
        if tags.len() >= limits.tags {
            break;
        }
        let tag = fit(&keyword.phrase, limits.tag_length);
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    OptimizedListing { title, description, tags }
}

/// Cuts text to at most `limit` characters at a word boundary, adding "…" when cut.
pub fn fit(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    if limit == 0 {
        return String::new();
    }
    let budget = limit - 1; // room for the ellipsis
    let mut cut = String::new();
    for word in text.split_whitespace() {
        let extra = if cut.is_empty() { word.chars().count() } else { word.chars().count() + 1 };
        if cut.chars().count() + extra > budget {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    if cut.is_empty() {
        cut = text.chars().take(budget).collect();
    }
    cut.push('…');
    cut
}

fn normalise(text: &str) -> String {
    text.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn join(parts: &[&str]) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

fn title_case(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
        let proposal = optimize_listing(&request.product_name, &request.pitch, &keywords, limits);
        let shape = ExpectedShape::object()
            .string("title", limits.title)
            .string("description", limits.description)
            .string_array("tags");
        let decided = context
            .decide(
                "Write the listing's title, description and tags.",
                json!({ "keywords": &keywords[..keywords.len().min(10)] }),
                to_value(&proposal)?,
                shape,
            )
            .await?;
        let answered: OptimizedListing = serde_json::from_value(decided.decision).unwrap_or(proposal);
        // The platform's limits hold whoever wrote the text.
        let listing = OptimizedListing {
            title: fit(&answered.title, limits.title),
            description: fit(&answered.description, limits.description),
            tags: answered
                .tags
                .iter()
                .map(|t| fit(t, limits.tag_length))
                .filter(|t| !t.is_empty())
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
        for platform in ["shopify", "gumroad", "etsy", "sandbox"] {
            let limits = limits_for(platform);
            let listing = optimize_listing(
                "The Remote Team Operating System Masterclass",
                &"A very long pitch. ".repeat(100),
                &keywords,
                limits,
            );
            assert!(listing.title.chars().count() <= limits.title, "{platform}: {}", listing.title);
            assert!(listing.description.chars().count() <= limits.description, "{platform}");
            assert!(listing.tags.len() <= limits.tags);
            assert!(listing.tags.iter().all(|t| t.chars().count() <= limits.tag_length));
        }
    }

    #[test]
    fn fit_cuts_at_a_word_boundary() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("one two three four", 10), "one two…");
        assert_eq!(fit("supercalifragilistic", 6), "super…");
        assert_eq!(fit("anything", 0), "");
    }
}
