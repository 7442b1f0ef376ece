//! The autopilot: runs a tenant's CEO cycle on an interval, with pause, resume and
//! "run a cycle now".
//!
//! A tenant may also have a shorter interval for while someone watches its live view
//! (the sandbox's simulated days, which cost nothing): the driver uses it as long as the
//! tenant's activity feed has a viewer, and a viewer arriving wakes the driver, so a
//! cycle that is already due under the shorter interval runs at once.
//!
//! One driver task per tenant with autopilot on. It pins the swarm (an autopilot
//! swarm is never passivated for idleness) and asks the CEO for `run_cycle`, waiting
//! for each cycle to finish before the next, so cycles never overlap. Pausing stops new
//! cycles; a cycle already running finishes its steps. The CEO's checkpoints make a
//! cycle interrupted by a crash or a shutdown resume where it stopped.
//!
//! The driver is supervised: it runs as a task of its own under a small supervisor
//! task that watches its `JoinHandle`. A driver that panics is recorded as
//! `autopilot.restarted` (with the panic's message) and started again after the
//! swarm tree's back-off (`SupervisorConfig::backoff`; the count resets once a driver
//! has run for `degraded_clear_after`), so a tenant's autopilot never stops silently,
//! and `running` stays true exactly while a driver runs or is about to be restarted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use boardroom_agents::{CEO, Task};
use boardroom_memory::NewEvent;
use serde::Serialize;
use serde_json::json;
use tokio::sync::Notify;

use crate::activity::FROM_AUTOPILOT;
use crate::tenant::{SwarmStatus, TenantHandle};

/// Longest a single cycle may take before the driver stops waiting for it.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The autopilot's switches, shared by the driver and the tenant's handles.
#[derive(Debug, Default)]
pub(crate) struct AutopilotControl {
    running: AtomicBool,
    paused: AtomicBool,
    interval_ms: AtomicU64,
    /// The interval while someone watches; 0 when there is none.
    watched_interval_ms: AtomicU64,
    cycles: AtomicU64,
    /// Set by "run now" and "resume"; a plain wake-up (a new interval) only re-arms
    /// the timer.
    run_requested: AtomicBool,
    wake: Notify,
    /// How long the driver waits before its first cycle, in milliseconds (0: none);
    /// taken by the driver as it starts.
    first_cycle_delay_ms: AtomicU64,
    /// Tests: the driver panics this many times before its next cycles.
    #[cfg(test)]
    panics_to_inject: std::sync::atomic::AtomicU32,
}

/// Where a tenant's autopilot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AutopilotState {
    /// Whether a driver runs for the tenant.
    pub running: bool,
    /// Whether new cycles are held.
    pub paused: bool,
    /// Time between cycles.
    pub interval: Duration,
    /// Cycles the driver ran since it started.
    pub cycles_run: u64,
}

impl TenantHandle {
    /// Starts the autopilot: a cycle now, then one every `interval`. Returns `false`
    /// when it was already running (the interval is updated anyway).
    pub fn start_autopilot(&self, interval: Duration) -> bool {
        self.start_autopilot_after(interval, Duration::ZERO)
    }

    /// [`TenantHandle::start_autopilot`] with the first cycle `delay` away instead of
    /// now: a node that adopts many businesses at once spreads their first cycles
    /// rather than running them all in the same second. A cycle asked for meanwhile
    /// ("run now", "resume") runs at once.
    pub fn start_autopilot_after(&self, interval: Duration, delay: Duration) -> bool {
        let control = &self.shared.autopilot;
        control.first_cycle_delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
        control.interval_ms.store(interval_millis(interval), Ordering::Relaxed);
        if control.running.swap(true, Ordering::AcqRel) {
            control.wake.notify_one();
            return false;
        }
        tokio::spawn(supervise(self.clone()));
        true
    }

    /// Holds new cycles until [`TenantHandle::resume_autopilot`].
    pub async fn pause_autopilot(&self) {
        if !self.shared.autopilot.paused.swap(true, Ordering::AcqRel) {
            self.autopilot_event("autopilot.paused", "autopilot paused").await;
        }
    }

    /// Lets cycles run again, starting one now.
    pub async fn resume_autopilot(&self) {
        if self.shared.autopilot.paused.swap(false, Ordering::AcqRel) {
            self.autopilot_event("autopilot.resumed", "autopilot resumed").await;
            self.run_cycle_now();
        }
    }

    /// Runs a cycle as soon as the current one (if any) is over, even when paused.
    pub fn run_cycle_now(&self) {
        self.shared.autopilot.run_requested.store(true, Ordering::Release);
        self.shared.autopilot.wake.notify_one();
    }

    /// Changes the time between cycles, from the next wait on.
    pub fn set_autopilot_interval(&self, interval: Duration) {
        self.shared.autopilot.interval_ms.store(interval_millis(interval), Ordering::Relaxed);
        self.shared.autopilot.wake.notify_one();
    }

    /// Sets the time between cycles while someone watches the tenant's live view
    /// (`None`: the same as otherwise).
    pub fn set_autopilot_interval_while_watched(&self, interval: Option<Duration>) {
        self.shared.autopilot.watched_interval_ms.store(interval.map_or(0, interval_millis), Ordering::Relaxed);
        self.shared.autopilot.wake.notify_one();
    }

    /// The time between cycles while someone watches, when one is set.
    pub fn autopilot_interval_while_watched(&self) -> Option<Duration> {
        match self.shared.autopilot.watched_interval_ms.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(Duration::from_millis(millis)),
        }
    }

    /// Wakes the driver to look at its interval again (a viewer came).
    pub(crate) fn rearm_autopilot(&self) {
        if self.shared.autopilot.running.load(Ordering::Acquire) {
            self.shared.autopilot.wake.notify_one();
        }
    }

    /// The autopilot's state.
    pub fn autopilot(&self) -> AutopilotState {
        let control = &self.shared.autopilot;
        AutopilotState {
            running: control.running.load(Ordering::Acquire),
            paused: control.paused.load(Ordering::Acquire),
            interval: Duration::from_millis(control.interval_ms.load(Ordering::Relaxed)),
            cycles_run: control.cycles.load(Ordering::Relaxed),
        }
    }

    async fn autopilot_event(&self, kind: &str, summary: &str) {
        let event = NewEvent::now(self.tenant(), "autopilot", kind, summary)
            .with_data(json!({ "interval_ms": interval_millis(self.autopilot().interval) }));
        if let Err(error) = self.shared.events.append(event).await {
            tracing::warn!(%error, "autopilot event not recorded");
        }
    }

    /// The interval that applies now: the one for while someone watches, if there is
    /// one, someone does and it is the shorter (watching never slows a business down).
    fn current_interval(&self) -> Duration {
        let control = &self.shared.autopilot;
        let interval = control.interval_ms.load(Ordering::Relaxed);
        let watched = control.watched_interval_ms.load(Ordering::Relaxed);
        let millis = if watched > 0 && self.shared.activity.is_watched() { watched.min(interval) } else { interval };
        Duration::from_millis(millis)
    }
}

/// An interval in whole milliseconds, at least 1; an interval too long for a `u64` of
/// milliseconds (half a billion years) saturates instead of wrapping to a short one.
fn interval_millis(interval: Duration) -> u64 {
    u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Why the driver woke up.
enum Wake {
    /// The interval elapsed: run unless paused.
    Timer,
    /// "Run now" or "resume": run even when paused.
    Requested,
    /// The interval (or whether anyone watches) changed: wait again, counting from
    /// the end of the last cycle.
    Rearm,
}

/// Runs the driver and restarts it, after a back-off, each time it panics; ends when
/// the driver ends by itself (the swarm stopped or was passivated).
async fn supervise(handle: TenantHandle) {
    let mut restarts: u32 = 0;
    loop {
        let started = tokio::time::Instant::now();
        let outcome = tokio::spawn(drive(handle.clone())).await;
        let failure = match outcome {
            Ok(()) => break,
            // Cancelled: the runtime is shutting down.
            Err(error) if !error.is_panic() => break,
            Err(error) => panic_message(error.into_panic()),
        };
        if matches!(handle.status(), SwarmStatus::Stopped | SwarmStatus::Passivated) {
            break;
        }
        let config = &handle.shared.config;
        restarts = if started.elapsed() >= config.degraded_clear_after { 1 } else { restarts.saturating_add(1) };
        let delay = config.backoff.delay(restarts);
        tracing::error!(tenant = %handle.tenant(), %failure, ?delay, "autopilot driver panicked; restarting it");
        let event = NewEvent::now(
            handle.tenant(),
            "autopilot",
            "autopilot.restarted",
            format!("autopilot driver failed ({failure}); restarting in {} ms", delay.as_millis()),
        )
        .with_data(json!({ "panic": failure, "restart": restarts, "delay_ms": interval_millis(delay) }));
        if let Err(error) = handle.shared.events.append(event).await {
            tracing::warn!(%error, "autopilot event not recorded");
        }
        let mut status = handle.shared.status.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = status.wait_for(|s| matches!(s, SwarmStatus::Stopped | SwarmStatus::Passivated)) => break,
        }
    }
    handle.shared.autopilot.running.store(false, Ordering::Release);
}

/// The message a panic was raised with.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The driver: cycles on the interval until the swarm stops. `running` is the
/// supervisor's to clear.
async fn drive(handle: TenantHandle) {
    let _pin = handle.pin();
    let control = &handle.shared.autopilot;
    // The first cycle runs at once, unless it was asked to wait.
    let delay = Duration::from_millis(control.first_cycle_delay_ms.swap(0, Ordering::AcqRel));
    if !delay.is_zero() {
        let until = tokio::time::Instant::now() + delay;
        let mut status = handle.shared.status.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                // A cycle asked for ends the wait; a new interval does not.
                () = control.wake.notified() => if control.run_requested.load(Ordering::Acquire) { break },
                _ = status.wait_for(|s| matches!(s, SwarmStatus::Stopped | SwarmStatus::Passivated)) => return,
            }
        }
        control.run_requested.store(false, Ordering::Release);
    }
    let mut wake = Wake::Requested;
    let mut last_cycle_end = tokio::time::Instant::now();
    loop {
        if matches!(handle.status(), SwarmStatus::Stopped | SwarmStatus::Passivated) {
            break;
        }
        #[cfg(test)]
        if control.panics_to_inject.load(Ordering::Acquire) > 0 {
            control.panics_to_inject.fetch_sub(1, Ordering::AcqRel);
            panic!("injected autopilot driver failure");
        }
        // The timer was set with the interval of its time; it may have grown since (the
        // last viewer left), and then the cycle is not due yet: wait again.
        let due_now = || {
            last_cycle_end.checked_add(handle.current_interval()).is_some_and(|due| due <= tokio::time::Instant::now())
        };
        let runs = match wake {
            Wake::Requested => true,
            Wake::Timer if !due_now() => false,
            Wake::Timer if control.paused.load(Ordering::Acquire) => {
                // Paused: the cycle that was due is skipped, and the next is an interval away.
                last_cycle_end = tokio::time::Instant::now();
                false
            }
            Wake::Timer => true,
            Wake::Rearm => false,
        };
        if runs {
            run_cycle(&handle).await;
            last_cycle_end = tokio::time::Instant::now();
        }
        // Saturating: an interval of centuries is a wait forever, not an overflow.
        let due = last_cycle_end.checked_add(handle.current_interval()).unwrap_or_else(far_future);
        let mut status = handle.shared.status.subscribe();
        wake = tokio::select! {
            () = control.wake.notified() => {
                if control.run_requested.swap(false, Ordering::AcqRel) { Wake::Requested } else { Wake::Rearm }
            }
            () = tokio::time::sleep_until(due) => Wake::Timer,
            _ = status.wait_for(|s| matches!(s, SwarmStatus::Stopped | SwarmStatus::Passivated)) => break,
        };
    }
}

/// About 30 years from now: later than any interval the autopilot is given.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

async fn run_cycle(handle: &TenantHandle) {
    let deadline = tokio::time::Instant::now() + CYCLE_TIMEOUT;
    let answer = match handle.agent(CEO) {
        Ok(ceo) => ceo.call_from(FROM_AUTOPILOT, Task::bare("run_cycle"), deadline).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(_) => {
            handle.shared.autopilot.cycles.fetch_add(1, Ordering::Relaxed);
        }
        // Interrupted by a shutdown or passivation: not a failure, and the swarm's log is
        // closed with its stop event. The checkpoint resumes the cycle next time.
        Err(_) if matches!(handle.status(), SwarmStatus::Stopped | SwarmStatus::Passivated) => {}
        Err(error) => {
            // The CEO's checkpoint keeps the cycle's progress; the next run resumes it.
            let event = NewEvent::now(
                handle.tenant(),
                "autopilot",
                "autopilot.cycle_failed",
                format!("cycle did not finish: {error}"),
            )
            .with_data(json!({ "error": error.to_string() }));
            if let Err(error) = handle.shared.events.append(event).await {
                tracing::warn!(%error, "autopilot event not recorded");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use boardroom_agents::AgentRegistry;
    use boardroom_memory::testing::{TestSqlite, create_tenant, fresh_sqlite};
    use boardroom_memory::{EventLog, EventLogConfig, SharedStore, TenantId};

    use super::*;

    use crate::{Backoff, SupervisorConfig, SwarmRoot};

    #[test]
    fn an_interval_too_long_for_milliseconds_saturates_instead_of_wrapping() {
        assert_eq!(interval_millis(Duration::from_secs(u64::MAX)), u64::MAX);
        assert_eq!(interval_millis(Duration::from_secs(1 << 63)), u64::MAX);
        assert_eq!(interval_millis(Duration::ZERO), 1);
        assert_eq!(interval_millis(Duration::from_secs(1800)), 1_800_000);
    }

    /// One tenant, "Acme", with its swarm active under a root over a fresh SQLite
    /// database.
    struct Acme {
        _database: TestSqlite,
        events: EventLog,
        root: SwarmRoot,
        tenant: TenantId,
        swarm: TenantHandle,
    }

    impl Acme {
        async fn start(config: SupervisorConfig) -> Acme {
            let database = fresh_sqlite().await;
            let store: SharedStore = Arc::new(database.store.clone());
            let events = EventLog::start(store.clone(), EventLogConfig::default());
            let root = SwarmRoot::start(store.clone(), events.clone(), AgentRegistry::standard(), config)
                .await
                .expect("root starts");
            let tenant = create_tenant(store.as_ref(), "Acme", "coachty").await;
            let swarm = root.activate(tenant).await.expect("swarm activates");
            Acme { _database: database, events, root, tenant, swarm }
        }
    }

    /// Polls the autopilot until it has run `cycles` cycles; fails after 30 s.
    async fn wait_for_cycles(swarm: &TenantHandle, cycles: u64) {
        let reached = tokio::time::timeout(Duration::from_secs(30), async {
            while swarm.autopilot().cycles_run < cycles {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(reached.is_ok(), "{cycles} cycles within 30 s; ran {}", swarm.autopilot().cycles_run);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delayed_start_holds_the_first_cycle_until_its_time_or_until_one_is_asked_for() {
        // Arrange: cycles an hour apart, the first one a minute away.
        let Acme { _database, events, root, tenant: _, swarm } = Acme::start(SupervisorConfig::default()).await;
        assert!(swarm.start_autopilot_after(Duration::from_secs(3600), Duration::from_secs(60)));
        assert!(swarm.autopilot().running);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(swarm.autopilot().cycles_run, 0, "the first cycle waits for its time");
        // A new interval does not end the wait…
        swarm.set_autopilot_interval(Duration::from_secs(1800));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(swarm.autopilot().cycles_run, 0, "a new interval only re-arms");

        // Act: the owner asks for a cycle now.
        swarm.run_cycle_now();

        // Assert: it runs without waiting out the minute, once.
        wait_for_cycles(&swarm, 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(swarm.autopilot().cycles_run, 1, "one cycle asked for, one run");
        root.shutdown().await;
        events.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_viewer_speeds_the_autopilot_up_to_its_watched_cadence_and_leaving_slows_it_down() {
        // Arrange: cycles an hour apart, or 50 ms apart while someone watches.
        let Acme { _database, events, root, tenant, swarm } = Acme::start(SupervisorConfig::default()).await;
        swarm.set_autopilot_interval_while_watched(Some(Duration::from_millis(50)));
        assert_eq!(swarm.autopilot_interval_while_watched(), Some(Duration::from_millis(50)));
        assert!(swarm.start_autopilot(Duration::from_secs(3600)));
        wait_for_cycles(&swarm, 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(swarm.autopilot().cycles_run, 1, "nobody watches: the next cycle is an hour away");

        // Act: someone opens the live view.
        let viewer = root.watch_activity(tenant);

        // Assert: the driver woke at once and keeps the watched cadence.
        wait_for_cycles(&swarm, 4).await;

        // Act: the viewer leaves.
        drop(viewer);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let settled = swarm.autopilot().cycles_run;
        tokio::time::sleep(Duration::from_millis(400)).await;

        // Assert: back to an hour between cycles.
        assert_eq!(swarm.autopilot().cycles_run, settled, "nobody watches any more");
        root.shutdown().await;
        events.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cycle_due_at_the_watched_cadence_does_not_run_once_the_last_viewer_has_left() {
        // Arrange: cycles an hour apart, or 300 ms apart while someone watches; a viewer
        // is there and a cycle has just ended, so the driver waits for the next one at
        // the watched cadence.
        let Acme { _database, events, root, tenant, swarm } = Acme::start(SupervisorConfig::default()).await;
        swarm.set_autopilot_interval_while_watched(Some(Duration::from_millis(300)));
        let viewer = root.watch_activity(tenant);
        assert!(swarm.start_autopilot(Duration::from_secs(3600)));
        wait_for_cycles(&swarm, 2).await;
        let ran = swarm.autopilot().cycles_run;

        // Act: the viewer leaves before the next cycle is due.
        drop(viewer);
        tokio::time::sleep(Duration::from_millis(900)).await;

        // Assert: the wait that was under way is measured against the hour again.
        assert_eq!(swarm.autopilot().cycles_run, ran, "the viewer left: the next cycle is an hour away");
        root.shutdown().await;
        events.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_driver_that_panics_is_restarted_recorded_and_keeps_running_cycles() {
        // Arrange: a tenant whose autopilot driver will panic once, before its first cycle.
        let config = SupervisorConfig {
            backoff: Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1), jitter: 0.0 },
            ..SupervisorConfig::default()
        };
        let Acme { _database, events, root, tenant, swarm } = Acme::start(config).await;
        swarm.shared.autopilot.panics_to_inject.store(1, Ordering::Release);

        // Act
        assert!(swarm.start_autopilot(Duration::from_millis(50)));

        // Assert: it comes back and runs cycle after cycle, and says what happened.
        let mut subscription = events.subscribe(tenant, 0);
        let restarted = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(event) = subscription.next().await {
                let event = event.expect("event log readable");
                if event.kind == "autopilot.restarted" {
                    return event;
                }
            }
            panic!("the event log closed");
        })
        .await
        .expect("autopilot.restarted within 30 s");
        assert!(restarted.summary.contains("injected autopilot driver failure"), "{}", restarted.summary);
        assert_eq!(restarted.data["panic"], "injected autopilot driver failure");
        assert!(swarm.autopilot().running, "running while the driver is restarted");
        let cycles = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let state = swarm.autopilot();
                if state.cycles_run >= 2 {
                    return state;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("two cycles within 60 s after the restart");
        assert!(cycles.running);

        root.shutdown().await;
        let stopped = tokio::time::timeout(Duration::from_secs(10), async {
            while swarm.autopilot().running {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(stopped.is_ok(), "running is cleared once the swarm stops");
        events.close().await;
    }
}
