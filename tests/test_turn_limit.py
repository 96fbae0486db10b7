"""A turn over `max_turn_text_bytes` is refused whole with a 413 that names the limit and
the setting that raises it (the decision: refuse, never store a cut turn silently; see
docs/operations.md), and nothing of it is written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voxmem import BadRequest, Settings, VoiceClient

USER = {"id": "caller-long"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[VoiceClient]:
    c = VoiceClient(project_id="p", agent_id="a", embedded=True, settings=settings)
    try:
        yield c
    finally:
        await c.aclose()


async def test_a_turn_over_the_limit_is_a_413_naming_the_setting(client: VoiceClient) -> None:
    limit = client.settings.max_turn_text_bytes
    with pytest.raises(BadRequest) as caught:
        await client.save_response(user=USER, user_text="word " * (limit // 4),
                                   assistant_text="ok")
    err = caught.value
    assert err.status_code == 413
    assert err.details["field"] == "user_text" and err.details["limit"] == limit
    assert "max_turn_text_bytes" in err.message
    assert "VOXMEM_MAX_TURN_TEXT_BYTES" in err.message
    assert (await client.export_user(user=USER))["items"] == []
