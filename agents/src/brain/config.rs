//! [`RemoteBrainConfig`]: where the remote brain sends its requests and how hard it
//! tries.

use std::fmt;
use std::time::Duration;

/// OpenRouter's OpenAI-compatible API, the default endpoint.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// The default fallback chain: a strong model first, then cheaper and faster ones.
pub const DEFAULT_MODELS: [&str; 3] =
    ["anthropic/claude-3-opus", "openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct"];

/// How the [`RemoteBrain`](super::RemoteBrain) reaches its endpoint.
///
/// `Debug` shows everything but the API key.
#[derive(Clone, PartialEq)]
pub struct RemoteBrainConfig {
    /// Base URL of an OpenAI-compatible API; requests go to `<base_url>/chat/completions`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <api_key>`.
    pub api_key: String,
    /// The fallback chain, tried in order.
    pub models: Vec<String>,
    /// How long one HTTP call may take before it counts as timed out (and is retried).
    pub request_timeout: Duration,
    /// Retries of the same model after a 429, 408, 5xx, time-out or network error,
    /// before moving to the next model.
    pub max_retries_per_model: u32,
    /// Back-off before the first retry when the server gave no `Retry-After`; it
    /// doubles on each further retry. Each wait is half fixed, half random (jitter).
    pub initial_backoff: Duration,
    /// Longest back-off. A `Retry-After` asking for longer makes the brain move to the
    /// next model instead of waiting.
    pub max_backoff: Duration,
    /// Sent as `HTTP-Referer` (OpenRouter's app attribution), when set.
    pub referer: Option<String>,
    /// Sent as `X-Title` (OpenRouter's app attribution), when set.
    pub title: Option<String>,
}

impl RemoteBrainConfig {
    /// The defaults (OpenRouter, the default chain, 30 s time-out, 2 retries per model,
    /// back-off from 500 ms up to 10 s) with this API key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key: api_key.into(),
            models: DEFAULT_MODELS.iter().map(|model| model.to_string()).collect(),
            request_timeout: Duration::from_secs(30),
            max_retries_per_model: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            referer: None,
            title: Some("Boardroom".to_string()),
        }
    }

    /// Reads the configuration from environment variables through `get` (pass
    /// `|name| std::env::var(name).ok()`):
    ///
    /// - `LLM_API_KEY`, or else `OPENROUTER_API_KEY`: the key. Without one (or with an
    ///   empty one) the answer is `Ok(None)`: run the offline brain.
    /// - `LLM_BASE_URL`: an `http`/`https` base URL (default OpenRouter).
    /// - `LLM_MODELS`: the fallback chain, comma-separated.
    ///
    /// A bad value is an error naming the variable (and never showing the key).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let read = |name: &str| get(name).map(|value| value.trim().to_string());
        let key = ["LLM_API_KEY", "OPENROUTER_API_KEY"]
            .into_iter()
            .find_map(|name| read(name).filter(|key| !key.is_empty()).map(|key| (name, key)));
        let Some((key_name, api_key)) = key else {
            return Ok(None);
        };
        if !is_header_safe(&api_key) {
            return Err(format!("{key_name} contains spaces or control characters; it must be the bare API key"));
        }
        let mut config = Self::new(api_key);
        if let Some(base_url) = read("LLM_BASE_URL").filter(|url| !url.is_empty()) {
            config.base_url = parse_base_url(&base_url).map_err(|problem| format!("LLM_BASE_URL {problem}"))?;
        }
        if let Some(models) = read("LLM_MODELS") {
            config.models = parse_models(&models).ok_or("LLM_MODELS must list at least one model, comma-separated")?;
        }
        Ok(Some(config))
    }
}

impl fmt::Debug for RemoteBrainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteBrainConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("models", &self.models)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries_per_model", &self.max_retries_per_model)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("referer", &self.referer)
            .field("title", &self.title)
            .finish()
    }
}

/// Checks that `url` is an absolute `http`/`https` URL and returns it without a
/// trailing slash (async-openai appends `/chat/completions` as is). The error completes
/// the sentence "<variable> …".
pub(super) fn parse_base_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| format!("must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url:?}: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url:?}"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Splits a comma-separated model list; `None` when it names no model.
fn parse_models(list: &str) -> Option<Vec<String>> {
    let models: Vec<String> =
        list.split(',').map(str::trim).filter(|model| !model.is_empty()).map(str::to_string).collect();
    (!models.is_empty()).then_some(models)
}

/// Whether `value` can go in an HTTP header after `Bearer ` (visible ASCII, no spaces).
pub(super) fn is_header_safe(value: &str) -> bool {
    value.bytes().all(|byte| byte.is_ascii_graphic())
}
