//! # boardroom-tests
//!
//! Helpers for the end-to-end stories in `tests/`: [`spawn_app`] builds the real
//! application on a fresh database (SQLite, or PostgreSQL with Redis), serves it on a
//! free port, and stops it through the same shutdown path as SIGTERM.
//!
//! - `live`: a server-sent events client for the live view's stream.
//! - `browser`: headless Chromium through ChromeDriver, for the live view's stories.
//! - `proxy`: a TCP proxy between the app and PostgreSQL that can play an outage.
//! - [`on_both_backends!`]: runs each story on SQLite and on PostgreSQL (with Redis).

pub mod browser;
pub mod live;
pub mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use boardroom_memory::SharedStore;
use boardroom_memory::testing::{LocalS3, TestPostgres, TestSqlite, fresh_postgres, fresh_sqlite};
use boardroom_runtime::{AppState, Application, Settings};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which backends a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// SQLite in a fresh folder, everything in process: the embedded default.
    Embedded,
    /// A fresh PostgreSQL database and the local Redis.
    Production,
}

/// Turns each listed story, an `async fn story(backends: Backends)`, into two tests:
/// `sqlite::story` on the embedded defaults and `postgres::story` on PostgreSQL with
/// Redis, so no story can pass on one backend and be broken on the other (as
/// `memory/tests/conformance.rs` does for the store).
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        $crate::on_both_backends!(@backend sqlite, Embedded, [$($story),*]);
        $crate::on_both_backends!(@backend postgres, Production, [$($story),*]);
    };
    (@backend $module:ident, $backends:ident, [$($story:ident),*]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story($crate::Backends::$backends).await;
                }
            )*
        }
    };
}

/// A fresh database for a story that builds its own swarm root instead of the whole
/// application; dropping it removes the database.
pub enum TestDatabase {
    /// A SQLite file.
    Sqlite(TestSqlite),
    /// A PostgreSQL database.
    Postgres(TestPostgres),
}

impl TestDatabase {
    /// A fresh database on the chosen backend (the database only: no Redis), and a store
    /// over it.
    pub async fn fresh(backends: Backends) -> (TestDatabase, SharedStore) {
        match backends {
            Backends::Embedded => {
                let database = fresh_sqlite().await;
                let store: SharedStore = std::sync::Arc::new(database.store.clone());
                (TestDatabase::Sqlite(database), store)
            }
            Backends::Production => {
                let database = fresh_postgres().await;
                let store: SharedStore = std::sync::Arc::new(database.store.clone());
                (TestDatabase::Postgres(database), store)
            }
        }
    }

    /// The database's URL, for another process or store on it.
    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite(database) => &database.url,
            TestDatabase::Postgres(database) => &database.url,
        }
    }
}

impl Backends {
    /// `sqlite` or `postgres`: the database the backends store in.
    pub fn name(&self) -> &'static str {
        match self {
            Backends::Embedded => "sqlite",
            Backends::Production => "postgres",
        }
    }
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
    /// The S3-compatible server the production stories keep files in.
    pub s3: Option<Arc<LocalS3>>,
    /// The environment the app was built from, reused by [`TestApp::restart`].
    env: HashMap<String, String>,
    _folder: PathBuf,
}

/// The Redis URL the tests use (`TEST_REDIS_URL`, default the local server).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Builds and serves the application on a free port.
pub async fn spawn_app(backends: Backends) -> TestApp {
    spawn_app_with(backends, &[]).await
}

/// Like [`spawn_app`], with extra environment variables (e.g. `PRIVATE_MODE=true`).
pub async fn spawn_app_with(backends: Backends, extra_env: &[(&str, &str)]) -> TestApp {
    match backends {
        Backends::Embedded => launch(None, extra_env).await,
        Backends::Production => {
            let database = fresh_postgres().await;
            let url = database.url.clone();
            launch(Some((database, url)), extra_env).await
        }
    }
}

/// Like [`spawn_app_with`] on [`Backends::Production`], with the app reaching its fresh
/// PostgreSQL database through a [`FaultyProxy`](proxy::FaultyProxy) that can take
/// the database away (and bring it back) while the app runs.
pub async fn spawn_app_behind_proxy(extra_env: &[(&str, &str)]) -> (TestApp, proxy::FaultyProxy) {
    let database = fresh_postgres().await;
    // postgres://user@host:port/name: the proxy takes host:port's place.
    let (scheme, rest) = database.url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = rest.split_once('/').expect("a URL with a database name");
    let (user, upstream) = authority.rsplit_once('@').map_or(("", authority), |(user, host)| (user, host));
    let upstream = if upstream.contains(':') { upstream.to_owned() } else { format!("{upstream}:5432") };
    let proxy = proxy::FaultyProxy::start(&upstream);
    let user = if user.is_empty() { String::new() } else { format!("{user}@") };
    let url = format!("{scheme}://{user}127.0.0.1:{}/{path}", proxy.port());
    (launch(Some((database, url)), extra_env).await, proxy)
}

/// Serves the app on SQLite, or on `postgres` (a fresh database and the URL the app
/// reaches it by) with the local Redis.
async fn launch(postgres: Option<(TestPostgres, String)>, extra_env: &[(&str, &str)]) -> TestApp {
    let folder = std::env::temp_dir().join(format!("boardroom-e2e-{}", uuid::Uuid::new_v4().simple()));
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("BIND".into(), "127.0.0.1:0".into());
    env.insert("BOARDROOM_DATA_DIR".into(), folder.display().to_string());
    env.insert("LOG_LEVEL".into(), "warn".into());
    let postgres = match postgres {
        None => None,
        Some((database, url)) => {
            env.insert("DATABASE_URL".into(), url);
            env.insert("REDIS_URL".into(), redis_url());
            // Tenant and user ids start at 1 in every fresh database: keep each test's
            // Redis keys apart.
            env.insert("REDIS_PREFIX".into(), format!("boardroom-test-{}:", uuid::Uuid::new_v4().simple()));
            env.insert("SECRET_KEY".into(), "e2e-secret-key-0123456789abcdef0123456789".into());
            Some(database)
        }
    };
    // Production keeps files in an S3-compatible bucket; the embedded default in a folder.
    let s3 = match postgres {
        None => None,
        Some(_) => {
            let s3 = LocalS3::start("boardroom").await;
            env.insert("MEDIA_URL".into(), s3.url.clone());
            env.extend(s3.options().into_iter().map(|(name, value)| (name.to_ascii_uppercase(), value)));
            Some(Arc::new(s3))
        }
    };
    for (name, value) in extra_env {
        env.insert((*name).into(), (*value).into());
    }
    let running = serve(&env).await;
    TestApp {
        address: running.address,
        state: running.state,
        client: reqwest::Client::new(),
        stop: Some(running.stop),
        server: Some(running.server),
        postgres,
        s3,
        env,
        _folder: folder,
    }
}

/// A served application's handles.
struct Running {
    address: String,
    state: AppState,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

async fn serve(env: &HashMap<String, String>) -> Running {
    let settings = Settings::load(env).expect("test settings are valid");
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
    Running { address, state, stop, server }
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

    /// Stops the app as SIGTERM would and starts a new process's worth of it on the same
    /// database, data folder and Redis (on a new port: re-target callers with
    /// [`Caller::on`]).
    pub async fn restart(&mut self) {
        self.stop().await;
        let running = serve(&self.env).await;
        self.address = running.address;
        self.state = running.state;
        self.stop = Some(running.stop);
        self.server = Some(running.server);
    }

    /// Like [`restart`](Self::restart), with some variables changed first: `Some`
    /// sets one, `None` removes it (e.g. a new `SECRET_KEY` and `SECRET_KEY_PREVIOUS`).
    pub async fn restart_with(&mut self, changes: &[(&str, Option<&str>)]) {
        for (name, value) in changes {
            match value {
                Some(value) => self.env.insert((*name).into(), (*value).into()),
                None => self.env.remove(*name),
            };
        }
        self.restart().await;
    }

    /// A second `boardroom` process beside this one: same database, data folder and
    /// Redis (and Redis key prefix), its own port, swarms and in-process state. The
    /// database belongs to the first app, which must outlive it.
    pub async fn another_process(&self) -> TestApp {
        self.another_process_with(&[]).await
    }

    /// Like [`another_process`](Self::another_process), with some variables set
    /// differently (e.g. its own `REDIS_URL`, through a proxy that can play an outage).
    pub async fn another_process_with(&self, changes: &[(&str, &str)]) -> TestApp {
        // A node of its own: two live nodes never share a name.
        let mut env = self.env.clone();
        env.insert("NODE_NAME".into(), format!("another-{}", uuid::Uuid::new_v4().simple()));
        for (name, value) in changes {
            env.insert((*name).into(), (*value).into());
        }
        let running = serve(&env).await;
        TestApp {
            address: running.address,
            state: running.state,
            client: reqwest::Client::new(),
            stop: Some(running.stop),
            server: Some(running.server),
            postgres: None,
            s3: self.s3.clone(),
            env,
            _folder: self._folder.clone(),
        }
    }

    /// A caller with no credentials.
    pub fn anonymous(&self) -> Caller {
        Caller {
            client: self.client.clone(),
            address: self.address.clone(),
            cookie: None,
            csrf_token: None,
            bearer: None,
            headers: Vec::new(),
        }
    }

    /// `POST /api/auth/signup`.
    pub async fn sign_up(&self, email: &str, password: &str, invite_code: Option<&str>) -> ApiResponse {
        let mut body = json!({ "email": email, "password": password });
        if let Some(code) = invite_code {
            body["invite_code"] = json!(code);
        }
        self.anonymous().post("/api/auth/signup", &body).await
    }

    /// `POST /api/auth/login`; on success also a caller holding the session cookie and
    /// its CSRF token.
    pub async fn log_in(&self, email: &str, password: &str) -> (ApiResponse, Option<Caller>) {
        let response = self.anonymous().post("/api/auth/login", &json!({ "email": email, "password": password })).await;
        let cookie = response.session_cookie();
        let caller = match (response.status, cookie) {
            (200, Some(cookie)) => Some(Caller {
                cookie: Some(cookie),
                csrf_token: response.body["csrf_token"].as_str().map(str::to_owned),
                ..self.anonymous()
            }),
            _ => None,
        };
        (response, caller)
    }

    /// Signs up (public mode) and logs in with [`TEST_PASSWORD`]; panics on failure.
    pub async fn new_account(&self, email: &str) -> Caller {
        let signed_up = self.sign_up(email, TEST_PASSWORD, None).await;
        assert_eq!(signed_up.status, 201, "sign-up of {email}: {}", signed_up.body);
        let (logged_in, caller) = self.log_in(email, TEST_PASSWORD).await;
        caller.unwrap_or_else(|| panic!("login of {email}: {} {}", logged_in.status, logged_in.body))
    }

    /// Like [`TestApp::new_account`], on `tier` (set in the store before the account
    /// first logs in, so no process has it cached as free): for stories that need more
    /// than a free account's one business.
    pub async fn new_account_on(&self, email: &str, tier: boardroom_memory::Tier) -> Caller {
        let signed_up = self.sign_up(email, TEST_PASSWORD, None).await;
        assert_eq!(signed_up.status, 201, "sign-up of {email}: {}", signed_up.body);
        let user = self.state.store.user_by_email(email).await.expect("lookup").expect("the account exists");
        self.state.store.set_user_tier(user.id, tier).await.expect("tier set");
        let (logged_in, caller) = self.log_in(email, TEST_PASSWORD).await;
        caller.unwrap_or_else(|| panic!("login of {email}: {} {}", logged_in.status, logged_in.body))
    }

    /// A signed-in owner on `tier` with one business named `name` (personality
    /// HustleBot), created through the API: the owner and the business's id.
    pub async fn owner_with_business(&self, email: &str, tier: boardroom_memory::Tier, name: &str) -> (Caller, i64) {
        let owner = self.new_account_on(email, tier).await;
        let created =
            owner.post("/api/business/create", &serde_json::json!({ "name": name, "personality": "hustlebot" })).await;
        assert_eq!(created.status, 201, "{}", created.body);
        (owner, created.body["id"].as_i64().expect("business id"))
    }
}

/// The password the account helpers use.
pub const TEST_PASSWORD: &str = "correct horse battery";

/// A response: status, headers and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct ApiResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body parsed as JSON, `Null` when it is not JSON.
    pub body: Value,
    /// The body's bytes as received.
    pub raw: Vec<u8>,
}

impl ApiResponse {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The value of the `boardroom_session` cookie this response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, value)| *name == "boardroom_session" && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }

    /// `error.code` of an error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Someone calling the API: anonymous, with a session cookie (and its CSRF token), or
/// with a bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    client: reqwest::Client,
    address: String,
    /// The session cookie's value.
    pub cookie: Option<String>,
    /// The session's CSRF token, sent as `X-CSRF-Token` on every request.
    pub csrf_token: Option<String>,
    /// An API token, sent as `Authorization: Bearer`.
    pub bearer: Option<String>,
    /// Further headers sent with every request (e.g. `X-Forwarded-For`).
    pub headers: Vec<(String, String)>,
}

impl Caller {
    /// The same credentials against another (e.g. restarted) app.
    pub fn on(&self, app: &TestApp) -> Caller {
        Caller { address: app.address.clone(), ..self.clone() }
    }

    /// The same session without its CSRF token.
    pub fn without_csrf(&self) -> Caller {
        Caller { csrf_token: None, ..self.clone() }
    }

    /// The same session sending another CSRF token.
    pub fn with_csrf(&self, token: &str) -> Caller {
        Caller { csrf_token: Some(token.to_owned()), ..self.clone() }
    }

    /// A caller authenticated only by this API token.
    pub fn with_token(&self, token: &str) -> Caller {
        Caller { cookie: None, csrf_token: None, bearer: Some(token.to_owned()), ..self.clone() }
    }

    /// The same caller, also sending `name: value` on every request.
    pub fn with_header(&self, name: &str, value: &str) -> Caller {
        let mut caller = self.clone();
        caller.headers.push((name.to_owned(), value.to_owned()));
        caller
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> ApiResponse {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> ApiResponse {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> ApiResponse {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> ApiResponse {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Any method, with an optional JSON body.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> ApiResponse {
        match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).expect("JSON body");
                self.send_raw(method, path, Some("application/json"), bytes).await
            }
            None => self.send_raw(method, path, None, Vec::new()).await,
        }
    }

    /// Any method with a body sent as is, under the given `Content-Type` (none if `None`).
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> ApiResponse {
        let mut request = self.client.request(method, format!("{}{path}", self.address));
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, format!("boardroom_session={cookie}"));
        }
        if let Some(token) = &self.csrf_token {
            request = request.header("X-CSRF-Token", token);
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        ApiResponse { status, headers, body, raw: bytes.to_vec() }
    }
}

/// Compiles and runs the README's Rust examples (the "Adding an agent" section), so the
/// README cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// How long a story waits for one autopilot cycle to end.
const CYCLE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

/// ffprobe's reading of a media file (`-show_streams -show_format`, as JSON), the way a
/// platform checks an upload. Panics naming ffprobe when it is not installed
/// (`scripts/test` installs it, with ffmpeg).
pub fn probe_media(bytes: &[u8]) -> Value {
    let folder = tempfile::tempdir().expect("a scratch folder");
    let path = folder.path().join("media");
    std::fs::write(&path, bytes).expect("written");
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(&path)
        .output()
        .expect("this test needs ffprobe (Debian's ffmpeg package; scripts/test installs it)");
    assert!(output.status.success(), "ffprobe: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("ffprobe's JSON")
}

/// How long a probed file plays, from its format.
pub fn probed_seconds(probed: &Value) -> f64 {
    probed["format"]["duration"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("a duration: {probed}"))
}

/// The probed file's streams of `kind` (`video`, `audio`), by codec name.
pub fn probed_codecs(probed: &Value, kind: &str) -> Vec<String> {
    probed["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|stream| stream["codec_type"] == kind)
        .map(|stream| stream["codec_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asks for a cycle of `business` through the dashboard's route (`POST
/// /api/live/{id}/run-cycle`, as `owner`) and returns the events it wrote, up to its
/// minutes (`ceo.report`) or its failure (`autopilot.cycle_failed`), whichever ends it.
pub async fn run_a_cycle_to_its_end(app: &TestApp, owner: &Caller, business: i64) -> Vec<boardroom_memory::SwarmEvent> {
    let tenant = boardroom_memory::TenantId(business);
    let mut feed = app.state.events.subscribe(tenant, app.state.store.last_event_seq(tenant).await.expect("seq"));
    let requested = owner.post(&format!("/api/live/{business}/run-cycle"), &json!({})).await;
    assert_eq!(requested.status, 202, "{}", requested.body);
    tokio::time::timeout(CYCLE_PATIENCE, async {
        let mut seen = Vec::new();
        loop {
            let event = feed.next().await.expect("the feed stays open").expect("an event");
            let done = matches!(event.kind.as_str(), "ceo.report" | "autopilot.cycle_failed");
            seen.push(boardroom_memory::SwarmEvent::clone(&event));
            if done {
                return seen;
            }
        }
    })
    .await
    .expect("the cycle ends in time")
}

/// [`run_a_cycle_to_its_end`] for a cycle that must complete: fails the story, with the
/// failure's reason, when it does not.
pub async fn run_a_cycle(app: &TestApp, owner: &Caller, business: i64) -> Vec<boardroom_memory::SwarmEvent> {
    let events = run_a_cycle_to_its_end(app, owner, business).await;
    if let Some(failed) = events.iter().find(|event| event.kind == "autopilot.cycle_failed") {
        panic!("the cycle failed: {}", failed.summary);
    }
    events
}
