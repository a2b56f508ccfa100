"""Summary blocks that need per-sample rows (issue 18): ``answers``, ``provenance``, ``verifier_agreement``.

:func:`sample_blocks` takes the per-sample rows behind an analysis (a run directory's samples, or a
graded per-sample file), the analysis' summary and per-problem table, and returns the new summary
blocks and the per-problem table with answer columns appended (existing columns unchanged, in
order). Only the analysed problems and the two models are used. A check whose input is missing
or unusable is left out with a note in ``notes`` (never a half block):

* ``answers`` (:func:`supportscope.analysis.answer_stats.answer_stats`): per model the number of
  problems, mean distinct answers, mean answer entropy (nats), pooled maj@k beside pass@k at the
  analysis' k list, and the problems marked guessable; per-problem columns ``distinct_M``,
  ``entropy_M``, ``maj_at_{k}_M`` (k: the largest of the k list) and ``guessable_M``, M = base, tuned.
* ``provenance`` (:func:`supportscope.analysis.provenance.provenance_from_summary`): ``to_dict()``.
* ``verifier_agreement`` (only with both ``correct_math`` and ``correct_exact``): the primary
  verifier is the one the ``correct`` column equals (default ``correct_math``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.analysis.answer_stats import answer_stats
from supportscope.analysis.provenance import provenance_from_summary
from supportscope.analysis.verifier_agreement import verifier_agreement_from_summary

__all__ = ["BLOCKS", "VERIFIER_COLUMNS", "sample_blocks"]

#: The summary keys this module may add, in order.
BLOCKS = ("answers", "provenance", "verifier_agreement")
#: The two verifier columns of ``supportscope grade``.
VERIFIER_COLUMNS = ("correct_math", "correct_exact")


def _mean(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def _answers(samples: pa.Table, summary: Mapping, reference: Mapping[str, str] | None, ids: list[str]):
    """The ``answers`` block and the per-problem columns."""
    ks = [int(r["k"]) for r in summary["passk"]]
    st = answer_stats(samples, reference=reference, k=ks, alpha=float(summary["budget"]["alpha"]))
    block = {"k": ks, "alpha": st.alpha, "reference": reference is not None, "models": {}}
    cols: dict[str, pa.Array] = {}
    kmax = max(ks)
    for role in ("base", "tuned"):
        name = str(summary[role])
        sel = st.model == name
        row = {str(p): i for i, p in enumerate(st.problem_id[sel])}
        idx = np.array([row[p] for p in ids], dtype=np.int64)
        pick = {k: np.asarray(v)[sel][idx] for k, v in (("distinct", st.distinct), ("entropy", st.entropy),
                                                      ("guessable", st.guessable), ("q", st.chance_q))}
        pas, maj = st.pass_at_k[sel][idx], st.maj_at_k[sel][idx]
        block["models"][role] = {
            "model": name, "problems": len(ids), "mean_distinct": _mean(pick["distinct"]),
            "mean_entropy": _mean(pick["entropy"]),
            "no_answer_samples": int(st.no_answer[sel].sum()), "samples": int(st.n[sel].sum()),
            "passk": [{"k": k, "pass": _mean(pas[:, j]), "maj": _mean(maj[:, j])} for j, k in enumerate(ks)],
            "n_guessable": int(pick["guessable"].sum()), "n_tested": int(np.isfinite(pick["q"]).sum()),
        }
        cols[f"distinct_{role}"] = pa.array(pick["distinct"], pa.int64())
        cols[f"entropy_{role}"] = pa.array(pick["entropy"], pa.float64())
        cols[f"maj_at_{kmax}_{role}"] = pa.array(maj[:, ks.index(kmax)], pa.float64())
        cols[f"guessable_{role}"] = pa.array(pick["guessable"], pa.bool_())
    return block, cols


def _primary(samples: pa.Table) -> str:
    """The verifier column the ``correct`` column equals (default ``correct_math``)."""
    if "correct" in samples.column_names:
        ok = pc.cast(samples["correct"], pa.int64())
        for col in VERIFIER_COLUMNS:
            if pc.all(pc.equal(ok, pc.cast(samples[col], pa.int64()))).as_py():
                return col
    return VERIFIER_COLUMNS[0]


def _restrict(samples: pa.Table, summary: Mapping, ids: list[str]) -> pa.Table:
    models = pa.array([str(summary["base"]), str(summary["tuned"])], pa.string())
    keep = pc.and_(pc.is_in(pc.cast(samples["model"], pa.string()), value_set=models),
                   pc.is_in(pc.cast(samples["problem_id"], pa.string()), value_set=pa.array(ids, pa.string())))
    return samples.filter(keep)


def sample_blocks(samples: pa.Table, summary: Mapping, per_problem: pa.Table,
                  reference: Mapping[str, str] | None = None) -> tuple[dict, pa.Table, list[str]]:
    """(new summary blocks, per_problem with the answer columns appended, notes) from per-sample rows
    (see the module docstring). ``reference``: problem_id -> reference answer, when known."""
    ids = [str(p) for p in per_problem["problem_id"].to_pylist()]
    samples = _restrict(samples, summary, ids)
    blocks: dict = {}
    notes: list[str] = []
    have = {str(m) for m in samples["model"].to_pylist()} if samples.num_rows else set()
    missing = [str(summary[r]) for r in ("base", "tuned") if str(summary[r]) not in have]
    if missing:
        notes.append(f"per-sample rows lack model(s) {', '.join(missing)}: answers, provenance and verifier "
                     "agreement not computed")
        return blocks, per_problem, notes
    try:
        block, cols = _answers(samples, summary, reference, ids)
    except (ValueError, KeyError) as e:
        notes.append(f"answer statistics not computed: {e}")
    else:
        blocks["answers"] = block
        for name, arr in cols.items():
            per_problem = per_problem.append_column(name, arr)
    try:
        blocks["provenance"] = provenance_from_summary(samples, summary).to_dict()
    except ValueError as e:
        notes.append(f"provenance not checked: {e}")
    if all(c in samples.column_names for c in VERIFIER_COLUMNS):
        primary = _primary(samples)
        alternative = next(c for c in VERIFIER_COLUMNS if c != primary)
        try:
            va = verifier_agreement_from_summary(samples, per_problem, summary, primary=primary,
                                                 alternative=alternative)
        except ValueError as e:
            notes.append(f"verifier agreement not computed: {e}")
        else:
            blocks["verifier_agreement"] = va.to_dict()
    return blocks, per_problem, notes
