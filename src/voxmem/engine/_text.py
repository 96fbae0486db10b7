"""Text analysis for keyword search: words, stopwords, Snowball stemming."""

from __future__ import annotations

import re
import threading

import Stemmer

__all__ = ["STOPWORDS", "analyze", "normalize_line"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)

# English function words plus conversational filler that carries no memory signal.
_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves i'm you're it's that's don't can't won't i've i'd i'll we're
    they're he's she's let's
    uh um umm uhh hmm mhm ok okay yeah yep yes oh ah well like just really
    """
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Snowball stemmers are not thread-safe; recall lanes run on several threads.
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def analyze(text: str) -> list[str]:
    """Lower-cased, stopword-free, stemmed terms of ``text`` (order kept, repeats kept)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    return list(_stemmer().stemWords(words))


def normalize_line(text: str) -> str:
    """A comparison key for near-identical lines: words only, lower case."""
    return " ".join(_WORD.findall(text.lower()))
