-- Durability: a lookup of turns by their idempotency key (turn_id), and the records the
-- applier set aside because the store refused them for a reason that is not an outage.
-- (The SQLite 0003 migration, keyed by journal like journal_positions.)

CREATE INDEX items_by_turn_id ON items (tenant_id, project_id, space, user_id, turn_id)
    WHERE turn_id IS NOT NULL;

-- record: the journal record as ASCII JSON (TEXT, not JSONB: JSONB refuses \u0000, and
-- a NUL byte is exactly what may have got the record here). Operator data, read and
-- written without a tenant, like journal_positions.
CREATE TABLE journal_quarantine (
    journal_id      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    tenant_id       TEXT,
    project_id      TEXT,
    space           TEXT,
    user_id         TEXT,
    record          TEXT NOT NULL,
    error           TEXT NOT NULL,
    quarantined_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (journal_id, seq)
);
