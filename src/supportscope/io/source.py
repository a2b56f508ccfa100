"""The common face of the three file readers (CSV, JSON Lines, Parquet).

A :class:`Source` knows the columns of one file, streams the columns asked for as Arrow record
batches, and turns a 0-based data row into a place (line or row) for messages and for the
``line`` column of the result.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from ..errors import InputError

__all__ = ["ID_COLUMNS", "NUMBER_COLUMNS", "Source"]

#: columns read as text (with the id aliases of :mod:`.aliases`, lm-eval's ``filter`` and eval-arena's ``benchmark_id``)
ID_COLUMNS = ("problem_id", "model", "doc_id", "example_id", "question_id", "task_id", "filter", "benchmark_id")
#: columns read as numbers
NUMBER_COLUMNS = ("n", "correct", "sample_idx", "reward")


class Source(ABC):
    """One input file. Subclasses: ``CsvSource``, ``JsonlSource``, ``ParquetSource`` (registered in :mod:`.formats`)."""

    #: format name, as registered in :mod:`.formats`
    fmt: str = ""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.columns: list[str] = []
        #: where the column names are (line 1 for CSV), for missing-column messages
        self.header_line: int | None = None
        #: the fix for a sample written twice, when this kind of file knows a better one
        self.dup_fix: str | None = None

    @abstractmethod
    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        """Stream the columns ``names`` (all present in the file) as record batches.

        ``bool_columns`` may hold JSON true/false, read as 1/0. Raises :class:`InputError`
        for unreadable data, and for a file with no data rows.
        """

    @abstractmethod
    def place(self, row: int) -> dict[str, int]:
        """``line=`` / ``row=`` keyword arguments of :class:`InputError` for data row ``row``."""

    @abstractmethod
    def lines(self, rows: np.ndarray) -> np.ndarray:
        """The ``line`` column values for data rows ``rows``; call after the batches are read."""

    def where(self, row: int) -> str:
        """``path:line`` or ``path row N`` for data row ``row``, for naming another place."""
        return InputError(self.path, "", "", **self.place(row)).where

    def error(self, row: int, message: str, fix: str) -> InputError:
        """An :class:`InputError` at data row ``row``."""
        return InputError(self.path, message, fix, **self.place(row))

    def no_rows(self) -> InputError:
        """The error for a file with column names but no data."""
        return InputError(
            self.path,
            "the file has column names but no data rows",
            "write one row per problem and model (counts) or per sample",
            line=self.header_line,
        )
