-- The store's own identity: a random id made once, when this migration runs.
--
-- The runtime names the files it keeps beside the store (the org vector index: ~3 GB at
-- a million chunks, tens of minutes to rebuild) by it. Named by the database's path
-- instead, a data directory that was moved, restored from a backup or mounted under
-- another name lost them. A copy of the database file is the same store and keeps the id.
CREATE TABLE store_identity (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    store_id  TEXT NOT NULL
);
INSERT INTO store_identity (id, store_id) VALUES (1, lower(hex(randomblob(16))));
