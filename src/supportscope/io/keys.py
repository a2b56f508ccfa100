"""Vectorised bookkeeping of keys: string -> code vocabularies, and sets of seen int64 keys
that remember where each key was first seen, to name both places of a duplicate."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Vocab", "SeenKeys", "pack_place", "unpack_place"]

_ROW_BITS = 40


def pack_place(source_index: int, rows: np.ndarray) -> np.ndarray:
    """Encode (file index, data row) as one int64."""
    return (np.int64(source_index) << _ROW_BITS) | np.asarray(rows, dtype=np.int64)


def unpack_place(place: int) -> tuple[int, int]:
    """Decode :func:`pack_place`: ``(file index, data row)``."""
    return int(place) >> _ROW_BITS, int(place) & ((1 << _ROW_BITS) - 1)


class Vocab:
    """Dense int codes for strings, assigned in order of first appearance."""

    def __init__(self) -> None:
        self.values = pa.array([], pa.string())

    def codes(self, strings: pa.StringArray) -> np.ndarray:
        """Codes (int64) of ``strings`` (no nulls), adding the new ones."""
        idx = pc.index_in(strings, value_set=self.values)
        if not idx.null_count:
            return np.asarray(idx.to_numpy(), dtype=np.int64)
        missing = np.asarray(idx.is_null())
        fresh = strings.filter(pa.array(missing))
        new = pc.unique(fresh)
        codes = np.asarray(idx.fill_null(0).to_numpy(), dtype=np.int64)
        codes[missing] = len(self.values) + np.asarray(pc.index_in(fresh, value_set=new).to_numpy(), dtype=np.int64)
        self.values = pa.concat_arrays([self.values, new])
        return codes

    def strings(self, codes: np.ndarray) -> pa.StringArray:
        """The strings of ``codes``."""
        return self.values.take(pa.array(np.asarray(codes, dtype=np.int64)))


class SeenKeys:
    """A growing set of int64 keys, each with a payload (where it was first seen).

    Stored as a few sorted runs merged like a binary counter, so checking a batch costs
    O(batch * log(total)) and memory stays at two int64 per key.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(k.size for k, _ in self._runs)

    def first_repeat(self, keys: np.ndarray, payload: np.ndarray) -> tuple[int, int] | None:
        """The first position in ``keys`` whose key was seen before (earlier in ``keys`` or
        in the set), as ``(position, payload of the earlier one)``; None when all are new."""
        best: tuple[int, int] | None = None
        if keys.size > 1:
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            same = np.flatnonzero(sk[1:] == sk[:-1]) + 1
            if same.size:
                starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
                run_start = starts[np.searchsorted(starts, same, side="right") - 1]
                dup = order[same]
                j = int(dup.argmin())
                best = (int(dup[j]), int(payload[order[run_start[j]]]))
        for run_keys, run_payload in self._runs:
            pos = np.minimum(np.searchsorted(run_keys, keys), run_keys.size - 1)
            hit = np.flatnonzero(run_keys[pos] == keys)
            if hit.size and (best is None or hit[0] < best[0]):
                best = (int(hit[0]), int(run_payload[pos[hit[0]]]))
        return best

    def add(self, keys: np.ndarray, payload: np.ndarray) -> None:
        """Add keys (already checked with :meth:`first_repeat`)."""
        if not keys.size:
            return
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], np.asarray(payload)[order]))
        while len(self._runs) > 1 and self._runs[-2][0].size <= 2 * self._runs[-1][0].size:
            (k2, p2), (k1, p1) = self._runs.pop(), self._runs.pop()
            k, p = np.concatenate((k1, k2)), np.concatenate((p1, p2))
            order = np.argsort(k, kind="stable")
            self._runs.append((k[order], p[order]))
