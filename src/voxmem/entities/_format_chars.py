"""Unicode format characters (category Cf) in identifiers: which are dropped, which refuse.

An identifier is filed under its normal form while people (an operator on the
dashboard, the caller reading back a number) see its raw form. The two must agree.

* **Refused**: the controls that can show an identifier's characters in another order
  than the one they are read in: the right-to-left mark and the Arabic letter mark, the
  right-to-left embedding and override, the right-to-left and first-strong isolates.
  ``U+202E`` then ``0010-555-015`` displays as ``510-555-0100`` and read in order is
  ``+10010555015``: which of the two was meant cannot be told, so it is neither.
* **Dropped** before normalising: every other format character. They are invisible and
  do not reorder what a left-to-right identifier shows: zero-width space and joiners,
  word joiner, byte order mark, soft hyphen, the left-to-right mark, embedding, override
  and isolate and the pops that close them (phone apps wrap a copied number in those),
  tag characters. Without them the identifier is what it shows.
"""

from __future__ import annotations

import unicodedata

__all__ = ["REORDERING_CONTROLS", "reorders", "without_format_chars"]

#: U+061C ALM, U+200F RLM, U+202B RLE, U+202E RLO, U+2067 RLI, U+2068 FSI.
REORDERING_CONTROLS = frozenset("\u061c\u200f\u202b\u202e\u2067\u2068")


def reorders(text: str) -> bool:
    """Whether ``text`` holds a control that can display it in another order."""
    return not text.isascii() and not REORDERING_CONTROLS.isdisjoint(text)


def without_format_chars(text: str, *, refuse_reordering: bool = True) -> str | None:
    """``text`` without its format characters, or ``None`` when one of them can
    display it in another order than it reads (see the module's docstring).

    ``refuse_reordering=False`` drops those too: for a name, a weak identifier that
    never links on its own, where a right-to-left mark is what a keyboard of an
    Arabic or Hebrew script adds after a word.
    """
    if text.isascii():  # nearly every identifier: no format character can be in it
        return text
    if refuse_reordering and reorders(text):
        return None
    return "".join(c for c in text if unicodedata.category(c) != "Cf")
