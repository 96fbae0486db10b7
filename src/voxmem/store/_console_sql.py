"""SQL fragments and row mappers the operator views share on both dialects.

Only what is identical on SQLite and Postgres lives here; the separator stripping and
placeholders differ and stay in ``_sqlite_console`` / ``_pg_console``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CALLER_STATS", "SESSION_COLUMNS", "like_pattern", "session_row"]


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching ``text`` anywhere, wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


#: Last call, number of calls and number of current facts of caller row ``c``.
CALLER_STATS = (
    "(SELECT MAX(s.started_at) FROM sessions s WHERE s.tenant_id = c.tenant_id"
    " AND s.project_id = c.project_id AND s.space = c.space AND s.user_id = c.user_id),"
    " (SELECT COUNT(*) FROM sessions s WHERE s.tenant_id = c.tenant_id"
    " AND s.project_id = c.project_id AND s.space = c.space AND s.user_id = c.user_id),"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = c.tenant_id"
    " AND i.project_id = c.project_id AND i.space = c.space AND i.user_id = c.user_id"
    " AND i.kind = 'fact' AND i.valid_to IS NULL AND i.deleted_at IS NULL)"
)
#: The columns :func:`session_row` reads, for session row ``s``.
SESSION_COLUMNS = (
    "s.id, s.user_id, s.space, s.agent_id, s.started_at, s.ended_at, s.end_reason,"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = s.tenant_id"
    " AND i.project_id = s.project_id AND i.session_id = s.id AND i.kind = 'turn'"
    " AND i.deleted_at IS NULL),"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = s.tenant_id"
    " AND i.project_id = s.project_id AND i.session_id = s.id AND i.kind = 'fact')"
)


def session_row(r: Sequence[Any]) -> dict[str, Any]:
    """One call of a list, from a row selected with :data:`SESSION_COLUMNS`."""
    return {"sessionId": r[0], "userId": r[1], "space": r[2], "agentId": r[3],
            "startedAt": r[4], "endedAt": r[5], "endReason": r[6], "turnCount": r[7],
            "factCount": r[8]}
