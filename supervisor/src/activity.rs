//! The swarm's live activity: who is calling whom right now, and what each agent is
//! doing. This is what lights the edges and colours the nodes of the live view's graph.
//!
//! Unlike [`SwarmEvent`](boardroom_memory::SwarmEvent)s, activity is **not persisted**
//! and has no sequence number: it is a picture of the present, worthless a minute later,
//! and far too frequent to store (every message is several signals). A viewer that
//! reconnects gets the persisted events it missed from the log and simply resumes the
//! picture from the next signal.
//!
//! Each tenant has one [`ActivityFeed`] (a bounded `broadcast` channel) that outlives
//! its swarm's restarts, so a viewer keeps watching across them. Publishing costs one
//! check of the receiver count when nobody watches: the signal is only built (the
//! action's name copied) when someone listens. A viewer too slow for the buffer misses
//! signals and is told how many (`broadcast`'s `Lagged`), never slowing the swarm.

use std::sync::{Arc, OnceLock};

use boardroom_adapters::Platform;
use serde::Serialize;
use tokio::sync::broadcast;

/// Signals buffered per tenant before a slow viewer starts missing some.
const FEED_CAPACITY: usize = 256;

/// Who sends messages that come from outside the swarm: the HTTP API (an owner's or
/// admin's request).
pub(crate) const FROM_API: &str = "api";
/// Who sends the autopilot's cycle requests.
pub(crate) const FROM_AUTOPILOT: &str = "autopilot";

/// One live signal of a tenant's swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activity {
    /// A message between two nodes of the graph (an agent, an adapter, or the outside:
    /// `api`, `autopilot`), at one point of its life.
    Message {
        /// The sender: an agent's name, `api` or `autopilot`.
        from: &'static str,
        /// The receiver: an agent's name, or an adapter such as `market:sandbox`.
        to: Arc<str>,
        /// What was asked (`run_cycle`, `quote`, `set_price`…).
        action: String,
        /// Where the message is.
        phase: MessagePhase,
    },
    /// A connected account's adapter changed state (working, throttled by the
    /// platform, its circuit open, restarting).
    Adapter {
        /// The adapter's node, such as `market:shopify`.
        adapter: Arc<str>,
        /// Its new state.
        state: crate::AdapterState,
    },
    /// An agent is being restarted after it failed, or is back; or it went to sleep, or
    /// is being woken.
    Agent {
        /// The agent's name.
        agent: &'static str,
        /// Its new state.
        state: AgentState,
    },
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagePhase {
    /// Sent; about to pass the throttle.
    Sent,
    /// Held by the tenant's throttle.
    Throttled,
    /// Refused by the tenant's throttle.
    Refused,
    /// The receiver started handling it.
    Started,
    /// The receiver finished it successfully.
    Finished,
    /// The receiver answered with an error.
    Failed,
}

/// An agent's lifecycle state, as supervision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// It died and its replacement is being spawned.
    Restarting,
    /// Its (new) actor is up and waiting for work.
    Idle,
    /// Not spawned: never asked for yet, or put to sleep after an idle spell. Its state
    /// is in the store; its next message wakes it.
    Asleep,
    /// A message woke it and its actor is being spawned.
    Waking,
    /// Its swarm stopped (passivated, shut down or escalated).
    Stopped,
}

/// One tenant's live activity channel. Cheap to clone; its clones share one channel.
///
/// The channel (a buffer of [`FEED_CAPACITY`] signals) is only made when the first
/// viewer subscribes: most active swarms are never watched, and would otherwise each
/// hold a buffer nobody reads.
#[derive(Clone, Default)]
pub struct ActivityFeed {
    sender: Arc<OnceLock<broadcast::Sender<Activity>>>,
}

impl ActivityFeed {
    /// Publishes the signal `make` builds, only if someone watches: the swarm's hot path
    /// pays one atomic-ish check and no allocation when nobody does.
    pub(crate) fn publish(&self, make: impl FnOnce() -> Activity) {
        if let Some(sender) = self.sender.get()
            && sender.receiver_count() > 0
        {
            // A send fails only if the last viewer left in between: nothing to do.
            let _ = sender.send(make());
        }
    }

    /// A receiver of the signals published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Activity> {
        self.sender.get_or_init(|| broadcast::channel(FEED_CAPACITY).0).subscribe()
    }

    /// Whether anyone watches.
    pub(crate) fn is_watched(&self) -> bool {
        self.sender.get().is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Whether a clone of this feed lives outside the map that keeps it: a swarm (or a
    /// handle to one) publishes to it.
    pub(crate) fn is_held_elsewhere(&self) -> bool {
        Arc::strong_count(&self.sender) > 1
    }
}

/// The name of the graph node of an adapter: `market:shopify` for a market, and
/// `channel:x` for a marketing channel.
pub fn adapter_node(platform: Platform) -> Arc<str> {
    let kind = if platform.is_marketing_channel() { "channel" } else { "market" };
    Arc::from(format!("{kind}:{}", platform.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_built_or_sent_while_nobody_watches() {
        let feed = ActivityFeed::default();
        assert!(feed.sender.get().is_none(), "no channel is made before anyone watches");
        let mut built = false;
        feed.publish(|| {
            built = true;
            Activity::Agent { agent: "seo", state: AgentState::Idle }
        });
        assert!(!built, "the signal was built with nobody watching");

        let mut viewer = feed.subscribe();
        feed.publish(|| Activity::Agent { agent: "seo", state: AgentState::Restarting });
        assert_eq!(viewer.try_recv().ok(), Some(Activity::Agent { agent: "seo", state: AgentState::Restarting }));
    }

    #[test]
    fn a_message_signal_reads_as_json_the_browser_understands() {
        let signal = Activity::Message {
            from: "ceo",
            to: Arc::from("pricing"),
            action: "quote".into(),
            phase: MessagePhase::Started,
        };
        assert_eq!(
            serde_json::to_value(&signal).ok(),
            Some(
                serde_json::json!({"type": "message", "from": "ceo", "to": "pricing", "action": "quote", "phase": "started"})
            )
        );
    }
}
