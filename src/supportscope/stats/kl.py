"""KL divergences: the Bernoulli lower bound, Monte Carlo estimators and the data-processing test
(DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import rel_entr

from ._checks import as_paired_counts, as_probability, check_level
from .bounds import _cp, clopper_pearson


def bernoulli_kl(p, q):
    """Bernoulli KL divergence kl(p || q) = p ln(p/q) + (1-p) ln((1-p)/(1-q)), in nats.

    Kullback & Leibler (1951), "On information and sufficiency"; 0 ln 0 = 0 and +inf when
    q = 0 < p or q = 1 > p (via ``scipy.special.rel_entr``). By data processing it is the least
    KL(pi1 || pi0) of any policy moving success from q = p0 to p = p1 (DESIGN.md section 4).
    Vectorised over broadcastable p, q.
    """
    p = as_probability(p, "p")
    q = as_probability(q, "q")
    out = rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)
    out = np.maximum(out, 0.0)  # rounding can give -1e-17 when p == q
    return out[()] if np.ndim(out) == 0 else out


@dataclass(frozen=True, eq=False)
class KLEstimate:
    """Monte Carlo KL(p || q) estimates with standard errors (floats, or arrays for batched input).

    k1 = mean(-log_ratio) (unbiased), k2 = mean(log_ratio^2 / 2) (biased, low variance),
    k3 = mean((r - 1) - log r), r = q/p (unbiased, every term >= 0); *_se = std(ddof=1)/sqrt(n).
    """

    k1: float
    k1_se: float
    k2: float
    k2_se: float
    k3: float
    k3_se: float
    n: int


def _mean_se(x: np.ndarray):
    n = x.shape[-1]
    m = x.mean(axis=-1)
    if n < 2:
        se = np.full(m.shape, np.nan)
    else:
        finite = np.isfinite(m)
        xf = np.where(finite[..., None], x, 0.0)
        se = np.where(finite, xf.std(axis=-1, ddof=1) / np.sqrt(n), np.inf)
    return (m[()], se[()]) if m.ndim == 0 else (m, se)


def kl_estimators(log_ratio) -> KLEstimate:
    """Estimate KL(p || q) from log_ratio = log q(x) - log p(x) with x ~ p (Schulman 2020).

    J. Schulman (2020), "Approximating KL divergence" (http://joschu.net/blog/kl-approx.html):
        k1 = -log_ratio                          unbiased, high variance, can be negative
        k2 = log_ratio^2 / 2                     biased, low variance
        k3 = (r - 1) - log r,  r = exp(log_ratio)   unbiased, every term >= 0 (r - 1 via expm1)
    Each is averaged over samples with standard error std(ddof=1)/sqrt(n) (NaN when n < 2).
    A log_ratio of -inf (x outside q's support) makes k1, k2 and k3 +inf (their SE +inf).

    Args:
        log_ratio: 1-D array of samples (or [..., n]: estimates over the last axis, batched).
    """
    lr = np.asarray(log_ratio, dtype=np.float64)
    if lr.ndim == 0:
        raise ValueError("log_ratio must be a 1-D array of per-sample log q(x) - log p(x)")
    if lr.shape[-1] == 0:
        raise ValueError("log_ratio is empty: need at least one sample")
    if np.isnan(lr).any():
        raise ValueError("log_ratio contains NaN; check the scoring of the samples")
    if (lr == np.inf).any():
        raise ValueError(
            "log_ratio contains +inf: a sample x ~ p with p(x) = 0 is impossible; check which "
            "model generated the samples and which scored them"
        )
    with np.errstate(over="ignore"):
        k3 = np.expm1(lr) - lr  # overflow to +inf is the right value for huge ratios
    k1 = _mean_se(-lr)
    k2 = _mean_se(0.5 * lr * lr)
    k3 = _mean_se(k3)
    return KLEstimate(
        k1=k1[0], k1_se=k1[1], k2=k2[0], k2_se=k2[1], k3=k3[0], k3_se=k3[1], n=int(lr.shape[-1])
    )


def bernoulli_kl_lower_bound(c0, n0, c1, n1, alpha: float = 0.05):
    """Lower confidence bound of kl(p1 || p0) at level 1 - alpha from c1/n1 tuned and c0/n0 base successes.

    The minimum of the Bernoulli KL over the Clopper & Pearson (1934) rectangle [L1, U1] x [L0, U0],
    each side a two-sided CP interval at level 1 - alpha/2 (tails alpha/4), so by a union bound
    (Bonferroni) the rectangle holds (p1, p0) with probability >= 1 - alpha, and then
    kl(p1 || p0) >= the bound. kl(p || q) is jointly convex, 0 on the diagonal p = q and increases
    as p moves away from q with q fixed (and as q moves away from p), so the minimum is
        0             when the intervals overlap,
        kl(L1 || U0)  when L1 > U0 (tuned rate clearly above the base's),
        kl(U1 || L0)  when U1 < L0 (clearly below).
    Unlike the plug-in kl of estimated rates (biased upward: kl is convex, Jensen) this never
    exceeds the true value with probability more than alpha (DESIGN.md section 4).

    Args:
        c0, n0, c1, n1: base and tuned successes and samples (broadcastable, 0 <= c <= n, n >= 1).
        alpha: 1 - confidence level, in (0, 1).

    Returns:
        float64 array (or scalar) of lower bounds in nats, >= 0.
    """
    alpha = check_level(alpha, "alpha")
    c0, n0, c1, n1 = as_paired_counts(c0, n0, c1, n1)
    lo1, hi1 = clopper_pearson(c1, n1, alpha / 2.0)
    lo0, hi0 = clopper_pearson(c0, n0, alpha / 2.0)
    out = _rect_min(np.asarray(lo1), np.asarray(hi1), np.asarray(lo0), np.asarray(hi0))
    return out[()] if out.ndim == 0 else out


def _rect_min(lo1, hi1, lo0, hi0) -> np.ndarray:
    """min of kl(p1 || p0) over [lo1, hi1] x [lo0, hi0] (0 when the intervals overlap)."""
    above = lo1 > hi0
    below = hi1 < lo0
    out = np.zeros(np.broadcast(lo1, hi0).shape)
    if above.any():
        out[above] = bernoulli_kl(lo1[above], hi0[above])
    if below.any():
        out[below] = bernoulli_kl(hi1[below], lo0[below])
    return out


_P_FLOOR = 1e-100  # p-values below this are reported as this (conservative; BH is unaffected)


def dpi_pvalues(kl_obs, kl_obs_se, c0, n0, c1, n1, n_iter: int = 48):
    """Per-problem p-values for a data-processing violation "true KL(pi1 || pi0) < kl(p1 || p0)".

    Data processing (Cover & Thomas 2006, "Elements of Information Theory", Thm 2.8.1) gives
    KL(pi1 || pi0) >= kl(p1 || p0) for the exact quantities, so a violation means a fault of the
    KL estimator or of the scoring. At a level gamma, with the union-bound split gamma/2 + gamma/2:
        UCB_gamma(KL) = kl_obs + z_{1 - gamma/2} * se          (normal, one-sided, error gamma/2;
                                                                +inf when se is NaN or inf)
        LCB_gamma(kl) = min of kl(p1 || p0) over the Clopper-Pearson rectangle
                        = ``bernoulli_kl_lower_bound(c0, n0, c1, n1, alpha=gamma/2)``
                          (each CP interval two-sided at level 1 - gamma/4, error gamma/2 in all).
    If KL >= kl(p1 || p0) (the null), UCB >= KL >= kl >= LCB except with probability <= gamma,
    so "UCB_gamma < LCB_gamma" is a level-gamma test. UCB decreases and LCB increases with gamma,
    so the rejection set is an interval (p, 1] and the p-value p = inf{gamma : UCB_gamma <
    LCB_gamma} is found by bisection on log(gamma) (vectorised over problems, ``n_iter`` steps;
    the upper end of the bracket is returned, so the p-value is never understated). p = 1 when the
    test never rejects (at gamma = 1: kl_obs >= the minimum of kl over the rectangle of 75% CP
    intervals), p = 1e-100 when it rejects at 1e-100, NaN when kl_obs is NaN (no estimate). The SE
    is a normal approximation (central limit theorem over the problem's samples); an SE of 0 is
    taken at face value.

    Args:
        kl_obs, kl_obs_se: observed KL per problem and its standard error (floats, broadcastable).
        c0, n0, c1, n1: base and tuned successes and samples per problem.
        n_iter: bisection steps on log(gamma) in [ln 1e-100, 0] (48 gives ~1e-12 relative).

    Returns:
        float64 array of p-values in [1e-100, 1] (NaN where kl_obs is NaN).
    """
    from scipy.special import ndtri

    c0, n0, c1, n1 = as_paired_counts(c0, n0, c1, n1)
    kl = np.asarray(kl_obs, dtype=np.float64)
    se = np.asarray(kl_obs_se, dtype=np.float64)
    try:
        kl, se, c0, n0, c1, n1 = np.broadcast_arrays(kl, se, c0, n0, c1, n1)
    except ValueError:
        raise ValueError(
            f"kl_obs, kl_obs_se and the counts need one entry per problem, got {np.shape(kl_obs)}, "
            f"{np.shape(kl_obs_se)} and {c0.shape}"
        ) from None
    if (se < 0).any():
        raise ValueError(f"kl_obs_se must be >= 0, got {se[se < 0].flat[0]}")
    shape = kl.shape
    kl, se = kl.ravel(), se.ravel()
    c0, n0, c1, n1 = (a.ravel().astype(np.float64) for a in (c0, n0, c1, n1))
    se = np.where(np.isfinite(se), se, np.inf)
    p = np.where(np.isnan(kl), np.nan, 1.0)

    def violated(ix: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        z = -ndtri(gamma / 2.0)  # z_{1 - gamma/2}; 0 at gamma = 1
        with np.errstate(invalid="ignore"):
            ucb = kl[ix] + np.where(se[ix] == 0, 0.0, z * se[ix])
        lo1, hi1 = _cp(c1[ix], n1[ix], gamma / 4.0)
        lo0, hi0 = _cp(c0[ix], n0[ix], gamma / 4.0)
        return ucb < _rect_min(lo1, hi1, lo0, hi0)

    cand = np.flatnonzero(np.isfinite(kl) & np.isfinite(se))
    if cand.size == 0:
        return p.reshape(shape)[()] if p.ndim == 0 else p.reshape(shape)
    at_one = violated(cand, np.ones(cand.size))
    cand = cand[at_one]
    at_floor = violated(cand, np.full(cand.size, _P_FLOOR))
    p[cand[at_floor]] = _P_FLOOR
    cand = cand[~at_floor]
    lo = np.full(cand.size, np.log(_P_FLOOR))  # not violated here
    hi = np.zeros(cand.size)  # violated here
    for _ in range(int(n_iter)):
        mid = 0.5 * (lo + hi)
        v = violated(cand, np.exp(mid))
        hi = np.where(v, mid, hi)
        lo = np.where(v, lo, mid)
    p[cand] = np.exp(hi)
    p = p.reshape(shape)
    return p[()] if p.ndim == 0 else p


def dpi_violations(kl_obs, kl_obs_se, c0, n0, c1, n1, alpha: float = 0.05):
    """Data-processing violations across problems: (p-values, BH q-values, flags at FDR alpha).

    p-values from ``dpi_pvalues`` (union of a normal upper bound of the observed KL and the
    Clopper-Pearson-rectangle lower bound of kl(p1 || p0)); q-values by Benjamini & Hochberg (1995),
    "Controlling the false discovery rate", JRSS B 57(1) (``scipy.stats.false_discovery_control``)
    over the problems with a p-value (kl_obs not NaN); a problem is flagged when q <= alpha. With
    independent problems the expected share of false flags among the flags is <= alpha, and when no
    problem violates data processing the chance of any flag is <= alpha (DESIGN.md section 4).

    Returns:
        (pvalue, qvalue, flag): float64, float64 (NaN where p is NaN) and bool arrays.
    """
    from scipy.stats import false_discovery_control

    alpha = check_level(alpha, "alpha")
    p = np.atleast_1d(np.asarray(dpi_pvalues(kl_obs, kl_obs_se, c0, n0, c1, n1), dtype=np.float64))
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    flag = ok & (np.nan_to_num(q, nan=1.0) <= alpha)
    return p, q, flag
