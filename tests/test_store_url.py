"""A store URL voxmem cannot open is refused when the settings are built, naming the
setting and the forms it takes.

Found from outside: ``VOXMEM_STORE_URL=mysql://db/voxmem`` (or a mistyped Postgres URL)
started the runtime on a SQLite file named after the URL, relative to the working
directory, so memory went to a stray local file instead of the database meant.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import voxmem
from voxmem import Settings
from voxmem._exceptions import BadRequest


@pytest.mark.parametrize("url", ["mysql://db/voxmem", "postgresq://app@db/voxmem",
                                 "pg://db", "voxmem.db", "sqlite://relative.db"])
def test_a_store_url_of_no_known_form_is_refused(url: str) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings(store_url=url)
    assert caught.value.details["field"] == "store_url"
    assert "postgresql://" in caught.value.message and "sqlite:///" in caught.value.message


@pytest.mark.parametrize("url", ["", "postgresql://app@db/voxmem", "postgres://db/vm",
                                 "sqlite:///var/lib/voxmem/memory.db"])
def test_the_documented_store_urls_are_accepted(url: str) -> None:
    assert Settings(store_url=url).store_url == url


def test_serve_with_a_foreign_store_url_is_one_line_and_writes_nothing(
        tmp_path: Path) -> None:
    # This checkout's package, also when run from another working directory.
    source = str(Path(voxmem.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": source, "VOXMEM_STORE_URL": "mysql://db/voxmem",
           "VOXMEM_DATA_DIR": str(tmp_path / "data"), "VOXMEM_EMBEDDER": "hashing"}
    work = tmp_path / "cwd"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "voxmem", "serve", "--port", "1"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "store_url" in lines[0], done.stderr
    assert list(work.iterdir()) == []
