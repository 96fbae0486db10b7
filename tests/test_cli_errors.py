"""Every CLI failure is one clear line on stderr and a non-zero exit: no tracebacks for
an unusable data directory, a bad setting or a reader that stops early (``| head``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxmem.cli import EXIT_BROKEN_PIPE, main
from voxmem.runtime._discovery import EXIT_START_FAILED

pytestmark = pytest.mark.slow


def run_cli(*args: str, env: dict[str, str] | None = None,
            stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "VOXMEM_EMBEDDER": "hashing", **(env or {})}
    return subprocess.run([sys.executable, "-m", "voxmem", *args], env=full_env,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                          check=False)


def one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def not_a_directory(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker / "data"  # cannot be created, whoever runs the test (even root)


@pytest.fixture
def unopenable_store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "voxmem.db").mkdir(parents=True)  # the store file cannot be opened
    return data


def test_serve_on_an_unusable_data_dir_is_one_line(not_a_directory: Path) -> None:
    done = run_cli("serve", "--data-dir", str(not_a_directory))
    assert done.returncode != 0
    line = one_clean_line(done.stderr)
    assert line.startswith("voxmem: ") and str(not_a_directory) in line


def test_serve_on_a_store_that_cannot_open_is_one_log_line(unopenable_store: Path) -> None:
    done = run_cli("serve", "--data-dir", str(unopenable_store))
    assert done.returncode == EXIT_START_FAILED
    line = one_clean_line(done.stderr)
    assert "cannot start the engine" in line and str(unopenable_store) in line


@pytest.mark.parametrize("fixture", ["not_a_directory", "unopenable_store"])
def test_embedded_demo_on_an_unusable_data_dir_is_one_line(
        fixture: str, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    data_dir: Path = request.getfixturevalue(fixture)
    code = main(["demo", "--embedded", "--embedder", "hashing", "--data-dir", str(data_dir)])
    assert code != 0
    line = one_clean_line(capsys.readouterr().err)
    assert line.startswith("voxmem: ")


def test_a_bad_setting_in_the_environment_is_one_line() -> None:
    done = run_cli("settings", env={"VOXMEM_MEMORY_ENABLED": "flase"})
    assert done.returncode != 0
    line = one_clean_line(done.stderr)
    assert "VOXMEM_MEMORY_ENABLED" in line


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited
    try:
        done = run_cli("memories", "list", "--embedded", "--json", "--project", "p",
                       "--user", "u", "--data-dir", str(tmp_path / "data"),
                       stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == EXIT_BROKEN_PIPE
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


@pytest.mark.parametrize("argv", [["bogus"], ["memories", "list", "--project", "p"],
                                  ["serve", "--port", "not-a-port"],
                                  # An OverflowError from the socket layer, and "any port"
                                  # silently read as "no port given", before.
                                  ["serve", "--port", "99999"], ["serve", "--port", "0"],
                                  ["serve", "--port", "-5"]])
def test_a_usage_error_is_one_line(argv: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    line = one_clean_line(capsys.readouterr().err)
    assert "--help" in line


@pytest.mark.parametrize(("host", "says"), [
    ("no-such-host.invalid", "does not resolve"),
    # TEST-NET-1: an address no machine has. It was reported as "no free port", which
    # sent the operator widening a port range that was never the problem.
    ("192.0.2.1", "cannot listen on 192.0.2.1"),
])
def test_serve_on_a_host_it_cannot_listen_on_says_so(tmp_path: Path, host: str,
                                                      says: str) -> None:
    done = run_cli("serve", "--data-dir", str(tmp_path / "data"), "--host", host,
                   "--port", "7979")
    assert done.returncode == EXIT_START_FAILED
    line = one_clean_line(done.stderr)
    assert says in line and "data directory" not in line and "free port" not in line


@pytest.mark.parametrize(("variable", "value"), [
    ("VOXMEM_RUNTIME_HOST", ""), ("VOXMEM_RUNTIME_SHUTDOWN_TIMEOUT_S", "inf"),
    ("VOXMEM_BACKGROUND_PROCESSES", "1000")])
def test_serve_with_a_bad_setting_fails_before_it_starts(tmp_path: Path, variable: str,
                                                         value: str) -> None:
    """Each was accepted: an empty host failed as "cannot use the data directory", an
    infinite shutdown timeout as an OverflowError, and 1000 forked a thousand workers."""
    done = run_cli("serve", "--data-dir", str(tmp_path / "data"), env={variable: value})
    assert done.returncode == 1
    line = one_clean_line(done.stderr)
    assert variable in line and "bad_request" in line
    assert not (tmp_path / "data" / "runtime.json").exists()
