//! `/api/media/*`: files a business keeps (product images, marketing media), counted
//! against the owner's tier's file storage.
//!
//! An upload is the raw file as the request body, at most 10 MiB, named by `?name=`
//! (folders are cut off: `../../x.png` is kept as `x.png`). Its type is sniffed from the
//! bytes ([`file_checks`](crate::http::file_checks)); a `Content-Type` the bytes
//! contradict is refused, and is never what is kept. Images are decoded within limits and
//! encoded again (PNG and JPEG stay, GIF and WebP become PNG; larger than 4,096 px on a
//! side, scaled down), which also drops their metadata. The bytes go to the media store
//! (a folder, or an S3-compatible bucket), the record with their SHA-256 to the database.
//! Over the tier's storage the upload is refused with 402 `tier_limit`, and two uploads
//! at once cannot both squeeze under it. Downloads are served as attachments
//! (`Content-Disposition: attachment` with the name, `nosniff`), so an uploaded HTML
//! file is never rendered as one of our pages.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use boardroom_memory::{MediaFile, MediaUpload, MemoryError, NewLlmCall};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessPageQuery, BusinessQuery, Page, owned_business};
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::fields::Title;
use crate::http::file_checks;
use crate::http::names::WHITESPACE_CLASS;
use crate::http::tiers;
use crate::http::{ApiState, names};

/// Largest file one upload may carry.
pub(crate) const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        // Only uploads take bodies this large; every other route keeps the 64 KiB limit.
        .layer(DefaultBodyLimit::max(MAX_FILE_BYTES))
        .routes(routes!(list))
        .routes(routes!(generate))
        .routes(routes!(voice_preview))
        .routes(routes!(download, remove))
}

/// What `POST /api/media/generate` makes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MediaShape {
    /// A product's cover, 1024 × 1024 PNG.
    Cover,
    /// A post's card, 1200 × 630 PNG.
    Card,
    /// A voice-over in the personality's voice, Ogg/Opus.
    Voice,
    /// A product's promo clip (its picture, its pitch captioned and spoken), MP4.
    Clip,
}

impl MediaShape {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cover => "cover",
            Self::Card => "card",
            Self::Voice => "voice",
            Self::Clip => "clip",
        }
    }
}

/// `POST /api/media/generate`: a picture or a voice-over of one of the business's
/// products, or of a title or script given here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    /// The business the media is for.
    business_id: i64,
    /// `cover`, `card` or `voice`.
    shape: MediaShape,
    /// A product of the business: a picture shows its title and niche, a voice-over
    /// reads its title and description.
    #[serde(default)]
    product_id: Option<i64>,
    /// For a picture, instead of a product: the headline (1 to 200 characters).
    #[serde(default)]
    title: Option<String>,
    /// With `title`, the line above it (at most 200 characters).
    #[serde(default)]
    niche: Option<String>,
    /// For a voice-over, instead of a product: what to say (1 to 2,000 characters).
    #[serde(default)]
    script: Option<String>,
    /// For a clip: `vertical` (720 × 1280, TikTok; the default) or `landscape`
    /// (1280 × 720, YouTube).
    #[serde(default)]
    orientation: Option<Orientation>,
}

/// A clip's shape.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Orientation {
    /// 720 × 1280, for TikTok.
    Vertical,
    /// 1280 × 720, for YouTube.
    Landscape,
}

/// The schema says what the handler checks: one of four shapes of request (`oneOf`),
/// a picture of a product or of a title, a voice-over of a product or of a script.
impl PartialSchema for GenerateRequest {
    fn schema() -> RefOr<Schema> {
        let business_id = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .description(Some("The business the media is for."))
        };
        let product_id = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .description(Some("A product of the business."))
        };
        let shapes =
            |shapes: &[&str]| ObjectBuilder::new().schema_type(Type::String).enum_values(Some(shapes.to_vec()));
        let variant = |title: &str, shape: &[&str]| {
            ObjectBuilder::new()
                .title(Some(title))
                .property("business_id", business_id())
                .required("business_id")
                .property("shape", shapes(shape))
                .required("shape")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let pictures = ["cover", "card"];
        let picture_of_product = variant("A picture of a product: its title and niche", &pictures)
            .property("product_id", product_id())
            .required("product_id");
        let niche = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(Title::MAX_CHARS))
            .description(Some("The line above the title: at most 200 characters."));
        let picture_of_title = variant("A picture of a title", &pictures)
            .property("title", Title::schema())
            .required("title")
            .property("niche", niche);
        let voice_of_product = variant("A voice-over of a product: its name and description", &["voice"])
            .property("product_id", product_id())
            .required("product_id");
        let script = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(boardroom_media::MAX_SCRIPT_CHARS))
            .pattern(Some(format!("[^{WHITESPACE_CLASS}]")))
            .description(Some("What to say: 1 to 2,000 characters, not all white space."));
        let voice_of_script =
            variant("A voice-over of a script", &["voice"]).property("script", script).required("script");
        let orientation = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["vertical", "landscape"]))
            .description(Some("`vertical` (720 × 1280, TikTok; the default) or `landscape` (1280 × 720, YouTube)."));
        let clip_of_product =
            variant("A promo clip of a product: its picture, its name and description captioned and spoken", &["clip"])
                .property("product_id", product_id())
                .required("product_id")
                .property("orientation", orientation);
        OneOfBuilder::new()
            .description(Some(
                "`POST /api/media/generate`: a `cover` or `card` of a `product_id` or of a `title` (with an optional \
                 `niche`), a `voice` over of a `product_id` or of a `script`, or a `clip` of a `product_id`.",
            ))
            .item(picture_of_product)
            .item(picture_of_title)
            .item(voice_of_product)
            .item(voice_of_script)
            .item(clip_of_product)
            .into()
    }
}

impl ToSchema for GenerateRequest {}

/// Generated media, kept in the business's files.
#[derive(Debug, Serialize, ToSchema)]
struct Generated {
    /// The file, as kept.
    file: MediaFile,
    /// Who made it: `offline` (drawn, spoken or assembled here: a template, espeak-ng,
    /// ffmpeg) or `remote` (the configured OpenAI-compatible API).
    source: &'static str,
    /// A picture's width in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    /// A picture's height in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    /// How long a voice-over or clip plays, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    /// Why it was not made the preferred way, when it was not: the remote API failed
    /// (and it was made offline), or Opus could not be encoded (and it is a WAV).
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
}

/// Makes a product's cover, a post's card, a voice-over or a product's promo clip in the
/// business's personality (its colours; its voice style's speed and pitch) and keeps it
/// as one of its files (counted against the tier's storage).
#[utoipa::path(
    post,
    path = "/api/media/generate",
    tag = "media",
    request_body = GenerateRequest,
    responses(
        (status = 201, description = "The media, kept as a PNG, an Ogg/Opus voice-over (WAV when the server cannot encode Opus) or an MP4 clip.", body = Generated),
        (status = 402, description = "`tier_limit`: the tier's file storage would be exceeded."),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
        (status = 422, description = "`validation`: not exactly one of `product_id` and `title` (a picture) or `script` (a voice-over), no `product_id` for a clip, a field the shape does not take, or a title or script that breaks its rule."),
        (status = 503, description = "`unavailable`: the media store is not answering, or the server lacks espeak-ng (voice-overs, clips) or ffmpeg (clips)."),
    )
)]
async fn generate(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<GenerateRequest>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let product = match request.product_id {
        Some(id) => {
            Some(state.app.store.product(tenant.id, id).await?.ok_or_else(|| ApiError::NotFound("product".into()))?)
        }
        None => None,
    };
    let personality = boardroom_personalities::of_business(&tenant.personality, &tenant.settings)
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("the business's personality")))?;
    let shape = request.shape;
    // Each shape of request takes its own fields only, as the schema's variants say.
    let orientation = request.orientation.is_some();
    let stray = match shape {
        MediaShape::Voice => {
            [("title", request.title.is_some()), ("niche", request.niche.is_some()), ("orientation", orientation)]
        }
        MediaShape::Cover | MediaShape::Card => [
            ("script", request.script.is_some()),
            ("niche", request.niche.is_some() && request.product_id.is_some()),
            ("orientation", orientation),
        ],
        MediaShape::Clip => [
            ("title", request.title.is_some()),
            ("niche", request.niche.is_some()),
            ("script", request.script.is_some()),
        ],
    };
    if let Some((field, _)) = stray.iter().find(|(_, present)| *present) {
        return Err(ApiError::invalid(field, format!("a {} request does not take `{field}` here", shape.as_str())));
    }
    let made = match shape {
        MediaShape::Voice => {
            let script = match (product, request.script) {
                (Some(product), None) => format!("{}. {}", product.title, product.description)
                    .chars()
                    .take(boardroom_media::MAX_SCRIPT_CHARS)
                    .collect(),
                (None, Some(script)) => script,
                _ => {
                    return Err(ApiError::invalid(
                        "script",
                        "give either `product_id` or `script`, not both or neither",
                    ));
                }
            };
            let (studio, refused) = studio_within_budget(&state, &caller, tenant.id).await;
            let made = studio.voice_over(script, personality.voice_style).await;
            Made::from_studio(made.map_err(|error| media_refusal("script", error))?, refused)
        }
        MediaShape::Clip => {
            let product = product.ok_or_else(|| ApiError::invalid("product_id", "a clip is of a product"))?;
            let clip_shape = match request.orientation {
                Some(Orientation::Landscape) => boardroom_media::ClipShape::Landscape,
                Some(Orientation::Vertical) | None => boardroom_media::ClipShape::Vertical,
            };
            let script: String = format!("{}. {}", product.title, product.description)
                .chars()
                .take(boardroom_media::MAX_SCRIPT_CHARS)
                .collect();
            let business = tenant.name.clone();
            let (speaker, clips) = (state.app.studio.speaker().clone(), state.app.studio.clips().clone());
            // espeak-ng and ffmpeg run as child processes, the frames are CPU work: off
            // the async threads.
            let clip = tokio::task::spawn_blocking(move || {
                let speech = speaker.speak(&script, personality.voice_style)?;
                let picture = boardroom_media::PictureRequest {
                    kind: boardroom_media::PictureKind::Cover,
                    title: &product.title,
                    niche: &product.niche,
                    business: &business,
                    personality: &personality,
                };
                let request =
                    boardroom_media::ClipRequest { shape: clip_shape, picture, script: &script, voice: &speech };
                clips.assemble(&request)
            })
            .await?
            .map_err(|error| media_refusal("product_id", error))?;
            Made {
                bytes: clip.mp4,
                content_type: "video/mp4",
                extension: "mp4",
                source: clip.source,
                size: Some(clip_shape.size()),
                duration_ms: Some(milliseconds(clip.duration)),
                usage: None,
                fallback: None,
            }
        }
        MediaShape::Cover | MediaShape::Card => {
            let (title, niche) = match (product, request.title) {
                (Some(product), None) => (product.title, product.niche),
                (None, Some(title)) => {
                    let title = names::parse_name(&title, Title::MAX_CHARS)
                        .map_err(|problem| ApiError::invalid("title", problem))?;
                    let niche = request.niche.unwrap_or_default();
                    if niche.chars().count() > Title::MAX_CHARS {
                        return Err(ApiError::invalid(
                            "niche",
                            format!("must be at most {} characters", Title::MAX_CHARS),
                        ));
                    }
                    (title, niche)
                }
                _ => {
                    return Err(ApiError::invalid(
                        "product_id",
                        "give either `product_id` or `title`, not both or neither",
                    ));
                }
            };
            let kind = match shape {
                MediaShape::Card => boardroom_media::PictureKind::SocialCard,
                _ => boardroom_media::PictureKind::Cover,
            };
            let order =
                boardroom_media::PictureOrder { kind, title, niche, business: tenant.name.clone(), personality };
            let (studio, refused) = studio_within_budget(&state, &caller, tenant.id).await;
            let made = studio.picture(order).await;
            Made::from_studio(made.map_err(|error| media_refusal("title", error))?, refused)
        }
    };
    let upload = MediaUpload {
        tenant_id: tenant.id,
        name: format!("{}-{}.{}", shape.as_str(), made.source.as_str(), made.extension),
        content_type: made.content_type.into(),
        bytes: Bytes::from(made.bytes),
    };
    if let Some(usage) = &made.usage {
        // The remote API's tokens count against the business like its swarm's.
        let call = NewLlmCall {
            tenant_id: tenant.id,
            agent: "media".into(),
            model: usage.model.clone(),
            prompt_tokens: i64::from(usage.input_tokens),
            completion_tokens: i64::from(usage.output_tokens),
            outcome: "ok".into(),
        };
        if let Err(error) = state.app.store.record_llm_call(call).await {
            tracing::warn!(%error, tenant = %tenant.id, "remote media tokens not stored");
        }
    }
    let file =
        state.app.media.keep(upload, storage_quota(&caller)).await.map_err(|error| tier_refusal(&caller, error))?;
    let generated = Generated {
        file,
        source: made.source.as_str(),
        width: made.size.map(|(width, _)| width),
        height: made.size.map(|(_, height)| height),
        duration_ms: made.duration_ms,
        fallback: made.fallback,
    };
    Ok((StatusCode::CREATED, Json(generated)).into_response())
}

fn milliseconds(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A request media cannot be made of as a 422 on `field`; a missing tool or a failed
/// rendering as 503 (the server's lack, not the caller's mistake).
fn media_refusal(field: &str, error: boardroom_media::MediaError) -> ApiError {
    match error {
        boardroom_media::MediaError::Invalid(problem) => ApiError::invalid(field, problem),
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// What a generation made, before it is kept.
struct Made {
    bytes: Vec<u8>,
    content_type: &'static str,
    extension: &'static str,
    source: boardroom_media::Source,
    size: Option<(u32, u32)>,
    duration_ms: Option<u64>,
    usage: Option<boardroom_media::RemoteUsage>,
    fallback: Option<String>,
}

impl Made {
    /// The studio's piece; `refused` says why the remote API was not asked.
    fn from_studio(made: boardroom_media::Made, refused: Option<String>) -> Self {
        Self {
            bytes: made.bytes,
            content_type: made.content_type,
            extension: made.extension,
            source: made.source,
            size: made.size,
            duration_ms: made.duration.map(milliseconds),
            usage: made.usage,
            fallback: made.fallback.or(refused),
        }
    }
}

/// The studio for one piece: with the remote API while the business's tier has LLM
/// tokens left today (its calls count against them), else offline, with why.
async fn studio_within_budget(
    state: &ApiState,
    caller: &CurrentUser,
    tenant: boardroom_memory::TenantId,
) -> (boardroom_media::Studio, Option<String>) {
    let studio = &state.app.studio;
    let Some(budget) = tiers::limits(caller.user.tier).llm_tokens_per_day.filter(|_| studio.is_remote()) else {
        return (studio.clone(), None);
    };
    let midnight = chrono::Utc::now().date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let spent: i64 = match state.app.store.llm_token_totals(tenant, midnight).await {
        Ok(totals) => totals.iter().map(|total| total.prompt_tokens + total.completion_tokens).sum(),
        // Unknown spending: the offline studio costs nothing.
        Err(error) => {
            return (studio.offline_twin(), Some(format!("made offline: today's LLM tokens unknown: {error}")));
        }
    };
    if u64::try_from(spent).unwrap_or(u64::MAX) >= budget {
        let why = format!(
            "made offline: the {} tier's {budget} LLM tokens a day are spent",
            tiers::tier_name(caller.user.tier)
        );
        return (studio.offline_twin(), Some(why));
    }
    (studio.clone(), None)
}

/// The caller's tier's file storage, in bytes (`None`: unlimited).
fn storage_quota(caller: &CurrentUser) -> Option<i64> {
    caller.user.tier.file_storage_bytes()
}

/// A quota refusal as the tier's 402, other errors as they are.
fn tier_refusal(caller: &CurrentUser, error: MemoryError) -> ApiError {
    match error {
        MemoryError::QuotaExceeded { used, adding, limit } => ApiError::TierLimit {
            message: format!(
                "the {} tier allows {} MB of files; {} MB are used and this file adds {:.1} MB",
                tiers::tier_name(caller.user.tier),
                limit / (1024 * 1024),
                used / (1024 * 1024),
                adding as f64 / (1024.0 * 1024.0),
            ),
            limit: u64::try_from(limit).unwrap_or_default(),
            tier: tiers::tier_name(caller.user.tier),
        },
        other => other.into(),
    }
}

/// The body of an upload: the file's bytes, at least one.
struct FileBytes;

impl PartialSchema for FileBytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .max_length(Some(MAX_FILE_BYTES))
            .description(Some("The file's bytes: 1 to 10 MiB."))
            .into()
    }
}

impl ToSchema for FileBytes {}

/// The `name` of an upload, as the document states it: the title rule (checked by the
/// handler, which also checks the name is UTF-8).
struct FileName;

impl PartialSchema for FileName {
    fn schema() -> RefOr<Schema> {
        let mut schema = Title::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.description = Some(
                "A file name: 1 to 200 characters, not all white space (it is kept trimmed); no control, \
                 bidirectional-override or zero-width characters."
                    .to_owned(),
            );
            object.examples = vec!["logo.png".into()];
        }
        schema
    }
}

impl ToSchema for FileName {}

/// `POST /api/media/upload?business_id=&name=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The business (tenant) the file is for.
    business_id: i64,
    /// The file's name, percent-encoded UTF-8 (422 otherwise, or when it breaks its rule).
    #[param(inline, value_type = FileName)]
    name: String,
}

/// Keeps a file for a business: the raw bytes as the body, at most 10 MiB, within the
/// owner's tier's file storage. Its type is read from the bytes; images are re-encoded.
#[utoipa::path(
    post,
    path = "/api/media/upload",
    tag = "media",
    params(UploadQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file's bytes. Their type is read from them; a `Content-Type` they contradict is refused (422 on `Content-Type`), `application/octet-stream` always agrees."),
    responses(
        (status = 201, description = "The file as kept (without its bytes).", body = MediaFile),
        (status = 402, description = "`tier_limit`: the tier's file storage would be exceeded."),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 413, description = "`payload_too_large`: over 10 MiB."),
        (status = 422, description = "`validation`: the name breaks the name rule, is not UTF-8 or names a folder; the file is empty; its bytes contradict its `Content-Type`; or it is an image that does not decode, or of a kind not taken (PNG, JPEG, GIF and WebP are)."),
        (status = 503, description = "`unavailable`: the media store is not answering."),
    )
)]
async fn upload(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<UploadQuery>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    if !names::query_value_is_utf8(uri.query().unwrap_or_default(), "name") {
        return Err(ApiError::invalid("name", "must be UTF-8 (percent-encoded)"));
    }
    let name = names::parse_name(&query.name, Title::MAX_CHARS)
        .and_then(|name| file_checks::file_name(&name))
        .map_err(|problem| ApiError::invalid("name", problem))?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: MAX_FILE_BYTES }
        } else {
            ApiError::invalid("body", rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::invalid("body", "the file is empty: send its bytes as the request body"));
    }
    let declared = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    // Decoding and encoding an image is CPU work: off the async threads.
    let checked = tokio::task::spawn_blocking(move || file_checks::check(declared.as_deref(), &body))
        .await?
        .map_err(|refusal| ApiError::invalid(refusal.field, refusal.problem))?;
    let file = MediaUpload {
        tenant_id: tenant.id,
        name,
        content_type: checked.content_type.to_owned(),
        bytes: Bytes::from(checked.bytes),
    };
    let kept =
        state.app.media.keep(file, storage_quota(&caller)).await.map_err(|error| tier_refusal(&caller, error))?;
    Ok((StatusCode::CREATED, Json(kept)).into_response())
}

/// One page of a business's files, without their bytes.
#[utoipa::path(
    get,
    path = "/api/media/list",
    tag = "media",
    params(BusinessPageQuery),
    responses(
        (status = 200, description = "One page of files.", body = Page<MediaFile>),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessPageQuery>,
) -> Result<Json<Page<MediaFile>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let files = state.app.store.media_files(tenant.id).await?;
    Ok(Json(query.page(files, |file| file.id)?))
}

/// A personality's voice, spoken once per process: the same line in the same style gives
/// the same sound, so each is made on its first request and kept.
static VOICE_PREVIEWS: std::sync::LazyLock<dashmap::DashMap<String, (&'static str, Bytes)>> =
    std::sync::LazyLock::new(dashmap::DashMap::new);

/// How a built-in personality sounds: a line in its own words, spoken in its voice style
/// (speed and pitch), as Ogg/Opus (WAV when the server cannot encode Opus).
#[utoipa::path(
    get,
    path = "/api/media/voices/{personality}",
    tag = "media",
    params(("personality" = String, Path, description = "A built-in personality, by name, any case: `coachty`, `hustlebot`, `luxuryscaler`.")),
    responses(
        (status = 200, description = "The line, spoken; shown inline, cached by the browser for a day. A `Range` of bytes is honoured as by the downloads.", content((Vec<u8> = "audio/ogg"), (Vec<u8> = "audio/wav"))),
        (status = 206, description = "The bytes of the one `Range` asked for, with `Content-Range`.", content((Vec<u8> = "audio/ogg"), (Vec<u8> = "audio/wav"))),
        (status = 416, description = "The `Range` lies outside the file; `Content-Range: bytes */<size>` says its size."),
        (status = 404, description = "`not_found`: no built-in personality of that name."),
        (status = 503, description = "`unavailable`: the server lacks espeak-ng."),
    )
)]
async fn voice_preview(
    _caller: CurrentUser,
    Path(name): Path<String>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let personality = boardroom_personalities::find(&name).map_err(|_| ApiError::NotFound("personality".into()))?;
    let key = personality.name.to_lowercase();
    let cached = VOICE_PREVIEWS.get(&key).map(|entry| entry.value().clone());
    let (content_type, bytes) = match cached {
        Some(kept) => kept,
        None => {
            let line = format!("Hello, I am {}. {}", personality.name, personality.marketing_approach);
            let line: String = line.chars().take(boardroom_media::MAX_SCRIPT_CHARS).collect();
            let style = personality.voice_style;
            // espeak-ng and ffmpeg run as child processes: off the async threads.
            let file = tokio::task::spawn_blocking(move || {
                let speech = boardroom_media::Speaker::default().speak(&line, style)?;
                Ok::<_, boardroom_media::MediaError>(boardroom_media::ClipMaker::default().voice_file(&speech))
            })
            .await?
            .map_err(|error| ApiError::Unavailable(error.to_string()))?;
            let made = (file.content_type, Bytes::from(file.bytes));
            // A WAV stands in only while Opus cannot be made: keep Opus alone.
            if file.fallback.is_none() {
                VOICE_PREVIEWS.insert(key.clone(), made.clone());
            }
            made
        }
    };
    let disposition =
        format!("inline; filename=\"{key}-voice.{}\"", if content_type == "audio/ogg" { "ogg" } else { "wav" });
    let disposition = HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("inline"));
    let etag = HeaderValue::from_str(&format!("\"{key}-{}-{}\"", content_type.len(), bytes.len()))
        .unwrap_or(HeaderValue::from_static("\"\""));
    let mut response = served(&request_headers, HeaderValue::from_static(content_type), disposition, etag, bytes);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    Ok(response)
}

/// A file's bytes, as a download (`Content-Disposition: attachment`). A `Range` of
/// bytes is honoured (one range; `If-Range` with the file's `ETag`), so players seek and
/// read a file's length from its end.
#[utoipa::path(
    get,
    path = "/api/media/{id}",
    tag = "media",
    params(("id" = i64, Path, description = "The file's id."), BusinessQuery),
    responses(
        (status = 200, description = "The bytes, under the file's type as read from them when it was kept (`image/png`, `audio/ogg`, `video/mp4`, `text/plain; charset=utf-8`, `application/octet-stream`, …).", body = Vec<u8>, content_type = "*/*"),
        (status = 206, description = "The bytes of the one `Range` asked for, with `Content-Range`.", body = Vec<u8>, content_type = "*/*"),
        (status = 404, description = "`not_found`: no such business or file, or not the caller's."),
        (status = 416, description = "The `Range` lies outside the file; `Content-Range: bytes */<size>` says its size."),
    )
)]
async fn download(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (file, bytes) = state.app.media.read(tenant.id, id).await?.ok_or_else(|| ApiError::NotFound("file".into()))?;
    let content_type =
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&attachment(&file.name)).unwrap_or(HeaderValue::from_static("attachment"));
    let etag = HeaderValue::from_str(&format!("\"{}\"", file.sha256)).unwrap_or(HeaderValue::from_static("\"\""));
    Ok(served(&request_headers, content_type, disposition, etag, bytes))
}

/// `bytes` as the answer to a GET with `request_headers`: the whole, or the one range
/// asked for (206), or 416 for a range outside them.
fn served(
    request_headers: &HeaderMap,
    content_type: HeaderValue,
    disposition: HeaderValue,
    etag: HeaderValue,
    bytes: Bytes,
) -> Response {
    let size = bytes.len() as u64;
    let range = match wanted_range(request_headers, &etag, size) {
        Ok(range) => range,
        Err(()) => {
            let unsatisfied =
                HeaderValue::from_str(&format!("bytes */{size}")).unwrap_or(HeaderValue::from_static("*"));
            return (StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, unsatisfied)]).into_response();
        }
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::ETAG, etag),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    match range {
        None => (headers, bytes).into_response(),
        Some(range) => {
            let served = format!("bytes {}-{}/{size}", range.start(), range.end());
            let served = HeaderValue::from_str(&served).unwrap_or(HeaderValue::from_static("*"));
            // `validate` keeps the range within the file.
            let part = bytes.slice(*range.start() as usize..=*range.end() as usize);
            (StatusCode::PARTIAL_CONTENT, headers, [(header::CONTENT_RANGE, served)], part).into_response()
        }
    }
}

/// The one byte range a download asks for: `Ok(None)` for the whole file (no `Range`,
/// one that does not parse or asks for several ranges, which a server may ignore, or an
/// `If-Range` naming another version); `Err` when it lies outside the file.
fn wanted_range(
    headers: &HeaderMap,
    etag: &HeaderValue,
    size: u64,
) -> Result<Option<std::ops::RangeInclusive<u64>>, ()> {
    let Some(range) = headers.get(header::RANGE).and_then(|value| value.to_str().ok()) else {
        return Ok(None);
    };
    if headers.get(header::IF_RANGE).is_some_and(|version| version != etag) {
        return Ok(None);
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Ok(None);
    };
    if parsed.ranges.len() != 1 {
        return Ok(None);
    }
    match parsed.validate(size) {
        Ok(mut ranges) => Ok(ranges.pop()),
        Err(_) => Err(()),
    }
}

/// Deletes a file; its storage is free at once.
#[utoipa::path(
    delete,
    path = "/api/media/{id}",
    tag = "media",
    params(("id" = i64, Path, description = "The file's id."), BusinessQuery),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`not_found`: no such business or file, or not the caller's."),
    )
)]
async fn remove(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
) -> Result<StatusCode, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    state.app.media.remove(tenant.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The name as a quoted-string-safe ASCII file name (others become `_`).
fn ascii_file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect()
}

/// `Content-Disposition` for a download of `name`: the ASCII stand-in for old clients,
/// and the name itself in UTF-8 (RFC 6266's `filename*`) where it is not plain ASCII.
fn attachment(name: &str) -> String {
    let ascii = ascii_file_name(name);
    if ascii == name {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_cannot_break_out_of_their_header() {
        assert_eq!(ascii_file_name("logo \"final\".png"), "logo _final_.png");
        assert_eq!(ascii_file_name("ünïcode\r\n.txt"), "_n_code__.txt");
        assert_eq!(attachment("logo.png"), "attachment; filename=\"logo.png\"");
        assert_eq!(attachment("café.png"), "attachment; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9.png");
    }
}
