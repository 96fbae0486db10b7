-- The store's own identity: a random id made once, when this migration runs.
--
-- The runtime names the files it keeps beside the store (the org vector index: ~3 GB at
-- a million chunks, tens of minutes to rebuild) by it. Named by the connection target
-- instead, a new password, another spelling of the host or a renamed server lost them.
-- Operator data without a tenant (no row security), like journal_positions.
CREATE TABLE store_identity (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    store_id  TEXT NOT NULL
);
INSERT INTO store_identity (id, store_id)
    VALUES (1, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text));
