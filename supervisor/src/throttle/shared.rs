//! The message rate kept in Redis, for limits that hold across processes.
//!
//! GCRA (the generic cell rate algorithm): the key holds the *theoretical arrival time*
//! (TAT) of the next message in microseconds of Redis's own clock, so processes with
//! skewed clocks agree. One message costs one emission interval (a minute divided by
//! the rate); it may pass while the TAT is no more than `burst` intervals ahead of now.
//! The check and the update are one Lua script, so concurrent senders in any number of
//! processes cannot both take the last slot.

use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use boardroom_memory::{RedisLink, TenantId};

/// Returns 0 when the message may pass (and records it), else the microseconds until it
/// may. KEYS[1]: the tenant's key. ARGV[1]: emission interval (µs). ARGV[2]: burst.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local next_tat = tat + interval
        local allowed_at = next_tat - burst * interval
        if allowed_at > now then
            return allowed_at - now
        end
        redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
        return 0
        ",
    )
});

/// Takes one message from the tenant's shared rate: `Ok(None)` when it may pass now,
/// `Ok(Some(wait))` when it may pass after `wait`, `Err` when Redis did not answer.
pub(super) async fn take_one(
    link: &RedisLink,
    tenant: TenantId,
    per_minute: NonZeroU32,
    burst: NonZeroU32,
) -> Result<Option<Duration>, String> {
    let interval_us = 60_000_000 / u64::from(per_minute.get());
    let mut invocation = GCRA.prepare_invoke();
    invocation.key(link.key(format_args!("throttle:messages:{tenant}"))).arg(interval_us.max(1)).arg(burst.get());
    let wait_us: u64 = link.run_script(&invocation).await?;
    Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
}
