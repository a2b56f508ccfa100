"""Writers of analysis outputs (JSON, Parquet + CSV, text).

The ``*_bytes`` helpers render a file's bytes in memory, so that a workflow can render every
file of an output set first and then write them all or nothing with
:func:`supportscope.atomic.write_set` (what ``analyze``, ``report`` and ``audit-data`` do). The
``write_*`` functions write one file each through the one atomic writer
(:func:`supportscope.atomic.atomic_write`): each file is either the old one or the complete new one.
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

__all__ = ["csv_bytes", "json_bytes", "parquet_bytes", "table_files", "write_json", "write_table",
           "write_text_atomic"]


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


def json_bytes(obj: dict) -> bytes:
    """JSON with numpy scalars converted; NaN -> null, +-inf -> "inf"/"-inf" (valid JSON), UTF-8."""
    return (json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n").encode("utf-8")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def table_files(stem: str, table: pa.Table) -> dict[str, bytes]:
    """``{STEM.parquet: ..., STEM.csv: ...}``: the two files of a table, for an output set."""
    return {f"{stem}.parquet": parquet_bytes(table), f"{stem}.csv": csv_bytes(table)}


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text with "\\n" line ends, written atomically."""
    atomic_write(path, text.encode("utf-8"))


def write_json(path: Path, obj: dict) -> None:
    """JSON as :func:`json_bytes`, written atomically."""
    atomic_write(path, json_bytes(obj))


def write_table(path_stem: Path, table: pa.Table) -> list[Path]:
    """Write `table` as STEM.parquet and STEM.csv (each atomically); returns both paths."""
    stem = Path(path_stem)
    paths = []
    for name, data in table_files(stem.with_suffix("").name, table).items():
        atomic_write(stem.parent / name, data)
        paths.append(stem.parent / name)
    return paths
