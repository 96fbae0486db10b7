"""A client sending its token over plain ``http://`` to a host that is not loopback
warns once (``voxmem.client``): the token, or a tenant's key, crosses the network in
the clear. Loopback and ``https://`` are not warned about."""

from __future__ import annotations

import logging

import pytest

from voxmem import VoiceClient


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "voxmem.client" and r.levelno == logging.WARNING]


async def test_plain_http_to_another_host_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    clients = []
    with caplog.at_level(logging.WARNING, logger="voxmem.client"):
        for url in ("http://192.0.2.10:7878", "http://192.0.2.10:7879/",
                    "http://memory.example.internal:7878"):
            clients.append(VoiceClient(project_id="p", agent_id="a", runtime_url=url,
                                       api_key="vxk_secret_value"))
    try:
        warned = _warnings(caplog)
        # One per host, however many clients or ports; the token is never in it.
        assert len(warned) == 2, warned
        assert "http://192.0.2.10" in warned[0] and "https://" in warned[0]
        assert "memory.example.internal" in warned[1]
        assert not any("vxk_secret_value" in w for w in warned)
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:7878", "http://127.3.4.5:7878", "http://[::1]:7878",
    "http://localhost:7878", "http://LOCALHOST:7878", "https://192.0.2.11:7878"])
async def test_loopback_and_https_do_not_warn(url: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="voxmem.client"):
        client = VoiceClient(project_id="p", agent_id="a", runtime_url=url, api_key="t")
    await client.aclose()
    assert _warnings(caplog) == []
