-- Files a business keeps (product images, marketing media), SQLite dialect. The
-- PostgreSQL twin lives in migrations/postgres/0004_media.sql; keep the two in step.
-- The bytes live in the database beside their metadata, so a backup holds both and a
-- crash cannot leave one without the other. Each file is at most 10 MiB (the API's
-- limit); an account's total is bounded by its tier.

create table media_files (
    id           integer primary key autoincrement,
    tenant_id    integer not null references tenants (id) on delete cascade,
    name         text not null,
    content_type text not null,
    size_bytes   integer not null check (size_bytes >= 0),
    sha256       text not null,
    content      blob not null,
    created_at   text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict;
create index media_files_tenant_idx on media_files (tenant_id, id);
