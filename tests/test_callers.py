"""Callers on every backend: resolution, ambiguity, in-call attach, undoable merges,
tenant isolation, erasure of identifiers and graph, and accurate recall."""

from __future__ import annotations

from typing import Any

import pytest

from voxmem import BadRequest, NotFound
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope
from voxmem.store import _entities as ops

PHONE = ("phone", "(510) 555-0100", "sip")


def who(engine: MemoryEngine, user: str, tenant: str = "default") -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user, tenant_id=tenant)


async def call(engine: MemoryEngine, scope: Scope, *turns: str, end: bool = True) -> str:
    info = await engine.start_session(scope, Caller(scope.user_id))
    for text in turns:
        await engine.save_response(scope, Caller(scope.user_id), user_text=text,
                                   assistant_text="Noted.")
    await engine.directory.idle()
    if end:
        await engine.end_session(scope, learn=False)
        await engine.directory.learn_graph(scope, info.id)
    return info.id


async def snapshot(engine: MemoryEngine, scope: Scope) -> dict[str, Any]:
    """Everything stored about one caller, for exact before/after comparison."""
    await engine.flush(30)
    exported = await engine.store.export_caller(scope)
    idents = await engine.store.run_entities(scope.tenant_id, ops.caller_identifiers(scope),
                                             write=False)
    graph = await engine.store.run_entities(scope.tenant_id, ops.load_graph(scope),
                                            write=False)
    return {"export": exported.to_wire(),
            "identifiers": sorted(repr(sorted(i.to_dict().items())) for i in idents),
            "graph": graph.to_dict(), "mentions": sorted(map(repr, graph.mentions))}


async def test_strong_identifier_links_a_new_number(engine: MemoryEngine) -> None:
    ann = who(engine, "ann")
    await engine.directory.resolve(ann, [PHONE, ("email", "Ann.Lee@Example.com", "crm")],
                                   user_id="ann", name="Ann Lee")
    # Same caller from a new number, giving the e-mail address as STT wrote it.
    found = await engine.directory.resolve(
        ann, [("phone", "+1 415 555 0199", "sip"),
              ("email", "a n n dot lee at example dot com", "said")],
        default_user_id="+14155550199")
    assert found["userId"] == "ann" and found["linked"] and not found["created"]
    # The new number is now Ann's too.
    again = await engine.directory.resolve(ann, [("phone", "415-555-0199", "sip")])
    assert again["userId"] == "ann"
    assert {r["userId"] for r in await engine.directory.find(ann, "4155550199")} == {"ann"}


async def test_ambiguity_never_merges(engine: MemoryEngine) -> None:
    ann, bob = who(engine, "ann"), who(engine, "bob")
    await engine.directory.resolve(ann, [PHONE], user_id="ann")
    await engine.directory.resolve(bob, [PHONE], user_id="bob")  # a shared family phone
    found = await engine.directory.resolve(ann, [PHONE], default_user_id="+15105550100")
    assert found["userId"] == "+15105550100" and not found["linked"]
    assert found["ambiguous"][0]["owners"] == ["ann", "bob"]
    # Said in a call by a new caller: still no merge.
    new = who(engine, "+15105550100")
    await call(engine, new, "my phone number is 510 555 0100", end=False)
    assert await engine.directory.merges(new, None) == []
    assert who(engine, "+15105550100").user_id == "+15105550100"


async def test_name_alone_never_links_but_corroborated_name_does(engine: MemoryEngine) -> None:
    john = who(engine, "john")
    await engine.directory.resolve(john, [PHONE], user_id="john", name="John Smith")
    await engine.directory.link(john, "invoice", "INV-4421")
    await call(engine, john, "my modem keeps dropping, ticket 8842")
    # Two Johns: a name-only claim from another John links to nobody.
    other = who(engine, "+14155550123")
    await call(engine, other, "hi, this is John Smith", end=False)
    assert await engine.directory.merges(other, None) == []
    # A name with an identifier the caller owns attaches the call.
    caller = who(engine, "+14155550124")
    await call(engine, caller,
               "this is Jon, the one who called about invoice four four two one", end=False)
    merges = await engine.directory.merges(caller, "+14155550124")
    assert [(m["toUserId"], m["status"]) for m in merges] == [("john", "merged")]
    assert merges[0]["evidence"]["identifier"]["kind"] == "invoice"
    # From the next turn on, the caller's recall sees John's history.
    assert who(engine, "+14155550124").user_id == "john"
    result = await engine.search_memory(who(engine, "+14155550124"), "modem ticket")
    assert "8842" in result.context_text


async def test_family_member_calling_for_someone_else_does_not_merge(
        engine: MemoryEngine) -> None:
    son = who(engine, "son")
    await engine.directory.resolve(son, [("account", "772109", "crm")], user_id="son")
    mum = who(engine, "+14155550777")
    await call(engine, mum, "I'm calling about my son's account, it's 7 7 2 1 0 9", end=False)
    assert await engine.directory.merges(mum, None) == []
    assert who(engine, "+14155550777").user_id == "+14155550777"


async def test_unmerge_restores_both_callers_exactly(engine: MemoryEngine) -> None:
    ann, guest = who(engine, "ann"), who(engine, "guest-7")
    await engine.directory.resolve(ann, [PHONE], user_id="ann", name="Ann")
    await call(engine, ann, "my router model RX-100 keeps rebooting, ticket 5512")
    await engine.update_profile(ann, "plan", "gold")
    await engine.directory.resolve(guest, [("email", "g@example.org", "web")],
                                   user_id="guest-7", name="Gus")
    await call(engine, guest, "my parcel tracking code is ZX81", "my dog Rex is ill")
    await engine.update_profile(guest, "plan", "basic")
    before = {"ann": await snapshot(engine, ann), "guest": await snapshot(engine, guest)}
    row = await engine.directory.merge(guest, ann, evidence={"reason": "test"})
    assert row.items_moved >= 2
    merged = await snapshot(engine, who(engine, "ann"))
    assert any("ZX81" in (i["text"] or "") for i in merged["export"]["items"])
    assert merged["export"]["profile"]["plan"] == "gold", "the target's values win"
    with pytest.raises(BadRequest):
        await engine.directory.merge(ann, ann, evidence={})
    await engine.directory.unmerge(ann, row.id)
    after = {"ann": await snapshot(engine, who(engine, "ann")),
             "guest": await snapshot(engine, who(engine, "guest-7"))}
    assert after == before
    assert who(engine, "guest-7").user_id == "guest-7"
    with pytest.raises(BadRequest):
        await engine.directory.unmerge(ann, row.id)  # already undone
    with pytest.raises(NotFound):
        await engine.directory.unmerge(ann, "mrg_missing")


async def test_cross_tenant_identifiers_never_link(engine: MemoryEngine) -> None:
    acme = who(engine, "ann", tenant="acme")
    await engine.directory.resolve(acme, [PHONE], user_id="ann")
    other = who(engine, "x", tenant="globex")
    found = await engine.directory.resolve(other, [PHONE], default_user_id="+15105550100")
    assert found["userId"] == "+15105550100" and not found["linked"]
    assert await engine.directory.find(other, "510 555 0100") == [
        {"userId": "+15105550100", "kind": "phone", "value": "+15105550100", "source": "sip",
         "strength": 1.0}]
    guest = who(engine, "guest", tenant="acme")
    await engine.directory.link(guest, "email", "guest@example.com")  # a merge needs a caller
    row = await engine.directory.merge(guest, acme, evidence={"reason": "test"})
    assert await engine.directory.merges(other, None) == []
    with pytest.raises(NotFound):
        await engine.directory.unmerge(other, row.id)
    assert who(engine, "guest", tenant="globex").user_id == "guest"


async def test_forget_user_removes_identifiers_and_graph(engine: MemoryEngine) -> None:
    ann, bob = who(engine, "ann"), who(engine, "bob")
    await engine.directory.resolve(ann, [PHONE], user_id="ann")
    await engine.directory.resolve(bob, [("phone", "+14155550100", "sip")], user_id="bob")
    await call(engine, ann, "my Samsung fridge is leaking, order 99812")
    await call(engine, bob, "my printer jams, ticket 4410")
    assert (await engine.directory.show(ann))["graph"]["entities"]
    counts = await engine.lifecycle.forget_user(ann)
    assert counts["identifiers"] >= 1 and counts["entities"] >= 1
    shown = await engine.directory.show(ann)
    assert shown["identifiers"] == [] and shown["graph"] == {"entities": [], "edges": []}
    assert await engine.directory.find(ann, "(510) 555-0100") == []
    assert (await engine.directory.show(bob))["graph"]["entities"], "others untouched"


async def test_accurate_mode_follows_the_graph(engine: MemoryEngine) -> None:
    kim = who(engine, "kim")
    await call(engine, kim, "my modem lost its connection all weekend",
               "the lights on the modem blink orange")
    await call(engine, kim, "I have ticket 8842 open about the modem")
    await call(engine, kim, "my daughter Zoe starts school on Monday")
    fast = await engine.search_memory(kim, "what happened with ticket 8842?")
    accurate = await engine.search_memory(kim, "what happened with ticket 8842?",
                                          mode="accurate")
    graph = accurate.trace["graph"]
    assert graph["seeds"] == ["ticket:8842"]
    assert "ticket:8842 -> device:modem" in graph["paths"]
    texts = [h["text"] for h in accurate.permanent]
    assert any("blink orange" in t for t in texts), "the earlier modem issue is reached"
    assert "graph" not in fast.trace
    assert not accurate.trace["degraded"]


async def test_propose_mode_records_without_moving(settings: Any) -> None:
    eng = MemoryEngine(settings.replace(caller_link_mode="propose"))
    await eng.start()
    try:
        ann = who(eng, "ann")
        await eng.directory.resolve(ann, [("account", "ACCT-99120", "crm")], user_id="ann")
        new = who(eng, "+14155550999")
        await call(eng, new, "my account number is nine nine one two zero", end=False)
        rows = await eng.directory.merges(new, None)
        assert [(r["fromUserId"], r["status"]) for r in rows] == [("+14155550999", "proposed")]
        assert who(eng, "+14155550999").user_id == "+14155550999"
    finally:
        await eng.close()


async def test_merges_survive_a_restart(settings: Any) -> None:
    eng = MemoryEngine(settings)
    await eng.start()
    await eng.directory.link(who(eng, "guest"), "email", "guest@example.com")
    await eng.directory.merge(who(eng, "guest"), who(eng, "acct"), evidence={"reason": "t"})
    await eng.close()
    eng = MemoryEngine(settings)
    await eng.start()
    try:
        assert who(eng, "guest").user_id == "acct"
    finally:
        await eng.close()


async def test_a_turn_saved_while_a_merge_runs_lands_with_the_target(
        engine: MemoryEngine) -> None:
    import asyncio

    guest, ann = who(engine, "guest"), who(engine, "ann")
    sid = await call(engine, guest, "my parcel code is ZX81", end=False)
    merging = asyncio.ensure_future(engine.directory.merge(guest, ann, evidence={}))
    await asyncio.sleep(0)  # let the merge start; it redirects before its first await
    again = who(engine, "guest")
    assert again.user_id == "ann"
    await engine.save_response(again, Caller("guest"), user_text="and my order is QX-77",
                               assistant_text="ok")
    await merging
    await engine.flush(30)
    assert await engine.store.count_items(guest) == 0
    turns = await engine.store.session_turns(ann, sid)
    assert [t.user_text for t in turns] == ["my parcel code is ZX81", "and my order is QX-77"]


async def test_export_includes_identifiers_and_graph(engine: MemoryEngine) -> None:
    from voxmem._operations import dispatch

    ann = who(engine, "ann")
    await engine.directory.resolve(ann, [PHONE], user_id="ann")
    await call(engine, ann, "my Canon printer jams, ticket 4410")
    data = await dispatch(engine, "export_user", {"project_id": "p1", "agent_id": "a1",
                                                  "user": {"id": "ann"}})
    assert [i["value"] for i in data["identifiers"] if i["kind"] == "phone"] == [
        "+15105550100"]
    assert {"ticket:4410", "device:printer"} <= {e["id"] for e in data["graph"]["entities"]}


async def test_caller_metadata_identifiers_are_linked_at_call_start(
        engine: MemoryEngine) -> None:
    ann = who(engine, "ann")
    await engine.start_session(ann, Caller("ann", "Ann Lee", {
        "phone": "(510) 555-0100", "email": "Ann@Example.com", "plan": "gold",
        "sip_call_id": "SCL_1"}))
    await engine.directory.idle()
    shown = await engine.directory.show(ann)
    assert {(i["kind"], i["value"]) for i in shown["identifiers"]} == {
        ("phone", "+15105550100"), ("email", "ann@example.com"), ("name", "ann lee"),
        ("sip_call_id", "SCL_1")}
    found = await engine.directory.resolve(ann, [("email", "ann at example dot com", "ivr")],
                                           default_user_id="new")
    assert found["userId"] == "ann"


async def test_learning_a_call_twice_changes_nothing(engine: MemoryEngine) -> None:
    kim = who(engine, "kim")
    sid = await call(engine, kim, "my modem is down again", "the modem light is red")
    first = (await engine.directory.show(kim))["graph"]
    await engine.directory.learn_graph(kim, sid)
    assert (await engine.directory.show(kim))["graph"] == first
    modem = next(e for e in first["entities"] if e["id"] == "device:modem")
    assert modem["mentions"] == 2
