"""Compare voxmem's embedders: cost (load, query latency, throughput, memory) and
dense-only retrieval quality on the LoCoMo development data.

For each of ``static`` (default), ``onnx`` (int8 MiniLM), ``hashing`` and, when
sentence-transformers is importable, the reference ``minilm`` (all-MiniLM-L6-v2 in torch):

  * load time of the model, and the process's RSS growth from loading + warming it;
  * single-query latency p50/p95 over 1000 short queries (LoCoMo questions, one at a time),
    by wall clock and by the thread's CPU (what a loaded machine inflates least), and the
    first query after load;
  * batch throughput in sentences/s over 2000 LoCoMo turns (batches of 64), and its CPU
    per text;
  * for a model that is not cheap (a transformer), the CPU of one text by its length in
    words (1 to 254): the part every text pays and the part per token;
  * evidence recall@1/5/10 on LoCoMo categories 1-4 via the shared harness, retrieving by
    cosine over embedded turns alone (no BM25, no recency): the embedder's own quality.
    The harness's search p50 is end to end: query embedding + exact top-k over one caller.

Each embedder runs in its own subprocess so load time and RSS are not polluted by the
others. Usage, from the repository root::

    python benchmarks/embedders.py                 # writes benchmarks/results/embedders.json
    python benchmarks/embedders.py --only static onnx
    python benchmarks/embedders.py --onnx-options   # onnxruntime session options and
                                                    # batching stored turns, compared
    python benchmarks/embedders.py --onnx-memory    # session variants' resident memory,
                                                    # a process each
    # a candidate static table, with dense-only LongMemEval-S dev40 as well:
    python benchmarks/embedders.py --only static --static-dir /tmp/static-tuned --longmemeval
    # the torch baseline lives in the model build venv (scripts/build_embedding_models.py):
    python benchmarks/embedders.py --minilm-python /tmp/embbuild/bin/python

The shared eval folder is ``../shared`` beside the repository (override with
VOXMEM_SHARED_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = REPO_ROOT / "benchmarks" / "results" / "embedders.json"
EMBEDDERS = ("static", "onnx", "hashing", "minilm")
LATENCY_QUERIES = 1000
THROUGHPUT_TEXTS = 2000
THROUGHPUT_BATCH = 64
RECALL_KS = (1, 5, 10)
#: Words per text of the cost-by-length rows (a transformer's; [CLS] and [SEP] added).
TOKEN_STEPS = (1, 8, 16, 32, 64, 128, 254)
STATIC_DIR_ENV = "VOXMEM_BENCH_STATIC_DIR"
LME_ENV = "VOXMEM_BENCH_LME"


def shared_dir() -> Path:
    return Path(os.environ.get("VOXMEM_SHARED_DIR") or REPO_ROOT.parent / "shared").resolve()


def locomo_file() -> Path:
    return shared_dir() / "eval" / "data" / "locomo_dev.json"


def rss_bytes() -> int:
    """Current resident set size (Linux); peak RSS elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Child: measure one embedder
# --------------------------------------------------------------------------------------


class MiniLMReference:
    """all-MiniLM-L6-v2 through sentence-transformers, as in the shared baselines."""

    cheap = False
    dimensions = 384
    name = "sentence-transformers/all-MiniLM-L6-v2 (torch, fp32)"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch

        # One thread, like the ONNX embedder: fair, and faster on a shared 2-core host.
        torch.set_num_threads(1)
        sys.path.insert(0, str(shared_dir() / "eval"))
        from baselines import load_minilm

        self.model = load_minilm("cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        out = self.model.encode(
            list(texts),
            batch_size=THROUGHPUT_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


def make_embedder(name: str) -> Any:
    if name == "minilm":
        return MiniLMReference()
    try:
        import voxmem  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    if name == "static":
        from voxmem.embeddings.static import StaticEmbedder

        # A candidate table (scripts/distill_static.py) instead of the bundled one.
        return StaticEmbedder(os.environ.get(STATIC_DIR_ENV) or None)
    if name == "onnx":
        from voxmem.embeddings.onnx import OnnxEmbedder

        return OnnxEmbedder()
    from voxmem.embeddings.hashing import HashingEmbedder

    return HashingEmbedder()


def query_tokens(embedder: Any, queries: list[str]) -> float | None:
    """The queries' mean length in the model's tokens (None: no tokenizer to ask)."""
    tokenizer = getattr(embedder, "_tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "encode"):
        return None
    return round(float(np.mean([len(tokenizer.encode(q).ids) for q in queries])), 1)


class DenseOnlyAdapter:
    """Harness adapter: exact cosine over the embedded turns of one caller, nothing else."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.name = f"dense-only[{embedder.name}]"
        self.reset()

    def reset(self) -> None:
        self.ids: dict[str, list[str]] = defaultdict(list)
        self.vectors: dict[str, np.ndarray] = {}

    def ingest(
        self, user_id: str, session_id: str, timestamp_iso: str, turns: list[dict[str, str]]
    ) -> None:
        # Same text as the shared baselines embed: "speaker: text".
        vectors = self.embedder.embed([f"{t['speaker']}: {t['text']}" for t in turns])
        self.ids[user_id].extend(t["id"] for t in turns)
        previous = self.vectors.get(user_id)
        self.vectors[user_id] = vectors if previous is None else np.vstack([previous, vectors])

    def search(self, user_id: str, query: str, k: int, now_iso: str) -> list[str]:
        matrix = self.vectors.get(user_id)
        if matrix is None or not len(matrix):
            return []
        scores = matrix @ self.embedder.embed([query])[0]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        ids = self.ids[user_id]
        return [ids[int(i)] for i in top]


def locomo_texts() -> tuple[list[str], list[str]]:
    data = json.loads(locomo_file().read_text(encoding="utf-8"))
    questions = [str(qa["question"]) for sample in data for qa in sample["qa"]]
    turns = [
        f"{t['speaker']}: {t['text']}"
        for sample in data
        for key, session in sample["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for t in session
    ]
    return questions, turns


def longmemeval_dense(harness: Any, embedder: Any) -> dict[str, Any]:
    """Dense-only LongMemEval-S dev40 through the harness: session and turn recall."""
    args = SimpleNamespace(
        dataset="longmemeval", split="all", k=10, lme_k=50, limit=None, lme_keep_abs=False,
        lme_roles="user", skip_categories=[], no_captions=False, budget_ms=250.0,
        per_query=False, progress=False,
        lme_file=str(shared_dir() / "eval" / "data" / "longmemeval_s_dev40.json"))
    result = harness.run_longmemeval(DenseOnlyAdapter(embedder), args)
    session = result["session_level"]
    preference = session["by_type"].get("single-session-preference", {})
    return {
        "session_recall@5": round(session["overall"]["s_recall@5"], 4),
        "turn_recall@10": round(result["turn_level"]["overall"]["t_recall@10"], 4),
        "preference_session_recall@5": round(preference.get("s_recall@5", float("nan")), 4),
    }


def by_length(embedder: Any) -> dict[str, float]:
    """Thread CPU (ms, median of 30) of one text of n words, by n: a transformer's cost
    has a part every text pays (its weights read once per text) and a part per token."""
    out = {}
    for words in TOKEN_STEPS:
        text = " ".join(["memory"] * words)
        cpus = []
        for _ in range(30):
            c0 = time.thread_time()
            embedder.embed([text])
            cpus.append((time.thread_time() - c0) * 1000)
        out[str(words)] = round(float(np.percentile(cpus, 50)), 3)
    return out


def measure(name: str) -> dict[str, Any]:
    questions, turns = locomo_texts()
    rss_before = rss_bytes()
    started = time.perf_counter()
    embedder = make_embedder(name)
    load_s = time.perf_counter() - started
    t0 = time.perf_counter()
    embedder.embed(["warm up the model"])
    first_ms = (time.perf_counter() - t0) * 1000
    rss_after = rss_bytes()
    log(f"[{name}] loaded {embedder.name} in {load_s:.2f}s, first query {first_ms:.1f} ms")

    queries = (questions * (LATENCY_QUERIES // len(questions) + 1))[:LATENCY_QUERIES]
    timings = []
    cpus = []
    for query in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        embedder.embed([query])
        # Thread CPU as well as wall: on a shared machine the wall is mostly the wait
        # for a core (the model runs on the calling thread, intra-op threads 1).
        cpus.append((time.thread_time() - c0) * 1000)
        timings.append((time.perf_counter() - t0) * 1000)
    log(f"[{name}] single-query p50 {np.percentile(timings, 50):.3f} ms, "
        f"CPU {np.percentile(cpus, 50):.3f} ms")

    texts = turns[:THROUGHPUT_TEXTS]
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), THROUGHPUT_BATCH):
        embedder.embed(texts[start : start + THROUGHPUT_BATCH])
    throughput = len(texts) / (time.perf_counter() - t0)
    text_cpu_ms = (time.process_time() - c0) * 1000 / len(texts)
    log(f"[{name}] batch throughput {throughput:.0f} sentences/s "
        f"({text_cpu_ms:.2f} ms CPU a text); running LoCoMo ...")
    lengths = by_length(embedder) if not embedder.cheap else {}

    sys.path.insert(0, str(shared_dir() / "eval"))
    import harness

    args = SimpleNamespace(
        locomo_file=str(locomo_file()),
        split="all",
        no_captions=False,
        skip_categories=[],
        k=10,
        per_query=False,
        budget_ms=250.0,
    )
    t0 = time.perf_counter()
    result = harness.run_locomo(DenseOnlyAdapter(embedder), args)
    overall = result["overall_cat1-4"]
    log(
        f"[{name}] LoCoMo done in {time.perf_counter() - t0:.0f}s: "
        f"recall@10 {overall['recall@10']:.3f}"
    )
    lme: dict[str, Any] = {}
    if os.environ.get(LME_ENV):
        lme = longmemeval_dense(harness, embedder)
        log(f"[{name}] LongMemEval session recall@5 {lme['session_recall@5']:.3f}")
    return {
        "embedder": name,
        "model": embedder.name,
        **({"longmemeval": lme} if lme else {}),
        "dimensions": int(embedder.dimensions),
        "cheap": bool(embedder.cheap),
        "load_s": round(load_s, 4),
        "rss_delta_mb": round((rss_after - rss_before) / 1e6, 1),
        "query_ms_p50": round(float(np.percentile(timings, 50)), 4),
        "query_ms_p95": round(float(np.percentile(timings, 95)), 4),
        "query_count": len(timings),
        "first_query_ms": round(first_ms, 2),
        "query_cpu_ms_p50": round(float(np.percentile(cpus, 50)), 4),
        "query_cpu_ms_p95": round(float(np.percentile(cpus, 95)), 4),
        "query_tokens_mean": query_tokens(embedder, queries),
        **({"query_cpu_ms_by_words": lengths} if lengths else {}),
        "throughput_sentences_per_s": round(throughput, 1),
        "throughput_cpu_ms_per_text": round(text_cpu_ms, 3),
        "throughput_texts": len(texts),
        "locomo": {
            "questions": overall["n"],
            **{f"recall@{k}": round(overall[f"recall@{k}"], 4) for k in RECALL_KS},
            "ndcg@10": round(overall["ndcg@10"], 4),
            "search_ms_p50": round(result["search_ms"]["p50"], 4),
            "search_ms_p95": round(result["search_ms"]["p95"], 4),
            "ingest_turns_per_s": round(result["ingest"]["turns_per_s"], 1),
        },
    }


#: onnxruntime session variants ``--onnx-options`` compares with the embedder's own:
#: name -> (graph optimisation level, session config entries, arena, memory pattern).
ONNX_VARIANTS: dict[str, tuple[str, dict[str, str], bool, bool]] = {
    "shipped (all optimisations)": ("ORT_ENABLE_ALL", {}, True, True),
    "extended optimisations": ("ORT_ENABLE_EXTENDED", {}, True, True),
    "basic optimisations": ("ORT_ENABLE_BASIC", {}, True, True),
    "no memory arena": ("ORT_ENABLE_ALL", {}, False, True),
    "no memory pattern": ("ORT_ENABLE_ALL", {}, True, False),
    "no spinning": ("ORT_ENABLE_ALL", {"session.intra_op.allow_spinning": "0"}, True, True),
    "denormals as zero": ("ORT_ENABLE_ALL", {"session.set_denormal_as_zero": "1"}, True, True),
    "no weight prepacking": ("ORT_ENABLE_ALL", {"session.disable_prepacking": "1"}, True, True),
}


def onnx_options(rounds: int = 3) -> list[dict[str, Any]]:
    """The bundled MiniLM under each of :data:`ONNX_VARIANTS`, one intra-op thread as
    shipped: thread CPU per LoCoMo question (the variants interleaved round by round,
    so a shifting load falls on all alike) and the lowest cosine of its vectors against
    the shipped session's (pooled as ``OnnxEmbedder`` pools)."""
    import onnxruntime as ort

    sys.path.insert(0, str(REPO_ROOT / "src"))
    from voxmem.embeddings.onnx import DEFAULT_ONNX_MODEL_DIR, OnnxEmbedder

    questions = locomo_texts()[0][:400]
    shipped = OnnxEmbedder()
    feeds = []
    for q in questions:
        enc = shipped._tokenizer.encode(q)
        ids = np.array([enc.ids], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids),
                      "token_type_ids": np.zeros_like(ids)})

    def pooled(session: Any) -> np.ndarray:
        rows = [np.asarray(session.run(None, f)[0], dtype=np.float32)[0].mean(axis=0)
                for f in feeds[:100]]
        m = np.stack(rows)
        unit: np.ndarray = m / np.linalg.norm(m, axis=1, keepdims=True)
        return unit

    sessions = {}
    for name, (level, entries, arena, pattern) in ONNX_VARIANTS.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.enable_cpu_mem_arena = arena
        options.enable_mem_pattern = pattern
        for key, value in entries.items():
            options.add_session_config_entry(key, value)
        sessions[name] = ort.InferenceSession(str(DEFAULT_ONNX_MODEL_DIR / "model.onnx"),
                                              options, providers=["CPUExecutionProvider"])
    reference = pooled(next(iter(sessions.values())))
    cpus: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            for feed in feeds:
                c0 = time.thread_time()
                session.run(None, feed)
                cpus[name].append((time.thread_time() - c0) * 1000)
    return [{"variant": name,
             "min_cosine": round(float((pooled(s) * reference).sum(axis=1).min()), 6),
             "cpu_ms_p50": round(float(np.percentile(cpus[name], 50)), 3),
             "cpu_ms_p95": round(float(np.percentile(cpus[name], 95)), 3)}
            for name, s in sessions.items()]


def onnx_batching(sizes: tuple[int, ...] = (4, 16, 32)) -> list[dict[str, Any]]:
    """Stored turns embedded in length-sorted batches against one text a run (what the
    engine does): CPU per turn and the cosine of each turn's vector to its own alone.
    The int8 graph quantises a product's input with one scale over the whole batch, so
    batch-mates change each other's vectors."""
    sys.path.insert(0, str(REPO_ROOT / "src"))
    from voxmem.embeddings.onnx import OnnxEmbedder

    turns = locomo_texts()[1][:512]
    alone = OnnxEmbedder()
    alone.embed(["warm up the model"])
    c0 = time.process_time()
    reference = alone.embed(turns)
    rows = [{"batch": 1, "cpu_ms_per_text": round((time.process_time() - c0) * 1000
                                                  / len(turns), 3),
             "min_cosine": 1.0, "mean_cosine": 1.0}]
    for size in sizes:
        batched = OnnxEmbedder(batch_size=size)
        batched.embed(["warm up the model"])
        c0 = time.process_time()
        vectors = batched.embed(turns)
        cpu = (time.process_time() - c0) * 1000 / len(turns)
        cos = (vectors * reference).sum(axis=1)
        rows.append({"batch": size, "cpu_ms_per_text": round(cpu, 3),
                     "min_cosine": round(float(cos.min()), 5),
                     "mean_cosine": round(float(cos.mean()), 5)})
    return rows


#: ``--onnx-memory``'s session variants: name -> ``OnnxEmbedder`` keyword arguments.
ONNX_MEMORY_VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "no memory arena": {"memory_arena": False},
    "no memory pattern": {"memory_pattern": False},
    "no arena, no pattern": {"memory_arena": False, "memory_pattern": False},
    "initializers outside the arena": {
        "session_config": {"session.use_device_allocator_for_initializers": "1"}},
    "no arena, no pattern, initializers outside": {
        "memory_arena": False, "memory_pattern": False,
        "session_config": {"session.use_device_allocator_for_initializers": "1"}},
    "arena shrunk after every run": {"shrink_after_tokens": 0},
    "arena shrunk, no pattern": {"memory_pattern": False, "shrink_after_tokens": 0},
    "arena shrunk after 32+ tokens": {"shrink_after_tokens": 32},
    "arena shrunk after 64+ tokens": {"shrink_after_tokens": 64},
    "arena shrunk after 128+ tokens": {"shrink_after_tokens": 128},
}
#: Stored turns and questions each ``--onnx-memory`` child embeds.
MEMORY_TURNS, MEMORY_QUESTIONS, MEMORY_PROBE = 600, 300, 64


def longmemeval_user_turns(n: int) -> list[str]:
    """The first ``n`` user turns of LongMemEval-S dev40's haystacks (lengths up to
    MiniLM's 256 tokens and past it, as a caller's stored turns are)."""
    data = json.loads((shared_dir() / "eval" / "data" / "longmemeval_s_dev40.json")
                      .read_text(encoding="utf-8"))
    turns = [f"user: {t['content']}" for q in data for session in q["haystack_sessions"]
             for t in session if t.get("role") == "user"]
    return turns[:n]


def onnx_memory_child(variant: str, vectors_out: Path) -> dict[str, Any]:
    """One session variant in a process of its own, used as the engine uses it: the
    allocator configured first, stored turns embedded 32 to a job on an executor thread
    (the background writer), then questions one at a time on lane threads. The resident
    set after each step, CPU a text, and the first texts' vectors (for exactness)."""
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(REPO_ROOT / "src"))
    from voxmem.engine._malloc import configure_allocator, release_free_memory

    configure_allocator()
    import onnxruntime  # noqa: F401  (its import is the same for every variant)

    from voxmem.embeddings.onnx import OnnxEmbedder

    turns = longmemeval_user_turns(MEMORY_TURNS)
    questions = locomo_texts()[0][:MEMORY_QUESTIONS]
    rss = {"imported": rss_bytes()}
    embedder = OnnxEmbedder(**ONNX_MEMORY_VARIANTS[variant])
    rss["loaded"] = rss_bytes()

    def timed(texts: list[str]) -> tuple[np.ndarray, float]:
        c0 = time.thread_time()
        out = embedder.embed(texts)
        return out, time.thread_time() - c0

    with ThreadPoolExecutor(max_workers=4) as writer:
        done = [writer.submit(timed, turns[i:i + 32]).result()
                for i in range(0, len(turns), 32)]
    rss["turns"] = rss_bytes()
    vectors = np.concatenate([v for v, _ in done])
    np.save(vectors_out, vectors[:MEMORY_PROBE])
    with ThreadPoolExecutor(max_workers=4) as lanes:
        asked = [lanes.submit(timed, [q]).result()[1] for q in questions]
    rss["questions"] = rss_bytes()
    release_free_memory()
    rss["trimmed"] = rss_bytes()
    mb = {key: round(value / 2**20, 1) for key, value in rss.items()}
    return {"variant": variant, "rss_mb": mb,
            "session_mb": round(mb["loaded"] - mb["imported"], 1),
            "after_texts_mb": round(mb["trimmed"] - mb["imported"], 1),
            "turn_cpu_ms": round(sum(c for _, c in done) * 1000 / len(turns), 2),
            "question_cpu_ms_p50": round(float(np.percentile(asked, 50)) * 1000, 3)}


def onnx_memory(rounds: int = 2, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Every :data:`ONNX_MEMORY_VARIANTS` entry in its own process, ``rounds`` times
    (variants alternating, so a shifting load falls on all alike): the lowest figures
    of the rounds, and the lowest cosine of the variant's vectors to the shipped one's."""
    import tempfile

    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for i, name in enumerate(ONNX_MEMORY_VARIANTS):
                if only and name not in only and name != "shipped":
                    continue
                out = Path(tmp) / f"{i}-{r}.npy"
                proc = subprocess.run([sys.executable, __file__, "--onnx-memory-child", name,
                                       "--vectors", str(out)], stdout=subprocess.PIPE,
                                      check=True, text=True)
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                row["vectors"] = np.load(out)
                runs[name].append(row)
                log(f"{name}: {row['rss_mb']}")
    reference = runs["shipped"][0]["vectors"]
    rows = []
    for name, got in runs.items():
        rows.append({
            "variant": name,
            "min_cosine": round(float(min((g["vectors"] * reference).sum(axis=1).min()
                                          for g in got)), 6),
            **{key: min(g[key] for g in got) for key in
               ("session_mb", "after_texts_mb", "turn_cpu_ms", "question_cpu_ms_p50")},
            "runs": [{k: v for k, v in g.items() if k != "vectors"} for g in got]})
    return rows


# --------------------------------------------------------------------------------------
# Parent: run each embedder in a subprocess, print the table, write JSON
# --------------------------------------------------------------------------------------


def run_child(name: str, python: str) -> dict[str, Any]:
    if name == "minilm":
        probe = subprocess.run(
            [python, "-c", "import sentence_transformers, torch"], capture_output=True, check=False
        )
        if probe.returncode != 0:
            return {
                "embedder": name,
                "skipped": f"sentence-transformers not importable by "
                f"{Path(python).name}; pass --minilm-python with the model build venv",
            }
    proc = subprocess.run(
        [python, __file__, "--child", name], stdout=subprocess.PIPE, check=False, text=True
    )
    if proc.returncode != 0:
        return {"embedder": name, "skipped": f"failed with exit code {proc.returncode}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'embedder':<9}{'dims':>5}{'load s':>8}{'RSS MB':>8}{'q p50 ms':>10}"
        f"{'q p95 ms':>10}{'q CPU p50/p95':>15}{'sent/s':>9}{'R@1':>7}{'R@5':>7}{'R@10':>7}"
        f"{'search p50':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if "skipped" in row:
            print(f"{row['embedder']:<9} skipped: {row['skipped']}")
            continue
        loc = row["locomo"]
        print(
            f"{row['embedder']:<9}{row['dimensions']:>5}{row['load_s']:>8.2f}"
            f"{row['rss_delta_mb']:>8.1f}{row['query_ms_p50']:>10.3f}{row['query_ms_p95']:>10.3f}"
            f"{row['query_cpu_ms_p50']:>8.3f}/{row['query_cpu_ms_p95']:<6.3f}"
            f"{row['throughput_sentences_per_s']:>9.0f}{loc['recall@1']:>7.3f}"
            f"{loc['recall@5']:>7.3f}{loc['recall@10']:>7.3f}{loc['search_ms_p50']:>10.3f}ms"
        )
    for row in rows:
        if row.get("query_cpu_ms_by_words"):
            steps = ", ".join(f"{w}: {ms:.2f}" for w, ms in row["query_cpu_ms_by_words"].items())
            print(f"{row['embedder']}: CPU ms of one text by words ({steps}); first query "
                  f"after load {row['first_query_ms']:.1f} ms; "
                  f"{row['throughput_cpu_ms_per_text']:.2f} ms CPU a LoCoMo turn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=EMBEDDERS, default=list(EMBEDDERS))
    parser.add_argument(
        "--minilm-python",
        default=sys.executable,
        help="interpreter with sentence-transformers + torch for the baseline",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_PATH, help="where to write results")
    parser.add_argument("--static-dir", type=Path,
                        help="measure this static model folder instead of the bundled one")
    parser.add_argument("--longmemeval", action="store_true",
                        help="also dense-only LongMemEval-S dev40 (slow for onnx/minilm)")
    parser.add_argument("--onnx-options", action="store_true",
                        help="only compare onnxruntime session options for the bundled "
                        "MiniLM (thread CPU per question, cosine to the shipped session) "
                        "and batching stored turns (CPU a turn, cosine to one at a time)")
    parser.add_argument("--onnx-memory", action="store_true",
                        help="only compare onnxruntime session variants' resident memory "
                        "(a process each, turns and questions embedded as the engine "
                        "does), CPU a text and cosine to the shipped session")
    parser.add_argument("--variants", nargs="+", choices=list(ONNX_MEMORY_VARIANTS),
                        help="with --onnx-memory: these variants only (and the shipped one)")
    parser.add_argument("--child", choices=EMBEDDERS, help=argparse.SUPPRESS)
    parser.add_argument("--onnx-memory-child", choices=list(ONNX_MEMORY_VARIANTS),
                        help=argparse.SUPPRESS)
    parser.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.onnx_memory_child:
        print(json.dumps(onnx_memory_child(args.onnx_memory_child, args.vectors)))
        return 0
    if args.onnx_memory:
        rows = onnx_memory(only=args.variants)
        print(f"{'session variant':<44}{'min cosine':>11}{'session MB':>11}"
              f"{'+ after texts MB':>17}{'ms a turn':>10}{'ms a question':>14}")
        for v in rows:
            print(f"{v['variant']:<44}{v['min_cosine']:>11.6f}{v['session_mb']:>11.1f}"
                  f"{v['after_texts_mb']:>17.1f}{v['turn_cpu_ms']:>10.2f}"
                  f"{v['question_cpu_ms_p50']:>14.3f}")
        path = args.json.with_name("embedders_onnx_memory.json")
        path.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                    "variants": rows}, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
        return 0
    if args.onnx_options:
        variants = onnx_options()
        print(f"{'session variant':<30}{'min cosine':>12}{'CPU p50 ms':>12}{'CPU p95 ms':>12}")
        for v in variants:
            print(f"{v['variant']:<30}{v['min_cosine']:>12.6f}{v['cpu_ms_p50']:>12.3f}"
                  f"{v['cpu_ms_p95']:>12.3f}")
        batching = onnx_batching()
        print(f"\n{'stored turns per run':<30}{'min cosine':>12}{'mean cosine':>12}"
              f"{'CPU ms a turn':>15}")
        for b in batching:
            print(f"{b['batch']:<30}{b['min_cosine']:>12.5f}{b['mean_cosine']:>12.5f}"
                  f"{b['cpu_ms_per_text']:>15.3f}")
        path = args.json.with_name("embedders_onnx_options.json")
        path.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                    "variants": variants, "batching": batching},
                                   indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
        return 0

    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    if not locomo_file().is_file():
        print(f"LoCoMo data not found at {locomo_file()}; set VOXMEM_SHARED_DIR", file=sys.stderr)
        return 2
    if args.static_dir:
        os.environ[STATIC_DIR_ENV] = str(args.static_dir.resolve())
    if args.longmemeval:
        os.environ[LME_ENV] = "1"
    rows = []
    for name in args.only:
        python = args.minilm_python if name == "minilm" else sys.executable
        row = run_child(name, python)
        if "skipped" in row:
            print(f"note: {name} skipped ({row['skipped']})", file=sys.stderr)
        rows.append(row)
    print_table(rows)
    payload = {
        "benchmark": "benchmarks/embedders.py",
        "dataset": "LoCoMo dev (shared/eval/data/locomo_dev.json), categories 1-4, "
        "dense-only retrieval, evidence recall@k",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "settings": {
            "latency_queries": LATENCY_QUERIES,
            "throughput_texts": THROUGHPUT_TEXTS,
            "throughput_batch": THROUGHPUT_BATCH,
        },
        "results": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    shown = args.json.relative_to(REPO_ROOT) if args.json.is_relative_to(REPO_ROOT) else args.json
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
