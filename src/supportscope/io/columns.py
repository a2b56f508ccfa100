"""Which kind of file this is (counts or per-sample rows) and which columns to read."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .source import Source

__all__ = ["Layout", "detect_layout", "KIND_NEEDS"]

#: what each kind of file needs, for messages
KIND_NEEDS = (
    "counts files need problem_id, model, n, correct; "
    "per-sample files need problem_id, model, sample_idx and correct (0/1) or reward (in [0, 1])"
)


@dataclass(frozen=True)
class Layout:
    """How to read one file.

    kind: ``"counts"`` or ``"samples"``. names: the columns to read. has_model: whether the
    file has a ``model`` column (if not, every row gets the default model). outcome: for
    samples, ``"correct"`` or ``"reward"`` (``correct`` wins when both are present).
    """

    kind: str
    names: tuple[str, ...]
    has_model: bool
    outcome: str = "correct"


def detect_layout(source: Source, default_model: str | None) -> Layout:
    """Detect the kind from the columns (sample_idx -> samples, else n -> counts) and check
    that the needed columns are there, raising :class:`InputError` naming what is missing."""
    cols = source.columns
    if "sample_idx" in cols:
        kind = "samples"
        outcome = "correct" if "correct" in cols or "reward" not in cols else "reward"
        needed = ["problem_id", "model", "sample_idx", outcome]
    elif "n" in cols:
        kind, outcome = "counts", "correct"
        needed = ["problem_id", "model", "n", "correct"]
    else:
        raise _missing(source, "'n' (counts) or 'sample_idx' (per-sample rows)", default_model)
    has_model = "model" in cols
    if not has_model and default_model is not None:
        needed.remove("model")
    for name in needed:
        if name not in cols:
            what = "'correct' or 'reward'" if kind == "samples" and name == "correct" else repr(name)
            raise _missing(source, what, default_model)
        if cols.count(name) > 1:
            raise InputError(
                source.path, f"column {name!r} appears {cols.count(name)} times", "keep one column of each name", line=source.header_line
            )
    return Layout(kind, tuple(needed), has_model, outcome)


def _missing(source: Source, what: str, default_model: str | None) -> InputError:
    found = ", ".join(repr(c) for c in source.columns[:20]) or "none"
    if len(source.columns) > 20:
        found += f", ... ({len(source.columns)} in all)"
    fix = KIND_NEEDS
    near = _near_misses(source.columns)
    if near:
        fix = f"rename {near}; " + fix
    if "model" in what or ("model" not in source.columns and default_model is None):
        fix += "; a file without a model column needs a default model name"
    return InputError(source.path, f"missing column {what} (found: {found})", fix, line=source.header_line)


def _near_misses(columns: list[str]) -> str:
    """Columns that are a known name up to case and spaces, as ``"' Model' to 'model'"``."""
    known = ("problem_id", "model", "n", "correct", "sample_idx", "reward")
    pairs = []
    for c in columns:
        k = c.strip().lower().replace(" ", "_").replace("-", "_")
        if k in known and k != c and k not in columns:
            pairs.append(f"{c!r} to {k!r}")
    return ", ".join(pairs)
