//! The eight specialists, one module each: the rules (pure, unit-tested functions) and
//! the agent that applies them to a tenant's data.

pub mod accountant;
pub mod content;
pub mod flipping;
pub mod memory;
pub mod pricing;
pub mod reflection;
pub mod seo;
pub mod strategist;

pub use accountant::{Accountant, Booking, ProfitAndLoss, ReinvestmentPlan, category};
pub use content::{Brief, ContentWriter, Network, ScheduledPost, Voice, best_hour};
pub use flipping::{Deal, FlipAnalysis, Flipper};
pub use memory::{ExperienceFacts, MemoryKeeper};
pub use pricing::{PriceQuote, Pricer, PricingInput, SalesObservation};
pub use reflection::{
    CycleOutcome, NETWORK_BIAS_RANGE, NetworkBias, NetworkEngagement, Reflection, Reflector, Strategy, network_name,
};
pub use seo::{Keyword, ListingBrief, ListingLimits, OptimizedListing, SeoAnalyst};
pub use strategist::{NicheFacts, Opportunity, STRATEGY_KEY, Strategist, StrategyWeights, load_strategy};

use serde_json::{Value, json};

use crate::agent::{AgentError, Task};

/// Names of the eight specialists, in the order a swarm starts them.
pub const SPECIALISTS: &[&str] =
    &["strategist", "seo", "pricing", "content", "flipping", "accountant", "memory", "reflection"];

/// The answer to an action an agent does not have.
pub(crate) fn unknown(agent: &str, task: Task) -> Result<Value, AgentError> {
    Err(AgentError::UnknownAction { agent: agent.to_owned(), action: task.action })
}

/// Serialises an answer; our own types always serialise.
pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, AgentError> {
    serde_json::to_value(value).map_err(|error| AgentError::Failed(format!("answer not serialisable: {error}")))
}

/// `{"ok": true}`-style acknowledgement with extra fields.
pub(crate) fn ack(fields: Value) -> Value {
    let mut answer = json!({ "ok": true });
    if let (Some(target), Value::Object(extra)) = (answer.as_object_mut(), fields) {
        target.extend(extra);
    }
    answer
}
