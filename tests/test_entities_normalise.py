"""Identifier normalisation made for speech, the linking rules, and graph extraction
(pure functions: no store)."""

from __future__ import annotations

from typing import Any

import pytest

from voxmem import Settings
from voxmem.engine._learning import build_extractor
from voxmem.entities import (
    country_code_for_region,
    names_match,
    normalize_email,
    normalize_phone,
    region_for_country_code,
    spoken_to_digits,
)
from voxmem.entities._expand import GraphView, rerank
from voxmem.entities._graph import extract_graph
from voxmem.entities._identifiers import normalize_identifier, spoken_claims
from voxmem.entities._resolve import Candidate, decide_in_call, decide_start
from voxmem.extraction import Transcript, TranscriptTurn
from voxmem.extraction._text import normalize_phone as extraction_phone
from voxmem.integrations._livekit_identity import normalize_e164
from voxmem.models import Turn


@pytest.mark.parametrize(("spoken", "digits"), [
    ("four four two one", "4421"),
    ("forty-four twenty-one", "4421"),
    ("forty four twenty one", "4421"),
    ("double seven", "77"),
    ("triple five two", "5552"),
    ("double oh seven", "007"),
    ("five one oh, five five five, oh one hundred", "5105550100"),
    ("nineteen eighty four", "1984"),
    ("510 555 0100", "5105550100"),
    ("invoice four four two one", "invoice 4421"),
    ("the one who called", "the one who called"),
])
def test_spoken_numbers_become_digits(spoken: str, digits: str) -> None:
    assert spoken_to_digits(spoken) == digits


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("(510) 555-0100", "US", "+15105550100"),
    ("+44 (0)20 7946 0018", "US", "+442079460018"),
    ("020 7946 0018", "GB", "+442079460018"),
    ("0044 20 7946 0018", None, "+442079460018"),
    ("sip:+15105550100@trunk.example;user=phone", None, "+15105550100"),
    ("five one oh five five five oh one hundred", "US", "+15105550100"),
    ("5105550100", None, None),
    ("12345", "US", None),
    ("+1 510 555 0100 ext 12", None, None),
])
def test_one_phone_normaliser(raw: str, region: str | None, e164: str | None) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize("kind", ["phone", "account", "email", "external_id",
                                  "livekit_identity", "sip_call_id"])
@pytest.mark.parametrize("control", ["\u202e", "\u202b", "\u2067", "\u2068", "\u200f",
                                     "\u061c"])
def test_a_control_that_can_reorder_an_identifier_refuses_it(kind: str, control: str) -> None:
    # "\u202e0010-555-015" displays as 510-555-0100 and was kept as +10010555015: the
    # number shown was not the number kept.
    assert normalize_identifier("phone", "\u202e0010-555-015") is None
    raw = {"email": "ann@example.com"}.get(kind, "510-555-0100")
    assert normalize_identifier(kind, raw) is not None
    assert normalize_identifier(kind, control + raw) is None
    assert normalize_identifier(kind, raw[:4] + control + raw[4:]) is None


@pytest.mark.parametrize(("kind", "raw", "normal"), [
    ("phone", "(510)\u200b555-0100", "+15105550100"),  # zero-width space
    ("phone", "(510)\u200d555-0100", "+15105550100"),  # zero-width joiner (was refused)
    ("phone", "\u202d+1 (510) 555-0100\u202c", "+15105550100"),  # as a phone app copies it
    ("phone", "\u2066+15105550100\u2069", "+15105550100"),
    ("phone", "\ufeff\u200e+15105550100", "+15105550100"),
    ("email", "ann\u200b.lee@example.com", "ann.lee@example.com"),  # was refused
    ("account", "ACCT-99\u2060120", "99120"),
    ("name", "Jo\u00adhn", "john"),  # soft hyphen: one word, not "jo hn"
    ("name", "\u202eAnn", "ann"),  # a name never links on its own
])
def test_invisible_format_characters_are_dropped(kind: str, raw: str, normal: str) -> None:
    assert normalize_identifier(kind, raw) == normal


def test_a_spoken_number_behind_a_bidi_override_is_no_claim() -> None:
    # Shown as "my phone number is 0010555015", it was claimed as +15105550100.
    assert spoken_claims("my phone number is \u202e5105550100").identifiers == ()
    assert spoken_claims("my account number is 4321\u202e 9876").identifiers == ()
    assert spoken_claims("my phone number is 5105550100").identifiers == (
        ("phone", "+15105550100", "5105550100"),)


def test_extraction_and_livekit_use_the_same_normaliser() -> None:
    # The two hand-written normalisers disagreed on these (issue 10).
    assert extraction_phone("(510) 555-0100") == normalize_e164(
        "(510) 555-0100", default_country_code="1") == "+15105550100"
    assert extraction_phone("+44 (0)20 7946 0018") == normalize_e164(
        "+44 (0)20 7946 0018") == "+442079460018"
    assert region_for_country_code("44") == "GB"
    with pytest.raises(ValueError, match="default_country_code"):
        region_for_country_code("UK")


async def test_extraction_reads_national_numbers_in_the_default_region(tmp_path: Any) -> None:
    """The default_region setting reaches the rule extractor, as it reaches the caller
    directory: a London caller's national number becomes the same E.164 in both."""
    transcript = Transcript("s", "u", [TranscriptTurn(
        "t1", "You can reach me on 020 7946 0018.", "Thanks, noted.", 1.0)])
    texts = {}
    for region in ("GB", "US"):
        extractor = build_extractor(Settings(default_region=region, data_dir=str(tmp_path)))
        assert extractor is not None
        texts[region] = [f.text for f in await extractor.extract(transcript)]
    assert texts["GB"] == ["Phone number is +442079460018"]
    assert normalize_identifier("phone", "020 7946 0018", "GB") == "+442079460018"
    assert texts["US"] != texts["GB"]  # read in another region, it is another number
    assert country_code_for_region("gb") == "44"
    with pytest.raises(ValueError, match="region"):
        country_code_for_region("UK")


@pytest.mark.parametrize(("spoken", "email"), [
    ("j o h n dot smith at gmail dot com", "john.smith@gmail.com"),
    ("John.Smith@Gmail.com", "john.smith@gmail.com"),
    ("priya underscore k at outlook dot com", "priya_k@outlook.com"),
    ("m a r y two three at yahoo dot co dot uk", "mary23@yahoo.co.uk"),
    ("s as in sam m i t h at gmail dot com", "smith@gmail.com"),
    ("double l e at example dot org", "lle@example.org"),
    ("not an email", None),
])
def test_spelled_and_spoken_emails(spoken: str, email: str | None) -> None:
    assert normalize_email(spoken) == email


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Priya", "Pria", True), ("Jon", "John", True), ("Catherine", "Kathryn", True),
    ("Sean", "Shawn", True), ("John", "Jane", False), ("Ali", "Alex", False),
    ("Mary", "Maria", True), ("Peter", "Paul", False),
])
def test_names_match_by_spelling_and_sound(a: str, b: str, same: bool) -> None:
    assert names_match(a, b) is same


def test_reference_numbers_match_as_printed_and_as_spoken() -> None:
    assert normalize_identifier("invoice", "INV-4421") == normalize_identifier(
        "invoice", "forty-four twenty-one") == "4421"
    assert normalize_identifier("ticket", "12") is None


def test_spoken_claims() -> None:
    claims = spoken_claims("this is John, the one who called about invoice four four two one")
    assert claims.identifiers == (("invoice", "4421", "4421"),)
    assert claims.names == ("john",) and not claims.on_behalf
    son = spoken_claims("I'm calling about my son's account, it's 7 7 2 1 0 9")
    assert son.on_behalf and son.identifiers[0][:2] == ("account", "772109")
    assert spoken_claims("I'm just calling to ask").names == ()


def test_linking_rules() -> None:
    phone = Candidate("phone", "+15105550100", frozenset({"ann"}))
    shared = Candidate("phone", "+15105550111", frozenset({"ann", "bob"}))
    invoice = Candidate("invoice", "4421", frozenset({"john"}))
    names = {"ann": ["Ann"], "john": ["John Smith"], "bob": ["Bob"]}
    assert decide_start([phone], [], names).user_id == "ann"
    assert decide_start([shared], [], names).user_id is None, "ambiguity never links"
    assert decide_start([invoice], [], names).user_id is None, "needs a name"
    assert decide_start([invoice], ["Jon"], names).user_id == "john"
    assert decide_start([invoice], ["Mary"], names).user_id is None
    assert decide_start([], ["John"], names).user_id is None, "a name alone never links"
    email = Candidate("email", "b@x.org", frozenset({"bob"}))
    assert decide_start([phone, email], [], names).user_id is None, "conflict"
    kw: dict[str, Any] = {"claimed_names": [], "owner_names": ["Ann"], "on_behalf": False}
    # Said aloud, a phone number alone proves nothing: a new caller gets a proposal.
    alone = decide_in_call(phone, "new", current_is_new=True, **kw)
    assert alone.user_id == "ann" and alone.propose and not alone.linked
    assert decide_in_call(phone, "old", current_is_new=False, **kw).user_id is None
    named = decide_in_call(phone, "new", current_is_new=True, **{**kw, "claimed_names": ["Ann"]})
    assert named.linked and named.user_id == "ann"
    ann_email = Candidate("email", "ann@x.org", frozenset({"ann"}))
    both = decide_in_call(phone, "new", current_is_new=True, also_said=[ann_email], **kw)
    assert both.linked and both.user_id == "ann" and len(both.evidence) == 2
    bobs = decide_in_call(phone, "new", current_is_new=True, also_said=[email], **kw)
    assert bobs.propose, "another caller's identifier corroborates nothing"
    assert not decide_in_call(phone, "old", current_is_new=False, also_said=[ann_email],
                              **kw).linked, "a known caller needs the owner's name"
    assert decide_in_call(phone, "new", current_is_new=True,
                          **{**kw, "on_behalf": True}).user_id is None


def turn(i: int, user: str, assistant: str = "", at: float = 0.0) -> Turn:
    return Turn(event_id=f"e{i}", session_id=f"s{i}", turn_id=f"t{i}", user_text=user,
                assistant_text=assistant, created_at=at or 1000.0 * i)


def test_graph_extraction_and_walk() -> None:
    graph = extract_graph([
        turn(1, "my Netgear modem keeps dropping, serial number NX4471",
             "I opened ticket 8842 for the modem"),
        turn(2, "my dog Bella needs her appointment on Tuesday", "Booked."),
        turn(3, "the modem lost signal again last night", ""),
    ])
    kinds = {e.id: e for e in graph.entities}
    assert kinds["device:modem"].attrs == {"brand": "Netgear", "serial": "NX4471"}
    assert kinds["device:modem"].mentions == 2
    assert {"ticket:8842", "pet:bella", "appointment:tuesday"} <= set(kinds)
    assert any(e.source_id == "ticket:8842" and e.relation == "about"
               and e.target_id == "device:modem" for e in graph.edges)
    view = GraphView(graph)
    walk = view.expand("is ticket 8842 fixed yet?", now=5000.0)
    assert walk.seeds == ("ticket:8842",)
    assert ("ticket:8842", "device:modem") in walk.paths
    assert set(walk.items) == {"e1", "e3"}, "the earlier modem issue is reached"
    assert view.expand("how is Bela doing", now=5000.0).seeds == ("pet:bella",)
    hits = [{"id": "e9", "score": 1.0}, {"id": "e7", "score": 0.3}]
    ranked = rerank(hits, [{"id": "e3", "score": 0.0}], walk, k=2)
    # The lane's best stays first; the earlier modem call the graph reached outranks
    # the lane's weak second hit.
    assert [h["id"] for h in ranked] == ["e9", "e3"] and ranked[1]["graph"]
