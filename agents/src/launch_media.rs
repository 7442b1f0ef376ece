//! What a newly listed product gets among the business's files: a cover drawn in the
//! personality's colours and a voice-over of its pitch in the personality's voice, both
//! made offline (`boardroom-media`) and kept within the owner's tier's file storage.
//!
//! Media serves the launch and never stops it: each piece that cannot be made or kept
//! (the storage full, the media store down, espeak-ng not installed) is an event saying
//! why, and the cycle goes on.

use boardroom_media::{PictureKind, PictureRequest, Source, Speaker};
use boardroom_memory::{MediaFile, MediaLibrary, MediaUpload, MemoryError, Product};
use serde_json::json;

use crate::agent::AgentContext;
use crate::minutes;

/// A piece made, before it is kept.
struct Piece {
    bytes: Vec<u8>,
    content_type: &'static str,
    source: Source,
    /// A voice-over's length.
    duration_ms: Option<u64>,
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
    let voice = speak_pitch(context, product).await;
    let name = format!("voice-product-{}.wav", product.id);
    keep(context, media, product, ("voice_over", "voice-over"), name, quota, voice).await;
}

/// The business owner's tier's file storage.
async fn owner_quota(context: &AgentContext) -> Result<Option<i64>, MemoryError> {
    let tenant = context.store.tenant(context.tenant).await?.ok_or_else(|| MemoryError::NotFound("tenant".into()))?;
    let owner = context.store.user(tenant.user_id).await?.ok_or_else(|| MemoryError::NotFound("owner".into()))?;
    Ok(owner.tier.file_storage_bytes())
}

async fn draw_cover(context: &AgentContext, product: &Product) -> Result<Piece, String> {
    let tenant = context.store.tenant(context.tenant).await.ok().flatten();
    let business = tenant.map(|tenant| tenant.name).unwrap_or_default();
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
    Ok(Piece { bytes: picture.png, content_type: "image/png", source: picture.source, duration_ms: None })
}

/// The product's pitch: its name and description, as a buyer would hear them.
async fn speak_pitch(context: &AgentContext, product: &Product) -> Result<Piece, String> {
    let script: String = format!("{}. {}", minutes::product_name(&product.title), product.description)
        .chars()
        .take(boardroom_media::MAX_SCRIPT_CHARS)
        .collect();
    let style = context.personality.voice_style;
    // espeak-ng runs as a child process: off the async threads.
    let speech = tokio::task::spawn_blocking(move || Speaker::default().speak(&script, style))
        .await
        .map_err(|error| format!("speaking stopped: {error}"))?
        .map_err(|error| error.to_string())?;
    let duration_ms = u64::try_from(speech.duration.as_millis()).unwrap_or(u64::MAX);
    Ok(Piece { bytes: speech.wav, content_type: "audio/wav", source: speech.source, duration_ms: Some(duration_ms) })
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
) {
    let title = minutes::product_name(&product.title);
    let kept: Result<(MediaFile, Piece), String> = async {
        let piece = made?;
        let upload = MediaUpload {
            tenant_id: context.tenant,
            name,
            content_type: piece.content_type.into(),
            bytes: piece.bytes.clone().into(),
        };
        let file = media.keep(upload, quota).await.map_err(|error| error.to_string())?;
        Ok((file, piece))
    }
    .await;
    match kept {
        Ok((file, piece)) => {
            let length = piece.duration_ms.map(|ms| format!(", {:.1} s", ms as f64 / 1000.0)).unwrap_or_default();
            context
                .emit(
                    &format!("content.{what}_made"),
                    format!("Made a {noun} for {title} ({}{length})", piece.source.as_str()),
                    json!({ "product_id": product.id, "file_id": file.id, "name": file.name,
                            "source": piece.source.as_str(), "duration_ms": piece.duration_ms }),
                )
                .await;
        }
        Err(reason) => {
            context
                .emit(
                    &format!("content.{what}_failed"),
                    format!("No {noun} for {title}: {reason}"),
                    json!({ "product_id": product.id, "reason": reason }),
                )
                .await;
        }
    }
}
