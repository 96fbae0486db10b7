"""The caller pool (SPEC §5.3), sessions, identity and the LLM tool adapters — on the
embedded transport, which shares every line of client logic with the HTTP one."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxmem import BadRequest, IdentityMismatch, PoolError, Settings, VoiceClient, VoxmemError
from voxmem.client import MemoryTool, VoiceClientSync
from voxmem.client._pool import CallerPool
from voxmem.models import SearchResult

#: Deadline of a search whose answer, not its speed, is under test.
UNHURRIED_MS = 30_000.0
USER = {"id": "caller-1", "name": "Ada"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the pool on its own ---------------------------------------------------------------------
def test_pool_evicts_the_least_recently_used_idle_handle() -> None:
    clock = FakeClock()
    pool = CallerPool(2, 300, clock)
    a, _ = pool.checkout("a")
    pool.checkin(a)
    b, _ = pool.checkout("b")
    pool.checkin(b)
    again, evicted = pool.checkout("a")  # a becomes most recent
    pool.checkin(again)
    assert again is a and evicted is None
    c, evicted = pool.checkout("c")
    assert evicted is b
    assert c.user_id == "c"
    assert "b" not in pool and "a" in pool and "c" in pool
    assert pool.stats()["evictions"] == 1


def test_pool_never_evicts_a_busy_handle_and_reports_exhaustion() -> None:
    pool = CallerPool(2, 300, FakeClock())
    pool.checkout("a")  # in flight
    pool.checkout("b", pin=True)  # pinned by a session
    with pytest.raises(PoolError) as err:
        pool.checkout("c")
    assert err.value.code == "pool.exhausted"
    assert err.value.details["maxConcurrentUsers"] == 2
    assert "a" in pool and "b" in pool


def test_pool_reaps_only_idle_handles_past_the_ttl() -> None:
    clock = FakeClock()
    pool = CallerPool(5, 10, clock)
    idle, _ = pool.checkout("idle")
    pool.checkin(idle)
    pool.checkout("busy")
    clock.now += 11
    assert pool.expired() == [idle]
    assert "busy" in pool and "idle" not in pool
    # Not reaped until the client has retired it (ended its call).
    assert pool.stats()["reaped"] == 0
    pool.mark_reaped(idle)
    assert pool.stats()["reaped"] == 1


def test_closed_pool_refuses() -> None:
    pool = CallerPool(1, 1, FakeClock())
    pool.checkout("a")
    assert len(pool.close()) == 1
    with pytest.raises(PoolError) as err:
        pool.checkout("a")
    assert err.value.code == "pool.closed"


@pytest.mark.parametrize(("size", "ttl"), [(0, 1), (-1, 1), (True, 1), (1, 0), (1, -5)])
def test_pool_limits_are_validated(size: Any, ttl: Any) -> None:
    with pytest.raises(BadRequest):
        CallerPool(size, ttl)


# -- the pool inside the client --------------------------------------------------------------
@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[VoiceClient]:
    c = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                    settings=settings, max_concurrent_users=2, runtime_idle_ttl_s=0.2)
    try:
        yield c
    finally:
        await c.aclose()


async def test_all_handles_pinned_is_pool_exhausted(client: VoiceClient) -> None:
    async with client.session(user={"id": "a"}), client.session(user={"id": "b"}):
        with pytest.raises(PoolError) as err:
            await client.search_memory("hi", user={"id": "c"})
        assert err.value.code == "pool.exhausted"
    # Both calls ended: the third caller now gets a handle.
    await client.search_memory("hi", user={"id": "c"})


async def test_eviction_keeps_every_acknowledged_turn(settings: Settings) -> None:
    # A TTL no save outlasts: with the fixture's 0.2 s, a save slowed by a loaded machine
    # lets the reaper retire a handle first, and a reaped handle is not an eviction.
    client = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                         settings=settings, max_concurrent_users=2, runtime_idle_ttl_s=600)
    try:
        for i in range(6):  # six callers through a pool of two
            await client.save_response(user_text=f"my code word is kiwi{i}",
                                       assistant_text="noted", user={"id": f"u{i}"})
        assert client.pool_stats["evictions"] == 4
        await client.flush()
        for i in range(6):
            result = await client.search_memory(f"code word kiwi{i}", user={"id": f"u{i}"})
            assert f"kiwi{i}" in result.contextText
    finally:
        await client.aclose()


async def test_idle_reaper_ends_calls_left_open(client: VoiceClient) -> None:
    await client.save_response(user_text="hello", assistant_text="hi", user=USER)
    assert client.pool_stats["handles"] == 1
    # The TTL is 0.2 s; the reaper looks every 0.1 s. Counted only once the call ended.
    await asyncio.wait_for(client._pool.wait_reaped(1), 60)
    assert client.pool_stats["reaped"] == 1 and client.pool_stats["handles"] == 0
    # The reaper ended the open call, so there is nothing left to end.
    with pytest.raises(VoxmemError) as err:
        await client.end_session(user=USER)
    assert err.value.code == "session_not_found"


async def test_closed_client_raises_pool_closed(client: VoiceClient) -> None:
    await client.aclose()
    for call in (client.search_memory("x", user=USER), client.list_indexes()):
        with pytest.raises(PoolError) as err:
            await call
        assert err.value.code == "pool.closed"


async def test_eviction_does_not_stall_the_event_loop(sqlite_settings: Settings) -> None:
    client = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                         settings=sqlite_settings, max_concurrent_users=3)
    # CPU of the loop's thread between two ticks, not wall time: on a loaded machine
    # the OS can hold the whole process off a core for longer than any stall this
    # guards against (a retired handle's work run inline on the loop).
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.thread_time()
            await asyncio.sleep(0.005)
            lags.append(time.thread_time() - before)

    await client.save_response(user_text="warm up", assistant_text="ok", user={"id": "w"})
    # Nor the collector's: a full collection walks the whole test process's heap (60 ms
    # alone here, longer late in a full suite run), which is not a retired handle's work.
    gc.disable()
    task = asyncio.create_task(ticker())
    try:
        for i in range(40):  # every new caller evicts the least recently used one
            await client.save_response(user_text=f"turn {i}", assistant_text="ok",
                                       user={"id": f"c{i}"})
            await client.search_memory("turn", user={"id": f"c{i}"})
    finally:
        stop.set()
        await task
        gc.enable()
        await client.aclose()
    assert client.pool_stats["evictions"] > 30
    assert max(lags) < 0.15, f"event loop busy {max(lags) * 1000:.0f} ms between ticks"


# -- sessions and identity -------------------------------------------------------------------
async def test_session_context_opens_pins_and_ends_the_call(client: VoiceClient) -> None:
    async with client.session(user=USER, session_id="ses-1") as call:
        assert call.session_id == "ses-1"
        await call.save_response(user_text="I prefer email", assistant_text="Email it is")
        assert "email" in (await call.search_memory("contact preference")).contextText
    with pytest.raises(VoxmemError) as err:
        await client.end_session(user=USER)
    assert err.value.code == "session_not_found"


async def test_session_ends_with_error_reason_when_the_block_raises(
        client: VoiceClient) -> None:
    with pytest.raises(ZeroDivisionError):
        async with client.session(user=USER) as call:
            _ = 1 / 0
    assert call.ended
    assert client.pool_stats["busy"] == 0


async def test_session_needs_a_caller(client: VoiceClient) -> None:
    with pytest.raises(BadRequest) as err:
        client.session(user={"id": ""})
    assert err.value.field == "user.id"


async def test_identity_mismatch_surfaces_as_its_class(client: VoiceClient) -> None:
    await client.start_session(user=USER, session_id="ses-owned")
    await client.flush()
    with pytest.raises(IdentityMismatch) as err:
        async with client.session(user={"id": "intruder"}, session_id="ses-owned"):
            pass
    assert err.value.code == "identity_mismatch" and err.value.status_code == 409
    assert client.pool_stats["busy"] == 0


async def test_identity_mismatch_before_the_store_has_the_session(
        client: VoiceClient) -> None:
    # No flush: the first caller's session is only journaled when the second asks.
    first: dict[str, Any] | BaseException
    second: dict[str, Any] | BaseException
    first, second = await asyncio.gather(
        client.start_session(user={"id": "owner"}, session_id="ses-race"),
        client.start_session(user={"id": "intruder"}, session_id="ses-race"),
        return_exceptions=True)
    assert isinstance(first, dict) and first["userId"] == "owner"
    assert isinstance(second, IdentityMismatch)
    # The owner can still come back to its own session.
    again = await client.start_session(user={"id": "owner"}, session_id="ses-race")
    assert again["sessionId"] == "ses-race"


def test_sync_session_and_tool(settings: Settings) -> None:
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=settings) as client:
        with client.session(user=USER) as call:
            call.save_response(user_text="Call me Ada, I live in Lisbon",
                               assistant_text="Hello Ada")
            assert "Lisbon" in call.search_memory("where does she live").contextText
        tool = client.search_memory_tool(user=USER)
        text = asyncio.run(tool("where does the caller live?"))
        assert "Lisbon" in text
        assert tool.last_trace is not None and "totalMs" in tool.last_trace


# -- the tool and its adapters ---------------------------------------------------------------
async def test_memory_tool_searches_the_pinned_caller_only(client: VoiceClient) -> None:
    await client.save_response(user_text="My dog is called Biscuit",
                               assistant_text="Lovely", user=USER)
    await client.save_response(user_text="My dog is called Rex", assistant_text="Nice",
                               user={"id": "other"})
    # About whose memory is searched, not how fast: with the default 250 ms deadline a
    # loaded machine answered degraded (a lane cut off), and the trace check below failed.
    tool = client.search_memory_tool(user=USER, timeout_ms=UNHURRIED_MS)
    assert tool.name == "search_memory"
    text = await tool("what is the dog called?")
    assert "Biscuit" in text and "Rex" not in text
    assert tool.last_trace is not None and tool.last_trace["degraded"] is False


def test_tool_schema_is_an_openai_function_with_a_real_description() -> None:
    schema = MemoryTool(_never).schema()
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "search_memory"
    assert len(fn["description"]) > 80 and "caller" in fn["description"]
    assert fn["parameters"]["required"] == ["query"]
    assert fn["parameters"]["properties"]["query"]["type"] == "string"


async def test_tool_failure_is_a_sentence_not_an_exception() -> None:
    async def failing(query: str, intent: str) -> SearchResult:
        raise VoxmemError("runtime gone", code="runtime.start_failed")

    tool = MemoryTool(failing)
    text = await tool("anything")
    assert "unavailable" in text
    assert tool.last_trace == {"degraded": True, "errors": {"client": "runtime.start_failed"}}


async def test_pipecat_tool_answers_through_the_result_callback(client: VoiceClient) -> None:
    await client.save_response(user_text="My plan is Premium", assistant_text="Got it",
                               user=USER)
    adapter = client.to_pipecat_tool(user=USER)
    assert adapter["name"] == "search_memory"
    function = client.to_openai_function()["function"]
    assert adapter["schema"].name == function["name"]
    assert adapter["schema"].properties == function["parameters"]["properties"]
    answers: list[str] = []

    class Params:  # the shape of pipecat's FunctionCallParams
        def __init__(self) -> None:
            self.arguments = {"query": "which plan?"}

        async def result_callback(self, text: str) -> None:
            answers.append(text)

    returned = await adapter["handler"](Params())
    assert answers == [returned] and "Premium" in returned


def test_livekit_tool_keeps_name_and_description_or_says_what_to_install(
        sqlite_settings: Settings) -> None:
    client = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                         settings=sqlite_settings)
    try:
        import livekit.agents  # noqa: F401
    except ImportError:
        with pytest.raises(VoxmemError) as err:
            client.to_livekit_tool(user=USER)
        assert "pip install 'voxmem[livekit]'" in err.value.message
        return
    tool = client.to_livekit_tool(user=USER)
    info = tool.info
    assert info.name == "search_memory"
    assert info.description == client.search_memory_tool(user=USER).description


async def _never(query: str, intent: str) -> SearchResult:
    raise AssertionError("not called")


def test_sync_session_mirrors_the_async_session() -> None:
    import inspect

    from voxmem.client import CallerSession, CallerSessionSync

    def methods(cls: type) -> dict[str, inspect.Signature]:
        return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls)
                if inspect.isfunction(fn) and not name.startswith("_")}

    async_api, sync_api = methods(CallerSession), methods(CallerSessionSync)
    assert async_api.keys() == sync_api.keys()
    for name, sig in async_api.items():
        assert sig.parameters == sync_api[name].parameters, name
