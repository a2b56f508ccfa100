"""The demo's multi-model analyses (``analysis.many``): the four variants side by side
(``OUT/variants``) and the RL run's checkpoints as a trajectory (``OUT/trajectory``), each checked
against the organism's exact labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from supportscope.analysis import AnalyzeConfig, model_counts
from supportscope.organism.demo_config import DemoConfig
from supportscope.organism.truth import agreement, consistent, exact_labels, exact_regime, support_change

BASE = "base"  #: the base model's name in the demo's run store


def _exact_augment(exact: dict, acfg: AnalyzeConfig, families: dict):
    """``augment(name, summary, per_problem)`` for ``analyse_many_and_write``: each model's pairwise
    outputs gain the exact columns and ``ground_truth`` block (:func:`exact_columns`)."""
    def augment(name, summary, per_problem):
        return exact_columns(per_problem, exact[BASE], exact[name], summary["budget"]["K"], acfg, summary, families)

    return augment


def exact_columns(per_problem: pa.Table, p0: dict, p1: dict, K: int, cfg: AnalyzeConfig, summary: dict,
                   families: dict) -> pa.Table:
    """Add the exact columns to the per-problem table and the ``ground_truth`` block to the summary.
    p0, p1: problem id -> (p under pi_D, p raw)."""
    ids = per_problem["problem_id"].to_pylist()
    e0, r0 = np.array([p0[i] for i in ids]).T
    e1, r1 = np.array([p1[i] for i in ids]).T
    est = np.array(per_problem["label"].to_pylist(), dtype=object)
    ex = exact_labels(e0, e1, K, cfg.zeta)
    ok = consistent(est, ex)
    fam = np.array([families[i] for i in ids], dtype=object)
    by_family = {}
    for f in dict.fromkeys(fam.tolist()):
        m = fam == f
        by_family[f] = {"problems": int(m.sum()), "p_exact_base": float(e0[m].mean()),
                        "p_exact_tuned": float(e1[m].mean()),
                        "labels_estimated": {k: int(v) for k, v in zip(*np.unique(est[m], return_counts=True))},
                        "labels_exact": {k: int(v) for k, v in zip(*np.unique(ex[m], return_counts=True))}}
    summary["ground_truth"] = {
        "what": "exact success probabilities of the organism under pi_D (teacher forcing of every correct "
                "answer string); exact labels at the same K and zeta (supportscope.organism.truth)",
        "K": K, **agreement(est, ex), "alpha": cfg.alpha,
        "singular_base": support_change(e0, e1, K, cfg.zeta, p0_raw=r0),
        "by_family": by_family,
    }
    cols = {"family": pa.array(fam.tolist(), pa.string()), "p_exact_base": e0, "p_exact_tuned": e1,
            "p_exact_base_raw": r0, "p_exact_tuned_raw": r1,
            "regime_exact_base": pa.array(exact_regime(e0, K, cfg.basin_budget, cfg.zeta).tolist(), pa.string()),
            "regime_exact_tuned": pa.array(exact_regime(e1, K, cfg.basin_budget, cfg.zeta).tolist(), pa.string()),
            "label_exact": pa.array(ex.tolist(), pa.string()),
            "label_consistent": pa.array(ok.tolist(), pa.bool_())}
    for name, col in cols.items():
        per_problem = per_problem.append_column(name, pa.array(col) if not isinstance(col, pa.Array) else col)
    return per_problem



@dataclass
class Inputs:
    """What every analysis of the demo reads: the run store, its counts table (and the run's path as
    the source), the analysis config, the exact p of every model and each problem's family."""

    run: Any
    table: pa.Table
    srcs: list
    acfg: AnalyzeConfig
    exact: dict
    families: dict


def variants_analysis(ctx: Inputs, vs: list, out: Path, cfg: DemoConfig) -> dict:
    """``OUT/variants/``: every variant against the base in one multi-model analysis (a set of methods:
    one table, one bootstrap, differences between the variants), each model's pairwise outputs with
    the exact columns, and the agreement with the exact labels per variant. Returns a digest."""
    from supportscope.pipeline.analyse_many import analyse_many_and_write

    table, srcs, acfg, exact = ctx.table, ctx.srcs, ctx.acfg, ctx.exact
    augment = _exact_augment(exact, acfg, ctx.families)
    agree: dict = {}

    def truth(summary, per_problem):
        ids = per_problem["problem_id"].to_pylist()
        K = summary["budget"]["K"]
        e0 = np.array([exact[BASE][i][0] for i in ids])
        models = {}
        for m in summary["ordering"]["names"]:
            est = np.array(per_problem[f"label:{m}"].to_pylist(), dtype=object)
            models[m] = agreement(est, exact_labels(e0, np.array([exact[m][i][0] for i in ids]), K, acfg.zeta))
        summary["ground_truth"] = {"what": "each variant's labels against the exact labels (exact p under pi_D, "
                                           "organism.truth.exact_labels at the same K and zeta)", "K": K,
                                   "models": models}
        agree.update(models)
        return per_problem

    s = analyse_many_and_write(model_counts(table, BASE, srcs), [model_counts(table, v.name, srcs) for v in vs], acfg,
                               out / "variants", [], run=ctx.run, augment=augment, augment_summary=truth, quiet=True,
                               extra={"demo": cfg.to_dict()})
    return {"out": str(out / "variants"), "verdict": s["verdict"]["sentence"],
            "differences": s["differences"],
            "agreement": {m: g["agreement"] for m, g in agree.items()},
            "false_created_rate": {m: g["false_created_rate"] for m, g in agree.items()}}


def trajectory_analysis(ctx: Inputs, v, traj, out: Path, cfg: DemoConfig) -> dict:
    """``OUT/trajectory/``: base against the RL run's checkpoints and its final model in one
    multi-model analysis (``analysis.many``; the final model's step given explicitly), every model's
    pairwise outputs with the exact columns, and a ``ground_truth`` block setting the estimated
    per-problem trajectories against those of the exact labels (``organism.truth.exact_labels`` at
    each checkpoint, classified by the same ``analysis.trajectory.trajectories``). Returns a digest."""
    from dataclasses import replace

    from supportscope.analysis.trajectory import trajectories
    from supportscope.pipeline.analyse_many import analyse_many_and_write

    table, srcs, acfg, exact = ctx.table, ctx.srcs, ctx.acfg, ctx.exact
    names = [name for _, name, _ in traj] + [v.name]
    tcfg = replace(acfg, step=[f"{v.name}={v.config.steps}"])

    augment = _exact_augment(exact, acfg, ctx.families)
    def truth(summary, per_problem):
        ids = per_problem["problem_id"].to_pylist()
        K = summary["budget"]["K"]
        order = summary["ordering"]["names"]
        e0 = np.array([exact[BASE][i][0] for i in ids])
        ex = np.stack([exact_labels(e0, np.array([exact[m][i][0] for i in ids]), K, acfg.zeta) for m in order], axis=1)
        est = np.stack([np.array(per_problem[f"label:{m}"].to_pylist(), dtype=object) for m in order], axis=1)
        te, tx = trajectories(est), trajectories(ex)
        claimed_c, exact_c = te.first_created >= 0, tx.first_created >= 0
        claimed_l, exact_l = te.first_lost >= 0, tx.first_lost >= 0
        summary["ground_truth"] = {
            "what": "estimated per-problem trajectories against the trajectories of the exact labels (exact p "
                    "under pi_D at every checkpoint, organism.truth.exact_labels at the same K and zeta)",
            "K": K, "models": {m: agreement(est[:, j], ex[:, j]) for j, m in enumerate(order)},
            "classes_exact": {c: int((tx.cls == c).sum()) for c in sorted(set(tx.cls.tolist()) - {""})},
            "created_claims": int(claimed_c.sum()),
            "created_claims_exactly_created_then": int((claimed_c & (ex[np.arange(len(ids)), np.maximum(
                te.first_created, 0)] == "created")).sum()),
            "exactly_created_problems": int(exact_c.sum()),
            "exactly_created_found": int((exact_c & claimed_c).sum()),
            "same_first_created_checkpoint": int((exact_c & (te.first_created == tx.first_created)).sum()),
            "lost_claims": int(claimed_l.sum()),
            "exactly_lost_problems": int(exact_l.sum()),
            "exactly_lost_found": int((exact_l & claimed_l).sum()),
            "same_first_lost_checkpoint": int((exact_l & (te.first_lost == tx.first_lost)).sum()),
        }
        return per_problem.append_column("trajectory_class_exact", pa.array(tx.cls.tolist(), pa.string()))

    s = analyse_many_and_write(model_counts(table, BASE, srcs), [model_counts(table, n, srcs) for n in names], tcfg,
                               out / "trajectory", [], run=ctx.run, augment=augment, augment_summary=truth, quiet=True,
                               extra={"demo": cfg.to_dict()})
    gt = s["ground_truth"]
    return {"out": str(out / "trajectory"), "verdict": s["verdict"]["sentence"],
            "models": [{k: m[k] for k in ("name", "step", "pass1", "passK", "labels", "gibbs_lambda", "kl")}
                       for m in s["models"]],
            "ground_truth": {k: v for k, v in gt.items() if k != "models"},
            "agreement": {m: g["agreement"] for m, g in gt["models"].items()},
            "false_created_rate": {m: g["false_created_rate"] for m, g in gt["models"].items()}}


__all__ = ["Inputs", "exact_columns", "trajectory_analysis", "variants_analysis"]
