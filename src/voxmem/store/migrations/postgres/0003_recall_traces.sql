-- What each recall returned and how long each lane took, so an operator can see why a
-- turn recalled what it did (dashboard call page, health chart). Diagnostic data: kept
-- for a short window and pruned on every write, never read on the audio path.
-- (The SQLite 0003 migration, with Postgres types and the tenant policy.)

-- `seq` orders traces recorded within one clock tick, as SQLite's rowid does.
CREATE TABLE recall_traces (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    agent_id    TEXT NOT NULL DEFAULT '',
    session_id  TEXT,
    at          DOUBLE PRECISION NOT NULL,
    query       TEXT NOT NULL,
    total_ms    DOUBLE PRECISION NOT NULL,
    degraded    BOOLEAN NOT NULL DEFAULT FALSE,
    trace       JSONB NOT NULL DEFAULT '{}',
    injected    TEXT NOT NULL DEFAULT '',
    sources     JSONB NOT NULL DEFAULT '[]'
);
CREATE INDEX recall_traces_by_session ON recall_traces (tenant_id, project_id, session_id, at);
CREATE INDEX recall_traces_by_time ON recall_traces (tenant_id, project_id, at);
CREATE INDEX recall_traces_by_caller ON recall_traces (tenant_id, project_id, space, user_id);

ALTER TABLE recall_traces ENABLE ROW LEVEL SECURITY;
ALTER TABLE recall_traces FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON recall_traces
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));
