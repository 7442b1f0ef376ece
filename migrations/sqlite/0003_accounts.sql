-- Accounts: server-side sessions, platform settings, and one active access control per
-- user and type. SQLite dialect; the PostgreSQL twin lives in
-- migrations/postgres/0003_accounts.sql; keep the two in step. Conventions as in 0001
-- (STRICT tables, RFC 3339 timestamps, json as text, booleans as 0/1).
--
-- Every foreign key to tenants (0001, 0002) already says `on delete cascade`, so deleting
-- a tenant takes its rows with it; usage_counters has no foreign key (its subject is a
-- user or a tenant) and is cleaned up by the application in the deleting transaction.

-- ---- server-side sessions ----

-- One row per browser session. user_id is null until the session logs in. Expired rows
-- are never returned and are deleted in bulk by expires_at. Without rowid: the id is the
-- only key a session is read by.
create table sessions (
    id         text primary key,
    user_id    integer references users (id) on delete cascade,
    data       text not null default 'null',
    expires_at text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict, without rowid;
create index sessions_expires_at_idx on sessions (expires_at);
create index sessions_user_id_idx on sessions (user_id);

-- ---- platform settings (e.g. the run-time private-mode toggle) ----

create table platform_settings (
    key        text primary key,
    value      text not null,
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) strict, without rowid;

-- ---- access controls: at most one active row per (user, control type) ----

-- Setting a control replaces the active one with an upsert on this index. Duplicates
-- (none are written by any earlier version) are deactivated first, newest kept active.
update access_controls set is_active = false
 where is_active
   and id not in (select max(id) from access_controls where is_active group by user_id, control_type);
create unique index access_controls_active_idx on access_controls (user_id, control_type) where is_active;
