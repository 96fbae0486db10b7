"""Settings: every default in one place, as a table of (name, default, env var, help).

The table drives the environment parsing, the CLI's ``voxmem settings`` listing, the
runtime's ``/v1/settings`` endpoint and the configuration table in the docs. The
environment is read when :meth:`Settings.from_env` is called, never at import time.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, get_args

from ._config_names import warn_unknown_variables
from ._exceptions import BadRequest

__all__ = ["ENV_PREFIX", "UNSET", "SecretMaskingFilter", "Settings", "Unset", "default_data_dir",
           "mask_secrets", "setting_default", "settings_table"]

ENV_PREFIX = "VOXMEM_"


class _UnsetType(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Not given": an argument left at this default is not sent, so the value in force
#: (a stored policy, a server setting) applies instead of a client-side copy of it.
UNSET: Final = _UnsetType.UNSET
Unset = Literal[_UnsetType.UNSET]

EmbedderName = Literal["static", "onnx", "static+onnx", "openai", "hashing"]
FusionName = Literal["learned", "rrf"]
MemoryScopeName = Literal["project", "agent"]
ExtractorName = Literal["rules", "llm", "off"]
JournalFsync = Literal["always", "interval", "never"]
LogLevel = Literal["debug", "info", "warning", "error"]
CallerLinkMode = Literal["attach", "propose", "off"]
#: Most results a lane's top_k may ask for (a setting or one request).
MAX_TOP_K = 50
#: Longest recall deadline a setting or one request may ask for.
MAX_TIMEOUT_MS = 60_000
#: Longest retention a setting or policy may ask for (100 years; 0 means no cap).
MAX_RETENTION_DAYS = 36_500
#: Most worker processes ``background_processes`` may start: each holds its own copy of
#: the extractor, and a typo of 1000 must not fork a thousand processes at start-up.
MAX_BACKGROUND_PROCESSES = 16
#: Upper bounds of durations, in seconds. An infinite or absurd timeout fails at start-up
#: rather than deep inside the server (``inf`` used to crash ``voxmem serve``).
MAX_IDLE_S = 7 * 86_400
MAX_WAIT_S = 3_600
#: Settings naming a path, address or URL: a stray space (``VOXMEM_DATA_DIR="/srv/vm "``)
#: would otherwise name another directory or host without a word.
_NO_SPACE_AROUND = ("data_dir", "store_url", "runtime_host", "runtime_url",
                    "embeddings_base_url", "llm_base_url")
#: How a non-empty store_url may begin (the store package opens each of these).
STORE_URL_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")
SENSITIVE_CATEGORIES = ("payment_card", "password_pin", "government_id", "health",
                        "allergy")
#: Settings restricted to a fixed set of values, and the values.
CHOICES: dict[str, tuple[str, ...]] = {
    "embedder": get_args(EmbedderName),
    "fusion": get_args(FusionName),
    "memory_scope": get_args(MemoryScopeName),
    "extractor": get_args(ExtractorName),
    "journal_fsync": get_args(JournalFsync),
    "runtime_log_level": get_args(LogLevel),
    "caller_link_mode": get_args(CallerLinkMode),
}
#: What an environment variable may say for a boolean setting; anything else is refused
#: rather than read as False ("flase" must not turn memory off).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def default_data_dir() -> Path:
    """Where the store, journal and runtime files live unless told otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "voxmem"


def _s(default: Any, help_text: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Engine and runtime settings. Build with :meth:`from_env` or construct directly.

    Example::

        settings = Settings(recall_timeout_ms=150, recency_half_life_days=14)
    """

    data_dir: str = _s("", "Directory for the SQLite store, journal and runtime files "
                       "(empty: $XDG_DATA_HOME/voxmem).")
    store_url: str = _s("", "Store location. Empty: SQLite file in data_dir; "
                        "sqlite:///path: that SQLite file; postgresql://... selects the "
                        "Postgres backend. Any other form is refused.")
    embedder: EmbedderName = _s("static", "Embedding model: static (default, bundled, no "
                                "torch), onnx (bundled MiniLM, needs the onnx extra), "
                                "static+onnx (both side by side: caller memories keep the "
                                "static table's vector and MiniLM's, written in the "
                                "background, and MiniLM's ranking joins recall as a third "
                                "list; best recall, ~90 MB more RSS, needs the onnx extra), "
                                "openai (HTTP endpoint), hashing (deterministic, tests only).")
    embeddings_base_url: str = _s("", "OpenAI-compatible embeddings endpoint "
                                  "(embedder=openai), e.g. http://127.0.0.1:11434/v1.")
    embeddings_model: str = _s("text-embedding-3-small", "Model name sent to the "
                               "OpenAI-compatible embeddings endpoint.")
    embeddings_api_key: str = _s("", "API key for the embeddings endpoint (may be empty "
                                 "for local servers).")
    embeddings_dimensions: int = _s(0, "Vector size the endpoint returns (0: ask it once).")
    memory_scope: MemoryScopeName = _s("project", "Caller memory is shared by all agents of "
                                       "a project (project) or kept per agent (agent).")
    recall_timeout_ms: int = _s(250, "Default deadline of search_memory in milliseconds.")
    top_k_working: int = _s(4, "Default hits from the working lane.")
    top_k_permanent: int = _s(6, "Default hits from the permanent lane.")
    top_k_org: int = _s(4, "Default hits from the org lane.")
    context_char_budget: int = _s(2400, "Hard cap on the length of contextText.")
    recency_half_life_days: float = _s(30.0, "Age at which a memory's recency boost halves.")
    recency_weight: float = _s(0.05, "Share of the final score given to recency (0..1).")
    rrf_k: int = _s(5, "Reciprocal-rank-fusion constant k (small: top ranks dominate).")
    dense_weight: float = _s(0.5, "Weight of the vector ranking in fusion (keyword is 1.0).")
    dense_floor: float = _s(0.3, "Cosine below which a vector-only hit is ignored.")
    fusion: FusionName = _s("learned", "Final ranking of caller memories: learned (a "
                            "logistic model fitted on the development data, shipped for the "
                            "static, onnx and static+onnx embedders; other embedders fall "
                            "back to rrf) or "
                            "rrf (hand-set reciprocal-rank fusion with call, neighbour and "
                            "time constants).")
    default_region: str = _s("US", "Region (ISO 3166 code such as US, GB, DE) of phone "
                             "numbers given without a country prefix; empty: accept only "
                             "international numbers.")
    caller_link_mode: CallerLinkMode = _s(
        "attach", "Another caller's identifier said in a call, backed by the owner's name or "
        "a second identifier of theirs: attach (move the call there, undoably), propose "
        "(record a merge to review) or off. Said alone, it only proposes.")
    memory_enabled: bool = _s(True, "Record and recall caller memory (projects and agents "
                              "can override it with a memory policy).")
    memory_retention_days: int = _s(90, "Days a memory stays recallable before cleanup "
                                    "deletes it (0: no cap); policies can override it.")
    extractor: ExtractorName = _s("rules", "How facts are learned at the end of a call: "
                                  "rules (offline, default), llm (OpenAI-compatible "
                                  "endpoint), off.")
    llm_base_url: str = _s("", "OpenAI-compatible chat endpoint for extractor=llm, e.g. "
                           "http://127.0.0.1:11434/v1 (Ollama).")
    llm_model: str = _s("", "Model name for extractor=llm.")
    llm_api_key: str = _s("", "API key for the LLM endpoint (may be empty for local servers).")
    sensitive_categories: str = _s("payment_card,password_pin,government_id,health",
                                   "Sensitive data redacted from transcripts and never kept "
                                   "as facts (comma list; empty: none). A caller's own "
                                   "declared allergy is kept as a constraint unless "
                                   "'allergy' is listed too.")
    session_idle_timeout_s: float = _s(900.0, "A call with no activity for this long is "
                                       "ended and learned from (a killed worker's call).")
    maintenance_interval_s: float = _s(30.0, "How often the runtime ends idle calls, retries "
                                       "failed extractions and applies retention.")
    extraction_max_attempts: int = _s(5, "Extraction attempts per call before it is left "
                                      "for an operator (the transcript is kept).")
    journal_fsync: JournalFsync = _s("always", "Journal durability: always (fsync before "
                                     "ack), interval (fsync every 50 ms), never (OS "
                                     "decides).")
    max_turn_text_bytes: int = _s(65536, "Largest user_text / assistant_text accepted.")
    index_max_documents: int = _s(100, "Most documents accepted by one create_index call.")
    index_max_bytes: int = _s(1_000_000, "Largest create_index payload in bytes.")
    chunk_chars: int = _s(800, "Target chunk size for org documents, in characters.")
    chunk_overlap_chars: int = _s(120, "Characters shared by consecutive chunks.")
    postgres_pool_min_size: int = _s(4, "Connections each runtime keeps open to Postgres.")
    postgres_pool_max_size: int = _s(8, "Most connections each runtime opens to Postgres.")
    postgres_connect_timeout_s: float = _s(2.0, "Postgres connect timeout: an unreachable "
                                           "server fails fast and writes wait in the journal.")
    postgres_acquire_timeout_s: float = _s(2.0, "Longest wait for a free pooled connection.")
    caller_cache_size: int = _s(512, "Callers whose search index is kept warm in memory.")
    index_batch_size: int = _s(64, "Turns embedded and written per background batch.")
    background_processes: int = _s(1, "Worker processes that learn from ended calls (rule "
                                   "extraction, entity graph) off the request path's GIL, "
                                   "at most 16; 0: a thread in this process (slows saves "
                                   "and searches while a call is learned).")
    text_worker: bool = _s(False, "Redact, scan and analyse saved turns in a worker "
                           "process (batched; inline while it starts or if it dies), off "
                           "the event loop that serves requests. Turn it on where a core is "
                           "free: on a quiet 2-core host it lifted 1,000 offered req/s "
                           "from 834-909 to 991-993 answered; on an oversubscribed one "
                           "it cost throughput (docs/performance.md, seventh round).")
    org_words_worker: bool = _s(False, "Search the org lane's words (BM25 over an org "
                                "index of 20,000+ chunks) in a worker process while the "
                                "event loop ranks the caller's memories; the same answers "
                                "(docs/performance.md, tenth round).")
    runtime_host: str = _s("127.0.0.1", "Address the runtime binds.")
    runtime_port_min: int = _s(7878, "Lowest port the runtime may bind.")
    runtime_port_max: int = _s(7977, "Highest port the runtime may bind.")
    runtime_url: str = _s("", "URL of a runtime to use instead of the local one, e.g. "
                          "http://10.0.0.5:7878 (empty: find or start the local runtime).")
    runtime_token: str = _s("", "Bearer token for runtime_url (the local runtime's token is "
                            "read from its token file).")
    runtime_start_timeout_s: float = _s(30.0, "How long a client waits for an auto-launched "
                                        "runtime to answer its health check.")
    runtime_request_timeout_s: float = _s(30.0, "Deadline of runtime calls other than "
                                          "search_memory (which uses its own timeout_ms).")
    runtime_recall_grace_ms: float = _s(250.0, "Transport allowance added to a recall's "
                                        "timeout_ms before the client gives up on the "
                                        "runtime and returns a degraded result.")
    runtime_max_body_bytes: int = _s(16_000_000, "Largest request body the runtime reads; "
                                     "bigger requests get 413.")
    runtime_shutdown_timeout_s: float = _s(10.0, "On shutdown, how long the runtime waits "
                                           "for requests in flight before it flushes and "
                                           "exits.")
    runtime_log_level: LogLevel = _s("info", "Log level of the runtime (debug, info, "
                                     "warning, error, in any case); its log is runtime.log "
                                     "in data_dir.")

    def __post_init__(self) -> None:
        # A level name as logging spells it (DEBUG, Info) is the same level: refusing
        # VOXMEM_RUNTIME_LOG_LEVEL=DEBUG surprised every operator who tried it.
        level = self.runtime_log_level
        if isinstance(level, str) and level != level.lower():
            object.__setattr__(self, "runtime_log_level", level.lower())
        # Validated when built, however built: a bad value fails here, naming the
        # setting, rather than far away when it is first used.
        self.validated()

    @classmethod
    def from_env(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Defaults, then ``VOXMEM_<NAME>`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        warn_unknown_variables(env, ENV_PREFIX, _FIELD_NAMES)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f, raw)
        for name, value in (overrides or {}).items():
            if name not in _FIELD_NAMES:
                raise BadRequest(f"unknown setting {name!r}", field=name)
            values[name] = value
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> Settings:
        """Check every value when the settings are built, naming the setting at fault.

        Types first (a string where a number belongs, ``1`` for a boolean), then the
        fixed choices, then ranges and combinations.
        """
        for f in dataclasses.fields(self):
            _check_type(f, getattr(self, f.name))
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise BadRequest(f"setting {name} ({ENV_PREFIX}{name.upper()}) must be one "
                                 f"of {', '.join(allowed)} (got {getattr(self, name)!r})",
                                 field=name, details={"allowed": list(allowed)})
        checks: list[tuple[bool, str, str]] = [
            (self.extractor != "llm" or bool(self.llm_base_url and self.llm_model),
             "llm_base_url", "and llm_model must be set when extractor=llm"),
            (0 <= self.memory_retention_days <= MAX_RETENTION_DAYS, "memory_retention_days",
             f"must be within 0..{MAX_RETENTION_DAYS} (0: no cap)"),
            _range(self, "session_idle_timeout_s", 0, MAX_IDLE_S, open_low=True),
            _range(self, "maintenance_interval_s", 0, 86_400, open_low=True),
            # Read as learning reads it (engine/_learning.py): "health, allergy" is a
            # comma list too.
            (set(filter(None, (c.strip() for c in self.sensitive_categories.split(","))))
             <= set(SENSITIVE_CATEGORIES), "sensitive_categories",
             "may list only " + ", ".join(SENSITIVE_CATEGORIES)),
            (0 < self.recall_timeout_ms <= MAX_TIMEOUT_MS, "recall_timeout_ms",
             f"must be within 1..{MAX_TIMEOUT_MS}"),
            _range(self, "embeddings_dimensions", 0, 65_536),
            *[(0 <= getattr(self, name) <= MAX_TOP_K, name, f"must be within 0..{MAX_TOP_K}")
              for name in ("top_k_working", "top_k_permanent", "top_k_org")],
            # Anything else was opened as a SQLite file named after the URL, relative to
            # the working directory: a mistyped Postgres URL wrote memory there silently.
            (not self.store_url or self.store_url.startswith(STORE_URL_SCHEMES),
             "store_url", "must be empty (SQLite in data_dir), postgresql://... or "
             "sqlite:///path/to/file.db"),
            (self.rrf_k >= 1, "rrf_k", "must be >= 1"),
            _range(self, "dense_weight", 0, 100),
            (-1.0 <= self.dense_floor <= 1.0, "dense_floor", "must be within -1..1"),
            _range(self, "extraction_max_attempts", 1, 100),
            (self.max_turn_text_bytes >= 1024, "max_turn_text_bytes", "must be >= 1024"),
            (self.index_max_documents >= 1, "index_max_documents", "must be >= 1"),
            (self.index_max_bytes >= 1024, "index_max_bytes", "must be >= 1024"),
            _range(self, "caller_cache_size", 1, 1_000_000),
            _range(self, "index_batch_size", 1, 10_000),
            _range(self, "background_processes", 0, MAX_BACKGROUND_PROCESSES),
            _range(self, "postgres_acquire_timeout_s", 0, MAX_WAIT_S, open_low=True),
            (self.context_char_budget >= 200, "context_char_budget", "must be >= 200"),
            _range(self, "recency_half_life_days", 0, MAX_RETENTION_DAYS, open_low=True),
            (0.0 <= self.recency_weight <= 1.0, "recency_weight", "must be within 0..1"),
            (self.chunk_chars >= 100, "chunk_chars", "must be >= 100"),
            (0 <= self.chunk_overlap_chars < self.chunk_chars, "chunk_overlap_chars",
             "must be >= 0 and smaller than chunk_chars"),
            # Each half of a range is named on its own, so the error points at the value
            # that is wrong rather than at its partner.
            (0 < self.runtime_port_min < 65536, "runtime_port_min", "must be within 1..65535"),
            (self.runtime_port_min <= self.runtime_port_max < 65536, "runtime_port_max",
             "must be within runtime_port_min..65535"),
            (self.postgres_pool_min_size >= 1, "postgres_pool_min_size", "must be >= 1"),
            (self.postgres_pool_min_size <= self.postgres_pool_max_size <= 1000,
             "postgres_pool_max_size", "must be within postgres_pool_min_size..1000"),
            *[_range(self, name, 0, MAX_WAIT_S, open_low=True) for name in (
                "postgres_connect_timeout_s", "runtime_start_timeout_s",
                "runtime_request_timeout_s")],
            _range(self, "runtime_recall_grace_ms", 0, MAX_TIMEOUT_MS),
            (self.runtime_max_body_bytes >= 1024, "runtime_max_body_bytes", "must be >= 1024"),
            _range(self, "runtime_shutdown_timeout_s", 0, MAX_WAIT_S),
            (bool(self.runtime_host), "runtime_host", "must not be empty (127.0.0.1: this "
             "host only)"),
            *[(getattr(self, name) == getattr(self, name).strip(), name,
               "must not begin or end with a space") for name in _NO_SPACE_AROUND],
            (not self.default_region or _known_region(self.default_region), "default_region",
             "must be a region code such as US, GB or DE (or empty)"),
            (not self.runtime_url or self.runtime_url.startswith(("http://", "https://")),
             "runtime_url", "must start with http:// or https://"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise BadRequest(f"setting {name} ({ENV_PREFIX}{name.upper()}) {why} (got "
                                 f"{mask_secrets(repr(getattr(self, name)))})", field=name)
        return self

    @property
    def data_path(self) -> Path:
        """The data directory as a path, with the default applied."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for display; secrets (API keys, runtime token, the password in
        a store or endpoint URL) are masked."""
        out = dataclasses.asdict(self)
        for secret in SECRET_SETTINGS:
            if out.get(secret):
                out[secret] = MASK
        for name, value in out.items():
            if isinstance(value, str) and "://" in value:
                out[name] = mask_secrets(value)
        return out

    def secret_values(self) -> tuple[str, ...]:
        """The secret strings these settings hold, for masking in free text."""
        values = [getattr(self, name) for name in SECRET_SETTINGS]
        values += [m.group(2) for name in ("store_url", "embeddings_base_url", "llm_base_url",
                                           "runtime_url")
                   for m in _URL_PASSWORD.finditer(getattr(self, name))]
        # Very short values would mask ordinary words; a real secret is longer.
        return tuple(v for v in values if len(v) >= MIN_SECRET_CHARS)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))


def _range(settings: Settings, name: str, low: float, high: float,
           open_low: bool = False) -> tuple[bool, str, str]:
    """A check that setting ``name`` lies in ``low..high`` (NaN and infinity fail it)."""
    value = getattr(settings, name)
    ok = (low < value if open_low else low <= value) and value <= high
    return (ok, name, f"must be more than {low} and at most {high}" if open_low
            else f"must be within {low}..{high}")


#: Settings shown as ``***`` wherever settings are displayed.
SECRET_SETTINGS = ("embeddings_api_key", "runtime_token", "llm_api_key")
MASK = "***"
MIN_SECRET_CHARS = 4
# scheme://user:password@host — the password is group 2.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)@")
# libpq key=value connection strings: password=... (quoted or not).
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with URL passwords, ``password=`` values and ``secrets`` replaced by ***.

    Example::

        mask_secrets("postgresql://app:hunter2@db/voxmem")  # 'postgresql://app:***@db/voxmem'
    """
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class SecretMaskingFilter(logging.Filter):
    """A handler filter that masks secrets in every log line it passes.

    Installed on the runtime's log handler so a library message that quotes a connection
    string (a driver error, a debug dump) never writes a password to ``runtime.log``.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self._secrets = settings.secret_values() if settings is not None else ()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message, self._secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback text is rendered later from the exception; render it now,
            # masked, so the formatter uses this text instead.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_secrets(text, self._secrets)
        return True


def _check_type(f: dataclasses.Field[Any], value: Any) -> None:
    kind: type[Any] = type(f.default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise BadRequest(f"setting {f.name} ({ENV_PREFIX}{f.name.upper()}) must be of "
                         f"type {kind.__name__}, got {type(value).__name__}", field=f.name)


#: Regions known without asking phonenumbers: its import costs ~0.15 s, which every
#: voice worker would pay just to build its Settings with the default region.
_COMMON_REGIONS = frozenset({"US", "GB", "CA", "AU", "DE", "FR", "ES", "IT", "NL", "IN"})


def _known_region(code: str) -> bool:
    if code.upper() in _COMMON_REGIONS:
        return True
    import phonenumbers  # only for a less common region, so settings stay cheap to build

    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    kind: type[Any] = type(f.default)
    try:
        if kind is bool:
            word = raw.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise BadRequest(
                    f"environment variable {ENV_PREFIX}{f.name.upper()}={raw!r} is not a "
                    f"boolean; use one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}",
                    field=f.name, details={"allowed": sorted(TRUE_WORDS | FALSE_WORDS)})
            return word in TRUE_WORDS
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise BadRequest(
            f"environment variable {ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid "
            f"{kind.__name__}",
            field=f.name,
        ) from None
    return raw


def setting_default(name: str) -> Any:
    """The default of setting ``name``, for code that must not keep its own copy."""
    for f in dataclasses.fields(Settings):
        if f.name == name:
            return f.default
    raise KeyError(name)


def settings_table() -> list[dict[str, Any]]:
    """Rows of (name, default, env, help) for docs, CLI and the runtime's settings page."""
    return [
        {
            "name": f.name,
            "default": f.default,
            "env": ENV_PREFIX + f.name.upper(),
            "help": f.metadata["help"],
        }
        for f in dataclasses.fields(Settings)
    ]
