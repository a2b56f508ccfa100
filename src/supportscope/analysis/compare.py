"""compare(base, tuned, config): the per-problem table and the summary of one analysis.

Every number is computed by a function that documents its formula:
- p-hat and its Clopper-Pearson interval: `stats.bounds.clopper_pearson`
- regimes at (k_b, K) and samples needed to decide them: `stats.regimes.classify`
- labels: `analysis.labels.label_problems` (Fisher test: `stats.difference.two_proportion_pvalues`);
  counts, pass@K contributions and shares of the gross gain: `analysis.label_summary`
- creation / loss established for the set (count test, per-problem p-values, candidates, the
  follow-up plan and its confirmation): `analysis.support_claims` over `stats.support_change`
- pass@k curves, bands, crossover: `analysis.curves`
- created-vs-budget curve: `analysis.budget_curve`
- Venn sets and leash metrics at the common budget min(n0, n1): `analysis.support_sets`
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

from dataclasses import dataclass, field, fields

import numpy as np
import pyarrow as pa

from supportscope.analysis.budget_curve import created_vs_budget
from supportscope.analysis.config import AnalyzeConfig, check_bootstrap_memory
from supportscope.analysis.curves import passk_table, pooled_curves
from supportscope.analysis.gibbs_fit import gibbs_account
from supportscope.analysis.inputs import ModelCounts, PairedCounts, pair_models
from supportscope.analysis.label_summary import label_summary, passk_gain, share_budget
from supportscope.analysis.labels import CREATED, UNDETERMINED, LabelRule, could_be, created_from, label_counts
from supportscope.analysis.support_claims import support_claims
from supportscope.analysis.support_sets import support_sets
from supportscope.analysis.verdict import verdict
from supportscope.errors import InputError
from supportscope.stats.sequences import max_certifiable_budget_anytime
from supportscope.stats import REGIMES, PairedBootstrap, eps, max_certifiable_budget, n_to_decide



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
        need = float(n_to_decide(np.array([0]), np.array([1]), eps(K, cfg.zeta), cfg.alpha)[0])
        need_text = f"n >= {int(need)}" if np.isfinite(need) else "more than 10^7"  # n_to_decide's n_max
        notes.append(
            f"K={K} is larger than {n_min_base} samples can certify: a problem with no success is "
            f"only certified inaccessible at K <= {k_cert}; certifying K={K} needs {need_text} "
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
    from supportscope.analysis.kl_account import KL_SAMPLE_COLUMNS, KL_SCORE_COLUMNS, kl_account
    from supportscope.store import SCORER_PREFIX
    from supportscope.models.config import DecodingConfig

    b, t = pair.base.name, pair.tuned.name
    scorer = SCORER_PREFIX + b  # only the base's scores are read, and only the columns the account uses
    sampled = run.models("samples")
    if t not in sampled or b not in sampled or scorer not in run.models("scores"):
        return None, {}
    entry = run.entry(t)
    raw = DecodingConfig.from_dict(entry["decoding"]).is_raw if entry.get("decoding") else False
    scores = run.read("scores", scorer, columns=KL_SCORE_COLUMNS)
    s0, s1 = (run.read("samples", m, columns=KL_SAMPLE_COLUMNS) for m in (b, t))
    out = kl_account(pair.problem_id, pair.c0, pair.n0, pair.c1, pair.n1, s0, s1, scores, b, t, boot, cfg.alpha, raw)
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


@dataclass
class _Setup:
    """What an analysis decides before looking at labels: budgets, interval kind, k's, notes."""

    K: int
    k_cert: int
    anytime: bool
    adaptive: dict | None
    ks: list[int]
    notes: list[str] = field(default_factory=list)


def _setup(cfg: AnalyzeConfig, pair: PairedCounts, run) -> _Setup:
    n0, n1 = pair.n0, pair.n1
    n_min = int(min(n0.min(), n1.min()))
    adaptive = adaptive_settings(run, (pair.base.name, pair.tuned.name))
    anytime = cfg.anytime if cfg.anytime is not None else adaptive is not None
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
                     f"{pair.dropped_tuned_only} tuned-only problems; {len(pair.c0)} remain.")
    if len(set(n0.tolist()) | set(n1.tolist())) > 1:
        notes.append(f"n varies across problems ({n_min}..{int(max(n0.max(), n1.max()))}); pooled "
                     f"pass@k is reported for k <= {n_min}, the smallest n.")
    if min(K, n_min) < K:
        notes.append(f"Shares of the gain are measured at pass@{n_min} (the smallest n), not at pass@K={K}.")
    return _Setup(K, k_cert, anytime, adaptive, ks, notes)


@dataclass(frozen=True)
class _Labels(LabelRule):
    """Per-problem regimes, tests and labels at the audit budget (:class:`LabelRule`), and the
    samples per model that would decide an undetermined label."""

    need_label: np.ndarray


def _label(pair: PairedCounts, cfg: AnalyzeConfig, st: _Setup) -> _Labels:
    c0, n0, c1, n1 = pair.c0, pair.n0, pair.c1, pair.n1
    rule = label_counts(c0, n0, c1, n1, st.K, cfg.basin_budget, cfg.zeta, cfg.alpha, st.anytime)
    r0, r1, label = rule.r0, rule.r1, rule.label
    t_K = eps(st.K, cfg.zeta)
    if st.anytime:  # samples that would decide the regime at K (the label needs both accessibilities)
        need0 = np.where(r0.accessible == -1, r0.n_needed, 0.0)
        need1 = np.where(r1.accessible == -1, r1.n_needed, 0.0)
    else:
        need0 = np.where(r0.accessible == -1, n_to_decide(c0, n0, t_K, cfg.alpha), 0.0)
        need1 = np.where(r1.accessible == -1, n_to_decide(c1, n1, t_K, cfg.alpha), 0.0)
    need_label = np.where(label == UNDETERMINED, np.maximum(need0, need1), 0.0)
    return _Labels(**{f.name: getattr(rule, f.name) for f in fields(rule)}, need_label=need_label)


def compare(base: ModelCounts, tuned: ModelCounts, config: AnalyzeConfig | None = None,
            run=None, bootstrap: PairedBootstrap | None = None) -> Comparison:
    """Analyse base vs tuned counts. See the module docstring for where each number comes from.

    `run`: a `store.RunStore` holding both models' samples; when it also holds the tuned
    samples scored by the base, the KL account (`analysis.kl_account`) is added, and when it holds a
    follow-up of the candidates (`sample --adaptive --problems-from`), their confirmation.

    `bootstrap`: a `PairedBootstrap` over the same problems with the config's replicates and seed,
    to share its cached weights between analyses (`analysis.many`); the weights are the same either way.
    """
    cfg = config or AnalyzeConfig()
    pair = pair_models(base, tuned, intersect=cfg.intersect)
    check_bootstrap_memory(cfg.bootstrap, len(pair.c0), int(min(pair.n0.min(), pair.n1.min())))
    st = _setup(cfg, pair, run)
    lb = _label(pair, cfg, st)
    boot = bootstrap or PairedBootstrap(len(pair.c0), cfg.bootstrap, cfg.seed)
    if (boot.n_items, boot.n_replicates, boot.seed) != (len(pair.c0), cfg.bootstrap, cfg.seed):
        raise ValueError(f"{boot!r} does not match {len(pair.c0)} problems, bootstrap={cfg.bootstrap}, seed={cfg.seed}")
    blocks = _account(pair, cfg, st, lb, run, boot)
    summary = _summary(pair, blocks, st.notes)
    return Comparison(_per_problem(pair, lb, blocks.columns), summary)


@dataclass(frozen=True)
class _Blocks:
    """Every computed block of the summary (named as in summary.json) and the extra per-problem columns."""

    budget: dict
    passk: list
    curves: dict
    labels: dict
    gain: dict
    support_change: dict
    transition: dict
    venn: dict
    leash: dict
    created_vs_budget: dict
    gibbs: dict
    kl: dict | None
    columns: dict


def _account(pair: PairedCounts, cfg: AnalyzeConfig, st: _Setup, lb: _Labels, run, boot: PairedBootstrap) -> _Blocks:
    """The computation: each block from the function that documents its formula (module docstring)."""
    c0, n0, c1, n1 = pair.c0, pair.n0, pair.c1, pair.n1
    k_share = share_budget(st.K, n0, n1)
    g = passk_gain(c0, n0, c1, n1, k_share)
    labels, gain = label_summary(lb.label, lb.possible, pair.problem_id, g, k_share, boot, cfg.alpha)
    claims, claim_cols = support_claims(pair.problem_id, c0, n0, c1, n1, lb.label, lb.possible, st.K,
                                        cfg.basin_budget, cfg.zeta, cfg.alpha, st.anytime, run,
                                        (pair.base.name, pair.tuned.name))
    venn_out, leash_out = support_sets(pair.problem_id, c0, n0, c1, n1, boot, cfg.alpha)
    gibbs, gibbs_cols = gibbs_account(c0, n0, c1, n1, boot, cfg.alpha)
    kl_summary, kl_cols = _kl(run, pair, boot, cfg)
    return _Blocks(
        budget=_budget_block(cfg, st, n0, lb),
        passk=passk_table(c0, n0, c1, n1, st.ks, boot, cfg.alpha),
        curves=pooled_curves(c0, n0, c1, n1, boot, cfg.alpha),
        labels=labels, gain=gain, support_change=claims,
        transition=_transition(lb.r0.regime, lb.r1.regime),
        venn=venn_out, leash=leash_out,
        created_vs_budget=created_vs_budget(c0, n0, c1, n1, lb.p_gt, lb.p_lt, cfg.zeta, cfg.alpha, boot,
                                            "cs" if st.anytime else "cp", lb.up, lb.down,
                                            k_cert=st.k_cert if st.anytime else None),
        gibbs=gibbs, kl=kl_summary or None,
        columns={**gibbs_cols, **claim_cols, **kl_cols},
    )


def _summary(pair: PairedCounts, b: _Blocks, notes: list[str]) -> dict:
    """The result building: summary.json's blocks in their order, then the verdict read from them."""
    c0, n0, c1, n1 = pair.c0, pair.n0, pair.c1, pair.n1
    summary = {
        "base": pair.base.name, "tuned": pair.tuned.name, "n_problems": len(c0),
        "n_base": {"min": int(n0.min()), "max": int(n0.max()), "total_correct": int(c0.sum())},
        "n_tuned": {"min": int(n1.min()), "max": int(n1.max()), "total_correct": int(c1.sum())},
        "budget": b.budget, "passk": b.passk, "curves": b.curves, "labels": b.labels, "gain": b.gain,
        "support_change": b.support_change, "transition": b.transition, "venn": b.venn, "leash": b.leash,
        "created_vs_budget": b.created_vs_budget, "gibbs": b.gibbs,
        **({"kl": b.kl} if b.kl else {}),
        "notes": notes,
    }
    summary["verdict"] = verdict(summary)
    return summary


def _budget_block(cfg: AnalyzeConfig, st: _Setup, n0: np.ndarray, lb: _Labels) -> dict:
    could = could_be(lb.label, lb.possible, CREATED)
    need = lb.need_label[could]
    need = need[np.isfinite(need)]
    return {
        "K": st.K, "basin_budget": cfg.basin_budget, "K_certifiable": st.k_cert,
        "certifiable": bool(st.K <= st.k_cert), "n_min_base": int(n0.min()),
        "eps_K": float(eps(st.K, cfg.zeta)), "eps_basin": float(eps(cfg.basin_budget, cfg.zeta)),
        "zeta": cfg.zeta, "alpha": cfg.alpha, "default": cfg.budget is None,
        "samples_to_decide_created_candidates": int(np.median(need)) if len(need) else None,
        "intervals": "confidence sequence (anytime-valid)" if st.anytime else "Clopper-Pearson",
        "adaptive": st.adaptive,
    }


def _transition(reg0: np.ndarray, reg1: np.ndarray) -> dict:
    """Regime transition counts: rows base regime, columns tuned regime."""
    return {a: {b: int(((reg0 == a) & (reg1 == b)).sum()) for b in REGIMES} for a in REGIMES}


def _per_problem(pair: PairedCounts, lb: _Labels, extra: dict) -> pa.Table:
    """The per-problem table: counts, intervals, regimes, tests and labels, then ``extra`` columns
    (Gibbs residuals, support-change p-values and plan, KL per problem)."""
    c0, n0, c1, n1 = pair.c0, pair.n0, pair.c1, pair.n1
    r0, r1 = lb.r0, lb.r1
    return pa.table({
        "problem_id": pa.array(pair.problem_id.tolist(), pa.string()),
        "c_base": c0, "n_base": n0, "p_base": c0 / n0, "p_base_lo": r0.lo, "p_base_hi": r0.hi,
        "regime_base": r0.regime.tolist(), "regime_base_possible": r0.possible.tolist(),
        "n_needed_base": r0.n_needed,
        "c_tuned": c1, "n_tuned": n1, "p_tuned": c1 / n1, "p_tuned_lo": r1.lo, "p_tuned_hi": r1.hi,
        "regime_tuned": r1.regime.tolist(), "regime_tuned_possible": r1.possible.tolist(),
        "n_needed_tuned": r1.n_needed,
        "p_value_higher": lb.p_gt, "p_value_lower": lb.p_lt,
        "label": lb.label.tolist(), "label_possible": lb.possible.tolist(),
        "created_from": created_from(lb.label, r0.regime).tolist(),
        "n_needed_label": lb.need_label,
        **{k: (v.tolist() if getattr(v, "dtype", None) == object else v) for k, v in extra.items()},
    })
