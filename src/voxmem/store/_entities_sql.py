"""The SQL of the caller/entity operations (``_entities.py``) and the two drivers that
run an operation inside one transaction: SQLite on its writer thread, Postgres on a
pooled connection. Statements use ``?`` placeholders; the Postgres driver translates
them. A statement has a dialect variant only where column types differ.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Generator
from typing import Any, TypeVar

from . import _sql as sql

__all__ = ["ENTITY_SQL", "EntityOp", "Result", "Stmt", "run_postgres", "run_sqlite",
           "sql_for"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Stmt:
    """One statement to run: its name in :data:`ENTITY_SQL` and its parameters."""

    name: str
    params: tuple[Any, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    rows: list[tuple[Any, ...]]
    rowcount: int


#: An operation: yields statements, receives their results, returns its value.
EntityOp = Generator[Stmt, Result, T]

_CALLER = sql.CALLER
_SPACE = "tenant_id = ? AND project_id = ? AND space = ?"
_IDENT_COLS = ("kind, value, user_id, raw, source, session_id, turn_id, strength, created_at")
_MERGE_COLS = "id, from_user, to_user, status, at, evidence, undone_at, items_moved"

#: name -> SQL (``?`` placeholders), or name -> {dialect: SQL} where types differ.
ENTITY_SQL: dict[str, str | dict[str, str]] = {
    "ident.insert": (
        "INSERT INTO caller_identifiers (tenant_id, project_id, space, user_id, kind, value,"
        " raw, source, session_id, turn_id, strength, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, space, kind, value, user_id) DO UPDATE SET"
        " strength = CASE WHEN excluded.strength > caller_identifiers.strength"
        " THEN excluded.strength ELSE caller_identifiers.strength END"),
    "ident.by_value": (
        f"SELECT {_IDENT_COLS} FROM caller_identifiers WHERE {_SPACE} AND kind = ?"
        " AND value = ? ORDER BY created_at"),
    "ident.by_any_value": (
        f"SELECT {_IDENT_COLS} FROM caller_identifiers WHERE {_SPACE} AND value = ?"
        " ORDER BY created_at"),
    # Operator search (dashboard): every space of the project; not on the call path.
    "ident.in_project": (
        f"SELECT space, {_IDENT_COLS} FROM caller_identifiers WHERE tenant_id = ?"
        " AND project_id = ? AND kind = ? AND value = ? ORDER BY created_at"),
    "ident.kind_in_project": (
        f"SELECT space, {_IDENT_COLS} FROM caller_identifiers WHERE tenant_id = ?"
        " AND project_id = ? AND kind = ? ORDER BY created_at LIMIT ?"),
    "ident.of_caller": (
        f"SELECT {_IDENT_COLS} FROM caller_identifiers WHERE {_CALLER}"
        " ORDER BY created_at, kind, value"),
    "ident.one": (
        f"SELECT {_IDENT_COLS} FROM caller_identifiers WHERE {_CALLER} AND kind = ?"
        " AND value = ?"),
    "ident.delete_one": (
        f"DELETE FROM caller_identifiers WHERE {_CALLER} AND kind = ? AND value = ?"),
    "ident.delete_caller": f"DELETE FROM caller_identifiers WHERE {_CALLER}",
    "items.ids": f"SELECT id FROM items WHERE {_CALLER}",
    "items.in_session": f"SELECT id FROM items WHERE {_CALLER} AND session_id = ?",
    "sessions.ids": f"SELECT id FROM sessions WHERE {_CALLER}",
    "items.move": {
        "sqlite": (f"UPDATE items SET user_id = ?, search_key = ? WHERE {_CALLER} AND id = ?"),
        # Postgres has no per-caller search token: the parameter is read and ignored.
        "postgres": (f"UPDATE items SET user_id = ? WHERE CAST(? AS text) IS NOT NULL"
                     f" AND {_CALLER} AND id = ?"),
    },
    "sessions.move": f"UPDATE sessions SET user_id = ? WHERE {_CALLER} AND id = ?",
    # Which of these item ids (a JSON list) the tenant holds, whoever's they are (item
    # ids are keys per tenant, migration 0012).
    "items.held": {
        "sqlite": ("SELECT id FROM items WHERE id IN (SELECT value FROM json_each(?))"
                   " AND tenant_id = ?"),
        "postgres": ("SELECT id FROM items WHERE id IN "
                     "(SELECT jsonb_array_elements_text(CAST(? AS jsonb)))"
                     " AND tenant_id = ?"),
    },
    "caller.get": (
        f"SELECT name, metadata, profile, created_at, updated_at FROM callers WHERE {_CALLER}"),
    "caller.put": {
        "sqlite": (
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " profile, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = excluded.name, metadata = excluded.metadata,"
            " profile = excluded.profile, created_at = excluded.created_at,"
            " updated_at = excluded.updated_at"),
        "postgres": (
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " profile, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, CAST(? AS jsonb), CAST(? AS jsonb), ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = excluded.name, metadata = excluded.metadata,"
            " profile = excluded.profile, created_at = excluded.created_at,"
            " updated_at = excluded.updated_at"),
    },
    "caller.delete": sql.FORGET["callers"].sqlite,
    # The target's values win; the source fills what the target lacks (as merge_users).
    "caller.merge_into": {
        "sqlite": (
            "UPDATE callers SET name = COALESCE(name, ?),"
            " metadata = json_patch(?, metadata), profile = json_patch(?, profile),"
            f" updated_at = ? WHERE {_CALLER}"),
        "postgres": (
            "UPDATE callers SET name = COALESCE(name, ?),"
            " metadata = voxmem_merge_patch(CAST(? AS jsonb), metadata),"
            " profile = voxmem_merge_patch(CAST(? AS jsonb), profile),"
            f" updated_at = ? WHERE {_CALLER}"),
    },
    "merge.insert": (
        "INSERT INTO caller_merges (tenant_id, project_id, space, from_user, to_user, at,"
        " items_moved, id, status, evidence, undo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    "merge.get": (
        f"SELECT {_MERGE_COLS}, project_id, space, undo FROM caller_merges"
        " WHERE tenant_id = ? AND id = ?"),
    "merge.of_caller": (
        f"SELECT {_MERGE_COLS} FROM caller_merges WHERE {_SPACE} AND id IS NOT NULL"
        " AND (from_user = ? OR to_user = ?) ORDER BY at DESC"),
    "merge.of_space": (
        f"SELECT {_MERGE_COLS} FROM caller_merges WHERE {_SPACE} AND id IS NOT NULL"
        " ORDER BY at DESC"),
    "merge.active": (
        "SELECT project_id, space, from_user, to_user FROM caller_merges"
        " WHERE tenant_id = ? AND status = 'merged' ORDER BY at"),
    "merge.set_status": (
        "UPDATE caller_merges SET status = ?, undone_at = ?, undo = NULL"
        " WHERE tenant_id = ? AND id = ?"),
    "entity.upsert": (
        "INSERT INTO entities (tenant_id, project_id, space, user_id, id, kind, label,"
        " attrs, confidence, mentions, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, space, user_id, id) DO UPDATE SET"
        " label = excluded.label, attrs = excluded.attrs,"
        " confidence = CASE WHEN excluded.confidence > entities.confidence"
        " THEN excluded.confidence ELSE entities.confidence END,"
        " mentions = entities.mentions + excluded.mentions,"
        " first_seen = CASE WHEN excluded.first_seen < entities.first_seen"
        " THEN excluded.first_seen ELSE entities.first_seen END,"
        " last_seen = CASE WHEN excluded.last_seen > entities.last_seen"
        " THEN excluded.last_seen ELSE entities.last_seen END"),
    "entity.put": (
        "INSERT INTO entities (tenant_id, project_id, space, user_id, id, kind, label,"
        " attrs, confidence, mentions, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, space, user_id, id) DO UPDATE SET"
        " kind = excluded.kind, label = excluded.label, attrs = excluded.attrs,"
        " confidence = excluded.confidence, mentions = excluded.mentions,"
        " first_seen = excluded.first_seen, last_seen = excluded.last_seen"),
    "edge.put": (
        "INSERT INTO entity_edges (tenant_id, project_id, space, user_id, source_id,"
        " relation, target_id, confidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, space, user_id, source_id, relation,"
        " target_id) DO NOTHING"),
    "mention.put": (
        "INSERT INTO entity_mentions (tenant_id, project_id, space, user_id, entity_id,"
        " item_id, session_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, space, user_id, entity_id, item_id)"
        " DO NOTHING"),
    # Mentions are counted, not added up, so learning a call twice changes nothing.
    "entity.count_mentions": (
        "UPDATE entities SET mentions = (SELECT COUNT(*) FROM entity_mentions m"
        " WHERE m.tenant_id = entities.tenant_id AND m.project_id = entities.project_id"
        " AND m.space = entities.space AND m.user_id = entities.user_id"
        f" AND m.entity_id = entities.id) WHERE {_CALLER} AND id = ?"),
    "entity.of_caller": (
        "SELECT id, kind, label, attrs, confidence, mentions, first_seen, last_seen"
        f" FROM entities WHERE {_CALLER} ORDER BY last_seen DESC, id"),
    "edge.of_caller": (
        "SELECT source_id, relation, target_id, confidence, created_at"
        f" FROM entity_edges WHERE {_CALLER} ORDER BY created_at, source_id"),
    "mention.of_caller": (
        "SELECT entity_id, item_id, session_id, at"
        f" FROM entity_mentions WHERE {_CALLER} ORDER BY at, entity_id"),
    "entity.delete_caller": f"DELETE FROM entities WHERE {_CALLER}",
    "edge.delete_caller": f"DELETE FROM entity_edges WHERE {_CALLER}",
    "mention.delete_caller": f"DELETE FROM entity_mentions WHERE {_CALLER}",
    "merge.delete_caller": sql.FORGET_MERGES.sqlite,
}


@functools.cache
def sql_for(name: str, dialect: str) -> str:
    """The SQL of statement ``name`` for ``dialect`` with that dialect's placeholders."""
    entry = ENTITY_SQL[name]
    text = entry if isinstance(entry, str) else entry[dialect]
    return sql.for_postgres(text) if dialect == "postgres" else text


# --- drivers ----------------------------------------------------------------------------


def run_sqlite(conn: Any, op: EntityOp[T]) -> T:
    """Drive ``op`` on a SQLite connection (inside the caller's transaction)."""
    try:
        stmt = next(op)
        while True:
            cur = conn.execute(sql_for(stmt.name, "sqlite"), stmt.params)
            rows = cur.fetchall() if cur.description is not None else []
            stmt = op.send(Result(rows=[tuple(r) for r in rows], rowcount=cur.rowcount))
    except StopIteration as done:
        value: T = done.value
        return value


async def run_postgres(cur: Any, op: EntityOp[T]) -> T:
    """Drive ``op`` on a psycopg cursor (inside the caller's transaction)."""
    try:
        stmt = next(op)
        while True:
            await cur.execute(sql_for(stmt.name, "postgres"), stmt.params)
            rows = await cur.fetchall() if cur.description is not None else []
            stmt = op.send(Result(rows=[tuple(r) for r in rows], rowcount=cur.rowcount))
    except StopIteration as done:
        value: T = done.value
        return value
