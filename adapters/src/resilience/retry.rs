//! How long to wait before trying a failed call again, and when to stop.

use std::time::Duration;

use rand::Rng;

use crate::AdapterError;

/// When and how often a failed platform call is tried again.
///
/// Only [retryable](AdapterError::is_retryable) failures are retried. The wait before
/// retry `n` is the server's own `Retry-After` when it gave one (carried by
/// [`AdapterError::RateLimited`] and [`AdapterError::Throttled`]); otherwise an
/// exponential back-off, `base_delay × 2^(n-1)` capped at `max_delay`, of which a random
/// fraction up to `jitter` is taken away so that many tenants' calls failing together do
/// not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// How many times a call is sent at most, the first time included (at least 1).
    pub max_attempts: u32,
    /// The back-off before the first retry.
    pub base_delay: Duration,
    /// The longest back-off, however many retries came before.
    pub max_delay: Duration,
    /// The largest fraction of a back-off taken away at random, from 0 (none: the
    /// back-off is exact) to 1 (anything from nothing to the full back-off).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// Five attempts, 0.5 s doubling up to 30 s, up to half of each back-off jittered.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// The back-off before retry number `retry` (1 for the first retry), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        // 2^(retry-1), saturating: past ~30 doublings any base is over any sane cap.
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait before retry number `retry` after `error`: the server's `Retry-After` when
    /// the error carries one, otherwise the back-off less a random share of its jitter.
    pub fn delay_before(&self, retry: u32, error: &AdapterError) -> Duration {
        match server_retry_after(error) {
            Some(wait) => wait,
            None => self.jittered(self.backoff(retry), rand::rng().random::<f64>()),
        }
    }

    /// `backoff` less `sample × jitter` of it, `sample` in `[0, 1)`.
    pub(crate) fn jittered(&self, backoff: Duration, sample: f64) -> Duration {
        let taken = (self.jitter.clamp(0.0, 1.0) * sample.clamp(0.0, 1.0)).min(1.0);
        backoff.mul_f64(1.0 - taken)
    }
}

/// The wait a platform (or our own throttle) asked for, if the error carries one.
pub(crate) fn server_retry_after(error: &AdapterError) -> Option<Duration> {
    match error {
        AdapterError::RateLimited { retry_after_secs, .. } => Some(Duration::from_secs(*retry_after_secs)),
        AdapterError::Throttled { retry_after_secs, .. } => Duration::try_from_secs_f64(*retry_after_secs).ok(),
        AdapterError::Rejected { .. } | AdapterError::Unavailable { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            jitter: 0.5,
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let policy = policy();
        let waits: Vec<_> = (1..=6).map(|retry| policy.backoff(retry).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(200), Duration::from_secs(1), "no overflow however many retries");
    }

    #[test]
    fn jitter_only_ever_shortens_a_backoff_and_by_at_most_its_share() {
        let policy = policy();
        let backoff = Duration::from_millis(800);
        assert_eq!(policy.jittered(backoff, 0.0), backoff);
        assert_eq!(policy.jittered(backoff, 0.999_999).as_millis(), 400);
        for _ in 0..1000 {
            let wait =
                policy.delay_before(4, &AdapterError::Unavailable { platform: Platform::Shopify, message: "x".into() });
            assert!(wait >= Duration::from_millis(400) && wait <= backoff, "{wait:?}");
        }
    }

    #[test]
    fn a_servers_retry_after_replaces_the_backoff() {
        let policy = policy();
        let limited = AdapterError::RateLimited { platform: Platform::Shopify, retry_after_secs: 7 };
        assert_eq!(policy.delay_before(1, &limited), Duration::from_secs(7));
        let held =
            AdapterError::Throttled { platform: Platform::Shopify, reason: "tier".into(), retry_after_secs: 0.25 };
        assert_eq!(policy.delay_before(1, &held), Duration::from_millis(250));
    }
}
