"""A caller moved between stores is the same caller: SQLite → SQLite and SQLite →
Postgres (the `store_url` leg is the target), export (format 2) then import gives the
same search answers, the same profile, the same identifiers resolving to them (a
merged-away guest's too), the same merges (one still undoable) and the same dashboard
caller JSON, when the operator vouches for the file (``trust_identifiers``; without it
the links come back unverified: tests/test_import_trust.py). A superseded fact whose
successor is not in the file stays history."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voxmem import BadRequest, Settings
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine
from voxmem.models import SHARED_SPACE, Scope

BODY = {"project_id": "proj", "agent_id": "agent"}
ANN = {"id": "ann", "name": "Ann Lee",
       "metadata": {"phone": "+1 510 555 0100", "email": "ann.lee@example.com"}}
QUERIES = ("what is the dog allergic to", "where does the sister live", "which seat",
           "when should we call back", "the printer problem", "is the modem fixed")


async def op(engine: MemoryEngine, operation: str, /, **fields: Any) -> Any:
    return await dispatch(engine, operation, {**BODY, **fields})


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[MemoryEngine]:
    eng = MemoryEngine(Settings(data_dir=str(tmp_path / "source"), embedder="hashing"))
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


async def learn_graph(engine: MemoryEngine, user_id: str, session_id: str) -> None:
    """The graph learned at call end, now (call end learns it in the background)."""
    scope = Scope("default", "proj", "agent", user_id, SHARED_SPACE)
    await engine.directory.learn_graph(scope, session_id)


async def history(engine: MemoryEngine) -> None:
    """Two calls of Ann (learned from: facts and a graph), a guest merged into her, a
    proposed merge, linked identifiers, a superseded slot and a profile field."""
    await op(engine, "start_session", user=ANN, session_id="call-1")
    await op(engine, "save_response", user_id="ann", turn_id="t1",
             user_text="My dog Biscuit is allergic to chicken",
             assistant_text="I'll remember Biscuit's allergy.")
    await op(engine, "save_response", user_id="ann", turn_id="t2",
             user_text="My sister Maria lives in Lisbon and visits in June",
             assistant_text="Lisbon, noted.")
    await op(engine, "save_response", user_id="ann", turn_id="t3",
             user_text="My Canon printer jams again, ticket 4410",
             assistant_text="Sorry about the printer.")
    await op(engine, "end_session", user_id="ann", wait=True)
    await learn_graph(engine, "ann", "call-1")
    await op(engine, "start_session", user={"id": "guest-7"}, session_id="call-g")
    await op(engine, "save_response", user_id="guest-7", turn_id="t1",
             user_text="My modem is down, please call me back after 6pm",
             assistant_text="After 6pm it is.")
    await op(engine, "end_session", user_id="guest-7", wait=True)
    await learn_graph(engine, "guest-7", "call-g")
    await op(engine, "link_identifier", user_id="guest-7", kind="external_id",
             value="crm-775")
    await op(engine, "merge_callers", from_id="guest-7", to_id="ann", reason="same person")
    await op(engine, "start_session", user={"id": "ann-2", "name": "Ann L."})
    await op(engine, "end_session", user_id="ann-2", wait=True)
    await op(engine, "merge_callers", from_id="ann-2", to_id="ann", reason="maybe",
             status="proposed")
    await op(engine, "link_identifier", user_id="ann", kind="account", value="ACC-99120")
    await op(engine, "remember", user_id="ann", memory_type="seat", content="aisle seat")
    await op(engine, "remember", user_id="ann", memory_type="seat", content="window seat")
    await op(engine, "update_profile", user_id="ann", field="preferred_name", value="Annie")


async def view(engine: MemoryEngine) -> dict[str, Any]:
    """What an operator and the agent see of Ann."""
    answers = []
    for mode in ("fast", "accurate"):
        for query in QUERIES:
            found = await op(engine, "search_memory", user_id="ann", query=query, mode=mode,
                             timeout_ms=20_000)
            assert not found["trace"]["degraded"], found["trace"]
            answers.append((found["contextText"],
                            [h["id"] for h in found["permanent"] + found["working"]]))
    resolved = {}
    for kind, value in (("phone", "(510) 555-0100"), ("email", "ANN.LEE@example.com"),
                        ("account", "acc 99120"), ("external_id", "crm-775")):
        answer = await op(engine, "resolve_caller",
                          identifiers=[{"kind": kind, "value": value, "source": "sip"}])
        resolved[kind] = (answer["userId"], answer["linked"])
    shown = await op(engine, "show_caller", user_id="ann")
    page = await op(engine, "get_caller", user_id="ann")
    # Reading a page through the merged-away id lands on Ann (the merge is in force).
    redirected = (await op(engine, "get_caller", user_id="guest-7"))["caller"]["id"]
    return {"answers": answers, "resolved": resolved, "profile": shown["profile"],
            "name": shown["name"], "identifiers": shown["identifiers"],
            "merges": shown["merges"], "graph": shown["graph"], "page": page,
            "redirected": redirected}


async def test_a_caller_moved_to_another_store_is_the_same_caller(
        source: MemoryEngine, engine: MemoryEngine) -> None:
    await history(source)
    before = await view(source)
    assert set(before["resolved"].values()) == {("ann", True)}
    assert before["graph"]["entities"] and before["redirected"] == "ann"
    export = await op(source, "export_user", user_id="ann")
    assert export["format"] == 2
    assert {m["status"] for m in export["merges"]} == {"merged", "proposed"}
    assert export["graph"]["mentions"]

    fields = {k: v for k, v in export.items() if k != "userId"}
    done = await op(engine, "import_user", user_id="ann", trust_identifiers=True, **fields)
    assert done["applied"] and done["merges"] == 2
    assert done["identifiers"] == len(export["identifiers"])
    after = await view(engine)
    assert after == before
    assert await op(engine, "export_user", user_id="ann") == export

    again = await op(engine, "import_user", user_id="ann", trust_identifiers=True,
                     **fields)  # twice stores once
    assert (again["turns"], again["facts"], again["merges"]) == (0, 0, 0)
    assert await view(engine) == before

    # The merge in force came with its undo record: the guest can be split off again.
    [merged] = [m for m in export["merges"] if m["status"] == "merged"]
    undone = await op(engine, "unmerge_callers", merge_id=merged["mergeId"])
    assert undone["itemsRestored"] == merged["itemsMoved"] > 0
    guest = await op(engine, "get_caller", user_id="guest-7")
    assert [c["sessionId"] for c in guest["calls"]] == ["call-g"]
    found = await op(engine, "resolve_caller", identifiers=[
        {"kind": "external_id", "value": "crm-775", "source": "sip"}])
    assert found["userId"] == "guest-7"


async def test_a_superseded_fact_without_its_successor_stays_history(
        source: MemoryEngine, engine: MemoryEngine) -> None:
    await op(source, "start_session", user=ANN, session_id="call-1")
    await op(source, "remember", user_id="ann", memory_type="seat", content="aisle seat")
    await op(source, "remember", user_id="ann", memory_type="seat", content="window seat")
    export = await op(source, "export_user", user_id="ann")
    [old] = [i for i in export["items"] if i["validTo"] is not None]
    # The successor is not in the file (deleted and cleaned up, or in another part).
    export["items"] = [i for i in export["items"] if i["kind"] != "fact" or i is old]
    fields = {k: export[k] for k in ("format", "name", "metadata", "sessions", "items")}
    await op(engine, "import_user", user_id="ann", **fields)
    page = await op(engine, "get_caller", user_id="ann")
    assert page["memories"] == []
    assert [(m["id"], m["validTo"]) for m in page["history"]] == [(old["id"], old["validTo"])]
    found = await op(engine, "search_memory", user_id="ann", query="which seat",
                     timeout_ms=20_000)
    assert old["id"] not in [h["id"] for h in found["permanent"] + found["working"]]
    assert (await op(engine, "recall", user_id="ann", memory_type="seat"))["content"] is None


async def test_a_format_1_export_still_imports(source: MemoryEngine,
                                               engine: MemoryEngine) -> None:
    await op(source, "start_session", user=ANN, session_id="call-1")
    await op(source, "save_response", user_id="ann", turn_id="t1",
             user_text="My dog Biscuit is allergic to chicken", assistant_text="Noted.")
    await op(source, "end_session", user_id="ann", wait=True)
    export = await op(source, "export_user", user_id="ann")
    old = {k: v for k, v in export.items()
           if k not in ("userId", "identifiers", "merges", "graph")}
    done = await op(engine, "import_user", user_id="ann", **{**old, "format": 1})
    assert (done["turns"], done["identifiers"]) == (1, 0)
    again = await op(engine, "export_user", user_id="ann")
    assert again["items"] == export["items"]
    json.dumps(again)  # the answer is JSON as it stands


async def test_memories_older_than_the_target_retention_are_refused_not_lost(
        engine: MemoryEngine) -> None:
    old = time.time() - 60 * 86_400
    export = {"format": 2, "name": "Ann Lee",
              "sessions": [{"sessionId": "call-old", "startedAt": old, "endedAt": old + 60}],
              "items": [{"id": "evt-old", "kind": "turn", "sessionId": "call-old",
                         "turnId": "t1", "createdAt": old + 1, "userText": "my dog is Rex",
                         "assistantText": "ok"}]}
    await op(engine, "set_memory_policy", memory_retention_days=30)
    with pytest.raises(BadRequest, match="memory_retention_days") as refused:
        await op(engine, "import_user", user_id="ann", **export)
    assert refused.value.details["outsideRetention"] == 1
    assert (await op(engine, "export_user", user_id="ann"))["items"] == []
    await op(engine, "set_memory_policy", memory_retention_days=0)
    assert (await op(engine, "import_user", user_id="ann", **export))["turns"] == 1


async def test_the_dashboards_export_file_imports_with_the_cli(
        source: MemoryEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The dashboard's Export button downloads export_user's answer as one JSON object;
    `voxmem memories import` read only its own JSON lines and refused that file."""
    import asyncio

    from voxmem.cli import main

    await history(source)
    before = await view(source)
    path = tmp_path / "voxmem-ann.json"
    path.write_text(json.dumps(await op(source, "export_user", user_id="ann"), indent=1))
    target = tmp_path / "target"
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    args = ["memories", "import", str(path), "--data-dir", str(target), "--project", "proj",
            "--embedded", "--trust-identifiers"]
    assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
    assert "2 merges" in capsys.readouterr().out
    moved = MemoryEngine(Settings(data_dir=str(target), embedder="hashing"))
    await moved.start()
    try:
        assert (await view(moved))["resolved"] == before["resolved"]
    finally:
        await moved.close()


async def test_an_identifier_another_caller_holds_is_reported(source: MemoryEngine,
                                                               engine: MemoryEngine) -> None:
    """Moving a caller whose phone a caller of the target store already has: both now
    hold it, so a call from it links to neither; the import says so instead of leaving
    the operator to find out from the next call."""
    await op(source, "start_session", user=ANN, session_id="call-1")
    await op(source, "end_session", user_id="ann", wait=True)
    export = await op(source, "export_user", user_id="ann")
    await op(engine, "link_identifier", user_id="bob", kind="phone", value="+15105550100")
    fields = {k: v for k, v in export.items() if k != "userId"}
    done = await op(engine, "import_user", user_id="ann", trust_identifiers=True, **fields)
    assert done["sharedIdentifiers"] == [
        {"kind": "phone", "value": "+15105550100", "otherUserIds": ["bob"]}]
    found = await op(engine, "resolve_caller", identifiers=[
        {"kind": "phone", "value": "+15105550100", "source": "sip"}])
    assert not found["linked"]
