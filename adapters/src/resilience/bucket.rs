//! A cost-based rate limiter that learns the platform's limits from its own answers.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::{AdapterError, Platform};

/// A leaky bucket of query-cost points, mirrored from what the platform reports.
///
/// Shopify gives every app a bucket per shop: `maximumAvailable` points, refilled at
/// `restoreRate` points a second (the rate depends on the shop's plan, so it is learnt,
/// never assumed), and each query spends its cost. Every answer reports the bucket as it
/// stands ([`CostBucket::observe`]); between answers the mirror refills at the reported
/// rate. Before a call, [`CostBucket::acquire`] waits until the call's estimated cost is
/// available, so a busy tenant slows down instead of being throttled. Until the first
/// answer the bucket is unknown and nothing waits.
#[derive(Debug)]
pub struct CostBucket {
    platform: Platform,
    // A std mutex: the critical sections are arithmetic, never held across an `.await`.
    level: Mutex<Option<Level>>,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    maximum: f64,
    available: f64,
    restore_rate: f64,
    at: Instant,
}

impl Level {
    fn now(self, now: Instant) -> f64 {
        let refilled = self.restore_rate * now.saturating_duration_since(self.at).as_secs_f64();
        (self.available + refilled).min(self.maximum)
    }
}

impl CostBucket {
    /// An unknown bucket for `platform`; the first answer fills it in.
    pub fn new(platform: Platform) -> Self {
        Self { platform, level: Mutex::new(None) }
    }

    /// Takes in the platform's report: `maximum` points, `available` now, refilled at
    /// `restore_rate` a second. Nonsense (negative or non-finite numbers) is ignored.
    pub fn observe(&self, maximum: f64, available: f64, restore_rate: f64) {
        let sane = |value: f64| value.is_finite() && value >= 0.0;
        if !(sane(maximum) && sane(available) && sane(restore_rate)) || maximum == 0.0 {
            return;
        }
        *self.lock() = Some(Level { maximum, available: available.min(maximum), restore_rate, at: Instant::now() });
    }

    /// Points available now, or `None` before the platform has reported any.
    pub fn available(&self) -> Option<f64> {
        self.lock().map(|level| level.now(Instant::now()))
    }

    /// The restore rate last reported, points per second.
    pub fn restore_rate(&self) -> Option<f64> {
        self.lock().map(|level| level.restore_rate)
    }

    /// How long until `cost` points are available (zero when they are, or when the bucket
    /// is still unknown); `None` if they never will be (the platform reported no refill).
    pub fn wait_for(&self, cost: f64) -> Option<Duration> {
        let level = *self.lock();
        Self::wait(level, cost, Instant::now())
    }

    /// Waits until `cost` points are available and spends them, so that calls made
    /// together do not all count on the same points. Fails at once with
    /// [`AdapterError::RateLimited`] (saying how long the wait would be) when the points
    /// would come only after `deadline`: waiting would be pointless.
    pub async fn acquire(&self, cost: f64, deadline: Instant) -> Result<(), AdapterError> {
        loop {
            let wait = {
                let mut level = self.lock();
                let now = Instant::now();
                let Some(current) = *level else { return Ok(()) };
                // A query dearer than the whole bucket can still run once it is full.
                let cost = cost.clamp(0.0, current.maximum);
                match Self::wait(Some(current), cost, now) {
                    Some(wait) if wait.is_zero() => {
                        *level = Some(Level { available: current.now(now) - cost, at: now, ..current });
                        return Ok(());
                    }
                    Some(wait) if now + wait <= deadline => wait,
                    Some(wait) => return Err(self.limited(wait)),
                    None => return Err(self.limited(Duration::from_secs(60))),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn wait(level: Option<Level>, cost: f64, now: Instant) -> Option<Duration> {
        let Some(level) = level else { return Some(Duration::ZERO) };
        let missing = cost.min(level.maximum) - level.now(now);
        if missing <= 0.0 {
            return Some(Duration::ZERO);
        }
        if level.restore_rate <= 0.0 {
            return None;
        }
        Duration::try_from_secs_f64(missing / level.restore_rate).ok()
    }

    fn limited(&self, wait: Duration) -> AdapterError {
        AdapterError::RateLimited { platform: self.platform, retry_after_secs: whole_seconds(wait) }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Level>> {
        // The level is a plain value, consistent even if a holder panicked.
        self.level.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `wait` rounded up to whole seconds, at least one: what [`AdapterError::RateLimited`]
/// carries.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_bucket_never_waits() {
        let bucket = CostBucket::new(Platform::Shopify);
        let started = Instant::now();
        bucket.acquire(500.0, started).await.expect("nothing known, nothing to wait for");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(bucket.available(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_waits_for_the_missing_points_at_the_reported_restore_rate() {
        let bucket = CostBucket::new(Platform::Shopify);
        // 100 of 1000 points left, refilling at 50 a second (a standard plan's numbers;
        // a Plus shop reports more and is waited for less).
        bucket.observe(1000.0, 100.0, 50.0);
        let started = Instant::now();
        bucket.acquire(300.0, far()).await.expect("points come in time");
        assert_eq!(started.elapsed(), Duration::from_secs(4), "(300 - 100) / 50");
        let left = bucket.available().expect("known");
        assert!(left.abs() < 1e-6, "the points were spent: {left}");

        bucket.observe(2000.0, 0.0, 100.0);
        let started = Instant::now();
        bucket.acquire(300.0, far()).await.expect("points come in time");
        assert_eq!(started.elapsed(), Duration::from_secs(3), "another rate, another wait");
    }

    #[tokio::test(start_paused = true)]
    async fn points_spent_by_one_call_are_waited_for_by_the_next() {
        let bucket = CostBucket::new(Platform::Shopify);
        bucket.observe(100.0, 100.0, 10.0);
        let started = Instant::now();
        bucket.acquire(100.0, far()).await.expect("available");
        bucket.acquire(50.0, far()).await.expect("refills");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_is_refused_at_once_with_its_length() {
        let bucket = CostBucket::new(Platform::Shopify);
        bucket.observe(1000.0, 0.0, 50.0);
        let started = Instant::now();
        let refused = bucket.acquire(500.0, started + Duration::from_secs(9)).await.expect_err("10 s is too long");
        assert_eq!(started.elapsed(), Duration::ZERO, "no pointless wait");
        assert!(matches!(refused, AdapterError::RateLimited { retry_after_secs: 10, .. }), "{refused:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_refills_no_higher_than_its_maximum_and_a_dear_query_waits_for_a_full_bucket() {
        let bucket = CostBucket::new(Platform::Shopify);
        bucket.observe(1000.0, 900.0, 50.0);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(bucket.available(), Some(1000.0));
        bucket.observe(1000.0, 0.0, 50.0);
        assert_eq!(bucket.wait_for(5000.0), Some(Duration::from_secs(20)));
    }

    #[test]
    fn waits_are_reported_in_whole_seconds_rounded_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(200)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
    }
}
