"""Embedding models: a bundled static model (default), a bundled ONNX MiniLM, any
OpenAI-compatible endpoint, and a hashing embedder for tests."""

from __future__ import annotations

from .._config import Settings
from ._base import Embedder, Vectors, normalize_rows

__all__ = ["Embedder", "Vectors", "load_embedder", "normalize_rows"]


def load_embedder(settings: Settings) -> Embedder:
    """Build the embedder ``settings.embedder`` names. Loads nothing from the network."""
    if settings.embedder == "static":
        from .static import StaticEmbedder

        return StaticEmbedder()
    if settings.embedder == "onnx":
        from .onnx import OnnxEmbedder

        return OnnxEmbedder()
    if settings.embedder == "openai":
        from .openai import OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=settings.embeddings_base_url,
            model=settings.embeddings_model,
            api_key=settings.embeddings_api_key or None,
            dimensions=settings.embeddings_dimensions or None,
        )
    from .hashing import HashingEmbedder

    return HashingEmbedder()
