//! [`RemoteBrain`]: decisions by a chain of language models behind an OpenAI-compatible
//! API.
//!
//! For each model of the chain, in order:
//!
//! 1. Call it. A 429, 408, 5xx, time-out or network error is retried on the same model
//!    after `Retry-After` when the server sent one, else after an exponential back-off
//!    with jitter, up to `max_retries_per_model` times; then the next model is tried.
//!    A 400, 404, 422 (or any other 4xx) moves to the next model at once. A 402 (out of
//!    credits) or a 401/403 (key refused) stops the whole decision: no other model would
//!    fare better, and retrying only burns the rate limit.
//! 2. Parse the answer as JSON and check it against the request's shape. If either
//!    fails, send one repair request to the same model with the problems; if the repaired
//!    answer fails too, move to the next model.
//!
//! Every answered call's token usage is added up, whether its answer was used or not.
//!
//! All of it fits inside the request's deadline (the agent call it serves): each call
//! waits at most the time left, a back-off that would end too close to the deadline is
//! not waited out, and when less than [`LEAST_ATTEMPT`] is left no call starts. The
//! brain then answers [`BrainError::OutOfTime`] and the agent's own rules decide, in
//! time, instead of the caller giving up on the agent.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, CreateChatCompletionRequest, CreateChatCompletionResponse, ResponseFormat,
};
use async_trait::async_trait;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;
use tracing::Instrument;

use super::config::{is_header_safe, parse_base_url};
use super::offline::check_proposal;
use super::transport::{ErrorCapturingTransport, HttpFailure, shorten};
use super::{
    Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, DecisionSource, ExpectedShape, RemoteBrainConfig,
    TokenUsage, prompt,
};

/// The least time left before the deadline worth starting a model call in: a model
/// rarely answers faster, and a call cut short spends tokens for nothing.
const LEAST_ATTEMPT: Duration = Duration::from_millis(500);

/// A [`Brain`] that asks language models through any OpenAI-compatible endpoint
/// (OpenRouter by default), falling back along a chain of models.
///
/// Cheap to share: wrap it in an `Arc` and call it from every agent of every tenant.
pub struct RemoteBrain {
    // async-openai stays the client (request types, auth, JSON); its transport is
    // replaced by `ErrorCapturingTransport`, because its built-in one retries on its own
    // and hides `Retry-After` (see `transport`).
    client: Client<OpenAIConfig>,
    config: RemoteBrainConfig,
}

impl RemoteBrain {
    /// A remote brain with this configuration. Fails when the base URL is not an
    /// http(s) URL, the model list is empty, or the key or a header value cannot be
    /// sent in an HTTP header.
    pub fn new(mut config: RemoteBrainConfig) -> Result<Self, BrainError> {
        let misconfigured = BrainError::Configuration;
        config.base_url = parse_base_url(config.base_url.trim())
            .map_err(|problem| misconfigured(format!("the base URL {problem}")))?;
        if config.api_key.is_empty() || !is_header_safe(&config.api_key) {
            // async-openai would panic building the Authorization header.
            return Err(misconfigured("the API key is empty or contains spaces or control characters".to_string()));
        }
        config.models =
            config.models.iter().map(|model| model.trim().to_string()).filter(|model| !model.is_empty()).collect();
        if config.models.is_empty() {
            return Err(misconfigured("the model list is empty".to_string()));
        }

        // `OpenAIConfig::new` reads OPENAI_* variables; clear the ones that would add
        // OpenAI-only headers to requests for another endpoint.
        let mut openai = OpenAIConfig::new()
            .with_api_base(&config.base_url)
            .with_api_key(&config.api_key)
            .with_org_id("")
            .with_project_id("");
        for (header, value) in [("HTTP-Referer", &config.referer), ("X-Title", &config.title)] {
            if let Some(value) = value {
                openai = openai
                    .with_header(header, value.as_str())
                    .map_err(|error| misconfigured(format!("the {header} header is not valid: {error}")))?;
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|error| misconfigured(format!("cannot build the HTTP client: {error}")))?;
        let client = Client::with_config(openai).with_http_service(ErrorCapturingTransport::new(http));
        Ok(Self { client, config })
    }

    /// Tries one model: a call, and one repair call when its answer does not fit.
    async fn ask_model(
        &self,
        model: &str,
        shape: &ExpectedShape,
        messages: &[ChatCompletionRequestMessage],
        deadline: Option<Instant>,
        spent: &mut UsageTally,
    ) -> Result<(Value, String), ModelFailure> {
        let response = self.call(model, messages.to_vec(), deadline, spent).await?;
        let (content, problems) = match accept(&response, shape) {
            Ok(decision) => return Ok((decision, answered_by(&response, model))),
            Err(failed) => failed,
        };
        tracing::debug!(model, ?problems, "answer does not fit; asking for a repair");
        let repair = prompt::repair_messages(messages, &content, &problems);
        let response =
            self.call(model, repair, deadline, spent).await.map_err(|failure| failure.context("repair call"))?;
        match accept(&response, shape) {
            Ok(decision) => Ok((decision, answered_by(&response, model))),
            Err((_, problems)) => Err(ModelFailure::NextModel(format!(
                "the answer did not match the shape, nor did the repaired one: {}",
                problems.join("; ")
            ))),
        }
    }

    /// One chat completion on `model`, retried on transient failures, all before
    /// `deadline`.
    async fn call(
        &self,
        model: &str,
        messages: Vec<ChatCompletionRequestMessage>,
        deadline: Option<Instant>,
        spent: &mut UsageTally,
    ) -> Result<CreateChatCompletionResponse, ModelFailure> {
        let request = CreateChatCompletionRequest {
            model: model.to_string(),
            messages,
            // JSON mode where the model supports it; OpenRouter drops it for models
            // that do not, and the shape check catches whatever gets through.
            response_format: Some(ResponseFormat::JsonObject),
            ..Default::default()
        };
        let mut retries = 0;
        loop {
            // Each attempt gets the configured time-out, or what is left if that is less.
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left < LEAST_ATTEMPT) {
                return Err(ModelFailure::OutOfTime(format!(
                    "{:?} left, too little for a call",
                    left.unwrap_or_default()
                )));
            }
            let timeout = left.map_or(self.config.request_timeout, |left| left.min(self.config.request_timeout));
            let outcome = tokio::time::timeout(timeout, self.client.chat().create(request.clone())).await;
            let (reason, retry_after) = match outcome {
                Ok(Ok(response)) => {
                    spent.add(&response, model);
                    return Ok(response);
                }
                Ok(Err(error)) => match classify(error) {
                    CallFailure::Transient { reason, retry_after } => (reason, retry_after),
                    CallFailure::NextModel(reason) => return Err(ModelFailure::NextModel(reason)),
                    CallFailure::Stop(stop) => return Err(ModelFailure::Stop(stop)),
                },
                Err(_elapsed) if timeout < self.config.request_timeout => {
                    return Err(ModelFailure::OutOfTime(format!("no answer in the {timeout:?} left")));
                }
                Err(_elapsed) => (format!("timed out after {timeout:?}"), None),
            };
            let tries = retries + 1;
            if retries >= self.config.max_retries_per_model {
                let unit = if tries == 1 { "try" } else { "tries" };
                return Err(ModelFailure::NextModel(format!("{reason} (gave up after {tries} {unit})")));
            }
            let delay = self
                .backoff(retries, retry_after)
                .map_err(|why| ModelFailure::NextModel(format!("{reason}; {why}")))?;
            if let Some(deadline) = deadline
                && Instant::now() + delay + LEAST_ATTEMPT > deadline
            {
                return Err(ModelFailure::OutOfTime(format!("{reason}; no time left to retry after {delay:?}")));
            }
            tracing::info!(model, %reason, ?delay, retry = tries, "LLM call failed; retrying");
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    /// How long to wait before retry number `retry + 1`: the server's `Retry-After`
    /// when it sent one (unless longer than `max_backoff`, which means "try another
    /// model"), else `initial_backoff · 2^retry` capped at `max_backoff`, with equal
    /// jitter so that many agents hit by the same outage do not retry in lockstep.
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Result<Duration, String> {
        let longest = self.config.max_backoff;
        if let Some(wait) = retry_after {
            return if wait <= longest {
                Ok(wait)
            } else {
                Err(format!("Retry-After of {wait:?} is longer than the longest back-off ({longest:?})"))
            };
        }
        let exponential = self.config.initial_backoff.saturating_mul(2_u32.saturating_pow(retry)).min(longest);
        let half = exponential / 2;
        Ok(half + rand::rng().random_range(Duration::ZERO..=half))
    }

    /// Removes the API key from text that came from the server (some echo it back).
    fn redact(&self, text: &str) -> String {
        text.replace(&self.config.api_key, "[redacted]")
    }
}

impl fmt::Debug for RemoteBrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteBrain").field("config", &self.config).finish_non_exhaustive()
    }
}

#[async_trait]
impl Brain for RemoteBrain {
    fn describe(&self) -> BrainInfo {
        BrainInfo {
            backend: "remote".to_string(),
            models: self.config.models.clone(),
            base_url: Some(self.config.base_url.clone()),
        }
    }

    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        check_proposal(&request)?;
        let span = tracing::info_span!("brain", tenant = %request.tenant, agent = %request.agent);
        async move {
            let messages = prompt::messages(&request);
            let mut spent = UsageTally::default();
            let mut attempts = Vec::new();
            for model in &self.config.models {
                match self.ask_model(model, &request.shape, &messages, request.deadline, &mut spent).await {
                    Ok((decision, answered_by)) => {
                        return Ok(BrainAnswer {
                            decision,
                            source: DecisionSource::Remote { model: answered_by },
                            usage: spent.total,
                        });
                    }
                    Err(ModelFailure::NextModel(reason)) => {
                        let reason = self.redact(&reason);
                        tracing::warn!(model, %reason, "model failed; trying the next one");
                        attempts.push(format!("{model}: {reason}"));
                    }
                    Err(ModelFailure::OutOfTime(reason)) => {
                        attempts.push(format!("{model}: {}", self.redact(&reason)));
                        tracing::warn!(model, ?attempts, "out of time for the LLM; the agent's rules decide");
                        return Err(BrainError::OutOfTime { attempts, usage: spent.total });
                    }
                    Err(ModelFailure::Stop(stop)) => {
                        let error = stop.into_error(model, spent.total, |text| self.redact(text));
                        tracing::error!(%error, "LLM calls stopped");
                        return Err(error);
                    }
                }
            }
            Err(BrainError::AllModelsFailed { attempts, usage: spent.total })
        }
        .instrument(span)
        .await
    }
}

/// Why one model could not answer.
enum ModelFailure {
    /// Try the next model; the text says what happened.
    NextModel(String),
    /// Stop the whole decision.
    Stop(Stop),
    /// The request's deadline is (too) near: stop, saying what happened.
    OutOfTime(String),
}

impl ModelFailure {
    fn context(self, what: &str) -> Self {
        match self {
            Self::NextModel(reason) => Self::NextModel(format!("{what}: {reason}")),
            Self::OutOfTime(reason) => Self::OutOfTime(format!("{what}: {reason}")),
            stop @ Self::Stop(_) => stop,
        }
    }
}

/// A failure no other model would get past.
enum Stop {
    OutOfCredits { message: String },
    Unauthorized { status: u16, message: String },
}

impl Stop {
    fn into_error(self, model: &str, usage: Option<TokenUsage>, redact: impl Fn(&str) -> String) -> BrainError {
        let model = model.to_string();
        match self {
            Self::OutOfCredits { message } => BrainError::OutOfCredits { model, message: redact(&message), usage },
            Self::Unauthorized { status, message } => {
                BrainError::Unauthorized { status, model, message: redact(&message), usage }
            }
        }
    }
}

/// How one HTTP call failed.
enum CallFailure {
    /// Worth retrying on the same model.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    NextModel(String),
    Stop(Stop),
}

fn classify(error: OpenAIError) -> CallFailure {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(failure) => classify_status(*failure),
            Err(other) => CallFailure::NextModel(other.to_string()),
        },
        // Not produced by our transport, but async-openai could still build one.
        OpenAIError::ApiError(api) => classify_status(HttpFailure {
            status: api.status_code,
            retry_after: None,
            message: shorten(&api.api_error.message),
            code: api.api_error.code.or(api.api_error.r#type),
        }),
        OpenAIError::Reqwest(error) if error.is_builder() => {
            CallFailure::NextModel(format!("cannot build the request: {error}"))
        }
        OpenAIError::Reqwest(error) => {
            CallFailure::Transient { reason: format!("network error: {}", error_chain(&error)), retry_after: None }
        }
        OpenAIError::JSONDeserialize(error, body) => {
            CallFailure::NextModel(format!("the response is not a chat completion ({error}): {}", shorten(&body)))
        }
        other => CallFailure::NextModel(other.to_string()),
    }
}

fn classify_status(failure: HttpFailure) -> CallFailure {
    let quota_exhausted = failure.code.as_deref() == Some("insufficient_quota");
    match failure.status {
        StatusCode::PAYMENT_REQUIRED => CallFailure::Stop(Stop::OutOfCredits { message: failure.message }),
        StatusCode::TOO_MANY_REQUESTS if quota_exhausted => {
            CallFailure::Stop(Stop::OutOfCredits { message: failure.message })
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            CallFailure::Stop(Stop::Unauthorized { status: failure.status.as_u16(), message: failure.message })
        }
        status
            if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status.is_server_error() =>
        {
            CallFailure::Transient { reason: failure.to_string(), retry_after: failure.retry_after }
        }
        _ => CallFailure::NextModel(failure.to_string()),
    }
}

/// An error and its sources, e.g. "error sending request: connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The decision in a response, or the answer text and what is wrong with it.
fn accept(response: &CreateChatCompletionResponse, shape: &ExpectedShape) -> Result<Value, (String, Vec<String>)> {
    let Some(choice) = response.choices.first() else {
        return Err((String::new(), vec!["the response had no answer".to_string()]));
    };
    let content = choice.message.content.clone().unwrap_or_default();
    if content.trim().is_empty()
        && let Some(refusal) = &choice.message.refusal
    {
        return Err((content, vec![format!("the model refused: {}", shorten(refusal))]));
    }
    let decision = prompt::parse_answer(&content).map_err(|problem| (content.clone(), vec![problem]))?;
    shape.check(&decision).map(|()| decision).map_err(|problems| (content, problems))
}

/// The model as the server named it in the response, else the one asked.
fn answered_by(response: &CreateChatCompletionResponse, asked: &str) -> String {
    if response.model.trim().is_empty() { asked.to_string() } else { response.model.clone() }
}

/// Tokens spent so far on one decision.
#[derive(Default)]
struct UsageTally {
    total: Option<TokenUsage>,
}

impl UsageTally {
    fn add(&mut self, response: &CreateChatCompletionResponse, asked: &str) {
        let Some(usage) = &response.usage else {
            return;
        };
        let model = answered_by(response, asked);
        let total = self.total.get_or_insert_with(|| TokenUsage {
            model: model.clone(),
            prompt_tokens: 0,
            completion_tokens: 0,
        });
        total.model = model;
        total.prompt_tokens = total.prompt_tokens.saturating_add(usage.prompt_tokens);
        total.completion_tokens = total.completion_tokens.saturating_add(usage.completion_tokens);
    }
}
