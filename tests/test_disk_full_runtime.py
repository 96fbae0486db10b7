"""Out of disk under a real ``voxmem serve``: a save the disk refuses fails loudly
(never acknowledged), every acknowledged save is kept, and the runtime recovers by
itself once the disk takes writes again.

The runtime process gets a file-size limit (``RLIMIT_FSIZE``, lowered from outside with
``prlimit``): every write that would grow a file fails with ``EFBIG`` as a full disk
fails with ``ENOSPC``, the journal's included, while reads go on. Raising the limit
again is the space coming back.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

import httpx
import pytest

from tests import _browser
from voxmem import VoxmemError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="prlimit is Linux's")

USER = {"id": "+14155550199", "name": "Dana"}


def _stats(runtime: _browser.Runtime) -> dict[str, object]:
    """What ``voxmem status`` reads: the runtime's own account of its journal."""
    answer = httpx.get(f"{runtime.url}/v1/runtime", timeout=30, trust_env=False,
                       headers={"authorization": f"Bearer {runtime.token}"})
    answer.raise_for_status()
    stats: dict[str, object] = answer.json()["stats"]
    return stats


def test_a_full_disk_refuses_saves_loudly_and_the_runtime_recovers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _browser.serve(data_dir, "8300-8400") as runtime:
        pid = json.loads((data_dir / "runtime.json").read_text())["pid"]
        acked: list[str] = []
        refused: list[str] = []
        with _browser.client(runtime) as vm:
            vm.start_session(user=USER, session_id="call-1")
            for i in range(3):
                vm.save_response(user=USER, user_text=f"before the disk filled, note {i}",
                                 assistant_text="ok", turn_id=f"a{i}")
                acked.append(f"a{i}")
            vm.flush()
            soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))  # the disk is full
            try:
                for i in range(5):
                    try:
                        vm.save_response(user=USER, assistant_text="ok", turn_id=f"b{i}",
                                         user_text=f"while the disk was full, note {i}")
                    except VoxmemError as exc:
                        refused.append(f"b{i}")
                        assert exc.status_code == 503, exc
                    else:
                        acked.append(f"b{i}")
                full = _stats(runtime)
                assert full["healthy"] is False and "journal write failed" in str(
                    full["journalError"]), full
                found = _browser.recall(vm, "note", USER)  # reads go on
                assert found.working or found.permanent
            finally:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))  # space is back
            assert refused, "a save the disk refused was acknowledged"
            for i in range(3):
                vm.save_response(user=USER, user_text=f"after space came back, note {i}",
                                 assistant_text="ok", turn_id=f"c{i}")
                acked.append(f"c{i}")
            vm.flush()
            stored = [item["turnId"] for item in vm.export_user(user=USER)["items"]
                      if item["kind"] == "turn"]
        assert sorted(stored) == sorted(acked)  # none lost, none refused stored
        assert _stats(runtime)["healthy"] is True
