-- The cluster: several nodes on one database, each tenant's swarm on exactly one of them.
--
-- `swarm_leases`: a node runs a tenant's swarm only while it holds the tenant's lease,
-- renewed while the swarm lives. Times are milliseconds of the database's own clock, so
-- nodes whose clocks disagree still agree on who holds what. `epoch` grows by one every
-- time the lease is claimed afresh (another node, or the same node after it lapsed) and
-- never goes back: a row is expired, not deleted, when its lease is handed back. Every
-- write a swarm makes carries its epoch and is refused when it is not the current one
-- (fencing), so a node that lost a lease can no longer write for that tenant.
--
-- `cluster_nodes`: each node's heartbeat, capacity and whether an operator drains it.
-- The SQLite twin lives in migrations/sqlite/0012_swarm_leases.sql.
create table swarm_leases (
    tenant_id  bigint primary key references tenants (id) on delete cascade,
    node       text not null,
    epoch      bigint not null check (epoch > 0),
    expires_ms bigint not null
);
create index swarm_leases_node_idx on swarm_leases (node);

create table cluster_nodes (
    name        text primary key,
    address     text not null,
    capacity    bigint not null check (capacity >= 0),
    swarms      bigint not null check (swarms >= 0),
    draining    boolean not null default false,
    started_ms  bigint not null,
    seen_ms     bigint not null
);

-- Nodes look for autopilot businesses nobody runs every few seconds: this keeps that
-- look at the few with autopilot on, however many businesses are registered.
create index tenants_autopilot_idx on tenants (id) where is_active and (settings ->> 'autopilot') = 'true';
