//! The eight specialists.
//!
//! In this first cut every specialist answers the common housekeeping actions (`ping`,
//! `status`) that the CEO and the supervisor use to check the swarm; their business
//! rules (keyword research, pricing, content, flipping, ledger, memory, reflection,
//! strategy) each get their own module as they are built.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::agent::{Agent, AgentContext, AgentError, Task};

/// Names of the eight specialists, in the order a swarm starts them.
pub const SPECIALISTS: &[&str] = &[
    "strategist",
    "seo",
    "pricing",
    "content",
    "flipping",
    "accountant",
    "memory",
    "reflection",
];

/// A specialist agent: answers liveness and status checks and counts its work.
#[derive(Debug)]
pub struct Specialist {
    name: &'static str,
    tasks_handled: u64,
}

impl Specialist {
    /// A fresh specialist of the given name.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            tasks_handled: 0,
        }
    }
}

#[async_trait]
impl Agent for Specialist {
    async fn handle(&mut self, _context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        self.tasks_handled += 1;
        housekeeping(self.name, self.tasks_handled, &task).unwrap_or_else(|| {
            Err(AgentError::UnknownAction {
                agent: self.name.to_owned(),
                action: task.action,
            })
        })
    }
}

/// The actions every agent answers: `ping` (liveness) and `status` (work counted since
/// the instance started, which a restart resets). `None` for any other action.
pub(crate) fn housekeeping(
    name: &str,
    tasks_handled: u64,
    task: &Task,
) -> Option<Result<Value, AgentError>> {
    match task.action.as_str() {
        "ping" => Some(Ok(json!({ "agent": name, "pong": true }))),
        "status" => Some(Ok(json!({ "agent": name, "tasks_handled": tasks_handled }))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housekeeping_answers_ping_and_status_only() {
        let ping = housekeeping("seo", 1, &Task::bare("ping"));
        assert_eq!(ping, Some(Ok(json!({"agent": "seo", "pong": true}))));
        let status = housekeeping("seo", 7, &Task::bare("status"));
        assert_eq!(
            status,
            Some(Ok(json!({"agent": "seo", "tasks_handled": 7})))
        );
        assert_eq!(housekeeping("seo", 1, &Task::bare("quote_price")), None);
    }
}
