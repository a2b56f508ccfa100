"""Writing test rows as CSV, JSON Lines or Parquet files (shared by the records tests)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ["csv", "jsonl", "parquet"]


def write(path: Path, rows: list[dict]) -> Path:
    """Write dict rows as CSV (csv module), JSON Lines (json module) or Parquet (pyarrow); in
    Parquet a column mixing strings with other kinds becomes text."""
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(list(rows[0]))
            w.writerows([["" if v is None else v for v in r.values()] for r in rows])
    elif path.suffix in (".jsonl", ".ndjson"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        columns = {k: [r[k] for r in rows] for k in rows[0]}
        for k, vals in columns.items():
            if any(isinstance(v, str) for v in vals) and not all(isinstance(v, str) or v is None for v in vals):
                columns[k] = [None if v is None else str(v) for v in vals]
        pq.write_table(pa.table(columns), path)
    return path
