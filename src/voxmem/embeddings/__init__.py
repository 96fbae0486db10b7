"""Embedding models: a bundled static model (default), a bundled ONNX MiniLM, any
OpenAI-compatible endpoint, and a hashing embedder for tests; optionally one model for
stored memories and another for queries (:class:`PairedEmbedder`, given to the engine as
``MemoryEngine(settings, embedder=PairedEmbedder(...))``)."""

from __future__ import annotations

from .._config import Settings
from ._base import Embedder, Vectors, normalize_rows
from .paired import PairedEmbedder, query_side, vector_space

__all__ = ["Embedder", "PairedEmbedder", "Vectors", "load_embedder", "normalize_rows",
           "query_side", "vector_space"]


def load_embedder(settings: Settings) -> Embedder:
    """Build the embedder ``settings.embedder`` names. Loads nothing from the network."""
    name = settings.embedder
    if name == "static":
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
