"""Variables under ``VOXMEM_`` that are not settings: said so, never silently ignored.

A misspelt or guessed name (``VOXMEM_STORE_ULR``, ``VOXMEM_TOKEN``, ``VOXMEM_PORT``)
would otherwise leave the default in force without a word: the store in the default
data directory, a runtime the client cannot authenticate to.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Collection, Mapping

__all__ = ["warn_unknown_variables"]

#: Variables under the prefix that this project reads elsewhere (not settings): the
#: examples' knobs, the test suite's and the benchmarks'.
OTHER_VARIABLES = frozenset({
    "VOXMEM_EMBEDDED", "VOXMEM_PYTHON", "VOXMEM_SHARED_DIR", "VOXMEM_ALLOW_PG_SKIP",
    "VOXMEM_PG_SKIP_REASON", "VOXMEM_STT", "VOXMEM_LLM", "VOXMEM_TTS",
    "VOXMEM_CONSOLE_CALLER", "VOXMEM_PROJECT_ID", "VOXMEM_AGENT_ID"})
_OTHER_PREFIXES = ("VOXMEM_TEST_", "VOXMEM_BENCH_")
# Words too common in setting names to point at one of them.
_VAGUE = frozenset({"max", "min", "ms", "s", "size", "the"})
_MAX_SUGGESTIONS = 3
_log = logging.getLogger("voxmem.config")
_warned: set[str] = set()


def _words(name: str) -> set[str]:
    return set(re.split(r"[_\W]+", name.lower())) - _VAGUE - {""}


def _suggestions(name: str, fields: Collection[str]) -> list[str]:
    """Settings ``name`` (lower case, prefix removed) may have meant, best first."""
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.75)
    if close:
        return close
    compact = name.replace("_", "")
    words = _words(name)

    def contains(field: str) -> bool:
        return bool(compact) and compact in field.replace("_", "")

    # Best first: the guess spelt inside the name, then the setting whose name the guess
    # covers most of ("url" is STORE_URL or RUNTIME_URL before LLM_BASE_URL).
    ranked = sorted((f for f in fields if contains(f) or words & _words(f)), key=lambda f: (
        not contains(f), -len(words & _words(f)) / max(len(_words(f)), 1), len(f), f))
    return ranked[:_MAX_SUGGESTIONS]


def warn_unknown_variables(env: Mapping[str, str], prefix: str,
                           fields: Collection[str]) -> None:
    """Warn (once per name) about each ``prefix`` variable that names no setting, with
    the settings it may have meant."""
    for key in env:
        if (not key.startswith(prefix) or key in _warned or key in OTHER_VARIABLES
                or key.startswith(_OTHER_PREFIXES) or key[len(prefix):].lower() in fields):
            continue
        _warned.add(key)
        meant = [prefix + name.upper() for name in _suggestions(key[len(prefix):].lower(),
                                                                 fields)]
        if len(meant) == 1:
            hint = f"did you mean {meant[0]}?"
        elif meant:
            hint = f"did you mean one of {', '.join(meant)}?"
        else:
            hint = "`voxmem settings` lists the settings."
        _log.warning("%s is not a setting and is ignored; %s", key, hint)
