//! The fault-injection drill, small: `boardroom bench --chaos`'s library function with
//! 20 tenants for 20 seconds. The even tenants' agents panic; the odd ones must not
//! notice, no log may have a hole and no side effect may happen twice.

use std::time::Duration;

use boardroom_runtime::{ChaosDrill, chaos_drill};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_panicking_at_random_are_restarted_without_gaps_duplicates_or_harm_to_other_tenants() {
    let drill = ChaosDrill {
        tenants: 20,
        duration: Duration::from_secs(20),
        panic_rate: 0.02,
        seed: 11,
        interval: Some(Duration::from_secs(2)),
        postgres: None,
        progress: false,
    };

    let report = chaos_drill(drill).await.expect("the drill runs");

    eprintln!("{report}");
    assert!(report.cycles_completed > 0, "the autopilots ran cycles:\n{report}");
    assert!(report.restarts > 0, "the injected panics restarted agents:\n{report}");
    assert_eq!(report.cross_tenant_impact, 0, "tenants never chosen to panic were untouched:\n{report}");
    assert_eq!(report.event_gaps, 0, "every tenant's log is gap-free:\n{report}");
    assert_eq!(report.duplicate_side_effects, 0, "nothing happened twice:\n{report}");
    assert!(report.passed());
}
