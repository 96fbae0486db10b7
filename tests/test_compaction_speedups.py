"""The compactor's shortcuts give exactly what the plain computations give.

Token counts take a shortcut past the tokenizer for plain text, and the sentence
patterns run case-sensitively on lower-cased text and behind word checks (see
``compaction/_patterns.py`` and ``compaction/_tokens.py``). Each shortcut is compared
here with the computation it replaces, on generated text aimed at the words the
patterns look for.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from voxmem.compaction import _items
from voxmem.compaction._items import _NUMBER_WORDS, _ORDINAL_WORDS
from voxmem.compaction._patterns import CaseFree, trie
from voxmem.compaction._tokens import _tokenizer, clear_caches, count_tokens

# Words the patterns react to, in several casings, and the punctuation of transcripts.
_SPOKEN = (
    "um uh uhm uh-huh mm-hmm hmm er erm ah ahh so well okay ok yeah like oh hi hello "
    "you know sort of kind guess basically literally no wait mean actually sorry but "
    "rather make that scratch correction i'm i am it's this is my name named called "
    "moment second sec hold on let me check repeat thanks thank for patience there "
    "didn't hear said saying i'll will booked scheduled going to please prefer "
    "dollars percent street apt unit may monday mondays march the of at by pm a.m."
)
_VOCAB = [
    *_SPOKEN.split(),
    *_NUMBER_WORDS, *_ORDINAL_WORDS, "twenty-first", "4421", "5", "12:30", "$40",
    "Dana", "Reyes", "Kowalski", "K", "O", "W", "dana@example.com", "d", "at", "dot", "com",
    "supercalifragilistic", "voxmem", "okayyy", "unbelievable", "x" * 120,
]
_PUNCT = [" ", "  ", ", ", ". ", "? ", "! ", "-", " — ", "’", "…", "\n", "\t", "“", "”", "'"]
_words = st.lists(
    st.one_of(st.sampled_from(_VOCAB).map(str), st.sampled_from(_VOCAB).map(str.title),
              st.sampled_from(_VOCAB).map(str.upper), st.sampled_from(_PUNCT)),
    max_size=14).map("".join)
# Anything at all, including what the shortcuts must hand back to the slow path.
_anything = st.text(max_size=60)
_texts = st.one_of(_words, _words.map(lambda t: t + "é"), _anything)
_FAST = hsettings(max_examples=400, deadline=None)


@_FAST
@given(_texts)
def test_token_counts_match_the_tokenizer(text: str) -> None:
    clear_caches()
    expected = len(_tokenizer().encode(text, add_special_tokens=False).ids)
    assert count_tokens(text) == expected


def test_token_counts_of_long_and_unknown_words_match_the_tokenizer() -> None:
    for text in ["x" * 100, "x" * 101, "a " + "supercal" * 20 + " b", "unbelievable voxmem",
                 "##", "i’m — well… “ok”", "naïve café", "a\x01b", "\u00a0nbsp"]:
        clear_caches()
        assert count_tokens(text) == len(
            _tokenizer().encode(text, add_special_tokens=False).ids), text


_CASE_FREE = {name: value for name, value in vars(_items).items()
              if isinstance(value, CaseFree)}


def test_the_case_free_patterns_are_found() -> None:
    assert {"_DISFLUENCY", "_REPAIR", "_COMMITMENT", "_DATE", "_NUMBER"} <= set(_CASE_FREE)


@_FAST
@given(_texts)
def test_case_free_patterns_find_what_the_case_insensitive_pattern_finds(text: str) -> None:
    for name, pattern in _CASE_FREE.items():
        assert [m.span() for m in pattern.finditer(text)] == [
            m.span() for m in pattern.any.finditer(text)], name
        assert (pattern.search(text) is None) == (pattern.any.search(text) is None), name
    assert _items._DISFLUENCY.remove(text) == _items._DISFLUENCY.any.subn("", text)


@_FAST
@given(_texts)
def test_word_checks_skip_a_pattern_only_when_it_cannot_match(text: str) -> None:
    assert _items._peel(text) == _items._DISFLUENCY.any.subn("", text)
    assert _items._call_mechanics(text) == (
        _items._CALL_MECHANICS.any.search(text) is not None)
    assert _items._repair_hinted(text) == (_items._REPAIR_HINT.search(text) is not None)
    assert [m.span() for m in _items._name_cues(text, text.lower())] == [
        m.span() for m in _items._NAME_CUE.finditer(text)]
    if not _items._may_stutter(text):
        assert _items._STUTTER.search(text) is None


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.text("abcdefo", min_size=1, max_size=6), min_size=1, max_size=12),
       st.text("abcdefo ", max_size=30))
def test_a_trie_matches_like_a_longest_first_alternation(words: list[str], text: str) -> None:
    flat = re.compile(r"\b(?:" + "|".join(sorted(set(words), key=len, reverse=True)) + r")\b")
    tree = re.compile(r"\b" + trie(words) + r"\b")
    assert [m.span() for m in tree.finditer(text)] == [m.span() for m in flat.finditer(text)]


def test_the_token_counter_reads_the_default_embedders_tokenizer() -> None:
    from voxmem.compaction._tokens import TOKENIZER_FILE
    from voxmem.embeddings.static import DEFAULT_STATIC_MODEL_DIR

    assert TOKENIZER_FILE == DEFAULT_STATIC_MODEL_DIR / "tokenizer.json"
    assert TOKENIZER_FILE.is_file()


def test_compacting_does_not_load_numpy() -> None:
    import subprocess
    import sys

    code = ("import sys; from voxmem.compaction import compact_transcript; "
            "compact_transcript([{'role': 'user', 'text': 'my pin is 4421'}] * 9); "
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
