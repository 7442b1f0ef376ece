//! Copywriting: the words the offline engine writes for buyers, and the rules any
//! buyer-facing title keeps, whoever wrote it.
//!
//! A listing must read as if a seller wrote it: no slugs (`notion-productivity-templates`
//! is the market's key for a niche, not a name), no word said twice ("Templates
//! Template Kit"), nothing over the platform's limit, and not the same sentence on
//! every product. The offline engine gets there with small sets of templates per
//! product kind and per personality [`Tone`], chosen by a [`Variation`] seeded from the
//! tenant, the niche and the cycle: a replayed cycle writes the very same words, and no
//! thread randomness is involved.
//!
//! The checks ([`slug_like_tokens`], [`repeated_back_to_back`], [`repeated_words`]) are
//! public: the SEO agent runs them on a model's titles, and tests on the engine's own.

use boardroom_memory::TenantId;

/// How a personality sounds in copy, read from its marketing approach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Supportive, story-led (storytelling, testimonials): CoachTy.
    Mentor,
    /// Punchy and fast (viral content): HustleBot.
    Hustler,
    /// Restrained and exclusive (luxury branding): LuxuryScaler.
    Premium,
    /// Neutral, for profiles that match none of the above.
    Plain,
}

impl Tone {
    /// The tone a marketing approach such as "viral content, influencer partnerships"
    /// calls for. Tenants may bring their own profiles, so this reads the words rather
    /// than the personality's name.
    pub fn from_marketing_approach(approach: &str) -> Tone {
        let approach = approach.to_lowercase();
        if approach.contains("viral") || approach.contains("influencer") {
            Tone::Hustler
        } else if approach.contains("luxury") || approach.contains("exclusiv") || approach.contains("premium") {
            Tone::Premium
        } else if approach.contains("storytelling") || approach.contains("testimonial") {
            Tone::Mentor
        } else {
            Tone::Plain
        }
    }
}

/// A deterministic choice among templates.
///
/// Seeded from the parts that make a piece of copy what it is (tenant, niche, cycle),
/// then asked for an index per *purpose* ("name", "opening", …), so two choices for the
/// same listing are independent of each other. FNV-1a is written out here rather than
/// taken from `std::hash`, whose algorithm may change between Rust releases: a stored
/// title must be written the same way again after an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variation {
    seed: u64,
}

impl Variation {
    /// A variation seeded from `parts`, in order.
    pub fn new(parts: &[&str]) -> Variation {
        let mut hash = FNV_OFFSET;
        for part in parts {
            hash = fnv1a(hash, part.as_bytes());
            // A separator, so ["ab", "c"] and ["a", "bc"] differ.
            hash = fnv1a(hash, &[0xff]);
        }
        Variation { seed: hash }
    }

    /// The variation of a listing: the tenant's, for one niche, in one cycle.
    pub fn for_listing(tenant: TenantId, niche: &str, cycle: i64) -> Variation {
        Variation::new(&[&tenant.to_string(), &readable(niche).to_lowercase(), &cycle.to_string()])
    }

    /// An index below `len` for `purpose` (0 when `len` is 0).
    pub fn index(&self, purpose: &str, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let hash = mix(fnv1a(self.seed, purpose.as_bytes()));
        (hash % len as u64) as usize
    }

    /// One of `options` for `purpose`.
    pub fn pick<'a, T>(&self, purpose: &str, options: &'a [T]) -> Option<&'a T> {
        options.get(self.index(purpose, options.len()))
    }

    /// A variation of this one for a part of the whole (the third post of a week), as
    /// independent of it as a fresh seed.
    pub fn derive(&self, part: &str) -> Variation {
        Variation { seed: fnv1a(fnv1a(self.seed, part.as_bytes()), &[0xff]) }
    }

    /// All of `options`, starting at the one [`Variation::pick`] would choose and
    /// wrapping round: the first that passes a filter is still a varied choice.
    pub fn rotated<'a, T>(&self, purpose: &str, options: &'a [T]) -> impl Iterator<Item = &'a T> + use<'a, T> {
        let start = self.index(purpose, options.len());
        options[start..].iter().chain(options[..start].iter())
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// SplitMix64's finaliser: FNV's low bits are weak, and `index` takes a remainder.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// A niche or keyword as words: `notion-productivity-templates` becomes
/// `notion productivity templates`. A one-word text joined by hyphens or underscores is
/// a slug; in a text with spaces only underscores go, so "e-commerce shops" keeps its
/// hyphen.
pub fn readable(text: &str) -> String {
    let text = text.trim();
    let is_slug = !text.contains(char::is_whitespace);
    text.split(|c: char| c.is_whitespace() || c == '_' || (is_slug && c == '-'))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words written a fixed way wherever they stand: acronyms and brand names.
const FIXED_SPELLINGS: &[&str] = &[
    "AI",
    "SaaS",
    "SEO",
    "PDF",
    "CRM",
    "DIY",
    "UI",
    "UX",
    "B2B",
    "ROI",
    "KPI",
    "GPT",
    "ChatGPT",
    "YouTube",
    "TikTok",
    "LinkedIn",
    "Notion",
    "Python",
    "Zapier",
    "Excel",
    "Canva",
    "Etsy",
    "Shopify",
    "Instagram",
    "Pinterest",
    "Google",
];

/// Short words a title leaves in lower case unless they start it.
const MINOR_WORDS: &[&str] = &["a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"];

fn fixed_spelling(word: &str) -> Option<&'static str> {
    FIXED_SPELLINGS.iter().copied().find(|fixed| fixed.eq_ignore_ascii_case(word))
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or(String::new(), |first| first.to_uppercase().chain(chars).collect())
}

/// Title case as a seller writes it: "ai prompt library for beginners" becomes
/// "AI Prompt Library for Beginners". Slugs are read as words first.
pub fn title_case(text: &str) -> String {
    readable(text)
        .split(' ')
        .enumerate()
        .map(|(position, word)| {
            if let Some(fixed) = fixed_spelling(word) {
                fixed.to_owned()
            } else if position > 0 && MINOR_WORDS.contains(&word.to_lowercase().as_str()) {
                word.to_lowercase()
            } else {
                capitalised(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A niche as it reads inside a sentence: lower case but for acronyms and brands
/// ("Notion productivity templates", "AI automation course").
pub fn in_sentence(text: &str) -> String {
    readable(text)
        .split(' ')
        .map(|word| fixed_spelling(word).map_or_else(|| word.to_lowercase(), str::to_owned))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hashtag's words: "ai prompt library" becomes "AIPromptLibrary" (a hashtag holds
/// no space or hyphen).
pub fn camel_case(text: &str) -> String {
    readable(text)
        .split(' ')
        .map(|word| word.chars().filter(|c| c.is_alphanumeric()).collect::<String>())
        .map(|word| fixed_spelling(&word).map_or_else(|| capitalised(&word.to_lowercase()), str::to_owned))
        .collect()
}

/// Upper-cases the first letter of a sentence.
pub fn sentence_case(text: &str) -> String {
    capitalised(text)
}

/// The word a comparison sees: lower case, without surrounding punctuation, a
/// possessive or a plural `s` ("Templates" and "template" are the same word here).
pub fn stem(word: &str) -> String {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let word = word.strip_suffix("'s").unwrap_or(&word);
    if let Some(base) = word.strip_suffix("ies").filter(|base| base.len() > 2) {
        return format!("{base}y");
    }
    match word.strip_suffix('s') {
        Some(base) if base.len() > 2 && !base.ends_with('s') => base.to_owned(),
        _ => word.to_owned(),
    }
}

fn stems(text: &str) -> Vec<String> {
    text.split_whitespace().map(stem).filter(|s| !s.is_empty()).collect()
}

/// Words that may appear twice in a title without reading badly.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "your", "you",
    "our", "we", "it", "is", "this", "that", "my", "i",
];

/// Tokens of `text` that look like slugs or identifiers rather than words: anything
/// with an underscore, or words joined by hyphens whose later parts are lower case
/// ("notion-productivity-templates", "Ai-automation-course"). Title-case compounds such
/// as "Self-Paced" are words.
pub fn slug_like_tokens(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|token| token.trim_matches(|c: char| matches!(c, '.' | ',' | ':' | ';' | '!' | '?' | '(' | ')' | '"')))
        .filter(|token| {
            if token.contains('_') {
                return true;
            }
            let parts: Vec<&str> = token.split('-').collect();
            parts.len() > 1
                && parts.iter().all(|part| !part.is_empty())
                && parts[1..].iter().any(|part| part.chars().next().is_some_and(char::is_lowercase))
        })
        .map(str::to_owned)
        .collect()
}

/// The first word said twice in a row, punctuation and separators between them
/// ignored and plurals folded ("Templates Template", "course | Course"), if any.
pub fn repeated_back_to_back(text: &str) -> Option<String> {
    let words = stems(text);
    words.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0].clone())
}

/// Content words (not "for", "the", …) that appear more than once anywhere in
/// `text`, plurals folded: in a title they read as padding.
pub fn repeated_words(text: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut repeated = std::collections::BTreeSet::new();
    for word in stems(text) {
        if FUNCTION_WORDS.contains(&word.as_str()) {
            continue;
        }
        if !seen.insert(word.clone()) {
            repeated.insert(word);
        }
    }
    repeated.into_iter().collect()
}

/// True when `phrase` shares a content word with `text`.
pub fn shares_a_word(text: &str, phrase: &str) -> bool {
    let taken = stems(text);
    stems(phrase).iter().any(|word| !FUNCTION_WORDS.contains(&word.as_str()) && taken.contains(word))
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
    let mut cut = words_within(text, budget);
    if cut.is_empty() {
        cut = text.chars().take(budget).collect();
    }
    cut.push('…');
    cut
}

/// The leading words of `text` that fit in `limit` characters, single-spaced.
fn words_within(text: &str, limit: usize) -> String {
    let mut cut = String::new();
    for word in text.split_whitespace() {
        let extra = if cut.is_empty() { word.chars().count() } else { word.chars().count() + 1 };
        if cut.chars().count() + extra > limit {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    cut
}

/// Words a cut title must not end on: separators, and words that promise more.
const DANGLING: &[&str] = &[
    "|", "—", "–", "-", "·", "/", "&", "+", "a", "an", "and", "or", "for", "the", "of", "to", "with", "by", "in", "on",
];

/// Drops separators and connecting words left at the end of a cut title, and a
/// trailing colon or comma.
fn without_dangling_end(text: &str) -> String {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    while let Some(last) = words.last_mut() {
        let trimmed = last.trim_end_matches([':', ',', ';']);
        if trimmed.is_empty() || DANGLING.contains(&trimmed.to_lowercase().as_str()) {
            words.pop();
        } else {
            *last = trimmed;
            break;
        }
    }
    words.join(" ")
}

/// A title within `limit` characters, cut at a word boundary with no separator or
/// connecting word left dangling and no ellipsis: a cut title should still read as a
/// title. A first word longer than the limit is cut where the limit falls.
pub fn fit_title(text: &str, limit: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= limit {
        return without_dangling_end(&text);
    }
    let cut = without_dangling_end(&words_within(&text, limit));
    if cut.is_empty() { text.chars().take(limit).collect::<String>().trim_end().to_owned() } else { cut }
}

/// A title made of segments joined by `separator`: the first (the product's name)
/// always, cut with [`fit_title`] if it alone is too long; each later segment only if
/// it fits whole. A segment is never cut, so no qualifier is left half-said.
pub fn join_title(segments: &[String], separator: &str, limit: usize) -> String {
    let mut segments = segments.iter().map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(first) = segments.next() else { return String::new() };
    let mut title = fit_title(first, limit);
    for segment in segments {
        let candidate = format!("{title}{separator}{segment}");
        if candidate.chars().count() <= limit {
            title = candidate;
        }
    }
    title
}

/// The separator between a listing title's name and its qualifiers.
pub const TITLE_SEPARATOR: &str = " | ";

/// The product's name inside a listing title: what comes before the first qualifier
/// ("Printable Planner Pack | Instant Download" → "Printable Planner Pack"). A post
/// names the product, not its search-result title.
pub fn name_in_title(title: &str) -> &str {
    title.split(TITLE_SEPARATOR).next().unwrap_or(title).trim()
}

/// A model's title made to keep the rules a title can be mended for: words said twice
/// in a row are said once, and the length is cut at a word boundary. Slug-like tokens
/// are not mended (the caller decides what to do with them).
pub fn tidy_title(text: &str, limit: usize) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        let is_repeat = kept.iter().rev().find(|w| !stem(w).is_empty()).is_some_and(|previous| {
            let current = stem(word);
            !current.is_empty() && stem(previous) == current
        });
        if !is_repeat {
            kept.push(word);
        }
    }
    fit_title(&kept.join(" "), limit)
}

/// Text within `limit` characters, cut after the last whole sentence that fits; when
/// not even the first sentence fits, cut at a word boundary with "…" ([`fit`]).
pub fn fit_sentences(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut best = None;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let at_end_of_sentence = matches!(c, '.' | '!' | '?' | '\n')
            && chars.peek().is_none_or(|(_, next)| next.is_whitespace() || *next == '"');
        if !at_end_of_sentence {
            continue;
        }
        let sentence_end = index + c.len_utf8();
        let candidate = text[..sentence_end].trim_end();
        if candidate.chars().count() > limit {
            break;
        }
        best = Some(candidate);
    }
    best.map_or_else(|| fit(text, limit), str::to_owned)
}

/// What a product's last word says it is, which decides how a name can grow around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProductKind {
    /// Many items of one sort (templates, planners): "… Template Pack".
    Collection,
    /// Something followed over time (course, masterclass): "The Complete …".
    Programme,
    /// Something read (ebook, guide).
    Book,
    /// A word that already means "a set of" (pack, library, toolkit).
    Container,
}

fn kind_of(word: &str) -> Option<ProductKind> {
    const COLLECTIONS: &[&str] = &[
        "template",
        "planner",
        "spreadsheet",
        "prompt",
        "workflow",
        "worksheet",
        "printable",
        "calendar",
        "checklist",
        "tracker",
        "journal",
        "preset",
        "font",
        "graphic",
        "icon",
        "sticker",
    ];
    const PROGRAMMES: &[&str] = &[
        "course",
        "masterclass",
        "accelerator",
        "program",
        "programme",
        "bootcamp",
        "workshop",
        "academy",
        "mastermind",
        "mentorship",
        "training",
        "class",
        "cohort",
    ];
    const BOOKS: &[&str] = &["ebook", "book", "guide", "handbook", "playbook", "manual", "workbook"];
    const CONTAINERS: &[&str] = &["pack", "library", "bundle", "kit", "toolkit", "collection", "set", "vault", "suite"];
    let word = stem(word);
    let word = word.as_str();
    if COLLECTIONS.contains(&word) {
        Some(ProductKind::Collection)
    } else if PROGRAMMES.contains(&word) {
        Some(ProductKind::Programme)
    } else if BOOKS.contains(&word) {
        Some(ProductKind::Book)
    } else if CONTAINERS.contains(&word) {
        Some(ProductKind::Container)
    } else {
        None
    }
}

/// Nouns that say what a product of a market category is, for a niche whose own words
/// do not ("handmade candles" in `digital_products`), most fitting first.
fn category_nouns(category: &str) -> &'static [&'static str] {
    match category {
        "templates" | "luxury_templates" => &["Template Pack", "Template Kit", "Templates"],
        "courses" => &["Course", "Online Course", "Workshop"],
        "premium_courses" => &["Masterclass", "Course"],
        "coaching_programs" => &["Coaching Program", "Mentorship"],
        "masterminds" => &["Mastermind", "Coaching Program"],
        "ebooks" | "e_books" => &["Guide", "Ebook", "Handbook"],
        "automation_tools" => &["Automation Toolkit", "Workflow Kit"],
        _ => &["Bundle", "Toolkit", "Pack"],
    }
}

/// Name templates by kind and tone. `{n}` is the niche's words, `{s}` the same with its
/// last word singular ("Notion Productivity Template"), as a noun before "Pack" reads.
fn name_templates(kind: ProductKind, tone: Tone) -> &'static [&'static str] {
    use ProductKind::*;
    use Tone::*;
    match (kind, tone) {
        (Collection, Plain) => &["{s} Pack", "{s} Kit", "{s} Bundle", "The Complete {s} Set"],
        (Collection, Mentor) => &["{s} Starter Set", "{s} Starter Kit", "Everyday {s} Kit", "Simple {s} Set"],
        (Collection, Hustler) => &["{s} Power Pack", "{s} Mega Bundle", "Ultimate {s} Pack", "{s} Pro Toolkit"],
        (Collection, Premium) => {
            &["{s} Signature Collection", "Premium {s} Collection", "The {s} Private Collection", "{s} Studio Edition"]
        }
        (Programme, Plain) => &["The Complete {n}", "{n}: Essentials", "{n} Fundamentals"],
        (Programme, Mentor) => {
            &["{n} for Beginners", "The Guided {n}", "{n}: One Step at a Time", "{n}: The Foundations"]
        }
        (Programme, Hustler) => &["The Fast Track {n}", "{n}: Zero to Launch", "The Ultimate {n}", "{n} Sprint"],
        (Programme, Premium) => {
            &["The Signature {n}", "{n}: Private Edition", "The {n} Inner Circle", "{n}: Executive Edition"]
        }
        (Book, Plain) => &["The {n}", "The Complete {n}", "{n}: Complete Edition"],
        (Book, Mentor) => &["{n} for Beginners", "The Friendly {n}", "{n}: A Gentle Start"],
        (Book, Hustler) => &["The Ultimate {n}", "The No Fluff {n}", "{n}: Quick Wins Edition"],
        (Book, Premium) => &["The Signature {n}", "The Definitive {n}", "{n}: Collector's Edition"],
        (Container, Plain) => &["The {n}", "The Complete {n}", "{n}: Complete Edition"],
        (Container, Mentor) => &["The Starter {n}", "{n}: Beginner Edition", "The Everyday {n}"],
        (Container, Hustler) => &["The Ultimate {n}", "{n} Pro", "{n}: Mega Edition"],
        (Container, Premium) => &["The Signature {n}", "{n}: Private Edition", "The Premium {n}"],
    }
}

/// True when the last word of `text` says what kind of product it is ("… templates",
/// "… course", "… pack"): such a niche needs no noun added, and a keyword needs no
/// format word ("template", "course") appended to it.
pub fn names_a_product_kind(text: &str) -> bool {
    readable(text).rsplit(' ').next().is_some_and(|word| kind_of(word).is_some() || stem(word) == "coaching")
}

/// People a niche may be for: what is left of "SaaS founder accelerator" is an
/// audience, not a subject, and is said as their journey.
const PEOPLE: &[&str] = &[
    "founder",
    "freelancer",
    "creator",
    "coach",
    "entrepreneur",
    "student",
    "teacher",
    "parent",
    "designer",
    "developer",
    "writer",
    "manager",
    "leader",
];

/// What a niche is about, as it reads in a sentence: its words without the product word
/// at the end ("AI automation course" → "AI automation", "Zapier workflow pack" →
/// "Zapier workflows"). A two-word niche of things keeps them ("printable planners"),
/// as "printable" alone says nothing; a niche for people is about their journey
/// ("SaaS founder accelerator" → "the SaaS founder journey").
pub fn topic(niche: &str) -> String {
    let sentence = in_sentence(niche);
    let mut words: Vec<String> = sentence.split(' ').map(str::to_owned).collect();
    let Some(last) = words.last() else { return sentence };
    let droppable = match kind_of(last) {
        Some(ProductKind::Collection) => words.len() > 2,
        Some(_) => words.len() > 1,
        None => stem(last) == "coaching" && words.len() > 1,
    };
    if !droppable {
        return sentence;
    }
    words.pop();
    let Some(last) = words.last_mut() else { return sentence };
    if PEOPLE.contains(&stem(last).as_str()) {
        *last = singular(last);
        return format!("the {} journey", words.join(" "));
    }
    if (kind_of(last) == Some(ProductKind::Collection) || last == "plan") && !last.ends_with('s') {
        last.push('s');
    }
    words.join(" ")
}

/// The singular of a product word ("Templates" → "Template", "Libraries" →
/// "Library"), keeping its case.
fn singular(word: &str) -> String {
    if let Some(base) = word.strip_suffix("ies").filter(|base| base.len() > 2) {
        return format!("{base}y");
    }
    match word.strip_suffix('s') {
        Some(base) if base.len() > 2 && !base.ends_with('s') => base.to_owned(),
        _ => word.to_owned(),
    }
}

/// A product's name, as a seller would write it, for a niche of a market category.
///
/// The niche's own words lead (they are what buyers search for), read as words and
/// title-cased. If they already say what the product is ("… Templates", "… Course")
/// no noun is added; otherwise the category's first noun that repeats none of them
/// is. The name then grows by one of the tone's templates for that kind of product
/// ("Notion Productivity Template Pack", "The Fast Track AI Automation Course"),
/// skipping any that would say a word twice.
pub fn product_name(niche: &str, category: &str, tone: Tone, variation: &Variation) -> String {
    let mut base = title_case(niche);
    if base.is_empty() {
        base = "Digital".into();
    }
    let last = |text: &str| text.rsplit(' ').next().unwrap_or_default().to_owned();
    if last(&base).eq_ignore_ascii_case("coaching") {
        // "Freelance Business Coaching" is a field; the product is a programme in it.
        base.push_str(" Program");
    }
    if kind_of(&last(&base)).is_none() {
        let nouns = category_nouns(category);
        if let Some(noun) = variation.rotated("noun", nouns).find(|noun| !shares_a_word(&base, noun)) {
            base = format!("{base} {noun}");
        }
    }
    let Some(kind) = kind_of(&last(&base)) else { return base };
    let singular_base = match base.rsplit_once(' ') {
        Some((head, word)) => format!("{head} {}", singular(word)),
        None => singular(&base),
    };
    variation
        .rotated("name", name_templates(kind, tone))
        .map(|template| template.replace("{n}", &base).replace("{s}", &singular_base))
        .find(|name| repeated_words(name).is_empty())
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_read_as_words_and_titles_keep_acronyms() {
        assert_eq!(readable("notion-productivity-templates"), "notion productivity templates");
        assert_eq!(readable("notion_templates for founders"), "notion templates for founders");
        assert_eq!(readable("e-commerce shops"), "e-commerce shops");
        assert_eq!(title_case("ai-prompt-library"), "AI Prompt Library");
        assert_eq!(title_case("saas founder accelerator for beginners"), "SaaS Founder Accelerator for Beginners");
        assert_eq!(in_sentence("notion-productivity-templates"), "Notion productivity templates");
        assert_eq!(topic("notion-productivity-templates"), "Notion productivity");
        assert_eq!(topic("zapier-workflow-pack"), "Zapier workflows");
        assert_eq!(topic("freelance-business-coaching"), "freelance business");
        assert_eq!(topic("printable-planners"), "printable planners");
        assert_eq!(topic("ai-automation-course"), "AI automation");
        assert_eq!(topic("saas-founder-accelerator"), "the SaaS founder journey");
        assert!(names_a_product_kind("ai-automation-course") && !names_a_product_kind("handmade candles"));
    }

    #[test]
    fn the_checks_catch_slugs_and_repeats_but_not_english() {
        assert_eq!(slug_like_tokens("Kit — Notion-productivity-templates"), vec!["Notion-productivity-templates"]);
        assert_eq!(slug_like_tokens("notion_templates, and more"), vec!["notion_templates"]);
        assert!(slug_like_tokens("Self-Paced Course — 2024 Edition").is_empty());
        assert_eq!(repeated_back_to_back("Notion Templates Template Kit").as_deref(), Some("template"));
        assert_eq!(repeated_back_to_back("Course | course").as_deref(), Some("course"));
        assert_eq!(repeated_back_to_back("Step by Step"), None);
        assert_eq!(repeated_words("The Planner for the Planner Lover"), vec!["planner"]);
        assert!(repeated_words("A Course for the Busy and the Bold").is_empty());
    }

    #[test]
    fn names_never_say_the_niches_product_word_twice() {
        let variation = Variation::new(&["1", "notion productivity templates", "1"]);
        for tone in [Tone::Plain, Tone::Mentor, Tone::Hustler, Tone::Premium] {
            let name = product_name("notion-productivity-templates", "templates", tone, &variation);
            assert!(name.contains("Notion Productivity Template"), "{name}");
            assert!(repeated_words(&name).is_empty(), "{name}");
            let course = product_name("ai-automation-course", "courses", tone, &variation);
            assert!(course.contains("AI Automation Course") && repeated_words(&course).is_empty(), "{course}");
        }
        let candles = product_name("handmade candles", "e_books", Tone::Plain, &variation);
        assert!(candles.contains("Handmade Candles "), "{candles}");
        assert!(["Guide", "Ebook", "Handbook"].iter().any(|noun| candles.contains(noun)), "{candles}");
    }

    #[test]
    fn variations_are_stable_and_spread() {
        let a = Variation::new(&["7", "printable planners", "3"]);
        assert_eq!(a, Variation::new(&["7", "printable planners", "3"]));
        assert_ne!(a, Variation::new(&["7", "printable planners", "4"]));
        assert_ne!(Variation::new(&["ab", "c"]), Variation::new(&["a", "bc"]));
        let picks: std::collections::BTreeSet<usize> =
            (0..40).map(|cycle| Variation::new(&["7", "x", &cycle.to_string()]).index("opening", 5)).collect();
        assert_eq!(picks.len(), 5, "forty cycles reach every one of five templates");
    }

    #[test]
    fn titles_are_cut_at_a_word_without_a_dangling_separator() {
        assert_eq!(fit_title("Planner Pack | For Beginners", 16), "Planner Pack");
        assert_eq!(fit_title("Planner Pack for the Whole Year", 21), "Planner Pack");
        assert_eq!(fit_title("Planner Pack: Complete Edition", 14), "Planner Pack");
        assert_eq!(fit_title("Supercalifragilistic", 5), "Super");
        let segments = ["Planner Pack".to_owned(), "For Beginners".to_owned(), "PDF".to_owned()];
        assert_eq!(join_title(&segments, " | ", 20), "Planner Pack | PDF");
        assert_eq!(tidy_title("Notion  Templates Template Kit", 80), "Notion Templates Kit");
        assert_eq!(name_in_title("Planner Pack | For Beginners | PDF"), "Planner Pack");
        assert_eq!(name_in_title("Planner Pack"), "Planner Pack");
    }

    #[test]
    fn long_text_is_cut_after_a_whole_sentence() {
        assert_eq!(fit_sentences("One two. Three four five. Six.", 20), "One two.");
        assert_eq!(fit_sentences("One two three four", 10), "One two…");
        assert_eq!(fit_sentences("Short.", 10), "Short.");
    }
}
