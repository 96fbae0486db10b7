"""Where a running engine's resident memory goes: a table by structure.

Used by ``recall_latency.py`` and ``search_profile.py`` (``--footprint``) after their
searches, and runnable on any engine. Sizes come from the objects themselves (numpy
``nbytes``, usearch's ``memory_usage``, ``sys.getsizeof`` walked through containers),
the process's memory from ``/proc/self/status`` and ``smaps``, and the C allocator's
own accounting from glibc's ``mallinfo2``.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

MB = 1024 * 1024
_NOT_FOLLOWED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                 types.MethodType, types.MethodWrapperType)


def deep_size(root: Any, seen: set[int]) -> int:
    """Bytes held by ``root`` and what it references, each object counted once.

    Follows containers, instance ``__dict__`` and ``__slots__``; numpy arrays count the
    data they own; a usearch index reports its own ``memory_usage``. Modules, classes,
    functions and locks are not followed (they are the interpreter's, shared).
    """
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _NOT_FOLLOWED):
            continue
        if isinstance(obj, np.ndarray):
            total += obj.nbytes if obj.base is None else 0
            if obj.base is not None:
                stack.append(obj.base)
            continue
        mod = type(obj).__module__ or ""
        if mod.startswith("usearch"):
            total += int(getattr(obj, "memory_usage", 0) or 0)
            continue
        if mod.startswith(("asyncio", "concurrent", "threading", "_thread", "sqlite3",
                           "logging")):
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif isinstance(obj, str | bytes | int | float | bool | type(None)):
            pass
        else:
            d = getattr(obj, "__dict__", None)
            if isinstance(d, dict):
                stack.append(d)
            for klass in type(obj).__mro__:
                for name in getattr(klass, "__slots__", ()):
                    if hasattr(obj, name):
                        stack.append(getattr(obj, name))
    return total


def proc_status() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile (MB) of this process."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def rss_by_mapping(top: int = 12) -> list[tuple[str, float]]:
    """Resident MB per mapped file ([heap] and anonymous mappings by name)."""
    sizes: dict[str, float] = {}
    name = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Rss:":
            sizes[name] = sizes.get(name, 0.0) + int(parts[1]) / 1024
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def malloc_stats() -> dict[str, float]:
    """glibc's view (MB): heap in use, free in the heap (slack), mmapped blocks."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"heap_total": info.arena / MB, "in_use": info.uordblks / MB,
            "free_in_heap": info.fordblks / MB, "mmapped": info.hblkhd / MB}


def python_heap_by_type(top: int = 10) -> list[tuple[str, int, float]]:
    """(type, count, MB) of the objects the garbage collector tracks, plus str/bytes."""
    counts: dict[str, list[float]] = {}
    for obj in gc.get_objects():
        row = counts.setdefault(type(obj).__name__, [0, 0.0])
        row[0] += 1
        row[1] += sys.getsizeof(obj)
    rows = sorted(((k, int(v[0]), v[1] / MB) for k, v in counts.items()),
                  key=lambda r: -r[2])
    return rows[:top]


def engine_breakdown(engine: Any) -> dict[str, Any]:
    """MB per part of a running ``MemoryEngine``, and the process's totals."""
    gc.collect()
    seen: set[int] = set()
    parts: dict[str, float] = {}
    orgs = getattr(engine.org, "_orgs", {})
    for key, org in orgs.items():
        index = org.index
        name = "org " + "/".join(map(str, key)) if isinstance(key, tuple) else f"org {key}"
        parts[f"{name}: vector graph"] = deep_size(index.vectors, seen) / MB
        parts[f"{name}: payloads"] = deep_size(index._payloads, seen) / MB
        parts[f"{name}: postings"] = deep_size(index.postings, seen) / MB
        parts[f"{name}: ids + id->position"] = deep_size(index.id_table, seen) / MB
        parts[f"{name}: columns"] = deep_size(index.columns, seen) / MB
        parts[f"{name}: document bookkeeping"] = deep_size(org, seen) / MB
    callers = list(engine.callers._entries.values())
    caller_rows = sum(len(m.index) for m in callers)
    for label, attr in (("vectors", "vectors"), ("payloads", "_payloads"),
                        ("postings", "postings"), ("columns", "columns")):
        parts[f"callers ({len(callers)}, {caller_rows} items): {label}"] = sum(
            deep_size(getattr(m.index, attr), seen) for m in callers) / MB
    parts[f"callers ({len(callers)}): ids, lineages, rest"] = sum(
        deep_size(m, seen) for m in callers) / MB
    parts["embedder (model tables, tokenizer)"] = deep_size(engine.embedder, seen) / MB
    parts["caller directory + entity graph"] = deep_size(engine.directory, seen) / MB
    parts["learner, traces, write path, rest of engine"] = deep_size(engine, seen) / MB
    del seen  # millions of ids: gone before the heap is counted by type
    return {"parts_mb": {k: round(v, 1) for k, v in parts.items()},
            "parts_total_mb": round(sum(parts.values()), 1),
            "process_mb": {k: round(v, 1) for k, v in proc_status().items()},
            "malloc_mb": {k: round(v, 1) for k, v in malloc_stats().items()},
            "rss_by_mapping_mb": [(k, round(v, 1)) for k, v in rss_by_mapping()],
            "python_heap_by_type": [(k, n, round(mb, 1)) for k, n, mb in
                                    python_heap_by_type()],
            "modules": len(sys.modules)}


def print_breakdown(out: dict[str, Any]) -> None:
    print("| part | MB |\n|---|---:|")
    for k, v in out["parts_mb"].items():
        print(f"| {k} | {v} |")
    print(f"| sum of parts | {out['parts_total_mb']} |")
    print("process:", out["process_mb"], "malloc:", out["malloc_mb"],
          "modules:", out["modules"])
    print("rss by mapping:", out["rss_by_mapping_mb"])
    print("python heap by type:", out["python_heap_by_type"])
