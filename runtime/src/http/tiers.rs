//! Subscription tiers (spec section 12) as data, and how they are enforced.
//!
//! | | free | pro | enterprise |
//! |---|---|---|---|
//! | API calls / month | 100 | 1,000 | unlimited |
//! | businesses per account | 1 | 5 | unlimited |
//! | products | 5 | 50 | unlimited |
//! | stores | 1 | 5 | unlimited |
//! | campaigns | 2 | 20 | unlimited |
//! | file storage | 100 MB | 1 GB | unlimited |
//! | agent messages / minute (burst) | 60 (20) | 600 (100) | unlimited |
//! | LLM tokens / day | 100,000 | 2,000,000 | unlimited |
//! | concurrent LLM / adapter calls | 2 / 2 | 8 / 8 | unlimited |
//! | minimum autopilot interval | 30 min | 5 min | 1 min |
//!
//! - A count limit (products, stores, campaigns) refuses the creation beyond it with
//!   **402** `tier_limit`, naming the tier and the limit. The store counts and inserts
//!   in one transaction under a lock per business, so concurrent requests cannot
//!   squeeze past the limit.
//! - Businesses per account (an addition to spec section 12: without it every
//!   per-business limit above could be multiplied by opening more businesses) are
//!   limited the same way, under a lock per account. Only `POST /api/business/create`
//!   is limited: what the system makes (the demo tenant, `boardroom tenant create`) is
//!   not refused.
//! - API calls are metered per user and calendar month (UTC) on every authenticated
//!   `/api/*` request (the profile and logout excepted, so an account over its limit
//!   can still see why and sign out); beyond the limit **429** `rate_limited` with
//!   `Retry-After` set to the seconds left in the month.
//! - The tier sets the swarm's throttle (messages, LLM tokens and calls, platform calls)
//!   whenever the API activates it. An admin's override
//!   (`agent_memory(tenant, "admin", "throttle_override")`) replaces the limits it
//!   names and leaves the tier's others in force.

use std::num::NonZeroU32;
use std::time::Duration;

use boardroom_memory::{MemoryError, Tenant, TenantId, Tier, User};
use boardroom_supervisor::{SwarmError, TenantHandle, ThrottleLimits};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;

/// The usage counter API calls are metered under.
pub(crate) const API_CALLS: &str = "api_calls";
/// Where an admin's throttle override is kept: `agent_memory(tenant, ADMIN, OVERRIDE)`.
pub(crate) const OVERRIDE_AGENT: &str = "admin";
/// The key of the override.
pub(crate) const OVERRIDE_KEY: &str = "throttle_override";

/// What one tier allows; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub(crate) struct TierLimits {
    /// API calls per calendar month.
    pub(crate) api_calls: Option<u64>,
    /// Businesses per account.
    pub(crate) businesses: Option<u64>,
    /// Products per business.
    pub(crate) products: Option<u64>,
    /// Connected stores per business.
    pub(crate) stores: Option<u64>,
    /// Campaigns per business.
    pub(crate) campaigns: Option<u64>,
    /// File storage, in megabytes.
    pub(crate) file_storage_mb: Option<u64>,
    /// Agent messages per minute for the business's swarm.
    pub(crate) messages_per_minute: Option<u32>,
    /// Messages that may pass at once before the rate applies.
    pub(crate) message_burst: Option<u32>,
    /// LLM tokens per day.
    pub(crate) llm_tokens_per_day: Option<u64>,
    /// LLM calls in flight at once.
    pub(crate) concurrent_llm_calls: Option<u32>,
    /// Adapter (platform API) calls in flight at once.
    pub(crate) concurrent_adapter_calls: Option<u32>,
    /// Shortest time between autopilot cycles, in seconds.
    pub(crate) min_autopilot_interval_secs: u64,
}

const FREE: TierLimits = TierLimits {
    api_calls: Some(100),
    businesses: Some(1),
    products: Some(5),
    stores: Some(1),
    campaigns: Some(2),
    file_storage_mb: Tier::Free.file_storage_mb(),
    messages_per_minute: Some(60),
    message_burst: Some(20),
    llm_tokens_per_day: Some(100_000),
    concurrent_llm_calls: Some(2),
    concurrent_adapter_calls: Some(2),
    min_autopilot_interval_secs: 30 * 60,
};

const PRO: TierLimits = TierLimits {
    api_calls: Some(1_000),
    businesses: Some(5),
    products: Some(50),
    stores: Some(5),
    campaigns: Some(20),
    file_storage_mb: Tier::Pro.file_storage_mb(),
    messages_per_minute: Some(600),
    message_burst: Some(100),
    llm_tokens_per_day: Some(2_000_000),
    concurrent_llm_calls: Some(8),
    concurrent_adapter_calls: Some(8),
    min_autopilot_interval_secs: 5 * 60,
};

const ENTERPRISE: TierLimits = TierLimits {
    api_calls: None,
    businesses: None,
    products: None,
    stores: None,
    campaigns: None,
    file_storage_mb: Tier::Enterprise.file_storage_mb(),
    messages_per_minute: None,
    message_burst: None,
    llm_tokens_per_day: None,
    concurrent_llm_calls: None,
    concurrent_adapter_calls: None,
    min_autopilot_interval_secs: 60,
};

/// The limits of `tier`.
pub(crate) fn limits(tier: Tier) -> &'static TierLimits {
    match tier {
        Tier::Free => &FREE,
        Tier::Pro => &PRO,
        Tier::Enterprise => &ENTERPRISE,
    }
}

/// The tier's name as the API spells it.
pub(crate) fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Free => "free",
        Tier::Pro => "pro",
        Tier::Enterprise => "enterprise",
    }
}

/// The swarm throttle `tier` sets.
pub(crate) fn throttle_limits(tier: Tier) -> ThrottleLimits {
    let tier = limits(tier);
    ThrottleLimits {
        messages_per_minute: tier.messages_per_minute.and_then(NonZeroU32::new),
        burst: tier.message_burst.and_then(NonZeroU32::new),
        llm_tokens_per_day: tier.llm_tokens_per_day,
        concurrent_llm_calls: tier.concurrent_llm_calls.and_then(NonZeroU32::new),
        concurrent_adapter_calls: tier.concurrent_adapter_calls.and_then(NonZeroU32::new),
        ..ThrottleLimits::default()
    }
}

/// Something a tier counts: per business, or (businesses) per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Businesses per account (the only count not per business).
    Businesses,
    Products,
    Stores,
    Campaigns,
}

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Self::Businesses => "businesses",
            Self::Products => "products",
            Self::Stores => "stores",
            Self::Campaigns => "campaigns",
        }
    }

    fn limit(self, limits: &TierLimits) -> Option<u64> {
        match self {
            Self::Businesses => limits.businesses,
            Self::Products => limits.products,
            Self::Stores => limits.stores,
            Self::Campaigns => limits.campaigns,
        }
    }
}

/// How many of `what` a business of `tier` may have (`None`: unlimited): the limit the
/// store holds a creation to, in the same transaction as its count, so concurrent
/// requests cannot squeeze past it.
pub(crate) fn count_limit(tier: Tier, what: Counted) -> Option<u64> {
    what.limit(limits(tier))
}

/// The 402 for one `what` too many at `tier`'s limit, naming the tier and the limit.
fn count_refused(tier: Tier, what: Counted, limit: u64) -> ApiError {
    let per = if what == Counted::Businesses { "per account" } else { "per business" };
    ApiError::TierLimit {
        message: format!("the {} tier allows {limit} {} {per}; upgrade for more", tier_name(tier), what.name()),
        limit,
        tier: tier_name(tier),
    }
}

/// Maps the store's refusal of a creation past [`count_limit`] to its 402; any other
/// storage error as usual.
pub(crate) fn count_error(tier: Tier, what: Counted) -> impl FnOnce(MemoryError) -> ApiError {
    move |error| match error {
        MemoryError::LimitReached { limit, .. } => count_refused(tier, what, limit),
        other => other.into(),
    }
}

/// The calendar month usage is counted in, `YYYY-MM` (UTC).
pub(crate) fn period(now: DateTime<Utc>) -> String {
    now.format("%Y-%m").to_string()
}

/// Time from `now` until the next month starts (UTC).
pub(crate) fn until_month_end(now: DateTime<Utc>) -> Duration {
    let (year, month) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let next = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(now);
    (next - now).to_std().unwrap_or(Duration::from_secs(1)).max(Duration::from_secs(1))
}

/// Whether a request to `path` is metered as an API call.
pub(crate) fn is_metered(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/auth/profile" && path != "/api/auth/logout"
}

/// Counts one API call for `user`; 429 once the month's calls exceed the tier's limit.
pub(crate) async fn meter_api_call(state: &AppState, user: &User) -> Result<(), ApiError> {
    let now = Utc::now();
    let used = state.api_calls.count(user.id, now).await?;
    match limits(user.tier).api_calls {
        Some(limit) if used > limit as i64 => Err(ApiError::TooManyRequests {
            message: format!(
                "the {} tier allows {limit} API calls a month; the count starts again next month",
                tier_name(user.tier)
            ),
            retry_after: until_month_end(now),
        }),
        _ => Ok(()),
    }
}

/// An admin's throttle override for a tenant, when one is stored: a JSON object with
/// the limits it replaces (`null` is unlimited; a missing key keeps the tier's).
pub(crate) async fn throttle_override(state: &AppState, tenant: TenantId) -> Result<Option<Value>, ApiError> {
    let stored = state.store.agent_memory(tenant, OVERRIDE_AGENT, OVERRIDE_KEY).await?;
    Ok(stored.map(|memory| memory.content).filter(Value::is_object))
}

/// `base` with the limits an override names replaced. A new message rate without a
/// burst takes the default burst rather than the tier's (a burst of 100 at 1 a minute
/// would be no limit at all).
pub(crate) fn overridden(base: ThrottleLimits, content: &Value) -> ThrottleLimits {
    let small = |name: &str| content[name].as_u64().and_then(|n| u32::try_from(n).ok()).and_then(NonZeroU32::new);
    let has = |name: &str| content.get(name).is_some();
    let mut limits = base;
    if has("messages_per_minute") {
        limits.messages_per_minute = small("messages_per_minute");
        limits.burst = None;
    }
    if has("burst") {
        limits.burst = small("burst");
    }
    if has("llm_tokens_per_day") {
        limits.llm_tokens_per_day = content["llm_tokens_per_day"].as_u64();
    }
    if has("concurrent_llm_calls") {
        limits.concurrent_llm_calls = small("concurrent_llm_calls");
    }
    if has("concurrent_adapter_calls") {
        limits.concurrent_adapter_calls = small("concurrent_adapter_calls");
    }
    limits
}

/// The throttle a tenant's swarm should run with: its owner's tier, with an admin's
/// override on top.
pub(crate) async fn wanted_limits(state: &AppState, tenant: &Tenant) -> Result<ThrottleLimits, ApiError> {
    let tier = state.store.user(tenant.user_id).await?.map(|owner| owner.tier).unwrap_or_default();
    let limits = throttle_limits(tier);
    Ok(match throttle_override(state, tenant.id).await? {
        Some(content) => overridden(limits, &content),
        None => limits,
    })
}

/// Sets `swarm`'s throttle to `limits` when it differs (a change is an event).
pub(crate) async fn apply_limits(swarm: &TenantHandle, limits: ThrottleLimits) {
    if swarm.throttle().limits() != limits {
        swarm.throttle().set_limits(limits).await;
    }
}

/// Activates the tenant's swarm with the throttle its tier (or an admin's override)
/// sets. Every route that wakes a swarm goes through here.
pub(crate) async fn activate(state: &AppState, tenant: &Tenant) -> Result<TenantHandle, ActivateError> {
    let limits = wanted_limits(state, tenant).await.map_err(ActivateError::Api)?;
    let swarm = state.swarms.activate_row(tenant).await.map_err(ActivateError::Swarm)?;
    apply_limits(&swarm, limits).await;
    Ok(swarm)
}

/// Why [`activate`] failed.
#[derive(Debug)]
pub(crate) enum ActivateError {
    /// Reading the tier or the override failed.
    Api(ApiError),
    /// The swarm did not start.
    Swarm(SwarmError),
}

impl std::fmt::Display for ActivateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api(error) => write!(f, "{error}"),
            Self::Swarm(error) => write!(f, "{error}"),
        }
    }
}

/// The longest time between autopilot cycles anyone may ask for: 30 days. A request
/// beyond it is refused; a longer interval already stored (or configured) is cut to it,
/// so no interval reaches the supervisor's millisecond arithmetic anywhere near
/// overflowing.
pub(crate) const MAX_AUTOPILOT_INTERVAL_SECS: u64 = 30 * 24 * 3600;

/// An autopilot interval raised to the tier's minimum and cut to
/// [`MAX_AUTOPILOT_INTERVAL_SECS`].
pub(crate) fn autopilot_interval(tier: Tier, wanted: Duration) -> Duration {
    let shortest = Duration::from_secs(limits(tier).min_autopilot_interval_secs);
    wanted.min(Duration::from_secs(MAX_AUTOPILOT_INTERVAL_SECS)).max(shortest)
}

/// How often a tenant's autopilot runs: its interval, and a shorter one for while
/// someone watches its live view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cadence {
    pub(crate) interval: Duration,
    pub(crate) while_watched: Option<Duration>,
}

impl Cadence {
    /// Puts the cadence on a swarm's autopilot from its next wait on.
    pub(crate) fn apply(self, swarm: &TenantHandle) {
        swarm.set_autopilot_interval_while_watched(self.while_watched);
        swarm.set_autopilot_interval(self.interval);
    }

    /// Puts the cadence on a swarm's autopilot, starting it if it is not running.
    pub(crate) fn start(self, swarm: &TenantHandle) {
        self.start_after(swarm, Duration::ZERO);
    }

    /// [`Cadence::start`] with the first cycle `delay` away (at most an interval).
    pub(crate) fn start_after(self, swarm: &TenantHandle, delay: Duration) {
        self.apply(swarm);
        swarm.start_autopilot_after(self.interval, delay.min(self.interval));
    }
}

/// The autopilot cadence of a business whose owner is on `tier` and asks for `wanted`
/// between cycles.
///
/// On real platforms or with a remote model a cycle costs money or tokens, so the
/// tier's minimum interval applies (spec section 12). On the sandbox with the offline
/// brain a cycle costs nothing, so the business runs on simulated days instead: one
/// `sandbox_day` apart while someone watches, and otherwise the interval it asks for,
/// never shorter than a simulated day (an addition to the spec, so that a new owner
/// watching the live view sees cycle after cycle).
pub(crate) fn autopilot_cadence(tier: Tier, wanted: Duration, costs_nothing: bool, sandbox_day: Duration) -> Cadence {
    if !costs_nothing {
        return Cadence { interval: autopilot_interval(tier, wanted), while_watched: None };
    }
    let interval = wanted.min(Duration::from_secs(MAX_AUTOPILOT_INTERVAL_SECS)).max(sandbox_day);
    Cadence { interval, while_watched: Some(sandbox_day).filter(|day| *day < interval) }
}

/// [`autopilot_cadence`] for a tenant of this server: its `autopilot_interval_secs`
/// setting (else the server's default), on this server's market and brain.
pub(crate) fn tenant_cadence(state: &AppState, tenant: &Tenant, tier: Tier) -> Cadence {
    let wanted = tenant.settings["autopilot_interval_secs"]
        .as_u64()
        .filter(|secs| *secs > 0)
        .map_or(state.settings.autopilot_interval, Duration::from_secs);
    let costs_nothing = state.services.market.is_simulated() && state.settings.llm.is_none();
    autopilot_cadence(tier, wanted, costs_nothing, state.settings.sandbox_day)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_are_refused_at_the_limit_with_a_402_naming_it() {
        assert_eq!(count_limit(Tier::Free, Counted::Products), Some(5));
        assert_eq!(count_limit(Tier::Free, Counted::Stores), Some(1));
        assert_eq!(count_limit(Tier::Pro, Counted::Campaigns), Some(20));
        assert_eq!(count_limit(Tier::Enterprise, Counted::Campaigns), None);
        let refused =
            count_error(Tier::Free, Counted::Products)(MemoryError::LimitReached { what: "products".into(), limit: 5 });
        assert_eq!(refused.status().as_u16(), 402);
        assert_eq!(refused.code(), "tier_limit");
        assert!(refused.to_string().contains("free tier allows 5 products per business"), "{refused}");
        assert_eq!(count_limit(Tier::Free, Counted::Businesses), Some(1));
        assert_eq!(count_limit(Tier::Pro, Counted::Businesses), Some(5));
        assert_eq!(count_limit(Tier::Enterprise, Counted::Businesses), None);
        let businesses = count_error(Tier::Free, Counted::Businesses)(MemoryError::LimitReached {
            what: "businesses".into(),
            limit: 1,
        });
        assert!(businesses.to_string().contains("free tier allows 1 businesses per account"), "{businesses}");
        let other = count_error(Tier::Free, Counted::Stores)(MemoryError::NotFound("tenant".into()));
        assert_eq!(other.status().as_u16(), 404);
    }

    #[test]
    fn the_month_ends_at_midnight_on_the_first() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).single().expect("date");
        assert_eq!(until_month_end(now), Duration::from_secs(60));
        let now = Utc.with_ymd_and_hms(2026, 2, 28, 0, 0, 0).single().expect("date");
        assert_eq!(until_month_end(now), Duration::from_secs(24 * 3600));
        assert_eq!(period(now), "2026-02");
    }

    #[test]
    fn tiers_set_the_swarm_throttle_and_the_autopilot_floor() {
        assert_eq!(throttle_limits(Tier::Free).messages_per_minute.map(NonZeroU32::get), Some(60));
        assert_eq!(throttle_limits(Tier::Pro).messages_per_minute.map(NonZeroU32::get), Some(600));
        assert_eq!(throttle_limits(Tier::Enterprise).messages_per_minute, None);
        assert_eq!(autopilot_interval(Tier::Free, Duration::from_secs(60)), Duration::from_secs(1800));
        assert_eq!(autopilot_interval(Tier::Pro, Duration::from_secs(3600)), Duration::from_secs(3600));
        assert_eq!(autopilot_interval(Tier::Enterprise, Duration::from_secs(1)), Duration::from_secs(60));
    }

    #[test]
    fn on_the_sandbox_with_the_offline_brain_a_business_cycles_on_simulated_days_whatever_its_tier() {
        let day = Duration::from_secs(60);
        let half_hour = Duration::from_secs(1800);
        let sandbox = autopilot_cadence(Tier::Free, half_hour, true, day);
        assert_eq!(sandbox, Cadence { interval: half_hour, while_watched: Some(day) });
        // Asking for less than a simulated day gets a day, watched or not.
        assert_eq!(
            autopilot_cadence(Tier::Free, Duration::from_secs(1), true, day),
            Cadence { interval: day, while_watched: None }
        );
        assert_eq!(autopilot_cadence(Tier::Free, Duration::MAX, true, day).interval, Duration::from_secs(2_592_000));
        // Real platforms or a remote model: the tier's minimum, and no faster cadence.
        assert_eq!(
            autopilot_cadence(Tier::Free, Duration::from_secs(60), false, day),
            Cadence { interval: half_hour, while_watched: None }
        );
    }

    #[test]
    fn an_autopilot_interval_never_passes_30_days_nor_falls_below_the_tier() {
        let month = Duration::from_secs(MAX_AUTOPILOT_INTERVAL_SECS);
        for tier in [Tier::Free, Tier::Pro, Tier::Enterprise] {
            assert_eq!(autopilot_interval(tier, Duration::from_secs(1 << 63)), month);
            assert_eq!(autopilot_interval(tier, Duration::from_secs(u64::MAX)), month);
            assert_eq!(autopilot_interval(tier, Duration::MAX), month);
            assert_eq!(autopilot_interval(tier, month), month);
            let floor = Duration::from_secs(limits(tier).min_autopilot_interval_secs);
            assert_eq!(autopilot_interval(tier, Duration::ZERO), floor);
            assert!(floor <= month);
        }
    }

    #[test]
    fn an_override_replaces_only_the_limits_it_names() {
        let free = throttle_limits(Tier::Free);
        assert_eq!(free.llm_tokens_per_day, Some(100_000));
        assert_eq!(free.concurrent_llm_calls.map(NonZeroU32::get), Some(2));

        let slower = overridden(free, &json!({ "messages_per_minute": 1 }));
        assert_eq!(slower.messages_per_minute.map(NonZeroU32::get), Some(1));
        assert_eq!(slower.burst, None, "a new rate does not inherit the tier's burst");
        assert_eq!(slower.llm_tokens_per_day, Some(100_000), "unnamed limits keep the tier's");

        let unlimited_llm = overridden(free, &json!({ "llm_tokens_per_day": null, "concurrent_llm_calls": 5 }));
        assert_eq!(unlimited_llm.llm_tokens_per_day, None);
        assert_eq!(unlimited_llm.concurrent_llm_calls.map(NonZeroU32::get), Some(5));
        assert_eq!(unlimited_llm.messages_per_minute, free.messages_per_minute);
        assert_eq!(unlimited_llm.burst, free.burst);
    }

    #[test]
    fn only_api_routes_are_metered_and_not_the_profile() {
        assert!(is_metered("/api/products/list"));
        assert!(!is_metered("/api/auth/profile"));
        assert!(!is_metered("/admin/users"));
        assert!(!is_metered("/health"));
    }
}
