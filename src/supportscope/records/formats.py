"""File formats: which extensions are accepted, and the checks made before opening a file."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

__all__ = ["EXTENSIONS", "accepted_extensions", "check_path"]

#: extension (lower case, with dot) -> format name
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def accepted_extensions() -> str:
    """The accepted extensions as text, for messages: ``".csv, .jsonl, ..."``."""
    return ", ".join(EXTENSIONS)


def check_path(path: str | os.PathLike[str]) -> str:
    """Check that ``path`` is a readable, non-empty file with a known extension.

    Returns the format name (``"csv"``, ``"jsonl"`` or ``"parquet"``); raises
    :class:`InputError` otherwise.
    """
    p = Path(path)
    fmt = EXTENSIONS.get(p.suffix.lower())
    if not p.exists():
        raise InputError(path, "file not found", "check the path and the working directory")
    if p.is_dir():
        raise InputError(path, "is a directory, not a file", "pass the result files inside it, e.g. dir/*.csv")
    if fmt is None:
        raise InputError(
            path,
            f"unknown file extension {p.suffix or '(none)'!r}",
            f"save the results as one of {accepted_extensions()} (the extension picks the reader)",
        )
    try:
        with open(p, "rb") as fh:
            fh.read(1)
        size = p.stat().st_size
    except OSError as e:
        raise InputError(path, f"cannot be read ({e.strerror or e})", "check the file's permissions") from e
    if size == 0:
        raise InputError(path, "file is empty (0 bytes)", "write the results into it, with a header row for CSV")
    return fmt
