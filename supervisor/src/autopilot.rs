//! The autopilot: runs a tenant's CEO cycle on an interval, with pause, resume and
//! "run a cycle now".
//!
//! One driver task per tenant with autopilot on. It pins the swarm (an autopilot
//! swarm is never passivated for idleness) and asks the CEO for `run_cycle`, waiting
//! for each cycle to finish before the next, so cycles never overlap. Pausing stops new
//! cycles; a cycle already running finishes its steps. The CEO's checkpoints make a
//! cycle interrupted by a crash or a shutdown resume where it stopped.

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
    cycles: AtomicU64,
    /// Set by "run now" and "resume"; a plain wake-up (a new interval) only re-arms
    /// the timer.
    run_requested: AtomicBool,
    wake: Notify,
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
        let control = &self.shared.autopilot;
        control.interval_ms.store(interval.as_millis().max(1) as u64, Ordering::Relaxed);
        if control.running.swap(true, Ordering::AcqRel) {
            control.wake.notify_one();
            return false;
        }
        let handle = self.clone();
        tokio::spawn(async move { drive(handle).await });
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
        self.shared.autopilot.interval_ms.store(interval.as_millis().max(1) as u64, Ordering::Relaxed);
        self.shared.autopilot.wake.notify_one();
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
            .with_data(json!({ "interval_ms": self.autopilot().interval.as_millis() as u64 }));
        if let Err(error) = self.shared.events.append(event).await {
            tracing::warn!(%error, "autopilot event not recorded");
        }
    }
}

/// Why the driver woke up.
enum Wake {
    /// The interval elapsed: run unless paused.
    Timer,
    /// "Run now" or "resume": run even when paused.
    Requested,
    /// The interval changed: just wait again.
    Rearm,
}

async fn drive(handle: TenantHandle) {
    let _pin = handle.pin();
    let control = &handle.shared.autopilot;
    let mut wake = Wake::Requested; // the first cycle runs at once
    loop {
        if matches!(handle.status(), SwarmStatus::Stopped | SwarmStatus::Passivated) {
            break;
        }
        match wake {
            Wake::Requested => run_cycle(&handle).await,
            Wake::Timer if !control.paused.load(Ordering::Acquire) => run_cycle(&handle).await,
            Wake::Timer | Wake::Rearm => {}
        }
        let interval = Duration::from_millis(control.interval_ms.load(Ordering::Relaxed));
        let mut status = handle.shared.status.subscribe();
        wake = tokio::select! {
            () = control.wake.notified() => {
                if control.run_requested.swap(false, Ordering::AcqRel) { Wake::Requested } else { Wake::Rearm }
            }
            () = tokio::time::sleep(interval) => Wake::Timer,
            _ = status.wait_for(|s| matches!(s, SwarmStatus::Stopped | SwarmStatus::Passivated)) => break,
        };
    }
    control.running.store(false, Ordering::Release);
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
