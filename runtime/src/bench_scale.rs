//! `boardroom bench --scale`: how many tenants and swarms one node holds, and what
//! the node still does meanwhile.
//!
//! The application is built and served in-process on SQLite, as `serve` runs it, and
//! a probe asks it for `/health` and for an owner's business (`GET /api/business/{id}`,
//! signed in) every 20 ms while the bench loads it:
//!
//! 1. **registration**: `--registered` tenants (default 1,000,000) written through the
//!    store as `boardroom tenant create` writes them, ten to an owner, eight writers at
//!    once; time and database size, on SQLite and (given `--postgres`) on PostgreSQL;
//! 2. **active swarms**: `--swarms` of them activated (default 250,000) from their
//!    rows, as API requests activate them; time per swarm, resident memory per swarm
//!    with its specialists asleep, then with every agent awake on a sample;
//! 3. **autopilot throughput**: `--cycling` of them on autopilot as fast as their
//!    throttle allows, on the offline brain and the sandbox market, for `--window-secs`;
//!    tenant-cycles and events per second;
//! 4. **passivation**: the bench lets go of every swarm (the autopilot's are
//!    passivated as switching it off does) and waits for the root's idle sweep to
//!    passivate the rest after their idle time-out; resident memory before and after.
//!
//! Until phase 4 the bench pins every swarm it activated, as a viewer or an autopilot
//! does, so that the sweep leaves them alone however long the phases take.
//!
//! The probe's latencies are printed after phases 2 and 3.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use boardroom_memory::{NewTenant, NewUser, Role, SharedStore, Tenant, Tier};
use boardroom_supervisor::TenantHandle;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::bench::{ScratchPostgres, resident_bytes};
use crate::bench_live::{account, request};
use crate::{Application, Settings};

/// What `--scale` loads the node with.
#[derive(Debug, Clone)]
pub(crate) struct ScaleOptions {
    /// Tenants registered on each backend.
    pub registered: usize,
    /// Of them, swarms activated at once.
    pub swarms: usize,
    /// Of them, tenants on autopilot for the throughput figure.
    pub cycling: usize,
    /// How long the autopilot figure is measured.
    pub window: Duration,
    /// A PostgreSQL server (admin URL) for the registration figure there.
    pub postgres: Option<String>,
}

/// Tenants per owner account.
const TENANTS_PER_OWNER: usize = 10;
/// Owners registered at once.
const WRITERS: usize = 8;
/// Swarms whose every agent is woken for the awake-memory figure.
const AWAKE_SAMPLE: usize = 10_000;
/// The swarms' idle time-out once the bench lets go of them.
const IDLE_SECS: u64 = 10;
/// Longest phase 4 waits for the sweep.
const SWEEP_WAIT: Duration = Duration::from_secs(600);
/// Time between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(20);

pub(crate) async fn run(options: ScaleOptions) -> anyhow::Result<()> {
    anyhow::ensure!(options.registered > 0, "--registered must be at least 1");
    anyhow::ensure!(options.swarms <= options.registered, "--swarms must not exceed --registered");
    anyhow::ensure!(options.cycling <= options.swarms, "--cycling must not exceed --swarms");
    anyhow::ensure!(!options.window.is_zero(), "--window-secs must be more than 0");
    println!(
        "boardroom bench --scale — {} worker threads; {} tenants registered, {} swarms active, {} on autopilot",
        tokio::runtime::Handle::current().metrics().num_workers(),
        options.registered,
        options.swarms,
        options.cycling
    );
    let folder = std::env::temp_dir().join(format!("boardroom-bench-scale-{}", uuid::Uuid::new_v4().simple()));
    let env: HashMap<String, String> = [
        ("BIND", "127.0.0.1:0".to_owned()),
        ("BOARDROOM_DATA_DIR", folder.display().to_string()),
        ("DEMO_TENANT", "false".to_owned()),
        ("LOG_LEVEL", "error".to_owned()),
        // The swarms are pinned until phase 4; then the sweep passivates them after this.
        ("SWARM_IDLE_TIMEOUT_SECS", IDLE_SECS.to_string()),
        // Woken agents stay awake for the awake figure.
        ("AGENT_IDLE_TIMEOUT_SECS", "86400".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let settings = Settings::load(&env).context("bench settings")?;
    let application = Application::build(settings).await?;
    let address = application.local_addr();
    let state = application.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    let result = phases(address, &state, &folder, &options).await;

    let _ = stop.send(());
    server.await.context("server task")??;
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn phases(
    address: SocketAddr,
    state: &crate::AppState,
    folder: &std::path::Path,
    options: &ScaleOptions,
) -> anyhow::Result<()> {
    let (user, cookie) = account(address, &state.store).await?;
    let business = state
        .store
        .create_tenant(NewTenant {
            user_id: user,
            name: "probe business".into(),
            domain: None,
            personality: "coachty".into(),
            settings: json!({}),
        })
        .await?;
    let probe_path = format!("/api/business/{}", business.id.0);

    println!("\n1. registration ({} tenants, {TENANTS_PER_OWNER} to an owner, {WRITERS} writers)", options.registered);
    let (rows, elapsed) = register(&state.store, options.registered, options.swarms, "sqlite").await?;
    let size = folder_bytes(folder);
    print_registration("sqlite", options.registered, elapsed, Some(size));
    match &options.postgres {
        Some(admin_url) => {
            let scratch = ScratchPostgres::create(admin_url).await?;
            let outcome = postgres_registration(&scratch.url, options.registered).await;
            scratch.drop_database().await;
            let (elapsed, size) = outcome?;
            print_registration("postgres", options.registered, elapsed, size);
        }
        None => println!("   postgres   skipped (pass --postgres or BENCH_POSTGRES_URL)"),
    }

    println!("\n2. active swarms ({} activated from their rows; the probe runs meanwhile)", rows.len());
    let probe = Probe::start(address, cookie.clone(), probe_path.clone());
    let rss_asleep_before = resident_bytes();
    let bar = progress_bar(rows.len() as u64, "activating {bar:40} {pos}/{len} swarms  {per_sec}");
    let started = Instant::now();
    let mut handles: Vec<TenantHandle> = Vec::with_capacity(rows.len());
    let mut pins = Vec::with_capacity(rows.len());
    for row in &rows {
        let handle = state.swarms.activate_row(row).await?;
        pins.push(handle.pin());
        handles.push(handle);
        bar.inc(1);
    }
    let activation = started.elapsed();
    bar.finish_and_clear();
    let rss_asleep = resident_bytes();
    let probed = probe.stop().await;
    anyhow::ensure!(
        state.swarms.active_tenants() >= rows.len(),
        "only {} swarms active",
        state.swarms.active_tenants()
    );
    let count = rows.len().max(1);
    println!("   activation  {:>12.1} µs per swarm from its row", activation.as_secs_f64() * 1e6 / count as f64);
    println!(
        "   memory      {} resident per active swarm, its specialists asleep",
        per_swarm(rss_asleep_before, rss_asleep, count)
    );
    probed.print("while activating");

    let sample = &handles[..handles.len().min(AWAKE_SAMPLE)];
    let names = state.swarms.agent_names();
    let bar = progress_bar(sample.len() as u64, "waking {bar:40} {pos}/{len} swarms");
    for handle in sample {
        for name in names.iter().skip(1) {
            handle.call(name, boardroom_agents::Task::bare("ping")).await?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let rss_awake = resident_bytes();
    if let (Some(before), Some(asleep), Some(awake)) = (rss_asleep_before, rss_asleep, rss_awake) {
        let asleep_each = asleep.saturating_sub(before) as f64 / count as f64;
        let woken_each = awake.saturating_sub(asleep) as f64 / sample.len().max(1) as f64;
        println!(
            "   memory      {:>12.1} KiB resident per active swarm, all {} agents awake (on {} of them)",
            (asleep_each + woken_each) / 1024.0,
            names.len(),
            sample.len()
        );
    }

    println!(
        "\n3. autopilot throughput ({} tenants cycling as fast as their throttle allows, offline brain, sandbox market, {:.0} s)",
        options.cycling,
        options.window.as_secs_f64()
    );
    let cycling = &handles[..options.cycling];
    if cycling.is_empty() {
        println!("   skipped (--cycling 0)");
    } else {
        autopilot(state, cycling, address, &cookie, &probe_path, options.window).await?;
    }

    println!(
        "\n4. passivation (the bench lets go of every swarm; the idle sweep passivates them after {IDLE_SECS} s idle)"
    );
    let count = handles.len();
    let cycling: Vec<_> = handles[..options.cycling].iter().map(TenantHandle::tenant).collect();
    drop((handles, pins, rows));
    // Autopilot swarms are never idle; their owner switching it off passivates them.
    for tenant in cycling {
        state.swarms.passivate(tenant).await;
    }
    let rss_active = resident_bytes();
    let bar = progress_bar(count as u64, "waiting for the sweep {bar:40} {pos}/{len} swarms passivated  {elapsed}");
    let started = Instant::now();
    let base = state.swarms.active_tenants().saturating_sub(count);
    while state.swarms.active_tenants() > base && started.elapsed() < SWEEP_WAIT {
        bar.set_position((count + base).saturating_sub(state.swarms.active_tenants()) as u64);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let swept = started.elapsed();
    bar.finish_and_clear();
    // The passivation events are written, the allocator given back the freed swarms.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_passivated = resident_bytes();
    let left = state.swarms.active_tenants().saturating_sub(base);
    println!(
        "   passivated  {:>12} swarms {:.1} s after the bench let go ({IDLE_SECS} s idle, then the sweep){}",
        count - left,
        swept.as_secs_f64(),
        if left > 0 { format!("; {left} still active") } else { String::new() }
    );
    match (rss_active, rss_passivated) {
        (Some(active), Some(passive)) => println!(
            "   memory      {:>12.1} MiB resident with them active, {:.1} MiB after ({:.1} KiB returned per swarm)",
            active as f64 / 1048576.0,
            passive as f64 / 1048576.0,
            active.saturating_sub(passive) as f64 / 1024.0 / count.max(1) as f64
        ),
        _ => println!("   memory      unavailable (no /proc/self/statm)"),
    }
    Ok(())
}

/// Registers `count` tenants and returns the rows of the first `keep` (in the order
/// they were written) and the time it took.
async fn register(
    store: &SharedStore,
    count: usize,
    keep: usize,
    backend: &str,
) -> anyhow::Result<(Vec<Tenant>, Duration)> {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let personalities = ["coachty", "hustlebot", "luxuryscaler"];
    let owners = count.div_ceil(TENANTS_PER_OWNER);
    let bar = progress_bar(
        count as u64,
        &format!("registering on {backend} {{bar:40}} {{pos}}/{{len}} tenants  {{per_sec}}"),
    );
    let started = Instant::now();
    let mut batches = futures::stream::iter(0..owners)
        .map(|owner| {
            let run = &run;
            let bar = &bar;
            async move {
                // Enterprise, so the autopilot figure measures the runtime, not a tier's limits.
                let user = store
                    .create_user(NewUser {
                        email: format!("scale-{run}-{owner}@localhost"),
                        password_hash: "!".into(),
                        role: Role::User,
                        tier: Tier::Enterprise,
                    })
                    .await?;
                let first = owner * TENANTS_PER_OWNER;
                let mut rows = Vec::with_capacity(TENANTS_PER_OWNER);
                for index in first..(first + TENANTS_PER_OWNER).min(count) {
                    let row = store
                        .create_tenant(NewTenant {
                            user_id: user.id,
                            name: format!("scale tenant {index}"),
                            domain: None,
                            personality: personalities[index % personalities.len()].into(),
                            settings: json!({}),
                        })
                        .await?;
                    bar.inc(1);
                    rows.push(row);
                }
                Ok::<_, boardroom_memory::MemoryError>(rows)
            }
        })
        .buffer_unordered(WRITERS);
    let mut kept = Vec::with_capacity(keep);
    while let Some(rows) = batches.next().await {
        for row in rows? {
            if kept.len() < keep {
                kept.push(row);
            }
        }
    }
    bar.finish_and_clear();
    Ok((kept, started.elapsed()))
}

async fn postgres_registration(url: &str, count: usize) -> anyhow::Result<(Duration, Option<u64>)> {
    let store = boardroom_memory::connect(url).await.context("scratch PostgreSQL database")?;
    let outcome = register(&store, count, 0, "postgres").await;
    store.close().await;
    let (_, elapsed) = outcome?;
    let size = match sqlx::PgPool::connect(url).await {
        Ok(pool) => {
            let size: Option<i64> =
                sqlx::query_scalar("select pg_database_size(current_database())").fetch_one(&pool).await.ok();
            pool.close().await;
            size.and_then(|bytes| u64::try_from(bytes).ok())
        }
        Err(_) => None,
    };
    Ok((elapsed, size))
}

fn print_registration(backend: &str, count: usize, elapsed: Duration, size: Option<u64>) {
    let size = size.map_or("size unknown".to_owned(), |bytes| {
        format!("{:.0} MiB on disk ({:.0} bytes a tenant)", bytes as f64 / 1048576.0, bytes as f64 / count as f64)
    });
    println!(
        "   {backend:<10} {:>8.1} s  {:>9.0} tenants/s  {size}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

/// Runs `cycling` swarms' autopilots back to back for `window` and prints the figures.
async fn autopilot(
    state: &crate::AppState,
    cycling: &[TenantHandle],
    address: SocketAddr,
    cookie: &str,
    probe_path: &str,
    window: Duration,
) -> anyhow::Result<()> {
    let seqs = |handles: &[TenantHandle]| {
        let tenants: Vec<_> = handles.iter().map(TenantHandle::tenant).collect();
        let store = state.store.clone();
        async move {
            let mut total = 0_i64;
            for tenant in tenants {
                total += store.last_event_seq(tenant).await?;
            }
            Ok::<_, boardroom_memory::MemoryError>(total)
        }
    };
    let cycles = |handles: &[TenantHandle]| handles.iter().map(|handle| handle.autopilot().cycles_run).sum::<u64>();
    for handle in cycling {
        // The shortest interval there is: the next cycle starts as soon as one ends.
        handle.start_autopilot(Duration::from_millis(1));
    }
    // A warm-up, so the window measures cycles in full flow, not their start.
    tokio::time::sleep(window.div_f64(6.0).min(Duration::from_secs(10))).await;
    let probe = Probe::start(address, cookie.to_owned(), probe_path.to_owned());
    let (cycles_before, events_before) = (cycles(cycling), seqs(cycling).await?);
    let bar = progress_bar(window.as_secs().max(1), "cycling {bar:40} {pos}/{len} s  {msg}");
    let started = Instant::now();
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(1).min(window.saturating_sub(started.elapsed()))).await;
        bar.set_position(started.elapsed().as_secs());
        bar.set_message(format!("{} cycles", cycles(cycling) - cycles_before));
    }
    let elapsed = started.elapsed();
    let (cycles_after, events_after) = (cycles(cycling), seqs(cycling).await?);
    bar.finish_and_clear();
    let probed = probe.stop().await;
    for handle in cycling {
        handle.pause_autopilot().await;
    }
    let seconds = elapsed.as_secs_f64();
    println!(
        "   cycles      {:>12.1} tenant-cycles/s ({} in {seconds:.1} s)",
        (cycles_after - cycles_before) as f64 / seconds,
        cycles_after - cycles_before
    );
    println!("   events      {:>12.0} events/s", (events_after - events_before) as f64 / seconds);
    probed.print("while cycling");
    Ok(())
}

/// Asks the server for `/health` and for a business every [`PROBE_EVERY`] until
/// stopped, each on a fresh connection, and keeps the times.
struct Probe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Probed>,
}

#[derive(Default)]
struct Probed {
    health_us: Vec<u64>,
    api_us: Vec<u64>,
    failures: usize,
}

impl Probe {
    fn start(address: SocketAddr, cookie: String, path: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut probed = Probed::default();
            let mut ticker = tokio::time::interval(PROBE_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stopping.load(Ordering::Relaxed) {
                ticker.tick().await;
                for (target, cookie, times) in [
                    ("/health", None, &mut probed.health_us),
                    (path.as_str(), Some(cookie.as_str()), &mut probed.api_us),
                ] {
                    let started = Instant::now();
                    match request(address, "GET", target, cookie, None).await {
                        Ok((200, _, _)) => times.push(started.elapsed().as_micros() as u64),
                        _ => probed.failures += 1,
                    }
                }
            }
            probed
        });
        Self { stop, task }
    }

    async fn stop(self) -> Probed {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

impl Probed {
    fn print(&self, during: &str) {
        for (what, times) in [("/health", &self.health_us), ("API request", &self.api_us)] {
            let mut sorted = times.clone();
            sorted.sort_unstable();
            let at = |quantile: f64| {
                let index = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
                sorted.get(index).map_or(f64::NAN, |us| *us as f64 / 1000.0)
            };
            println!(
                "   {what:<11} {:>8.2} ms p50, {:.2} ms p99, {:.2} ms max {during} ({} answers)",
                at(0.5),
                at(0.99),
                at(1.0),
                sorted.len()
            );
        }
        if self.failures > 0 {
            println!("   ! {} probes failed or were refused {during}", self.failures);
        }
    }
}

fn per_swarm(before: Option<u64>, after: Option<u64>, count: usize) -> String {
    match (before, after) {
        (Some(before), Some(after)) => {
            format!("{:>12.1} KiB", after.saturating_sub(before) as f64 / 1024.0 / count as f64)
        }
        _ => "unavailable (no /proc/self/statm)".to_owned(),
    }
}

/// The bytes of every file in `folder` (the SQLite database and its write-ahead log).
fn folder_bytes(folder: &std::path::Path) -> u64 {
    std::fs::read_dir(folder)
        .map(|entries| entries.flatten().filter_map(|entry| entry.metadata().ok()).map(|meta| meta.len()).sum())
        .unwrap_or(0)
}

fn progress_bar(length: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
