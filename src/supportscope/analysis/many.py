"""compare_many(base, tuned models, config): one analysis of several tuned models against one base.

What it computes, and where each number comes from:
- per tuned model, everything a pairwise analysis gives: :func:`analysis.compare.compare` against
  the base (its own summary and per-problem table, written next to the combined outputs);
- across models, with ONE paired bootstrap (the weights depend only on (Q, B, seed), so every
  pairwise analysis and the cross-model statistics resample the same problems):
  pass@1 / pass@K with bands, the sampling-efficiency gap and differences between tuned models
  (`analysis.series`); created / elicited / lost counts, the count-level creation test, the Gibbs
  lambda, Venn/leash metrics and the KL account are read from each model's pairwise summary
  (:func:`model_row`);
- the elicitation frontier of the base and every model against it (`analysis.frontier`);
- per problem, the trajectory of its label over ordered checkpoints (`analysis.trajectory`) and the
  regime flow between consecutive checkpoints;
- contrasts (``--contrast T1 T2``): the pairwise analysis with T1 in the base role.
The order of the models and whether they form a trajectory: `analysis.model_order`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from supportscope.analysis.compare import Comparison, compare
from supportscope.analysis.config import AnalyzeConfig, check_bootstrap_memory
from supportscope.analysis.frontier import frontier_block
from supportscope.analysis.inputs import ModelCounts, common_problems, pair_models
from supportscope.analysis.labels import LABELS
from supportscope.analysis.model_order import Ordering, order_models, parse_steps
from supportscope.analysis.series import ModelSeries, model_series
from supportscope.analysis.trajectory import CLASSES, describe, regime_flow, state_counts, trajectories
from supportscope.errors import InputError
from supportscope.stats import PairedBootstrap

#: Unordered sets of at most this many methods get every pairwise difference; more (or a
#: trajectory) get consecutive differences only.
ALL_PAIRS_MAX = 8


@dataclass(frozen=True)
class ManyComparison:
    """The combined analysis: the ordering, one pairwise :class:`Comparison` per tuned model (same
    order), the contrasts, the per-problem trajectory table, the long per-(problem, model) table and
    the combined summary (summary.json)."""

    ordering: Ordering
    pairs: tuple[Comparison, ...]
    contrasts: tuple[Comparison, ...]
    per_problem: pa.Table
    per_model: pa.Table
    summary: dict


def _checkpoint_names(o: Ordering) -> list[str]:
    return [f"step {s}" if s is not None else n for n, s in zip(o.names, o.steps)]


def _ci(d: dict | None, key: str = "value") -> dict | None:
    if not d:
        return None
    return {"value": d.get(key), "lo": d.get("lo"), "hi": d.get("hi")}


def model_row(name: str, step: int | None, s: dict, series: ModelSeries, j: int) -> dict:
    """One tuned model's entry of ``summary["models"]``: the cross-model series (with bands from the
    shared bootstrap) and the headline numbers of its pairwise summary ``s``."""
    sc = s["support_change"]
    kl = s.get("kl")
    g = s["gibbs"]
    cross = s["curves"]["crossover"] or {}  # None when pass@1 is equal
    return {
        "name": name, "step": step,
        "pass1": series.value(j, "pass1"), "passK": series.value(j, "passk"), "k": series.k,
        "efficiency_gap": series.efficiency_gap(j),
        "labels": {lab: s["labels"][lab]["count"] for lab in LABELS},
        "created": {"value": s["labels"]["created"]["count"], "lo": s["labels"]["created"]["lo"],
                    "hi": s["labels"]["created"]["hi"]},
        "lost": {"value": s["labels"]["lost"]["count"], "lo": s["labels"]["lost"]["lo"],
                 "hi": s["labels"]["lost"]["hi"]},
        "creation_test": {d: {"observed": sc[d]["observed"], "expected": sc[d]["expected"],
                              "p_count": sc[d]["p_count"], "count_rejects": sc[d]["count_rejects"],
                              "established": sc[d]["established"], "claimed": sc[d]["claimed"]}
                          for d in ("created", "lost")},
        "crossover": {"k": cross.get("k"), "lo": cross.get("lo"), "hi": cross.get("hi"),
                      "direction": cross.get("direction")},
        "gibbs_lambda": {"value": g.get("lambda"), "lo": g.get("lambda_lo"), "hi": g.get("lambda_hi"),
                         "one_tilt_fits": (g.get("fit") or {}).get("one_tilt_fits")},
        "venn": {key: s["venn"][key] for key in ("both", "base_only", "tuned_only", "neither", "k")},
        "leash": {key: _ci(v) for key, v in s["leash"].items()},
        "kl": None if not kl else {"observed": kl.get("kl_observed"),
                                   "kl": _ci(kl.get(kl.get("kl_observed") or "k1"), "mean"),
                                   "kl_min": _ci(kl.get("kl_min"), "mean"),
                                   "efficiency": {"value": kl.get("efficiency_aggregate"),
                                                  "lo": kl.get("efficiency_lo"), "hi": kl.get("efficiency_hi")}},
        "verdict": {"kind": s["verdict"]["kind"], "sentence": s["verdict"]["sentence"]},
    }


def _difference_pairs(o: Ordering, contrasts: list[tuple[str, str]]) -> list[tuple[int, int]]:
    m = len(o.names)
    if o.trajectory or m > ALL_PAIRS_MAX:
        pairs = [(j, j + 1) for j in range(m - 1)]
    else:
        pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
    idx = {n: j for j, n in enumerate(o.names)}
    for a, b in contrasts:
        if (idx[a], idx[b]) not in pairs:
            pairs.append((idx[a], idx[b]))
    return pairs


def check_contrasts(contrasts: list[tuple[str, str]], names: tuple[str, ...]) -> None:
    """Each contrast names two different tuned models."""
    for a, b in contrasts:
        for x in (a, b):
            if x not in names:
                raise InputError("<command line>", f"--contrast names {x!r}, which is not one of the tuned models",
                                 f"name two of: {', '.join(names)}")
        if a == b:
            raise InputError("<command line>", f"--contrast {a} {b} compares a model with itself",
                             "name two different tuned models")


def compare_many(base: ModelCounts, tuned: list[ModelCounts], config: AnalyzeConfig | None = None, run=None,
                 steps: dict[str, int] | None = None, contrasts: list[tuple[str, str]] | None = None,
                 progress=None) -> ManyComparison:
    """Analyse every model of ``tuned`` against ``base`` on the same problems (module docstring).

    ``steps``: explicit training steps by name (else read from the names); ``contrasts``: pairs
    (T1, T2) analysed with T1 as the base; ``progress(i)`` is called after each pairwise analysis."""
    cfg = config or AnalyzeConfig()
    if contrasts is None:
        contrasts = [tuple(cfg.contrast)] if cfg.contrast else []
    contrasts = [tuple(c) for c in contrasts]
    if steps is None:
        steps = parse_steps(cfg.step)
    by_name = {t.name: t for t in tuned}
    if len(by_name) != len(tuned):
        raise InputError("<command line>", "a tuned model is named twice", "name each --tuned model once")
    if base.name in by_name:
        raise InputError("<command line>", f"model {base.name!r} is both the base and a tuned model",
                         "pass it once, as --base or as --tuned")
    ordering = order_models(list(by_name), cfg.order, steps)
    check_contrasts(contrasts, ordering.names)
    models = [base] + [by_name[n] for n in ordering.names]
    notes: list[str] = []
    if cfg.intersect:
        models, dropped = common_problems(models)
        if dropped:
            notes.append(f"--intersect: kept the {len(models[0].problem_id)} problems every model has; dropped "
                         f"{dropped} that some model lacks.")
    base, tuned_sorted = models[0], models[1:]
    pairs_in = [pair_models(base, t) for t in tuned_sorted]  # different problem sets: InputError naming --intersect
    q = len(base.problem_id)
    n_min = int(min(min(p.n0.min(), p.n1.min()) for p in pairs_in))
    check_bootstrap_memory(cfg.bootstrap, q, n_min)

    boot = PairedBootstrap(q, cfg.bootstrap, cfg.seed)  # one set of resampled problems for everything below
    pairs = []
    for i, t in enumerate(tuned_sorted):
        pairs.append(compare(base, t, cfg, run=run, bootstrap=boot))
        if progress is not None:
            progress(i + 1)
    by_name = {t.name: t for t in tuned_sorted}
    con = [compare(by_name[a], by_name[b], cfg, run=run, bootstrap=boot) for a, b in contrasts]

    K = pairs[0].summary["budget"]["K"]
    k = min(K, n_min)
    labels = np.stack([np.asarray(p.per_problem["label"].to_pylist(), dtype=object) for p in pairs], axis=1)
    series = model_series(base.correct.astype(np.int64), base.n.astype(np.int64),
                          [(pr.c1, pr.n1, labels[:, j]) for j, pr in enumerate(pairs_in)], k, boot, cfg.alpha)
    rows = [model_row(n, s, p.summary, series, j)
            for j, (n, s, p) in enumerate(zip(ordering.names, ordering.steps, pairs))]
    diffs = [{"a": ordering.names[a], "b": ordering.names[b], "k": k, **series.difference(a, b)}
             for a, b in _difference_pairs(ordering, contrasts)]
    regimes = np.stack([np.asarray(pairs[0].per_problem["regime_base"].to_pylist(), dtype=object)]
                       + [np.asarray(p.per_problem["regime_tuned"].to_pylist(), dtype=object) for p in pairs], axis=1)
    traj_block, traj_cols = _trajectory(ordering, labels, regimes, base.problem_id)
    frontier = _frontier(base, pairs_in, ordering, K, k, cfg, boot)
    for row, fm in zip(rows, (frontier or {}).get("models") or []):
        at_k = next((b for b in fm["by_k"] if b["k"] == K), None)
        row["frontier"] = {"lambda_star": fm["lambda_star"], "gap_K": at_k["gap"] if at_k else None,
                           "excess_K": at_k["excess"] if at_k else None,
                           "first_k_above_frontier": fm["first_k_above_frontier"],
                           "first_k_above_ceiling": fm["first_k_above_ceiling"]}
    if frontier is None:
        notes.append(f"The elicitation frontier needs pass@K at K = {K}, but the smallest n is {n_min}: not computed.")
    s0 = pairs[0].summary
    summary = {
        "base": base.name, "n_problems": q, "models": rows, "ordering": {
            "order": cfg.order, "trajectory": ordering.trajectory, "names": list(ordering.names),
            "steps": list(ordering.steps)},
        "n_base": s0["n_base"], "budget": s0["budget"],
        "base_passk": {"pass1": series.value(None, "pass1"), "passK": series.value(None, "passk"), "k": k},
        "differences": diffs,
        "trajectory": traj_block,
        "frontier": frontier,
        "contrasts": [{"base": a, "tuned": b, "labels": {lab: c.summary["labels"][lab]["count"] for lab in LABELS},
                       "support_change": {d: {x: c.summary["support_change"][d][x] for x in
                                              ("observed", "expected", "p_count", "count_rejects", "established")}
                                          for d in ("created", "lost")},
                       "verdict": c.summary["verdict"]} for (a, b), c in zip(contrasts, con)],
        "notes": notes,
    }
    summary["verdict"] = many_verdict(summary)
    per_problem = pa.table({
        "problem_id": pa.array(base.problem_id.tolist(), pa.string()),
        "c_base": base.correct, "n_base": base.n, "p_base": base.correct / base.n,
        "regime_base": regimes[:, 0].tolist(), **traj_cols})
    per_model = _per_model(ordering, pairs)
    return ManyComparison(ordering, tuple(pairs), tuple(con), per_problem, per_model, summary)


def _trajectory(o: Ordering, labels: np.ndarray, regimes: np.ndarray, problem_id: np.ndarray) -> tuple[dict, dict]:
    names = _checkpoint_names(o)
    t = trajectories(labels)
    idx_name = np.array(list(o.names) + [""], dtype=object)  # index -1 -> ""
    step_of = np.array([np.nan if s is None else s for s in o.steps] + [np.nan], dtype=float)
    last_acc = np.where(t.first_lost > 0, idx_name[t.first_lost - 1], np.where(t.first_lost == 0, "base", ""))
    cols = {
        "trajectory": [describe(t, i, names) if o.trajectory else "" for i in range(len(t.cls))],
        "trajectory_class": t.cls.tolist(),
        "first_created": idx_name[t.first_created].tolist(), "first_created_step": step_of[t.first_created],
        "first_lost": idx_name[t.first_lost].tolist(), "first_lost_step": step_of[t.first_lost],
        "last_accessible": last_acc.tolist(),
        "turned_at": idx_name[t.turned].tolist(),
        **{f"label:{n}": labels[:, j].tolist() for j, n in enumerate(o.names)},
    }
    block = None
    if o.trajectory:
        examples = {c: [str(problem_id[i]) + ": " + describe(t, i, names) for i in np.flatnonzero(t.cls == c)[:20]]
                    for c in CLASSES}
        block = {"classes": {c: int((t.cls == c).sum()) for c in CLASSES}, "examples": examples,
                 "created_at": {n: int((t.first_created == j).sum()) for j, n in enumerate(o.names)},
                 "lost_at": {n: int((t.first_lost == j).sum()) for j, n in enumerate(o.names)},
                 "regime_counts": state_counts(regimes), "regime_flow": regime_flow(regimes),
                 "columns": ["base", *o.names]}
    return block, cols


def _frontier(base: ModelCounts, pairs_in, o: Ordering, K: int, k: int, cfg: AnalyzeConfig,
              boot: PairedBootstrap) -> dict | None:
    """The elicitation frontier block (`analysis.frontier`), every tuned model against it, at the
    powers of two up to K; None when K exceeds the smallest n (pass@K is not estimable)."""
    if k < K:
        return None
    tuned = [(n, p.c1, p.n1) for n, p in zip(o.names, pairs_in)]
    ks = [2 ** i for i in range(int(np.log2(K)) + 1)]
    return frontier_block(base.correct, base.n, tuned, K, cfg.zeta, ks, boot, cfg.alpha)


def _per_model(o: Ordering, pairs: list[Comparison]) -> pa.Table:
    """One row per (problem, tuned model): counts, interval, regime, label, and the model's step."""
    keep = ("problem_id", "c_tuned", "n_tuned", "p_tuned", "p_tuned_lo", "p_tuned_hi", "regime_tuned", "label",
            "label_possible", "p_value_higher", "p_value_lower")
    parts = []
    for n, s, p in zip(o.names, o.steps, pairs):
        t = p.per_problem.select(list(keep))
        t = t.append_column("model", pa.array([n] * t.num_rows, pa.string()))
        t = t.append_column("step", pa.array([s] * t.num_rows, pa.int64()))
        parts.append(t)
    return pa.concat_tables(parts)


def many_verdict(s: dict) -> dict:
    """The combined verdict: per model its pairwise verdict kind; a sentence that says which models
    created (their own count test rejects, or a problem is established at alpha/(2Q):
    ``support_change.claimed``), and, for a trajectory, how many problems were created and kept,
    created then lost, lost.

    Each model's claim is a test at level alpha; naming *any* of M models is a union of M tests, so
    its family-wise error is at most M alpha by Bonferroni. Measured on 6 checkpoints of a pure tilt
    with many base rates just above eps(K) (100 data sets, Q = 300, n = 128, K = 64): 0 claims
    (tests/test_many.py::test_combined_creation_claim_null_and_power repeats it on 24 data sets):
    the count test's bound is conservative and the checkpoints share the base's counts."""
    rows = s["models"]
    created = [r["name"] for r in rows if r["creation_test"]["created"]["claimed"]]
    lost = [r["name"] for r in rows if r["creation_test"]["lost"]["claimed"]]
    kinds = {r["name"]: r["verdict"]["kind"] for r in rows}
    parts = []
    if created:
        parts.append(f"creation established for {', '.join(created)}")
    else:
        parts.append("no model is shown to create")
    if lost:
        parts.append(f"loss established for {', '.join(lost)}")
    t = s.get("trajectory")
    if t:
        c = t["classes"]
        parts.append(f"over the trajectory {c['created-kept']} problems were created and kept, "
                     f"{c['created-then-lost']} created then lost, {c['lost']} lost and not recovered")
    return {"kinds": kinds, "created": created, "lost": lost,
            "sentence": "; ".join(parts) + f" ({len(rows)} tuned models against {s['base']}, "
                        f"{s['n_problems']} problems)."}
