//! Login and sign-up throttling: GCRA rates keyed by account, client address and the
//! pair of them.
//!
//! ## Logins (OWASP's "account lockout" guidance)
//!
//! Locking an *account* after a few failures lets anyone lock its owner out. So what
//! is counted is **failures**, and the refusals fall on whoever failed:
//!
//! - **per (account, address) pair**: [`PAIR_FAILURES`] failures, then one more every
//!   [`PAIR_RECOVERY`]; beyond that the pair is refused (429), the right password
//!   included. A successful login clears the pair.
//! - **per address**, across accounts: [`ADDRESS_FAILURES`] failures a minute, against
//!   one address guessing many accounts.
//! - **per account**, across addresses: [`ACCOUNT_FAILURES`], then one more every
//!   [`ACCOUNT_RECOVERY`]. Beyond it the account is under attack, and it slows down the
//!   attackers only: an address that has failed on this account recently is refused;
//!   an address that has not failed is let through.
//!
//! So the right password from an address that has not failed is never refused. Every
//! attempt takes its units *before* the password is checked (so parallel guesses cannot
//! all slip past a check) and a successful one gives them back: the slow Argon2
//! verification still cannot be run faster than the limits by a guesser. The account
//! key is the address as typed (lower-cased), whether or not an account exists, so the
//! throttle does not reveal which addresses have accounts.
//!
//! ## Sign-ups
//!
//! Each is an Argon2id hash and an account: at most `SIGNUPS_PER_ADDRESS_PER_HOUR` (5)
//! per client address an hour, all at once at most, and `SIGNUPS_PER_MINUTE` (30) for
//! the whole service. Beyond either, 429 with `Retry-After`.
//!
//! ## Where the counts live
//!
//! In process by default. With Redis they are kept there (atomic GCRA scripts, see
//! `RedisLink::take_every`), so the limits hold across every `boardroom` process
//! sharing that Redis; if Redis does not answer, each process falls back to its own
//! counts rather than refusing everyone. The client address is the one `client`
//! derives (the TCP peer, or what a trusted proxy forwards).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use boardroom_memory::RedisLink;

/// Failures one address may make on one account before that pair is refused.
pub(crate) const PAIR_FAILURES: u32 = 5;
/// After [`PAIR_FAILURES`], one more attempt of the pair is allowed this often.
pub(crate) const PAIR_RECOVERY: Duration = Duration::from_secs(3 * 60);
/// Failures one address may make a minute, across accounts.
pub(crate) const ADDRESS_FAILURES: u32 = 20;
/// Failures one account may take, from all addresses, before it counts as under attack.
pub(crate) const ACCOUNT_FAILURES: u32 = 20;
/// After [`ACCOUNT_FAILURES`], one more failure is forgiven this often.
pub(crate) const ACCOUNT_RECOVERY: Duration = Duration::from_secs(30);

/// Past this many tracked keys, keys whose rate has fully recovered are forgotten, so
/// a flood of distinct addresses cannot grow memory without bound.
const SWEEP_ABOVE_KEYS: usize = 10_000;

/// A GCRA rate: `burst` units at once, one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    /// Units that may be taken at once.
    pub(crate) burst: u32,
    /// Time for one unit to come back.
    pub(crate) every: Duration,
}

impl Rate {
    /// `count` units per `period`, all of them at once at most.
    pub(crate) fn per(count: u32, period: Duration) -> Self {
        let count = count.max(1);
        Self { burst: count, every: (period / count).max(Duration::from_micros(1)) }
    }
}

/// What taking a unit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// `None` when the unit was taken; else how long until one may be.
    pub(crate) wait: Option<Duration>,
    /// Whether units were already owed before this take (the key had been used and
    /// not yet recovered).
    pub(crate) owed: bool,
}

/// GCRA rates by key, in Redis when configured (falling back to this process).
pub(crate) struct RateKeeper {
    /// Each key's theoretical arrival time.
    local: Mutex<HashMap<String, Instant>>,
    shared: Option<Arc<RedisLink>>,
}

impl RateKeeper {
    /// Rates kept in Redis when `redis` is given, else in process.
    pub(crate) fn new(redis: Option<Arc<RedisLink>>) -> Self {
        Self { local: Mutex::default(), shared: redis }
    }

    /// Takes one unit of `key`'s rate.
    pub(crate) async fn take(&self, key: &str, rate: Rate) -> Taken {
        if let Some(link) = &self.shared {
            match link.take_every(key, rate.every, rate.burst).await {
                Ok((wait, owed)) => return Taken { wait, owed },
                Err(error) => tracing::warn!(%error, "throttle unreachable in Redis; counting in process"),
            }
        }
        self.take_local(key, rate, Instant::now())
    }

    /// Gives back one unit of `key`'s rate.
    pub(crate) async fn give_back(&self, key: &str, rate: Rate) {
        if let Some(link) = &self.shared {
            match link.give_back(key, rate.every).await {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, "throttle unreachable in Redis; counting in process"),
            }
        }
        self.give_back_local(key, rate, Instant::now());
    }

    /// Forgets `key`: its whole burst is available again.
    pub(crate) async fn forget(&self, key: &str) {
        if let Some(link) = &self.shared
            && let Err(error) = link.forget(key).await
        {
            tracing::warn!(%error, "throttle unreachable in Redis; counting in process");
        }
        self.local.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    fn take_local(&self, key: &str, rate: Rate, now: Instant) -> Taken {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if local.len() > SWEEP_ABOVE_KEYS {
            local.retain(|_, arrival| *arrival > now);
        }
        let stored = local.get(key).copied().filter(|arrival| *arrival > now);
        let owed = stored.is_some();
        let next = stored.unwrap_or(now) + rate.every;
        // May pass while the next arrival is at most `burst` intervals ahead of now.
        let ahead = rate.every * rate.burst.max(1);
        if next > now + ahead {
            return Taken { wait: Some(next - ahead - now), owed };
        }
        local.insert(key.to_owned(), next);
        Taken { wait: None, owed }
    }

    fn give_back_local(&self, key: &str, rate: Rate, now: Instant) {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(arrival) = local.get(key).copied() {
            match arrival.checked_sub(rate.every).filter(|back| *back > now) {
                Some(back) => local.insert(key.to_owned(), back),
                None => local.remove(key),
            };
        }
    }
}

/// A refused attempt: which limit, and when to try again.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// What was limited, in words ("failed logins from this address for this account"…).
    pub(crate) limit: &'static str,
    /// How long until the next attempt is allowed.
    pub(crate) retry_after: Duration,
}

/// A login attempt the throttle let through: what it took, to give back on success.
#[derive(Debug)]
pub(crate) struct LoginAttempt {
    account: String,
    address: String,
    account_taken: bool,
}

/// The login limits (see the module docs).
pub(crate) struct LoginThrottle {
    rates: Arc<RateKeeper>,
}

impl LoginThrottle {
    /// Login limits counted by `rates`.
    pub(crate) fn new(rates: Arc<RateKeeper>) -> Self {
        Self { rates }
    }

    fn pair_rate() -> Rate {
        Rate { burst: PAIR_FAILURES, every: PAIR_RECOVERY }
    }

    fn address_rate() -> Rate {
        Rate::per(ADDRESS_FAILURES, Duration::from_secs(60))
    }

    fn account_rate() -> Rate {
        Rate { burst: ACCOUNT_FAILURES, every: ACCOUNT_RECOVERY }
    }

    /// Counts one attempt for `account` from `address` (when known) as a failure until
    /// [`LoginThrottle::succeeded`] says otherwise; refuses it when this address has
    /// failed too often (on this account, or on any), or when the account is under
    /// attack and this address is one of those failing on it.
    pub(crate) async fn admit(&self, account: &str, address: Option<IpAddr>) -> Result<LoginAttempt, Throttled> {
        let account = account.to_lowercase();
        let address = address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
        let address_key = format!("login:address:{address}");
        if let Some(wait) = self.rates.take(&address_key, Self::address_rate()).await.wait {
            return Err(Throttled { limit: "failed logins from this address", retry_after: wait });
        }
        let pair = self.rates.take(&format!("login:pair:{account}:{address}"), Self::pair_rate()).await;
        if let Some(wait) = pair.wait {
            return Err(Throttled { limit: "failed logins from this address for this account", retry_after: wait });
        }
        let account_taken = match self.rates.take(&format!("login:account:{account}"), Self::account_rate()).await.wait
        {
            None => true,
            // Under attack: refuse the addresses that have been failing on it; let an
            // address with no failure on it (its owner, most likely) try.
            Some(wait) if pair.owed => {
                return Err(Throttled { limit: "failed logins for this account", retry_after: wait });
            }
            Some(_) => false,
        };
        Ok(LoginAttempt { account, address, account_taken })
    }

    /// The attempt had the right password: its pair starts afresh and the address and
    /// account get back what it took.
    pub(crate) async fn succeeded(&self, attempt: LoginAttempt) {
        let LoginAttempt { account, address, account_taken } = attempt;
        self.rates.forget(&format!("login:pair:{account}:{address}")).await;
        self.rates.give_back(&format!("login:address:{address}"), Self::address_rate()).await;
        if account_taken {
            self.rates.give_back(&format!("login:account:{account}"), Self::account_rate()).await;
        }
    }
}

/// The sign-up limits (see the module docs).
pub(crate) struct SignupThrottle {
    rates: Arc<RateKeeper>,
    per_address: Rate,
    overall: Rate,
}

impl SignupThrottle {
    /// At most `per_address_per_hour` sign-ups per address an hour and `per_minute` in
    /// all, counted by `rates`.
    pub(crate) fn new(rates: Arc<RateKeeper>, per_address_per_hour: u32, per_minute: u32) -> Self {
        Self {
            rates,
            per_address: Rate::per(per_address_per_hour, Duration::from_secs(3600)),
            overall: Rate::per(per_minute, Duration::from_secs(60)),
        }
    }

    /// Counts one sign-up from `address`; refuses it when the address's or the
    /// service's allowance is spent.
    pub(crate) async fn admit(&self, address: Option<IpAddr>) -> Result<(), Throttled> {
        let address = address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
        let address_key = format!("signup:address:{address}");
        if let Some(wait) = self.rates.take(&address_key, self.per_address).await.wait {
            return Err(Throttled { limit: "sign-ups from this address", retry_after: wait });
        }
        if let Some(wait) = self.rates.take("signup:all", self.overall).await.wait {
            // Not this address's doing: its own allowance is not spent on it.
            self.rates.give_back(&address_key, self.per_address).await;
            return Err(Throttled { limit: "sign-ups", retry_after: wait });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_throttle() -> LoginThrottle {
        LoginThrottle::new(Arc::new(RateKeeper::new(None)))
    }

    #[tokio::test]
    async fn an_address_failing_on_an_account_is_refused_there_and_the_owner_elsewhere_is_not() {
        let throttle = login_throttle();
        let attacker = Some(IpAddr::from([203, 0, 113, 9]));
        let owner = Some(IpAddr::from([198, 51, 100, 7]));
        for _ in 0..PAIR_FAILURES {
            throttle.admit("Ada@example.com", attacker).await.expect("within the pair's failures");
        }
        let refused = throttle.admit("ada@example.com", attacker).await.expect_err("sixth failure");
        assert_eq!(refused.limit, "failed logins from this address for this account");
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= PAIR_RECOVERY);
        let attempt = throttle.admit("ada@example.com", owner).await.expect("the owner's address has not failed");
        throttle.succeeded(attempt).await;
        throttle.admit("grace@example.com", attacker).await.expect("another account is another pair");
    }

    #[tokio::test]
    async fn a_success_clears_the_pair() {
        let throttle = login_throttle();
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..PAIR_FAILURES - 1 {
            throttle.admit("ada@example.com", address).await.expect("failure");
        }
        let right = throttle.admit("ada@example.com", address).await.expect("fifth");
        throttle.succeeded(right).await;
        for _ in 0..PAIR_FAILURES {
            throttle.admit("ada@example.com", address).await.expect("a fresh start");
        }
    }

    #[tokio::test]
    async fn an_account_under_attack_refuses_failing_addresses_only() {
        let throttle = login_throttle();
        // Many addresses, a few failures each: the account's allowance is spent.
        for n in 0..ACCOUNT_FAILURES {
            let address = Some(IpAddr::from([10, 1, (n / 200) as u8, (n % 200) as u8]));
            throttle.admit("ada@example.com", address).await.expect("within every limit");
        }
        let failed_before = Some(IpAddr::from([10, 1, 0, 0]));
        let refused = throttle.admit("ada@example.com", failed_before).await.expect_err("under attack");
        assert_eq!(refused.limit, "failed logins for this account");
        let fresh = Some(IpAddr::from([192, 0, 2, 44]));
        let attempt = throttle.admit("ada@example.com", fresh).await.expect("an address that has not failed");
        throttle.succeeded(attempt).await;
    }

    #[tokio::test]
    async fn one_address_is_limited_across_accounts() {
        let throttle = login_throttle();
        let address = Some(IpAddr::from([10, 0, 0, 2]));
        for n in 0..ADDRESS_FAILURES {
            throttle.admit(&format!("user{n}@example.com"), address).await.expect("within the address's failures");
        }
        let refused = throttle.admit("user99@example.com", address).await.expect_err("21st failure");
        assert_eq!(refused.limit, "failed logins from this address");
        throttle.admit("user99@example.com", Some(IpAddr::from([10, 0, 0, 3]))).await.expect("another address");
    }

    #[tokio::test]
    async fn sign_ups_are_limited_per_address_and_overall() {
        let throttle = SignupThrottle::new(Arc::new(RateKeeper::new(None)), 2, 3);
        let first = Some(IpAddr::from([10, 0, 0, 1]));
        throttle.admit(first).await.expect("first");
        throttle.admit(first).await.expect("second");
        let refused = throttle.admit(first).await.expect_err("third from one address");
        assert_eq!(refused.limit, "sign-ups from this address");
        assert!(refused.retry_after > Duration::from_secs(29 * 60) && refused.retry_after <= Duration::from_secs(1800));
        throttle.admit(Some(IpAddr::from([10, 0, 0, 2]))).await.expect("another address");
        let overall = throttle.admit(Some(IpAddr::from([10, 0, 0, 3]))).await.expect_err("fourth in a minute");
        assert_eq!(overall.limit, "sign-ups");
    }

    #[test]
    fn a_given_back_unit_can_be_taken_again() {
        let keeper = RateKeeper::new(None);
        let rate = Rate { burst: 1, every: Duration::from_secs(60) };
        let now = Instant::now();
        assert_eq!(keeper.take_local("k", rate, now), Taken { wait: None, owed: false });
        assert!(keeper.take_local("k", rate, now).wait.is_some());
        keeper.give_back_local("k", rate, now);
        assert_eq!(keeper.take_local("k", rate, now), Taken { wait: None, owed: false });
        assert!(keeper.take_local("k", rate, now + Duration::from_secs(30)).owed);
    }
}
