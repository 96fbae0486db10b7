"""Outside-in probe: the agentic ``remember`` keeps a caller's declared allergy, as the
learner does (``SensitivePolicy.allergy_constraints``), and still refuses every other
health detail, and the allergy too when the policy keeps none. Both stores.

Found from outside: ``remember_detail("allergy", "Allergic to penicillin")`` — what an
LLM tool call says — was refused as health data, while ``"penicillin"`` alone was kept
and the learner keeps "Allergic to penicillin" from the same words said in a call.
"""

from __future__ import annotations

import pytest

from voxmem import Settings
from voxmem._exceptions import BadRequest
from voxmem.engine import MemoryEngine


@pytest.mark.parametrize("said", ["Allergic to penicillin", "allergic to peanuts and shellfish",
                                  "has a peanut allergy"])
async def test_a_declared_allergy_is_remembered(engine: MemoryEngine, said: str) -> None:
    scope = engine.scope(project_id="p1", agent_id="a1", user_id="ana")
    done = await engine.remember(scope, "allergy", said)
    assert done["content"] == said and done["changed"]
    assert await engine.flush(30)
    assert [f.text for f in await engine.store.list_facts(scope)] == [f"allergy: {said}"]


@pytest.mark.parametrize("said", ["takes insulin daily", "allergic to my cat and diabetic",
                                  "Allergic to penicillin, card 4111 1111 1111 1111"])
async def test_other_health_details_are_still_refused(engine: MemoryEngine, said: str) -> None:
    scope = engine.scope(project_id="p1", agent_id="a1", user_id="bo")
    with pytest.raises(BadRequest):
        await engine.remember(scope, "health", said)
    assert await engine.flush(30)
    assert await engine.store.list_facts(scope, include_history=True) == []


async def test_a_policy_keeping_no_allergies_refuses_it(settings: Settings) -> None:
    engine = MemoryEngine(settings.replace(
        sensitive_categories="payment_card,password_pin,government_id,health,allergy"))
    await engine.start()
    try:
        scope = engine.scope(project_id="p1", agent_id="a1", user_id="cy")
        with pytest.raises(BadRequest):
            await engine.remember(scope, "allergy", "Allergic to penicillin")
    finally:
        await engine.close()
