"""``mode="accurate"``: walk the caller's entity graph from what the query mentions.

"is ticket 8842 fixed?" → ticket 8842 → (about) modem → the earlier calls about the
modem. The memory items that mention the entities reached are added to the permanent
lane and the lane is reranked by relevance, graph distance, recency and confidence.
Everything here is in memory and small (one caller's graph), well under a millisecond.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
from typing import Any

from ..store._entities import EntityRow, Graph, MentionRow
from ._graph import entity_terms
from ._speech import names_match

__all__ = ["MAX_HOPS", "Expansion", "GraphView", "rerank"]

MAX_HOPS = 2
#: Weight of an item by its distance from what the query named: the entity itself, one
#: relation away (the device a ticket is about), two away. Tuned on the support-call
#: multi-hop questions of benchmarks/identity.py.
HOP_WEIGHT = (1.0, 0.8, 0.5)
#: Items mentioning many entities would otherwise flood the lane.
MAX_GRAPH_ITEMS = 4
#: Share of the final score from the graph (the rest is the lane's own ranking).
GRAPH_WEIGHT = 0.4
#: Lane relevance assumed for an item only the graph found (the lane's scores are
#: normalised to its best hit = 1).
GRAPH_ONLY_RELEVANCE = 0.5
RECENCY_HALF_LIFE_DAYS = 30.0
_WORD = re.compile(r"[a-z]+")


@dataclasses.dataclass(frozen=True, slots=True)
class Expansion:
    """What the walk found: seeds, the paths followed, and scored item ids."""

    seeds: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]
    items: dict[str, float]

    def trace(self) -> dict[str, Any]:
        return {"seeds": list(self.seeds), "paths": [" -> ".join(p) for p in self.paths],
                "items": len(self.items)}


class GraphView:
    """One caller's graph, indexed for walking."""

    def __init__(self, graph: Graph) -> None:
        self.entities: dict[str, EntityRow] = {e.id: e for e in graph.entities}
        self.adjacent: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
        for edge in graph.edges:
            self.adjacent[edge.source_id].append((edge.relation, edge.target_id))
            self.adjacent[edge.target_id].append((f"~{edge.relation}", edge.source_id))
        self.mentions: dict[str, list[MentionRow]] = collections.defaultdict(list)
        for m in graph.mentions:
            self.mentions[m.entity_id].append(m)
        self._named = [(e.id, e.label) for e in graph.entities if e.kind in {"person", "pet"}]
        self._devices = {e.id.split(":", 1)[1]: e.id for e in graph.entities
                         if e.kind == "device"}

    def __bool__(self) -> bool:
        return bool(self.entities)

    def seeds(self, query: str) -> list[str]:
        found = [e for e in entity_terms(query) if e in self.entities]
        words = set(_WORD.findall(query.lower()))
        for word in words:
            if word in self._devices:
                found.append(self._devices[word])
        for eid, label in self._named:
            if any(names_match(label, w) for w in words if len(w) > 2):
                found.append(eid)
        return list(dict.fromkeys(found))

    def expand(self, query: str, now: float) -> Expansion:
        seeds = self.seeds(query)
        if not seeds:
            return Expansion((), (), {})
        # Breadth-first, each entity reached once at its smallest distance.
        reached: dict[str, tuple[int, tuple[str, ...]]] = {s: (0, (s,)) for s in seeds}
        frontier = list(seeds)
        for hop in range(1, MAX_HOPS + 1):
            nxt = []
            for eid in frontier:
                for _relation, other in self.adjacent.get(eid, ()):
                    if other not in reached:
                        reached[other] = (hop, (*reached[eid][1], other))
                        nxt.append(other)
            frontier = nxt
        items: dict[str, float] = {}
        for eid, (hops, _path) in reached.items():
            entity = self.entities.get(eid)
            confidence = entity.confidence if entity else 0.5
            for m in self.mentions.get(eid, ()):
                age_days = max(0.0, now - m.at) / 86_400.0
                recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
                score = confidence * HOP_WEIGHT[hops] * (0.75 + 0.25 * recency)
                if score > items.get(m.item_id, 0.0):
                    items[m.item_id] = score
        paths = tuple(p for _h, p in sorted(reached.values()) if len(p) > 1)
        return Expansion(tuple(seeds), paths, items)


def rerank(hits: list[dict[str, Any]], extra: list[dict[str, Any]],
           expansion: Expansion, k: int) -> list[dict[str, Any]]:
    """The lane's hits plus ``extra`` graph hits, reranked by lane relevance, graph
    distance, recency and confidence; at most ``k`` returned."""
    top = max((float(h.get("score") or 0.0) for h in hits), default=1.0) or 1.0
    seen = {h["id"] for h in hits}
    ranked: list[tuple[float, dict[str, Any]]] = []
    for h in [*hits, *(x for x in extra if x["id"] not in seen)]:
        base = float(h.get("score") or 0.0) / top if h["id"] in seen else \
            GRAPH_ONLY_RELEVANCE
        graph = expansion.items.get(h["id"], 0.0)
        confidence = float(h.get("confidence") or 1.0)
        ranked.append(((1 - GRAPH_WEIGHT) * base + GRAPH_WEIGHT * graph * confidence, h))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    out = []
    for score, h in ranked[:k]:
        out.append({**h, "score": round(score, 6),
                    **({"graph": True} if h["id"] in expansion.items else {})})
    return out
