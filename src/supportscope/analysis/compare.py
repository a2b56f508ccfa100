"""compare(base, tuned, config): the per-problem table and the summary of one analysis.

Every number is computed by a function that documents its formula:
- p-hat and its Clopper-Pearson interval: `stats.bounds.clopper_pearson`
- regimes at (k_b, K) and samples needed to decide them: `stats.regimes.classify`
- labels: `analysis.labels.label_problems` (Fisher test: `stats.difference.two_proportion_pvalues`)
- pass@k curves, bands, crossover: `analysis.curves`
- created-vs-budget curve: `analysis.budget_curve`
- Venn sets and leash metrics: `stats.leash`
- Gibbs tilt fit: `analysis.gibbs_fit`
- verdict sentence: `analysis.verdict`
All intervals of aggregates come from one paired bootstrap over problems (same seed, same
resampled problems for every statistic).

Adaptively sampled runs (``anytime``; on by default when the run store's generators were sampled
with --adaptive): per-problem intervals, regimes and accessibility use the anytime-valid confidence
sequence (`stats.sequences`), the elicited/weakened test is `analysis.labels.cs_difference` instead
of Fisher's, the certifiable budget comes from the sequence's bound after zero successes, and the
default audit budget is the one the adaptive rounds decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from supportscope.analysis.budget_curve import created_vs_budget
from supportscope.analysis.config import AnalyzeConfig
from supportscope.analysis.curves import passk_table, pooled_curves
from supportscope.analysis.gibbs_fit import gibbs_account
from supportscope.analysis.inputs import ModelCounts, PairedCounts, pair_models
from supportscope.analysis.labels import (CREATED, LABELS, LOST, UNDETERMINED, created_from, cs_difference,
                                          label_problems)
from supportscope.analysis.verdict import verdict
from supportscope.records.errors import InputError
from supportscope.stats.sequences import max_certifiable_budget_anytime
from supportscope.stats import (PairedBootstrap, classify, eps, leash_metrics, max_certifiable_budget,
                                n_to_decide, percentile_interval, two_proportion_pvalues, venn)

REGIMES = ("basin", "tail", "barrier", "singular", "inaccessible", "undetermined")


@dataclass
class Comparison:
    per_problem: pa.Table
    summary: dict


def choose_budget(cfg: AnalyzeConfig, n_min_base: int, anytime: bool = False,
                  default: int | None = None) -> tuple[int, int, list[str]]:
    """(K, K_certifiable, notes). Default K: ``default`` (an adaptive run's budget) or the largest
    certifiable power of two, at least k_b."""
    k_cert = (max_certifiable_budget_anytime(n_min_base, cfg.zeta, cfg.alpha) if anytime
              else max_certifiable_budget(n_min_base, cfg.zeta, cfg.alpha))
    notes = []
    if cfg.budget is not None:
        K = cfg.budget
    elif default is not None:
        K = default
    else:
        K = max(k_cert, cfg.basin_budget)
    if K > k_cert:
        need = int(n_to_decide(np.array([0]), np.array([1]), eps(K, cfg.zeta), cfg.alpha)[0])
        notes.append(
            f"K={K} is larger than {n_min_base} samples can certify: a problem with no success is "
            f"only certified inaccessible at K <= {k_cert}; certifying K={K} needs n >= {need} "
            f"samples per problem. Labels that need the base inaccessible at K (created, unsolved) "
            f"cannot appear.")
    return K, k_cert, notes


def _check_ks(ks: list[int], pair: PairedCounts) -> None:
    for m in (pair.base, pair.tuned):
        i = int(np.argmin(m.n))
        if max(ks) > m.n[i]:
            path, line = m.where(i)
            raise InputError(
                path, f"pass@{max(ks)} asked for, but problem {m.problem_id[i]!r} of model {m.name!r} "
                f"has only n={m.n[i]} samples; pass@k is estimable only for k <= n",
                f"ask for k <= {m.n[i]} with --k, or sample more", line=line)


def _kl(run, pair: PairedCounts, boot: PairedBootstrap, cfg: AnalyzeConfig) -> tuple[dict | None, dict]:
    """KL account from a run store, when the tuned samples were scored by the base."""
    if run is None:
        return None, {}
    from supportscope.analysis.kl_account import kl_account
    from supportscope.models.config import DecodingConfig

    b, t = pair.base.name, pair.tuned.name
    if t not in run.models("samples") or b not in run.models("samples") or not run.models("scores"):
        return None, {}
    entry = run.entry(t)
    raw = DecodingConfig.from_dict(entry["decoding"]).is_raw if entry.get("decoding") else False
    out = kl_account(pair.problem_id, pair.c0, pair.n0, pair.c1, pair.n1, run.read("samples", b),
                     run.read("samples", t), run.read("scores"), b, t, boot, cfg.alpha, raw)
    return out if out is not None else (None, {})


def adaptive_settings(run, names: tuple[str, ...]) -> dict | None:
    """The adaptive sampling settings of the first of ``names`` sampled adaptively in ``run``, if any."""
    if run is None:
        return None
    entries = run.manifest.get("entries", {})
    for name in names:
        if isinstance(entries.get(name), dict) and entries[name].get("adaptive"):
            return entries[name]["adaptive"]
    return None


def compare(base: ModelCounts, tuned: ModelCounts, config: AnalyzeConfig | None = None,
            run=None) -> Comparison:
    """Analyse base vs tuned counts. See the module docstring for where each number comes from.

    `run`: a `records.RunStore` holding both models' samples; when it also holds the tuned
    samples scored by the base, the KL account (`analysis.kl_account`) is added.
    """
    cfg = config or AnalyzeConfig()
    cfg.validate()
    pair = pair_models(base, tuned, intersect=cfg.intersect)
    c0, n0, c1, n1 = pair.c0, pair.n0, pair.c1, pair.n1
    Q = len(c0)
    n_min = int(min(n0.min(), n1.min()))
    adaptive = adaptive_settings(run, (pair.base.name, pair.tuned.name))
    anytime = cfg.anytime if cfg.anytime is not None else adaptive is not None
    interval = "cs" if anytime else "cp"
    # an adaptive run stops a problem once decided: small n there is a decision, not a lack of samples,
    # so what the run can certify is set by the largest n it spent (max_n when anything stayed open)
    n_cert = int(n0.max()) if adaptive is not None else int(n0.min())
    K, k_cert, notes = choose_budget(cfg, n_cert, anytime, adaptive.get("budget") if adaptive else None)
    if adaptive is not None and not anytime:
        notes.append("The run was sampled adaptively but --no-anytime was given: Clopper-Pearson intervals and "
                     "Fisher tests are not valid when n depended on the results.")
    if anytime:
        notes.append("Anytime-valid mode: per-problem intervals are confidence sequences (beta-binomial mixture, "
                     "valid at data-dependent n) and elicited/weakened come from non-overlapping sequences; "
                     "pass@k estimates at data-dependent n are reported as they are (they are not unbiased "
                     "under optional stopping).")
    ks = list(cfg.k) if cfg.k else [2**i for i in range(int(np.log2(n_min)) + 1)]
    _check_ks(ks, pair)
    if pair.dropped_base_only or pair.dropped_tuned_only:
        notes.append(f"--intersect: dropped {pair.dropped_base_only} base-only and "
                     f"{pair.dropped_tuned_only} tuned-only problems; {Q} remain.")
    if len(set(n0.tolist()) | set(n1.tolist())) > 1:
        notes.append(f"n varies across problems ({n_min}..{int(max(n0.max(), n1.max()))}); pooled "
                     f"pass@k is reported for k <= {n_min}, the smallest n.")

    r0 = classify(c0, n0, K, cfg.basin_budget, cfg.zeta, cfg.alpha, interval=interval)
    r1 = classify(c1, n1, K, cfg.basin_budget, cfg.zeta, cfg.alpha, interval=interval)
    if anytime:
        up, down = cs_difference(c0, n0, c1, n1, cfg.alpha)
        p_gt = p_lt = np.full(Q, np.nan)
    else:
        up = down = None
        p_gt, p_lt = two_proportion_pvalues(c0, n0, c1, n1)
    label, possible = label_problems(r0.accessible, r1.accessible, p_gt, p_lt, cfg.alpha, up, down)
    t_K = eps(K, cfg.zeta)
    if anytime:  # samples that would decide the regime at K (the label needs both accessibilities)
        need0 = np.where(r0.accessible == -1, r0.n_needed, 0.0)
        need1 = np.where(r1.accessible == -1, r1.n_needed, 0.0)
    else:
        need0 = np.where(r0.accessible == -1, n_to_decide(c0, n0, t_K, cfg.alpha), 0.0)
        need1 = np.where(r1.accessible == -1, n_to_decide(c1, n1, t_K, cfg.alpha), 0.0)
    need_label = np.where(label == UNDETERMINED, np.maximum(need0, need1), 0.0)

    boot = PairedBootstrap(Q, cfg.bootstrap, cfg.seed)
    curves = pooled_curves(c0, n0, c1, n1, boot, cfg.alpha)
    table = passk_table(c0, n0, c1, n1, ks, boot, cfg.alpha)

    could_create = np.array([CREATED in s.split("|") for s in possible]) & (label == UNDETERMINED)
    gain = c1 / n1 - c0 / n0
    total_gain = float(gain.sum())
    onehot = np.stack([label == lab for lab in LABELS], axis=1)
    count_lo, count_hi = percentile_interval(np.round(boot.means(onehot.astype(float)) * Q, 6), cfg.alpha)
    labels = {}
    for j, lab in enumerate(LABELS):
        is_lab = onehot[:, j]
        labels[lab] = {"count": int(is_lab.sum()), "lo": float(count_lo[j]), "hi": float(count_hi[j]),
                       "share_of_gain": float(gain[is_lab].sum()) / total_gain if total_gain > 0 else None}
        if lab in (CREATED, LOST):
            labels[lab]["ids"] = pair.problem_id[is_lab][:100].tolist()
    labels[UNDETERMINED]["could_be_created"] = int(could_create.sum())
    cand_need = need_label[could_create]
    cand_need = cand_need[np.isfinite(cand_need)]

    transition = {a: {b: int(((r0.regime == a) & (r1.regime == b)).sum()) for b in REGIMES}
                  for a in REGIMES}

    v = venn(c0, c1)
    leash = leash_metrics(v.both, v.tuned_only, v.base_only)
    solved0, solved1 = (c0 > 0).astype(float), (c1 > 0).astype(float)

    def leash_chunk(w: np.ndarray) -> np.ndarray:
        P = w @ (solved0 * solved1)
        E = w @ ((1 - solved0) * solved1)
        S = w @ (solved0 * (1 - solved1))
        m = leash_metrics(P, E, S)
        return np.stack([m[x] for x in ("SRR", "NDR", "NSCR", "SDS")], axis=1)

    leash_reps = boot.map(leash_chunk)
    leash_out = {}
    for j, name in enumerate(("SRR", "NDR", "NSCR", "SDS")):
        lo, hi = percentile_interval(leash_reps[:, j], cfg.alpha)
        leash_out[name] = {"value": float(leash[name]), "lo": float(lo), "hi": float(hi)}

    budget_curve = created_vs_budget(c0, n0, c1, n1, p_gt, p_lt, cfg.zeta, cfg.alpha, boot, interval, up, down,
                                     k_cert=k_cert if anytime else None)
    gibbs, gibbs_cols = gibbs_account(c0, n0, c1, n1, boot, cfg.alpha)

    kl_summary, kl_cols = _kl(run, pair, boot, cfg)
    p0, p1 = c0 / n0, c1 / n1
    per_problem = pa.table({
        "problem_id": pa.array(pair.problem_id.tolist(), pa.string()),
        "c_base": c0, "n_base": n0, "p_base": p0, "p_base_lo": r0.lo, "p_base_hi": r0.hi,
        "regime_base": r0.regime.tolist(), "regime_base_possible": r0.possible.tolist(),
        "n_needed_base": r0.n_needed,
        "c_tuned": c1, "n_tuned": n1, "p_tuned": p1, "p_tuned_lo": r1.lo, "p_tuned_hi": r1.hi,
        "regime_tuned": r1.regime.tolist(), "regime_tuned_possible": r1.possible.tolist(),
        "n_needed_tuned": r1.n_needed,
        "p_value_higher": p_gt, "p_value_lower": p_lt,
        "label": label.tolist(), "label_possible": possible.tolist(),
        "created_from": created_from(label, r0.regime).tolist(),
        "n_needed_label": need_label,
        **{k: (v.tolist() if v.dtype == object else v) for k, v in gibbs_cols.items()},
        **kl_cols,
    })
    summary = {
        "base": pair.base.name, "tuned": pair.tuned.name, "n_problems": Q,
        "n_base": {"min": int(n0.min()), "max": int(n0.max()), "total_correct": int(c0.sum())},
        "n_tuned": {"min": int(n1.min()), "max": int(n1.max()), "total_correct": int(c1.sum())},
        "budget": {
            "K": K, "basin_budget": cfg.basin_budget, "K_certifiable": k_cert,
            "certifiable": bool(K <= k_cert), "n_min_base": int(n0.min()),
            "eps_K": float(t_K), "eps_basin": float(eps(cfg.basin_budget, cfg.zeta)),
            "zeta": cfg.zeta, "alpha": cfg.alpha, "default": cfg.budget is None,
            "samples_to_decide_created_candidates": int(np.median(cand_need)) if len(cand_need) else None,
            "intervals": "confidence sequence (anytime-valid)" if anytime else "Clopper-Pearson",
            "adaptive": adaptive,
        },
        "passk": table,
        "curves": curves,
        "labels": labels,
        "transition": transition,
        "venn": {"both": v.both, "base_only": v.base_only, "tuned_only": v.tuned_only,
                 "neither": v.neither,
                 "base_only_ids": pair.problem_id[v.base_only_idx].tolist(),
                 "tuned_only_ids": pair.problem_id[v.tuned_only_idx].tolist(),
                 "neither_ids": pair.problem_id[v.neither_idx].tolist()},
        "leash": leash_out,
        "created_vs_budget": budget_curve,
        "gibbs": gibbs,
        **({"kl": kl_summary} if kl_summary else {}),
        "notes": notes,
    }
    summary["verdict"] = verdict(summary)
    return Comparison(per_problem, summary)
