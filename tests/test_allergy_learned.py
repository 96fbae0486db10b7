"""A caller's declared allergy, end to end: redacted from the stored turn, learned as a
constraint when the call ends (the learner only ever reads the redacted transcript), on
both stores; and nothing of it kept when the policy keeps no allergies."""

from __future__ import annotations

from pathlib import Path

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.extraction.redaction import KEPT_KEY, Redactor, kept_from_metadata
from voxmem.extraction.sensitive import SensitivePolicy
from voxmem.models import Caller, Scope


async def _call(engine: MemoryEngine, user: str, said: str) -> tuple[Scope, str]:
    scope = engine.scope(project_id="p1", agent_id="a1", user_id=user)
    await engine.start_session(scope, Caller(user))
    await engine.save_response(scope, Caller(user), user_text=said,
                               assistant_text="Noted, thank you.")
    info = await engine.end_session(scope, learn=False)
    assert info is not None
    await engine.learner.learn(scope, info.id)
    await engine.flush(30)
    return scope, info.id


async def test_a_declared_allergy_is_learned_from_the_redacted_transcript(
        engine: MemoryEngine) -> None:
    scope, call = await _call(engine, "ana", "uh yeah i'm allergic to peanuts by the way")
    facts = await engine.store.list_facts(scope)
    assert [(f.text, f.kind) for f in facts if "llerg" in f.text] == [
        ("Allergic to peanuts", "constraint")]
    (turn,) = await engine.store.session_turns(scope, call)
    assert "peanut" not in turn.user_text  # the transcript itself stays redacted
    assert turn.metadata[KEPT_KEY] == ["Allergic to peanuts"]  # only the fact, not the words
    result = await engine.search_memory(scope, "is she allergic to anything?")
    assert "Allergic to peanuts" in result.context_text


async def test_someone_elses_allergy_keeps_nothing(engine: MemoryEngine) -> None:
    scope, call = await _call(engine, "bo", "my son is allergic to nuts")
    assert not any("llerg" in f.text for f in await engine.store.list_facts(scope))
    (turn,) = await engine.store.session_turns(scope, call)
    assert KEPT_KEY not in turn.metadata


async def test_a_policy_keeping_no_allergies_stores_none(settings: Settings) -> None:
    engine = MemoryEngine(settings.replace(
        sensitive_categories="payment_card,password_pin,government_id,health,allergy"))
    await engine.start()
    try:
        scope, call = await _call(engine, "cy", "i'm allergic to penicillin")
        assert not any("llerg" in f.text for f in await engine.store.list_facts(scope))
        (turn,) = await engine.store.session_turns(scope, call)
        assert KEPT_KEY not in turn.metadata and "penicillin" not in turn.user_text
    finally:
        await engine.close()
    assert _files_holding(Path(settings.data_path), b"penicillin") == []


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_only_fact_shaped_values_count_as_kept() -> None:
    # Turn metadata is the client's too: a value that is not a kept fact's shape is ignored.
    forged = {KEPT_KEY: ["Name is Bob", 3, "Allergic to shellfish", "Allergic to my cat"]}
    assert kept_from_metadata(forged) == ("Allergic to shellfish",)
    assert kept_from_metadata({KEPT_KEY: "Allergic to shellfish"}) == ()
    assert kept_from_metadata(None) == ()


def test_the_redactor_keeps_the_fact_only_when_it_redacted_the_words() -> None:
    said = "i'm allergic to penicillin"
    kept = Redactor().turn("s1", user_text=said, assistant_text="Noted.")
    assert "penicillin" not in kept.user_text and kept.metadata[KEPT_KEY] == [
        "Allergic to penicillin"]
    # With health data not redacted the words stay in the text, which the extractor reads.
    plain = Redactor(SensitivePolicy(health=False)).turn("s1", user_text=said,
                                                          assistant_text="Noted.")
    assert plain.user_text == said and KEPT_KEY not in plain.metadata
