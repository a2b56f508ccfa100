"""Created-vs-budget curve (DESIGN.md section 3): the labels repeated at K = 1, 2, 4, ..., n.

As K grows, eps(K) = 1 - zeta^(1/K) falls, problems the base reaches only rarely become
accessible, and "created" turns into "elicited"; the K where created reaches zero is the budget
at which all gains are reweighting. A K beyond `max_certifiable_budget(n)` cannot certify the
base inaccessible from n samples, so "created" cannot be observed there: those K are flagged
`certifiable: false` rather than read as "no creation".
"""

from __future__ import annotations

import numpy as np

from supportscope.analysis.labels import CREATED, LABELS, could_be, label_problems
from supportscope.stats import PairedBootstrap, accessibility, max_certifiable_budget, percentile_interval


def budgets_up_to(n_max: int) -> list[int]:
    """1, 2, 4, ..., the largest power of two <= n_max, then n_max itself."""
    ks = [2**i for i in range(int(np.log2(n_max)) + 1)]
    return ks if ks[-1] == n_max else ks + [int(n_max)]


def created_vs_budget(c0, n0, c1, n1, p_greater, p_less, zeta: float, alpha: float,
                      boot: PairedBootstrap, interval: str = "cp", up=None, down=None,
                      k_cert: int | None = None) -> list[dict]:
    """Label counts at each budget, with a bootstrap interval on the created count.

    ``interval``/``up``/``down``/``k_cert``: as in ``compare`` (anytime-valid mode for adaptive runs)."""
    if k_cert is None:
        k_cert = max_certifiable_budget(int(n0.min()), zeta, alpha)
    rows, created = [], []
    for K in budgets_up_to(int(max(n0.max(), n1.max()))):
        a0 = accessibility(c0, n0, K, zeta, alpha, interval)
        a1 = accessibility(c1, n1, K, zeta, alpha, interval)
        label, possible = label_problems(a0, a1, p_greater, p_less, alpha, up, down)
        created.append(label == CREATED)
        maybe = could_be(label, possible, CREATED)
        rows.append({
            "K": K,
            "certifiable": bool(K <= k_cert),
            "counts": {lab: int((label == lab).sum()) for lab in LABELS},
            "undetermined_could_be_created": int(maybe.sum()),
        })
    created = np.stack(created, axis=1).astype(float)
    lo, hi = percentile_interval(np.round(boot.means(created) * len(c0), 6), alpha)  # counts: drop float noise
    for j, row in enumerate(rows):
        row["created_lo"], row["created_hi"] = float(lo[j]), float(hi[j])
    return rows
