"""Framework integrations: voxmem wired into voice-agent frameworks.

Each integration lives in its own module and imports its framework only when that module
is imported, so ``import voxmem`` never needs LiveKit or Pipecat installed::

    from voxmem.integrations.livekit import MemoryAgent   # needs voxmem[livekit]

Helpers that do not depend on a framework (the ``{{memory}}`` placeholder) are importable
from here.
"""

from ._instructions import MEMORY_PLACEHOLDER, render_memory_instructions

__all__ = ["MEMORY_PLACEHOLDER", "render_memory_instructions"]
