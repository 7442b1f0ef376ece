//! The conformance suite: every test runs twice, as `sqlite::<name>` and
//! `postgres::<name>`, each on a fresh database of its own, so both backends are held to
//! the same behaviour.
//!
//! PostgreSQL must be running (`TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the postgres tests fail loudly, and
//! say how to start it, when it is not.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use boardroom_memory::testing::{TestPostgres, TestSqlite};
use boardroom_memory::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

// ---- the two-backend harness ----

/// Turns each listed test body into `sqlite::name` and `postgres::name`.
///
/// `store: [...]` bodies are `async fn name(store: SharedStore)`; `with_db: [...]`
/// bodies also get a [`Db`] for what the trait cannot do (raw SQL, a second store on
/// the same database).
macro_rules! conformance {
    (store: [$($plain:ident),* $(,)?], with_db: [$($direct:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, fresh_sqlite, [$($plain),*], [$($direct),*]);
        conformance!(@backend postgres, fresh_postgres, [$($plain),*], [$($direct),*]);
    };
    (@backend $backend:ident, $fresh:ident, [$($plain:ident),*], [$($direct:ident),*]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $plain() {
                    let db = boardroom_memory::testing::$fresh().await;
                    super::$plain(std::sync::Arc::new(db.store.clone())).await;
                    boardroom_memory::PlatformStore::close(&db.store).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $direct() {
                    let db = boardroom_memory::testing::$fresh().await;
                    super::$direct(std::sync::Arc::new(db.store.clone()), super::Db::from(&db)).await;
                    boardroom_memory::PlatformStore::close(&db.store).await;
                }
            )*
        }
    };
}

conformance! {
    store: [
        money_round_trips_exactly_through_the_ledger,
        money_round_trips_exactly_through_event_revenue_impact,
        event_sequence_numbers_start_at_one_for_each_tenant_and_follow_input_order,
        event_sequence_numbers_are_gap_free_under_concurrent_appends,
        events_after_pages_through_one_tenant_log_oldest_first,
        events_keep_their_time_text_and_data,
        large_batches_are_stored_whole_across_several_insert_statements,
        a_batch_with_an_unknown_tenant_is_refused_whole,
        emails_are_stored_lower_case_and_unique_regardless_of_case,
        the_first_user_is_admin_even_under_8_concurrent_sign_ups,
        accounts_the_system_makes_do_not_take_the_admins_place,
        users_are_listed_in_id_order_page_by_page,
        a_user_role_tier_and_last_login_can_be_changed,
        tenants_belong_to_users_and_can_be_disabled,
        a_transaction_id_is_booked_only_once_per_tenant,
        a_running_total_is_booked_as_what_it_adds_and_a_stale_one_adds_nothing,
        eight_concurrent_reports_of_a_growing_total_book_exactly_the_largest,
        ledger_entries_are_read_by_half_open_time_range_oldest_first,
        an_invite_code_exists_only_once,
        consuming_an_invite_takes_one_use_and_records_who_took_it,
        the_last_use_of_an_invite_goes_to_exactly_one_of_20_concurrent_consumers,
        a_checkpoint_is_replaced_not_duplicated,
        a_cycle_report_written_again_replaces_the_first_and_reports_list_newest_first,
        an_approval_is_asked_for_once_per_action_and_listed_newest_first,
        of_eight_concurrent_answers_to_one_approval_exactly_one_is_recorded,
        an_approval_expires_unanswered_and_then_cannot_be_answered,
        an_approved_action_is_counted_done_once,
        a_platform_account_belongs_to_one_business_at_a_time,
        of_eight_businesses_linking_one_account_at_once_exactly_one_gets_it,
        usage_counters_sum_concurrent_increments_exactly,
        reads_never_cross_tenants,
        a_closed_store_refuses_further_calls,
        a_shared_store_can_be_handed_out_as_just_the_interface_a_part_uses,
        ledger_totals_sum_each_category_exactly_over_a_half_open_range,
        an_all_time_range_from_the_earliest_to_the_latest_instant_reads_everything,
        products_keep_every_field_and_are_listed_in_id_order,
        products_are_scoped_to_their_tenant,
        product_price_updates_round_trip_exactly,
        a_product_platform_id_and_status_can_be_changed,
        campaigns_start_with_nothing_spent_and_promote_only_their_tenants_products,
        campaigns_are_scoped_to_their_tenant,
        concurrent_campaign_spend_from_10_tasks_sums_exactly,
        social_posts_are_listed_newest_first_and_keep_their_engagement,
        experiences_are_listed_newest_first_and_filtered_by_action_type,
        an_experience_and_its_pattern_are_recorded_once_per_key_even_by_10_concurrent_tasks,
        a_pattern_keeps_a_running_mean_revenue_and_an_exact_success_rate,
        pattern_outcomes_from_10_concurrent_tasks_are_all_counted,
        patterns_are_ranked_by_success_rate_then_mean_revenue,
        a_market_insight_upsert_replaces_the_tenants_insight_on_that_niche,
        agent_memory_is_a_key_value_store_per_agent_whose_puts_replace,
        adapter_state_round_trips_json_per_tenant_and_platform,
        llm_token_totals_group_by_agent_and_model,
        platform_stats_count_everyone_and_window_what_is_recent,
        media_files_are_kept_per_tenant_with_where_their_bytes_are,
        concurrent_uploads_cannot_squeeze_past_the_owners_quota,
        concurrent_campaign_creations_cannot_squeeze_past_the_limit,
        concurrent_store_connections_cannot_squeeze_past_the_limit,
        every_swarm_write_for_a_missing_tenant_is_not_found,
        a_revoked_api_token_is_no_longer_found_by_hash,
        api_tokens_are_listed_only_for_their_owner_and_only_the_owner_can_revoke_them,
        sessions_expire_and_are_deleted_in_bulk,
        an_access_control_replaces_the_active_one_of_its_type,
        platform_settings_round_trip_json,
        a_user_password_hash_can_be_changed,
        deleting_a_user_removes_their_tenants_tokens_sessions_controls_and_counters,
        a_users_tenants_are_listed_page_by_page,
        a_tenant_can_be_updated_only_by_its_owner,
        a_tenant_can_be_deleted_only_by_its_owner,
        a_webhook_delivery_is_new_only_the_first_time_until_it_is_forgotten_or_pruned,
        ten_concurrent_deliveries_of_the_same_id_are_new_exactly_once,
        a_lease_is_held_by_one_node_until_it_lapses_and_each_fresh_claim_has_a_new_epoch,
        eight_nodes_claiming_one_tenant_at_once_leave_it_with_exactly_one,
        a_write_carrying_a_past_epoch_is_refused_whole,
        the_event_log_stamps_a_fenced_tenants_events_and_drops_them_once_the_lease_moved,
        unleased_autopilot_tenants_are_the_active_ones_with_autopilot_on_and_no_live_lease,
        nodes_join_beat_drain_and_leave_handing_back_their_leases,
    ],
    with_db: [
        deleting_a_tenant_removes_its_events_products_and_ledger_rows,
        a_tenant_can_start_as_a_copy_of_another_between_its_cycles,
        the_store_reports_its_backend_and_answers_ping,
        event_sequence_numbers_are_gap_free_across_two_processes,
        expired_disabled_and_unknown_invites_are_rejected,
        connect_reopens_the_same_database_by_url,
        a_product_may_be_stocked_only_in_its_own_tenants_store,
        llm_token_totals_count_only_calls_since_the_given_time,
        concurrent_product_creations_from_two_processes_cannot_squeeze_past_the_limit,
        concurrent_tenant_creations_from_two_processes_cannot_squeeze_past_the_owners_limit,
    ],
}

/// Raw access to the database under test.
enum Db {
    Sqlite { url: String, pool: sqlx::SqlitePool },
    Postgres { url: String, pool: sqlx::PgPool },
}

impl From<&TestSqlite> for Db {
    fn from(db: &TestSqlite) -> Self {
        Db::Sqlite { url: db.url.clone(), pool: db.store.pool().clone() }
    }
}

impl From<&TestPostgres> for Db {
    fn from(db: &TestPostgres) -> Self {
        Db::Postgres { url: db.url.clone(), pool: db.store.pool().clone() }
    }
}

impl Db {
    fn url(&self) -> &str {
        match self {
            Db::Sqlite { url, .. } | Db::Postgres { url, .. } => url,
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Runs SQL that reads the same in both dialects.
    async fn execute(&self, sql: &'static str) {
        match self {
            Db::Sqlite { pool, .. } => sqlx::query(sql).execute(pool).await.map(drop),
            Db::Postgres { pool, .. } => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .expect("raw statement");
    }

    /// Runs a statement built at run time (test data only, never user input).
    async fn execute_owned(&self, sql: String) {
        match self {
            Db::Sqlite { pool, .. } => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(drop),
            Db::Postgres { pool, .. } => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(drop),
        }
        .expect("raw statement");
    }

    /// The single integer `n` that `sql` selects.
    async fn count(&self, sql: String) -> i64 {
        use sqlx::Row;
        match self {
            Db::Sqlite { pool, .. } => {
                sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.and_then(|r| r.try_get("n"))
            }
            Db::Postgres { pool, .. } => {
                sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.and_then(|r| r.try_get("n"))
            }
        }
        .expect("count")
    }

    /// Every foreign key to `tenants`, read from the schema: (table, column, whether
    /// deleting the tenant deletes the row).
    async fn references_to_tenants(&self) -> Vec<(String, String, bool)> {
        use sqlx::Row;
        fn read<R: Row>(rows: Vec<R>) -> Result<Vec<(String, String, bool)>, sqlx::Error>
        where
            for<'n> &'n str: sqlx::ColumnIndex<R>,
            for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            rows.iter()
                .map(|row| {
                    let on_delete: String = row.try_get("on_delete")?;
                    Ok((row.try_get("tbl")?, row.try_get("col")?, on_delete == "CASCADE" || on_delete == "c"))
                })
                .collect()
        }
        match self {
            Db::Sqlite { pool, .. } => sqlx::query(
                "select m.name as tbl, f.\"from\" as col, f.on_delete as on_delete \
                 from sqlite_master m, pragma_foreign_key_list(m.name) f \
                 where m.type = 'table' and f.\"table\" = 'tenants' order by 1",
            )
            .fetch_all(pool)
            .await
            .and_then(read),
            Db::Postgres { pool, .. } => sqlx::query(
                "select c.conrelid::regclass::text as tbl, a.attname::text as col, c.confdeltype::text as on_delete \
                 from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1] \
                 where c.contype = 'f' and c.confrelid = 'tenants'::regclass order by 1",
            )
            .fetch_all(pool)
            .await
            .and_then(read),
        }
        .expect("foreign keys")
    }

    /// Another store on the same database, with its own pool: a second process.
    async fn second_store(&self) -> SharedStore {
        boardroom_memory::connect(self.url()).await.expect("second store")
    }
}

// ---- helpers ----

/// A fixed instant with microseconds (the precision both backends keep).
fn time(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 123_456_000).single().expect("valid time")
}

fn new_user(email: &str) -> NewUser {
    NewUser { email: email.into(), password_hash: "$argon2id$v=19$test".into(), role: Role::User, tier: Tier::Free }
}

async fn user(store: &SharedStore, email: &str) -> User {
    store.create_user(new_user(email)).await.expect("create user")
}

async fn tenant_of(store: &SharedStore, owner: UserId, name: &str) -> Tenant {
    store
        .create_tenant(NewTenant {
            user_id: owner,
            name: name.into(),
            domain: None,
            personality: "coachty".into(),
            settings: json!({}),
        })
        .await
        .expect("create tenant")
}

/// A tenant with an owner of its own.
async fn tenant(store: &SharedStore, name: &str) -> Tenant {
    let owner = user(store, &format!("owner-of-{name}@example.com")).await;
    tenant_of(store, owner.id, name).await
}

fn event(tenant: TenantId, summary: impl Into<String>) -> NewEvent {
    NewEvent {
        tenant_id: tenant,
        occurred_at: time(0),
        actor: "ceo".into(),
        kind: "agent.acted".into(),
        summary: summary.into(),
        data: serde_json::Value::Null,
        revenue_impact: None,
        fence: None,
    }
}

fn ledger_entry(tenant: TenantId, amount: Decimal, transaction_id: Option<&str>, at: DateTime<Utc>) -> NewLedgerEntry {
    NewLedgerEntry {
        tenant_id: tenant,
        source: "sandbox".into(),
        amount,
        category: "revenue".into(),
        transaction_id: transaction_id.map(Into::into),
        metadata: json!({"order": 17}),
        recorded_at: at,
    }
}

fn invite(code: &str, uses: i32, expires_at: Option<DateTime<Utc>>) -> NewInvite {
    NewInvite { code: code.into(), created_by: None, uses, expires_at }
}

/// Every event of a tenant, read page by page.
async fn all_events(store: &SharedStore, tenant: TenantId) -> Vec<SwarmEvent> {
    let mut all = Vec::new();
    loop {
        let page = store.events_after(tenant, all.last().map_or(0, |e: &SwarmEvent| e.seq), 400).await.expect("page");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// The amounts money must survive exactly, as text: scale included.
const AMOUNTS: [&str; 6] =
    ["0.00", "0.01", "-0.10", "12345678901234.5678", "79228162514264337593543950335", "0.0000000000000000000000000001"];

fn is_conflict(result: MemoryResult<impl std::fmt::Debug>, what: &str) -> bool {
    matches!(result, Err(MemoryError::Conflict(ref w)) if w == what)
}

fn is_not_found(result: MemoryResult<impl std::fmt::Debug>, what: &str) -> bool {
    matches!(result, Err(MemoryError::NotFound(ref w)) if w == what)
}

fn rejection<T: std::fmt::Debug>(result: MemoryResult<T>) -> InviteRejection {
    match result {
        Err(MemoryError::InviteRejected(why)) => why,
        other => panic!("expected an invite rejection, got {other:?}"),
    }
}

// ---- the store itself ----

async fn the_store_reports_its_backend_and_answers_ping(store: SharedStore, db: Db) {
    assert_eq!(store.backend(), db.backend());
    store.ping().await.expect("ping");
}

async fn a_shared_store_can_be_handed_out_as_just_the_interface_a_part_uses(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    // A part that only appends events asks for an EventStore, and a Store is one.
    let events: Arc<dyn EventStore> = store.clone();
    events.append_events(&[event(shop, "hello")]).await.expect("append");
    let ledger: Arc<dyn LedgerStore> = store.clone();
    assert!(ledger.checkpoint(shop).await.expect("read").is_none());
    assert_eq!(store.last_event_seq(shop).await.expect("seq"), 1);
}

async fn a_closed_store_refuses_further_calls(store: SharedStore) {
    store.ping().await.expect("ping while open");
    store.close().await;
    assert!(store.ping().await.is_err());
    assert!(store.count_users().await.is_err());
}

async fn connect_reopens_the_same_database_by_url(store: SharedStore, db: Db) {
    let alice = user(&store, "alice@example.com").await;
    let again = db.second_store().await;
    assert_eq!(again.backend(), store.backend());
    assert_eq!(again.user(alice.id).await.expect("read"), Some(alice));
    again.close().await;
}

// ---- money ----

async fn money_round_trips_exactly_through_the_ledger(store: SharedStore) {
    let shop = tenant(&store, "shop").await;
    for (index, text) in AMOUNTS.iter().enumerate() {
        let amount = Decimal::from_str(text).expect("decimal");
        let booked = store
            .record_ledger_entry(ledger_entry(shop.id, amount, Some(&format!("tx-{index}")), time(index as i64)))
            .await
            .expect("book");
        assert_eq!(booked.amount.to_string(), *text, "as booked");
        assert_eq!(booked.amount.scale(), amount.scale());
    }
    let read = store.ledger_entries(shop.id, time(0), time(100)).await.expect("read");
    let texts: Vec<String> = read.iter().map(|entry| entry.amount.to_string()).collect();
    assert_eq!(texts, AMOUNTS);
}

async fn money_round_trips_exactly_through_event_revenue_impact(store: SharedStore) {
    let shop = tenant(&store, "shop").await;
    let mut batch: Vec<NewEvent> = AMOUNTS
        .iter()
        .map(|text| event(shop.id, *text).with_revenue_impact(Decimal::from_str(text).expect("decimal")))
        .collect();
    batch.push(event(shop.id, "no money involved"));
    let stored = store.append_events(&batch).await.expect("append");
    let read = all_events(&store, shop.id).await;
    assert_eq!(read, stored);
    for (index, text) in AMOUNTS.iter().enumerate() {
        assert_eq!(read[index].revenue_impact.map(|d| d.to_string()).as_deref(), Some(*text));
    }
    assert_eq!(read[AMOUNTS.len()].revenue_impact, None);
}

// ---- the event log ----

async fn event_sequence_numbers_start_at_one_for_each_tenant_and_follow_input_order(store: SharedStore) {
    let a = tenant(&store, "a").await.id;
    let b = tenant(&store, "b").await.id;
    assert_eq!(store.last_event_seq(a).await.expect("seq"), 0);
    assert!(store.append_events(&[]).await.expect("empty batch").is_empty());

    let batch = [event(b, "b1"), event(a, "a1"), event(b, "b2"), event(a, "a2"), event(a, "a3")];
    let stored = store.append_events(&batch).await.expect("append");
    let got: Vec<(TenantId, i64, &str)> = stored.iter().map(|e| (e.tenant_id, e.seq, e.summary.as_str())).collect();
    assert_eq!(got, vec![(b, 1, "b1"), (a, 1, "a1"), (b, 2, "b2"), (a, 2, "a2"), (a, 3, "a3")]);

    let next = store.append_events(&[event(a, "a4")]).await.expect("append");
    assert_eq!(next[0].seq, 4);
    assert_eq!(store.last_event_seq(a).await.expect("seq"), 4);
    assert_eq!(store.last_event_seq(b).await.expect("seq"), 2);
}

/// 16 tasks append batches of varied sizes for 3 tenants at once, spread over `stores`;
/// afterwards each tenant's log must be numbered 1..=n with every appended event in it
/// exactly once, under the number its append returned.
async fn hammer_the_event_log(stores: Vec<SharedStore>, tenants: [TenantId; 3]) {
    let mut tasks = Vec::new();
    for task in 0..16_usize {
        let store = stores[task % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut appended = Vec::new();
            for round in 0..12_usize {
                let size = 1 + (task * 7 + round * 13) % 40;
                let batch: Vec<NewEvent> = (0..size)
                    .map(|item| event(tenants[(task + round + item) % 3], format!("t{task} r{round} i{item}")))
                    .collect();
                let stored = store.append_events(&batch).await.expect("concurrent append");
                assert_eq!(stored.len(), batch.len());
                for (sent, got) in batch.iter().zip(&stored) {
                    assert_eq!((sent.tenant_id, &sent.summary), (got.tenant_id, &got.summary), "input order");
                }
                appended.extend(stored);
            }
            appended
        }));
    }
    let mut appended = Vec::new();
    for task in tasks {
        appended.extend(task.await.expect("task"));
    }
    let reader = &stores[0];
    for tenant in tenants {
        let mut mine: Vec<(i64, String)> =
            appended.iter().filter(|e| e.tenant_id == tenant).map(|e| (e.seq, e.summary.clone())).collect();
        mine.sort();
        let stored: Vec<(i64, String)> =
            all_events(reader, tenant).await.into_iter().map(|e| (e.seq, e.summary)).collect();
        let expected_seqs: Vec<i64> = (1..=mine.len() as i64).collect();
        assert_eq!(stored.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), expected_seqs, "gap-free, no duplicates");
        assert_eq!(stored, mine, "each event stored under the number its append returned");
        assert_eq!(reader.last_event_seq(tenant).await.expect("seq"), mine.len() as i64);
    }
}

async fn event_sequence_numbers_are_gap_free_under_concurrent_appends(store: SharedStore) {
    let tenants = [tenant(&store, "a").await.id, tenant(&store, "b").await.id, tenant(&store, "c").await.id];
    hammer_the_event_log(vec![store], tenants).await;
}

async fn event_sequence_numbers_are_gap_free_across_two_processes(store: SharedStore, db: Db) {
    let tenants = [tenant(&store, "a").await.id, tenant(&store, "b").await.id, tenant(&store, "c").await.id];
    let other = db.second_store().await;
    hammer_the_event_log(vec![store, other.clone()], tenants).await;
    other.close().await;
}

async fn events_after_pages_through_one_tenant_log_oldest_first(store: SharedStore) {
    let mine = tenant(&store, "mine").await.id;
    let noisy = tenant(&store, "noisy").await.id;
    let batch: Vec<NewEvent> =
        (0..250).flat_map(|i| [event(mine, format!("m{i}")), event(noisy, format!("n{i}"))]).collect();
    store.append_events(&batch).await.expect("append");

    let mut after = 0;
    let mut sizes = Vec::new();
    loop {
        let page = store.events_after(mine, after, 100).await.expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.iter().all(|e| e.tenant_id == mine));
        let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (after + 1..=after + page.len() as i64).collect::<Vec<_>>());
        assert_eq!(page[0].summary, format!("m{after}"));
        sizes.push(page.len());
        after = page[page.len() - 1].seq;
    }
    assert_eq!(sizes, vec![100, 100, 50]);
    assert!(store.events_after(mine, 250, 100).await.expect("past the end").is_empty());
    assert!(store.events_after(mine, 0, 0).await.expect("limit 0").is_empty());
    assert_eq!(store.events_after(mine, 249, 100).await.expect("tail")[0].summary, "m249");
}

async fn events_keep_their_time_text_and_data(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let sent = NewEvent {
        tenant_id: shop,
        occurred_at: time(42),
        actor: "pricing".into(),
        kind: "price.changed".into(),
        summary: "Raised «Mug» to 12 € — ünïcödé ✓".into(),
        data: json!({"product": 7, "old": "9.99", "new": "12.00", "tags": ["a", "b"], "nested": {"ok": true}}),
        revenue_impact: Some(Decimal::new(-250, 2)),
        fence: None,
    };
    let stored = store.append_events(std::slice::from_ref(&sent)).await.expect("append");
    let read = store.events_after(shop, 0, 10).await.expect("read");
    assert_eq!(read, stored);
    let got = &read[0];
    assert_eq!(
        (got.occurred_at, &got.actor, &got.kind, &got.summary, &got.data, got.revenue_impact),
        (sent.occurred_at, &sent.actor, &sent.kind, &sent.summary, &sent.data, sent.revenue_impact)
    );
}

async fn large_batches_are_stored_whole_across_several_insert_statements(store: SharedStore) {
    let big = tenant(&store, "big").await.id;
    let small = tenant(&store, "small").await.id;
    let batch: Vec<NewEvent> =
        (0..5000).map(|i| event(if i % 1000 == 999 { small } else { big }, format!("e{i}"))).collect();
    let stored = store.append_events(&batch).await.expect("append");
    assert_eq!(stored.len(), 5000);
    assert_eq!(store.last_event_seq(big).await.expect("seq"), 4995);
    assert_eq!(store.last_event_seq(small).await.expect("seq"), 5);
    let read = all_events(&store, big).await;
    assert_eq!(read.len(), 4995);
    assert_eq!(read[4994].summary, "e4998");
}

async fn a_batch_with_an_unknown_tenant_is_refused_whole(store: SharedStore) {
    let known = tenant(&store, "known").await.id;
    let refused = store.append_events(&[event(known, "fine"), event(TenantId(987_654), "orphan")]).await;
    assert!(is_not_found(refused, "tenant"));
    assert_eq!(store.last_event_seq(known).await.expect("seq"), 0, "nothing of the batch was kept");
    let stored = store.append_events(&[event(known, "first")]).await.expect("append");
    assert_eq!(stored[0].seq, 1, "the refused batch used up no numbers");
}

// ---- users ----

async fn emails_are_stored_lower_case_and_unique_regardless_of_case(store: SharedStore) {
    let alice = store.create_user(new_user("Alice@Example.COM")).await.expect("create");
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(store.user_by_email("ALICE@example.com").await.expect("lookup"), Some(alice.clone()));
    assert_eq!(store.user_by_email("alice@example.com").await.expect("lookup"), Some(alice));
    assert!(is_conflict(store.create_user(new_user("alice@EXAMPLE.com")).await, "email"));
    assert_eq!(store.user_by_email("bob@example.com").await.expect("lookup"), None);
    assert_eq!(store.count_users().await.expect("count"), 1);
}

async fn the_first_user_is_admin_even_under_8_concurrent_sign_ups(store: SharedStore) {
    let sign_ups: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create_user_first_is_admin(new_user(&format!("u{i}@example.com"))).await })
        })
        .collect();
    let mut users = Vec::new();
    for sign_up in sign_ups {
        users.push(sign_up.await.expect("task").expect("sign up"));
    }
    assert_eq!(users.iter().filter(|u| u.role == Role::Admin).count(), 1, "exactly one admin");
    assert_eq!(store.count_users().await.expect("count"), 8);
    let late = store.create_user_first_is_admin(new_user("late@example.com")).await.expect("sign up");
    assert_eq!(late.role, Role::User);
    assert!(is_conflict(store.create_user_first_is_admin(new_user("U0@example.com")).await, "email"));
}

async fn users_are_listed_in_id_order_page_by_page(store: SharedStore) {
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(user(&store, &format!("user{i}@example.com")).await);
    }
    let first = store.list_users(None, 2).await.expect("page");
    let second = store.list_users(Some(first[1].id), 2).await.expect("page");
    let third = store.list_users(Some(second[1].id), 2).await.expect("page");
    let fourth = store.list_users(Some(third[0].id), 2).await.expect("page");
    let listed: Vec<User> = [first, second, third.clone()].concat();
    assert_eq!(listed, created);
    assert_eq!(third.len(), 1);
    assert!(fourth.is_empty());
    assert!(store.list_users(None, 0).await.expect("limit 0").is_empty());
    assert_eq!(store.count_users().await.expect("count"), 5);
}

async fn a_user_role_tier_and_last_login_can_be_changed(store: SharedStore) {
    let bob = user(&store, "bob@example.com").await;
    assert_eq!((bob.role, bob.tier, bob.last_login), (Role::User, Tier::Free, None));
    store.set_user_role(bob.id, Role::Admin).await.expect("role");
    store.set_user_tier(bob.id, Tier::Enterprise).await.expect("tier");
    store.touch_last_login(bob.id, time(5)).await.expect("login");
    let now = store.user(bob.id).await.expect("read").expect("exists");
    assert_eq!((now.role, now.tier, now.last_login), (Role::Admin, Tier::Enterprise, Some(time(5))));
    assert_eq!((now.email, now.password_hash, now.created_at), (bob.email, bob.password_hash, bob.created_at));

    let ghost = UserId(424_242);
    assert_eq!(store.user(ghost).await.expect("read"), None);
    assert!(is_not_found(store.set_user_role(ghost, Role::Admin).await, "user"));
    assert!(is_not_found(store.set_user_tier(ghost, Tier::Pro).await, "user"));
    assert!(is_not_found(store.touch_last_login(ghost, time(0)).await, "user"));
}

// ---- tenants ----

async fn tenants_belong_to_users_and_can_be_disabled(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let settings = json!({"autopilot_minutes": 30, "overrides": {"pricing": "off"}});
    let shop = store
        .create_tenant(NewTenant {
            user_id: ann.id,
            name: "Ann's Mugs".into(),
            domain: Some("mugs.example".into()),
            personality: "stoic".into(),
            settings: settings.clone(),
        })
        .await
        .expect("create");
    assert_eq!(
        (
            shop.user_id,
            shop.name.as_str(),
            shop.domain.as_deref(),
            shop.personality.as_str(),
            &shop.settings,
            shop.is_active
        ),
        (ann.id, "Ann's Mugs", Some("mugs.example"), "stoic", &settings, true)
    );
    let blog = tenant_of(&store, ann.id, "blog").await;
    let bens = tenant_of(&store, ben.id, "ben's").await;

    assert_eq!(store.tenant(shop.id).await.expect("read"), Some(shop.clone()));
    assert_eq!(store.tenants_of_user(ann.id).await.expect("of ann"), vec![shop.clone(), blog.clone()]);
    assert_eq!(store.tenants_of_user(ben.id).await.expect("of ben"), vec![bens.clone()]);
    let page = store.list_tenants(None, 2).await.expect("page");
    assert_eq!(page, vec![shop.clone(), blog.clone()]);
    assert_eq!(store.list_tenants(Some(blog.id), 2).await.expect("page"), vec![bens]);

    store.set_tenant_active(shop.id, false).await.expect("disable");
    assert!(!store.tenant(shop.id).await.expect("read").expect("exists").is_active);
    store.set_tenant_active(shop.id, true).await.expect("enable");
    assert!(store.tenant(shop.id).await.expect("read").expect("exists").is_active);

    assert_eq!(store.tenant(TenantId(777_777)).await.expect("read"), None);
    assert!(is_not_found(store.set_tenant_active(TenantId(777_777), false).await, "tenant"));
    let orphan = NewTenant {
        user_id: UserId(555_555),
        name: "orphan".into(),
        domain: None,
        personality: "coachty".into(),
        settings: json!({}),
    };
    assert!(is_not_found(store.create_tenant(orphan).await, "user"));
}

// ---- the ledger ----

async fn a_transaction_id_is_booked_only_once_per_tenant(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let ten = Decimal::new(1000, 2);
    store.record_ledger_entry(ledger_entry(shop, ten, Some("ch_1"), time(1))).await.expect("book");
    assert!(is_conflict(
        store.record_ledger_entry(ledger_entry(shop, ten, Some("ch_1"), time(2))).await,
        "transaction_id"
    ));
    store.record_ledger_entry(ledger_entry(other, ten, Some("ch_1"), time(1))).await.expect("other tenant, same id");
    store.record_ledger_entry(ledger_entry(shop, ten, None, time(3))).await.expect("no id");
    store.record_ledger_entry(ledger_entry(shop, ten, None, time(4))).await.expect("no id again");
    let booked = store.ledger_entries(shop, time(0), time(10)).await.expect("read");
    assert_eq!(booked.len(), 3);
    assert_eq!(booked.iter().filter(|e| e.transaction_id.as_deref() == Some("ch_1")).count(), 1);
    assert!(is_not_found(
        store.record_ledger_entry(ledger_entry(TenantId(31_337), ten, None, time(1))).await,
        "tenant"
    ));
}

fn running_total(tenant: TenantId, series: &str, total: Decimal) -> NewLedgerTotal {
    NewLedgerTotal {
        tenant_id: tenant,
        source: "stripe".into(),
        category: "refund".into(),
        series: series.into(),
        total,
        metadata: json!({ "reported": total.to_string() }),
        recorded_at: time(1),
    }
}

async fn a_running_total_is_booked_as_what_it_adds_and_a_stale_one_adds_nothing(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let series = "stripe:ch_1:refunded";
    let book = |tenant, series, cents| store.record_ledger_total(running_total(tenant, series, Decimal::new(cents, 2)));

    let first = book(shop, series, -500).await.expect("book").expect("a row");
    let second = book(shop, series, -1200).await.expect("book").expect("a row");
    let repeated = book(shop, series, -1200).await.expect("book");
    let stale = book(shop, series, -500).await.expect("book");
    // Neighbouring series, by prefix and by pattern characters, are their own.
    book(shop, "stripe:ch_1:refunded_x", -300).await.expect("book").expect("its own row");
    book(shop, "stripe:ch_%", -100).await.expect("book").expect("its own row");
    let elsewhere = book(other, series, -1200).await.expect("book").expect("another tenant's row");

    assert_eq!((first.amount, second.amount), (Decimal::new(-500, 2), Decimal::new(-700, 2)));
    assert_eq!(second.transaction_id.as_deref(), Some("stripe:ch_1:refunded:-12"));
    assert_eq!((second.category.as_str(), &second.metadata), ("refund", &json!({ "reported": "-12.00" })));
    assert_eq!((repeated, stale), (None, None), "the same total, or an older one, adds nothing");
    assert_eq!(elsewhere.amount, Decimal::new(-1200, 2));
    let booked: Decimal = store
        .ledger_entries(shop, time(0), time(10))
        .await
        .expect("read")
        .iter()
        .filter(|entry| entry.transaction_id.as_deref().is_some_and(|id| id.starts_with("stripe:ch_1:refunded:")))
        .map(|entry| entry.amount)
        .sum();
    assert_eq!(booked, Decimal::new(-1200, 2));
    // Money in grows the other way.
    let revenue = store.record_ledger_total(running_total(shop, "captured", Decimal::new(900, 2))).await;
    assert_eq!(revenue.expect("book").map(|row| row.amount), Some(Decimal::new(900, 2)));
    assert!(is_not_found(
        store.record_ledger_total(running_total(TenantId(31_337), series, Decimal::ONE)).await,
        "tenant"
    ));
}

async fn eight_concurrent_reports_of_a_growing_total_book_exactly_the_largest(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let tasks: Vec<_> = (1..=8)
        .map(|step| {
            let store = store.clone();
            tokio::spawn(async move {
                let total = Decimal::new(-250 * step, 2);
                store.record_ledger_total(running_total(shop, "stripe:ch_9:refunded", total)).await.expect("book")
            })
        })
        .collect();
    let mut rows = Vec::new();
    for task in tasks {
        rows.extend(task.await.expect("task"));
    }
    let booked: Decimal = rows.iter().map(|row| row.amount).sum();
    assert_eq!(booked, Decimal::new(-2000, 2), "the largest total, booked once: {rows:?}");
    assert!(rows.iter().all(|row| row.amount.is_sign_negative()), "{rows:?}");
    let stored: Decimal =
        store.ledger_entries(shop, time(0), time(10)).await.expect("read").iter().map(|e| e.amount).sum();
    assert_eq!(stored, Decimal::new(-2000, 2));
}

/// "All time" written the obvious way (`MIN_UTC..MAX_UTC`) must work on both backends:
/// PostgreSQL cannot hold year -262143, and the autopilot's reinvestment step asks for
/// exactly that range.
async fn an_all_time_range_from_the_earliest_to_the_latest_instant_reads_everything(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let (earliest, latest) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    store.record_ledger_entry(ledger_entry(shop, Decimal::new(150, 2), Some("tx-1"), time(1))).await.expect("book");
    store.record_ledger_entry(ledger_entry(shop, Decimal::new(250, 2), Some("tx-2"), time(2))).await.expect("book");
    assert_eq!(store.ledger_entries(shop, earliest, latest).await.expect("entries").len(), 2);
    assert_eq!(
        store.ledger_totals(shop, earliest, latest).await.expect("totals"),
        vec![("revenue".to_owned(), Decimal::new(400, 2))]
    );
    store
        .record_llm_call(NewLlmCall {
            tenant_id: shop,
            agent: "pricing".into(),
            model: "test/model".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            outcome: "ok".into(),
        })
        .await
        .expect("llm call");
    assert_eq!(store.llm_token_totals(shop, earliest).await.expect("totals").len(), 1);
    assert!(store.llm_token_totals(shop, latest).await.expect("nothing after the end").is_empty());
    assert_eq!(store.delete_expired_sessions(earliest).await.expect("nothing expired before time began"), 0);
    assert!(store.platform_stats(earliest, "2026-11").await.is_ok());
}

async fn ledger_entries_are_read_by_half_open_time_range_oldest_first(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let mut booked = Vec::new();
    for (tx, at) in [("late", 20), ("early", 0), ("middle", 10), ("edge", 30)] {
        let entry = ledger_entry(shop, Decimal::new(at + 1, 1), Some(tx), time(at));
        let stored = store.record_ledger_entry(entry.clone()).await.expect("book");
        assert_eq!(
            (
                stored.tenant_id,
                &stored.source,
                stored.amount,
                &stored.category,
                &stored.transaction_id,
                &stored.metadata,
                stored.recorded_at
            ),
            (
                entry.tenant_id,
                &entry.source,
                entry.amount,
                &entry.category,
                &entry.transaction_id,
                &entry.metadata,
                entry.recorded_at
            )
        );
        booked.push(stored);
    }
    let read = store.ledger_entries(shop, time(0), time(30)).await.expect("read");
    let order: Vec<&str> = read.iter().filter_map(|e| e.transaction_id.as_deref()).collect();
    assert_eq!(order, vec!["early", "middle", "late"], "from inclusive, to exclusive, oldest first");
    assert_eq!(read[0], booked[1]);
    assert!(store.ledger_entries(shop, time(30), time(30)).await.expect("empty range").is_empty());
    let edge = store.ledger_entries(shop, time(30), time(30) + Duration::microseconds(1)).await.expect("edge");
    assert_eq!(edge, vec![booked[3].clone()]);
}

// ---- invites ----

async fn an_invite_code_exists_only_once(store: SharedStore) {
    store.create_invite(invite("WELCOME", 1, None)).await.expect("create");
    assert!(is_conflict(store.create_invite(invite("WELCOME", 5, None)).await, "code"));
    assert_eq!(store.list_invites().await.expect("list").len(), 1);
}

async fn consuming_an_invite_takes_one_use_and_records_who_took_it(store: SharedStore) {
    let admin = user(&store, "admin@example.com").await;
    let guest = user(&store, "guest@example.com").await;
    let made = store
        .create_invite(NewInvite {
            code: "TWO-USES".into(),
            created_by: Some(admin.id),
            uses: 2,
            expires_at: Some(time(1000)),
        })
        .await
        .expect("create");
    assert_eq!(
        (made.uses_remaining, made.created_by, made.used_by, made.used_at, made.is_active),
        (2, Some(admin.id), None, None, true)
    );

    let checked = store.check_invite("TWO-USES", time(0)).await.expect("check");
    assert_eq!(checked, made, "checking does not use it");
    let used = store.consume_invite("TWO-USES", guest.id, time(1)).await.expect("first use");
    assert_eq!((used.uses_remaining, used.used_by, used.used_at), (1, Some(guest.id), Some(time(1))));
    let used = store.consume_invite("TWO-USES", admin.id, time(2)).await.expect("second use");
    assert_eq!((used.uses_remaining, used.used_by), (0, Some(admin.id)));
    assert_eq!(rejection(store.consume_invite("TWO-USES", guest.id, time(3)).await), InviteRejection::Exhausted);
    assert_eq!(rejection(store.check_invite("TWO-USES", time(3)).await), InviteRejection::Exhausted);
    assert_eq!(store.list_invites().await.expect("list"), vec![used]);
}

async fn the_last_use_of_an_invite_goes_to_exactly_one_of_20_concurrent_consumers(store: SharedStore) {
    store.create_invite(invite("ONCE", 1, None)).await.expect("create");
    let mut guests = Vec::new();
    for i in 0..20 {
        guests.push(user(&store, &format!("guest{i}@example.com")).await.id);
    }
    let consumers: Vec<_> = guests
        .into_iter()
        .map(|guest| {
            let store = store.clone();
            tokio::spawn(async move { store.consume_invite("ONCE", guest, time(0)).await })
        })
        .collect();
    let mut winners = 0;
    for consumer in consumers {
        match consumer.await.expect("task") {
            Ok(invite) => {
                winners += 1;
                assert_eq!(invite.uses_remaining, 0);
            }
            refused => assert_eq!(rejection(refused), InviteRejection::Exhausted),
        }
    }
    assert_eq!(winners, 1);
}

async fn expired_disabled_and_unknown_invites_are_rejected(store: SharedStore, db: Db) {
    let guest = user(&store, "guest@example.com").await;
    store.create_invite(invite("OLD", 3, Some(time(100)))).await.expect("create");
    store.create_invite(invite("DISABLED", 3, None)).await.expect("create");
    store.create_invite(invite("FRESH", 3, Some(time(100)))).await.expect("create");
    db.execute("update invite_codes set is_active = false where code = 'DISABLED'").await;

    assert_eq!(rejection(store.consume_invite("OLD", guest.id, time(101)).await), InviteRejection::Expired);
    assert_eq!(
        rejection(store.consume_invite("OLD", guest.id, time(100)).await),
        InviteRejection::Expired,
        "expiry instant itself"
    );
    assert_eq!(rejection(store.check_invite("OLD", time(101)).await), InviteRejection::Expired);
    assert_eq!(rejection(store.consume_invite("DISABLED", guest.id, time(0)).await), InviteRejection::Inactive);
    assert_eq!(rejection(store.check_invite("DISABLED", time(0)).await), InviteRejection::Inactive);
    assert_eq!(rejection(store.consume_invite("NOPE", guest.id, time(0)).await), InviteRejection::Unknown);
    assert_eq!(rejection(store.check_invite("NOPE", time(0)).await), InviteRejection::Unknown);
    assert_eq!(store.consume_invite("FRESH", guest.id, time(99)).await.expect("before expiry").uses_remaining, 2);

    let listed = store.list_invites().await.expect("list");
    let codes: Vec<(&str, i32, bool)> =
        listed.iter().map(|i| (i.code.as_str(), i.uses_remaining, i.is_active)).collect();
    assert_eq!(codes, vec![("OLD", 3, true), ("DISABLED", 3, false), ("FRESH", 2, true)], "refusals take no use");
}

// ---- checkpoints ----

async fn a_checkpoint_is_replaced_not_duplicated(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    assert_eq!(store.checkpoint(shop).await.expect("read"), None);
    let first =
        Checkpoint { tenant_id: shop, cycle: 1, step: "research".into(), state: json!({}), updated_at: time(1) };
    store.save_checkpoint(&first).await.expect("save");
    assert_eq!(store.checkpoint(shop).await.expect("read"), Some(first));
    let second = Checkpoint {
        tenant_id: shop,
        cycle: 2,
        step: "pricing".into(),
        state: json!({"research": {"niche": "mugs"}}),
        updated_at: time(2),
    };
    store.save_checkpoint(&second).await.expect("replace");
    assert_eq!(store.checkpoint(shop).await.expect("read"), Some(second));
    assert_eq!(store.checkpoint(other).await.expect("read"), None);
    let orphan = Checkpoint {
        tenant_id: TenantId(123_456),
        cycle: 1,
        step: "x".into(),
        state: json!(null),
        updated_at: time(0),
    };
    assert!(is_not_found(store.save_checkpoint(&orphan).await, "tenant"));
}

// ---- cycle reports ----

fn cycle_report(tenant: TenantId, cycle: i64, headline: &str) -> CycleReport {
    CycleReport {
        tenant_id: tenant,
        cycle,
        headline: headline.into(),
        minutes: format!("Day {cycle} closed.\n\nWe listed \"Sunrise Mug\" at $29.00."),
        data: json!({ "day": cycle, "outcome": { "revenue": "312.40", "net": "-0.10" } }),
        source: "offline".into(),
        written_at: time(cycle),
    }
}

async fn a_cycle_report_written_again_replaces_the_first_and_reports_list_newest_first(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    assert!(store.cycle_reports(shop, None, 10).await.expect("read").is_empty());
    for cycle in 1..=5 {
        store.save_cycle_report(&cycle_report(shop, cycle, &format!("day {cycle}"))).await.expect("save");
    }
    store.save_cycle_report(&cycle_report(other, 1, "another business")).await.expect("save");

    // A resumed cycle writes its report again: the second write replaces the first.
    let rewritten = CycleReport { source: "llm:test/model".into(), ..cycle_report(shop, 3, "day 3, again") };
    store.save_cycle_report(&rewritten).await.expect("write again");

    let all = store.cycle_reports(shop, None, 10).await.expect("read");
    assert_eq!(all.iter().map(|r| r.cycle).collect::<Vec<_>>(), [5, 4, 3, 2, 1], "one per cycle, newest first");
    assert_eq!(all[2], rewritten, "every field round-trips, money text and time included");
    assert_eq!(all[0], cycle_report(shop, 5, "day 5"));

    let page = store.cycle_reports(shop, Some(4), 2).await.expect("page");
    assert_eq!(page.iter().map(|r| r.cycle).collect::<Vec<_>>(), [3, 2], "`before` is exclusive");
    assert!(store.cycle_reports(shop, Some(1), 10).await.expect("read").is_empty());
    assert!(store.cycle_reports(shop, None, 0).await.expect("read").is_empty());
    let others = store.cycle_reports(other, None, 10).await.expect("read");
    assert_eq!(others.iter().map(|r| r.headline.as_str()).collect::<Vec<_>>(), ["another business"]);
}

// ---- approvals ----

fn approval(tenant: TenantId, action_key: &str, amount: &str, requested: i64, expires: i64) -> NewApproval {
    NewApproval {
        tenant_id: tenant,
        action_key: action_key.into(),
        kind: "ad_flight".into(),
        summary: format!("Launch {action_key}"),
        amount: money(amount),
        expected: json!({ "revenue": "300.10" }),
        action: json!({ "daily_budget": "20.00", "days": 7 }),
        requested_at: time(requested),
        expires_at: time(expires),
    }
}

async fn an_approval_is_asked_for_once_per_action_and_listed_newest_first(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let (first, created) = store.request_approval(approval(shop, "flight:1", "140.00", 0, 100)).await.expect("ask");
    assert!(created);
    assert_eq!((first.status, first.amount, first.decided_at), (ApprovalStatus::Pending, money("140.00"), None));
    assert_eq!(first.expected, json!({ "revenue": "300.10" }));
    assert_eq!(first.expires_at, time(100));

    // The next cycle wants the same flight: it finds the request, it does not ask again.
    let (again, created) = store.request_approval(approval(shop, "flight:1", "150.00", 5, 200)).await.expect("ask");
    assert!(!created);
    assert_eq!(again, first, "the first request stands as it was");

    let (second, _) = store.request_approval(approval(shop, "flight:2", "0.10", 1, 100)).await.expect("ask");
    store.request_approval(approval(other, "flight:1", "9.99", 0, 100)).await.expect("another business asks");
    let listed = store.approvals(shop, None, 10).await.expect("list");
    assert_eq!(listed.iter().map(|a| a.id).collect::<Vec<_>>(), [second.id, first.id], "newest first, own only");
    assert_eq!(store.approvals(shop, None, 1).await.expect("list").len(), 1);
    assert!(store.approvals(shop, Some(ApprovalStatus::Approved), 10).await.expect("list").is_empty());
    assert_eq!(store.approval_tenant(first.id).await.expect("owner"), Some(shop));
    assert_eq!(store.approval_tenant(i64::MAX).await.expect("owner"), None);
    assert!(is_not_found(
        store.request_approval(approval(TenantId(i64::MAX), "flight:1", "1", 0, 100)).await,
        "tenant"
    ));
}

async fn of_eight_concurrent_answers_to_one_approval_exactly_one_is_recorded(store: SharedStore) {
    let owner = user(&store, "owner@example.com").await;
    let shop = tenant_of(&store, owner.id, "shop").await.id;
    let (asked, _) = store.request_approval(approval(shop, "flight:1", "140.00", 0, 4_000_000_000)).await.expect("ask");
    let answers = futures::future::join_all((0..8).map(|n| {
        let store = store.clone();
        let decision = if n % 2 == 0 { ApprovalDecision::Approve } else { ApprovalDecision::Reject };
        async move { store.decide_approval(shop, asked.id, decision, owner.id, time(10)).await.expect("answer") }
    }))
    .await;
    let recorded: Vec<&Approval> = answers
        .iter()
        .filter_map(|answer| match answer {
            ApprovalAnswer::Recorded(approval) => Some(approval),
            ApprovalAnswer::TooLate(_) => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{answers:?}");
    let winner = recorded[0].clone();
    assert!(matches!(winner.status, ApprovalStatus::Approved | ApprovalStatus::Rejected));
    assert_eq!((winner.decided_at, winner.decided_by), (Some(time(10)), Some(owner.id)));
    for answer in &answers {
        if let ApprovalAnswer::TooLate(late) = answer {
            assert_eq!(late, &winner, "the late answers see the one recorded");
        }
    }
    // Another business cannot answer it, even knowing its id.
    let other = tenant_of(&store, owner.id, "other").await.id;
    assert!(is_not_found(
        store.decide_approval(other, asked.id, ApprovalDecision::Approve, owner.id, time(10)).await,
        "approval"
    ));
}

async fn an_approval_expires_unanswered_and_then_cannot_be_answered(store: SharedStore) {
    let owner = user(&store, "owner@example.com").await;
    let shop = tenant_of(&store, owner.id, "shop").await.id;
    let (early, _) = store.request_approval(approval(shop, "flight:1", "140.00", 0, 100)).await.expect("ask");
    let (late, _) = store.request_approval(approval(shop, "flight:2", "140.00", 0, 300)).await.expect("ask");
    assert!(store.expire_approvals(shop, time(99)).await.expect("expire").is_empty(), "not yet");
    let expired = store.expire_approvals(shop, time(100)).await.expect("expire");
    assert_eq!(expired.iter().map(|a| (a.id, a.status)).collect::<Vec<_>>(), [(early.id, ApprovalStatus::Expired)]);
    assert!(store.expire_approvals(shop, time(100)).await.expect("expire").is_empty(), "each expires once");
    let answer = store.decide_approval(shop, early.id, ApprovalDecision::Approve, owner.id, time(150)).await;
    assert!(matches!(answer, Ok(ApprovalAnswer::TooLate(ref a)) if a.status == ApprovalStatus::Expired), "{answer:?}");

    // An answer after the expiry that nobody noticed yet finds it expired too.
    let answer = store.decide_approval(shop, late.id, ApprovalDecision::Approve, owner.id, time(300)).await;
    assert!(matches!(answer, Ok(ApprovalAnswer::TooLate(ref a)) if a.status == ApprovalStatus::Expired), "{answer:?}");
    let stored = store.approvals(shop, Some(ApprovalStatus::Expired), 10).await.expect("list");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|a| a.decided_by.is_none()));
}

async fn an_approved_action_is_counted_done_once(store: SharedStore) {
    let owner = user(&store, "owner@example.com").await;
    let shop = tenant_of(&store, owner.id, "shop").await.id;
    let (asked, _) = store.request_approval(approval(shop, "flight:1", "140.00", 0, 100)).await.expect("ask");
    assert!(!store.complete_approval(shop, asked.id).await.expect("done"), "not approved yet");
    store.decide_approval(shop, asked.id, ApprovalDecision::Approve, owner.id, time(5)).await.expect("approve");
    assert!(store.complete_approval(shop, asked.id).await.expect("done"));
    assert!(!store.complete_approval(shop, asked.id).await.expect("done"), "only once");
    let done = store.approvals(shop, None, 10).await.expect("list");
    assert_eq!((done[0].status, done[0].decided_at), (ApprovalStatus::Done, Some(time(5))));
}

// ---- platform accounts ----

async fn a_platform_account_belongs_to_one_business_at_a_time(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    assert_eq!(store.platform_account_tenant("shopify", "mugs.myshopify.com").await.expect("read"), None);
    store.link_platform_account("shopify", "mugs.myshopify.com", shop, "store-1", time(0)).await.expect("link");
    // Connected again by the same business (a new store record): still its.
    store.link_platform_account("shopify", "mugs.myshopify.com", shop, "store-2", time(1)).await.expect("relink");
    assert!(is_conflict(
        store.link_platform_account("shopify", "mugs.myshopify.com", other, "store-3", time(2)).await,
        "account"
    ));
    assert_eq!(store.platform_account_tenant("shopify", "mugs.myshopify.com").await.expect("read"), Some(shop));
    // The same name on another platform is another account.
    store.link_platform_account("stripe", "mugs.myshopify.com", other, "store-3", time(2)).await.expect("link");
    assert_eq!(store.platform_account_tenant("stripe", "mugs.myshopify.com").await.expect("read"), Some(other));
    assert!(is_not_found(
        store.link_platform_account("shopify", "tea.myshopify.com", TenantId(i64::MAX), "s", time(0)).await,
        "tenant"
    ));
}

async fn of_eight_businesses_linking_one_account_at_once_exactly_one_gets_it(store: SharedStore) {
    let mut businesses = Vec::new();
    for i in 0..8 {
        businesses.push(tenant(&store, &format!("shop {i}")).await.id);
    }
    let linkers: Vec<_> = businesses
        .iter()
        .map(|&business| {
            let store = store.clone();
            tokio::spawn(async move {
                let linked = store.link_platform_account("shopify", "mugs.myshopify.com", business, "s", time(0)).await;
                (business, linked)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for linker in linkers {
        match linker.await.expect("task") {
            (business, Ok(())) => winners.push(business),
            (_, refused) => assert!(is_conflict(refused, "account")),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one business holds the shop: {winners:?}");
    let holder = store.platform_account_tenant("shopify", "mugs.myshopify.com").await.expect("read");
    assert_eq!(holder, winners.first().copied(), "and it is the one told it got it");
}

// ---- usage counters ----

async fn usage_counters_sum_concurrent_increments_exactly(store: SharedStore) {
    let subject = UsageSubject::User(UserId(7));
    assert_eq!(store.usage(subject, "api_calls", "2026-11").await.expect("read"), 0);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut totals = Vec::new();
                for _ in 0..25 {
                    totals.push(store.add_usage(subject, "api_calls", "2026-11", 1).await.expect("add"));
                }
                totals
            })
        })
        .collect();
    let mut totals = HashSet::new();
    for task in tasks {
        for total in task.await.expect("task") {
            assert!(totals.insert(total), "two increments saw the same total {total}");
        }
    }
    assert_eq!(totals, (1..=400).collect::<HashSet<i64>>());
    assert_eq!(store.usage(subject, "api_calls", "2026-11").await.expect("read"), 400);
    assert_eq!(store.add_usage(subject, "api_calls", "2026-11", 100).await.expect("add"), 500);

    // Other subjects, counters and periods are separate.
    assert_eq!(store.usage(UsageSubject::Tenant(TenantId(7)), "api_calls", "2026-11").await.expect("read"), 0);
    assert_eq!(store.usage(subject, "api_calls", "2026-12").await.expect("read"), 0);
    assert_eq!(store.usage(subject, "tokens", "2026-11").await.expect("read"), 0);
    assert_eq!(store.add_usage(UsageSubject::Tenant(TenantId(7)), "tokens", "2026-11", 1234).await.expect("add"), 1234);
}

// ---- isolation ----

async fn reads_never_cross_tenants(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let a = tenant_of(&store, ann.id, "a").await.id;
    let b = tenant_of(&store, ben.id, "b").await.id;
    store.append_events(&[event(a, "secret")]).await.expect("append");
    store.record_ledger_entry(ledger_entry(a, Decimal::ONE, Some("tx"), time(1))).await.expect("book");
    let checkpoint = Checkpoint { tenant_id: a, cycle: 1, step: "s".into(), state: json!({}), updated_at: time(1) };
    store.save_checkpoint(&checkpoint).await.expect("save");

    assert!(store.events_after(b, 0, 100).await.expect("events").is_empty());
    assert_eq!(store.last_event_seq(b).await.expect("seq"), 0);
    assert!(store.ledger_entries(b, time(0), time(10)).await.expect("ledger").is_empty());
    assert_eq!(store.checkpoint(b).await.expect("checkpoint"), None);
    assert!(store.tenants_of_user(ben.id).await.expect("tenants").iter().all(|t| t.id == b));

    // And the owner still sees everything.
    assert_eq!(store.events_after(a, 0, 100).await.expect("events").len(), 1);
    assert_eq!(store.ledger_entries(a, time(0), time(10)).await.expect("ledger").len(), 1);
}

// ---- the swarm's work: shared helpers ----

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn new_product(tenant: TenantId, title: &str, price: &str) -> NewProduct {
    NewProduct {
        tenant_id: tenant,
        store_id: None,
        niche: "mugs".into(),
        title: title.into(),
        description: format!("{title}: hand-thrown, dishwasher safe — ünïcödé ✓"),
        tags: vec!["mug".into(), "gift".into()],
        price: money(price),
        cost: money("3.10"),
        currency: "EUR".into(),
        status: "draft".into(),
        external_id: None,
    }
}

async fn product_of(store: &SharedStore, tenant: TenantId, title: &str) -> Product {
    store.create_product(new_product(tenant, title, "12.50")).await.expect("create product")
}

fn new_campaign(tenant: TenantId, product: Option<i64>, name: &str) -> NewCampaign {
    NewCampaign {
        tenant_id: tenant,
        product_id: product,
        name: name.into(),
        channel: "meta_ads".into(),
        budget: money("250.00"),
        status: "draft".into(),
        external_id: None,
    }
}

fn new_post(tenant: TenantId, content: &str, status: &str) -> NewSocialPost {
    NewSocialPost {
        tenant_id: tenant,
        platform: "x".into(),
        content: content.into(),
        media_urls: Vec::new(),
        scheduled_time: None,
        status: status.into(),
        external_id: None,
    }
}

fn new_experience(tenant: TenantId, action_type: &str, revenue: &str) -> NewExperience {
    NewExperience {
        tenant_id: tenant,
        action_type: action_type.into(),
        context: json!({"niche": "mugs", "price": "12.50"}),
        result: json!({"sold": 3}),
        success: true,
        revenue: money(revenue),
        lessons: "weekend launches sell better".into(),
    }
}

fn new_insight(tenant: TenantId, niche: &str, trend: serde_json::Value) -> NewMarketInsight {
    NewMarketInsight {
        tenant_id: tenant,
        niche: niche.into(),
        trend_data: trend,
        performance_data: json!({"conversion": "0.031"}),
        optimal_pricing: json!({"low": "9.99", "high": "14.99"}),
        best_times: json!(["sat 10:00", "sun 18:00"]),
    }
}

fn llm_call(tenant: TenantId, agent: &str, model: &str, prompt: i64, completion: i64) -> NewLlmCall {
    NewLlmCall {
        tenant_id: tenant,
        agent: agent.into(),
        model: model.into(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        outcome: "ok".into(),
    }
}

// ---- ledger totals ----

async fn ledger_totals_sum_each_category_exactly_over_a_half_open_range(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let rows = [
        (shop, "revenue", "0.10", 1),
        (shop, "revenue", "0.20", 2),
        (shop, "ad_spend", "-5.00", 3),
        (shop, "fee", "-0.30", 4),
        (shop, "revenue", "0.000000000000000000000000001", 5),
        (shop, "revenue", "100", 10),
        (other, "revenue", "7.77", 1),
    ];
    for (tenant, category, amount, at) in rows {
        store
            .record_ledger_entry(NewLedgerEntry {
                category: category.into(),
                ..ledger_entry(tenant, money(amount), None, time(at))
            })
            .await
            .expect("book");
    }

    let totals = store.ledger_totals(shop, time(0), time(10)).await.expect("totals");
    let texts: Vec<(&str, String)> =
        totals.iter().map(|(category, total)| (category.as_str(), total.to_string())).collect();
    assert_eq!(
        texts,
        vec![
            ("ad_spend", "-5.00".to_owned()),
            ("fee", "-0.30".to_owned()),
            ("revenue", "0.300000000000000000000000001".to_owned()),
        ],
        "exact sums per category, by category, `to` excluded, other tenants excluded"
    );
    assert!(store.ledger_totals(shop, time(20), time(30)).await.expect("empty range").is_empty());
    assert_eq!(
        store.ledger_totals(other, time(0), time(10)).await.expect("other"),
        vec![("revenue".to_owned(), money("7.77"))]
    );
}

// ---- products ----

async fn products_keep_every_field_and_are_listed_in_id_order(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let sent = NewProduct {
        external_id: Some("gid://shop/Product/1".into()),
        status: "active".into(),
        ..new_product(shop, "Blue mug", "12.50")
    };
    let mug = store.create_product(sent.clone()).await.expect("create");
    assert_eq!(
        (
            mug.tenant_id,
            mug.store_id,
            &mug.niche,
            &mug.title,
            &mug.description,
            &mug.tags,
            mug.price.to_string(),
            mug.cost.to_string(),
            &mug.currency,
            &mug.status,
            &mug.external_id
        ),
        (
            sent.tenant_id,
            sent.store_id,
            &sent.niche,
            &sent.title,
            &sent.description,
            &sent.tags,
            "12.50".to_owned(),
            "3.10".to_owned(),
            &sent.currency,
            &sent.status,
            &sent.external_id
        )
    );
    assert_eq!(mug.created_at, mug.updated_at);
    let untagged = store
        .create_product(NewProduct {
            tags: Vec::new(),
            description: String::new(),
            cost: money("0.00"),
            ..new_product(shop, "Plain mug", "0.00")
        })
        .await
        .expect("create");
    assert!(untagged.id > mug.id);
    assert_eq!(
        (untagged.tags.len(), untagged.price.to_string(), untagged.cost.to_string()),
        (0, "0.00".to_owned(), "0.00".to_owned())
    );

    assert_eq!(store.products(shop).await.expect("list"), vec![mug.clone(), untagged]);
    assert_eq!(store.product(shop, mug.id).await.expect("read"), Some(mug));
}

async fn products_are_scoped_to_their_tenant(store: SharedStore) {
    let mine = tenant(&store, "mine").await.id;
    let theirs = tenant(&store, "theirs").await.id;
    let mug = product_of(&store, mine, "Mug").await;

    assert_eq!(store.product(theirs, mug.id).await.expect("read"), None);
    assert!(store.products(theirs).await.expect("list").is_empty());
    assert!(is_not_found(store.update_product_price(theirs, mug.id, money("0.01")).await, "product"));
    assert!(is_not_found(store.set_product_external_id(theirs, mug.id, "stolen").await, "product"));
    assert!(is_not_found(store.set_product_status(theirs, mug.id, "archived").await, "product"));
    assert!(is_not_found(store.update_product_price(mine, 424_242, money("1")).await, "product"));
    assert_eq!(
        store.product(mine, mug.id).await.expect("read"),
        Some(mug),
        "the other tenant's attempts changed nothing"
    );
}

async fn product_price_updates_round_trip_exactly(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let mug = product_of(&store, shop, "Mug").await;
    for text in AMOUNTS {
        let updated = store.update_product_price(shop, mug.id, money(text)).await.expect("update");
        assert_eq!(updated.price.to_string(), text, "as returned");
        let read = store.product(shop, mug.id).await.expect("read").expect("exists");
        assert_eq!(read.price.to_string(), text, "as read back");
        assert_eq!(read, updated);
        assert_eq!(read.created_at, mug.created_at);
        assert!(read.updated_at >= mug.updated_at);
        assert_eq!((read.title, read.cost), (mug.title.clone(), mug.cost));
    }
}

async fn a_product_platform_id_and_status_can_be_changed(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let mug = product_of(&store, shop, "Mug").await;
    assert_eq!(mug.external_id, None);
    store.set_product_external_id(shop, mug.id, "gid://shopify/Product/42").await.expect("external id");
    store.set_product_status(shop, mug.id, "active").await.expect("status");
    let read = store.product(shop, mug.id).await.expect("read").expect("exists");
    assert_eq!((read.external_id.as_deref(), read.status.as_str()), (Some("gid://shopify/Product/42"), "active"));
    assert!(read.updated_at >= mug.updated_at);
    assert_eq!(read.price, mug.price);
}

async fn a_product_may_be_stocked_only_in_its_own_tenants_store(store: SharedStore, db: Db) {
    let owner = tenant(&store, "owner").await.id;
    let other = tenant(&store, "other").await.id;
    assert_eq!(owner, TenantId(1), "the raw insert below names tenant 1");
    db.execute("insert into product_stores (tenant_id, store_name, platform) values (1, 'Owner''s shop', 'sandbox')")
        .await;

    let stocked = store
        .create_product(NewProduct { store_id: Some(1), ..new_product(owner, "Mug", "12.50") })
        .await
        .expect("own store");
    assert_eq!(stocked.store_id, Some(1));
    assert!(is_not_found(
        store.create_product(NewProduct { store_id: Some(1), ..new_product(other, "Mug", "12.50") }).await,
        "store"
    ));
    assert!(is_not_found(
        store.create_product(NewProduct { store_id: Some(999), ..new_product(owner, "Mug", "12.50") }).await,
        "store"
    ));
    assert!(store.products(other).await.expect("list").is_empty());
    assert_eq!(store.products(owner).await.expect("list"), vec![stocked]);
}

// ---- campaigns ----

async fn campaigns_start_with_nothing_spent_and_promote_only_their_tenants_products(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let mug = product_of(&store, shop, "Mug").await;
    let foreign = product_of(&store, other, "Vase").await;

    let launch = store
        .create_campaign(NewCampaign {
            external_id: Some("act_1/campaigns/9".into()),
            ..new_campaign(shop, Some(mug.id), "Mug launch")
        })
        .await
        .expect("create");
    assert_eq!(
        (
            launch.tenant_id,
            launch.product_id,
            launch.name.as_str(),
            launch.channel.as_str(),
            launch.budget.to_string(),
            launch.spent,
            launch.status.as_str(),
            launch.external_id.as_deref()
        ),
        (
            shop,
            Some(mug.id),
            "Mug launch",
            "meta_ads",
            "250.00".to_owned(),
            Decimal::ZERO,
            "draft",
            Some("act_1/campaigns/9")
        )
    );
    let brand = store.create_campaign(new_campaign(shop, None, "Brand")).await.expect("create without product");
    assert_eq!(brand.product_id, None);

    assert!(is_not_found(store.create_campaign(new_campaign(shop, Some(foreign.id), "Hijack")).await, "product"));
    assert!(is_not_found(store.create_campaign(new_campaign(shop, Some(777_777), "Ghost")).await, "product"));
    assert_eq!(store.campaigns(shop).await.expect("list"), vec![launch, brand]);
}

async fn campaigns_are_scoped_to_their_tenant(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let launch = store.create_campaign(new_campaign(shop, None, "Launch")).await.expect("create");

    assert!(store.campaigns(other).await.expect("list").is_empty());
    assert!(is_not_found(store.add_campaign_spend(other, launch.id, money("1.00")).await, "campaign"));
    assert!(is_not_found(store.set_campaign_status(other, launch.id, "paused").await, "campaign"));
    assert!(is_not_found(store.add_campaign_spend(shop, 424_242, money("1.00")).await, "campaign"));

    store.set_campaign_status(shop, launch.id, "active").await.expect("status");
    let spent = store.add_campaign_spend(shop, launch.id, money("-0.10")).await.expect("refund of spend");
    assert_eq!((spent.status.as_str(), spent.spent.to_string()), ("active", "-0.10".to_owned()));
    assert_eq!(store.campaigns(shop).await.expect("list"), vec![spent]);
}

async fn concurrent_campaign_spend_from_10_tasks_sums_exactly(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let launch = store.create_campaign(new_campaign(shop, None, "Launch")).await.expect("create");
    // Task t adds 0.0(t+1) ten times: 10 × (0.01 + … + 0.10) = 5.50 in all.
    let tasks: Vec<_> = (1..=10_i64)
        .map(|cents| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..10 {
                    let campaign =
                        store.add_campaign_spend(shop, launch.id, Decimal::new(cents, 2)).await.expect("add spend");
                    seen.push(campaign.spent);
                }
                seen
            })
        })
        .collect();
    let mut totals = HashSet::new();
    for task in tasks {
        for total in task.await.expect("task") {
            assert!(totals.insert(total), "two additions saw the same total {total}");
        }
    }
    assert_eq!(totals.len(), 100);
    let campaigns = store.campaigns(shop).await.expect("list");
    assert_eq!(campaigns[0].spent.to_string(), "5.50");
    assert_eq!(totals.iter().max(), Some(&campaigns[0].spent));
}

// ---- social posts ----

async fn social_posts_are_listed_newest_first_and_keep_their_engagement(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let scheduled = store
        .create_social_post(NewSocialPost {
            scheduled_time: Some(time(100)),
            ..new_post(shop, "Mugs are back on Saturday", "scheduled")
        })
        .await
        .expect("create");
    let before_posting = Utc::now() - Duration::seconds(1);
    let posted = store
        .create_social_post(NewSocialPost {
            external_id: Some("1790000000000000001".into()),
            media_urls: vec!["/api/media/7?business_id=1".into(), "https://example.com/mug.png".into()],
            ..new_post(shop, "New: the blue mug ☕", "posted")
        })
        .await
        .expect("create");
    let draft = store.create_social_post(new_post(shop, "Draft", "draft")).await.expect("create");
    assert_eq!(
        (scheduled.scheduled_time, scheduled.posted_at, scheduled.engagement_score, scheduled.status.as_str()),
        (Some(time(100)), None, 0, "scheduled")
    );
    assert_eq!(posted.external_id.as_deref(), Some("1790000000000000001"));
    assert_eq!(posted.media_urls, ["/api/media/7?business_id=1", "https://example.com/mug.png"]);
    assert!(scheduled.media_urls.is_empty());
    assert!(posted.posted_at.is_some_and(|at| at > before_posting), "created as posted, so posted now");
    assert_eq!(draft.posted_at, None);

    store.set_post_engagement(shop, posted.id, 42).await.expect("engagement");
    let listed = store.social_posts(shop, 10).await.expect("list");
    let ids: Vec<i64> = listed.iter().map(|post| post.id).collect();
    assert_eq!(ids, vec![draft.id, posted.id, scheduled.id], "newest first");
    assert_eq!(listed[1].engagement_score, 42);
    assert_eq!(listed[1].content, "New: the blue mug ☕");
    assert_eq!(listed[1].media_urls, posted.media_urls);
    assert_eq!(store.social_posts(shop, 2).await.expect("limit"), listed[..2].to_vec());
    assert!(store.social_posts(shop, 0).await.expect("limit 0").is_empty());

    assert!(store.social_posts(other, 10).await.expect("list").is_empty());
    assert!(is_not_found(store.set_post_engagement(other, posted.id, 1_000).await, "post"));
}

// ---- experiences and patterns ----

async fn an_experience_and_its_pattern_are_recorded_once_per_key_even_by_10_concurrent_tasks(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let experience = NewExperience {
        tenant_id: shop,
        action_type: "autopilot_cycle".into(),
        context: json!({ "niche": "mugs" }),
        result: json!({ "net": "12.50" }),
        success: true,
        revenue: Decimal::new(1250, 2),
        lessons: "keep going".into(),
    };
    let outcome = PatternOutcome {
        pattern_type: "autopilot_cycle".into(),
        pattern_key: "mugs".into(),
        pattern_data: json!({ "niche": "mugs" }),
        success: true,
        revenue: Decimal::new(1250, 2),
    };
    let recorders: Vec<_> = (0..10)
        .map(|_| {
            let (store, experience, outcome) = (store.clone(), experience.clone(), outcome.clone());
            tokio::spawn(async move { store.record_experience_once("cycle:1", experience, outcome).await })
        })
        .collect();
    let mut recorded = 0;
    for recorder in recorders {
        if recorder.await.expect("task").expect("no error").is_some() {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1, "one of ten took the key");
    assert_eq!(store.experiences(shop, None, 100).await.expect("read").len(), 1);
    let patterns = store.patterns(shop, None, 10).await.expect("read");
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].usage_count, 1, "the pattern counted the outcome once");

    let next = store.record_experience_once("cycle:2", experience.clone(), outcome.clone()).await.expect("next key");
    assert_eq!(next.map(|pattern| pattern.usage_count), Some(2));
    let other = tenant(&store, "other").await.id;
    let theirs = NewExperience { tenant_id: other, ..experience.clone() };
    assert!(
        store.record_experience_once("cycle:1", theirs, outcome.clone()).await.expect("other").is_some(),
        "keys are per tenant"
    );
    let missing = NewExperience { tenant_id: TenantId(31_337), ..experience };
    assert!(is_not_found(store.record_experience_once("cycle:1", missing, outcome).await, "tenant"));
}

async fn experiences_are_listed_newest_first_and_filtered_by_action_type(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let priced = store.record_experience(new_experience(shop, "set_price", "-0.10")).await.expect("record");
    let posted = store
        .record_experience(NewExperience {
            success: false,
            context: serde_json::Value::Null,
            lessons: String::new(),
            ..new_experience(shop, "post", "0")
        })
        .await
        .expect("record");
    let repriced =
        store.record_experience(new_experience(shop, "set_price", "12345678901234.5678")).await.expect("record");
    store.record_experience(new_experience(other, "set_price", "1")).await.expect("record");

    let sent = new_experience(shop, "set_price", "-0.10");
    assert_eq!(
        (
            priced.tenant_id,
            &priced.action_type,
            &priced.context,
            &priced.result,
            priced.success,
            priced.revenue.to_string(),
            &priced.lessons
        ),
        (shop, &sent.action_type, &sent.context, &sent.result, true, "-0.10".to_owned(), &sent.lessons)
    );
    assert_eq!((&posted.context, posted.success, posted.lessons.as_str()), (&serde_json::Value::Null, false, ""));

    assert_eq!(
        store.experiences(shop, None, 10).await.expect("all"),
        vec![repriced.clone(), posted.clone(), priced.clone()],
        "newest first"
    );
    assert_eq!(store.experiences(shop, Some("set_price"), 10).await.expect("by type"), vec![repriced.clone(), priced]);
    assert_eq!(store.experiences(shop, Some("set_price"), 1).await.expect("limit"), vec![repriced]);
    assert_eq!(store.experiences(shop, Some("post"), 10).await.expect("post"), vec![posted]);
    assert!(store.experiences(shop, Some("nothing"), 10).await.expect("none").is_empty());
    assert_eq!(store.experiences(other, None, 10).await.expect("other").len(), 1);
}

async fn a_pattern_keeps_a_running_mean_revenue_and_an_exact_success_rate(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let first = store
        .record_pattern_outcome(shop, "price_point", "mugs@12.50", json!({"price": "12.50"}), true, money("10.00"))
        .await
        .expect("first use");
    assert_eq!(
        (
            first.tenant_id,
            first.pattern_type.as_str(),
            first.pattern_key.as_str(),
            first.usage_count,
            first.success_count,
            first.success_rate,
            first.avg_revenue
        ),
        (shop, "price_point", "mugs@12.50", 1, 1, 1.0, money("10"))
    );
    let second = store
        .record_pattern_outcome(
            shop,
            "price_point",
            "mugs@12.50",
            json!({"price": "12.50", "week": 2}),
            false,
            money("0"),
        )
        .await
        .expect("second use");
    assert_eq!(
        (second.id, second.usage_count, second.success_rate, second.avg_revenue),
        (first.id, 2, 0.5, money("5"))
    );
    let third = store
        .record_pattern_outcome(
            shop,
            "price_point",
            "mugs@12.50",
            json!({"price": "12.50", "week": 3}),
            true,
            money("5.5"),
        )
        .await
        .expect("third use");
    // (5 × 2 + 5.5) / 3 = 5.1666… → 5.1667
    assert_eq!(
        (third.id, third.usage_count, third.success_count, third.success_rate, third.avg_revenue.to_string()),
        (first.id, 3, 2, 2.0 / 3.0, "5.1667".to_owned())
    );
    assert_eq!(third.pattern_data, json!({"price": "12.50", "week": 3}));
    assert!(third.last_used >= first.last_used);
    assert_eq!(store.patterns(shop, Some("price_point"), 10).await.expect("read"), vec![third]);
}

async fn pattern_outcomes_from_10_concurrent_tasks_are_all_counted(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let tasks: Vec<_> = (0..10)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_pattern_outcome(shop, "niche", "mugs", json!({"task": task}), task < 7, money("12.34"))
                    .await
                    .expect("record outcome")
            })
        })
        .collect();
    let mut usage_counts = HashSet::new();
    for task in tasks {
        usage_counts.insert(task.await.expect("task").usage_count);
    }
    assert_eq!(usage_counts, (1..=10).collect::<HashSet<i64>>(), "every outcome saw its own count");
    let patterns = store.patterns(shop, None, 10).await.expect("read");
    assert_eq!(patterns.len(), 1, "one row per (tenant, type, key)");
    let pattern = &patterns[0];
    assert_eq!(
        (pattern.usage_count, pattern.success_count, pattern.success_rate, pattern.avg_revenue),
        (10, 7, 0.7, money("12.34"))
    );
}

async fn patterns_are_ranked_by_success_rate_then_mean_revenue(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    // (type, key, success, revenue) in the order recorded. The mean revenues 9 and 10
    // would sort the wrong way as text; "half" has the best mean but half the success.
    let outcomes = [
        ("niche", "nine", true, "9"),
        ("niche", "ten", true, "10"),
        ("niche", "half", true, "1000"),
        ("niche", "half", false, "0"),
        ("niche", "loss", true, "-3"),
        ("post_time", "sat", true, "50"),
    ];
    for (pattern_type, key, success, revenue) in outcomes {
        store
            .record_pattern_outcome(shop, pattern_type, key, json!({}), success, money(revenue))
            .await
            .expect("record");
    }
    store.record_pattern_outcome(other, "niche", "theirs", json!({}), true, money("99")).await.expect("record");

    let keys =
        |patterns: Vec<SuccessfulPattern>| -> Vec<String> { patterns.into_iter().map(|p| p.pattern_key).collect() };
    assert_eq!(
        keys(store.patterns(shop, Some("niche"), 10).await.expect("niche")),
        vec!["ten", "nine", "loss", "half"]
    );
    assert_eq!(keys(store.patterns(shop, Some("niche"), 2).await.expect("limit")), vec!["ten", "nine"]);
    assert_eq!(keys(store.patterns(shop, None, 10).await.expect("all")), vec!["sat", "ten", "nine", "loss", "half"]);
    assert!(store.patterns(shop, None, 0).await.expect("limit 0").is_empty());
    assert_eq!(keys(store.patterns(other, None, 10).await.expect("other")), vec!["theirs"]);
}

// ---- market insights ----

async fn a_market_insight_upsert_replaces_the_tenants_insight_on_that_niche(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let first = store.upsert_market_insight(new_insight(shop, "mugs", json!({"trend": "flat"}))).await.expect("insert");
    let sent = new_insight(shop, "mugs", json!({"trend": "rising", "weeks": [1, 2, 3]}));
    let replaced = store.upsert_market_insight(sent.clone()).await.expect("replace");
    assert_eq!(replaced.id, first.id, "the same row");
    assert_eq!(
        (
            replaced.tenant_id,
            &replaced.niche,
            &replaced.trend_data,
            &replaced.performance_data,
            &replaced.optimal_pricing,
            &replaced.best_times
        ),
        (shop, &sent.niche, &sent.trend_data, &sent.performance_data, &sent.optimal_pricing, &sent.best_times)
    );
    assert!(replaced.last_updated >= first.last_updated);

    let candles = store.upsert_market_insight(new_insight(shop, "candles", json!(null))).await.expect("insert");
    let zen = store.upsert_market_insight(new_insight(shop, "Zen", json!([]))).await.expect("insert");
    store
        .upsert_market_insight(new_insight(other, "mugs", json!({"theirs": true})))
        .await
        .expect("other tenant, same niche");
    assert_eq!(
        store.market_insights(shop).await.expect("list"),
        vec![zen, candles, replaced],
        "one per niche, by niche in byte order"
    );
    assert_eq!(store.market_insights(other).await.expect("other").len(), 1);
}

// ---- agent memory ----

async fn agent_memory_is_a_key_value_store_per_agent_whose_puts_replace(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let content = json!({"price": "12.50", "reason": "competitors at 13", "ok": true});
    let first =
        store.put_agent_memory(shop, "pricing", "last_price", content.clone(), Some(money("0.75"))).await.expect("put");
    assert_eq!(
        (
            first.tenant_id,
            first.agent.as_str(),
            first.key.as_str(),
            &first.content,
            first.success_score.map(|s| s.to_string())
        ),
        (shop, "pricing", "last_price", &content, Some("0.75".to_owned()))
    );
    let read = store.agent_memory(shop, "pricing", "last_price").await.expect("get").expect("exists");
    assert_eq!((read.id, &read.content), (first.id, &content));
    assert!(read.last_accessed >= first.last_accessed, "reading stamps it");

    let replaced = store.put_agent_memory(shop, "pricing", "last_price", json!("13.00"), None).await.expect("replace");
    assert_eq!(
        (replaced.id, replaced.created_at, &replaced.content, replaced.success_score),
        (first.id, first.created_at, &json!("13.00"), None)
    );
    assert!(replaced.last_accessed >= read.last_accessed);

    let floor = store.put_agent_memory(shop, "pricing", "floor", json!(9), Some(money("-1.5"))).await.expect("put");
    store.put_agent_memory(shop, "seo", "keywords", json!(["mug"]), None).await.expect("put");
    let listed = store.agent_memories(shop, "pricing").await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, vec!["floor", "last_price"], "one per key, by key");
    assert_eq!(listed[0], floor);
    assert_eq!(listed[1].content, json!("13.00"));

    assert!(store.forget_agent_memory(shop, "pricing", "floor").await.expect("forget"));
    assert!(!store.forget_agent_memory(shop, "pricing", "floor").await.expect("forget"), "only once");
    assert!(!store.forget_agent_memory(other, "pricing", "last_price").await.expect("forget"), "not another's");
    assert_eq!(store.agent_memory(shop, "pricing", "floor").await.expect("get"), None);
    store.put_agent_memory(shop, "pricing", "floor", json!(9), Some(money("-1.5"))).await.expect("put again");
    assert_eq!(store.agent_memory(shop, "pricing", "never").await.expect("get"), None);
    assert_eq!(store.agent_memory(shop, "seo", "last_price").await.expect("get"), None, "keys belong to one agent");
    assert_eq!(store.agent_memory(other, "pricing", "last_price").await.expect("get"), None);
    assert!(store.agent_memories(other, "pricing").await.expect("list").is_empty());
}

// ---- adapter state ----

async fn adapter_state_round_trips_json_per_tenant_and_platform(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    assert_eq!(store.adapter_state(shop, "shopify").await.expect("read"), None);
    let state = json!({
        "cursor": "eyJsYXN0X2lkIjo0Mn0=",
        "rate_limit": {"remaining": 38, "reset_at": "2026-11-02T10:00:00Z"},
        "ids": [1, 2, 3],
        "price": "12.50",
        "note": "ünïcödé ✓",
        "none": null
    });
    store.save_adapter_state(shop, "shopify", &state).await.expect("save");
    assert_eq!(store.adapter_state(shop, "shopify").await.expect("read"), Some(state));
    store.save_adapter_state(shop, "shopify", &json!({"cursor": null})).await.expect("replace");
    assert_eq!(store.adapter_state(shop, "shopify").await.expect("read"), Some(json!({"cursor": null})));
    store.save_adapter_state(shop, "gumroad", &json!("plain string")).await.expect("save");
    assert_eq!(store.adapter_state(shop, "gumroad").await.expect("read"), Some(json!("plain string")));
    assert_eq!(store.adapter_state(other, "shopify").await.expect("read"), None);
}

// ---- media files ----

/// The record of a file of `size` bytes kept in the media store under a key of its name.
fn media(tenant: TenantId, name: &str, size: i64) -> NewMediaFile {
    NewMediaFile {
        tenant_id: tenant,
        name: name.into(),
        content_type: "image/png".into(),
        sha256: format!("sha-of-{name}"),
        size_bytes: size,
        object_key: format!("tenants/{}/{name}", tenant.0),
    }
}

async fn media_files_are_kept_per_tenant_with_where_their_bytes_are(store: SharedStore) {
    let shop = tenant(&store, "shop").await;
    let other = tenant(&store, "other").await.id;
    let logo = store.create_media_file(media(shop.id, "logo.png", 9), None).await.expect("kept");
    assert_eq!((logo.name.as_str(), logo.size_bytes, logo.tenant_id), ("logo.png", 9, shop.id));
    store.create_media_file(media(shop.id, "banner.png", 100), None).await.expect("kept");

    let listed: Vec<String> = store.media_files(shop.id).await.expect("list").into_iter().map(|f| f.name).collect();
    assert_eq!(listed, ["logo.png", "banner.png"]);
    let (file, bytes) = store.media_file_bytes(shop.id, logo.id).await.expect("read").expect("present");
    let logo_key = format!("tenants/{}/logo.png", shop.id.0);
    assert_eq!((file, bytes), (logo.clone(), MediaBytes::Object(logo_key.clone())));
    assert_eq!(store.media_bytes_of_user(shop.user_id).await.expect("used"), 109);
    assert!(store.media_object_in_use(&logo_key).await.expect("looked up"));
    assert!(!store.media_object_in_use("tenants/1/nothing").await.expect("looked up"));
    assert!(store.media_files_in_database(10).await.expect("none left there").is_empty());

    // Another tenant cannot reach it by id.
    assert!(store.media_file_bytes(other, logo.id).await.expect("read").is_none());
    assert!(matches!(store.delete_media_file(other, logo.id).await, Err(MemoryError::NotFound(_))));
    assert!(matches!(
        store.create_media_file(media(TenantId(999_999), "x", 1), None).await,
        Err(MemoryError::NotFound(_))
    ));

    let deleted = store.delete_media_file(shop.id, logo.id).await.expect("deleted");
    assert_eq!(deleted, MediaBytes::Object(logo_key.clone()), "the caller is told which bytes to delete");
    assert!(store.media_file_bytes(shop.id, logo.id).await.expect("read").is_none());
    assert!(!store.media_object_in_use(&logo_key).await.expect("looked up"));
    assert_eq!(store.media_bytes_of_user(shop.user_id).await.expect("used"), 100);
}

async fn concurrent_uploads_cannot_squeeze_past_the_owners_quota(store: SharedStore) {
    let owner = user(&store, "quota@example.com").await;
    let first = tenant_of(&store, owner.id, "first").await.id;
    let second = tenant_of(&store, owner.id, "second").await.id;
    store.create_media_file(media(first, "already.bin", 40), Some(100)).await.expect("fits");

    // 60 bytes left across both businesses: of ten 25-byte uploads at once, two fit.
    let uploads = (0..10).map(|n| {
        let store = store.clone();
        let tenant = if n % 2 == 0 { first } else { second };
        tokio::spawn(async move { store.create_media_file(media(tenant, &format!("f{n}"), 25), Some(100)).await })
    });
    let results = futures::future::join_all(uploads).await;
    let kept = results.iter().filter(|result| matches!(result, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|result| matches!(result, Ok(Err(MemoryError::QuotaExceeded { limit: 100, adding: 25, .. }))))
        .count();
    assert_eq!((kept, refused), (2, 8), "{results:?}");
    assert_eq!(store.media_bytes_of_user(owner.id).await.expect("used"), 90);
}

// ---- count limits (a tier's products, campaigns and stores per business) ----

/// How many of `results` succeeded, and how many were refused at `limit` of `what`.
fn kept_and_refused<T: std::fmt::Debug>(
    results: &[Result<MemoryResult<T>, tokio::task::JoinError>],
    what: &str,
    limit: u64,
) -> (usize, usize) {
    let kept = results.iter().filter(|result| matches!(result, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|result| {
            matches!(result, Ok(Err(MemoryError::LimitReached { what: refused, limit: at })) if refused == what && *at == limit)
        })
        .count();
    (kept, refused)
}

async fn concurrent_product_creations_from_two_processes_cannot_squeeze_past_the_limit(store: SharedStore, db: Db) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    for title in ["one", "two", "three"] {
        store.create_product_within_limit(new_product(shop, title, "12.50"), Some(5)).await.expect("under the limit");
    }
    // A deleted product does not count; another tenant's products do not either.
    let gone = product_of(&store, shop, "gone").await;
    store.set_product_status(shop, gone.id, DELETED_PRODUCT_STATUS).await.expect("deleted");
    for title in ["x", "y", "z", "w", "v"] {
        product_of(&store, other, title).await;
    }
    let second = db.second_store().await;

    // Two of the five left: of ten creations at once, through two processes, two fit.
    let creations = (0..10).map(|n| {
        let store = if n % 2 == 0 { store.clone() } else { second.clone() };
        tokio::spawn(async move {
            store.create_product_within_limit(new_product(shop, &format!("p{n}"), "9.99"), Some(5)).await
        })
    });
    let results = futures::future::join_all(creations).await;
    assert_eq!(kept_and_refused(&results, "products", 5), (2, 8), "{results:?}");
    let products = store.products(shop).await.expect("list");
    let live = products.iter().filter(|product| product.status != DELETED_PRODUCT_STATUS).count();
    assert_eq!((live, products.len()), (5, 6));

    // Deleting one makes room for exactly one more; without a limit there is no count.
    store.set_product_status(shop, products[0].id, DELETED_PRODUCT_STATUS).await.expect("deleted");
    store.create_product_within_limit(new_product(shop, "again", "1.00"), Some(5)).await.expect("room again");
    let refused = store.create_product_within_limit(new_product(shop, "over", "1.00"), Some(5)).await;
    assert!(matches!(refused, Err(MemoryError::LimitReached { limit: 5, .. })), "{refused:?}");
    store.create_product(new_product(shop, "unlimited", "1.00")).await.expect("no limit");
    assert!(matches!(
        store.create_product_within_limit(new_product(TenantId(999_999), "ghost", "1.00"), Some(5)).await,
        Err(MemoryError::NotFound(what)) if what == "tenant"
    ));
    second.close().await;
}

fn new_tenant(owner: UserId, name: &str) -> NewTenant {
    NewTenant { user_id: owner, name: name.into(), domain: None, personality: "coachty".into(), settings: json!({}) }
}

async fn concurrent_tenant_creations_from_two_processes_cannot_squeeze_past_the_owners_limit(
    store: SharedStore,
    db: Db,
) {
    let ada = user(&store, "ada@example.com").await.id;
    let bob = user(&store, "bob@example.com").await.id;
    store.create_tenant_within_limit(new_tenant(ada, "first"), Some(3)).await.expect("under the limit");
    // Another owner's tenants do not count.
    for name in ["b1", "b2", "b3"] {
        tenant_of(&store, bob, name).await;
    }
    let second = db.second_store().await;

    // Two of the three left: of ten creations at once, through two processes, two fit.
    let creations = (0..10).map(|n| {
        let store = if n % 2 == 0 { store.clone() } else { second.clone() };
        tokio::spawn(async move { store.create_tenant_within_limit(new_tenant(ada, &format!("t{n}")), Some(3)).await })
    });
    let results = futures::future::join_all(creations).await;
    assert_eq!(kept_and_refused(&results, "businesses", 3), (2, 8), "{results:?}");
    assert_eq!(store.tenants_of_user(ada).await.expect("list").len(), 3);

    // What the system makes (no limit) is never refused; an unknown owner is not found.
    store.create_tenant(new_tenant(ada, "made by the system")).await.expect("no limit");
    assert_eq!(store.tenants_of_user(ada).await.expect("list").len(), 4);
    let refused = store.create_tenant_within_limit(new_tenant(bob, "over"), Some(3)).await;
    assert!(matches!(refused, Err(MemoryError::LimitReached { limit: 3, .. })), "{refused:?}");
    let ghost = store.create_tenant_within_limit(new_tenant(UserId(999_999), "ghost"), Some(3)).await;
    assert!(matches!(&ghost, Err(MemoryError::NotFound(what)) if what == "user"), "{ghost:?}");
    second.close().await;
}

async fn concurrent_campaign_creations_cannot_squeeze_past_the_limit(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let launch = store.create_campaign_within_limit(new_campaign(shop, None, "launch"), Some(3)).await.expect("first");
    // Every status counts, an ended campaign too.
    store.set_campaign_status(shop, launch.id, "ended").await.expect("ended");

    // Two of the three left: of ten creations at once, two fit.
    let creations = (0..10).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store.create_campaign_within_limit(new_campaign(shop, None, &format!("c{n}")), Some(3)).await
        })
    });
    let results = futures::future::join_all(creations).await;
    assert_eq!(kept_and_refused(&results, "campaigns", 3), (2, 8), "{results:?}");
    assert_eq!(store.campaigns(shop).await.expect("list").len(), 3);
    store.create_campaign(new_campaign(shop, None, "unlimited")).await.expect("no limit");
}

async fn concurrent_store_connections_cannot_squeeze_past_the_limit(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    // Only the namespace's keys with the prefix count: not other keys, not other
    // namespaces, not other tenants.
    store.put_agent_memory(shop, "stores", "settings", json!({}), None).await.expect("put");
    store.put_agent_memory(shop, "stores", "storefront", json!({}), None).await.expect("put");
    store.put_agent_memory(shop, "seo", "store:elsewhere", json!({}), None).await.expect("put");
    store.put_agent_memory(other, "stores", "store:theirs", json!({}), None).await.expect("put");

    // One left: of ten connections at once, one fits.
    let connections = (0..10).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = format!("store:{n}");
            store.add_agent_memory_within_limit(shop, "stores", &key, json!({ "n": n }), "store:", Some(1)).await
        })
    });
    let results = futures::future::join_all(connections).await;
    assert_eq!(kept_and_refused(&results, "stores", 1), (1, 9), "{results:?}");
    let stores = store.agent_memories(shop, "stores").await.expect("list");
    assert_eq!(stores.iter().filter(|row| row.key.starts_with("store:")).count(), 1, "{stores:?}");

    // An existing key is a conflict, never a replacement; no limit means no count.
    let kept = stores.iter().find(|row| row.key.starts_with("store:")).expect("kept").key.clone();
    assert!(matches!(
        store.add_agent_memory_within_limit(shop, "stores", &kept, json!({}), "store:", None).await,
        Err(MemoryError::Conflict(_))
    ));
    store
        .add_agent_memory_within_limit(shop, "stores", "store:more", json!({}), "store:", None)
        .await
        .expect("no limit");
    assert!(matches!(
        store.add_agent_memory_within_limit(TenantId(999_999), "stores", "store:x", json!({}), "store:", Some(1)).await,
        Err(MemoryError::NotFound(what)) if what == "tenant"
    ));
}

// ---- platform analytics ----

async fn platform_stats_count_everyone_and_window_what_is_recent(store: SharedStore) {
    let empty = store.platform_stats(Utc::now() - Duration::days(30), "2026-11").await.expect("stats");
    assert_eq!(empty, PlatformStats::default());

    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await;
    store.set_user_tier(other.user_id, Tier::Pro).await.expect("tier");
    store.set_tenant_active(other.id, false).await.expect("deactivate");
    store.record_llm_call(llm_call(shop, "ceo", "model-a", 100, 20)).await.expect("record");
    store.record_llm_call(llm_call(other.id, "seo", "model-a", 5, 5)).await.expect("record");
    store.add_usage(UsageSubject::User(other.user_id), "api_calls", "2026-11", 7).await.expect("usage");
    store.add_usage(UsageSubject::User(other.user_id), "api_calls", "2026-10", 1_000).await.expect("old usage");
    let now = |summary: &str| NewEvent { occurred_at: Utc::now(), ..event(shop, summary) };
    let long_ago = NewEvent { occurred_at: Utc::now() - Duration::days(60), ..event(shop, "long ago") };
    store.append_events(&[now("one"), now("two"), long_ago]).await.expect("events");

    let stats = store.platform_stats(Utc::now() - Duration::days(30), "2026-11").await.expect("stats");
    assert_eq!((stats.users, stats.free_users, stats.pro_users, stats.new_users), (2, 1, 1, 2));
    assert_eq!((stats.businesses, stats.active_businesses), (2, 1));
    assert_eq!((stats.events, stats.llm_calls, stats.llm_tokens), (2, 2, 130));
    assert_eq!(stats.api_calls, 7, "only the month asked for");

    let later = store.platform_stats(Utc::now() + Duration::minutes(1), "2026-12").await.expect("stats");
    assert_eq!((later.users, later.new_users, later.events, later.llm_tokens, later.api_calls), (2, 0, 0, 0, 0));
}

// ---- LLM usage ----

async fn llm_token_totals_group_by_agent_and_model(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let since = Utc::now() - Duration::minutes(1);
    for call in [
        llm_call(shop, "seo", "model-a", 10, 1),
        llm_call(shop, "ceo", "model-b", 300, 30),
        llm_call(shop, "ceo", "model-a", 100, 20),
        llm_call(shop, "ceo", "model-a", 200, 40),
        NewLlmCall { outcome: "timeout".into(), ..llm_call(shop, "ceo", "model-a", 50, 0) },
        llm_call(other, "ceo", "model-a", 9_999, 9_999),
    ] {
        store.record_llm_call(call).await.expect("record");
    }
    let total = |agent: &str, model: &str, calls, prompt_tokens, completion_tokens| LlmTokenTotal {
        agent: agent.into(),
        model: model.into(),
        calls,
        prompt_tokens,
        completion_tokens,
    };
    assert_eq!(
        store.llm_token_totals(shop, since).await.expect("totals"),
        vec![
            total("ceo", "model-a", 3, 350, 60),
            total("ceo", "model-b", 1, 300, 30),
            total("seo", "model-a", 1, 10, 1),
        ]
    );
    assert!(store.llm_token_totals(shop, Utc::now() + Duration::minutes(1)).await.expect("future").is_empty());
    assert_eq!(
        store.llm_token_totals(other, since).await.expect("other"),
        vec![total("ceo", "model-a", 1, 9_999, 9_999)]
    );
}

async fn llm_token_totals_count_only_calls_since_the_given_time(store: SharedStore, db: Db) {
    let shop = tenant(&store, "shop").await.id;
    store
        .record_llm_call(NewLlmCall { outcome: "stale".into(), ..llm_call(shop, "ceo", "model-a", 1_000, 1_000) })
        .await
        .expect("record");
    // The literal reads as the same instant in both dialects.
    db.execute("update llm_calls set created_at = '2000-01-01T00:00:00.000000+00:00' where outcome = 'stale'").await;
    store.record_llm_call(llm_call(shop, "ceo", "model-a", 5, 6)).await.expect("record");

    let recent = store.llm_token_totals(shop, Utc::now() - Duration::days(1)).await.expect("recent");
    assert_eq!(
        recent.iter().map(|t| (t.calls, t.prompt_tokens, t.completion_tokens)).collect::<Vec<_>>(),
        vec![(1, 5, 6)]
    );
    let all = store
        .llm_token_totals(shop, Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("time"))
        .await
        .expect("all");
    assert_eq!(
        all.iter().map(|t| (t.calls, t.prompt_tokens, t.completion_tokens)).collect::<Vec<_>>(),
        vec![(2, 1_005, 1_006)],
        "`since` itself is included"
    );
}

// ---- missing tenants ----

async fn every_swarm_write_for_a_missing_tenant_is_not_found(store: SharedStore) {
    let ghost = TenantId(999_999);
    assert!(is_not_found(store.create_product(new_product(ghost, "Mug", "1")).await, "tenant"));
    assert!(is_not_found(
        store.create_product(NewProduct { store_id: Some(1), ..new_product(ghost, "Mug", "1") }).await,
        "tenant"
    ));
    assert!(is_not_found(store.create_campaign(new_campaign(ghost, None, "c")).await, "tenant"));
    assert!(is_not_found(store.create_campaign(new_campaign(ghost, Some(1), "c")).await, "tenant"));
    assert!(is_not_found(store.create_social_post(new_post(ghost, "hi", "draft")).await, "tenant"));
    assert!(is_not_found(store.record_experience(new_experience(ghost, "x", "1")).await, "tenant"));
    assert!(is_not_found(
        store.record_pattern_outcome(ghost, "niche", "mugs", json!({}), true, Decimal::ONE).await,
        "tenant"
    ));
    assert!(is_not_found(store.upsert_market_insight(new_insight(ghost, "mugs", json!({}))).await, "tenant"));
    assert!(is_not_found(store.put_agent_memory(ghost, "pricing", "k", json!(1), None).await, "tenant"));
    assert!(is_not_found(store.save_adapter_state(ghost, "shopify", &json!({})).await, "tenant"));
    assert!(is_not_found(store.record_llm_call(llm_call(ghost, "ceo", "m", 1, 1)).await, "tenant"));
    assert!(is_not_found(store.save_cycle_report(&cycle_report(ghost, 1, "ghost")).await, "tenant"));
}

// ---- API tokens ----

fn new_token(user: UserId, name: &str, hash: &str) -> NewApiToken {
    NewApiToken { user_id: user, name: name.into(), token_hash: hash.into() }
}

async fn a_revoked_api_token_is_no_longer_found_by_hash(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let before = Utc::now() - Duration::seconds(1);
    let token = store.create_api_token(new_token(ann.id, "ci", "hash-1")).await.expect("create");
    assert_eq!((token.user_id, token.name.as_str(), token.last_used_at, token.revoked_at), (ann.id, "ci", None, None));
    assert!(token.created_at > before && token.created_at <= Utc::now());
    assert_eq!(store.api_token_by_hash("hash-1").await.expect("lookup"), Some(token.clone()));
    assert_eq!(store.api_token_by_hash("hash-2").await.expect("lookup"), None);
    assert!(is_conflict(store.create_api_token(new_token(ben.id, "other", "hash-1")).await, "token"));
    assert!(is_not_found(store.create_api_token(new_token(UserId(404_404), "x", "hash-9")).await, "user"));

    store.touch_api_token(token.id, time(5)).await.expect("touch");
    let used = store.api_token_by_hash("hash-1").await.expect("lookup").expect("found");
    assert_eq!(used, ApiToken { last_used_at: Some(time(5)), ..token.clone() });
    assert!(is_not_found(store.touch_api_token(987_654, time(5)).await, "token"));

    store.revoke_api_token(ann.id, token.id).await.expect("revoke");
    assert_eq!(store.api_token_by_hash("hash-1").await.expect("lookup"), None, "revoked tokens authenticate nothing");
    let listed = store.api_tokens(ann.id).await.expect("list");
    assert_eq!(listed.len(), 1, "a revoked token is still listed");
    assert!(listed[0].revoked_at.is_some_and(|at| at >= token.created_at));
    assert!(is_not_found(store.revoke_api_token(ann.id, token.id).await, "token"), "already revoked");
    assert!(is_conflict(store.create_api_token(new_token(ann.id, "again", "hash-1")).await, "token"));
}

async fn api_tokens_are_listed_only_for_their_owner_and_only_the_owner_can_revoke_them(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let a1 = store.create_api_token(new_token(ann.id, "laptop", "a1")).await.expect("create");
    let b1 = store.create_api_token(new_token(ben.id, "ci", "b1")).await.expect("create");
    let a2 = store.create_api_token(new_token(ann.id, "ci", "a2")).await.expect("create");
    assert_eq!(store.api_tokens(ann.id).await.expect("ann's"), vec![a1.clone(), a2.clone()]);
    assert_eq!(store.api_tokens(ben.id).await.expect("ben's"), vec![b1.clone()]);
    assert!(store.api_tokens(UserId(404_404)).await.expect("nobody's").is_empty());

    assert!(is_not_found(store.revoke_api_token(ben.id, a1.id).await, "token"));
    assert_eq!(store.api_token_by_hash("a1").await.expect("lookup"), Some(a1.clone()), "still valid");
    assert!(is_not_found(store.revoke_api_token(ann.id, 987_654).await, "token"));

    store.revoke_api_token(ann.id, a1.id).await.expect("revoke");
    let revoked: Vec<(i64, bool)> =
        store.api_tokens(ann.id).await.expect("ann's").iter().map(|t| (t.id, t.revoked_at.is_some())).collect();
    assert_eq!(revoked, vec![(a1.id, true), (a2.id, false)]);
    assert_eq!(store.api_tokens(ben.id).await.expect("ben's"), vec![b1]);
}

// ---- sessions ----

fn session(id: &str, user: Option<UserId>, expires_at: DateTime<Utc>) -> SessionRecord {
    SessionRecord { id: id.into(), user_id: user, data: json!({"csrf": id, "flash": ["hi"]}), expires_at }
}

async fn sessions_expire_and_are_deleted_in_bulk(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let anonymous = session("s1", None, time(100));
    store.save_session(&anonymous).await.expect("save");
    assert_eq!(store.load_session("s1", time(0)).await.expect("load"), Some(anonymous));

    // Logging in replaces the session under the same id.
    let logged_in = SessionRecord { data: json!({"user": ann.id, "n": 1.5}), ..session("s1", Some(ann.id), time(200)) };
    store.save_session(&logged_in).await.expect("replace");
    assert_eq!(store.load_session("s1", time(150)).await.expect("load"), Some(logged_in.clone()));
    assert_eq!(store.load_session("s1", time(199)).await.expect("load"), Some(logged_in.clone()));
    assert_eq!(store.load_session("s1", time(200)).await.expect("load"), None, "gone at the expiry instant");
    assert_eq!(store.load_session("nope", time(0)).await.expect("load"), None);

    store.save_session(&session("s2", None, time(50))).await.expect("save");
    store.save_session(&session("s3", Some(ann.id), time(150))).await.expect("save");
    store.save_session(&session("s4", Some(ben.id), time(300))).await.expect("save");
    assert_eq!(store.delete_expired_sessions(time(150)).await.expect("sweep"), 2, "s2 and s3");
    assert_eq!(store.load_session("s3", time(0)).await.expect("load"), None);
    assert_eq!(store.load_session("s1", time(0)).await.expect("load"), Some(logged_in));
    assert_eq!(store.delete_expired_sessions(time(150)).await.expect("sweep"), 0);

    assert_eq!(store.delete_user_sessions(ann.id).await.expect("log out everywhere"), 1);
    assert_eq!(store.load_session("s1", time(0)).await.expect("load"), None);
    assert!(store.load_session("s4", time(0)).await.expect("load").is_some(), "ben's session stays");

    store.delete_session("s4").await.expect("delete");
    assert_eq!(store.load_session("s4", time(0)).await.expect("load"), None);
    store.delete_session("s4").await.expect("deleting twice is fine");
    assert!(is_not_found(store.save_session(&session("s5", Some(UserId(404_404)), time(10))).await, "user"));
}

// ---- access controls ----

async fn an_access_control_replaces_the_active_one_of_its_type(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let first = store.set_access_control(ann.id, "ip_whitelist", "10.0.0.0/8").await.expect("set");
    assert_eq!(
        (first.user_id, first.control_type.as_str(), first.control_value.as_str(), first.is_active),
        (ann.id, "ip_whitelist", "10.0.0.0/8", true)
    );
    let timeout = store.set_access_control(ann.id, "session_timeout", "30").await.expect("set");
    let zed = store.set_access_control(ann.id, "Zed", "z").await.expect("set");
    let replaced = store.set_access_control(ann.id, "ip_whitelist", "192.168.0.0/16").await.expect("replace");
    assert_eq!((replaced.id, replaced.control_value.as_str()), (first.id, "192.168.0.0/16"));
    assert_eq!(
        store.access_controls(ann.id).await.expect("list"),
        vec![zed.clone(), replaced, timeout.clone()],
        "one per type, by type in byte order"
    );

    let bens = store.set_access_control(ben.id, "ip_whitelist", "127.0.0.1/32").await.expect("set");
    assert_eq!(store.access_controls(ben.id).await.expect("list"), vec![bens]);

    store.remove_access_control(ann.id, "ip_whitelist").await.expect("remove");
    assert_eq!(store.access_controls(ann.id).await.expect("list"), vec![zed, timeout]);
    assert!(is_not_found(store.remove_access_control(ann.id, "ip_whitelist").await, "access_control"));
    assert!(is_not_found(store.remove_access_control(ann.id, "never_set").await, "access_control"));
    let again = store.set_access_control(ann.id, "ip_whitelist", "10.1.0.0/16").await.expect("set again");
    assert_ne!(again.id, first.id, "a removed control stays inactive; setting the type again makes a new one");
    assert!(is_not_found(store.set_access_control(UserId(404_404), "ip_whitelist", "x").await, "user"));

    let setters: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let ben = ben.id;
            tokio::spawn(async move { store.set_access_control(ben, "max_tokens", &i.to_string()).await })
        })
        .collect();
    for setter in setters {
        setter.await.expect("task").expect("concurrent set");
    }
    let bens = store.access_controls(ben.id).await.expect("list");
    assert_eq!(bens.iter().filter(|c| c.control_type == "max_tokens").count(), 1, "still one active per type");
}

// ---- platform settings ----

async fn platform_settings_round_trip_json(store: SharedStore) {
    assert_eq!(store.platform_setting("private_mode").await.expect("read"), None);
    store.set_platform_setting("private_mode", &json!(true)).await.expect("set");
    assert_eq!(store.platform_setting("private_mode").await.expect("read"), Some(json!(true)));
    store.set_platform_setting("private_mode", &json!(false)).await.expect("replace");
    assert_eq!(store.platform_setting("private_mode").await.expect("read"), Some(json!(false)));

    let nested = json!({"tiers": {"free": {"calls": 100}, "pro": [1, 2.5, "x"]}, "note": "ünïcödé ✓", "none": null});
    store.set_platform_setting("limits", &nested).await.expect("set");
    assert_eq!(store.platform_setting("limits").await.expect("read"), Some(nested));
    store.set_platform_setting("nothing", &serde_json::Value::Null).await.expect("set null");
    assert_eq!(store.platform_setting("nothing").await.expect("read"), Some(serde_json::Value::Null));
    assert_eq!(store.platform_setting("private_mode").await.expect("read"), Some(json!(false)), "keys are separate");
}

// ---- account changes ----

async fn a_user_password_hash_can_be_changed(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    store.set_user_password_hash(ann.id, "$argon2id$v=19$new").await.expect("set");
    let now = store.user(ann.id).await.expect("read").expect("exists");
    assert_eq!(now, User { password_hash: "$argon2id$v=19$new".into(), ..ann });
    assert!(is_not_found(store.set_user_password_hash(UserId(404_404), "x").await, "user"));
}

async fn deleting_a_user_removes_their_tenants_tokens_sessions_controls_and_counters(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let shop = tenant_of(&store, ann.id, "shop").await.id;
    let bens_shop = tenant_of(&store, ben.id, "ben's").await.id;
    store.append_events(&[event(shop, "e"), event(bens_shop, "e")]).await.expect("append");
    for owner in [ann.id, ben.id] {
        store.create_api_token(new_token(owner, "t", &format!("hash-{owner}"))).await.expect("token");
        store.save_session(&session(&format!("s-{owner}"), Some(owner), time(100))).await.expect("session");
        store.set_access_control(owner, "ip_whitelist", "x").await.expect("control");
        store.add_usage(UsageSubject::User(owner), "api_calls", "2026-11", 3).await.expect("usage");
    }
    store.add_usage(UsageSubject::Tenant(shop), "tokens", "2026-11", 5).await.expect("usage");
    store.add_usage(UsageSubject::Tenant(bens_shop), "tokens", "2026-11", 5).await.expect("usage");
    store.create_invite(NewInvite { created_by: Some(ann.id), ..invite("FROM-ANN", 1, None) }).await.expect("invite");

    store.delete_user(ann.id).await.expect("delete");
    assert_eq!(store.user(ann.id).await.expect("read"), None);
    assert_eq!(store.tenant(shop).await.expect("read"), None);
    assert_eq!(store.last_event_seq(shop).await.expect("seq"), 0);
    assert!(store.events_after(shop, 0, 10).await.expect("events").is_empty(), "the tenant's events go with it");
    assert_eq!(store.api_token_by_hash(&format!("hash-{}", ann.id)).await.expect("token"), None);
    assert_eq!(store.load_session(&format!("s-{}", ann.id), time(0)).await.expect("session"), None);
    assert!(store.access_controls(ann.id).await.expect("controls").is_empty());
    assert_eq!(store.usage(UsageSubject::User(ann.id), "api_calls", "2026-11").await.expect("usage"), 0);
    assert_eq!(store.usage(UsageSubject::Tenant(shop), "tokens", "2026-11").await.expect("usage"), 0);
    let invites = store.list_invites().await.expect("invites");
    assert_eq!((invites.len(), invites[0].created_by), (1, None), "invites stay, unlinked");
    assert!(is_not_found(store.delete_user(ann.id).await, "user"));

    // Ben keeps everything.
    assert_eq!(store.tenants_of_user(ben.id).await.expect("tenants").len(), 1);
    assert_eq!(store.last_event_seq(bens_shop).await.expect("seq"), 1);
    assert!(store.api_token_by_hash(&format!("hash-{}", ben.id)).await.expect("token").is_some());
    assert!(store.load_session(&format!("s-{}", ben.id), time(0)).await.expect("session").is_some());
    assert_eq!(store.access_controls(ben.id).await.expect("controls").len(), 1);
    assert_eq!(store.usage(UsageSubject::User(ben.id), "api_calls", "2026-11").await.expect("usage"), 3);
    assert_eq!(store.usage(UsageSubject::Tenant(bens_shop), "tokens", "2026-11").await.expect("usage"), 5);
}

// ---- tenant changes ----

async fn a_users_tenants_are_listed_page_by_page(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let a1 = tenant_of(&store, ann.id, "a1").await;
    let b1 = tenant_of(&store, ben.id, "b1").await;
    let a2 = tenant_of(&store, ann.id, "a2").await;
    let a3 = tenant_of(&store, ann.id, "a3").await;
    let first = store.tenants_of_user_page(ann.id, None, 2).await.expect("page");
    assert_eq!(first, vec![a1, a2.clone()]);
    assert_eq!(store.tenants_of_user_page(ann.id, Some(a2.id), 2).await.expect("page"), vec![a3.clone()]);
    assert!(store.tenants_of_user_page(ann.id, Some(a3.id), 2).await.expect("page").is_empty());
    assert!(store.tenants_of_user_page(ann.id, None, 0).await.expect("limit 0").is_empty());
    assert_eq!(store.tenants_of_user_page(ben.id, None, 10).await.expect("page"), vec![b1]);
}

async fn a_tenant_can_be_updated_only_by_its_owner(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let shop = store
        .create_tenant(NewTenant {
            user_id: ann.id,
            name: "Mugs".into(),
            domain: Some("mugs.example".into()),
            personality: "coachty".into(),
            settings: json!({"autopilot_minutes": 30}),
        })
        .await
        .expect("create");

    let unchanged = store.update_tenant(shop.id, ann.id, TenantChanges::default()).await.expect("no changes");
    assert_eq!(unchanged, shop);
    let renamed = store
        .update_tenant(shop.id, ann.id, TenantChanges { name: Some("Mugs & Co".into()), ..TenantChanges::default() })
        .await
        .expect("rename");
    assert_eq!(renamed, Tenant { name: "Mugs & Co".into(), ..shop.clone() });
    let cleared = store
        .update_tenant(shop.id, ann.id, TenantChanges { domain: Some(None), ..TenantChanges::default() })
        .await
        .expect("clear domain");
    assert_eq!(cleared.domain, None);
    let everything = TenantChanges {
        name: Some("Cups".into()),
        domain: Some(Some("cups.example".into())),
        personality: Some("stoic".into()),
        settings: Some(json!({"overrides": {"pricing": "off"}})),
    };
    let updated = store.update_tenant(shop.id, ann.id, everything).await.expect("update all");
    let expected = Tenant {
        name: "Cups".into(),
        domain: Some("cups.example".into()),
        personality: "stoic".into(),
        settings: json!({"overrides": {"pricing": "off"}}),
        ..shop.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(store.tenant(shop.id).await.expect("read"), Some(expected.clone()));

    let hijack = TenantChanges { name: Some("mine now".into()), ..TenantChanges::default() };
    assert!(is_not_found(store.update_tenant(shop.id, ben.id, hijack.clone()).await, "tenant"));
    assert!(is_not_found(store.update_tenant(TenantId(777_777), ann.id, hijack).await, "tenant"));
    assert_eq!(store.tenant(shop.id).await.expect("read"), Some(expected), "another user changed nothing");
}

async fn a_tenant_can_be_deleted_only_by_its_owner(store: SharedStore) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let shop = tenant_of(&store, ann.id, "shop").await;
    let blog = tenant_of(&store, ann.id, "blog").await;
    store.append_events(&[event(shop.id, "e"), event(blog.id, "e")]).await.expect("append");
    assert!(is_not_found(store.delete_tenant(shop.id, ben.id).await, "tenant"));
    assert_eq!(store.tenant(shop.id).await.expect("read"), Some(shop.clone()), "still there");
    store.delete_tenant(shop.id, ann.id).await.expect("delete");
    assert_eq!(store.tenant(shop.id).await.expect("read"), None);
    assert!(store.events_after(shop.id, 0, 10).await.expect("events").is_empty(), "its events go with it");
    assert_eq!(store.events_after(blog.id, 0, 10).await.expect("events").len(), 1, "the other's stay");
    assert_eq!(store.tenants_of_user(ann.id).await.expect("tenants"), vec![blog]);
    assert!(is_not_found(store.delete_tenant(shop.id, ann.id).await, "tenant"));
    assert!(is_not_found(store.delete_tenant(TenantId(777_777), ann.id).await, "tenant"));
}

/// Gives `tenant` a row in every table the API writes, plus a store and an ad entity
/// (raw SQL: the API has no calls for them).
async fn fill_tenant(store: &SharedStore, db: &Db, tenant: TenantId) {
    store.append_events(&[event(tenant, "e1"), event(tenant, "e2")]).await.expect("append");
    store.record_ledger_entry(ledger_entry(tenant, money("9.99"), Some("tx"), time(1))).await.expect("book");
    db.execute_owned(format!(
        "insert into product_stores (tenant_id, store_name, platform) values ({}, 'store', 'sandbox')",
        tenant.0
    ))
    .await;
    db.execute_owned(format!("insert into ad_entities (tenant_id, platform) values ({}, 'google_ads')", tenant.0))
        .await;
    let product = product_of(store, tenant, "Mug").await;
    store.create_campaign(new_campaign(tenant, Some(product.id), "launch")).await.expect("campaign");
    store.create_social_post(new_post(tenant, "hello", "draft")).await.expect("post");
    store.record_experience(new_experience(tenant, "set_price", "1")).await.expect("experience");
    store.record_pattern_outcome(tenant, "niche", "mugs", json!({}), true, Decimal::ONE).await.expect("pattern");
    store.upsert_market_insight(new_insight(tenant, "mugs", json!({}))).await.expect("insight");
    store.put_agent_memory(tenant, "pricing", "k", json!(1), None).await.expect("memory");
    store.save_adapter_state(tenant, "shopify", &json!({})).await.expect("adapter state");
    store.record_llm_call(llm_call(tenant, "ceo", "m", 1, 1)).await.expect("llm call");
    let checkpoint =
        Checkpoint { tenant_id: tenant, cycle: 1, step: "s".into(), state: json!({}), updated_at: time(1) };
    store.save_checkpoint(&checkpoint).await.expect("checkpoint");
    store.save_cycle_report(&cycle_report(tenant, 1, "day 1")).await.expect("cycle report");
    store.request_approval(approval(tenant, "flight:1", "140.00", 0, 100)).await.expect("approval");
    let shop = format!("shop-{}.myshopify.com", tenant.0);
    store.link_platform_account("shopify", &shop, tenant, "store-1", time(0)).await.expect("platform account");
    store.add_usage(UsageSubject::Tenant(tenant), "tokens", "2026-11", 10).await.expect("usage");
    store.create_media_file(media(tenant, "logo.png", 3), None).await.expect("file");
    granted(store.claim_lease(tenant, "node-a", MINUTE_MS).await.expect("lease"));
}

async fn deleting_a_tenant_removes_its_events_products_and_ledger_rows(store: SharedStore, db: Db) {
    let ann = user(&store, "ann@example.com").await;
    let doomed = tenant_of(&store, ann.id, "doomed").await.id;
    let kept = tenant_of(&store, ann.id, "kept").await.id;
    fill_tenant(&store, &db, doomed).await;
    fill_tenant(&store, &db, kept).await;

    let references = db.references_to_tenants().await;
    assert!(references.len() >= 15, "found the foreign keys: {references:?}");
    for (table, column, cascades) in &references {
        assert!(cascades, "{table}.{column} must say `on delete cascade`");
        let rows = db.count(format!("select count(*) as n from {table} where {column} = {}", doomed.0)).await;
        assert!(rows > 0, "the test gives the tenant a row in {table}");
    }

    store.delete_tenant(doomed, ann.id).await.expect("delete");
    for (table, column, _) in &references {
        let doomed_rows = db.count(format!("select count(*) as n from {table} where {column} = {}", doomed.0)).await;
        assert_eq!(doomed_rows, 0, "{table} keeps nothing of the deleted tenant");
        let kept_rows = db.count(format!("select count(*) as n from {table} where {column} = {}", kept.0)).await;
        assert!(kept_rows > 0, "{table} keeps the other tenant's rows");
    }
    assert!(store.events_after(doomed, 0, 10).await.expect("events").is_empty());
    assert_eq!(store.last_event_seq(doomed).await.expect("seq"), 0);
    assert!(store.products(doomed).await.expect("products").is_empty());
    assert!(store.ledger_entries(doomed, time(0), time(10)).await.expect("ledger").is_empty());
    assert_eq!(store.usage(UsageSubject::Tenant(doomed), "tokens", "2026-11").await.expect("usage"), 0);

    assert_eq!(store.events_after(kept, 0, 10).await.expect("events").len(), 2);
    assert_eq!(store.products(kept).await.expect("products").len(), 1);
    assert_eq!(store.ledger_entries(kept, time(0), time(10)).await.expect("ledger").len(), 1);
    assert_eq!(store.usage(UsageSubject::Tenant(kept), "tokens", "2026-11").await.expect("usage"), 10);
}

/// A tenant made as a copy of another: its business rows, the source's adapter state
/// as the caller re-addresses it, its checkpoint; not its log, media, LLM calls, stores
/// or the owner's price pins. Refused whole while the source is mid-cycle, and past
/// the owner's limit.
async fn a_tenant_can_start_as_a_copy_of_another_between_its_cycles(store: SharedStore, db: Db) {
    let ann = user(&store, "ann@example.com").await;
    let ben = user(&store, "ben@example.com").await;
    let source = tenant_of(&store, ann.id, "demo").await.id;
    fill_tenant(&store, &db, source).await;
    store.put_agent_memory(source, "price_override", "1", json!({ "price": "9" }), None).await.expect("pin");
    store.save_adapter_state(source, "gumroad", &json!({ "left": "out" })).await.expect("adapter state");
    let rehome = |to: TenantId, platform: &str, state: Value| -> MemoryResult<Option<Value>> {
        Ok((platform != "gumroad").then(|| json!({ "platform": platform, "for": to.0, "was": state })))
    };
    let copy_for = |name: &str, limit| {
        let tenant = NewTenant {
            user_id: ben.id,
            name: name.into(),
            domain: None,
            personality: "coachty".into(),
            settings: json!({ "autopilot": false }),
        };
        let store = store.clone();
        async move { store.create_tenant_copy(tenant, limit, source, &rehome).await }
    };

    // Mid-cycle (fill_tenant leaves the checkpoint at step "s"): nothing is created.
    let refused = copy_for("copy", None).await;
    assert!(matches!(refused, Err(MemoryError::Busy(_))), "{refused:?}");
    assert!(store.tenants_of_user(ben.id).await.expect("tenants").is_empty());

    let done = Checkpoint { tenant_id: source, cycle: 7, step: "done".into(), state: json!(null), updated_at: time(2) };
    store.save_checkpoint(&done).await.expect("checkpoint");
    let copy = copy_for("copy", Some(1)).await.expect("copied").id;

    let products = store.products(copy).await.expect("products");
    assert_eq!(products.iter().map(|p| (&p.title, p.store_id)).collect::<Vec<_>>(), [(&"Mug".to_owned(), None)]);
    let campaigns = store.campaigns(copy).await.expect("campaigns");
    assert_eq!(campaigns.iter().map(|c| c.product_id).collect::<Vec<_>>(), [Some(products[0].id)], "its own product");
    assert_eq!(store.social_posts(copy, 10).await.expect("posts").len(), 1);
    let ledger = store.ledger_entries(copy, time(0), time(10)).await.expect("ledger");
    assert_eq!(ledger.iter().map(|e| e.amount).collect::<Vec<_>>(), [money("9.99")]);
    assert!(store.agent_memory(copy, "pricing", "k").await.expect("memory").is_some());
    assert!(store.agent_memory(copy, "price_override", "1").await.expect("memory").is_none(), "pins stay");
    let world = store.adapter_state(copy, "shopify").await.expect("state").expect("copied");
    assert_eq!(world, json!({ "platform": "shopify", "for": copy.0, "was": {} }));
    assert!(store.adapter_state(copy, "gumroad").await.expect("state").is_none(), "left out by rehome");
    let checkpoint = store.checkpoint(copy).await.expect("read").expect("checkpoint");
    assert_eq!((checkpoint.cycle, checkpoint.step.as_str()), (7, "done"));
    let minutes = store.cycle_reports(copy, None, 10).await.expect("reports");
    assert_eq!(minutes, [CycleReport { tenant_id: copy, ..cycle_report(source, 1, "day 1") }], "the history to read");
    assert!(store.events_after(copy, 0, 10).await.expect("events").is_empty(), "a log of its own");
    for table in ["media_files", "llm_calls", "product_stores", "ad_entities"] {
        let rows = db.count(format!("select count(*) as n from {table} where tenant_id = {}", copy.0)).await;
        assert_eq!(rows, 0, "{table} is not copied");
    }
    // The source is as it was.
    assert_eq!(store.products(source).await.expect("products").len(), 1);

    let refused = copy_for("second", Some(1)).await;
    assert!(matches!(refused, Err(MemoryError::LimitReached { limit: 1, .. })), "{refused:?}");
    assert_eq!(store.tenants_of_user(ben.id).await.expect("tenants").len(), 1);
}

// ---- SQLite only: opening databases ----

#[tokio::test]
async fn sqlite_connect_accepts_every_url_form_and_creates_missing_folders() {
    let root = std::env::temp_dir().join(format!("boardroom_connect_{}", std::process::id()));
    for (index, prefix) in ["sqlite:", "sqlite://"].iter().enumerate() {
        let path = root.join(format!("nested{index}/deeper/boardroom.db"));
        let store = SqliteStore::connect(&format!("{prefix}{}", path.display())).await.expect("connect");
        store.ping().await.expect("ping");
        store.close().await;
        assert!(path.exists(), "{} was created", path.display());
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_in_memory_sqlite_database_is_one_database_for_all_queries() {
    let store: SharedStore = Arc::new(SqliteStore::connect("sqlite::memory:").await.expect("connect"));
    let shop = tenant(&store, "shop").await.id;
    let appends: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_events(&[event(shop, format!("e{i}"))]).await.expect("append") })
        })
        .collect();
    for append in appends {
        append.await.expect("task");
    }
    assert_eq!(store.last_event_seq(shop).await.expect("seq"), 8);
    let other = SqliteStore::connect("sqlite::memory:").await.expect("connect");
    assert_eq!(other.count_users().await.expect("count"), 0, "each in-memory store is its own database");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    assert!(matches!(boardroom_memory::connect("mysql://localhost/db").await, Err(MemoryError::UnsupportedUrl(_))));
}

#[tokio::test]
async fn sqlite_money_that_is_not_an_exact_decimal_reads_as_corrupt() {
    let db = boardroom_memory::testing::fresh_sqlite().await;
    let store: SharedStore = Arc::new(db.store.clone());
    let shop = tenant(&store, "shop").await.id;
    store.record_ledger_entry(ledger_entry(shop, Decimal::ONE, None, time(1))).await.expect("book");
    sqlx::query("update profit_logs set amount = '12,50 EUR'").execute(db.store.pool()).await.expect("spoil");
    assert!(matches!(store.ledger_entries(shop, time(0), time(2)).await, Err(MemoryError::Corrupt(_))));
}

// ---- throughput (run by hand: cargo test --release -p boardroom-memory --test conformance -- --ignored --nocapture) ----

async fn measure_appends(store: SharedStore, label: &str) {
    let tenants = [tenant(&store, "a").await.id, tenant(&store, "b").await.id, tenant(&store, "c").await.id];
    let batches: Vec<Vec<NewEvent>> = (0..200)
        .map(|b| {
            (0..1000)
                .map(|i| {
                    event(tenants[(b + i) % 3], format!("batch {b} event {i}"))
                        .with_data(json!({"agent": "pricing", "product": i, "price": "12.50"}))
                        .with_revenue_impact(Decimal::new(i as i64, 2))
                })
                .collect()
        })
        .collect();
    let started = std::time::Instant::now();
    for batch in &batches {
        store.append_events(batch).await.expect("append");
    }
    let elapsed = started.elapsed();
    let per_second = 200_000.0 / elapsed.as_secs_f64();
    println!("{label}: 200,000 events in batches of 1,000 took {elapsed:.2?}: {per_second:.0} events/s");
    let mut counts = BTreeMap::new();
    for tenant in tenants {
        counts.insert(tenant, store.last_event_seq(tenant).await.expect("seq"));
    }
    assert_eq!(counts.values().sum::<i64>(), 200_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "throughput measurement; run by hand in release mode"]
async fn sqlite_append_throughput() {
    let db = boardroom_memory::testing::fresh_sqlite().await;
    measure_appends(Arc::new(db.store.clone()), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "throughput measurement; run by hand in release mode"]
async fn postgres_append_throughput() {
    let db = boardroom_memory::testing::fresh_postgres().await;
    measure_appends(Arc::new(db.store.clone()), "postgres").await;
}

async fn accounts_the_system_makes_do_not_take_the_admins_place(store: SharedStore) {
    let system =
        NewUser { email: "demo@localhost".into(), password_hash: "!".into(), role: Role::User, tier: Tier::Free };
    store.create_user(system).await.expect("system account");
    assert!(!store.admin_exists().await.expect("query"));
    let first =
        NewUser { email: "first@example.com".into(), password_hash: "h".into(), role: Role::User, tier: Tier::Free };
    assert_eq!(store.create_user_first_is_admin(first).await.expect("first person").role, Role::Admin);
    assert!(store.admin_exists().await.expect("query"));
    let second =
        NewUser { email: "second@example.com".into(), password_hash: "h".into(), role: Role::User, tier: Tier::Free };
    assert_eq!(store.create_user_first_is_admin(second).await.expect("second person").role, Role::User);
}

async fn a_webhook_delivery_is_new_only_the_first_time_until_it_is_forgotten_or_pruned(store: SharedStore) {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).single().expect("a time");
    assert!(store.record_webhook_delivery("stripe", "evt_1", start).await.expect("first"));
    assert!(!store.record_webhook_delivery("stripe", "evt_1", start).await.expect("replay"), "a replay is not new");
    assert!(
        store.record_webhook_delivery("shopify", "evt_1", start).await.expect("other provider"),
        "ids are per provider"
    );

    // A delivery whose handling failed is forgotten, so the platform's retry is new.
    store.forget_webhook_delivery("stripe", "evt_1").await.expect("forget");
    assert!(store.record_webhook_delivery("stripe", "evt_1", start).await.expect("retry"));

    // Within the retention an id stays remembered; past it, it is pruned as others arrive.
    let within = start + WEBHOOK_DELIVERY_RETENTION - Duration::hours(1);
    assert!(store.record_webhook_delivery("stripe", "evt_2", within).await.expect("another"));
    assert!(!store.record_webhook_delivery("stripe", "evt_1", within).await.expect("still known"));
    let past = start + WEBHOOK_DELIVERY_RETENTION + Duration::hours(1);
    assert!(store.record_webhook_delivery("stripe", "evt_3", past).await.expect("later"));
    assert!(store.record_webhook_delivery("stripe", "evt_1", past).await.expect("pruned"), "pruned after retention");
    assert!(!store.record_webhook_delivery("stripe", "evt_2", past).await.expect("kept"), "a younger id is kept");
}

async fn ten_concurrent_deliveries_of_the_same_id_are_new_exactly_once(store: SharedStore) {
    let now = Utc::now();
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_webhook_delivery("shopify", "b54557e4", now).await })
        })
        .collect();
    let mut new = 0;
    for attempt in attempts {
        if attempt.await.expect("task").expect("insert") {
            new += 1;
        }
    }
    assert_eq!(new, 1, "exactly one of ten concurrent deliveries is new");
}

// ---- the cluster: leases, fencing, nodes ----

async fn autopilot_tenant(store: &SharedStore, name: &str) -> Tenant {
    let owner = user(store, &format!("owner-of-{name}@example.com")).await;
    store
        .create_tenant(NewTenant {
            user_id: owner.id,
            name: name.into(),
            domain: None,
            personality: "coachty".into(),
            settings: json!({ "autopilot": true }),
        })
        .await
        .expect("create tenant")
}

fn granted(claim: LeaseClaim) -> Lease {
    match claim {
        LeaseClaim::Granted(lease) => lease,
        LeaseClaim::HeldElsewhere(holder) => panic!("lease refused: held by {holder:?}"),
    }
}

const MINUTE_MS: i64 = 60_000;

async fn a_lease_is_held_by_one_node_until_it_lapses_and_each_fresh_claim_has_a_new_epoch(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    assert_eq!(store.lease(shop).await.expect("read"), None);

    let first = granted(store.claim_lease(shop, "node-a", MINUTE_MS).await.expect("claim"));
    assert_eq!((first.tenant_id, first.node.as_str(), first.epoch, first.live), (shop, "node-a", 1, true));
    match store.claim_lease(shop, "node-b", MINUTE_MS).await.expect("claim") {
        LeaseClaim::HeldElsewhere(holder) => assert_eq!((holder.node.as_str(), holder.epoch), ("node-a", 1)),
        LeaseClaim::Granted(lease) => panic!("two nodes hold {shop}: {lease:?}"),
    }
    // The holder claiming again renews, with the same epoch.
    let again = granted(store.claim_lease(shop, "node-a", MINUTE_MS).await.expect("claim"));
    assert_eq!(again.epoch, 1);
    assert!(again.expires_ms >= first.expires_ms);

    // Handed back: the next claim, by anyone, has a new epoch.
    assert!(!store.release_lease(shop, "node-b", 1).await.expect("release"), "not node-b's to hand back");
    assert!(store.release_lease(shop, "node-a", 1).await.expect("release"));
    assert!(!store.release_lease(shop, "node-a", 1).await.expect("release"), "already handed back");
    let lapsed = store.lease(shop).await.expect("read").expect("row kept");
    assert_eq!((lapsed.epoch, lapsed.live), (1, false));
    let taken = granted(store.claim_lease(shop, "node-b", MINUTE_MS).await.expect("claim"));
    assert_eq!((taken.node.as_str(), taken.epoch), ("node-b", 2));

    // A lease that lapsed and nobody claimed since is renewed by its holder, epoch and
    // all (a busy node's late renewal); one another node claimed meanwhile is not.
    let other = tenant(&store, "other").await.id;
    let third = tenant(&store, "third").await.id;
    let brief = granted(store.claim_lease(other, "node-b", 0).await.expect("claim"));
    assert!(!brief.live);
    granted(store.claim_lease(third, "node-b", 0).await.expect("claim"));
    assert_eq!(granted(store.claim_lease(third, "node-c", MINUTE_MS).await.expect("claim")).epoch, 2);
    let renewed = store.renew_leases("node-b", MINUTE_MS).await.expect("renew");
    let mut renewed: Vec<(TenantId, i64, bool)> = renewed.iter().map(|l| (l.tenant_id, l.epoch, l.live)).collect();
    renewed.sort();
    assert_eq!(renewed, vec![(shop, 2, true), (other, 1, true)]);
    store.release_leases("node-c").await.expect("release");

    let live: Vec<(TenantId, String)> =
        store.live_leases().await.expect("list").into_iter().map(|l| (l.tenant_id, l.node)).collect();
    assert_eq!(live, vec![(shop, "node-b".to_owned()), (other, "node-b".to_owned())]);
    assert_eq!(store.release_leases("node-b").await.expect("release all"), 2);
    assert!(store.live_leases().await.expect("list").is_empty());

    let missing = store.claim_lease(TenantId(987_654), "node-a", MINUTE_MS).await;
    assert!(matches!(missing, Err(MemoryError::NotFound(_))), "{missing:?}");
}

async fn eight_nodes_claiming_one_tenant_at_once_leave_it_with_exactly_one(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let claims = (0..8).map(|node| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_lease(shop, &format!("node-{node}"), MINUTE_MS).await })
    });
    let mut winners = Vec::new();
    for claim in futures::future::join_all(claims).await {
        if let LeaseClaim::Granted(lease) = claim.expect("task").expect("claim") {
            winners.push(lease);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(winners[0].epoch, 1);
    assert_eq!(store.lease(shop).await.expect("read").expect("lease").node, winners[0].node);
}

async fn a_write_carrying_a_past_epoch_is_refused_whole(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let fenced = |summary: &str, epoch: i64| NewEvent { fence: Some(epoch), ..event(shop, summary) };
    let checkpoint =
        |step: &str| Checkpoint { tenant_id: shop, cycle: 1, step: step.into(), state: json!({}), updated_at: time(0) };

    // No lease yet: a fenced write has nothing to match.
    let refused = store.append_events_and_checkpoints(&[fenced("early", 1)], &[]).await;
    assert!(matches!(refused, Err(MemoryError::Fenced { tenant, epoch: 1 }) if tenant == shop), "{refused:?}");

    granted(store.claim_lease(shop, "node-a", MINUTE_MS).await.expect("claim"));
    store.append_events_and_checkpoints(&[fenced("by a", 1)], &[checkpoint("market")]).await.expect("a writes");

    store.release_lease(shop, "node-a", 1).await.expect("release");
    granted(store.claim_lease(shop, "node-b", MINUTE_MS).await.expect("claim"));
    // Node a, paused past its lease, writes on: refused, its checkpoint too, and the
    // unfenced event in the same batch with it.
    let stale = store
        .append_events_and_checkpoints(
            &[event(shop, "an API request's"), fenced("stale a", 1)],
            &[checkpoint("launch")],
        )
        .await;
    assert!(matches!(stale, Err(MemoryError::Fenced { epoch: 1, .. })), "{stale:?}");
    assert_eq!(store.checkpoint(shop).await.expect("read").expect("checkpoint").step, "market");

    store.append_events_and_checkpoints(&[fenced("by b", 2)], &[]).await.expect("b writes");
    store.append_events(&[event(shop, "unfenced")]).await.expect("unfenced writes");
    let summaries: Vec<(i64, String)> =
        store.events_after(shop, 0, 10).await.expect("read").into_iter().map(|e| (e.seq, e.summary)).collect();
    assert_eq!(
        summaries,
        vec![(1, "by a".to_owned()), (2, "by b".to_owned()), (3, "unfenced".to_owned())],
        "refused writes take no number: the log stays gap-free"
    );
}

async fn the_event_log_stamps_a_fenced_tenants_events_and_drops_them_once_the_lease_moved(store: SharedStore) {
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    let log = EventLog::start(store.clone(), EventLogConfig::default());
    let epoch = granted(store.claim_lease(shop, "node-a", MINUTE_MS).await.expect("claim")).epoch;
    log.fence(shop, epoch);
    assert_eq!(log.fence_of(shop), Some(epoch));
    log.append_and_wait(event(shop, "while held")).await.expect("held: written");

    store.release_lease(shop, "node-a", epoch).await.expect("release");
    granted(store.claim_lease(shop, "node-b", MINUTE_MS).await.expect("claim"));
    let refused = log.append_and_wait(event(shop, "after the move")).await;
    assert!(matches!(refused, Err(MemoryError::Fenced { .. })), "{refused:?}");
    let committed = log
        .commit(
            vec![event(shop, "a step")],
            Checkpoint { tenant_id: shop, cycle: 1, step: "launch".into(), state: json!({}), updated_at: time(0) },
        )
        .await;
    assert!(matches!(committed, Err(MemoryError::Fenced { .. })), "{committed:?}");
    // Another tenant's events in the same moments are untouched.
    log.append_and_wait(event(other, "other's")).await.expect("unfenced tenant");

    log.unfence(shop, epoch + 7);
    assert_eq!(log.fence_of(shop), Some(epoch), "only the epoch set is cleared");
    log.unfence(shop, epoch);
    log.append_and_wait(event(shop, "an API request's")).await.expect("unfenced again");
    log.close().await;
    let summaries: Vec<String> =
        store.events_after(shop, 0, 10).await.expect("read").into_iter().map(|e| e.summary).collect();
    assert_eq!(summaries, vec!["while held", "an API request's"]);
    assert!(store.checkpoint(shop).await.expect("read").is_none());
}

async fn unleased_autopilot_tenants_are_the_active_ones_with_autopilot_on_and_no_live_lease(store: SharedStore) {
    let free = autopilot_tenant(&store, "free").await.id;
    let held = autopilot_tenant(&store, "held").await.id;
    let lapsed = autopilot_tenant(&store, "lapsed").await.id;
    let disabled = autopilot_tenant(&store, "disabled").await.id;
    let manual = tenant(&store, "manual").await.id;
    granted(store.claim_lease(held, "node-a", MINUTE_MS).await.expect("claim"));
    granted(store.claim_lease(lapsed, "node-a", 0).await.expect("claim"));
    store.set_tenant_active(disabled, false).await.expect("disable");
    granted(store.claim_lease(manual, "node-a", 0).await.expect("claim"));

    assert_eq!(store.unleased_autopilot_tenants(10).await.expect("list"), vec![free, lapsed]);
    assert_eq!(store.unleased_autopilot_tenants(1).await.expect("list"), vec![free]);
    assert!(store.unleased_autopilot_tenants(0).await.expect("list").is_empty());
}

async fn nodes_join_beat_drain_and_leave_handing_back_their_leases(store: SharedStore) {
    let beat = |name: &str, swarms: i64| NodeBeat {
        name: name.into(),
        address: format!("http://{name}:8080"),
        capacity: 1000,
        swarms,
    };
    store.join_cluster(&beat("node-a", 0)).await.expect("join");
    store.join_cluster(&beat("node-b", 0)).await.expect("join");
    assert!(!store.node_heartbeat(&beat("node-a", 2)).await.expect("beat"));
    let shop = tenant(&store, "shop").await.id;
    let other = tenant(&store, "other").await.id;
    granted(store.claim_lease(shop, "node-a", MINUTE_MS).await.expect("claim"));
    granted(store.claim_lease(other, "node-a", MINUTE_MS).await.expect("claim"));

    assert!(store.set_node_draining("node-a", true).await.expect("drain"));
    assert!(!store.set_node_draining("node-z", true).await.expect("drain"), "unknown node");
    assert!(store.node_heartbeat(&beat("node-a", 2)).await.expect("beat"), "told to drain");
    let (now, nodes) = store.cluster_nodes().await.expect("list");
    let summary: Vec<(&str, i64, i64, bool)> =
        nodes.iter().map(|n| (n.name.as_str(), n.swarms, n.leases, n.draining)).collect();
    assert_eq!(summary, vec![("node-a", 2, 2, true), ("node-b", 0, 0, false)]);
    assert!(nodes.iter().all(|n| n.seen_ms <= now && n.started_ms <= n.seen_ms && now - n.seen_ms < MINUTE_MS));
    assert_eq!(nodes[0].address, "http://node-a:8080");

    assert_eq!(store.leave_cluster("node-a").await.expect("leave"), 2);
    let (_, nodes) = store.cluster_nodes().await.expect("list");
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["node-b"]);
    assert!(store.live_leases().await.expect("list").is_empty());
    // Rejoining starts afresh, not draining.
    store.join_cluster(&beat("node-a", 0)).await.expect("join");
    store.set_node_draining("node-a", true).await.expect("drain");
    store.join_cluster(&beat("node-a", 0)).await.expect("join");
    assert!(!store.node_heartbeat(&beat("node-a", 0)).await.expect("beat"));
}

/// A node whose swarms hold every connection of its pool (a burst of first cycles, a
/// slow database) still renews its leases and beats: the connections kept for its
/// upkeep are its own. Without them the renewal waited behind the swarms' queries past
/// the acquire time-out, and busy nodes lost their leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_with_its_pool_exhausted_still_renews_its_leases() {
    let db = boardroom_memory::testing::fresh_postgres().await;
    let store = db.store.clone();
    let shared: SharedStore = Arc::new(store.clone());
    let tenant = tenant(&shared, "busy").await.id;
    let lease = granted(store.claim_lease(tenant, "node-a", MINUTE_MS).await.expect("claim"));

    // Every connection of the pool taken, as by swarms in the middle of their work.
    let mut held = Vec::new();
    while let Ok(Ok(connection)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), store.pool().acquire()).await
    {
        held.push(connection);
    }
    assert!(!held.is_empty(), "the pool gave connections");
    let busy = store.tenant(tenant).await;
    assert!(busy.is_err(), "the pool is exhausted: an ordinary query times out");

    let renewed = store.renew_leases("node-a", MINUTE_MS).await.expect("renewed on the upkeep connections");
    assert_eq!(renewed.iter().map(|lease| (lease.tenant_id, lease.epoch)).collect::<Vec<_>>(), [(tenant, lease.epoch)]);
    let beat = NodeBeat { name: "node-a".into(), address: "http://a".into(), capacity: 10, swarms: 1 };
    store.join_cluster(&beat).await.expect("joined on the upkeep connections");
    assert!(!store.node_heartbeat(&beat).await.expect("beat on the upkeep connections"), "not draining");
    drop(held);
}
