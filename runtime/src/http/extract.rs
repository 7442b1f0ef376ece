//! Extractors whose failures are [`ApiError`]s, so a bad request gets the same JSON
//! error body as every other failure, naming the field and the problem.
//!
//! - [`Json`] (and `Option<Json<_>>` for bodies that may be left out): the body must be `application/json` (else 415), within the body limit
//!   (else 413), syntactically JSON (else 400 `invalid_json`) and of the right shape
//!   (else 422 `validation`, with the JSON path of the field at fault: `name`,
//!   `settings.interval`, `items[2].price`).
//! - [`Query`]: the query string, 400 `invalid_query` naming the parameter.
//! - [`Path`]: path segments, 400 `invalid_path` naming the segment.
//!
//! Every request type is declared `#[serde(deny_unknown_fields)]`: a misspelt or
//! unsupported field is refused (422 naming it) rather than silently ignored.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, Fields};
use super::strict_json::{Strict, UniqueKeys};

/// Largest request body accepted, in bytes. Every JSON body of this API is small; a
/// larger one is a mistake or an attack.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body (or response body) with the API's error model.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Json<T>(pub(crate) T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES }
            } else {
                ApiError::BadRequest {
                    code: "invalid_body",
                    message: format!("the request body could not be read: {}", rejection.body_text()),
                    fields: Fields::new(),
                }
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// `Option<Json<T>>`: a request with neither a body nor a `Content-Type` is `None` (all
/// defaults); anything else is read as [`Json`] would.
impl<T, S> OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if request.headers().contains_key(header::CONTENT_TYPE) {
            return <Self as FromRequest<S>>::from_request(request, state).await.map(Some);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES }
            } else {
                ApiError::UnsupportedMediaType
            }
        })?;
        if bytes.is_empty() { Ok(None) } else { Err(ApiError::UnsupportedMediaType) }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json`, or any `application/*+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes a body, turning serde's errors into 400 (syntax) or 422 (shape) with
/// the path of the field at fault. The body is read as its JSON Schema reads it (see
/// `strict_json`): a struct only from an object, `1.0` as an integer, no repeated key.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let classify = |path: String, error: serde_json::Error| match error.classify() {
        serde_json::error::Category::Data => shape_error(&path, &error.to_string()),
        _ => syntax_error(&error),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let UniqueKeys(value) = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| classify(error.path().to_string(), error.into_inner()))?;
    deserializer.end().map_err(|error| syntax_error(&error))?;
    serde_path_to_error::deserialize(Strict(&value))
        .map_err(|error| classify(error.path().to_string(), error.into_inner()))
}

fn syntax_error(error: &serde_json::Error) -> ApiError {
    let message = if error.is_eof() && error.line() == 1 && error.column() == 0 {
        "the request body is empty; send a JSON object".to_owned()
    } else {
        format!("the request body is not valid JSON: {error}")
    };
    ApiError::BadRequest { code: "invalid_json", message, fields: Fields::new() }
}

/// A 422 naming the field. serde reports a missing field at the path of the object that
/// holds it (an unknown one at its own path), with the field's name in backticks in the
/// message; the field's own path is more useful to a client.
fn shape_error(path: &str, message: &str) -> ApiError {
    // serde_json appends the position; the field path says more.
    let message = message.split(" at line ").next().unwrap_or(message);
    let parent = if path == "." { String::new() } else { path.to_owned() };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else if parent == name || parent.ends_with(&format!(".{name}")) {
            parent.clone()
        } else {
            format!("{parent}.{name}")
        }
    };
    let (field, problem) = if let Some(name) = quoted_after(message, "missing field ") {
        (join(name), "is required".to_owned())
    } else if let Some(name) = quoted_after(message, "unknown field ") {
        let expected = message.split_once(", expected ").map(|(_, rest)| rest);
        let problem = match expected {
            Some(expected) => format!("is not a known field (expected {expected})"),
            None => "is not a known field".to_owned(),
        };
        (join(name), problem)
    } else if parent.is_empty() {
        ("body".to_owned(), message.to_owned())
    } else {
        (parent, message.to_owned())
    };
    ApiError::Validation(Fields::from([(field, problem)]))
}

/// The name in backticks right after `prefix`: "missing field `email`" → `email`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// A query string with the API's error model.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Query).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            let field = match (quoted_after(&message, "missing field "), quoted_after(&message, "unknown field ")) {
                (Some(name), _) | (None, Some(name)) => name.to_owned(),
                _ if path == "." => "query".to_owned(),
                _ => path,
            };
            ApiError::BadRequest {
                code: "invalid_query",
                message: "the query string has an invalid parameter".to_owned(),
                fields: Fields::from([(field, message)]),
            }
        })
    }
}

/// Path parameters with the API's error model: a segment that does not parse is a 400
/// naming the parameter (`{"id": "\"abc\" is not a valid i64"}`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                // A single-valued `Path<T>` reports no key; the route's only parameter is it.
                let only_key = RawPathParams::from_request_parts(parts, state).await.ok().and_then(|raw| {
                    let keys: Vec<&str> = raw.iter().map(|(key, _)| key).collect();
                    (keys.len() == 1).then(|| keys[0].to_owned())
                });
                Err(path_error(&rejection, only_key))
            }
        }
    }
}

fn path_error(rejection: &PathRejection, only_key: Option<String>) -> ApiError {
    let problem = |value: &str, expected: &str| format!("{value:?} is not a valid {expected}");
    let fields = match rejection {
        PathRejection::FailedToDeserializePathParams(error) => match error.kind() {
            ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                Fields::from([(key.clone(), problem(value, expected_type))])
            }
            ErrorKind::ParseError { value, expected_type } => {
                Fields::from([(only_key.unwrap_or_else(|| "path".to_owned()), problem(value, expected_type))])
            }
            ErrorKind::ParseErrorAtIndex { index, value, expected_type } => {
                Fields::from([(index.to_string(), problem(value, expected_type))])
            }
            _ => Fields::new(),
        },
        _ => Fields::new(),
    };
    if fields.is_empty() && rejection.status().is_server_error() {
        return ApiError::Internal(anyhow::anyhow!("path extraction failed: {}", rejection.body_text()));
    }
    ApiError::BadRequest { code: "invalid_path", message: "the path has an invalid segment".to_owned(), fields }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Signup {
        email: String,
        age: u8,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        limit: u32,
    }

    fn fields_of(body: &str) -> (StatusCode, Fields) {
        match parse_json::<Signup>(body.as_bytes()) {
            Ok(value) => panic!("{body} parsed as {value:?}"),
            Err(error) => {
                let status = error.status();
                match error {
                    ApiError::Validation(fields) | ApiError::BadRequest { fields, .. } => (status, fields),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    #[test]
    fn shape_errors_name_the_field_by_its_json_path() {
        let (status, fields) = fields_of(r#"{"age": 3}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields.get("email").map(String::as_str), Some("is required"));

        let (_, fields) = fields_of(r#"{"email": "a@b.c", "age": 3, "nickname": "x"}"#);
        assert!(fields["nickname"].starts_with("is not a known field"), "{fields:?}");

        let (_, fields) = fields_of(r#"{"email": "a@b.c", "age": 300}"#);
        assert!(fields["age"].contains("300"), "{fields:?}");

        let (_, fields) = fields_of(r#"{"email": "a@b.c", "age": 3, "nested": {"limit": -1}}"#);
        assert!(fields.contains_key("nested.limit"), "{fields:?}");

        let (_, fields) = fields_of(r#"{"email": "a@b.c", "age": 3, "nested": {}}"#);
        assert_eq!(fields.get("nested.limit").map(String::as_str), Some("is required"));

        let (_, fields) = fields_of(r#""just a string""#);
        assert!(fields["body"].contains("expected struct Signup"), "{fields:?}");
    }

    #[test]
    fn syntax_errors_are_400() {
        for body in ["{\"email\": ", "not json", "", r#"{"email": "a@b.c", "age": 3} trailing"#] {
            let error = parse_json::<Signup>(body.as_bytes()).expect_err(body);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(error.code(), "invalid_json");
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().expect("header value"));
            assert_eq!(is_json(&headers), expected, "{value}");
        }
    }
}
