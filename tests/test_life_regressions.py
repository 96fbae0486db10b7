"""Defects the stateful fuzz (``tests/test_life_fuzz.py``) found, replayed as plain tests
on both stores.

1. A save racing ``forget_user``: the save opened the caller's call, then waited for its
   text work; the erasure removed the call and the caller meanwhile, and the turn landed
   in the erased call. Recall found it, yet no call and no caller held it: the
   dashboard answered "no caller" for a caller whose words it recalled, and a merge
   moved the orphan along. The turn, acknowledged after the erasure, now opens a new
   call.
2. A save racing a merge of its caller that is refused (the caller had nothing yet):
   the merge redirected the caller's id before the store refused it, and a save that
   looked meanwhile filed its turn under the merge's target. The merge answered "not
   found", and the caller's words were in another caller's memory. A merge is now
   refused before it redirects anything.
3. Export, erase and import back of a caller at the end of a merge chain (a guest
   merged into a second id, that one merged into the account): the export carried only
   the merges naming the account, the erasure took the whole chain, and the import
   left the guest's id redirecting nowhere, its merge gone and not undoable. The export
   now carries the chain's merges in force with their undo records, and the import
   writes them back.
4. ``import_user`` of a caller's export into another project of the same store (or
   under another caller id while the original still exists) answered ``turns: 1``, yet
   stored nothing: item ids are the store's keys, and the store skipped the ids the
   original holds. It is now refused with ``identity_mismatch`` before anything is
   written.
5. ``import_user`` of that export into another *tenant* of the same store: on Postgres
   row-level security hid the original's rows from that check, so the import answered
   ``turns: 1`` and stored nothing (SQLite refused it, naming another tenant's ids).
   Item ids are now keys per tenant (migration 0012): the import lands in the tenant
   named, and the original tenant keeps its caller untouched.
6. A save racing ``forget_user`` when the save opens the call: the call's start was
   written while the erasure deleted (so it reached the store after the delete), the
   save saw the erasure and opened a second call for its turn, and the first stayed,
   empty, beside it. The call opened during an erasure is opened again with the same
   id once the erasure is done: one call, holding the turn.
7. Unmerging the inner merge of a chain (a guest merged into a second id, that one
   merged into the account; the guest's merge undone first) answered "undone" and left
   the guest's words with the account: the outer merge had moved them on, and the
   inner one's undo looked for them under the second id. It is now refused, naming the
   outer merge to undo first, and nothing changes.
8. A turn id retried while its caller is merged (the redirect made, the rows not moved
   yet) was saved a second time under the merge's target: the call went on as the
   target's, whose turn ids were read from the store, where the first copy was still
   under the source. Two copies of one turn, the retry answered with a new event id.
   The retry now answers the first event id. (The likely cause of the campaign's "found
   under another event id after export, erase, import", seed 12.)
9. Unmerging a merge into a caller who had no row before it deleted the target's row,
   also when the target had gained a call since (a backfilled call sent to the merged
   id): the dashboard answered "no caller" for a caller whose call and words it held
   (this round's campaign, seed 32). The row stays while the target holds anything.
10. Export, erase, import of a call an unmerge gave back was refused, "session ... belongs
    to another caller" (campaign seed 31): the in-memory call owners followed only the
    call open at a merge or its undo, so a call ended meanwhile kept the merge's target
    as its owner; with the store's rows erased, that stale owner refused the caller's
    own call. Every call a merge or unmerge moves is claimed for its new caller now.
11. A turn saved during a merge into the caller's call in progress (which goes on as the
    target's) stayed with the target when the merge was undone, in a call given back to
    the source: the target held a turn of a call it did not have, and the source's
    erasure left it behind (found reasoning about campaign seed 22). A call given back
    takes every turn said in it.
12. A turn saved with a turn id, deleted, and removed from disk by the cleanup job, came
    back when the client retried the save after a restart (in the call that never
    ended): the retry was looked up in the store, which no longer had the turn, and the
    words were stored again under a new id (campaign seed 41, shrunk by hand to five
    steps). A deleted turn now stays on disk through the turn-id retry window (an hour).
13. An erasure notice read after a merge into the erased caller (the runtime's look at
    the store's notices, every few seconds on a shared store) dropped the merge's
    redirect: the merged-away id was itself again, its words out of reach, and erasing
    it left them with the caller it was merged into (campaign seed 22 on Postgres, this
    round's code; the operation log showed the redirect gone). Late notices leave the
    redirects to the merges' reload from the store.
14. A turn id saved in a call the client never ended, restarts, a save of the caller with
    no turn id (it opens a new call, none being open), then the retry of that turn id:
    stored a second time under a new event id (campaign seed 23 on Postgres; SQLite the
    same). Only the save that opened the call looked in the caller's unended call. Every
    save into a call the engine opened for a save now does, for a turn id the call does
    not hold yet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from voxmem import Settings
from voxmem._exceptions import BadRequest, IdentityMismatch, NotFound
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine, _write_path
from voxmem.models import Scope
from voxmem.store import WriteBatch


def payload(project: str, user: str | None = None, **body: Any) -> dict[str, Any]:
    return {"project_id": project, "agent_id": "agent", **body,
            **({"user": {"id": user}} if user else {})}


def hold_merges(engine: MemoryEngine,
                monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every merge after its redirect, before the store moves its rows.

    Returns ``(moving, go)``: ``moving`` is set when a merge reaches the store; it goes
    on once the test sets ``go``. The store itself is real; only its timing is held.
    """
    moving, go = asyncio.Event(), asyncio.Event()
    real = engine.store.run_entities

    async def run_entities(tenant_id: str, op: Any, *, write: bool = True) -> Any:
        if getattr(op, "__name__", "") == "merge":  # redirected, rows not moved yet
            moving.set()
            await go.wait()
        return await real(tenant_id, op, write=write)

    monkeypatch.setattr(engine.store, "run_entities", run_entities)
    return moving, go


async def test_a_save_racing_the_erasure_of_its_caller_lands_in_a_call_that_exists(
        engine: MemoryEngine) -> None:
    # The shrunk sequence, on fresh projects: save and forget at once, then look.
    for attempt in range(12):
        project = f"race{attempt}"
        saved, erased = await asyncio.gather(
            dispatch(engine, "save_response", payload(
                project, "cyd", user_text="voxeab. My order is four four two one.",
                assistant_text="Noted.")),
            dispatch(engine, "forget_user", payload(project, "cyd")))
        assert "eventId" in saved and "items" in erased
        assert await engine.flush(60)
        exported = await dispatch(engine, "export_user", payload(project, "cyd"))
        calls = {s["sessionId"] for s in exported["sessions"]}
        turns = [i for i in exported["items"] if i["kind"] == "turn"]
        # Either order is allowed (erased, or saved after the erasure); half-way is not.
        assert [t["id"] for t in turns] in ([], [saved["eventId"]])
        if turns:
            assert turns[0]["sessionId"] in calls, "a turn in an erased call"
            page = await dispatch(engine, "get_caller", {"project_id": project,
                                                         "user_id": "cyd"})
            assert turns[0]["sessionId"] in {c["sessionId"] for c in page["calls"]}


async def test_a_save_racing_a_refused_merge_of_its_caller_stays_with_the_caller(
        engine: MemoryEngine) -> None:
    for attempt in range(20):
        project = f"merge{attempt}"
        await dispatch(engine, "remember", payload(project, "ann", memory_type="diet",
                                                   content="vegan"))
        results: tuple[Any, ...] = await asyncio.gather(
            dispatch(engine, "save_response", payload(
                project, "bob", user_text="voxaab. Um, yeah, sorry?", assistant_text="ok")),
            dispatch(engine, "merge_callers", {"project_id": project, "from_id": "bob",
                                               "to_id": "ann", "reason": "race"}),
            return_exceptions=True)
        saved, merged = results
        assert await engine.flush(60)
        holder = "bob" if isinstance(merged, NotFound) else "ann"
        for user in ("ann", "bob"):
            got = await dispatch(engine, "search_memory", payload(project, user,
                                                                  query="voxaab"))
            ids = {h["id"] for h in got["working"] + got["permanent"]}
            assert (saved["eventId"] in ids) == (user == holder or holder == "ann"), (
                attempt, merged, user)
        if holder == "bob":
            ann = await dispatch(engine, "export_user", payload(project, "ann"))
            assert saved["eventId"] not in {i["id"] for i in ann["items"]}, \
                "a refused merge moved the caller's turn to its target"


async def test_importing_a_caller_whose_memories_the_store_holds_elsewhere_is_refused(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", payload(
        "pa", "bob", user_text="voxdab. The PIN is 4921 if you need it.",
        assistant_text="Noted.", turn_id="t1"))
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pa", "bob"))
    body = {k: v for k, v in exported.items() if k != "userId"}
    for project, user in (("pb", "bob"), ("pa", "bob-2")):
        with pytest.raises(IdentityMismatch) as refused:
            await dispatch(engine, "import_user", {**body, **payload(project, user)})
        if project == "pb":  # same project: the call id is refused first, as before
            assert refused.value.details["itemIds"] == [exported["items"][0]["id"]]
        assert await engine.flush(60)
        nothing = await dispatch(engine, "export_user", payload(project, user))
        assert nothing["sessions"] == [] and nothing["items"] == []
    # The documented way: erase the original first, then the import stores it all.
    await dispatch(engine, "forget_user", payload("pa", "bob"))
    done = await dispatch(engine, "import_user", {**body, **payload("pb", "bob")})
    assert done["turns"] == 1
    found = await dispatch(engine, "search_memory", payload("pb", "bob", query="voxdab"))
    assert [h["id"] for h in found["working"] + found["permanent"]] == [
        exported["items"][0]["id"]]


async def test_export_erase_import_keeps_a_chain_of_merges(engine: MemoryEngine) -> None:
    for user in ("guest", "second", "acct"):
        await dispatch(engine, "save_response", payload(
            "pc", user, user_text=f"vox{user} here", assistant_text="ok"))
    await dispatch(engine, "merge_callers", {"project_id": "pc", "from_id": "guest",
                                             "to_id": "second"})
    await dispatch(engine, "merge_callers", {"project_id": "pc", "from_id": "second",
                                             "to_id": "acct"})
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pc", "acct"))
    assert len(exported["merges"]) == 2
    await dispatch(engine, "forget_user", payload("pc", "acct"))
    body = {k: v for k, v in exported.items() if k != "userId"}
    done = await dispatch(engine, "import_user", {**body, **payload("pc", "acct")})
    assert done["merges"] == 2
    # The guest's id still leads to the account, and the first merge can be undone.
    found = await dispatch(engine, "search_memory", payload("pc", "guest", query="voxguest"))
    assert [h["text"].split()[0] for h in found["working"] + found["permanent"]] == [
        "voxguest"]
    # The account's merge first, then the guest's: the order they undo in.
    for merge in sorted(exported["merges"], key=lambda m: m["toUserId"] != "acct"):
        await dispatch(engine, "unmerge_callers", {"project_id": "pc",
                                                   "merge_id": merge["mergeId"]})
    guest = await dispatch(engine, "export_user", payload("pc", "guest"))
    assert [i["userText"] for i in guest["items"]] == ["voxguest here"]


async def test_importing_a_caller_into_another_tenant_stores_it_there(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", payload(
        "pt", "bob", user_text="voxtab. My account is 55 66.", assistant_text="Noted.",
        turn_id="t1"))
    await dispatch(engine, "remember", payload("pt", "bob", memory_type="seat",
                                               content="aisle"))
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pt", "bob"))
    body = {k: v for k, v in exported.items() if k != "userId"}
    other = {**payload("pt", "bob"), "tenant_id": "acme"}
    done = await dispatch(engine, "import_user", {**body, **other})
    assert (done["turns"], done["facts"], done["alreadyStored"]) == (1, 1, 0)
    assert await engine.flush(60)
    moved = await dispatch(engine, "export_user", other)
    assert [i["id"] for i in moved["items"]] == [i["id"] for i in exported["items"]]
    found = await dispatch(engine, "search_memory", {**other, "query": "voxtab"})
    assert [h["id"] for h in found["working"] + found["permanent"]] == [
        exported["items"][0]["id"]]
    # Twice is once, and a save retried under the restored turn id answers the same id.
    again = await dispatch(engine, "import_user", {**body, **other})
    assert (again["turns"], again["alreadyStored"]) == (0, 2)
    # Each tenant's copy is its own: deleting or erasing one leaves the other.
    await dispatch(engine, "forget_user", other)
    assert await engine.flush(60)
    kept = await dispatch(engine, "export_user", payload("pt", "bob"))
    assert [i["id"] for i in kept["items"]] == [i["id"] for i in exported["items"]]
    gone = await dispatch(engine, "export_user", other)
    assert gone["items"] == []


async def test_a_call_opened_by_a_save_during_an_erasure_is_not_left_empty(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await dispatch(engine, "save_response", payload("pe", "cyd", user_text="voxold here",
                                                    assistant_text="ok"))
    await dispatch(engine, "end_session", payload("pe", "cyd"))  # the next save opens one
    assert await engine.flush(60)
    inside, opened, deleted = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_forget, real_write = engine.store.forget_caller, engine.store.write

    async def forget_caller(scope: Scope) -> dict[str, int]:
        # The erasure has waited for the caller's writes: hold it until the save's call
        # start is on its way to the store, then delete.
        inside.set()
        await opened.wait()
        try:
            return await real_forget(scope)
        finally:
            deleted.set()

    async def write(batch: WriteBatch) -> None:
        # The call's start, begun during the erasure, reaches the store after the delete.
        if inside.is_set() and not deleted.is_set() and any(
                s.scope.user_id == "cyd" for s in batch.sessions_started):
            opened.set()
            await deleted.wait()
        await real_write(batch)

    monkeypatch.setattr(engine.store, "forget_caller", forget_caller)
    monkeypatch.setattr(engine.store, "write", write)
    erasing = asyncio.ensure_future(dispatch(engine, "forget_user", payload("pe", "cyd")))
    await inside.wait()
    saved = await dispatch(engine, "save_response", payload(
        "pe", "cyd", user_text="voxnew. Call me back at six.", assistant_text="Sure."))
    assert "items" in await erasing
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pe", "cyd"))
    assert [i["id"] for i in exported["items"]] == [saved["eventId"]]
    assert [s["sessionId"] for s in exported["sessions"]] == [
        exported["items"][0]["sessionId"]], "an empty call beside the turn's"
    page = await dispatch(engine, "get_caller", {"project_id": "pe", "user_id": "cyd"})
    assert [c["sessionId"] for c in page["calls"]] == [exported["items"][0]["sessionId"]]


async def test_unmerging_the_inner_merge_of_a_chain_names_the_outer_one(
        engine: MemoryEngine) -> None:
    for user in ("guest", "second", "acct"):
        await dispatch(engine, "save_response", payload(
            "pu", user, user_text=f"vox{user} here", assistant_text="ok"))
    inner = await dispatch(engine, "merge_callers", {"project_id": "pu",
                                                     "from_id": "guest", "to_id": "second"})
    outer = await dispatch(engine, "merge_callers", {"project_id": "pu",
                                                     "from_id": "second", "to_id": "acct"})
    assert await engine.flush(60)
    before = await dispatch(engine, "export_user", payload("pu", "acct"))
    with pytest.raises(BadRequest) as refused:
        await dispatch(engine, "unmerge_callers", {"project_id": "pu",
                                                   "merge_id": inner["mergeId"]})
    assert refused.value.details["undoFirst"] == outer["mergeId"]
    assert outer["mergeId"] in str(refused.value)
    assert await engine.flush(60)
    after = await dispatch(engine, "export_user", payload("pu", "acct"))
    assert after["items"] == before["items"] and after["merges"] == before["merges"]
    # In the order the message says, each caller gets their own words back.
    for merge in (outer, inner):
        await dispatch(engine, "unmerge_callers", {"project_id": "pu",
                                                   "merge_id": merge["mergeId"]})
    assert await engine.flush(60)
    for user in ("guest", "second", "acct"):
        own = await dispatch(engine, "export_user", payload("pu", user))
        assert [i["userText"] for i in own["items"]] == [f"vox{user} here"], user


async def test_a_turn_id_retried_during_a_merge_of_its_caller_is_stored_once(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await dispatch(engine, "save_response", payload("pm", "ann", user_text="voxann here",
                                                    assistant_text="ok"))
    first = await dispatch(engine, "save_response", payload(
        "pm", "bob", user_text="voxbob. Book the 7 pm table.", assistant_text="Done.",
        turn_id="t1"))
    assert await engine.flush(60)
    moving, go = hold_merges(engine, monkeypatch)
    merging = asyncio.ensure_future(dispatch(engine, "merge_callers", {
        "project_id": "pm", "from_id": "bob", "to_id": "ann", "reason": "race"}))
    await moving.wait()
    retried = await dispatch(engine, "save_response", payload(
        "pm", "bob", user_text="voxbob. Book the 7 pm table.", assistant_text="Done.",
        turn_id="t1"))
    go.set()
    await merging
    assert retried["eventId"] == first["eventId"]
    assert await engine.flush(60)
    ann = await dispatch(engine, "export_user", payload("pm", "ann"))
    assert [i["id"] for i in ann["items"] if "voxbob" in (i["userText"] or "")] == [
        first["eventId"]]


async def test_unmerge_keeps_the_row_of_a_target_that_gained_a_call(
        engine: MemoryEngine) -> None:
    def old_call(word: str) -> dict[str, Any]:
        at = time.time() - 5 * 86_400
        return {"started_at": at, "ended_at": at + 60, "turns": [
            {"user_text": f"{word} here", "assistant_text": "Noted.", "created_at": at + 1,
             "turn_id": f"old-{word}"}]}

    await dispatch(engine, "import_history", payload("pk", "ann",
                                                     sessions=[old_call("voxfirst")]))
    merged = await dispatch(engine, "merge_callers", {"project_id": "pk", "from_id": "ann",
                                                      "to_id": "bob"})
    await dispatch(engine, "import_history", payload("pk", "ann",
                                                     sessions=[old_call("voxlater")]))
    await dispatch(engine, "unmerge_callers", {"project_id": "pk",
                                               "merge_id": merged["mergeId"]})
    assert await engine.flush(60)
    bob = await dispatch(engine, "export_user", payload("pk", "bob"))
    assert [i["userText"] for i in bob["items"]] == ["voxlater here"]
    page = await dispatch(engine, "get_caller", {"project_id": "pk", "user_id": "bob"})
    assert [c["sessionId"] for c in page["calls"]] == [bob["items"][0]["sessionId"]]


async def test_export_erase_import_of_a_call_given_back_by_an_unmerge(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", payload("pw", "bob", user_text="voxbob here",
                                                    assistant_text="ok"))
    saved = await dispatch(engine, "save_response", payload(
        "pw", "ann", user_text="voxann. Call me back at six.", assistant_text="Sure."))
    # Ann's call goes on as Bob's, ends there, and the merge is undone: the call is Ann's.
    merged = await dispatch(engine, "merge_callers", {"project_id": "pw", "from_id": "ann",
                                                      "to_id": "bob"})
    await dispatch(engine, "end_session", payload("pw", "bob"))
    await dispatch(engine, "unmerge_callers", {"project_id": "pw",
                                               "merge_id": merged["mergeId"]})
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pw", "ann"))
    assert [i["id"] for i in exported["items"]] == [saved["eventId"]]
    await dispatch(engine, "forget_user", payload("pw", "ann"))
    body = {k: v for k, v in exported.items() if k != "userId"}
    done = await dispatch(engine, "import_user", {**body, **payload("pw", "ann")})
    assert done["turns"] == 1
    # Merged again with no call open: the call moves to Bob, whose export it is in.
    await dispatch(engine, "merge_callers", {"project_id": "pw", "from_id": "ann",
                                             "to_id": "bob"})
    assert await engine.flush(60)
    exported = await dispatch(engine, "export_user", payload("pw", "bob"))
    assert saved["eventId"] in {i["id"] for i in exported["items"]}
    await dispatch(engine, "forget_user", payload("pw", "bob"))
    body = {k: v for k, v in exported.items() if k != "userId"}
    done = await dispatch(engine, "import_user", {**body, **payload("pw", "bob")})
    assert done["turns"] == 2


async def test_a_turn_saved_during_a_merge_goes_back_with_its_call_when_undone(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await dispatch(engine, "save_response", payload("pr", "bob", user_text="voxbob here",
                                                    assistant_text="ok"))
    before = await dispatch(engine, "save_response", payload(
        "pr", "ann", user_text="voxann. My order is four four two one.",
        assistant_text="Noted."))
    assert await engine.flush(60)
    moving, go = hold_merges(engine, monkeypatch)
    merging = asyncio.ensure_future(dispatch(engine, "merge_callers", {
        "project_id": "pr", "from_id": "ann", "to_id": "bob", "reason": "race"}))
    await moving.wait()
    # Ann's words, in Ann's call (going on as Bob's from the redirect on).
    during = await dispatch(engine, "save_response", payload(
        "pr", "ann", user_text="voxrace. The PIN is 4921.", assistant_text="Noted."))
    go.set()
    merged = await merging
    await dispatch(engine, "unmerge_callers", {"project_id": "pr",
                                               "merge_id": merged["mergeId"]})
    assert await engine.flush(60)
    ann = await dispatch(engine, "export_user", payload("pr", "ann"))
    bob = await dispatch(engine, "export_user", payload("pr", "bob"))
    # The call was Ann's and is again: every turn said in it with it, none left with Bob
    # in a call that is not his.
    assert {i["id"] for i in ann["items"]} == {before["eventId"], during["eventId"]}
    assert {i["sessionId"] for i in bob["items"]} <= {s["sessionId"] for s in bob["sessions"]}
    await dispatch(engine, "forget_user", payload("pr", "ann"))
    assert await engine.flush(60)
    found = await dispatch(engine, "search_memory", payload("pr", "bob", query="voxrace"))
    assert found["working"] + found["permanent"] == []


async def test_a_turn_id_retried_after_its_turn_was_deleted_and_cleaned_up_stays_deleted(
        settings: Settings) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        first = await dispatch(engine, "save_response", payload(
            "pd", "cyd", user_text="voxgone. My password is hunter12zz.",
            assistant_text="Noted.", turn_id="r1"))
        await dispatch(engine, "delete_memory", payload("pd", "cyd",
                                                        memory_id=first["eventId"]))
        assert await engine.flush(60)
        await engine.maintenance.apply_retention()  # the cleanup job
    finally:
        await engine.close()
    # The client retries the save (it never saw the answer) against the restarted runtime,
    # in the call that never ended: the same turn, deleted, not the words stored again.
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        retried = await dispatch(engine, "save_response", payload(
            "pd", "cyd", user_text="voxgone. My password is hunter12zz.",
            assistant_text="Noted.", turn_id="r1"))
        assert retried["eventId"] == first["eventId"]
        assert await engine.flush(60)
        assert await words(engine, "pd", "cyd", "voxgone") == []
    finally:
        await engine.close()


async def words(engine: MemoryEngine, project: str, user: str, word: str) -> list[str]:
    found = await dispatch(engine, "search_memory", payload(project, user, query=word))
    return [h["id"] for h in found["working"] + found["permanent"]]


async def test_an_old_erasure_notice_does_not_undo_a_later_merge_into_the_caller(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", payload("po", "cyd", user_text="voxold here",
                                                    assistant_text="ok"))
    await dispatch(engine, "forget_user", payload("po", "cyd"))  # leaves its notice
    await dispatch(engine, "save_response", payload("po", "bob", user_text="voxbob here",
                                                    assistant_text="ok"))
    await dispatch(engine, "merge_callers", {"project_id": "po", "from_id": "bob",
                                             "to_id": "cyd"})
    # The runtime's look at the store's erasure notices (every few seconds on a shared
    # store) comes after the merge, and finds the notice of the erasure before it.
    await engine.lifecycle.drop_erased_elsewhere(time.time() - 60)
    assert await engine.flush(60)
    assert len(await words(engine, "po", "bob", "voxbob")) == 1  # still Cyd's, via Bob
    await dispatch(engine, "forget_user", payload("po", "bob"))
    assert await engine.flush(60)
    cyd = await dispatch(engine, "export_user", payload("po", "cyd"))
    assert cyd["items"] == [], "erasing the merged-away id left the caller's words"


async def restarted(settings: Settings, engine: MemoryEngine | None = None) -> MemoryEngine:
    """The engine closed (if open) and started again on the same data and store."""
    if engine is not None:
        await engine.close()
    engine = MemoryEngine(settings)
    await engine.start()
    return engine


async def test_a_turn_id_retried_after_restarts_and_a_save_without_one_is_stored_once(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # A lookup slower than its short deadline is skipped by design (the save goes ahead);
    # on a loaded machine that would store the retry again. The rule is the subject
    # here, not the deadline.
    monkeypatch.setattr(_write_path, "TURN_LOOKUP_TIMEOUT_S", 60.0)
    said = payload("pt", "bob", user_text="voxretry. Call me on Tuesday.",
                   assistant_text="Noted.", turn_id="r2")
    engine = await restarted(settings)
    try:
        first = await dispatch(engine, "save_response", said)  # the call never ends
        engine = await restarted(settings, engine)
        engine = await restarted(settings, engine)
        # A save with no turn id opens a call (none is open after the restarts), then the
        # client's retry of r2 arrives: the same turn, not the words stored again.
        await dispatch(engine, "save_response", payload(
            "pt", "bob", user_text="voxother words", assistant_text="ok"))
        retried = await dispatch(engine, "save_response", said)
        assert retried["eventId"] == first["eventId"]
        # A turn id the earlier call does not hold is a new turn of the new call.
        new = await dispatch(engine, "save_response", said | {"turn_id": "r3"})
        assert new["eventId"] != first["eventId"]
        assert await engine.flush(60)
        exported = await dispatch(engine, "export_user", payload("pt", "bob"))
        assert sorted((i["turnId"], i["id"]) for i in exported["items"]
                      if i["kind"] == "turn" and "voxretry" in (i["userText"] or "")) == [
            ("r2", first["eventId"]), ("r3", new["eventId"])]
        # The client ends its call and starts the next, numbering its turns afresh: r2 of
        # that call is a new turn, though the call before the restarts never ended.
        await dispatch(engine, "end_session", payload("pt", "bob"))
        engine = await restarted(settings, engine)
        await dispatch(engine, "save_response", payload(
            "pt", "bob", user_text="voxnext call", assistant_text="ok"))
        later = await dispatch(engine, "save_response", said)
        assert later["eventId"] not in (first["eventId"], new["eventId"])
    finally:
        await engine.close()
