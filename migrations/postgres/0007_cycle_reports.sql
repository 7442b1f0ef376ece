-- The CEO's board minutes, one per autopilot cycle, PostgreSQL dialect; the SQLite twin
-- is migrations/sqlite/0007_cycle_reports.sql. Conventions as in 0001 (timestamptz,
-- jsonb, every business row goes when its tenant goes).
--
-- A report is written when its cycle ends, before the checkpoint that closes the cycle:
-- a crash in between resumes the cycle's last step, which writes the report again. The
-- key (tenant, cycle) makes that second write replace the first instead of adding one,
-- and serves the newest-first reads (`cycle < $n` descending).

create table cycle_reports (
    tenant_id  bigint not null references tenants (id) on delete cascade,
    cycle      bigint not null,
    headline   text not null,
    minutes    text not null,
    -- the facts the minutes were written from: market, launch, marketing, price moves,
    -- the day's money and the reinvestment plan (money as exact decimal strings)
    data       jsonb not null default '{}',
    -- who wrote the words: `offline` (the agents' own reasons) or `llm:<model>`
    source     text not null,
    written_at timestamptz not null,
    primary key (tenant_id, cycle)
);
