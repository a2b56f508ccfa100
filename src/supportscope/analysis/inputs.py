"""The two models' counts, aligned problem by problem (the input of `compare`).

`pair_models` picks the base and tuned rows out of a counts table (as returned by
`supportscope.io.load_counts`), checks that both cover the same problems, and aligns them.
Data problems raise `InputError` naming the file and line and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.errors import InputError


@dataclass(frozen=True)
class ModelCounts:
    """Per-problem success counts of one model: `correct[i]` successes in `n[i]` samples."""

    name: str
    problem_id: np.ndarray  # object array of str
    n: np.ndarray  # int64
    correct: np.ndarray  # int64
    source: np.ndarray | None = None  # object array: file of each row (for error messages)
    line: np.ndarray | None = None  # int64: line of each row in its file

    @classmethod
    def from_arrays(cls, name: str, problem_id, n, correct) -> "ModelCounts":
        """Build from plain sequences (Python API); validates like the file readers do."""
        pid = np.asarray([str(p) for p in problem_id], dtype=object)
        n = np.asarray(n)
        c = np.asarray(correct)
        if not (len(pid) == len(n) == len(c)):
            raise ValueError("problem_id, n and correct must have the same length")
        if not (np.issubdtype(n.dtype, np.integer) and np.issubdtype(c.dtype, np.integer)):
            raise ValueError("n and correct must be integer arrays")
        if (n < 1).any() or (c < 0).any() or (c > n).any():
            raise ValueError("counts need n >= 1 and 0 <= correct <= n")
        if len(set(pid)) != len(pid):
            raise ValueError(f"duplicate problem_id in model {name!r}")
        return cls(name, pid, n.astype(np.int64), c.astype(np.int64))

    def where(self, problem_index: int) -> tuple[str, int | None]:
        """(file, line) of one problem's row, for error messages."""
        if self.source is None:
            return (f"<model {self.name}>", None)
        return (str(self.source[problem_index]), int(self.line[problem_index]))


def model_counts(table: pa.Table, name: str, sources: list[str]) -> ModelCounts:
    """Rows of one model from a counts table; unknown name -> InputError listing the names found."""
    mask = pc.equal(table["model"], name)
    sub = table.filter(mask)
    if sub.num_rows == 0:
        found = sorted(set(table["model"].to_pylist()))
        shown = ", ".join(found[:10]) + (" ..." if len(found) > 10 else "")
        raise InputError(
            ", ".join(sources), f"no rows for model {name!r}; the model column holds: {shown}",
            "pass one of those names to --base/--tuned (or --base-file/--tuned-file for one file each)")
    return ModelCounts(
        name=name,
        problem_id=np.asarray(sub["problem_id"].to_pylist(), dtype=object),
        n=sub["n"].to_numpy().astype(np.int64),
        correct=sub["correct"].to_numpy().astype(np.int64),
        source=np.asarray(sub["source"].to_pylist(), dtype=object),
        line=sub["line"].to_numpy().astype(np.int64),
    )


@dataclass(frozen=True)
class PairedCounts:
    """Base and tuned counts on the same problems, in the same order."""

    problem_id: np.ndarray
    base: ModelCounts
    tuned: ModelCounts
    dropped_base_only: int = 0
    dropped_tuned_only: int = 0

    @property
    def c0(self) -> np.ndarray:
        return self.base.correct

    @property
    def n0(self) -> np.ndarray:
        return self.base.n

    @property
    def c1(self) -> np.ndarray:
        return self.tuned.correct

    @property
    def n1(self) -> np.ndarray:
        return self.tuned.n


def _take(m: ModelCounts, idx: np.ndarray) -> ModelCounts:
    return ModelCounts(
        m.name, m.problem_id[idx], m.n[idx], m.correct[idx],
        None if m.source is None else m.source[idx], None if m.line is None else m.line[idx])


def common_problems(models: list[ModelCounts]) -> tuple[list[ModelCounts], int]:
    """Every model restricted to the problems all of them have (in the first model's order), and
    how many problems were dropped from the union (--intersect with several tuned models)."""
    keep = set(models[0].problem_id.tolist())
    union = set(keep)
    for m in models[1:]:
        ids = set(m.problem_id.tolist())
        keep &= ids
        union |= ids
    out = []
    for m in models:
        idx = np.flatnonzero(np.fromiter((p in keep for p in m.problem_id), bool, len(m.problem_id)))
        out.append(_take(m, idx))
    return out, len(union) - len(keep)


def pair_models(base: ModelCounts, tuned: ModelCounts, intersect: bool = False) -> PairedCounts:
    """Align tuned to base's problem order. Different problem sets are an error unless `intersect`."""
    if base.name == tuned.name and base.source is not None and tuned.source is not None \
            and set(base.source) == set(tuned.source):
        raise InputError(", ".join(sorted(set(base.source))),
                         f"--base and --tuned both name model {base.name!r}",
                         "pass two different values of the model column")
    pos_t = {p: i for i, p in enumerate(tuned.problem_id)}
    in_both = np.fromiter((p in pos_t for p in base.problem_id), bool, len(base.problem_id))
    pos_b = set(base.problem_id)
    tuned_only = np.fromiter((p not in pos_b for p in tuned.problem_id), bool, len(tuned.problem_id))
    n_base_only, n_tuned_only = int((~in_both).sum()), int(tuned_only.sum())
    if (n_base_only or n_tuned_only) and not intersect:
        if n_base_only:
            i = int(np.flatnonzero(~in_both)[0])
            path, line = base.where(i)
            what = (f"problem {base.problem_id[i]!r} of base model {base.name!r} has no row for tuned "
                    f"model {tuned.name!r} ({n_base_only} base-only, {n_tuned_only} tuned-only problems)")
        else:
            i = int(np.flatnonzero(tuned_only)[0])
            path, line = tuned.where(i)
            what = (f"problem {tuned.problem_id[i]!r} of tuned model {tuned.name!r} has no row for base "
                    f"model {base.name!r} ({n_base_only} base-only, {n_tuned_only} tuned-only problems)")
        raise InputError(path, what, "evaluate both models on the same problems, or pass --intersect "
                         "to keep only the common ones", line=line)
    bi = np.flatnonzero(in_both)
    if len(bi) == 0:
        raise InputError(base.where(0)[0], f"models {base.name!r} and {tuned.name!r} share no problem_id",
                         "check that both files use the same problem ids")
    ti = np.fromiter((pos_t[p] for p in base.problem_id[bi]), np.int64, len(bi))
    b, t = _take(base, bi), _take(tuned, ti)
    return PairedCounts(b.problem_id, b, t, n_base_only, n_tuned_only)
