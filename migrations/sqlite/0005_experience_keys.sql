-- An experience may carry the key of what recorded it (e.g. `cycle:12`), SQLite
-- dialect; the PostgreSQL twin is migrations/postgres/0005_experience_keys.sql. The
-- unique index makes recording the same experience twice impossible: a step retried
-- after a crash finds its key taken and writes nothing. Experiences without a key are
-- not constrained (NULLs are distinct in a unique index).

alter table experiences add column record_key text;
create unique index experiences_record_key_idx on experiences (tenant_id, record_key);
