-- Webhook deliveries already handled, PostgreSQL dialect; the SQLite twin is
-- migrations/sqlite/0006_webhook_deliveries.sql. Platforms retry a delivery until it
-- is acknowledged (Stripe for up to 3 days, Shopify for 2), so each delivery id is kept
-- here, where a restart cannot forget it: the primary key makes "was it new?" one atomic
-- insert, even when two retries arrive at once or in two processes. A delivery without
-- an id is kept under `sha256:<hex of its body>`. Rows older than the retry windows
-- (7 days) are pruned as new ones arrive.

create table webhook_deliveries (
    provider    text not null,
    delivery_id text not null,
    received_at timestamptz not null,
    primary key (provider, delivery_id)
);
create index webhook_deliveries_received_at_idx on webhook_deliveries (received_at);

-- Stripe events recorded on a business used to be remembered in its agent memory
-- (`webhooks` / `seen:<id>`); carry them over so their retries stay duplicates.
insert into webhook_deliveries (provider, delivery_id, received_at)
select 'stripe', substr(memory_type, 6), created_at
from agent_memory
where agent_type = 'webhooks' and memory_type like 'seen:%'
on conflict do nothing;
