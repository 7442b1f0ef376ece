//! `boardroom bench --media`: how fast this machine makes media offline: product covers
//! (1024 × 1024) and social cards (1200 × 630), drawn from their SVG template and
//! rendered with `resvg`, one after another on one thread and then on every core at
//! once, with the size of what they come to; voice-overs spoken by espeak-ng, as
//! seconds of speech made per second; and promo clips assembled by ffmpeg in each
//! platform's shape, as seconds of video made per second.

use std::time::{Duration, Instant};

use boardroom_media::{ClipMaker, ClipRequest, ClipShape, MediaError, PictureKind, PictureRequest, Speaker, draw};
use boardroom_personalities::VoiceStyle;

/// How long each measurement runs.
const RUN: Duration = Duration::from_secs(5);

/// Titles as the autopilot's products have them, so the text to lay out is realistic.
const TITLES: [&str; 4] = [
    "Fifty prompts for calmer mornings",
    "The executive planner, bound in leather",
    "Notion habit tracker for busy parents",
    "A week of meal plans under thirty dollars",
];

pub(crate) async fn run() -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!("boardroom bench --media — {threads} cores, offline pictures (resvg, compiled-in fonts)");
    for (kind, label) in [(PictureKind::Cover, "cover 1024×1024"), (PictureKind::SocialCard, "card 1200×630")] {
        let one = tokio::task::spawn_blocking(move || measure(kind, 0)).await??;
        let mut all = Vec::with_capacity(threads);
        for thread in 0..threads {
            all.push(tokio::task::spawn_blocking(move || measure(kind, thread)));
        }
        let mut pictures = 0;
        let mut seconds: f64 = 0.0;
        for each in all {
            let figures = each.await??;
            pictures += figures.pictures;
            seconds = seconds.max(figures.seconds);
        }
        println!(
            "   {label}: {:.1} pictures/s on one thread ({:.1} ms each, {:.0} KiB PNG on average); {:.1} pictures/s on {threads} threads",
            one.pictures as f64 / one.seconds,
            one.seconds * 1000.0 / one.pictures as f64,
            one.bytes as f64 / one.pictures as f64 / 1024.0,
            pictures as f64 / seconds,
        );
    }
    match tokio::task::spawn_blocking(measure_speech).await? {
        Ok((spoken, seconds, scripts)) => println!(
            "   voice-over (espeak-ng, the three styles in turn): {:.1} s of speech per second on one thread ({scripts} scripts of {} characters)",
            spoken / seconds,
            SCRIPT.chars().count(),
        ),
        Err(error @ MediaError::MissingTool { .. }) => println!("   voice-over: not measured: {error}"),
        Err(other) => return Err(other.into()),
    }
    for shape in [ClipShape::Vertical, ClipShape::Landscape] {
        let (width, height) = shape.size();
        match tokio::task::spawn_blocking(move || measure_clips(shape)).await? {
            Ok(clips) => println!(
                "   promo clip {width}×{height} (ffmpeg, H.264 + AAC): {:.1} s of video per second ({} clips of {:.1} s, {:.0} ms and {:.0} KiB each)",
                clips.video_seconds / clips.seconds,
                clips.clips,
                clips.video_seconds / clips.clips as f64,
                clips.seconds * 1000.0 / clips.clips as f64,
                clips.bytes as f64 / clips.clips as f64 / 1024.0,
            ),
            Err(error @ MediaError::MissingTool { .. }) => println!("   promo clip: not measured: {error}"),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

struct Clips {
    clips: u64,
    bytes: u64,
    video_seconds: f64,
    seconds: f64,
}

/// Assembles clips of [`SCRIPT`] in `shape` for [`RUN`], the voice-over spoken once
/// beforehand (its cost is the speech figure's): frames drawn and encoded, sound encoded.
fn measure_clips(shape: ClipShape) -> Result<Clips, MediaError> {
    let voice = Speaker::default().speak(SCRIPT, VoiceStyle::Professional)?;
    let personalities = boardroom_personalities::built_in();
    let maker = ClipMaker::default();
    let started = Instant::now();
    let mut clips = Clips { clips: 0, bytes: 0, video_seconds: 0.0, seconds: 0.0 };
    while started.elapsed() < RUN {
        let index = clips.clips as usize;
        let picture = PictureRequest {
            kind: PictureKind::Cover,
            title: TITLES[index % TITLES.len()],
            niche: "productivity templates",
            business: "Bench Business",
            personality: &personalities[index % personalities.len()],
        };
        let clip = maker.assemble(&ClipRequest { shape, picture, script: SCRIPT, voice: &voice })?;
        clips.clips += 1;
        clips.bytes += clip.mp4.len() as u64;
        clips.video_seconds += clip.duration.as_secs_f64();
    }
    clips.seconds = started.elapsed().as_secs_f64();
    Ok(clips)
}

/// A pitch as the autopilot speaks one: a product's name and description.
const SCRIPT: &str = "Fifty prompts for calmer mornings. Fifty printable prompts that turn the first hour of \
                      your day into a calm, clear plan: pick one, write for five minutes, and begin.";

/// Speaks [`SCRIPT`] for [`RUN`]: seconds of speech, seconds taken, scripts spoken.
fn measure_speech() -> Result<(f64, f64, u64), MediaError> {
    let speaker = Speaker::default();
    let styles = [VoiceStyle::Professional, VoiceStyle::Energetic, VoiceStyle::Calm];
    let started = Instant::now();
    let (mut spoken, mut scripts) = (0.0, 0_u64);
    while started.elapsed() < RUN {
        spoken += speaker.speak(SCRIPT, styles[scripts as usize % styles.len()])?.duration.as_secs_f64();
        scripts += 1;
    }
    Ok((spoken, started.elapsed().as_secs_f64(), scripts))
}

struct Figures {
    pictures: u64,
    bytes: u64,
    seconds: f64,
}

/// Draws pictures of `kind` for [`RUN`], cycling through the titles and personalities.
fn measure(kind: PictureKind, offset: usize) -> anyhow::Result<Figures> {
    let personalities = boardroom_personalities::built_in();
    let started = Instant::now();
    let (mut pictures, mut bytes) = (0_u64, 0_u64);
    while started.elapsed() < RUN {
        let index = offset + pictures as usize;
        let personality = &personalities[index % personalities.len()];
        let request = PictureRequest {
            kind,
            title: TITLES[index % TITLES.len()],
            niche: "productivity templates",
            business: "Bench Business",
            personality,
        };
        bytes += draw(&request)?.png.len() as u64;
        pictures += 1;
    }
    Ok(Figures { pictures, bytes, seconds: started.elapsed().as_secs_f64() })
}
