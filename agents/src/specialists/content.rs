//! Content: product descriptions, blog posts and social posts, each within its
//! platform's limits, and a content calendar that spreads posts over the week.
//!
//! The text here is the offline brain's: templates voiced by the personality's
//! [`Tone`], several of each kind (openings, what the buyer gets, closings, one set per
//! network), chosen by a [`Variation`] seeded from the tenant, the niche and the cycle,
//! so fifty products do not all open with the same sentence and a replayed cycle writes
//! the same words. Niches are read as words ([`copywriting::topic`]), never shown as
//! the market's slugs. With a remote brain configured, these drafts are what the model
//! is asked to improve, and the same limits are checked on its answer.
//!
//! [`copywriting::topic`]: crate::copywriting::topic

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{to_value, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::brain::ExpectedShape;
use crate::copywriting::{
    Tone, Variation, camel_case, fit_sentences, in_sentence, readable, sentence_case, stem, topic,
};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub use boardroom_adapters::SocialNetwork as Network;

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

impl Voice {
    /// The tone the personality's marketing approach calls for.
    pub fn tone(&self) -> Tone {
        Tone::from_marketing_approach(&self.marketing_approach)
    }
}

/// What a piece of content is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    /// Product name.
    pub product: String,
    /// The niche (a market's slug such as `printable-planners` is read as words).
    pub niche: String,
    /// Price, as text with currency.
    pub price: String,
    /// Best keywords, best first.
    pub keywords: Vec<String>,
    /// The market category ("templates", "courses", …) when known: it picks the
    /// sentences on what the buyer gets.
    #[serde(default)]
    pub category: String,
}

/// Openings of a description, by tone. `{product}` is the product's name, `{topic}`
/// what the niche is about ("Notion productivity").
fn openings(tone: Tone) -> &'static [&'static str] {
    match tone {
        Tone::Mentor => &[
            "You do not need to be an expert to get {topic} right.",
            "Every expert started as a beginner, and {product} is made for that first step.",
            "Start small and stay steady: that is the whole idea behind {product}.",
            "If getting {topic} right has been on your list for months, this is a kind place to begin.",
            "We made {product} for anyone who wants a calmer way into {topic}.",
            "Progress on {topic} comes from small steps taken often.",
        ],
        Tone::Hustler => &[
            "Stop scrolling.",
            "Skip the learning curve.",
            "Want results this week, not next year?",
            "{product} is the shortcut you have been looking for.",
            "Less busywork, more wins.",
            "Ten minutes from now you could be using {product}.",
        ],
        Tone::Premium => &[
            "For the few who expect more.",
            "Crafted for people who value their time above all.",
            "Some products are good enough. {product} is made to last.",
            "Quiet, considered and built to the highest standard.",
            "Made for professionals who never settle for the first draft.",
            "Excellence is a habit, and {product} is built around it.",
        ],
        Tone::Plain => &[
            "Something new for you.",
            "Meet {product}.",
            "Everything you need for {topic}, in one place.",
            "A practical way to get started with {topic}.",
            "Less guesswork, more progress on {topic}.",
        ],
    }
}

/// What the buyer gets, by market category.
fn contents(category: &str) -> &'static [&'static str] {
    match category {
        "templates" | "luxury_templates" => &[
            "Inside you get pages you can duplicate, edit and make your own.",
            "Every template is editable, tidy and ready the moment you download it.",
            "Duplicate it, fill it in, and you are set up before your coffee cools.",
        ],
        "courses" => &[
            "Short video lessons take you from the basics to real projects, one step at a time.",
            "Each module ends with an exercise, so you practise as you learn.",
            "Clear lessons, real examples and projects you can show.",
        ],
        "premium_courses" => &[
            "In depth sessions, case studies from real companies and frameworks you will use for years.",
            "Small cohorts and direct access to the instructor keep every session focused.",
        ],
        "coaching_programs" | "masterminds" => &[
            "Weekly calls and personal feedback keep you moving.",
            "You get a clear plan, honest feedback and someone in your corner.",
        ],
        "ebooks" | "e_books" => {
            &["Clear chapters, practical checklists and no filler.", "Read it in an evening, use it for a year."]
        }
        "automation_tools" => &[
            "Import the workflows, connect your accounts and let the busywork run itself.",
            "Every automation comes with a setup guide, so you are running in minutes.",
        ],
        _ => {
            &["Download once and use it as often as you like.", "Everything is organised, searchable and ready to use."]
        }
    }
}

/// One sentence on what the product is, by market category: the pitch the SEO agent
/// starts a listing's description from.
fn pitches(category: &str) -> &'static [&'static str] {
    match category {
        "templates" | "luxury_templates" => &[
            "{product} gives you editable pages, ready the moment you download them.",
            "{product} turns {topic} into pages you simply fill in.",
        ],
        "courses" => &[
            "{product} takes you from the basics to real projects, one lesson at a time.",
            "{product} teaches {topic} through short lessons and real projects.",
        ],
        "premium_courses" => &[
            "{product} brings frameworks and case studies you will use for years.",
            "{product} is an in depth programme on {topic} for people who lead.",
        ],
        "coaching_programs" | "masterminds" => &[
            "{product} pairs a clear plan with weekly calls and honest feedback.",
            "{product} gives you a coach in your corner for {topic}.",
        ],
        "ebooks" | "e_books" => &[
            "{product} is a clear, practical read with checklists and no filler.",
            "{product} covers {topic} in plain words, with checklists you can use today.",
        ],
        "automation_tools" => &[
            "{product} hands the busywork to automations you set up in minutes.",
            "{product} automates the repetitive parts of {topic}.",
        ],
        _ => &[
            "{product} is ready to download and use as often as you like.",
            "{product} puts the best of {topic} in one download.",
        ],
    }
}

/// Sentences that work a further search phrase in: `{keyword}`.
const SEARCH_LINES: &[&str] = &[
    "Made for anyone looking for {keyword}.",
    "A good fit if you searched for {keyword}.",
    "If you searched for {keyword}, you are in the right place.",
];

/// Closings, by tone: `{price}`.
fn closings(tone: Tone) -> &'static [&'static str] {
    match tone {
        Tone::Mentor => &[
            "Instant access for {price}, and we are here if you get stuck.",
            "Yours for {price}. Take it one step at a time.",
            "{price}, instant access, and a real person to answer your questions.",
        ],
        Tone::Hustler => {
            &["Grab it today for {price}.", "{price}. Start today.", "Only {price}, and you can start in five minutes."]
        }
        Tone::Premium => &[
            "{price}, with lifetime updates and priority support.",
            "Available now for {price}.",
            "{price}. Instant access, lifetime updates.",
        ],
        Tone::Plain => &[
            "Instant digital delivery, lifetime updates, {price}.",
            "Available now for {price}.",
            "{price}, delivered instantly.",
        ],
    }
}

/// The words a template's placeholders stand for.
struct Fill {
    product: String,
    topic: String,
    price: String,
    keyword: String,
}

impl Fill {
    fn of(brief: &Brief) -> Fill {
        let niche = if brief.niche.trim().is_empty() { brief.product.clone() } else { brief.niche.clone() };
        Fill {
            product: brief.product.trim().to_owned(),
            topic: topic(&niche),
            price: brief.price.trim().to_owned(),
            keyword: search_phrase(brief).unwrap_or_default(),
        }
    }

    /// `template` with its placeholders filled, its first letter upper case.
    fn render(&self, template: &str) -> String {
        sentence_case(
            &template
                .replace("{product}", &self.product)
                .replace("{topic}", &self.topic)
                .replace("{price}", &self.price)
                .replace("{keyword}", &self.keyword),
        )
    }
}

/// The best keyword that says more than the product's name already does ("Notion
/// productivity templates for beginners"), as it reads in a sentence. "Best" alone
/// says nothing a buyer needs to read.
fn search_phrase(brief: &Brief) -> Option<String> {
    let name: Vec<String> = readable(&brief.product).split(' ').map(stem).collect();
    brief
        .keywords
        .iter()
        .map(|keyword| readable(keyword).to_lowercase())
        .filter(|keyword| !keyword.starts_with("best "))
        .find(|keyword| keyword.split(' ').count() > 1 && keyword.split(' ').any(|word| !name.contains(&stem(word))))
        .map(|keyword| in_sentence(&keyword))
}

/// One choice of `options` for `purpose`, filled.
fn choose(fill: &Fill, variation: &Variation, purpose: &str, options: &[&str]) -> String {
    variation.pick(purpose, options).map_or_else(String::new, |template| fill.render(template))
}

/// The one-sentence pitch of a product of a market category.
pub fn pitch(product: &str, niche: &str, category: &str, variation: &Variation) -> String {
    let brief = Brief {
        product: product.to_owned(),
        niche: niche.to_owned(),
        price: String::new(),
        keywords: Vec::new(),
        category: category.to_owned(),
    };
    choose(&Fill::of(&brief), variation, "pitch", pitches(category))
}

/// A product description within `limit` characters: an opening in the personality's
/// voice, what the buyer gets, a further search phrase and a closing with the price,
/// cut after the last whole sentence that fits.
pub fn product_description(brief: &Brief, voice: &Voice, limit: usize, variation: &Variation) -> String {
    let fill = Fill::of(brief);
    let tone = voice.tone();
    let mut sentences = vec![
        choose(&fill, variation, "opening", openings(tone)),
        choose(&fill, variation, "contents", contents(&brief.category)),
    ];
    if !fill.keyword.is_empty() {
        sentences.push(choose(&fill, variation, "search line", SEARCH_LINES));
    }
    if !fill.price.is_empty() {
        sentences.push(choose(&fill, variation, "closing", closings(tone)));
    }
    fit_sentences(&sentences.join(" "), limit)
}

/// Blog titles: `{Topic}` is the topic in sentence case.
const BLOG_TITLES: &[&str] = &[
    "# {topic}: a practical guide",
    "# How to get started with {topic}",
    "# {topic}, step by step",
    "# {topic} without the overwhelm",
];

/// A blog post in Markdown: a title and sections built around the keywords.
pub fn blog_post(brief: &Brief, voice: &Voice, variation: &Variation) -> String {
    let fill = Fill::of(brief);
    let title = variation.pick("blog title", BLOG_TITLES).copied().unwrap_or(BLOG_TITLES[0]);
    let title = title.replace("{topic}", &sentence_case(&fill.topic));
    let opening = choose(&fill, variation, "opening", openings(voice.tone()));
    let mut post = format!("{title}\n\n{opening} This guide walks through {} step by step.\n", fill.topic);
    for (index, keyword) in brief.keywords.iter().take(4).enumerate() {
        let keyword = in_sentence(keyword);
        post.push_str(&format!(
            "\n## {}. {}\n\nWhat matters most about {keyword}, the mistakes beginners make, and a checklist you can apply today.\n",
            index + 1,
            sentence_case(&keyword)
        ));
    }
    let price = if fill.price.is_empty() { String::new() } else { format!(" ({})", fill.price) };
    post.push_str(&format!("\n## Go further\n\n{} puts all of this in one place{price}.\n", fill.product));
    post
}

/// Hashtags for a brief: the niche, its topic and its keywords (not the "best …"
/// ones) in CamelCase, each at most 30 characters, no two alike.
fn hashtags(brief: &Brief, count: usize) -> String {
    let mut tags: Vec<String> = Vec::new();
    let niche = if brief.niche.trim().is_empty() { brief.product.as_str() } else { brief.niche.as_str() };
    let keywords = brief.keywords.iter().filter(|k| !k.to_lowercase().starts_with("best ")).map(|k| camel_case(k));
    for candidate in [camel_case(niche), camel_case(&topic(niche))].into_iter().chain(keywords) {
        if tags.len() >= count {
            break;
        }
        if !candidate.is_empty()
            && candidate.chars().count() <= 30
            && !tags.iter().any(|tag| tag.eq_ignore_ascii_case(&candidate))
        {
            tags.push(candidate);
        }
    }
    tags.iter().map(|tag| format!("#{tag}")).collect::<Vec<_>>().join(" ")
}

/// Post templates per network and tone. `{tags}` is the hashtags.
fn post_templates(network: Network, tone: Tone) -> &'static [&'static str] {
    match (network, tone) {
        (Network::X, Tone::Mentor) => &[
            "We just opened the doors on {product}. {price}, and gentle on busy weeks. {tags}",
            "Looking for a simpler way into {topic}? We made {product} ({price}). {tags}",
            "{product} is here. Start small, stay steady. {price} {tags}",
        ],
        (Network::X, Tone::Hustler) => &[
            "Stop scrolling. {product} is live: {price} {tags}",
            "New drop: {product}. {price}, available now. {tags}",
            "{product} just went live. {price}. You know what to do. {tags}",
            "Skip the learning curve: {product}, {price}. {tags}",
        ],
        (Network::X, Tone::Premium) => &[
            "For the few who expect more: {product}. {price} {tags}",
            "{product} is now available. {price} {tags}",
            "Introducing {product}. Considered, refined, {price}. {tags}",
        ],
        (Network::X, Tone::Plain) => {
            &["{product} is live: {price} {tags}", "New: {product}, {price}. {tags}", "Meet {product}. {price} {tags}"]
        }
        (Network::TikTok, Tone::Mentor) => &[
            "A gentle reminder: getting {topic} right does not have to be hard. {product} {tags}",
            "Small steps, big change 🌱 {product} {tags}",
        ],
        (Network::TikTok, Tone::Premium) => {
            &["The details matter ✨ {product} {tags}", "Quietly better: {product}, for {topic} done properly. {tags}"]
        }
        (Network::TikTok, _) => &[
            "POV: you finally get {topic} 🚀 {product} {tags}",
            "Stop scrolling 👀 {product} is live {tags}",
            "Me after setting up {product} ✨ {tags}",
        ],
        (Network::Reddit, _) => &[
            "I made {product} to make {topic} easier. Feedback welcome.",
            "Sharing something I built: {product}. Would love honest feedback.",
            "After a lot of work on {topic}, I packaged what I learned into {product}. Thoughts?",
        ],
        (Network::YouTube, _) => &[
            "{topic} explained, with {product}",
            "{topic}, step by step, with {product}",
            "How I use {product} for {topic}",
        ],
        // LinkedIn is written from the description's parts, below.
        (Network::LinkedIn, _) => &[],
    }
}

/// Why a LinkedIn post's product exists.
const LINKEDIN_WHY: &[&str] = &[
    "We built {product} for anyone serious about {topic}.",
    "{product} is our answer to the questions we hear most about {topic}.",
    "{product} started as our own toolkit for {topic}. Now it is yours.",
];

/// A post for `network`, within its limit.
pub fn social_post(brief: &Brief, voice: &Voice, network: Network, variation: &Variation) -> String {
    let fill = Fill::of(brief);
    let tone = voice.tone();
    let purpose = format!("post {network:?}");
    let text = if network == Network::LinkedIn {
        let mut parts = vec![
            choose(&fill, variation, "opening", openings(tone)),
            format!(
                "{} {}",
                choose(&fill, variation, &purpose, LINKEDIN_WHY),
                choose(&fill, variation, "contents", contents(&brief.category))
            ),
        ];
        if !fill.price.is_empty() {
            parts.push(choose(&fill, variation, "closing", closings(tone)));
        }
        parts.push(hashtags(brief, 3));
        parts.into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join("\n\n")
    } else {
        let template = variation.pick(&purpose, post_templates(network, tone)).copied().unwrap_or("{product}");
        let tags = if network == Network::Reddit { String::new() } else { hashtags(brief, 2) };
        let text = fill.render(template).replace("{tags}", &tags);
        // A template written for a price reads oddly without one; tidy what is left.
        text.replace(" .", ".").replace("()", "").split_whitespace().collect::<Vec<_>>().join(" ")
    };
    fit_sentences(&text, network.max_text_chars())
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
///
/// Each post has its own [`Variation::derive`]d choice of template, so a week of posts
/// on one network does not say the same thing every day.
pub fn content_calendar(
    brief: &Brief,
    voice: &Voice,
    weights: &[(Network, f64)],
    posts: usize,
    start: DateTime<Utc>,
    variation: &Variation,
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
            let text = social_post(brief, voice, network, &variation.derive(&format!("{network:?} {index}")));
            calendar.push(ScheduledPost { network, at, text });
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
    /// The networks the business can post on now: the choice of networks is made
    /// among them.
    #[serde(default)]
    among: Option<Vec<Network>>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    posts: Option<usize>,
    #[serde(default)]
    start: Option<DateTime<Utc>>,
    /// The autopilot cycle the text is written in: with the tenant and the niche it
    /// seeds the choice among templates, so a replayed cycle writes the same words.
    #[serde(default)]
    cycle: i64,
}

impl ContentWriter {
    /// Networks weighted by how much the personality leans on organic social (X,
    /// TikTok) versus professional reach (LinkedIn) and communities (Reddit), times
    /// what reflection learnt of each from its posts' engagement.
    async fn network_weights(context: &AgentContext) -> Vec<(Network, f64)> {
        let weights = context.personality.decisions.channel_weights.normalized();
        let learnt = super::load_strategy(context).await.networks;
        [
            (Network::X, weights.social_organic * 0.4 + weights.social_ads * 0.2),
            (Network::TikTok, weights.social_organic * 0.4 + weights.social_ads * 0.3),
            (Network::LinkedIn, weights.email * 0.5 + weights.seo_content * 0.3),
            (Network::Reddit, weights.seo_content * 0.4 + weights.social_organic * 0.2),
            (Network::YouTube, weights.seo_content * 0.3 + weights.social_ads * 0.1),
        ]
        .into_iter()
        .map(|(network, leaning)| (network, leaning * learnt.of(network)))
        .collect()
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
        let variation = Variation::for_listing(context.tenant, &brief.niche, request.cycle);
        match action.as_str() {
            "product_description" => {
                let limit = request.limit.unwrap_or(500).clamp(1, 5000);
                let proposal = product_description(brief, &voice, limit, &variation);
                let shape = ExpectedShape::object().string("text", limit);
                let decided = context
                    .decide("Write the product description.", to_value(brief)?, json!({ "text": proposal }), shape)
                    .await?;
                let text = decided.decision["text"].as_str().map_or(proposal, |t| fit_sentences(t, limit));
                Ok(json!({ "text": text, "source": decided.source.to_string() }))
            }
            "blog_post" => {
                let post = blog_post(brief, &voice, &variation);
                context
                    .emit(
                        "content.blog_post",
                        format!("Drafted a blog post on {}", crate::copywriting::in_sentence(&brief.niche)),
                        json!({ "chars": post.len() }),
                    )
                    .await;
                Ok(json!({ "markdown": post, "source": "offline" }))
            }
            "social_posts" => {
                let networks = match request.networks {
                    Some(networks) => networks,
                    None => {
                        let mut weighted = Self::network_weights(context).await;
                        if let Some(among) = &request.among {
                            weighted.retain(|(network, _)| among.contains(network));
                        }
                        weighted.sort_by(|a, b| b.1.total_cmp(&a.1));
                        weighted.into_iter().take(2).map(|(network, _)| network).collect()
                    }
                };
                let posts: Vec<Value> = networks
                    .iter()
                    .map(|network| json!({ "network": network, "text": social_post(brief, &voice, *network, &variation) }))
                    .collect();
                Ok(json!({ "posts": posts, "source": "offline" }))
            }
            _ => {
                let posts = request.posts.unwrap_or(7).min(100);
                let start = request.start.unwrap_or_else(Utc::now);
                let weights = Self::network_weights(context).await;
                let calendar = content_calendar(brief, &voice, &weights, posts, start, &variation);
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
            niche: "notion-templates".into(),
            price: "$29.00".into(),
            keywords: vec![
                "notion templates".into(),
                "notion templates for beginners".into(),
                "best notion templates".into(),
            ],
            category: "templates".into(),
        }
    }

    fn voice(approach: &str) -> Voice {
        Voice { persona: "HustleBot".into(), marketing_approach: approach.into() }
    }

    fn variations() -> impl Iterator<Item = Variation> {
        (0..30).map(|cycle| Variation::new(&["1", "notion templates", &cycle.to_string()]))
    }

    #[test]
    fn every_post_fits_its_network_and_the_voice_follows_the_personality() {
        let long = Brief { product: "x".repeat(400), ..brief() };
        for variation in variations() {
            for network in Network::ALL {
                let post = social_post(&long, &voice("viral content"), network, &variation);
                assert!(post.chars().count() <= network.max_text_chars(), "{network:?}");
            }
            assert!(product_description(&brief(), &voice("x"), 60, &variation).chars().count() <= 60);
        }
        let openings_of = |approach: &str| -> Vec<String> {
            variations().map(|v| product_description(&brief(), &voice(approach), 500, &v)).collect()
        };
        assert!(openings_of("viral content").iter().any(|d| d.starts_with("Stop scrolling.")));
        assert!(openings_of("luxury branding").iter().any(|d| d.starts_with("For the few")));
        assert!(!openings_of("luxury branding").iter().any(|d| d.starts_with("Stop scrolling.")));
    }

    #[test]
    fn descriptions_read_the_niche_as_words_and_name_the_price() {
        let variation = Variation::new(&["1", "notion templates", "1"]);
        let text = product_description(&brief(), &voice("authentic storytelling"), 500, &variation);
        assert!(!text.contains("notion-templates"), "{text}");
        assert!(text.contains("$29.00"), "{text}");
        assert_eq!(
            text,
            product_description(&brief(), &voice("authentic storytelling"), 500, &variation),
            "replayable"
        );
    }

    #[test]
    fn a_blog_post_has_a_section_per_keyword() {
        let post = blog_post(&brief(), &voice("authentic storytelling"), &Variation::new(&["blog"]));
        assert!(post.starts_with("# ") && post.contains("Notion"), "{post}");
        assert!(post.contains("## 2. Notion templates for beginners"), "{post}");
        assert_eq!(post.matches("\n## ").count(), 4, "3 keyword sections + closing");
    }

    #[test]
    fn the_calendar_splits_posts_by_weight_over_the_coming_week() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).single().expect("date");
        let weights = [(Network::X, 0.5), (Network::LinkedIn, 0.3), (Network::TikTok, 0.2)];
        let variation = Variation::new(&["calendar"]);
        let calendar = content_calendar(&brief(), &voice("viral"), &weights, 10, start, &variation);
        assert_eq!(calendar.len(), 10);
        let count = |n: Network| calendar.iter().filter(|p| p.network == n).count();
        assert_eq!((count(Network::X), count(Network::LinkedIn), count(Network::TikTok)), (5, 3, 2));
        assert!(calendar.iter().all(|p| p.at > start && p.at < start + Duration::days(9)));
        assert!(calendar.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(calendar.iter().filter(|p| p.network == Network::LinkedIn).all(|p| p.at.weekday() != Weekday::Sun));
        let x_posts: std::collections::BTreeSet<&str> =
            calendar.iter().filter(|p| p.network == Network::X).map(|p| p.text.as_str()).collect();
        assert!(x_posts.len() > 1, "a week of posts does not repeat one text: {x_posts:?}");
        assert!(content_calendar(&brief(), &voice("x"), &[], 5, start, &variation).is_empty());
    }
}
