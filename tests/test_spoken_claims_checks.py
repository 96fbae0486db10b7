"""The word checks in front of ``spoken_claims`` never change what it finds.

Every saved turn is read for identifiers a caller gives; the checks let the many turns
that name none skip the spoken-number rewrite. Here both ways are compared on generated
speech aimed at the claim words, numbers and e-mails.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from voxmem.entities._identifiers import _ON_BEHALF, _claims, spoken_claims

_SPOKEN = (
    "my account acct customer member membership client policy invoice bill order ticket "
    "case incident reference ref phone mobile cell number reach me call is it's was no "
    "four two one oh double seven forty-four twenty nine hundred 4421 555 0100 (510) "
    "this name john dana i'm am at dot com gmail example j o h n e-mail email address "
    "for his her son's calling behalf the about okay yeah "
    # the on-behalf pattern's words, and its words inside other words
    "on of their mother daughter landlord fiancée neighbour my-son myself economy "
    "their's herself recalling phones emails "
    # claim words inside other words, which the word-boundary check skips
    "prefer border excellent cancel preorder orders rebill 5order ticketless xcase"
)
_WORDS = _SPOKEN.split()
_speech = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.sampled_from(_WORDS).map(str.upper),
              st.sampled_from(_WORDS).map(str.title), st.sampled_from([" ", ", ", ". ", "-"])),
    max_size=16).map(" ".join)


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(_speech, st.text(max_size=40)))
def test_word_checks_find_what_a_full_read_finds(text: str) -> None:
    assert _claims(text, "US", word_checks=True) == _claims(text, "US", word_checks=False)


def test_claims_are_still_found() -> None:
    claims = spoken_claims("this is John, the one who called about invoice four four two one")
    assert claims.identifiers == (("invoice", "4421", "4421"),)
    assert claims.names == ("john",)
    assert spoken_claims("it's dana at example dot com").identifiers[0][:2] == (
        "email", "dana@example.com")
    assert spoken_claims("nothing to see here, just a question").identifiers == ()


def test_claim_words_inside_other_words_are_skipped() -> None:
    # "order" in "border", "ref" in "prefer", "cell" in "excellent": no claim, and the
    # word-boundary check is what lets such a turn skip the spoken-number rewrite.
    text = "I prefer the excellent border seats, four four two one of them"
    assert spoken_claims(text).identifiers == ()
    assert spoken_claims("my order number is four four two one").identifiers == (
        ("order", "4421", "4421"),)


def test_on_behalf_is_read_in_a_turn_of_speech_or_with_an_identifier() -> None:
    # Said a turn before the son's account number, it holds for the rest of the call
    # (tests/test_probe_on_behalf.py), so a turn of speech is read for it on its own.
    assert spoken_claims("I'm calling for my son today").on_behalf
    assert spoken_claims("I'm calling for my son, his account is 7 7 2 1 0 9").on_behalf
    # A text longer than speech is read for it only when it holds an identifier.
    assert not spoken_claims("I'm calling for my son. " + "la " * 1000).on_behalf


def test_on_behalf_words_find_what_the_pattern_finds() -> None:
    # The words in front of the on-behalf pattern skip it only where it cannot match:
    # each branch, in any case, still found; near misses still not.
    said = ["I'm calling for my son today", "MY DAUGHTER'S order", "On Behalf Of my boss",
            "I'm Calling For him", "it's for my friend", "their policy lapsed",
            "HER EMAIL changed", "his  number is new", "my\tmother asked", "Myself, no",
            "the economy is bad", "recalling it", "herself ordered", "a hiss, her son",
            "for\nmy aunt", "my neighbor's account", "calling  for", "their ticket",
            # one branch each, without "my": every word of the check is needed
            "on behalf of Dana", "Their Order", "her phone", "HIS INVOICE", "her account"]
    for text in said:
        assert spoken_claims(text).on_behalf == bool(_ON_BEHALF.search(text)), text
        assert _claims(text, "US", word_checks=True) == _claims(text, "US",
                                                                word_checks=False), text
    assert spoken_claims("MY DAUGHTER'S order").on_behalf
    assert not spoken_claims("the economy is bad").on_behalf
