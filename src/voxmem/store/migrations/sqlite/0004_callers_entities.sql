-- Callers and entities (SPEC §7): the identifiers that lead to a caller, merges that can
-- be undone, and each caller's graph of things mentioned in calls. JSON is TEXT in both
-- dialects for these tables.

-- One row per (identifier, caller). An identifier owned by two callers (a family phone)
-- is ambiguous and links neither.
CREATE TABLE caller_identifiers (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    raw         TEXT NOT NULL,
    source      TEXT NOT NULL,
    session_id  TEXT,
    turn_id     TEXT,
    strength    REAL NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, kind, value, user_id)
);
CREATE INDEX caller_identifiers_by_caller
    ON caller_identifiers (tenant_id, project_id, space, user_id);

-- Merges made by resolution or by hand: why (evidence) and what undoing needs (undo).
-- status: merged (the source id now resolves to the target), proposed, undone.
-- Rows from before this migration have no status and are a record only.
ALTER TABLE caller_merges ADD COLUMN id TEXT;
ALTER TABLE caller_merges ADD COLUMN status TEXT;
ALTER TABLE caller_merges ADD COLUMN evidence TEXT NOT NULL DEFAULT '{}';
ALTER TABLE caller_merges ADD COLUMN undo TEXT;
ALTER TABLE caller_merges ADD COLUMN undone_at REAL;
CREATE UNIQUE INDEX caller_merges_by_id ON caller_merges (tenant_id, id);

CREATE TABLE entities (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    label       TEXT NOT NULL,
    attrs       TEXT NOT NULL DEFAULT '{}',
    confidence  REAL NOT NULL,
    mentions    INTEGER NOT NULL,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, user_id, id)
);

CREATE TABLE entity_edges (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    relation    TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    confidence  REAL NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, user_id, source_id, relation, target_id)
);

-- Which memory items (turns, facts) mention an entity: what accurate recall brings back.
CREATE TABLE entity_mentions (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    session_id  TEXT,
    at          REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, user_id, entity_id, item_id)
);
