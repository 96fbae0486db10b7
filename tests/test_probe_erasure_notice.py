"""An erasure notice must not let a reader of the notices confirm a guess of who was
erased: the caller's key is hashed with the store's own random id as the key (both
stores), and runtimes sharing the store still find the callers it names."""

from __future__ import annotations

import hashlib

from voxmem.engine import MemoryEngine
from voxmem.models import Caller
from voxmem.store._keys import erasure_key, search_key


def unkeyed_guesses(tenant: str, project: str, space: str, user_id: str) -> set[str]:
    """What someone without the store's id can compute from a guessed caller."""
    parts = "\x1f".join((tenant, project, space, user_id)).encode("utf-8")
    return {search_key(tenant, project, space, user_id), hashlib.blake2b(parts).hexdigest(),
            hashlib.sha256(parts).hexdigest(),
            "k" + hashlib.blake2b(parts, digest_size=10).hexdigest()}


async def test_the_notice_cannot_be_confirmed_without_the_stores_id(
        engine: MemoryEngine) -> None:
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="+15105550100")
    await engine.save_response(scope, Caller("+15105550100"), user_text="my dog is Rex",
                               assistant_text="Noted.")
    await engine.flush(30)
    await engine.forget_user(scope)
    notices = [h for h, _at in await engine.store.erasure_notices(0.0)]
    assert len(notices) == 1
    assert not unkeyed_guesses(*scope.caller_key) & set(notices), "a guess is confirmed"
    # Keyed with this store's id: the runtimes sharing the store can match it.
    assert notices == [erasure_key(await engine.store.store_id(), *scope.caller_key)]
    assert erasure_key("another-store", *scope.caller_key) not in notices
    # The runtime that reads the notice drops the caller (as every sharing runtime does).
    again = engine.scope(project_id="proj", agent_id="agent", user_id="+15105550100")
    engine.callers.get(again)
    assert engine.callers.peek(again) is not None
    await engine.lifecycle.drop_erased_elsewhere(0.0)
    assert engine.callers.peek(again) is None
