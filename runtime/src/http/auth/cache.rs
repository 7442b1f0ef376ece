//! Callers authenticated in the last moments, so a busy client's requests do not each
//! re-read its credential, account and access controls (three queries that would
//! otherwise be most of a small request's cost). Kept for `CACHE_SECS` (see
//! `http::recent`).
//!
//! Log-out, token revocation and changes of role, tier or password made through this
//! process drop the affected entries at once. What is checked on every request
//! regardless: the session's expiry, the CSRF token and the IP allow-list.

use std::time::Duration;

use boardroom_memory::UserId;

use super::CurrentUser;
use super::access::AccessRules;
use crate::http::recent::Recent;

/// One authenticated caller.
pub(crate) struct CachedCaller {
    pub(crate) caller: CurrentUser,
    pub(crate) rules: AccessRules,
}

/// Recently authenticated callers by credential.
pub(crate) struct AuthCache(Recent<String, CachedCaller>);

impl AuthCache {
    /// A cache keeping callers for `ttl` (zero keeps none).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self(Recent::new(ttl))
    }

    /// The caller behind credential `key`, if authenticated within the time to live.
    pub(crate) fn get(&self, key: &str) -> Option<std::sync::Arc<CachedCaller>> {
        self.0.get(key)
    }

    /// Remembers the caller behind credential `key`.
    pub(crate) fn put(&self, key: String, caller: CurrentUser, rules: AccessRules) {
        self.0.put(key, CachedCaller { caller, rules });
    }

    /// Forgets one credential (a session that ended).
    pub(crate) fn forget(&self, key: &str) {
        self.0.forget(key);
    }

    /// Forgets every credential of `user` (their account, tokens or sessions changed).
    pub(crate) fn forget_user(&self, user: UserId) {
        self.0.forget_where(move |_, cached| cached.caller.user.id == user);
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
}
