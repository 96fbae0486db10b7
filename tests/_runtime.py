"""A data directory for tests that start real runtime processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmem.cli import stop_runtime


def runtime_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     ports: tuple[int, int]) -> Iterator[Path]:
    """A fresh data dir in the environment (inherited by subprocesses), runtimes on
    ``ports`` and the hashing embedder; its runtime is stopped afterwards."""
    path = tmp_path / "vm"
    monkeypatch.setenv("VOXMEM_DATA_DIR", str(path))
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    monkeypatch.setenv("VOXMEM_RUNTIME_PORT_MIN", str(ports[0]))
    monkeypatch.setenv("VOXMEM_RUNTIME_PORT_MAX", str(ports[1]))
    yield path
    for _ in range(3):
        if stop_runtime(path, timeout_s=10) == "not running":
            break
