//! Login throttling: GCRA limiters (governor) keyed by account and by client address.
//!
//! Every attempt counts, successful or not, and both limits are checked before the
//! password is: a guesser learns nothing from a throttled attempt, and the slow
//! Argon2 verification cannot be used to load the server faster than the limits allow.
//! The account key is the address as typed (lower-cased), whether or not an account
//! exists, so the throttle does not reveal which addresses have accounts.
//!
//! The state is in process: with several `boardroom` processes each enforces the limits
//! on its own (the Redis-backed throttles of the tiers work hold across processes).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

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
        let quota = |per_minute: u32| Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            clock: DefaultClock::default(),
        }
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
