"""The single-beta Gibbs account of the tuned model (DESIGN.md section 4).

If post-training were the free-energy minimiser with a binary reward, every problem's log-odds
would shift by the same lambda = 1/beta: logit p1 = logit p0 + lambda, and p0 = 0 stays 0.

- lambda: maximum likelihood (`stats.fit_global_tilt`) over the problems the base solved at
  least once (c0 > 0). Problems with c0 = 0 are left out of the fit on purpose: a tilt cannot
  move them, their base log-odds are not identified (the smoothed logit is set by the prior),
  and fitting them lets a few created problems drag lambda up and make the unchanged bulk look
  "anti-tilted". (A fit over all problems matches the total success exactly, so the share
  below would be ~1 by construction, even for pure creation; a deviation from DESIGN.md's
  "maximum likelihood of the tuned counts", made so that the share is informative.)
- share of gain explained: sum_i (tilt(c0_i/n0_i, lambda) - c0_i/n0_i) / sum_i (p1_i - p0_i)
  over all problems (`stats.share_of_gain`): the part of the mean gain that one reweighting,
  which cannot create, accounts for.
- flags: posterior-predictive p-values (`stats.tilt_residuals`), Benjamini-Hochberg at level
  alpha: over-tilt (far above the tilt: candidate creation) and anti-tilt (far below: squeezed
  or lost). `gain_on_over_tilt` is the share of the mean gain carried by over-tilted problems.
All intervals: percentile intervals of the paired bootstrap over problems.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

from supportscope.stats import (PairedBootstrap, fit_global_tilt, implied_tilt, percentile_interval,
                                share_of_gain, tilt_residuals)


def _beta(lam: float) -> float | None:
    return None if lam <= 0 else float(1.0 / lam)


def gibbs_account(c0, n0, c1, n1, boot: PairedBootstrap, alpha: float) -> tuple[dict, dict]:
    """(summary dict, per-problem columns)."""
    fit = c0 > 0
    if not fit.any():
        return _no_fit(len(c0))
    lam, se = fit_global_tilt(c0[fit], n0[fit], c1[fit], n1[fit])
    lam, se = float(lam), float(se)

    def chunk(w: np.ndarray) -> np.ndarray:
        lam_b = fit_global_tilt(c0[fit], n0[fit], c1[fit], n1[fit], weights=w[:, fit])[0]
        undefined = np.isnan(lam_b)  # a replicate that resampled no fitted problem
        share_b = share_of_gain(c0, n0, c1, n1, np.where(undefined, 0.0, lam_b), weights=w)
        return np.stack([lam_b, np.where(undefined, np.nan, share_b)], axis=1)

    reps = boot.map(chunk)
    lam_ok = ~np.isnan(reps[:, 0])
    lam_lo, lam_hi = percentile_interval(reps[lam_ok, 0], alpha)
    share = float(share_of_gain(c0, n0, c1, n1, lam))
    share_reps = reps[:, 1]
    ok = np.isfinite(share_reps)
    s_lo, s_hi = percentile_interval(share_reps[ok], alpha) if ok.mean() > 0.5 else (np.nan, np.nan)

    pred, p_over, p_under = tilt_residuals(c0, n0, c1, n1, lam)
    p_two = np.minimum(1.0, 2.0 * np.minimum(p_over, p_under))
    q = false_discovery_control(p_two)
    flag = np.where(q <= alpha, np.where(p_over < p_under, "over-tilt", "anti-tilt"), "")
    per_problem = {
        "implied_tilt": implied_tilt(c0, n0, c1, n1),
        "tilt_pred_p_tuned": pred,
        "tilt_p_over": p_over,
        "tilt_p_under": p_under,
        "tilt_qvalue": q,
        "tilt_flag": flag.astype(object),
    }
    summary = {
        "lambda": lam, "lambda_se": se, "lambda_lo": float(lam_lo), "lambda_hi": float(lam_hi),
        "beta": _beta(lam), "beta_lo": _beta(float(lam_hi)), "beta_hi": _beta(float(lam_lo)),
        "share_of_gain_explained": share if np.isfinite(share) else None,
        "share_lo": float(s_lo) if np.isfinite(s_lo) else None,
        "share_hi": float(s_hi) if np.isfinite(s_hi) else None,
        "share_replicates_defined": float(ok.mean()),
        "over_tilt": int((flag == "over-tilt").sum()),
        "gain_on_over_tilt": _gain_share(c0 / n0, c1 / n1, flag == "over-tilt"),
        "fitted_on": int(fit.sum()),
        "anti_tilt": int((flag == "anti-tilt").sum()),
    }
    return summary, per_problem


def _gain_share(p0: np.ndarray, p1: np.ndarray, mask: np.ndarray) -> float | None:
    total = float((p1 - p0).sum())
    return float((p1 - p0)[mask].sum()) / total if total > 0 else None


def _no_fit(q: int) -> tuple[dict, dict]:
    """The base never succeeds anywhere: no tilt is identified, every gain is unexplained."""
    nan = np.full(q, np.nan)
    summary = {k: None for k in ("lambda", "lambda_se", "lambda_lo", "lambda_hi", "beta", "beta_lo",
                                 "beta_hi", "share_of_gain_explained", "share_lo", "share_hi",
                                 "gain_on_over_tilt")}
    summary.update(share_replicates_defined=0.0, over_tilt=0, anti_tilt=0, fitted_on=0)
    cols = {"implied_tilt": nan, "tilt_pred_p_tuned": nan, "tilt_p_over": nan, "tilt_p_under": nan,
            "tilt_qvalue": nan, "tilt_flag": np.full(q, "", dtype=object)}
    return summary, cols
