-- Which business a platform account is connected to, SQLite dialect; the PostgreSQL
-- twin is migrations/postgres/0009_platform_accounts.sql. Conventions as in 0001.
--
-- A delivery from a platform names the account it is about (Shopify's shop domain,
-- Stripe's connected account); this is how it finds its business. An account belongs to
-- one business at a time: the key is (platform, account), so a second business cannot
-- connect a shop the first one has, and deliveries never land in two ledgers.

create table platform_accounts (
    platform     text not null,
    account      text not null,
    tenant_id    integer not null references tenants (id) on delete cascade,
    -- the connected store's id (its `store:<uuid>` record in agent memory)
    store_id     text not null,
    connected_at text not null,
    primary key (platform, account)
) strict;
create index platform_accounts_tenant_idx on platform_accounts (tenant_id);
