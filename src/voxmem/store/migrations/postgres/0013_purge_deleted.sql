-- The deleted memories of a project, for the cleanup's purge (the memories and the recall
-- traces citing them): without it each purge read every memory of the project to find
-- the few deleted since the last one. Partial: a deleted memory is hard-deleted within
-- the hour, so the index stays small and a save never touches it.
--
-- (SQLite's 0013 also marks deleted org chunks for its full-text index's merge; Postgres
-- keeps no such index apart from the rows, which vacuum reclaims.)
CREATE INDEX items_deleted ON items (tenant_id, project_id) WHERE deleted_at IS NOT NULL;
