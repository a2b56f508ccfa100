"""Column aliases: the names other harnesses use for ``problem_id``, ``correct`` and ``n``.

An alias is used only when the canonical column is absent; each use is one note on stderr
(``note: FILE: reading column 'doc_id' as problem_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from .source import Source

__all__ = ["ALIASES", "AliasedSource", "with_aliases"]

#: canonical column -> the names read as it, in order of preference
ALIASES: dict[str, tuple[str, ...]] = {
    "problem_id": ("doc_id", "example_id", "question_id", "task_id"),
    "correct": ("acc", "exact_match", "passed", "pass"),
    "n": ("count", "N", "n_samples"),
}


class AliasedSource(Source):
    """``inner`` with some columns renamed (``rename``: canonical -> the file's name)."""

    def __init__(self, inner: Source, rename: dict[str, str]) -> None:
        super().__init__(inner.path)
        self.inner, self.rename = inner, rename
        back = {v: k for k, v in rename.items()}
        self.columns = [back.get(c, c) for c in inner.columns]
        self.header_line = inner.header_line
        self.dup_fix = inner.dup_fix

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        inner_names = [self.rename.get(n, n) for n in names]
        bools = tuple(self.rename.get(n, n) for n in bool_columns)
        for batch in self.inner.batches(inner_names, bools):
            yield pa.RecordBatch.from_arrays([batch.column(n) for n in inner_names], names=names)

    def place(self, row: int) -> dict[str, int]:
        return self.inner.place(row)

    def lines(self, rows: np.ndarray) -> np.ndarray:
        return self.inner.lines(rows)


def with_aliases(source: Source, note: Callable[[str], None]) -> Source:
    """``source``, or an :class:`AliasedSource` reading aliases of absent canonical columns."""
    rename = {}
    for canonical, names in ALIASES.items():
        if canonical in source.columns:
            continue
        found = [a for a in names if a in source.columns]
        if found:
            rename[canonical] = found[0]
    if not rename:
        return source
    said = ", ".join(f"{v!r} as {k}" for k, v in rename.items())
    note(f"{source.path}: reading column {said} (column aliases; rename the columns to silence this note)")
    return AliasedSource(source, rename)
