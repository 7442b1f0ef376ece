//! [`OfflineBrain`]: the agents' own rules, unchanged.

use async_trait::async_trait;

use super::{Brain, BrainAnswer, BrainError, BrainInfo, BrainRequest, DecisionSource};

/// The default brain: returns the agent's proposal as the decision, labelled
/// [`DecisionSource::Offline`]. No I/O, no randomness: the same request always gets
/// the same answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineBrain;

impl OfflineBrain {
    /// The offline brain.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Brain for OfflineBrain {
    fn describe(&self) -> BrainInfo {
        BrainInfo { backend: "offline".to_string(), models: Vec::new(), base_url: None }
    }

    fn calls_a_model(&self) -> bool {
        false
    }

    async fn decide(&self, request: BrainRequest) -> Result<BrainAnswer, BrainError> {
        check_proposal(&request)?;
        Ok(BrainAnswer { decision: request.proposal, source: DecisionSource::Offline, usage: None })
    }
}

/// A proposal that does not match its own shape is an agent bug; both brains refuse it
/// before doing anything else.
pub(super) fn check_proposal(request: &BrainRequest) -> Result<(), BrainError> {
    request
        .shape
        .check(&request.proposal)
        .map_err(|problems| BrainError::InvalidProposal { agent: request.agent.clone(), problems })
}
