-- The cluster: several nodes on one database, each tenant's swarm on exactly one of them.
-- See migrations/postgres/0012_swarm_leases.sql for what the columns mean; this is its
-- SQLite twin (several processes may share one SQLite file on one machine).
create table swarm_leases (
    tenant_id  integer primary key references tenants (id) on delete cascade,
    node       text not null,
    epoch      integer not null check (epoch > 0),
    expires_ms integer not null
) strict;
create index swarm_leases_node_idx on swarm_leases (node);

create table cluster_nodes (
    name        text primary key,
    address     text not null,
    capacity    integer not null check (capacity >= 0),
    swarms      integer not null check (swarms >= 0),
    draining    integer not null default 0 check (draining in (0, 1)),
    started_ms  integer not null,
    seen_ms     integer not null
) strict;

-- Nodes look for autopilot businesses nobody runs every few seconds: this keeps that
-- look at the few with autopilot on, however many businesses are registered.
create index tenants_autopilot_idx on tenants (id) where is_active and json_extract(settings, '$.autopilot') = 1;
