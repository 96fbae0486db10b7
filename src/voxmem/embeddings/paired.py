"""One model for stored memories, another for the query, in one shared vector space.

A static table trained to reproduce MiniLM's sentence embeddings
(``scripts/distill_static.py``) lives in MiniLM's own 384-dimensional space, so a
memory embedded by one and a query embedded by the other can be compared by cosine.
That lets the two costs be chosen apart: stored memories by the cheap table (ingest
stays at thousands of turns a second) and the query by the full model (~2 ms, started
first and overlapped with the keyword lanes), or the other way round. Pairing two
models from different spaces would compare meaningless numbers, so it is refused.

Not a setting: measured on the dev data no pairing beat one model for both sides, the
full model for memories with a static query table included (docs/embeddings.md), so it
is offered to library users and for experiments (``--query-model`` of
``benchmarks/retrieval_quality.py`` and ``scripts/fit_fusion.py``), as
``MemoryEngine(settings, embedder=PairedEmbedder(StaticEmbedder(), OnnxEmbedder()))``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._exceptions import BadRequest
from ._base import Embedder, Vectors

__all__ = ["PairedEmbedder", "query_side", "vector_space"]


def vector_space(embedder: Embedder) -> str:
    """The space an embedder's vectors live in: its ``vector_space`` attribute when it
    declares one (a model trained into another model's space), else its own name."""
    return str(getattr(embedder, "vector_space", "") or embedder.name)


def query_side(embedder: Embedder) -> Embedder:
    """The model that embeds queries: the pair's query model, or ``embedder`` itself."""
    if isinstance(embedder, PairedEmbedder):
        return embedder.queries
    return embedder


class PairedEmbedder:
    """Stored texts by ``documents``, queries by ``queries``; both must share a space.

    ``embed`` is the documents' model (everything stored: turns, facts, org chunks);
    the engine embeds queries with :func:`query_side`. ``cheap`` is the query model's,
    since only the query is embedded inside the turn. The name joins both models' names,
    so the stored vectors and the fusion weights are those of this pairing.

    Example::

        pair = PairedEmbedder(StaticEmbedder(tuned_dir), OnnxEmbedder())
        rows = pair.embed(["I moved to Lisbon"])          # static table
        query = pair.queries.embed(["where do I live?"])  # full MiniLM
    """

    def __init__(self, documents: Embedder, queries: Embedder) -> None:
        doc_space, query_space = vector_space(documents), vector_space(queries)
        if doc_space != query_space or documents.dimensions != queries.dimensions:
            raise BadRequest(
                f"cannot pair embedders from different vector spaces: memories by "
                f"{documents.name} ({doc_space}, {documents.dimensions} dims), queries by "
                f"{queries.name} ({query_space}, {queries.dimensions} dims). Pair a model "
                "with one trained into its space, or use one model for both.",
                field="embedder",
            )
        self.documents = documents
        self.queries = queries
        self.dimensions = documents.dimensions
        self.cheap = queries.cheap
        self.vector_space = doc_space
        self.name = f"{documents.name}+q:{queries.name}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed stored texts with the documents' model."""
        return self.documents.embed(texts)
