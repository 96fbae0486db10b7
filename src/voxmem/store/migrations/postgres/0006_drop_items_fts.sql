-- Caller items lose their full-text index (the SQLite 0006 migration drops items_fts).
-- Caller search runs in memory (the engine's per-caller index, loaded from items), so
-- no query read items.tsv, yet every item write computed it and updated its GIN index.
-- Org chunks keep chunks.tsv and chunks_text.

DROP INDEX IF EXISTS items_text;
ALTER TABLE items DROP COLUMN IF EXISTS tsv;
