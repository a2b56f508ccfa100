"""The per-sample rows behind an analysis, for the answer, provenance and verifier-agreement blocks.

Two sources, tried in :func:`per_sample_rows`:

* a run directory (``analyse_and_write(run=store)``): its main-stage samples shards (follow-up
  shards left out, as in the counts) and the reference answers of its problems shards;
* result files that are per-sample tables with extra columns (:data:`MARKERS`, e.g. the output of
  ``supportscope grade``: ``answer``, ``correct_math``, ``correct_exact``, ``disagree``): read once
  more with pyarrow (.parquet, .csv, .jsonl), their ``prompt_hash`` and ``reference`` columns too
  (the provenance check compares them between the models; the first reference of each problem is
  the answer statistics' reference). Files without any marker column give nothing, so the outputs
  for counts files and plain samples files do not change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MARKERS", "file_columns", "per_sample_rows", "read_per_sample_file"]

#: Columns that mark a per-sample file worth reading again (``supportscope grade``'s output).
MARKERS = ("answer", "correct_math", "correct_exact", "disagree")
#: The columns every per-sample row needs.
NEEDED = ("problem_id", "model", "sample_idx", "correct")


def file_columns(path: Path) -> list[str] | None:
    """The column names of a .parquet/.csv/.jsonl file from its header (None: another format)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if suffix == ".csv":
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.readline()
        import csv

        return next(csv.reader([head]), [])
    if suffix == ".jsonl":
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        row = json.loads(line)
                    except ValueError:
                        return None
                    return list(row) if isinstance(row, dict) else None
    return None


def read_per_sample_file(path: Path) -> pa.Table:
    """The whole table of a .parquet/.csv/.jsonl per-sample file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"problem_id": pa.string(), "model": pa.string(), "answer": pa.string(),
                          "reference": pa.string(), "prompt_hash": pa.string()}))
    import pyarrow.json as pajson

    return pajson.read_json(path)


def _normalise(t: pa.Table) -> pa.Table:
    """problem_id, model as strings; the 0/1 verifier columns and correct as int64."""
    for col in ("problem_id", "model", "answer", "reference", "prompt_hash"):
        if col in t.column_names:
            t = t.set_column(t.column_names.index(col), col, pc.cast(t[col], pa.string()))
    for col in ("correct", "correct_math", "correct_exact"):
        if col in t.column_names:
            t = t.set_column(t.column_names.index(col), col, pc.cast(t[col], pa.int64()))
    return t


def _from_run(run, models=None) -> tuple[pa.Table | None, dict[str, str] | None]:
    from supportscope.store.counts import is_followup_key

    def wanted(rec):
        return not is_followup_key(rec["key"]) and (models is None or rec["model"] in models)

    parts = run.read_shards("samples", select=wanted)
    if not parts:
        return None, None
    samples = pa.concat_tables([t for _, t in parts])
    ref: dict[str, str] = {}
    for model in run.models("problems"):  # each model's own problems shards (the same problem in several)
        if models is not None and model not in models:
            continue
        problems = run.read("problems", model)
        for p, a in zip(problems["problem_id"].to_pylist(), problems["answer"].to_pylist()):
            if a is not None and str(a).strip():
                ref.setdefault(str(p), str(a))
    return samples, (ref or None)


def per_sample_rows(inputs: list[Path], run=None, models=None) -> tuple[pa.Table | None, dict[str, str] | None]:
    """(per-sample rows, problem_id -> reference answer or None) from the run directory ``run``
    (when given; only the shards of ``models``, when given) or else from the files among ``inputs`` that carry a :data:`MARKERS` column and
    :data:`NEEDED`; (None, None) when there are none."""
    if run is not None:
        return _from_run(run, None if models is None else set(models))
    tables = []
    for path in inputs:
        path = Path(path)
        cols = file_columns(path) if path.is_file() else None
        if not cols or not any(m in cols for m in MARKERS) or not all(c in cols for c in NEEDED):
            continue
        tables.append(_normalise(read_per_sample_file(path)))
    if not tables:
        return None, None
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    return table, _references(table)


def _references(table: pa.Table) -> dict[str, str] | None:
    """problem_id -> its first non-empty ``reference`` (None without the column or any value)."""
    if "reference" not in table.column_names:
        return None
    ref: dict[str, str] = {}
    for p, a in zip(table["problem_id"].to_pylist(), table["reference"].to_pylist()):
        if a is not None and str(a).strip():
            ref.setdefault(str(p), str(a))
    return ref or None
