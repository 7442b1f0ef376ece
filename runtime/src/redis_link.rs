//! The optional Redis connection, opened lazily so a Redis outage at start-up only
//! degrades `/health` instead of stopping the server.

use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// A Redis client plus a connection made on first use and kept (it reconnects itself).
pub struct RedisLink {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl RedisLink {
    /// Parses the URL; does not connect.
    pub fn new(url: &str) -> redis::RedisResult<Self> {
        Ok(Self { client: redis::Client::open(url)?, connection: OnceCell::new() })
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
