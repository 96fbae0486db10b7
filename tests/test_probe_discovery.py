"""The discovery files probed as an attacker: a client trusts ``runtime.json`` and the
token file only when this user wrote them. Before, a ``runtime.json`` another user left
in a data directory they could write (one under ``/tmp``) sent the client's callers to
the URL it named, with any file of ours it named as ``tokenPath`` as the bearer token."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voxmem.runtime._discovery import (
    DISCOVERY_FILE,
    TOKEN_FILE,
    Discovery,
    read_discovery,
    read_token,
    write_discovery,
    write_token,
)


def _published(data_dir: Path, token_path: Path) -> Discovery:
    return Discovery(pid=os.getpid(), host="127.0.0.1", port=7878,
                     token_path=str(token_path), started_at=1.0, instance="i",
                     version="0")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "vm"
    path.mkdir(mode=0o700)
    return path


def test_files_the_runtime_writes_are_trusted(data_dir: Path) -> None:
    token_path, token = write_token(data_dir)
    write_discovery(data_dir, _published(data_dir, token_path))
    found = read_discovery(data_dir)
    assert found is not None and found.port == 7878
    assert read_token(found.token_path) == token


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_a_discovery_file_others_can_write_is_ignored(data_dir: Path, mode: int) -> None:
    token_path, _token = write_token(data_dir)
    write_discovery(data_dir, _published(data_dir, token_path))
    (data_dir / DISCOVERY_FILE).chmod(mode)
    assert read_discovery(data_dir) is None


def test_a_token_path_outside_the_data_directory_is_ignored(
        data_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key=abc")
    secret.chmod(0o600)
    (data_dir / DISCOVERY_FILE).write_text(json.dumps(
        _published(data_dir, secret).to_dict()))
    (data_dir / DISCOVERY_FILE).chmod(0o600)
    assert read_discovery(data_dir) is None


def test_a_token_file_that_is_a_symlink_or_writable_by_others_is_not_read(
        data_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key=abc")
    secret.chmod(0o600)
    link = data_dir / TOKEN_FILE
    link.symlink_to(secret)
    assert read_token(link) is None
    link.unlink()
    link.write_text("planted-token")
    link.chmod(0o666)
    assert read_token(link) is None
