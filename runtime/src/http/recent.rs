//! A map whose entries are served for a short time after they were put (the
//! `CACHE_SECS` setting, 2 s by default; zero keeps nothing). It holds reads that every
//! request of a busy client would otherwise repeat: who the caller is, and the list of
//! their businesses. The routes that change such data in this process drop the affected
//! entries at once; changes made elsewhere (another process, the database directly)
//! show within the time to live.
//!
//! A thin wrapper over `moka`'s concurrent cache (expiry, a bound on the entries and
//! invalidation by a rule, all done by a maintained crate), keeping the four operations
//! the callers use.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

/// Most entries kept: far above a process's active callers, so it bounds memory under
/// a flood of distinct tokens without evicting anyone who is actually working.
const MAX_ENTRIES: u64 = 100_000;

/// Entries kept for a time to live (see the module docs).
pub(crate) struct Recent<K, V> {
    /// `None` when the time to live is zero: nothing is kept.
    entries: Option<Cache<K, Arc<V>>>,
}

impl<K, V> Recent<K, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A map keeping entries for `ttl` (zero keeps none).
    pub(crate) fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder().max_capacity(MAX_ENTRIES).time_to_live(ttl).support_invalidation_closures().build()
        });
        Self { entries }
    }

    /// The entry put under `key` within the time to live.
    pub(crate) fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
    {
        self.entries.as_ref()?.get(key)
    }

    /// Puts `value` under `key`, replacing what was there; the value, shared.
    pub(crate) fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if let Some(entries) = &self.entries {
            entries.insert(key, value.clone());
        }
        value
    }

    /// Drops the entry under `key`.
    pub(crate) fn forget<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        if let Some(entries) = &self.entries {
            entries.invalidate(key);
        }
    }

    /// Drops every entry `stale` says is: none of them is served again, even before the
    /// cache gets round to removing it.
    pub(crate) fn forget_where(&self, stale: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        if let Some(entries) = &self.entries {
            // Fails only when the builder did not enable closures, which `new` does.
            let _ = entries.invalidate_entries_if(move |key, value| stale(key, value));
        }
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
