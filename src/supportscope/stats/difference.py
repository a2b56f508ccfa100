"""Per-problem test of a change in success rate between two models (base vs tuned)."""

from __future__ import annotations

import numpy as np
from scipy.stats import hypergeom

from ._checks import as_paired_counts


def two_proportion_pvalues(c0, n0, c1, n1):
    """One-sided Fisher exact test p-values for tuned (c1/n1) vs base (c0/n0), per problem.

    Conditioning on the total successes c0 + c1 (Fisher 1935, "The logic of inductive
    inference"), the tuned count is X ~ Hypergeom(M = n0 + n1, K = c0 + c1, N = n1):

        p_greater = P(X >= c1)   (small: tuned success is higher than base)
        p_less    = P(X <= c1)   (small: tuned success is lower than base)

    These equal ``scipy.stats.fisher_exact([[c1, n1-c1], [c0, n0-c0]], alternative=...)``. The
    two-sided central test rejects at level alpha when min(p_greater, p_less) <= alpha/2.

    Returns:
        (p_greater, p_less) float64 arrays of the broadcast shape.
    """
    c0, n0, c1, n1 = as_paired_counts(c0, n0, c1, n1)
    m, k, draws = n0 + n1, c0 + c1, n1
    p_greater = np.clip(hypergeom.sf(c1 - 1, m, k, draws), 0.0, 1.0)
    p_less = np.clip(hypergeom.cdf(c1, m, k, draws), 0.0, 1.0)
    return np.asarray(p_greater, dtype=np.float64), np.asarray(p_less, dtype=np.float64)
