"""Every error supportscope raises for something a user can fix, under one base class.

The contract: ``str(error)`` is ONE line, ``"[where: ]what. Fix: how"``, and the command line
prints it after ``error:`` and exits with code 2 (``cli.app.main``). Programming errors
(``TypeError``, a bug) are not SupportscopeErrors: the command line prints one ``internal error``
line with the path of a file holding their traceback and exits 1 (``cli.crash``).

=========================  ===================================================================
class                      raised for
=========================  ===================================================================
InputError                 a user's file (results, problems, TOML, a run directory): names
                           ``path:line``
StoreError                 a run directory that cannot be used as asked (an InputError)
TaskSpecError              a task spec that names no task (an InputError)
ConfigError                an option value that cannot work; names the config field, which the
                           CLI respells as its flag (``basin_budget`` -> ``--basin-budget``)
ModelConfigError           a decoding or policy option (a ConfigError)
SchemaError                a row or table that does not fit a run shard's schema
ModelLoadError             a model path that cannot be loaded
TokenizerMismatchError     two models whose token ids mean different things
PromptTooLongError         a prompt plus max_new_tokens beyond the model's context
WorkerLostError            Ray workers that kept dying (shards written so far are kept)
=========================  ===================================================================

Every class also subclasses the built-in it replaced (``ValueError`` or ``RuntimeError``), so
``except ValueError`` written against earlier versions still catches it.
"""

from __future__ import annotations

import os
import re

__all__ = ["ConfigError", "InputError", "ModelConfigError", "ModelLoadError", "PromptTooLongError", "SchemaError",
           "StoreError", "SupportscopeError", "TaskSpecError", "TokenizerMismatchError", "WorkerLostError",
           "one_line", "split_fix"]


def one_line(text: object) -> str:
    """``text`` with every whitespace run that holds a line break collapsed, so it stays on one line."""
    s = str(text)
    return " ".join(s.split()) if ("\n" in s or "\r" in s) else s


def split_fix(text: object) -> tuple[str, str | None]:
    """``("what", "how")`` of a one-line ``"what. Fix: how"`` message (``("what", None)`` without a
    Fix), so a message re-raised under another place keeps ONE ``Fix:``."""
    s = one_line(text)
    what, sep, fix = s.partition(" Fix: ")
    if not sep:
        return s.rstrip(". "), None
    return what.rstrip(". "), fix.strip() or None


class SupportscopeError(Exception):
    """Base of every user-fixable error. ``str`` is one line: ``"what. Fix: how"``.

    Subclasses either pass one finished message (``SupportscopeError("x must be > 0. Fix: ...")``)
    or build it from parts (:class:`InputError`).
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


class InputError(SupportscopeError):
    """A user's input file cannot be used as it is.

    Attributes:
        path: the file, as the user gave it (``str``).
        message: what is wrong (no trailing full stop needed).
        fix: what the user should do about it.
        line: 1-based physical line in a text file (CSV, JSON Lines, TOML), or ``None``.
        row: 0-based data row (for Parquet: the row index in the file), or ``None``.

    ``str(e)`` is one line: ``"{path}:{line}: {message}. Fix: {fix}"``; with no line but a row,
    ``"{path} row {row}: ..."``; with neither, ``"{path}: ..."``::

        results.csv:17: column 'n' is negative (-3). Fix: n is the number of samples, a whole number >= 1
    """

    def __init__(self, path: str | os.PathLike[str], message: str, fix: str, line: int | None = None,
                 row: int | None = None) -> None:
        super().__init__(path, message, fix, line, row)
        self.path = os.fspath(path)
        self.message = one_line(message).rstrip(". ")
        self.fix = one_line(fix)
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


class StoreError(InputError, ValueError):
    """A run directory cannot be used as asked: ``"RUN/...: what. Fix: ..."``."""


class TaskSpecError(InputError, ValueError):
    """A task spec (``rg:NAME?...``, ``PATH.jsonl``, ...) that cannot be made into a task:
    ``"spec: message. Fix: fix"``."""

    def __init__(self, spec: str, message: str, fix: str) -> None:
        super().__init__(spec, message, fix)


_FIELD = re.compile(r"`([a-z][a-z0-9_]*)`")


class ConfigError(SupportscopeError, ValueError):
    """An option value that cannot work. The message names config fields in backticks
    (```basin_budget` 0 must be >= 1. Fix: e.g. `basin_budget` 8``); :meth:`spelled` rewrites
    them for the reader (the CLI gives ``--basin-budget``; ``str`` gives ``basin_budget``)."""

    def __str__(self) -> str:
        return self.spelled(lambda name: name)

    def spelled(self, spell) -> str:
        """The message with every backticked field name replaced by ``spell(name)``."""
        return _FIELD.sub(lambda m: spell(m.group(1)), one_line(Exception.__str__(self)))


class ModelConfigError(ConfigError):
    """A decoding or policy option that cannot work; the message names the option and the fix."""


class SchemaError(SupportscopeError, ValueError):
    """A row or table does not fit its kind's schema; ``str`` is one line naming field and row."""


class ModelLoadError(SupportscopeError, ValueError):
    """A model path that cannot be loaded; the one-line message names the path and the fix."""


class TokenizerMismatchError(SupportscopeError, ValueError):
    """Two models whose tokenizers differ, so token ids of one mean something else to the other."""


class PromptTooLongError(SupportscopeError, ValueError):
    """A prompt (plus max_new_tokens) or a scored sequence that exceeds the model's context."""


class WorkerLostError(SupportscopeError, RuntimeError):
    """Ray workers kept dying (the same unit, or too many in all). Shards written so far are kept."""
