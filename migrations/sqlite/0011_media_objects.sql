-- A file's bytes move out of the database into the media store (a folder under the data
-- folder, or an S3-compatible bucket): `object_key` names them there, relative to the
-- store's root. A file written before this migration keeps its bytes in `content` until
-- start-up moves them (`MediaLibrary::move_database_files`), which sets `object_key` and
-- empties `content` in one statement, so every row has its bytes in exactly one place
-- and none is lost between the two. SQLite cannot relax a NOT NULL, so the table is
-- rebuilt. The PostgreSQL twin lives in migrations/postgres/0011_media_objects.sql.
create table media_files_with_objects (
    id           integer primary key autoincrement,
    tenant_id    integer not null references tenants (id) on delete cascade,
    name         text not null,
    content_type text not null,
    size_bytes   integer not null check (size_bytes >= 0),
    sha256       text not null,
    content      blob,
    object_key   text,
    created_at   text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    check ((content is null) <> (object_key is null))
) strict;

insert into media_files_with_objects (id, tenant_id, name, content_type, size_bytes, sha256, content, created_at)
    select id, tenant_id, name, content_type, size_bytes, sha256, content, created_at from media_files;
drop table media_files;
alter table media_files_with_objects rename to media_files;
create index media_files_tenant_idx on media_files (tenant_id, id);
-- The start-up move finds the rows still holding bytes without reading every row.
create index media_files_in_database_idx on media_files (id) where object_key is null;
