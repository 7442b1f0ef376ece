//! The real `boardroom` binary, as an operator runs it: no configuration, bad
//! configuration, and a SIGTERM in the middle of work.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use boardroom_memory::{BusinessStore, EventStore, LearningStore, LedgerStore, PlatformStore, TenantId};
use serde_json::json;
use support::shopify_fake::{Fault, ShopifyFake, TOKEN};

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use the shop")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

mod binary;
use binary::{boardroom, fresh_folder, serve, serve_with, sigterm, until, wait_for_exit};

/// `/health` as an admin sees it: signs the first account up (the admin), logs in and
/// asks with its session.
async fn admin_health(address: &str) -> serde_json::Value {
    let client = reqwest::Client::new();
    let account = serde_json::json!({ "email": "admin@example.com", "password": "correct horse battery" });
    let signed_up = client.post(format!("http://{address}/api/auth/signup")).json(&account).send().await;
    assert_eq!(signed_up.expect("sign-up answers").status(), 201);
    let login = client.post(format!("http://{address}/api/auth/login")).json(&account).send().await;
    let login = login.expect("login answers");
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let health = client.get(format!("http://{address}/health")).header("cookie", cookie).send().await;
    health.expect("health answers").json().await.expect("json")
}

#[tokio::test]
async fn with_no_environment_boardroom_serves_health_on_an_embedded_database() {
    let folder = fresh_folder();
    let (mut child, address) = serve(&folder);

    let response = reqwest::get(format!("http://{address}/health")).await.expect("health answers");
    assert_eq!(response.status(), 200);
    let anonymous: serde_json::Value = response.json().await.expect("json");
    assert_eq!(anonymous, serde_json::json!({ "status": "ok" }), "anyone sees the status only");
    let body = admin_health(&address).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], serde_json::json!({ "status": "up", "backend": "sqlite" }));
    assert_eq!(body["redis"]["status"], "not configured");
    assert_eq!(body["llm"]["backend"], "offline");
    assert_eq!(body["swarms"]["active"], 1, "the demo tenant's swarm runs");

    // The demo tenant's first cycle runs at once, on the sandbox, with the offline brain.
    let url = format!("sqlite://{}", folder.join("data/boardroom.db").display());
    let store = boardroom_memory::SqliteStore::connect(&url).await.expect("database readable");
    let demo = TenantId(1);
    let mut waited = 0;
    while store.experiences(demo, None, 1).await.expect("experiences").is_empty() {
        assert!(waited < 300, "no autopilot cycle completed within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(!store.products(demo).await.expect("products").is_empty(), "a product was launched");
    let all_time = (chrono::DateTime::<chrono::Utc>::MIN_UTC, chrono::Utc::now());
    assert!(
        !store.ledger_entries(demo, all_time.0, all_time.1).await.expect("ledger").is_empty(),
        "the ledger has rows"
    );
    let events = store.events_after(demo, 0, 10_000).await.expect("events");
    assert!(events.iter().any(|e| e.kind == "cycle.completed"));
    let ranked = events.iter().find(|e| e.kind == "strategist.ranked").expect("the strategist decided");
    assert_eq!(ranked.data["source"], "offline", "decisions are labelled offline");
    store.close().await;
    assert!(folder.join("data/boardroom.db").exists(), "the database is created under ./data");
    assert_eq!(std::fs::read_to_string(folder.join("data/secret_key")).expect("secret stored").len(), 64);

    sigterm(&child);
    assert!(wait_for_exit(&mut child).success());
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_the_variable() {
    let folder = fresh_folder();
    let output = boardroom(&folder, &[("BIND", "everywhere")]).output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("boardroom: BIND: \"everywhere\" is not a socket address"), "{stderr}");
}

#[tokio::test]
async fn sigterm_exits_zero_with_every_accepted_event_persisted() {
    let folder = fresh_folder();
    for name in ["alpha", "beta", "gamma"] {
        let status = boardroom(&folder, &[])
            .args(["tenant", "create", "--name", name, "--autopilot"])
            .stdout(Stdio::null())
            .status()
            .expect("tenant create runs");
        assert!(status.success());
    }
    let listed = boardroom(&folder, &[]).args(["tenant", "list"]).output().expect("tenant list runs");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 4, "header + 3 tenants");

    let (mut child, address) = serve(&folder);
    let body = admin_health(&address).await;
    assert_eq!(body["swarms"]["active"], 3, "autopilot tenants run from start-up");

    sigterm(&child);
    assert_eq!(wait_for_exit(&mut child).code(), Some(0));

    // Every tenant's log runs from its start to its stop with no gap: whatever the
    // autopilot was doing when SIGTERM came, every event accepted was flushed before exit.
    let url = format!("sqlite://{}", folder.join("data/boardroom.db").display());
    let store = boardroom_memory::SqliteStore::connect(&url).await.expect("database readable");
    for tenant in 1..=3 {
        let events = store.events_after(TenantId(tenant), 0, 10_000).await.expect("events");
        assert_eq!(events.first().map(|e| e.kind.as_str()), Some("swarm.started"), "tenant {tenant}");
        assert_eq!(events.last().map(|e| e.kind.as_str()), Some("swarm.stopped"), "tenant {tenant}");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "tenant {tenant}: gap-free");
        assert!(events.iter().any(|e| e.kind == "cycle.started"), "tenant {tenant}: the autopilot ran");
    }
}

#[test]
fn a_tenant_can_bring_its_own_personality_and_a_broken_one_is_refused_with_the_field_named() {
    let folder = fresh_folder();
    let profile = include_str!("../../personalities/profiles/coachty.toml")
        .replace("name = \"CoachTy\"", "name = \"Zen Seller\"");
    std::fs::write(folder.join("zen.toml"), &profile).expect("write profile");
    let created = boardroom(&folder, &[])
        .args(["tenant", "create", "--name", "Zen Shop", "--personality-file", "zen.toml"])
        .output()
        .expect("runs");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let listed = boardroom(&folder, &[]).args(["tenant", "list"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("zen seller"), "the tenant runs under its own profile");

    let broken = profile.replace("max_price_change = \"0.10\"", "max_price_change = \"0.90\"");
    std::fs::write(folder.join("broken.toml"), broken).expect("write profile");
    let refused = boardroom(&folder, &[])
        .args(["tenant", "create", "--name", "Broken", "--personality-file", "broken.toml"])
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("decisions.max_price_change"), "{stderr}");
}

#[tokio::test]
async fn rotate_secrets_reseals_stored_credentials_once_and_names_the_missing_previous_key() {
    // Arrange: a store connected through a server running under the old secret.
    let folder = fresh_folder();
    let old = ("SECRET_KEY", "old-secret-key-0123456789abcdef0123456789");
    let (mut child, address) = serve_with(&folder, &[old, ("DEMO_TENANT", "false"), ("OPEN_BROWSER", "false")]);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let account = serde_json::json!({ "email": "owner@example.com", "password": "correct horse battery" });
    let signed_up = client.post(url("/api/auth/signup")).json(&account).send().await.expect("sign-up");
    assert_eq!(signed_up.status(), 201);
    let login = client.post(url("/api/auth/login")).json(&account).send().await.expect("login");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|pair| pair.starts_with("boardroom_session="))
        .expect("session cookie");
    let csrf = login.json::<serde_json::Value>().await.expect("json")["csrf_token"].as_str().expect("csrf").to_owned();
    let post = |path: &str, body: serde_json::Value| {
        client.post(url(path)).header("cookie", &cookie).header("x-csrf-token", &csrf).json(&body).send()
    };
    let business = post("/api/business/create", serde_json::json!({ "name": "Planner Shop" })).await.expect("create");
    let business = business.json::<serde_json::Value>().await.expect("json")["id"].as_i64().expect("id");
    let connected = post(
        "/api/stores/connect",
        serde_json::json!({ "business_id": business, "platform": "etsy",
                            "store_url": "https://planner.myshopify.com", "credentials": { "access_token": "shpat_x" } }),
    )
    .await
    .expect("connect");
    assert_eq!(connected.status(), 201);
    sigterm(&child);
    assert!(wait_for_exit(&mut child).success());

    // Act and assert: the rotation re-seals the store once; a second run finds nothing to do.
    let rotating = [("SECRET_KEY", "new-secret-key-fedcba9876543210fedcba9876"), ("SECRET_KEY_PREVIOUS", old.1)];
    for expected in [
        "re-sealed 1 stored credentials",
        "re-sealed 0 stored credentials under the current SECRET_KEY (1 already were)",
    ] {
        let output = boardroom(&folder, &rotating).arg("rotate-secrets").output().expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains(expected), "{stdout}");
    }

    // Under a secret that sealed nothing, it says which variable is missing and fails.
    let output = boardroom(&folder, &[old]).arg("rotate-secrets").output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 stored credentials open under neither SECRET_KEY nor SECRET_KEY_PREVIOUS"), "{stderr}");
}

/// A TCP relay in front of PostgreSQL that can "take the database down": it stops
/// accepting and cuts every open connection, as a crashed or unreachable server would.
struct DatabaseRelay {
    port: u16,
    relaying: tokio::task::JoinHandle<()>,
}

impl DatabaseRelay {
    async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
        let port = listener.local_addr().expect("address").port();
        let target = target.to_owned();
        let relaying = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, relaying }
    }

    /// Stops accepting and drops every relayed connection (the JoinSet aborts them).
    fn take_down(&self) {
        self.relaying.abort();
    }
}

/// How a test makes the database unavailable to a running server.
enum Outage {
    /// PostgreSQL behind a relay that is taken down.
    Relay(DatabaseRelay),
    /// Another process holds SQLite's write lock: every write waits out its busy
    /// time-out and fails, as with a database that is gone.
    SqliteWriteLock { url: String, holder: Option<sqlx::SqliteConnection> },
}

impl Outage {
    async fn begin(&mut self) {
        use sqlx::Connection;
        match self {
            Outage::Relay(relay) => relay.take_down(),
            Outage::SqliteWriteLock { url, holder } => {
                let mut locker = sqlx::SqliteConnection::connect(url).await.expect("second connection");
                sqlx::query("begin exclusive").execute(&mut locker).await.expect("write lock taken");
                *holder = Some(locker);
            }
        }
    }

    async fn end(&mut self) {
        use sqlx::Connection;
        if let Outage::SqliteWriteLock { holder, .. } = self
            && let Some(mut locker) = holder.take()
        {
            sqlx::query("rollback").execute(&mut locker).await.expect("write lock released");
            let _ = locker.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_postgres_down_exits_in_time_and_the_next_start_writes_what_was_kept() {
    let database = boardroom_memory::testing::fresh_postgres().await;
    let relay = DatabaseRelay::start("127.0.0.1:5432").await;
    let name = database.url.rsplit('/').next().expect("database name").to_owned();
    let through_relay = format!("postgres://postgres@127.0.0.1:{}/{name}", relay.port);
    let secret = ("SECRET_KEY", "process-test-secret-0123456789abcdef012345");
    let store: boardroom_memory::SharedStore = std::sync::Arc::new(database.store.clone());
    stop_during_an_outage(
        &store,
        &[("DATABASE_URL", &through_relay), secret],
        Outage::Relay(relay),
        &[("DATABASE_URL", &database.url), secret],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_sqlite_locked_by_another_process_exits_in_time_and_the_next_start_writes_what_was_kept() {
    let folder = fresh_folder();
    std::fs::create_dir_all(folder.join("data")).expect("data folder");
    let path = folder.join("data/boardroom.db").display().to_string();
    let url = format!("sqlite://{path}");
    let store = boardroom_memory::connect(&url).await.expect("database made");
    stop_during_an_outage(
        &store,
        &[("DATABASE_URL", &url)],
        Outage::SqliteWriteLock { url: url.clone(), holder: None },
        &[("DATABASE_URL", &url)],
    )
    .await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&folder);
}

/// The demo tenant is at work; the database becomes unavailable; SIGTERM. The server
/// must exit 0 within its grace (5 s here) and keep what it could not write in the
/// journal; once the database is back, the next start writes it, gap-free.
async fn stop_during_an_outage(
    store: &boardroom_memory::SharedStore,
    vars: &[(&str, &str)],
    mut outage: Outage,
    restored: &[(&str, &str)],
) {
    let folder = fresh_folder();
    let mut vars = vars.to_vec();
    vars.push(("SHUTDOWN_GRACE_SECS", "5"));
    let (mut child, _address) = serve_with(&folder, &vars);
    let demo = TenantId(1);
    let mut waited = 0;
    while store.last_event_seq(demo).await.expect("read") < 3 {
        assert!(waited < 300, "the demo swarm wrote no events within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }

    outage.begin().await;
    let stopping = std::time::Instant::now();
    sigterm(&child);
    let status = wait_for_exit(&mut child);
    let took = stopping.elapsed();
    println!("exit {took:?} after SIGTERM with the database unavailable (grace 5 s)");
    assert_eq!(status.code(), Some(0), "a clean exit although the database is gone");
    assert!(took < Duration::from_secs(20), "bounded by the grace, not by the database: {took:?}");
    let journal = folder.join("data").join(boardroom_memory::JOURNAL_FILE);
    let kept = std::fs::read_to_string(&journal).expect("what the database did not take is in the journal");
    assert!(kept.contains("swarm.stopped"), "the swarm's last events were kept: {kept}");
    outage.end().await;
    let before = store.last_event_seq(demo).await.expect("read");

    // The database is back; the next start writes the journal first, gap-free.
    let (mut again, _address) = serve_with(&folder, restored);
    assert!(!journal.exists(), "the journal was written and removed at start-up");
    sigterm(&again);
    assert_eq!(wait_for_exit(&mut again).code(), Some(0));
    let events = store.events_after(demo, 0, 100_000).await.expect("events");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "gap-free across the outage");
    assert!(
        events.iter().filter(|e| e.seq > before).any(|e| e.kind == "swarm.stopped"),
        "the first run's stop, kept in the journal, is in the log now"
    );
    let _ = std::fs::remove_dir_all(&folder);
}

/// What an OTLP/HTTP collector received: the span names of every export.
#[derive(Clone, Default)]
struct Collected(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Collected {
    fn span_names(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// A collector on a free port that accepts `POST /v1/traces` as the OTLP/HTTP protobuf
/// protocol describes it and keeps the names of the spans.
async fn otlp_collector() -> (String, Collected) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    let collected = Collected::default();
    let keep = collected.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf", "OTLP/HTTP sends protobuf");
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                let mut names = keep.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        names.extend(scope.spans.into_iter().map(|span| span.name));
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("collector port");
    let address = listener.local_addr().expect("collector address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), collected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_otlp_endpoint_every_agent_message_is_exported_as_a_span() {
    let (endpoint, collected) = otlp_collector().await;
    let folder = fresh_folder();
    // The demo tenant's first cycle sends the agents their messages at start-up.
    let (mut child, _address) =
        serve_with(&folder, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_BSP_SCHEDULE_DELAY", "100")]);
    let mut waited = 0;
    while !collected.span_names().iter().any(|name| name == "agent.message") {
        assert!(waited < 300, "no agent.message span reached the collector within 30 s: {:?}", collected.span_names());
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    sigterm(&child);
    assert!(wait_for_exit(&mut child).success());
}

/// An owner's session on a running server: signs up (or logs in) and keeps the cookie.
struct Session {
    client: reqwest::Client,
    address: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn open(address: &str, sign_up: bool) -> Self {
        let client = reqwest::Client::new();
        let account = json!({ "email": "owner@example.com", "password": "correct horse battery" });
        if sign_up {
            let signed_up = client.post(format!("http://{address}/api/auth/signup")).json(&account).send().await;
            assert_eq!(signed_up.expect("sign-up answers").status(), 201);
        }
        let login = client.post(format!("http://{address}/api/auth/login")).json(&account).send().await;
        let login = login.expect("login answers");
        assert_eq!(login.status(), 200);
        let cookie =
            login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
        let body: serde_json::Value = login.json().await.expect("login's JSON");
        let csrf = body["csrf_token"].as_str().expect("a csrf_token for cookie-authenticated writes").to_owned();
        Self { client, address: address.to_owned(), cookie, csrf }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("http://{}{path}", self.address))
            .header("cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// Where a story's server keeps its data.
enum Database {
    /// The embedded default: SQLite in the working folder.
    Embedded,
    /// A fresh PostgreSQL database of its own.
    Postgres(boardroom_memory::testing::TestPostgres),
}

impl Database {
    fn vars(&self) -> Vec<(&str, &str)> {
        let mut vars = vec![("DEMO_TENANT", "false")];
        if let Self::Postgres(database) = self {
            vars.extend([
                ("DATABASE_URL", database.url.as_str()),
                ("SECRET_KEY", "a-secret-key-of-at-least-32-characters-0123"),
            ]);
        }
        vars
    }

    async fn store(&self, folder: &Path) -> boardroom_memory::SharedStore {
        let url = match self {
            Self::Embedded => format!("sqlite://{}", folder.join("data/boardroom.db").display()),
            Self::Postgres(database) => database.url.clone(),
        };
        boardroom_memory::connect(&url).await.expect("database readable")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_live_business_killed_while_its_product_is_being_listed_resumes_without_a_second_listing() {
    a_live_business_killed_while_its_product_is_being_listed_resumes_without_a_second_listing(Database::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_live_business_killed_while_its_product_is_being_listed_resumes_without_a_second_listing() {
    let database = Database::Postgres(boardroom_memory::testing::fresh_postgres().await);
    a_live_business_killed_while_its_product_is_being_listed_resumes_without_a_second_listing(database).await;
}

async fn a_live_business_killed_while_its_product_is_being_listed_resumes_without_a_second_listing(database: Database) {
    // Arrange: a business live on a shop.
    let shop = ShopifyFake::start().await;
    let folder = fresh_folder();
    let vars = database.vars();
    let (mut first, address) = serve_with(&folder, &vars);
    let owner = Session::open(&address, true).await;
    let (status, business) = owner
        .send(
            reqwest::Method::POST,
            "/api/business/create",
            Some(json!({ "name": "Focus & Flow", "personality": "hustlebot" })),
        )
        .await;
    assert_eq!(status, 201, "{business}");
    let id = business["id"].as_i64().expect("business id");
    let connect = json!({ "business_id": id, "platform": "shopify", "store_url": shop.base_url(),
                          "credentials": { "access_token": TOKEN } });
    let (status, connected) = owner.send(reqwest::Method::POST, "/api/stores/connect", Some(connect)).await;
    assert_eq!(status, 201, "{connected}");
    let (status, live) =
        owner.send(reqwest::Method::PUT, &format!("/api/business/{id}"), Some(json!({ "market_mode": "live" }))).await;
    assert_eq!(status, 200, "{live}");

    // Act: the shop makes the product, and the process dies (kill -9) before the
    // answer reaches it.
    shop.fail_next(Some("productCreate"), 1, Fault::AnswerLate(Duration::from_secs(300)));
    let (status, _) = owner.send(reqwest::Method::POST, &format!("/api/live/{id}/run-cycle"), None).await;
    assert_eq!(status, 202);
    until(Duration::from_secs(60), "the shop receiving the listing", || async { shop.calls("productCreate") >= 1 })
        .await;
    first.kill().expect("kill -9");
    first.wait().expect("the killed server is reaped");
    assert_eq!(shop.products().len(), 1, "the shop made the product the dead process never heard about");

    // The next start runs the cycle again: it resumes at the listing.
    let (mut second, address) = serve_with(&folder, &vars);
    let owner = Session::open(&address, false).await;
    let (status, _) = owner.send(reqwest::Method::POST, &format!("/api/live/{id}/run-cycle"), None).await;
    assert_eq!(status, 202);
    until(Duration::from_secs(120), "the resumed cycle's report", || async {
        let (_, reports) = owner.send(reqwest::Method::GET, &format!("/api/business/{id}/reports?limit=1"), None).await;
        reports["items"].as_array().is_some_and(|items| !items.is_empty())
    })
    .await;
    sigterm(&second);
    assert_eq!(wait_for_exit(&mut second).code(), Some(0));

    // Assert: one product on the shop, one in the business, the cycle said it resumed.
    let listed = shop.products();
    assert_eq!(
        listed.len(),
        1,
        "listed once across the crash ({} productCreate calls received)",
        shop.calls("productCreate")
    );
    let store = database.store(&folder).await;
    let products = store.products(TenantId(id)).await.expect("products");
    assert_eq!(products.len(), 1, "{products:?}");
    assert_eq!(products[0].external_id.as_deref(), Some(listed[0].id.as_str()), "the row is the shop's product");
    let events = store.events_after(TenantId(id), 0, 10_000).await.expect("events");
    assert!(events.iter().any(|event| event.kind == "cycle.resumed"), "the second start resumed the cut cycle");
    assert!(events.iter().any(|event| event.kind == "ceo.report"), "and finished it");
}
