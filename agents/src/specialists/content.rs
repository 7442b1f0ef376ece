//! Content: product descriptions, blog posts and social posts, each within its
//! platform's limits, and a content calendar that spreads posts over the week.
//!
//! The text here is the offline brain's: deterministic templates voiced by the
//! personality. With a remote brain configured, these drafts are what the model is
//! asked to improve, and the same limits are checked on its answer.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub use boardroom_adapters::SocialNetwork as Network;

use super::seo::fit;

/// Hour of day (UTC) when posts on `network` do best, by the networks' usual
/// engagement peaks.
pub fn best_hour(network: Network) -> u32 {
    match network {
        Network::X => 13,
        Network::LinkedIn => 8,
        Network::Reddit => 15,
        Network::TikTok => 19,
        Network::YouTube => 17,
    }
}

/// The voice of a piece: what the personality stresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    /// Personality name, e.g. "HustleBot".
    pub persona: String,
    /// e.g. "authentic storytelling, testimonials".
    pub marketing_approach: String,
}

/// What a piece of content is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    /// Product name.
    pub product: String,
    /// The niche.
    pub niche: String,
    /// Price, as text with currency.
    pub price: String,
    /// Best keywords, best first.
    pub keywords: Vec<String>,
}

/// A product description within `limit` characters.
pub fn product_description(brief: &Brief, voice: &Voice, limit: usize) -> String {
    let hook = hook(voice);
    let keywords = brief.keywords.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let text = format!(
        "{hook} {product} helps you master {niche} without the guesswork. Built for people searching for {keywords}. \
         Instant digital delivery, lifetime updates, {price}.",
        product = brief.product,
        niche = brief.niche,
        price = brief.price,
    );
    fit(&text, limit)
}

/// A blog post in Markdown: a title and sections built around the keywords.
pub fn blog_post(brief: &Brief, voice: &Voice) -> String {
    let primary = brief.keywords.first().cloned().unwrap_or_else(|| brief.niche.clone());
    let mut post = format!("# {}: a practical guide\n\n{} ", capitalise(&primary), hook(voice));
    post.push_str(&format!("This guide walks through {} step by step.\n", brief.niche));
    for (index, keyword) in brief.keywords.iter().take(4).enumerate() {
        post.push_str(&format!(
            "\n## {}. {}\n\nWhat matters most about {keyword}, the mistakes beginners make, and a checklist you can apply today.\n",
            index + 1,
            capitalise(keyword)
        ));
    }
    post.push_str(&format!("\n## Go further\n\n{} puts all of this in one place ({}).\n", brief.product, brief.price));
    post
}

/// A post for `network`, within its limit.
pub fn social_post(brief: &Brief, voice: &Voice, network: Network) -> String {
    let tags: String = brief
        .keywords
        .iter()
        .take(3)
        .map(|k| format!("#{}", k.split_whitespace().collect::<String>()))
        .collect::<Vec<_>>()
        .join(" ");
    let text = match network {
        Network::X => format!("{} {} is live: {} {}", hook(voice), brief.product, brief.price, tags),
        Network::LinkedIn => format!(
            "{}\n\nWe built {} for anyone serious about {}. What it covers: {}.\n\n{}",
            hook(voice),
            brief.product,
            brief.niche,
            brief.keywords.join(", "),
            tags
        ),
        Network::Reddit => format!("I made {} to make {} easier — feedback welcome", brief.product, brief.niche),
        Network::TikTok => format!("POV: you finally get {} 🚀 {} {}", brief.niche, brief.product, tags),
        Network::YouTube => format!("{}: {} explained", brief.product, capitalise(&brief.niche)),
    };
    fit(&text, network.max_text_chars())
}

/// One scheduled post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledPost {
    /// Where.
    pub network: Network,
    /// When.
    pub at: DateTime<Utc>,
    /// The text.
    pub text: String,
}

/// Plans `posts` posts over the seven days from `start`, spread across networks in
/// proportion to `weights` (largest remainder, so the counts are exact), each at its
/// network's best hour, skipping Sundays for LinkedIn.
pub fn content_calendar(
    brief: &Brief,
    voice: &Voice,
    weights: &[(Network, f64)],
    posts: usize,
    start: DateTime<Utc>,
) -> Vec<ScheduledPost> {
    let counts = apportion(weights, posts);
    let mut calendar = Vec::with_capacity(posts);
    for (network, count) in counts {
        for index in 0..count {
            // Spread a network's posts evenly over the week.
            let mut day = start.date_naive() + Duration::days(((index * 7) / count.max(1)) as i64 + 1);
            if network == Network::LinkedIn && day.weekday() == Weekday::Sun {
                day += Duration::days(1);
            }
            let at = day.and_hms_opt(best_hour(network), 0, 0).map_or(start, |naive| Utc.from_utc_datetime(&naive));
            calendar.push(ScheduledPost { network, at, text: social_post(brief, voice, network) });
        }
    }
    calendar.sort_by_key(|post| post.at);
    calendar
}

/// Splits `total` among the weights by the largest-remainder method.
fn apportion(weights: &[(Network, f64)], total: usize) -> Vec<(Network, usize)> {
    let sum: f64 = weights.iter().map(|(_, w)| w.max(0.0)).sum();
    if sum <= 0.0 || total == 0 {
        return Vec::new();
    }
    let quotas: Vec<(Network, f64)> = weights.iter().map(|(n, w)| (*n, w.max(0.0) / sum * total as f64)).collect();
    let mut counts: Vec<(Network, usize)> = quotas.iter().map(|(n, q)| (*n, q.floor() as usize)).collect();
    let mut left = total - counts.iter().map(|(_, c)| c).sum::<usize>();
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|&a, &b| (quotas[b].1 - quotas[b].1.floor()).total_cmp(&(quotas[a].1 - quotas[a].1.floor())));
    for index in order {
        if left == 0 {
            break;
        }
        counts[index].1 += 1;
        left -= 1;
    }
    counts.retain(|(_, c)| *c > 0);
    counts
}

fn hook(voice: &Voice) -> &'static str {
    let approach = voice.marketing_approach.to_lowercase();
    if approach.contains("viral") {
        "Stop scrolling."
    } else if approach.contains("luxury") || approach.contains("exclusiv") {
        "For the few who expect more."
    } else if approach.contains("storytelling") || approach.contains("testimonial") {
        "Here is what our students told us."
    } else {
        "Something new for you."
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| first.to_uppercase().chain(chars).collect())
}

/// The content agent. Actions: `product_description` and `blog_post` (`{"brief"}`),
/// `social_posts` (`{"brief", "networks"?}`: one post per network, by default the
/// networks the personality favours), `calendar` (`{"brief", "posts", "start"}`).
#[derive(Debug, Default)]
pub struct ContentWriter;

#[derive(Deserialize)]
struct ContentRequest {
    brief: Brief,
    #[serde(default)]
    networks: Option<Vec<Network>>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    posts: Option<usize>,
    #[serde(default)]
    start: Option<DateTime<Utc>>,
}

impl ContentWriter {
    /// Networks weighted by how much the personality leans on organic social (X,
    /// TikTok) versus professional reach (LinkedIn) and communities (Reddit).
    fn network_weights(context: &AgentContext) -> Vec<(Network, f64)> {
        let weights = context.personality.decisions.channel_weights.normalized();
        vec![
            (Network::X, weights.social_organic * 0.4 + weights.social_ads * 0.2),
            (Network::TikTok, weights.social_organic * 0.4 + weights.social_ads * 0.3),
            (Network::LinkedIn, weights.email * 0.5 + weights.seo_content * 0.3),
            (Network::Reddit, weights.seo_content * 0.4 + weights.social_organic * 0.2),
            (Network::YouTube, weights.seo_content * 0.3 + weights.social_ads * 0.1),
        ]
    }
}

#[async_trait]
impl Agent for ContentWriter {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        let action = task.action.clone();
        if !matches!(action.as_str(), "product_description" | "blog_post" | "social_posts" | "calendar") {
            return unknown(context.agent, task);
        }
        let request: ContentRequest = task.parse()?;
        let voice = Voice {
            persona: context.personality.name.clone(),
            marketing_approach: context.personality.marketing_approach.clone(),
        };
        let brief = &request.brief;
        match action.as_str() {
            "product_description" => {
                let limit = request.limit.unwrap_or(500).clamp(1, 5000);
                let proposal = product_description(brief, &voice, limit);
                let shape = ExpectedShape::object().string("text", limit);
                let decided = context
                    .decide("Write the product description.", to_value(brief)?, json!({ "text": proposal }), shape)
                    .await?;
                let text = decided.decision["text"].as_str().map_or(proposal, |t| fit(t, limit));
                Ok(json!({ "text": text, "source": decided.source.to_string() }))
            }
            "blog_post" => {
                let post = blog_post(brief, &voice);
                context
                    .emit(
                        "content.blog_post",
                        format!("drafted a blog post on {}", brief.niche),
                        json!({ "chars": post.len() }),
                    )
                    .await;
                Ok(json!({ "markdown": post, "source": "offline" }))
            }
            "social_posts" => {
                let networks = match request.networks {
                    Some(networks) => networks,
                    None => {
                        let mut weighted = Self::network_weights(context);
                        weighted.sort_by(|a, b| b.1.total_cmp(&a.1));
                        weighted.into_iter().take(2).map(|(network, _)| network).collect()
                    }
                };
                let posts: Vec<Value> = networks
                    .iter()
                    .map(|network| json!({ "network": network, "text": social_post(brief, &voice, *network) }))
                    .collect();
                Ok(json!({ "posts": posts, "source": "offline" }))
            }
            _ => {
                let posts = request.posts.unwrap_or(7).min(100);
                let start = request.start.unwrap_or_else(Utc::now);
                let calendar = content_calendar(brief, &voice, &Self::network_weights(context), posts, start);
                Ok(json!({ "calendar": calendar }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief() -> Brief {
        Brief {
            product: "Notion Life OS".into(),
            niche: "notion templates".into(),
            price: "$29.00".into(),
            keywords: vec![
                "notion templates".into(),
                "notion templates for beginners".into(),
                "best notion templates".into(),
            ],
        }
    }

    fn voice(approach: &str) -> Voice {
        Voice { persona: "HustleBot".into(), marketing_approach: approach.into() }
    }

    #[test]
    fn every_post_fits_its_network_and_the_voice_follows_the_personality() {
        let long = Brief { product: "x".repeat(400), ..brief() };
        for network in Network::ALL {
            let post = social_post(&long, &voice("viral content"), network);
            assert!(post.chars().count() <= network.max_text_chars(), "{network:?}");
        }
        assert!(social_post(&brief(), &voice("viral content"), Network::X).starts_with("Stop scrolling."));
        assert!(product_description(&brief(), &voice("luxury branding"), 500).starts_with("For the few"));
        assert!(product_description(&brief(), &voice("x"), 60).chars().count() <= 60);
    }

    #[test]
    fn a_blog_post_has_a_section_per_keyword() {
        let post = blog_post(&brief(), &voice("authentic storytelling"));
        assert!(post.starts_with("# Notion templates: a practical guide"));
        assert_eq!(post.matches("\n## ").count(), 4, "3 keyword sections + closing");
    }

    #[test]
    fn the_calendar_splits_posts_by_weight_over_the_coming_week() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).single().expect("date");
        let weights = [(Network::X, 0.5), (Network::LinkedIn, 0.3), (Network::TikTok, 0.2)];
        let calendar = content_calendar(&brief(), &voice("viral"), &weights, 10, start);
        assert_eq!(calendar.len(), 10);
        let count = |n: Network| calendar.iter().filter(|p| p.network == n).count();
        assert_eq!((count(Network::X), count(Network::LinkedIn), count(Network::TikTok)), (5, 3, 2));
        assert!(calendar.iter().all(|p| p.at > start && p.at < start + Duration::days(9)));
        assert!(calendar.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(calendar.iter().filter(|p| p.network == Network::LinkedIn).all(|p| p.at.weekday() != Weekday::Sun));
        assert!(content_calendar(&brief(), &voice("x"), &[], 5, start).is_empty());
    }
}
