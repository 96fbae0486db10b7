"""The compact chunk-id table answers exactly as a list and a dict would."""

from __future__ import annotations

import random

import numpy as np
import pytest

from voxmem.engine._id_tables import MERGE_MIN, CompactIds, ListIds, id_array


def _same(compact: CompactIds, plain: ListIds, probes: list[str]) -> None:
    assert len(compact) == len(plain)
    for doc_id in probes:
        assert compact.get(doc_id) == plain.get(doc_id), doc_id
    positions = list(range(len(plain)))
    assert compact.at_many(positions) == plain.at_many(positions)
    assert [compact.at(p) for p in positions[:50]] == [plain.at(p) for p in positions[:50]]
    query = id_array(probes)
    assert compact.positions_of(query).tolist() == plain.positions_of(query).tolist()


def test_compact_ids_answer_as_a_list_and_dict_through_installs_adds_and_re_adds() -> None:
    rng = random.Random(7)
    compact, plain = CompactIds(), ListIds()
    first = [f"chk_{rng.getrandbits(128):032x}" for _ in range(3_000)]
    compact.install(id_array(first))  # as a start from the rows file does
    plain.install(id_array(first))
    # Writes before the lookup is built: they are hashed with the installed rows.
    compact.extend(["late-1", "late-2"])
    plain.extend(["late-1", "late-2"])
    added: list[str] = []
    for round_ in range(6):
        batch = [f"chk_{rng.getrandbits(128):032x}" for _ in range(rng.randint(1, 2_500))]
        # A removed id added again: its newest position is the one found.
        batch.append(rng.choice(first))
        compact.extend(batch)
        plain.extend(batch)
        compact.append(f"one-{round_}")
        plain.append(f"one-{round_}")
        added.extend(batch)
        probes = (rng.sample(first, 200) + rng.sample(added, min(200, len(added)))
                  + ["late-1", f"one-{round_}", "unknown", "", "chk_" + "0" * 40])
        _same(compact, plain, probes)
    assert len(compact) > MERGE_MIN  # merges ran


def test_positions_of_the_table_itself_in_order_and_shuffled() -> None:
    ids = [f"id-{i}" for i in range(5_000)]
    compact = CompactIds()
    compact.install(id_array(ids))
    assert compact.positions_of(id_array(ids)).tolist() == list(range(5_000))
    order = np.random.default_rng(3).permutation(5_000)
    shuffled = id_array([ids[i] for i in order])
    assert compact.positions_of(shuffled).tolist() == order.tolist()
    assert compact.positions_of(id_array(["nope", "id-12"])).tolist() == [-1, 12]


def test_a_longer_id_widens_the_table_and_every_id_is_still_found() -> None:
    compact = CompactIds()
    compact.extend([f"short-{i}" for i in range(5_000)])
    long_id = "a-much-longer-chunk-id-" + "x" * 40
    compact.extend([long_id, "tiny"])
    assert compact.get(long_id) == 5_000
    assert compact.get("tiny") == 5_001
    assert compact.get("short-4321") == 4_321
    assert compact.at(5_000) == long_id
    assert compact.positions_of([long_id, "short-7"]).tolist() == [5_000, 7]


def test_ids_with_a_nul_byte_are_refused_and_non_ascii_ids_kept() -> None:
    compact = CompactIds()
    with pytest.raises(ValueError):
        compact.extend(["bad\0id"])
    compact.extend(["café-1", "naïve"])
    assert compact.get("naïve") == 1
    assert compact.at_many([0, 1]) == ["café-1", "naïve"]
