//! What the REST adapters (Stripe, Gumroad) share at the HTTP edge: checking a base
//! address, reading `Retry-After`, form bodies, and turning a request that got no answer
//! into an outage.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::{AdapterError, Platform};

/// `base_url` as an origin with no trailing `/` (`https://api.stripe.com`), or a
/// rejection saying what is wrong with it. `what` names the address in the message.
pub(crate) fn origin(platform: Platform, what: &str, base_url: &str, example: &str) -> Result<String, AdapterError> {
    let refuse = |message: String| AdapterError::rejected(platform, message);
    let url = Url::parse(base_url.trim())
        .map_err(|error| refuse(format!("the {what} {base_url:?} is not a URL: {error}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(refuse(format!("the {what} {base_url:?} must be an http(s) origin")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(format!("the {what} must not carry a user name or password")));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse(format!("the {what} {base_url:?} must be an origin only, like {example}")));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `Retry-After` in seconds (whole or decimal); an HTTP date is ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok()?;
    Duration::try_from_secs_f64(value).ok()
}

/// Fields of an `application/x-www-form-urlencoded` body or query string, in the order
/// they were added. Nested fields are written by the caller in bracket notation
/// (`metadata[k]`, `line_items[0][price]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `name=value`.
    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.push((name.into(), value.into()));
        self
    }

    /// Adds `name=value` when there is a value.
    pub(crate) fn push_some(&mut self, name: &str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(value) = value {
            self.push(name, value);
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields percent-encoded (brackets too: `%5B`, which servers decode like `[`).
    pub(crate) fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(self.0.iter()).finish()
    }
}

/// A request that got no HTTP answer: an outage, worth retrying. The message names the
/// operation and the cause (reqwest's errors name the URL and never a header).
pub(crate) fn transport_failure(platform: Platform, operation: &str, error: &reqwest::Error) -> AdapterError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause.push_str(": ");
        cause.push_str(&inner.to_string());
        source = inner.source();
    }
    AdapterError::Unavailable { platform, message: format!("{operation}: {what}: {cause}") }
}

/// `value` read as `T`, or an outage naming the operation: an answer not in the
/// documented shape is the platform's trouble, worth a retry.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    platform: Platform,
    operation: &str,
    value: serde_json::Value,
) -> Result<T, AdapterError> {
    serde_json::from_value(value).map_err(|error| AdapterError::Unavailable {
        platform,
        message: format!("{operation}: the answer is not in the documented shape: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_trimmed() {
        let ok = origin(Platform::Stripe, "API address", "https://api.stripe.com/", "https://api.stripe.com");
        assert_eq!(ok.expect("valid"), "https://api.stripe.com");
        for bad in
            ["api.stripe.com", "ftp://x.com", "https://api.stripe.com/v1", "https://u:p@x.com", "https://x.com/?a"]
        {
            let error = origin(Platform::Stripe, "API address", bad, "https://api.stripe.com").expect_err(bad);
            assert!(!error.is_retryable(), "{bad}");
        }
    }

    #[test]
    fn forms_encode_brackets_and_spaces() {
        let mut form = Form::new();
        form.push("metadata[business id]", "7 & 8").push("expand[]", "data.customer");
        form.push_some("skipped", None::<String>);
        assert_eq!(form.encode(), "metadata%5Bbusiness+id%5D=7+%26+8&expand%5B%5D=data.customer");
        assert!(!form.is_empty());
    }
}
