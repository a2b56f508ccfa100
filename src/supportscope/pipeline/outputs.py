"""Output folders: checked before any computation, written as one set (:func:`supportscope.atomic.write_set`).

:func:`check_out_dir` is the first thing every workflow that writes a folder does (``analyze``,
``report``, ``sample``/``score``, ``audit-data``, ``demo``): a ``--out`` that is a file, lies
under a file, or cannot be written is refused with one line before minutes of computation, and
so is an output file name that is taken by a folder. It creates nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from supportscope.errors import InputError

__all__ = ["ANALYSIS_FILES", "AUDIT_FILES", "check_out_dir"]

ANALYSIS_FILES = ("per_problem.parquet", "per_problem.csv", "summary.json", "report.html")
"""The output set of ``analyze`` (written together, with the set's manifest)."""

AUDIT_FILES = ("per_example.parquet", "per_example.csv", "audit.json")
"""The output set of ``audit-data``."""


def check_out_dir(path: str | os.PathLike[str], names: tuple[str, ...] = (), flag: str = "--out") -> Path:
    """``path`` if it is (or can be made as) a writable folder in which none of ``names`` is a
    folder; else a one-line :class:`InputError` naming the path and the fix. Creates nothing."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder",
                         f"pass a folder as {flag}, or move the file away")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(str(out), f"{existing} is a file, so no folder can be made under it",
                         f"pass a {flag} whose parent folders are folders")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "the folder" if existing == out else f"its nearest existing parent {existing}"
        raise InputError(str(out), f"{where} is not writable",
                         f"make it writable (chmod u+w), or pass another {flag}")
    for name in names:
        if (out / name).is_dir():
            raise InputError(str(out / name), f"is a folder, so {name} cannot be written there",
                             f"remove or rename that folder, or pass another {flag}")
    return out
