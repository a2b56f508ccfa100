"""Sources whose rows are made in memory: :class:`DerivedSource` turns the rows of another source
(a lm-eval samples file, a rate table, a LiveCodeBench array) into counts or per-sample rows and
names the inner file's line in every message."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from .source import Source

__all__ = ["DerivedSource"]


class DerivedSource(Source):
    """Rows derived from the rows of ``inner``; each row remembers the inner row it came from, so
    places (``file:line``) are the inner file's."""

    def __init__(self, inner: Source) -> None:
        super().__init__(inner.path)
        self.inner = inner
        self.header_line = inner.header_line
        self._rows: list[np.ndarray] = []

    def emit(self, columns: dict[str, pa.Array], inner_rows: np.ndarray) -> pa.RecordBatch:
        """A batch of ``columns`` whose rows came from ``inner_rows`` of the inner source."""
        self._rows.append(np.asarray(inner_rows, dtype=np.int64))
        return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))

    def _all_rows(self) -> np.ndarray:
        return np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int64)

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError  # pragma: no cover - each subclass makes its rows

    def place(self, row: int) -> dict[str, int]:
        rows = self._all_rows()
        return self.inner.place(int(rows[row])) if row < rows.size else {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        return self.inner.lines(self._all_rows()[np.asarray(rows, dtype=np.int64)])
