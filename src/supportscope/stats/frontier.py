"""The elicitation frontier: the pass@k that pure reweighting of the base reaches (DESIGN.md section 4).

Base counts (c0_i, n0_i), i = 1..Q; Jeffreys posterior of problem i (Jeffreys 1946):
p0_i ~ Beta(a_i, b_i), a_i = c0_i + 1/2, b_i = n0_i - c0_i + 1/2. The Gibbs tilt
tilt(p, lam) = sigmoid(logit p + lam) is the success probability of q ∝ pi0 exp(lam r) for a binary
reward (arXiv 2605.08368; `stats.gibbs.tilt`), and eps(K) = 1 - zeta^(1/K) (`stats.bounds.eps`).
With g_k(p) = 1 - (1 - p)^k (pass@k of one problem with success probability p):

- frontier      F(k, lam)   = (1/Q) sum_i E_post[g_k(tilt(p0_i, lam))]
  the pooled pass@k that one uniform tilt of the base reaches, averaged over the base's uncertainty;
- reachable     F_K(k, lam) = (1/Q) sum_i E_post[1{p0_i >= eps(K)} g_k(tilt(p0_i, lam))]
  the same, counting only what lies inside the support accessible at budget K; increasing in lam;
- ceiling       C_K = lim_{lam -> +inf} F_K(k, lam) = (1/Q) sum_i P_post(p0_i >= eps(K))
  the most any reweighting inside the K-accessible support can solve, at every k.
Limits are exact, never a huge lam: tilt(p, -inf) = 0 and tilt(p, +inf) = 1 for 0 < p < 1, and the
posterior puts no mass on p = 0 or 1, so F(k, -inf) = F_K(k, -inf) = 0, F(k, +inf) = 1 and
F_K(k, +inf) = C_K. At lam = 0, F(k, 0) is the posterior-mean pass@k, 1 - B(a, b + k)/B(a, b).

Quadrature on the quantile scale: E_post[f(p)] = int_0^1 f(Q_i(u)) du with Q_i = betaincinv(a_i, b_i, .),
by Gauss-Legendre on (0, 1) with m nodes (default 64: within 3e-5 of scipy.integrate.quad for
|lam| <= 8, k <= 128, n in {16, 128, 1000}, c from 0 to n, tests/test_frontier.py; the error comes
from the u^(1/a) behaviour of the quantile function at the ends when 1/a is not an integer;
measured worst cases: 16 nodes 2e-3, 32 nodes 2e-4, 64 nodes 2e-5, 128 nodes 1e-5; checked against
mpmath). The indicator is handled exactly: with u*_i = betainc(a_i, b_i, eps(K)),
E_post[1{p >= eps} f(p)] = int_{u*_i}^1 f(Q_i(u)) du, the nodes mapped into (u*_i, 1), and P_post(p0_i >= eps) = 1 - u*_i = betaincc(a_i, b_i, eps(K)) in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import betainc, betaincc, betaincinv, betaln, log_expit, logit

from ._checks import as_counts, as_int_array, check_level
from .bounds import eps as _eps

#: Gauss-Legendre nodes per posterior (see the module docstring for the accuracy this buys).
DEFAULT_NODES = 64
#: Elements of the [problems, nodes, lams] work array computed at once (2**20 float64 = 8 MiB).
CHUNK_ELEMS = 2**20
#: Largest per-n table [(n + 1), lams, ks] that is computed for every c and cached (8 MiB each;
#: 8 tables at most): n = 128 with 83 tilts and 8 k's takes 86k elements.
TABLE_ELEMS = 2**20


def default_lams() -> np.ndarray:
    """The default tilt grid: -inf, -16..-9 (step 1), -8..8 (step 1/4), 9..16 (step 1), +inf.

    Step 1/4 where real post-training lands (|lam| <= 8, i.e. odds scaled by up to e^8 ~ 3000;
    arXiv 2605.08368's lambda = 1/beta), a coarse tail out to e^16 for models far from the base, and
    the exact limits at +-inf (DESIGN.md section 4): 83 points. Between grid points every curve is
    interpolated linearly in F(1, lam) (:func:`solve_on_curve`).
    """
    mid = np.arange(-32, 33) / 4.0
    tails = np.arange(9.0, 17.0)
    return np.concatenate([[-np.inf], -tails[::-1], mid, tails, [np.inf]])


def _check_lams(lams) -> np.ndarray:
    lam = np.asarray(default_lams() if lams is None else lams, dtype=np.float64)
    if lam.ndim != 1 or lam.size < 1 or np.isnan(lam).any() or not np.all(np.diff(lam) > 0):
        raise ValueError("lams must be a strictly increasing 1-D grid of tilts (no NaN; +-inf allowed)")
    return lam


def gauss_legendre01(m: int = DEFAULT_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on (0, 1): u_j = (x_j + 1)/2, w_j = w'_j / 2.

    (x_j, w'_j) are the m-point rule on (-1, 1) (Golub & Welsch 1969, numpy's leggauss); exact for
    polynomials of degree <= 2m - 1.
    """
    m = int(as_int_array(m, "m", minimum=1))
    x, w = np.polynomial.legendre.leggauss(m)
    return (x + 1.0) / 2.0, w / 2.0


def posterior_nodes(c, n, m: int = DEFAULT_NODES, threshold=None) -> tuple[np.ndarray, np.ndarray]:
    """Quantile-scale quadrature nodes p_ij and weights w_ij of each Jeffreys posterior.

    p_i ~ Beta(c_i + 1/2, n_i - c_i + 1/2) (Jeffreys 1946). Without ``threshold``:
    p_ij = betaincinv(a_i, b_i, u_j), w_ij = w_j with (u_j, w_j) from :func:`gauss_legendre01`, so
    sum_j w_ij f(p_ij) ~ E_post[f(p_i)]. With ``threshold`` t: u*_i = betainc(a_i, b_i, t),
    p_ij = betaincinv(a_i, b_i, u*_i + (1 - u*_i) u_j), w_ij = (1 - u*_i) w_j, so
    sum_j w_ij f(p_ij) ~ E_post[1{p_i >= t} f(p_i)] (DESIGN.md section 4) and sum_j w_ij equals
    the exact tail probability betaincc(a_i, b_i, t).

    Returns:
        (p, w): float64 arrays [Q, m].
    """
    c, n = as_counts(c, n)
    c, n = np.atleast_1d(c).astype(np.float64), np.atleast_1d(n).astype(np.float64)
    a, b = (c + 0.5)[:, None], (n - c + 0.5)[:, None]
    u, w = gauss_legendre01(m)
    if threshold is None:
        return betaincinv(a, b, u[None, :]), np.broadcast_to(w, (c.size, w.size)).copy()
    ustar = betainc(a, b, float(threshold))
    tail = betaincc(a, b, float(threshold))
    p = betaincinv(a, b, ustar + tail * u[None, :])
    return np.maximum(p, float(threshold)), tail * w[None, :]


def ceiling_probabilities(c0, n0, budget: int, zeta: float = 0.05) -> np.ndarray:
    """P_post(p0_i >= eps(K)) = betaincc(c0_i + 1/2, n0_i - c0_i + 1/2, eps(K)), per problem.

    The posterior probability (Jeffreys 1946 prior) that problem i lies in the support accessible at
    budget K (DESIGN.md section 2); their mean is the ceiling C_K of the elicitation frontier.
    """
    c0, n0 = as_counts(c0, n0, "c0", "n0")
    e = float(_eps(int(as_int_array(budget, "budget", minimum=1)), check_level(zeta, "zeta")))
    out = betaincc(c0 + 0.5, n0 - c0 + 0.5, e)
    return out[()] if out.ndim == 0 else out


def posterior_passk(c, n, ks) -> np.ndarray:
    """Posterior-mean pass@k under the Jeffreys prior, in closed form: [Q, nk].

    E[1 - (1 - p)^k] for p ~ Beta(a, b), a = c + 1/2, b = n - c + 1/2 (Jeffreys 1946), is
    1 - B(a, b + k)/B(a, b), since E[(1 - p)^k] = B(a, b + k)/B(a, b); computed as
    -expm1(ln B(a, b + k) - ln B(a, b)). It is F(k, 0) of one problem (DESIGN.md section 4), i.e. the
    frontier's scale: comparing a tuned model on this scale with the frontier compares like with
    like (both credit a never-solved problem with its posterior tail). Defined for every k >= 1.
    """
    c, n = as_counts(c, n)
    c, n = np.atleast_1d(c).ravel().astype(np.float64), np.atleast_1d(n).ravel().astype(np.float64)
    ks = np.atleast_1d(as_int_array(ks, "ks", minimum=1)).ravel().astype(np.float64)
    a, b = (c + 0.5)[:, None], (n - c + 0.5)[:, None]
    return -np.expm1(betaln(a, b + ks[None, :]) - betaln(a, b))


def _passk_rows(p: np.ndarray, w: np.ndarray, lams: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """sum_j w_ij g_k(tilt(p_ij, lam_l)) for rows i of (p, w) [q, m]: [q, L, nk].

    ln(1 - tilt(p, lam)) = log_expit(-(logit p + lam)), so g_k = -expm1(k ln(1 - tilt)) keeps full
    relative precision when tilt is tiny or close to 1. Infinite lams are written by their limits.
    """
    q, L = p.shape[0], lams.size
    out = np.zeros((q, L, ks.size))
    fin = np.isfinite(lams)
    if fin.any():
        z = logit(p)[:, :, None] + lams[fin][None, None, :]  # [q, m, Lf]
        log_fail = log_expit(-z)
        for j, k in enumerate(ks):
            out[:, fin, j] = np.einsum("qm,qml->ql", w, -np.expm1(k * log_fail))
    out[:, lams == np.inf, :] = w.sum(axis=1)[:, None, None]  # tilt -> 1 wherever p > 0
    return out  # lam = -inf: tilt -> 0 wherever p < 1: zero, already


@dataclass(frozen=True)
class FrontierContributions:
    """Per-problem contributions to the elicitation frontier (formulas: module docstring).

    Attributes:
        lams: tilt grid [L] (may start at -inf and end at +inf).
        ks: budgets [nk].
        budget, zeta, eps_budget: K, zeta and eps(K) = 1 - zeta^(1/K) of the reachable part.
        full: [Q, L, nk], E_post[g_k(tilt(p0_i, lam_l))]; mean over i = F(k, lam).
        reachable: [Q, L, nk], E_post[1{p0_i >= eps(K)} g_k(tilt(p0_i, lam_l))]; mean = F_K(k, lam).
        ceiling: [Q], P_post(p0_i >= eps(K)); mean = C_K.
        nodes: Gauss-Legendre nodes per posterior.
    """

    lams: np.ndarray
    ks: np.ndarray
    budget: int
    zeta: float
    eps_budget: float
    full: np.ndarray
    reachable: np.ndarray
    ceiling: np.ndarray
    nodes: int

    def curve(self, which: str = "full") -> np.ndarray:
        """Pooled curve [L, nk] = (1/Q) sum_i of ``full`` or ``reachable`` (DESIGN.md section 4)."""
        return getattr(self, which).mean(axis=0)


def _integrate(c: np.ndarray, n: np.ndarray, ks, lams, e: float, m: int):
    """(full, reachable) [len(c), L, nk] for distinct (c, n) rows, in chunks of CHUNK_ELEMS/(m L)."""
    q = c.size
    full = np.empty((q, lams.size, ks.size))
    reach = np.empty_like(full)
    step = max(1, CHUNK_ELEMS // (int(m) * lams.size))
    for s in range(0, q, step):
        rows = slice(s, min(s + step, q))
        p, w = posterior_nodes(c[rows], n[rows], m)
        full[rows] = _passk_rows(p, w, lams, ks)
        p, w = posterior_nodes(c[rows], n[rows], m, threshold=e)
        # where P_post(p0 < eps) underflows (tail mass exactly 1.0) both integrals are the same
        same = betaincc(c[rows] + 0.5, n[rows] - c[rows] + 0.5, e) == 1.0
        reach[rows][same] = full[rows][same]
        if not same.all():
            reach[rows][~same] = _passk_rows(p[~same], w[~same], lams, ks)
    return full, reach


@lru_cache(maxsize=8)
def _table(n: int, ks: tuple, lams: tuple, e: float, m: int):
    """(full, reachable) for every c = 0..n at one n, read-only and cached: repeated analyses of
    the same n (a trajectory's contrasts, simulations) integrate each posterior once."""
    arrays = _integrate(np.arange(n + 1), np.full(n + 1, n), np.array(ks), np.array(lams), e, m)
    for a in arrays:
        a.flags.writeable = False
    return arrays


def frontier_contributions(c0, n0, ks, budget: int, zeta: float = 0.05, lams=None,
                           m: int = DEFAULT_NODES) -> FrontierContributions:
    """Per-problem frontier terms G[i, l, k] at the tilts ``lams`` and budgets ``ks`` (DESIGN.md s. 4).

    full[i, l, k] = E_post[g_k(tilt(p0_i, lam_l))] and
    reachable[i, l, k] = E_post[1{p0_i >= eps(K)} g_k(tilt(p0_i, lam_l))], by m-node Gauss-Legendre
    quadrature on the quantile scale of the Jeffreys posterior (Jeffreys 1946; tilt of
    arXiv 2605.08368), the indicator by the exact tail split (:func:`posterior_nodes`); ceiling[i] =
    P_post(p0_i >= eps(K)). A paired bootstrap turns them into bands: the replicate curve of weights
    w_b is w_b @ G / Q (`PairedBootstrap.means`). Each distinct (c0, n0) is integrated once; for a
    sample count n with (n + 1) L nk <= TABLE_ELEMS at which at least (n + 1)/4 distinct c occur, the
    rows of every c = 0..n are computed once and cached (repeated analyses at the same n).
    """
    c0, n0 = as_counts(c0, n0, "c0", "n0")
    c0, n0 = np.atleast_1d(c0).ravel(), np.atleast_1d(n0).ravel()
    ks = np.atleast_1d(as_int_array(ks, "ks", minimum=1)).ravel()
    budget = int(as_int_array(budget, "budget", minimum=1))
    zeta = check_level(zeta, "zeta")
    lams = _check_lams(lams)
    e = float(_eps(budget, zeta))
    pairs, inverse = np.unique(np.stack([c0, n0], axis=1), axis=0, return_inverse=True)
    uc, un = pairs[:, 0], pairs[:, 1]
    full = np.empty((uc.size, lams.size, ks.size))
    reach = np.empty_like(full)
    for n in np.unique(un):
        rows = np.flatnonzero(un == n)
        if (n + 1) * lams.size * ks.size <= TABLE_ELEMS and 4 * rows.size >= n + 1:
            tab_full, tab_reach = _table(int(n), tuple(ks.tolist()), tuple(lams.tolist()), e, int(m))
            full[rows], reach[rows] = tab_full[uc[rows]], tab_reach[uc[rows]]
        else:
            full[rows], reach[rows] = _integrate(uc[rows], un[rows], ks, lams, e, m)
    inverse = inverse.ravel()
    ceiling = betaincc(c0 + 0.5, n0 - c0 + 0.5, e)
    return FrontierContributions(lams=lams, ks=ks, budget=budget, zeta=zeta, eps_budget=e,
                                 full=full[inverse], reachable=reach[inverse], ceiling=ceiling, nodes=int(m))


def solve_on_curve(x, y, lams, values=None):
    """Invert a monotone curve x(lam) at y and read other curves there, by linear interpolation.

    Row b: x_b[l] is non-decreasing in l (e.g. a replicate's F(1, lam_l)), y_b the target (a tuned
    pass@1). With j the last index with x_b[j] <= y_b (clipped to 0..L-2) and
    t = (y_b - x_b[j]) / (x_b[j+1] - x_b[j]) (0 on a flat segment, clipped to [0, 1]):
    lam*_b = lam_j + t (lam_{j+1} - lam_j) on finite segments and lam*_b = +-inf on a segment to an
    infinite end; every other curve v is read at the same place, v_b[j] + t (v_b[j+1] - v_b[j]),
    i.e. interpolated linearly in x, which stays defined on the segments to lam = +-inf (their
    values there are the exact limits; DESIGN.md section 4). Vectorised over rows (bootstrap
    replicates).

    Args:
        x: [B, L] (or [L]); y: [B] (or scalar); lams: [L]; values: optional [B, L, ...] or [L, ...].

    Returns:
        (lam_star [B], v_star [B, ...] or None); scalars / unbatched for unbatched input.
    """
    lams = np.asarray(lams, dtype=np.float64)
    xb = np.atleast_2d(np.asarray(x, dtype=np.float64))
    yb = np.atleast_1d(np.asarray(y, dtype=np.float64))
    batched = np.ndim(x) == 2
    L = lams.size
    if xb.shape[1] != L or L < 2:
        raise ValueError(f"x must have {L} >= 2 columns (one per tilt), got shape {np.shape(x)}")
    j = np.clip((xb <= yb[:, None]).sum(axis=1) - 1, 0, L - 2)
    rows = np.arange(xb.shape[0])
    x0, x1 = xb[rows, j], xb[rows, j + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(x1 > x0, (yb - x0) / (x1 - x0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    l0, l1 = lams[j], lams[j + 1]
    with np.errstate(invalid="ignore"):
        lam = l0 + t * (l1 - l0)  # NaN or inf on a segment to an infinite end: replaced below
    lam = np.where(np.isinf(l0), np.where(t == 1.0, l1, l0), lam)
    lam = np.where(np.isinf(l1), np.where(t == 0.0, l0, l1), lam)
    vals = None
    if values is not None:
        v = np.asarray(values, dtype=np.float64)
        v = v if batched else v[None]
        v0, v1 = v[rows, j], v[rows, j + 1]
        tt = t.reshape((-1,) + (1,) * (v0.ndim - 1))
        vals = v0 + tt * (v1 - v0)
        if not batched:
            vals = vals[0]
    if not batched:
        return float(lam[0]), vals
    return lam, vals
