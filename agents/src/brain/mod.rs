//! The brain: the optional LLM layer over the agents' own rules.
//!
//! Every agent decides by deterministic rules first and hands that *proposal* to a
//! [`Brain`] together with the facts, the personality's prompt prefix and relevant
//! memories. The brain answers with the decision to act on:
//!
//! - [`OfflineBrain`] (the default, no set-up) returns the proposal unchanged, after
//!   checking it against the [`ExpectedShape`]; it does no I/O and is deterministic.
//! - [`RemoteBrain`] asks any OpenAI-compatible endpoint (OpenRouter by default)
//!   through a fallback chain of models, with retries, `Retry-After`, one repair round
//!   for answers that do not match the shape, and token accounting.
//!
//! Whatever the backend, a decision always matches the request's [`ExpectedShape`], and
//! [`BrainAnswer::source`] says where it came from, so the live view can label it.
//!
//! ## Layout
//! - `shape`: [`ExpectedShape`], the small description of the JSON a decision must be.
//! - `offline`: [`OfflineBrain`].
//! - `config`: [`RemoteBrainConfig`] and how it is read from the environment.
//! - `remote`: [`RemoteBrain`], the fallback chain and the retry policy.
//! - `transport`: the HTTP transport under async-openai that exposes status codes and
//!   `Retry-After`.
//! - `prompt`: how a request becomes chat messages and an answer becomes JSON.

mod config;
mod offline;
mod prompt;
mod remote;
mod shape;
mod transport;

use std::fmt;

use async_trait::async_trait;
use boardroom_memory::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

pub use config::{DEFAULT_BASE_URL, DEFAULT_MODELS, RemoteBrainConfig};
pub use offline::OfflineBrain;
pub use remote::RemoteBrain;
pub use shape::ExpectedShape;

/// One decision an agent asks the brain for.
#[derive(Debug, Clone, PartialEq)]
pub struct BrainRequest {
    /// The tenant the decision is for (used for tracing and accounting, never sent).
    pub tenant: TenantId,
    /// The asking agent's name, e.g. `pricing`.
    pub agent: String,
    /// The personality's prompt prefix; it opens the system prompt.
    pub prompt_prefix: String,
    /// Relevant past experiences, already summarised, one per entry.
    pub memories: Vec<String>,
    /// What to decide, in a sentence or two.
    pub instruction: String,
    /// The facts the decision rests on.
    pub input: Value,
    /// What the agent's own rules decided; the offline brain returns it as is, the remote
    /// brain shows it to the model as the rules' suggestion.
    pub proposal: Value,
    /// What the decision must look like.
    pub shape: ExpectedShape,
    /// When the answer is needed by: the deadline of the agent call this decision
    /// serves, less a margin for the agent's own work after it (see
    /// [`AgentContext::decide`](crate::AgentContext::decide)); `None` when no caller
    /// waits. A brain that calls a model gives each attempt at most the time left and
    /// answers [`BrainError::OutOfTime`] rather than miss it, so the agent's own rules
    /// decide and the call is answered in time.
    pub deadline: Option<tokio::time::Instant>,
}

/// The brain's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrainAnswer {
    /// The decision; it always matches the request's [`ExpectedShape`].
    pub decision: Value,
    /// Who decided.
    pub source: DecisionSource,
    /// Tokens spent on this decision, or `None` when no model was asked (or none
    /// reported usage).
    pub usage: Option<TokenUsage>,
}

/// Who made a decision.
///
/// Serialised as `"offline"` or `{"remote": "<model>"}`; displayed as `offline` or
/// `llm:<model>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "SourceRepr", from = "SourceRepr")]
pub enum DecisionSource {
    /// The agent's own rules, through the [`OfflineBrain`].
    Offline,
    /// A language model.
    Remote {
        /// The model that answered, as the server named it.
        model: String,
    },
}

/// The wire form of [`DecisionSource`]: a bare string or a one-key object.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SourceRepr {
    Offline,
    Remote(String),
}

impl From<DecisionSource> for SourceRepr {
    fn from(source: DecisionSource) -> Self {
        match source {
            DecisionSource::Offline => Self::Offline,
            DecisionSource::Remote { model } => Self::Remote(model),
        }
    }
}

impl From<SourceRepr> for DecisionSource {
    fn from(repr: SourceRepr) -> Self {
        match repr {
            SourceRepr::Offline => Self::Offline,
            SourceRepr::Remote(model) => Self::Remote { model },
        }
    }
}

impl fmt::Display for DecisionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offline => f.write_str("offline"),
            Self::Remote { model } => write!(f, "llm:{model}"),
        }
    }
}

/// Tokens spent on one decision, summed over every call that reached the server:
/// retries that were answered, repair calls, and models of the chain that failed
/// before the one that answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenUsage {
    /// The model of the last call that reported usage, as the server named it in
    /// `response.model`.
    pub model: String,
    /// Prompt tokens, summed.
    pub prompt_tokens: u32,
    /// Completion tokens, summed.
    pub completion_tokens: u32,
}

impl TokenUsage {
    /// Prompt and completion tokens together.
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// What a brain is, for `/health` and the admin view. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrainInfo {
    /// `"offline"` or `"remote"`.
    pub backend: String,
    /// The fallback chain, in order; empty for the offline brain.
    pub models: Vec<String>,
    /// The endpoint's base URL; `None` for the offline brain.
    pub base_url: Option<String>,
}

/// Makes the decisions agents ask for. Implemented by [`OfflineBrain`] and
/// [`RemoteBrain`]; tests may bring their own.
#[async_trait]
pub trait Brain: Send + Sync + 'static {
    /// Which backend this is and how it is configured (never the API key).
    fn describe(&self) -> BrainInfo;

    /// Whether deciding calls a model (spends tokens, takes a connection): what the
    /// tenant's LLM limits apply to. Only the offline brain says no.
    fn calls_a_model(&self) -> bool {
        true
    }

    /// Decides. The answer's `decision` always matches `request.shape`.
    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError>;

    /// Admits one model call by `agent` that is not a decision (a picture or a
    /// voice-over from the remote media API) under the tenant's LLM limits: the permit
    /// to hold for the call's length, or [`BrainError::Throttled`]. Only a brain behind
    /// the tenant's limits refuses.
    async fn admit_model_call(&self, agent: &str) -> Result<ModelCallPermit, BrainError> {
        let _ = agent;
        Ok(ModelCallPermit::default())
    }
}

/// A slot among the tenant's LLM calls in flight, held for one call's length.
#[derive(Debug, Default)]
pub struct ModelCallPermit(pub Option<tokio::sync::OwnedSemaphorePermit>);

/// Why a brain could not decide. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BrainError {
    /// The agent's own proposal does not match the shape it asked for: a bug in the
    /// agent, not in the brain.
    #[error("agent {agent} proposed a decision that does not match its shape: {}", .problems.join("; "))]
    InvalidProposal {
        /// The agent that asked.
        agent: String,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// The account behind the API key is out of credits (HTTP 402, or OpenAI's
    /// `insufficient_quota`); no model was tried after it.
    #[error("the LLM account is out of credits (model {model}): {message}")]
    OutOfCredits {
        /// The model that was being asked.
        model: String,
        /// The server's explanation.
        message: String,
        /// Tokens spent on this decision before it stopped.
        usage: Option<TokenUsage>,
    },
    /// The server refused the API key (HTTP 401 or 403); no model was tried after it.
    #[error("the LLM endpoint refused the API key (HTTP {status}, model {model}): {message}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The model that was being asked.
        model: String,
        /// The server's explanation.
        message: String,
        /// Tokens spent on this decision before it stopped.
        usage: Option<TokenUsage>,
    },
    /// Every model of the chain failed; `attempts` says what happened to each.
    #[error("every model failed: {}", .attempts.join("; "))]
    AllModelsFailed {
        /// One line per model, in the order tried, each starting with the model name.
        attempts: Vec<String>,
        /// Tokens spent on the failed attempts (answers that did not match the shape
        /// still cost tokens).
        usage: Option<TokenUsage>,
    },
    /// The tenant's throttle held the call back: its LLM tokens for the day are spent,
    /// or too many of its LLM calls are in flight. No model was asked.
    #[error("LLM call held back by the tenant's throttle: {reason}")]
    Throttled {
        /// Which limit.
        reason: String,
        /// Seconds until the call could pass.
        retry_after_secs: f64,
    },
    /// Too little time was left before the request's deadline to ask (or keep asking)
    /// a model; `attempts` says what happened before, one line per model tried.
    #[error("no time left for the LLM before the caller's deadline{}", attempts_suffix(.attempts))]
    OutOfTime {
        /// One line per model tried before time ran out, each starting with the model.
        attempts: Vec<String>,
        /// Tokens spent before time ran out.
        usage: Option<TokenUsage>,
    },
    /// The brain is misconfigured (bad base URL, empty model list, unusable key…).
    #[error("brain misconfigured: {0}")]
    Configuration(String),
}

impl BrainError {
    /// Tokens spent before the failure, where any call reached the server.
    pub fn usage(&self) -> Option<&TokenUsage> {
        match self {
            Self::OutOfCredits { usage, .. }
            | Self::Unauthorized { usage, .. }
            | Self::AllModelsFailed { usage, .. }
            | Self::OutOfTime { usage, .. } => usage.as_ref(),
            Self::InvalidProposal { .. } | Self::Configuration(_) | Self::Throttled { .. } => None,
        }
    }
}

/// `": a; b"` after an error's sentence, or nothing when no model was tried.
fn attempts_suffix(attempts: &[String]) -> String {
    if attempts.is_empty() { String::new() } else { format!(": {}", attempts.join("; ")) }
}
