"""Postgres restarted under a running ``voxmem serve``: saves are acknowledged from the
journal and reach the store once it is back, searches stay on time, and both
``voxmem status`` and ``/metrics`` say the store is not taking writes, then that it is.

The test runs its own server (the session's shared one must stay up) and crash-stops it
(``pg_ctl stop -m immediate``: every connection cut, as a host failure does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import _browser, _postgres

USER = {"id": "+14155550177", "name": "Ivo"}


@pytest.fixture
def own_server(postgres_server: str | None) -> Iterator[_postgres.Cluster]:
    _postgres.require(postgres_server)
    with _postgres.cluster() as node:
        yield node


def _status(data_dir: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "voxmem", "status", "--data-dir",
                           str(data_dir), "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _metric(runtime: _browser.Runtime, name: str) -> float:
    text = httpx.get(f"{runtime.url}/metrics", timeout=30, trust_env=False,
                     headers={"authorization": f"Bearer {runtime.token}"}).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} not in /metrics"
    return float(found[1])


def test_postgres_restarted_under_a_running_runtime(
        own_server: _postgres.Cluster, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXMEM_STORE_URL", _postgres.fresh_database(own_server.dsn()))
    data_dir = tmp_path / "data"
    with _browser.serve(data_dir, "8400-8500") as runtime, \
            _browser.client(runtime) as vm:
        vm.start_session(user=USER, session_id="call-1")
        acked = []
        for i in range(3):
            vm.save_response(user=USER, user_text=f"my router is a Fritz 7590, note {i}",
                             assistant_text="ok", turn_id=f"a{i}")
            acked.append(f"a{i}")
        vm.flush()
        assert _browser.recall(vm, "which router", USER).working
        assert _status(data_dir)["healthy"] is True
        assert _metric(runtime, "voxmem_healthy") == 1.0

        own_server.stop("immediate")
        try:
            for i in range(5):  # acknowledged from the journal while the store is down
                vm.save_response(user=USER, user_text=f"during the outage, note {i}",
                                 assistant_text="ok", turn_id=f"b{i}")
                acked.append(f"b{i}")
            found = vm.search_memory("during the outage", user=USER, timeout_ms=2_000)
            assert "during the outage" in found.context_text  # the warm caller answers
            # The applier notices on its next write; wait on what status reports.
            deadline = time.monotonic() + _browser.WAIT_S
            while (report := _status(data_dir))["healthy"] is not False:
                assert time.monotonic() < deadline, report
                vm.save_response(user=USER, user_text="one more", assistant_text="ok",
                                 turn_id=f"x{len(acked)}")
                acked.append(f"x{len(acked)}")
            assert int(str(report["journalLag"])) > 0
            assert _metric(runtime, "voxmem_healthy") == 0.0
            assert _metric(runtime, "voxmem_journal_lag_records") > 0
        finally:
            own_server.start()
        vm.flush()
        stored = [item["turnId"] for item in vm.export_user(user=USER)["items"]
                  if item["kind"] == "turn"]
        assert stored == acked  # every acknowledged save, once, in order
        assert _status(data_dir)["healthy"] is True
        assert _metric(runtime, "voxmem_healthy") == 1.0
        assert _metric(runtime, "voxmem_journal_lag_records") == 0.0
