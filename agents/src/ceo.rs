//! The CEO: coordinates the specialists of its tenant's swarm.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::agent::{Agent, AgentContext, AgentError, Task};
use crate::specialists::housekeeping;

/// The CEO agent. Its `roll_call` action asks every peer for a `ping` and reports who
/// answered, which exercises the whole delegation path (throttle, permits, restarts).
#[derive(Debug, Default)]
pub struct Ceo {
    tasks_handled: u64,
}

#[async_trait]
impl Agent for Ceo {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        self.tasks_handled += 1;
        if let Some(answer) = housekeeping(context.agent, self.tasks_handled, &task) {
            return answer;
        }
        match task.action.as_str() {
            "roll_call" => Ok(roll_call(context).await),
            _ => Err(AgentError::UnknownAction {
                agent: context.agent.to_owned(),
                action: task.action,
            }),
        }
    }
}

async fn roll_call(context: &AgentContext) -> Value {
    let mut present = Vec::new();
    let mut absent = serde_json::Map::new();
    for name in context
        .peers
        .names()
        .into_iter()
        .filter(|name| *name != context.agent)
    {
        match context.call(name, Task::bare("ping")).await {
            Ok(_) => present.push(name),
            Err(error) => {
                absent.insert(name.to_owned(), Value::String(error.to_string()));
            }
        }
    }
    let summary = format!(
        "roll call: {} present, {} absent",
        present.len(),
        absent.len()
    );
    let report = json!({ "present": present, "absent": absent });
    context.emit("ceo.roll_call", summary, report.clone()).await;
    report
}
