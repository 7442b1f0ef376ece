//! `boardroom bench --chaos`: a fault-injection drill. Many tenants run autopilot cycles
//! on the sandbox market while the agents of every even-numbered tenant panic at a
//! chosen rate per message (`CHAOS_AGENT_PANIC_RATE`'s injection); the odd-numbered
//! tenants are the witnesses. Afterwards every tenant is audited from the database
//! (see `audit`) and the drill prints:
//!
//! - restarts and escalations (the supervision tree at work);
//! - cross-tenant impact: witnesses that failed a cycle or had an agent fail, restart or
//!   escalate (must be 0);
//! - event gaps: holes in a tenant's seqs `1..=max` (must be 0);
//! - duplicate side effects: products, campaigns and posts with the same external id,
//!   ledger rows with the same transaction id, two experiences for one cycle (must be 0).
//!
//! A figure that must be 0 and is not makes the command fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use boardroom_adapters::SandboxMarket;
use boardroom_agents::AgentRegistry;
use boardroom_agents::brain::OfflineBrain;
use boardroom_memory::{EventLog, EventLogConfig, NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use boardroom_supervisor::{
    CHAOS_PANIC_PREFIX, ChaosConfig, ChaosTenants, SupervisorConfig, SwarmRoot, SwarmServices, TenantHandle,
};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::audit::{TenantAudit, audit_tenant};
use crate::bench::{ScratchPostgres, ScratchSqlite};

/// What a drill runs.
#[derive(Debug, Clone)]
pub struct ChaosDrill {
    /// Tenants on autopilot; the even-numbered ones panic.
    pub tenants: usize,
    /// How long the cycles run before the swarms are stopped and audited.
    pub duration: Duration,
    /// Probability that an agent of a targeted tenant panics on a message.
    pub panic_rate: f64,
    /// Seed of the sandbox market and of the agents' panic dice.
    pub seed: u64,
    /// Time between a tenant's cycles; `None` spreads the tenants so that about
    /// [`DEFAULT_CYCLES_PER_SECOND`] cycles start each second in all.
    pub interval: Option<Duration>,
    /// A PostgreSQL server (admin URL) to run on, in a scratch database; `None` runs on
    /// SQLite in a temporary file.
    pub postgres: Option<String>,
    /// Show progress bars (the command line does; tests do not).
    pub progress: bool,
}

/// Cycles started per second across all tenants when no interval is given: well within
/// what two cores sustain, so a witness's failure means impact, not overload.
pub const DEFAULT_CYCLES_PER_SECOND: f64 = 20.0;

/// What a drill measured.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    /// Tenants that ran.
    pub tenants: usize,
    /// Tenants whose agents panicked on purpose.
    pub targeted: usize,
    /// Wall time of the cycles (without set-up and audit).
    pub ran_for: Duration,
    /// The interval each tenant's autopilot ran at.
    pub interval: Duration,
    /// Cycles completed, and failed (then resumed by the next one), across all tenants.
    pub cycles_completed: usize,
    /// Cycles the autopilot reported as failed.
    pub cycles_failed: usize,
    /// Agents restarted one for one.
    pub restarts: usize,
    /// Swarms that exceeded their restart intensity and were restarted by the root.
    pub escalations: usize,
    /// Witness tenants that nevertheless failed a cycle or had an agent fail, restart
    /// or escalate. Must be 0.
    pub cross_tenant_impact: usize,
    /// Sequence numbers missing from the tenants' logs. Must be 0.
    pub event_gaps: usize,
    /// Side effects that happened twice. Must be 0.
    pub duplicate_side_effects: usize,
    /// Events in all logs.
    pub events: i64,
    /// One line per problem found (witnesses disturbed, gaps, duplicates), at most 20.
    pub problems: Vec<String>,
}

impl ChaosReport {
    /// Whether every figure that must be 0 is 0.
    pub fn passed(&self) -> bool {
        self.cross_tenant_impact == 0 && self.event_gaps == 0 && self.duplicate_side_effects == 0
    }

    fn add(&mut self, audit: &TenantAudit, targeted: bool) {
        self.cycles_completed += audit.cycles_completed;
        self.cycles_failed += audit.cycles_failed;
        self.restarts += audit.restarts;
        self.escalations += audit.escalations;
        self.event_gaps += audit.missing_seqs.len();
        self.duplicate_side_effects += audit.duplicate_side_effects();
        self.events += audit.last_seq;
        let mut problems = Vec::new();
        if !targeted && audit.was_disturbed() {
            self.cross_tenant_impact += 1;
            problems.push(format!(
                "witness tenant {}: {} agent failures, {} restarts, {} escalations, {} failed cycles (last: {})",
                audit.tenant.map_or(0, |tenant| tenant.0),
                audit.agent_failures,
                audit.restarts,
                audit.escalations,
                audit.cycles_failed,
                audit.last_cycle_failure.as_deref().unwrap_or("none")
            ));
        }
        // Gaps and duplicates; the crash-only findings (step events, restarts of a
        // cycle) belong to the crash test, not to a drill without crashes.
        problems.extend(audit.problems().into_iter().filter(|problem| {
            problem.contains("holes") || problem.contains("more than once:") || problem.contains("more than one")
        }));
        let room = 20usize.saturating_sub(self.problems.len());
        self.problems.extend(problems.into_iter().take(room));
    }
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = |zero: usize| if zero == 0 { "ok" } else { "FAIL (must be 0)" };
        writeln!(
            f,
            "   tenants                  {:>10}  ({} panicking, {} witnesses)",
            self.tenants,
            self.targeted,
            self.tenants - self.targeted
        )?;
        writeln!(
            f,
            "   ran for                  {:>10.1} s  (autopilot every {:.1} s)",
            self.ran_for.as_secs_f64(),
            self.interval.as_secs_f64()
        )?;
        writeln!(f, "   cycles completed         {:>10}", self.cycles_completed)?;
        writeln!(f, "   cycles failed (resumed)  {:>10}", self.cycles_failed)?;
        writeln!(f, "   events                   {:>10}", self.events)?;
        writeln!(f, "   restarts                 {:>10}", self.restarts)?;
        writeln!(f, "   escalations              {:>10}", self.escalations)?;
        writeln!(
            f,
            "   cross-tenant impact      {:>10}  {}",
            self.cross_tenant_impact,
            verdict(self.cross_tenant_impact)
        )?;
        writeln!(f, "   event gaps               {:>10}  {}", self.event_gaps, verdict(self.event_gaps))?;
        write!(
            f,
            "   duplicate side effects   {:>10}  {}",
            self.duplicate_side_effects,
            verdict(self.duplicate_side_effects)
        )?;
        for problem in &self.problems {
            write!(f, "\n   ! {problem}")?;
        }
        Ok(())
    }
}

/// `boardroom bench --chaos`: runs the drill, prints its figures, fails if a figure
/// that must be 0 is not.
pub(crate) async fn run(drill: ChaosDrill) -> anyhow::Result<()> {
    println!(
        "boardroom bench --chaos — {} tenants, {:.1} min, panic rate {} on even tenants, seed {}, {}",
        drill.tenants,
        drill.duration.as_secs_f64() / 60.0,
        drill.panic_rate,
        drill.seed,
        if drill.postgres.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let report = chaos_drill(drill).await?;
    println!("{report}");
    anyhow::ensure!(report.passed(), "the drill found problems (see the figures marked FAIL)");
    Ok(())
}

/// Runs a drill: sets up a scratch database with `tenants` tenants, runs their
/// autopilots with the panics injected for `duration`, stops everything and audits
/// every tenant.
pub async fn chaos_drill(drill: ChaosDrill) -> anyhow::Result<ChaosReport> {
    anyhow::ensure!(drill.tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!((0.0..=1.0).contains(&drill.panic_rate), "--rate must be between 0 and 1");
    let _quiet = QuietChaosPanics::install();
    match &drill.postgres {
        Some(admin_url) => {
            let scratch = ScratchPostgres::create(admin_url).await?;
            let result = on_database(&scratch.url, &drill).await;
            scratch.drop_database().await;
            result
        }
        None => {
            let scratch = ScratchSqlite::new();
            on_database(&scratch.url, &drill).await
        }
    }
}

async fn on_database(url: &str, drill: &ChaosDrill) -> anyhow::Result<ChaosReport> {
    let store = boardroom_memory::connect(url).await.context("failed to open the drill's database")?;
    let result = drill_on(&store, drill).await;
    store.close().await;
    result
}

async fn drill_on(store: &SharedStore, drill: &ChaosDrill) -> anyhow::Result<ChaosReport> {
    let chaos = ChaosConfig { panic_rate: drill.panic_rate, seed: drill.seed, tenants: ChaosTenants::EvenIds };
    let tenants = create_tenants(store, drill.tenants).await?;
    let interval = drill
        .interval
        .unwrap_or_else(|| Duration::from_secs_f64((drill.tenants as f64 / DEFAULT_CYCLES_PER_SECOND).max(2.0)));

    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(OfflineBrain),
        market: Arc::new(SandboxMarket::new(drill.seed)),
        redis: None,
        markets: None,
        media: None,
    };
    let config = SupervisorConfig { chaos: Some(chaos), ..SupervisorConfig::default() };
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), config).await?;

    let bar = progress(drill, drill.duration.as_secs().max(1), "{elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}");
    let started = Instant::now();
    let deadline = started + drill.duration;
    // The tenants' first cycles are spread over one interval (at most 80 % of the run, so
    // every tenant runs), as a long-running server's would be, instead of all starting
    // in the same instant.
    let spacing = interval.min(drill.duration.mul_f64(0.8)).div_f64(tenants.len() as f64);
    let mut handles: Vec<TenantHandle> = Vec::with_capacity(tenants.len());
    let mut next_tick = Instant::now();
    for (index, tenant) in tenants.iter().enumerate() {
        let due = started + spacing.mul_f64(index as f64);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() >= deadline {
            break;
        }
        let swarm = root.activate(*tenant).await.with_context(|| format!("tenant {tenant} did not activate"))?;
        swarm.start_autopilot(interval);
        handles.push(swarm);
        if Instant::now() >= next_tick {
            tick(&bar, started, &handles);
            next_tick = Instant::now() + Duration::from_secs(1);
        }
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1).min(deadline - Instant::now())).await;
        tick(&bar, started, &handles);
    }
    bar.finish_and_clear();
    let ran_for = started.elapsed();
    // Stopping interrupts the cycles still running, as a shutdown does: their
    // checkpoints keep them, and the audit counts only what was committed.
    drop(handles);
    root.shutdown().await;
    events.close().await;

    let mut report = ChaosReport {
        tenants: tenants.len(),
        targeted: tenants.iter().filter(|tenant| chaos.targets(**tenant)).count(),
        ran_for,
        interval,
        ..ChaosReport::default()
    };
    let bar = progress(drill, tenants.len() as u64, "auditing {bar:40} {pos}/{len} tenants");
    let mut audits = futures::stream::iter(tenants.iter().copied())
        .map(|tenant| async move { (tenant, audit_tenant(store, tenant).await) })
        .buffer_unordered(8);
    while let Some((tenant, audit)) = audits.next().await {
        let audit = audit.with_context(|| format!("failed to audit tenant {tenant}"))?;
        report.add(&audit, chaos.targets(tenant));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

fn progress(drill: &ChaosDrill, length: u64, template: &str) -> ProgressBar {
    if !drill.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn tick(bar: &ProgressBar, started: Instant, handles: &[TenantHandle]) {
    let cycles: u64 = handles.iter().map(|handle| handle.autopilot().cycles_run).sum();
    bar.set_position(started.elapsed().as_secs());
    bar.set_message(format!("{} tenants on autopilot, {cycles} cycles completed", handles.len()));
}

async fn create_tenants(store: &SharedStore, count: usize) -> anyhow::Result<Vec<TenantId>> {
    let owner = store
        .create_user(NewUser {
            email: "chaos@localhost".into(),
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Free,
        })
        .await?;
    let personalities = ["coachty", "hustlebot", "luxuryscaler"];
    let mut tenants = Vec::with_capacity(count);
    for index in 0..count {
        let tenant = store
            .create_tenant(NewTenant {
                user_id: owner.id,
                name: format!("chaos tenant {}", index + 1),
                domain: None,
                personality: personalities[index % personalities.len()].into(),
                settings: json!({}),
            })
            .await?;
        tenants.push(tenant.id);
    }
    Ok(tenants)
}

/// Keeps the injected panics out of the output (thousands of them in a long drill)
/// while the drill runs; any other panic is still printed. The previous hook comes
/// back on drop.
struct QuietChaosPanics;

impl QuietChaosPanics {
    fn install() -> Self {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.starts_with(CHAOS_PANIC_PREFIX) {
                previous(info);
            }
        }));
        Self
    }
}

impl Drop for QuietChaosPanics {
    fn drop(&mut self) {
        // The default hook again: the drill's hook (and the one it wrapped) are dropped.
        let _ = std::panic::take_hook();
    }
}
