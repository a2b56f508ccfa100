"""Choosing problems of a task from a table (``sample --problems-from F [--label L]``).

The table is any Parquet or CSV file with a ``problem_id`` column, typically the
``per_problem.parquet`` that ``analyze`` writes. ``--label L`` keeps the rows whose ``label`` column
equals L; the two special labels ``created-candidate`` and ``lost-candidate`` keep the rows whose
``candidate`` column is ``"created"`` / ``"lost"`` (problems labelled created or lost that the
count-level test did not establish: what a confirmation stage samples again, ``scale.adaptive``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from supportscope.errors import InputError
from supportscope.tasks import Task
from supportscope.tasks.base import Problem

#: --label values that select on the ``candidate`` column instead of ``label``.
CANDIDATE_LABELS = {"created-candidate": "created", "lost-candidate": "lost"}

_FIX_FILE = "pass the per_problem.parquet (or .csv) that `supportscope analyze` writes"


def _read_table(path: Path, given: str) -> pa.Table:
    if not path.is_file():
        raise InputError(given, "no such file" if not path.exists() else "is not a file", _FIX_FILE)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            # every column as text: problem ids like "007" must not become numbers
            return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                column_types={"problem_id": pa.string(), "label": pa.string(), "candidate": pa.string()}))
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(given, f"cannot be read as {suffix[1:]} ({' '.join(str(e).split())[:120]})",
                         _FIX_FILE) from None
    raise InputError(given, f"has the extension {suffix or '(none)'!r}, not .parquet or .csv", _FIX_FILE)


def _text(col: pa.ChunkedArray) -> list[str | None]:
    return [None if v is None else str(v) for v in col.to_pylist()]


def select_problems(task_problems: list[Problem], path: str | Path, label: str | None = None) -> list[Problem]:
    """The problems of ``task_problems`` named in the table at ``path`` (Parquet or CSV with a
    ``problem_id`` column), restricted by ``label`` (see the module docstring), in task order.

    Raises:
        InputError: a missing or unreadable file, no ``problem_id`` column, no ``label`` /
            ``candidate`` column for ``label``, no row selected, or an id that is not in the task.
    """
    given = str(path)
    table = _read_table(Path(path), given)
    if "problem_id" not in table.column_names:
        raise InputError(given, f"has no problem_id column (columns: {', '.join(table.column_names[:8]) or 'none'})",
                         _FIX_FILE)
    ids = _text(table.column("problem_id"))
    keep = [True] * len(ids)
    if label is not None:
        column, value = ("candidate", CANDIDATE_LABELS[label]) if label in CANDIDATE_LABELS else ("label", label)
        if column not in table.column_names:
            fix = ("use an analysis that marks candidates (per_problem.parquet of a recent `analyze`)"
                   if column == "candidate" else
                   "use the per_problem.parquet of `analyze`, or leave out --label")
            raise InputError(given, f"has no {column} column for --label {label!r}", fix)
        values = _text(table.column(column))
        keep = [v == value for v in values]
        if not any(keep):
            seen = sorted({v for v in values if v})
            shown = ", ".join(repr(v) for v in seen[:8]) or "none"
            raise InputError(given, f"no row has {column} {value!r} (values: {shown})",
                             "choose another --label, or there is nothing to follow up")
    by_id = {p.id: i for i, p in enumerate(task_problems)}
    chosen: set[int] = set()
    for row, (pid, k) in enumerate(zip(ids, keep)):
        if not k:
            continue
        if pid is None or pid not in by_id:
            raise InputError(given, f"problem_id {pid!r} is not a problem of the task "
                             f"({len(task_problems)} problems)",
                             "sample with the --tasks, --limit and --task-seed of the run the table comes from",
                             row=row)
        chosen.add(by_id[pid])
    if not chosen:
        raise InputError(given, "selects no problems (the table has no rows)", _FIX_FILE)
    return [task_problems[i] for i in sorted(chosen)]


class SubsetTask:
    """A task restricted to some of its problems (same spec, verifier and description)."""

    def __init__(self, task: Task, problems: list[Problem]) -> None:
        self.task = task
        self.name = task.name
        self.spec = task.spec
        self._problems = list(problems)

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def verify(self, problem: Problem, completion: str) -> float:
        return self.task.verify(problem, completion)

    def describe(self) -> dict:
        return {**self.task.describe(), "subset": len(self._problems)}


__all__ = ["CANDIDATE_LABELS", "SubsetTask", "select_problems"]
