-- An event row checked its tenant with a foreign key, which costs a lookup per row: half
-- the price of an append. The tenant is checked once per batch instead, by the
-- event_sequences row every append reserves its numbers in (that row references tenants
-- and stays locked until the append commits, so the tenant cannot go meanwhile), and a
-- tenant's events go with it through the trigger below, as the cascade took them.
alter table ai_events drop constraint ai_events_tenant_id_fkey;

create function delete_tenant_events() returns trigger language plpgsql as $$
begin
    delete from ai_events where tenant_id = old.id;
    return old;
end
$$;

create trigger tenant_events_go_with_it after delete on tenants
    for each row execute function delete_tenant_events();
