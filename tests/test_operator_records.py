"""The operator views' typed records keep the wire form the API has always returned:
the same camelCase keys, in the same order, with JSON columns decoded (SQLite's text and
Postgres' decoded value alike)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from voxmem.models import Record, Scope
from voxmem.store import _rows as rows

CASES: list[tuple[Callable[[Any], Record], tuple[Any, ...], str]] = [
    (rows.document, ("d1", '{"a": 1}', 3, 10.5, 120, 4),
     '{"documentId": "d1", "metadata": {"a": 1}, "version": 3, "updatedAt": 10.5,'
     ' "chars": 120, "chunkCount": 4}'),
    (rows.call_summary, ("s1", "u", "*", "ag", 1.0, None, None, 2, 0),
     '{"sessionId": "s1", "userId": "u", "space": "*", "agentId": "ag", "startedAt": 1.0,'
     ' "endedAt": null, "endReason": null, "turnCount": 2, "factCount": 0}'),
    (rows.call_record,
     ("s1", "u", "*", "ag", 1.0, 2.0, "hangup", 2, 1, {"room": "r"}, None, 3.0, 1, None),
     '{"sessionId": "s1", "userId": "u", "space": "*", "agentId": "ag", "startedAt": 1.0,'
     ' "endedAt": 2.0, "endReason": "hangup", "turnCount": 2, "factCount": 1,'
     ' "metadata": {"room": "r"}, "report": null, "extractedAt": 3.0,'
     ' "extractionAttempts": 1, "extractionError": null}'),
    (rows.recall_trace, ("t1", "u", "ag", None, 5.0, "q", 1.25, 0, '{"lanes": []}', "", "[]"),
     '{"id": "t1", "userId": "u", "agentId": "ag", "sessionId": null, "at": 5.0,'
     ' "query": "q", "totalMs": 1.25, "degraded": false, "trace": {"lanes": []},'
     ' "injected": "", "sources": []}'),
    (rows.caller_listing, ("u", None, "{}", {"plan": "gold"}, "*", 1.0, 2.0, None, 0, 3),
     '{"userId": "u", "name": null, "profile": {}, "metadata": {"plan": "gold"},'
     ' "space": "*", "createdAt": 1.0, "updatedAt": 2.0, "lastCallAt": null,'
     ' "callCount": 0, "memoryCount": 3}'),
]


@pytest.mark.parametrize(("mapper", "row", "wire"), CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_a_view_record_has_its_wire_form(mapper: Callable[[Any], Record],
                                         row: tuple[Any, ...], wire: str) -> None:
    assert json.dumps(mapper(row).to_wire()) == wire


def test_an_export_nests_its_sessions_and_items_in_wire_form() -> None:
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="u")
    session = rows.export_session(("s1", "ag", 1.0, None, None, "{}", '{"ok": true}'))
    item = rows.export_item(("i1", "fact", "s1", "Has a cat", None, None, "pet", "pet", 0.9,
                             1.0, None, None, None, '["t1"]'))
    exported = rows.caller_export(scope, ("u", "Ann", '{"m": 1}', "{}"), [session], [item])
    assert json.dumps(exported.to_wire()) == (
        '{"userId": "u", "name": "Ann", "metadata": {"m": 1}, "profile": {}, "sessions":'
        ' [{"sessionId": "s1", "agentId": "ag", "startedAt": 1.0, "endedAt": null,'
        ' "endReason": null, "metadata": {}, "report": {"ok": true}}], "items": [{"id": "i1",'
        ' "kind": "fact", "sessionId": "s1", "text": "Has a cat", "userText": null,'
        ' "assistantText": null, "factKind": "pet", "slotKey": "pet", "confidence": 0.9,'
        ' "createdAt": 1.0, "validTo": null, "deletedAt": null, "turnId": null,'
        ' "sourceTurnIds": ["t1"]}]}')
    # A caller with no record (erased, or never stored) still exports its id.
    empty = rows.caller_export(scope, None, [], []).to_wire()
    assert empty == {"userId": "u", "name": None, "metadata": {}, "profile": {},
                     "sessions": [], "items": []}
