-- What each recall returned and how long each lane took, so an operator can see why a
-- turn recalled what it did (dashboard call page, health chart). Diagnostic data: kept
-- for a short window and pruned on every write, never read on the audio path.

CREATE TABLE recall_traces (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    agent_id    TEXT NOT NULL DEFAULT '',
    session_id  TEXT,
    at          REAL NOT NULL,
    query       TEXT NOT NULL,
    total_ms    REAL NOT NULL,
    degraded    INTEGER NOT NULL DEFAULT 0,
    trace       TEXT NOT NULL DEFAULT '{}',
    injected    TEXT NOT NULL DEFAULT '',
    sources     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX recall_traces_by_session ON recall_traces (tenant_id, project_id, session_id, at);
CREATE INDEX recall_traces_by_time ON recall_traces (tenant_id, project_id, at);
CREATE INDEX recall_traces_by_caller ON recall_traces (tenant_id, project_id, space, user_id);
