//! The per-tenant throttle: every agent message, LLM call and adapter call passes it.
//!
//! - **Messages** per minute (with a burst): GCRA. In process by default; with Redis
//!   the state lives in Redis (`shared`), checked by one atomic script, so the rate
//!   holds across every `boardroom` process sharing that Redis. If Redis stops
//!   answering, the gate falls back to its in-process limiter for a few seconds at a
//!   time rather than stalling the swarm.
//! - **LLM tokens per day**: the sum of the day's stored LLM calls (UTC), checked before
//!   each call. The database is the counter, so the budget survives restarts and is
//!   shared by processes on one database. Calls already in flight when the budget runs
//!   out finish, so the day can overshoot by at most the concurrent calls' tokens.
//! - **Concurrent LLM and adapter calls**: a semaphore each. A swarm lives in one
//!   process at a time, so these are per process. A change of limit swaps in a new
//!   semaphore; calls holding the old one finish under it.
//!
//! Waiting is bounded by the limits' `max_wait` (and a message's deadline); beyond it
//! the call is refused with the time after which it would pass. Throttle events
//! (`throttle.waited`, `throttle.refused`) are reported at most once a second per
//! tenant.
//!
//! ## Layout
//! - `guarded`: the brain and the market as agents see them, behind the gate.

mod guarded;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use boardroom_agents::AgentError;
use boardroom_memory::{EventLog, NewEvent, RedisLink, TenantId};
use chrono::{TimeZone, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ThrottleLimits;
pub(crate) use guarded::{GuardedBrain, GuardedMarket};

/// How long the gate keeps to its in-process limiter after Redis failed to answer.
const SHARED_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A call the throttle would not let through.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Which limit, in words (`messages per minute`, `LLM tokens per day`, …).
    pub reason: &'static str,
    /// When the call would pass.
    pub retry_after: Duration,
}

/// Limits and live state of one tenant's throttle. Changes take effect on the next
/// message: limiters and semaphores are swapped atomically, so senders never see a
/// half-applied change and the hot path is one atomic load plus a GCRA check.
pub struct ThrottleGate {
    tenant: TenantId,
    limits: ArcSwap<ThrottleLimits>,
    limiter: ArcSwap<Option<DefaultDirectRateLimiter>>,
    llm_slots: ArcSwap<Option<Arc<Semaphore>>>,
    adapter_slots: ArcSwap<Option<Arc<Semaphore>>>,
    shared: Option<Arc<RedisLink>>,
    /// Milliseconds since `epoch` before which Redis is not asked again.
    shared_retry_at_ms: AtomicU64,
    events: EventLog,
    waited: AtomicU64,
    refused: AtomicU64,
    // Throttle events are reported at most once a second per tenant and kind (waited,
    // refused): a flood of throttled calls must not become a flood of events, and a
    // wait just reported must not hide the refusal that follows it.
    last_report_ms: [AtomicU64; 2],
    epoch: std::time::Instant,
}

impl ThrottleGate {
    pub(crate) fn new(
        tenant: TenantId,
        limits: ThrottleLimits,
        events: EventLog,
        shared: Option<Arc<RedisLink>>,
    ) -> Self {
        Self {
            tenant,
            limiter: ArcSwap::from_pointee(limiter_for(&limits)),
            llm_slots: ArcSwap::from_pointee(slots_for(limits.concurrent_llm_calls)),
            adapter_slots: ArcSwap::from_pointee(slots_for(limits.concurrent_adapter_calls)),
            limits: ArcSwap::from_pointee(limits),
            shared,
            shared_retry_at_ms: AtomicU64::new(0),
            events,
            waited: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            last_report_ms: [AtomicU64::new(0), AtomicU64::new(0)],
            epoch: std::time::Instant::now(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ThrottleLimits {
        **self.limits.load()
    }

    /// Where the message rate is kept: `"redis"` (shared by processes) or `"process"`.
    pub fn rate_backend(&self) -> &'static str {
        if self.shared.is_some() { "redis" } else { "process" }
    }

    /// Calls that had to wait, and calls refused, since the swarm was activated.
    pub fn counters(&self) -> (u64, u64) {
        (self.waited.load(Ordering::Relaxed), self.refused.load(Ordering::Relaxed))
    }

    /// LLM and adapter calls in flight now.
    pub fn in_flight(&self) -> (u32, u32) {
        let busy = |slots: &ArcSwap<Option<Arc<Semaphore>>>, limit: Option<NonZeroU32>| match (&**slots.load(), limit) {
            (Some(semaphore), Some(limit)) => {
                limit.get().saturating_sub(u32::try_from(semaphore.available_permits()).unwrap_or(u32::MAX))
            }
            _ => 0,
        };
        let limits = self.limits();
        (busy(&self.llm_slots, limits.concurrent_llm_calls), busy(&self.adapter_slots, limits.concurrent_adapter_calls))
    }

    /// Replaces the limits; the next call is judged by the new ones. Recorded as a
    /// `throttle.changed` event.
    pub async fn set_limits(&self, limits: ThrottleLimits) {
        let old = self.limits();
        self.limiter.store(Arc::new(limiter_for(&limits)));
        if old.concurrent_llm_calls != limits.concurrent_llm_calls {
            self.llm_slots.store(Arc::new(slots_for(limits.concurrent_llm_calls)));
        }
        if old.concurrent_adapter_calls != limits.concurrent_adapter_calls {
            self.adapter_slots.store(Arc::new(slots_for(limits.concurrent_adapter_calls)));
        }
        self.limits.store(Arc::new(limits));
        let event = NewEvent::now(self.tenant, "throttle", "throttle.changed", describe(&limits))
            .with_data(limits_json(&limits));
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
            let Some(wait) = self.message_wait().await else {
                return Ok(());
            };
            let max_wait = self.limits.load().max_wait;
            let wake = Instant::now() + wait;
            if wait > max_wait || wake > deadline {
                self.refuse(&format!("message to {agent}"), agent, "messages per minute", wait);
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
                self.report(
                    "throttle.waited",
                    format!("message to {agent} held for {} ms", wait.as_millis()),
                    agent,
                    wait,
                );
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    /// `None` when a message may pass now, else how long until it may.
    async fn message_wait(&self) -> Option<Duration> {
        let limits = self.limits.load();
        let rate = limits.messages_per_minute?;
        if let Some(link) = &self.shared {
            let now_ms = self.now_ms();
            if now_ms >= self.shared_retry_at_ms.load(Ordering::Relaxed) {
                let key = format!("throttle:messages:{}", self.tenant);
                match link.take_one(&key, rate, burst_of(&limits)).await {
                    Ok(wait) => return wait,
                    Err(error) => {
                        let retry_at = now_ms + SHARED_RETRY_AFTER.as_millis() as u64;
                        self.shared_retry_at_ms.store(retry_at, Ordering::Relaxed);
                        tracing::warn!(tenant = %self.tenant, %error, "shared throttle unreachable; limiting in process");
                    }
                }
            }
        }
        let limiter = self.limiter.load();
        let limiter = limiter.as_ref().as_ref()?;
        limiter.check().err().map(|not_until| not_until.wait_time_from(CLOCK.now()))
    }

    /// Admits one LLM call by `agent`: refuses it when the day's tokens are spent, waits
    /// (up to `max_wait`) for a free slot when too many are in flight. Hold the permit
    /// for the length of the call.
    pub(crate) async fn admit_llm(&self, agent: &str) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let limits = self.limits();
        if let Some(budget) = limits.llm_tokens_per_day {
            let spent = self.tokens_spent_today().await;
            if spent >= budget {
                let retry_after = until_midnight();
                let what = format!("LLM call by {agent} ({spent} of {budget} tokens spent today)");
                self.refuse(&what, agent, "LLM tokens per day", retry_after);
                return Err(Refusal { reason: "LLM tokens per day", retry_after });
            }
        }
        let slots = self.llm_slots.load_full();
        self.take_slot(slots, agent, "LLM call", "concurrent LLM calls", limits.max_wait).await
    }

    /// Admits one platform call by `agent`, waiting (up to `max_wait`) for a free slot.
    pub(crate) async fn admit_adapter(&self, agent: &str) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let slots = self.adapter_slots.load_full();
        self.take_slot(slots, agent, "platform call", "concurrent adapter calls", self.limits().max_wait).await
    }

    async fn take_slot(
        &self,
        slots: Arc<Option<Arc<Semaphore>>>,
        agent: &str,
        call: &str,
        reason: &'static str,
        max_wait: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let Some(semaphore) = slots.as_ref().clone() else {
            return Ok(None);
        };
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        self.waited.fetch_add(1, Ordering::Relaxed);
        self.report("throttle.waited", format!("{call} by {agent} waits for a free slot ({reason})"), agent, max_wait);
        match tokio::time::timeout(max_wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            // Closed (never done) or timed out: either way the call does not happen now.
            _ => {
                let retry_after = Duration::from_secs(1);
                self.refuse(&format!("{call} by {agent}"), agent, reason, retry_after);
                Err(Refusal { reason, retry_after })
            }
        }
    }

    /// Tokens the tenant's stored LLM calls spent since midnight UTC. A database error
    /// counts as nothing spent: the budget is a cost guard, not a reason to stop work.
    async fn tokens_spent_today(&self) -> u64 {
        let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).map(|naive| Utc.from_utc_datetime(&naive));
        let Some(midnight) = midnight else { return 0 };
        match self.events.store().llm_token_totals(self.tenant, midnight).await {
            Ok(totals) => totals
                .iter()
                .map(|total| u64::try_from(total.prompt_tokens + total.completion_tokens).unwrap_or(0))
                .sum(),
            Err(error) => {
                tracing::warn!(tenant = %self.tenant, %error, "could not read today's LLM tokens");
                0
            }
        }
    }

    fn refuse(&self, what: &str, agent: &str, reason: &'static str, retry_after: Duration) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.report("throttle.refused", format!("{what} refused: {reason}"), agent, retry_after);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn report(&self, kind: &'static str, summary: String, agent: &str, wait: Duration) {
        let now_ms = self.now_ms();
        let last_report = &self.last_report_ms[usize::from(kind == "throttle.refused")];
        let last = last_report.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < 1_000 {
            return;
        }
        if last_report.compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        let (waited, refused) = self.counters();
        let event = NewEvent::now(self.tenant, agent, kind, summary).with_data(json!({
            "wait_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
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

/// The limits as JSON (`null` is unlimited), as events and the admin API show them.
pub fn limits_json(limits: &ThrottleLimits) -> Value {
    json!({
        "messages_per_minute": limits.messages_per_minute.map(NonZeroU32::get),
        "burst": limits.burst.map(NonZeroU32::get),
        "max_wait_ms": u64::try_from(limits.max_wait.as_millis()).unwrap_or(u64::MAX),
        "llm_tokens_per_day": limits.llm_tokens_per_day,
        "concurrent_llm_calls": limits.concurrent_llm_calls.map(NonZeroU32::get),
        "concurrent_adapter_calls": limits.concurrent_adapter_calls.map(NonZeroU32::get),
    })
}

/// One clock for every limiter: creating a quanta clock calibrates it against the TSC,
/// which costs more than activating the rest of a swarm.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

/// Messages that may pass at once: as configured, else a second's worth of the rate.
fn burst_of(limits: &ThrottleLimits) -> NonZeroU32 {
    let rate = limits.messages_per_minute.map_or(1, NonZeroU32::get);
    limits.burst.unwrap_or_else(|| NonZeroU32::new(rate.div_ceil(60)).unwrap_or(NonZeroU32::MIN))
}

fn limiter_for(limits: &ThrottleLimits) -> Option<DefaultDirectRateLimiter> {
    let rate = limits.messages_per_minute?;
    Some(RateLimiter::direct_with_clock(Quota::per_minute(rate).allow_burst(burst_of(limits)), CLOCK.clone()))
}

fn slots_for(limit: Option<NonZeroU32>) -> Option<Arc<Semaphore>> {
    limit.map(|limit| Arc::new(Semaphore::new(usize::try_from(limit.get()).unwrap_or(usize::MAX))))
}

/// Time until the next UTC day starts, when the token budget refills.
fn until_midnight() -> Duration {
    let now = Utc::now();
    let tomorrow = now.date_naive().succ_opt().and_then(|day| day.and_hms_opt(0, 0, 0));
    tomorrow
        .and_then(|next| (Utc.from_utc_datetime(&next) - now).to_std().ok())
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}

fn describe(limits: &ThrottleLimits) -> String {
    let mut parts = vec![match limits.messages_per_minute {
        Some(rate) => format!("{rate} messages/min"),
        None => "unlimited messages".to_owned(),
    }];
    if let Some(tokens) = limits.llm_tokens_per_day {
        parts.push(format!("{tokens} LLM tokens/day"));
    }
    if let Some(calls) = limits.concurrent_llm_calls {
        parts.push(format!("{calls} LLM calls at once"));
    }
    if let Some(calls) = limits.concurrent_adapter_calls {
        parts.push(format!("{calls} platform calls at once"));
    }
    parts.join(", ")
}
