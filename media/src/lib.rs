//! # boardroom-media
//!
//! Owns the media the swarm makes for its businesses, apart from where it is kept (the
//! memory crate's `MediaLibrary` keeps it): pictures, voice-overs and promo clips, made
//! offline, and pictures and voice-overs from an OpenAI-compatible API when one is
//! configured.
//!
//! - `covers`: [`draw`], a product's cover (square, for a listing) or its social card
//!   (1200 × 630, the size X, LinkedIn and Meta show link cards at), drawn offline as SVG
//!   from the product's name and niche in the colours of the business's personality, and
//!   rendered to PNG with `resvg`. The fonts are compiled in (Noto Sans), none are read
//!   from the machine, so the same inputs give the same bytes everywhere. Every picture
//!   is labelled with its [`Source`] wherever it shows.
//! - `voice`: [`Speaker`], a script spoken in a personality's voice style (speed and
//!   pitch) by espeak-ng, as WAV with its duration; a missing espeak-ng is an error
//!   that names it.
//! - `video`: [`ClipMaker`], a promo clip (the product's picture, the voice-over's
//!   script as captions, the voice-over) assembled by ffmpeg as MP4 in YouTube's and
//!   TikTok's shapes, and a voice-over turned into Ogg/Opus; a missing ffmpeg is an
//!   error that names it.
//! - `remote`: [`RemoteMedia`], the OpenAI-compatible images and speech endpoints, their
//!   answers checked (a PNG, an Ogg/Opus stream) before use.
//! - `studio`: [`Studio`], what callers make pictures and voice-overs with: the remote
//!   API first when there is one, offline when it fails, the reason kept.

mod covers;
mod remote;
mod studio;
mod video;
mod voice;

pub use covers::{Picture, PictureKind, PictureRequest, Source, draw, palette_of};
pub use remote::{
    DEFAULT_IMAGE_MODEL, DEFAULT_SPEECH_MODEL, RemoteMedia, RemoteMediaConfig, RemotePiece, RemoteUsage,
    ogg_opus_duration, remote_voice_of,
};
pub use studio::{Made, PictureOrder, Studio};
pub use video::{Clip, ClipMaker, ClipRequest, ClipShape, FRAME_RATE, MIN_CLIP, VoiceFile, captions_of};
pub use voice::{MAX_SCRIPT_CHARS, Speaker, Speech, delivery_of, wav_duration};

/// Why media could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The request cannot be drawn (an empty title, say); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// Rendering failed; the message says where.
    #[error("rendering failed: {0}")]
    Render(String),
    /// The remote API failed or answered with something unusable; the message says how.
    #[error("the remote media API: {0}")]
    Remote(String),
    /// A program the media needs is not on this machine.
    #[error("{tool} is not installed; install it with `{install}`")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// How to install it on Debian.
        install: &'static str,
    },
}
