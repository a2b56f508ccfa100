"""Atomic writers for analysis outputs: temp file in the target folder, then os.replace.

A failed or interrupted run never leaves a half-written file and never clobbers the results of
an earlier run with partial ones: each file is either the old one or the complete new one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    """Run write(tmp) on a temp file beside `path`, fsync it, give it the usual file mode
    (0666 less the umask; mkstemp makes 0600), then os.replace it onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    def w(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    _atomic(Path(path), w)


def write_json(path: Path, obj: dict) -> None:
    """JSON with numpy scalars converted; NaN -> null, +-inf -> "inf"/"-inf" (valid JSON)."""
    write_text_atomic(path, json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


def write_table(path_stem: Path, table: pa.Table) -> list[Path]:
    """Write `table` as STEM.parquet and STEM.csv; returns both paths."""
    stem = Path(path_stem)
    pq_path, csv_path = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    _atomic(pq_path, lambda tmp: pq.write_table(table, tmp))
    _atomic(csv_path, lambda tmp: pacsv.write_csv(table, tmp))
    return [pq_path, csv_path]
