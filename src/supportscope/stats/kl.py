"""KL divergences: the Bernoulli lower bound and Monte Carlo estimators (DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import rel_entr

from ._checks import as_probability


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
