"""Embedding models: a bundled static model (default), a bundled ONNX MiniLM, any
OpenAI-compatible endpoint, and a hashing embedder for tests; optionally one model for
stored memories and another for queries (:class:`PairedEmbedder`, given to the engine as
``MemoryEngine(settings, embedder=PairedEmbedder(...))``); or both bundled models side
by side (``embedder="static+onnx"``: :func:`load_embedder` gives the table,
:func:`load_second_embedder` MiniLM, whose vectors caller memories keep as well)."""

from __future__ import annotations

from .._config import Settings
from ._base import Embedder, Vectors, normalize_rows
from .paired import PairedEmbedder, query_side, vector_space

__all__ = ["SIDE_BY_SIDE", "Embedder", "PairedEmbedder", "Vectors", "load_embedder",
           "load_second_embedder", "normalize_rows", "query_side", "vector_space"]

#: The ``embedder`` setting that keeps both bundled models' vectors side by side.
SIDE_BY_SIDE = "static+onnx"


def load_embedder(settings: Settings) -> Embedder:
    """Build the embedder ``settings.embedder`` names. Loads nothing from the network."""
    name = settings.embedder
    if name in ("static", SIDE_BY_SIDE):
        from .static import StaticEmbedder

        return StaticEmbedder()
    if name == "onnx":
        from .onnx import OnnxEmbedder

        return OnnxEmbedder()
    if name == "openai":
        from .openai import OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=settings.embeddings_base_url,
            model=settings.embeddings_model,
            api_key=settings.embeddings_api_key or None,
            dimensions=settings.embeddings_dimensions or None,
        )
    from .hashing import HashingEmbedder

    return HashingEmbedder()


def load_second_embedder(settings: Settings, given: Embedder | None = None) -> Embedder | None:
    """The model whose vectors caller memories keep beside the first's: for
    ``embedder="static+onnx"``, ``given`` or else MiniLM; None for every other setting."""
    if settings.embedder != SIDE_BY_SIDE:
        return None
    if given is not None:
        return given
    from .onnx import OnnxEmbedder

    return OnnxEmbedder()
