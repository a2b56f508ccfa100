"""Exact regimes and labels of organism problems, and how well estimated labels match them.

Inputs are exact success probabilities under the decoding distribution (``exact.exact_p``), so
nothing here is estimated. With eps(k) = 1 - zeta^(1/k) (DESIGN.md section 2):

    exact regime at K:  singular p = 0;  barrier 0 < p < eps(K);  tail eps(K) <= p < eps(k_b);
                        basin p >= eps(k_b)
    exact accessible:   p >= eps(K)

Exact labels (DESIGN.md section 3, with the "weakened" label of ``analysis.labels``):

| base \\ tuned | accessible                                              | inaccessible |
|--------------|---------------------------------------------------------|--------------|
| accessible   | elicited (p1 > p0), weakened (p1 < p0), unchanged (p1 = p0) | lost     |
| inaccessible | created                                                 | unsolved     |

An estimated label is a claim, and it is *consistent* with the truth when the claim holds:
created / lost / unsolved / elicited / weakened need the same exact label; "unchanged" (no
significant difference between two accessible states) claims only that both are accessible, so it
is consistent with an exact elicited, weakened or unchanged. "undetermined" claims nothing and is
left out of the agreement (it is counted separately). ``strict`` agreement (estimated == exact) is
reported too, so the lenient reading of "unchanged" is visible.

False-created rate = #(estimated created, exact not created) / #(exact not created): the per-problem
type-I error of "created", which the labelling keeps <= alpha (one-sided Clopper–Pearson bounds on
both models).

A trajectory (checkpoints of one training run, :func:`trajectory_point`) is summarised per checkpoint
by its exact p against the base's: mean p per family (= exact pass@1), exact pass@K =
mean_i [1 - (1 - p_i)^K] (the probability that K independent samples contain a success, averaged
over problems; Chen et al. 2021), the exact regime counts and the exact labels against the base with
the created / lost problem ids. No torch here.
"""

from __future__ import annotations

import numpy as np

from ..stats.bounds import eps

EXACT_LABELS = ("elicited", "weakened", "unchanged", "created", "lost", "unsolved")
ESTIMATED_LABELS = ("elicited", "weakened", "unchanged", "created", "lost", "unsolved", "undetermined")
_BOTH = {"elicited", "weakened", "unchanged"}


def exact_regime(p, budget: int, basin_budget: int = 8, zeta: float = 0.05) -> np.ndarray:
    """basin / tail / barrier / singular of exact probabilities ``p`` at audit budget ``budget``."""
    p = np.asarray(p, dtype=np.float64)
    eK, eb = eps(budget, zeta), eps(basin_budget, zeta)
    return np.where(p >= eb, "basin", np.where(p >= eK, "tail", np.where(p > 0, "barrier", "singular"))).astype(object)


def exact_labels(p0, p1, budget: int, zeta: float = 0.05) -> np.ndarray:
    """Exact label per problem from exact base and tuned probabilities (see the module docstring)."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    e = eps(budget, zeta)
    a0, a1 = p0 >= e, p1 >= e
    both = np.where(p1 > p0, "elicited", np.where(p1 < p0, "weakened", "unchanged"))
    return np.where(a0 & a1, both, np.where(a1, "created", np.where(a0, "lost", "unsolved"))).astype(object)


def consistent(estimated, exact) -> np.ndarray:
    """True where the estimated label's claim holds under the exact label; False for undetermined."""
    est, ex = np.asarray(estimated, dtype=object), np.asarray(exact, dtype=object)
    same = est == ex
    unchanged_ok = (est == "unchanged") & np.isin(ex, list(_BOTH))
    return (same | unchanged_ok) & (est != "undetermined")


def confusion(estimated, exact) -> dict:
    """Counts of (estimated, exact) pairs: {"rows": estimated labels, "cols": exact labels, "counts"}."""
    est, ex = np.asarray(estimated, dtype=object), np.asarray(exact, dtype=object)
    rows = list(ESTIMATED_LABELS) + sorted(set(est.tolist()) - set(ESTIMATED_LABELS))
    cols = list(EXACT_LABELS)
    counts = [[int(np.sum((est == r) & (ex == c))) for c in cols] for r in rows]
    return {"rows": rows, "cols": cols, "counts": counts}


def agreement(estimated, exact) -> dict:
    """Agreement on determined problems, strict agreement, false-created rate, and the confusion matrix."""
    est, ex = np.asarray(estimated, dtype=object), np.asarray(exact, dtype=object)
    det = est != "undetermined"
    ok = consistent(est, ex)
    not_created = ex != "created"
    false_created = (est == "created") & not_created
    n_det = int(det.sum())
    return {
        "n_problems": int(len(est)),
        "n_determined": n_det,
        "n_undetermined": int((~det).sum()),
        "n_consistent": int(ok.sum()),
        "agreement": float(ok.sum() / n_det) if n_det else None,
        "strict_agreement": float(((est == ex) & det).sum() / n_det) if n_det else None,
        "n_created_estimated": int((est == "created").sum()),
        "n_created_exact": int((ex == "created").sum()),
        "n_false_created": int(false_created.sum()),
        "false_created_rate": float(false_created.sum() / not_created.sum()) if not_created.any() else None,
        "n_missed_created": int(((ex == "created") & (est != "created") & det).sum()),
        "confusion": confusion(est, ex),
    }


def support_change(p0, p1, budget: int, zeta: float = 0.05, p0_raw=None) -> dict:
    """What happened to the base's exact singular problems (p0 = 0 under pi_D): how many left p = 0,
    how many became accessible at the budget, and the largest tuned p among them. With ``p0_raw``
    (the base's p under raw sampling), also the smallest raw p0 of those that became accessible: > 0
    means they were in the raw model's support (barrier raw) and only the truncation had cut them."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    sing = p0 == 0
    moved = sing & (p1 > 0)
    now = sing & (p1 >= eps(budget, zeta))
    out = {"singular_base": int(sing.sum()), "moved_off_zero": int(moved.sum()), "accessible_now": int(now.sum()),
           "max_p_tuned": float(p1[sing].max()) if sing.any() else None}
    if p0_raw is not None:
        raw = np.asarray(p0_raw, dtype=np.float64)
        out["min_raw_p0_accessible_now"] = float(raw[now].min()) if now.any() else None
        out["raw_singular_base"] = int((raw == 0).sum())
    return out


def exact_pass_at_k(p, k: int) -> float:
    """Exact pass@k of problems with exact success probabilities ``p``: mean_i [1 - (1 - p_i)^k]
    (k independent samples, at least one correct; Chen et al. 2021), computed as -expm1(k log1p(-p))
    so that small p keep their precision."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return float(np.mean(-np.expm1(k * np.log1p(-p)))) if len(p) else float("nan")


def trajectory_point(p0, p, families, budget: int, basin_budget: int = 8, zeta: float = 0.05,
                     problem_ids=None) -> dict:
    """Exact summary of one checkpoint with exact probabilities ``p`` against the base's ``p0``
    (same problems, same order; ``families`` per problem): ``p_exact_mean`` (overall and per family:
    the exact pass@1), ``pass_at_K_exact`` (overall and per family, :func:`exact_pass_at_k` at
    ``budget``), ``regimes_exact`` (counts of :func:`exact_regime`), ``labels_exact`` (counts of
    :func:`exact_labels` against the base at ``budget``), ``created`` / ``lost`` (their counts) and,
    with ``problem_ids``, ``created_ids`` / ``lost_ids``."""
    p0, p = np.asarray(p0, dtype=np.float64), np.asarray(p, dtype=np.float64)
    fam = np.asarray(families, dtype=object)
    if not (len(p0) == len(p) == len(fam)):
        raise ValueError(f"p0, p and families differ in length: {len(p0)}, {len(p)}, {len(fam)}")
    lab = exact_labels(p0, p, budget, zeta)
    reg = exact_regime(p, budget, basin_budget, zeta)
    fams = list(dict.fromkeys(fam.tolist()))
    out = {
        "p_exact_mean": float(p.mean()),
        "p_exact_mean_by_family": {f: float(p[fam == f].mean()) for f in fams},
        "pass_at_K_exact": exact_pass_at_k(p, budget),
        "pass_at_K_exact_by_family": {f: exact_pass_at_k(p[fam == f], budget) for f in fams},
        "regimes_exact": {r: int((reg == r).sum()) for r in ("basin", "tail", "barrier", "singular")},
        "labels_exact": {k: int((lab == k).sum()) for k in EXACT_LABELS},
        "created": int((lab == "created").sum()),
        "lost": int((lab == "lost").sum()),
    }
    if problem_ids is not None:
        ids = np.asarray(problem_ids, dtype=object)
        out["created_ids"] = ids[lab == "created"].tolist()
        out["lost_ids"] = ids[lab == "lost"].tolist()
    return out


__all__ = ["EXACT_LABELS", "ESTIMATED_LABELS", "exact_regime", "exact_labels", "consistent", "confusion",
           "agreement", "support_change", "exact_pass_at_k", "trajectory_point"]
