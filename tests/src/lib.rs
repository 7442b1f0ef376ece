//! # boardroom-tests
//!
//! Helpers for the end-to-end stories in `tests/`: [`spawn_app`] builds the real
//! application on a fresh database (SQLite, or PostgreSQL with Redis), serves it on a
//! free port, and stops it through the same shutdown path as SIGTERM.

use std::collections::HashMap;
use std::path::PathBuf;

use boardroom_memory::testing::{TestPostgres, fresh_postgres};
use boardroom_runtime::{AppState, Application, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which backends a test app runs on.
pub enum Backends {
    /// SQLite in a fresh folder, everything in process: the embedded default.
    Embedded,
    /// A fresh PostgreSQL database and the local Redis.
    Production,
}

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The application's shared state, to reach its swarm, log and store.
    pub state: AppState,
    /// A client for the API.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    /// Kept so the database outlives the app; dropped (and the database with it) last.
    pub postgres: Option<TestPostgres>,
    _folder: PathBuf,
}

/// The Redis URL the tests use (`TEST_REDIS_URL`, default the local server).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Builds and serves the application on a free port.
pub async fn spawn_app(backends: Backends) -> TestApp {
    let folder = std::env::temp_dir().join(format!("boardroom-e2e-{}", uuid::Uuid::new_v4().simple()));
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("BIND".into(), "127.0.0.1:0".into());
    env.insert("BOARDROOM_DATA_DIR".into(), folder.display().to_string());
    env.insert("LOG_LEVEL".into(), "warn".into());
    let postgres = match backends {
        Backends::Embedded => None,
        Backends::Production => {
            let database = fresh_postgres().await;
            env.insert("DATABASE_URL".into(), database.url.clone());
            env.insert("REDIS_URL".into(), redis_url());
            env.insert("SECRET_KEY".into(), "e2e-secret-key-0123456789abcdef0123456789".into());
            Some(database)
        }
    };
    let settings = Settings::load(&env).expect("test settings are valid");
    let application = Application::build(settings).await.expect("application builds");
    let address = format!("http://{}", application.local_addr());
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("application runs and stops cleanly");
    });
    TestApp {
        address,
        state,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
        postgres,
        _folder: folder,
    }
}

impl TestApp {
    /// `GET` a path and return the status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(format!("{}{path}", self.address)).send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Stops the app as SIGTERM would and waits until it has flushed everything. The
    /// database stays until the `TestApp` is dropped.
    pub async fn stop(&mut self) -> AppState {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
        self.state.clone()
    }
}

/// Compiles and runs the README's Rust examples (the "Adding an agent" section), so the
/// README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
