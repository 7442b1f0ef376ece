//! `/api/media/*`: files a business keeps (product images, marketing media), counted
//! against the owner's tier's file storage.
//!
//! An upload is the raw file as the request body (any `Content-Type`, which is kept),
//! at most 10 MiB, named by `?name=`; the bytes are stored in the database with their
//! SHA-256. Over the tier's storage the upload is refused with 402 `tier_limit`, and
//! two uploads at once cannot both squeeze under it. Downloads are served as
//! attachments (`Content-Disposition: attachment`, `nosniff`), so an uploaded HTML
//! file is never rendered as one of our pages.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use boardroom_memory::{MediaFile, MemoryError, NewMediaFile};
use serde::Deserialize;

use super::{BusinessPageQuery, BusinessQuery, Page, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::auth::secret::sha256_hex;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::tiers;

/// Largest file one upload may carry.
pub(crate) const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Longest file name kept.
const MAX_NAME_CHARS: usize = 200;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/media/upload", post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES)))
        .route("/api/media/list", get(list))
        .route("/api/media/{id}", get(download))
        .route("/api/media/{id}", delete(remove))
}

/// `POST /api/media/upload?business_id=&name=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    business_id: i64,
    name: String,
}

async fn upload(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let name = query.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", format!("must be 1 to {MAX_NAME_CHARS} printable characters")));
    }
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
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty() && value.len() <= 100)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let limit = tiers::limits(caller.user.tier).file_storage_mb;
    let quota_bytes = limit.map(|mb| i64::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX));
    let file = NewMediaFile {
        tenant_id: tenant.id,
        name: name.to_owned(),
        content_type,
        sha256: sha256_hex(&body),
        content: body.to_vec(),
    };
    let kept = state.app.store.create_media_file(file, quota_bytes).await.map_err(|error| match error {
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

/// `GET /api/media/list?business_id=&after=&limit=`: the files, without their bytes.
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessPageQuery>,
) -> Result<Json<Page<MediaFile>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let files = state.app.store.media_files(tenant.id).await?;
    Ok(Json(query.page(files, |file| file.id)?))
}

/// `GET /api/media/{id}?business_id=`: the file's bytes, as a download.
async fn download(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let (file, bytes) =
        state.app.store.media_file_content(tenant.id, id).await?.ok_or_else(|| ApiError::NotFound("file".into()))?;
    let content_type =
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", ascii_file_name(&file.name)))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let etag = HeaderValue::from_str(&format!("\"{}\"", file.sha256)).unwrap_or(HeaderValue::from_static("\"\""));
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition), (header::ETAG, etag)];
    Ok((headers, bytes).into_response())
}

/// `DELETE /api/media/{id}?business_id=`: frees its storage at once.
async fn remove(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
) -> Result<StatusCode, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    state.app.store.delete_media_file(tenant.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The name as a quoted-string-safe ASCII file name (others become `_`).
fn ascii_file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_cannot_break_out_of_their_header() {
        assert_eq!(ascii_file_name("logo \"final\".png"), "logo _final_.png");
        assert_eq!(ascii_file_name("ünïcode\r\n.txt"), "_n_code__.txt");
    }
}
