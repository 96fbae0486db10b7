"""all-MiniLM-L6-v2 run with onnxruntime: the full transformer, int8-quantised.

Better on paraphrases than the static model but ~2.3 ms of CPU per query (a dozen
tokens) on one core, and ~50x slower to ingest, so it is not the default (see
docs/embeddings.md). The graph, tokenizer and config ship as package data under
``data/minilm-l6-onnx`` and are rebuilt by ``scripts/build_embedding_models.py``. Needs
the ``onnx`` extra: ``pip install 'voxmem[onnx]'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import BadRequest, VoxmemError
from ._base import Vectors, normalize_rows

__all__ = ["DEFAULT_ONNX_MODEL_DIR", "OnnxEmbedder"]

logger = logging.getLogger("voxmem.embeddings")

#: The bundled artifact, next to this module so it works from a wheel or a checkout.
DEFAULT_ONNX_MODEL_DIR = Path(__file__).resolve().parent / "data" / "minilm-l6-onnx"

#: Tokens per text given to the model; longer texts are truncated (MiniLM's own limit).
DEFAULT_MAX_TOKENS = 256
#: Texts run through the model per call. 1 on purpose: the int8 graph quantises its
#: activations with one scale per tensor, computed over the whole batch, so a text's
#: vector would depend on its batch-mates (cosine 0.98 between a query embedded alone and
#: the same text embedded next to a long one). One text per run makes vectors exact and
#: reproducible for ~12% less throughput (measured 202 vs 229 sentences/s).
DEFAULT_BATCH_SIZE = 1
#: One intra-op thread: on a small shared host, more threads contend with the event loop
#: and other work and made single queries slower, not faster.
DEFAULT_INTRA_OP_THREADS = 1

_REQUIRED_FILES = ("config.json", "tokenizer.json", "model.onnx")


class OnnxEmbedder:
    """Mean-pooled, L2-normalised MiniLM embeddings via onnxruntime (384 dims).

    Example::

        embedder = OnnxEmbedder()
        vectors = embedder.embed(["I moved to Lisbon", "where do I live now?"])
    """

    cheap = False

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        intra_op_num_threads: int = DEFAULT_INTRA_OP_THREADS,
        memory_arena: bool = True,
        memory_pattern: bool = True,
        session_config: Mapping[str, str] | None = None,
        shrink_after_tokens: int | None = None,
    ) -> None:
        """``memory_arena``, ``memory_pattern`` and ``session_config`` (onnxruntime
        session config entries) are passed to the session as they are; the defaults
        are the shipped session (``benchmarks/embedders.py --onnx-memory`` compares
        others). ``shrink_after_tokens``: a run over a batch longer than this many
        tokens hands the memory arena's growth back when it ends (None, the shipped
        session: never; 0: after every run). Not the default: it saved ~20 MB of
        MiniLM's own memory after long texts, but nothing measurable in a whole
        engine, for up to ~15 % more CPU a stored turn (docs/embeddings.md, "The
        memory arena")."""
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise VoxmemError(
                "the onnx embedder needs onnxruntime, which is not installed: "
                "pip install 'voxmem[onnx]' (or set VOXMEM_EMBEDDER=static)",
                code="embedder.unavailable",
                status_code=503,
                details={"setting": "embedder", "missing_package": "onnxruntime"},
            ) from exc
        from tokenizers import Tokenizer

        directory = Path(model_dir) if model_dir is not None else DEFAULT_ONNX_MODEL_DIR
        missing = [name for name in _REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            raise VoxmemError(
                f"onnx embedding model incomplete: {', '.join(missing)} not found in "
                f"{directory}. Reinstall voxmem, or rebuild with "
                "scripts/build_embedding_models.py.",
                code="embedder.unavailable",
                status_code=503,
                details={"model_dir": str(directory), "missing": missing},
            )
        if (max_tokens < 2 or batch_size < 1 or intra_op_num_threads < 1
                or (shrink_after_tokens is not None and shrink_after_tokens < 0)):
            raise BadRequest(
                "OnnxEmbedder needs max_tokens >= 2, batch_size >= 1, intra_op_num_threads "
                ">= 1 and shrink_after_tokens >= 0 (or None)"
            )
        config: dict[str, Any] = json.loads((directory / "config.json").read_text("utf-8"))

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.enable_cpu_mem_arena = memory_arena
        options.enable_mem_pattern = memory_pattern
        for key, value in (session_config or {}).items():
            options.add_session_config_entry(key, value)
        self._session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._run_options = ort.RunOptions()
        self._shrink_options = ort.RunOptions()
        self._shrink_options.add_run_config_entry("memory.enable_memory_arena_shrinkage",
                                                  "cpu:0")
        self._shrink_after = shrink_after_tokens

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(min(max_tokens, int(config.get("max_tokens", 512))))
        # Pad to the longest text of each batch rather than to a fixed length.
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._batch_size = batch_size

        self.dimensions = int(config.get("dimensions", 384))
        model_id = str(config.get("model_id", directory.name))
        digest = str(config.get("model_sha256", ""))[:8] or "unversioned"
        self.name = f"{model_id}-{self.dimensions}d@{digest}"
        # The graph is the source model itself (int8 weights: cosine 0.99 to it), so its
        # vectors live in that model's space; a static table trained into it pairs with it.
        source = config.get("source") or {}
        self.vector_space = str(config.get("vector_space") or source.get("model") or self.name)
        logger.debug("loaded onnx embedder %s from %s", self.name, directory)

    def _run(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        shrink = self._shrink_after is not None and ids.shape[1] > self._shrink_after
        run_options = self._shrink_options if shrink else self._run_options
        hidden = np.asarray(self._session.run(None, feed, run_options)[0], dtype=np.float32)
        weights = mask.astype(np.float32)[:, :, None]
        # Mean over real tokens only; padding positions carry garbage states.
        summed = (hidden * weights).sum(axis=1)
        counts = np.maximum(weights.sum(axis=1), 1.0)
        pooled: npt.NDArray[np.float32] = summed / counts
        return pooled

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns shape ``(len(texts), dimensions)``, rows unit length."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        # Length-sorted batches: a batch pads to its longest text, so mixing a 5-token
        # query with a 250-token document would waste 50x the compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return normalize_rows(out)
