-- Two reads of the session-start block of a caller not warm yet, without walking every
-- item of the caller.
--
-- Listing a caller's facts (also the warm load and the facts API) used items_by_caller
-- and read every turn row of the caller to keep the few facts: at 10,000 turns ~13 ms
-- of CPU on SQLite for 63 facts, against ~0.1 ms with this index. Partial, so writing a
-- turn does not pay for it.
CREATE INDEX items_facts_by_caller ON items (tenant_id, project_id, space, user_id, created_at)
    WHERE kind = 'fact';

-- The last turns of a call (the previous call's tail in the block) read the whole call
-- and sorted it: items_by_source_session ended at kind. With created_at after it, the
-- newest turns are the index's last entries (1,000-turn call: 1.3 ms -> 0.02 ms).
DROP INDEX IF EXISTS items_by_source_session;
CREATE INDEX items_by_session_time ON items (tenant_id, project_id, session_id, kind, created_at);
