alter table campaigns add column external_id text;
create index campaigns_product_id_idx on campaigns (product_id);

-- ---- social posts: the platform's id, and newest-first reads ----

alter table social_posts add column external_id text;
create index social_posts_tenant_newest_idx on social_posts (tenant_id, id);

-- ---- experiences: newest-first reads across action types ----

create index experiences_tenant_time_idx on experiences (tenant_id, created_at);

-- ---- successful patterns: one row per (tenant, type, key) with exact counts ----

alter table successful_patterns add column pattern_key text not null default '';
-- successes out of usage_count, so success_rate is an exact ratio of two counts
