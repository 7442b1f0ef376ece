//! A circuit breaker per connection: stop calling a platform that keeps failing, and
//! try it again, once, after a cool-down.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{AdapterError, Platform};

/// Where a [`CircuitBreaker`] stands, as a dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through; failures are being counted.
    Closed,
    /// The platform kept failing: calls fail at once until the cool-down ends.
    Open,
    /// The cool-down ended: one trial call may go through; its outcome closes or reopens
    /// the circuit.
    HalfOpen,
}

impl CircuitState {
    /// The state's name: `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// What a finished call tells the breaker about the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The platform answered (a success, a business rejection or a rate limit: all prove
    /// it is up).
    Answered,
    /// An outage: a 5xx, a refused connection, a time-out.
    Failed,
    /// Says nothing about the platform (the call never reached it).
    Neutral,
}

impl Verdict {
    /// What `outcome` says about the platform.
    pub(crate) fn of<T>(outcome: &Result<T, AdapterError>) -> Self {
        match outcome {
            Ok(_) | Err(AdapterError::Rejected { .. } | AdapterError::RateLimited { .. }) => Self::Answered,
            Err(AdapterError::Unavailable { .. }) => Self::Failed,
            Err(AdapterError::Throttled { .. }) => Self::Neutral,
        }
    }
}

/// Stops calls to a platform that failed `failure_threshold` times in a row.
///
/// Closed, it counts consecutive outages ([`AdapterError::Unavailable`]: 5xx answers,
/// refused connections, time-outs); business rejections and rate limits prove the
/// platform is up and reset the count. At the threshold it opens: for `cool_down` every
/// call fails at once with [`AdapterError::Unavailable`] saying the circuit is open,
/// which spares the platform (and the caller's deadline) a pile of doomed requests. Then
/// it is half-open: the next call is let through as a trial (others still fail at once
/// while it runs); an answer closes the circuit, an outage opens it for another
/// cool-down.
#[derive(Debug)]
pub struct CircuitBreaker {
    platform: Platform,
    failure_threshold: u32,
    cool_down: Duration,
    // A std mutex: every critical section is a few comparisons and is never held across
    // an `.await`, so an async mutex would only add cost.
    inner: Mutex<Phase>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    HalfOpen { trial_running: bool },
}

impl CircuitBreaker {
    /// A closed breaker for `platform` that opens after `failure_threshold` consecutive
    /// outages (at least 1) and stays open for `cool_down`.
    pub fn new(platform: Platform, failure_threshold: u32, cool_down: Duration) -> Self {
        Self {
            platform,
            failure_threshold: failure_threshold.max(1),
            cool_down,
            inner: Mutex::new(Phase::Closed { consecutive_failures: 0 }),
        }
    }

    /// The state now (an open circuit whose cool-down has ended reads as half-open).
    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            Phase::Closed { .. } => CircuitState::Closed,
            Phase::Open { until } if Instant::now() < until => CircuitState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Asks to make a call. Refused with [`AdapterError::Unavailable`] while the circuit
    /// is open, or while half-open with its one trial call already running.
    pub fn permit(&self) -> Result<BreakerPermit<'_>, AdapterError> {
        let mut phase = self.lock();
        match *phase {
            Phase::Closed { .. } => Ok(BreakerPermit { breaker: self, trial: false, settled: false }),
            Phase::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(self.refusal(format!(
                        "circuit open after {} consecutive failures; next trial in {:.1} s",
                        self.failure_threshold,
                        (until - now).as_secs_f64()
                    )));
                }
                *phase = Phase::HalfOpen { trial_running: true };
                Ok(BreakerPermit { breaker: self, trial: true, settled: false })
            }
            Phase::HalfOpen { trial_running: true } => {
                Err(self.refusal("circuit half-open and its trial call is still running".to_owned()))
            }
            Phase::HalfOpen { trial_running: false } => {
                *phase = Phase::HalfOpen { trial_running: true };
                Ok(BreakerPermit { breaker: self, trial: true, settled: false })
            }
        }
    }

    fn settle(&self, trial: bool, verdict: Verdict) {
        let mut phase = self.lock();
        *phase = match (verdict, *phase) {
            (Verdict::Answered, _) => Phase::Closed { consecutive_failures: 0 },
            (Verdict::Failed, _) if trial => Phase::Open { until: Instant::now() + self.cool_down },
            (Verdict::Failed, Phase::Closed { consecutive_failures }) => {
                let failures = consecutive_failures.saturating_add(1);
                if failures >= self.failure_threshold {
                    tracing::warn!(platform = ?self.platform, failures, "circuit opens");
                    Phase::Open { until: Instant::now() + self.cool_down }
                } else {
                    Phase::Closed { consecutive_failures: failures }
                }
            }
            // A call let through while closed that failed after another opened the
            // circuit: the circuit stays as the other left it.
            (Verdict::Failed, other) => other,
            (Verdict::Neutral, Phase::HalfOpen { .. }) if trial => Phase::HalfOpen { trial_running: false },
            (Verdict::Neutral, other) => other,
        };
    }

    fn refusal(&self, message: String) -> AdapterError {
        AdapterError::Unavailable { platform: self.platform, message }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        // The phase is a plain value, consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leave to make one call; tell the breaker how it went with [`BreakerPermit::record`].
///
/// A permit dropped unrecorded (the call was cancelled) tells the breaker nothing, except
/// that a half-open trial slot is free again.
#[derive(Debug)]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    settled: bool,
}

impl BreakerPermit<'_> {
    /// Records the call's outcome: an answer closes the circuit (or resets its count), an
    /// outage counts towards opening it (or reopens it after a failed trial).
    pub fn record<T>(mut self, outcome: &Result<T, AdapterError>) {
        self.settled = true;
        self.breaker.settle(self.trial, Verdict::of(outcome));
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.trial, Verdict::Neutral);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(30);

    fn outage() -> Result<(), AdapterError> {
        Err(AdapterError::Unavailable { platform: Platform::Shopify, message: "503".into() })
    }

    fn rejection() -> Result<(), AdapterError> {
        Err(AdapterError::rejected(Platform::Shopify, "title can't be blank"))
    }

    fn call(breaker: &CircuitBreaker, outcome: Result<(), AdapterError>) {
        breaker.permit().expect("the circuit lets the call through").record(&outcome);
    }

    #[tokio::test(start_paused = true)]
    async fn k_consecutive_outages_open_the_circuit_and_calls_then_fail_at_once() {
        let breaker = CircuitBreaker::new(Platform::Shopify, 3, COOL_DOWN);
        call(&breaker, outage());
        call(&breaker, outage());
        assert_eq!(breaker.state(), CircuitState::Closed);
        call(&breaker, outage());
        assert_eq!(breaker.state(), CircuitState::Open);

        let refused = breaker.permit().expect_err("open circuit refuses");
        assert!(!matches!(refused, AdapterError::Rejected { .. }));
        assert!(refused.to_string().contains("circuit open"), "{refused}");
    }

    #[tokio::test(start_paused = true)]
    async fn business_rejections_and_successes_reset_the_count() {
        let breaker = CircuitBreaker::new(Platform::Shopify, 2, COOL_DOWN);
        for _ in 0..5 {
            call(&breaker, outage());
            call(&breaker, rejection());
        }
        call(&breaker, outage());
        call(&breaker, Ok(()));
        call(&breaker, outage());
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cool_down_one_trial_goes_through_and_its_success_closes_the_circuit() {
        let breaker = CircuitBreaker::new(Platform::Shopify, 1, COOL_DOWN);
        call(&breaker, outage());
        tokio::time::advance(COOL_DOWN - Duration::from_millis(1)).await;
        assert_eq!(breaker.state(), CircuitState::Open);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen);

        let trial = breaker.permit().expect("the trial goes through");
        let second = breaker.permit().expect_err("only one trial at a time");
        assert!(second.to_string().contains("trial"), "{second}");
        trial.record(&Ok::<(), AdapterError>(()));
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_reopens_for_a_whole_cool_down() {
        let breaker = CircuitBreaker::new(Platform::Shopify, 1, COOL_DOWN);
        call(&breaker, outage());
        tokio::time::advance(COOL_DOWN).await;
        call(&breaker, outage());
        assert_eq!(breaker.state(), CircuitState::Open);
        tokio::time::advance(COOL_DOWN / 2).await;
        assert_eq!(breaker.state(), CircuitState::Open);
        tokio::time::advance(COOL_DOWN / 2).await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_trial_frees_the_slot_for_the_next() {
        let breaker = CircuitBreaker::new(Platform::Shopify, 1, COOL_DOWN);
        call(&breaker, outage());
        tokio::time::advance(COOL_DOWN).await;
        drop(breaker.permit().expect("trial"));
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        call(&breaker, Ok(()));
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn states_have_dashboard_names() {
        let names: Vec<_> = [CircuitState::Closed, CircuitState::Open, CircuitState::HalfOpen]
            .iter()
            .map(|state| serde_json::to_value(state).expect("serialises"))
            .collect();
        assert_eq!(names, [serde_json::json!("closed"), serde_json::json!("open"), serde_json::json!("half_open")]);
        assert_eq!(CircuitState::HalfOpen.as_str(), "half_open");
    }
}
