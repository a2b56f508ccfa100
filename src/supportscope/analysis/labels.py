"""Per-problem labels of DESIGN.md section 3: elicited / created / lost / unchanged / unsolved.

Inputs per problem: accessibility at budget K of base and tuned (1 accessible: CP lower bound
>= eps(K); 0 inaccessible: CP upper bound < eps(K); -1 undetermined) and the one-sided Fisher
p-values of tuned vs base success.

| base \\ tuned  | accessible                                 | inaccessible |
|---------------|--------------------------------------------|--------------|
| accessible    | elicited (significantly higher),           | lost         |
|               | weakened (significantly lower), else unchanged |          |
| inaccessible  | created                                    | unsolved     |

"weakened" is not in DESIGN.md's table; a significant drop between two accessible states is
neither "unchanged" nor "lost", so it gets its own label (DESIGN: follow the user's expectation).
Significance: two-sided central Fisher test at level alpha, i.e. a one-sided p-value <= alpha/2.
An undetermined accessibility leaves every label its possible states allow: a single one is kept,
several give "undetermined" with the candidates listed in `possible` (e.g. "created|unsolved").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ELICITED, CREATED, LOST, UNCHANGED, WEAKENED, UNSOLVED, UNDETERMINED = (
    "elicited", "created", "lost", "unchanged", "weakened", "unsolved", "undetermined")
LABELS = (ELICITED, CREATED, LOST, UNCHANGED, WEAKENED, UNSOLVED, UNDETERMINED)


def label_problems(acc_base: np.ndarray, acc_tuned: np.ndarray, p_greater: np.ndarray | None,
                   p_less: np.ndarray | None, alpha: float, up: np.ndarray | None = None,
                   down: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (label, possible): object arrays of str, vectorised over problems.

    ``up``/``down`` (bool per problem: tuned significantly higher / lower) replace the Fisher
    p-values when given, e.g. the anytime-valid comparison of :func:`cs_difference`."""
    acc_base, acc_tuned = np.asarray(acc_base), np.asarray(acc_tuned)
    up = np.asarray(p_greater) <= alpha / 2 if up is None else np.asarray(up, dtype=bool)
    down = np.asarray(p_less) <= alpha / 2 if down is None else np.asarray(down, dtype=bool)
    bit = {lab: np.int64(1 << i) for i, lab in enumerate(LABELS)}
    both_bits = np.where(up, bit[ELICITED], np.where(down, bit[WEAKENED], bit[UNCHANGED]))
    cells = {(0, 1): bit[CREATED], (1, 0): bit[LOST], (0, 0): bit[UNSOLVED], (1, 1): both_bits}
    mask = np.zeros(len(acc_base), dtype=np.int64)
    for (s0, s1), bits in cells.items():
        ok = ((acc_base == s0) | (acc_base == -1)) & ((acc_tuned == s1) | (acc_tuned == -1))
        mask |= np.where(ok, bits, 0)
    uniq, inv = np.unique(mask, return_inverse=True)
    names = ["|".join(lab for lab in LABELS if m & bit[lab]) for m in uniq]
    possible = np.asarray(names, dtype=object)[inv]
    label = np.asarray([UNDETERMINED if "|" in s else s for s in names], dtype=object)[inv]
    return label, possible


def could_be(label: np.ndarray, possible: np.ndarray, what: str) -> np.ndarray:
    """Undetermined problems that ``what`` (e.g. "created") is among the possible labels of (bool per problem)."""
    return np.array([what in s.split("|") for s in possible], dtype=bool) & (label == UNDETERMINED)


def cs_difference(c0, n0, c1, n1, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(up, down): tuned significantly higher / lower than base, valid under optional stopping.

    Each model's anytime-valid confidence sequence at level 1 - alpha/2
    (``stats.sequences.confidence_sequence``); both cover their p at every n with probability
    >= 1 - alpha (union bound), so "lo_tuned > hi_base" implies p_tuned > p_base at level alpha,
    whatever rule chose n. Used instead of the Fisher test for adaptively sampled runs.
    """
    from supportscope.stats.sequences import confidence_sequence

    lo0, hi0 = confidence_sequence(c0, n0, alpha / 2)
    lo1, hi1 = confidence_sequence(c1, n1, alpha / 2)
    return np.asarray(lo1 > hi0), np.asarray(hi1 < lo0)


def created_from(label: np.ndarray, base_regime: np.ndarray) -> np.ndarray:
    """For created problems: "barrier" (base p > 0 certified), "nothing" (base p = 0 certified,
    singular) or "unknown" (base inaccessible, barrier or singular not told apart); "" otherwise."""
    out = np.full(len(label), "", dtype=object)
    is_c = label == CREATED
    out[is_c] = "unknown"
    out[is_c & (base_regime == "barrier")] = "barrier"
    out[is_c & (base_regime == "singular")] = "nothing"
    return out


@dataclass(frozen=True)
class LabelRule:
    """Everything :func:`label_counts` decides per problem: each model's regimes at K (``r0``, ``r1``:
    stats.RegimeResult), the one-sided Fisher p-values (NaN when anytime), the anytime difference
    bounds (None unless anytime), and the labels with their possible states."""

    r0: Any
    r1: Any
    p_gt: np.ndarray
    p_lt: np.ndarray
    up: np.ndarray | None
    down: np.ndarray | None
    label: np.ndarray
    possible: np.ndarray


def label_counts(c0, n0, c1, n1, K: int, basin_budget: int, zeta: float, alpha: float,
                 anytime: bool = False) -> LabelRule:
    """The labels of base counts ``c0``/``n0`` and tuned ``c1``/``n1`` at audit budget ``K``: each
    model's accessibility at K (stats.classify: Clopper-Pearson, or the confidence sequences when
    ``anytime``), then :func:`label_problems` with the two-sided Fisher test (or the anytime
    difference bounds). The one rule ``analyze`` uses (analysis.compare) and anything that
    relabels counts (analysis.verifier_agreement)."""
    from supportscope.stats import classify, two_proportion_pvalues

    c0, n0, c1, n1 = (np.asarray(a, dtype=np.int64) for a in (c0, n0, c1, n1))
    interval = "cs" if anytime else "cp"
    r0 = classify(c0, n0, K, basin_budget, zeta, alpha, interval=interval)
    r1 = classify(c1, n1, K, basin_budget, zeta, alpha, interval=interval)
    if anytime:
        up, down = cs_difference(c0, n0, c1, n1, alpha)
        p_gt = p_lt = np.full(len(c0), np.nan)
    else:
        up = down = None
        p_gt, p_lt = two_proportion_pvalues(c0, n0, c1, n1)
    label, possible = label_problems(r0.accessible, r1.accessible, p_gt, p_lt, alpha, up, down)
    return LabelRule(r0, r1, p_gt, p_lt, up, down, label, possible)
