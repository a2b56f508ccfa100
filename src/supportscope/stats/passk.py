"""Unbiased pass@k for every k, by the ratio recurrence (DESIGN.md section 3).

pass@k = 1 - C(n-c, k) / C(n, k) is the unbiased estimator of the probability that at least one
of k samples succeeds, given c successes among n samples (Chen et al. 2021, "Evaluating Large
Language Models Trained on Code", arXiv 2107.03374, eq. 1). Writing q_k = C(n-c, k)/C(n, k):

    q_0 = 1,    q_k = q_{k-1} * (n - c - k + 1) / (n - k + 1),

so every k = 1..n costs one multiplication: one ``np.cumprod`` over a [Q, kmax] ratio array.
No factorials, no gamma functions, no loop over k or over problems.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_counts, as_int_array

#: Elements of the [problems, k] work arrays processed at once: 2**17 float64 = 1 MiB each, small
#: enough to stay in cache (about 3x faster than one big pass) and bounding memory for any Q*kmax.
CHUNK_ELEMS = 2**17


def _fail_prob_chunks(c: np.ndarray, n: np.ndarray, kmax: int, chunk_elems: int = CHUNK_ELEMS):
    """Yield (rows, q) with q[i, k-1] = C(n-c, k)/C(n, k) for k = 1..kmax, NaN where k > n.

    The ratio (n-c-k+1)/(n-k+1) is clipped at 0 once n-c-k+1 <= 0 (q stays 0). At k = n+1 the
    clipped ratio is 0/0 = NaN, and the cumulative product carries that NaN to every k > n: the
    same result as masking those ratios to 1 and writing NaN afterwards, in fewer passes. ``q``
    is a view of a reused buffer, valid until the next chunk.
    """
    k = np.arange(1, kmax + 1, dtype=np.float64)
    step = max(1, chunk_elems // kmax)
    n1 = n.astype(np.float64) + 1.0
    cf = c.astype(np.float64)
    rows_max = min(step, c.size)
    den_buf = np.empty((rows_max, kmax))
    q_buf = np.empty((rows_max, kmax))
    with np.errstate(invalid="ignore"):  # the intended 0/0 at k = n + 1
        for start in range(0, c.size, step):
            rows = slice(start, min(start + step, c.size))
            r = rows.stop - rows.start
            den, q = den_buf[:r], q_buf[:r]
            np.subtract(n1[rows, None], k, out=den)  # n - k + 1
            np.subtract(den, cf[rows, None], out=q)  # n - c - k + 1
            np.maximum(q, 0.0, out=q)
            np.divide(q, den, out=q)
            np.cumprod(q, axis=1, out=q)
            yield rows, q


def _as_problem_counts(c, n) -> tuple[np.ndarray, np.ndarray]:
    c, n = as_counts(c, n)
    if c.ndim > 1:
        raise ValueError(f"c and n must be 1-D arrays (one entry per problem), got shape {c.shape}")
    return np.atleast_1d(c), np.atleast_1d(n)


def passk_curves(c, n, kmax: int | None = None) -> np.ndarray:
    """Unbiased pass@k curves for k = 1..kmax, one row per problem.

    Formula: pass@k_i = 1 - C(n_i - c_i, k) / C(n_i, k) (Chen et al. 2021, "Evaluating Large
    Language Models Trained on Code", eq. 1), with the ratio C(n-c, k)/C(n, k) computed by the
    recurrence q_k = q_{k-1} (n-c-k+1)/(n-k+1), q_0 = 1, as one cumulative product per chunk of
    problems (memory bounded by ``CHUNK_ELEMS`` work elements per chunk).

    Args:
        c: successes per problem, shape [Q], 0 <= c_i <= n_i.
        n: samples per problem, shape [Q] (or scalar), n_i >= 1; problems may differ.
        kmax: largest k; defaults to max(n).

    Returns:
        float64 array [Q, kmax]; entry [i, k-1] is pass@k of problem i, NaN where k > n_i.
    """
    c, n = _as_problem_counts(c, n)
    if kmax is None:
        kmax = int(n.max()) if n.size else 1
    kmax = int(as_int_array(kmax, "kmax", minimum=1))
    out = np.empty((c.size, kmax), dtype=np.float64)
    for rows, q in _fail_prob_chunks(c, n, kmax):
        np.subtract(1.0, q, out=out[rows])
    return out


def passk_at(c, n, ks) -> np.ndarray:
    """Unbiased pass@k at selected k only.

    Formula: pass@k_i = 1 - C(n_i - c_i, k)/C(n_i, k) (Chen et al. 2021, eq. 1) by the same ratio
    recurrence as :func:`passk_curves`, computed up to max(ks) in chunks of problems, keeping only
    the requested columns.

    Args:
        c, n: successes and samples per problem, shape [Q].
        ks: the k's (each >= 1), any order, repeats allowed.

    Returns:
        float64 array [Q, len(ks)]; NaN where k > n_i.
    """
    c, n = _as_problem_counts(c, n)
    ks = np.atleast_1d(as_int_array(ks, "ks", minimum=1))
    if ks.ndim != 1:
        raise ValueError(f"ks must be a 1-D list of k's, got shape {ks.shape}")
    out = np.empty((c.size, ks.size), dtype=np.float64)
    if ks.size == 0:
        return out
    kmax = int(ks.max())
    cols = ks - 1
    for rows, q in _fail_prob_chunks(c, n, kmax):
        np.subtract(1.0, q[:, cols], out=out[rows])
    return out


def pooled_passk(curves) -> np.ndarray:
    """Pooled pass@k over problems: the mean of per-problem pass@k, (1/Q) sum_i pass@k_i.

    Chen et al. 2021 ("Evaluating Large Language Models Trained on Code") report this mean of the
    unbiased per-problem estimator. A column in which some problem has NaN (n_i < k) gives NaN:
    pooled pass@k is defined only for k <= min_i n_i.

    Args:
        curves: [Q, K] from :func:`passk_curves` or :func:`passk_at`.

    Returns:
        float64 array [K].
    """
    a = np.asarray(curves, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"curves must be 2-D [problems, k], got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("curves has no problems (0 rows); pooled pass@k needs at least one")
    return a.mean(axis=0)
