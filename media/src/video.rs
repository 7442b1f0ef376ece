//! Promo clips: a product's picture at the clip's shape, the voice-over's script as
//! captions, and the voice-over, assembled by ffmpeg into an MP4 (H.264 video, AAC
//! sound) in the shapes YouTube (landscape 1280 × 720) and TikTok (vertical 720 × 1280)
//! take.
//!
//! Each caption is a frame drawn here (the same design as the covers, with the caption
//! in a band at the foot), shown for its share of the voice-over: a caption's share of
//! the clip is its share of the script's characters, which is how long espeak-ng takes
//! to say it within the pauses. ffmpeg is a Debian package, not a crate; it runs on
//! files in a temporary folder with names made here, so nothing a user wrote reaches
//! its command line. When it is not installed the error names it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::covers::{Layout, render};
use crate::{MediaError, PictureRequest, Source, Speech};

/// What ffmpeg is called unless told otherwise.
const FFMPEG: &str = "ffmpeg";
/// The shortest clip made: TikTok refuses videos under three seconds, so a shorter
/// voice-over is followed by silence on its last caption.
pub const MIN_CLIP: Duration = Duration::from_secs(3);
/// Frames a second: a slideshow needs no more, and both platforms take it.
pub const FRAME_RATE: u32 = 25;

/// A clip's shape, and the platform it is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClipShape {
    /// 16:9, 1280 × 720: YouTube.
    Landscape,
    /// 9:16, 720 × 1280: TikTok (and Shorts).
    Vertical,
}

impl ClipShape {
    /// Width and height in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::Landscape => (1280, 720),
            Self::Vertical => (720, 1280),
        }
    }

    /// `landscape` or `vertical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Landscape => "landscape",
            Self::Vertical => "vertical",
        }
    }

    /// Characters in a caption's line at this width.
    fn caption_width(self) -> usize {
        match self {
            Self::Landscape => 48,
            Self::Vertical => 26,
        }
    }
}

/// What to make a clip of.
#[derive(Debug, Clone)]
pub struct ClipRequest<'a> {
    /// Its shape.
    pub shape: ClipShape,
    /// The picture's words and colours (its kind is ignored: the shape sets the size).
    pub picture: PictureRequest<'a>,
    /// What the voice-over says, shown as captions.
    pub script: &'a str,
    /// The voice-over.
    pub voice: &'a Speech,
}

/// A made clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// MP4 bytes, its index at the front (`faststart`) so it plays while it downloads.
    pub mp4: Vec<u8>,
    /// How long it plays.
    pub duration: Duration,
    /// Its shape.
    pub shape: ClipShape,
    /// How many captions it shows.
    pub captions: usize,
    /// Who made it.
    pub source: Source,
}

/// A voice-over as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFile {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `audio/ogg` (Opus) or `audio/wav`.
    pub content_type: &'static str,
    /// `ogg` or `wav`.
    pub extension: &'static str,
    /// Why it is a WAV, when it is.
    pub fallback: Option<String>,
}

/// ffmpeg, found on the `PATH` or at a path given.
#[derive(Debug, Clone)]
pub struct ClipMaker {
    program: String,
}

impl Default for ClipMaker {
    fn default() -> Self {
        Self { program: FFMPEG.to_owned() }
    }
}

impl ClipMaker {
    /// ffmpeg at `program` (a path, or a name looked up on the `PATH`).
    pub fn at(program: impl Into<String>) -> Self {
        Self { program: program.into() }
    }

    /// Assembles the clip `request` describes.
    pub fn assemble(&self, request: &ClipRequest<'_>) -> Result<Clip, MediaError> {
        let captions = captions_of(request.script, request.shape.caption_width());
        if captions.is_empty() {
            return Err(MediaError::Invalid("a clip needs a script to caption".into()));
        }
        let duration = request.voice.duration.max(MIN_CLIP);
        let folder = scratch()?;
        let mut list = String::new();
        for (index, (caption, seconds)) in captions.iter().zip(shares_of(&captions, duration)).enumerate() {
            let layout = Layout::frame(request.shape, caption);
            let frame = render(&request.picture, &layout)?;
            let name = format!("frame-{index:03}.png");
            write(folder.path(), &name, &frame.png)?;
            list.push_str(&format!("file '{name}'\nduration {seconds:.3}\n"));
        }
        // The concat reader holds the last frame only when it is named once more.
        list.push_str(&format!("file 'frame-{:03}.png'\n", captions.len() - 1));
        write(folder.path(), "frames.txt", list.as_bytes())?;
        write(folder.path(), "voice.wav", &request.voice.wav)?;
        let length = format!("{:.3}", duration.as_secs_f64());
        // Each caption is converted to the players' pixel format once, before it is
        // repeated to the frame rate; the repeats cost the encoder next to nothing.
        let filters = format!("[0:v]format=yuv420p,fps={FRAME_RATE}[v];[1:a]apad[a]");
        #[rustfmt::skip]
        let arguments = [
            "-f", "concat", "-i", "frames.txt", "-i", "voice.wav",
            "-filter_complex", &filters, "-map", "[v]", "-map", "[a]", "-t", &length,
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "30",
            "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", "clip.mp4",
        ];
        self.run(folder.path(), &arguments)?;
        let mp4 = read(folder.path(), "clip.mp4")?;
        Ok(Clip { mp4, duration, shape: request.shape, captions: captions.len(), source: request.voice.source })
    }

    /// The file a voice-over is kept as: Ogg/Opus, or its WAV when ffmpeg cannot encode
    /// it (not installed, say), the reason given, so a voice-over is never lost to the
    /// encoding.
    pub fn voice_file(&self, speech: &Speech) -> VoiceFile {
        match self.opus_of(&speech.wav) {
            Ok(ogg) => VoiceFile { bytes: ogg, content_type: "audio/ogg", extension: "ogg", fallback: None },
            Err(error) => VoiceFile {
                bytes: speech.wav.clone(),
                content_type: "audio/wav",
                extension: "wav",
                fallback: Some(error.to_string()),
            },
        }
    }

    /// A voice-over's WAV as Ogg/Opus, a tenth of its size, the form it is kept in.
    pub fn opus_of(&self, wav: &[u8]) -> Result<Vec<u8>, MediaError> {
        let folder = scratch()?;
        write(folder.path(), "voice.wav", wav)?;
        self.run(folder.path(), &["-i", "voice.wav", "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", "voice.ogg"])?;
        read(folder.path(), "voice.ogg")
    }

    /// Runs ffmpeg in `folder` on `arguments`.
    fn run(&self, folder: &Path, arguments: &[&str]) -> Result<(), MediaError> {
        let output = Command::new(&self.program)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(arguments)
            .current_dir(folder)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => {
                    MediaError::MissingTool { tool: "ffmpeg", install: "apt-get install ffmpeg" }
                }
                _ => MediaError::Render(format!("could not start {}: {error}", self.program)),
            })?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(MediaError::Render(format!("ffmpeg failed ({}): {}", output.status, said.trim())));
        }
        Ok(())
    }
}

fn scratch() -> Result<tempfile::TempDir, MediaError> {
    tempfile::Builder::new()
        .prefix("boardroom-clip-")
        .tempdir()
        .map_err(|error| MediaError::Render(format!("no scratch folder: {error}")))
}

fn write(folder: &Path, name: &str, bytes: &[u8]) -> Result<(), MediaError> {
    std::fs::write(folder.join(name), bytes)
        .map_err(|error| MediaError::Render(format!("could not write {name}: {error}")))
}

fn read(folder: &Path, name: &str) -> Result<Vec<u8>, MediaError> {
    std::fs::read(folder.join(name)).map_err(|error| MediaError::Render(format!("ffmpeg wrote no {name}: {error}")))
}

/// The script as captions: each sentence wrapped at `width` characters a line, two
/// lines a caption, so a caption never runs across two sentences.
pub fn captions_of(script: &str, width: usize) -> Vec<String> {
    let script = script.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut captions = Vec::new();
    for sentence in sentences(&script) {
        let lines = crate::covers::wrap(sentence, width);
        for pair in lines.chunks(2) {
            captions.push(pair.join("\n"));
        }
    }
    captions
}

/// `text` cut after each `.`, `!` or `?` that a space follows.
fn sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (at, byte) in bytes.iter().enumerate() {
        if matches!(byte, b'.' | b'!' | b'?') && bytes.get(at + 1) == Some(&b' ') {
            sentences.push(text[start..=at].trim());
            start = at + 1;
        }
    }
    sentences.push(text[start..].trim());
    sentences.retain(|sentence| !sentence.is_empty());
    sentences
}

/// How long each caption shows: its share of the characters of `duration`, at least a
/// frame each.
fn shares_of(captions: &[String], duration: Duration) -> Vec<f64> {
    let total: usize = captions.iter().map(|caption| caption.chars().count()).sum::<usize>().max(1);
    let frame = 1.0 / f64::from(FRAME_RATE);
    captions
        .iter()
        .map(|caption| (duration.as_secs_f64() * caption.chars().count() as f64 / total as f64).max(frame))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_follow_sentences_and_fit_their_lines() {
        let script =
            "Meet the morning pack. Fifty prompts that turn the first hour of your day into a calm, clear plan! Begin.";
        let captions = captions_of(script, 26);
        assert_eq!(captions.first().map(String::as_str), Some("Meet the morning pack."));
        assert_eq!(captions.last().map(String::as_str), Some("Begin."));
        for caption in &captions {
            assert!(
                caption.lines().count() <= 2 && caption.lines().all(|line| line.chars().count() <= 26),
                "{captions:?}"
            );
        }
        let spoken: String = captions.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(spoken, script, "every word is captioned once, in order");
        assert!(captions_of(" \n ", 26).is_empty());
    }

    #[test]
    fn each_caption_shows_for_its_share_of_the_voice_over() {
        let captions = vec!["a".repeat(30), "b".repeat(10)];
        let shares = shares_of(&captions, Duration::from_secs(8));
        assert_eq!(shares, vec![6.0, 2.0]);
        let tiny = shares_of(&["x".into(), "y".repeat(10_000)], Duration::from_secs(1));
        assert!(tiny[0] >= 1.0 / f64::from(FRAME_RATE), "{tiny:?}");
    }

    #[test]
    fn a_missing_ffmpeg_is_named_with_how_to_install_it_and_a_voice_over_stays_a_wav() {
        let missing = ClipMaker::at("/nonexistent/ffmpeg");
        let error = missing.opus_of(b"RIFF").expect_err("no such program");
        assert_eq!(error, MediaError::MissingTool { tool: "ffmpeg", install: "apt-get install ffmpeg" });
        let speech =
            Speech { wav: b"RIFF....WAVE".to_vec(), duration: Duration::from_secs(1), source: Source::Offline };
        let kept = missing.voice_file(&speech);
        assert_eq!((kept.bytes, kept.content_type, kept.extension), (speech.wav.clone(), "audio/wav", "wav"));
        assert_eq!(kept.fallback, Some(error.to_string()));
    }
}
