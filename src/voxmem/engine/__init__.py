"""The memory engine: recall lanes, fusion, composition, the write path, org indexes."""

from ._engine import MemoryEngine, new_id

__all__ = ["MemoryEngine", "new_id"]
