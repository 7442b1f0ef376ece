//! The HTTP transport under async-openai.
//!
//! async-openai 0.43 wraps its default transport in its own retry layer (3 retries of
//! 429/5xx) and turns error responses into `ApiError`s that keep the status but drop
//! the headers, so `Retry-After` is lost and retries would multiply with ours. With its
//! `middleware` feature the transport is ours to install: [`ErrorCapturingTransport`]
//! sends each request exactly once and turns every non-2xx response into an
//! [`HttpFailure`] carrying the status, the parsed `Retry-After` and the server's
//! message, boxed inside `OpenAIError::Boxed`. The retry policy lives in `remote`,
//! above the client, because a fallback to another model changes the request body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

/// Longest server message kept in an error; error pages can be large.
const MAX_MESSAGE_CHARS: usize = 300;

/// A response with a non-2xx status.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HttpFailure {
    pub(super) status: StatusCode,
    /// How long the server asked us to wait, from `Retry-After`.
    pub(super) retry_after: Option<Duration>,
    /// `error.message` of an OpenAI-style error body, or the start of the body.
    pub(super) message: String,
    /// `error.code` or `error.type`, when the body has one (e.g. `insufficient_quota`).
    pub(super) code: Option<String>,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpFailure {}

/// A tower service that executes each request once with `reqwest` and reports any
/// non-2xx response as an [`HttpFailure`].
#[derive(Debug, Clone)]
pub(super) struct ErrorCapturingTransport {
    client: reqwest::Client,
}

impl ErrorCapturingTransport {
    pub(super) fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

impl tower::Service<HttpRequestFactory> for ErrorCapturingTransport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            let response = client.execute(request).await.map_err(OpenAIError::Reqwest)?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status();
            let retry_after = retry_after(response.headers(), Utc::now());
            // A body that cannot be read still leaves the status to act on.
            let body = response.text().await.unwrap_or_default();
            let (message, code) = error_details(&body);
            let failure = HttpFailure { status, retry_after, message, code };
            Err(OpenAIError::Boxed(Box::new(failure)))
        })
    }
}

/// Reads `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative
/// to `now`. A date in the past means "now"; an unreadable value is ignored.
pub(super) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Not allowed by the RFC, but some servers send fractional seconds.
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is valid RFC 2822.
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some((date.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

/// The message and code of an OpenAI/OpenRouter error body
/// (`{"error": {"message", "code", "type"}}`), or the start of any other body.
fn error_details(body: &str) -> (String, Option<String>) {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|value| value.get("error"));
    let message = error.and_then(|error| error.get("message")).and_then(Value::as_str).unwrap_or(body);
    let code = error.and_then(|error| {
        ["code", "type"].into_iter().find_map(|key| match error.get(key)? {
            Value::String(code) => Some(code.clone()),
            Value::Number(code) => Some(code.to_string()),
            _ => None,
        })
    });
    (shorten(message.trim()), code)
}

/// At most [`MAX_MESSAGE_CHARS`] characters, with an ellipsis when cut.
pub(super) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(retry_after));
        headers
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("1994-11-06T08:49:30Z").expect("a valid date").with_timezone(&Utc)
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(retry_after(&headers("7"), now()), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_reads_an_http_date_relative_to_now() {
        let wait = retry_after(&headers("Sun, 06 Nov 1994 08:49:37 GMT"), now());
        assert_eq!(wait, Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let wait = retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now());
        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn unreadable_retry_after_is_ignored() {
        assert_eq!(retry_after(&headers("soon"), now()), None);
        assert_eq!(retry_after(&headers("-1"), now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn error_details_read_openai_and_openrouter_bodies() {
        let (message, code) = error_details(r#"{"error":{"message":"no credits","code":402,"metadata":{}}}"#);
        assert_eq!(message, "no credits");
        assert_eq!(code.as_deref(), Some("402"));

        let (message, code) = error_details(r#"{"error":{"message":"quota","type":"insufficient_quota","code":null}}"#);
        assert_eq!(message, "quota");
        assert_eq!(code.as_deref(), Some("insufficient_quota"));

        let (message, code) = error_details("<html>bad gateway</html>");
        assert_eq!(message, "<html>bad gateway</html>");
        assert_eq!(code, None);
    }

    #[test]
    fn shorten_cuts_long_messages() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 5);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(short.ends_with('…'));
    }
}
