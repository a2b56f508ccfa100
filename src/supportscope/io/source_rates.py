"""Rate tables (eval-arena style): one row per problem and model with a success rate and the
number of samples it was computed from, e.g. ``benchmark_id, model, example_id, pass1, N`` (or a
``count`` / ``n_samples`` column). Read as counts: ``n`` from the sample count, ``correct = rate * n``,
which must be a whole number (within 1e-6); otherwise the rate cannot come from n samples.
Column aliases (``example_id`` -> problem_id, ``N``/``count`` -> n) are applied first. With a
``benchmark_id`` column (eval-arena tables hold several benchmarks, whose example ids may coincide)
the problem id is ``benchmark_id/example_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .importers import ImportOptions
from .source import Source
from .source_table import DerivedSource

__all__ = ["RATE_COLUMNS", "RatesSource", "sniff"]

#: the columns read as a success rate, in order of preference
RATE_COLUMNS = ("pass1", "pass@1", "pass_rate", "rate")
_TOL = 1e-6


def sniff(columns: list[str]) -> bool:
    """A rate table: a rate column and ``n``, and neither ``correct`` nor ``sample_idx``."""
    cols = set(columns)
    return bool(cols & set(RATE_COLUMNS)) and "n" in cols and not cols & {"correct", "sample_idx"}


class RatesSource(DerivedSource):
    """A rate table, read as counts ``problem_id, model, n, correct``."""

    fmt = "rates"

    @classmethod
    def wrap(cls, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> RatesSource:
        return cls(inner, options, note)

    def __init__(self, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> None:
        super().__init__(inner)
        self.rate = next((c for c in RATE_COLUMNS if c in inner.columns), None)
        if self.rate is None or "n" not in inner.columns:
            raise InputError(self.path, f"a rate table needs a rate column ({', '.join(RATE_COLUMNS)}) and a sample "
                             "count (n, N, count or n_samples)", "add the columns, or pass --format counts for a "
                             "counts file", line=inner.header_line)
        self.columns = [c for c in ("problem_id", "model") if c in inner.columns] + ["n", "correct"]
        self.benchmark = "benchmark_id" in inner.columns and "problem_id" in inner.columns
        ids = "; problem_id = benchmark_id/problem_id" if self.benchmark else ""
        note(f"{self.path}: rate table: correct = {self.rate} * n{ids}")

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        ids = [n for n in names if n in ("problem_id", "model")]
        bench = ["benchmark_id"] if self.benchmark and "problem_id" in ids else []
        offset = 0
        for batch in self.inner.batches(ids + ["n", self.rate] + bench):
            size = batch.num_rows
            n = _floats(batch.column("n"))
            rate = _floats(batch.column(self.rate))
            if np.isnan(rate).any():
                i = int(np.argmax(np.isnan(rate)))
                shown = batch.column(self.rate)[i].as_py()
                raise InputError(self.path, f"{self.rate} {'is empty' if shown in (None, '') else f'{shown!r} is not a number'}",
                                 f"write {self.rate} as a success rate in [0, 1], e.g. 0.25", **self.inner.place(offset + i))
            made = rate * n
            whole = np.round(made)
            bad = np.flatnonzero(np.isfinite(made) & (np.abs(made - whole) > _TOL))
            if bad.size:
                i = int(bad[0])
                raise InputError(self.path, f"{self.rate} {rate[i]:.10g} looks like a rate, but {self.rate} * n = "
                                 f"{made[i]:.10g} is not a whole number of successes (n = {n[i]:.10g} was used)",
                                 "give the n the rate was computed from (a column N, count or n_samples), or write "
                                 "counts (n, correct) instead", **self.inner.place(offset + i))
            cols = {**{c: batch.column(c) for c in ids}, "n": batch.column("n"), "correct": pa.array(whole)}
            if bench:
                cols["problem_id"] = self._qualified(batch, offset)
            yield self.emit({k: cols[k] for k in names}, offset + np.arange(size))
            offset += size

    def _qualified(self, batch: pa.RecordBatch, offset: int) -> pa.Array:
        """``benchmark_id/problem_id`` (an empty benchmark_id is an error naming its line)."""
        bench = pc.cast(batch.column("benchmark_id"), pa.string())
        empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(bench), ""), True))
        if empty.any():
            i = int(np.argmax(empty))
            raise InputError(self.path, "benchmark_id is empty", "give every row its benchmark_id (the problem id "
                             "is benchmark_id/example_id), or drop the column for a one-benchmark table",
                             **self.inner.place(offset + i))
        return pc.binary_join_element_wise(bench, pc.cast(batch.column("problem_id"), pa.string()), "/")


def _floats(col: pa.Array) -> np.ndarray:
    """Numbers of a column (text from CSV), NaN where not a number (the validator names those)."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.cast(pc.if_else(pc.match_substring_regex(col, r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"),
                                 pc.utf8_trim_whitespace(col), pa.scalar(None, pa.string())), pa.float64())
    elif pa.types.is_boolean(col.type) or pa.types.is_integer(col.type):
        col = col.cast(pa.float64())
    return np.asarray(pc.fill_null(col, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
