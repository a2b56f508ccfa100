"""The Gibbs tilt: what pure reweighting of the base can do to success rates (DESIGN.md section 4).

Post-training as free-energy minimisation, F_beta(q) = E_q[-r] + beta KL(q || pi0), has the
minimiser q*(y) = pi0(y) exp(r(y)/beta) / Z (arXiv 2605.08368, "On Distinguishing Capability
Elicitation from Capability Creation in Post-Training: A Free-Energy Perspective"). For a binary
reward every problem's log-odds shift by the same lambda = 1/beta:
logit p* = logit p0 + lambda, and p0 = 0 stays 0: reweighting cannot create.
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


def fit_global_tilt(c0, n0, c1, n1, weights=None):
    """Maximum-likelihood global tilt lambda (= 1/beta) of the tuned counts given the base.

    Model (arXiv 2605.08368, Gibbs reweighting with one beta for all problems):
    c1_i ~ Binomial(n1_i, s_i), s_i = sigmoid(a_i + lambda), a_i = logit(jeffreys(c0_i, n0_i)).
    The weighted log-likelihood sum_i w_i [c1_i ln s_i + (n1_i - c1_i) ln(1 - s_i)] is concave in
    lambda; its score is sum_i w_i (c1_i - n1_i s_i) and its information
    I = sum_i w_i n1_i s_i (1 - s_i). Solved by safeguarded Newton (steps clipped to +-5, kept
    inside a shrinking bracket within [-50, 50], bisection otherwise) to 1e-10, all bootstrap
    replicates at once. se = 1/sqrt(I) at the optimum (observed information).

    The MLE is +inf when the weighted tuned counts hold no failure and -inf when they hold no
    success (se = inf then).

    Args:
        c0, n0, c1, n1: base and tuned counts per problem, shape [Q].
        weights: optional [B, Q] problem weights (e.g. ``PairedBootstrap`` weight chunks).

    Returns:
        (lam, se): floats, or float64 arrays [B] when ``weights`` is 2-D.
    """
    c0, n0, c1, n1 = _pair_counts(c0, n0, c1, n1)
    w, batched = _weights(weights, c0.size)
    a = logit(jeffreys(c0, n0))
    wc1 = w @ c1.astype(np.float64)
    wf1 = w @ (n1 - c1).astype(np.float64)
    wn1 = w * n1  # [B, Q]
    bsz = w.shape[0]
    lam = np.zeros(bsz)
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
        s = expit(a[None, :] + lam[idx, None])
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
    s = expit(a[None, :] + np.where(finite, lam, 0.0)[:, None])
    info = np.einsum("bq,bq->b", wn1, s * (1.0 - s))
    with np.errstate(divide="ignore"):
        se = np.where(finite, 1.0 / np.sqrt(info), np.where(np.isnan(lam), np.nan, np.inf))
    if batched:
        return lam, se
    return float(lam[0]), float(se[0])


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


def share_of_gain(c0, n0, c1, n1, lam, weights=None):
    """Share of the observed mean success gain that a single tilt explains.

    share = sum_i w_i (tilt(p0_i, lam) - p0_i) / sum_i w_i (p1_i - p0_i), with raw rates
    p0 = c0/n0, p1 = c1/n1 (so p0 = 0 stays 0 under the tilt: reweighting cannot create;
    arXiv 2605.08368). NaN when the denominator is <= 0 (no gain to explain).

    Args:
        weights: optional [B, Q] problem weights; then ``lam`` is a scalar or [B] and the result is [B].

    Returns:
        float, or float64 array [B] with 2-D weights.
    """
    c0, n0, c1, n1 = _pair_counts(c0, n0, c1, n1)
    w, batched = _weights(weights, c0.size)
    lam = _lam_array(lam)
    if lam.ndim > 1 or (lam.ndim == 1 and lam.size not in (1, w.shape[0])):
        raise ValueError(
            f"lam must be a scalar or have one entry per weight row ({w.shape[0]}), got {lam.shape}"
        )
    p0 = c0 / n0
    p1 = c1 / n1
    lam_col = lam.reshape(-1, 1) if lam.ndim == 1 else lam
    gain = _tilt(p0[None, :], lam_col) - p0[None, :]  # [1 or B, Q]
    num = (w * gain).sum(axis=1)
    den = np.broadcast_to(w @ (p1 - p0), num.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if batched or lam.ndim == 1:
        return out
    return float(out[0])
