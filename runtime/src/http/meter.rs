//! Monthly API calls, counted in memory and written to the database in batches.
//!
//! Every authenticated `/api/*` request counts one call. Writing each count would put a
//! database write on every read, the one thing that would cap the API's throughput, so
//! calls are added to an in-memory counter per user and month and written every
//! [`FLUSH_EVERY`] (and when the server stops). Each write returns the database's total,
//! which includes the calls other processes counted, so a user's limit holds across
//! processes to within one flush interval's calls. A crash loses at most the counts of
//! the last interval, which only ever favours the user.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use boardroom_memory::{MemoryResult, SharedStore, UsageSubject, UserId};
use chrono::{DateTime, Datelike, Utc};
use dashmap::DashMap;
use tokio::sync::OnceCell;

use super::tiers::{API_CALLS, period};

/// How often counts are written.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// One user's calls in one month.
struct MonthCount {
    /// The month, `YYYY-MM`.
    period: String,
    /// The database's total at the last read or write (loaded on first use).
    stored: OnceCell<AtomicI64>,
    /// Calls counted here and not written yet.
    pending: AtomicI64,
}

/// API calls per user and month, batched.
pub struct ApiCallMeter {
    store: SharedStore,
    /// Keyed by user and month number (`year * 12 + month`), so the per-request lookup
    /// allocates nothing.
    counts: DashMap<(UserId, i32), Arc<MonthCount>>,
}

impl ApiCallMeter {
    /// A meter writing to `store`. Start [`ApiCallMeter::run`] to write periodically.
    pub fn new(store: SharedStore) -> Self {
        Self { store, counts: DashMap::new() }
    }

    /// Counts one call by `user` now and returns the month's total so far.
    pub(crate) async fn count(&self, user: UserId, now: DateTime<Utc>) -> MemoryResult<i64> {
        let count = self.entry(user, now);
        let stored = self.stored(&count, user).await?;
        let pending = count.pending.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(stored.load(Ordering::Acquire) + pending)
    }

    /// The month's total so far, counted calls included.
    pub(crate) async fn total(&self, user: UserId, now: DateTime<Utc>) -> MemoryResult<i64> {
        let count = self.entry(user, now);
        let stored = self.stored(&count, user).await?;
        Ok(stored.load(Ordering::Acquire) + count.pending.load(Ordering::Acquire))
    }

    fn entry(&self, user: UserId, now: DateTime<Utc>) -> Arc<MonthCount> {
        let key = (user, month_number(now));
        // The common case takes only the shard's read lock.
        if let Some(count) = self.counts.get(&key) {
            return count.clone();
        }
        let fresh =
            || Arc::new(MonthCount { period: period(now), stored: OnceCell::new(), pending: AtomicI64::new(0) });
        self.counts.entry(key).or_insert_with(fresh).clone()
    }

    async fn stored<'c>(&self, count: &'c MonthCount, user: UserId) -> MemoryResult<&'c AtomicI64> {
        count
            .stored
            .get_or_try_init(|| async {
                self.store.usage(UsageSubject::User(user), API_CALLS, &count.period).await.map(AtomicI64::new)
            })
            .await
    }

    /// Writes every pending count. A count that fails to write stays pending for the
    /// next flush.
    pub async fn flush(&self) -> MemoryResult<()> {
        let counts: Vec<((UserId, i32), Arc<MonthCount>)> =
            self.counts.iter().map(|entry| (*entry.key(), entry.value().clone())).collect();
        let mut first_error = None;
        for ((user, _), count) in counts {
            let pending = count.pending.swap(0, Ordering::AcqRel);
            if pending == 0 {
                continue;
            }
            match self.store.add_usage(UsageSubject::User(user), API_CALLS, &count.period, pending).await {
                Ok(total) => {
                    if let Some(stored) = count.stored.get() {
                        stored.store(total, Ordering::Release);
                    }
                }
                Err(error) => {
                    count.pending.fetch_add(pending, Ordering::AcqRel);
                    first_error.get_or_insert(error);
                }
            }
        }
        // Past months are written and done with; keep the map small.
        let current = month_number(Utc::now());
        self.counts.retain(|(_, month), count| *month == current || count.pending.load(Ordering::Acquire) != 0);
        first_error.map_or(Ok(()), Err)
    }

    /// Flushes every [`FLUSH_EVERY`] until the process stops.
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.flush().await {
                tracing::warn!(%error, "API call counts not written; retrying");
            }
        }
    }
}

fn month_number(now: DateTime<Utc>) -> i32 {
    now.year() * 12 + i32::try_from(now.month0()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_memory::testing::{create_tenant, fresh_sqlite};

    #[tokio::test]
    async fn counts_reach_the_database_in_batches_and_pick_up_other_processes_counts() {
        let database = fresh_sqlite().await;
        let store: SharedStore = Arc::new(database.store.clone());
        let tenant = create_tenant(store.as_ref(), "metered", "coachty").await;
        let user = store.tenant(tenant).await.expect("read").expect("tenant").user_id;
        let now = Utc::now();
        let meter = ApiCallMeter::new(store.clone());

        for expected in 1..=3 {
            assert_eq!(meter.count(user, now).await.expect("counted"), expected);
        }
        let stored = |store: SharedStore| async move {
            store.usage(UsageSubject::User(user), API_CALLS, &period(now)).await.expect("read")
        };
        assert_eq!(stored(store.clone()).await, 0, "nothing written before a flush");
        meter.flush().await.expect("flushed");
        assert_eq!(stored(store.clone()).await, 3);

        // Another process counts 10 calls; this one sees them after its next write.
        store.add_usage(UsageSubject::User(user), API_CALLS, &period(now), 10).await.expect("elsewhere");
        assert_eq!(meter.count(user, now).await.expect("counted"), 4, "not seen before the next write");
        meter.flush().await.expect("flushed");
        assert_eq!(meter.total(user, now).await.expect("total"), 14);
        assert_eq!(stored(store).await, 14);
    }

    #[test]
    fn months_are_numbered_in_order_across_years() {
        let december = DateTime::parse_from_rfc3339("2026-12-31T23:59:59Z").expect("time").with_timezone(&Utc);
        let january = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z").expect("time").with_timezone(&Utc);
        assert_eq!(month_number(january) - month_number(december), 1);
        assert_eq!(period(december), "2026-12");
    }
}
