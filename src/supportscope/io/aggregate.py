"""Per-sample rows -> counts, one batch at a time: n, successes and the first place per group."""

from __future__ import annotations

import numpy as np

from .keys import SeenKeys

__all__ = ["GroupTally"]


class GroupTally:
    """Running counts per (problem_id, model) group, over all the per-sample files of a load.

    Groups are identified by an int64 ``pair`` key; each gets a dense index ``g`` in order of
    discovery. ``n[g]`` counts samples, ``correct[g]`` successes and ``first_place[g]`` is the
    place (:func:`~supportscope.io.keys.pack_place`: file index, data row) where the group
    first appeared. Sample keys ``(g, sample_idx)`` are remembered in a :class:`SeenKeys` to
    catch repeated samples, within a file and across the sample files (shards) of one group.
    """

    def __init__(self) -> None:
        self.pairs = np.zeros(0, dtype=np.int64)
        self._sorted = np.zeros(0, dtype=np.int64)
        self._sorted_g = np.zeros(0, dtype=np.int64)
        self.n = np.zeros(0, dtype=np.int64)
        self.correct = np.zeros(0, dtype=np.int64)
        self.first_place = np.zeros(0, dtype=np.int64)
        self.samples = SeenKeys()

    def groups(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Group indices of ``pairs``, registering new ones.

        Returns ``(g per row, new pair keys, position in the batch where each new pair first
        appears)``; the group arrays grow to cover the new groups.
        """
        uniq, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        pos = np.minimum(np.searchsorted(self._sorted, uniq), max(self._sorted.size - 1, 0))
        known = (self._sorted.size > 0) & (self._sorted[pos] == uniq) if self._sorted.size else np.zeros(uniq.size, bool)
        g_uniq = np.where(known, self._sorted_g[pos] if self._sorted.size else 0, -1)
        new = np.flatnonzero(~known)
        new = new[np.argsort(first[new], kind="stable")]  # number new groups in order of appearance
        start = self.pairs.size
        g_uniq[new] = start + np.arange(new.size)
        if new.size:
            self.pairs = np.concatenate((self.pairs, uniq[new]))
            keys = np.concatenate((self._sorted, uniq[new]))
            vals = np.concatenate((self._sorted_g, g_uniq[new]))
            order = np.argsort(keys, kind="stable")
            self._sorted, self._sorted_g = keys[order], vals[order]
            grow = np.zeros(new.size, dtype=np.int64)
            self.n = np.concatenate((self.n, grow))
            self.correct = np.concatenate((self.correct, grow))
            self.first_place = np.concatenate((self.first_place, grow - 1))
        return g_uniq[inverse.reshape(-1)], uniq[new], first[new]

    def find(self, pairs: np.ndarray) -> np.ndarray:
        """Group index of each pair key, -1 for a pair with no group (registers nothing)."""
        if not self._sorted.size:
            return np.full(pairs.size, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, pairs), self._sorted.size - 1)
        return np.where(self._sorted[pos] == pairs, self._sorted_g[pos], -1)

    def add(self, g: np.ndarray, success: np.ndarray, places: np.ndarray) -> None:
        """Count a checked batch: group index, success flag and place (packed) of each sample."""
        size = self.pairs.size
        self.n += np.bincount(g, minlength=size)
        self.correct += np.bincount(g, weights=success.astype(np.float64), minlength=size).astype(np.int64)
        fresh = self.first_place[g] < 0
        if fresh.any():
            gf, rf = g[fresh], places[fresh]
            order = np.lexsort((rf, gf))
            gf, rf = gf[order], rf[order]
            head = np.r_[True, gf[1:] != gf[:-1]]
            self.first_place[gf[head]] = rf[head]
