"""Adaptive sample allocation: decide every problem's regime with the fewest samples (issue 8).

Sampling proceeds in rounds. Before each round, the counts (c, n) so far decide which problems are
still **open** and how many samples each gets; decisions are only ever read from the anytime-valid
confidence sequence CS_n = {p : M_n(p) < 1/alpha} of ``stats.sequences`` (beta-binomial mixture
martingale, Robbins 1970; Howard et al. 2021), which covers p at every n simultaneously with
probability >= 1 - alpha. Hence any rule for *when to stop* (this module's) keeps every decision
valid: stopping early only leaves more problems undetermined, it never makes a decision wrong
more often than alpha.

Rules (eps(k) = 1 - zeta^(1/k), k_b = basin budget, K = audit budget):

* **decided**: basin (lo >= eps(k_b)), tail (lo >= eps(K) and hi < eps(k_b)) or inaccessible
  (hi < eps(K)), with (lo, hi) = CS_n  (``sequences.regime_decided_anytime``).
* **open** (:func:`open_mask`): n < max_n and not decided. With the other model's counts
  (c_other, n_other) on the same problems, the problem also stays open while the other model's
  regime is undecided and n_other < max_n:
      open = (n < max_n) & (~decided | (~decided_other & (n_other < max_n))).
* **futility** (optional, ``futility=beta``, off by default): an undecided problem is closed when
  no rate r in its Clopper-Pearson interval at level 1 - beta (checked at both ends and at 5 rates
  inside the tail) would be decided at the cap, i.e. (r max_n, max_n) is undecided by the
  CS for all of them (:func:`futile_mask`).
* **cost** of an open problem: s - n with s = samples_to_close(c, n) (the predicted number of
  further samples; 0 when decided, inf when never within n_max); when kept open for the other
  model, the larger of the two models' remaining costs.
* **allocation** (:func:`next_round`): open problems sorted by cost (cheapest first, ties by
  index) each get a_i = min(round_size, max_n - n_i); with ``round_budget`` B only the prefix
  of that order whose cumulative allocation fits into B gets samples, plus the remainder
  B - sum(prefix) for the next problem (so a round never exceeds B and uses all of it while
  problems are open).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_budgets, as_int_array, check_level
from .bounds import _cp, eps
from .sequences import _counts0, _prior, _regime_decided, regime_decided_anytime, samples_to_close


def _max_n(max_n) -> int:
    return int(as_int_array(max_n, "max_n", minimum=1))


def _other(c, c_other, n_other):
    if (c_other is None) != (n_other is None):
        raise ValueError("give both c_other and n_other (the other model's counts) or neither")
    if c_other is None:
        return None, None
    co, no = _counts0(c_other, n_other)
    if co.shape != np.shape(c):
        raise ValueError(
            f"c_other/n_other must have one entry per problem, shape {np.shape(c)}, got {co.shape}"
        )
    return co, no


def futile_mask(c, n, budget, *, max_n, futility: float, basin_budget: int = 8, zeta: float = 0.05,
                alpha: float = 0.05, prior=(0.5, 0.5)) -> np.ndarray:
    """True where sampling up to ``max_n`` is predicted not to decide the regime (the futility rule).

    With [r1, r2] the Clopper & Pearson (1934) interval of c/n at level 1 - ``futility`` (the rates
    still plausible) and R = {r1, r2} united with 5 rates log-spaced over the tail (eps(K), eps(k_b))
    clipped into [r1, r2] (the prediction's cost is monotone in r outside the tail, so its minimum
    over [r1, r2] lies at an end or inside the tail): futile iff n >= 1 and for every r in R the
    counts (r max_n, max_n) (real-valued c' as in ``sequences.samples_to_close``) are undecided by
    the confidence sequence. Stopping such a problem is always allowed; it only gives up on a
    decision that would probably not come within the cap.
    """
    beta = check_level(futility, "futility")
    max_n = _max_n(max_n)
    a, b = _prior(prior)
    budget, basin_budget = as_budgets(budget, basin_budget)
    c, n = _counts0(c, n)
    e_b, e_k = float(eps(basin_budget, zeta)), float(eps(budget, zeta))
    L = float(np.log(1.0 / check_level(alpha, "alpha")))
    cf, nf = c.astype(np.float64), np.maximum(n, 1).astype(np.float64)
    r1, r2 = _cp(cf, nf, beta)
    m = float(max_n)
    futile = n >= 1
    tail = np.exp(np.linspace(np.log(e_k), np.log(e_b), 7)[1:-1]) if e_k < e_b else np.empty(0)
    for r in [r1, r2, *(np.clip(t, r1, r2) for t in tail)]:
        futile = futile & ~_regime_decided(r * m, m, e_b, e_k, a, b, L)
    return np.asarray(futile)


def open_mask(c, n, budget, *, basin_budget: int = 8, zeta: float = 0.05, alpha: float = 0.05, max_n,
              c_other=None, n_other=None, prior=(0.5, 0.5), futility: float | None = None) -> np.ndarray:
    """True where a problem still needs samples (bool array, one entry per problem).

    open = (n < max_n) & (~decided | (~decided_other & (n_other < max_n))), where decided is
    ``sequences.regime_decided_anytime`` (the regime at K = ``budget`` is decided by the
    confidence sequence) for (c, n), and decided_other the same for (c_other, n_other) when the
    other model's counts are given (else False: only this model's regime counts). Keeping a
    problem open for the other model lets the sampler draw both models on the same problems until
    the pair of accessibilities at K, which the label needs, is decided.

    With ``futility = beta`` (off by default), each side that is undecided is also dropped from
    that rule when :func:`futile_mask` (at level 1 - beta) finds it futile:
    open = (n < max_n) & ((~decided & ~futile) | (~decided_other & ~futile_other & (n_other < max_n))).
    Stopping never invalidates a decision; it only leaves the problem undetermined.
    Regimes as in DESIGN.md section 2, decided by the confidence sequence of Howard et al. (2021).
    """
    max_n = _max_n(max_n)
    c, n = _counts0(c, n)
    co, no = _other(c, c_other, n_other)
    kw = dict(basin_budget=basin_budget, zeta=zeta, alpha=alpha, prior=prior)

    def undecided(cc, nn):
        out = ~regime_decided_anytime(cc, nn, budget, basin_budget, zeta, alpha, prior) & (nn < max_n)
        if futility is not None and out.any():  # the futility check only where it can matter
            k = np.flatnonzero(out)
            out.flat[k] = ~futile_mask(cc.flat[k], nn.flat[k], budget, max_n=max_n, futility=futility, **kw)
        return out

    mine = undecided(c, n)
    if co is None:
        return np.asarray(mine)
    return np.asarray((n < max_n) & (mine | undecided(co, no)))


def allocation_cost(c, n, budget, *, basin_budget: int = 8, zeta: float = 0.05, alpha: float = 0.05,
                    c_other=None, n_other=None, prior=(0.5, 0.5), n_max: int = 10**7) -> np.ndarray:
    """Predicted further samples to close each problem: samples_to_close(c, n) - n (0 when decided).

    With the other model's counts, the larger of the two models' remaining costs (a problem kept
    open for the other model costs what the other model still needs). +inf where the rate sits on a
    threshold or the prediction exceeds ``n_max``. This is the order key of :func:`next_round`.
    """
    c, n = _counts0(c, n)
    co, no = _other(c, c_other, n_other)
    s = samples_to_close(c, n, budget, basin_budget, zeta, alpha, n_max=n_max, prior=prior)
    cost = np.where(s > 0, s - n, 0.0)
    if co is not None:
        so = samples_to_close(co, no, budget, basin_budget, zeta, alpha, n_max=n_max, prior=prior)
        cost = np.maximum(cost, np.where(so > 0, so - no, 0.0))
    return np.asarray(cost, dtype=np.float64)


def next_round(c, n, budget, *, round_size: int = 16, max_n, basin_budget: int = 8, zeta: float = 0.05,
               alpha: float = 0.05, round_budget: int | None = None, c_other=None, n_other=None,
               prior=(0.5, 0.5), futility: float | None = None) -> np.ndarray:
    """Samples to add to each problem in the next round (int64 array, 0 for closed problems).

    Open problems (:func:`open_mask`) get a_i = min(round_size, max_n - n_i), so n never exceeds
    ``max_n``. Without ``round_budget`` every open problem gets its a_i. With ``round_budget`` B,
    open problems are ordered by :func:`allocation_cost` (predicted further samples to decide,
    cheapest first, ties by index) and the longest prefix with sum(a) <= B gets its a_i; the next
    problem in the order gets the remainder B - sum(prefix) if positive. The rounds' decisions are
    made by the confidence sequence only, so this data-dependent allocation keeps them valid.
    The adaptive allocation rule (README, "Adaptive sampling"); decisions by the confidence sequence
    of Howard et al. (2021).
    """
    round_size = int(as_int_array(round_size, "round_size", minimum=1))
    max_n = _max_n(max_n)
    B = None if round_budget is None else int(as_int_array(round_budget, "round_budget", minimum=1))
    c, n = _counts0(c, n)
    shape = c.shape
    is_open = open_mask(c, n, budget, basin_budget=basin_budget, zeta=zeta, alpha=alpha, max_n=max_n,
                        c_other=c_other, n_other=n_other, prior=prior, futility=futility).ravel()
    n_flat = n.ravel()
    add = np.where(is_open, np.minimum(round_size, max_n - n_flat), 0).astype(np.int64)
    if B is None or add.sum() <= B:
        return add.reshape(shape)
    idx = np.flatnonzero(is_open)
    co = None if c_other is None else np.asarray(c_other).ravel()[idx]
    no = None if n_other is None else np.asarray(n_other).ravel()[idx]
    cost = allocation_cost(c.ravel()[idx], n_flat[idx], budget, basin_budget=basin_budget, zeta=zeta,
                           alpha=alpha, c_other=co, n_other=no, prior=prior)
    order = idx[np.argsort(cost, kind="stable")]
    cum = np.cumsum(add[order])
    fit = cum <= B
    out = np.zeros_like(add)
    out[order[fit]] = add[order[fit]]
    k = int(fit.sum())
    rest = B - (int(cum[k - 1]) if k else 0)
    if k < order.size and rest > 0:
        out[order[k]] = rest
    return out.reshape(shape)


@dataclass(frozen=True, eq=False)
class AdaptiveRun:
    """Result of :func:`simulate_adaptive`: final counts per problem and the number of rounds."""

    c: np.ndarray
    n: np.ndarray
    rounds: int

    @property
    def samples(self) -> int:
        return int(self.n.sum())


def simulate_adaptive(p_true, budget, *, max_n: int, round_size: int = 16, n_init: int | None = None,
                      rng: np.random.Generator, basin_budget: int = 8, zeta: float = 0.05,
                      alpha: float = 0.05, round_budget: int | None = None, prior=(0.5, 0.5),
                      futility: float | None = None, max_rounds: int = 100_000) -> AdaptiveRun:
    """Simulate an adaptive run for known success probabilities (vectorised over problems).

    Round 0 gives every problem n_init samples (default ``round_size``, capped at max_n); each
    later round adds :func:`next_round` samples, drawn as Binomial(a_i, p_i) from ``rng``, until no
    problem is open. Returns the final (c, n) and the number of rounds (round 0 included).
    Simulation of the adaptive rule with known truth (DESIGN.md section 2 regimes).
    """
    p = np.asarray(p_true, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_true must be probabilities in [0, 1]")
    max_n = _max_n(max_n)
    n_init = round_size if n_init is None else int(n_init)
    c = np.zeros(p.shape, dtype=np.int64)
    n = np.zeros(p.shape, dtype=np.int64)
    add = np.full(p.shape, min(n_init, max_n), dtype=np.int64)
    rounds = 0
    while add.any() and rounds < max_rounds:
        c += rng.binomial(add, p)
        n += add
        rounds += 1
        add = next_round(c, n, budget, round_size=round_size, max_n=max_n, basin_budget=basin_budget,
                         zeta=zeta, alpha=alpha, round_budget=round_budget, prior=prior, futility=futility)
    return AdaptiveRun(c=c, n=n, rounds=rounds)


def simulate_uniform(p_true, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform allocation: n samples of every problem. Returns (c, n) int64 arrays, c ~ Binomial(n, p).

    Uniform allocation baseline (fixed n, Clopper & Pearson 1934 decisions apply).
    """
    p = np.asarray(p_true, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_true must be probabilities in [0, 1]")
    n = int(as_int_array(n, "n", minimum=1))
    nn = np.full(p.shape, n, dtype=np.int64)
    return rng.binomial(nn, p).astype(np.int64), nn


__all__ = [
    "AdaptiveRun",
    "allocation_cost",
    "futile_mask",
    "next_round",
    "open_mask",
    "simulate_adaptive",
    "simulate_uniform",
]
