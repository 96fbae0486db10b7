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
