"""Rows reserved past the written ones hold length 0, never what the allocator left.

``Postings.reserve`` grows the lengths array with ``np.empty``; the kept BM25 norms
(``Postings._norms``) are computed over the whole array, so leftover bytes that read as
a signalling NaN made every process that kept norms warn "invalid value encountered in
cast" (seen fitting the fusion weights), and any other leftover was a norm nobody should
read. The tail is zeroed when the array grows."""

from __future__ import annotations

import threading
import warnings

import numpy as np

from voxmem.engine._postings import Postings

#: A float32 signalling NaN: converting it to float64 raises the FPU's invalid flag.
_SNAN = np.uint32(0x7F800001)


def _left_over(capacity: int) -> None:
    """Free a block of ``capacity`` float32 signalling NaNs, so that the next array of
    that size (under numpy's small-allocation cache, < 1 kB) reuses its bytes."""
    junk = np.full(capacity, _SNAN, dtype=np.uint32).view(np.float32)
    del junk


def test_grown_lengths_are_zero_and_searches_do_not_warn() -> None:
    p = Postings(threading.RLock())
    docs = [["alpha", "beta"], ["beta", "gamma", "gamma"], ["alpha"], ["delta", "beta"]]
    for capacity in (100, 200):  # 64 at first: grown twice, each time past what is used
        _left_over(capacity)
        p.reserve(capacity, len(docs))
    for pos, terms in enumerate(docs):
        p.add(pos, terms)
    ok = np.ones(len(docs), dtype=np.bool_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The second search keeps the norms (over the whole array), the third uses them.
        got = [p.search(["beta", "gamma"], 3, len(docs), None, ok, len(docs), None)
               for _ in range(3)]
    assert p._norm_cache is not None
    assert not p.doc_len[len(docs):].any()
    assert all(g.positions.tolist() == got[0].positions.tolist() for g in got)
    assert got[0].positions.tolist()[0] == 1
