"""An OpenAPI generator turns the served document into a typed client that works.

``openapi-python-client`` (a dev dependency) generates a package from ``/openapi.json``
into a temporary directory; the test imports it and drives the runtime app with it
(in-process, over httpx's ASGI transport): typed request models in, typed response
models out, and the error envelope parsed as the documented ``Error`` model.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app
from voxmem.runtime._app import openapi_document

TOKEN = "generated-client-token-0123"
PACKAGE = "voxmem_generated_client"


def _generator() -> str:
    found = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client"))
    if not Path(found).exists():
        raise RuntimeError("openapi-python-client is a dev dependency: "
                           "pip install -e '.[dev]'")
    return found


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    where = tmp_path_factory.mktemp("generated")
    spec = where / "openapi.json"
    spec.write_text(json.dumps(openapi_document("0.0.0-test")))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run([_generator(), "generate", "--path", str(spec), "--meta", "none",
                           "--output-path", str(where / PACKAGE)], cwd=where, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_saves_and_recalls(generated: ModuleType,
                                                     engine: MemoryEngine) -> None:
    models = _module("models")
    save = _module("api.memory.save_response")
    search = _module("api.memory.search_memory")
    list_indexes = _module("api.memory.list_indexes_get")
    app = create_app(engine, token=TOKEN)
    client = generated.AuthenticatedClient(base_url="http://runtime", token=TOKEN)
    client.set_async_httpx_client(httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runtime",
        headers={"Authorization": f"Bearer {TOKEN}"}))
    user = models.CallerRef(id="caller-gen", name="Grace")

    saved = await save.asyncio(client=client, body=models.TurnRequest(
        project_id="proj", agent_id="agent", user=user,
        user_text="Please send updates by email, I prefer email",
        assistant_text="Noted, email it is."))
    assert isinstance(saved, models.TurnSaved), saved
    assert saved.event_id.startswith("evt_")

    found = await search.asyncio(client=client, body=models.SearchRequest(
        project_id="proj", agent_id="agent", user=user, query="send updates by email"))
    assert isinstance(found, models.SearchResponse), found
    assert "email" in found.context_text
    assert found.trace.degraded is False

    indexes = await list_indexes.asyncio(client=client, project_id="proj")
    assert indexes == []

    refused = await search.asyncio(client=client, body=models.SearchRequest(
        project_id="proj", agent_id="agent", user=models.CallerRef(id=""), query="x"))
    assert isinstance(refused, models.Error), refused
    assert refused.error.code == "bad_request"
    await client.get_async_httpx_client().aclose()
