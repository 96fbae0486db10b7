"""The dashboard's export of a caller answers as the caller's page does: a 404 for a
caller with nothing stored here. Before, ``/callers/<unknown>/export`` downloaded an
empty export with 200 (read as "stored nothing about them") while the page said 404,
and a caller known only by memories stored outside a call (``remember``) had a 404 page
and a full export. An erased caller is a 404 on both: an erasure leaves nothing to tell the
caller apart from one never seen, and the page says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.runtime._app import create_app

AUTH = {"authorization": "Bearer t"}
BODY = {"project_id": "p", "agent_id": "a"}


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    extractor="off")


def _sign_in(client: TestClient) -> None:
    nonce = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert nonce is not None
    client.post("/login", data={"csrf": nonce.group(1), "token": "t"})


def _remember(client: TestClient, user_id: str, content: str) -> None:
    said = client.post("/v1/memories/remember", headers=AUTH, json={
        **BODY, "user_id": user_id, "memory_type": "pet", "content": content})
    assert said.status_code == 200, said.text


def test_a_caller_export_answers_as_the_caller_page(settings: Settings) -> None:
    with TestClient(create_app(MemoryEngine(settings), token="t"),
                    base_url="http://127.0.0.1") as client:
        _remember(client, "dana", "a dog")
        _remember(client, "guest-1", "a cat")
        assert client.post("/v1/callers/merge", headers=AUTH, json={
            **BODY, "from_id": "guest-1", "to_id": "dana"}).status_code == 200
        _remember(client, "erin", "a parrot")
        assert client.post("/v1/callers/forget", headers=AUTH, json={
            **BODY, "user_id": "erin"}).status_code == 200
        _sign_in(client)

        export = client.get("/callers/dana/export?project=p")
        assert client.get("/callers/dana?project=p").status_code == 200
        assert export.status_code == 200
        assert export.json()["userId"] == "dana"
        assert {i["text"] for i in export.json()["items"]} == {"pet: a dog", "pet: a cat"}

        # Known only by a memory stored outside a call: a page (it was a 404) and an export.
        _remember(client, "ray", "a hamster")
        assert client.get("/callers/ray?project=p").status_code == 200
        assert client.get("/callers/ray/export?project=p").json()["userId"] == "ray"

        # A guest's id answers for the caller it was merged into, page and export alike.
        assert client.get("/callers/guest-1?project=p").status_code == 200
        export = client.get("/callers/guest-1/export?project=p")
        assert export.json()["userId"] == "dana"
        assert 'filename="voxmem-dana.json"' in export.headers["content-disposition"]

        for user_id in ("nobody", "erin"):
            page = client.get(f"/callers/{user_id}?project=p")
            export = client.get(f"/callers/{user_id}/export?project=p")
            assert (page.status_code, export.status_code) == (404, 404), user_id
            assert "content-disposition" not in export.headers, user_id
            # What an operator reads: which id, and why a known one can be missing.
            assert user_id in export.text and "erased" in export.text, export.text[:300]
            twin = client.get(f"/callers/{user_id}/export?project=p",
                              headers={"accept": "application/json"})
            assert twin.status_code == 404
            assert twin.json()["error"]["code"] == "caller_not_found"
