use std::sync::Arc;

use async_trait::async_trait;
use boardroom_memory::{EventLog, NewEvent, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

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
    /// A task with arguments.
    pub fn new(action: impl Into<String>, input: Value) -> Self {
        Self {
            action: action.into(),
            input,
        }
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
}

impl AgentContext {
    /// Asks another agent of this swarm.
    pub async fn call(&self, agent: &str, task: Task) -> Result<Value, AgentError> {
        self.peers.call(agent, task).await
    }

    /// Records an event attributed to this agent.
    pub async fn emit(&self, kind: &str, summary: impl Into<String>, data: Value) {
        let event = NewEvent::now(self.tenant, self.agent, kind, summary).with_data(data);
        if let Err(error) = self.events.append(event).await {
            tracing::warn!(%error, agent = self.agent, kind, "event not recorded");
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
