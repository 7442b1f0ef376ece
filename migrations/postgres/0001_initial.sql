-- Boardroom's initial schema, PostgreSQL dialect. The SQLite twin lives in
-- migrations/sqlite/0001_initial.sql; keep the two in step.
--
-- Conventions: bigserial ids; timestamptz; jsonb; money is unconstrained numeric so the
-- scale a value was written with (e.g. -0.10) comes back unchanged; every business row
-- carries tenant_id and goes when its tenant goes.

-- ---- people and businesses ----

create table users (
    id                  bigserial primary key,
    -- stored lower-cased by the application, so a plain unique constraint is enough
    email               text not null unique,
    password_hash       text not null,
    role                text not null default 'user' check (role in ('user', 'admin')),
    tier                text not null default 'free' check (tier in ('free', 'pro', 'enterprise')),
    subscription_status text not null default 'trial',
    stripe_customer_id  text,
    created_at          timestamptz not null default now(),
    last_login          timestamptz,
    api_calls_used      bigint not null default 0,
    monthly_limit       bigint not null default 100
);

create table tenants (
    id          bigserial primary key,
    user_id     bigint not null references users (id) on delete cascade,
    name        text not null,
    domain      text,
    personality text not null default 'coachty',
    settings    jsonb not null default '{}',
    is_active   boolean not null default true,
    created_at  timestamptz not null default now()
);
create index tenants_user_id_idx on tenants (user_id, id);

create table api_tokens (
    id           bigserial primary key,
    user_id      bigint not null references users (id) on delete cascade,
    name         text not null,
    -- only a hash is kept; the token itself is shown once
    token_hash   text not null unique,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create index api_tokens_user_id_idx on api_tokens (user_id);

create table invite_codes (
    id             bigserial primary key,
    code           text not null unique,
    created_by     bigint references users (id) on delete set null,
    used_by        bigint references users (id) on delete set null,
    uses_remaining integer not null default 1 check (uses_remaining >= 0),
    expires_at     timestamptz,
    is_active      boolean not null default true,
    created_at     timestamptz not null default now(),
    used_at        timestamptz
);

create table access_controls (
    id            bigserial primary key,
    user_id       bigint not null references users (id) on delete cascade,
    control_type  text not null, -- ip_whitelist, session_timeout, ...
    control_value text not null,
    is_active     boolean not null default true,
    created_at    timestamptz not null default now()
);
create index access_controls_user_id_idx on access_controls (user_id, control_type);

-- Counters for quotas (API calls per user, tokens per tenant) per period such as
-- '2026-11'. subject_id is a user or tenant id depending on subject_kind, hence no
-- foreign key.
create table usage_counters (
    subject_kind text not null check (subject_kind in ('user', 'tenant')),
    subject_id   bigint not null,
    counter      text not null,
    period       text not null,
    value        bigint not null default 0,
    primary key (subject_kind, subject_id, counter, period)
);

-- ---- the event log ----

-- One row per swarm action. seq counts from 1 per tenant without gaps; it is handed out
-- by event_sequences inside the appending transaction.
create table ai_events (
    tenant_id      bigint not null references tenants (id) on delete cascade,
    seq            bigint not null,
    occurred_at    timestamptz not null,
    actor          text not null,
    kind           text not null,
    summary        text not null,
    data           jsonb not null default 'null',
    revenue_impact numeric,
    primary key (tenant_id, seq)
);

-- The last sequence number handed out per tenant. Appenders bump it with an upsert,
-- whose row lock serialises concurrent appenders of the same tenant (also across
-- processes), and a rolled-back append gives its numbers back.
create table event_sequences (
    tenant_id bigint primary key references tenants (id) on delete cascade,
    last_seq  bigint not null check (last_seq >= 0)
);

-- ---- autopilot ----

-- Where the CEO's cycle stands, so a restarted process resumes there. One per tenant.
create table autopilot_checkpoints (
    tenant_id  bigint primary key references tenants (id) on delete cascade,
    cycle      bigint not null,
    step       text not null,
    state      jsonb not null default 'null',
    updated_at timestamptz not null default now()
);

create table agent_memory (
    id            bigserial primary key,
    tenant_id     bigint not null references tenants (id) on delete cascade,
    agent_type    text not null,
    memory_type   text not null,
    content       text not null,
    context       jsonb,
    success_score numeric,
    created_at    timestamptz not null default now(),
    last_accessed timestamptz not null default now()
);
create index agent_memory_lookup_idx on agent_memory (tenant_id, agent_type, memory_type);

create table experiences (
    id                bigserial primary key,
    tenant_id         bigint not null references tenants (id) on delete cascade,
    action_type       text not null,
    context           jsonb,
    result            jsonb,
    success           boolean,
    revenue_generated numeric,
    lessons_learned   text,
    created_at        timestamptz not null default now()
);
create index experiences_lookup_idx on experiences (tenant_id, action_type, created_at);

create table successful_patterns (
    id           bigserial primary key,
    tenant_id    bigint not null references tenants (id) on delete cascade,
    pattern_type text not null,
    pattern_data jsonb,
    success_rate double precision, -- a ratio, not money
    avg_revenue  numeric,
    usage_count  bigint not null default 1,
    last_used    timestamptz not null default now()
);
create index successful_patterns_lookup_idx on successful_patterns (tenant_id, pattern_type);

create table market_insights (
    id               bigserial primary key,
    tenant_id        bigint not null references tenants (id) on delete cascade,
    niche            text not null,
    trend_data       jsonb,
    performance_data jsonb,
    optimal_pricing  jsonb,
    best_times       jsonb,
    last_updated     timestamptz not null default now()
);
create index market_insights_lookup_idx on market_insights (tenant_id, niche);

-- ---- commerce and marketing ----

create table product_stores (
    id              bigserial primary key,
    tenant_id       bigint not null references tenants (id) on delete cascade,
    store_name      text not null,
    platform        text not null, -- shopify, gumroad, stripe, sandbox
    store_url       text,
    -- sealed by the application (ChaCha20-Poly1305); never plain text
    api_credentials bytea,
    monthly_revenue numeric not null default 0,
    total_products  bigint not null default 0,
    is_active       boolean not null default true,
    created_at      timestamptz not null default now()
);
create index product_stores_tenant_id_idx on product_stores (tenant_id);

create table products (
    id          bigserial primary key,
    tenant_id   bigint not null references tenants (id) on delete cascade,
    store_id    bigint references product_stores (id) on delete set null,
    title       text not null,
    description text,
    price       numeric not null,
    cost        numeric,
    currency    text not null default 'USD',
    status      text not null default 'draft',
    external_id text, -- the platform's id once published
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index products_tenant_id_idx on products (tenant_id, status);
create index products_store_id_idx on products (store_id);

create table social_posts (
    id               bigserial primary key,
    tenant_id        bigint not null references tenants (id) on delete cascade,
    platform         text not null,
    content          text not null,
    media_urls       jsonb not null default '[]',
    scheduled_time   timestamptz,
    posted_at        timestamptz,
    engagement_score bigint not null default 0,
    status           text not null default 'scheduled'
);
create index social_posts_tenant_id_idx on social_posts (tenant_id, status, scheduled_time);

create table ad_entities (
    id               bigserial primary key,
    tenant_id        bigint not null references tenants (id) on delete cascade,
    platform         text not null, -- google_ads, meta_ads, tiktok_ads
    campaign_id      text,
    campaign_name    text,
    budget           numeric,
    status           text,
    performance_data jsonb,
    created_at       timestamptz not null default now()
);
create index ad_entities_tenant_id_idx on ad_entities (tenant_id, platform);

create table campaigns (
    id         bigserial primary key,
    tenant_id  bigint not null references tenants (id) on delete cascade,
    name       text not null,
    channel    text not null,
    budget     numeric not null default 0,
    spent      numeric not null default 0,
    status     text not null default 'draft',
    created_at timestamptz not null default now()
);
create index campaigns_tenant_id_idx on campaigns (tenant_id, status);

-- ---- money ----

-- The ledger: money in is positive, money out negative.
create table profit_logs (
    id             bigserial primary key,
    tenant_id      bigint not null references tenants (id) on delete cascade,
    source         text not null,
    amount         numeric not null,
    category       text not null,
    transaction_id text,
    metadata       jsonb not null default 'null',
    recorded_at    timestamptz not null default now(),
    -- a retried platform call must not book twice; rows without an id are not constrained
    unique (tenant_id, transaction_id)
);
create index profit_logs_tenant_time_idx on profit_logs (tenant_id, recorded_at);
