"""The KL account of a tuned model against its base (DESIGN.md section 4), from scored samples.

Inputs: the tuned model's samples y ~ pi1 (with log pi1(y) recorded while sampling) scored by
teacher forcing under the base (log pi0(y), singular tokens, optionally the exact per-position
full-vocabulary KL), and the base's own samples (log pi0 recorded while sampling).

Per problem i, over its tuned samples j (log-ratio l_j = log pi0(y_j) - log pi1(y_j), sequence
sums under the *decoding* distributions, the ones the user samples):
- k1_i = mean_j(-l_j), k3_i = mean_j((r_j - 1) - l_j) with r_j = exp(l_j)  (Schulman 2020,
  "Approximating KL divergence"); both unbiased for KL(pi1_D || pi0_D); standard errors
  std/sqrt(m). A sample with a singular token (probability 0 under pi0's decoding distribution)
  has l = -inf and makes the problem's KL infinite: the tuned model left the base's support.
- kl_full_i = mean_j sum_t KL(pi1(.|y_<t) || pi0(.|y_<t)): exact full-vocabulary KL of the *raw*
  next-token distributions along the sampled prefixes (lowest variance). It equals the sequence
  KL of the raw models when decoding is raw (T = 1, no truncation).
- kl_min_i = kl(p1 || p0), the Bernoulli KL of the Jeffreys-smoothed success rates
  (c + 1/2)/(n + 1): by data processing no policy moves success from p0 to p1 with less KL. As a
  plug-in of estimated rates it is noisy and biased upward (kl is convex).
- kl_min_lo_i: lower confidence bound of kl(p1 || p0) at level 1 - alpha, the minimum of kl over
  the Clopper-Pearson rectangle of (p1, p0) (each interval at 1 - alpha/2;
  `stats.bernoulli_kl_lower_bound`).
- efficiency_i = kl_min_i / KL_obs_i (KL_obs: kl_full when scored with --kl, else k1, with its SE),
  the share of the shift spent on success (NaN when KL_obs <= 0).
- dpi_pvalue_i: p-value of "true KL < kl(p1 || p0)", impossible for exact quantities (data
  processing): the smallest gamma at which KL_obs + z_{1-gamma/2} se < the CP-rectangle bound at
  level gamma/2 (union bound; `stats.dpi_pvalues`); 1 when never, 1 without a finite SE or with an
  infinite KL_obs, NaN when KL_obs is missing.
  dpi_qvalue_i: Benjamini-Hochberg (1995) adjusted p-value over the problems with a p-value;
  dpi_violation_i = dpi_qvalue_i <= alpha (summary: dpi_fdr = alpha, dpi_violations = their
  count, dpi_violation_ids = the first 50): an estimator or scoring fault to look at. With exact
  tilt log-ratios (no fault) it flags none of 500 problems, where the former rule
  KL_obs + 2 se < kl_min flagged ~7%.
- surprisal: mean per-token NLL under pi0 (raw) of tuned outputs and of base outputs (Yue et al.
  2025, "Does RL really incentivize reasoning capacity beyond the base model?"): -logp_raw / n_policy
  per sample, n_policy = its policy tokens (`store.policy_tokens`: all of them without environment
  turns). With environment turns every log-prob above is a sum over policy tokens only (the samples
  record 0.0 on environment tokens, the scores are masked in `scale.jobs.policy_score`), so the
  account is a statement about the policy given the environment's replies.
Aggregates: means over problems with paired-bootstrap percentile intervals (problems with an
infinite value are counted and left out of the mean, and the summary says how many).
efficiency_aggregate = sum_i kl_min_i / sum_i KL_obs_i over the problems with a finite KL_obs, with
the paired-bootstrap percentile interval [efficiency_lo, efficiency_hi] of the same ratio of
weighted sums (sum_i w_bi kl_min_i / sum_i w_bi KL_obs_i per replicate b). Above 1 it comes with
`efficiency_note`: the plug-in kl_min is biased upward, so values a little above 1 are estimation
error unless problems are flagged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.stats import (
    PairedBootstrap,
    bernoulli_kl,
    bernoulli_kl_lower_bound,
    dpi_violations,
    jeffreys,
    percentile_interval,
)
from supportscope.store.policy_tokens import policy_token_counts


def _index(problem_ids: np.ndarray, column) -> np.ndarray:
    pos = {p: i for i, p in enumerate(problem_ids)}
    return np.fromiter((pos.get(p, -1) for p in column.to_pylist()), np.int64, len(column))


def _group_mean_se(idx: np.ndarray, x: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group mean, standard error std(ddof=1)/sqrt(m) and count m; +inf means stay +inf."""
    m = np.bincount(idx, minlength=q).astype(float)
    inf = np.bincount(idx, weights=np.isinf(x).astype(float), minlength=q) > 0
    xf = np.where(np.isfinite(x), x, 0.0)
    s1 = np.bincount(idx, weights=xf, minlength=q)
    s2 = np.bincount(idx, weights=xf * xf, minlength=q)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / m
        var = np.maximum(s2 - m * mean**2, 0.0) / (m - 1)
        se = np.sqrt(var / m)
    mean = np.where(inf, np.inf, mean)
    se = np.where(inf, np.inf, np.where(m >= 2, se, np.nan))
    return np.where(m > 0, mean, np.nan), se, m


def _mean_ci(values: np.ndarray, boot: PairedBootstrap, alpha: float) -> dict:
    finite = np.isfinite(values)
    out = {"mean": None, "lo": None, "hi": None, "n_infinite": int(np.isinf(values).sum()),
           "n_missing": int(np.isnan(values).sum())}
    if finite.all() and len(values):
        reps = boot.means(values)
        lo, hi = percentile_interval(reps, alpha)
        out.update(mean=float(values.mean()), lo=float(lo), hi=float(hi))
    elif finite.any():
        v = values[finite]
        sub = PairedBootstrap(len(v), boot.n_replicates, boot.seed)
        lo, hi = percentile_interval(sub.means(v), alpha)
        out.update(mean=float(v.mean()), lo=float(lo), hi=float(hi))
    return out


def _efficiency_aggregate(kl_min: np.ndarray, obs: np.ndarray, boot: PairedBootstrap, alpha: float) -> dict:
    """sum kl_min / sum KL_obs over problems with finite KL_obs, with a paired-bootstrap interval."""
    fin = np.isfinite(obs) & np.isfinite(kl_min)
    out = {"efficiency_aggregate": None, "efficiency_lo": None, "efficiency_hi": None}
    num, den = float(kl_min[fin].sum()), float(obs[fin].sum())
    if not (fin.any() and den > 0):
        return out
    a, b = np.where(fin, kl_min, 0.0), np.where(fin, obs, 0.0)

    def ratio(w: np.ndarray) -> np.ndarray:
        w = w.astype(np.float64)
        n, d = w @ a, w @ b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, n / d, np.inf)  # a replicate with sum KL_obs <= 0: unbounded

    lo, hi = percentile_interval(boot.map(ratio), alpha)
    out.update(efficiency_aggregate=num / den, efficiency_lo=float(lo), efficiency_hi=float(hi))
    if num / den > 1:
        out["efficiency_note"] = (
            "efficiency above 1: kl_min = kl(p1||p0) is a plug-in of estimated success rates, biased upward "
            "(kl is convex) and noisy, and the observed KL has its own sampling error, so a value above 1 is "
            "within estimation error unless problems are flagged as data-processing violations.")
    return out


def _histogram(x: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.histogram(x[np.isfinite(x)], bins=edges)[0].tolist()


KL_SAMPLE_COLUMNS = ["problem_id", "sample_idx", "logp_decoding", "logp_raw", "n_tokens", "policy_mask"]
KL_SCORE_COLUMNS = ["problem_id", "generator", "sample_idx", "scorer", "logp_decoding", "logp_raw",
                    "n_singular_tokens", "kl_full"]  #: what :func:`kl_account` reads (a run store is read for these only)


def kl_account(problem_ids: np.ndarray, c0, n0, c1, n1, samples_base: pa.Table, samples_tuned: pa.Table,
               scores: pa.Table, base: str, tuned: str, boot: PairedBootstrap, alpha: float,
               decoding_is_raw: bool) -> tuple[dict, dict] | None:
    """(summary, per-problem columns), or None when the tuned samples were not scored by the base."""
    sc = scores.filter(pc.and_(pc.equal(scores["generator"], tuned), pc.equal(scores["scorer"], base)))
    sc = sc.select(["problem_id", "sample_idx", "logp_decoding", "logp_raw", "n_singular_tokens", "kl_full"])
    if sc.num_rows == 0:
        return None
    q = len(problem_ids)
    st = samples_tuned.select(["problem_id", "sample_idx", "logp_decoding", "logp_raw"]).append_column(
        "n_policy", pa.array(policy_token_counts(samples_tuned)))
    joined = sc.join(st, ["problem_id", "sample_idx"], right_suffix="_tuned", join_type="inner")
    idx = _index(problem_ids, joined["problem_id"])
    keep = idx >= 0
    idx = idx[keep]

    def col(name):
        return joined[name].to_numpy(zero_copy_only=False).astype(float)[keep]

    l_dec = col("logp_decoding") - col("logp_decoding_tuned")  # log pi0_D(y) - log pi1_D(y)
    l_dec = np.where(col("n_singular_tokens") > 0, -np.inf, l_dec)
    k1, k1_se, m = _group_mean_se(idx, -l_dec, q)
    with np.errstate(over="ignore"):
        k3_terms = np.where(np.isinf(l_dec), np.inf, np.expm1(l_dec) - l_dec)
    k3, k3_se, _ = _group_mean_se(idx, k3_terms, q)
    kl_full_raw = joined["kl_full"].to_numpy(zero_copy_only=False)
    has_full = bool(np.isfinite(np.asarray(kl_full_raw, dtype=float)[keep]).any())
    if has_full:
        kl_full, kl_full_se, _ = _group_mean_se(idx, np.asarray(kl_full_raw, dtype=float)[keep], q)
    else:
        kl_full = kl_full_se = np.full(q, np.nan)
    singular = np.bincount(idx, weights=col("n_singular_tokens"), minlength=q)
    singular_samples = np.bincount(idx, weights=(col("n_singular_tokens") > 0).astype(float), minlength=q)

    n_tok = np.maximum(col("n_policy"), 1)
    surpr_t = -col("logp_raw") / n_tok  # base (raw) NLL per token of tuned outputs
    s_t, _, _ = _group_mean_se(idx, surpr_t, q)
    sb = samples_base
    ib = _index(problem_ids, sb["problem_id"])
    kb = ib >= 0
    surpr_b = (-sb["logp_raw"].to_numpy().astype(float) / np.maximum(policy_token_counts(sb), 1))[kb]
    s_b, _, _ = _group_mean_se(ib[kb], surpr_b, q)

    kl_min = bernoulli_kl(jeffreys(c1, n1), jeffreys(c0, n0))
    obs, obs_se = (kl_full, kl_full_se) if has_full else (k1, k1_se)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(obs > 0, kl_min / obs, np.nan)
    kl_min_lo = np.asarray(bernoulli_kl_lower_bound(c0, n0, c1, n1, alpha), dtype=float)
    dpi_p, dpi_q, dpi = dpi_violations(obs, obs_se, c0, n0, c1, n1, alpha)

    per_problem = {
        "kl_k1": k1, "kl_k1_se": k1_se, "kl_k3": k3, "kl_k3_se": k3_se,
        "kl_full": kl_full, "kl_full_se": kl_full_se, "kl_min": kl_min, "kl_min_lo": kl_min_lo,
        "kl_efficiency": eff, "dpi_violation": dpi, "dpi_pvalue": dpi_p, "dpi_qvalue": dpi_q,
        "singular_tokens": singular.astype(np.int64),
        "singular_samples": singular_samples.astype(np.int64), "n_scored": m.astype(np.int64),
        "surprisal_tuned_outputs": s_t, "surprisal_base_outputs": s_b,
    }
    both = np.isfinite(surpr_t).any() and np.isfinite(surpr_b).any()
    hi_edge = float(np.nanpercentile(np.concatenate([surpr_t, surpr_b]), 99.5)) if both else 1.0
    edges = np.linspace(0.0, max(hi_edge, 1e-6), 41)
    eff_agg = _efficiency_aggregate(kl_min, obs, boot, alpha)
    summary = {
        "generator": tuned, "scorer": base, "samples_scored": int(keep.sum()),
        "decoding_is_raw": decoding_is_raw,
        "kl_observed": "kl_full" if has_full else "k1",
        "k1": _mean_ci(k1, boot, alpha), "k3": _mean_ci(k3, boot, alpha),
        "kl_full": _mean_ci(kl_full, boot, alpha) if has_full else None,
        "kl_min": _mean_ci(kl_min, boot, alpha),
        **eff_agg,
        "efficiency_median": float(np.nanmedian(eff)) if np.isfinite(eff).any() else None,
        "dpi_fdr": float(alpha),
        "dpi_violations": int(dpi.sum()),
        "dpi_violation_ids": problem_ids[dpi][:50].tolist(),
        "singular_tokens": int(singular.sum()),
        "samples_with_singular_tokens": int(singular_samples.sum()),
        "problems_left_support": int((singular > 0).sum()),
        "surprisal_tuned_outputs": _mean_ci(s_t, boot, alpha),
        "surprisal_base_outputs": _mean_ci(s_b, boot, alpha),
        "surprisal_histogram": {"edges": edges.tolist(), "tuned_outputs": _histogram(surpr_t, edges),
                                "base_outputs": _histogram(surpr_b, edges)},
    }
    if not decoding_is_raw:
        summary["note"] = ("k1/k3 compare the decoding distributions (what is sampled); kl_full compares "
                           "the raw distributions along the sampled prefixes, so the two differ when "
                           "decoding truncates or rescales.")
    return summary, per_problem
