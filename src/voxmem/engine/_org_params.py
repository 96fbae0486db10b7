"""How the org vector graph is built and searched, by size (``_org_vectors.py``).

Graph parameters by size: a graph's connectivity (HNSW's M) is fixed when it is built,
and a graph that grows past :data:`LARGE_GRAPH_FROM` vectors is rebuilt once with the
better-connected :data:`LARGE_GRAPH` (:meth:`OrgVectors.rebuild`, from the exact
vectors, off the event loop, while searches go on against the old graph). Small graphs
stay at :data:`SMALL_GRAPH`: cheaper to build per vector, and they reach the recall
target without it. A saved graph records its parameters (``_org_file.py``), so a graph
built with older ones is loaded and searched as it is, and rebuilt by the upkeep when
its size calls for better ones.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from ._org_codes import ANN_DTYPE

if TYPE_CHECKING:
    from usearch.index import Index

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

__all__ = ["ANN_CONNECTIVITY", "ANN_EXPANSION_ADD", "ANN_EXPANSION_SEARCH", "LARGE_GRAPH",
           "LARGE_GRAPH_FROM", "SMALL_GRAPH", "Exported", "GraphParams", "Proposal",
           "graph_params", "new_index", "search_ef"]

#: HNSW parameters, chosen on real text embeddings (benchmarks/org_vectors.py and
#: benchmarks/org_scale.py; figures in docs/performance.md). efConstruction 256: at
#: 100,000 chunks of near-duplicate-rich text, strict recall@10 (rescored, ef 512) was
#: 0.966 with a graph built at 128 and 0.984 at 256, for a 1.6x slower build; a higher
#: ef at search time bought less (0.981 at ef 1024) for twice the search time.
ANN_CONNECTIVITY = 16
ANN_EXPANSION_ADD = 256
ANN_EXPANSION_SEARCH = 512


@dataclasses.dataclass(frozen=True, slots=True)
class GraphParams:
    """How a graph is built: HNSW's M (``connectivity``) and efConstruction."""

    connectivity: int
    expansion_add: int

    def covers(self, other: GraphParams) -> bool:
        """Whether a graph built with these is at least as well built as ``other``."""
        return (self.connectivity >= other.connectivity
                and self.expansion_add >= other.expansion_add)


#: Graph parameters below LARGE_GRAPH_FROM vectors, and from there on (docs/performance.md
#: "A better-connected graph past 300,000 chunks"): the M 16 graph tops out near strict
#: recall@10 0.98 at a million chunks however wide the search; on the same 400,000
#: vectors the M 24 graph reached 0.985 at ef 640 and 0.989 at 768, where M 16 needed
#: 1,024 and 1,536 (1.5x the search CPU) and was flattening. M 24 costs 1.1-1.3x the
#: CPU per vector added and ~1.1x the bytes, so small graphs, which reach the target
#: without it (M 16: 0.991 at 100,000, ef 512), keep M 16.
SMALL_GRAPH = GraphParams(ANN_CONNECTIVITY, ANN_EXPANSION_ADD)
LARGE_GRAPH = GraphParams(24, ANN_EXPANSION_ADD)
LARGE_GRAPH_FROM = 300_000
#: Above this many vectors the search's ef grows with the size to the power EF_POWER
#: (up to EF_MAX): recall at a fixed ef falls as the graph grows. Measured on the same
#: near-duplicate-rich text (strict recall@10 after rescoring, 300 questions): ef 512
#: gave 0.991 at 100,000 chunks, 0.970 at 398,000, 0.965 at 547,000 and 0.946 at a
#: million; 0.98 needed ef ~384, ~768, ~1,100 and ~2,600 there. ef costs search time
#: about linearly, so at a million this takes 1,931 (0.978, ~7 ms of CPU a search
#: here) rather than ~3,000 (0.981, ~11 ms): docs/performance.md.
EF_GROWTH_FROM = 150_000
EF_POWER = 0.7
EF_MAX = 2_560
#: The same for a LARGE_GRAPH (M 24), its own fit: a better-connected graph needs a
#: narrower search for the same recall. Measured on 400,000 chunks of the same text
#: (strict recall@10 after rescoring, 300 questions): ef 512 0.980, 640 0.985, 768
#: 0.989, 1,024 0.993 (against 0.972 / 0.977 / 0.981 / 0.986 for an M 16 graph of the
#: same vectors).
#: From 250,000 it grows as size ** 0.5: 647 at 400,000 (0.985 at 640) and 1,024 at a
#: million, where it measured 0.985 (against 0.986 at 1,260, 0.987 at 1,536, and the M 16
#: graph's 0.978 at 1,931). The walk's CPU grows about linearly with ef, and the org
#: lane's p95 at a million is the walk's: a size ** 0.65 growth (1,260 there) bought
#: 0.001 of recall for ~20 % more walk (docs/performance.md, "Less work per org search
#: at a million").
LARGE_EF_FROM = 250_000
LARGE_EF_POWER = 0.5
LARGE_EF_MAX = 2_048


def graph_params(size: int) -> GraphParams:
    """The parameters a graph of ``size`` vectors is built with (module doc)."""
    return LARGE_GRAPH if size >= LARGE_GRAPH_FROM else SMALL_GRAPH


def search_ef(size: int, connectivity: int = ANN_CONNECTIVITY) -> int:
    """The graph's search breadth for ``size`` vectors: ANN_EXPANSION_SEARCH up to
    EF_GROWTH_FROM, then growing as ``size ** EF_POWER`` (an M 16 graph of 400,000:
    1,017; of a million: 1,931); a LARGE_GRAPH on its own curve (400,000: 647; a
    million: 1,024)."""
    if connectivity >= LARGE_GRAPH.connectivity:
        start, power, most = LARGE_EF_FROM, LARGE_EF_POWER, LARGE_EF_MAX
    else:
        start, power, most = EF_GROWTH_FROM, EF_POWER, EF_MAX
    if size <= start:
        return ANN_EXPANSION_SEARCH
    grown = ANN_EXPANSION_SEARCH * (size / start) ** power
    return min(most, int(grown))


def new_index(dimensions: int, params: GraphParams) -> Index:
    """A new, empty usearch graph built with ``params``."""
    # Imported on first use: usearch takes ~0.3-1 s to import, and a process that never
    # searches org knowledge (a client, a caller-only engine) should not pay it.
    from usearch.index import Index

    return Index(ndim=dimensions, metric="ip", dtype=ANN_DTYPE,
                 connectivity=params.connectivity, expansion_add=params.expansion_add,
                 expansion_search=ANN_EXPANSION_SEARCH)


class Exported(NamedTuple):
    """What :meth:`OrgVectors.export` saved, for the file that wraps the graph."""

    center: FloatArray
    keys: IntArray
    positions: IntArray
    scale: float
    params: GraphParams


class Proposal(NamedTuple):
    """A graph walk's candidate keys, best first, and the graph's generation it saw."""

    generation: int
    keys: IntArray
