"""Per-tenant API keys against a real runtime on loopback (uvicorn on a socket of its own,
the app ``voxmem serve`` runs), on SQLite and Postgres: two tenants, a key each, and the
runtime token. A key reaches its own tenant only, through every route; a revoked key is
refused from its next request on; the runtime token still reaches everything."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from voxmem import Settings, Unauthorized, VoiceClient, VoiceClientSync
from voxmem._handlers import ADMIN_OPERATIONS
from voxmem._operations import OPERATIONS
from voxmem.cli import main
from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app
from voxmem.store._api_keys import create_key, find_key, list_keys, revoke_key

TOKEN = "admin-token-0123456789"
ADMIN = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"projectId": "proj", "agentId": "agent"}
DANA = {"id": "caller-dana"}


class Runtime:
    def __init__(self, url: str, engine: MemoryEngine, keys: dict[str, tuple[str, str]],
                 settings: Settings) -> None:
        self.url = url
        self.engine = engine
        self.keys = keys  # tenant -> (key id, key)
        self.settings = settings

    def auth(self, tenant: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[tenant][1]}"}

    def client(self, tenant: str | None = None, **kw: Any) -> VoiceClient:
        key = TOKEN if tenant is None else self.keys[tenant][1]
        return VoiceClient(project_id="proj", agent_id="agent", runtime_url=self.url,
                           api_key=key, **kw)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    engine = MemoryEngine(settings)
    await engine.start()
    keys = {}
    for tenant in ("acme", "beta"):
        made, key = await create_key(engine.store, tenant)
        keys[tenant] = (made.key_id, key)
    # A socket bound and listening before the server runs: a request made before the
    # server accepts waits in the backlog, so nothing has to wait for "started".
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, token=TOKEN), lifespan="off",
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield Runtime(f"http://127.0.0.1:{port}", engine, keys, settings)
    finally:
        server.should_exit = True
        await serving
        sock.close()
        await engine.close()


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=runtime.url, timeout=30) as client:
        yield client


async def _seed_beta(runtime: Runtime) -> None:
    """Dana, a caller of tenant beta, with a call and a remembered preference."""
    beta = runtime.client("beta")
    try:
        await beta.save_response(user=DANA, user_text="My dog is called Biscuit.",
                                 assistant_text="Noted.")
        await beta.remember(user=DANA, memory_type="preferred_contact", content="email")
    finally:
        await beta.aclose()


def _forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden", response.text


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_a_key_naming_another_tenant_is_refused_on_every_operation(
        runtime: Runtime, http: httpx.AsyncClient, name: str) -> None:
    op = OPERATIONS[name]
    body = {"tenantId": "beta", **IDENT, "user": DANA}
    _forbidden(await http.post(op.path, json=body, headers=runtime.auth("acme")))
    # snake_case spelling too, and the GET twin's query
    snake = {"tenant_id": "beta", "project_id": "proj", "agent_id": "agent", "user": DANA}
    _forbidden(await http.post(op.path, json=snake, headers=runtime.auth("acme")))
    if op.spec.read_path is not None:
        _forbidden(await http.get(op.spec.read_path, params={"tenantId": "beta", **IDENT},
                                  headers=runtime.auth("acme")))


@pytest.mark.parametrize("name", sorted(ADMIN_OPERATIONS))
async def test_runtime_wide_operations_need_the_runtime_token(
        runtime: Runtime, http: httpx.AsyncClient, name: str) -> None:
    op = OPERATIONS[name]
    body = {**IDENT, **({"seq": 1} if name == "retry_quarantined" else {})}
    _forbidden(await http.post(op.path, json=body, headers=runtime.auth("acme")))
    answered = await http.post(op.path, json=body, headers=ADMIN)
    assert answered.status_code in (200, 404), answered.text  # 404: no such quarantined


async def test_a_key_learns_nothing_of_other_tenants_from_runtime_health(
        runtime: Runtime, http: httpx.AsyncClient) -> None:
    """``/v1/admin/health`` carries the journal's position, the store's last write error
    and the engine's counters, all runtime-wide: with acme's key it showed each of
    beta's saves (``turnsApplied``, ``journalSeq``), which ``/v1/runtime`` refuses."""
    await _seed_beta(runtime)
    answered = await http.post("/v1/admin/health", json=IDENT, headers=runtime.auth("acme"))
    _forbidden(answered)
    assert "turnsApplied" not in answered.text and "journal" not in answered.text
    health = await http.post("/v1/admin/health", json=IDENT, headers=ADMIN)
    assert health.status_code == 200 and health.json()["engine"]["journalSeq"] >= 1


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/metrics"), ("GET", "/v1/runtime"), ("GET", "/v1/settings"),
    ("POST", "/v1/admin/shutdown"), ("GET", "/"), ("GET", "/callers"),
    ("GET", "/callers.json"), ("GET", "/login"), ("GET", "/no/such/route")])
async def test_a_key_reaches_no_admin_route(runtime: Runtime, http: httpx.AsyncClient,
                                           method: str, path: str) -> None:
    _forbidden(await http.request(method, path, headers=runtime.auth("acme")))
    if path != "/v1/admin/shutdown":
        assert (await http.request(method, path, headers=ADMIN)).status_code in (200, 303, 404)


async def test_the_openapi_document_and_health_answer_a_key(
        runtime: Runtime, http: httpx.AsyncClient) -> None:
    assert (await http.get("/openapi.json", headers=runtime.auth("acme"))).status_code == 200
    assert (await http.get("/v1/health")).json() == {"status": "ok"}


async def test_one_tenant_cannot_read_write_search_export_import_or_forget_the_other(
        runtime: Runtime) -> None:
    await _seed_beta(runtime)
    acme = runtime.client("acme")
    intruder = runtime.client("acme", tenant_id="beta")
    admin_beta = runtime.client(tenant_id="beta")
    try:
        # Naming beta with acme's key: refused, whatever the call.
        attempts: list[Any] = [
            intruder.search_memory("what is the dog called?", user=DANA),
            intruder.save_response(user=DANA, user_text="my dog is Rex", assistant_text="ok"),
            intruder.list_memories(user=DANA),
            intruder.recall(user=DANA, memory_type="preferred_contact"),
            intruder.remember(user=DANA, memory_type="preferred_contact", content="phone"),
            intruder.export_user(user=DANA),
            intruder.import_user({"format": 2, "userId": DANA["id"], "sessions": [],
                                  "items": []}, user=DANA),
            intruder.forget(user=DANA, memory_type="preferred_contact"),
            intruder.forget_user(user=DANA),
            intruder.preload(user=DANA),
        ]
        for attempt in attempts:
            with pytest.raises(Unauthorized) as refused:
                await attempt
            assert refused.value.code == "forbidden" and refused.value.status_code == 403
        # Naming no tenant: acme's key works in acme, where Dana has no memory.
        found = await acme.search_memory("what is the dog called?", user=DANA)
        assert "Biscuit" not in found.contextText
        assert await acme.list_memories(user=DANA) == []
        assert await acme.recall(user=DANA, memory_type="preferred_contact") is None
        exported = await acme.export_user(user=DANA)
        assert exported["sessions"] == [] and exported["items"] == []
        await acme.forget_user(user=DANA)  # acme's Dana (nobody): beta's is untouched
        # Beta's Dana, read with the runtime token, is whole.
        assert await admin_beta.recall(user=DANA, memory_type="preferred_contact") == "email"
        beta_export = await admin_beta.export_user(user=DANA)
        said = [item.get("text") or item.get("userText") for item in beta_export["items"]]
        assert any("Biscuit" in str(text) for text in said), beta_export["items"]
    finally:
        for client in (acme, intruder, admin_beta):
            await client.aclose()


async def test_a_key_works_through_the_clients_without_a_tenant(runtime: Runtime) -> None:
    beta = runtime.client("beta")
    try:
        await beta.save_response(user=DANA, user_text="Call me after five.",
                                 assistant_text="Will do.")
        assert beta.tenant_id == "default"  # what it was given: nothing, sent as nothing
    finally:
        await beta.aclose()
    sync = await asyncio.to_thread(
        VoiceClientSync, project_id="proj", agent_id="agent", runtime_url=runtime.url,
        api_key=runtime.keys["beta"][1])
    try:
        exported = await asyncio.to_thread(sync.export_user, user=DANA)
        assert exported["sessions"], exported
    finally:
        await asyncio.to_thread(sync.close)
    # It was stored in beta, not in the default tenant.
    admin = runtime.client()
    try:
        assert (await admin.export_user(user=DANA))["sessions"] == []
    finally:
        await admin.aclose()


async def test_a_revoked_key_is_refused_from_its_next_request(
        runtime: Runtime, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {**IDENT, "user": DANA, "query": "anything"}
    search = OPERATIONS["search_memory"].path
    assert (await http.post(search, json=body, headers=runtime.auth("acme"))).status_code == 200
    nobody = await http.post(search, json=body, headers={"authorization": "Bearer vxk_x"})
    # Revoked by the CLI in another thread, on the store the runtime is serving.
    monkeypatch.setenv("VOXMEM_STORE_URL", runtime.settings.store_url)
    key_id = runtime.keys["acme"][0]
    assert await asyncio.to_thread(main, ["keys", "revoke", key_id, "--data-dir",
                                          runtime.settings.data_dir]) == 0
    for path in (search, OPERATIONS["list_memories"].path):  # the hot path and the other
        refused = await http.post(path, json=body, headers=runtime.auth("acme"))
        assert refused.status_code == 401
        # Reveals nothing: the very answer a made-up key gets.
        assert refused.content == nobody.content
        assert refused.headers["www-authenticate"] == "Bearer"
    assert (await http.post(search, json=body, headers=runtime.auth("beta"))).status_code == 200
    assert (await http.post(search, json=body, headers=ADMIN)).status_code == 200


@pytest.mark.parametrize("mangle", [
    lambda k: k[:-1], lambda k: k + "A", lambda k: k[:-1] + ("B" if k[-1] != "B" else "C"),
    lambda k: k.replace("vxk_", "vxk_0"), lambda k: "vxk_", lambda k: k.upper()])
async def test_a_key_one_character_off_is_refused(
        runtime: Runtime, http: httpx.AsyncClient, mangle: Any) -> None:
    key = runtime.keys["acme"][1]
    answered = await http.post(OPERATIONS["search_memory"].path,
                               json={**IDENT, "user": DANA, "query": "x"},
                               headers={"authorization": f"Bearer {mangle(key)}"})
    assert answered.status_code == 401


async def test_the_store_keeps_no_key_and_forgets_no_revocation(
        runtime: Runtime, tmp_path: Path) -> None:
    store = runtime.engine.store
    made, key = await create_key(store, "gamma")
    store_id = await store.store_id()
    assert await find_key(store, key, store_id) == (made.key_id, "gamma")
    listed = {k.key_id: k for k in await list_keys(store)}
    assert listed[made.key_id].tenant_id == "gamma" and listed[made.key_id].revoked_at is None
    # Only a hash is stored: the secret appears nowhere in the table.
    rows = await store.operator_rows(  # type: ignore[attr-defined]
        _select_all(), ())
    assert key.split("_", 2)[2] not in repr(rows)
    assert await revoke_key(store, made.key_id) is True
    assert await revoke_key(store, made.key_id) is False  # already revoked
    assert await find_key(store, key, store_id) is None
    assert (await list_keys(store))[-1].revoked_at is not None


def _select_all() -> Any:
    from voxmem.store import _sql as sql

    return sql.shared("SELECT * FROM api_keys")


async def test_keys_list_never_shows_a_key(runtime: Runtime,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXMEM_STORE_URL", runtime.settings.store_url)
    for args in (["keys", "list"], ["keys", "list", "--json"]):
        assert await asyncio.to_thread(main, [*args, "--data-dir",
                                              runtime.settings.data_dir]) == 0
        out = capsys.readouterr().out
        for key_id, key in runtime.keys.values():
            assert key_id in out and key.split("_", 2)[2] not in out


class HeldKeyRead:
    """The store's read of a key's row, held once armed: the row is read at once, the
    answer handed back only when released (a lookup begun before a revocation and
    finishing after it)."""

    def __init__(self, store: Any) -> None:
        self.armed = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self._real = store.operator_rows

    async def __call__(self, statement: Any, params: Any) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await self._real(statement, params)
        if self.armed and "FROM api_keys WHERE key_id" in str(statement):
            self.armed = False  # only the first lookup is held
            self.entered.set()
            await self.release.wait()
        return rows


@pytest.mark.parametrize("meanwhile", [None, "acme", "beta"])
async def test_a_lookup_racing_a_revocation_is_not_remembered(
        runtime: Runtime, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
        meanwhile: str | None) -> None:
    """A key read live just before its revocation, the answer arriving after it, must not
    be remembered past it: whether or not another request (with that key or another)
    came in while the read was held."""
    body = {**IDENT, "user": DANA, "query": "anything"}
    search = OPERATIONS["search_memory"].path
    held = HeldKeyRead(runtime.engine.store)
    monkeypatch.setattr(runtime.engine.store, "operator_rows", held)
    held.armed = True
    racing = asyncio.create_task(http.post(search, json=body, headers=runtime.auth("acme")))
    await held.entered.wait()
    monkeypatch.setenv("VOXMEM_STORE_URL", runtime.settings.store_url)
    assert await asyncio.to_thread(main, ["keys", "revoke", runtime.keys["acme"][0],
                                          "--data-dir", runtime.settings.data_dir]) == 0
    if meanwhile is not None:
        answered = await http.post(search, json=body, headers=runtime.auth(meanwhile))
        assert answered.status_code == (401 if meanwhile == "acme" else 200)
    held.release.set()
    # Begun before the revocation, it may be answered; nothing after it may be.
    assert (await racing).status_code == 200
    for _ in range(3):
        refused = await http.post(search, json=body, headers=runtime.auth("acme"))
        assert refused.status_code == 401
    assert (await http.post(search, json=body, headers=runtime.auth("beta"))).status_code == 200
