"""Writers of analysis outputs (JSON, Parquet + CSV, text), each through the one atomic writer
(:func:`supportscope.atomic.atomic_write`).

A failed or interrupted run never leaves a half-written file and never clobbers the results of
an earlier run with partial ones: each file is either the old one or the complete new one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from supportscope.atomic import atomic_write


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text with "\\n" line ends, written atomically."""
    atomic_write(path, text.encode("utf-8"))


def write_json(path: Path, obj: dict) -> None:
    """JSON with numpy scalars converted; NaN -> null, +-inf -> "inf"/"-inf" (valid JSON)."""
    write_text_atomic(path, json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


def write_table(path_stem: Path, table: pa.Table) -> list[Path]:
    """Write `table` as STEM.parquet and STEM.csv; returns both paths."""
    stem = Path(path_stem)
    pq_path, csv_path = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    for path, write in ((pq_path, pq.write_table), (csv_path, pacsv.write_csv)):
        sink = pa.BufferOutputStream()
        write(table, sink)
        atomic_write(path, sink.getvalue().to_pybytes())
    return [pq_path, csv_path]
