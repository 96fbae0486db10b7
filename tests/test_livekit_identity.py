"""Caller identity and the ``{{memory}}`` placeholder, with rooms shaped like LiveKit's."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pytest

pytest.importorskip("livekit.agents")

from livekit import rtc

from voxmem.integrations import render_memory_instructions
from voxmem.integrations._livekit_identity import (
    CALLER_PARTICIPANT_KINDS,
    PARTICIPANT_KIND_AGENT,
    PARTICIPANT_KIND_SIP,
    PARTICIPANT_KIND_STANDARD,
)
from voxmem.integrations.livekit import (
    CallerIdentity,
    caller_from_job_metadata,
    normalize_e164,
    resolve_caller,
)

Kind = rtc.ParticipantKind


@dataclasses.dataclass
class FakeParticipant:
    """Has what ``rtc.RemoteParticipant`` / ``rtc.LocalParticipant`` expose to us."""

    identity: str
    kind: int = Kind.PARTICIPANT_KIND_STANDARD
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    name: str = ""


@dataclasses.dataclass
class FakeRoom:
    local_participant: FakeParticipant
    remote_participants: Mapping[str, FakeParticipant]


class UnconnectedRoom:
    """``rtc.Room()`` before connect: touching the local participant raises."""

    @property
    def local_participant(self) -> FakeParticipant:
        raise Exception("cannot access local participant before connecting")

    @property
    def remote_participants(self) -> Mapping[str, FakeParticipant]:
        return {}


AGENT_SELF = FakeParticipant("agent-AJ_x1", kind=Kind.PARTICIPANT_KIND_AGENT)
SIP_CALLER = FakeParticipant("sip_+15105550100", kind=Kind.PARTICIPANT_KIND_SIP, attributes={
    "sip.phoneNumber": "+1 (510) 555-0100", "sip.callID": "SCL_abc123",
    "sip.trunkPhoneNumber": "+15105550199"})
WEB_CALLER = FakeParticipant("voice_assistant_user_4821")


def room(*people: FakeParticipant, local: FakeParticipant = AGENT_SELF) -> FakeRoom:
    return FakeRoom(local_participant=local,
                    remote_participants={p.identity: p for p in people})


def test_kind_constants_match_livekit() -> None:
    assert PARTICIPANT_KIND_STANDARD == Kind.PARTICIPANT_KIND_STANDARD
    assert PARTICIPANT_KIND_SIP == Kind.PARTICIPANT_KIND_SIP
    assert PARTICIPANT_KIND_AGENT == Kind.PARTICIPANT_KIND_AGENT
    from livekit.agents.job import DEFAULT_PARTICIPANT_KINDS

    assert set(DEFAULT_PARTICIPANT_KINDS) == CALLER_PARTICIPANT_KINDS


def test_job_metadata_comes_first() -> None:
    metadata = json.dumps({"user_id": "u-123", "tenant_id": "acme", "name": "Dana"})
    identity = resolve_caller(job_metadata=metadata, room=room(SIP_CALLER))
    assert identity.user_id == "u-123" and identity.source == "job_metadata"
    assert identity.tenant_id == "acme" and identity.name == "Dana"
    # What the room says is kept as linked identifiers.
    assert identity.phone == "+15105550100" and identity.sip_call_id == "SCL_abc123"
    assert identity.to_user() == {"id": "u-123", "name": "Dana", "metadata": {
        "identity_source": "job_metadata", "phone": "+15105550100",
        "livekit_identity": "sip_+15105550100", "sip_call_id": "SCL_abc123"}}


@pytest.mark.parametrize("metadata", ["", "not json", "[1, 2]", '{"tenant_id": "acme"}',
                                      '{"user_id": ""}', '{"user_id": true}', None])
def test_job_metadata_without_a_user_is_ignored(metadata: str | None) -> None:
    assert caller_from_job_metadata(metadata) is None
    identity = resolve_caller(job_metadata=metadata, room=room(WEB_CALLER))
    assert identity.source == "participant" and identity.user_id == WEB_CALLER.identity


def test_numeric_user_id_in_metadata_is_accepted() -> None:
    identity = caller_from_job_metadata({"user_id": 42})
    assert identity is not None and identity.user_id == "42"


def test_sip_phone_number_comes_before_participant_identity() -> None:
    identity = resolve_caller(room=room(WEB_CALLER, SIP_CALLER))
    assert identity.source == "sip" and identity.user_id == "+15105550100"
    assert identity.phone == "+15105550100"
    assert identity.participant_identity == "sip_+15105550100"
    assert identity.sip_call_id == "SCL_abc123"


def test_sip_participant_whose_number_cannot_be_completed_falls_back_to_identity() -> None:
    national = FakeParticipant("sip_5105550100", kind=Kind.PARTICIPANT_KIND_SIP,
                               attributes={"sip.phoneNumber": "5105550100"})
    identity = resolve_caller(room=room(national))
    assert identity.source == "participant" and identity.user_id == "sip_5105550100"


@pytest.mark.parametrize("number", ["anonymous", "Restricted", "unknown", "Private", ""])
def test_a_sip_caller_who_withholds_their_number_is_anonymous(number: str) -> None:
    # Every such caller has the same participant identity: taking it as the caller's id
    # filed strangers under one caller, each recalling the others' calls.
    withheld = FakeParticipant("sip_anonymous", kind=Kind.PARTICIPANT_KIND_SIP,
                               attributes={"sip.phoneNumber": number, "sip.callID": "SCL_1"})
    assert resolve_caller(room=room(withheld)).anonymous
    # Nor does someone else in the room (a supervisor listening in) become the caller.
    assert resolve_caller(room=room(withheld, WEB_CALLER)).anonymous
    # The app's own id for the caller still wins.
    assert resolve_caller(job_metadata='{"user_id": "u-9"}',
                          room=room(withheld)).user_id == "u-9"


def test_the_agents_own_identity_is_never_the_caller() -> None:
    # The agent appears among the remote participants too (a mis-built room, a replay).
    identity = resolve_caller(room=room(AGENT_SELF))
    assert identity.anonymous
    human_named_like_agent = FakeParticipant(AGENT_SELF.identity)
    assert resolve_caller(room=room(human_named_like_agent)).anonymous
    assert resolve_caller(room=room(), participant=AGENT_SELF).anonymous


def test_other_agents_and_recorders_are_not_callers() -> None:
    other_agent = FakeParticipant("agent-translator", kind=Kind.PARTICIPANT_KIND_AGENT)
    egress = FakeParticipant("EG_recorder", kind=Kind.PARTICIPANT_KIND_EGRESS)
    assert resolve_caller(room=room(other_agent, egress)).anonymous
    identity = resolve_caller(room=room(other_agent, egress, WEB_CALLER))
    assert identity.user_id == WEB_CALLER.identity


def test_linked_participant_wins_over_the_rest_of_the_room() -> None:
    identity = resolve_caller(room=room(WEB_CALLER, SIP_CALLER), participant=WEB_CALLER)
    assert identity.user_id == WEB_CALLER.identity and identity.source == "participant"


def test_nobody_known_means_anonymous_and_no_user() -> None:
    identity = resolve_caller(room=room())
    assert identity.anonymous and identity.source == "anonymous"
    with pytest.raises(ValueError, match="anonymous"):
        identity.to_user()
    assert resolve_caller().anonymous
    assert resolve_caller(room=UnconnectedRoom()).anonymous


def test_unconnected_room_still_takes_job_metadata() -> None:
    identity = resolve_caller(job_metadata='{"user_id": "u-9"}', room=UnconnectedRoom())
    assert identity.user_id == "u-9"


def test_mocked_identities_are_ignored() -> None:
    class NotAString:
        def __bool__(self) -> bool:
            return True

    weird = FakeParticipant(NotAString())  # type: ignore[arg-type]
    assert resolve_caller(room=room(weird)).anonymous


def test_explicit_identity() -> None:
    assert CallerIdentity.explicit("u-1").user_id == "u-1"
    explicit = CallerIdentity.explicit({"id": " u-2 ", "name": "Kim"}, tenant_id="acme")
    assert (explicit.user_id, explicit.name, explicit.tenant_id) == ("u-2", "Kim", "acme")
    for bad in ("", "  ", {"name": "Kim"}, {"id": 5}):
        with pytest.raises(ValueError):
            CallerIdentity.explicit(bad)


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("+15105550100", None, "+15105550100"),
    ("+1 (510) 555-0100", None, "+15105550100"),
    ("tel:+1-510-555-0100", None, "+15105550100"),
    ("sip:+15105550100@trunk.example.com;user=phone", None, "+15105550100"),
    ("0044 20 7946 0018", None, "+442079460018"),
    ("15105550100", None, "+15105550100"),
    ("5105550100", None, None),
    ("5105550100", "1", "+15105550100"),
    ("15105550100", "1", "+15105550100"),
    ("020 7946 0018", "44", "+442079460018"),
    ("+44 20 7946 0018", "1", "+442079460018"),
    ("anonymous", None, None),
    ("+1 510 555 0100 ext 12", None, None),
    ("+0123456789", None, None),
    ("+1234", None, None),
    ("+1234567890123456", None, None),
    ("", None, None),
    (None, None, None),
])
def test_normalize_e164(raw: str | None, country: str | None, expected: str | None) -> None:
    assert normalize_e164(raw, default_country_code=country) == expected


def test_normalize_e164_rejects_a_bad_country_code() -> None:
    with pytest.raises(ValueError, match="default_country_code"):
        normalize_e164("5105550100", default_country_code="US")


def test_sip_number_with_default_country() -> None:
    national = FakeParticipant("sip_5105550100", kind=Kind.PARTICIPANT_KIND_SIP,
                               attributes={"sip.phoneNumber": "(510) 555-0100"})
    assert resolve_caller(room=room(national)).source == "participant"
    identity = resolve_caller(room=room(national), default_country_code="1")
    assert identity.user_id == "+15105550100" and identity.source == "sip"


# -- the {{memory}} placeholder ------------------------------------------------------------
BLOCK = "## Memory\nCaller profile: name: 'Dana'"


def test_placeholder_is_replaced_by_the_memory_block() -> None:
    template = "You are Ava.\n\n{{memory}}\n\nBe brief."
    assert render_memory_instructions(template, BLOCK) == f"You are Ava.\n\n{BLOCK}\n\nBe brief."
    assert render_memory_instructions("A {{ memory }} B", "x") == "A x B"


@pytest.mark.parametrize("memory", [None, "", "   "])
def test_placeholder_is_removed_cleanly_without_memory(memory: str | None) -> None:
    assert render_memory_instructions("You are Ava.\n\n{{memory}}\n\nBe brief.",
                                      memory) == "You are Ava.\n\nBe brief."
    assert render_memory_instructions("You are Ava.\n{{memory}}\nBe brief.",
                                      memory) == "You are Ava.\nBe brief."
    assert render_memory_instructions("Known: {{memory}}.", memory) == "Known: ."
    assert render_memory_instructions("{{memory}}\nYou are Ava.", memory) == "You are Ava."


def test_template_without_placeholder_gets_the_block_appended() -> None:
    assert render_memory_instructions("You are Ava.", BLOCK) == f"You are Ava.\n\n{BLOCK}"
    assert render_memory_instructions("You are Ava.", None) == "You are Ava."


def test_memory_goes_in_once_at_the_first_of_two_placeholders() -> None:
    """Found walking the ``{{memory}}`` template as a builder: a template with two
    placeholders (assembled from parts) sent the caller's memory twice."""
    template = "You are Ava.\n{{memory}}\nBe brief.\n\n{{memory}}\n\nBook calls. {{memory}}"
    assert render_memory_instructions(template, BLOCK) == \
        f"You are Ava.\n{BLOCK}\nBe brief.\n\nBook calls. "
    assert render_memory_instructions(template, None) == "You are Ava.\nBe brief.\n\nBook calls."


def test_memory_text_is_inserted_literally() -> None:
    tricky = r"C:\new\table \1 \g<0> {{memory}}"
    assert render_memory_instructions("[{{memory}}]", tricky) == f"[{tricky}]"


# -- the module's surface ------------------------------------------------------------------
def test_public_names_are_pinned() -> None:
    import voxmem.integrations
    import voxmem.integrations.livekit as livekit_integration

    assert voxmem.integrations.__all__ == ["MEMORY_PLACEHOLDER", "render_memory_instructions"]
    assert livekit_integration.__all__ == sorted(livekit_integration.__all__, key=lambda n: (
        not n.isupper(), n))
    assert set(livekit_integration.__all__) == {
        "COMPACTED_MESSAGE_ID", "DEFAULT_COMPACTION", "DEFAULT_PRELOAD_TIMEOUT_MS",
        "DEFAULT_PROFILE_FIELDS", "DEFAULT_RECALL_ROLE", "DEFAULT_SEARCH_TIMEOUT_MS",
        "DEFAULT_TURN_LANES", "MEMORY_MESSAGE_ID", "MEMORY_PLACEHOLDER", "TOOL_NAMES",
        "CallMemory", "CallerIdentity", "CompactionOptions", "MemoryAgent", "MemoryMixin",
        "RecallRole", "attach_memory", "caller_from_job_metadata", "caller_from_participants",
        "insert_recall", "memory_before_llm", "memory_on_enter", "memory_on_user_turn",
        "memory_tools", "normalize_e164", "on_session_end", "render_memory_instructions",
        "resolve_caller", "resolve_caller_for_job", "store_session_report"}


def test_importing_voxmem_does_not_import_livekit() -> None:
    import subprocess
    import sys

    code = ("import sys, voxmem, voxmem.integrations; "
            "assert not any(m.startswith('livekit') for m in sys.modules), 'livekit imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
