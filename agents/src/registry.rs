use std::sync::Arc;

use crate::agent::Agent;
use crate::ceo::Ceo;
use crate::specialists::{Accountant, ContentWriter, Flipper, MemoryKeeper, Pricer, Reflector, SeoAnalyst, Strategist};

/// Builds a fresh instance of an agent for a tenant's swarm.
pub type AgentFactory = Arc<dyn Fn() -> Box<dyn Agent> + Send + Sync>;

/// Name of the CEO agent, always first in a swarm.
pub const CEO: &str = "ceo";

/// The agents every tenant swarm runs, in start order.
///
/// The supervisor spawns one actor per entry, restarts it from its factory, routes
/// `call`s by name, throttles it and reports it in the event stream: registering here
/// is all an agent needs.
#[derive(Clone)]
pub struct AgentRegistry {
    entries: Vec<(&'static str, AgentFactory)>,
}

impl AgentRegistry {
    /// An empty registry (tests and benchmarks build their own).
    pub fn empty() -> Self {
        Self { entries: Vec::new() }
    }

    /// The standard swarm: the CEO and the eight specialists. Adding an agent to every
    /// swarm is one more line here.
    pub fn standard() -> Self {
        Self::empty()
            .with(CEO, || Box::new(Ceo))
            .with("strategist", || Box::new(Strategist))
            .with("seo", || Box::new(SeoAnalyst))
            .with("pricing", || Box::new(Pricer))
            .with("content", || Box::new(ContentWriter))
            .with("flipping", || Box::new(Flipper))
            .with("accountant", || Box::new(Accountant))
            .with("memory", || Box::new(MemoryKeeper))
            .with("reflection", || Box::new(Reflector::default()))
    }

    /// Adds an agent, or replaces the one of the same name keeping its position.
    pub fn with(mut self, name: &'static str, factory: impl Fn() -> Box<dyn Agent> + Send + Sync + 'static) -> Self {
        let factory: AgentFactory = Arc::new(factory);
        match self.entries.iter_mut().find(|(existing, _)| *existing == name) {
            Some(entry) => entry.1 = factory,
            None => self.entries.push((name, factory)),
        }
        self
    }

    /// The registered agents in start order.
    pub fn entries(&self) -> &[(&'static str, AgentFactory)] {
        &self.entries
    }

    /// Agent names in start order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|(name, _)| *name).collect()
    }

    /// How many agents a swarm runs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the registry lists no agent.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for AgentRegistry {
    fn default() -> Self {
        Self::standard()
    }
}
