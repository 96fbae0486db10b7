"""Settings are validated when built: wrong choices, types and ranges are refused with
an error naming the setting (and its allowed values), never accepted silently."""

from __future__ import annotations

import math
from typing import Any

import pytest

from voxmem import Settings
from voxmem._config import CHOICES, MAX_BACKGROUND_PROCESSES
from voxmem._exceptions import BadRequest


@pytest.mark.parametrize(("name", "value"), [
    ("embedder", "nope"), ("extractor", "gpt"), ("memory_scope", "global"),
    ("journal_fsync", "sometimes"), ("runtime_log_level", "loud"),
])
def test_a_choice_outside_the_allowed_values_names_them(name: str, value: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings(**{name: value})
    assert caught.value.details["field"] == name
    assert caught.value.details["allowed"] == list(CHOICES[name])
    for allowed in CHOICES[name]:
        assert allowed in caught.value.message


@pytest.mark.parametrize(("name", "value"), [
    ("recall_timeout_ms", "250"), ("memory_enabled", 1), ("memory_enabled", "yes"),
    ("recency_weight", "0.1"), ("top_k_org", 2.5), ("store_url", None),
])
def test_a_value_of_the_wrong_type_is_refused(name: str, value: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings(**{name: value})
    assert caught.value.details["field"] == name


@pytest.mark.parametrize(("name", "value"), [
    ("recall_timeout_ms", 0), ("recall_timeout_ms", 600_000), ("top_k_permanent", 500),
    ("memory_retention_days", -1), ("rrf_k", 0), ("dense_floor", 2.0),
    ("index_max_documents", 0), ("caller_cache_size", 0), ("max_turn_text_bytes", 10),
    ("runtime_port_min", 0), ("runtime_port_max", 70_000), ("runtime_port_max", 7000),
    ("postgres_pool_min_size", 0), ("postgres_pool_max_size", 2),
    # Absurdly large, infinite or NaN: each used to be accepted (an infinite shutdown
    # timeout crashed `voxmem serve`, 1000 background processes forked a thousand).
    ("background_processes", 17), ("background_processes", 1000),
    ("background_processes", -1), ("index_batch_size", 10**9),
    ("caller_cache_size", 10**12), ("postgres_pool_max_size", 10**6),
    ("extraction_max_attempts", 10**6), ("embeddings_dimensions", 10**9),
    ("runtime_shutdown_timeout_s", math.inf), ("runtime_shutdown_timeout_s", 1e12),
    ("runtime_request_timeout_s", math.inf), ("runtime_start_timeout_s", math.nan),
    ("runtime_recall_grace_ms", math.inf), ("postgres_connect_timeout_s", math.inf),
    ("postgres_acquire_timeout_s", 1e9), ("session_idle_timeout_s", math.inf),
    ("maintenance_interval_s", math.inf), ("recency_half_life_days", math.inf),
    ("dense_weight", math.inf),
])
def test_a_value_out_of_range_is_refused(name: str, value: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings(**{name: value})
    assert name in caught.value.message
    assert caught.value.details["field"] == name


def test_replace_validates_too() -> None:
    with pytest.raises(BadRequest):
        Settings().replace(embedder="nope")


@pytest.mark.parametrize("word", ["flase", "maybe", "", "2", "enabled"])
def test_an_env_boolean_that_is_not_a_boolean_is_refused(word: str) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings.from_env(environ={"VOXMEM_MEMORY_ENABLED": word})
    assert "VOXMEM_MEMORY_ENABLED" in caught.value.message
    assert "false" in caught.value.message and "true" in caught.value.message


@pytest.mark.parametrize(("word", "expected"), [
    ("true", True), ("True", True), ("1", True), ("on", True), ("yes", True),
    ("false", False), ("False", False), ("0", False), ("off", False), ("no", False)])
def test_env_booleans_accept_the_usual_words(word: str, expected: bool) -> None:
    settings = Settings.from_env(environ={"VOXMEM_MEMORY_ENABLED": word})
    assert settings.memory_enabled is expected


def test_an_env_choice_is_checked_like_a_direct_one() -> None:
    with pytest.raises(BadRequest) as caught:
        Settings.from_env(environ={"VOXMEM_EMBEDDER": "nope"})
    assert "VOXMEM_EMBEDDER" in caught.value.message
    assert "static" in caught.value.message


@pytest.mark.parametrize(("name", "value"), [
    ("background_processes", 0), ("background_processes", MAX_BACKGROUND_PROCESSES),
    ("runtime_shutdown_timeout_s", 0.0), ("session_idle_timeout_s", 7 * 86_400.0),
])
def test_the_bounds_themselves_are_accepted(name: str, value: Any) -> None:
    assert getattr(Settings(**{name: value}), name) == value


def test_too_many_background_processes_names_the_bound() -> None:
    with pytest.raises(BadRequest) as caught:
        Settings.from_env(environ={"VOXMEM_BACKGROUND_PROCESSES": "1000"})
    assert "VOXMEM_BACKGROUND_PROCESSES" in caught.value.message
    assert f"0..{MAX_BACKGROUND_PROCESSES}" in caught.value.message


@pytest.mark.parametrize("raw", ["inf", "nan", "-inf", "1e400"])
def test_an_env_duration_that_is_not_finite_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        Settings.from_env(environ={"VOXMEM_RUNTIME_SHUTDOWN_TIMEOUT_S": raw})
    assert "VOXMEM_RUNTIME_SHUTDOWN_TIMEOUT_S" in caught.value.message


@pytest.mark.parametrize(("name", "value"), [
    ("data_dir", "/srv/voxmem "), ("data_dir", " /srv/voxmem"),
    ("store_url", "postgresql://db/voxmem\n"), ("runtime_host", "127.0.0.1 "),
    ("runtime_url", "http://10.0.0.5:7878 "), ("embeddings_base_url", " http://e/v1"),
    ("llm_base_url", "http://l/v1\t"), ("runtime_host", ""),
])
def test_a_path_host_or_url_with_stray_space_or_an_empty_host_is_refused(
        name: str, value: str) -> None:
    """A trailing space in ``VOXMEM_DATA_DIR`` named another directory, and an empty
    ``VOXMEM_RUNTIME_HOST`` failed at start-up as an unusable data directory."""
    with pytest.raises(BadRequest) as caught:
        Settings.from_env(environ={f"VOXMEM_{name.upper()}": value})
    assert caught.value.details["field"] == name


def test_a_comma_list_with_spaces_is_read_as_the_readme_writes_it() -> None:
    """The README calls sensitive_categories a comma list; "health, allergy" was refused
    as listing an unknown category (the space), though learning reads it stripped."""
    from voxmem.engine._learning import sensitive_policy

    settings = Settings.from_env(
        environ={"VOXMEM_SENSITIVE_CATEGORIES": "payment_card, health , allergy"})
    policy = sensitive_policy(settings)
    assert policy.payment_card and policy.health and not policy.allergy_constraints
    assert not policy.password_pin and not policy.government_id
    with pytest.raises(BadRequest) as caught:
        Settings(sensitive_categories="health, alergy")
    assert caught.value.field == "sensitive_categories"


@pytest.mark.parametrize("spelled", ["DEBUG", "Debug", "debug"])
def test_a_log_level_is_read_whatever_its_case(spelled: str) -> None:
    # Python's logging spells its levels in capitals; VOXMEM_RUNTIME_LOG_LEVEL=DEBUG was
    # refused as "must be one of debug, info, warning, error".
    assert Settings.from_env(environ={"VOXMEM_RUNTIME_LOG_LEVEL": spelled}
                             ).runtime_log_level == "debug"
    assert Settings(runtime_log_level=spelled).runtime_log_level == "debug"  # type: ignore[arg-type]
    from voxmem.cli import build_parser
    args = build_parser().parse_args(["serve", "--log-level", spelled])
    assert args.log_level == "debug"
