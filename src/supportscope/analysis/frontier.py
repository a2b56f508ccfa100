"""The elicitation frontier block: every tuned model against what pure reweighting of the base reaches.

Formulas of the frontier itself are in `stats.frontier` (DESIGN.md section 4). With base counts
(c0_i, n0_i), budget K, eps = eps(K) = 1 - zeta^(1/K), the grid lam_1 < ... < lam_L
(`stats.frontier.default_lams`: -inf, -16..16, +inf) and the requested k's (1 and K always added):

- frontier.pass1 / frontier.passK: F(1, lam) and F(K, lam), F(k, lam) = (1/Q) sum_i
  E_post[1 - (1 - tilt(p0_i, lam))^k] (Jeffreys posteriors): the curve traced by lam in the
  pass@1-vs-pass@K plane; the base itself sits on it at lam = 0 (``base``: its posterior-mean
  pass@1 and pass@K, 1 - B(a, b + k)/B(a, b)).
- reachable.passK: F_K(K, lam) = (1/Q) sum_i E_post[1{p0_i >= eps} (1 - (1 - tilt)^K)], drawn at
  x = F(1, lam); its limit at lam = +inf is
- ceiling: C_K = (1/Q) sum_i P_post(p0_i >= eps), the posterior share of the K-accessible support.
- ceiling_certified: C+_K = (1/Q) #{i : U_i >= eps}, U_i the upper end of the two-sided 1 - alpha
  Clopper-Pearson interval of c0_i/n0_i: the share of problems the base is not certified to lack
  at K (the certification rule of DESIGN.md section 2). C_K is a shrunk estimate (a problem at p0 just above eps counts about 1/2), so the
  base's own pass@K can exceed it; C+_K is the bound the creation flag uses.
Per tuned model (c1_i, n1_i), all models on one paired bootstrap (the same resampled problems):
- pass (per k): unbiased pooled pass@k, (1/Q) sum_i [1 - C(n1_i - c1_i, k)/C(n1_i, k)] (Chen et al.
  2021); None for k > min_i n1_i. pass_posterior: (1/Q) sum_i [1 - B(a1_i, b1_i + k)/B(a1_i, b1_i)],
  the same on the frontier's scale (``point`` holds it at k = 1 and K: the model's place in the plane).
- lambda_star: solves F(1, lam*) = pass_posterior(1), by linear interpolation on the grid
  (`stats.frontier.solve_on_curve`); +-inf beyond the grid's finite ends.
- frontier (per k): F(k, lam*), read on the same grid segment, linearly in F(1, .).
- gap (per k): pass_posterior(k) - F(k, lam*). Negative: at this pass@1 the tuned model solves fewer
  problems within k samples than one uniform tilt of the base would -- narrower than reweighting,
  the pass@k crossover reported for RLVR (Yue et al. 2025, arXiv 2504.13837). Positive: broader than
  any uniform tilt with its pass@1 -- mass on problems the base rarely solves (creation, or a
  non-uniform reweighting towards them). Both sides use the posterior scale: the Jeffreys posterior
  credits a problem the base never solved with E_post pass@K of about 0.18 (n = 128, K = 64) already
  at lam = 0, and a tuned model's unbiased pass@K would not carry that credit.
- excess (per k): pass(k) - C+_K (unbiased pass@k against the certified share: a problem certified
  inaccessible and not solved by the tuned model contributes 0 to both sides).
- Intervals: percentile intervals of the paired bootstrap at level 1 - alpha (lam* re-solved on each
  replicate, so the gap's interval carries lam*'s uncertainty).
- first_k_above_frontier: the smallest k > 1 whose gap lower bound exceeds 0, with the bounds taken
  at level 1 - alpha/m over the m k's searched (Bonferroni; gap(1) = 0 by construction);
  first_k_above_ceiling: the same for the excess over k <= K. None when no k qualifies.
Measured (tests/test_frontier.py and DESIGN.md section 4): false "above" rates under a pure tilt and
power with created problems.
"""

from __future__ import annotations

import numpy as np

from supportscope.stats import (
    PairedBootstrap,
    clopper_pearson,
    passk_at,
    percentile_interval,
)
from supportscope.stats.frontier import (
    frontier_contributions,
    posterior_passk,
    solve_on_curve,
)

_ROWS = 1024  # bootstrap replicates turned into curves at once (bounds the [rows, columns] arrays)
_PER_MODEL = 5  # per-k blocks of a model's derived columns: pass, pass_posterior, frontier, gap, excess


class _Layout:
    """Column positions of the per-problem matrix X [Q, ncols] and of the derived statistics."""

    def __init__(self, n_lams: int, n_ks: int, n_models: int):
        self.L, self.nk, self.M = n_lams, n_ks, n_models
        self.full = n_lams * n_ks            # F(k, lam) contributions, [L, nk] flattened
        self.reach = self.full + n_lams      # then F_K(K, lam) [L], C_K, C+_K, base posterior at 1, K
        self.scalars = self.reach + 4
        self.model0 = self.scalars           # per model: unbiased pass@k [nk], posterior pass@k [nk]
        self.ncols = self.model0 + n_models * 2 * n_ks
        self.bands = 3 * n_lams + 4          # derived: F(1, .), F(K, .), F_K(K, .), C_K, C+_K, base
        self.nout = self.bands + n_models * (1 + _PER_MODEL * n_ks)

    def model_out(self, m: int) -> int:
        return self.bands + m * (1 + _PER_MODEL * self.nk)


def _derive(R: np.ndarray, lay: _Layout, lams: np.ndarray, i1: int, iK: int) -> np.ndarray:
    """Curves, lam*, gaps and excesses from pooled columns R [r, ncols] (one row per replicate)."""
    r, L, nk = R.shape[0], lay.L, lay.nk
    F = R[:, :lay.full].reshape(r, L, nk)
    ceil_cert = R[:, lay.reach + 1]
    out = np.empty((r, lay.nout))
    out[:, :L] = F[:, :, i1]
    out[:, L:2 * L] = F[:, :, iK]
    out[:, 2 * L:lay.bands] = R[:, lay.full:lay.scalars]  # F_K(K, .), C_K, C+_K, base at 1 and K
    for m in range(lay.M):
        c = lay.model0 + 2 * nk * m
        unb, post = R[:, c:c + nk], R[:, c + nk:c + 2 * nk]
        lam, f_at = solve_on_curve(F[:, :, i1], post[:, i1], lams, F)
        o = lay.model_out(m)
        out[:, o] = lam
        blocks = (unb, post, f_at, post - f_at, unb - ceil_cert[:, None])
        for b, v in enumerate(blocks):
            out[:, o + 1 + b * nk:o + 1 + (b + 1) * nk] = v
    return out


def _interval(est, lo, hi) -> dict:
    return {"estimate": float(est), "lo": float(lo), "hi": float(hi)}


def _band(est, lo, hi) -> dict:
    return {"estimate": [float(v) for v in est], "lo": [float(v) for v in lo], "hi": [float(v) for v in hi]}


def _first_k(reps: np.ndarray, ks: np.ndarray, alpha: float) -> int | None:
    """Smallest k whose lower bound (level 1 - alpha/m over the m columns) exceeds 0; None if none."""
    if ks.size == 0:
        return None
    lo, _ = percentile_interval(reps, alpha / ks.size)
    above = np.flatnonzero(np.asarray(lo) > 0)
    return int(ks[above[0]]) if above.size else None


def _model_entry(name, m, lay, est, lo, hi, reps, ks, valid, budget, alpha) -> dict:
    o, nk = lay.model_out(m), lay.nk
    i1, iK = int(np.searchsorted(ks, 1)), int(np.searchsorted(ks, budget))

    def blk(b, j):
        s = o + 1 + b * nk + j
        return _interval(est[s], lo[s], hi[s])

    by_k = []
    for j, k in enumerate(ks):
        ok = bool(valid[j])
        by_k.append({"k": int(k), "pass": blk(0, j) if ok else None, "pass_posterior": blk(1, j),
                     "frontier": float(est[o + 1 + 2 * nk + j]), "gap": blk(3, j),
                     "excess": blk(4, j) if ok else None})
    gap_cols = np.array([o + 1 + 3 * nk + j for j in range(nk) if ks[j] > 1])
    exc = [j for j in range(nk) if valid[j] and ks[j] <= budget]
    return {
        "name": str(name),
        "pass1": blk(0, i1), "passK": blk(0, iK) if valid[iK] else None,
        "point": {"pass1": blk(1, i1), "passK": blk(1, iK)},
        "lambda_star": _interval(est[o], lo[o], hi[o]),
        "by_k": by_k,
        "first_k_above_frontier": _first_k(reps[:, gap_cols], ks[ks > 1], alpha) if gap_cols.size else None,
        "first_k_above_ceiling": _first_k(reps[:, [o + 1 + 4 * nk + j for j in exc]], ks[exc], alpha),
    }


def _columns(c0, n0, tuned, budget, zeta, ks, alpha, lams):
    """Per-problem matrix X [Q, ncols] (layout: `_Layout`), the contributions and per-model validity."""
    G = frontier_contributions(c0, n0, ks, budget, zeta, lams)
    q, L, nk = c0.size, G.lams.size, ks.size
    lay = _Layout(L, nk, len(tuned))
    X = np.empty((q, lay.ncols))
    X[:, :lay.full] = G.full.reshape(q, -1)
    X[:, lay.full:lay.reach] = G.reachable[:, :, int(np.searchsorted(ks, budget))]
    X[:, lay.reach] = G.ceiling
    X[:, lay.reach + 1] = clopper_pearson(c0, n0, alpha)[1] >= G.eps_budget
    X[:, lay.reach + 2:lay.scalars] = posterior_passk(c0, n0, [1, budget])
    valid = []
    for m, (_, c1, n1) in enumerate(tuned):
        c = lay.model0 + 2 * nk * m
        ok = ks <= int(np.min(n1))
        X[:, c:c + nk] = 0.0
        X[:, c:c + nk][:, ok] = passk_at(c1, n1, ks[ok])
        X[:, c + nk:c + 2 * nk] = posterior_passk(c1, n1, ks)
        valid.append(ok)
    return G, lay, X, valid


def frontier_block(c0, n0, tuned, budget: int, zeta: float, ks, boot: PairedBootstrap,
                   alpha: float, lams=None) -> dict:
    """The elicitation-frontier summary of ``tuned`` = [(name, c1, n1), ...] against base (c0, n0).

    Every field's formula is in the module docstring (DESIGN.md section 4). All models share
    ``boot`` (paired over problems), so differences between models are valid paired contrasts.
    Infinite values (lam = +-inf at the grid's ends) stay float infinities; the summary writer
    turns them into "inf"/"-inf".
    """
    c0, n0 = np.asarray(c0, dtype=np.int64), np.asarray(n0, dtype=np.int64)
    q = c0.size
    if boot.n_items != q:
        raise ValueError(f"the bootstrap resamples {boot.n_items} problems, the base has {q}")
    tuned = [(str(nm), np.asarray(c1, dtype=np.int64), np.asarray(n1, dtype=np.int64)) for nm, c1, n1 in tuned]
    for nm, c1, n1 in tuned:
        if c1.shape != (q,) or n1.shape != (q,):
            raise ValueError(f"tuned model {nm!r} needs one count per base problem ({q}), got {c1.shape}")
    if len({nm for nm, _, _ in tuned}) != len(tuned):
        raise ValueError("tuned model names must be distinct")
    budget = int(budget)
    ks = np.unique(np.concatenate([np.asarray(ks, dtype=np.int64).ravel(), [1, budget]]))
    G, lay, X, valid = _columns(c0, n0, tuned, budget, zeta, ks, alpha, lams)
    i1, iK = int(np.searchsorted(ks, 1)), int(np.searchsorted(ks, budget))
    est = _derive(X.mean(axis=0)[None, :], lay, G.lams, i1, iK)[0]
    inv_q = 1.0 / q

    def chunk(w: np.ndarray) -> np.ndarray:
        parts = [_derive((w[s:s + _ROWS].astype(np.float64) @ X) * inv_q, lay, G.lams, i1, iK)
                 for s in range(0, w.shape[0], _ROWS)]
        return np.concatenate(parts, axis=0)

    reps = boot.map(chunk)
    lo, hi = percentile_interval(reps, alpha)
    L = lay.L
    sl = {"pass1": slice(0, L), "passK": slice(L, 2 * L), "reach": slice(2 * L, 3 * L)}
    b = 3 * L
    return {
        "budget": budget, "zeta": float(zeta), "eps_budget": G.eps_budget, "alpha": float(alpha),
        "nodes": G.nodes, "n_problems": q, "n_replicates": boot.n_replicates,
        "ks": [int(k) for k in ks], "lams": [float(v) for v in G.lams],
        "frontier": {k: _band(est[s], lo[s], hi[s]) for k, s in sl.items() if k != "reach"},
        "reachable": {"passK": _band(est[sl["reach"]], lo[sl["reach"]], hi[sl["reach"]])},
        "ceiling": _interval(est[b], lo[b], hi[b]),
        "ceiling_certified": _interval(est[b + 1], lo[b + 1], hi[b + 1]),
        "base": {"pass1": _interval(est[b + 2], lo[b + 2], hi[b + 2]),
                 "passK": _interval(est[b + 3], lo[b + 3], hi[b + 3])},
        "models": [_model_entry(nm, m, lay, est, lo, hi, reps, ks, valid[m], budget, alpha)
                   for m, (nm, _, _) in enumerate(tuned)],
    }
