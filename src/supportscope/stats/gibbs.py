"""The Gibbs tilt: what pure reweighting of the base can do to success rates (DESIGN.md section 4).

Post-training as free-energy minimisation, F_beta(q) = E_q[-r] + beta KL(q || pi0), has the
minimiser q*(y) = pi0(y) exp(r(y)/beta) / Z (arXiv 2605.08368, "On Distinguishing Capability
Elicitation from Capability Creation in Post-Training: A Free-Energy Perspective"). For a binary
reward every problem's log-odds shift by the same lambda = 1/beta:
logit p* = logit p0 + lambda, and p0 = 0 stays 0: reweighting cannot create.
Whether one lambda fits measured counts: `stats.tilt_gof` (deviance, parametric bootstrap, R^2).
"""

from __future__ import annotations


import numpy as np
from scipy.special import betaincinv, expit, logit
from scipy.stats import binom

from ._checks import as_counts, as_paired_counts, as_probability

_BRACKET = 50.0
_MAX_STEP = 5.0
_TOL = 1e-10


def jeffreys(c, n):
    """Jeffreys-smoothed success rate (c + 0.5) / (n + 1), the posterior mean under Beta(1/2, 1/2).

    Jeffreys (1946), "An invariant form for the prior probability in estimation problems"; never
    exactly 0 or 1, so its logit is finite.
    """
    c, n = as_counts(c, n)
    out = (c + 0.5) / (n + 1.0)
    return out[()] if out.ndim == 0 else out


def _lam_array(lam) -> np.ndarray:
    lam = np.asarray(lam, dtype=np.float64)
    if np.isnan(lam).any():
        raise ValueError("lam (the log-odds tilt) must not be NaN; +-inf is allowed")
    return lam


def _tilt(p0: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """tilt for validated arrays (no checks)."""
    interior = (p0 > 0.0) & (p0 < 1.0)
    z = logit(np.where(interior, p0, 0.5)) + lam  # finite + (+-inf) is +-inf, never NaN
    return np.where(interior, expit(z), p0)


def tilt(p0, lam):
    """Exponential tilt of a success probability: sigmoid(logit(p0) + lam).

    The success probability of q(y) ∝ pi0(y) exp(lam r(y)) for binary r (arXiv 2605.08368; the
    Gibbs/Esscher tilt). p0 = 0 -> 0 and p0 = 1 -> 1 exactly at every lam (reweighting cannot
    create); lam = +inf gives 1 and lam = -inf gives 0 for 0 < p0 < 1. Broadcasts p0 and lam.
    """
    p0 = as_probability(p0, "p0")
    out = _tilt(p0, _lam_array(lam))
    return out[()] if out.ndim == 0 else out


def gibbs_tilt(p0, beta):
    """Success probability of the free-energy minimiser at temperature beta: tilt(p0, 1/beta).

    q*(y) = pi0(y) exp(r(y)/beta) / Z minimises F_beta(q) = E_q[-r] + beta KL(q || pi0)
    (arXiv 2605.08368; Donsker-Varadhan / Gibbs variational principle); for binary r its
    success probability is sigmoid(logit(p0) + 1/beta). beta = inf gives p0; beta = 0 gives 1 for
    p0 > 0 (pure reward maximisation inside the support).
    """
    b = np.asarray(beta, dtype=np.float64)
    if not np.all(b >= 0):
        raise ValueError("beta must be >= 0 (the KL weight of the free energy); use inf for no tilt")
    with np.errstate(divide="ignore"):
        lam = np.where(b == 0, np.inf, 1.0 / np.where(b == 0, 1.0, b))
    return tilt(p0, lam)


def implied_tilt(c0, n0, c1, n1):
    """Per-problem implied tilt lambda_i = logit(jeffreys(c1, n1)) - logit(jeffreys(c0, n0)).

    The log-odds shift that maps the base's Jeffreys-smoothed rate onto the tuned one
    (arXiv 2605.08368: one shared lambda = 1/beta for every problem under pure reweighting).
    """
    out = logit(np.asarray(jeffreys(c1, n1))) - logit(np.asarray(jeffreys(c0, n0)))
    return out[()] if np.ndim(out) == 0 else out


def _pair_counts(c0, n0, c1, n1):
    c0, n0, c1, n1 = as_paired_counts(c0, n0, c1, n1)
    if c0.ndim != 1:
        c0, n0, c1, n1 = (np.atleast_1d(x).ravel() for x in (c0, n0, c1, n1))
    return c0, n0, c1, n1


def _weights(weights, q: int):
    if weights is None:
        return np.ones((1, q)), False
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w, batched = w[None, :], False
    else:
        batched = True
    if w.ndim != 2 or w.shape[1] != q:
        raise ValueError(f"weights must have shape [B, {q}] (one column per problem), got {w.shape}")
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("weights must be finite and >= 0")
    return w, batched


def _newton_tilt(a: np.ndarray, c1: np.ndarray, n1: np.ndarray, w: np.ndarray, start: float = 0.0):
    """Weighted ML tilt per row: the safeguarded Newton solver shared by every fit (private).

    Row b maximises sum_i w_bi [c1_bi ln s_bi + (n1_bi - c1_bi) ln(1 - s_bi)],
    s_bi = sigmoid(a_bi + lambda_b). ``a``, ``c1``, ``n1`` and ``w`` are float arrays [B, Q] or
    [1, Q] (broadcast to B rows). Score sum_i w_bi (c1_bi - n1_bi s_bi), information
    I_b = sum_i w_bi n1_bi s_bi (1 - s_bi); Newton steps clipped to +-5, kept inside a shrinking
    bracket within [-50, 50] (bisection otherwise), to 1e-10, from lambda = ``start`` (clipped into
    the bracket; any start converges, a good one saves iterations).

    Returns:
        (lam, info): float64 arrays [B]. lam = +inf when row b's weighted counts hold no failure,
        -inf when they hold no success, NaN when they hold neither (all weight on nothing).
    """
    bsz = max(a.shape[0], c1.shape[0], n1.shape[0], w.shape[0])
    q = a.shape[1]
    wc1 = np.broadcast_to(np.einsum("bq,bq->b", *np.broadcast_arrays(w, c1)), (bsz,)).copy()
    wf1 = np.broadcast_to(np.einsum("bq,bq->b", *np.broadcast_arrays(w, n1 - c1)), (bsz,)).copy()
    wn1 = np.broadcast_to(w * n1, (bsz, q))
    rows_a = a.shape[0] > 1
    lam = np.full(bsz, float(np.clip(start, -0.5 * _BRACKET, 0.5 * _BRACKET)) if np.isfinite(start) else 0.0)
    lo = np.full(bsz, -_BRACKET)
    hi = np.full(bsz, _BRACKET)
    active = (wc1 > 0) & (wf1 > 0)
    lam[(wf1 <= 0) & (wc1 > 0)] = np.inf
    lam[(wc1 <= 0) & (wf1 > 0)] = -np.inf
    lam[(wc1 <= 0) & (wf1 <= 0)] = np.nan  # all weight on nothing: undefined

    for _ in range(200):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        s = expit((a[idx] if rows_a else a) + lam[idx, None])
        score = wc1[idx] - np.einsum("bq,bq->b", wn1[idx], s)
        info = np.einsum("bq,bq->b", wn1[idx], s * (1.0 - s))
        lo[idx] = np.where(score > 0, lam[idx], lo[idx])
        hi[idx] = np.where(score > 0, hi[idx], lam[idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.clip(score / info, -_MAX_STEP, _MAX_STEP)
        new = lam[idx] + np.where(info > 0, step, 0.0)
        outside = ~((new > lo[idx]) & (new < hi[idx])) | (info <= 0)
        new = np.where(outside & (score != 0), 0.5 * (lo[idx] + hi[idx]), new)
        new = np.where(score == 0, lam[idx], new)
        done = (np.abs(new - lam[idx]) < _TOL) | (hi[idx] - lo[idx] < _TOL) | (score == 0)
        lam[idx] = new
        active[idx[done]] = False

    finite = np.isfinite(lam)
    s = expit(a + np.where(finite, lam, 0.0)[:, None])
    info = np.einsum("bq,bq->b", wn1, s * (1.0 - s))
    return lam, info


def _se(lam: np.ndarray, info: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(lam), 1.0 / np.sqrt(info), np.where(np.isnan(lam), np.nan, np.inf))


def fit_global_tilt(c0, n0, c1, n1, weights=None, *, start: float = 0.0):
    """Maximum-likelihood global tilt lambda (= 1/beta) of the tuned counts given the base.

    Model (arXiv 2605.08368, Gibbs reweighting with one beta for all problems):
    c1_i ~ Binomial(n1_i, s_i), s_i = sigmoid(a_i + lambda), a_i = logit(jeffreys(c0_i, n0_i)).
    The weighted log-likelihood sum_i w_i [c1_i ln s_i + (n1_i - c1_i) ln(1 - s_i)] is concave in
    lambda; its score is sum_i w_i (c1_i - n1_i s_i) and its information
    I = sum_i w_i n1_i s_i (1 - s_i). Solved by safeguarded Newton (steps clipped to +-5, kept
    inside a shrinking bracket within [-50, 50], bisection otherwise) to 1e-10, all bootstrap
    replicates at once. se = 1/sqrt(I) at the optimum (observed information; it treats the base
    rates as known, so it understates the uncertainty: prefer a paired-bootstrap interval).

    The MLE is +inf when the weighted tuned counts hold no failure and -inf when they hold no
    success (se = inf then).

    Args:
        c0, n0, c1, n1: base and tuned counts per problem, shape [Q].
        weights: optional [B, Q] problem weights (e.g. ``PairedBootstrap`` weight chunks).
        start: where Newton starts (e.g. the full-data estimate when fitting bootstrap
            replicates); the optimum does not depend on it.

    Returns:
        (lam, se): floats, or float64 arrays [B] when ``weights`` is 2-D.
    """
    c0, n0, c1, n1 = _pair_counts(c0, n0, c1, n1)
    w, batched = _weights(weights, c0.size)
    a = logit(jeffreys(c0, n0))[None, :]
    lam, info = _newton_tilt(a, c1[None, :].astype(np.float64), n1[None, :].astype(np.float64), w,
                             float(start))
    se = _se(lam, info)
    if batched:
        return lam, se
    return float(lam[0]), float(se[0])


def _batch_counts(c0, n0, c1, n1):
    """Counts of B data sets, each [B, Q] (n0, n1 may be [Q]), validated and broadcast."""
    c0, n0 = as_counts(c0, n0, "c0", "n0")
    c1, n1 = as_counts(c1, n1, "c1", "n1")
    try:
        c0, n0, c1, n1 = np.broadcast_arrays(c0, n0, c1, n1)
    except ValueError:
        raise ValueError(
            f"base and tuned counts must have the same shape [B, Q], got {c0.shape} and {c1.shape}"
        ) from None
    if c0.ndim != 2:
        raise ValueError(f"batched counts must be 2-D [data sets, problems], got shape {c0.shape}")
    return c0, n0, c1, n1


def fit_global_tilt_batched(c0, n0, c1, n1, weights=None):
    """:func:`fit_global_tilt` for B data sets at once (e.g. parametric-bootstrap replicates).

    Row b is its own data set: c1_bi ~ Binomial(n1_bi, sigmoid(a_bi + lambda_b)) with its own
    Jeffreys base logits a_bi = logit((c0_bi + 1/2)/(n0_bi + 1)); lambda_b maximises
    sum_i w_bi [c1_bi ln s_bi + (n1_bi - c1_bi) ln(1 - s_bi)] by the same safeguarded Newton
    solver as :func:`fit_global_tilt` (one shared private routine), all rows at once (the Gibbs
    tilt of arXiv 2605.08368; Jeffreys 1946 smoothing).

    Args:
        c0, c1: counts [B, Q]; n0, n1: sample counts [B, Q] or [Q].
        weights: optional [B, Q] (or [Q]) weights >= 0, e.g. (c0 > 0) to fit each row only on
            the problems its base solved.

    Returns:
        (lam, se): float64 arrays [B]; lam is +-inf / NaN per row as in :func:`fit_global_tilt`.
    """
    c0, n0, c1, n1 = _batch_counts(c0, n0, c1, n1)
    if weights is None:
        w = np.ones((1, c0.shape[1]))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim == 1:
            w = w[None, :]
        if w.ndim != 2 or w.shape[1] != c0.shape[1] or w.shape[0] not in (1, c0.shape[0]):
            raise ValueError(f"weights must have shape {c0.shape} or [{c0.shape[1]}], got {w.shape}")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ValueError("weights must be finite and >= 0")
    a = logit((c0 + 0.5) / (n0 + 1.0))
    lam, info = _newton_tilt(a, c1.astype(np.float64), n1.astype(np.float64), w)
    return lam, _se(lam, info)


def tilt_residuals(c0, n0, c1, n1, lam, n_nodes: int = 32):
    """Posterior-predictive check of each problem's tuned count under one global tilt.

    The base rate is uncertain: with Jeffreys posterior Beta(c0 + 1/2, n0 - c0 + 1/2)
    (Jeffreys 1946) take G quantile nodes q_ig = Beta^{-1}((g + 1/2)/G; c0 + 1/2, n0 - c0 + 1/2)
    and tilt them, s_ig = tilt(q_ig, lam) (arXiv 2605.08368). Then
        pred_p1 = mean_g s_ig
        p_over  = mean_g P[Bin(n1, s_ig) >= c1]   small: tuned far above the tilt (candidate creation)
        p_under = mean_g P[Bin(n1, s_ig) <= c1]   small: tuned far below the tilt (squeezed / lost)
    (Gelman, Meng & Stern 1996 posterior-predictive p-values), vectorised over [Q, G].

    Args:
        lam: scalar tilt, or [Q] per-problem tilts.

    Returns:
        (pred_p1, p_over, p_under) float64 arrays [Q].
    """
    c0, n0, c1, n1 = _pair_counts(c0, n0, c1, n1)
    g = int(n_nodes)
    if g < 1:
        raise ValueError(f"n_nodes must be >= 1, got {n_nodes}")
    lam = _lam_array(lam)
    if lam.ndim > 1 or (lam.ndim == 1 and lam.size not in (1, c0.size)):
        raise ValueError(f"lam must be a scalar or have one entry per problem ({c0.size}), got {lam.shape}")
    u = (np.arange(g) + 0.5) / g
    q = betaincinv((c0 + 0.5)[:, None], (n0 - c0 + 0.5)[:, None], u[None, :])
    s = _tilt(q, lam.reshape(-1, 1) if lam.ndim == 1 else lam)
    k = c1[:, None]
    nn = n1[:, None]
    p_over = binom.sf(k - 1, nn, s).mean(axis=1)
    p_under = binom.cdf(k, nn, s).mean(axis=1)
    return s.mean(axis=1), np.clip(p_over, 0.0, 1.0), np.clip(p_under, 0.0, 1.0)
