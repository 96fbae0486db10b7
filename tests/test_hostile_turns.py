"""A turn a caller (or anyone with a key) can send must not hold the runtime's event loop
for seconds: the save's text work runs on it until the text worker has started (and
again whenever the worker misses its batch deadline), so every other caller's search
waits behind it, past its deadline.

Found through a real runtime: a 64 KB turn of card-like digit groups
("4111 1111 1111 1111 ...", under ``max_turn_text_bytes``) took 5.4 s to save, and a
search sent meanwhile with ``timeoutMs: 250`` answered after 5.3 s. The card finder
checked each candidate window against every card already taken: quadratic in the
number of digit groups. Measured in CPU time of this process, which a loaded machine
does not inflate as it does wall time."""

from __future__ import annotations

import asyncio
import time

import pytest

from voxmem.engine import MemoryEngine
from voxmem.extraction import sensitive
from voxmem.extraction._cards import find_card_spans
from voxmem.extraction._scan import Scan
from voxmem.models import Caller

#: CPU a 64 KB turn's detection may take; linear work is ~50x below it, the quadratic one
#: was ~10x above it.
BUDGET_S = 0.5


@pytest.mark.parametrize("unit", ["4111 1111 1111 1111 ", "4111-1111-1111-1111 ",
                                  "5555 5555 5555 4444 12 ", "1234 "])
def test_a_turn_dense_with_card_numbers_is_scanned_in_linear_time(unit: str) -> None:
    text = (unit * (65536 // len(unit) + 1))[:65000]
    started = time.process_time()
    found = sensitive.find_sensitive(text)
    spent = time.process_time() - started
    assert spent < BUDGET_S, f"{spent:.2f} s of CPU for one 64 KB turn"
    if unit.startswith("4111"):
        assert len(found) == 65000 // len(unit)  # every card found, none merged


def test_windows_are_still_chosen_longest_first() -> None:
    # What the faster choice must keep: a phone number read just before a card does not
    # shift the card's window, two cards in a row are two cards.
    text = "call 555 0100 then 4111 1111 1111 1111 and 5555 5555 5555 4444"
    found = sorted(find_card_spans(Scan(text)))
    assert [text[a:b] for a, b in found] == ["4111 1111 1111 1111", "5555 5555 5555 4444"]


async def test_an_import_lets_other_callers_run_between_its_turns(
        engine: MemoryEngine) -> None:
    # One call of 500 turns of 4 KB imported through a runtime held its event loop for
    # 5.9 s while it redacted them, and a live caller's search (250 ms deadline) sent
    # meanwhile answered after 5.6 s. Measured as CPU time of the loop's thread between
    # two turns of another caller's coroutine (a loaded machine stretches wall time).
    scope = engine.scope(project_id="p1", agent_id="a1", user_id="importer")
    now = time.time()
    text = ("4111 1111 1111 1111 " * 200)[:4000]
    turns = [{"userText": text, "assistantText": "Noted.", "createdAt": now - 3600 + i}
             for i in range(200)]
    sessions = [{"sessionId": "backfill", "startedAt": now - 3600, "turns": turns}]
    longest = 0.0
    importing = True

    async def another_caller() -> None:
        nonlocal longest
        last = time.thread_time()
        while importing:
            await asyncio.sleep(0)
            now = time.thread_time()
            longest, last = max(longest, now - last), now

    other = asyncio.create_task(another_caller())
    await asyncio.sleep(0)
    done = await engine.import_history(scope, Caller("importer"), sessions)
    importing = False
    await other
    assert done["turns"] == len(turns)
    assert longest < 0.2, f"the loop was held for {longest:.2f} s of CPU"
