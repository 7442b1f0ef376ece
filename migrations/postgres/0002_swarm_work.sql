-- What the autopilot swarm keeps, PostgreSQL dialect. The SQLite twin lives in
-- migrations/sqlite/0002_swarm_work.sql; keep the two in step. Conventions as in 0001
-- (bigserial ids, timestamptz, jsonb, money as unconstrained numeric).
--
-- New columns mirror the SQLite twin, which can only add columns with constant
-- defaults; the rows written before this migration are backfilled where a constant is
-- not good enough. Where 0001 left a lookup index that is now the key of an upsert,
-- duplicates (none are written by any earlier version) are removed, newest kept, and the
-- index becomes unique.

-- ---- products: the niche they were made for and their tags ----

alter table products add column niche text not null default '';
alter table products add column tags jsonb not null default '[]'; -- array of strings

-- ---- campaigns: the product they promote and the platform's id ----

-- The application also checks that the product belongs to the campaign's tenant.
alter table campaigns add column product_id bigint references products (id) on delete set null;
-- include: shared/0002_platform_ids_and_reads.sql
alter table successful_patterns add column success_count bigint not null default 0;
update successful_patterns set
    pattern_key   = 'legacy-' || id,
    success_count = round(coalesce(success_rate, 0) * usage_count)::bigint,
    success_rate  = coalesce(success_rate, 0),
    avg_revenue   = coalesce(avg_revenue, 0);
-- include: shared/0002_one_row_per_key.sql
-- content stays text (0001): the application writes JSON text into it, as on SQLite.
delete from agent_memory
 where id not in (select max(id) from agent_memory group by tenant_id, agent_type, memory_type);
drop index agent_memory_lookup_idx;
create unique index agent_memory_key_idx on agent_memory (tenant_id, agent_type, memory_type);

-- ---- adapter state: what each platform adapter keeps between calls ----

create table adapter_state (
    tenant_id  bigint not null references tenants (id) on delete cascade,
    platform   text not null,
    state      jsonb not null default 'null',
    updated_at timestamptz not null default now(),
    primary key (tenant_id, platform)
);

-- ---- LLM calls: one row per call, for token accounting ----

create table llm_calls (
    id                bigserial primary key,
    tenant_id         bigint not null references tenants (id) on delete cascade,
    agent             text not null,
    model             text not null,
    prompt_tokens     bigint not null check (prompt_tokens >= 0),
    completion_tokens bigint not null check (completion_tokens >= 0),
    outcome           text not null, -- ok, error, timeout, ...
    created_at        timestamptz not null default now()
);
create index llm_calls_tenant_time_idx on llm_calls (tenant_id, created_at);
