"""Finding a caller by whatever an operator has at hand: id, name, email, an account or
ticket number, or a phone number written in any format.

One function, so the dashboard, the REST API and the CLI search the same way. The
caller directory's identifier table answers first: the query is read as every kind of
identifier (a phone in any format through the package's one phone normaliser, an e-mail
or a reference number as written, spelled or spoken) and looked up in its normal form,
and as a name matched by spelling and by sound (Jon finds John, Kathryn finds
Catherine). What the table does not know is still found by the older text match on
profile, metadata and current memories ("Has ticket 8842"). A caller merged into another
is shown as the caller they are now.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any

from ..entities import names_match, normalize_identifier
from ..entities._directory import CallerDirectory
from ..models import Scope
from ..store import Store
from ..store import _entities as ops

__all__ = ["IDENTIFIER_KINDS_SEARCHED", "find_callers", "search_terms"]

#: Fewer digits than this are too common to search on their own (a "2" in a name).
MIN_DIGITS = 3
#: National significant number length: a query's last digits are compared, so a number
#: written with or without its country code or trunk prefix finds the same caller.
NATIONAL_DIGITS = 10
#: Identifier kinds a query is read as, strongest first (the order of the results).
IDENTIFIER_KINDS_SEARCHED = ("phone", "email", "account", "policy", "external_id",
                             "livekit_identity", "invoice", "order", "ticket")
#: Names compared by sound per search; a project with more has its newest names searched.
MAX_NAMES_SCANNED = 50_000
_NON_DIGIT = re.compile(r"\D+")
_NAME_WORDS = re.compile(r"[^\W\d_]+")


def search_terms(query: str) -> tuple[str, str]:
    """``(text, digits)``: the lower-cased query and its digits as stored numbers match."""
    text = query.strip().lower()
    digits = _NON_DIGIT.sub("", text)
    if len(digits) < MIN_DIGITS:
        digits = ""
    elif len(digits) > NATIONAL_DIGITS:
        digits = digits[-NATIONAL_DIGITS:]
    return text, digits


NameRows = list[tuple[str, ops.IdentifierRow]]


def _names_matching(query_words: list[str], rows: NameRows) -> NameRows:
    """The rows whose stored name has, for every word of the query, a word that matches
    it by spelling or sound.

    Each distinct (query word, stored word) pair is compared once: a project's names
    share their words (first names, family names), and comparing 10,000 names one by one
    took half a second of CPU per search.
    """
    same = functools.lru_cache(maxsize=None)(names_match)
    found: NameRows = []
    for space, row in rows:
        words = _NAME_WORDS.findall(row.value.lower())
        if words and all(any(same(q, w) for w in words) for q in query_words):
            found.append((space, row))
    return found


async def _identifier_hits(store: Store, directory: CallerDirectory, region: str | None,
                           tenant_id: str, project_id: str,
                           query: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(space, canonical caller) -> the identifiers of theirs the query matched."""
    hits: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add(space: str, row: ops.IdentifierRow) -> None:
        user = directory.canonical(tenant_id, project_id, space, row.user_id)
        found = hits.setdefault((space, user), [])
        if all((m["kind"], m["value"]) != (row.kind, row.value) for m in found):
            found.append({"kind": row.kind, "value": row.value, "source": row.source,
                          "strength": row.strength})

    for kind in IDENTIFIER_KINDS_SEARCHED:
        value = normalize_identifier(kind, query, region)
        if value is None:
            continue
        for space, row in await store.run_entities(
                tenant_id, ops.find_in_project(tenant_id, project_id, kind, value),
                write=False):
            add(space, row)
    words = _NAME_WORDS.findall(query.lower())
    if words and not any(c.isdigit() or c == "@" for c in query):
        # Names are matched by sound as well as spelling, which no index answers: the
        # project's name identifiers are compared here (an operator search, off the
        # call path).
        rows = await store.run_entities(
            tenant_id, ops.find_in_project(tenant_id, project_id, "name", None,
                                           MAX_NAMES_SCANNED), write=False)
        # Pure-Python string work over up to 50,000 names: in a worker thread, so the
        # event loop keeps answering the calls in progress between its slices.
        for space, row in await asyncio.to_thread(_names_matching, words, rows):
            add(space, row)
    return hits


async def _summary(store: Store, tenant_id: str, project_id: str, space: str,
                   user_id: str) -> dict[str, Any] | None:
    """A caller as the text search lists them (last call, calls, memories)."""
    scope = Scope(tenant_id=tenant_id, project_id=project_id, agent_id="-",
                  user_id=user_id, space=space)
    caller = await store.get_caller(scope)
    if caller is None:
        return None
    calls = await store.list_sessions(tenant_id, project_id, space=space,
                                      user_id=user_id, limit=1_000_000)
    facts = await store.list_facts(scope)
    return {"userId": user_id, "name": caller.name, "profile": caller.profile,
            "metadata": caller.metadata, "space": space,
            "lastCallAt": max((c.started_at for c in calls), default=None),
            "callCount": len(calls), "memoryCount": len(facts)}


async def find_callers(store: Store, directory: CallerDirectory, region: str | None,
                       tenant_id: str, project_id: str, query: str,
                       limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Callers matching ``query``: identifier matches first (strongest kind first, each
    with ``matched``, the identifiers that matched), then text matches, most recently
    active first; an empty query lists the most recently active callers, ``offset``
    paging through them (a search answers its first ``limit`` only)."""
    text, digits = search_terms(query)
    if not text:
        return [c.to_wire() for c in
                await store.search_callers(tenant_id, project_id, "", "", limit, offset)]
    hits = await _identifier_hits(store, directory, region, tenant_id, project_id,
                                  query.strip())
    for space, user in directory.merged_away(tenant_id, project_id, query.strip()).items():
        hits.setdefault((space, user), []).append(
            {"kind": "merged_id", "value": query.strip(), "source": "merge", "strength": 1.0})
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for (space, user), matched in hits.items():
        found = await _summary(store, tenant_id, project_id, space, user)
        if found is not None and len(out) < limit:
            out.append({**found, "matched": matched})
            seen.add((space, user))
    for row in await store.search_callers(tenant_id, project_id, text, digits, limit):
        if (row.space, row.user_id) not in seen and len(out) < limit:
            out.append({**row.to_wire(), "matched": []})
    return out
