"""The journal: ordering, group commit, torn tails, replay after a crash."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from voxmem import Settings, StoreUnavailable
from voxmem.engine import MemoryEngine
from voxmem.journal import Journal, JournalLocked


async def test_append_assigns_ordered_sequence(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    seqs = await asyncio.gather(*(journal.append({"type": "x", "i": i}) for i in range(200)))
    journal.close()
    assert sorted(seqs) == list(range(1, 201))
    reopened = Journal(tmp_path / "j")
    reopened.open()
    records = list(reopened.read_after(0))
    assert [r["seq"] for r in records] == list(range(1, 201))
    assert [r["i"] for r in records] == [seqs.index(s) for s in range(1, 201)]
    assert [r["seq"] for r in reopened.read_after(150)] == list(range(151, 201))
    assert await reopened.append({"type": "x"}) == 201
    reopened.close()


async def test_one_group_commit_settles_every_waiter_but_a_cancelled_one(
        tmp_path: Path) -> None:
    # The writer settles a whole batch with one callback on the loop; a waiter cancelled
    # while its batch was written must not stop the others from being answered.
    journal = Journal(tmp_path / "j")
    journal.open()
    journal._io_lock.acquire()  # the writer waits here, so the appends form one batch
    try:
        tasks = [asyncio.create_task(journal.append({"type": "x", "i": i})) for i in range(20)]
        await asyncio.sleep(0)  # each task has queued its record and awaits its future
        tasks[5].cancel()
    finally:
        journal._io_lock.release()
    seqs = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(seqs[5], asyncio.CancelledError)
    assert [s for i, s in enumerate(seqs) if i != 5] == [i + 1 for i in range(20) if i != 5]
    assert await journal.append({"type": "x"}) == 21
    journal.close()
    # Durable although its waiter went away: cancelling does not unwrite a record.
    reopened = Journal(tmp_path / "j")
    reopened.open()
    assert [r["seq"] for r in reopened.read_after(0)] == list(range(1, 22))
    reopened.close()


async def test_records_read_back_with_the_values_they_were_written_with(
        tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    record = {"type": "turn", "at": 1764500000.123456, "tiny": 1e-05, "huge": 1e22,
              "count": 2**62, "text": "café \u2028 naïve \U0001f600", "none": None,
              "flags": [True, False], "nested": {"k": [1, 2.5, -3]}}
    odd_keys = {"type": "report", "report": {True: 1, None: 2, 3: 4}}  # the stdlib's way
    await journal.append(record)
    await journal.append(odd_keys)
    journal.close()
    reopened = Journal(tmp_path / "j")
    reopened.open()
    first, second = reopened.read_after(0)
    reopened.close()
    assert first == {"seq": 1, **record}
    assert second == {"seq": 2, "type": "report", "report": {"true": 1, "null": 2, "3": 4}}


async def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    for i in range(3):
        await journal.append({"type": "x", "i": i})
    journal.close()
    (segment,) = sorted((tmp_path / "j").glob("*.jsonl"))
    with segment.open("ab") as fh:
        fh.write(b'{"seq": 4, "type": "x", "i": ')  # power cut mid-record
    reopened = Journal(tmp_path / "j")
    reopened.open()
    assert [r["seq"] for r in reopened.read_after(0)] == [1, 2, 3]
    assert await reopened.append({"type": "x"}) == 4
    reopened.close()
    assert all(json.loads(line) for line in segment.read_text().splitlines())


async def test_segments_rotate_and_applied_ones_are_dropped(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", segment_bytes=200)
    journal.open()
    for i in range(20):
        await journal.append({"type": "x", "pad": "y" * 50, "i": i})
    assert len(list((tmp_path / "j").glob("*.jsonl"))) > 3
    assert [r["seq"] for r in journal.read_after(15)] == [16, 17, 18, 19, 20]
    removed = journal.drop_applied(15)
    assert removed > 0
    assert [r["seq"] for r in journal.read_after(15)] == [16, 17, 18, 19, 20]
    journal.close()


async def test_compact_drops_every_applied_record_and_keeps_the_numbering(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The cleanup job's part: applied records hold callers' words (a deleted memory's
    # too), and the newest segment is never dropped whole. What is not applied stays,
    # appends go on into the same journal, and a restart numbers on from the last.
    journal = Journal(tmp_path / "j", segment_bytes=200)
    journal.open()
    for i in range(12):
        await journal.append({"type": "x", "pad": "y" * 50, "i": i})
    assert journal.compact(9) == 9
    assert [r["seq"] for r in journal.read_after(0)] == [10, 11, 12]
    assert journal.compact(12) == 3
    assert list(journal.read_after(0)) == []
    assert b"".join(p.read_bytes() for p in (tmp_path / "j").glob("*.jsonl")) == b""
    assert await journal.append({"type": "x", "i": 12}) == 13
    assert journal.compact(13) == 1
    journal.close()
    with caplog.at_level("WARNING", logger="voxmem.journal"):
        reopened = Journal(tmp_path / "j")
        reopened.open(min_seq=13)
    assert not caplog.records  # an emptied journal is no journal that lost its tail
    assert await reopened.append({"type": "x"}) == 14
    reopened.close()
    again = Journal(tmp_path / "j")
    again.open()  # no floor given: the numbering is read from the files alone
    assert [r["seq"] for r in again.read_after(0)] == [14]
    assert await again.append({"type": "x"}) == 15
    again.close()


def test_acknowledged_turns_survive_a_hard_exit(tmp_path: Path) -> None:
    """A process that dies right after acknowledging turns loses none of them."""
    data = tmp_path / "data"
    script = textwrap.dedent(f"""
        import asyncio, os
        from voxmem import Settings
        from voxmem.engine import MemoryEngine
        from voxmem.models import Caller

        async def main():
            eng = MemoryEngine(Settings(data_dir={str(data)!r}, embedder="hashing"))
            await eng.start()
            s = eng.scope(project_id="p", agent_id="a", user_id="u")
            for i in range(120):
                await eng.save_response(s, Caller("u"), user_text=f"turn {{i}}",
                                        assistant_text="ack")
            print("ACKED", flush=True)
            os._exit(0)  # no close, no flush: like a SIGKILL right after the acks

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert "ACKED" in out.stdout

    async def count() -> int:
        eng = MemoryEngine(Settings(data_dir=str(data), embedder="hashing"))
        await eng.start()
        try:
            assert await eng.flush(30)
            s = eng.scope(project_id="p", agent_id="a", user_id="u")
            return await eng.store.count_items(s)
        finally:
            await eng.close()

    assert asyncio.run(count()) == 120


async def test_store_failure_keeps_records_until_it_recovers(settings: Settings) -> None:
    """Writes stay journaled while the store refuses them, then arrive in order."""
    from voxmem.models import Caller

    eng = MemoryEngine(settings)
    await eng.start()
    s = eng.scope(project_id="p", agent_id="a", user_id="u")
    real_write = eng.store.write
    failing = True

    async def flaky_write(batch):  # type: ignore[no-untyped-def]
        from voxmem import StoreUnavailable

        if failing:
            raise StoreUnavailable("database unreachable")
        await real_write(batch)

    eng.store.write = flaky_write  # type: ignore[method-assign]
    try:
        for i in range(10):
            await eng.save_response(s, Caller("u"), user_text=f"t{i}", assistant_text="a")
        assert not await eng.flush(0.3)
        result = await eng.search_memory(s, "t3", timeout_ms=1000)
        assert result.working, "recall keeps serving from the warm cache"
        failing = False
        assert await eng.flush(20)
        turns = await eng.store.session_turns(s, result.working[0]["sessionId"])
        assert [t.user_text for t in turns] == [f"t{i}" for i in range(10)]
    finally:
        await eng.close()


async def test_a_failed_write_is_cut_back_before_the_next_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC half-way through a write leaves no torn bytes for later records to follow."""
    journal = Journal(tmp_path / "j")
    journal.open()
    await journal.append({"type": "x", "i": 0})
    (segment,) = (tmp_path / "j").glob("*.jsonl")
    size = segment.stat().st_size
    real_write = os.write
    calls = {"n": 0}

    def filling_disk(fd: int, data: bytes) -> int:
        if Path(f"/proc/self/fd/{fd}").readlink() == segment.resolve() and calls["n"] < 2:
            calls["n"] += 1
            if calls["n"] == 1:
                return real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", filling_disk)
    with pytest.raises(StoreUnavailable):
        await journal.append({"type": "x", "i": "lost", "pad": "p" * 100})
    assert segment.stat().st_size == size and not journal.healthy
    assert await journal.append({"type": "x", "i": 2}) == 3
    assert journal.healthy
    journal.close()
    lines = [json.loads(line) for line in segment.read_text().splitlines()]
    assert [(r["seq"], r["i"]) for r in lines] == [(1, 0), (3, 2)]


async def test_a_damaged_line_mid_journal_keeps_the_records_after_it(tmp_path: Path) -> None:
    """A journal written before failed writes were cut back: only the bad line goes."""
    journal = Journal(tmp_path / "j")
    journal.open()
    for i in range(2):
        await journal.append({"type": "x", "i": i})
    journal.close()
    (segment,) = (tmp_path / "j").glob("*.jsonl")
    with segment.open("ab") as fh:
        fh.write(b'{"seq": 3, "type": "x", "i{"seq": 4, "type": "x", "i": 3}\n')
        fh.write(b'{"seq": 5, "type": "x", "i": 4}\n')
    reopened = Journal(tmp_path / "j")
    reopened.open()
    assert [r["seq"] for r in reopened.read_after(0)] == [1, 2, 5]
    assert await reopened.append({"type": "x"}) == 6
    reopened.close()


async def test_a_journal_directory_has_one_owner(tmp_path: Path) -> None:
    first = Journal(tmp_path / "j")
    first.open()
    second = Journal(tmp_path / "j")
    with pytest.raises(JournalLocked):
        second.open()
    first.close()
    second.open()  # free again once the owner closed it
    second.close()


async def test_a_segment_that_cannot_be_created_stops_appends_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "j", segment_bytes=10)
    journal.open()
    await journal.append({"type": "x"})
    real_open = os.open

    def no_inodes(path: object, flags: int, mode: int = 0o777, **kw: object) -> int:
        if str(path).endswith(".jsonl"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, flags, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_inodes)
    with pytest.raises(StoreUnavailable):
        await journal.append({"type": "x"})
    with pytest.raises(StoreUnavailable):  # refused, not hung: the writer is alive
        await asyncio.wait_for(journal.append({"type": "x"}), 10)
    assert journal.broken
    monkeypatch.setattr(os, "open", real_open)
    journal.close()
    reopened = Journal(tmp_path / "j", segment_bytes=10)
    reopened.open()
    assert [r["seq"] for r in reopened.read_after(0)] == [1]
    assert await reopened.append({"type": "x"}) == 2
    reopened.close()


async def test_append_after_close_fails_instead_of_hanging(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    journal.close()
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(journal.append({"type": "x"}), 10)
