//! Crash consistency: a `boardroom serve` child process is killed with SIGKILL at
//! random (seeded) moments while several tenants' autopilots run their cycles, and
//! restarted each time; after a last clean run that lets the interrupted cycles finish,
//! every tenant's database must tell one consistent story: a gap-free event log, an
//! event for every committed step, nothing started, recorded, listed, launched,
//! published or booked twice, and every interrupted cycle completed.
//!
//! Runs on a SQLite file and on a fresh PostgreSQL database.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use boardroom_memory::testing::fresh_postgres;
use boardroom_memory::{SharedStore, TenantId};
use boardroom_runtime::audit_tenant;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The binary under test: this build's, or the one `BOARDROOM_BINARY` names (e.g. a
/// release build).
fn binary() -> PathBuf {
    std::env::var_os("BOARDROOM_BINARY").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_boardroom")), PathBuf::from)
}

/// Tenants on autopilot.
const TENANTS: i64 = 6;
/// SIGKILLs per backend.
const KILLS: usize = 30;
/// Seed of the moments the process is killed.
const SEED: u64 = 2026;
/// How long after the server says it is serving a kill may come. Start-up runs every
/// tenant's cycle at once (the interrupted one resumes, or the next begins) and a cycle
/// takes a few hundred milliseconds, so this spreads the kills over the cycles' steps
/// (and, now and then, just after one ends).
const KILL_WITHIN: std::ops::Range<f64> = 0.0..0.8;

/// A `boardroom` process's environment: the database, no demo tenant, quiet logs.
struct Deployment {
    folder: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Deployment {
    fn new(database_url: Option<&str>) -> Self {
        let folder = std::env::temp_dir().join(format!("boardroom-crash-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&folder).expect("temp folder");
        let mut env = vec![
            ("BIND", "127.0.0.1:0".to_owned()),
            ("DEMO_TENANT", "false".to_owned()),
            ("LOG_LEVEL", "info".to_owned()),
            ("OPEN_BROWSER", "false".to_owned()),
        ];
        if let Some(url) = database_url {
            env.push(("DATABASE_URL", url.to_owned()));
            env.push(("SECRET_KEY", "crash-test-secret-key-0123456789abcdef0123".to_owned()));
        }
        Self { folder, env }
    }

    fn database_url(&self) -> String {
        self.env
            .iter()
            .find(|(name, _)| *name == "DATABASE_URL")
            .map(|(_, url)| url.clone())
            .unwrap_or_else(|| format!("sqlite://{}", self.folder.join("data/boardroom.db").display()))
    }

    fn boardroom(&self) -> Command {
        let mut command = Command::new(binary());
        command.current_dir(&self.folder).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn create_tenant(&self, name: &str) {
        let output = self
            .boardroom()
            .args(["tenant", "create", "--name", name, "--autopilot"])
            .output()
            .expect("tenant create runs");
        assert!(output.status.success(), "tenant create: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Starts `serve` and waits until it says it is serving (start-up done: the
    /// autopilot tenants' swarms run and their cycles have begun).
    fn serve(&self) -> Child {
        let mut child =
            self.boardroom().stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("boardroom starts");
        let stderr = child.stderr.take().expect("stderr");
        let (ready, serving) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("boardroom is serving") {
                    let _ = ready.send(());
                }
            }
        });
        serving.recv_timeout(Duration::from_secs(60)).expect("boardroom serves within 60 s");
        child
    }
}

fn kill_9(child: &mut Child) {
    child.kill().expect("SIGKILL sent");
    child.wait().expect("killed child reaped");
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("boardroom did not exit within 60 s of SIGTERM");
}

/// Each tenant's checkpoint: `(cycle, next step)`.
async fn checkpoints(store: &SharedStore) -> BTreeMap<i64, (i64, String)> {
    let mut found = BTreeMap::new();
    for tenant in 1..=TENANTS {
        if let Some(checkpoint) = store.checkpoint(TenantId(tenant)).await.expect("checkpoint readable") {
            found.insert(tenant, (checkpoint.cycle, checkpoint.step));
        }
    }
    found
}

async fn kill_nine_times_over_and_check_the_books(deployment: Deployment) {
    for n in 1..=TENANTS {
        deployment.create_tenant(&format!("Crash {n}"));
    }
    let store = boardroom_memory::connect(&deployment.database_url()).await.expect("database opens");
    let mut rng = StdRng::seed_from_u64(SEED);
    // Cycles a kill interrupted, per tenant: each must be completed by the end.
    let mut interrupted: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    let started = Instant::now();

    for _ in 0..KILLS {
        let mut child = deployment.serve();
        let moment = Duration::from_secs_f64(rng.random_range(KILL_WITHIN));
        std::thread::sleep(moment);
        kill_9(&mut child);
        for (tenant, (cycle, step)) in checkpoints(&store).await {
            if step != "done" {
                interrupted.entry(tenant).or_default().insert(cycle);
            }
        }
    }
    let killing = started.elapsed();

    // A last, clean run: every interrupted cycle resumes at once; stop when each
    // tenant's last one has completed (or after two minutes, and the audit says which).
    let mut child = deployment.serve();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut pending = 0;
        for (tenant, cycles) in &interrupted {
            let Some(last) = cycles.last() else { continue };
            let events = store.events_after(TenantId(*tenant), 0, 1_000_000).await.expect("events");
            let done = events.iter().any(|event| event.kind == "cycle.completed" && event.data["cycle"] == *last);
            pending += usize::from(!done);
        }
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(sigterm_and_wait(&mut child).code(), Some(0), "the clean run stops with exit code 0");

    let mut problems = Vec::new();
    let mut completed = 0;
    for tenant in 1..=TENANTS {
        let audit = audit_tenant(&store, TenantId(tenant)).await.expect("audit reads the database");
        completed += audit.completed_cycles.len();
        problems.extend(audit.problems());
        for cycle in interrupted.get(&tenant).into_iter().flatten() {
            if audit.completed_cycles.contains(cycle) {
                continue;
            }
            // The checkpoint moved past it: the cycle finished, only its event is lost.
            let finished =
                audit.checkpoint.as_ref().is_some_and(|(at, step)| *at > *cycle || (*at == *cycle && step == "done"));
            if finished {
                problems.push(format!(
                    "tenant {tenant}: cycle {cycle} was interrupted by a kill and finished (its checkpoint moved \
                     on) but its cycle.completed event is missing"
                ));
            } else {
                let why = audit.last_cycle_failure.as_deref().unwrap_or("no autopilot.cycle_failed event");
                problems.push(format!(
                    "tenant {tenant}: cycle {cycle} was interrupted by a kill and never completed (last failure: {why})"
                ));
            }
        }
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&deployment.folder);
    eprintln!(
        "{KILLS} kills in {:.1} s; {completed} cycles completed over {TENANTS} tenants; interrupted: {interrupted:?}",
        killing.as_secs_f64()
    );
    assert!(completed as i64 >= TENANTS, "the autopilots ran: {completed} cycles completed");
    assert!(problems.is_empty(), "after {KILLS} kill -9s the books disagree:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_kill_9_during_autopilot_cycles_loses_nothing_and_repeats_nothing() {
    kill_nine_times_over_and_check_the_books(Deployment::new(None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_kill_9_during_autopilot_cycles_loses_nothing_and_repeats_nothing() {
    let database = fresh_postgres().await;
    kill_nine_times_over_and_check_the_books(Deployment::new(Some(&database.url))).await;
    drop(database);
}
