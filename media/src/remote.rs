//! Pictures and speech from an OpenAI-compatible API, when the server has a key
//! (`LLM_API_KEY`): `POST {base}/images/generations` for covers and cards,
//! `POST {base}/audio/speech` for voice-overs (Ogg/Opus). A failure of any kind is an
//! error the caller answers by making the piece offline ([`Studio`](crate::Studio)).
//!
//! What comes back is checked before it is used: a picture must be a PNG (its size read
//! from its header), speech an Ogg/Opus stream (its length read from its last page).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use boardroom_personalities::VoiceStyle;
use serde::Deserialize;
use serde_json::json;

use crate::{MediaError, PictureKind};

/// The image model asked unless `MEDIA_IMAGE_MODEL` says otherwise.
pub const DEFAULT_IMAGE_MODEL: &str = "gpt-image-1";
/// The speech model asked unless `MEDIA_SPEECH_MODEL` says otherwise.
pub const DEFAULT_SPEECH_MODEL: &str = "gpt-4o-mini-tts";

/// Where remote media is asked for. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteMediaConfig {
    /// Base URL of the OpenAI-compatible API (`…/v1`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer <api_key>`.
    pub api_key: String,
    /// The images endpoint's model.
    pub image_model: String,
    /// The speech endpoint's model.
    pub speech_model: String,
    /// How long one call may take (an image takes tens of seconds).
    pub timeout: Duration,
}

impl fmt::Debug for RemoteMediaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMediaConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("image_model", &self.image_model)
            .field("speech_model", &self.speech_model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RemoteMediaConfig {
    /// The defaults (the two default models, 120 s a call) for `base_url` and `api_key`.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: api_key.into(),
            image_model: DEFAULT_IMAGE_MODEL.to_owned(),
            speech_model: DEFAULT_SPEECH_MODEL.to_owned(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// What a remote call used, as the provider counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUsage {
    /// The model that answered.
    pub model: String,
    /// Input tokens (for speech, which reports none, the script's length in tokens
    /// estimated at four characters a token).
    pub input_tokens: u32,
    /// Output tokens (0 for speech).
    pub output_tokens: u32,
}

/// A picture or speech from the remote API, with what it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePiece {
    /// The bytes: PNG, or Ogg/Opus.
    pub bytes: Vec<u8>,
    /// A picture's width and height.
    pub size: Option<(u32, u32)>,
    /// Speech's length.
    pub duration: Option<Duration>,
    /// What the call used.
    pub usage: RemoteUsage,
}

/// The remote media client.
#[derive(Debug, Clone)]
pub struct RemoteMedia {
    config: RemoteMediaConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ImagesAnswer {
    data: Vec<ImageData>,
    #[serde(default)]
    usage: Option<ImageUsage>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
}

#[derive(Deserialize)]
struct ImageUsage {
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
}

impl RemoteMedia {
    /// A client for `config`.
    pub fn new(config: RemoteMediaConfig) -> Result<Self, MediaError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|error| MediaError::Remote(format!("no HTTP client: {error}")))?;
        Ok(Self { config, http })
    }

    /// The configuration (for the labels: the models).
    pub fn config(&self) -> &RemoteMediaConfig {
        &self.config
    }

    /// A picture of `kind` from `prompt`: 1024 × 1024 for a cover, the widest landscape
    /// the endpoint makes (1536 × 1024) for a card.
    pub async fn picture(&self, kind: PictureKind, prompt: &str) -> Result<RemotePiece, MediaError> {
        let size = match kind {
            PictureKind::Cover => "1024x1024",
            PictureKind::SocialCard => "1536x1024",
        };
        let body = json!({
            "model": self.config.image_model,
            "prompt": prompt,
            "n": 1,
            "size": size,
            "response_format": "b64_json",
        });
        let answer = self.post("images/generations", &body).await?;
        let answer: ImagesAnswer = answer
            .json()
            .await
            .map_err(|error| MediaError::Remote(format!("the images answer is not the documented JSON: {error}")))?;
        let encoded = answer
            .data
            .into_iter()
            .next()
            .and_then(|image| image.b64_json)
            .ok_or_else(|| MediaError::Remote("the images answer holds no b64_json image".into()))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|error| MediaError::Remote(format!("the image is not base64: {error}")))?;
        let size = png_size(&png).ok_or_else(|| MediaError::Remote("the image is not a PNG".into()))?;
        let usage = answer.usage.unwrap_or(ImageUsage { input_tokens: 0, output_tokens: 0 });
        Ok(RemotePiece {
            bytes: png,
            size: Some(size),
            duration: None,
            usage: RemoteUsage {
                model: self.config.image_model.clone(),
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
            },
        })
    }

    /// `script` spoken in `style`'s voice and speed, as Ogg/Opus.
    pub async fn speech(&self, script: &str, style: VoiceStyle) -> Result<RemotePiece, MediaError> {
        let (voice, speed) = remote_voice_of(style);
        let body = json!({
            "model": self.config.speech_model,
            "input": script,
            "voice": voice,
            "speed": speed,
            "response_format": "opus",
        });
        let answer = self.post("audio/speech", &body).await?;
        let ogg = answer
            .bytes()
            .await
            .map_err(|error| MediaError::Remote(format!("the speech was cut off: {error}")))?
            .to_vec();
        let duration =
            ogg_opus_duration(&ogg).ok_or_else(|| MediaError::Remote("the speech is not Ogg/Opus".into()))?;
        let estimated = u32::try_from(script.chars().count().div_ceil(4)).unwrap_or(u32::MAX);
        Ok(RemotePiece {
            bytes: ogg,
            size: None,
            duration: Some(duration),
            usage: RemoteUsage { model: self.config.speech_model.clone(), input_tokens: estimated, output_tokens: 0 },
        })
    }

    async fn post(&self, endpoint: &str, body: &serde_json::Value) -> Result<reqwest::Response, MediaError> {
        let url = format!("{}/{endpoint}", self.config.base_url);
        let answer = self
            .http
            .post(&url)
            .bearer_auth(&self.config.api_key)
            .json(body)
            .send()
            .await
            .map_err(|error| MediaError::Remote(format!("{endpoint} did not answer: {}", error.without_url())))?;
        let status = answer.status();
        if !status.is_success() {
            let said: String = answer.text().await.unwrap_or_default().chars().take(300).collect();
            return Err(MediaError::Remote(format!("{endpoint} answered {status}: {said}")));
        }
        Ok(answer)
    }
}

/// The API's voice and speed for a voice style: the same measured, fast and high, slow
/// and low characters as the offline voices.
pub fn remote_voice_of(style: VoiceStyle) -> (&'static str, f64) {
    match style {
        VoiceStyle::Professional => ("onyx", 1.0),
        VoiceStyle::Energetic => ("nova", 1.2),
        VoiceStyle::Calm => ("shimmer", 0.85),
    }
}

/// A PNG's width and height, from its header; `None` when it is not a PNG.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    (width > 0 && height > 0).then_some((width, height))
}

/// How long an Ogg/Opus stream plays: its last page's granule position (48 kHz
/// samples) less the pre-skip its `OpusHead` names. `None` when it is not Ogg/Opus.
pub fn ogg_opus_duration(bytes: &[u8]) -> Option<Duration> {
    if bytes.len() < 47 || &bytes[..4] != b"OggS" || &bytes[28..36] != b"OpusHead" {
        return None;
    }
    let pre_skip = u64::from(u16::from_le_bytes([bytes[38], bytes[39]]));
    let last_page = bytes.windows(4).rposition(|window| window == b"OggS")?;
    let granule = bytes.get(last_page + 6..last_page + 14)?;
    let granule = u64::from_le_bytes(granule.try_into().ok()?);
    Some(Duration::from_secs_f64(granule.saturating_sub(pre_skip) as f64 / 48_000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_header_gives_its_size_and_anything_else_is_refused() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&1536_u32.to_be_bytes());
        png.extend_from_slice(&1024_u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((1536, 1024)));
        assert_eq!(png_size(b"GIF89a not a png at all, no"), None);
        assert_eq!(png_size(&png[..20]), None);
    }

    #[test]
    fn the_key_is_never_shown() {
        let config = RemoteMediaConfig::new("http://127.0.0.1:1/v1/", "sk-secret");
        assert_eq!(config.base_url, "http://127.0.0.1:1/v1");
        assert!(!format!("{config:?}").contains("sk-secret"));
    }

    #[test]
    fn an_ogg_opus_stream_lasts_its_last_granule_less_the_pre_skip() {
        assert_eq!(ogg_opus_duration(b"not ogg"), None);
        assert_eq!(ogg_opus_duration(&[b'O'; 64]), None);
    }
}
