"""The public surface: the exported names are pinned, and importing voxmem stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import voxmem

SRC = Path(voxmem.__file__).resolve().parent.parent

EXPECTED = [
    "BadRequest", "Caller", "CallerSession", "CallerSessionSync", "CompactedTranscript",
    "IdentityMismatch",
    "IndexBuildResult", "InternalError", "MemoryTimeout", "MemoryTool", "NotFound",
    "PoolError", "Preload", "RuntimeStartFailed", "Scope", "SearchResult", "Settings",
    "StoreUnavailable", "Unauthorized", "VoiceClient", "VoiceClientSync", "VoxmemError",
    "__version__", "compact_transcript", "settings_table",
]
#: What a worker that only talks to a runtime must not load (numpy, the engine, the
#: extractors, the web framework).
HEAVY = ["numpy", "voxmem.engine._engine", "voxmem._operations", "voxmem.extraction",
         "voxmem.compaction", "starlette", "tokenizers", "Stemmer", "httpx", "phonenumbers"]


def test_all_is_pinned_and_sorted() -> None:
    assert voxmem.__all__ == EXPECTED  # adding a public name is a decision: update here
    assert voxmem.__all__ == sorted(voxmem.__all__)
    for name in voxmem.__all__:
        assert hasattr(voxmem, name), name


def loaded_after(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} " \
            "if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_a_runtime_client_loads_no_engine() -> None:
    assert loaded_after(
        "import voxmem\n"
        "client = voxmem.VoiceClient(project_id='p', agent_id='a')\n"
        "voxmem.VoiceClientSync(project_id='p', agent_id='a').close()") == []


def test_embedded_mode_loads_the_engine_when_asked() -> None:
    loaded = loaded_after(
        "import tempfile, voxmem\n"
        "voxmem.VoiceClient(project_id='p', agent_id='a', embedded=True,\n"
        "                   data_dir=tempfile.mkdtemp())")
    assert "voxmem.engine._engine" in loaded and "voxmem._operations" in loaded
