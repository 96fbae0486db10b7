"""The org lane's two halves run side by side: the vector search walks the graph under
the graph's own lock, not the index's, so a keyword search of the same index does not
wait for the walk; and a walk the graph changed under is made again, so the answer is
the one a search under the index lock gives."""

from __future__ import annotations

import threading

import numpy as np

from voxmem.engine._analysis import analyze
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._ranked import Ranked
from voxmem.models import Chunk

DIMS = 16
WORDS = ["harbour", "ferry", "library", "invoice", "thermostat", "lounge", "refund"]


def _org(n: int = 400) -> tuple[OrgMemory, np.ndarray]:
    org = OrgMemory("t", "p", DIMS)
    org.ready.set()
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(n, DIMS)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    chunks = [Chunk(id=f"c{i}", index_name="kb", document_id=f"d{i}", ordinal=0,
                    text=f"{WORDS[i % len(WORDS)]} note {i}", metadata={}, created_at=0.0)
              for i in range(n)]
    org.apply_write("kb", [c.document_id for c in chunks], chunks, list(rows), 1)
    ann = org.index.ann
    assert ann is not None
    ann.flush()
    assert ann.pending == 0 and len(ann) == n
    return org, rows


def _same(a: Ranked, b: Ranked) -> bool:
    return (a.positions.tolist() == b.positions.tolist()
            and np.allclose(a.scores, b.scores))


def test_a_keyword_search_does_not_wait_for_a_graph_walk() -> None:
    org, rows = _org()
    ann = org.index.ann
    assert ann is not None
    query = rows[5]
    expected = org.index.dense(query, 10)
    got: list[Ranked] = []
    words: list[Ranked] = []
    ended = threading.Event()

    def keyword_search() -> None:
        words.append(org.index.search(analyze("ferry note"), None, 10)[0])
        ended.set()

    # The test holds the graph's lock, as a long walk would: the vector search waits
    # for it in its walk, holding nothing else. Had it taken the index lock first, the
    # keyword search would wait for the index lock until the walk ended (never, here:
    # the bounded wait below is only the failure's limit).
    with ann._graph_lock:
        dense = threading.Thread(target=lambda: got.append(
            org.index.search((), query, 10)[1]))
        dense.start()
        searcher = threading.Thread(target=keyword_search)
        searcher.start()
        finished = ended.wait(timeout=60)
        assert not got  # the walk cannot have ended: the lock is still held
    assert finished, "the keyword search waited for the graph walk"
    dense.join()
    searcher.join()
    assert words[0].positions.shape[0] == 10
    assert _same(got[0], expected)


def test_a_walk_the_graph_changed_under_is_made_again() -> None:
    org, rows = _org()
    ann = org.index.ann
    assert ann is not None
    query = rows[7]
    stale = ann.propose(query, 10)
    # Between the walk and the search: a chunk is removed and one is added and flushed
    # into the graph (a write's upkeep), right next to the query.
    org.remove_document("kb", "d7")
    near = (query + 0.01 * rows[8]) / np.linalg.norm(query + 0.01 * rows[8])
    org.apply_write("kb", ["new"], [Chunk(id="cnew", index_name="kb", document_id="new",
                                          ordinal=0, text="new note", metadata={},
                                          created_at=0.0)], [near], 2)
    ann.flush()
    with org.index._lock:
        n = org.index.columns.n
        _, ok = org.index.columns.resolve(None, n)
        from_stale = org.index.vectors.search(query, 10, n, None, ok, stale)
    fresh = org.index.dense(query, 10)
    assert _same(from_stale, fresh)
    top = org.index.id_at(int(fresh.positions[0]))
    assert top == "cnew"
