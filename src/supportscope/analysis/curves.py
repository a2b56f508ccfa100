"""Pooled pass@k curves of both models with paired bootstrap bands, and the pass@k crossover.

pooled pass@k(k) = (1/Q) sum_i [1 - C(n_i - c_i, k) / C(n_i, k)]  (Chen et al. 2021), for
k = 1..n_min (pooling needs every problem to have n_i >= k). Bands: percentile intervals of
the paired bootstrap over problems (the same resampled problems for base, tuned and the
difference tuned - base).

Crossover: with d(k) = tuned(k) - base(k), the first k at which d has the opposite sign of d(1)
(d(1) > 0: "base overtakes tuned"; d(1) < 0: "tuned overtakes base"). Its interval is the
percentile interval of the same quantity over bootstrap replicates, using the sign of the
point estimate's d(1), rounded outwards to integers; a replicate with no crossover up to n_min
counts as +inf.
"""

from __future__ import annotations

import numpy as np

from supportscope.stats import PairedBootstrap, passk_at, passk_curves, percentile_interval

_FULL_GRID_MAX = 2048  # beyond this n_min the crossover is searched on the log grid only


def report_grid(n_min: int, points: int = 48) -> np.ndarray:
    """k values at which curves and bands are reported: powers of two, a log grid, and n_min."""
    pow2 = 2 ** np.arange(int(np.log2(n_min)) + 1)
    logg = np.unique(np.round(np.geomspace(1, n_min, points)).astype(np.int64))
    return np.unique(np.concatenate([pow2, logg, [n_min]])).astype(np.int64)


def _first_flip(d: np.ndarray, sign: float, ks: np.ndarray) -> np.ndarray:
    """First k (per row of d [B, K]) with sign(d) == -sign; +inf where none."""
    flipped = (d * sign) < 0
    any_flip = flipped.any(axis=-1)
    first = np.argmax(flipped, axis=-1)
    return np.where(any_flip, ks[first].astype(float), np.inf)


def pooled_curves(c0, n0, c1, n1, boot: PairedBootstrap, alpha: float) -> dict:
    """Point estimates and bands of base, tuned and tuned - base at the report grid, plus crossover."""
    n_min = int(min(n0.min(), n1.min()))
    grid = report_grid(n_min)
    full = n_min <= _FULL_GRID_MAX
    ks = np.arange(1, n_min + 1) if full else grid
    cb = passk_curves(c0, n0, kmax=n_min)[:, ks - 1]
    ct = passk_curves(c1, n1, kmax=n_min)[:, ks - 1]
    est_b, est_t = cb.mean(axis=0), ct.mean(axis=0)
    rep_b, rep_t = boot.means(cb), boot.means(ct)
    rep_d = rep_t - rep_b
    at = np.searchsorted(ks, grid)

    def band(est, rep):
        lo, hi = percentile_interval(rep[:, at], alpha)
        return {"estimate": est[at].tolist(), "lo": lo.tolist(), "hi": hi.tolist()}

    d = est_t - est_b
    sign = float(np.sign(d[0]))
    cross = None
    if sign != 0:
        point = float(_first_flip(d[None, :], sign, ks)[0])
        reps = _first_flip(rep_d, sign, ks)
        lo, hi = percentile_interval(reps, alpha)
        lo, hi = np.floor(lo), np.ceil(hi)  # k is an integer: round the interval outwards
        cross = {
            "direction": "base overtakes tuned" if sign > 0 else "tuned overtakes base",
            "k": None if np.isinf(point) else int(point),
            "lo": None if np.isinf(lo) else float(lo),
            "hi": None if np.isinf(hi) else float(hi),
            "share_of_replicates_with_crossover": float(np.isfinite(reps).mean()),
            "searched_up_to": n_min,
        }
    return {
        "k": grid.tolist(),
        "n_min": n_min,
        "base": band(est_b, rep_b),
        "tuned": band(est_t, rep_t),
        "difference": band(d, rep_d),
        "crossover": cross,
    }


def passk_table(c0, n0, c1, n1, ks, boot: PairedBootstrap, alpha: float) -> list[dict]:
    """pass@k of both models and their difference with intervals at the requested k values."""
    ks = np.asarray(ks, dtype=np.int64)
    cb, ct = passk_at(c0, n0, ks), passk_at(c1, n1, ks)
    rb, rt = boot.means(cb), boot.means(ct)
    rows = []
    for j, k in enumerate(ks):
        lb, hb = percentile_interval(rb[:, j], alpha)
        lt, ht = percentile_interval(rt[:, j], alpha)
        ld, hd = percentile_interval(rt[:, j] - rb[:, j], alpha)
        rows.append({
            "k": int(k),
            "base": float(cb[:, j].mean()), "base_lo": float(lb), "base_hi": float(hb),
            "tuned": float(ct[:, j].mean()), "tuned_lo": float(lt), "tuned_hi": float(ht),
            "difference": float(ct[:, j].mean() - cb[:, j].mean()), "difference_lo": float(ld),
            "difference_hi": float(hd),
        })
    return rows
