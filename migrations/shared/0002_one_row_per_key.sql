drop index successful_patterns_lookup_idx;
create unique index successful_patterns_key_idx
    on successful_patterns (tenant_id, pattern_type, pattern_key);

-- ---- market insights: one row per (tenant, niche) ----

delete from market_insights
 where id not in (select max(id) from market_insights group by tenant_id, niche);
drop index market_insights_lookup_idx;
create unique index market_insights_niche_idx on market_insights (tenant_id, niche);

-- ---- agent memory: a key/value store per agent (memory_type is the key) ----

