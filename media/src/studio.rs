//! [`Studio`]: what the swarm and the API make pictures and voice-overs with. Offline
//! always works; with a remote API configured it is asked first, and whatever it
//! fails to give (an outage, a refusal, an answer that is not a PNG or Ogg/Opus) is
//! made offline instead, the reason kept with the piece.

use std::time::Duration;

use boardroom_personalities::{Personality, VoiceStyle};

use crate::{ClipMaker, MediaError, PictureKind, PictureRequest, RemoteMedia, RemoteUsage, Source, Speaker};

/// A picture to make, owned (it crosses to a blocking thread).
#[derive(Debug, Clone)]
pub struct PictureOrder {
    /// Cover or card.
    pub kind: PictureKind,
    /// The product's name.
    pub title: String,
    /// Its niche.
    pub niche: String,
    /// The business's name.
    pub business: String,
    /// Whose colours and style.
    pub personality: Personality,
}

/// A piece made, before it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `image/png`, `audio/ogg` or `audio/wav`.
    pub content_type: &'static str,
    /// `png`, `ogg` or `wav`.
    pub extension: &'static str,
    /// Who made it.
    pub source: Source,
    /// A picture's width and height.
    pub size: Option<(u32, u32)>,
    /// A voice-over's length.
    pub duration: Option<Duration>,
    /// What a remote call used, when one answered (or failed after using some).
    pub usage: Option<RemoteUsage>,
    /// Why it was not made the preferred way (the remote API, or Opus), when it was not.
    pub fallback: Option<String>,
}

/// Offline makers, and the remote API when there is one.
#[derive(Debug, Clone, Default)]
pub struct Studio {
    remote: Option<RemoteMedia>,
    speaker: Speaker,
    clips: ClipMaker,
}

impl Studio {
    /// Offline only.
    pub fn offline() -> Self {
        Self::default()
    }

    /// The remote API first, offline when it fails.
    pub fn with_remote(remote: RemoteMedia) -> Self {
        Self { remote: Some(remote), ..Self::default() }
    }

    /// Whether pictures and voice-overs are asked of a remote API first (and so call a
    /// model, under the tenant's LLM limits).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The same makers without the remote API: for when the tenant's LLM limits refuse
    /// a call.
    pub fn offline_twin(&self) -> Self {
        Self { remote: None, ..self.clone() }
    }

    /// The offline clip maker (ffmpeg), also used for encoding.
    pub fn clips(&self) -> &ClipMaker {
        &self.clips
    }

    /// The offline speaker (espeak-ng).
    pub fn speaker(&self) -> &Speaker {
        &self.speaker
    }

    /// Makes the picture `order` describes.
    pub async fn picture(&self, order: PictureOrder) -> Result<Made, MediaError> {
        let mut fallback = None;
        if let Some(remote) = &self.remote {
            match remote.picture(order.kind, &picture_prompt(&order)).await {
                Ok(piece) => {
                    return Ok(Made {
                        bytes: piece.bytes,
                        content_type: "image/png",
                        extension: "png",
                        source: Source::Remote,
                        size: piece.size,
                        duration: None,
                        usage: Some(piece.usage),
                        fallback: None,
                    });
                }
                Err(error) => fallback = Some(format!("drawn offline: {error}")),
            }
        }
        // Rendering is CPU work: off the async threads.
        let picture = tokio::task::spawn_blocking(move || {
            crate::draw(&PictureRequest {
                kind: order.kind,
                title: &order.title,
                niche: &order.niche,
                business: &order.business,
                personality: &order.personality,
            })
        })
        .await
        .map_err(|error| MediaError::Render(format!("drawing stopped: {error}")))??;
        Ok(Made {
            bytes: picture.png,
            content_type: "image/png",
            extension: "png",
            source: picture.source,
            size: Some((picture.width, picture.height)),
            duration: None,
            usage: None,
            fallback,
        })
    }

    /// Speaks `script` in `style`, kept as Ogg/Opus (WAV when ffmpeg cannot encode).
    pub async fn voice_over(&self, script: String, style: VoiceStyle) -> Result<Made, MediaError> {
        let mut fallback = None;
        if let Some(remote) = &self.remote {
            match remote.speech(&script, style).await {
                Ok(piece) => {
                    return Ok(Made {
                        bytes: piece.bytes,
                        content_type: "audio/ogg",
                        extension: "ogg",
                        source: Source::Remote,
                        size: None,
                        duration: piece.duration,
                        usage: Some(piece.usage),
                        fallback: None,
                    });
                }
                Err(error) => fallback = Some(format!("spoken offline: {error}")),
            }
        }
        let (speaker, clips) = (self.speaker.clone(), self.clips.clone());
        // espeak-ng and ffmpeg run as child processes: off the async threads.
        let (speech, file) = tokio::task::spawn_blocking(move || {
            let speech = speaker.speak(&script, style)?;
            let file = clips.voice_file(&speech);
            Ok::<_, MediaError>((speech, file))
        })
        .await
        .map_err(|error| MediaError::Render(format!("speaking stopped: {error}")))??;
        let encoded = file.fallback.map(|why| format!("kept as WAV: {why}"));
        Ok(Made {
            bytes: file.bytes,
            content_type: file.content_type,
            extension: file.extension,
            source: speech.source,
            size: None,
            duration: Some(speech.duration),
            usage: None,
            fallback: [fallback, encoded].into_iter().flatten().reduce(|a, b| format!("{a}; {b}")),
        })
    }
}

/// What the image model is asked for: the product, in the personality's manner and
/// colours, and no words but its name (models misspell the rest).
fn picture_prompt(order: &PictureOrder) -> String {
    let [from, to, _] = crate::palette_of(&order.personality);
    let what = match order.kind {
        PictureKind::Cover => "A square product cover",
        PictureKind::SocialCard => "A wide social media card",
    };
    format!(
        "{what} for \"{}\", a {} product sold by {}. Mood: {}. Colours from {from} to {to}. \
         No text except the product's name.",
        order.title, order.niche, order.business, order.personality.marketing_approach
    )
}
