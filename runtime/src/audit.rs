//! The consistency audit of a tenant after a drill: is its event log gap-free, did every
//! committed cycle step leave its event, and did nothing happen twice? Read from the
//! database only, so it judges what a crash or a panic really left behind.
//!
//! `boardroom bench --chaos` reports its totals; the crash-consistency test
//! (`runtime/tests/crash.rs`) asserts on every finding.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use boardroom_agents::Step;
use boardroom_memory::{MemoryError, SharedStore, SwarmEvent, TenantId};
use chrono::{Duration, TimeZone, Utc};

/// Events read per page.
const PAGE: i64 = 10_000;

/// What the audit found for one tenant. Every `Vec` lists offenders; empty is good.
#[derive(Debug, Clone, Default)]
pub struct TenantAudit {
    /// The tenant audited.
    pub tenant: Option<TenantId>,
    /// The highest sequence number in its log.
    pub last_seq: i64,
    /// Sequence numbers missing from `1..=last_seq`.
    pub missing_seqs: Vec<i64>,
    /// `agent.restarted` events: agents restarted one for one.
    pub restarts: usize,
    /// `agent.failed` events.
    pub agent_failures: usize,
    /// `swarm.escalated` events: the swarm gave up and the root took over.
    pub escalations: usize,
    /// `cycle.completed` events.
    pub cycles_completed: usize,
    /// `autopilot.cycle_failed` events.
    pub cycles_failed: usize,
    /// The summary of the last `autopilot.cycle_failed` event, if any.
    pub last_cycle_failure: Option<String>,
    /// External ids of products listed more than once.
    pub duplicate_products: Vec<String>,
    /// External ids of campaigns launched more than once.
    pub duplicate_campaigns: Vec<String>,
    /// External ids of posts published more than once.
    pub duplicate_posts: Vec<String>,
    /// Transaction ids booked more than once.
    pub duplicate_ledger_rows: Vec<String>,
    /// Cycles with more than one `autopilot_cycle` experience.
    pub duplicate_experiences: Vec<i64>,
    /// Completed cycles with no `autopilot_cycle` experience.
    pub missing_experiences: Vec<i64>,
    /// Cycles whose `cycle.started` was written more than once.
    pub cycles_started_twice: Vec<i64>,
    /// Completed cycles whose seven `cycle.step` events are not there exactly once each,
    /// with what is wrong.
    pub cycles_with_wrong_steps: Vec<(i64, String)>,
    /// The checkpoint's step has no `cycle.step` event for the step before it (the
    /// step committed, its event was lost), as `cycle N at STEP`.
    pub checkpoint_without_event: Option<String>,
    /// The cycle the checkpoint holds and its next step (`done` when finished).
    pub checkpoint: Option<(i64, String)>,
    /// Cycle numbers that have a `cycle.completed` event.
    pub completed_cycles: BTreeSet<i64>,
}

impl TenantAudit {
    /// Every duplicate side effect found (products, campaigns, posts, ledger rows,
    /// experiences).
    pub fn duplicate_side_effects(&self) -> usize {
        self.duplicate_products.len()
            + self.duplicate_campaigns.len()
            + self.duplicate_posts.len()
            + self.duplicate_ledger_rows.len()
            + self.duplicate_experiences.len()
    }

    /// Whether anything went wrong in this tenant's swarm: a failed or restarted agent,
    /// an escalation, a failed cycle.
    pub fn was_disturbed(&self) -> bool {
        self.restarts + self.agent_failures + self.escalations + self.cycles_failed > 0
    }

    /// Every consistency problem, one line each (empty when the tenant is consistent).
    pub fn problems(&self) -> Vec<String> {
        let tenant = self.tenant.map_or_else(|| "?".to_owned(), |tenant| tenant.to_string());
        let mut problems = Vec::new();
        let mut note = |what: String| problems.push(format!("tenant {tenant}: {what}"));
        if !self.missing_seqs.is_empty() {
            note(format!("event log has holes at seqs {:?} (of 1..={})", self.missing_seqs, self.last_seq));
        }
        if let Some(at) = &self.checkpoint_without_event {
            note(format!("checkpoint committed {at} but the cycle.step event of the step before it is missing"));
        }
        for (cycle, what) in &self.cycles_with_wrong_steps {
            note(format!("completed cycle {cycle} does not have each of its 7 cycle.step events once: {what}"));
        }
        if !self.cycles_started_twice.is_empty() {
            note(format!("cycle.started written more than once for cycles {:?}", self.cycles_started_twice));
        }
        if !self.duplicate_experiences.is_empty() {
            note(format!("more than one autopilot_cycle experience for cycles {:?}", self.duplicate_experiences));
        }
        if !self.missing_experiences.is_empty() {
            note(format!("no autopilot_cycle experience for completed cycles {:?}", self.missing_experiences));
        }
        for (what, ids) in [
            ("products listed", &self.duplicate_products),
            ("campaigns launched", &self.duplicate_campaigns),
            ("posts published", &self.duplicate_posts),
            ("ledger rows booked", &self.duplicate_ledger_rows),
        ] {
            if !ids.is_empty() {
                note(format!("{what} more than once: {ids:?}"));
            }
        }
        problems
    }
}

/// Audits one tenant: its whole event log, checkpoint, products, campaigns, posts, ledger
/// and experiences.
pub async fn audit_tenant(store: &SharedStore, tenant: TenantId) -> Result<TenantAudit, MemoryError> {
    let mut audit = TenantAudit { tenant: Some(tenant), ..TenantAudit::default() };
    let events = all_events(store, tenant).await?;
    audit.last_seq = events.iter().map(|event| event.seq).max().unwrap_or(0);
    let seen: BTreeSet<i64> = events.iter().map(|event| event.seq).collect();
    audit.missing_seqs = (1..=audit.last_seq).filter(|seq| !seen.contains(seq)).collect();

    let mut started: BTreeMap<i64, usize> = BTreeMap::new();
    let mut steps: HashMap<i64, BTreeMap<String, usize>> = HashMap::new();
    // (cycle, next step) of every `cycle.step` event.
    let mut step_next: BTreeSet<(i64, String)> = BTreeSet::new();
    for event in &events {
        let cycle = event.data["cycle"].as_i64();
        match (event.kind.as_str(), cycle) {
            ("agent.restarted", _) => audit.restarts += 1,
            ("agent.failed", _) => audit.agent_failures += 1,
            ("swarm.escalated", _) => audit.escalations += 1,
            ("autopilot.cycle_failed", _) => {
                audit.cycles_failed += 1;
                audit.last_cycle_failure = Some(event.summary.clone());
            }
            ("cycle.completed", Some(cycle)) => {
                audit.cycles_completed += 1;
                audit.completed_cycles.insert(cycle);
            }
            ("cycle.started", Some(cycle)) => *started.entry(cycle).or_default() += 1,
            ("cycle.step", Some(cycle)) => {
                let step = event.data["step"].as_str().unwrap_or("?").to_owned();
                *steps.entry(cycle).or_default().entry(step).or_default() += 1;
                step_next.insert((cycle, event.data["next"].as_str().unwrap_or("?").to_owned()));
            }
            _ => {}
        }
    }
    audit.cycles_started_twice = started.into_iter().filter(|(_, count)| *count > 1).map(|(cycle, _)| cycle).collect();
    for &cycle in &audit.completed_cycles {
        let counted = steps.remove(&cycle).unwrap_or_default();
        let wrong: Vec<String> = Step::ORDER
            .iter()
            .map(|step| (step.as_str(), counted.get(step.as_str()).copied().unwrap_or(0)))
            .filter(|(_, count)| *count != 1)
            .map(|(step, count)| format!("{step} ×{count}"))
            .collect();
        if !wrong.is_empty() {
            audit.cycles_with_wrong_steps.push((cycle, wrong.join(", ")));
        }
    }

    if let Some(checkpoint) = store.checkpoint(tenant).await? {
        // A checkpoint at market analysis is a cycle that has not finished a step yet.
        if checkpoint.step != Step::MarketAnalysis.as_str()
            && !step_next.contains(&(checkpoint.cycle, checkpoint.step.clone()))
        {
            audit.checkpoint_without_event = Some(format!("cycle {} at {}", checkpoint.cycle, checkpoint.step));
        }
        audit.checkpoint = Some((checkpoint.cycle, checkpoint.step));
    }

    let products = store.products(tenant).await?;
    audit.duplicate_products = repeated(products.into_iter().filter_map(|product| product.external_id));
    let campaigns = store.campaigns(tenant).await?;
    audit.duplicate_campaigns = repeated(campaigns.into_iter().filter_map(|campaign| campaign.external_id));
    let posts = store.social_posts(tenant, i64::from(i32::MAX)).await?;
    audit.duplicate_posts = repeated(posts.into_iter().filter_map(|post| post.external_id));
    // The ledger from long before Boardroom existed to tomorrow: all of it.
    let from = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or_else(Utc::now);
    let ledger = store.ledger_entries(tenant, from, Utc::now() + Duration::days(1)).await?;
    audit.duplicate_ledger_rows = repeated(ledger.into_iter().filter_map(|row| row.transaction_id));

    let experiences = store.experiences(tenant, Some("autopilot_cycle"), i64::from(i32::MAX)).await?;
    let cycles: Vec<i64> = experiences.iter().filter_map(|experience| experience.context["cycle"].as_i64()).collect();
    audit.duplicate_experiences = repeated(cycles.iter().copied());
    let recorded: BTreeSet<i64> = cycles.into_iter().collect();
    audit.missing_experiences = audit.completed_cycles.difference(&recorded).copied().collect();
    Ok(audit)
}

async fn all_events(store: &SharedStore, tenant: TenantId) -> Result<Vec<SwarmEvent>, MemoryError> {
    let mut events: Vec<SwarmEvent> = Vec::new();
    loop {
        let after = events.last().map_or(0, |event| event.seq);
        let page = store.events_after(tenant, after, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

/// The values that occur more than once, each named once, in order.
fn repeated<T: Ord + Clone>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    counts.into_iter().filter(|(_, count)| *count > 1).map(|(value, _)| value).collect()
}

#[cfg(test)]
mod tests {
    use super::repeated;

    #[test]
    fn repeated_names_each_value_seen_twice_or_more_once() {
        assert_eq!(repeated(["a", "b", "a", "c", "a", "b"]), ["a", "b"]);
        assert!(repeated(Vec::<i64>::new()).is_empty());
    }
}
