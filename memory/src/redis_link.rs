//! The optional Redis connection, opened lazily so a Redis outage at start-up only
//! degrades `/health` instead of stopping the server.
//!
//! Every key Boardroom writes starts with the link's prefix (`boardroom:` unless
//! configured), so several deployments, or several tests, can share one Redis.

use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

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
        match tokio::time::timeout(COMMAND_TIMEOUT, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("Redis timed out".to_owned()),
        }
    }

    /// Runs a Lua script within two seconds (`EVALSHA`, loading it on first use).
    pub async fn run_script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(COMMAND_TIMEOUT, invocation.invoke_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("Redis timed out".to_owned()),
        }
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
