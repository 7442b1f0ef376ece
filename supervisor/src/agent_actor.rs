//! The actor that hosts one agent of one tenant.

use std::sync::Arc;

use boardroom_agents::{Agent, AgentContext, AgentError, Task};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::activity::{Activity, ActivityFeed, MessagePhase};
use crate::tenant::{AgentSlot, SlotState};

/// What an agent actor receives. Each message carries its sender's in-flight permit,
/// released when the agent has handled it: that is what bounds the mailbox. `from`
/// names the sender for the live view; a call's `deadline` is when its caller stops
/// waiting, which the agent's brain must fit in.
pub(crate) enum AgentMessage {
    Call {
        from: &'static str,
        task: Task,
        deadline: Instant,
        reply: oneshot::Sender<Result<Value, AgentError>>,
        _permit: OwnedSemaphorePermit,
    },
    Cast {
        from: &'static str,
        task: Task,
        _permit: OwnedSemaphorePermit,
    },
}

pub(crate) struct AgentActor;

pub(crate) struct AgentState {
    pub(crate) agent: Box<dyn Agent>,
    pub(crate) context: AgentContext,
    /// Where handles find this actor; marked as waiting the moment the agent dies, so
    /// the next message waits for the replacement instead of landing in a dead mailbox.
    pub(crate) slot: Arc<AgentSlot>,
    /// The tenant's live activity: this agent working, and done.
    pub(crate) activity: ActivityFeed,
    /// Tasks handled since this instance started (a restart starts again from 0).
    pub(crate) tasks_handled: u64,
}

/// The actions every agent answers without its own code: `ping` (liveness) and
/// `status` (work done since the instance started). `None` for any other action.
fn housekeeping(agent: &str, tasks_handled: u64, task: &Task) -> Option<Result<Value, AgentError>> {
    match task.action.as_str() {
        "ping" => Some(Ok(json!({ "agent": agent, "pong": true }))),
        "status" => Some(Ok(json!({ "agent": agent, "tasks_handled": tasks_handled }))),
        _ => None,
    }
}

/// Marks the slot as waiting if the handler panics. It runs during the unwind, before
/// the caller's reply port is dropped (locals drop in reverse order), so a caller that
/// retries on the error already finds the slot waiting for the restart.
struct WaitOnUnwind<'a>(&'a AgentSlot);

impl Drop for WaitOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.state.send_replace(SlotState::Waiting);
        }
    }
}

impl Actor for AgentActor {
    type Msg = AgentMessage;
    type State = AgentState;
    type Arguments = AgentState;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: AgentState,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // The permit is held until the task is handled: it counts this message as in
        // flight for as long as it occupies the agent.
        let (from, task, reply, _permit) = match message {
            AgentMessage::Call { from, task, deadline, reply, _permit } => {
                state.context.deadline = Some(deadline);
                (from, task, Some(reply), _permit)
            }
            AgentMessage::Cast { from, task, _permit } => {
                state.context.deadline = None;
                (from, task, None, _permit)
            }
        };
        // Only copied when a viewer watches (see `ActivityFeed::publish`).
        let watched_action = state.activity.is_watched().then(|| task.action.clone());
        let agent = state.slot.name;
        let signal = |phase| Activity::Message {
            from,
            to: Arc::from(agent),
            action: watched_action.clone().unwrap_or_default(),
            phase,
        };
        state.activity.publish(|| signal(MessagePhase::Started));
        let _unwind = WaitOnUnwind(&state.slot);
        // Only a cast's failure needs the action named afterwards (a call's caller gets
        // the error itself), so only casts pay for the copy.
        let cast_action = reply.is_none().then(|| task.action.clone());
        state.tasks_handled += 1;
        // Exported over OTLP when it is configured; disabled (and nearly free) otherwise.
        let span = tracing::debug_span!(
            target: "boardroom::agent",
            "agent.message",
            tenant = %state.context.tenant,
            agent,
            action = %task.action,
            kind = if reply.is_some() { "call" } else { "cast" },
            outcome = tracing::field::Empty,
        );
        let result = match housekeeping(state.context.agent, state.tasks_handled, &task) {
            Some(answer) => answer,
            None => {
                // The drills' fault injection (`CHAOS_AGENT_PANIC_RATE`), off by default:
                // the agent dies as if its own code had panicked on this message.
                if state.slot.chaos.as_ref().is_some_and(|dice| dice.strikes()) {
                    panic!("{} ({agent} of tenant {})", crate::CHAOS_PANIC_PREFIX, state.context.tenant);
                }
                state.agent.handle(&state.context, task).instrument(span.clone()).await
            }
        };
        span.record("outcome", if result.is_ok() { "ok" } else { "error" });
        let phase = if result.is_ok() { MessagePhase::Finished } else { MessagePhase::Failed };
        state.activity.publish(|| signal(phase));
        let fatal = match &result {
            Err(AgentError::Fatal(reason)) => Some(reason.clone()),
            _ => None,
        };
        if fatal.is_some() {
            // About to die: stop new messages coming here before the caller hears back.
            state.slot.state.send_replace(SlotState::Waiting);
        }
        match (reply, cast_action) {
            (Some(reply), _) => {
                // The caller may have given up (time-out); that is its business.
                let _ = reply.send(result);
            }
            (None, Some(action)) => {
                if let Err(error) = &result {
                    let summary = format!("{} failed {action:?}: {error}", state.context.agent);
                    let data = json!({ "action": action, "error": error.to_string() });
                    state.context.emit("agent.task_failed", summary, data).await;
                }
            }
            (None, None) => {}
        }
        match fatal {
            // Dying is how a fatal error reaches the supervisor, which restarts us fresh.
            Some(reason) => Err(format!("fatal error: {reason}").into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_answers_ping_and_status_and_nothing_else_by_itself() {
        assert_eq!(housekeeping("seo", 1, &Task::bare("ping")), Some(Ok(json!({"agent": "seo", "pong": true}))));
        assert_eq!(
            housekeeping("seo", 7, &Task::bare("status")),
            Some(Ok(json!({"agent": "seo", "tasks_handled": 7})))
        );
        assert_eq!(housekeeping("seo", 1, &Task::bare("quote")), None);
    }
}
