//! What every real platform adapter shares to stay polite and stay up: retries with
//! back-off, a circuit breaker per connection, a cost-based rate limiter fed by the
//! platform's own signals, a time-out per request and a deadline per call.
//!
//! ## Layout
//! - `retry`: [`RetryPolicy`], jittered exponential back-off that defers to a server's
//!   `Retry-After`.
//! - `breaker`: [`CircuitBreaker`] and its [`CircuitState`] (`closed`, `open`,
//!   `half_open`).
//! - `bucket`: [`CostBucket`], the leaky bucket mirrored from the platform's reports.
//! - here: [`Resilience`], which puts the three around one call, with a [`CallBudget`].

mod breaker;
mod bucket;
mod retry;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use breaker::{BreakerPermit, CircuitBreaker, CircuitState};
pub use bucket::CostBucket;
pub(crate) use bucket::whole_seconds;
pub use retry::RetryPolicy;

use crate::{AdapterError, Platform};

/// How long a platform call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// The longest one HTTP request may go unanswered before it counts as an outage (and
    /// is retried, if the deadline allows).
    pub per_request_timeout: Duration,
    /// The deadline of a call whose caller gave none, counted from the call's start: all
    /// its attempts, back-offs and rate-limit waits fit in it.
    pub default_deadline: Duration,
}

impl Default for CallBudget {
    /// 30 s per request, 2 minutes per call.
    fn default() -> Self {
        Self { per_request_timeout: Duration::from_secs(30), default_deadline: Duration::from_secs(120) }
    }
}

/// The tuning of a [`Resilience`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResilienceSettings {
    /// When and how often failed calls are retried.
    pub retry: RetryPolicy,
    /// Consecutive outages that open the circuit.
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before letting a trial through.
    pub cool_down: Duration,
    /// Time-out per request and default deadline per call.
    pub budget: CallBudget,
}

impl Default for ResilienceSettings {
    /// The default retry policy and budget; the circuit opens after 5 outages, for 30 s.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
            budget: CallBudget::default(),
        }
    }
}

/// The breaker, the bucket and the retry policy of one connection to a platform, put
/// around each call by [`Resilience::run`].
#[derive(Debug)]
pub struct Resilience {
    platform: Platform,
    settings: ResilienceSettings,
    breaker: CircuitBreaker,
    bucket: CostBucket,
}

impl Resilience {
    /// The resilience of one fresh connection to `platform`: circuit closed, bucket
    /// unknown.
    pub fn new(platform: Platform, settings: ResilienceSettings) -> Self {
        Self {
            platform,
            breaker: CircuitBreaker::new(platform, settings.failure_threshold, settings.cool_down),
            bucket: CostBucket::new(platform),
            settings,
        }
    }

    /// The connection's circuit breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The connection's rate-limit bucket, for the adapter to feed from each answer.
    pub fn bucket(&self) -> &CostBucket {
        &self.bucket
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &ResilienceSettings {
        &self.settings
    }

    /// The deadline of a call starting now whose caller gave none.
    pub fn default_deadline(&self) -> Instant {
        Instant::now() + self.settings.budget.default_deadline
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or would
    /// run past `deadline`.
    ///
    /// Each attempt asks the breaker first (an open circuit ends the call at once, with
    /// no retry: that is the breaker's point), then waits for `cost` points in the bucket
    /// (bounded by the deadline), then gets the per-request time-out or what is left of
    /// the deadline, whichever is shorter; a time-out is an
    /// [`AdapterError::Unavailable`]. The outcome goes to the breaker. A retryable
    /// failure is retried after [`RetryPolicy::delay_before`], unless that wait would
    /// end past the deadline: then the failure is returned as it is, so the caller sees
    /// why it failed rather than a bare "out of time". `operation` names the call in
    /// logs.
    pub async fn run<T, F, Fut>(
        &self,
        operation: &str,
        cost: f64,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<T, AdapterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let policy = self.settings.retry;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let permit = self.breaker.permit()?;
            self.bucket.acquire(cost, deadline).await?;
            let now = Instant::now();
            if now >= deadline {
                return Err(AdapterError::Unavailable {
                    platform: self.platform,
                    message: format!("{operation}: the call's deadline passed before it could be sent"),
                });
            }
            let limit = self.settings.budget.per_request_timeout.min(deadline - now);
            let outcome = match tokio::time::timeout(limit, attempt()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(AdapterError::Unavailable {
                    platform: self.platform,
                    message: format!("{operation}: no answer within {:.1} s", limit.as_secs_f64()),
                }),
            };
            permit.record(&outcome);
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            if attempts >= policy.max_attempts.max(1) {
                tracing::warn!(platform = ?self.platform, operation, attempts, %error, "giving up: out of attempts");
                return Err(error);
            }
            let delay = policy.delay_before(attempts, &error);
            if Instant::now() + delay > deadline {
                tracing::warn!(platform = ?self.platform, operation, attempts, %error, "giving up: the next try would be past the deadline");
                return Err(error);
            }
            tracing::info!(platform = ?self.platform, operation, attempts, %error, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn settings() -> ResilienceSettings {
        ResilienceSettings {
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(60),
                jitter: 0.0,
            },
            failure_threshold: 100,
            cool_down: Duration::from_secs(30),
            budget: CallBudget {
                per_request_timeout: Duration::from_secs(10),
                default_deadline: Duration::from_secs(120),
            },
        }
    }

    fn outage() -> AdapterError {
        AdapterError::Unavailable { platform: Platform::Shopify, message: "503".into() }
    }

    /// The times (since the start) at which attempts were made, and what they answered.
    struct Script {
        started: Instant,
        answers: Mutex<Vec<Result<u32, AdapterError>>>,
        seen: Mutex<Vec<Duration>>,
    }

    impl Script {
        fn new(answers: Vec<Result<u32, AdapterError>>) -> Self {
            Self { started: Instant::now(), answers: Mutex::new(answers), seen: Mutex::new(Vec::new()) }
        }

        async fn attempt(&self) -> Result<u32, AdapterError> {
            self.seen.lock().expect("lock").push(self.started.elapsed());
            let mut answers = self.answers.lock().expect("lock");
            if answers.is_empty() { Err(outage()) } else { answers.remove(0) }
        }

        fn seen(&self) -> Vec<u64> {
            self.seen.lock().expect("lock").iter().map(|at| at.as_secs()).collect()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_backoff_grows_between_attempts_until_one_succeeds() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let script = Script::new(vec![Err(outage()), Err(outage()), Err(outage()), Ok(7)]);
        let answer = resilience.run("op", 1.0, resilience.default_deadline(), || script.attempt()).await;
        assert_eq!(answer.expect("the fourth attempt succeeds"), 7);
        assert_eq!(script.seen(), [0, 1, 3, 7], "waits of 1, 2 and 4 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_is_honoured_instead_of_the_backoff() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let limited = AdapterError::RateLimited { platform: Platform::Shopify, retry_after_secs: 5 };
        let script = Script::new(vec![Err(limited), Ok(1)]);
        resilience.run("op", 1.0, resilience.default_deadline(), || script.attempt()).await.expect("succeeds");
        assert_eq!(script.seen(), [0, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_attempt_limit_with_the_last_error() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let script = Script::new(Vec::new());
        let error = resilience
            .run("op", 1.0, resilience.default_deadline(), || script.attempt())
            .await
            .expect_err("always down");
        assert!(matches!(error, AdapterError::Unavailable { .. }));
        assert_eq!(script.seen().len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejection_is_not_retried() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let script = Script::new(vec![Err(AdapterError::rejected(Platform::Shopify, "no")), Ok(1)]);
        let error =
            resilience.run("op", 1.0, resilience.default_deadline(), || script.attempt()).await.expect_err("rejected");
        assert!(matches!(error, AdapterError::Rejected { .. }));
        assert_eq!(script.seen(), [0]);
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_runs_past_the_deadline() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let script = Script::new(Vec::new());
        let started = Instant::now();
        // Attempts at 0, 1 and 3 s; the next would be at 7 s, past the 5 s deadline.
        let deadline = started + Duration::from_secs(5);
        let error = resilience.run("op", 1.0, deadline, || script.attempt()).await.expect_err("always down");
        assert!(matches!(error, AdapterError::Unavailable { .. }));
        assert_eq!(script.seen(), [0, 1, 3]);
        assert_eq!(started.elapsed(), Duration::from_secs(3), "gave up at once rather than sleep past the deadline");

        let limited = AdapterError::RateLimited { platform: Platform::Shopify, retry_after_secs: 60 };
        let script = Script::new(vec![Err(limited), Ok(1)]);
        let started = Instant::now();
        let error = resilience
            .run("op", 1.0, started + Duration::from_secs(30), || script.attempt())
            .await
            .expect_err("60 s > 30 s");
        assert!(matches!(error, AdapterError::RateLimited { retry_after_secs: 60, .. }));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_platform_times_out_per_request_and_within_the_deadline() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        let started = Instant::now();
        let attempts = Mutex::new(0);
        let error = resilience
            .run("op", 1.0, started + Duration::from_secs(25), || async {
                *attempts.lock().expect("lock") += 1;
                std::future::pending::<Result<(), AdapterError>>().await
            })
            .await
            .expect_err("never answers");
        assert!(error.to_string().contains("no answer within"), "{error}");
        // 10 s, wait 1 s, 10 s, wait 2 s, then only 2 s left of the 25 s: a last, shorter attempt.
        assert_eq!(*attempts.lock().expect("lock"), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_ends_the_call_at_once_without_retrying() {
        let resilience = Resilience::new(Platform::Shopify, ResilienceSettings { failure_threshold: 2, ..settings() });
        let script = Script::new(Vec::new());
        let error =
            resilience.run("op", 1.0, resilience.default_deadline(), || script.attempt()).await.expect_err("down");
        assert!(error.to_string().contains("circuit open"), "{error}");
        assert_eq!(script.seen(), [0, 1], "two outages opened it; the third attempt was refused");
        assert_eq!(resilience.breaker().state(), CircuitState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn each_attempt_first_waits_for_its_cost_in_the_bucket() {
        let resilience = Resilience::new(Platform::Shopify, settings());
        resilience.bucket().observe(1000.0, 0.0, 100.0);
        let script = Script::new(vec![Ok(1)]);
        resilience.run("op", 250.0, resilience.default_deadline(), || script.attempt()).await.expect("succeeds");
        assert_eq!(script.started.elapsed(), Duration::from_millis(2500));
    }
}
