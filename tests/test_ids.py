"""Minted ids: random version-4 UUIDs (or uuid7), unique, also across a fork."""

from __future__ import annotations

import os
import uuid

import pytest

from voxmem.engine._ids import new_id


def test_an_id_is_a_version_4_uuid_spelled_as_uuid4_hex() -> None:
    ids = [new_id("evt") for _ in range(2000)]  # past one pool block of 4,096 bytes
    assert len(set(ids)) == len(ids)
    for value in ids:
        prefix, _, rest = value.partition("_")
        assert prefix == "evt" and len(rest) == 32
        parsed = uuid.UUID(hex=rest)
        assert parsed.hex == rest
        assert parsed.variant == uuid.RFC_4122
        assert parsed.version == (7 if hasattr(uuid, "uuid7") else 4)


@pytest.mark.skipif(not hasattr(os, "fork") or hasattr(uuid, "uuid7"),
                    reason="needs fork; uuid7 does not use the pool")
def test_a_forked_child_mints_other_ids_than_its_parent() -> None:
    new_id("warm")  # the parent's pool holds unused random bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave without pytest's teardown
        os.close(read)
        os.write(write, " ".join(new_id("t") for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_id("t") for _ in range(8)}
    assert len(child) == 8 and not child & parent
