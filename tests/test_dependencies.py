"""The installed native libraries can live in one process, in the order the engine loads them."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("first, second", [("usearch.index", "onnxruntime"),
                                           ("onnxruntime", "usearch.index")])
def test_the_vector_index_and_the_onnx_runtime_load_in_either_order(
        first: str, second: str) -> None:
    # An engine that has opened an org index (usearch) and then switches on the `onnx`
    # embedder imports them in this order; usearch 2.26.2 and later crash the process
    # there (SIGSEGV inside onnxruntime's import), so pyproject keeps usearch below it.
    pytest.importorskip("onnxruntime")
    done = subprocess.run(
        [sys.executable, "-c", f"import {first}; import {second}; print('loaded')"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "loaded"
