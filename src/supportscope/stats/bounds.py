"""Exact binomial bounds and the sample counts that certify a budget (DESIGN.md section 2)."""

from __future__ import annotations

import numpy as np
from scipy.special import betaincinv

from ._checks import as_counts, as_int_array, as_probability, check_level


def _scalar_or_array(a: np.ndarray):
    return a[()] if a.ndim == 0 else a


def _cp(c: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson bounds for already-validated arrays (c, n may be float64 of whole numbers)."""
    at_zero = c <= 0
    at_n = c >= n
    # Safe shape parameters where the bound is fixed at 0 or 1 (betaincinv(0, .) is undefined).
    a_lo = np.where(at_zero, 1.0, c)
    b_hi = np.where(at_n, 1.0, n - c)
    lo = np.where(at_zero, 0.0, betaincinv(a_lo, n - c + 1.0, alpha / 2.0))
    hi = np.where(at_n, 1.0, betaincinv(c + 1.0, b_hi, 1.0 - alpha / 2.0))
    return lo, hi


def clopper_pearson(c, n, alpha: float = 0.05):
    """Exact (Clopper & Pearson 1934) two-sided interval for a binomial proportion at level 1 - alpha.

    lo = Beta^{-1}(alpha/2; c, n - c + 1)   (lo = 0 when c = 0),
    hi = Beta^{-1}(1 - alpha/2; c + 1, n - c)   (hi = 1 when c = n),

    Clopper, C. J. & Pearson, E. S. (1934), "The use of confidence or fiducial limits illustrated in
    the case of the binomial", Biometrika 26(4). Coverage is >= 1 - alpha for every p.

    Args:
        c, n: successes and samples (broadcastable arrays), 0 <= c <= n, n >= 1.
        alpha: 1 - confidence level, in (0, 1).

    Returns:
        (lo, hi) float64 arrays of the broadcast shape (numpy scalars for scalar input).
    """
    alpha = check_level(alpha, "alpha")
    c, n = as_counts(c, n)
    lo, hi = _cp(c.astype(np.float64), n.astype(np.float64), alpha)
    return _scalar_or_array(lo), _scalar_or_array(hi)


def eps(k, zeta: float = 0.05):
    """Accessibility threshold eps(k) = 1 - zeta^(1/k), computed as -expm1(ln(zeta)/k).

    The success probability p at which k independent samples find at least one success with
    probability exactly 1 - zeta: (1 - eps)^k = zeta (DESIGN.md section 2; about ln(1/zeta)/k).

    Args:
        k: budget(s), each >= 1 (array or scalar; +inf gives 0).
        zeta: failure tolerance in (0, 1).
    """
    zeta = check_level(zeta, "zeta")
    k = np.asarray(k, dtype=np.float64)
    bad = ~(k >= 1.0)
    if bad.any():
        raise ValueError(f"budget k must be >= 1, got {k[bad].flat[0]}")
    return _scalar_or_array(-np.expm1(np.log(zeta) / k))


def max_certifiable_budget(n: int, zeta: float = 0.05, alpha: float = 0.05) -> int:
    """Largest power of two K at which n samples with no success certify inaccessibility.

    K = max{2^j : CP_hi(0, n) < eps(2^j)}, where CP_hi(0, n) = 1 - (alpha/2)^(1/n) is the
    Clopper & Pearson (1934) upper bound after 0 successes and eps(K) = 1 - zeta^(1/K); roughly
    n >= K ln(2/alpha)/ln(1/zeta) (DESIGN.md section 2). Returns 0 if not even K = 1 qualifies.
    For n = 128, zeta = alpha = 0.05 this is 64.
    """
    n = int(as_int_array(n, "n", minimum=1))
    alpha = check_level(alpha, "alpha")
    zeta = check_level(zeta, "zeta")
    return _largest_budget_below(-np.expm1(np.log(alpha / 2.0) / n), zeta)


def first_decided(n_start: np.ndarray, n_max: int, decided_at) -> np.ndarray:
    """Smallest whole n' in (n_start, n_max] with ``decided_at(n')`` True, per entry (+inf where even
    n_max is undecided), for a decision monotone in n' and undecided at n_start: a vectorised bisection
    on log n' over all entries at once (~log2(n_max) steps). Shared by :func:`n_to_decide` and
    ``sequences.samples_to_close``."""
    lo = n_start.astype(np.float64).copy()
    hi = np.full_like(lo, float(n_max))
    ok_max = decided_at(hi)
    for _ in range(200):  # ~log2(log2 n_max) + log2(n_max) steps at most; exits early
        active = ok_max & (hi - lo > 1.0)
        if not active.any():
            break
        mid = np.floor(np.sqrt(np.maximum(lo, 1.0) * hi))
        mid = np.clip(mid, lo + 1.0, hi - 1.0)
        d = decided_at(mid)
        hi = np.where(active & d, mid, hi)
        lo = np.where(active & ~d, mid, lo)
    return np.where(ok_max, hi, np.inf)


def _largest_budget_below(hi0: float, zeta: float) -> int:
    """max{2^j : hi0 < eps(2^j)} (eps decreases in K), 0 when not even K = 1 qualifies."""
    ks = 2.0 ** np.arange(0, 63)
    ok = hi0 < -np.expm1(np.log(zeta) / ks)
    return int(ks[ok].max()) if ok.any() else 0


def _decided(c, n, t, alpha):
    lo, hi = _cp(c, n, alpha)
    return (lo >= t) | (hi < t)


def n_to_decide(c, n, threshold, alpha: float = 0.05, n_max: int = 10**7) -> np.ndarray:
    """Samples needed for the Clopper-Pearson interval to exclude ``threshold`` at the observed rate.

    For problems whose interval [lo, hi] (Clopper & Pearson 1934) contains the threshold t
    (lo < t <= hi), the smallest whole total n' > n such that the interval at the real-valued
    count c' = r n', r = c/n (the observed rate), is decided: lo >= t or hi < t. The beta-quantile
    form of the bounds takes real shape parameters:

        lo(n') = Beta^{-1}(alpha/2; r n', (1-r) n' + 1),  hi(n') = Beta^{-1}(1-alpha/2; r n' + 1, (1-r) n'),

    with the end points kept special exactly as for whole counts: c = 0 gives c' = 0 and lo = 0
    (hi = 1 - (alpha/2)^(1/n')), c = n gives c' = n' and hi = 1.

    Unrounded, the decision is monotone in n': lo(n') is non-decreasing and hi(n') non-increasing
    at a fixed rate (closed forms at r = 0 and r = 1; for 0 < r < 1 checked on a dense grid of
    r in (0, 1), n' up to 1e7 and alpha in {0.01, 0.05, 0.1, 0.3}, violations only at the
    1e-15 relative rounding level), and t sits on one side of r, so {n' : decided} is a half-line
    and the vectorised bisection on log n' (:func:`first_decided`) returns the same n' as a linear
    scan (tested). Rounding c' = round(c n'/n), the former rule, made the decision jitter in n'
    (c = 7, n = 16, t = eps(8): decided at 56, undecided at 57..60; bisection returned 68, the
    unrounded answer is 63).

    Returns:
        float64 array (scalar for scalar input): 0 where already decided; +inf where c/n == t
        (never decided at that rate) or where n' would exceed ``n_max``.
    """
    alpha = check_level(alpha, "alpha")
    c, n = as_counts(c, n)
    n_max = int(as_int_array(n_max, "n_max", minimum=1))
    t = as_probability(threshold, "threshold")
    c, n, t = np.broadcast_arrays(c.astype(np.float64), n.astype(np.float64), t)
    shape = c.shape
    c, n, t = c.ravel(), n.ravel(), t.ravel()
    out = np.zeros(c.size, dtype=np.float64)
    undecided = ~_decided(c, n, t, alpha)
    never = undecided & ((c / n == t) | (n >= n_max))
    out[never] = np.inf
    todo = np.flatnonzero(undecided & ~never)
    if todo.size:
        cc, nn, tt = c[todo], n[todo], t[todo]

        def decided_at(m):
            # c' = c m / n, unrounded (c m / n is exactly c at m = n); _cp keeps c' = 0 and c' = m
            # special, and r = 0 or 1 gives exactly c' = 0 or c' = m.
            return _decided(cc * m / nn, m, tt, alpha)

        out[todo] = first_decided(nn, n_max, decided_at)
    return _scalar_or_array(out.reshape(shape))
