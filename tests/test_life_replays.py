"""Campaign sequences of the stateful fuzz (``tests/test_life_fuzz.py``) replayed as plain
tests through its model, on both stores: the lines hypothesis printed, cut to the steps
that matter, with the picks that name a random id made deterministic.

1. ``get_caller`` answering ``caller_not_found`` for a caller holding turns (campaign seed
   22 on Postgres, 5 of 11 replays of its 24 steps). Not an engine defect: the store held
   no row of that caller, rightly. Bob's turn, saved while Bob was merged into Cyd, went
   back to Bob with his call when the merge was undone, and the merge's row of Cyd went
   with it (Cyd had none before and held nothing since). The model left the turn to
   either caller (the docs allow a turn saved during a merge to stay with the target)
   and never settled it from the export, so it still counted the turn as Cyd's. The
   replays failed only when the campaign's unmerge, which picks among the open merges
   sorted by their random ids, picked that merge, and only when the save reached the
   store before the merge (else the merge is refused: Bob had nothing yet). Here Bob
   has a turn first, so the merge always goes through, and the one open merge is undone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._life_model import Harness
from tests.test_life_fuzz import Life
from voxmem import Settings
from voxmem._exceptions import NotFound


@pytest.fixture
def state(settings: Settings) -> Iterator[Life]:
    Life.harness = Harness(settings)
    try:
        yield Life()
    finally:
        Life.harness.close()


def test_a_turn_saved_during_an_undone_merge_settles_with_its_call(state: Life) -> None:
    state.save(space=2, user="bob", text=(0, 0), turn_id=None)
    state.race_save_merge(into="cyd", source="bob", space=2, text=(9, 1))
    state.unmerge(pick=0)  # the one open merge
    state.check_caller(space=2, user="bob")
    state.check_caller(space=2, user="cyd")
    # The engine's answer, which the model now settles on: both turns are Bob's again,
    # in his call, and Cyd, who had nothing before the merge, is no caller.
    bob = state.call("get_caller", 2, user_id="bob")
    exported = state.call("export_user", 2, "bob")
    turns = [i for i in exported["items"] if i["kind"] == "turn"]
    assert len(turns) == 2
    assert {t["sessionId"] for t in turns} <= {c["sessionId"] for c in bob["calls"]}
    assert state.call("export_user", 2, "cyd")["items"] == []
    with pytest.raises(NotFound):
        state.call("get_caller", 2, user_id="cyd")
