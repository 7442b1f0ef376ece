//! The per-tenant throttle every agent message passes.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use boardroom_agents::AgentError;
use boardroom_memory::{EventLog, NewEvent, TenantId};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::json;
use tokio::time::Instant;

use crate::config::ThrottleLimits;

/// Limits and live state of one tenant's throttle. Changes take effect on the next
/// message: the limiter is swapped atomically, so senders never see a half-applied
/// change and the hot path is one atomic load plus a GCRA check.
pub struct ThrottleGate {
    tenant: TenantId,
    limits: ArcSwap<ThrottleLimits>,
    limiter: ArcSwap<Option<DefaultDirectRateLimiter>>,
    events: EventLog,
    waited: AtomicU64,
    refused: AtomicU64,
    // Throttle events are reported at most once a second per tenant: a flood of
    // throttled messages must not become a flood of events.
    last_report_ms: AtomicU64,
    epoch: std::time::Instant,
}

impl ThrottleGate {
    pub(crate) fn new(tenant: TenantId, limits: ThrottleLimits, events: EventLog) -> Self {
        Self {
            tenant,
            limiter: ArcSwap::from_pointee(limiter_for(&limits)),
            limits: ArcSwap::from_pointee(limits),
            events,
            waited: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            last_report_ms: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ThrottleLimits {
        **self.limits.load()
    }

    /// Messages that had to wait, and messages refused, since the swarm was activated.
    pub fn counters(&self) -> (u64, u64) {
        (self.waited.load(Ordering::Relaxed), self.refused.load(Ordering::Relaxed))
    }

    /// Replaces the limits; the next message is judged by the new ones. Recorded as a
    /// `throttle.changed` event.
    pub async fn set_limits(&self, limits: ThrottleLimits) {
        self.limiter.store(Arc::new(limiter_for(&limits)));
        self.limits.store(Arc::new(limits));
        let event = NewEvent::now(self.tenant, "throttle", "throttle.changed", describe(&limits)).with_data(json!({
            "messages_per_minute": limits.messages_per_minute.map(NonZeroU32::get),
            "burst": limits.burst.map(NonZeroU32::get),
            "max_wait_ms": limits.max_wait.as_millis() as u64,
        }));
        if let Err(error) = self.events.append(event).await {
            tracing::warn!(%error, "throttle change not recorded");
        }
    }

    /// Lets one message to `agent` through, waiting while the rate allows it within both
    /// the configured `max_wait` and the caller's `deadline`; otherwise refuses it.
    /// `on_hold` runs once when the message has to wait (the live view shows it).
    pub(crate) async fn admit(&self, agent: &str, deadline: Instant, on_hold: impl FnOnce()) -> Result<(), AgentError> {
        let mut on_hold = Some(on_hold);
        let mut reported_wait = false;
        loop {
            let limiter = self.limiter.load();
            let Some(limiter) = limiter.as_ref() else {
                return Ok(());
            };
            let wait = match limiter.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => not_until.wait_time_from(CLOCK.now()),
            };
            let max_wait = self.limits.load().max_wait;
            let wake = Instant::now() + wait;
            if wait > max_wait || wake > deadline {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.report("throttle.refused", agent, wait);
                return Err(AgentError::Throttled {
                    reason: "messages per minute".into(),
                    retry_after_secs: wait.as_secs_f64(),
                });
            }
            if !reported_wait {
                reported_wait = true;
                if let Some(on_hold) = on_hold.take() {
                    on_hold();
                }
                self.waited.fetch_add(1, Ordering::Relaxed);
                self.report("throttle.waited", agent, wait);
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    fn report(&self, kind: &'static str, agent: &str, wait: Duration) {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let last = self.last_report_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < 1_000 {
            return;
        }
        if self.last_report_ms.compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        let (waited, refused) = self.counters();
        let summary = match kind {
            "throttle.refused" => format!("message to {agent} refused by the throttle"),
            _ => format!("message to {agent} held by the throttle for {} ms", wait.as_millis()),
        };
        let event = NewEvent::now(self.tenant, agent, kind, summary).with_data(json!({
            "wait_ms": wait.as_millis() as u64,
            "waited_total": waited,
            "refused_total": refused,
            "limits": describe(&self.limits()),
        }));
        // Never block a sender on the event queue just to say it was throttled.
        if self.events.try_append(event).is_err() {
            tracing::debug!(tenant = %self.tenant, "throttle event dropped: event queue full");
        }
    }
}

/// One clock for every limiter: creating a quanta clock calibrates it against the TSC,
/// which costs more than activating the rest of a swarm.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

fn limiter_for(limits: &ThrottleLimits) -> Option<DefaultDirectRateLimiter> {
    let rate = limits.messages_per_minute?;
    let burst = limits.burst.unwrap_or_else(|| NonZeroU32::new(rate.get().div_ceil(60)).unwrap_or(NonZeroU32::MIN));
    Some(RateLimiter::direct_with_clock(Quota::per_minute(rate).allow_burst(burst), CLOCK.clone()))
}

fn describe(limits: &ThrottleLimits) -> String {
    match limits.messages_per_minute {
        Some(rate) => format!("{rate} messages/min"),
        None => "unlimited messages".to_owned(),
    }
}
