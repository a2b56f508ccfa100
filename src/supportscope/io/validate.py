"""Per-batch validation, vectorised: raw Arrow columns in, checked numpy / Arrow arrays out.

Each check notes the first offending row of the batch in :class:`Issues`; the reader raises
the earliest one (ties go to the check made first), so the error a user sees is the first
problem in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Issue", "Issues", "CountsBatch", "SamplesBatch", "check_counts", "check_samples", "MAX_SAMPLE_IDX"]

#: sample_idx must be below this (keys pack it into 32 bits)
MAX_SAMPLE_IDX = 2**32 - 1

_NUMBER_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$|^[+-]?(?:nan|inf|infinity)$"
_FIX_N = "n is the number of samples drawn for the problem: a whole number >= 1 (3 or 3.0, not 3.5)"
_FIX_CORRECT = "correct is the number of successful samples: a whole number with 0 <= correct <= n"
_FIX_SAMPLE_IDX = "sample_idx numbers the samples of a problem and model: a whole number >= 0"
_FIX_CORRECT01 = "per-sample rows need correct as 0/1 or true/false; for graded scores use a reward column in [0, 1]"
_FIX_REWARD = "rewards must lie in [0, 1] (a sample succeeds when reward >= success_threshold)"


@dataclass
class Issue:
    """A problem at row ``index`` of a batch."""

    index: int
    message: str
    fix: str


@dataclass
class Issues:
    """The first problem found by each check in one batch."""

    found: list[Issue] = field(default_factory=list)

    def first(self, mask: np.ndarray, describe: Callable[[int], tuple[str, str]]) -> None:
        """Record the first row where ``mask`` is true, described by ``describe(row)``."""
        if mask.size and mask.any():
            i = int(mask.argmax())
            self.found.append(Issue(i, *describe(i)))

    def add(self, index: int, message: str, fix: str) -> None:
        """Record a problem at row ``index``."""
        self.found.append(Issue(index, message, fix))

    def earliest(self) -> Issue | None:
        """The problem at the smallest row (the first recorded among equals), or None."""
        return min(self.found, key=lambda s: s.index) if self.found else None


@dataclass
class CountsBatch:
    """Checked counts rows. ``model`` is None when the file has no model column."""

    problem_id: pa.StringArray
    model: pa.StringArray | None
    n: np.ndarray
    correct: np.ndarray


@dataclass
class SamplesBatch:
    """Checked per-sample rows."""

    problem_id: pa.StringArray
    model: pa.StringArray | None
    sample_idx: np.ndarray
    success: np.ndarray


def check_counts(batch: pa.RecordBatch, has_model: bool, issues: Issues) -> CountsBatch:
    """Check a batch of counts rows; problems go to ``issues``."""
    pid = _ids(batch.column("problem_id"), "problem_id", issues)
    model = _ids(batch.column("model"), "model", issues) if has_model else None
    n = _Numbers(batch.column("n"), "n", issues, _FIX_N)
    c = _Numbers(batch.column("correct"), "correct", issues, _FIX_CORRECT)
    n.check_count()
    c.check_count()
    issues.first(n.ok & (n.values == 0), lambda i: ("n is 0", "drop problems with no samples, or sample them"))
    both = n.ok & c.ok
    issues.first(
        both & (c.values > n.values),
        lambda i: (
            f"correct ({_show(c.values[i])}) is larger than n ({_show(n.values[i])})",
            _FIX_CORRECT + "; check that the two columns are not swapped",
        ),
    )
    return CountsBatch(pid, model, n.as_int(), c.as_int())


def check_samples(
    batch: pa.RecordBatch, has_model: bool, outcome: str, threshold: float, issues: Issues
) -> SamplesBatch:
    """Check a batch of per-sample rows; ``outcome`` is ``"correct"`` or ``"reward"``."""
    pid = _ids(batch.column("problem_id"), "problem_id", issues)
    model = _ids(batch.column("model"), "model", issues) if has_model else None
    idx = _Numbers(batch.column("sample_idx"), "sample_idx", issues, _FIX_SAMPLE_IDX)
    idx.check_count()
    issues.first(
        idx.ok & (idx.values > MAX_SAMPLE_IDX),
        lambda i: (f"sample_idx {_show(idx.values[i])} is too large", f"number samples from 0; the limit is {MAX_SAMPLE_IDX}"),
    )
    if outcome == "correct":
        out = _Numbers(batch.column("correct"), "correct", issues, _FIX_CORRECT01, allow_bool=True)
        out.check_finite()
        issues.first(
            out.ok & (out.values != 0) & (out.values != 1),
            lambda i: (f"correct is {_show(out.values[i])}, not 0/1 or true/false", _FIX_CORRECT01),
        )
        success = out.values == 1
    else:
        out = _Numbers(batch.column("reward"), "reward", issues, _FIX_REWARD, allow_bool=True)
        out.check_finite()
        issues.first(
            out.ok & ((out.values < 0) | (out.values > 1)),
            lambda i: (f"reward {_show(out.values[i])} is outside [0, 1]", _FIX_REWARD),
        )
        success = out.values >= threshold
    return SamplesBatch(pid, model, idx.as_int(), success & out.ok)


def _plain(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array, dictionaries decoded."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _first_valid(col: pa.Array) -> int:
    valid = np.asarray(col.is_valid())
    return int(valid.argmax()) if valid.any() else 0


def _ids(col: pa.Array | pa.ChunkedArray, name: str, issues: Issues) -> pa.StringArray:
    """An id column as text: integers without '.0', floats as written by Arrow; "" for empty."""
    col = _plain(col)
    t = col.type
    if _is_text(t) or pa.types.is_integer(t):
        s = col.cast(pa.string())
    elif pa.types.is_floating(t):
        s = pc.if_else(pc.is_nan(col), pa.scalar(None, pa.string()), col.cast(pa.string()))
    elif pa.types.is_null(t):
        s = pa.nulls(len(col), pa.string())
    else:
        issues.add(_first_valid(col), f"{name} must be text or a whole number, not {t}", f"write {name} as text")
        return pa.array([""] * len(col), pa.string())
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(s), ""), True))
    issues.first(empty, lambda i: (f"{name} is empty", f"give every row a {name}"))
    return pc.fill_null(s, "")


class _Numbers:
    """A numeric column as float64, with masks of empty, non-number and unusable cells."""

    def __init__(self, col: pa.Array | pa.ChunkedArray, name: str, issues: Issues, fix: str, allow_bool: bool = False):
        self.name, self.issues, self.fix = name, issues, fix
        col = _plain(col)
        size = len(col)
        empty = np.asarray(col.is_null())
        bad = np.zeros(size, dtype=bool)
        t = col.type
        if _is_text(t):
            s = pc.utf8_trim_whitespace(col.cast(pa.string()))
            empty = empty | np.asarray(pc.fill_null(pc.equal(s, ""), False))
            if allow_bool:
                low = pc.utf8_lower(s)
                s = pc.if_else(pc.equal(low, "true"), "1", pc.if_else(pc.equal(low, "false"), "0", s))
            is_num = np.asarray(pc.fill_null(pc.match_substring_regex(s, _NUMBER_RE, ignore_case=True), False))
            bad = ~is_num & ~empty
            issues.first(bad, lambda i: (f"{name} is not a number: {_quote(s[i].as_py())}", fix))
            numbers = pc.if_else(pa.array(is_num), s, "nan").cast(pa.float64())
        elif pa.types.is_boolean(t) and allow_bool or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            numbers = col.cast(pa.float64(), safe=False)
        elif pa.types.is_null(t):
            numbers = pa.nulls(size, pa.float64())
        else:
            bad = ~empty
            issues.first(bad, lambda i: (f"{name} must be a number, not {t}", fix))
            numbers = pa.nulls(size, pa.float64())
        values = np.asarray(pc.fill_null(numbers, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
        issues.first(empty, lambda i: (f"{name} is empty", fix))
        self.ok = ~empty & ~bad
        self.values = np.where(self.ok, values, np.nan)

    def check_finite(self) -> None:
        """Flag NaN and infinite values; afterwards ``ok`` marks finite numbers only."""
        nan = self.ok & np.isnan(self.values)
        self.issues.first(nan, lambda i: (f"{self.name} is NaN", self.fix))
        inf = self.ok & np.isinf(self.values)
        self.issues.first(inf, lambda i: (f"{self.name} is infinite", self.fix))
        self.ok &= ~(nan | inf)

    def check_count(self) -> None:
        """Flag values that are not finite whole numbers >= 0."""
        self.check_finite()
        v = self.values
        neg = self.ok & (v < 0)
        self.issues.first(neg, lambda i: (f"{self.name} is negative ({_show(v[i])})", self.fix))
        frac = self.ok & (v != np.floor(v))
        self.issues.first(frac, lambda i: (f"{self.name} is not a whole number ({_show(v[i])})", self.fix))
        big = self.ok & ~neg & ~frac & (v > 2.0**53)
        self.issues.first(big, lambda i: (f"{self.name} is too large ({_show(v[i])})", self.fix))
        self.ok &= ~(neg | frac | big)

    def as_int(self) -> np.ndarray:
        """The values as int64 (0 where not ok)."""
        return np.where(self.ok, self.values, 0.0).astype(np.int64)


def _show(v: float) -> str:
    """A number for a message: 3.0 -> '3', 3.5 -> '3.5'."""
    return str(int(v)) if np.isfinite(v) and v == int(v) and abs(v) < 2**63 else repr(float(v))


def _quote(text: object) -> str:
    r = repr(text)
    return r if len(r) <= 42 else r[:40] + "..."
