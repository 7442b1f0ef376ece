//! # boardroom-agents
//!
//! Owns what an agent *is* and what each one does: the [`Agent`] trait every actor's
//! behaviour implements, the [`AgentRegistry`] that lists which agents a tenant swarm
//! runs, the CEO, and the eight specialists (seo, pricing, content, flipping,
//! accountant, memory, reflection, strategist).
//!
//! Agents know nothing of actors: the supervisor hosts each one in an actor, restarts
//! it with a fresh instance when it fails, and passes every task through the tenant's
//! throttle. An agent reaches its peers through [`AgentContext::call`], which the
//! supervisor wires to the same throttled path.
//!
//! ## Layout
//! - `agent`: the trait, tasks, errors and the context an agent runs in.
//! - `registry`: the list of agents a swarm starts; adding an agent is one line there.
//! - `ceo`: the CEO, which coordinates the specialists.
//! - `launch_media`: what a newly listed product gets among the business's files: a
//!   cover and a voice-over in the personality's colours and voice.
//! - `specialists`: the eight specialists, one module each with its rules.
//! - `copywriting`: the words buyers read — product names, the rules titles keep (no
//!   slugs, no word twice, within a platform's limit) and the seeded choice among
//!   templates that keeps the offline engine's copy varied yet replayable.
//! - `minutes`: the board minutes the CEO writes when a cycle ends — the facts a cycle
//!   collects and how they are written in the personality's voice, money with its
//!   currency.
//! - `guard`: the spending guard — the owner's caps and approval threshold, and the
//!   verdict on each action that commits money (refused, waits for the owner, or goes).
//! - `brain`: the LLM layer: offline (the agents' own rules) or a remote
//!   OpenAI-compatible endpoint with a fallback chain of models.

mod agent;
pub mod brain;
mod ceo;
pub mod copywriting;
pub mod guard;
mod launch_media;
pub mod minutes;
mod registry;
mod specialists;

pub use agent::{Agent, AgentContext, AgentError, DECISION_MARGIN, Decided, Peers, SwarmMedia, Task};
pub use ceo::{Ceo, MAX_POSTS_PER_PRODUCT_A_DAY, MAX_PRODUCTS, PRICE_OVERRIDE_NAMESPACE, Step};
pub use registry::{AgentFactory, AgentRegistry, CEO};
pub use specialists::*;
