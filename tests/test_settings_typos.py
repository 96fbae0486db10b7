"""A misspelt setting variable is named in a warning instead of silently ignored."""

from __future__ import annotations

import logging

import pytest

from voxmem import Settings


def test_a_misspelt_variable_is_named_with_the_setting_it_nearly_spells(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="voxmem.config"):
        settings = Settings.from_env(environ={"VOXMEM_STORE_ULR": "postgresql://h/db",
                                              "VOXMEM_EMBEDDED": "1",
                                              "VOXMEM_PYTHON": "/usr/bin/python3"})
    assert settings.store_url == ""  # ignored, as before: but now said so
    warned = [r.getMessage() for r in caplog.records if r.name == "voxmem.config"]
    assert warned == ["VOXMEM_STORE_ULR is not a setting and is ignored; "
                      "did you mean VOXMEM_STORE_URL?"]


@pytest.mark.parametrize(("variable", "meant"), [
    ("VOXMEM_TOKEN", "did you mean VOXMEM_RUNTIME_TOKEN?"),
    ("VOXMEM_HOST", "did you mean VOXMEM_RUNTIME_HOST?"),
    ("VOXMEM_LOGLEVEL", "did you mean VOXMEM_RUNTIME_LOG_LEVEL?"),
    ("VOXMEM_PORT", "did you mean one of VOXMEM_RUNTIME_PORT_MAX, VOXMEM_RUNTIME_PORT_MIN?"),
    ("VOXMEM_URL", "did you mean one of VOXMEM_STORE_URL, VOXMEM_RUNTIME_URL, "
                   "VOXMEM_LLM_BASE_URL?"),
    ("VOXMEM_POSTGRES_URL", "did you mean VOXMEM_STORE_URL?"),
    ("VOXMEM_SHOUT", "`voxmem settings` lists the settings."),
])
def test_a_guessed_name_is_never_silently_ignored(variable: str, meant: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A new user's guesses (``VOXMEM_TOKEN``, ``VOXMEM_PORT``) were ignored without a
    word: only a near-spelling of a setting was warned about."""
    with caplog.at_level(logging.WARNING, logger="voxmem.config"):
        Settings.from_env(environ={variable: "x", "VOXMEM_STT": "deepgram/nova-3",
                                   "VOXMEM_TEST_PG_DSN": "postgresql://h/db"})
    warned = [r.getMessage() for r in caplog.records if r.name == "voxmem.config"]
    assert warned == [f"{variable} is not a setting and is ignored; {meant}"]
