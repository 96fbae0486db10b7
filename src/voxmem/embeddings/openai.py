"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint.

Works with OpenAI, Ollama (``http://127.0.0.1:11434/v1``), vLLM and llama.cpp's server.
Every failure becomes a :class:`~voxmem._exceptions.VoxmemError` with code
``embedder.unavailable``; no httpx exception reaches the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from .._exceptions import BadRequest, VoxmemError
from ._base import Vectors, normalize_rows

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_S",
    "DEFAULT_TIMEOUT_S",
    "OpenAIEmbedder",
]

logger = logging.getLogger("voxmem.embeddings")

#: Texts sent per request; well under every provider's per-request input limit.
DEFAULT_BATCH_SIZE = 64
#: Seconds allowed for one request (connect + read).
DEFAULT_TIMEOUT_S = 30.0
#: Further attempts after a 429, a 5xx or a transport error; other errors fail at once.
DEFAULT_MAX_RETRIES = 2
#: First pause between attempts; doubles each time, and a Retry-After header (capped at
#: :data:`_MAX_RETRY_AFTER_S`) takes precedence.
DEFAULT_RETRY_BACKOFF_S = 0.5
_MAX_RETRY_AFTER_S = 10.0
_PROBE_TEXT = "dimension probe"


def _unavailable(message: str, *, retryable: bool, status: int | None = None) -> VoxmemError:
    details: dict[str, Any] = {"setting": "embeddings_base_url"}
    if status is not None:
        details["upstream_status"] = status
    return VoxmemError(
        message,
        code="embedder.unavailable",
        status_code=503,
        details=details,
        retryable=retryable,
    )


class OpenAIEmbedder:
    """Client for an OpenAI-compatible embeddings API (sync ``httpx.Client``).

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or
            ``http://127.0.0.1:11434/v1``; ``/embeddings`` is appended.
        model: model name sent with each request.
        api_key: sent as ``Authorization: Bearer``; None for local servers.
        dimensions: the vector size the endpoint returns. None: learned from the first
            response (reading :attr:`dimensions` before any embed sends one probe request).
            A response of another size is an error.

    Example::

        embedder = OpenAIEmbedder(base_url="http://127.0.0.1:11434/v1",
                                  model="nomic-embed-text")
        vectors = embedder.embed(["I moved to Lisbon"])
    """

    cheap = False

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_backoff_s: float = DEFAULT_RETRY_BACKOFF_S,
    ) -> None:
        if not base_url or not base_url.strip():
            raise BadRequest(
                "embedder=openai needs an endpoint: set embeddings_base_url "
                "(VOXMEM_EMBEDDINGS_BASE_URL), e.g. http://127.0.0.1:11434/v1",
                field="embeddings_base_url",
            )
        if not model:
            raise BadRequest(
                "embedder=openai needs a model name: set embeddings_model "
                "(VOXMEM_EMBEDDINGS_MODEL)",
                field="embeddings_model",
            )
        if dimensions is not None and dimensions <= 0:
            raise BadRequest(
                "embeddings_dimensions must be positive", field="embeddings_dimensions"
            )
        if batch_size < 1 or max_retries < 0 or timeout_s <= 0 or retry_backoff_s < 0:
            raise BadRequest(
                "OpenAIEmbedder needs batch_size >= 1, max_retries >= 0, timeout_s > 0 "
                "and retry_backoff_s >= 0"
            )
        self.model = model
        self.name = f"openai:{model}"
        self._url = base_url.rstrip("/") + "/embeddings"
        self._dimensions = dimensions
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._backoff_s = retry_backoff_s
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(headers=headers, timeout=timeout_s)

    @property
    def dimensions(self) -> int:
        """Vector size; probes the endpoint once if it was not given and not yet seen."""
        if self._dimensions is None:
            self._request([_PROBE_TEXT])
        assert self._dimensions is not None  # set by _request or it raised
        return self._dimensions

    @dimensions.setter
    def dimensions(self, value: int) -> None:
        self._dimensions = value

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIEmbedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in batches of ``batch_size`` requests; rows unit length."""
        if not texts:
            return np.zeros((0, self._dimensions or 0), dtype=np.float32)
        parts = [
            self._request(list(texts[start : start + self._batch_size]))
            for start in range(0, len(texts), self._batch_size)
        ]
        return normalize_rows(np.vstack(parts))

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        """POST with bounded retries on 429, 5xx and transport errors."""
        attempt = 0
        while True:
            delay = self._backoff_s * (2**attempt)
            try:
                response = self._client.post(self._url, json=payload)
            except httpx.TransportError as exc:
                # Connection refused, DNS, timeouts: the endpoint may come back.
                if attempt >= self._max_retries:
                    raise _unavailable(
                        f"embeddings endpoint {self._url} unreachable after "
                        f"{attempt + 1} attempts ({type(exc).__name__}: {exc}); "
                        "check embeddings_base_url and that the server is running",
                        retryable=True,
                    ) from None
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status != 429 and status < 500:
                    raise self._client_error(response)
                if attempt >= self._max_retries:
                    raise _unavailable(
                        f"embeddings endpoint {self._url} answered {status} "
                        f"{_snippet(response)} after {attempt + 1} attempts",
                        retryable=True,
                        status=status,
                    )
                delay = max(delay, _retry_after(response))
            attempt += 1
            logger.warning(
                "embeddings request to %s failed, retry %d/%d in %.2fs",
                self._url,
                attempt,
                self._max_retries,
                delay,
            )
            time.sleep(delay)

    def _client_error(self, response: httpx.Response) -> VoxmemError:
        status = response.status_code
        if status in (401, 403):
            hint = "check embeddings_api_key (VOXMEM_EMBEDDINGS_API_KEY)"
        elif status == 404:
            hint = (
                "check embeddings_base_url (it should end at the API root, e.g. /v1) "
                "and embeddings_model"
            )
        else:
            hint = "check embeddings_model and the endpoint's logs"
        return _unavailable(
            f"embeddings endpoint {self._url} rejected the request with {status} "
            f"{_snippet(response)}; {hint}",
            retryable=False,
            status=status,
        )

    def _request(self, batch: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        response = self._post({"model": self.model, "input": batch})
        try:
            body = response.json()
            items = sorted(body["data"], key=lambda item: int(item.get("index", 0)))
            matrix = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _unavailable(
                f"embeddings endpoint {self._url} sent a response that is not an OpenAI "
                f"embeddings list ({type(exc).__name__}: {exc})",
                retryable=False,
            ) from None
        if matrix.ndim != 2 or matrix.shape[0] != len(batch):
            raise _unavailable(
                f"embeddings endpoint {self._url} returned {matrix.shape[0]} vectors "
                f"for {len(batch)} inputs",
                retryable=False,
            )
        if self._dimensions is None:
            self._dimensions = int(matrix.shape[1])
        elif matrix.shape[1] != self._dimensions:
            raise _unavailable(
                f"embeddings endpoint {self._url} returned {matrix.shape[1]}-dimensional "
                f"vectors but embeddings_dimensions is {self._dimensions}; set "
                "embeddings_dimensions to match the model (0 to learn it)",
                retryable=False,
            )
        return matrix


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except Exception:  # a body that cannot be decoded still must not leak an exception
        return ""
    text = " ".join(text.split())
    return f"({text[:limit]})" if text else ""


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after")
    if raw is None:
        return 0.0
    try:
        return min(max(float(raw), 0.0), _MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0
