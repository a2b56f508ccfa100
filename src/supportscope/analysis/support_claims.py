"""Is creation (or loss) established for the set of problems, and what would establish the rest?

Builds on `stats.support_change` (count test + per-problem intersection-union p-values; the module
docstring there has every formula and the split of alpha) and adds, per direction d in
{created, lost}:

- ``candidate`` (per problem): labelled d but not established one by one, or undetermined with d
  among its possible labels. These are what a follow-up should sample.
- a **confirmation stage**: `supportscope sample --adaptive --problems-from per_problem.parquet
  --label created-candidate` samples the m candidates again (fresh samples, shard keys f00-...) for
  both models. The stage-2 counts alone decide each candidate (independent of the stage-1 data that
  selected it), with the anytime-valid p-value of `stats.support_change.problem_pvalues` (stage 2
  stops adaptively) at the Bonferroni level alpha/(2m): "confirmed" or "not confirmed". With a
  follow-up present, this replaces the stage-1 Bonferroni route (alpha/(2Q)); a direction confirms
  only problems that were its own labels or candidates in stage 1 (m counts every followed-up
  problem, as the sampler's stopping level does); the count test on
  stage 1 keeps its alpha/2, so P(claim | nothing truly created) <= alpha still holds.
- ``n_establish_base`` / ``n_establish_tuned`` (per candidate): fresh samples per model that would
  decide its regime at K at the confirmation level alpha/(2m) at its current Jeffreys rate
  (`stats.sequences.samples_to_close`, the rule the adaptive follow-up stops by).
"""

from __future__ import annotations

import numpy as np

from supportscope.analysis.labels import CREATED, LOST, could_be
from supportscope.stats import eps, samples_to_close
from supportscope.stats.support_change import DIRECTIONS, confirmation_level, problem_pvalues, support_change

CANDIDATE_LABEL = {CREATED: "created-candidate", LOST: "lost-candidate"}


def _followup_counts(run, base: str, tuned: str, problem_id: np.ndarray):
    """Stage-2 counts (c0, n0, c1, n1) over the followed-up problems, and their ids, or None."""
    if run is None:
        return None
    from supportscope.store.counts import counts_from_samples

    entries = run.manifest.get("entries", {})  # a model read from a file is not in the run
    spec0 = (entries.get(base) or {}).get("followup")
    spec1 = (entries.get(tuned) or {}).get("followup")
    if not spec0 or not spec1:
        return None
    both = set(spec1["problems"])
    ids = [p for p in spec0["problems"] if p in both]
    table = counts_from_samples(run, stage="followup")
    got = {(p, m): (n, c) for p, m, n, c in zip(table["problem_id"].to_pylist(), table["model"].to_pylist(),
                                                table["n"].to_pylist(), table["correct"].to_pylist())}
    known = set(problem_id.tolist())
    ids = [p for p in ids if p in known and (p, base) in got and (p, tuned) in got]
    if not ids:
        return None
    n0 = np.array([got[(p, base)][0] for p in ids]); c0 = np.array([got[(p, base)][1] for p in ids])
    n1 = np.array([got[(p, tuned)][0] for p in ids]); c1 = np.array([got[(p, tuned)][1] for p in ids])
    return np.array(ids, dtype=object), c0, n0, c1, n1


def support_claims(problem_id, c0, n0, c1, n1, label, possible, budget: int, basin_budget: int, zeta: float,
                   alpha: float, anytime: bool, run=None, names: tuple[str, str] | None = None) -> tuple[dict, dict]:
    """(summary block ``support_change``, per-problem columns); see the module docstring."""
    Q = len(label)
    tests = support_change(c0, n0, c1, n1, label, budget, zeta, alpha, anytime)
    t = float(eps(budget, zeta))
    fu = _followup_counts(run, *names, problem_id) if names else None
    pos = {p: i for i, p in enumerate(problem_id.tolist())}
    cols: dict = {}
    block: dict = {}
    candidate = np.full(Q, "", dtype=object)
    established = np.full(Q, "", dtype=object)
    for d in DIRECTIONS:
        r = tests[d]
        lab = label == d
        est = np.asarray(r.established, dtype=bool)
        could = could_be(label, possible, d)
        confirmation = None
        if fu is not None:
            ids, f0, fn0, f1, fn1 = fu
            m = len(ids)
            level2 = confirmation_level(alpha, m)
            frm, to = ((f0, fn0), (f1, fn1)) if d == CREATED else ((f1, fn1), (f0, fn0))
            p2 = problem_pvalues(frm[0], frm[1], to[0], to[1], t, anytime=True)
            idx = np.array([pos[p] for p in ids])
            mine = (lab | could)[idx]  # a direction confirms only its own stage-1 labels and candidates
            ok = (p2 <= level2) & mine
            est = np.zeros(Q, dtype=bool)
            est[idx[ok]] = True
            confirmation = {"problems": int(mine.sum()), "followed_up": m, "level": level2, "confirmed": int(ok.sum()),
                            "confirmed_ids": ids[ok].tolist(), "not_confirmed_ids": ids[mine & ~ok].tolist(),
                            "samples_base": int(fn0.sum()), "samples_tuned": int(fn1.sum())}
            cols[f"p_{d}_followup"] = np.full(Q, np.nan)
            cols[f"p_{d}_followup"][idx] = p2
        claimed = bool(r.count_rejects) or bool(est.any())
        cand = ((lab & ~est) | could)
        candidate[cand & (candidate == "")] = d
        established[est] = d
        cols[f"p_{d}"] = r.p_problem
        cols[f"lfdr_{d}"] = r.lfdr
        block[d] = {
            "observed": int(r.observed), "expected": float(r.expected),
            "expected_ucb": None if r.expected_ucb is None else float(r.expected_ucb),
            "p_count": None if r.p_count is None else float(r.p_count),
            "count_rejects": bool(r.count_rejects), "established": int(est.sum()),
            "established_ids": problem_id[est][:100].tolist(), "claimed": claimed,
            "established_unlabelled": int((est & ~lab).sum()),  # confirmed by a follow-up, not labelled d
            "level_problem": r.level if confirmation is None else confirmation["level"],
            "candidates": int(cand.sum()), "candidate_ids": problem_id[cand][:100].tolist(),
            "expected_false_among_labelled": float(r.lfdr[lab].sum()),
            "method": r.method if confirmation is None else
            r.method.replace("Bonferroni over problems at alpha/2",
                             "confirmation of the followed-up problems on fresh samples at alpha/(2m)"),
            "confirmation": confirmation,
        }
    cols["candidate"] = candidate
    cols["established"] = established
    block["plan"], cols["n_establish_base"], cols["n_establish_tuned"] = _plan(
        candidate, c0, n0, c1, n1, budget, basin_budget, zeta, alpha)
    block["alpha"] = alpha
    return block, cols


def _plan(candidate, c0, n0, c1, n1, budget, basin_budget, zeta, alpha) -> tuple[dict | None, np.ndarray, np.ndarray]:
    """(plan, n_establish_base, n_establish_tuned): fresh samples per candidate and model that would
    establish it in a follow-up at alpha/(2m) (0 for non-candidates), and the command to run."""
    sel = candidate != ""
    m = int(sel.sum())
    need0 = np.zeros(len(candidate))
    need1 = np.zeros(len(candidate))
    if not m:
        return None, need0, need1
    level = confirmation_level(alpha, m)
    need0[sel] = samples_to_close(c0[sel], n0[sel], budget, basin_budget, zeta, level)
    need1[sel] = samples_to_close(c1[sel], n1[sel], budget, basin_budget, zeta, level)
    # a side that is already decided at that level still needs fresh samples in stage 2
    need0[sel] = np.where(need0[sel] == 0, n0[sel], need0[sel])
    need1[sel] = np.where(need1[sel] == 0, n1[sel], need1[sel])
    fin = np.isfinite(need0) & np.isfinite(need1) & sel
    both = np.maximum(need0, need1)[fin]
    labels = sorted({CANDIDATE_LABEL[d] for d in candidate[sel]})
    return {
        "candidates": m, "level": level, "budget": budget, "labels": labels,
        "samples_per_problem_median": float(np.median(both)) if both.size else None,
        "samples_per_problem_max": float(both.max()) if both.size else None,
        "undecidable": int((sel & ~fin).sum()),
        "how": (f"for the base and the tuned model: supportscope sample --model MODEL --name NAME <the run's task "
                f"and decoding options> --adaptive --budget {budget} --alpha {alpha:g} --max-n N "
                f"--problems-from OUT/per_problem.parquet --label {labels[0]} --out RUN"
                + (f" (and again with --label {labels[1]} into another --out)" if len(labels) > 1 else "")
                + "; then analyze RUN again"),
    }, need0, need1
