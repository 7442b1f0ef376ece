//! Callers authenticated in the last moments, so a busy client's requests do not each
//! re-read its credential, account and access controls (three queries that would
//! otherwise be most of a small request's cost).
//!
//! Entries live for `AUTH_CACHE_SECS` (2 s by default; 0 turns the cache off). Changes
//! made through this process (log-out, token revocation, role, tier or password
//! changes, account deletion) drop the affected entries at once; changes made elsewhere
//! (another process, or the database directly) apply within that time. What is checked
//! per request regardless: the session's expiry, the CSRF token and the IP allow-list.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use boardroom_memory::UserId;
use dashmap::DashMap;

use super::CurrentUser;
use super::access::AccessRules;

/// Inserts between two sweeps of stale entries.
const SWEEP_EVERY_INSERTS: u32 = 1_024;

/// One authenticated caller, as of `at`.
pub(crate) struct CachedCaller {
    pub(crate) caller: CurrentUser,
    pub(crate) rules: AccessRules,
    at: Instant,
}

/// Recently authenticated callers by credential (see the module docs).
pub(crate) struct AuthCache {
    ttl: Duration,
    entries: DashMap<String, Arc<CachedCaller>>,
    inserts: AtomicU32,
}

impl AuthCache {
    /// A cache keeping callers for `ttl` (zero keeps none).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: DashMap::new(), inserts: AtomicU32::new(0) }
    }

    /// The caller behind credential `key`, if authenticated within the time to live.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<CachedCaller>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entry = self.entries.get(key)?.clone();
        (entry.at.elapsed() < self.ttl).then_some(entry)
    }

    /// Remembers the caller behind credential `key`.
    pub(crate) fn put(&self, key: String, caller: CurrentUser, rules: AccessRules) {
        if self.ttl.is_zero() {
            return;
        }
        self.entries.insert(key, Arc::new(CachedCaller { caller, rules, at: Instant::now() }));
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY_INSERTS == SWEEP_EVERY_INSERTS - 1 {
            self.entries.retain(|_, entry| entry.at.elapsed() < self.ttl);
        }
    }

    /// Forgets one credential (a session that ended).
    pub(crate) fn forget(&self, key: &str) {
        self.entries.remove(key);
    }

    /// Forgets every credential of `user` (their account, tokens or sessions changed).
    pub(crate) fn forget_user(&self, user: UserId) {
        self.entries.retain(|_, entry| entry.caller.user.id != user);
    }
}

/// The cache key of an API token's stored hash.
pub(crate) fn token_key(token_hash: &str) -> String {
    format!("token:{token_hash}")
}

/// The cache key of a session's stored id.
pub(crate) fn session_key(session_id: &str) -> String {
    format!("session:{session_id}")
}

#[cfg(test)]
mod tests {
    use boardroom_memory::{ApiToken, Role, Tier, User};
    use chrono::Utc;

    use super::*;
    use crate::http::auth::Credential;

    fn caller(user: i64) -> CurrentUser {
        let now = Utc::now();
        CurrentUser {
            user: User {
                id: UserId(user),
                email: format!("user{user}@example.com"),
                password_hash: "!".into(),
                role: Role::User,
                tier: Tier::Free,
                created_at: now,
                last_login: None,
            },
            credential: Credential::Token(ApiToken {
                id: user,
                user_id: UserId(user),
                name: "t".into(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            }),
        }
    }

    #[test]
    fn callers_are_remembered_for_the_time_to_live_only() {
        let cache = AuthCache::new(Duration::from_millis(50));
        cache.put(token_key("a"), caller(1), AccessRules::default());
        assert_eq!(cache.get(&token_key("a")).map(|hit| hit.caller.user.id), Some(UserId(1)));
        assert!(cache.get(&token_key("b")).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&token_key("a")).is_none(), "stale entries are not served");
    }

    #[test]
    fn forgetting_a_user_drops_all_their_credentials_and_nobody_elses() {
        let cache = AuthCache::new(Duration::from_secs(60));
        cache.put(token_key("a"), caller(1), AccessRules::default());
        cache.put(session_key("s"), caller(1), AccessRules::default());
        cache.put(token_key("c"), caller(2), AccessRules::default());
        cache.forget_user(UserId(1));
        assert!(cache.get(&token_key("a")).is_none());
        assert!(cache.get(&session_key("s")).is_none());
        assert!(cache.get(&token_key("c")).is_some());
        cache.forget(&token_key("c"));
        assert!(cache.get(&token_key("c")).is_none());
    }

    #[test]
    fn a_zero_time_to_live_turns_the_cache_off() {
        let cache = AuthCache::new(Duration::ZERO);
        cache.put(token_key("a"), caller(1), AccessRules::default());
        assert!(cache.get(&token_key("a")).is_none());
    }
}
