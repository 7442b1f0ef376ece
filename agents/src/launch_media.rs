//! The media the swarm makes for its products, among the business's files within the
//! owner's tier's file storage (`boardroom-media`'s studio: offline, or the configured
//! OpenAI-compatible API first for pictures and speech):
//!
//! - a newly listed product gets a cover in the personality's colours, a voice-over of
//!   its pitch in the personality's voice (Ogg/Opus) and its promo clip in the vertical
//!   shape short-video feeds show (its picture, its pitch captioned and spoken);
//! - a post on a network that shows video (TikTok, YouTube) carries the product's clip
//!   in that network's shape, and a post on one that shows link cards (X, LinkedIn) its
//!   social card. Each is made once, at the launch or by the first post that needs it,
//!   and every later post shows the same file; Reddit's text posts carry nothing.
//!
//! Media serves the launch and the post and never stops them: each piece that cannot be
//! made or kept (the storage full, the media store down, espeak-ng or ffmpeg not
//! installed) is an event saying why, and the cycle goes on. A remote call's tokens are
//! recorded against the tenant like the brain's.

use boardroom_adapters::{AdImage, PostVideo, SocialNetwork};
use boardroom_media::{
    ClipRequest, ClipShape, Made, PictureKind, PictureOrder, PictureRequest, Source, Speech, Studio,
};
use boardroom_memory::{MediaFile, MediaUpload, MemoryError, Product};
use serde_json::json;

use crate::agent::{AgentContext, SwarmMedia};
use crate::brain::ModelCallPermit;
use crate::minutes;

/// A piece made, before it is kept.
struct Piece {
    bytes: Vec<u8>,
    content_type: &'static str,
    source: Source,
    /// A voice-over's or clip's length.
    duration_ms: Option<u64>,
    /// Said of it in the event (made offline after the API failed, say).
    note: Option<String>,
}

impl Piece {
    fn from_made(made: Made) -> Self {
        Self {
            bytes: made.bytes,
            content_type: made.content_type,
            source: made.source,
            duration_ms: made.duration.and_then(milliseconds),
            note: made.fallback,
        }
    }
}

/// Gives `product` its cover, its voice-over and its vertical clip, each recorded as an
/// event.
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
                    format!("No cover, voice-over or clip for {title}: {reason}"),
                    json!({ "product_id": product.id, "reason": reason }),
                )
                .await;
            return;
        }
    };
    let business = business_name(context).await;
    let order = PictureOrder {
        kind: PictureKind::Cover,
        title: product.title.clone(),
        niche: product.niche.clone(),
        business,
        personality: context.personality.as_ref().clone(),
    };
    // Each piece's slot among the tenant's LLM calls is held while it is made, and let
    // go before the next is asked for.
    let cover = {
        let (studio, refused) = admitted_studio(context, media).await;
        made(context, studio.picture(order).await, &refused).await
    };
    keep(context, media, product, ("cover", "cover"), cover_name(product), quota, cover).await;
    let voice = {
        let (studio, refused) = admitted_studio(context, media).await;
        let voice = studio.voice_over(pitch_of(product), context.personality.voice_style).await;
        made(context, voice, &refused).await
    };
    let extension = match &voice {
        Ok(piece) if piece.content_type == "audio/wav" => "wav",
        _ => "ogg",
    };
    let name = format!("voice-product-{}.{extension}", product.id);
    keep(context, media, product, ("voice_over", "voice-over"), name, quota, voice).await;
    clip_for(context, product, ClipShape::Vertical).await;
}

/// The studio to make one piece with, under the tenant's LLM limits: the remote API
/// when a call is admitted (the permit held until the piece is made), else offline,
/// with the refusal to tell.
async fn admitted_studio(context: &AgentContext, media: &SwarmMedia) -> (AdmittedStudio, Option<String>) {
    if !media.studio.is_remote() {
        return (AdmittedStudio { studio: media.studio.clone(), _permit: ModelCallPermit::default() }, None);
    }
    match context.brain.admit_model_call(context.agent).await {
        Ok(permit) => (AdmittedStudio { studio: media.studio.clone(), _permit: permit }, None),
        Err(refusal) => {
            let studio = AdmittedStudio { studio: media.studio.offline_twin(), _permit: ModelCallPermit::default() };
            (studio, Some(format!("made offline: {refusal}")))
        }
    }
}

/// A studio and the slot its remote call holds.
struct AdmittedStudio {
    studio: Studio,
    _permit: ModelCallPermit,
}

impl std::ops::Deref for AdmittedStudio {
    type Target = Studio;

    fn deref(&self) -> &Studio {
        &self.studio
    }
}

/// A studio's answer as a piece to keep, its remote tokens (if any) recorded; `refused`
/// says why the remote API was not asked.
async fn made(
    context: &AgentContext,
    made: Result<Made, boardroom_media::MediaError>,
    refused: &Option<String>,
) -> Result<Piece, String> {
    let mut made = made.map_err(|error| error.to_string())?;
    if let Some(usage) = &made.usage {
        context.account_tokens(&usage.model, usage.input_tokens, usage.output_tokens, "ok").await;
    }
    if made.fallback.is_none() {
        made.fallback.clone_from(refused);
    }
    Ok(Piece::from_made(made))
}

/// What a post shows beside its text.
pub(crate) struct Shown {
    /// The file's address among the business's files.
    pub(crate) address: String,
    /// The clip itself, for the networks that post videos.
    pub(crate) video: Option<PostVideo>,
}

/// What a post on `network` shows beside its text: the product's clip in the network's
/// shape (TikTok, YouTube; its bytes too, which those networks post) or its social card
/// (X, LinkedIn), made and kept if it is not among the business's files yet; `None` for
/// Reddit, or (with an event saying why) when it cannot be made.
pub(crate) async fn for_post(context: &AgentContext, product: &Product, network: SocialNetwork) -> Option<Shown> {
    let (file, posts_video) = match network {
        SocialNetwork::TikTok => (clip_for(context, product, ClipShape::Vertical).await, true),
        SocialNetwork::YouTube => (clip_for(context, product, ClipShape::Landscape).await, true),
        SocialNetwork::X | SocialNetwork::LinkedIn => (card_for(context, product).await, false),
        SocialNetwork::Reddit => return None,
    };
    let file = file?;
    let address = format!("/api/media/{}?business_id={}", file.id, context.tenant.0);
    let video = match (posts_video, &context.media) {
        (true, Some(media)) => match media.library.read(context.tenant, file.id).await {
            Ok(Some((file, bytes))) => Some(PostVideo { name: file.name, content_type: file.content_type, bytes }),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(tenant = %context.tenant, %error, "the clip could not be read for its post");
                None
            }
        },
        _ => None,
    };
    Some(Shown { address, video })
}

/// The name `product`'s cover is kept under among the business's files.
fn cover_name(product: &Product) -> String {
    format!("cover-product-{}.png", product.id)
}

/// `product`'s cover as its ads show it, if it has one among the business's files (an
/// ad goes without a picture rather than fail: a cover that is missing or unreadable is
/// logged).
pub(crate) async fn cover_of(context: &AgentContext, product: &Product) -> Option<AdImage> {
    let media = context.media.as_ref()?;
    let name = cover_name(product);
    let files = context.store.media_files(context.tenant).await.ok()?;
    let file = files.into_iter().find(|file| file.name == name)?;
    match media.library.read(context.tenant, file.id).await {
        Ok(Some((file, bytes))) => Some(AdImage { content_type: file.content_type, bytes: bytes.to_vec() }),
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(tenant = %context.tenant, %error, "the cover could not be read for its ad");
            None
        }
    }
}

/// `product`'s promo clip in `shape`, made once.
async fn clip_for(context: &AgentContext, product: &Product, shape: ClipShape) -> Option<MediaFile> {
    let media = context.media.as_ref()?;
    let name = format!("clip-product-{}-{}.mp4", product.id, shape.as_str());
    once(context, media, product, ("clip", "clip"), name, make_clip(context, media, product, shape)).await
}

/// `product`'s social card, made once.
async fn card_for(context: &AgentContext, product: &Product) -> Option<MediaFile> {
    let media = context.media.as_ref()?;
    let name = format!("card-product-{}.png", product.id);
    let card = async {
        let order = PictureOrder {
            kind: PictureKind::SocialCard,
            title: product.title.clone(),
            niche: product.niche.clone(),
            business: business_name(context).await,
            personality: context.personality.as_ref().clone(),
        };
        let (studio, refused) = admitted_studio(context, media).await;
        made(context, studio.picture(order).await, &refused).await
    };
    once(context, media, product, ("card", "social card"), name, card).await
}

/// The business's file `name`, made by `make` and kept when there is none yet.
async fn once(
    context: &AgentContext,
    media: &SwarmMedia,
    product: &Product,
    what: (&'static str, &'static str),
    name: String,
    make: impl Future<Output = Result<Piece, String>>,
) -> Option<MediaFile> {
    let files = context.store.media_files(context.tenant).await;
    if let Some(file) = files.ok().and_then(|files| files.into_iter().find(|file| file.name == name)) {
        return Some(file);
    }
    let made = match owner_quota(context).await {
        Ok(quota) => make.await.map(|piece| (piece, quota)),
        Err(error) => Err(error.to_string()),
    };
    let (piece, quota) = match made {
        Ok(made) => made,
        Err(reason) => {
            keep(context, media, product, what, name, None, Err(reason)).await;
            return None;
        }
    };
    keep(context, media, product, what, name, quota, Ok(piece)).await
}

/// The business owner's tier's file storage.
async fn owner_quota(context: &AgentContext) -> Result<Option<i64>, MemoryError> {
    let tenant = context.store.tenant(context.tenant).await?.ok_or_else(|| MemoryError::NotFound("tenant".into()))?;
    let owner = context.store.user(tenant.user_id).await?.ok_or_else(|| MemoryError::NotFound("owner".into()))?;
    Ok(owner.tier.file_storage_bytes())
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

/// The product's promo clip in `shape`: its picture, its pitch captioned and spoken
/// offline (ffmpeg needs the WAV, and the captions follow espeak-ng's pace).
async fn make_clip(
    context: &AgentContext,
    media: &SwarmMedia,
    product: &Product,
    shape: ClipShape,
) -> Result<Piece, String> {
    let business = business_name(context).await;
    let (title, niche, personality, script) =
        (product.title.clone(), product.niche.clone(), context.personality.clone(), pitch_of(product));
    let (speaker, clips) = (media.studio.speaker().clone(), media.studio.clips().clone());
    // espeak-ng and ffmpeg run as child processes, the frames are CPU work: off the
    // async threads.
    let clip = tokio::task::spawn_blocking(move || {
        let speech: Speech = speaker.speak(&script, personality.voice_style)?;
        let picture = PictureRequest {
            kind: PictureKind::Cover,
            title: &title,
            niche: &niche,
            business: &business,
            personality: &personality,
        };
        clips.assemble(&ClipRequest { shape, picture, script: &script, voice: &speech })
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
    media: &SwarmMedia,
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
        let file = media.library.keep(upload, quota).await.map_err(|error| error.to_string())?;
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
