"""The default embedder: a static (model2vec-style) model distilled from all-MiniLM-L6-v2.

Every vocabulary token has one precomputed 384-dimensional row, trained so that the mean
of a text's rows points where MiniLM's embedding of the text does (MiniLM's own space);
a text's vector is that mean, L2-normalised. No neural network runs at query time, so
one short query costs a tokenizer call and a few vector additions (~0.05 ms), which is
what lets recall stay inside a voice turn's budget. The table and tokenizer ship as
package data under ``data/static-minilm-384`` and are rebuilt by
``scripts/distill_static.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import VoxmemError
from ._base import Vectors, normalize_rows

__all__ = ["DEFAULT_STATIC_MODEL_DIR", "StaticEmbedder"]

logger = logging.getLogger("voxmem.embeddings")

#: The bundled artifact, next to this module so it works from a wheel or a checkout.
DEFAULT_STATIC_MODEL_DIR = Path(__file__).resolve().parent / "data" / "static-minilm-384"

_REQUIRED_FILES = ("config.json", "tokenizer.json", "embeddings.npy")
# Characters kept per allowed token before tokenising: bounds the cost of a huge input
# (the tokenizer is linear in characters) while never cutting a text that fits.
_CHARS_PER_TOKEN_BOUND = 16


def _missing_artifact(model_dir: Path, missing: Sequence[str]) -> VoxmemError:
    return VoxmemError(
        f"static embedding model incomplete: {', '.join(missing)} not found in {model_dir}. "
        "Reinstall voxmem, or rebuild with scripts/distill_static.py.",
        code="embedder.unavailable",
        status_code=503,
        details={"model_dir": str(model_dir), "missing": list(missing)},
    )


class StaticEmbedder:
    """Mean of precomputed token vectors; numpy + ``tokenizers`` only, no torch.

    Texts with no known token (for example the empty string) embed to the zero vector,
    which scores 0 against everything.

    Example::

        embedder = StaticEmbedder()
        vectors = embedder.embed(["I moved to Lisbon", "where do I live now?"])
        similarity = float(vectors[0] @ vectors[1])
    """

    cheap = True

    def __init__(self, model_dir: str | Path | None = None) -> None:
        from tokenizers import Tokenizer

        directory = Path(model_dir) if model_dir is not None else DEFAULT_STATIC_MODEL_DIR
        missing = [name for name in _REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            raise _missing_artifact(directory, missing)

        config: dict[str, Any] = json.loads((directory / "config.json").read_text("utf-8"))
        table = np.load(directory / "embeddings.npy", allow_pickle=False)
        # float32 in memory: float16 sums are several times slower in numpy, and the
        # table (30k x 384) is ~45 MB as float32.
        self._table: npt.NDArray[np.float32] = np.ascontiguousarray(table, dtype=np.float32)
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The artifact's tokenizer may carry truncation/padding settings; we do our own.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        unk = config.get("unk_token_id")
        self._unk_id: int | None = None if unk is None else int(unk)
        self._max_tokens = int(config.get("max_tokens", 512))
        self._max_chars = self._max_tokens * _CHARS_PER_TOKEN_BOUND

        self.dimensions = int(self._table.shape[1])
        if self.dimensions != int(config.get("dimensions", self.dimensions)):
            raise VoxmemError(
                f"static embedding model in {directory} is inconsistent: config.json says "
                f"{config.get('dimensions')} dimensions, embeddings.npy has {self.dimensions}",
                code="embedder.unavailable",
                status_code=503,
            )
        model_id = str(config.get("model_id", directory.name))
        digest = str(config.get("embeddings_sha256", ""))[:8] or "unversioned"
        # The table's hash is part of the name so a rebuilt table is seen as a new model.
        self.name = f"{model_id}-{self.dimensions}d@{digest}"
        # A table trained into its teacher's space (no PCA) says so in config.json; it can
        # then be paired with the teacher itself (PairedEmbedder). Otherwise its own space.
        self.vector_space = str(config.get("vector_space") or self.name)
        logger.debug("loaded static embedder %s from %s", self.name, directory)

    def _token_ids(self, encoding_ids: list[int]) -> list[int]:
        if self._unk_id is not None:
            # Like model2vec: an unknown token carries no meaning, only noise.
            encoding_ids = [i for i in encoding_ids if i != self._unk_id]
        return encoding_ids[: self._max_tokens]

    def token_table(self) -> npt.NDArray[np.float32]:
        """The token vectors a text's vector is the mean of, one row per token id
        (recall's topic features compare single words through it)."""
        return self._table

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids :meth:`embed` pools for each of ``texts``, in order."""
        encodings = self._tokenizer.encode_batch_fast(
            [text[: self._max_chars] for text in texts], add_special_tokens=False)
        return [self._token_ids(encoding.ids) for encoding in encodings]

    def embed_with_token_ids(self, texts: Sequence[str]) -> tuple[Vectors, list[list[int]]]:
        """:meth:`embed` and :meth:`token_ids` of ``texts`` from one tokenizer pass.

        The write path embeds a saved turn with this and keeps the ids for recall's
        topic features, which would otherwise tokenise the turn again on its first
        search. The vectors are :meth:`embed`'s, bit for bit (the same pooling per row).
        """
        ids = self.token_ids(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, row_ids in enumerate(ids):
            self._pool(row_ids, out[row])
        return normalize_rows(out), ids

    def _pool(self, ids: list[int], out: npt.NDArray[np.float32]) -> None:
        if ids:
            # ``self._table[ids].mean(axis=0)`` written into ``out`` by the calls numpy's
            # mean makes (the rows' sum, then a division by the count as an ``intp``,
            # cast back), without its Python wrapper: bit for bit the same row, in a
            # third less time (the query's embedding runs on the event loop).
            np.add.reduce(self._table[ids], axis=0, out=out)
            np.true_divide(out, np.intp(len(ids)), out=out, casting="unsafe")

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns shape ``(len(texts), dimensions)``, rows unit length."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if len(texts) == 1:
            # Fast path for the per-turn query: skips the batch machinery.
            encoding = self._tokenizer.encode(texts[0][: self._max_chars], add_special_tokens=False)
            self._pool(self._token_ids(encoding.ids), out[0])
        elif texts:
            clipped = [text[: self._max_chars] for text in texts]
            encodings = self._tokenizer.encode_batch_fast(clipped, add_special_tokens=False)
            # The same per-row pooling as the fast path, so a text embeds identically
            # alone or in a batch.
            for row, encoding in enumerate(encodings):
                self._pool(self._token_ids(encoding.ids), out[row])
        return normalize_rows(out)
