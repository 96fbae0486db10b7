"""The static embedder's pooling and ``normalize_rows`` call numpy's ufuncs directly.

Every search embeds its query on the event loop, so ``StaticEmbedder._pool`` and
``normalize_rows`` skip the Python wrappers of ``ndarray.mean`` and
``np.linalg.norm`` and make the calls those wrappers make. A stored vector and a query's
must stay what they were bit for bit (stored vectors are compared with new queries, and
the recall benchmarks' answers must not move): these tests hold the direct calls to the
wrappers' results, byte for byte.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxmem.embeddings import normalize_rows
from voxmem.embeddings.static import StaticEmbedder

TEXTS = [
    "where did I say I moved to last spring?",
    "I play the clarinet and my sister plays violin",
    "Melanie: I love painting sunsets by the lake\nThat sounds lovely.",
    "a",  # one token: the mean of one row
    "",
    "   ",
    "zzqxv qqqzx",  # word pieces only
    "Café naïve résumé über Straße 東京 タワー",
    "call me at 555-0134 re: ticket #8842, PIN 0000",
    "word " * 3000,  # past the token and character bounds
    "the the the the the the the the the the the the",  # one row many times
]


def _reference_normalize(matrix: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: npt.NDArray[np.float32] = (m / norms).astype(np.float32, copy=False)
    return out


def _reference_embed(embedder: StaticEmbedder, text: str) -> npt.NDArray[np.float32]:
    out = np.zeros((1, embedder.dimensions), dtype=np.float32)
    ids = embedder.token_ids([text])[0]
    if ids:
        out[0] = embedder.token_table()[ids].mean(axis=0)
    row: npt.NDArray[np.float32] = _reference_normalize(out)[0]
    return row


def test_a_query_embeds_as_numpy_mean_and_norm(embedder: StaticEmbedder) -> None:
    for text in TEXTS:
        got = embedder.embed([text])[0]
        assert got.dtype == np.float32
        assert got.tobytes() == _reference_embed(embedder, text).tobytes(), text


def test_a_batch_embeds_as_numpy_mean_and_norm(embedder: StaticEmbedder) -> None:
    expected = np.stack([_reference_embed(embedder, t) for t in TEXTS])
    assert embedder.embed(TEXTS).tobytes() == expected.tobytes()
    vectors, ids = embedder.embed_with_token_ids(TEXTS)
    assert vectors.tobytes() == expected.tobytes()
    assert ids == embedder.token_ids(TEXTS)


def test_normalize_rows_is_numpy_norm() -> None:
    rng = np.random.default_rng(7)
    cases: list[npt.NDArray[np.floating]] = [
        rng.standard_normal((50, 384)).astype(np.float32),
        rng.standard_normal((3, 7)),  # float64 in, float32 out
        np.zeros((4, 16), dtype=np.float32),  # zero rows stay zero
        np.vstack([np.zeros(8), np.full(8, 1e-30), np.full(8, 3e18)]).astype(np.float32),
        np.zeros((0, 384), dtype=np.float32),
        (rng.standard_normal((5, 384)) * 1e-3).astype(np.float16),
    ]
    for matrix in cases:
        got = normalize_rows(matrix)
        want = _reference_normalize(matrix)
        assert got.dtype == want.dtype == np.float32
        assert got.shape == want.shape
        assert got.tobytes() == want.tobytes()
