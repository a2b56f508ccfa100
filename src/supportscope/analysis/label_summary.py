"""Label counts with intervals, and where the gain at the audit budget comes from (DESIGN.md section 3).

Per problem, the pass@k gain at the share budget k = min(K, smallest n) (K when every problem has
n >= K):

    g_i = pass@k(c1_i, n1_i) - pass@k(c0_i, n0_i)          (unbiased pass@k, `stats.passk`)

- ``gain``: the pooled pass@k gain mean_i g_i with its paired-bootstrap percentile interval.
- per label L: ``count`` with a bootstrap interval; ``passk_change`` = sum_{i in L} g_i / Q, the
  label's signed contribution to the pooled pass@k gain (the contributions add up to ``gain``);
  ``share_of_gross_gain`` = sum_{i in L} max(g_i, 0) / sum_i max(g_i, 0), the label's share of
  the gross positive gain: always in [0, 1] (None when no problem gains), unlike a share of the
  net gain, which is unbounded when gains and losses cancel.
Measuring the share at k = K (not at pass@1) is what matters for creation: a problem going from
0 to 30/128 adds almost nothing at pass@1 and nearly 1 at pass@64.
"""

from __future__ import annotations

import numpy as np

from supportscope.analysis.labels import CREATED, LABELS, LOST, UNDETERMINED, could_be
from supportscope.stats import PairedBootstrap, passk_at, percentile_interval


def share_budget(K: int, n0: np.ndarray, n1: np.ndarray) -> int:
    """k = min(K, min_i n0_i, min_i n1_i): pass@k is estimable for every problem only up to its n."""
    return int(min(K, n0.min(), n1.min()))


def passk_gain(c0, n0, c1, n1, k: int) -> np.ndarray:
    """g_i = pass@k(c1_i, n1_i) - pass@k(c0_i, n0_i), unbiased pass@k of Chen et al. 2021 (arXiv 2107.03374)."""
    return passk_at(c1, n1, [k])[:, 0] - passk_at(c0, n0, [k])[:, 0]


def gross_share(g: np.ndarray, mask: np.ndarray) -> float | None:
    """sum_{mask} max(g, 0) / sum max(g, 0) in [0, 1]; None when no problem gains."""
    pos = np.maximum(g, 0.0)
    tot = float(pos.sum())
    return min(1.0, float(pos[mask].sum()) / tot) if tot > 0 else None  # min: float rounding


def label_summary(label: np.ndarray, possible: np.ndarray, problem_id: np.ndarray, g: np.ndarray, k: int,
                  boot: PairedBootstrap, alpha: float) -> tuple[dict, dict]:
    """(labels, gain): the ``labels`` and ``gain`` blocks of the summary (module docstring)."""
    Q = len(label)
    onehot = np.stack([label == lab for lab in LABELS], axis=1)
    count_lo, count_hi = percentile_interval(np.round(boot.means(onehot.astype(float)) * Q, 6), alpha)
    labels: dict[str, dict] = {}
    for j, lab in enumerate(LABELS):
        is_lab = onehot[:, j]
        labels[lab] = {"count": int(is_lab.sum()), "lo": float(count_lo[j]), "hi": float(count_hi[j]),
                       "passk_change": float(g[is_lab].sum()) / Q, "share_of_gross_gain": gross_share(g, is_lab)}
        if lab in (CREATED, LOST):
            labels[lab]["ids"] = problem_id[is_lab][:100].tolist()
    und = label == UNDETERMINED
    for what in (CREATED, LOST):
        could = could_be(label, possible, what)
        labels[UNDETERMINED][f"could_be_{what}"] = int(could.sum())
    lo, hi = percentile_interval(boot.means(g), alpha)
    gain = {"k": k, "mean": float(g.mean()), "lo": float(lo), "hi": float(hi),
            "gross_positive": float(np.maximum(g, 0).sum()) / Q,
            "undetermined_share_of_gross_gain": gross_share(g, und),
            "determined_share_of_gross_gain": gross_share(g, ~und)}
    return labels, gain
