-- The spending guard's approval queue, PostgreSQL dialect; the SQLite twin is
-- migrations/sqlite/0008_approvals.sql. Conventions as in 0001 (bigserial ids,
-- timestamptz, jsonb, money as unconstrained numeric).
--
-- An action of the swarm whose money is above the owner's approval threshold waits here
-- until the owner approves or rejects it, or it expires unanswered. One row per tenant
-- and action key (what the action is, e.g. one ad flight of one product for one week):
-- a cycle that wants the same action again finds the row an earlier cycle made instead
-- of asking twice, and an approved action is carried out once, then marked `done`.

create table approvals (
    id           bigserial primary key,
    tenant_id    bigint not null references tenants (id) on delete cascade,
    action_key   text not null,
    -- what kind of action: `ad_flight`
    kind         text not null,
    -- one sentence for the owner
    summary      text not null,
    -- the money the action commits
    amount       numeric not null,
    -- what the agent expects from it (revenue, why)
    expected     jsonb not null default '{}',
    -- what is done once it is approved (the platform call's parameters)
    action       jsonb not null default '{}',
    status       text not null default 'pending'
        check (status in ('pending', 'approved', 'rejected', 'expired', 'done')),
    requested_at timestamptz not null,
    expires_at   timestamptz not null,
    decided_at   timestamptz,
    decided_by   bigint references users (id) on delete set null,
    unique (tenant_id, action_key)
);
create index approvals_tenant_status_idx on approvals (tenant_id, status, id);
