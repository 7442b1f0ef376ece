//! The event log as its readers and writers see it, on both backends: batched appends
//! keep per-tenant numbers gap-free, closing persists everything accepted, and a
//! subscriber gets every event exactly once whether it reads history, live events, or
//! falls behind.

use std::collections::HashMap;
use std::time::Duration;

use boardroom_memory::{Checkpoint, EventLog, EventLogConfig, MemoryError, NewEvent, SharedStore, TenantId};
use serde_json::json;

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = boardroom_memory::testing::fresh_sqlite().await;
                    super::$test(std::sync::Arc::new(db.store.clone())).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = boardroom_memory::testing::fresh_postgres().await;
                    super::$test(std::sync::Arc::new(db.store.clone())).await;
                }
            )*
        }
    };
}

/// Like `on_both_backends!`, for tests that also open the database again by its URL.
macro_rules! on_both_backends_by_url {
    ($($test:ident),* $(,)?) => {
        mod sqlite_by_url {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = boardroom_memory::testing::fresh_sqlite().await;
                    super::$test(std::sync::Arc::new(db.store.clone()), db.url.clone()).await;
                }
            )*
        }
        mod postgres_by_url {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = boardroom_memory::testing::fresh_postgres().await;
                    super::$test(std::sync::Arc::new(db.store.clone()), db.url.clone()).await;
                }
            )*
        }
    };
}

on_both_backends_by_url![events_the_database_does_not_take_before_close_are_journaled_and_written_at_the_next_start,];

on_both_backends![
    a_commit_stores_its_events_and_its_checkpoint_together,
    a_panic_while_writing_loses_no_event_and_the_writer_keeps_going,
    a_commit_the_database_refuses_writes_neither_and_keeps_both_in_the_journal,
    concurrent_appenders_get_gap_free_numbers_and_close_persists_every_accepted_event,
    a_subscriber_gets_history_then_live_events_without_gap_or_duplicate,
    a_subscriber_that_falls_behind_catches_up_from_the_database,
    a_closed_log_refuses_appends,
    append_and_wait_returns_the_stored_event,
];

async fn tenants(store: &SharedStore, count: usize) -> Vec<TenantId> {
    let mut ids = Vec::new();
    for index in 0..count {
        ids.push(boardroom_memory::testing::create_tenant(store.as_ref(), &format!("tenant {index}"), "coachty").await);
    }
    ids
}

fn tick(tenant: TenantId, appender: usize, index: usize) -> NewEvent {
    NewEvent::now(tenant, format!("agent-{appender}"), "test.tick", "tick")
        .with_data(json!({ "appender": appender, "index": index }))
}

async fn concurrent_appenders_get_gap_free_numbers_and_close_persists_every_accepted_event(store: SharedStore) {
    let tenants = tenants(&store, 3).await;
    // A small queue and batch, so appenders really contend and wait on back-pressure.
    let log = EventLog::start(
        store.clone(),
        EventLogConfig { queue_capacity: 64, max_batch: 50, subscriber_buffer: 16, ..EventLogConfig::default() },
    );
    let mut appenders = tokio::task::JoinSet::new();
    for appender in 0..16 {
        let log = log.clone();
        let tenants = tenants.clone();
        appenders.spawn(async move {
            for index in 0..150 {
                log.append(tick(tenants[(appender + index) % 3], appender, index)).await.expect("accepted");
            }
        });
    }
    while let Some(result) = appenders.join_next().await {
        result.expect("appender");
    }
    log.close().await;

    let mut per_appender: HashMap<String, Vec<i64>> = HashMap::new();
    let mut total = 0;
    for tenant in &tenants {
        let events = store.events_after(*tenant, 0, 10_000).await.expect("read");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "tenant {tenant}: gap-free from 1");
        total += events.len();
        for event in events {
            per_appender
                .entry(format!("{}/{}", event.actor, event.tenant_id))
                .or_default()
                .push(event.data["index"].as_i64().expect("index"));
        }
    }
    assert_eq!(total, 16 * 150, "every accepted event is stored");
    for (key, indexes) in per_appender {
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{key}: one appender's events keep their order");
    }
}

async fn a_subscriber_gets_history_then_live_events_without_gap_or_duplicate(store: SharedStore) {
    let tenant = tenants(&store, 2).await;
    let (mine, other) = (tenant[0], tenant[1]);
    let log = EventLog::start(store.clone(), EventLogConfig::default());
    for index in 0..5 {
        log.append(tick(mine, 0, index)).await.expect("append");
        log.append(tick(other, 0, index)).await.expect("append");
    }
    log.flush().await.expect("flush");

    // Resume after event 2: history 3..=5 first, then live events, none of the other tenant's.
    let mut subscription = log.subscribe(mine, 2);
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for index in 5..25 {
                log.append(tick(mine, 0, index)).await.expect("append");
                log.append(tick(other, 0, index)).await.expect("append");
            }
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 23 {
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("events keep coming")
            .expect("log open")
            .expect("readable");
        assert_eq!(event.tenant_id, mine, "another tenant's event leaked into the stream");
        seen.push(event.seq);
    }
    writer.await.expect("writer");
    assert_eq!(seen, (3..=25).collect::<Vec<_>>());
    log.close().await;
}

async fn a_subscriber_that_falls_behind_catches_up_from_the_database(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    // A live buffer of 4 events: a subscriber that does not read while 300 arrive lags.
    let log = EventLog::start(store.clone(), EventLogConfig { subscriber_buffer: 4, ..EventLogConfig::default() });
    let mut subscription = log.subscribe(tenant, 0);
    for index in 0..300 {
        log.append(tick(tenant, 0, index)).await.expect("append");
    }
    log.flush().await.expect("flush");
    let mut seen = Vec::new();
    while seen.len() < 300 {
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("catching up")
            .expect("log open")
            .expect("readable");
        seen.push(event.seq);
    }
    assert_eq!(seen, (1..=300).collect::<Vec<_>>(), "no gap, no duplicate after lagging");
    assert_eq!(subscription.last_seq(), 300);
    log.close().await;
}

async fn a_closed_log_refuses_appends(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    let log = EventLog::start(store.clone(), EventLogConfig::default());
    log.append(tick(tenant, 0, 0)).await.expect("append");
    log.close().await;
    log.close().await; // idempotent
    assert!(matches!(log.append(tick(tenant, 0, 1)).await, Err(MemoryError::EventLogClosed)));
    assert!(matches!(log.try_append(tick(tenant, 0, 1)), Err(MemoryError::EventLogClosed)));
    assert_eq!(store.last_event_seq(tenant).await.expect("read"), 1);
}

async fn append_and_wait_returns_the_stored_event(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    let log = EventLog::start(store.clone(), EventLogConfig::default());
    let amount = rust_decimal::Decimal::new(-1250, 2);
    let stored = log.append_and_wait(tick(tenant, 0, 0).with_revenue_impact(amount)).await.expect("stored");
    assert_eq!(stored.seq, 1);
    assert_eq!(stored.revenue_impact, Some(amount));
    let unknown = log.append_and_wait(tick(TenantId(999_999), 0, 0)).await;
    assert!(unknown.is_err(), "an event for a tenant that does not exist is refused, not invented");
    let again = log.append_and_wait(tick(tenant, 0, 1)).await.expect("stored");
    assert_eq!(again.seq, 2, "a refused event uses no number");
    log.close().await;
}

fn checkpoint(tenant: TenantId, cycle: i64, step: &str) -> Checkpoint {
    Checkpoint {
        tenant_id: tenant,
        cycle,
        step: step.into(),
        state: json!({ "cycle": cycle }),
        updated_at: chrono::Utc::now(),
    }
}

fn journal_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("boardroom-journal-{}", uuid::Uuid::new_v4().simple())).join("events.jsonl")
}

async fn a_commit_stores_its_events_and_its_checkpoint_together(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    let log = EventLog::start(store.clone(), EventLogConfig::default());
    log.append(tick(tenant, 0, 0)).await.expect("append");
    let stored = log
        .commit(vec![tick(tenant, 1, 0), tick(tenant, 1, 1)], checkpoint(tenant, 3, "store_setup"))
        .await
        .expect("committed");
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    let saved = store.checkpoint(tenant).await.expect("read").expect("checkpoint");
    assert_eq!((saved.cycle, saved.step.as_str()), (3, "store_setup"));
    log.close().await;
}

async fn a_commit_the_database_refuses_writes_neither_and_keeps_both_in_the_journal(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    let journal = journal_path();
    let log =
        EventLog::start(store.clone(), EventLogConfig { journal: Some(journal.clone()), ..EventLogConfig::default() });
    // The event's tenant exists, the checkpoint's does not: the unit fails as a whole.
    let refused = log.commit(vec![tick(tenant, 0, 0)], checkpoint(TenantId(999_999), 1, "market_analysis")).await;
    assert!(matches!(refused, Err(MemoryError::Unwritten(ref why)) if why.contains("journal")), "{refused:?}");
    // A neighbour is not sunk by it.
    log.append_and_wait(tick(tenant, 0, 1)).await.expect("a plain append still goes in");
    log.close().await;
    let events = store.events_after(tenant, 0, 100).await.expect("read");
    assert_eq!(events.len(), 1, "only the neighbour is stored: {events:?}");
    assert_eq!(events[0].data["index"], 1);
    let kept = std::fs::read_to_string(&journal).expect("journal written");
    assert_eq!(kept.lines().count(), 1);
    assert!(kept.contains("999999"), "the journal holds the refused checkpoint: {kept}");
    assert_eq!(log.journaled(), 1);
    let _ = std::fs::remove_dir_all(journal.parent().expect("folder"));
}

async fn events_the_database_does_not_take_before_close_are_journaled_and_written_at_the_next_start(
    store: SharedStore,
    url: String,
) {
    let tenant = tenants(&store, 1).await[0];
    let journal = journal_path();
    let log =
        EventLog::start(store.clone(), EventLogConfig { journal: Some(journal.clone()), ..EventLogConfig::default() });
    for index in 0..5 {
        log.append_and_wait(tick(tenant, 0, index)).await.expect("stored while the database is up");
    }
    // The database goes away (its pool is closed: every write now fails as a lost
    // connection would), and the process must stop.
    store.close().await;
    for index in 5..305 {
        log.append(tick(tenant, 0, index)).await.expect("accepted");
    }
    let waiting = log.commit(vec![tick(tenant, 1, 0)], checkpoint(tenant, 2, "reinvestment"));
    tokio::pin!(waiting);
    assert!(futures::poll!(&mut waiting).is_pending(), "the commit is queued and waits to be written");
    let started = tokio::time::Instant::now();
    let report = log.close_within(started + Duration::from_millis(500)).await;
    println!("closed {:?} after the deadline was set, {} events journaled", started.elapsed(), report.journaled);
    assert!(started.elapsed() < Duration::from_secs(10), "close gives up on the database at its deadline");
    assert_eq!(report.journaled, 301);
    assert!(matches!(waiting.await, Err(MemoryError::Unwritten(_))), "the committer hears its step is not done");

    // The next start writes the journal before anything else, numbering on from 5.
    let next = boardroom_memory::connect(&url).await.expect("the database is back");
    let written = EventLog::replay_journal(&next, &journal).await.expect("replayed");
    assert_eq!(written, 301);
    assert!(!journal.exists(), "a replayed journal is removed");
    assert_eq!(EventLog::replay_journal(&next, &journal).await.expect("nothing left"), 0);
    let events = next.events_after(tenant, 0, 1_000).await.expect("read");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=306).collect::<Vec<_>>(), "gap-free");
    let ticks: Vec<(i64, i64)> = events
        .iter()
        .map(|e| (e.data["appender"].as_i64().unwrap_or(-1), e.data["index"].as_i64().unwrap_or(-1)))
        .collect();
    let mut expected: Vec<(i64, i64)> = (0..305).map(|index| (0, index)).collect();
    expected.push((1, 0));
    assert_eq!(ticks, expected, "every accepted event, once, in order");
    let saved = next.checkpoint(tenant).await.expect("read").expect("checkpoint");
    assert_eq!((saved.cycle, saved.step.as_str()), (2, "reinvestment"), "the commit's checkpoint came with it");
    next.close().await;
    let _ = std::fs::remove_dir_all(journal.parent().expect("folder"));
}

async fn a_panic_while_writing_loses_no_event_and_the_writer_keeps_going(store: SharedStore) {
    let tenant = tenants(&store, 1).await[0];
    let panicked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let panicked = panicked.clone();
        boardroom_memory::WriteProbe(std::sync::Arc::new(move |_: &[NewEvent]| {
            if !panicked.swap(true, std::sync::atomic::Ordering::SeqCst) {
                panic!("the database driver panicked");
            }
        }))
    };
    let log = EventLog::start(store.clone(), EventLogConfig { write_probe: Some(probe), ..EventLogConfig::default() });
    let committed = log.commit(vec![tick(tenant, 0, 0)], checkpoint(tenant, 1, "product_creation")).await;
    assert!(committed.is_ok(), "the batch the panic hit is written unit by unit: {committed:?}");
    for index in 1..4 {
        log.append_and_wait(tick(tenant, 0, index)).await.expect("the writer still writes");
    }
    log.close().await;
    assert!(panicked.load(std::sync::atomic::Ordering::SeqCst), "the probe did panic");
    let events = store.events_after(tenant, 0, 100).await.expect("read");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(store.checkpoint(tenant).await.expect("read").map(|c| c.step), Some("product_creation".to_owned()));
    assert_eq!((log.journaled(), log.writer_restarts()), (0, 0));
}
