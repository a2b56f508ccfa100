"""Cross-model statistics with one paired bootstrap: every tuned model against the same base.

For the base (j = 0) and tuned models j = 1..M on the same Q problems, the per-problem values
    pass@1_ij = c_ij / n_ij,   pass@k_ij = 1 - C(n_ij - c_ij, k) / C(n_ij, k)  (Chen et al. 2021),
    created_ij, lost_ij = 1{label of model j against the base is created / lost}
are stacked into one matrix V [Q, 2 + 4M] and resampled with one `PairedBootstrap` (the weights
depend only on (Q, B, seed): the same resampled problems as every pairwise analysis of the run).
Each replicate b gives the means (1/Q) sum_i w_bi V_i. Because every model is resampled on the
same problems, the difference of two columns per replicate is the paired bootstrap of the
difference (Efron & Tibshirani 1993, ch. 13 percentile intervals), valid for differences *between*
tuned models, which separate pairwise analyses cannot give.

- sampling-efficiency gap of model j: base pass@K - tuned_j pass@1 (how much of what the base
  reaches in K tries the tuned model delivers in one; Yue et al. 2025 report it for RLVR);
- difference of two models a, b at pass@1, pass@k, and in created / lost counts (Q times the mean
  indicator difference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from supportscope.analysis.labels import CREATED, LOST
from supportscope.stats import PairedBootstrap, passk_at, percentile_interval


@dataclass(frozen=True)
class ModelSeries:
    """Point estimates and bootstrap replicates of the stacked means (module docstring).

    Column layout: 0 base pass@1, 1 base pass@k, then per tuned model j (0-based) four columns at
    2 + 4j: pass@1, pass@k, created share, lost share."""

    k: int
    n_problems: int
    estimate: np.ndarray  # [2 + 4M]
    replicates: np.ndarray  # [B, 2 + 4M]
    alpha: float

    def _ci(self, est: float, reps: np.ndarray) -> dict:
        lo, hi = percentile_interval(reps, self.alpha)
        return {"value": float(est), "lo": float(lo), "hi": float(hi)}

    def col(self, j: int | None, what: str) -> int:
        """Column of `what` ("pass1", "passk", "created", "lost") for tuned model j, or the base (j None)."""
        if j is None:
            return {"pass1": 0, "passk": 1}[what]
        return 2 + 4 * j + ("pass1", "passk", "created", "lost").index(what)

    def value(self, j: int | None, what: str) -> dict:
        c = self.col(j, what)
        scale = self.n_problems if what in ("created", "lost") else 1.0
        return self._ci(self.estimate[c] * scale, self.replicates[:, c] * scale)

    def efficiency_gap(self, j: int) -> dict:
        """base pass@k - tuned_j pass@1, with its paired interval."""
        a, b = self.col(None, "passk"), self.col(j, "pass1")
        return self._ci(self.estimate[a] - self.estimate[b], self.replicates[:, a] - self.replicates[:, b])

    def difference(self, a: int, b: int) -> dict:
        """Model b minus model a at pass@1, pass@k, and created / lost counts, with paired intervals."""
        out = {}
        for what in ("pass1", "passk", "created", "lost"):
            ca, cb = self.col(a, what), self.col(b, what)
            scale = self.n_problems if what in ("created", "lost") else 1.0
            out[what] = self._ci((self.estimate[cb] - self.estimate[ca]) * scale,
                                 (self.replicates[:, cb] - self.replicates[:, ca]) * scale)
        return out


def model_series(c0, n0, tuned: list[tuple[np.ndarray, np.ndarray, np.ndarray]], k: int, boot: PairedBootstrap,
                 alpha: float) -> ModelSeries:
    """The stacked means and replicates for the base (c0, n0) and each tuned (c, n, labels) at pass@k
    (k <= every n)."""
    cols = [c0 / n0, passk_at(c0, n0, [k])[:, 0]]
    for c, n, labels in tuned:
        cols += [c / n, passk_at(c, n, [k])[:, 0], (labels == CREATED).astype(float), (labels == LOST).astype(float)]
    v = np.stack(cols, axis=1).astype(np.float64)
    return ModelSeries(int(k), v.shape[0], v.mean(axis=0), boot.means(v), float(alpha))
