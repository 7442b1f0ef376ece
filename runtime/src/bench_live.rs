//! `boardroom bench --live`: the live view's figures on this machine.
//!
//! The application is built and served in-process on SQLite, exactly as `serve` runs it.
//! One account signs up and logs in over HTTP; its businesses are then watched through
//! `GET /api/live/{id}/events` by N plain TCP clients (the lightest client there is:
//! a task and a read buffer each). Events are appended to the event log as an agent
//! does, and each client notes when it reads each one off the socket:
//! **append → received** covers the log's batched write, the fan-out, the SSE
//! encoding, the socket and the client's read.
//!
//! Scenarios: 1, 100, 1,000 and 10,000 subscribers to one tenant, and 10,000 tenants with
//! one subscriber each. Memory is the process's resident set growth per open connection,
//! measured after every connection has received an event; client and server share the
//! process, so it is an upper bound of the server's share. Client and server also share
//! the open-files limit (two descriptors a connection), which the bench raises as far as
//! the system lets it.
//!
//! With `--postgres`, the same is measured **across nodes**: two nodes on one scratch
//! PostgreSQL database and one Redis (`BENCH_REDIS_URL`, the local one by default),
//! viewers connected to the first, events appended on the second, so each event goes
//! through the second node's log, Redis and the first node's relay (`http::live::relay`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use boardroom_memory::{NewEvent, NewTenant, SharedStore, TenantId, Tier, UserId};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::bench::resident_bytes;
use crate::{Application, Settings};

/// The largest scenario: subscribers to one tenant, and tenants watched once each.
const MOST_SUBSCRIBERS: usize = 10_000;
/// Events appended per scenario.
const EVENTS: u64 = 200;
/// Time between two appends: a busy swarm, not a flood (the log's throughput has its
/// own figure in `boardroom bench`).
const APPEND_EVERY: Duration = Duration::from_millis(10);
/// The password of the benchmark's account.
const PASSWORD: &str = "bench password 1234";

/// Runs the four scenarios and prints their figures; then, given a PostgreSQL server,
/// the scenarios across nodes.
pub(crate) async fn run(postgres: Option<&str>) -> anyhow::Result<()> {
    println!(
        "boardroom bench --live — {} worker threads; append → received over HTTP/SSE, in-process server on SQLite",
        tokio::runtime::Handle::current().metrics().num_workers()
    );
    let folder = std::env::temp_dir().join(format!("boardroom-bench-live-{}", uuid::Uuid::new_v4().simple()));
    let env: HashMap<String, String> = [
        ("BIND", "127.0.0.1:0".to_owned()),
        ("BOARDROOM_DATA_DIR", folder.display().to_string()),
        ("DEMO_TENANT", "false".to_owned()),
        ("LOG_LEVEL", "error".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let most_connections = raise_open_files_limit()?;
    let settings = Settings::load(&env).context("bench settings")?;
    let application = Application::build(settings).await?;
    let address = application.local_addr();
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    let result = scenarios(address, &state.store, &state.events, most_connections).await;

    let _ = stop.send(());
    server.await.context("server task")??;
    let _ = std::fs::remove_dir_all(&folder);
    result?;
    match postgres {
        Some(admin_url) => across_nodes(admin_url).await,
        None => {
            println!("\n  across nodes: skipped (pass --postgres or BENCH_POSTGRES_URL)");
            Ok(())
        }
    }
}

/// Viewers on one node, events appended on another: append → received through Redis.
async fn across_nodes(admin_url: &str) -> anyhow::Result<()> {
    const TENANTS: usize = 100;
    let redis_url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let scratch = crate::bench::ScratchPostgres::create(admin_url).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let folder = std::env::temp_dir().join(format!("boardroom-bench-live-nodes-{run}"));
    let node = |name: &str| -> HashMap<String, String> {
        [
            ("BIND", "127.0.0.1:0".to_owned()),
            ("BOARDROOM_DATA_DIR", folder.join(name).display().to_string()),
            ("DATABASE_URL", scratch.url.clone()),
            ("REDIS_URL", redis_url.clone()),
            ("REDIS_PREFIX", format!("boardroom-bench-{run}:")),
            ("SECRET_KEY", format!("bench-secret-key-{run}")),
            ("NODE_NAME", name.to_owned()),
            ("DEMO_TENANT", "false".to_owned()),
            ("LOG_LEVEL", "error".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    };
    let mut servers = Vec::new();
    let mut nodes = Vec::new();
    for name in ["bench-node-a", "bench-node-b"] {
        let settings = Settings::load(&node(name)).context("bench settings")?;
        let application = Application::build(settings).await?;
        nodes.push((application.local_addr(), application.state().clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        servers.push((
            stop,
            tokio::spawn(application.run_until(async {
                let _ = stopped.await;
            })),
        ));
    }
    let (viewed_at, viewing) = &nodes[0];
    let (_, writing) = &nodes[1];
    let result = async {
        let (user, cookie) = account(*viewed_at, &viewing.store).await?;
        let tenants = create_tenants(&viewing.store, user, TENANTS).await?;
        println!("\n  across nodes: viewers on one node, events appended on another (PostgreSQL, Redis pub/sub)");
        for subscribers in [1, TENANTS] {
            let figures = measure(*viewed_at, &cookie, &writing.events, &vec![tenants[0]; subscribers]).await?;
            figures.print(&format!("{subscribers} subscriber(s), one tenant"));
        }
        let figures = measure(*viewed_at, &cookie, &writing.events, &tenants).await?;
        figures.print(&format!("{TENANTS} tenants, one subscriber each"));
        anyhow::Ok(())
    }
    .await;
    for (stop, server) in servers {
        let _ = stop.send(());
        server.await.context("server task")??;
    }
    scratch.drop_database().await;
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn scenarios(
    address: SocketAddr,
    store: &SharedStore,
    events: &boardroom_memory::EventLog,
    most_connections: usize,
) -> anyhow::Result<()> {
    let (user, cookie) = account(address, store).await?;
    let tenants = create_tenants(store, user, MOST_SUBSCRIBERS).await?;
    println!(
        "\n  scenario                                            p50 ms    p99 ms    max ms       received   KiB/subscriber"
    );
    for wanted in [1, 100, 1_000, MOST_SUBSCRIBERS] {
        let subscribers = wanted.min(most_connections);
        let name = format!("{subscribers} subscriber(s), one tenant{}", fewer_note(wanted, subscribers));
        let watched = vec![tenants[0]; subscribers];
        let figures = measure(address, &cookie, events, &watched).await?;
        figures.print(&name);
    }
    for wanted in [1_000, MOST_SUBSCRIBERS] {
        let count = wanted.min(most_connections);
        let name = format!("{count} tenants, one subscriber each{}", fewer_note(wanted, count));
        let figures = measure(address, &cookie, events, &tenants[..count]).await?;
        figures.print(&name);
    }
    Ok(())
}

/// Marks a scenario cut short by the open-files limit.
fn fewer_note(wanted: usize, got: usize) -> &'static str {
    if got < wanted { " (open-files limit)" } else { "" }
}

/// Raises this process's open-files limit as far as the system allows (a privileged
/// process past its hard limit, up to the kernel's `nr_open`), and answers how many
/// connections fit: each takes a descriptor on the client's side and one on the
/// server's, and a few hundred are kept for the database, the log and the runtime.
fn raise_open_files_limit() -> anyhow::Result<usize> {
    const KEPT: u64 = 512;
    let wanted = 2 * MOST_SUBSCRIBERS as u64 + KEPT;
    let (_, hard) = rlimit::Resource::NOFILE.get().context("reading the open-files limit")?;
    if hard < wanted {
        // Only a privileged process may raise its hard limit; anyone else keeps theirs.
        let _ = rlimit::Resource::NOFILE.set(wanted, wanted);
    }
    let granted = rlimit::increase_nofile_limit(wanted).context("raising the open-files limit")?;
    Ok(usize::try_from(granted.saturating_sub(KEPT) / 2).unwrap_or(usize::MAX))
}

/// Signs up and logs in over HTTP; the account is made enterprise so a thousand stream
/// requests stay within its monthly API calls.
pub(crate) async fn account(address: SocketAddr, store: &SharedStore) -> anyhow::Result<(UserId, String)> {
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let credentials = json!({ "email": email, "password": PASSWORD }).to_string();
    let (status, _, body) = request(address, "POST", "/api/auth/signup", None, Some(&credentials)).await?;
    if status != 201 {
        bail!("sign-up answered {status}: {body}");
    }
    let (status, headers, body) = request(address, "POST", "/api/auth/login", None, Some(&credentials)).await?;
    if status != 200 {
        bail!("login answered {status}: {body}");
    }
    let cookie = headers
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.trim().split(';').next())
        .find(|pair| pair.starts_with("boardroom_session="))
        .context("login set no session cookie")?
        .to_owned();
    let user = store.user_by_email(&email).await?.context("the account")?;
    store.set_user_tier(user.id, Tier::Enterprise).await?;
    Ok((user.id, cookie))
}

async fn create_tenants(store: &SharedStore, owner: UserId, count: usize) -> anyhow::Result<Vec<TenantId>> {
    let mut tenants = Vec::with_capacity(count);
    for index in 0..count {
        let tenant = NewTenant {
            user_id: owner,
            name: format!("live bench {index}"),
            domain: None,
            personality: "coachty".into(),
            settings: json!({}),
        };
        tenants.push(store.create_tenant(tenant).await?.id);
    }
    Ok(tenants)
}

/// One scenario's results.
struct Figures {
    latencies_us: Vec<u64>,
    expected: u64,
    memory_per_subscriber: Option<f64>,
}

impl Figures {
    fn print(&self, name: &str) {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let at = |quantile: f64| {
            let index = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
            sorted.get(index).map_or(f64::NAN, |us| *us as f64 / 1000.0)
        };
        let memory = self.memory_per_subscriber.map_or("n/a".to_owned(), |kib| format!("{kib:.1}"));
        println!(
            "  {name:<50} {:>8.2}  {:>8.2}  {:>8.2}  {:>7}/{:<7}  {memory:>10}",
            at(0.50),
            at(0.99),
            at(1.0),
            sorted.len(),
            self.expected
        );
    }
}

/// Opens one stream per entry of `watched`, appends [`EVENTS`] events spread over the
/// watched tenants, and gathers every client's append → received times.
async fn measure(
    address: SocketAddr,
    cookie: &str,
    events: &boardroom_memory::EventLog,
    watched: &[TenantId],
) -> anyhow::Result<Figures> {
    let mut distinct: Vec<TenantId> = watched.to_vec();
    distinct.sort_unstable_by_key(|tenant| tenant.0);
    distinct.dedup();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    // When each event was appended, as microseconds since `epoch`; 0 until then.
    let epoch = Instant::now();
    let appended: Arc<Vec<AtomicU64>> = Arc::new((0..EVENTS).map(|_| AtomicU64::new(0)).collect());
    let (latency_sender, mut latencies) = mpsc::unbounded_channel::<u64>();
    let (ready_sender, mut ready) = mpsc::unbounded_channel::<()>();

    let rss_before = resident_bytes();
    let mut clients = Vec::with_capacity(watched.len());
    for tenant in watched {
        let path = format!("/api/live/{}/events", tenant.0);
        let mut stream = open_stream(address, &path, cookie).await?;
        let appended = appended.clone();
        let latencies = latency_sender.clone();
        let ready = ready_sender.clone();
        let marker = format!("\"bench:{run}:");
        let ready_marker = format!("ready:{run}");
        clients.push(tokio::spawn(async move {
            read_stream(&mut stream, &marker, &ready_marker, epoch, &appended, &latencies, &ready).await
        }));
    }
    drop(latency_sender);
    drop(ready_sender);

    // A warm-up event per tenant proves every connection is streaming before timing.
    for tenant in &distinct {
        events.append(NewEvent::now(*tenant, "bench", "bench.ready", format!("ready:{run}"))).await?;
    }
    for _ in 0..watched.len() {
        tokio::time::timeout(Duration::from_secs(60), ready.recv())
            .await
            .context("a subscriber never received the warm-up event")?;
    }
    let rss_open = resident_bytes();

    let mut expected = 0;
    let per_tenant: HashMap<TenantId, u64> = watched.iter().fold(HashMap::new(), |mut counts, tenant| {
        *counts.entry(*tenant).or_default() += 1;
        counts
    });
    let mut ticker = tokio::time::interval(APPEND_EVERY);
    for index in 0..EVENTS {
        ticker.tick().await;
        let tenant = distinct[index as usize % distinct.len()];
        expected += per_tenant.get(&tenant).copied().unwrap_or(0);
        appended[index as usize].store(epoch.elapsed().as_micros() as u64, Ordering::Release);
        let event = NewEvent::now(tenant, "bench", "bench.event", format!("bench:{run}:{index}"));
        events.append(event).await?;
    }

    let mut latencies_us = Vec::with_capacity(expected as usize);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while (latencies_us.len() as u64) < expected {
        match tokio::time::timeout_at(deadline, latencies.recv()).await {
            Ok(Some(latency)) => latencies_us.push(latency),
            Ok(None) | Err(_) => break,
        }
    }
    for client in clients {
        client.abort();
    }
    let memory_per_subscriber = match (rss_before, rss_open) {
        (Some(before), Some(open)) => Some(open.saturating_sub(before) as f64 / 1024.0 / watched.len() as f64),
        _ => None,
    };
    // Let the server notice the closed connections before the next scenario.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Figures { latencies_us, expected, memory_per_subscriber })
}

/// A raw HTTP/1.1 request on a fresh connection (`Connection: close`): status, header
/// block and body.
pub(crate) async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(address).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (headers, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = headers.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, headers.to_owned(), body.to_owned()))
}

/// Opens an event stream and reads past its response head.
async fn open_stream(address: SocketAddr, path: &str, cookie: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(address).await?;
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut received = Vec::new();
    let mut byte = [0_u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("the server closed the stream before answering");
        }
        received.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&received);
    if !head.starts_with("HTTP/1.1 200") {
        bail!("the stream was refused: {}", head.lines().next().unwrap_or_default());
    }
    Ok(stream)
}

/// Reads a stream's bytes, reporting the warm-up event once and each timed event's
/// append → received time. Each SSE event is one chunk of the response, so the event's
/// marker never straddles a chunk header; it may straddle two reads, hence the carry.
async fn read_stream(
    stream: &mut TcpStream,
    marker: &str,
    ready_marker: &str,
    epoch: Instant,
    appended: &[AtomicU64],
    latencies: &mpsc::UnboundedSender<u64>,
    ready: &mpsc::UnboundedSender<()>,
) {
    let mut buffer = vec![0_u8; 8 * 1024];
    let mut carry = String::new();
    let mut warmed_up = false;
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let received_at = epoch.elapsed().as_micros() as u64;
        carry.push_str(&String::from_utf8_lossy(&buffer[..read]));
        if !warmed_up && carry.contains(ready_marker) {
            warmed_up = true;
            let _ = ready.send(());
        }
        while let Some(start) = carry.find(marker) {
            let digits = &carry[start + marker.len()..];
            let Some(end) = digits.find('"') else { break };
            if let Ok(index) = digits[..end].parse::<usize>()
                && let Some(sent) = appended.get(index)
            {
                let _ = latencies.send(received_at.saturating_sub(sent.load(Ordering::Acquire)));
            }
            carry.drain(..start + marker.len() + end);
        }
        // Keep only a tail that could hold the start of a marker cut by this read.
        if carry.len() > 4 * 1024 {
            let keep = carry.len() - 256;
            let cut = (keep..carry.len()).find(|&i| carry.is_char_boundary(i)).unwrap_or(carry.len());
            carry.drain(..cut);
        }
    }
}
