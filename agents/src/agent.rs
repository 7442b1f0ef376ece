use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::Marketplace;
use boardroom_memory::{EventLog, NewEvent, NewLlmCall, SharedStore, TenantId};
use boardroom_personalities::Personality;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;

use crate::brain::{Brain, BrainRequest, DecisionSource, ExpectedShape};

/// A unit of work sent to an agent: an action name and its JSON input.
///
/// Tasks are data rather than one Rust enum per agent so that a new agent is reachable
/// by the CEO, the HTTP API and the live view without touching any of them; each agent
/// parses `input` into its own typed request at its edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// What to do, e.g. `ping`, `quote_price`.
    pub action: String,
    /// The action's arguments.
    pub input: Value,
}

impl Task {
    /// Parses the task's input into an action's request type; a mismatch is
    /// [`AgentError::InvalidInput`] naming what was wrong.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AgentError> {
        serde_json::from_value(self.input.clone())
            .map_err(|error| AgentError::InvalidInput(format!("{}: {error}", self.action)))
    }

    /// A task with arguments.
    pub fn new(action: impl Into<String>, input: Value) -> Self {
        Self { action: action.into(), input }
    }

    /// A task without arguments.
    pub fn bare(action: impl Into<String>) -> Self {
        Self::new(action, Value::Null)
    }
}

/// How a task can fail. Everything but [`AgentError::Fatal`] is an answer: the agent
/// stays up and the caller gets the error.
#[derive(Debug, Clone, Error, PartialEq, Serialize, Deserialize)]
pub enum AgentError {
    /// The agent has no such action.
    #[error("agent {agent} has no action {action:?}")]
    UnknownAction {
        /// The agent asked.
        agent: String,
        /// The action it does not know.
        action: String,
    },
    /// The task's input was not what the action expects.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// There is no agent of that name in this swarm.
    #[error("no agent named {0:?} in this swarm")]
    NoSuchAgent(String),
    /// The tenant's throttle refused the message; retry after the given seconds.
    #[error("throttled: {reason} (retry after {retry_after_secs:.1} s)")]
    Throttled {
        /// Which limit.
        reason: String,
        /// When a retry can pass.
        retry_after_secs: f64,
    },
    /// The agent is restarting, its swarm is degraded or stopped, or the reply did not
    /// come in time.
    #[error("agent unavailable: {0}")]
    Unavailable(String),
    /// The action ran and failed.
    #[error("{0}")]
    Failed(String),
    /// The agent's state is broken: it answers with this error and is then restarted
    /// by its supervisor with a fresh instance.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// Calls to other agents of the same tenant, through the same throttle and permits as
/// any other caller. Implemented by the supervisor.
#[async_trait]
pub trait Peers: Send + Sync + 'static {
    /// Sends `task` to the agent `agent` and waits for its answer.
    async fn call(&self, agent: &str, task: Task) -> Result<Value, AgentError>;
    /// Names of the agents in the swarm, CEO first.
    fn names(&self) -> Vec<&'static str>;
}

/// What an agent can see of the world while it handles a task.
#[derive(Clone)]
pub struct AgentContext {
    /// The tenant this agent works for.
    pub tenant: TenantId,
    /// This agent's name, as it appears in events.
    pub agent: &'static str,
    /// The event log, for recording what the agent did.
    pub events: EventLog,
    /// The agent's peers in the same swarm.
    pub peers: Arc<dyn Peers>,
    /// The tenant's data.
    pub store: SharedStore,
    /// The personality the tenant's swarm plans under.
    pub personality: Arc<Personality>,
    /// The LLM layer over the agents' own rules (offline by default).
    pub brain: Arc<dyn Brain>,
    /// Where the business sells and advertises (the sandbox market by default).
    pub market: Arc<dyn Marketplace>,
    /// What the agent makes media with and where it keeps it; `None`: it makes none.
    pub media: Option<SwarmMedia>,
    /// When the caller of the task being handled stops waiting for its answer; `None`
    /// for a cast (nobody waits) or outside a task. Set by the supervisor before each
    /// task; [`AgentContext::decide`] fits the brain's work inside it.
    pub deadline: Option<tokio::time::Instant>,
}

/// The media a swarm makes (covers, voice-overs, clips): made by the studio (offline,
/// or the remote API first when one is configured), kept in the library.
#[derive(Debug, Clone)]
pub struct SwarmMedia {
    /// Where the files are kept, within the owner's tier's storage.
    pub library: boardroom_memory::MediaLibrary,
    /// What makes them.
    pub studio: boardroom_media::Studio,
}

/// Time kept back from the brain before a call's deadline, for what the agent does
/// with the decision (events, writes) and for the answer to reach the caller.
pub const DECISION_MARGIN: Duration = Duration::from_millis(750);

/// A decision and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The decision, shaped as asked.
    pub decision: Value,
    /// `offline` or the model that answered.
    pub source: DecisionSource,
}

impl AgentContext {
    /// Asks another agent of this swarm.
    pub async fn call(&self, agent: &str, task: Task) -> Result<Value, AgentError> {
        self.peers.call(agent, task).await
    }

    /// Records an event attributed to this agent.
    pub async fn emit(&self, kind: &str, summary: impl Into<String>, data: Value) {
        self.record(NewEvent::now(self.tenant, self.agent, kind, summary).with_data(data)).await;
    }

    /// Records a prepared event (with a revenue impact, say).
    pub async fn record(&self, event: NewEvent) {
        let kind = event.kind.clone();
        if let Err(error) = self.events.append(event).await {
            tracing::warn!(%error, agent = self.agent, kind, "event not recorded");
        }
    }

    /// Puts a rule-based `proposal` before the brain and returns its decision.
    ///
    /// Offline, that is the proposal itself. With a remote brain, the model sees the
    /// personality's prompt prefix, the tenant's most recent lessons and the proposal,
    /// and answers in `shape`; tokens are stored per call. If every model fails, the
    /// agent's own proposal stands (recorded as a `brain.fallback` event): the swarm
    /// never stops for want of an LLM.
    ///
    /// The brain must answer [`DECISION_MARGIN`] before the deadline of the call being
    /// handled: a slow model makes the rules decide (again a `brain.fallback`) rather
    /// than the caller give up on the agent.
    pub async fn decide(
        &self,
        instruction: &str,
        input: Value,
        proposal: Value,
        shape: ExpectedShape,
    ) -> Result<Decided, AgentError> {
        let memories = self.lessons(5).await;
        let request = BrainRequest {
            tenant: self.tenant,
            agent: self.agent.to_owned(),
            prompt_prefix: self.personality.prompt_prefix.clone(),
            memories,
            instruction: instruction.to_owned(),
            input,
            proposal: proposal.clone(),
            shape,
            deadline: self
                .deadline
                .map(|deadline| deadline.checked_sub(DECISION_MARGIN).unwrap_or_else(tokio::time::Instant::now)),
        };
        match self.brain.decide(request).await {
            Ok(answer) => {
                if let Some(usage) = &answer.usage {
                    self.account_tokens(&usage.model, usage.prompt_tokens, usage.completion_tokens, "ok").await;
                }
                Ok(Decided { decision: answer.decision, source: answer.source })
            }
            Err(error) => {
                if let Some(usage) = error.usage() {
                    self.account_tokens(&usage.model, usage.prompt_tokens, usage.completion_tokens, "failed").await;
                }
                self.emit(
                    "brain.fallback",
                    format!("LLM unavailable, using the {} rules: {error}", self.agent),
                    json!({ "error": error.to_string() }),
                )
                .await;
                Ok(Decided { decision: proposal, source: DecisionSource::Offline })
            }
        }
    }

    /// Records a model call's tokens against the tenant (its budget and the
    /// dashboard), with an `llm.call` event.
    pub(crate) async fn account_tokens(&self, model: &str, prompt: u32, completion: u32, outcome: &str) {
        let call = NewLlmCall {
            tenant_id: self.tenant,
            agent: self.agent.to_owned(),
            model: model.to_owned(),
            prompt_tokens: i64::from(prompt),
            completion_tokens: i64::from(completion),
            outcome: outcome.to_owned(),
        };
        if let Err(error) = self.store.record_llm_call(call).await {
            tracing::warn!(%error, agent = self.agent, "token usage not stored");
        }
        let summary = format!("{model}: {prompt} prompt + {completion} completion tokens");
        self.emit(
            "llm.call",
            summary,
            json!({ "model": model, "prompt_tokens": prompt, "completion_tokens": completion, "outcome": outcome }),
        )
        .await;
    }

    /// The tenant's most recent lessons, one line each, for prompts.
    async fn lessons(&self, limit: i64) -> Vec<String> {
        match self.store.experiences(self.tenant, None, limit).await {
            Ok(experiences) => experiences
                .into_iter()
                .filter(|e| !e.lessons.is_empty())
                .map(|e| format!("{} ({}): {}", e.action_type, if e.success { "worked" } else { "failed" }, e.lessons))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "experiences unavailable for the prompt");
                Vec::new()
            }
        }
    }
}

/// The behaviour of one agent. The supervisor creates an instance per tenant through
/// the registry and a fresh one after every failure, so state kept in `self` lasts
/// until the next restart; anything that must outlive it belongs in the store.
#[async_trait]
pub trait Agent: Send + 'static {
    /// Handles one task. Returning [`AgentError::Fatal`] (or panicking) gets the agent
    /// restarted; every other error is just the answer.
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError>;
}
