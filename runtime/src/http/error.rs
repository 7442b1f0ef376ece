//! The one HTTP error: every failure a route can meet becomes an [`ApiError`], which
//! knows its status and renders the same JSON body everywhere:
//!
//! ```json
//! { "error": { "code": "validation", "message": "…", "fields": { "email": "is not an e-mail address" } } }
//! ```
//!
//! `code` is a stable, machine-readable word; `message` is for people; `fields` maps
//! each offending input field (a JSON path such as `settings.interval` for nested
//! ones) to what is wrong with it, and is `{}` when no field is at fault.
//!
//! Server faults (5xx) are logged with their cause and answered with a generic
//! message: a database error, a file path or a stack of causes never reaches a client.
//!
//! A database that cannot be reached (down, refusing or dropping connections, no free
//! connection within the pool's acquire time-out, locked by another process) is a 503
//! `unavailable` with `Retry-After`, like every 503, wherever the error was wrapped:
//! the request failed because of the moment, not because of a bug, and the same request
//! succeeds once the database is back.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boardroom_memory::MemoryError;
use serde::Serialize;
use utoipa::ToSchema;

/// What every 503 tells the client to wait before retrying, in seconds: a few pool
/// acquire time-outs, enough for a restarting database or a moved lock.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Offending input fields, each with what is wrong with it.
pub(crate) type Fields = BTreeMap<String, String>;

/// The body of every error answer: `{"error": {"code", "message", "fields"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    error: ErrorDetail,
}

/// What went wrong, for programs (`code`, `fields`) and for people (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// A stable, machine-readable word: `validation`, `not_found`, `csrf`, `rate_limited`…
    #[schema(example = "validation")]
    code: String,
    /// What happened and what to do, in words.
    message: String,
    /// Each offending input field (a JSON path for nested ones) and what is wrong with it;
    /// `{}` when no field is at fault.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"email": "is required"}))]
    fields: Fields,
}

impl ErrorBody {
    /// The body of an error with this code, message and fields.
    pub(crate) fn new(code: &str, message: String, fields: Fields) -> Self {
        Self { error: ErrorDetail { code: code.to_owned(), message, fields } }
    }
}

/// Everything a route can answer besides success.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: the request is malformed (not JSON, a bad query string or path segment).
    #[error("{message}")]
    BadRequest {
        /// `invalid_json`, `invalid_query`, `invalid_path`...
        code: &'static str,
        /// What was wrong.
        message: String,
        /// The fields at fault, when known.
        fields: Fields,
    },
    /// 401: no credentials, or credentials that do not (or no longer) authenticate.
    #[error("{message}")]
    Unauthorized {
        /// `unauthorized`, `invalid_credentials`, `invalid_token`...
        code: &'static str,
        /// What to do about it.
        message: String,
    },
    /// 403: authenticated, or not needing to be, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// `forbidden`, `csrf`, `invite_required`, `invite_rejected`, `ip_not_allowed`...
        code: &'static str,
        /// Why.
        message: String,
        /// The fields at fault, when one is.
        fields: Fields,
    },
    /// 404: no such thing, or not the caller's (the two are indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: a unique value is taken.
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken.
        field: String,
    },
    /// 409: the thing is no longer in a state that allows this (an approval already
    /// answered, expired or carried out).
    #[error("{message}")]
    StateConflict {
        /// `already_decided`...
        code: &'static str,
        /// What state it is in.
        message: String,
    },
    /// 402: the caller's subscription tier does not allow this (one more product,
    /// store or campaign than it counts).
    #[error("{message}")]
    TierLimit {
        /// What the tier allows, in words.
        message: String,
        /// The limit reached.
        limit: u64,
        /// The tier's name.
        tier: &'static str,
    },
    /// 413: the body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415: a body that is not `application/json`.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 422: well-formed JSON whose values are wrong (missing, unknown, out of range).
    #[error("the request has invalid fields")]
    Validation(Fields),
    /// 429: too many attempts; try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// What was limited.
        message: String,
        /// When to try again (sent as `Retry-After`, rounded up to whole seconds).
        retry_after: Duration,
    },
    /// 503: a backing service (the database, the session store, an agent) does not
    /// answer; sent with `Retry-After`. Logged, not shown.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 503: the business's swarm runs on the node named here. Answered to the client
    /// only when the request could not be passed on to that node (see `forward`).
    #[error("the business's swarm runs on node {0}; try again shortly")]
    HeldElsewhere(String),
    /// 500: a bug or an unexpected failure. Logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 for one field.
    pub(crate) fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::Validation(Fields::from([(field.to_owned(), problem.into())]))
    }

    /// A 400 `invalid_query` for one query parameter whose value the document's schema
    /// refuses (out of its range, say), like the extractor's own.
    pub(crate) fn invalid_query(field: &str, problem: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "invalid_query",
            message: "the query string has an invalid parameter".to_owned(),
            fields: Fields::from([(field.to_owned(), problem.into())]),
        }
    }

    /// A 403 with a code and a reason.
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into(), fields: Fields::new() }
    }

    /// A 401 with a code and what to do.
    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }

    /// The HTTP status this error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::StateConflict { .. } => StatusCode::CONFLICT,
            Self::TierLimit { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::HeldElsewhere(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code of the body.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::StateConflict { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict { .. } => "conflict",
            Self::TierLimit { .. } => "tier_limit",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) | Self::HeldElsewhere(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn fields(&self) -> Fields {
        match self {
            Self::BadRequest { fields, .. } | Self::Forbidden { fields, .. } | Self::Validation(fields) => {
                fields.clone()
            }
            Self::Conflict { field } => Fields::from([(field.clone(), "is already taken".to_owned())]),
            Self::TierLimit { limit, tier, .. } => {
                Fields::from([("limit".to_owned(), limit.to_string()), ("tier".to_owned(), (*tier).to_owned())])
            }
            _ => Fields::new(),
        }
    }
}

/// Whether a database outage is somewhere in this chain of causes: a storage error
/// wrapped by a route's `context(…)` still means "try again shortly".
fn caused_by_outage(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(MemoryError::Database(database)) = cause.downcast_ref::<MemoryError>() {
            return boardroom_memory::is_unavailable(database);
        }
        cause.downcast_ref::<sqlx::Error>().is_some_and(boardroom_memory::is_unavailable)
    })
}

impl ApiError {
    /// An internal error caused by a database outage, as the 503 it is.
    fn outage_as_unavailable(self) -> Self {
        match self {
            Self::Internal(error) if caused_by_outage(&error) => Self::Unavailable(format!("{error:#}")),
            other => other,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = self.outage_as_unavailable();
        let status = this.status();
        let message = match &this {
            // The cause stays in the log: it may name tables, hosts or files.
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                "internal error; it has been logged".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::error!(%cause, "a backing service is unavailable");
                "a backing service is unavailable; try again shortly".to_owned()
            }
            // Node names and addresses are the operator's, not the client's.
            Self::HeldElsewhere(node) => {
                tracing::warn!(%node, "the business's swarm runs on another node, which could not be reached");
                "the business's swarm runs on another node; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody::new(this.code(), message, this.fields());
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &this {
            // Whole seconds, rounded up, never 0: a client that waits this long succeeds.
            Self::TooManyRequests { retry_after, .. } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            Self::Unavailable(_) | Self::HeldElsewhere(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Self::HeldElsewhere(node) = this {
            response.extensions_mut().insert(super::forward::HeldBy(node));
        }
        if let Some(value) = retry_after.and_then(|seconds| HeaderValue::from_str(&seconds.max(1).to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<MemoryError> for ApiError {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::NotFound(what) => Self::NotFound(what),
            MemoryError::Conflict(field) => Self::Conflict { field },
            busy @ MemoryError::Busy(_) => Self::Unavailable(busy.to_string()),
            MemoryError::InviteRejected(reason) => Self::Forbidden {
                code: "invite_rejected",
                message: format!("invite code rejected: {reason}"),
                fields: Fields::from([("invite_code".to_owned(), reason.to_string())]),
            },
            MemoryError::Database(error) if boardroom_memory::is_unavailable(&error) => {
                Self::Unavailable(format!("database: {error}"))
            }
            MemoryError::Media(detail) => {
                // The detail names folders and endpoints: for the logs, not the client.
                tracing::warn!(%detail, "the media store failed a request");
                Self::Unavailable("the media store is not answering; try again shortly".into())
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(anyhow::Error::new(error).context("a blocking task failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_memory::InviteRejection;

    async fn body_of(error: ApiError) -> (StatusCode, Option<HeaderValue>, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, retry, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn storage_errors_map_to_their_statuses_and_name_the_field() {
        let (status, _, body) = body_of(MemoryError::Conflict("email".into()).into()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["fields"]["email"], "is already taken");

        let (status, _, body) = body_of(MemoryError::InviteRejected(InviteRejection::Expired).into()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "invite_rejected");
        assert_eq!(body["error"]["fields"]["invite_code"], "code has expired");

        let (status, _, body) = body_of(MemoryError::NotFound("tenant".into()).into()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }

    #[tokio::test]
    async fn server_faults_are_answered_without_their_cause() {
        let error = MemoryError::Corrupt("row 7 of secret_table at /var/db".into());
        let (status, _, body) = body_of(error.into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = body.to_string();
        assert!(!text.contains("secret_table") && !text.contains("/var/db"), "{text}");
        assert_eq!(body["error"]["code"], "internal");
    }

    #[tokio::test]
    async fn a_database_outage_is_503_with_retry_after_however_it_was_wrapped() {
        let outages = [
            ApiError::from(MemoryError::Database(sqlx::Error::PoolTimedOut)),
            ApiError::from(MemoryError::Database(sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()))),
            ApiError::Internal(
                anyhow::Error::new(MemoryError::Database(sqlx::Error::PoolClosed)).context("failed to list products"),
            ),
        ];
        for error in outages {
            let shown = format!("{error:?}");
            let (status, retry, body) = body_of(error).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{shown}");
            assert_eq!(body["error"]["code"], "unavailable", "{shown}");
            assert_eq!(retry.as_ref().and_then(|v| v.to_str().ok()), Some("5"), "{shown}");
            assert!(!body.to_string().contains("pool"), "the cause stays in the log: {body}");
        }
        let (status, retry, _) = body_of(MemoryError::Database(sqlx::Error::RowNotFound).into()).await;
        assert_eq!((status, retry), (StatusCode::INTERNAL_SERVER_ERROR, None));
    }

    #[tokio::test]
    async fn a_tier_limit_is_402_naming_the_limit() {
        let error = ApiError::TierLimit { message: "the free tier allows 5 products".into(), limit: 5, tier: "free" };
        let (status, _, body) = body_of(error).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(body["error"]["code"], "tier_limit");
        assert_eq!(body["error"]["fields"]["limit"], "5");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("free tier allows 5 products")));
    }

    #[tokio::test]
    async fn a_rate_limit_says_when_to_retry_in_whole_seconds_rounded_up() {
        let error =
            ApiError::TooManyRequests { message: "slow down".into(), retry_after: Duration::from_millis(11_200) };
        let (status, retry, _) = body_of(error).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_ref().and_then(|v| v.to_str().ok()), Some("12"));
    }
}
