//! Product covers and social cards, drawn offline.
//!
//! A picture is an SVG document built from the request (a background in the
//! personality's two colours, three soft circles placed by a hash of the title so two
//! products of one business do not look the same, the title in up to three lines, the
//! niche above it and the business's name below), rendered with `resvg` at its size.
//! Nothing random and no system font takes part: the same request gives the same bytes.

use std::sync::OnceLock;

use boardroom_personalities::{Personality, VoiceStyle};
use resvg::{tiny_skia, usvg};

use crate::{ClipShape, MediaError};

/// The family the compiled-in fonts register as.
const FONT_FAMILY: &str = "Noto Sans";
/// Longest title drawn, in characters (a longer one ends in an ellipsis).
const MAX_TITLE_CHARS: usize = 90;

/// What a picture is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PictureKind {
    /// A product's cover for its listing: 1024 × 1024.
    Cover,
    /// A post's card: 1200 × 630.
    SocialCard,
}

impl PictureKind {
    /// Width and height in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::Cover => (1024, 1024),
            Self::SocialCard => (1200, 630),
        }
    }
}

/// Who made a picture: shown beside it, so no one takes a drawing for a photograph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Drawn, spoken or assembled here: a template, espeak-ng, ffmpeg.
    Offline,
    /// Made by the configured OpenAI-compatible API.
    Remote,
}

impl Source {
    /// The label (`offline`, `remote`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Remote => "remote",
        }
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureRequest<'a> {
    /// Cover or card.
    pub kind: PictureKind,
    /// The product's name, the picture's headline.
    pub title: &'a str,
    /// Its niche, written above the title.
    pub niche: &'a str,
    /// The business's name, written at the foot.
    pub business: &'a str,
    /// Whose colours.
    pub personality: &'a Personality,
}

/// A drawn picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// PNG bytes.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Who made it.
    pub source: Source,
}

/// A personality's colours: background from, background to, and the ink.
pub fn palette_of(personality: &Personality) -> [&'static str; 3] {
    match personality.voice_style {
        // Calm: sea and sand, dark ink.
        VoiceStyle::Calm => ["#0f766e", "#99f6e4", "#042f2e"],
        // Energetic: sunset, white ink.
        VoiceStyle::Energetic => ["#ea580c", "#db2777", "#ffffff"],
        // Professional: night and gold.
        VoiceStyle::Professional => ["#0f172a", "#854d0e", "#fef3c7"],
    }
}

/// Draws `request` as a PNG.
pub fn draw(request: &PictureRequest<'_>) -> Result<Picture, MediaError> {
    render(request, &Layout::of(request.kind))
}

/// Where a picture's parts go: its size, the title's size and line length, the height
/// of the rule and foot, and a caption band at the bottom for a clip's frames.
pub(crate) struct Layout<'a> {
    size: (u32, u32),
    title_size: f64,
    chars_per_line: usize,
    /// The rule's and business's height, as a share of the picture's.
    foot_at: f64,
    caption: Option<&'a str>,
}

impl<'a> Layout<'a> {
    fn of(kind: PictureKind) -> Self {
        let (title_size, chars_per_line) = match kind {
            PictureKind::Cover => (84.0, 18),
            PictureKind::SocialCard => (64.0, 28),
        };
        Self { size: kind.size(), title_size, chars_per_line, foot_at: 0.86, caption: None }
    }

    /// A clip's frame showing `caption` (lines split by `\n`).
    pub(crate) fn frame(shape: ClipShape, caption: &'a str) -> Self {
        let (title_size, chars_per_line) = match shape {
            ClipShape::Landscape => (60.0, 30),
            ClipShape::Vertical => (64.0, 16),
        };
        Self { size: shape.size(), title_size, chars_per_line, foot_at: 0.70, caption: Some(caption) }
    }
}

/// Draws `request` laid out as `layout` says.
pub(crate) fn render(request: &PictureRequest<'_>, layout: &Layout<'_>) -> Result<Picture, MediaError> {
    let title: String = request.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Err(MediaError::Invalid("a picture needs a title to draw".into()));
    }
    let svg = svg_of(request, layout, &title);
    let (width, height) = layout.size;
    let options = usvg::Options { fontdb: fonts(), font_family: FONT_FAMILY.to_owned(), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(&svg, &options).map_err(|error| MediaError::Render(format!("the SVG: {error}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| MediaError::Render(format!("no {width} × {height} canvas")))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(|error| MediaError::Render(format!("the PNG: {error}")))?;
    Ok(Picture { png, width, height, source: Source::Offline })
}

/// The compiled-in fonts, loaded once.
fn fonts() -> std::sync::Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<std::sync::Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut database = usvg::fontdb::Database::new();
            database.load_font_data(notosans::REGULAR_TTF.to_vec());
            database.load_font_data(notosans::BOLD_TTF.to_vec());
            database.set_sans_serif_family(FONT_FAMILY);
            std::sync::Arc::new(database)
        })
        .clone()
}

/// FNV-1a: a stable hash (std's is not promised to stay the same between releases).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// `text` with the characters XML gives meaning to escaped.
fn escaped(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .map(|character| match character {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// `text` in lines of at most `width` characters, words kept whole unless one alone is
/// longer (then it is cut into pieces of `width`).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let characters: Vec<char> = word.chars().collect();
        for piece in characters.chunks(width) {
            let piece: String = piece.iter().collect();
            if current.is_empty() {
                current = piece;
            } else if current.chars().count() + 1 + piece.chars().count() <= width {
                current.push(' ');
                current.push_str(&piece);
            } else {
                lines.push(std::mem::replace(&mut current, piece));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// `title` in lines of at most `width` characters, at most three, the last ending in an
/// ellipsis when the title is cut.
fn lines_of(title: &str, width: usize) -> Vec<String> {
    let title: String = if title.chars().count() > MAX_TITLE_CHARS {
        title.chars().take(MAX_TITLE_CHARS - 1).collect::<String>() + "…"
    } else {
        title.to_owned()
    };
    let mut lines = wrap(&title, width);
    if lines.len() > 3 {
        lines.truncate(3);
        let last = &mut lines[2];
        let kept: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = kept + "…";
    }
    lines
}

fn svg_of(request: &PictureRequest<'_>, layout: &Layout<'_>, title: &str) -> String {
    let (width, height) = layout.size;
    let [from, to, ink] = palette_of(request.personality);
    let hash = stable_hash(title);
    let (w, h) = (f64::from(width), f64::from(height));
    // Three circles, placed and sized by the title's hash.
    let circles: String = (0..3)
        .map(|index| {
            let bits = hash >> (index * 16);
            let x = (bits & 0xff) as f64 / 255.0 * w;
            let y = ((bits >> 8) & 0xff) as f64 / 255.0 * h;
            let radius = h * (0.18 + 0.12 * f64::from(index));
            format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="{radius:.1}" fill="{ink}" fill-opacity="0.08"/>"#)
        })
        .collect();
    let (title_size, chars_per_line) = (layout.title_size, layout.chars_per_line);
    let lines = lines_of(title, chars_per_line);
    let margin = w * 0.08;
    let first_baseline = h * 0.42;
    let title_lines: String = lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let y = first_baseline + index as f64 * title_size * 1.15;
            format!(
                r#"<text x="{margin:.1}" y="{y:.1}" font-family="{FONT_FAMILY}" font-weight="700" font-size="{title_size}" fill="{ink}">{}</text>"#,
                escaped(line)
            )
        })
        .collect();
    let niche: String = request.niche.chars().take(40).collect::<String>().to_uppercase();
    let caption = layout.caption.map(|caption| caption_band(caption, w, h)).unwrap_or_default();
    let business: String = request.business.chars().take(60).collect();
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{from}"/><stop offset="1" stop-color="{to}"/></linearGradient></defs>
<rect width="{width}" height="{height}" fill="url(#bg)"/>
{circles}
<text x="{margin:.1}" y="{niche_y:.1}" font-family="{FONT_FAMILY}" font-size="{small}" letter-spacing="4" fill="{ink}" fill-opacity="0.8">{niche}</text>
{title_lines}
<rect x="{margin:.1}" y="{rule_y:.1}" width="{rule_w:.1}" height="6" fill="{ink}"/>
<text x="{margin:.1}" y="{foot_y:.1}" font-family="{FONT_FAMILY}" font-size="{small}" fill="{ink}">{business}</text>
{caption}
</svg>"#,
        niche_y = first_baseline - title_size * 1.3,
        small = (title_size * 0.42).round(),
        niche = escaped(&niche),
        rule_y = h * layout.foot_at - 40.0,
        rule_w = w * 0.12,
        foot_y = h * layout.foot_at + 10.0,
        business = escaped(&business),
    )
}

/// A clip's caption: its lines centred in a dark band across the bottom fifth, white
/// whatever the personality's ink, so they read over any background.
fn caption_band(caption: &str, w: f64, h: f64) -> String {
    let size = (w.min(h) * 0.055).round();
    let band_top = h * 0.78;
    let lines: String = caption
        .lines()
        .take(2)
        .enumerate()
        .map(|(index, line)| {
            let y = band_top + size * 1.6 + index as f64 * size * 1.25;
            format!(
                r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-family="{FONT_FAMILY}" font-weight="700" font-size="{size}" fill="#ffffff">{}</text>"##,
                escaped(line),
                x = w / 2.0,
            )
        })
        .collect();
    format!(
        r##"<rect x="0" y="{band_top:.1}" width="{w}" height="{band:.1}" fill="#000000" fill-opacity="0.6"/>{lines}"##,
        band = h - band_top
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personality(name: &str) -> Personality {
        boardroom_personalities::built_in().into_iter().find(|p| p.name == name).expect("a built-in personality")
    }

    fn request<'a>(kind: PictureKind, title: &'a str, personality: &'a Personality) -> PictureRequest<'a> {
        PictureRequest { kind, title, niche: "productivity", business: "Demo Business", personality }
    }

    #[test]
    fn a_cover_is_a_png_of_its_size_and_the_same_request_gives_the_same_bytes() {
        let coachty = personality("CoachTy");
        let cover = draw(&request(PictureKind::Cover, "Fifty prompts for calmer mornings", &coachty)).expect("drawn");
        let decoded = image::load_from_memory_with_format(&cover.png, image::ImageFormat::Png).expect("a PNG");
        assert_eq!((decoded.width(), decoded.height(), cover.width, cover.height), (1024, 1024, 1024, 1024));
        assert_eq!(cover.source.as_str(), "offline");
        let again = draw(&request(PictureKind::Cover, "Fifty prompts for calmer mornings", &coachty)).expect("drawn");
        assert_eq!(cover.png, again.png, "deterministic");

        let card =
            draw(&request(PictureKind::SocialCard, "Fifty prompts for calmer mornings", &coachty)).expect("drawn");
        let decoded = image::load_from_memory(&card.png).expect("a PNG");
        assert_eq!((decoded.width(), decoded.height()), (1200, 630));
    }

    #[test]
    fn the_title_is_written_and_the_personality_sets_the_colours() {
        let coachty = personality("CoachTy");
        let hustlebot = personality("HustleBot");
        let calm = draw(&request(PictureKind::Cover, "Habit tracker", &coachty)).expect("drawn");
        let loud = draw(&request(PictureKind::Cover, "Habit tracker", &hustlebot)).expect("drawn");
        // The gradient starts at the top-left corner in the personality's first colour (a
        // translucent circle may tint it): each corner is nearer its own colour.
        let corner = |png: &[u8]| image::load_from_memory(png).expect("a PNG").to_rgb8().get_pixel(2, 2).0;
        let distance = |got: [u8; 3], want: [u8; 3]| -> u32 {
            got.iter().zip(want).map(|(g, w)| u32::from(g.abs_diff(w)).pow(2)).sum()
        };
        let (sea, orange) = ([0x0f, 0x76, 0x6e], [0xea, 0x58, 0x0c]);
        assert!(distance(corner(&calm.png), sea) < distance(corner(&calm.png), orange), "{:?}", corner(&calm.png));
        assert!(distance(corner(&loud.png), orange) < distance(corner(&loud.png), sea), "{:?}", corner(&loud.png));
        assert!(distance(corner(&calm.png), sea) < 30 * 30, "CoachTy's sea: {:?}", corner(&calm.png));
        assert!(distance(corner(&loud.png), orange) < 30 * 30, "HustleBot's orange: {:?}", corner(&loud.png));
        // Text is drawn: the ink's colour is present where the title runs.
        let blank = draw(&request(PictureKind::Cover, "x", &coachty)).expect("drawn");
        let ink_pixels = |png: &[u8]| {
            image::load_from_memory(png)
                .expect("a PNG")
                .to_rgb8()
                .pixels()
                .filter(|p| p.0 == [0x04, 0x2f, 0x2e])
                .count()
        };
        assert!(ink_pixels(&calm.png) > ink_pixels(&blank.png) + 500, "the title's glyphs are drawn in ink");
    }

    #[test]
    fn markup_in_a_title_is_text_and_long_titles_are_cut() {
        let coachty = personality("CoachTy");
        let sneaky = draw(&request(PictureKind::Cover, "<script>&</svg> \"quoted\"", &coachty));
        assert!(sneaky.is_ok(), "{sneaky:?}");
        let long = "word ".repeat(60);
        assert!(draw(&request(PictureKind::SocialCard, &long, &coachty)).is_ok());
        let lines = lines_of(&long, 18);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with('…') && lines.iter().all(|line| line.chars().count() <= 18), "{lines:?}");
        assert!(matches!(draw(&request(PictureKind::Cover, "  \n ", &coachty)), Err(MediaError::Invalid(_))));
    }
}
