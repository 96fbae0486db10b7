"""Regular-expression helpers that keep the compactor's patterns fast.

The compactor runs a dozen patterns over every sentence it folds. Python's ``re`` has no
prefix tree for alternations and drops its literal and first-character shortcuts under
IGNORECASE; these two helpers win back most of that without changing what matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["CaseFree", "plain", "trie"]

_Node = dict[str, "_Node"]


def trie(words: list[str]) -> str:
    """A non-capturing alternation of ``words`` shaped as a prefix tree.

    Python's ``re`` tries a flat alternation word by word at every position; as a tree,
    a position that starts no word fails on its first character, which makes the number
    and date patterns (tried at every word of every folded sentence) several times
    cheaper. Longer words come before their prefixes ("fourteen" before "four"), the
    order a longest-first flat alternation has. Hand-written: the few lines are simpler
    than a dependency.
    """
    tree: _Node = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: _Node) -> str:
        ends = "" in node
        branches = [re.escape(ch) + render(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return "(?:" + render(tree) + ")"


# Transcript punctuation outside ASCII: caseless, never part of a word, left as it is by
# lower(). Text of ASCII and these behaves under case-insensitive matching exactly as
# its lower-cased form does under case-sensitive matching.
_NOT_PLAIN = re.compile("[^\x00-\x7f\u2013\u2014\u2018\u2019\u201c\u201d\u2026]")


def plain(text: str) -> bool:
    """Whether ``text`` is ASCII and transcript punctuation only (see ``CaseFree``)."""
    return text.isascii() or _NOT_PLAIN.search(text) is None


class CaseFree:
    """A case-insensitive pattern that runs case-sensitively on lower-cased ASCII text.

    Python's ``re`` gives up its literal-prefix and first-character shortcuts under
    IGNORECASE, which makes these patterns (tried on every folded sentence) two to four
    times slower. On plain text (ASCII and transcript punctuation), matching the
    lower-cased text with the lower-case pattern finds exactly the same spans; other
    text uses the case-insensitive pattern.
    Matches are only read for their spans: the words come from the original text.
    """

    __slots__ = ("any", "ascii")

    def __init__(self, pattern: str, flags: int) -> None:
        # Upper-case letters outside escapes would match nothing in lower-cased text.
        assert re.search(r"(?<!\\)[A-Z]", pattern) is None, pattern
        self.any = re.compile(pattern, flags | re.IGNORECASE)
        self.ascii = re.compile(pattern, flags & ~re.IGNORECASE)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        if plain(text):
            return self.ascii.finditer(text.lower())
        return self.any.finditer(text)

    def search(self, text: str) -> re.Match[str] | None:
        if plain(text):
            return self.ascii.search(text.lower())
        return self.any.search(text)

    def remove(self, text: str) -> tuple[str, int]:
        """``subn("", text)``: the text with every match cut out, and how many were."""
        kept, at, removed = [], 0, 0
        for match in self.finditer(text):
            kept.append(text[at:match.start()])
            at = match.end()
            removed += 1
        if not removed:
            return text, 0
        kept.append(text[at:])
        return "".join(kept), removed
