-- The spending guard's approval queue, SQLite dialect; the PostgreSQL twin is
-- migrations/postgres/0008_approvals.sql. Conventions as in 0001 (STRICT tables,
-- RFC 3339 timestamps, money as exact text, json as text).
--
-- An action of the swarm whose money is above the owner's approval threshold waits here
-- until the owner approves or rejects it, or it expires unanswered. One row per tenant
-- and action key (what the action is, e.g. one ad flight of one product for one week):
-- a cycle that wants the same action again finds the row an earlier cycle made instead
-- of asking twice, and an approved action is carried out once, then marked `done`.

create table approvals (
    id           integer primary key autoincrement,
    tenant_id    integer not null references tenants (id) on delete cascade,
    action_key   text not null,
    -- what kind of action: `ad_flight`
    kind         text not null,
    -- one sentence for the owner
    summary      text not null,
    -- the money the action commits
    amount       text not null,
    -- what the agent expects from it (revenue, why)
    expected     text not null default '{}',
    -- what is done once it is approved (the platform call's parameters)
    action       text not null default '{}',
    status       text not null default 'pending'
        check (status in ('pending', 'approved', 'rejected', 'expired', 'done')),
    requested_at text not null,
    expires_at   text not null,
    decided_at   text,
    decided_by   integer references users (id) on delete set null,
    unique (tenant_id, action_key)
) strict;
create index approvals_tenant_status_idx on approvals (tenant_id, status, id);
