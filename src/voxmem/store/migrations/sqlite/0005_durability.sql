-- Durability: a lookup of turns by their idempotency key (turn_id), and the records the
-- applier set aside because the store refused them for a reason that is not an outage.

CREATE INDEX items_by_turn_id ON items (tenant_id, project_id, space, user_id, turn_id)
    WHERE turn_id IS NOT NULL;

-- record: the journal record as ASCII JSON (any text survives, NUL included).
CREATE TABLE journal_quarantine (
    seq             INTEGER PRIMARY KEY,
    tenant_id       TEXT,
    project_id      TEXT,
    space           TEXT,
    user_id         TEXT,
    record          TEXT NOT NULL,
    error           TEXT NOT NULL,
    quarantined_at  REAL NOT NULL
);
