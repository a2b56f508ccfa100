"""Paired bootstrap over problems (Efron & Tibshirani 1993, "An Introduction to the Bootstrap").

Problems are resampled with replacement; a replicate is a vector of multinomial counts w_b
(sum_i w_bi = Q) and a replicate statistic is computed from the weighted problems. The weights
depend only on (n_items, n_replicates, seed, chunk_elems), so computing a statistic of the base
model and later one of the tuned model with the same object resamples the same problems for both:
the replicates are paired (DESIGN.md section 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ._checks import as_int_array


class PairedBootstrap:
    """Multinomial resampling weights over ``n_items`` problems, ``n_replicates`` replicates.

    Replicate b resamples Q problems uniformly with replacement (Efron & Tibshirani 1993); its
    weight row w_b holds how often each problem was drawn. Rows are produced in chunks of b rows
    with b * Q <= chunk_elems; chunk j uses the generator seeded by
    ``np.random.SeedSequence(seed).spawn(n_chunks)[j]``, so the same object (or the same
    arguments) always gives the same weights, whichever statistic is computed.
    """

    def __init__(
        self, n_items: int, n_replicates: int = 10000, seed: int = 0, chunk_elems: int = 2**23
    ) -> None:
        self.n_items = int(as_int_array(n_items, "n_items", minimum=1))
        self.n_replicates = int(as_int_array(n_replicates, "n_replicates", minimum=1))
        self.seed = int(as_int_array(seed, "seed", minimum=0))
        self.chunk_elems = int(as_int_array(chunk_elems, "chunk_elems", minimum=1))
        self.chunk_rows = max(1, min(self.n_replicates, self.chunk_elems // self.n_items))
        self.n_chunks = -(-self.n_replicates // self.chunk_rows)
        # Weights are regenerated for every statistic unless they fit in one chunk's budget, in
        # which case the (identical) chunks are kept: an analysis computes ~20 statistics.
        self._cache: list[np.ndarray] | None = None
        self._float_cache: list[np.ndarray] | None = None  # float64 copies for means(), same condition
        self._cacheable = self.n_replicates * self.n_items <= self.chunk_elems

    def __repr__(self) -> str:
        return (
            f"PairedBootstrap(n_items={self.n_items}, n_replicates={self.n_replicates}, "
            f"seed={self.seed}, chunk_elems={self.chunk_elems})"
        )

    def weights_chunks(self) -> Iterator[np.ndarray]:
        """Yield int32 resampling counts [b, Q] (row sums = Q), chunk by chunk, B rows in all.

        w_bi = #{j : I_bj = i} with I_bj iid uniform on {0..Q-1}, i.e. w_b ~ Multinomial(Q, 1/Q)
        (the nonparametric bootstrap of Efron & Tibshirani 1993, ch. 6).

        Each row is the histogram of Q uniform draws from {0..Q-1}: the draws of a whole chunk are
        counted at once with one ``np.bincount`` of (row * Q + index).
        """
        if self._cache is not None:
            yield from self._cache
            return
        chunks = [] if self._cacheable else None
        for w in self._generate():
            if chunks is not None:
                w.flags.writeable = False
                chunks.append(w)
            yield w
        if chunks is not None:
            self._cache = chunks

    def _generate(self) -> Iterator[np.ndarray]:
        q = self.n_items
        seqs = np.random.SeedSequence(self.seed).spawn(self.n_chunks)
        for j, seq in enumerate(seqs):
            b = min(self.chunk_rows, self.n_replicates - j * self.chunk_rows)
            rng = np.random.default_rng(seq)
            idx = rng.integers(0, q, size=(b, q), dtype=np.int64)
            idx += (np.arange(b, dtype=np.int64) * q)[:, None]
            counts = np.bincount(idx.ravel(), minlength=b * q)
            yield counts.astype(np.int32).reshape(b, q)

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Bootstrap replicates theta*_b = fn(w_b) (Efron & Tibshirani 1993) for any statistic.

        Applies ``fn`` to each weights chunk [b, Q] and concatenates the results along axis 0 ->
        [B, ...]; ``fn`` must return one leading row per weight row.
        """
        parts = [np.asarray(fn(w)) for w in self.weights_chunks()]
        return np.concatenate(parts, axis=0)

    def means(self, values) -> np.ndarray:
        """Replicate means of per-problem values: mean*_b = (1/Q) sum_i w_bi values_i (Efron 1979).

        Args:
            values: finite array [Q, ...] (e.g. pass@k curves [Q, K]).

        Returns:
            float64 array [B, ...] = W @ values.reshape(Q, -1) / Q, reshaped.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 0 or v.shape[0] != self.n_items:
            raise ValueError(
                f"values must have one row per problem: expected shape ({self.n_items}, ...), "
                f"got {v.shape}"
            )
        flat = v.reshape(self.n_items, -1)
        bad = ~np.isfinite(flat)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            cols = np.flatnonzero(bad.any(axis=0))
            raise ValueError(
                f"values must be finite; column {col} (flattened trailing index; "
                f"{cols.size} column(s) affected: {cols[:10].tolist()}) has {flat[row, col]} "
                f"at problem {row}. Drop those columns first (e.g. pass@k with k > min n)."
            )
        inv_q = 1.0 / self.n_items
        if self._cacheable:  # the float64 weights are converted once, not once per statistic
            if self._float_cache is None:
                self._float_cache = [w.astype(np.float64) for w in self.weights_chunks()]
            out = np.concatenate([(w @ flat) * inv_q for w in self._float_cache], axis=0)
            return out.reshape((self.n_replicates,) + v.shape[1:])
        out = self.map(lambda w: (w.astype(np.float64) @ flat) * inv_q)
        return out.reshape((self.n_replicates,) + v.shape[1:])


def percentile_interval(replicates, alpha: float = 0.05, axis: int = 0):
    """Bootstrap percentile interval (Efron & Tibshirani 1993, ch. 13).

    lo, hi = the alpha/2 and 1 - alpha/2 quantiles of the replicates along ``axis``, by linear
    interpolation between order statistics (numpy's method="linear", type 7). Not NaN-aware: a NaN
    replicate gives NaN. Infinite replicates are legal and sort last (or first), so a bound may be
    +-inf; interpolating towards an infinite order statistic gives that infinity.

    Returns:
        (lo, hi), each the replicates' shape without ``axis``.
    """
    a = float(alpha)
    if not (0.0 < a < 1.0):
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    x = np.moveaxis(np.asarray(replicates, dtype=np.float64), axis, -1)
    m = x.shape[-1]
    if m == 0:
        raise ValueError("replicates is empty along the given axis")
    xs = np.sort(x, axis=-1)
    has_nan = np.isnan(xs[..., -1])  # NaN sorts last
    out = []
    for prob in (a / 2.0, 1.0 - a / 2.0):
        h = (m - 1) * prob
        j = int(np.floor(h))
        g = h - j
        lo_v = xs[..., j]
        hi_v = xs[..., min(j + 1, m - 1)]
        with np.errstate(invalid="ignore"):
            v = lo_v + g * (hi_v - lo_v)
        v = np.where((g == 0.0) | (lo_v == hi_v), lo_v, v)
        v = np.where(np.isinf(lo_v) & np.isfinite(hi_v) & (g > 0.0), lo_v, v)
        v = np.where(np.isinf(hi_v) & np.isfinite(lo_v) & (g > 0.0), hi_v, v)
        v = np.where(has_nan, np.nan, v)
        out.append(v[()] if v.ndim == 0 else v)
    return out[0], out[1]
