//! Memory: which past experiences matter for a decision at hand.
//!
//! Experiences and patterns are stored by the store; this module ranks them. An
//! experience counts more when it is the same kind of action, in the same niche,
//! recent, and when it worked.

use async_trait::async_trait;
use boardroom_memory::{MemoryError, NewExperience, PatternOutcome};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{ack, unknown};
use crate::agent::{Agent, AgentContext, AgentError, Task};
use serde::{Deserialize, Serialize};

/// The parts of an experience that relevance looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperienceFacts {
    /// Kind of action, e.g. `launch_product`.
    pub action_type: String,
    /// Niche it concerned, if any.
    pub niche: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// Age in days.
    pub age_days: f64,
}

/// How relevant an experience is to a decision about `action_type` in `niche`, from 0:
/// same action ×1 (another action ×0.3), same niche ×1.5, success ×1.2 (failures still
/// count — they are lessons too), halving every 30 days.
pub fn relevance(experience: &ExperienceFacts, action_type: &str, niche: Option<&str>) -> f64 {
    let action = if experience.action_type == action_type { 1.0 } else { 0.3 };
    let same_niche = match (experience.niche.as_deref(), niche) {
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => 1.5,
        _ => 1.0,
    };
    let outcome = if experience.success { 1.2 } else { 1.0 };
    let recency = 0.5_f64.powf(experience.age_days.max(0.0) / 30.0);
    action * same_niche * outcome * recency
}

/// Indexes of the `limit` most relevant experiences, most relevant first (stable for
/// ties, so the choice is deterministic).
pub fn most_relevant(
    experiences: &[ExperienceFacts],
    action_type: &str,
    niche: Option<&str>,
    limit: usize,
) -> Vec<usize> {
    let mut scored: Vec<(usize, f64)> =
        experiences.iter().enumerate().map(|(i, e)| (i, relevance(e, action_type, niche))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().take(limit).map(|(i, _)| i).collect()
}

/// The memory agent. Actions: `record` (an experience; its `key` makes a repeat
/// harmless), which also updates the success pattern of its action and niche; `recall`
/// (`{"action_type", "niche"?, "limit"?}`), the most relevant past experiences.
#[derive(Debug, Default)]
pub struct MemoryKeeper;

#[derive(Deserialize)]
struct RecordRequest {
    key: String,
    action_type: String,
    #[serde(default)]
    niche: Option<String>,
    #[serde(default)]
    context: Value,
    #[serde(default)]
    result: Value,
    success: bool,
    #[serde(default)]
    revenue: Decimal,
    #[serde(default)]
    lessons: String,
}

#[derive(Deserialize)]
struct RecallRequest {
    action_type: String,
    #[serde(default)]
    niche: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

impl MemoryKeeper {
    async fn record(context: &AgentContext, request: RecordRequest) -> Result<Value, AgentError> {
        let failed = |error: MemoryError| AgentError::Failed(error.to_string());
        let mut experience_context = request.context;
        if let (Some(niche), Value::Object(map)) = (&request.niche, &mut experience_context) {
            map.insert("niche".into(), json!(niche));
        } else if let Some(niche) = &request.niche {
            experience_context = json!({ "niche": niche, "details": experience_context });
        }
        let experience = NewExperience {
            tenant_id: context.tenant,
            action_type: request.action_type.clone(),
            context: experience_context,
            result: request.result,
            success: request.success,
            revenue: request.revenue,
            lessons: request.lessons,
        };
        let outcome = PatternOutcome {
            pattern_type: request.action_type,
            pattern_key: request.niche.clone().unwrap_or_else(|| "any".into()),
            pattern_data: json!({ "niche": request.niche }),
            success: request.success,
            revenue: request.revenue,
        };
        // Experience, pattern and key in one transaction: a retry after a crash finds
        // the key taken and changes nothing.
        match context.store.record_experience_once(&request.key, experience, outcome).await.map_err(failed)? {
            None => Ok(ack(json!({ "duplicate": true }))),
            Some(pattern) => Ok(ack(
                json!({ "pattern": { "success_rate": pattern.success_rate, "usage_count": pattern.usage_count, "avg_revenue": pattern.avg_revenue } }),
            )),
        }
    }

    async fn recall(context: &AgentContext, request: RecallRequest) -> Result<Value, AgentError> {
        let stored = context
            .store
            .experiences(context.tenant, None, 200)
            .await
            .map_err(|error| AgentError::Failed(error.to_string()))?;
        let now = Utc::now();
        let facts: Vec<ExperienceFacts> = stored
            .iter()
            .map(|e| ExperienceFacts {
                action_type: e.action_type.clone(),
                niche: e.context["niche"].as_str().map(str::to_owned),
                success: e.success,
                age_days: (now - e.created_at).num_seconds() as f64 / 86_400.0,
            })
            .collect();
        let chosen =
            most_relevant(&facts, &request.action_type, request.niche.as_deref(), request.limit.unwrap_or(5).min(50));
        let experiences: Vec<&boardroom_memory::Experience> = chosen.into_iter().map(|i| &stored[i]).collect();
        Ok(json!({ "experiences": experiences }))
    }
}

#[async_trait]
impl Agent for MemoryKeeper {
    async fn handle(&mut self, context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "record" => Self::record(context, task.parse()?).await,
            "recall" => Self::recall(context, task.parse()?).await,
            _ => unknown(context.agent, task),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experience(action: &str, niche: &str, success: bool, age: f64) -> ExperienceFacts {
        ExperienceFacts { action_type: action.into(), niche: Some(niche.into()), success, age_days: age }
    }

    #[test]
    fn the_same_action_in_the_same_niche_recently_ranks_first() {
        let experiences = [
            experience("set_price", "templates", true, 1.0),
            experience("launch_product", "courses", true, 1.0),
            experience("launch_product", "templates", false, 2.0),
            experience("launch_product", "templates", true, 90.0),
        ];
        // The 90-day-old success has faded to an eighth: below even another action's.
        assert_eq!(most_relevant(&experiences, "launch_product", Some("templates"), 3), [2, 1, 0]);
        assert!((relevance(&experiences[3], "launch_product", Some("templates")) - 1.8 / 8.0).abs() < 1e-12);
        assert!(most_relevant(&experiences, "x", None, 0).is_empty());
    }
}
