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


#: word -> its term, or "" for a stopword. Stemming is deterministic, so one table serves
#: every thread. Warm-loading 100k org chunks analyses ~7M words: a Snowball call costs
#: ~1.4 us a word, a lookup here a few tens of ns (``map`` over the dict stays in C).
#: Cleared when it grows past ``_TERM_CACHE_MAX`` words (a few tens of MB at most).
_TERM_CACHE_MAX = 200_000
_term_cache: dict[str, str] = dict.fromkeys(STOPWORDS, "")


def analyze(text: str) -> list[str]:
    """Lower-cased, stopword-free, stemmed terms of ``text`` (order kept, repeats kept)."""
    found = _WORD.findall(text.lower())
    cache = _term_cache
    # New words (numbers and names keep arriving) are stemmed once and remembered.
    missing = list(set(found).difference(cache))
    if missing:
        stems = _stemmer().stemWords([w[:-2] if w.endswith("'s") else w for w in missing])
        if len(cache) > _TERM_CACHE_MAX:
            cache.clear()
            cache.update(dict.fromkeys(STOPWORDS, ""))
        cache.update(zip(missing, stems, strict=True))
    try:
        return list(filter(None, map(cache.__getitem__, found)))
    except KeyError:  # another thread cleared the table just now
        words = [w for w in found if w not in STOPWORDS]
        return list(_stemmer().stemWords([w[:-2] if w.endswith("'s") else w for w in words]))


def normalize_line(text: str) -> str:
    """A comparison key for near-identical lines: words only, lower case."""
    return " ".join(_WORD.findall(text.lower()))
