"""``voxmem serve`` holds the data directory's runtime lock before its slow imports.

Found by probing a cold host: a client arriving while ``voxmem serve`` was still importing
the runtime saw no runtime, launched a detached one of its own, and that one won the lock;
the operator's ``serve`` then exited without serving, and the host ran on the client's
settings. With the lock taken first, the client sees a runtime starting and waits for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._held_serve import HeldServe, wait_for
from voxmem.runtime import read_discovery, runtime_lock_held

pytestmark = pytest.mark.slow


def test_serve_holds_the_runtime_lock_while_it_imports_the_runtime(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # The child holds the import of the runtime's server module until the test lets it
    # go, so the window a loaded host opens by chance is open for as long as the test needs.
    serve = HeldServe(tmp_path, data_dir, "18950-18959")
    try:
        serve.wait_held()
        # A client probing now must see a runtime starting, not a free directory.
        assert runtime_lock_held(data_dir)
        assert read_discovery(data_dir) is None
        serve.release()
        wait_for(lambda: read_discovery(data_dir) is not None or serve.proc.poll() is not None,
                 "the runtime to publish itself")
        assert read_discovery(data_dir) is not None
        assert runtime_lock_held(data_dir)
    finally:
        serve.stop()
