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
use boardroom_memory::{MediaFile, MediaUpload, MemoryError};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessPageQuery, BusinessQuery, Page, owned_business};
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::fields::Title;
use crate::http::file_checks;
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
        .routes(routes!(download, remove))
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
    let limit = tiers::limits(caller.user.tier).file_storage_mb;
    let quota_bytes = limit.map(|mb| i64::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX));
    let file = MediaUpload {
        tenant_id: tenant.id,
        name,
        content_type: checked.content_type.to_owned(),
        bytes: Bytes::from(checked.bytes),
    };
    let kept = state.app.media.keep(file, quota_bytes).await.map_err(|error| match error {
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
    })?;
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

/// A file's bytes, as a download (`Content-Disposition: attachment`).
#[utoipa::path(
    get,
    path = "/api/media/{id}",
    tag = "media",
    params(("id" = i64, Path, description = "The file's id."), BusinessQuery),
    responses(
        (status = 200, description = "The bytes, under the file's `Content-Type`.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, description = "`not_found`: no such business or file, or not the caller's."),
    )
)]
async fn download(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (file, bytes) = state.app.media.read(tenant.id, id).await?.ok_or_else(|| ApiError::NotFound("file".into()))?;
    let content_type =
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&attachment(&file.name)).unwrap_or(HeaderValue::from_static("attachment"));
    let etag = HeaderValue::from_str(&format!("\"{}\"", file.sha256)).unwrap_or(HeaderValue::from_static("\"\""));
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition), (header::ETAG, etag)];
    Ok((headers, bytes).into_response())
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
