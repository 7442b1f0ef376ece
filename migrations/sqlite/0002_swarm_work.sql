-- What the autopilot swarm keeps, SQLite dialect. The PostgreSQL twin lives in
-- migrations/postgres/0002_swarm_work.sql; keep the two in step. Conventions as in
-- 0001 (STRICT tables, money as exact decimal text, RFC 3339 timestamps, json as text).
--
-- SQLite's ALTER TABLE can only add columns, and only with constant defaults, so new
-- columns come with one; the rows written before this migration are backfilled where a
-- constant is not good enough. Where 0001 left a lookup index that is now the key of an
-- upsert, duplicates (none are written by any earlier version) are removed, newest kept,
-- and the index becomes unique.

-- ---- products: the niche they were made for and their tags ----

alter table products add column niche text not null default '';
alter table products add column tags text not null default '[]'; -- json array of strings

-- ---- campaigns: the product they promote and the platform's id ----

-- On a STRICT table an added column may reference another table when its default is
-- null. The application also checks that the product belongs to the campaign's tenant.
alter table campaigns add column product_id integer references products (id) on delete set null;
-- include: shared/0002_platform_ids_and_reads.sql
alter table successful_patterns add column success_count integer not null default 0;
update successful_patterns set
    pattern_key   = 'legacy-' || id,
    success_count = cast(round(coalesce(success_rate, 0) * usage_count) as integer),
    success_rate  = coalesce(success_rate, 0),
    avg_revenue   = coalesce(avg_revenue, '0');
-- include: shared/0002_one_row_per_key.sql
delete from agent_memory
 where id not in (select max(id) from agent_memory group by tenant_id, agent_type, memory_type);
drop index agent_memory_lookup_idx;
create unique index agent_memory_key_idx on agent_memory (tenant_id, agent_type, memory_type);

-- ---- adapter state: what each platform adapter keeps between calls ----

create table adapter_state (
    tenant_id  integer not null references tenants (id) on delete cascade,
    platform   text not null,
    state      text not null default 'null',
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    primary key (tenant_id, platform)
) strict, without rowid;

-- ---- LLM calls: one row per call, for token accounting ----

create table llm_calls (
    id                integer primary key autoincrement,
    tenant_id         integer not null references tenants (id) on delete cascade,
    agent             text not null,
    model             text not null,
    prompt_tokens     integer not null check (prompt_tokens >= 0),
    completion_tokens integer not null check (completion_tokens >= 0),
    outcome           text not null, -- ok, error, timeout, ...
    created_at        text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index llm_calls_tenant_time_idx on llm_calls (tenant_id, created_at);
