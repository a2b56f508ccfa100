"""Parquet input: the file's schema gives the columns; row groups stream as record batches.

Parquet has no lines, so places are 0-based row indices (``"file.parquet row 12"``) and the
``line`` column of the result holds the row index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from .source import Source

__all__ = ["ParquetSource"]

_BATCH_ROWS = 1 << 16
_FIX = "re-write the file with pyarrow.parquet.write_table (or pandas.DataFrame.to_parquet)"


class ParquetSource(Source):
    """A Parquet file."""

    fmt = "parquet"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        try:
            self._file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as e:
            raise InputError(self.path, f"not a readable Parquet file ({_short(e)})", _FIX) from None
        self.columns = list(self._file.schema_arrow.names)

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        if self._file.metadata.num_rows == 0:
            raise self.no_rows()
        rows = 0
        try:
            for batch in self._file.iter_batches(batch_size=_BATCH_ROWS, columns=names, use_threads=True):
                rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as e:
            raise InputError(self.path, f"corrupt Parquet data after this row ({_short(e)})", _FIX, row=rows) from None

    def place(self, row: int) -> dict[str, int]:
        return {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64)


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:160]
