"""The problem-level success distribution of one model, estimated from its counts (empirical Bayes).

A benchmark's problems have success probabilities p_i drawn from some distribution G; a model's
counts are c_i ~ Binomial(n_i, p_i). G is estimated by nonparametric maximum likelihood (NPMLE;
Kiefer & Wolfowitz 1956, "Consistency of the maximum likelihood estimator in the presence of
infinitely many incidental parameters", Ann. Math. Statist. 27) on a fixed grid of atoms
(Jiang & Zhang 2009, "General maximum likelihood empirical Bayes estimation of normal means",
Ann. Statist. 37; Koenker & Mizera 2014, JASA 109):

    l(G) = sum_i log sum_g G_g Bin(c_i; n_i, p_g),      G on the simplex over the grid,

maximised by EM, G_g <- G_g * (1/Q) sum_i Bin(c_i; n_i, p_g) / f_G(c_i) (Laird 1978, JASA 73).
Problems are grouped by their distinct (c, n), so a fit costs O(iterations x distinct counts x grid).

A linear functional M(G) = sum_g G_g H_g (e.g. the number of labels expected by chance, section
`stats.support_change`) gets an upper confidence bound from the profile likelihood:

    M_ucb = max { M(G) : l(G_hat) - l(G) <= z_{1-delta}^2 / 2 },

the one-sided likelihood-ratio bound (Wilks 1938; for linear functionals of a mixing distribution
see Owen 2001, "Empirical Likelihood", ch. 2-3, and the F-localization of Ignatiadis & Wager 2022,
"Confidence intervals for nonparametric empirical Bayes analysis", JASA 117, which this tightens
from a Kolmogorov band to a likelihood band). It is found through the Lagrangian: G_tau maximises
l(G) + tau M(G) (an MM step: G_g = A_g / (lam - tau H_g), A_g the EM responsibilities, lam the
root that puts G on the simplex), and tau is bisected (on log tau) until the likelihood drop
reaches z^2/2. Its coverage is checked by simulation in tests/test_support_change.py.
Everything is vectorised over B rows (data sets or bootstrap replicates) sharing one grid.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict

import numpy as np
from scipy.stats import binom, norm

_EM_ITERS = 400
_MEMO_SIZE = 16
_MM_ITERS = 45
_TAU_STEPS = 16
_SPREAD = 1e-4


def _memo(fn):
    """Remember the last :data:`_MEMO_SIZE` results of a deterministic array function, keyed by the
    bytes, shapes and dtypes of its array arguments and its other arguments. An analysis of several
    tuned models against one base fits the base's G and bounds its terms once instead of once per
    model (analysis.many); the result is the same array either way (returned as a read-only view)."""
    cache: OrderedDict = OrderedDict()

    @functools.wraps(fn)
    def wrapper(*args):
        h = hashlib.sha1()
        for a in args:
            if isinstance(a, np.ndarray):
                a = np.ascontiguousarray(a)
                h.update(repr((a.shape, a.dtype.str)).encode())
                h.update(a.tobytes())
            else:
                h.update(repr(a).encode())
        key = h.digest()
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        out = fn(*args)
        out.flags.writeable = False
        cache[key] = out
        if len(cache) > _MEMO_SIZE:
            cache.popitem(last=False)
        return out

    wrapper.cache_clear = cache.clear  # benchmarks time a cold analysis with it
    return wrapper


def grid_for(threshold: float | None = None) -> np.ndarray:
    """Atoms of G: 0, 1, a log-spaced ladder towards both ends (1e-5 .. 0.5 .. 1 - 1e-5) and, when a
    threshold t is given, t itself, a point just below it and 30 points in [t/3, 3t] (the labels
    of `support_change` hinge on which side of eps(K) an atom lies)."""
    ladder = np.logspace(-5, np.log10(0.5), 48)
    parts = [np.array([0.0, 1.0]), ladder, 1.0 - ladder]
    if threshold is not None:
        t = float(threshold)
        parts += [np.array([t, t * (1 - 1e-9)]), np.linspace(t / 3, min(3 * t, 1.0), 30)]
    g = np.unique(np.clip(np.concatenate(parts), 0.0, 1.0))
    return g


def count_table(c: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct c, distinct n, inverse index): c[i], n[i] = cu[inv[i]], nu[inv[i]] for [..., Q] input."""
    c = np.asarray(c, dtype=np.int64)
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), c.shape)
    key = n.ravel() * (int(c.max(initial=0)) + 2) + c.ravel()
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    return c.ravel()[first], n.ravel()[first], inv.reshape(c.shape)


def likelihood(cu: np.ndarray, nu: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """L[u, g] = Bin(cu_u; nu_u, grid_g), the binomial pmf of each distinct count at each atom."""
    return binom.pmf(cu[:, None], nu[:, None], grid[None, :])


@_memo
def npmle(W: np.ndarray, L: np.ndarray, iters: int = _EM_ITERS) -> np.ndarray:
    """EM for the NPMLE of G (module docstring), for B rows of weights W [B, U] over distinct counts.

    Returns G [B, grid] (rows sum to 1). Started at the uniform distribution; ``iters`` EM steps
    (the log-likelihood increases at each; the fixed point is the NPMLE on the grid).
    """
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    G = np.full((W.shape[0], L.shape[1]), 1.0 / L.shape[1])
    tot = W.sum(axis=1, keepdims=True)
    for _ in range(iters):
        f = np.maximum(G @ L.T, 1e-300)
        G = G * ((W / f) @ L) / tot
    return G


def loglik(W: np.ndarray, L: np.ndarray, G: np.ndarray) -> np.ndarray:
    """l(G) = sum_u W_u log f_G(u), per row [B]."""
    return (W * np.log(np.maximum(G @ L.T, 1e-300))).sum(axis=1)


def _mm_step(W: np.ndarray, L: np.ndarray, G: np.ndarray, a: np.ndarray) -> np.ndarray:
    """One MM step for max l(G) + a.G on the simplex: G_g = A_g / (lam - a_g), sum_g G_g = 1,
    with A_g = G_g sum_u W_u L_ug / f_G(u) (EM responsibilities; the minorizer of l is
    sum_g A_g log G_g, Lange, Hunter & Yang 2000, J. Comput. Graph. Stat. 9).

    lam solves psi(lam) = 1 / sum_g A_g/(lam - a_g) = 1 on lam > a* = max{a_g : A_g > 0}; psi is
    increasing and concave there (a harmonic mean of affine functions), so Newton's method started
    at lam_0 = max_g (a_g + A_g) (where psi <= 1) increases monotonically to the root. Atoms with
    A_g = 0 enter linearly: if their largest a_g exceeds that root, lam = that a_g and the atom takes
    the remaining mass 1 - sum_g A_g/(lam - a_g) (the minorizer's maximiser by the KKT conditions)."""
    A = G * ((W / np.maximum(G @ L.T, 1e-300)) @ L)
    on = A > 1e-250  # atoms with less weight are dropped (keeps 1/A finite in Newton's step)
    A = np.where(on, A, 0.0)
    lam = np.where(on, a + A, -np.inf).max(axis=1)  # phi(lam) >= 1 there: the root is to the right
    for _ in range(30):
        floor = 1e-12 * np.maximum(np.abs(lam), 1.0)[:, None]  # lam - a_g loses digits when a_g is large
        d = np.where(on, np.maximum(lam[:, None] - a, floor), 1.0)
        r = np.where(on, A / d, 0.0)
        phi = r.sum(axis=1)
        dphi = (r / d).sum(axis=1)  # -phi'
        step = (phi - 1.0) * phi / dphi  # Newton on psi = 1/phi: (1 - psi)/psi' = (phi - 1) phi / (-phi')
        lam = lam + step
        if np.all(np.abs(step) <= 1e-12 * np.maximum(np.abs(lam), 1.0)):
            break
    # atoms without weight (A_g = 0: G_g = 0, or a likelihood that underflowed) enter the minorizer
    # linearly, a_g G_g: when the largest such a_g exceeds the root, the maximiser has lam = that a_g
    # and puts the mass the other atoms leave, 1 - sum_on A_g/(lam - a_g), on that atom (KKT);
    # without this, mass could never move to where G_hat has none and the bound would collapse
    a_off = np.where(on, -np.inf, a)
    j_off = a_off.argmax(axis=1)
    top_off = np.take_along_axis(a_off, j_off[:, None], axis=1)[:, 0]
    revive = top_off > lam
    lam = np.where(revive, top_off, lam)
    floor = 1e-12 * np.maximum(np.abs(lam), 1.0)[:, None]
    Gn = np.where(on, A / np.where(on, np.maximum(lam[:, None] - a, floor), 1.0), 0.0)
    rest = np.clip(1.0 - Gn.sum(axis=1), 0.0, 1.0)
    rows = np.flatnonzero(revive)
    Gn[rows, j_off[rows]] += rest[rows]
    return Gn / Gn.sum(axis=1, keepdims=True)


def _vertex_step(W: np.ndarray, L: np.ndarray, G: np.ndarray, a: np.ndarray) -> np.ndarray:
    """One vertex-direction step (Fedorov 1972; Boehning 1986, "A vertex-exchange-method in D-optimal
    design theory", Metrika 33) for max l(G) + a.G: move mass s towards the atom g* with the largest
    directional derivative d_g = sum_u W_u L_ug / f_G(u) + a_g, G <- (1 - s) G + s e_g*, with s in
    [0, 1] maximising the (concave) objective along that segment (bisection on its derivative).
    Multiplicative MM steps cannot give mass to an atom that has (almost) none; this step can."""
    f = np.maximum(G @ L.T, 1e-300)
    d = (W / f) @ L + a
    g = d.argmax(axis=1)
    Lg = L[:, g].T  # [B, U]
    da = np.take_along_axis(a, g[:, None], axis=1)[:, 0] - (a * G).sum(axis=1)

    def slope(s):
        return (W * (Lg - f) / np.maximum((1 - s)[:, None] * f + s[:, None] * Lg, 1e-300)).sum(axis=1) + da

    lo = np.zeros(G.shape[0])
    hi = np.ones(G.shape[0])
    up = slope(lo) > 0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        pos = slope(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    step = np.where(up, lo, 0.0)
    Gn = (1 - step)[:, None] * G
    Gn[np.arange(G.shape[0]), g] += step
    return Gn


def _maximise(W: np.ndarray, L: np.ndarray, G: np.ndarray, a: np.ndarray) -> np.ndarray:
    """argmax l(G) + a.G by MM steps accelerated with SQUAREM (Varadhan & Roland 2008, Scand. J.
    Stat. 35): x' = x - 2s r + s^2 v with r = F(x) - x, v = F(F(x)) - 2F(x) + x, s = -|r|/|v|,
    projected back onto the simplex and followed by one plain MM step (which keeps the objective
    from decreasing); _MM_ITERS // 3 cycles, each opened by a vertex-direction step
    (:func:`_vertex_step`) that can move mass to atoms the MM steps cannot reach."""
    for _ in range(max(1, _MM_ITERS // 3)):
        G = _vertex_step(W, L, G, a)
        G1 = _mm_step(W, L, G, a)
        G2 = _mm_step(W, L, G1, a)
        r = G1 - G
        v = G2 - 2.0 * G1 + G
        nr = np.sqrt((r * r).sum(axis=1, keepdims=True))
        nv = np.sqrt((v * v).sum(axis=1, keepdims=True))
        s = np.where(nv > 0, -nr / np.maximum(nv, 1e-300), -1.0)
        s = np.minimum(s, -1.0)  # s = -1 is the plain two-step MM
        x = np.clip(G - 2.0 * s * r + s * s * v, 0.0, None)
        x = x / x.sum(axis=1, keepdims=True)
        Gx = _mm_step(W, L, x, a)
        obj_x = loglik(W, L, Gx) + (a * Gx).sum(axis=1)
        obj_2 = loglik(W, L, G2) + (a * G2).sum(axis=1)
        G = np.where((obj_x >= obj_2)[:, None], Gx, G2)
    return G


@_memo
def profile_upper(W: np.ndarray, L: np.ndarray, H: np.ndarray, G_hat: np.ndarray, delta: float) -> np.ndarray:
    """One-sided profile-likelihood upper bound of M(G) = H.G at level 1 - delta, per row [B].

    max{H.G : l(G_hat) - l(G) <= z_{1-delta}^2/2} through G_tau = argmax l(G) + tau H.G
    (module docstring); bisection on log10 tau in [-3, 4] (tau in units of 1/max H), each step's MM
    iterations warm-started from the last feasible G (the first from G_hat mixed with 1e-4 of the
    uniform distribution, so that every atom can gain mass); never below the point estimate H.G_hat.
    """
    W = np.atleast_2d(W)
    H = np.broadcast_to(np.atleast_2d(H), G_hat.shape)
    kappa = float(norm.ppf(1.0 - delta)) ** 2 / 2.0
    l_hat = loglik(W, L, G_hat)
    scale = np.maximum(np.abs(H).max(axis=1), 1e-300)  # tau in units of 1/max H
    best = (H * G_hat).sum(axis=1)
    lo = np.full(W.shape[0], -3.0)
    hi = np.full(W.shape[0], 4.0)
    # start from G_hat mixed with a little of the uniform distribution: every atom gets weight, so the
    # multiplicative MM steps can move mass to atoms where G_hat has (numerically) none; the mixture
    # costs at most -sum W log(1 - _SPREAD) ~ Q * _SPREAD of log-likelihood, far below kappa
    G_ok = (1.0 - _SPREAD) * G_hat + _SPREAD / G_hat.shape[1]
    for _ in range(_TAU_STEPS):
        mid = 0.5 * (lo + hi)
        a = (10.0 ** mid / scale)[:, None] * H
        G = _maximise(W, L, G_ok, a)  # warm start from the largest feasible tau so far
        ok = l_hat - loglik(W, L, G) <= kappa
        best = np.where(ok, np.maximum(best, (H * G).sum(axis=1)), best)
        G_ok = np.where(ok[:, None], G, G_ok)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return best


__all__ = ["grid_for", "count_table", "likelihood", "npmle", "loglik", "profile_upper"]
