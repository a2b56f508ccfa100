"""How much of an analysis rests on samples where two verifiers disagree.

``supportscope grade`` scores every sample with two verifiers (columns ``correct_math`` and
``correct_exact`` by default) and marks where they differ. A per-problem label (elicited, created,
lost, ...) is decided from the counts of one of them; if the samples the verifiers disagree on
were scored by the other, the counts change and the label may change with them. This module

1. counts, per label, the problems whose samples (base or tuned) include a disagreement, and those
   samples;
2. recomputes every label from the counts under the primary verifier and under three
   alternatives -- the base's disagreeing samples scored by the other verifier, the tuned's, and
   both (which is the other verifier's counts for both models) -- with :func:`labels_from_counts`,
   the rule ``analyze`` uses (``analysis.compare._label``: Clopper-Pearson or anytime-valid
   regimes at K, Fisher or confidence-sequence comparison, ``analysis.labels.label_problems``);
3. flags each problem that is, or under some alternative becomes, ``created`` or ``lost`` and
   whose label is not the same under all four: a creation (or loss) claim that depends on the
   verifier.

Call :func:`verifier_agreement_from_summary` with the graded samples and the outputs of
``analyze`` (per_problem.parquet and summary.json), or :func:`verifier_agreement` with the
settings spelled out. Uses numpy and pyarrow only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.analysis.labels import CREATED, LOST, label_counts

__all__ = ["VerifierAgreement", "labels_from_counts", "verifier_agreement", "verifier_agreement_from_summary"]

#: The alternatives, by which model's disagreeing samples are scored by the other verifier.
ALTERNATIVES = ("base", "tuned", "both")


def labels_from_counts(c0, n0, c1, n1, K: int, *, basin_budget: int = 8, zeta: float = 0.05,
                       alpha: float = 0.05, anytime: bool = False) -> np.ndarray:
    """The per-problem labels ``analyze`` gives base counts ``c0`` of ``n0`` and tuned ``c1`` of ``n1`` at
    audit budget ``K`` (object array of str): :func:`supportscope.analysis.labels.label_counts`."""
    return label_counts(c0, n0, c1, n1, K, basin_budget, zeta, alpha, anytime).label


@dataclass(frozen=True)
class VerifierAgreement:
    """What :func:`verifier_agreement` finds.

    per_label: label -> ``{"problems", "problems_with_disagreement", "samples", "disagreeing_samples"}``
        (samples of both models), over the labels the analysis gave.
    flips: one dict per flagged problem: ``problem_id``, ``label`` (the analysis'), ``label_recomputed``
        (from the primary verifier's counts), ``label_if_base_rescored``, ``label_if_tuned_rescored``,
        ``label_if_both_rescored``, ``disagree_base``, ``disagree_tuned`` (disagreeing samples),
        ``c_base``, ``c_base_alt``, ``c_tuned``, ``c_tuned_alt``, ``n_base``, ``n_tuned``.
    recompute_mismatch: problem ids whose label recomputed from the primary counts differs from the
        analysis' (other settings, or counts from another file): their flags are less reliable.
    """

    primary: str
    alternative: str
    per_label: dict[str, dict[str, int]]
    flips: list[dict] = field(default_factory=list)
    recompute_mismatch: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"primary": self.primary, "alternative": self.alternative, "per_label": self.per_label,
                "flips": self.flips, "recompute_mismatch": self.recompute_mismatch}


def _model_counts(samples: pa.Table, model: str, ids: list[str], primary: str, alternative: str) -> dict:
    """Per problem of ``ids``: n, successes under each verifier, disagreeing samples (int64 arrays)."""
    t = samples.filter(pc.equal(samples["model"], model))
    if t.num_rows == 0:
        raise ValueError(f"no samples of model {model!r} in the graded samples")
    a = pc.cast(t[primary], pa.int64())
    b = pc.cast(t[alternative], pa.int64())
    t = pa.table({"problem_id": pc.cast(t["problem_id"], pa.string()), "a": a, "b": b,
                  "d": pc.cast(pc.not_equal(a, b), pa.int64())})
    g = t.group_by("problem_id").aggregate([("a", "sum"), ("b", "sum"), ("d", "sum"), ("a", "count")])
    where = {pid: i for i, pid in enumerate(g["problem_id"].to_pylist())}
    missing = [p for p in ids if p not in where]
    if missing:
        raise ValueError(f"problem {missing[0]!r} has no samples of model {model!r} in the graded samples "
                         f"({len(missing)} problems missing)")
    rows = np.array([where[p] for p in ids], dtype=np.int64)
    return {k: np.asarray(g[col].to_numpy(zero_copy_only=False), dtype=np.int64)[rows]
            for k, col in (("c", "a_sum"), ("alt", "b_sum"), ("dis", "d_sum"), ("n", "a_count"))}


def _given_labels(per_problem: pa.Table | Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    if isinstance(per_problem, pa.Table):
        ids = [str(p) for p in per_problem["problem_id"].to_pylist()]
        return ids, np.asarray(per_problem["label"].to_pylist(), dtype=object)
    ids = [str(p) for p in per_problem]
    return ids, np.asarray([per_problem[p] for p in per_problem], dtype=object)


def verifier_agreement(samples: pa.Table, per_problem: pa.Table | Mapping[str, str], *, base: str, tuned: str,
                       K: int, basin_budget: int = 8, zeta: float = 0.05, alpha: float = 0.05,
                       anytime: bool = False, primary: str = "correct_math",
                       alternative: str = "correct_exact") -> VerifierAgreement:
    """Which labels rest on samples the two verifiers disagree on (see the module docstring).

    Args:
        samples: the graded rows of ``supportscope grade`` for both models (``problem_id, model`` and
            the 0/1 columns ``primary`` and ``alternative``).
        per_problem: the analysis' per-problem table (``problem_id``, ``label``: per_problem.parquet)
            or a mapping problem id -> label.
        base, tuned: the two values of ``model``.
        K, basin_budget, zeta, alpha, anytime: the analysis' settings (summary.json's ``budget`` block).
        primary: the column the analysis counted (``correct`` is the same as the primary verifier's).
        alternative: the other verifier's column.

    Raises:
        ValueError: a column, a model or a problem's samples are missing.
    """
    for col in ("problem_id", "model", primary, alternative):
        if col not in samples.column_names:
            raise ValueError(f"the graded samples have no column {col!r} (found {samples.column_names})")
    ids, given = _given_labels(per_problem)
    b = _model_counts(samples, base, ids, primary, alternative)
    t = _model_counts(samples, tuned, ids, primary, alternative)

    def labels(c0, c1):
        return labels_from_counts(c0, b["n"], c1, t["n"], K, basin_budget=basin_budget, zeta=zeta, alpha=alpha,
                                  anytime=anytime)

    now = labels(b["c"], t["c"])
    alt = {"base": labels(b["alt"], t["c"]), "tuned": labels(b["c"], t["alt"]), "both": labels(b["alt"], t["alt"])}
    dis = b["dis"] + t["dis"]
    per_label = {}
    for lab in dict.fromkeys(given.tolist()):
        m = given == lab
        per_label[str(lab)] = {"problems": int(m.sum()), "problems_with_disagreement": int((m & (dis > 0)).sum()),
                               "samples": int((b["n"] + t["n"])[m].sum()), "disagreeing_samples": int(dis[m].sum())}
    claims = (CREATED, LOST)
    flips = []
    for i, pid in enumerate(ids):
        states = [now[i]] + [alt[k][i] for k in ALTERNATIVES]
        if len(set(states)) > 1 and (given[i] in claims or any(s in claims for s in states)):
            flips.append({"problem_id": pid, "label": str(given[i]), "label_recomputed": str(now[i]),
                          **{f"label_if_{k}_rescored": str(alt[k][i]) for k in ALTERNATIVES},
                          "disagree_base": int(b["dis"][i]), "disagree_tuned": int(t["dis"][i]),
                          "c_base": int(b["c"][i]), "c_base_alt": int(b["alt"][i]), "n_base": int(b["n"][i]),
                          "c_tuned": int(t["c"][i]), "c_tuned_alt": int(t["alt"][i]), "n_tuned": int(t["n"][i])})
    mismatch = [pid for pid, g, r in zip(ids, given, now) if g != r]
    return VerifierAgreement(primary, alternative, per_label, flips, mismatch)


def verifier_agreement_from_summary(samples: pa.Table, per_problem: pa.Table, summary: Mapping, *,
                                    primary: str = "correct_math",
                                    alternative: str = "correct_exact") -> VerifierAgreement:
    """:func:`verifier_agreement` with the models and settings of an analysis' ``summary`` (summary.json:
    ``base``, ``tuned`` and the ``budget`` block's ``K``, ``basin_budget``, ``zeta``, ``alpha``, ``intervals``)."""
    bud = summary["budget"]
    return verifier_agreement(samples, per_problem, base=summary["base"], tuned=summary["tuned"], K=int(bud["K"]),
                              basin_budget=int(bud["basin_budget"]), zeta=float(bud["zeta"]),
                              alpha=float(bud["alpha"]), anytime="anytime" in str(bud.get("intervals", "")),
                              primary=primary, alternative=alternative)
