-- Deleted org chunks leave the full-text index at the next cleanup.
--
-- FTS5 (external content) records a deleted chunk as a delete marker; the words it
-- indexed stay in the index's older segments until those are merged, however long that
-- takes, and secure_delete does not reach them. The cleanup job merges the whole index
-- (in FTS5 'merge' steps) when a chunk was deleted since its last run: this row says
-- one was, set by every deletion (a document deleted or replaced, an index deleted) in
-- the deleting transaction, so a restart in between does not forget it.
CREATE TABLE chunk_text_purge_due (
    id  INTEGER PRIMARY KEY CHECK (id = 1)
);
CREATE TRIGGER chunks_purge_due AFTER DELETE ON chunks BEGIN
    INSERT OR IGNORE INTO chunk_text_purge_due (id) VALUES (1);
END;

-- The deleted memories of a project, for the cleanup's purge (the memories, the recall
-- traces citing them, the last deletion time): without it each purge read every memory
-- of the project to find the few deleted since the last one. Partial: a deleted memory
-- is hard-deleted within the hour, so the index stays small and a save never touches it.
CREATE INDEX items_deleted ON items (tenant_id, project_id) WHERE deleted_at IS NOT NULL;
