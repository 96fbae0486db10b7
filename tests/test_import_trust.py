"""``import_user`` does not take the document it is given on trust (both stores).

A file is anyone's to write. One for caller ``mallory`` whose merges list ``ann ->
mallory`` (in force) redirected every later request for Ann, who was never merged, to
its author, and her memory stayed behind where no request reached it; an identifier in
it claiming source ``sip`` at strength 1.0 decided the next call start from that number.
Now a merge in force comes back only of an id the store does not hold (else the import
is refused before anything is written), and identifier links come back unverified
unless the operator passes ``trust_identifiers`` (docs/callers.md, "Importing a caller").
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from voxmem._exceptions import BadRequest, IdentityMismatch
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine

ANN_PHONE = "+14155550188"


def payload(project: str, user: str | None = None, **body: Any) -> dict[str, Any]:
    return {"project_id": project, "agent_id": "agent", **body,
            **({"user": {"id": user}} if user else {})}


def mallory_file(at: float) -> dict[str, Any]:
    """What an author can write: their own call, Ann's number as a verified link, and a
    merge of Ann into them."""
    return {
        "format": 2, "name": "Mallory", "metadata": {}, "profile": {},
        "sessions": [{"session_id": "ses_mal1", "started_at": at, "ended_at": at + 60}],
        "items": [{"id": "evt_mal1", "kind": "turn", "session_id": "ses_mal1",
                   "user_text": "voxmal here", "assistant_text": "ok",
                   "created_at": at + 1, "turn_id": "t1"}],
        "identifiers": [{"kind": "phone", "value": ANN_PHONE, "raw": ANN_PHONE,
                         "source": "sip", "strength": 1.0, "created_at": at,
                         "session_id": None, "turn_id": None}],
        "merges": [{"merge_id": "mrg_forged", "from_user_id": "ann",
                    "to_user_id": "mallory", "status": "merged", "at": at,
                    "undone_at": None, "items_moved": 1, "evidence": {},
                    "undo": {"items": [], "sessions": [], "sourceCaller": None,
                             "targetCaller": None, "sourceIdentifiers": [],
                             "addedIdentifiers": []}}],
        "graph": {"entities": [], "edges": [], "mentions": []},
    }


async def words_of(engine: MemoryEngine, project: str, user: str, word: str) -> list[str]:
    found = await dispatch(engine, "search_memory", payload(project, user, query=word))
    return [h["text"].split()[0] for h in found["working"] + found["permanent"]]


async def test_a_file_cannot_merge_a_caller_of_the_store_into_its_author(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", payload("pi", "ann", user_text="voxann here",
                                                    assistant_text="ok"))
    assert await engine.flush(60)
    forged = mallory_file(time.time() - 3600)
    with pytest.raises(IdentityMismatch) as refused:
        await dispatch(engine, "import_user", {**forged, **payload("pi", "mallory")})
    assert refused.value.details == {"mergeIds": ["mrg_forged"], "fromIds": ["ann"]}
    assert await engine.flush(60)
    # Nothing written, and Ann is still Ann.
    nothing = await dispatch(engine, "export_user", payload("pi", "mallory"))
    assert nothing["items"] == [] and nothing["merges"] == []
    assert await words_of(engine, "pi", "ann", "voxann") == ["voxann"]
    assert await dispatch(engine, "list_merges", {"project_id": "pi",
                                                  "user_id": "ann"}) == []
    # Nor the author out of their own id into Ann (to read her memory as "mallory").
    other = copy.deepcopy(forged)
    other["identifiers"] = []
    other["merges"][0].update(from_user_id="mallory", to_user_id="ann")
    with pytest.raises(IdentityMismatch):
        await dispatch(engine, "import_user", {**other, **payload("pi", "mallory")})
    assert await words_of(engine, "pi", "mallory", "voxann") == []
    # A merge naming neither the caller nor their chain is not about them: left out.
    other["merges"][0].update(from_user_id="guest", to_user_id="ann")
    done = await dispatch(engine, "import_user", {**other, **payload("pi", "mallory")})
    assert (done["turns"], done["merges"]) == (1, 0)
    assert await dispatch(engine, "list_merges", {"project_id": "pi",
                                                  "user_id": "ann"}) == []
    assert await words_of(engine, "pi", "ann", "voxann") == ["voxann"]


async def test_a_merge_of_an_id_the_store_does_not_hold_comes_back(
        engine: MemoryEngine) -> None:
    # The legitimate case: the chain was erased with the caller (export, forget, import).
    forged = mallory_file(time.time() - 3600)
    forged["merges"][0]["from_user_id"] = "guest"
    done = await dispatch(engine, "import_user", {**forged, **payload("pj", "mallory")})
    assert done["merges"] == 1
    assert await words_of(engine, "pj", "guest", "voxmal") == ["voxmal"]
    # Importing the same file again leaves the store's own merge as it is.
    again = await dispatch(engine, "import_user", {**forged, **payload("pj", "mallory")})
    assert again["merges"] == 0 and again["alreadyStored"] == 1


async def test_identifiers_from_a_file_decide_no_call_start_unless_trusted(
        engine: MemoryEngine) -> None:
    forged = mallory_file(time.time() - 3600)
    forged["merges"] = []
    await dispatch(engine, "import_user", {**forged, **payload("pl", "mallory")})
    linked = await dispatch(engine, "find_callers", payload("pl", identifier=ANN_PHONE))
    assert [(f["userId"], f["source"], f["strength"]) for f in linked] == [
        ("mallory", "imported sip", 0.8)]
    # Ann's first call from her number is Ann's, not the file's author's.
    start = await dispatch(engine, "resolve_caller", payload(
        "pl", identifiers=[{"kind": "phone", "value": ANN_PHONE, "source": "sip"}],
        default_user_id="ann"))
    assert (start["userId"], start["created"]) == ("ann", True)
    # The operator who vouches for the file keeps its links deciding.
    forged["sessions"], forged["items"] = [], []  # (the ids are the other project's now)
    await dispatch(engine, "import_user", {**forged, **payload("pm", "mallory"),
                                           "trust_identifiers": True})
    trusted = await dispatch(engine, "resolve_caller", payload(
        "pm", identifiers=[{"kind": "phone", "value": ANN_PHONE, "source": "sip"}],
        default_user_id="ann"))
    assert (trusted["userId"], trusted["created"]) == ("mallory", False)
    with pytest.raises(BadRequest):
        await dispatch(engine, "import_user", {**forged, **payload("pm", "mallory"),
                                               "trust_identifiers": "yes"})


async def test_an_undo_record_links_back_unverified(engine: MemoryEngine) -> None:
    # An unmerge of a restored merge links the undo record's identifiers to its source:
    # from a file, unverified too.
    at = time.time() - 3600
    forged = mallory_file(at)
    forged["identifiers"] = []
    forged["merges"][0]["from_user_id"] = "guest"
    forged["merges"][0]["undo"]["sourceIdentifiers"] = [
        ["phone", ANN_PHONE, "guest", ANN_PHONE, "sip", None, None, 1.0, at]]
    await dispatch(engine, "import_user", {**forged, **payload("pn", "mallory")})
    await dispatch(engine, "unmerge_callers", {"project_id": "pn",
                                               "merge_id": "mrg_forged"})
    linked = await dispatch(engine, "find_callers", payload("pn", identifier=ANN_PHONE))
    assert [(f["userId"], f["source"], f["strength"]) for f in linked] == [
        ("guest", "imported sip", 0.8)]
