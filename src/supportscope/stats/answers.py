"""Answer-level statistics: answer entropy, majority-vote accuracy maj@k, the guessing baseline.

Inputs are per problem *answer categories*: the distinct final answers among its n samples, each
with a count m_j (sum_j m_j = n) and a value v_j in [0, 1], the fraction of its samples graded
correct (0 or 1 when the grader is consistent per answer). A padded [Q, J] count matrix (zeros
pad, categories in any order) holds Q problems at once. Which categories exist (e.g. whether a
missing answer is its own category "no answer") is the caller's choice; see
``analysis.answer_stats``.

Formulas (each function's docstring repeats its own):

* plug-in entropy H = -sum_j (m_j/n) ln(m_j/n) (nats); Miller-Madow H_MM = H + (J_obs - 1)/(2n),
  J_obs = number of categories with m_j > 0 (Miller 1955, "Note on the bias of information
  estimates"; Paninski 2003, Neural Computation 15, "Estimation of entropy and mutual
  information", section 3).
* maj@k: the average over all C(n, k) k-subsets of the n samples of the value of the subset's
  plurality answer, ties broken uniformly at random. It is a U-statistic (Hoeffding 1948) with
  kernel "plurality of k draws is correct", hence unbiased for the model's maj@k under i.i.d.
  sampling, exactly as pass@k = 1 - C(n-c, k)/C(n, k) is (Chen et al. 2021, arXiv 2107.03374,
  eq. 1). Computed exactly by a generating-function DP (:func:`maj_at_k`).
* guessing baseline: pass@k of a guesser that hits with probability q per draw, 1 - (1 - q)^k;
  the one-sided exact binomial p-value P(Binom(n, q) >= c) and Benjamini-Hochberg (1995)
  adjusted p-values over problems (:func:`guess_test`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import special, stats

from ._checks import as_int_array, as_probability, check_level

#: Largest C(n, k) the float64 DP of :func:`maj_at_k` accepts (counts of k-subsets are summed as
#: floats; beyond this they could overflow).
MAX_SUBSETS = 1e250


def _as_count_matrix(counts) -> np.ndarray:
    m = as_int_array(counts, "counts", minimum=0)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2:
        raise ValueError(f"counts must be [problems, categories], got shape {m.shape}")
    return m


def answer_entropy(counts) -> tuple[np.ndarray, np.ndarray]:
    """Plug-in and Miller-Madow entropies (nats) of each row's empirical answer distribution.

    H_i = -sum_j p_ij ln p_ij with p_ij = m_ij / n_i (0 ln 0 = 0), and the Miller-Madow bias
    correction H_MM,i = H_i + (J_i - 1) / (2 n_i), J_i = #{j : m_ij > 0} (Miller 1955; Paninski
    2003, eq. 3.12). The plug-in is biased low by about (J - 1)/(2n) for n >> J; the correction
    removes that first-order term. Rows with n_i = 0 give NaN.

    Args:
        counts: [Q, J] (or [J]) non-negative category counts, zero padded.

    Returns:
        (H, H_MM): float64 arrays [Q].
    """
    m = _as_count_matrix(counts).astype(np.float64)
    n = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = m / n[:, None]
        h = -np.sum(np.where(m > 0, p * np.log(np.where(m > 0, p, 1.0)), 0.0), axis=1)
        mm = h + ((m > 0).sum(axis=1) - 1) / (2.0 * n)
    h[n == 0] = np.nan
    mm[n == 0] = np.nan
    return h, mm


def maj_at_k(counts, values, ks) -> np.ndarray:
    """Exact unbiased maj@k: mean over all k-subsets of the n samples of the plurality's value.

    For a k-subset S let X_j = #(S in category j), x = max_j X_j, T = {j : X_j = x} (ties) and
    h(S) = (1/|T|) sum_{j in T} v_j: the expected value of the plurality answer with ties broken
    uniformly. maj@k = sum_S h(S) / C(n, k), a U-statistic (Hoeffding 1948), unbiased for
    P(plurality of k i.i.d. samples is correct) as pass@k is (Chen et al. 2021, eq. 1).

    Algorithm (exact, no enumeration), split by the plurality count x = max_j X_j:

    * x = 1 (k samples from k distinct categories, all tied, |T| = k):
      sum_S h(S) = [z^k] sum_j v_j m_j z prod_{l != j} (1 + m_l z) / k.
    * x >= 2. Ties are broken by independent uniform priorities U_j: j wins when X_j = x and every
      other category has X_l < x, or X_l = x and U_l < U_j; since 1/t = int_0^1 u^(t-1) du, this
      gives each tied category weight 1/|T|. A category with m_j < x never reaches x; together those
      contribute (1 + z)^(S_x), S_x = sum_{m_j < x} m_j (Vandermonde). Each category with m_j >= x
      gets f_j(z, u) = sum_{y<x} C(m_j, y) z^y + u C(m_j, x) z^x and g_j = v_j C(m_j, x) z^x, and

          sum_{S: max = x} h(S) = [z^k] int_0^1 sum_j g_j prod_{l != j} f_l(z, u) (1 + z)^(S_x) du.

      One pass over the big categories from P = (1 + z)^(S_x), D = 0: P <- P f_j, D <- D f_j + P g_j
      gives the integrand D. Its z^k coefficient is a polynomial in u of degree <= T - 1, with
      T = min(#{j: m_j >= x}, floor(kmax / x)) (the other categories tied at x), so Gauss-Legendre
      quadrature with ceil(T / 2) nodes on [0, 1] integrates it exactly (a G-node rule is exact up
      to degree 2G - 1; Golub & Welsch 1969).
      A problem where only its largest category j reaches x (so every x > n / 2) needs none of
      this: X_j = x, the other k - x samples come from the S_x small ones, and the term is
      v_j C(m_j, x) C(S_x, k - x).

    Then maj@k = sum_x [z^k] (term of x) / C(n, k). Only positive terms are added (good relative
    accuracy). Cost per problem: sum over x of (#categories with m_j >= x <= n/x) convolutions of
    ceil(T/2) rows of kmax + 1 coefficients with x kernel terms, vectorised over problems; all
    k <= kmax come from the same pass. (The former DP carried the tie count t as a polynomial
    variable and visited every category at every x; ``benchmarks/majk.py`` times both.)

    Args:
        counts: [Q, J] category counts (zero padded), n_i = row sums.
        values: [Q, J] category values in [0, 1] (ignored where the count is 0).
        ks: the k's (each >= 1).

    Returns:
        float64 [Q, len(ks)]; NaN where k > n_i.
    """
    m = _as_count_matrix(counts)
    v = as_probability(values, "values").reshape(m.shape)
    ks = np.atleast_1d(as_int_array(ks, "ks", minimum=1))
    n = m.sum(axis=1)
    out = np.full((m.shape[0], ks.size), np.nan)
    if ks.size == 0 or m.shape[0] == 0:
        return out
    kmax = int(min(ks.max(), n.max()))
    if kmax < 1:
        return out
    if special.comb(int(n.max()), kmax) > MAX_SUBSETS:
        raise ValueError(f"C(n, k) = C({int(n.max())}, {kmax}) is too large for maj_at_k's float64 DP")
    order = np.argsort(-m, axis=1, kind="stable")  # largest categories first: big ones are a prefix
    m = np.take_along_axis(m, order, axis=1)
    v = np.where(m > 0, np.take_along_axis(v, order, axis=1), 0.0)
    total = _maj_numerators(m, v, kmax)  # [Q, kmax + 1]: sum_S h(S) over k-subsets, per k
    for col, k in enumerate(ks):
        if k <= kmax:
            ok = n >= k
            out[ok, col] = total[ok, k] / special.comb(n[ok], k)
    return out


def _distinct_numerators(m: np.ndarray, v: np.ndarray, kmax: int) -> np.ndarray:
    """x = 1 of :func:`maj_at_k`: [z^k] sum_j v_j m_j z prod_{l != j} (1 + m_l z) / k ([Q, kmax+1])."""
    p = np.zeros((m.shape[0], kmax + 1))
    p[:, 0] = 1.0
    d = np.zeros_like(p)
    for j in range(int((m > 0).sum(axis=1).max())):
        mj = m[:, j, None].astype(np.float64)
        d[:, 1:] += mj * d[:, :-1] + (mj * v[:, j, None]) * p[:, :-1]  # right side first: the old d, p
        p[:, 1:] += mj * p[:, :-1]
    d[:, 1:] /= np.arange(1, kmax + 1)
    return d


def _maj_numerators(m: np.ndarray, v: np.ndarray, kmax: int) -> np.ndarray:
    """sum over k-subsets of h(S), k = 0..kmax, by the algorithm of :func:`maj_at_k` ([Q, kmax+1]);
    ``m`` sorted descending in each row."""
    total = _distinct_numerators(m, v, kmax)
    ks = np.arange(kmax + 1)
    for x in range(2, min(kmax, int(m.max())) + 1):
        big = m >= x  # a prefix of each row
        nbig = big.sum(axis=1)
        one = np.flatnonzero(nbig == 1)  # only the largest category reaches x: no tie, no quadrature
        if one.size:  # sum_{S: max = x} h(S) = v_0 C(m_0, x) C(S_x, k - x)
            rest = m[one].sum(axis=1) - m[one, 0]
            total[one, x:] += ((v[one, 0] * special.comb(m[one, 0], x))[:, None]
                               * special.comb(rest[:, None], ks[None, :kmax + 1 - x]))
        rows = np.flatnonzero(nbig >= 2)
        if rows.size == 0:
            continue
        nb = int(big.sum(axis=1).max())
        mb, vb, bigb = m[rows, :nb], v[rows, :nb], big[rows, :nb]
        small = np.where(big[rows], 0, m[rows]).sum(axis=1)
        nodes, weights = np.polynomial.legendre.leggauss((min(nb, kmax // x) + 1) // 2)
        u = ((nodes + 1.0) / 2.0)[None, :, None]  # Gauss-Legendre on [0, 1]
        pad, width = x - 1, kmax + 1 - x  # x - 1 leading zeros: the convolution reads p[k - y], y < x
        p = np.zeros((rows.size, nodes.size, pad + kmax + 1))
        d = np.zeros_like(p)
        p_new, d_new = np.zeros_like(p), np.zeros_like(d)
        p[:, :, pad:] = special.comb(small[:, None], ks[None, :])[:, None, :]
        ys = np.arange(x)[::-1]  # the kernel reversed, as the sliding windows read it
        for j in range(nb):
            on = bigb[:, j]  # rows whose j-th category is big; f_j = 1 elsewhere
            low = np.where(on[:, None], special.comb(mb[:, j, None], ys[None, :]), ys[None, :] == 0)
            top = np.where(on, special.comb(mb[:, j], x), 0.0)[:, None, None]
            np.einsum("qgkw,qw->qgk", sliding_window_view(p, x, axis=2), low, out=p_new[:, :, pad:])
            np.einsum("qgkw,qw->qgk", sliding_window_view(d, x, axis=2), low, out=d_new[:, :, pad:])
            shifted = p[:, :, pad:pad + width]
            p_new[:, :, pad + x:] += (top * u) * shifted
            d_new[:, :, pad + x:] += (top * u) * d[:, :, pad:pad + width]
            d_new[:, :, pad + x:] += (top * vb[:, j, None, None]) * shifted
            p, p_new, d, d_new = p_new, p, d_new, d  # the pads stay zero: only [pad:] is written
        total[rows] += np.einsum("qgk,g->qk", d[:, :, pad:], weights / 2.0)
    return total


def chance_pass_at_k(q, ks) -> np.ndarray:
    """pass@k of a guesser hitting with probability q per independent draw: 1 - (1 - q)^k.

    Args:
        q: [Q] per-draw hit probabilities in [0, 1] (NaN passes through).
        ks: the k's.

    Returns:
        float64 [Q, len(ks)].
    """
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    ks = np.atleast_1d(as_int_array(ks, "ks", minimum=1)).astype(np.float64)
    with np.errstate(divide="ignore"):  # q = 1: log1p(-1) = -inf, and 1 - e^-inf = 1
        return -np.expm1(ks[None, :] * np.log1p(-q[:, None]))


def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values: p_(i) * m / i, made monotone from the top.

    Rejecting every hypothesis with adjusted p <= alpha is the BH step-up procedure, which keeps
    the false discovery rate at most alpha * m0 / m for independent (or PRDS) p-values. NaN
    entries are left out of m and stay NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    ps = p[ok]
    mcount = ps.size
    if mcount == 0:
        return out
    order = np.argsort(ps)
    scaled = ps[order] * mcount / np.arange(1, mcount + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    res = np.empty(mcount)
    res[order] = adj
    out[ok] = res
    return out


@dataclass(frozen=True, eq=False)
class GuessTest:
    """Per-problem test of "success is no better than guessing", one family (one model).

    H0_i: p_i <= q_i (per-sample success no better than the guessing hit rate). For i.i.d.
    samples pass@k = 1 - (1 - p)^k is increasing in p, so H0_i is "pass@k <= 1 - (1 - q_i)^k" at
    *every* budget k at once: one test serves every k. p-value: P(Binom(n_i, q_i) >= c_i) (exact,
    one-sided; q_i treated as known). ``guessable`` = not rejected by BH at level alpha over the
    family, among problems with q_i > 0 (a guesser that can never hit the reference explains no
    success, so such a problem is never "guessable"; unsolved problems with q_i > 0 are).
    """

    pvalue: np.ndarray  #: [Q] one-sided exact binomial p-values
    p_adjusted: np.ndarray  #: [Q] BH-adjusted p-values
    guessable: np.ndarray  #: [Q] bool
    alpha: float

    @property
    def n_guessable(self) -> int:
        """How many problems are marked guessable."""
        return int(self.guessable.sum())


def guess_test(c, n, q, alpha: float = 0.05) -> GuessTest:
    """One-sided exact binomial tests of c_i successes in n_i against the guessing rate q_i, BH.

    p_i = P(Binom(n_i, q_i) >= c_i) = binom.sf(c_i - 1, n_i, q_i) (one-sided exact binomial test,
    e.g. Agresti 2013, "Categorical Data Analysis", 1.4); rejections by Benjamini-Hochberg (1995)
    at level alpha across the Q problems (FDR of the claims "above guessing" <= alpha);
    guessable_i = (q_i > 0) and not rejected. Problems with q_i NaN (no baseline) get p = NaN and
    are neither tested nor guessable.

    Args:
        c, n: successes and samples per problem, [Q].
        q: guessing hit probability per draw, [Q], in [0, 1] or NaN.
        alpha: the FDR level.

    Returns:
        :class:`GuessTest`.
    """
    c = np.atleast_1d(as_int_array(c, "c", minimum=0))
    n = np.atleast_1d(as_int_array(n, "n", minimum=1))
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    alpha = check_level(alpha, "alpha")
    if not (c.shape == n.shape == q.shape):
        raise ValueError(f"c, n and q must have one entry per problem, got {c.shape}, {n.shape}, {q.shape}")
    if (c > n).any():
        raise ValueError("c > n: a success count cannot exceed the sample count")
    known = ~np.isnan(q)
    as_probability(q[known], "q")
    p = np.full(q.shape, np.nan)
    p[known] = stats.binom.sf(c[known] - 1, n[known], q[known])
    adj = bh_adjust(p)
    guessable = known & (q > 0) & ~(adj <= alpha)
    return GuessTest(pvalue=p, p_adjusted=adj, guessable=guessable, alpha=alpha)
