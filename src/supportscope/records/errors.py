"""The one exception type for bad user input files.

Every problem found in a user's file is raised as :class:`InputError`, whose ``str`` is a
single line that names the file, the place in it, what is wrong and how to fix it::

    results.csv:17: column 'n' is negative (-3). Fix: n is the number of samples, a whole number >= 1
"""

from __future__ import annotations

import os

__all__ = ["InputError"]


def _one_line(text: str) -> str:
    """Collapse whitespace runs that contain line breaks, so a message stays on one line."""
    return " ".join(str(text).split()) if ("\n" in str(text) or "\r" in str(text)) else str(text)


class InputError(Exception):
    """A user's input file cannot be used as it is.

    Attributes:
        path: the file, as the user gave it (``str``).
        message: what is wrong (no trailing full stop needed).
        fix: what the user should do about it.
        line: 1-based physical line in a text file (CSV, JSON Lines), or ``None``.
        row: 0-based data row (for Parquet: the row index in the file), or ``None``.

    ``str(e)`` is one line: ``"{path}:{line}: {message}. Fix: {fix}"``; with no line but a row,
    ``"{path} row {row}: ..."``; with neither, ``"{path}: ..."``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        fix: str,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(path, message, fix, line, row)
        self.path = os.fspath(path)
        self.message = _one_line(message).rstrip(". ")
        self.fix = _one_line(fix)
        self.line = None if line is None else int(line)
        self.row = None if row is None else int(row)

    @property
    def where(self) -> str:
        """The place as text: ``path:line``, ``path row N`` or ``path``."""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.row is not None:
            return f"{self.path} row {self.row}"
        return self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.message}. Fix: {self.fix}"
