"""CSV input: a byte pre-scan (UTF-8, record lines), then pyarrow's streaming CSV reader.

All needed columns are read as text, so ids like ``007`` stay as written and a cell such as
``3.5``, ``nan`` or an empty one reaches the validator instead of failing inside pyarrow.
Exact line numbers on the error path come from re-scanning the file with Python's csv module.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from ..errors import InputError
from .source import Source
from .textscan import CsvRecordScan, Utf8Check, line_chunks

__all__ = ["CsvSource", "python_csv_rows"]

_BLOCK_BYTES = 4 << 20
_FIX_SHAPE = "quote fields that contain commas, quotes or line breaks, and give every row as many fields as the header"


def python_csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(start_line, fields)`` for every non-blank record, with Python's csv module.

    Lines are split on ``b"\\n"`` only, as in :mod:`.textscan`. Slow (a Python loop per row):
    use it on the error path, or for files whose quoting defeats the vectorised scan.
    """
    old_limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, "rb") as fh:
            texts = (raw.decode("utf-8", "replace") for raw in fh)
            reader = csv.reader(_strip_bom(texts))
            while True:
                start = reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    yield start, []
                    return
                if fields:
                    yield start, fields
    finally:
        csv.field_size_limit(old_limit)


def _strip_bom(texts: Iterator[str]) -> Iterator[str]:
    first = True
    for t in texts:
        yield t.lstrip("\ufeff") if first else t
        first = False


class CsvSource(Source):
    """A CSV file with a header row."""

    fmt = "csv"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._record_lines = self._prescan()
        self._lines_exact = False
        if self._record_lines.size <= 1:
            with open(self.path, "rb") as fh:
                head = fh.read(1 << 16)
            if b"\r" in head and b"\n" not in head:
                raise InputError(
                    self.path, "lines end with a bare carriage return (old Mac style)", "convert the line endings to \\n, e.g. with mac2unix"
                )
        header = next(python_csv_rows(self.path), None)
        if header is None or not header[1]:
            raise InputError(self.path, "the file has no header row", "start the file with a row of column names")
        self.header_line, self.columns = header

    def _prescan(self) -> np.ndarray:
        """UTF-8 check and record start lines, in one cheap pass over the bytes."""
        utf8, scan = Utf8Check(self.path), CsvRecordScan()
        line = 1
        with open(self.path, "rb") as fh:
            for offset, chunk in line_chunks(fh):
                utf8.feed(chunk, line)
                scan.feed(offset, chunk)
                line += chunk.count(b"\n")
        utf8.feed(b"", line, final=True)
        return scan.finish()

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        convert = pcsv.ConvertOptions(
            include_columns=names,
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        rows = 0
        try:
            reader = pcsv.open_csv(
                self.path,
                read_options=pcsv.ReadOptions(use_threads=False, block_size=_BLOCK_BYTES),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=convert,
            )
            for batch in reader:
                rows += batch.num_rows
                yield batch
        except pa.ArrowException as e:
            raise self._parse_error(str(e)) from None
        if rows == 0:
            raise self.no_rows()
        if self._record_lines.size != rows + 1:  # unusual quoting: let Python's csv count
            self._record_lines = np.array([s for s, _ in python_csv_rows(self.path)], dtype=np.int64)
        self._lines_exact = self._record_lines.size == rows + 1
        if not self._lines_exact:  # should not happen; assume one line per row rather than fail
            self._record_lines = self.header_line + np.arange(rows + 1, dtype=np.int64)

    def _parse_error(self, text: str) -> InputError:
        """Turn a pyarrow CSV error into an :class:`InputError` at the right line."""
        width = len(self.columns)
        m = re.search(r"Row #(\d+)", text)
        row = int(m.group(1)) - 2 if m else None
        if row is None or row < 0:
            row = next((i - 1 for i, (_, f) in enumerate(python_csv_rows(self.path)) if i and len(f) != width), None)
        got = re.search(r"Expected (\d+) columns, got (\d+)", text)
        if got:
            message = f"this row has {got.group(2)} fields but the header has {got.group(1)}"
        else:
            message = "cannot parse this CSV row (" + text.split(": ", 1)[-1][:120] + ")"
        if row is None:
            return InputError(self.path, message, _FIX_SHAPE)
        return self.error(row, message, _FIX_SHAPE)

    def place(self, row: int) -> dict[str, int]:
        if self._lines_exact:
            return {"line": int(self._record_lines[row + 1]), "row": row}
        for i, (start, _) in enumerate(python_csv_rows(self.path)):
            if i == row + 1:
                return {"line": start, "row": row}
        return {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        return self._record_lines[np.asarray(rows, dtype=np.int64) + 1]
