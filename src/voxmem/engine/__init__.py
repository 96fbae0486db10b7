"""The memory engine: recall lanes, fusion, composition, the write path, org indexes.

``MemoryEngine`` is imported on first access: the client imports the engine's input
checks (``engine._validate``), and that must not load numpy, the indexes and the
extractors into every voice worker that only talks to a runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import MemoryEngine, new_id

__all__ = ["MemoryEngine", "new_id"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import _engine

        return getattr(_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
