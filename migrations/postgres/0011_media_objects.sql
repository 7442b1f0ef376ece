-- A file's bytes move out of the database into the media store (a folder under the data
-- folder, or an S3-compatible bucket): `object_key` names them there, relative to the
-- store's root. A file written before this migration keeps its bytes in `content` until
-- start-up moves them (`MediaLibrary::move_database_files`), which sets `object_key` and
-- empties `content` in one statement, so every row has its bytes in exactly one place
-- and none is lost between the two. The SQLite twin lives in
-- migrations/sqlite/0011_media_objects.sql.
alter table media_files alter column content drop not null;
alter table media_files add column object_key text;
alter table media_files add constraint media_files_bytes_in_one_place
    check ((content is null) <> (object_key is null));
-- The start-up move finds the rows still holding bytes without reading every row.
create index media_files_in_database_idx on media_files (id) where object_key is null;
