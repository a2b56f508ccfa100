"""The single-beta Gibbs account of the tuned model (DESIGN.md section 4).

If post-training were the free-energy minimiser with a binary reward, every problem's log-odds
would shift by the same lambda = 1/beta: logit p1 = logit p0 + lambda, and p0 = 0 stays 0.
Every number of the summary, with its formula (a_i = logit((c0_i + 1/2)/(n0_i + 1)), Jeffreys):

- fitted_on: |F|, F = {i : c0_i > 0}. Problems with c0 = 0 are left out of every fit and test on
  purpose: a tilt cannot move them, their base log-odds are not identified (the smoothed logit
  is set by the prior), and fitting them lets a few created problems drag lambda up and make
  the unchanged bulk look "anti-tilted".
- lambda: maximum likelihood on F (`stats.fit_global_tilt`): c1_i ~ Bin(n1_i, sigmoid(a_i + lambda)).
  beta = 1/lambda (None when lambda <= 0: no positive temperature gives that tilt).
  lambda_lo, lambda_hi (and beta_hi = 1/lambda_lo, beta_lo = 1/lambda_hi): percentile interval
  of the paired bootstrap over problems (refit on each replicate's F); it carries the base's
  sampling noise, which the Wald 1/sqrt(I) error does not (76% coverage measured), so no
  standard error is reported.
- fit: does one tilt fit? (`stats.tilt_gof`) deviance
  D = 2 sum_{i in F} [c1 ln(c1/(n1 s_i)) + (n1 - c1) ln((n1 - c1)/(n1 (1 - s_i)))],
  s_i = sigmoid(a_i + lambda), df = |F| - 1, dispersion = D/df; p_value by parametric bootstrap
  of the whole procedure (base and tuned counts redrawn from the fitted tilt with the Jeffreys
  base rates, lambda refitted, D*/df* compared with D/df): p = (1 + #{D*/df* >= D/df})/(1 + B).
  n_boot = B = min(1000, max(200, the config's bootstrap replicates)), seeded from the paired
  bootstrap's seed. one_tilt_fits = p_value >= alpha: only then may a report say "one tilt
  explains" the tuned rates.
- r2: 1 - sum_F (l1 - l0 - lambda)^2 / sum_F (l1 - mean_F l1)^2 with l = logit of Jeffreys rates
  (`stats.tilt_r2`): the share of the tuned log-odds' variance one tilt of the base accounts
  for; negative when a constant predicts them better. r2_lo, r2_hi: paired-bootstrap percentile
  interval (weighted R^2 with the replicate's lambda).
- flags: posterior-predictive p-values (`stats.tilt_residuals`), Benjamini-Hochberg at level
  alpha: over_tilt (far above the tilt: candidate creation) and anti_tilt (far below: squeezed
  or lost), counted over all problems.
- gain_on_over_tilt: the over-tilted problems' share of the gross positive gain,
  sum_{over} max(g_i, 0) / sum_i max(g_i, 0), g_i = c1_i/n1_i - c0_i/n0_i; in [0, 1], None when
  no problem gains.
The share of the mean gain "explained" by the fitted tilt is not reported: the ML score
equation makes it ~1 by construction (DESIGN.md section 4).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

from supportscope.analysis.label_summary import gross_share
from supportscope.stats import (PairedBootstrap, fit_global_tilt, implied_tilt, percentile_interval,
                                tilt_gof, tilt_r2, tilt_residuals)

#: Parametric-bootstrap replicates of the goodness-of-fit test: the config's bootstrap count,
#: clipped to [GOF_MIN_REPLICATES, GOF_MAX_REPLICATES] (about 0.2 s for 500 problems at 1000).
GOF_MIN_REPLICATES = 200
GOF_MAX_REPLICATES = 1000
_GOF_STREAM = 0x676F66  # "gof": a seed stream apart from the paired bootstrap's weights


def _beta(lam: float) -> float | None:
    return None if lam <= 0 else float(1.0 / lam)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def gibbs_account(c0, n0, c1, n1, boot: PairedBootstrap, alpha: float) -> tuple[dict, dict]:
    """(summary dict, per-problem columns)."""
    fit = c0 > 0
    if not fit.any():
        return _no_fit(len(c0))
    cf0, nf0, cf1, nf1 = c0[fit], n0[fit], c1[fit], n1[fit]
    n_gof = int(np.clip(boot.n_replicates, GOF_MIN_REPLICATES, GOF_MAX_REPLICATES))
    seed = int(np.random.SeedSequence([boot.seed, _GOF_STREAM]).generate_state(1)[0])
    gof = tilt_gof(cf0, nf0, cf1, nf1, n_boot=n_gof, seed=seed)
    lam = gof.lam

    def chunk(w: np.ndarray) -> np.ndarray:
        wf = w[:, fit]
        # NaN: the replicate drew no fitted problem
        lam_b = fit_global_tilt(cf0, nf0, cf1, nf1, weights=wf, start=lam)[0]
        r2_b = tilt_r2(cf0, nf0, cf1, nf1, lam_b, weights=wf)
        return np.stack([lam_b, r2_b], axis=1)

    reps = boot.map(chunk)
    lam_ok = ~np.isnan(reps[:, 0])
    lam_lo, lam_hi = percentile_interval(reps[lam_ok, 0], alpha)
    r2_ok = np.isfinite(reps[:, 1])
    r2_lo, r2_hi = percentile_interval(reps[r2_ok, 1], alpha) if r2_ok.any() else (np.nan, np.nan)

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
    p_value = _finite(gof.p_value)
    summary = {
        "lambda": lam, "lambda_lo": float(lam_lo), "lambda_hi": float(lam_hi),
        "beta": _beta(lam), "beta_lo": _beta(float(lam_hi)), "beta_hi": _beta(float(lam_lo)),
        "fit": {"statistic": "deviance", "deviance": _finite(gof.deviance), "df": gof.df,
                "dispersion": _finite(gof.dispersion), "p_value": p_value, "n_boot": gof.n_boot,
                "one_tilt_fits": None if p_value is None else bool(p_value >= alpha)},
        "r2": _finite(gof.r2), "r2_lo": _finite(r2_lo), "r2_hi": _finite(r2_hi),
        "over_tilt": int((flag == "over-tilt").sum()),
        "gain_on_over_tilt": gross_share(c1 / n1 - c0 / n0, flag == "over-tilt"),
        "fitted_on": int(fit.sum()),
        "anti_tilt": int((flag == "anti-tilt").sum()),
    }
    return summary, per_problem


def _no_fit(q: int) -> tuple[dict, dict]:
    """The base never succeeds anywhere: no tilt is identified, every gain is unexplained."""
    nan = np.full(q, np.nan)
    summary = {k: None for k in ("lambda", "lambda_lo", "lambda_hi", "beta", "beta_lo", "beta_hi",
                                 "r2", "r2_lo", "r2_hi", "gain_on_over_tilt")}
    summary.update(fit={"statistic": "deviance", "deviance": None, "df": 0, "dispersion": None,
                        "p_value": None, "n_boot": 0, "one_tilt_fits": None},
                   over_tilt=0, anti_tilt=0, fitted_on=0)
    cols = {"implied_tilt": nan, "tilt_pred_p_tuned": nan, "tilt_p_over": nan, "tilt_p_under": nan,
            "tilt_qvalue": nan, "tilt_flag": np.full(q, "", dtype=object)}
    return summary, cols
