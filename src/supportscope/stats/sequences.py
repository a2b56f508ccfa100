"""Anytime-valid confidence sequences for a success probability (DESIGN.md section 2, issue 8).

A fixed-n Clopper-Pearson interval covers p with probability >= 1 - alpha only when n is fixed in
advance; checking it after every round and stopping once it excludes a threshold (adaptive
sampling) breaks that guarantee. A *confidence sequence* CS_1, CS_2, ... covers p at every n at
once, P(exists n: p not in CS_n) <= alpha, so it stays valid at any data-dependent stopping time.

**Beta-binomial mixture martingale** (Robbins 1970, "Statistical methods related to the law of the
iterated logarithm", Ann. Math. Statist. 41(5); Howard, Ramdas, McAuliffe & Sekhon 2021,
"Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2)). After c
successes in n Bernoulli(p) samples, with a prior Beta(a, b) (default Jeffreys, a = b = 1/2):

    M_n(p) = B(a + c, b + n - c) / B(a, b) / (p^c (1 - p)^(n - c)),

    log M_n(p) = betaln(a + c, b + n - c) - betaln(a, b) - c log p - (n - c) log(1 - p).

M_n(p) is the mixture likelihood over the prior divided by the likelihood at p: a nonnegative
martingale under p with M_0 = 1. Ville's inequality gives P(exists n: M_n(p) >= 1/alpha) <= alpha,
hence

    CS_n = {p : M_n(p) < 1/alpha} = (lo_n, hi_n)

is a (1 - alpha) confidence sequence. It is an interval containing the MLE c/n:
log M_n(p) = const - c log p - (n - c) log(1 - p) is convex in p with its
minimum at p = c/n, where M_n(c/n) <= 1 < 1/alpha (a mixture of likelihoods never exceeds their
maximum). The endpoints solve log M_n(p) = log(1/alpha): lo = 0 exactly when c = 0, hi = 1 exactly
when c = n, and CS_0 = [0, 1].

**Decisions without root finding.** Since CS_n is the interval around c/n where M_n < 1/alpha and
log M_n is convex, for a threshold t

    lo_n >= t  <=>  t < c/n and log M_n(t) >= log(1/alpha),
    hi_n <  t  <=>  t > c/n and log M_n(t) >  log(1/alpha).

The decision functions below use this test (one evaluation of log M_n per threshold), so they are
exact and do not depend on the accuracy of the endpoint solver. With eps(k) = 1 - zeta^(1/k)
(``bounds.eps``), basin budget k_b and audit budget K (the rules of ``regimes.classify`` with the
CS in place of Clopper-Pearson):

    accessible at K     lo >= eps(K)
    inaccessible at K   hi <  eps(K)
    regime decided      basin (lo >= eps(k_b)), tail (lo >= eps(K) and hi < eps(k_b)) or
                        inaccessible (hi < eps(K)).

The price of validity under optional stopping: the CS contains the Clopper-Pearson interval at the
same alpha and n (checked for every c at n <= 400 and sampled n up to 1e6; equal at n = 1) and is
wider. For zero successes and the Jeffreys prior, hi_n ~ (log(1/alpha) + log(B(a, b)/B(a, b + n)))/n
~ (log(1/alpha) + log(pi) - 0.57 + 0.5 log n)/n against CP's ~log(2/alpha)/n, so certifying
inaccessibility at K = 64 (hi < eps(64) = 0.0457) takes 129 samples with no success instead of 79.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, xlog1py, xlogy

from ._checks import as_budgets, as_int_array, check_level
from .bounds import _largest_budget_below, eps, first_decided

_LN2 = float(np.log(2.0))


def _scalar_or_array(a: np.ndarray):
    return a[()] if a.ndim == 0 else a


def _counts0(c, n) -> tuple[np.ndarray, np.ndarray]:
    """c, n as broadcast int64 arrays with 0 <= c <= n and n >= 0 (n = 0: no samples yet)."""
    c = as_int_array(c, "c", minimum=0)
    n = as_int_array(n, "n", minimum=0)
    try:
        c, n = np.broadcast_arrays(c, n)
    except ValueError:
        raise ValueError(
            f"c and n must have the same shape (one entry per problem), got {np.shape(c)} and {np.shape(n)}"
        ) from None
    bad = c > n
    if bad.any():
        i = np.argwhere(bad)[0] if bad.ndim else ()
        raise ValueError(
            f"c > n at index {tuple(int(j) for j in i)}: {int(c[bad].flat[0])} successes out of "
            f"{int(n[bad].flat[0])} samples; a success count cannot exceed the sample count"
        )
    return c, n


def _prior(prior) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in prior)
    except (TypeError, ValueError):
        raise ValueError(f"prior must be a pair (a, b) of Beta parameters, got {prior!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"prior Beta(a, b) needs finite a > 0 and b > 0, got {prior!r}")
    return a, b


def _log1mexp(u: np.ndarray) -> np.ndarray:
    """log(1 - e^u) for u <= 0, accurate everywhere (Maechler 2012, "Accurately computing log(1 - exp(-|a|))")."""
    with np.errstate(divide="ignore"):
        return np.where(u < -_LN2, np.log1p(-np.exp(np.minimum(u, -_LN2))), np.log(-np.expm1(np.maximum(u, -_LN2))))


# Stirling-series coefficients B_2k / (2k (2k - 1)) of log Gamma(x) - [(x - 1/2) log x - x + log sqrt(2 pi)].
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)
_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))


def _lgammacor(x: np.ndarray) -> np.ndarray:
    """delta(x) = log Gamma(x) - (x - 1/2) log x + x - log sqrt(2 pi), Stirling series, x >= 10 (error < 1e-17)."""
    r = 1.0 / (x * x)
    acc = np.zeros_like(x)
    for coef in reversed(_STIRLING):
        acc = acc * r + coef
    return acc / x


def _betaln(a, b) -> np.ndarray:
    """log B(a, b) accurate to ~1e-16 relative to its terms, also for one small and one huge argument.

    scipy.special.betaln loses up to ~1e-9 absolutely when one argument is small and the other
    ~1e5-1e6 (e.g. betaln(1.5, 409735.5)), which would cost ~1e-9 relative accuracy in lo_n for
    c = 1. This is the algorithm of R's ``lbeta`` (nmath/lbeta.c, after DiDonato & Morris 1992,
    ACM TOMS 708): with p = min(a, b), q = max(a, b) and delta the Stirling correction,
      p >= 10:        -log(q)/2 + log sqrt(2 pi) + delta(p) + delta(q) - delta(p + q)
                      + (p - 1/2) log(p / (p + q)) + q log1p(-p / (p + q));
      p < 10 <= q:    lgamma(p) + delta(q) - delta(p + q) + p - p log(p + q) + (q - 1/2) log1p(-p / (p + q));
      q < 10:         scipy.special.betaln(p, q).
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    p, q = np.minimum(a, b), np.maximum(a, b)
    big_q = q >= 10.0
    qq = np.where(big_q, q, 10.0)
    pq = p + qq
    pp = np.where(p >= 10.0, p, 10.0)
    both = (-0.5 * np.log(qq) + _LOG_SQRT_2PI + _lgammacor(pp) + _lgammacor(qq) - _lgammacor(pp + qq)
            + (pp - 0.5) * np.log(pp / (pp + qq)) + qq * np.log1p(-pp / (pp + qq)))
    one = (gammaln(p) + _lgammacor(qq) - _lgammacor(pq) + p - p * np.log(pq)
           + (qq - 0.5) * np.log1p(-p / pq))
    return np.where(p >= 10.0, both, np.where(big_q, one, betaln(p, q)))


def _log_mix(c, n, a: float, b: float) -> np.ndarray:
    """log of the mixture likelihood ratio term: betaln(a + c, b + n - c) - betaln(a, b)."""
    return _betaln(a + c, b + n - c) - _betaln(a, b)


def _log_m_at(mix, c, n, t) -> np.ndarray:
    """log M_n(t) from the precomputed mixture term ``mix`` (see :func:`_log_mix`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return mix - xlogy(c, t) - xlog1py(n - c, -t)


def _log_m(c, n, p, a: float, b: float) -> np.ndarray:
    """log M_n(p) = betaln(a+c, b+n-c) - betaln(a, b) - c log p - (n-c) log(1-p) (float arrays)."""
    return _log_m_at(_log_mix(c, n, a, b), c, n, p)


def log_martingale(c, n, p, prior=(0.5, 0.5)):
    """log M_n(p), the log of the beta-binomial mixture martingale (module docstring).

    log M_n(p) = betaln(a + c, b + n - c) - betaln(a, b) - c log p - (n - c) log(1 - p)
    (Robbins 1970; Howard et al. 2021). p lies outside CS_n exactly when this is >= log(1/alpha).
    +inf where p = 0 < c/n or p = 1 > c/n.
    """
    a, b = _prior(prior)
    c, n = _counts0(c, n)
    p = np.asarray(p, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p must be probabilities in [0, 1]")
    return _scalar_or_array(np.asarray(_log_m(c.astype(np.float64), n.astype(np.float64), p, a, b)))


def _lower_log(c: np.ndarray, n: np.ndarray, a: float, b: float, log_inv_alpha: float) -> np.ndarray:
    """u = log lo_n for c >= 1 (float arrays): the root below log(c/n) of

        g(u) = -c u - (n - c) log(1 - e^u) - h,   h = log(1/alpha) + betaln(a, b) - betaln(a + c, b + n - c),

    i.e. log M_n(e^u) = log(1/alpha). g is convex and decreasing on u < log(c/n) (second derivative
    (n - c) e^u / (1 - e^u)^2 >= 0). Safeguarded Newton (Press et al., Numerical Recipes, rtsafe),
    vectorised: the bracket [uL, uR] with g(uL) >= 0 > g(uR) starts at uL = -h/c (there
    -c u = h and the other term is >= 0) and uR = log(c/n) (g < 0 since M_n(c/n) <= 1); a Newton
    step that leaves the bracket is replaced by bisection. The start is the normal approximation
    p0 = c/n - sqrt(2 (h - f(c/n)) p(1 - p)/n) where f is the likelihood part of g.
    """
    m = n - c
    h = log_inv_alpha + _betaln(a, b) - _betaln(a + c, b + m)
    out = -h / c  # exact root when c == n (no (1 - p) term)
    todo = np.flatnonzero(m > 0)
    if todo.size == 0:
        return out
    c, m, n, h = c[todo], m[todo], n[todo], h[todo]
    phat = c / n
    uL = -h / c
    uR = np.log(phat)

    def g(u):
        return -c * u - m * _log1mexp(u) - h

    f_hat = -c * np.log(phat) - m * np.log1p(-phat)
    gap = np.maximum(h - f_hat, 0.0)
    p0 = phat - np.sqrt(2.0 * gap * phat * (1.0 - phat) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(p0 > 0, np.log(np.maximum(p0, 1e-300)), 0.5 * (uL + uR))
    u = np.where((u > uL) & (u < uR), u, 0.5 * (uL + uR))
    active = np.arange(todo.size)
    res = np.empty(todo.size)
    for _ in range(200):
        uu, cc, mm, hh = u[active], c[active], m[active], h[active]
        gu = -cc * uu - mm * _log1mexp(uu) - hh
        pos = gu > 0
        uL[active] = np.where(pos, uu, uL[active])
        uR[active] = np.where(pos, uR[active], uu)
        dg = -cc + mm / np.expm1(-uu)  # g'(u) = -c + (n - c) e^u / (1 - e^u) < 0 left of log(c/n)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -gu / dg
        new = uu + step
        lo_b, hi_b = uL[active], uR[active]
        bad = ~np.isfinite(new) | (new <= lo_b) | (new >= hi_b)
        new = np.where(bad, 0.5 * (lo_b + hi_b), new)
        tol = 2e-16 * np.maximum(1.0, np.abs(new))
        done = (np.abs(new - uu) <= 4.0 * tol) | (hi_b - lo_b <= tol) | (gu == 0)
        u[active] = new
        res[active[done]] = np.where(gu[done] == 0, uu[done], new[done])
        active = active[~done]
        if active.size == 0:
            break
    else:  # pragma: no cover - bisection alone converges within ~1100 halvings of a float64 range
        res[active] = u[active]
    out[todo] = res
    return out


def confidence_sequence(c, n, alpha: float = 0.05, prior=(0.5, 0.5)):
    """Anytime-valid (1 - alpha) confidence sequence for a success probability, at (c, n).

    CS_n = {p : M_n(p) < 1/alpha}, with the beta-binomial mixture martingale
    M_n(p) = B(a + c, b + n - c) / B(a, b) / (p^c (1 - p)^(n - c)) for prior Beta(a, b)
    (Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon 2021). By Ville's inequality
    P(exists n: p not in CS_n) <= alpha, so the interval stays valid at a data-dependent stopping
    time (fixed-n Clopper-Pearson does not). Endpoints solve log M_n(p) = log(1/alpha) by a
    vectorised safeguarded Newton iteration on log p (lower endpoint) and, by the symmetry
    hi(c, n, a, b) = 1 - lo(n - c, n, b, a), on log(1 - p) (upper endpoint): relative accuracy
    ~1e-15 in p and in 1 - p. lo = 0 exactly when c = 0, hi = 1 exactly when c = n, [0, 1] at n = 0.

    Args:
        c, n: successes and samples (broadcastable arrays or scalars), 0 <= c <= n, n >= 0.
        alpha: error level in (0, 1).
        prior: (a, b) of the Beta mixing prior, default Jeffreys (0.5, 0.5).

    Returns:
        (lo, hi) float64 arrays of the broadcast shape (numpy scalars for scalar input).
    """
    alpha = check_level(alpha, "alpha")
    a, b = _prior(prior)
    c, n = _counts0(c, n)
    shape = c.shape
    cf, nf = c.astype(np.float64).ravel(), n.astype(np.float64).ravel()
    L = float(np.log(1.0 / alpha))
    lo = np.zeros(cf.size)
    hi = np.ones(cf.size)
    k = np.flatnonzero(cf > 0)
    if k.size:
        lo[k] = np.exp(_lower_log(cf[k], nf[k], a, b, L))
    k = np.flatnonzero(cf < nf)
    if k.size:  # failures play the role of successes, prior (b, a): hi = 1 - e^u
        hi[k] = -np.expm1(_lower_log(nf[k] - cf[k], nf[k], b, a, L))
    return _scalar_or_array(lo.reshape(shape)), _scalar_or_array(hi.reshape(shape))


def _above(mix, c, n, t, L):
    """lo_n >= t  <=>  t < c/n and log M_n(t) >= log(1/alpha)."""
    return (c > t * n) & (_log_m_at(mix, c, n, t) >= L)


def _below(mix, c, n, t, L):
    """hi_n < t  <=>  t > c/n and log M_n(t) > log(1/alpha)."""
    return (c < t * n) & (_log_m_at(mix, c, n, t) > L)


def _regime_decided(c, n, e_b: float, e_k: float, a: float, b: float, L: float) -> np.ndarray:
    """basin (lo >= e_b) | tail (lo >= e_k and hi < e_b) | inaccessible (hi < e_k); float arrays."""
    mix = _log_mix(c, n, a, b)
    lm_b, lm_k = _log_m_at(mix, c, n, e_b), _log_m_at(mix, c, n, e_k)
    above_b = (c > e_b * n) & (lm_b >= L)
    above_k = (c > e_k * n) & (lm_k >= L)
    below_b = (c < e_b * n) & (lm_b > L)
    below_k = (c < e_k * n) & (lm_k > L)
    return above_b | (above_k & below_b) | below_k


def accessibility_anytime(c, n, budget, zeta: float = 0.05, alpha: float = 0.05, prior=(0.5, 0.5)) -> np.ndarray:
    """Accessibility at a budget by the confidence sequence: 1 accessible, 0 inaccessible, -1 undetermined.

    1 if lo_n >= eps(budget), 0 if hi_n < eps(budget), else -1 (int8), with CS_n = (lo_n, hi_n) the
    beta-binomial mixture confidence sequence (:func:`confidence_sequence`) and
    eps(k) = 1 - zeta^(1/k). Same contract as ``regimes.accessibility`` but valid at any stopping
    time. Evaluated exactly as: 1 iff eps < c/n and log M_n(eps) >= log(1/alpha); 0 iff eps > c/n
    and log M_n(eps) > log(1/alpha). ``budget`` may be an array broadcastable against c, n.
    Robbins (1970) mixture confidence sequence; accessibility as in DESIGN.md section 2.
    """
    alpha = check_level(alpha, "alpha")
    a, b = _prior(prior)
    c, n = _counts0(c, n)
    e = np.asarray(eps(budget, zeta), dtype=np.float64)
    cf, nf = c.astype(np.float64), n.astype(np.float64)
    L = float(np.log(1.0 / alpha))
    mix = _log_mix(cf, nf, a, b)
    out = np.where(_above(mix, cf, nf, e, L), 1, np.where(_below(mix, cf, nf, e, L), 0, -1))
    return out.astype(np.int8)


def regime_decided_anytime(c, n, budget, basin_budget: int = 8, zeta: float = 0.05, alpha: float = 0.05,
                           prior=(0.5, 0.5)) -> np.ndarray:
    """True where the regime at audit budget K is decided by the confidence sequence (bool array).

    Decided = basin (lo_n >= eps(k_b)) or tail (lo_n >= eps(K) and hi_n < eps(k_b)) or inaccessible
    (hi_n < eps(K)), with (lo_n, hi_n) = CS_n (:func:`confidence_sequence`), eps(k) = 1 - zeta^(1/k),
    k_b = ``basin_budget`` <= K = ``budget`` (the rules of ``regimes.classify``, DESIGN.md section 2).
    """
    alpha = check_level(alpha, "alpha")
    a, b = _prior(prior)
    budget, basin_budget = as_budgets(budget, basin_budget)
    c, n = _counts0(c, n)
    e_b, e_k = float(eps(basin_budget, zeta)), float(eps(budget, zeta))
    L = float(np.log(1.0 / alpha))
    return np.asarray(_regime_decided(c.astype(np.float64), n.astype(np.float64), e_b, e_k, a, b, L))


def max_certifiable_budget_anytime(n: int, zeta: float = 0.05, alpha: float = 0.05, prior=(0.5, 0.5)) -> int:
    """Largest power of two K with CS_hi(0, n) < eps(K): ``bounds.max_certifiable_budget`` with the
    confidence sequence (Robbins 1970) instead of the Clopper-Pearson bound (DESIGN.md section 2)."""
    return _largest_budget_below(float(confidence_sequence(0, n, alpha, prior)[1]), check_level(zeta, "zeta"))


def samples_to_close(c, n, budget, basin_budget: int = 8, zeta: float = 0.05, alpha: float = 0.05,
                     n_max: int = 10**7, prior=(0.5, 0.5)):
    """Predicted total sample count at which the regime at K would be decided by the CS.

    With the Jeffreys-smoothed rate r = (c + 1/2)/(n + 1), the smallest integer total n' > n such
    that the counts (c', n') = (r n', n') are decided (:func:`regime_decided_anytime`, with the
    beta function and likelihood of log M_n' evaluated at the real c' = r n', not rounded).
    Unrounded, the prediction is exactly monotone: G(n') = log M_n'(t) at c' = r n' is convex in n'
    (log B is jointly convex) with G(0) = 0 < log(1/alpha), so {n' : decided} is a half-line and a
    vectorised bisection on log n' between n and ``n_max`` (as ``bounds.n_to_decide``) finds the
    same n' as a linear scan. (Rounding c' to an integer would make the decision jitter in n'.)

    Returns:
        float64 array (scalar for scalar input): 0 where (c, n) is already decided; +inf where r
        equals eps(k_b) or eps(K) (never decided at that rate), or where n' would exceed ``n_max``.
    Decisions by the mixture confidence sequence of Robbins (1970); regimes as in DESIGN.md section 2.
    """
    alpha = check_level(alpha, "alpha")
    a, b = _prior(prior)
    budget, basin_budget = as_budgets(budget, basin_budget)
    c, n = _counts0(c, n)
    n_max = int(as_int_array(n_max, "n_max", minimum=1))
    e_b, e_k = float(eps(basin_budget, zeta)), float(eps(budget, zeta))
    L = float(np.log(1.0 / alpha))
    shape = c.shape
    c, n = c.astype(np.float64).ravel(), n.astype(np.float64).ravel()
    out = np.zeros(c.size, dtype=np.float64)
    undecided = ~_regime_decided(c, n, e_b, e_k, a, b, L)
    rate = (c + 0.5) / (n + 1.0)
    never = undecided & ((rate == e_b) | (rate == e_k) | (n >= n_max))
    out[never] = np.inf
    todo = np.flatnonzero(undecided & ~never)
    if todo.size:
        rr, nn = rate[todo], n[todo]

        def decided_at(m):
            return _regime_decided(rr * m, m, e_b, e_k, a, b, L)

        out[todo] = first_decided(nn, n_max, decided_at)  # nn: undecided (the observed counts are)
    return _scalar_or_array(out.reshape(shape))


__all__ = [
    "accessibility_anytime",
    "confidence_sequence",
    "log_martingale",
    "max_certifiable_budget_anytime",
    "regime_decided_anytime",
    "samples_to_close",
]
