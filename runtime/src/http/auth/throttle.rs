//! Login throttling: GCRA limiters (governor) keyed by account and by client address.
//!
//! Every attempt counts, successful or not, and both limits are checked before the
//! password is: a guesser learns nothing from a throttled attempt, and the slow
//! Argon2 verification cannot be used to load the server faster than the limits allow.
//! The account key is the address as typed (lower-cased), whether or not an account
//! exists, so the throttle does not reveal which addresses have accounts.
//!
//! The state is in process by default. With Redis it is kept there (the same atomic
//! GCRA script as the swarm throttles), so the limits hold across every `boardroom`
//! process sharing that Redis; if Redis does not answer, each process falls back to its
//! own limiters rather than refusing logins.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use boardroom_memory::RedisLink;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per minute allowed for one account.
pub(crate) const ATTEMPTS_PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Attempts per minute allowed from one client address.
pub(crate) const ATTEMPTS_PER_ADDRESS_PER_MINUTE: u32 = 20;

/// Past this many tracked keys, keys whose limit has fully recovered are forgotten, so
/// a flood of distinct addresses cannot grow memory without bound.
const SWEEP_ABOVE_KEYS: usize = 10_000;

/// The two login limiters.
pub(crate) struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    per_account_per_minute: NonZeroU32,
    per_address_per_minute: NonZeroU32,
    shared: Option<Arc<RedisLink>>,
}

/// A refused attempt: which limit, and when to try again.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// `"account"` or `"address"`.
    pub(crate) limit: &'static str,
    /// How long until the next attempt is allowed.
    pub(crate) retry_after: Duration,
}

impl LoginThrottle {
    /// Limiters with the given per-minute allowances.
    pub(crate) fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> Self {
        let per_account_per_minute = NonZeroU32::new(per_account_per_minute).unwrap_or(NonZeroU32::MIN);
        let per_address_per_minute = NonZeroU32::new(per_address_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            per_account: RateLimiter::keyed(Quota::per_minute(per_account_per_minute)),
            per_address: RateLimiter::keyed(Quota::per_minute(per_address_per_minute)),
            clock: DefaultClock::default(),
            per_account_per_minute,
            per_address_per_minute,
            shared: None,
        }
    }

    /// The same limits, kept in Redis when `redis` is given.
    pub(crate) fn shared_through(mut self, redis: Option<Arc<RedisLink>>) -> Self {
        self.shared = redis;
        self
    }

    /// Counts one attempt for `account` from `address` (when known) where the limits
    /// are kept (Redis, else this process); refuses it when either limit is spent.
    pub(crate) async fn admit(&self, account: &str, address: Option<IpAddr>) -> Result<(), Throttled> {
        let Some(link) = &self.shared else {
            return self.check(account, address);
        };
        match self.admit_shared(link, account, address).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(%error, "login throttle unreachable in Redis; limiting in process");
                self.check(account, address)
            }
        }
    }

    async fn admit_shared(
        &self,
        link: &RedisLink,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<Result<(), Throttled>, String> {
        // A minute's allowance may be used at once, as with the in-process limiters.
        if let Some(address) = address {
            let rate = self.per_address_per_minute;
            if let Some(retry_after) = link.take_one(&format!("login:address:{address}"), rate, rate).await? {
                return Ok(Err(Throttled { limit: "address", retry_after }));
            }
        }
        let rate = self.per_account_per_minute;
        let key = format!("login:account:{}", account.to_lowercase());
        Ok(match link.take_one(&key, rate, rate).await? {
            Some(retry_after) => Err(Throttled { limit: "account", retry_after }),
            None => Ok(()),
        })
    }

    /// Counts one attempt for `account` from `address` (when known); refuses it when
    /// either limit is spent.
    pub(crate) fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Throttled> {
        if let Some(address) = address {
            self.per_address.check_key(&address).map_err(|not_until| Throttled {
                limit: "address",
                retry_after: not_until.wait_time_from(self.clock.now()),
            })?;
        }
        self.per_account.check_key(&account.to_lowercase()).map_err(|not_until| Throttled {
            limit: "account",
            retry_after: not_until.wait_time_from(self.clock.now()),
        })?;
        if self.per_account.len() > SWEEP_ABOVE_KEYS {
            self.per_account.retain_recent();
        }
        if self.per_address.len() > SWEEP_ABOVE_KEYS {
            self.per_address.retain_recent();
        }
        Ok(())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(ATTEMPTS_PER_ACCOUNT_PER_MINUTE, ATTEMPTS_PER_ADDRESS_PER_MINUTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_on_one_account_within_a_minute_is_refused() {
        let throttle = LoginThrottle::default();
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..5 {
            assert_eq!(throttle.check("Ada@example.com", address), Ok(()));
        }
        let refused = throttle.check("ada@example.com", address).expect_err("sixth attempt");
        assert_eq!(refused.limit, "account");
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(12));
        assert_eq!(throttle.check("grace@example.com", address), Ok(()), "other accounts are not affected");
    }

    #[test]
    fn one_address_is_limited_across_accounts() {
        let throttle = LoginThrottle::default();
        let address = Some(IpAddr::from([10, 0, 0, 2]));
        for n in 0..20 {
            assert_eq!(throttle.check(&format!("user{n}@example.com"), address), Ok(()));
        }
        let refused = throttle.check("user99@example.com", address).expect_err("21st attempt");
        assert_eq!(refused.limit, "address");
        assert_eq!(throttle.check("user99@example.com", Some(IpAddr::from([10, 0, 0, 3]))), Ok(()));
    }
}
