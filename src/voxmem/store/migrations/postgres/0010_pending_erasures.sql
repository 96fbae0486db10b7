-- Erasures begun and not finished (forget_user, with every caller merged into the one
-- named). A row is written before the first of the caller's rows is deleted and removed
-- once the caller's journal records are gone too, so a runtime killed in between
-- finishes the erasure when it starts again, before it serves. Keyed by journal like
-- journal_quarantine: the runtime that began an erasure holds the caller's journal
-- records, so it is the one that finishes it. It names the caller and nothing they
-- said. Operator data, read without a tenant.
CREATE TABLE pending_erasures (
    journal_id      TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    space           TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    requested_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (journal_id, tenant_id, project_id, space, user_id)
);

-- Erasures finished, as a notice to the other runtimes sharing the store (each drops a
-- caller it has cached when the notice names them). The caller is named by a hash of
-- their key, never by their id; notices older than a day are deleted.
CREATE TABLE erasure_notices (
    caller_hash     TEXT NOT NULL,
    erased_at       DOUBLE PRECISION NOT NULL
);
CREATE INDEX erasure_notices_by_time ON erasure_notices (erased_at);
