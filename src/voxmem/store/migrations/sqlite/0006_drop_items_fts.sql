-- Caller items lose their full-text index. Caller search runs in memory (the engine's
-- per-caller index, loaded from items), so no query read items_fts, yet its three
-- triggers ran on every item write and doubled the cost of a batch of turns.
-- Org chunks keep chunks_fts. items.search_key stays: it is NOT NULL, and dropping
-- a column rewrites the table.

DROP TRIGGER IF EXISTS items_ai;
DROP TRIGGER IF EXISTS items_ad;
DROP TRIGGER IF EXISTS items_au;
DROP TABLE IF EXISTS items_fts;
