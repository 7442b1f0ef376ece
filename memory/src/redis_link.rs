//! The optional Redis connection, opened lazily so a Redis outage at start-up only
//! degrades `/health` instead of stopping the server.
//!
//! Every key Boardroom writes starts with the link's prefix (`boardroom:` unless
//! configured), so several deployments, or several tests, can share one Redis. Rates
//! shared by processes (swarm throttles, login and sign-up attempts) are kept here with
//! [`RedisLink::take_one`] and [`RedisLink::take_every`].

use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// The answer of a Redis call, or why there is none: its error, or that it took longer
/// than [`COMMAND_TIMEOUT`].
async fn within_command_timeout<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("Redis timed out".to_owned()),
    }
}

/// The key prefix when none is configured.
pub const DEFAULT_REDIS_PREFIX: &str = "boardroom:";

/// Longest a single Redis command may take before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis client plus a connection made on first use and kept (it reconnects itself).
pub struct RedisLink {
    client: redis::Client,
    prefix: String,
    connection: OnceCell<ConnectionManager>,
}

impl RedisLink {
    /// Parses the URL; does not connect. Keys start with `prefix`.
    pub fn new(url: &str, prefix: impl Into<String>) -> redis::RedisResult<Self> {
        Ok(Self { client: redis::Client::open(url)?, prefix: prefix.into(), connection: OnceCell::new() })
    }

    /// `name` under this link's prefix.
    pub fn key(&self, name: impl std::fmt::Display) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A shared connection, connecting within a second if there is none yet.
    pub async fn connection(&self) -> Result<ConnectionManager, String> {
        let connect = || async {
            match tokio::time::timeout(Duration::from_secs(1), ConnectionManager::new(self.client.clone())).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("timed out connecting".to_owned()),
            }
        };
        self.connection.get_or_try_init(connect).await.cloned()
    }

    /// Runs one command within two seconds.
    pub async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        within_command_timeout(command.query_async::<T>(&mut connection)).await
    }

    /// Runs a pipeline within two seconds.
    pub async fn run_pipeline<T: redis::FromRedisValue>(&self, pipeline: &redis::Pipeline) -> Result<T, String> {
        let mut connection = self.connection().await?;
        within_command_timeout(pipeline.query_async::<T>(&mut connection)).await
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs a Lua script within two seconds (`EVALSHA`, loading it on first use).
    pub async fn run_script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut connection = self.connection().await?;
        within_command_timeout(invocation.invoke_async::<T>(&mut connection)).await
    }

    /// Takes one unit from the rate kept under `name`: `per_minute` units a minute, at
    /// most `burst` at once. `Ok(None)` when it may pass now (and it is counted),
    /// `Ok(Some(wait))` when it may pass after `wait`, `Err` when Redis did not answer.
    ///
    /// GCRA (the generic cell rate algorithm): the key holds the *theoretical arrival
    /// time* of the next unit in microseconds of Redis's own clock, so processes with
    /// skewed clocks agree. A unit costs one emission interval (a minute divided by the
    /// rate) and may pass while that time is at most `burst` intervals ahead of now.
    /// Check and update are one script, so concurrent callers in any number of
    /// processes cannot both take the last unit.
    pub async fn take_one(
        &self,
        name: &str,
        per_minute: NonZeroU32,
        burst: NonZeroU32,
    ) -> Result<Option<Duration>, String> {
        let interval = Duration::from_micros((60_000_000 / u64::from(per_minute.get())).max(1));
        self.take_every(name, interval, burst.get()).await.map(|(wait, _owed)| wait)
    }

    /// Takes one unit from the rate kept under `name`: one unit every `every`, at most
    /// `burst` at once (the same GCRA as [`RedisLink::take_one`], for rates slower than
    /// one a minute). Also says whether units were already owed (earlier takes not yet
    /// recovered): `Ok((None, owed))` when it may pass now (and it is counted),
    /// `Ok((Some(wait), owed))` when it may pass after `wait`.
    pub async fn take_every(
        &self,
        name: &str,
        every: Duration,
        burst: u32,
    ) -> Result<(Option<Duration>, bool), String> {
        let interval_us = u64::try_from(every.as_micros()).unwrap_or(u64::MAX / 4).max(1);
        let mut invocation = GCRA_OWED.prepare_invoke();
        invocation.key(self.key(name)).arg(interval_us).arg(burst.max(1));
        let (wait_us, owed): (u64, u8) = self.run_script(&invocation).await?;
        Ok(((wait_us > 0).then(|| Duration::from_micros(wait_us)), owed != 0))
    }

    /// Gives back one unit taken with [`RedisLink::take_every`] under `name` (it is as if
    /// that take had not happened, as far as time allows).
    pub async fn give_back(&self, name: &str, every: Duration) -> Result<(), String> {
        let interval_us = u64::try_from(every.as_micros()).unwrap_or(u64::MAX / 4).max(1);
        let mut invocation = GIVE_BACK.prepare_invoke();
        invocation.key(self.key(name)).arg(interval_us);
        self.run_script::<i64>(&invocation).await.map(|_| ())
    }

    /// Forgets the rate kept under `name`: every unit is available again.
    pub async fn forget(&self, name: &str) -> Result<(), String> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(name));
        self.run::<i64>(&command).await.map(|_| ())
    }

    /// Sends PING, within a second.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection().await?;
        let ping = redis::cmd("PING");
        match tokio::time::timeout(Duration::from_secs(1), ping.query_async::<String>(&mut connection)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("PING timed out".to_owned()),
        }
    }
}

/// GCRA (see [`RedisLink::take_one`]): returns `{wait_us, owed}`, `wait_us` 0 when the
/// unit may pass (and it is recorded), else the microseconds until it may; `owed` 1 when
/// the theoretical arrival time was in the future. KEYS[1]: the rate's key. ARGV[1]:
/// emission interval (µs). ARGV[2]: burst.
static GCRA_OWED: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        local owed = 0
        if tat > now then owed = 1 else tat = now end
        local next_tat = tat + interval
        local allowed_at = next_tat - burst * interval
        if allowed_at > now then
            return {allowed_at - now, owed}
        end
        redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
        return {0, owed}
        ",
    )
});

/// Moves a GCRA key's theoretical arrival time back one interval (deleting it once
/// nothing is owed). KEYS[1]: the rate's key. ARGV[1]: emission interval (µs).
static GIVE_BACK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local tat = tonumber(redis.call('GET', KEYS[1]))
        if not tat then return 0 end
        local back = tat - tonumber(ARGV[1])
        if back <= now then
            redis.call('DEL', KEYS[1])
            return 0
        end
        redis.call('SET', KEYS[1], string.format('%d', back), 'PX', math.ceil((back - now) / 1000) + 1)
        return 0
        ",
    )
});
