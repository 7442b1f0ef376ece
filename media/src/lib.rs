//! # boardroom-media
//!
//! Owns the media the swarm makes for its businesses, apart from where it is kept (the
//! memory crate's `MediaLibrary` keeps it): today, pictures.
//!
//! - `covers`: [`draw`], a product's cover (square, for a listing) or its social card
//!   (1200 × 630, the size X, LinkedIn and Meta show link cards at), drawn offline as SVG
//!   from the product's name and niche in the colours of the business's personality, and
//!   rendered to PNG with `resvg`. The fonts are compiled in (Noto Sans), none are read
//!   from the machine, so the same inputs give the same bytes everywhere. Every picture
//!   is labelled with its [`Source`] wherever it shows.

mod covers;

pub use covers::{Picture, PictureKind, PictureRequest, Source, draw, palette_of};

/// Why media could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The request cannot be drawn (an empty title, say); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// Rendering failed; the message says where.
    #[error("rendering failed: {0}")]
    Render(String),
}
