"""Per-document columns of an in-memory index and the filters resolved against them.

Each position has a creation time, a group (a caller, a knowledge base) and a live
flag; groups also keep their member positions, so a filter on one caller touches that
caller's rows, not the whole index. A :class:`Where` is resolved here, under the
owning index's lock and at query time, so it always matches the index's current size.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ._ranked import BoolArray, IntArray, grow

__all__ = ["GATHER_MAX", "NO_GROUP", "Columns", "IntList", "Where"]

#: Below this many explicit positions a filter is applied by gathering rows rather than
#: scanning every row with a boolean mask (the working lane: one call's few turns).
GATHER_MAX = 2_048
#: What :meth:`Columns.groups_at` answers for a position outside the index.
NO_GROUP = -(1 << 62)


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """A filter resolved inside the index, under its lock, at query time.

    Resolving it there (rather than passing a precomputed mask) means a document added
    between building the filter and running the search can never misalign the two.
    """

    #: Only documents of these groups (None: every group).
    groups: tuple[int, ...] | None = None
    #: Never documents of these groups.
    exclude_groups: tuple[int, ...] = ()
    #: Only documents created at or after this time (retention).
    min_created: float | None = None
    #: Only documents created at or before this time (a query about a past time).
    max_created: float | None = None
    #: Only these positions (ascending), when the caller has already narrowed them down.
    positions: IntArray | None = None


class IntList:
    """A growable int64 vector (group members)."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data: IntArray = np.empty(8, dtype=np.int64)
        self.size = 0

    def append(self, value: int) -> None:
        if self.size == self.data.shape[0]:
            self.data = grow(self.data, self.size * 2, self.size)
        self.data[self.size] = value
        self.size += 1

    def extend(self, values: IntArray) -> None:
        n = self.size + values.shape[0]
        if n > self.data.shape[0]:
            self.data = grow(self.data, max(n, self.data.shape[0] * 2), self.size)
        self.data[self.size:n] = values
        self.size = n

    def view(self) -> IntArray:
        return self.data[: self.size]


class Columns:
    """Creation time, group and liveness of positions ``0..n-1``, and group members.

    Shares the owning index's lock; the read methods take it (they are called from
    lanes on worker threads), the writes are called with it held.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.n = 0
        self.created = np.zeros(64, dtype=np.float64)
        self.group = np.zeros(64, dtype=np.int64)
        self.alive: BoolArray = np.zeros(64, dtype=np.bool_)
        self._members: dict[int, IntList] = {}
        self.live = 0
        #: Documents ever removed; while zero every indexed document is live.
        self.removed = 0

    def reserve(self, capacity: int) -> None:
        used = self.n
        if capacity > self.alive.shape[0]:
            self.created = grow(self.created, capacity, used)
            self.group = grow(self.group, capacity, used)
            self.alive = grow(self.alive, capacity, used)

    # -- writing -------------------------------------------------------------------------
    def append(self, created_at: float, group: int) -> int:
        """A new live row; returns its position."""
        pos = self.n
        self.created[pos] = created_at
        self.group[pos] = group
        self.alive[pos] = True
        self._group_list(group).append(pos)
        self.live += 1
        self.n = pos + 1
        return pos

    def extend(self, created_at: Sequence[float] | npt.NDArray[np.float64],
               groups: Sequence[int] | IntArray | None) -> int:
        """New live rows, one per ``created_at``; returns the first one's position."""
        start, m = self.n, len(created_at)
        end = start + m
        self.created[start:end] = np.asarray(created_at, dtype=np.float64)
        codes = (np.zeros(m, dtype=np.int64) if groups is None
                 else np.asarray(groups, dtype=np.int64))
        self.group[start:end] = codes
        self.alive[start:end] = True
        for code in np.unique(codes).tolist():
            self._group_list(code).extend(np.flatnonzero(codes == code) + start)
        self.live += m
        self.n = end
        return start

    def remove(self, pos: int) -> bool:
        """Mark ``pos`` removed; False when it was not live."""
        if not self.alive[pos]:
            return False
        self.alive[pos] = False
        self.live -= 1
        self.removed += 1
        return True

    def _group_list(self, group: int) -> IntList:
        members = self._members.get(group)
        if members is None:
            members = self._members[group] = IntList()
        return members

    # -- reading -------------------------------------------------------------------------
    def created_at(self, positions: IntArray) -> npt.NDArray[np.float64]:
        with self._lock:
            created: npt.NDArray[np.float64] = self.created[positions]
        return created

    def groups_at(self, positions: IntArray) -> IntArray:
        """The group of each of ``positions`` (positions past the end get ``NO_GROUP``)."""
        with self._lock:
            if positions.shape[0] and positions.min() >= 0 and positions.max() < self.n:
                # Every position inside (a search's candidates): one gather, half the
                # cost of filling and masking (~20 us, several times a search).
                inner: IntArray = self.group[positions]
                return inner
            out: IntArray = np.full(positions.shape[0], NO_GROUP, dtype=np.int64)
            inside = (positions >= 0) & (positions < self.n)
            out[inside] = self.group[positions[inside]]
        return out

    def alive_at(self, positions: IntArray) -> BoolArray:
        """Whether each of ``positions`` holds a live (not removed) document."""
        with self._lock:
            if positions.shape[0] and positions.min() >= 0 and positions.max() < self.n:
                inner: BoolArray = self.alive[positions]  # as in groups_at
                return inner
            out: BoolArray = np.zeros(positions.shape[0], dtype=np.bool_)
            inside = (positions >= 0) & (positions < self.n)
            out[inside] = self.alive[positions[inside]]
        return out

    def created_between(self, start: float, end: float) -> IntArray:
        """Positions (ascending) of the documents created within ``[start, end]``."""
        with self._lock:
            created = self.created[: self.n]
            found: IntArray = np.flatnonzero((created >= start) & (created <= end))
        return found

    def created_mask(self, min_created: float) -> BoolArray:
        """Documents created at or after ``min_created`` (retention)."""
        with self._lock:
            mask: BoolArray = self.created[: self.n] >= min_created
        return mask

    def group_positions(self, groups: Sequence[int]) -> IntArray:
        """Positions (ascending, removed ones included) of the documents in ``groups``."""
        with self._lock:
            parts = [self._members[g].view() for g in dict.fromkeys(groups)
                     if g in self._members]
            if not parts:
                return np.zeros(0, dtype=np.int64)
            out: IntArray = parts[0].copy() if len(parts) == 1 else np.sort(
                np.concatenate(parts))
        return out

    def group_mask(self, groups: Sequence[int], *, include: bool = True) -> BoolArray:
        """Documents whose group is (or, with ``include=False``, is not) in ``groups``."""
        with self._lock:
            mask = np.zeros(self.n, dtype=np.bool_)
            mask[self.group_positions(groups)] = True
        return mask if include else ~mask

    def _cover(self, groups: Sequence[int], n: int) -> bool:
        """Whether ``groups`` hold every one of the ``n`` rows (a row is in one group)."""
        return n == self.n and sum(self._members[g].size for g in set(groups)
                                   if g in self._members) >= n

    def with_mask(self, mask: BoolArray | None, n: int) -> BoolArray:
        """Live documents among the first ``n`` that ``mask`` selects.

        ``mask`` may predate documents added since: those are not selected.
        """
        alive = self.alive[:n]
        if mask is None:
            return alive
        if mask.shape[0] < n:
            mask = np.concatenate([mask, np.zeros(n - mask.shape[0], dtype=np.bool_)])
        out: BoolArray = alive & mask[:n]
        return out

    def resolve(self, where: Where | None, n: int) -> tuple[IntArray | None, BoolArray]:
        """``where`` as (explicit positions or None, live-and-allowed mask over ``n``).

        With positions, only those documents qualify and the mask is aligned to them;
        without, the mask covers every position. Called with the lock held.
        """
        alive = self.alive[:n]
        if where is None:
            return None, alive
        if where.groups is not None or where.positions is not None:
            if where.positions is None:
                assert where.groups is not None
                members = self.group_positions(where.groups)
            else:
                members = where.positions[where.positions < n]
                if where.groups is not None:
                    members = members[np.isin(self.group[members], where.groups)]
            if where.exclude_groups:
                members = members[~np.isin(self.group[members], where.exclude_groups)]
            if members.shape[0] <= GATHER_MAX:
                ok = alive[members]
                if where.min_created is not None:
                    ok &= self.created[members] >= where.min_created
                if where.max_created is not None:
                    ok &= self.created[members] <= where.max_created
                return members, ok
            mask = np.zeros(n, dtype=np.bool_)
            mask[members] = True
            mask &= alive
        else:
            if where.exclude_groups and self._cover(where.exclude_groups, n):
                # Every row is in an excluded group: a small caller's permanent lane
                # (all of its rows are this call's) has nothing to search.
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
            mask = alive.copy()
            if where.exclude_groups:
                mask[self.group_positions(where.exclude_groups)] = False
        if where.min_created is not None:
            mask &= self.created[:n] >= where.min_created
        if where.max_created is not None:
            mask &= self.created[:n] <= where.max_created
        return None, mask
