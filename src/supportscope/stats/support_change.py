"""Creation and loss as claims about the set of problems, with a known error rate (DESIGN.md section 3).

A problem is labelled *created* at budget K when the base is certified inaccessible (upper bound
< eps(K)) and the tuned model certified accessible (lower bound >= eps(K)); *lost* is the mirror
image. Each label is a test at level alpha/2, but a verdict "creation" is a claim about the set: with
m problems sitting just above eps(K), about m x 0.018 of them look created by chance (n = 128,
K = 64), and the smallest per-problem p-value at n = 128 is 0.05^2 = 0.0025, so Bonferroni or BH over
all problems has almost no power. Two routes, each at level alpha/2, so that P(claim | no problem
truly created) <= alpha:

1. **Count test** (fixed n only). Under the global null (for every problem p0 >= eps or p1 < eps)
   the number N of created labels is a sum of independent Bernoullis with mean
       E N <= sum_i [ f_in(p0_i; n0_i) 1{p0_i >= eps} + f_acc(p1_i; n1_i) 1{p1_i < eps} ] = M,
   f_in(p; n) = P_p(certified inaccessible) = P(Bin(n, p) <= c_in(n)),
   f_acc(p; n) = P_p(certified accessible) = P(Bin(n, p) >= c_acc(n)),
   c_in, c_acc the count thresholds of the labelling rule. With each model's problem-level success
   distribution G estimated from its own counts (`stats.mixing`: NPMLE on a grid), M is estimated by
   M_hat = sum_g G0_g H0_g + sum_g G1_g H1_g (H0_g = sum_i f_in(p_g; n0_i) 1{p_g >= eps}, H1 alike),
   and bounded above by the profile-likelihood bound of each term at level 1 - alpha/8 (union: the
   sum covers M with probability >= 1 - alpha/4). Then, since P(Bin-sum >= k) <= P(Poisson(M) >= k)
   for k >= M + 1 (Anderson & Samuels 1967, "Some inequalities among binomial and Poisson
   probabilities", Proc. 5th Berkeley Symp.; the Poisson tail is larger), the count test rejects when
       p_count = P(Poisson(M_ucb) >= N) <= alpha/4.
2. **Problems established one by one** at the Bonferroni level alpha/(2Q) (alpha/Q when the count
   test is off), with the intersection-union p-value of "created" under the composite null
   "base accessible or tuned inaccessible at K" (Berger 1982, Technometrics 24):
       p_i = max( P_eps(X0 <= c0_i), P_eps(X1 >= c1_i) )      X ~ Bin(n, eps(K)),
   (for adaptively sampled runs the anytime-valid p-value exp(-log M_n(eps)) of the beta-binomial
   mixture martingale, `stats.sequences.log_martingale`, in place of each binomial tail; valid at any
   data-dependent n by Ville's inequality). A follow-up run that samples the candidates further is
   what turns them into established problems.
Creation is claimed when either route rejects. "lost" is the same with base and tuned swapped.

Per problem, the local false-discovery rate of the label under the fitted G's (Efron et al. 2001,
JASA 96): lfdr_i = 1 - P(p0 < eps | c0_i) P(p1 >= eps | c1_i) (posteriors under G0 and G1, taken as
independent): the chance that a "created" label is a false creation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, poisson

from . import mixing
from ._checks import as_budgets, check_level
from .bounds import eps
from .regimes import accessibility

DIRECTIONS = ("created", "lost")


@dataclass(frozen=True, eq=False)
class SupportChangeTest:
    """Count-level test of one direction ("created" or "lost"); arrays have one entry per problem
    (a leading data-set axis when the inputs had one). See the module docstring for each formula.

    observed: labels in this direction (N). expected: M_hat, labels expected by chance under the
    global null. expected_ucb: its upper confidence bound (None when the count test is off).
    p_count: P(Poisson(expected_ucb) >= N) (None when off). count_rejects: p_count <= alpha/4.
    p_problem: the per-problem intersection-union p-values. level: the per-problem Bonferroni level.
    established: p_problem <= level (and labelled). lfdr: local false-discovery rate of the label.
    claimed: count_rejects or any established.
    """

    direction: str
    observed: np.ndarray
    expected: np.ndarray
    expected_ucb: np.ndarray | None
    p_count: np.ndarray | None
    count_rejects: np.ndarray
    p_problem: np.ndarray
    level: float
    established: np.ndarray
    lfdr: np.ndarray
    claimed: np.ndarray
    alpha: float
    method: str


def confirmation_level(alpha: float, m: int) -> float:
    """alpha / (2 m): the per-problem level at which a follow-up of m candidates decides each one on
    its fresh samples (Bonferroni over the two models' regime decisions on each of the m problems,
    so every confirmed label holds simultaneously with probability >= 1 - alpha; DESIGN.md section 3).
    Shared by the sampler that stops the follow-up and the analysis that reads it."""
    return alpha / (2 * max(int(m), 1))


def label_thresholds(n_values: np.ndarray, budget: int, zeta: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(c_in, c_acc) per n: the largest count certified inaccessible at K (-1 if none) and the
    smallest certified accessible (n + 1 if none), by the Clopper-Pearson rule of `regimes`."""
    c_in = np.empty(len(n_values), dtype=np.int64)
    c_acc = np.empty(len(n_values), dtype=np.int64)
    for j, n in enumerate(np.asarray(n_values, dtype=np.int64)):
        acc = accessibility(np.arange(n + 1), np.full(n + 1, n), budget, zeta, alpha)
        ins = np.flatnonzero(acc == 0)
        ok = np.flatnonzero(acc == 1)
        c_in[j] = ins.max() if ins.size else -1
        c_acc[j] = ok.min() if ok.size else n + 1
    return c_in, c_acc


def problem_pvalues(c_from, n_from, c_to, n_to, threshold: float, anytime: bool = False) -> np.ndarray:
    """Intersection-union p-value that the problem left the ``from`` model's reach and entered the
    ``to`` model's (module docstring): max(P_t(X_from <= c_from), P_t(X_to >= c_to)), X ~ Bin(n, t);
    with ``anytime`` each tail is replaced by the mixture-martingale p-value min(1, 1/M_n(t)) on the
    side of t the counts lie (1 on the other side); Berger 1982 (intersection-union tests),
    Robbins 1970 / Howard et al. 2021 (the martingale), DESIGN.md section 3."""
    t = float(threshold)
    if not anytime:
        return np.maximum(binom.cdf(c_from, n_from, t), binom.sf(np.asarray(c_to) - 1, n_to, t))
    from .sequences import log_martingale

    below = np.asarray(c_from) / np.asarray(n_from) < t
    above = np.asarray(c_to) / np.asarray(n_to) > t
    p_from = np.where(below, np.minimum(1.0, np.exp(-np.asarray(log_martingale(c_from, n_from, t)))), 1.0)
    p_to = np.where(above, np.minimum(1.0, np.exp(-np.asarray(log_martingale(c_to, n_to, t)))), 1.0)
    return np.maximum(p_from, p_to)


class _Fit:
    """G of one model fitted once, shared by the created and the lost test; ``below`` [B, Q] is each
    problem's posterior P(p < t | c_i) under G (Bayes' rule on the grid)."""

    def __init__(self, c: np.ndarray, n: np.ndarray, grid: np.ndarray, t: float):
        self.cu, self.nu, self.inv = mixing.count_table(c, n)
        self.L = mixing.likelihood(self.cu, self.nu, grid)
        rows = c.shape[0]
        self.W = np.zeros((rows, len(self.cu)))
        np.add.at(self.W, (np.repeat(np.arange(rows), c.shape[1]), self.inv.ravel()), 1.0)
        self.G = mixing.npmle(self.W, self.L)
        low = grid < t
        pb = (self.G[:, low] @ self.L[:, low].T) / np.maximum(self.G @ self.L.T, 1e-300)  # [B, U]
        self.below = np.take_along_axis(pb, self.inv, axis=1)


def _h(grid, n, thresholds, t, kind):
    """H[b, g] = sum_i f(grid_g; n_bi) on the null side of t (f_in above t, f_acc below)."""
    nv, inv = np.unique(n, return_inverse=True)
    c_in, c_acc = thresholds(nv)
    if kind == "in":
        f = binom.cdf(c_in[:, None], nv[:, None], grid[None, :]) * (grid >= t)
    else:
        f = binom.sf(c_acc[:, None] - 1, nv[:, None], grid[None, :]) * (grid < t)
    counts = np.zeros((n.shape[0], len(nv)))
    np.add.at(counts, (np.repeat(np.arange(n.shape[0]), n.shape[1]), inv.reshape(n.shape).ravel()), 1.0)
    return counts @ f


def support_change(c0, n0, c1, n1, label, budget: int, zeta: float = 0.05, alpha: float = 0.05,
                   anytime: bool = False, directions: tuple[str, ...] = DIRECTIONS) -> dict[str, SupportChangeTest]:
    """{"created": test, "lost": test} for base counts (c0, n0), tuned (c1, n1) and the per-problem
    labels (str array: "created"/"lost" mark the labelled problems), at audit budget K = ``budget``.

    Inputs are [Q] or [D, Q] (D data sets tested at once, as the simulations do). With ``anytime``
    (adaptively sampled counts) the count test is off and the whole alpha goes to Bonferroni.
    ``directions``: the tests to run (both by default). Methods and references (Kiefer & Wolfowitz
    1956, Anderson & Samuels 1967, Berger 1982): module docstring and DESIGN.md section 3.
    """
    alpha = check_level(alpha, "alpha")
    budget, _ = as_budgets(budget, 1)
    arrs = [np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (c0, n0, c1, n1)]
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    c0, n0, c1, n1 = (np.broadcast_to(a, shape) for a in arrs)
    lab = np.broadcast_to(np.atleast_2d(np.asarray(label, dtype=object)), shape)
    squeeze = np.ndim(label) == 1
    t = float(eps(budget, zeta))
    grid = mixing.grid_for(t)
    fit0, fit1 = _Fit(c0, n0, grid, t), _Fit(c1, n1, grid, t)
    Q = shape[1]
    memo: dict[int, tuple[int, int]] = {}

    def thresholds(nv):
        todo = [int(v) for v in nv if int(v) not in memo]
        if todo:
            ci, ca = label_thresholds(np.array(todo), budget, zeta, alpha)
            memo.update({v: (int(a), int(b)) for v, a, b in zip(todo, ci, ca)})
        return (np.array([memo[int(v)][0] for v in nv]), np.array([memo[int(v)][1] for v in nv]))

    out = {}
    sides = {"created": (fit0, n0, c0, fit1, n1, c1), "lost": (fit1, n1, c1, fit0, n0, c0)}
    for direction in directions:
        f_from, n_from, c_from, f_to, n_to, c_to = sides[direction]
        labelled = lab == direction
        N = labelled.sum(axis=1)
        p_i = problem_pvalues(c_from, n_from, c_to, n_to, t, anytime)
        H_from = _h(grid, n_from, thresholds, t, "in")
        H_to = _h(grid, n_to, thresholds, t, "acc")
        M = (f_from.G * H_from).sum(axis=1) + (f_to.G * H_to).sum(axis=1)
        lfdr = 1.0 - f_from.below * (1.0 - f_to.below)
        if anytime:
            level, ucb, p_count = alpha / Q, None, None
            count_rej = np.zeros(shape[0], dtype=bool)
            method = "Bonferroni over problems with anytime-valid p-values (count test off: n was adaptive)"
        else:
            level = alpha / (2 * Q)
            ucb = (mixing.profile_upper(f_from.W, f_from.L, H_from, f_from.G, alpha / 8)
                   + mixing.profile_upper(f_to.W, f_to.L, H_to, f_to.G, alpha / 8))
            p_count = poisson.sf(N - 1, ucb)
            count_rej = p_count <= alpha / 4
            method = ("count test (NPMLE null count, profile-likelihood bound, Poisson tail) at alpha/2 "
                      "or Bonferroni over problems at alpha/2")
        est = labelled & (p_i <= level)
        claimed = count_rej | est.any(axis=1)

        def sq(x):
            return None if x is None else (x[0] if squeeze else x)

        out[direction] = SupportChangeTest(
            direction=direction, observed=sq(N), expected=sq(M), expected_ucb=sq(ucb), p_count=sq(p_count),
            count_rejects=sq(count_rej), p_problem=sq(p_i), level=level, established=sq(est), lfdr=sq(lfdr),
            claimed=sq(claimed), alpha=alpha, method=method)
    return out


__all__ = ["DIRECTIONS", "SupportChangeTest", "confirmation_level", "label_thresholds", "problem_pvalues",
           "support_change"]
