-- An event row checked its tenant with a foreign key, which costs a lookup per row. The
-- tenant is checked once per batch instead, by the event_sequences row every append
-- reserves its numbers in (that row references tenants, and appends are serialised by
-- BEGIN IMMEDIATE), and a tenant's events go with it through the trigger below, as the
-- cascade took them. SQLite cannot drop a constraint, so the table is rebuilt.
create table ai_events_checked_per_batch (
    tenant_id      integer not null,
    seq            integer not null,
    occurred_at    text not null,
    actor          text not null,
    kind           text not null,
    summary        text not null,
    data           text not null default 'null',
    revenue_impact text,
    primary key (tenant_id, seq)
) strict, without rowid;

insert into ai_events_checked_per_batch select * from ai_events;
drop table ai_events;
alter table ai_events_checked_per_batch rename to ai_events;

create trigger tenant_events_go_with_it after delete on tenants
begin
    delete from ai_events where tenant_id = old.id;
end;
