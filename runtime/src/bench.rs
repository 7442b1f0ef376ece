//! `boardroom bench`: the runtime's figures on this machine.
//!
//! 1. agent `call` round trips through the swarm (throttle gate, permit, actor, reply)
//!    against a raw tokio mpsc + oneshot round trip, measured in the same run;
//!    1b. with `--callers` (1,000) concurrent callers, each into its own swarm, on the
//!    multi-threaded runtime, against raw tokio actors and bare ractor actors;
//! 2. fire-and-forget agent messages per second;
//! 3. time to activate a tenant swarm (its supervisor and CEO; the specialists sleep
//!    until first asked) and resident memory per swarm, over many tenants, then the
//!    memory of the same swarms with every agent awake;
//! 4. event appends per second through the batched event log, on SQLite and (given a
//!    server) PostgreSQL, as an API request's (unfenced) and as a swarm's in a cluster
//!    (fenced: each batch checks its tenants' lease epochs in its transaction).
//!
//! Everything runs on scratch databases that are removed afterwards.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use boardroom_agents::{Agent, AgentContext, AgentError, AgentRegistry, Task};
use boardroom_memory::{EventLog, EventLogConfig, NewEvent, NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use boardroom_supervisor::{LeaseConfig, SupervisorConfig, SwarmRoot, ThrottleLimits};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// Options of `boardroom bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Tenants to activate for the activation and memory figure.
    #[arg(long, default_value_t = 10_000)]
    pub tenants: usize,
    /// Sequential round trips to time for the call figure.
    #[arg(long, default_value_t = 200_000)]
    pub calls: usize,
    /// Fire-and-forget messages to time.
    #[arg(long, default_value_t = 2_000_000)]
    pub casts: usize,
    /// Events to append per backend.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Most events the event log writes in one transaction (its `max_batch`).
    #[arg(long, default_value_t = EventLogConfig::default().max_batch)]
    pub event_batch: usize,
    /// A PostgreSQL server for the event figure, as an admin URL
    /// (e.g. postgres://postgres@127.0.0.1:5432/postgres); a scratch database is
    /// created there and dropped afterwards. Without it the PostgreSQL figure is skipped.
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Instead of the runtime figures, measure decision quality: every personality
    /// against two baselines over simulated days on the sandbox market.
    #[arg(long)]
    pub simulate: bool,
    /// Instead of the runtime figures, measure the live view: event-to-subscriber
    /// latency over HTTP/SSE with 1, 100 and 1,000 subscribers, and memory per
    /// subscriber (see `bench_live`).
    #[arg(long, conflicts_with = "simulate")]
    pub live: bool,
    /// Instead of the runtime figures, run a fault-injection drill: `--tenants` tenants
    /// on autopilot, the even-numbered ones' agents panicking at `--rate` per message,
    /// then audit every tenant (see `bench_chaos`). SQLite in a temporary file, or a
    /// scratch database on `--postgres`.
    #[arg(long, conflicts_with_all = ["simulate", "live"])]
    pub chaos: bool,
    /// Instead of the runtime figures, measure platform calls: the guarded path's
    /// overhead against a direct call, and calls per second for one tenant under each
    /// tier's limit of platform calls in flight (see `bench_adapters`).
    #[arg(long, conflicts_with_all = ["simulate", "live", "chaos"])]
    pub adapters: bool,
    /// Instead of the runtime figures, load one node (see `bench_scale`): register
    /// `--registered` tenants (on SQLite, and on `--postgres` when given), activate
    /// `--swarms` of them, run `--cycling` on autopilot for `--window-secs`, then
    /// passivate them all, with `/health` and an API request probed meanwhile.
    #[arg(long, conflicts_with_all = ["simulate", "live", "chaos", "adapters"])]
    pub scale: bool,
    /// Instead of the runtime figures, measure media made offline: covers and social
    /// cards drawn per second on one thread and on every core (see `bench_media`).
    #[arg(long, conflicts_with_all = ["simulate", "live", "chaos", "adapters", "scale"])]
    pub media: bool,
    /// Tenants registered for `--scale`.
    #[arg(long, default_value_t = 1_000_000)]
    pub registered: usize,
    /// Swarms activated at once for `--scale`.
    #[arg(long, default_value_t = 250_000)]
    pub swarms: usize,
    /// Tenants on autopilot for `--scale`'s throughput figure.
    #[arg(long, default_value_t = 1_000)]
    pub cycling: usize,
    /// Seconds `--scale` measures the autopilot's throughput.
    #[arg(long, default_value_t = 30)]
    pub window_secs: u64,
    /// Concurrent callers (each into its own swarm) for the many-callers figure.
    #[arg(long, default_value_t = 1_000)]
    pub callers: usize,
    /// Minutes the `--chaos` drill runs its cycles.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Probability that an agent of a panicking tenant panics on a message (`--chaos`).
    #[arg(long, default_value_t = 0.01)]
    pub rate: f64,
    /// Seconds between a tenant's autopilot cycles in `--chaos` (default: the tenants
    /// spread so that about 20 cycles start each second).
    #[arg(long)]
    pub interval_secs: Option<f64>,
    /// Simulated days for `--simulate`; several, comma-separated, give a table each
    /// (e.g. `--days 90,365`).
    #[arg(long, value_delimiter = ',', default_values_t = [90u32], value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub days: Vec<u32>,
    /// Seeds `--simulate` draws from `--seed` (each a world every policy plays).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub seeds: u64,
    /// Sandbox seed for `--chaos` (also the seed of the panics), and what `--simulate`
    /// draws its seeds from.
    #[arg(long, default_value_t = boardroom_supervisor::DEFAULT_SANDBOX_SEED)]
    pub seed: u64,
}

/// Answers every task at once and counts them: the cheapest possible agent, so the
/// figures measure the runtime and not the agent.
struct Echo {
    handled: Arc<AtomicU64>,
}

#[async_trait]
impl Agent for Echo {
    async fn handle(&mut self, _context: &AgentContext, _task: Task) -> Result<Value, AgentError> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        Ok(Value::Null)
    }
}

/// Runs every benchmark and prints the figures.
pub(crate) async fn run(options: BenchOptions) -> anyhow::Result<()> {
    if options.simulate {
        return crate::simulate::run(crate::simulate::SimulateOptions {
            days: options.days,
            seeds: options.seeds as usize,
            seed: options.seed,
        })
        .await;
    }
    if options.live {
        return crate::bench_live::run(options.postgres.as_deref()).await;
    }
    if options.adapters {
        return crate::bench_adapters::run().await;
    }
    if options.media {
        return crate::bench_media::run().await;
    }
    if options.scale {
        return crate::bench_scale::run(crate::bench_scale::ScaleOptions {
            registered: options.registered,
            swarms: options.swarms,
            cycling: options.cycling,
            window: Duration::from_secs(options.window_secs),
            postgres: options.postgres,
        })
        .await;
    }
    if options.chaos {
        anyhow::ensure!(options.minutes > 0.0, "--minutes must be more than 0");
        let interval = match options.interval_secs {
            Some(secs) if secs > 0.0 => Some(Duration::from_secs_f64(secs)),
            Some(_) => anyhow::bail!("--interval-secs must be more than 0"),
            None => None,
        };
        return crate::bench_chaos::run(crate::bench_chaos::ChaosDrill {
            tenants: options.tenants,
            duration: Duration::from_secs_f64(options.minutes * 60.0),
            panic_rate: options.rate,
            seed: options.seed,
            interval,
            postgres: options.postgres,
            progress: true,
        })
        .await;
    }
    println!("boardroom bench — {} worker threads", tokio::runtime::Handle::current().metrics().num_workers());
    let scratch = ScratchSqlite::new();
    let store = boardroom_memory::connect(&scratch.url).await.context("scratch SQLite database")?;

    println!("\n== on the multi-threaded runtime (as `boardroom serve` runs) ==");
    messaging(&store, &options).await?;
    many_callers(&store, &options).await?;
    // The same on one thread: no cross-thread wake-ups, so this isolates the CPU cost
    // of a message and is steadier on a noisy machine.
    println!("\n== on a single-threaded runtime ==");
    let single = {
        let store = store.clone();
        let options = BenchOptions { postgres: None, ..options.clone() };
        std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(messaging(&store, &options))
        })
    };
    single.join().map_err(|_| anyhow::anyhow!("single-threaded benchmark panicked"))??;
    activation(&store, options.tenants).await?;

    println!("\n4. event appends (batched event log, 8 concurrent appenders, 10 tenants)");
    for fenced in [false, true] {
        let rate = event_appends(store.clone(), options.events, options.event_batch, fenced).await?;
        println!("   sqlite     {:>12.0} appends/s  {}", rate, fence_label(fenced));
    }
    store.close().await;
    match &options.postgres {
        Some(admin_url) => {
            let scratch = ScratchPostgres::create(admin_url).await?;
            let store = boardroom_memory::connect(&scratch.url).await.context("scratch PostgreSQL database")?;
            let mut rates = Vec::new();
            for fenced in [false, true] {
                rates.push((fenced, event_appends(store.clone(), options.events, options.event_batch, fenced).await));
            }
            store.close().await;
            scratch.drop_database().await;
            for (fenced, rate) in rates {
                println!("   postgres   {:>12.0} appends/s  {}", rate?, fence_label(fenced));
            }
        }
        None => println!("   postgres   skipped (pass --postgres or BENCH_POSTGRES_URL)"),
    }
    Ok(())
}

async fn messaging(store: &SharedStore, options: &BenchOptions) -> anyhow::Result<()> {
    let handled = Arc::new(AtomicU64::new(0));
    let counter = handled.clone();
    let registry = AgentRegistry::empty().with("echo", move || Box::new(Echo { handled: counter.clone() }));
    // A real, finite limit, so every message pays for the GCRA check it would in
    // production; high enough never to hold the benchmark back.
    let limits = ThrottleLimits {
        messages_per_minute: NonZeroU32::new(u32::MAX),
        burst: NonZeroU32::new(u32::MAX),
        ..ThrottleLimits::default()
    };
    let config = SupervisorConfig { default_limits: limits, ..SupervisorConfig::default() };
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let root = SwarmRoot::start(store.clone(), events.clone(), registry, config).await?;
    let tenant = create_tenants(store, 1).await?[0];
    let echo = root.activate(tenant).await?.agent("echo")?;
    let raw = RawActor::spawn();

    println!("\n1. call round trips (one caller, sequential)");
    for _ in 0..10_000 {
        echo.call(Task::bare("echo")).await?;
        raw.call(Task::bare("ping")).await?;
    }
    // Interleaved rounds, median of each: both paths see the same machine state, and
    // one unlucky scheduling burst cannot decide the ratio.
    let rounds = 7;
    let per_round = (options.calls / rounds).max(1);
    let mut swarm_rates = Vec::with_capacity(rounds);
    let mut raw_rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        swarm_rates.push(timed(per_round, || async { echo.call(Task::bare("echo")).await.map(drop) }).await?);
        raw_rates.push(timed(per_round, || async { raw.call(Task::bare("ping")).await.map(drop) }).await?);
    }
    let (swarm_rate, raw_rate) = (median(swarm_rates), median(raw_rates));
    println!("   swarm call  {:>12.0} calls/s  ({:.2} µs each)", swarm_rate, 1e6 / swarm_rate);
    println!("   raw tokio   {:>12.0} calls/s  ({:.2} µs each)", raw_rate, 1e6 / raw_rate);
    println!(
        "   ratio       {:>12.2}× the raw round-trip time (median of {rounds} interleaved rounds)",
        raw_rate / swarm_rate
    );

    println!("\n2. fire-and-forget messages (one sender, one agent, 64 in-flight permits)");
    let before = handled.load(Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..options.casts {
        echo.cast(Task::bare("echo")).await?;
    }
    // Mailboxes are FIFO: when this call returns, every cast before it was handled.
    echo.call(Task::bare("echo")).await?;
    let elapsed = started.elapsed();
    let delivered = handled.load(Ordering::Relaxed) - before - 1;
    anyhow::ensure!(delivered == options.casts as u64, "{delivered} of {} casts handled", options.casts);
    println!("   swarm cast  {:>12.0} messages/s", options.casts as f64 / elapsed.as_secs_f64());
    let started = Instant::now();
    for _ in 0..options.casts {
        raw.cast(Task::bare("ping")).await?;
    }
    raw.call(Task::bare("ping")).await?;
    println!("   raw tokio   {:>12.0} messages/s", options.casts as f64 / started.elapsed().as_secs_f64());

    root.shutdown().await;
    events.close().await;
    Ok(())
}

/// `callers` tasks, each calling the echo agent of its own swarm in a loop, on the
/// multi-threaded runtime; against the same number of raw tokio actors and of bare
/// ractor actors (no throttle, no permit, no supervision), in interleaved rounds.
async fn many_callers(store: &SharedStore, options: &BenchOptions) -> anyhow::Result<()> {
    let callers = options.callers.max(1);
    // Enough calls that a round lasts long enough to time, whatever the caller count.
    let per_caller = (options.calls / callers).max(50);
    println!("\n1b. call round trips ({callers} concurrent callers, each into its own swarm, {per_caller} calls each)");
    let registry = AgentRegistry::empty().with("echo", || Box::new(Echo { handled: Arc::new(AtomicU64::new(0)) }));
    let limits = ThrottleLimits {
        messages_per_minute: NonZeroU32::new(u32::MAX),
        burst: NonZeroU32::new(u32::MAX),
        ..ThrottleLimits::default()
    };
    let config = SupervisorConfig { default_limits: limits, ..SupervisorConfig::default() };
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let root = SwarmRoot::start(store.clone(), events.clone(), registry, config).await?;
    let mut swarm_agents = Vec::with_capacity(callers);
    for tenant in create_tenants(store, callers).await? {
        swarm_agents.push(Arc::new(root.activate(tenant).await?.agent("echo")?));
    }
    let raw_actors: Vec<Arc<RawActor>> = (0..callers).map(|_| Arc::new(RawActor::spawn())).collect();
    let mut ractor_actors = Vec::with_capacity(callers);
    for _ in 0..callers {
        let (actor, _) = ractor::Actor::spawn(None, BareRactor, ()).await.context("spawning a bare ractor actor")?;
        ractor_actors.push(Arc::new(actor));
    }

    let rounds = 5;
    let (mut swarm_rates, mut raw_rates, mut ractor_rates) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        let swarm =
            all_calling(
                &swarm_agents,
                per_caller,
                |agent| async move { agent.call(Task::bare("echo")).await.map(drop) },
            )
            .await?;
        let raw =
            all_calling(&raw_actors, per_caller, |actor| async move { actor.call(Task::bare("ping")).await.map(drop) })
                .await?;
        let bare = all_calling(&ractor_actors, per_caller, |actor: Arc<ractor::ActorRef<BareCall>>| async move {
            let (reply, answer) = oneshot::channel();
            actor.send_message(BareCall(reply)).map_err(|_| AgentError::Unavailable("ractor actor gone".into()))?;
            answer.await.map_err(|_| AgentError::Unavailable("ractor actor gone".into()))
        })
        .await?;
        // Round 0 warms every path up.
        if round > 0 {
            swarm_rates.push(swarm);
            raw_rates.push(raw);
            ractor_rates.push(bare);
        }
    }
    let (swarm, raw, bare) = (median(swarm_rates), median(raw_rates), median(ractor_rates));
    println!("   swarm call  {:>12.0} calls/s", swarm);
    println!("   bare ractor {:>12.0} calls/s", bare);
    println!("   raw tokio   {:>12.0} calls/s", raw);
    println!(
        "   ratio       {:>12.2}× bare ractor's throughput, {:.2}× raw tokio's (median of {rounds} interleaved rounds)",
        swarm / bare,
        swarm / raw
    );
    for actor in ractor_actors {
        actor.stop(None);
    }
    root.shutdown().await;
    events.close().await;
    Ok(())
}

/// Runs `per_caller` calls from one task per target at once; calls per second.
async fn all_calling<T, F, Fut>(targets: &[Arc<T>], per_caller: usize, call: F) -> anyhow::Result<f64>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), AgentError>> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        let (target, call) = (target.clone(), call.clone());
        tasks.spawn(async move {
            for _ in 0..per_caller {
                call(target.clone()).await?;
            }
            Ok::<_, AgentError>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok((targets.len() * per_caller) as f64 / started.elapsed().as_secs_f64())
}

/// The least a ractor actor can be: answers each call on its oneshot, nothing else.
struct BareRactor;

struct BareCall(oneshot::Sender<()>);

impl ractor::Actor for BareRactor {
    type Msg = BareCall;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ractor::ActorRef<Self::Msg>,
        _arguments: (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ractor::ActorRef<Self::Msg>,
        BareCall(reply): Self::Msg,
        _state: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        let _ = reply.send(());
        Ok(())
    }
}

async fn activation(store: &SharedStore, count: usize) -> anyhow::Result<()> {
    let agents = AgentRegistry::standard().len();
    println!(
        "\n3. tenant swarm activation ({count} tenants; a swarm supervisor and the CEO each, {} specialists asleep)",
        agents - 1
    );
    let tenants = create_tenants(store, count).await?;
    // The lookup an activation by id starts with, timed on its own; the API's requests
    // have read the row already and hand it over (`activate_row`), as here.
    let started = Instant::now();
    let mut rows = Vec::with_capacity(count);
    for tenant in &tenants {
        rows.push(store.tenant(*tenant).await?.context("tenant vanished")?);
    }
    let lookup = started.elapsed();
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let root =
        SwarmRoot::start(store.clone(), events.clone(), AgentRegistry::standard(), SupervisorConfig::default()).await?;
    let rss_before = resident_bytes();
    let started = Instant::now();
    let mut handles = Vec::with_capacity(count);
    for row in &rows {
        handles.push(root.activate_row(row).await?);
    }
    let elapsed = started.elapsed();
    let rss_after = resident_bytes();
    anyhow::ensure!(root.active_tenants() == count, "only {} swarms active", root.active_tenants());
    let answered = handles.last().context("no tenants")?.call("pricing", Task::bare("ping")).await?;
    anyhow::ensure!(answered == json!({"agent": "pricing", "pong": true}), "unexpected answer {answered}");
    let per_swarm = |duration: Duration| duration.as_secs_f64() * 1e6 / count as f64;
    println!(
        "   activation  {:>12.1} µs per swarm from its row (by id, add the lookup: {:.1} µs in SQLite)",
        per_swarm(elapsed),
        per_swarm(lookup)
    );
    let per_swarm_kib = |after: Option<u64>| match (rss_before, after) {
        (Some(before), Some(after)) => {
            format!("{:>12.1} KiB", after.saturating_sub(before) as f64 / 1024.0 / count as f64)
        }
        _ => "unavailable (no /proc/self/statm)".to_owned(),
    };
    println!("   memory      {} resident per active swarm, its specialists asleep", per_swarm_kib(rss_after));
    // Every agent of every swarm woken by a message: the swarm as the design drew it.
    let names = root.agent_names();
    let started = Instant::now();
    for handle in &handles {
        for name in names.iter().skip(1) {
            handle.call(name, Task::bare("ping")).await?;
        }
    }
    let waking = started.elapsed();
    println!(
        "   memory      {} resident per active swarm, all {agents} agents awake ({:.1} µs per first message to a \
         sleeping agent, its spawn included)",
        per_swarm_kib(resident_bytes()),
        waking.as_secs_f64() * 1e6 / (count * (names.len() - 1)).max(1) as f64
    );
    drop(handles);
    let stopping = Instant::now();
    root.shutdown().await;
    events.close().await;
    println!(
        "   shutdown    {:>12.1} ms to stop all swarms and flush their events",
        stopping.elapsed().as_secs_f64() * 1e3
    );
    // The same swarms activated as a cluster node activates them: each one's lease
    // claimed in the database first.
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let leased = SupervisorConfig {
        leases: Some(LeaseConfig { node: "bench".into(), ttl: Duration::from_secs(3_600) }),
        ..SupervisorConfig::default()
    };
    let root = SwarmRoot::start(store.clone(), events.clone(), AgentRegistry::standard(), leased).await?;
    let started = Instant::now();
    for row in &rows {
        drop(root.activate_row(row).await?);
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(root.active_tenants() == count, "only {} leased swarms active", root.active_tenants());
    println!(
        "   leased      {:>12.1} µs per swarm from its row, its lease claimed first (a cluster node)",
        per_swarm(elapsed)
    );
    root.shutdown().await;
    events.close().await;
    Ok(())
}

fn fence_label(fenced: bool) -> &'static str {
    if fenced { "fenced (a swarm's, in a cluster)" } else { "unfenced" }
}

/// Appends per second; `fenced`: the tenants' leases are held and every event carries
/// the epoch, as a swarm's do in a cluster.
async fn event_appends(store: SharedStore, count: usize, max_batch: usize, fenced: bool) -> anyhow::Result<f64> {
    anyhow::ensure!(max_batch > 0, "--event-batch must be at least 1");
    let tenants = create_tenants(&store, 10).await?;
    let events = EventLog::start(store.clone(), EventLogConfig { max_batch, ..EventLogConfig::default() });
    if fenced {
        for &tenant in &tenants {
            match store.claim_lease(tenant, "bench", 3_600_000).await? {
                boardroom_memory::LeaseClaim::Granted(lease) => events.fence(tenant, lease.epoch),
                boardroom_memory::LeaseClaim::HeldElsewhere(holder) => {
                    anyhow::bail!("tenant {tenant} is held by {}", holder.node)
                }
            }
        }
    }
    let appenders = 8;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for appender in 0..appenders {
        let events = events.clone();
        let tenants = tenants.clone();
        tasks.spawn(async move {
            for i in 0..count / appenders {
                let tenant = tenants[(appender + i) % tenants.len()];
                let event = NewEvent::now(tenant, "bench", "bench.tick", "tick").with_data(json!({ "i": i }));
                events.append(event).await?;
            }
            Ok::<_, boardroom_memory::MemoryError>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    events.close().await;
    let elapsed = started.elapsed();
    let stored: i64 = {
        let mut total = 0;
        for tenant in &tenants {
            total += store.last_event_seq(*tenant).await?;
        }
        total
    };
    let expected = (count / appenders * appenders) as i64;
    anyhow::ensure!(stored == expected, "{stored} of {expected} events stored");
    Ok(expected as f64 / elapsed.as_secs_f64())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn timed<F, Fut>(count: usize, mut operation: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AgentError>>,
{
    let started = Instant::now();
    for _ in 0..count {
        operation().await?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub(crate) async fn create_tenants(store: &SharedStore, count: usize) -> anyhow::Result<Vec<TenantId>> {
    let email = format!("bench-{}@localhost", uuid::Uuid::new_v4().simple());
    let owner =
        store.create_user(NewUser { email, password_hash: "!".into(), role: Role::User, tier: Tier::Free }).await?;
    let mut tenants = Vec::with_capacity(count);
    for index in 0..count {
        let tenant = store
            .create_tenant(NewTenant {
                user_id: owner.id,
                name: format!("bench tenant {index}"),
                domain: None,
                personality: "coachty".into(),
                settings: json!({}),
            })
            .await?;
        tenants.push(tenant.id);
    }
    Ok(tenants)
}

type RawRequest = (Task, Option<oneshot::Sender<Result<Value, AgentError>>>);

/// The baseline: a tokio task with a bounded mpsc mailbox and oneshot replies, the
/// leanest actor one can write by hand.
struct RawActor {
    mailbox: mpsc::Sender<RawRequest>,
}

impl RawActor {
    fn spawn() -> Self {
        let (mailbox, mut receiver) = mpsc::channel::<RawRequest>(64);
        tokio::spawn(async move {
            while let Some((_task, reply)) = receiver.recv().await {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(Value::Null));
                }
            }
        });
        Self { mailbox }
    }

    async fn call(&self, task: Task) -> Result<Value, AgentError> {
        let (reply, answer) = oneshot::channel();
        self.mailbox.send((task, Some(reply))).await.map_err(|_| AgentError::Unavailable("raw actor gone".into()))?;
        answer.await.map_err(|_| AgentError::Unavailable("raw actor gone".into()))?
    }

    async fn cast(&self, task: Task) -> Result<(), AgentError> {
        self.mailbox.send((task, None)).await.map_err(|_| AgentError::Unavailable("raw actor gone".into()))
    }
}

/// The process's resident memory, from `/proc/self/statm`.
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A SQLite file in the temp folder, removed on drop.
pub(crate) struct ScratchSqlite {
    path: std::path::PathBuf,
    pub(crate) url: String,
}

impl ScratchSqlite {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("boardroom-bench-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        Self { path, url }
    }
}

impl Drop for ScratchSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// A database created on a PostgreSQL server for one run.
pub(crate) struct ScratchPostgres {
    admin: sqlx::PgPool,
    name: String,
    pub(crate) url: String,
}

impl ScratchPostgres {
    pub(crate) async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let admin = tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(admin_url))
            .await
            .map_err(|_| anyhow::anyhow!("timed out connecting to PostgreSQL"))?
            .with_context(|| format!("cannot connect to PostgreSQL at {}", crate::app::redact(admin_url)))?;
        let name = format!("boardroom_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
        // The scratch database is reached as the admin one is, its options (`?sslmode=…`) kept.
        let (address, options) =
            admin_url.split_once('?').map_or((admin_url, None), |(address, options)| (address, Some(options)));
        let base = address.rsplit_once('/').map_or(address, |(base, _)| base);
        let url = match options {
            Some(options) => format!("{base}/{name}?{options}"),
            None => format!("{base}/{name}"),
        };
        Ok(Self { admin, url, name })
    }

    pub(crate) async fn drop_database(self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&self.admin).await {
            eprintln!("could not drop scratch database {}: {error}", self.name);
        }
        self.admin.close().await;
    }
}
