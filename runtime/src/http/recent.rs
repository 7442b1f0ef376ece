//! A map whose entries are served for a short time after they were put (the
//! `CACHE_SECS` setting, 2 s by default; zero keeps nothing). It holds reads that every
//! request of a busy client would otherwise repeat: who the caller is, and the list of
//! their businesses. The routes that change such data in this process drop the affected
//! entries at once; changes made elsewhere (another process, the database directly)
//! show within the time to live.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Inserts between two sweeps of stale entries.
const SWEEP_EVERY_INSERTS: u32 = 1_024;

/// Entries kept for a time to live (see the module docs).
pub(crate) struct Recent<K, V> {
    ttl: Duration,
    entries: DashMap<K, (Instant, Arc<V>)>,
    inserts: AtomicU32,
}

impl<K: Eq + Hash, V> Recent<K, V> {
    /// A map keeping entries for `ttl` (zero keeps none).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: DashMap::new(), inserts: AtomicU32::new(0) }
    }

    /// The entry put under `key` within the time to live.
    pub(crate) fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
    {
        if self.ttl.is_zero() {
            return None;
        }
        let entry = self.entries.get(key)?;
        let (at, value) = entry.value();
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Puts `value` under `key`, replacing what was there; the value, shared.
    pub(crate) fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if self.ttl.is_zero() {
            return value;
        }
        self.entries.insert(key, (Instant::now(), value.clone()));
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY_INSERTS == SWEEP_EVERY_INSERTS - 1 {
            self.entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        value
    }

    /// Drops the entry under `key`.
    pub(crate) fn forget<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.entries.remove(key);
    }

    /// Drops every entry `stale` says is.
    pub(crate) fn forget_where(&self, stale: impl Fn(&K, &V) -> bool) {
        self.entries.retain(|key, (_, value)| !stale(key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_for_the_time_to_live_only() {
        let recent = Recent::new(Duration::from_millis(50));
        recent.put("a", 1);
        assert_eq!(recent.get(&"a").as_deref(), Some(&1));
        assert!(recent.get(&"b").is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(recent.get(&"a").is_none(), "stale entries are not served");
    }

    #[test]
    fn entries_can_be_dropped_one_by_one_or_by_a_rule() {
        let recent = Recent::new(Duration::from_secs(60));
        for (key, value) in [("a", 1), ("b", 1), ("c", 2)] {
            recent.put(key, value);
        }
        recent.forget_where(|_, value| *value == 1);
        assert!(recent.get(&"a").is_none() && recent.get(&"b").is_none());
        assert_eq!(recent.get(&"c").as_deref(), Some(&2));
        recent.forget(&"c");
        assert!(recent.get(&"c").is_none());
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let recent = Recent::new(Duration::ZERO);
        recent.put("a", 1);
        assert!(recent.get(&"a").is_none());
    }
}
