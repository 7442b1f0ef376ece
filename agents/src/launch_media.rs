//! The media the swarm makes for its products, among the business's files within the
//! owner's tier's file storage, all made offline (`boardroom-media`):
//!
//! - a newly listed product gets a cover drawn in the personality's colours, a
//!   voice-over of its pitch in the personality's voice (Ogg/Opus) and its promo clip in
//!   the vertical shape short-video feeds show (its picture, its pitch captioned and
//!   spoken);
//! - a post on a network that shows video (TikTok, YouTube) carries the product's clip
//!   in that network's shape. A product's clip of a shape is made once, at the launch or
//!   by the first post that needs it, and every later post shows the same file.
//!
//! Media serves the launch and the post and never stops them: each piece that cannot be
//! made or kept (the storage full, the media store down, espeak-ng or ffmpeg not
//! installed) is an event saying why, and the cycle goes on.

use boardroom_media::{ClipMaker, ClipRequest, ClipShape, PictureKind, PictureRequest, Source, Speaker, Speech};
use boardroom_memory::{MediaFile, MediaLibrary, MediaUpload, MemoryError, Product};
use serde_json::json;

use crate::agent::AgentContext;
use crate::minutes;

/// A piece made, before it is kept.
struct Piece {
    bytes: Vec<u8>,
    content_type: &'static str,
    source: Source,
    /// A voice-over's or clip's length.
    duration_ms: Option<u64>,
    /// Said of it in the event (a voice-over kept as WAV says why).
    note: Option<String>,
}

/// Gives `product` its cover and its voice-over, each recorded as an event.
pub(crate) async fn give(context: &AgentContext, product: &Product) {
    let Some(media) = &context.media else {
        return;
    };
    let quota = match owner_quota(context).await {
        Ok(quota) => quota,
        Err(error) => {
            let title = minutes::product_name(&product.title);
            let reason = error.to_string();
            context
                .emit(
                    "content.media_failed",
                    format!("No cover or voice-over for {title}: {reason}"),
                    json!({ "product_id": product.id, "reason": reason }),
                )
                .await;
            return;
        }
    };
    let cover = draw_cover(context, product).await;
    keep(context, media, product, ("cover", "cover"), format!("cover-product-{}.png", product.id), quota, cover).await;
    let voice = voice_over(context, product).await;
    let name = |extension: &str| format!("voice-product-{}.{extension}", product.id);
    let name = voice.as_ref().map(|(_, extension)| name(extension)).unwrap_or_else(|_| name("ogg"));
    keep(context, media, product, ("voice_over", "voice-over"), name, quota, voice.map(|(piece, _)| piece)).await;
    clip_for(context, product, ClipShape::Vertical).await;
}

/// The address of `product`'s promo clip in `shape`, made and kept if it is not among
/// the business's files yet; `None` (with an event saying why) when it cannot be.
pub(crate) async fn clip_for(context: &AgentContext, product: &Product, shape: ClipShape) -> Option<String> {
    let media = context.media.as_ref()?;
    let name = format!("clip-product-{}-{}.mp4", product.id, shape.as_str());
    let address = |file: &MediaFile| format!("/api/media/{}?business_id={}", file.id, context.tenant.0);
    let files = context.store.media_files(context.tenant).await;
    if let Some(file) = files.as_ref().ok().and_then(|files| files.iter().find(|file| file.name == name)) {
        return Some(address(file));
    }
    let made = match owner_quota(context).await {
        Ok(quota) => make_clip(context, product, shape).await.map(|piece| (piece, quota)),
        Err(error) => Err(error.to_string()),
    };
    let (piece, quota) = match made {
        Ok(made) => made,
        Err(reason) => {
            keep(context, media, product, ("clip", "clip"), name, None, Err(reason)).await;
            return None;
        }
    };
    keep(context, media, product, ("clip", "clip"), name, quota, Ok(piece)).await.map(|file| address(&file))
}

/// The business owner's tier's file storage.
async fn owner_quota(context: &AgentContext) -> Result<Option<i64>, MemoryError> {
    let tenant = context.store.tenant(context.tenant).await?.ok_or_else(|| MemoryError::NotFound("tenant".into()))?;
    let owner = context.store.user(tenant.user_id).await?.ok_or_else(|| MemoryError::NotFound("owner".into()))?;
    Ok(owner.tier.file_storage_bytes())
}

async fn draw_cover(context: &AgentContext, product: &Product) -> Result<Piece, String> {
    let business = business_name(context).await;
    let (title, niche, personality) = (product.title.clone(), product.niche.clone(), context.personality.clone());
    // Rendering is CPU work: off the async threads.
    let picture = tokio::task::spawn_blocking(move || {
        boardroom_media::draw(&PictureRequest {
            kind: PictureKind::Cover,
            title: &title,
            niche: &niche,
            business: &business,
            personality: &personality,
        })
    })
    .await
    .map_err(|error| format!("drawing stopped: {error}"))?
    .map_err(|error| error.to_string())?;
    Ok(Piece { bytes: picture.png, content_type: "image/png", source: picture.source, duration_ms: None, note: None })
}

/// The product's pitch: its name and description, as a buyer would hear them.
fn pitch_of(product: &Product) -> String {
    format!("{}. {}", minutes::product_name(&product.title), product.description)
        .chars()
        .take(boardroom_media::MAX_SCRIPT_CHARS)
        .collect()
}

fn milliseconds(duration: std::time::Duration) -> Option<u64> {
    Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// The pitch spoken in the personality's voice.
async fn speak_pitch(context: &AgentContext, product: &Product) -> Result<Speech, String> {
    let (script, style) = (pitch_of(product), context.personality.voice_style);
    // espeak-ng runs as a child process: off the async threads.
    tokio::task::spawn_blocking(move || Speaker::default().speak(&script, style))
        .await
        .map_err(|error| format!("speaking stopped: {error}"))?
        .map_err(|error| error.to_string())
}

/// The pitch's voice-over as it is kept, and its file's extension.
async fn voice_over(context: &AgentContext, product: &Product) -> Result<(Piece, &'static str), String> {
    let speech = speak_pitch(context, product).await?;
    let duration_ms = milliseconds(speech.duration);
    let source = speech.source;
    let file = tokio::task::spawn_blocking(move || ClipMaker::default().voice_file(&speech))
        .await
        .map_err(|error| format!("encoding stopped: {error}"))?;
    let note = file.fallback.map(|why| format!("kept as WAV: {why}"));
    let piece = Piece { bytes: file.bytes, content_type: file.content_type, source, duration_ms, note };
    Ok((piece, file.extension))
}

/// The product's promo clip in `shape`: its picture, its pitch captioned and spoken.
async fn make_clip(context: &AgentContext, product: &Product, shape: ClipShape) -> Result<Piece, String> {
    let speech = speak_pitch(context, product).await?;
    let business = business_name(context).await;
    let (title, niche, personality, script) =
        (product.title.clone(), product.niche.clone(), context.personality.clone(), pitch_of(product));
    // Drawing the frames and running ffmpeg are CPU work: off the async threads.
    let clip = tokio::task::spawn_blocking(move || {
        let picture = PictureRequest {
            kind: PictureKind::Cover,
            title: &title,
            niche: &niche,
            business: &business,
            personality: &personality,
        };
        ClipMaker::default().assemble(&ClipRequest { shape, picture, script: &script, voice: &speech })
    })
    .await
    .map_err(|error| format!("the clip stopped: {error}"))?
    .map_err(|error| error.to_string())?;
    let note = Some(format!("{}, {} captions", shape.as_str(), clip.captions));
    let duration_ms = milliseconds(clip.duration);
    Ok(Piece { bytes: clip.mp4, content_type: "video/mp4", source: clip.source, duration_ms, note })
}

async fn business_name(context: &AgentContext) -> String {
    let tenant = context.store.tenant(context.tenant).await.ok().flatten();
    tenant.map(|tenant| tenant.name).unwrap_or_default()
}

/// Keeps a piece and says so, or says why there is none.
async fn keep(
    context: &AgentContext,
    media: &MediaLibrary,
    product: &Product,
    (what, noun): (&'static str, &'static str),
    name: String,
    quota: Option<i64>,
    made: Result<Piece, String>,
) -> Option<MediaFile> {
    let title = minutes::product_name(&product.title);
    let kept: Result<(MediaFile, Piece), String> = async {
        let mut piece = made?;
        let bytes = std::mem::take(&mut piece.bytes);
        let upload = MediaUpload {
            tenant_id: context.tenant,
            name,
            content_type: piece.content_type.into(),
            bytes: bytes.into(),
        };
        let file = media.keep(upload, quota).await.map_err(|error| error.to_string())?;
        Ok((file, piece))
    }
    .await;
    match kept {
        Ok((file, piece)) => {
            let length = piece.duration_ms.map(|ms| format!(", {:.1} s", ms as f64 / 1000.0)).unwrap_or_default();
            let note = piece.note.as_deref().map(|note| format!("; {note}")).unwrap_or_default();
            context
                .emit(
                    &format!("content.{what}_made"),
                    format!("Made a {noun} for {title} ({}{length}{note})", piece.source.as_str()),
                    json!({ "product_id": product.id, "file_id": file.id, "name": file.name,
                            "content_type": file.content_type, "source": piece.source.as_str(),
                            "duration_ms": piece.duration_ms }),
                )
                .await;
            Some(file)
        }
        Err(reason) => {
            context
                .emit(
                    &format!("content.{what}_failed"),
                    format!("No {noun} for {title}: {reason}"),
                    json!({ "product_id": product.id, "reason": reason }),
                )
                .await;
            None
        }
    }
}
