//! Stories about the words the offline engine writes for buyers.
//!
//! Every listing here is written the way the CEO writes one (a name, a pitch, keyword
//! research, the SEO agent's title and tags, the content agent's description and
//! posts), for every niche of the sandbox market, every built-in personality and three
//! cycles: 108 products. Each story checks one rule of issue 18 on all of them.

use std::collections::{BTreeMap, BTreeSet};

use boardroom_adapters::{Marketplace, Niche, SandboxMarket};
use boardroom_agents::content::{self, Brief, Network, Voice};
use boardroom_agents::copywriting::{
    self, Tone, Variation, readable, repeated_back_to_back, repeated_words, slug_like_tokens, stem, topic,
};
use boardroom_agents::seo::{self, ListingBrief, OptimizedListing, PLATFORMS_WITH_LIMITS, limits_for};
use boardroom_memory::TenantId;
use boardroom_personalities::Personality;

const SEED: u64 = 42;
const CYCLES: [i64; 3] = [1, 2, 3];

/// One product as the offline engine writes it.
struct Written {
    persona: String,
    niche: Niche,
    name: String,
    /// The listing on each platform (and "sandbox", which has the default limits).
    listings: Vec<(&'static str, OptimizedListing)>,
    description: String,
    posts: Vec<(Network, String)>,
}

fn platforms() -> Vec<&'static str> {
    PLATFORMS_WITH_LIMITS.into_iter().chain(["sandbox"]).collect()
}

/// Writes a product as the CEO's product-creation step does.
fn write(tenant: TenantId, niche: &Niche, personality: &Personality, cycle: i64) -> Written {
    let tone = Tone::from_marketing_approach(&personality.marketing_approach);
    let variation = Variation::for_listing(tenant, &niche.name, cycle);
    let name = copywriting::product_name(&niche.name, &niche.category, tone, &variation);
    let pitch = content::pitch(&name, &niche.name, &niche.category, &variation);
    let keywords = seo::research_keywords(&niche.name, &niche.category, niche.demand, niche.competition);
    let listings = platforms()
        .into_iter()
        .map(|platform| {
            let brief = ListingBrief { product_name: &name, pitch: &pitch, category: &niche.category, tone, variation };
            (platform, seo::optimize_listing(&brief, &keywords, limits_for(platform)))
        })
        .collect();
    let brief = Brief {
        product: name.clone(),
        niche: niche.name.clone(),
        price: format!("${}", niche.reference_price),
        keywords: keywords.iter().take(5).map(|k| k.phrase.clone()).collect(),
        category: niche.category.clone(),
    };
    let voice = Voice { persona: personality.name.clone(), marketing_approach: personality.marketing_approach.clone() };
    let description = content::product_description(&brief, &voice, 500, &variation);
    let posts = Network::ALL.into_iter().map(|n| (n, content::social_post(&brief, &voice, n, &variation))).collect();
    Written { persona: personality.name.clone(), niche: niche.clone(), name, listings, description, posts }
}

/// Every niche × every personality × three cycles, cycle by cycle, each personality a
/// tenant of its own.
async fn catalogue() -> Vec<Written> {
    let niches = SandboxMarket::new(SEED).market_snapshot(TenantId(1)).await.expect("snapshot").niches;
    assert_eq!(niches.len(), 12, "the sandbox's twelve niches");
    let personalities = boardroom_personalities::built_in();
    let mut written = Vec::new();
    for cycle in CYCLES {
        for niche in &niches {
            for (index, personality) in personalities.iter().enumerate() {
                written.push(write(TenantId(index as i64 + 1), niche, personality, cycle));
            }
        }
    }
    written
}

/// A text's first sentence, with the product's name and the niche's topic masked, so
/// two openings count as one when only the product differs.
fn opening(text: &str, written: &Written) -> String {
    let masked = text.replace(&written.name, "{product}").replace(&topic(&written.niche.name), "{topic}");
    let end = masked.find(['.', '?', '!', ':', '\n']).map_or(masked.len(), |i| i + 1);
    masked[..end].to_owned()
}

/// Problems a buyer would notice in a piece of text.
fn problems(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let slugs = slug_like_tokens(text);
    if !slugs.is_empty() {
        found.push(format!("slug-like {slugs:?}"));
    }
    if let Some(word) = repeated_back_to_back(text) {
        found.push(format!("\"{word}\" twice in a row"));
    }
    found
}

#[tokio::test]
async fn no_title_on_any_platform_has_a_slug_a_repeated_word_or_a_character_over_the_limit() {
    let catalogue = catalogue().await;
    assert!(catalogue.len() >= 100);
    for written in &catalogue {
        for (platform, listing) in &written.listings {
            let title = &listing.title;
            let limit = limits_for(platform).title;
            assert!(problems(title).is_empty(), "{platform}: {title}: {:?}", problems(title));
            assert!(repeated_words(title).is_empty(), "{platform}: {title} says {:?} twice", repeated_words(title));
            assert!(title.chars().count() <= limit, "{platform} ({limit}): {title}");
            assert!(!title.contains("Templates Template"), "{title}");
            let last = title.split_whitespace().last().expect("a title has words");
            assert!(!["|", "—", "-", "&", "and", "for", "with", "the"].contains(&last), "dangling end: {title}");
            assert!(!title.ends_with(':') && !title.ends_with(',') && !title.contains('…'), "{title}");
            assert!(title.starts_with(&written.name) || written.name.chars().count() > limit, "{title}");
        }
    }
}

#[tokio::test]
async fn product_names_keep_the_niches_words_and_never_repeat_one_in_the_noun() {
    for written in catalogue().await {
        let name = &written.name;
        assert!(problems(name).is_empty(), "{name}: {:?}", problems(name));
        assert!(repeated_words(name).is_empty(), "{name} says {:?} twice", repeated_words(name));
        let name_words: BTreeSet<String> = name.split_whitespace().map(stem).collect();
        for word in readable(&written.niche.name).split(' ') {
            assert!(name_words.contains(&stem(word)), "{name} lost \"{word}\" of {}", written.niche.name);
        }
    }
}

#[tokio::test]
async fn descriptions_meta_descriptions_and_posts_keep_their_limits_and_read_as_words() {
    for written in catalogue().await {
        let slug = &written.niche.name;
        let description = &written.description;
        assert!(description.chars().count() <= 500, "{description}");
        assert!(problems(description).is_empty(), "{description}: {:?}", problems(description));
        assert!(!description.contains(slug.as_str()), "{description}");
        assert!(description.contains('$'), "the price is named: {description}");
        for (platform, listing) in &written.listings {
            let limits = limits_for(platform);
            assert!(listing.description.chars().count() <= limits.description, "{platform}: {}", listing.description);
            assert!(problems(&listing.description).is_empty(), "{platform}: {}", listing.description);
            assert!(!listing.tags.is_empty() && listing.tags.len() <= limits.tags, "{platform}: {:?}", listing.tags);
            for tag in &listing.tags {
                assert!(tag.chars().count() <= limits.tag_length && !tag.contains('…'), "{platform}: {tag}");
                assert!(slug_like_tokens(tag).is_empty(), "{platform}: {tag}");
            }
        }
        for (network, post) in &written.posts {
            assert!(post.chars().count() <= network.max_text_chars(), "{network:?}: {post}");
            assert!(problems(post).is_empty(), "{network:?}: {post}: {:?}", problems(post));
            assert!(!post.contains(slug.as_str()), "{network:?}: {post}");
            assert!(post.contains(&written.name), "{network:?} names the product: {post}");
        }
    }
}

#[tokio::test]
async fn fifty_products_open_in_many_different_ways_and_each_personality_in_its_own() {
    let catalogue = catalogue().await;
    let fifty = &catalogue[..50];

    let descriptions: BTreeSet<String> = fifty.iter().map(|w| opening(&w.description, w)).collect();
    assert!(descriptions.len() >= 12, "{} description openings: {descriptions:#?}", descriptions.len());
    let x_posts: BTreeSet<String> =
        fifty.iter().map(|w| opening(&w.posts.iter().find(|(n, _)| *n == Network::X).expect("x").1, w)).collect();
    assert!(x_posts.len() >= 8, "{} X openings: {x_posts:#?}", x_posts.len());
    let names: BTreeSet<String> = fifty
        .iter()
        .map(|w| {
            let base = copywriting::title_case(&w.niche.name);
            let singular = base.trim_end_matches('s');
            w.name.replace(&base, "{niche}").replace(singular, "{niche}")
        })
        .collect();
    assert!(names.len() >= 15, "{} name shapes: {names:#?}", names.len());

    let mut by_persona: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for written in fifty {
        by_persona.entry(written.persona.as_str()).or_default().insert(opening(&written.description, written));
    }
    assert_eq!(by_persona.len(), 3);
    for (persona, openings) in &by_persona {
        assert!(openings.len() >= 4, "{persona} opens only {openings:?}");
    }
    let shared: Vec<_> = by_persona["HustleBot"].intersection(&by_persona["LuxuryScaler"]).collect();
    assert!(shared.is_empty(), "HustleBot and LuxuryScaler sound alike: {shared:?}");
}

#[tokio::test]
async fn the_same_tenant_niche_and_cycle_write_the_same_words() {
    let niche = &SandboxMarket::new(SEED).market_snapshot(TenantId(1)).await.expect("snapshot").niches[0];
    let personality = &boardroom_personalities::built_in()[0];
    let first = write(TenantId(7), niche, personality, 3);
    let again = write(TenantId(7), niche, personality, 3);
    assert_eq!((&first.name, &first.description), (&again.name, &again.description));
    assert_eq!(
        first.listings.iter().map(|(_, l)| l).collect::<Vec<_>>(),
        again.listings.iter().map(|(_, l)| l).collect::<Vec<_>>()
    );
    assert_eq!(first.posts, again.posts);
}
