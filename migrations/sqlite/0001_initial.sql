-- Boardroom's initial schema, SQLite dialect. The PostgreSQL twin lives in
-- migrations/postgres/0001_initial.sql; keep the two in step.
--
-- Conventions (SQLite has no decimal, timestamp, json or boolean types):
-- * tables are STRICT, so a value of the wrong type is refused instead of converted;
-- * money is text holding Decimal::to_string() ("-0.10"), because a REAL would round
--   and a NUMERIC column would turn the text into a REAL;
-- * timestamps are the RFC 3339 text sqlx writes for chrono's DateTime<Utc>
--   ("2026-11-02T10:00:00.123456+00:00"); it sorts in time order as text;
-- * json is text; booleans are 0/1 integers.
-- The default for timestamps written by SQL itself has the same shape.

-- ---- people and businesses ----

create table users (
    id                  integer primary key autoincrement,
    -- stored lower-cased by the application, so a plain unique constraint is enough
    email               text not null unique,
    password_hash       text not null,
    role                text not null default 'user' check (role in ('user', 'admin')),
    tier                text not null default 'free' check (tier in ('free', 'pro', 'enterprise')),
    subscription_status text not null default 'trial',
    stripe_customer_id  text,
    created_at          text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    last_login          text,
    api_calls_used      integer not null default 0,
    monthly_limit       integer not null default 100
) strict;

create table tenants (
    id          integer primary key autoincrement,
    user_id     integer not null references users (id) on delete cascade,
    name        text not null,
    domain      text,
    personality text not null default 'coachty',
    settings    text not null default '{}',
    is_active   integer not null default 1 check (is_active in (0, 1)),
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index tenants_user_id_idx on tenants (user_id, id);

create table api_tokens (
    id           integer primary key autoincrement,
    user_id      integer not null references users (id) on delete cascade,
    name         text not null,
    -- only a hash is kept; the token itself is shown once
    token_hash   text not null unique,
    created_at   text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    last_used_at text,
    revoked_at   text
) strict;
create index api_tokens_user_id_idx on api_tokens (user_id);

create table invite_codes (
    id             integer primary key autoincrement,
    code           text not null unique,
    created_by     integer references users (id) on delete set null,
    used_by        integer references users (id) on delete set null,
    uses_remaining integer not null default 1 check (uses_remaining >= 0),
    expires_at     text,
    is_active      integer not null default 1 check (is_active in (0, 1)),
    created_at     text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    used_at        text
) strict;

create table access_controls (
    id            integer primary key autoincrement,
    user_id       integer not null references users (id) on delete cascade,
    control_type  text not null, -- ip_whitelist, session_timeout, ...
    control_value text not null,
    is_active     integer not null default 1 check (is_active in (0, 1)),
    created_at    text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index access_controls_user_id_idx on access_controls (user_id, control_type);

-- Counters for quotas (API calls per user, tokens per tenant) per period such as
-- '2026-11'. subject_id is a user or tenant id depending on subject_kind, hence no
-- foreign key.
create table usage_counters (
    subject_kind text not null check (subject_kind in ('user', 'tenant')),
    subject_id   integer not null,
    counter      text not null,
    period       text not null,
    value        integer not null default 0,
    primary key (subject_kind, subject_id, counter, period)
) strict, without rowid;

-- ---- the event log ----

-- One row per swarm action. seq counts from 1 per tenant without gaps; it is handed out
-- by event_sequences inside the appending transaction. Without rowid: the primary key
-- is the only lookup, so the rows live in its b-tree and an append writes one tree.
create table ai_events (
    tenant_id      integer not null references tenants (id) on delete cascade,
    seq            integer not null,
    occurred_at    text not null,
    actor          text not null,
    kind           text not null,
    summary        text not null,
    data           text not null default 'null',
    revenue_impact text,
    primary key (tenant_id, seq)
) strict, without rowid;

-- The last sequence number handed out per tenant. Appenders bump it with an upsert
-- inside a BEGIN IMMEDIATE transaction, so appenders (also in other processes) queue on
-- the write lock, and a rolled-back append gives its numbers back.
create table event_sequences (
    tenant_id integer primary key references tenants (id) on delete cascade,
    last_seq  integer not null check (last_seq >= 0)
) strict;

-- ---- autopilot ----

-- Where the CEO's cycle stands, so a restarted process resumes there. One per tenant.
create table autopilot_checkpoints (
    tenant_id  integer primary key references tenants (id) on delete cascade,
    cycle      integer not null,
    step       text not null,
    state      text not null default 'null',
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;

create table agent_memory (
    id            integer primary key autoincrement,
    tenant_id     integer not null references tenants (id) on delete cascade,
    agent_type    text not null,
    memory_type   text not null,
    content       text not null,
    context       text,
    success_score text,
    created_at    text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    last_accessed text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index agent_memory_lookup_idx on agent_memory (tenant_id, agent_type, memory_type);

create table experiences (
    id                integer primary key autoincrement,
    tenant_id         integer not null references tenants (id) on delete cascade,
    action_type       text not null,
    context           text,
    result            text,
    success           integer check (success in (0, 1)),
    revenue_generated text,
    lessons_learned   text,
    created_at        text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index experiences_lookup_idx on experiences (tenant_id, action_type, created_at);

create table successful_patterns (
    id           integer primary key autoincrement,
    tenant_id    integer not null references tenants (id) on delete cascade,
    pattern_type text not null,
    pattern_data text,
    success_rate real, -- a ratio, not money
    avg_revenue  text,
    usage_count  integer not null default 1,
    last_used    text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index successful_patterns_lookup_idx on successful_patterns (tenant_id, pattern_type);

create table market_insights (
    id               integer primary key autoincrement,
    tenant_id        integer not null references tenants (id) on delete cascade,
    niche            text not null,
    trend_data       text,
    performance_data text,
    optimal_pricing  text,
    best_times       text,
    last_updated     text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index market_insights_lookup_idx on market_insights (tenant_id, niche);

-- ---- commerce and marketing ----

create table product_stores (
    id              integer primary key autoincrement,
    tenant_id       integer not null references tenants (id) on delete cascade,
    store_name      text not null,
    platform        text not null, -- shopify, gumroad, stripe, sandbox
    store_url       text,
    -- sealed by the application (ChaCha20-Poly1305); never plain text
    api_credentials blob,
    monthly_revenue text not null default '0',
    total_products  integer not null default 0,
    is_active       integer not null default 1 check (is_active in (0, 1)),
    created_at      text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index product_stores_tenant_id_idx on product_stores (tenant_id);

create table products (
    id          integer primary key autoincrement,
    tenant_id   integer not null references tenants (id) on delete cascade,
    store_id    integer references product_stores (id) on delete set null,
    title       text not null,
    description text,
    price       text not null,
    cost        text,
    currency    text not null default 'USD',
    status      text not null default 'draft',
    external_id text, -- the platform's id once published
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at  text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index products_tenant_id_idx on products (tenant_id, status);
create index products_store_id_idx on products (store_id);

create table social_posts (
    id               integer primary key autoincrement,
    tenant_id        integer not null references tenants (id) on delete cascade,
    platform         text not null,
    content          text not null,
    media_urls       text not null default '[]',
    scheduled_time   text,
    posted_at        text,
    engagement_score integer not null default 0,
    status           text not null default 'scheduled'
) strict;
create index social_posts_tenant_id_idx on social_posts (tenant_id, status, scheduled_time);

create table ad_entities (
    id               integer primary key autoincrement,
    tenant_id        integer not null references tenants (id) on delete cascade,
    platform         text not null, -- google_ads, meta_ads, tiktok_ads
    campaign_id      text,
    campaign_name    text,
    budget           text,
    status           text,
    performance_data text,
    created_at       text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index ad_entities_tenant_id_idx on ad_entities (tenant_id, platform);

create table campaigns (
    id         integer primary key autoincrement,
    tenant_id  integer not null references tenants (id) on delete cascade,
    name       text not null,
    channel    text not null,
    budget     text not null default '0',
    spent      text not null default '0',
    status     text not null default 'draft',
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index campaigns_tenant_id_idx on campaigns (tenant_id, status);

-- ---- money ----

-- The ledger: money in is positive, money out negative.
create table profit_logs (
    id             integer primary key autoincrement,
    tenant_id      integer not null references tenants (id) on delete cascade,
    source         text not null,
    amount         text not null,
    category       text not null,
    transaction_id text,
    metadata       text not null default 'null',
    recorded_at    text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    -- a retried platform call must not book twice; rows without an id are not constrained
    unique (tenant_id, transaction_id)
) strict;
create index profit_logs_tenant_time_idx on profit_logs (tenant_id, recorded_at);
