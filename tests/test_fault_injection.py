"""Faults injected from outside: every acknowledged turn survives each of them.

* a journal write that fails half-way (disk full), then a crash, then more writes, then
  another crash;
* a poison record the store refuses for a reason that is not an outage;
* kill -9 while the applier is mid-batch;
* Postgres stopped in the middle of a load.

The disk-full fault is injected at the file-write layer: a child process wraps
``os.write`` so that writes to its journal return short and then fail with ENOSPC, the
way a filling disk behaves. Crashes are ``os._exit`` / SIGKILL of that child, so nothing
gets to flush or close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import _postgres
from voxmem import Settings, StoreUnavailable
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope
from voxmem.store import WriteBatch
from voxmem.store.postgres import PostgresStore

CHILD_TIMEOUT_S = 120

# Runs one "life" of a process on a data directory: saves turns (printing each one it got
# an acknowledgement for), optionally with the disk filling up in the middle, then dies.
LIFE = textwrap.dedent("""
    import asyncio, errno, json, os, sys
    from voxmem import Settings, StoreUnavailable
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    data, url, life, mode = sys.argv[1:5]
    journal_dir = os.path.realpath(os.path.join(data, "journal"))
    real_write, real_truncate = os.write, os.ftruncate
    fault = {"armed": False, "calls": 0}

    def on_journal(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(journal_dir)
        except OSError:
            return False

    def write(fd, data):
        if fault["armed"] and on_journal(fd):
            fault["calls"] += 1
            if fault["calls"] == 1:  # the disk fills half-way through this write
                return real_write(fd, bytes(data[: max(1, len(data) // 2)]))
            if mode == "full-disk-stays":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fault["armed"] = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def ftruncate(fd, length):
        if mode == "full-disk-stays" and on_journal(fd):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_truncate(fd, length)

    os.write, os.ftruncate = write, ftruncate

    async def main():
        engine = MemoryEngine(Settings(data_dir=data, embedder="hashing", store_url=url))
        await engine.start()
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")

        async def save(turn_id):
            try:
                event = await engine.save_response(scope, Caller("u"), user_text=turn_id,
                                                   assistant_text="ok", turn_id=turn_id)
            except StoreUnavailable:
                print("REFUSED", turn_id, flush=True)
                return
            print("ACK", turn_id, event, flush=True)

        for i in range(15):
            await save(f"{life}-before-{i}")
        if mode != "plain":
            assert await engine.flush(30)

            async def store_down(batch):
                raise StoreUnavailable("store unreachable")

            # From here on acknowledged turns exist only in the journal (as during an
            # outage), so the journal alone must bring them back.
            engine.store.write = store_down
            fault["armed"] = True
            await save(f"{life}-torn")
            if mode == "full-disk-stays":
                print("HEALTH", json.dumps(engine.stats()), flush=True)
        for i in range(15):
            await save(f"{life}-after-{i}")
        os._exit(0)  # a crash: no flush, no close

    asyncio.run(main())
""")


def _life(data: Path, url: str, life: str, mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", LIFE, str(data), url, life, mode],
                         capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _acked(lines: list[str]) -> dict[str, str]:
    """turn id -> event id of every complete ``ACK`` line (a kill can cut the last one)."""
    return {parts[1]: parts[2] for parts in (line.split() for line in lines)
            if len(parts) == 3 and parts[0] == "ACK"}


async def _stored(settings: Settings, turn_ids: list[str]) -> dict[str, str]:
    """turn id -> event id of every listed turn in the store, after replay."""
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        assert await engine.flush(60), engine.stats()
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        return await engine.store.find_turns(scope, turn_ids)
    finally:
        await engine.close()


@pytest.mark.parametrize("mode", ["full-disk-then-space", "full-disk-stays"])
async def test_disk_full_mid_write_then_crashes_lose_no_acknowledged_turn(
        settings: Settings, mode: str) -> None:
    """A torn write at ENOSPC, a crash, more writes, a crash: every ack is stored."""
    data = settings.data_path
    first = _life(data, settings.store_url, "one", mode)
    assert any(line.startswith("REFUSED one-torn") for line in first), first
    if mode == "full-disk-stays":
        # The failed write could not be cut back: the journal refuses every later write
        # (none is acknowledged) and reports itself unhealthy.
        health = json.loads(next(line for line in first if line.startswith("HEALTH"))[7:])
        assert health["healthy"] is False and health["journalError"]
        assert not any(line.startswith("ACK one-after") for line in first)
    second = _life(data, settings.store_url, "two", "plain")
    acked = {**_acked(first), **_acked(second)}
    assert len(acked) >= 15 + 30
    stored = await _stored(settings, [*acked, "one-torn"])
    assert stored == acked, "every acknowledged turn is stored under its event id"


async def test_sequence_numbers_continue_above_the_store_position(settings: Settings) -> None:
    """A journal that lost its tail never reuses a number the store has applied."""
    engine = MemoryEngine(settings)
    await engine.start()
    scope = engine.scope(project_id="p", agent_id="a", user_id="u")
    for i in range(5):
        await engine.save_response(scope, Caller("u"), user_text=f"early {i}",
                                   assistant_text="ok")
    assert await engine.flush(30)
    applied = engine.applier.applied_seq
    await engine.close()
    for segment in (settings.data_path / "journal").glob("*.jsonl"):
        segment.unlink()  # the journal lost everything the store already has

    engine = MemoryEngine(settings)
    await engine.start()
    try:
        event = await engine.save_response(scope, Caller("u"), user_text="after the loss",
                                           assistant_text="ok")
        assert engine.journal.last_seq > applied
        assert await engine.flush(30)
        assert event in {t.event_id for t in await engine.store.session_turns(
            scope, (await engine.store.recent_sessions(scope, 1))[0].id)}
    finally:
        await engine.close()


# -- poison records ---------------------------------------------------------------------------
def _turn_record(engine: MemoryEngine, scope: Scope, text: str) -> dict[str, object]:
    from voxmem.engine._applier import scope_to_record

    return {"type": "turn", "scope": scope_to_record(scope), "turn": {
        "eventId": f"evt_poison_{abs(hash(text))}", "sessionId": "ses_poison",
        "turnId": f"turn_poison_{abs(hash(text))}", "userText": text,
        "assistantText": "ok", "createdAt": engine.clock(), "agentId": scope.agent_id}}


async def test_nul_byte_record_is_quarantined_and_later_writes_go_on_postgres(
        postgres_server: str | None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Postgres cannot store a NUL byte: that record is set aside, nothing else waits."""
    dsn = _postgres.require(postgres_server)
    url = _postgres.fresh_database(dsn)
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=url)
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        poisoned = engine.scope(project_id="p", agent_id="a", user_id="mallory")
        other = engine.scope(project_id="p", agent_id="a", user_id="olga")
        # Straight into the journal, past any validation at the door (a journal written
        # by an older version, or a door that missed something).
        with caplog.at_level(logging.ERROR, logger="voxmem.engine.writer"):
            seq = await engine.journal_append(_turn_record(engine, poisoned, "bad\x00byte"))
            later = [await engine.save_response(other, Caller("olga"), user_text=f"later {i}",
                                                assistant_text="ok") for i in range(5)]
            assert await engine.flush(30), engine.stats()
        session = (await engine.store.recent_sessions(other, 1))[0]
        assert [t.event_id for t in await engine.store.session_turns(other, session.id)] \
            == later
        stats = engine.stats()
        assert stats["quarantined"] == 1 and stats["healthy"] is True
        (entry,) = await engine.store.list_quarantined()
        assert entry.seq == seq and "NUL" in entry.error
        assert json.loads(entry.record)["turn"]["userText"] == "bad\x00byte"  # kept whole
        assert any(f"journal record {seq}" in r.getMessage() and "quarantined" in
                   r.getMessage() for r in caplog.records)
    finally:
        await engine.close()
        _postgres.drop_database(dsn, url)


async def test_malformed_record_is_quarantined_and_retryable(engine: MemoryEngine) -> None:
    """A record that can never apply is set aside; an operator can send it again."""
    scope = engine.scope(project_id="p", agent_id="a", user_id="u")
    broken = _turn_record(engine, scope, "fine text")
    del broken["turn"]["sessionId"]  # type: ignore[attr-defined]
    seq = await engine.journal_append(broken)
    after = await engine.save_response(scope, Caller("u"), user_text="after the bad one",
                                       assistant_text="ok", turn_id="t-after")
    assert await engine.flush(30), engine.stats()
    assert engine.stats()["quarantined"] == 1
    assert await engine.store.find_turns(scope, ["t-after"]) == {"t-after": after}
    # Still malformed: retried, refused again, quarantined again under its new number.
    new_seq = await engine.retry_quarantined(seq)
    assert new_seq is not None and new_seq > seq
    assert await engine.flush(30)
    assert [e.seq for e in await engine.store.list_quarantined()] == [new_seq]
    assert await engine.retry_quarantined(seq) is None


async def test_quarantined_record_applies_when_retried_after_the_cause_is_gone(
        engine: MemoryEngine) -> None:
    scope = engine.scope(project_id="p", agent_id="a", user_id="u")
    real_write = engine.store.write
    refuse = {"text": "rejected once"}

    async def picky_write(batch: WriteBatch) -> None:  # a store refusing one row's data
        if any(w.turn.user_text == refuse["text"] for w in batch.turns):
            raise StoreUnavailable("value out of range", retryable=False)
        await real_write(batch)

    engine.store.write = picky_write  # type: ignore[method-assign]
    first = await engine.save_response(scope, Caller("u"), user_text="rejected once",
                                       assistant_text="ok", turn_id="t-1")
    second = await engine.save_response(scope, Caller("u"), user_text="fine",
                                        assistant_text="ok", turn_id="t-2")
    assert await engine.flush(30)
    assert await engine.store.find_turns(scope, ["t-1", "t-2"]) == {"t-2": second}
    (entry,) = await engine.store.list_quarantined()
    refuse["text"] = ""  # the operator fixed the cause
    assert await engine.retry_quarantined(entry.seq)
    assert await engine.flush(30)
    assert await engine.store.find_turns(scope, ["t-1", "t-2"]) == {"t-1": first,
                                                                    "t-2": second}
    assert await engine.store.list_quarantined() == []
    assert engine.stats()["quarantined"] == 0


# -- kill -9 mid-batch ------------------------------------------------------------------------
LOAD = textwrap.dedent("""
    import asyncio, faulthandler, os, sys
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    data, url = sys.argv[1:3]
    progress = [0]

    async def caller(engine, n):
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        i = 0
        while True:
            turn_id = f"c{n}-{i}"
            event = await engine.save_response(scope, Caller("u"), user_text=turn_id,
                                               assistant_text="ok", turn_id=turn_id)
            print("ACK", turn_id, event, flush=True)
            progress[0] += 1
            if progress[0] % 50 == 0:
                faulthandler.dump_traceback_later(90, exit=True)
            i += 1

    async def watchdog():
        # A stall would leave the parent reading forever: report where everyone waits.
        last = -1
        while True:
            await asyncio.sleep(30)
            if progress[0] == last:
                for task in asyncio.all_tasks():
                    task.print_stack(file=sys.stderr)
                sys.stderr.flush()
                os._exit(3)
            last = progress[0]

    async def main():
        asyncio.ensure_future(watchdog())
        faulthandler.dump_traceback_later(90, exit=True)  # even if the loop is blocked
        engine = MemoryEngine(Settings(data_dir=data, embedder="hashing", store_url=url,
                                       index_batch_size=16))
        await engine.start()
        await asyncio.gather(*(caller(engine, n) for n in range(8)))

    asyncio.run(main())
""")


def test_kill_9_mid_batch_loses_no_acknowledged_turn(settings: Settings,
                                                    tmp_path: Path) -> None:
    log_path = tmp_path / "child.log"  # a file, not a pipe: a chatty child never blocks
    with log_path.open("w") as log_file:
        child = subprocess.Popen([sys.executable, "-c", LOAD, str(settings.data_path),
                                  settings.store_url], stdout=subprocess.PIPE,
                                 stderr=log_file, text=True)
    lines: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:  # the applier is busy with batches the whole time
            lines.append(line)
            if len(lines) >= 400:
                break
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
    lines += rest.splitlines(keepends=True)
    acked = _acked([line for line in lines if line.endswith("\n")])
    assert len(acked) >= 400, log_path.read_text()[-20_000:]
    assert asyncio.run(_stored(settings, list(acked))) == acked


# -- Postgres stopped mid-load ----------------------------------------------------------------
@pytest.fixture
def own_server(postgres_server: str | None) -> Iterator[_postgres.Cluster]:
    _postgres.require(postgres_server)
    with _postgres.cluster() as node:
        yield node


async def test_postgres_stopped_mid_load_loses_no_acknowledged_turn(
        own_server: _postgres.Cluster, tmp_path: Path) -> None:
    url = _postgres.fresh_database(own_server.dsn())
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=url)
    engine = MemoryEngine(settings, store=PostgresStore.from_settings(settings))
    await engine.start()
    acked: dict[str, dict[str, str]] = {}
    done = asyncio.Event()
    ack = asyncio.Condition()

    async def caller(user: str) -> None:
        scope = engine.scope(project_id="p", agent_id="a", user_id=user)
        i = 0
        while not done.is_set():
            turn_id = f"{user}-{i}"
            event = await engine.save_response(scope, Caller(user), user_text=turn_id,
                                               assistant_text="ok", turn_id=turn_id)
            assert event is not None
            acked.setdefault(user, {})[turn_id] = event
            async with ack:
                ack.notify_all()
            i += 1
            await asyncio.sleep(0)  # let the other callers and the applier in

    async def more_acks(n: int) -> None:
        target = sum(len(v) for v in acked.values()) + n
        async with ack:
            await ack.wait_for(lambda: sum(len(v) for v in acked.values()) >= target)

    async def operator() -> None:
        loop = asyncio.get_running_loop()
        await more_acks(60)
        await loop.run_in_executor(None, own_server.stop, "immediate")
        await more_acks(100)  # acknowledged while the server is down
        await loop.run_in_executor(None, own_server.start)
        await more_acks(60)
        done.set()

    try:
        await asyncio.gather(operator(), *(caller(f"u{n}") for n in range(4)))
        assert await engine.flush(60), engine.stats()
        for user, turns in acked.items():
            scope = engine.scope(project_id="p", agent_id="a", user_id=user)
            assert await engine.store.find_turns(scope, list(turns)) == turns
        assert engine.stats()["healthy"] is True
    finally:
        if not own_server.running():
            own_server.start()
        await engine.close()
        _postgres.drop_database(own_server.dsn(), url)


async def test_operator_lists_and_retries_quarantined_records_through_the_client(
        settings: Settings) -> None:
    from voxmem import NotFound, VoiceClient

    client = VoiceClient(project_id="p", agent_id="a", embedded=True, settings=settings)
    try:
        engine = await client._transport.engine()  # type: ignore[attr-defined]
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        broken = _turn_record(engine, scope, "text")
        del broken["turn"]["sessionId"]  # type: ignore[attr-defined]
        seq = await engine.journal_append(broken)
        await client.flush(learning=True)
        (listed,) = await client.list_quarantined()
        assert listed["seq"] == seq and listed["userId"] == "u" and "sessionId" in listed["error"]
        retried = await client.retry_quarantined(seq)
        assert retried["seq"] == seq and retried["journaledAs"] > seq
        with pytest.raises(NotFound):
            await client.retry_quarantined(seq)
    finally:
        await client.aclose()


async def test_forgetting_a_caller_erases_their_quarantined_records(
        engine: MemoryEngine) -> None:
    scope = engine.scope(project_id="p", agent_id="a", user_id="gone")
    keep = engine.scope(project_id="p", agent_id="a", user_id="stays")
    for who in (scope, keep):
        broken = _turn_record(engine, who, f"words of {who.user_id}")
        del broken["turn"]["sessionId"]  # type: ignore[attr-defined]
        await engine.journal_append(broken)
    assert await engine.flush(30)
    assert len(await engine.store.list_quarantined()) == 2
    await engine.lifecycle.forget_user(scope)
    remaining = await engine.store.list_quarantined()
    assert [e.scope.user_id for e in remaining if e.scope] == ["stays"]
