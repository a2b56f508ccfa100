"""Venn sets and Invisible-Leash support metrics at one common budget k (DESIGN.md section 3).

Both models are compared at k = min over problems of min(n_base_i, n_tuned_i): the Venn sets are
the expected sets from per-problem unbiased pass@k (`stats.leash.venn_at_k`), the support metrics
SRR, NDR, NSCR, SDS (Wu et al. 2025, "The Invisible Leash", arXiv 2507.14843;
`stats.leash.leash_metrics`) are computed from those counts, and their intervals come from the
paired bootstrap over problems. Taking each model at its own n instead compares different budgets:
with the same true p, base n = 512 against tuned n = 64 shows dozens of "base only" problems and a
"significant" negative NSCR that is only the base's larger budget.
"""

from __future__ import annotations

import numpy as np

from supportscope.stats import PairedBootstrap, leash_metrics, percentile_interval
from supportscope.stats.leash import venn_at_k

LEASH_NAMES = ("SRR", "NDR", "NSCR", "SDS")


def support_sets(problem_id, c0, n0, c1, n1, boot: PairedBootstrap, alpha: float) -> tuple[dict, dict]:
    """Venn summary and leash summary at the common budget k = min_i min(n0_i, n1_i).

    With a_i, b_i the unbiased pass@k of base and tuned on problem i, the sets are
    P = sum a_i b_i (both), S = sum a_i (1 - b_i) (base only), E = sum (1 - a_i) b_i (tuned only),
    neither = sum (1 - a_i)(1 - b_i); with equal n everywhere (k = n) they are the 0/1 sets of
    "solved at least once" and every number equals the former k = n summary.

    Args:
        problem_id: ids, shape [Q] (array-like, indexable by an integer array).
        c0, n0, c1, n1: base and tuned successes and samples per problem, shape [Q].
        boot: the analysis' paired bootstrap over the Q problems (``boot.map`` maps weight chunks
            w [b, Q] to replicate rows), so the intervals pair with every other statistic.
        alpha: 1 - confidence level of the percentile intervals.

    Returns:
        (venn, leash):
        venn = {"both", "base_only", "tuned_only", "neither": counts (int when k = n for every
        problem and model, else float expected counts), "base_only_ids", "tuned_only_ids",
        "neither_ids": ids of the problems whose membership probability exceeds 1/2 (all of the
        set when counts are whole), "k": the common budget, "expected": True when some n_i > k};
        leash = {"SRR", "NDR", "NSCR", "SDS": {"value", "lo", "hi"}}.
    """
    v = venn_at_k(c0, n0, c1, n1)
    ids = np.asarray(problem_id)
    venn_out = {
        "both": v.both, "base_only": v.base_only, "tuned_only": v.tuned_only, "neither": v.neither,
        "base_only_ids": ids[v.base_only_idx].tolist(),
        "tuned_only_ids": ids[v.tuned_only_idx].tolist(),
        "neither_ids": ids[v.neither_idx].tolist(),
        "k": v.k,
        "expected": v.expected,
    }
    point = leash_metrics(v.both, v.tuned_only, v.base_only)
    pb, pe, ps = v.p_both, v.p_tuned_only, v.p_base_only

    def leash_chunk(w: np.ndarray) -> np.ndarray:
        w = w.astype(np.float64)
        m = leash_metrics(w @ pb, w @ pe, w @ ps)
        return np.stack([m[x] for x in LEASH_NAMES], axis=1)

    reps = boot.map(leash_chunk)
    leash_out = {}
    for j, name in enumerate(LEASH_NAMES):
        lo, hi = percentile_interval(reps[:, j], alpha)
        leash_out[name] = {"value": float(point[name]), "lo": float(lo), "hi": float(hi)}
    return venn_out, leash_out
