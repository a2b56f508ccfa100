"""Problems from a JSON Lines file, checked with math-verify.

Each non-blank line is one object ``{"id": ..., "prompt": ..., "answer": ...}``; ``id`` may be
a string or a whole number (it becomes a string), ``answer`` a string or a number; any other
keys go into :attr:`Problem.meta`. Problems are kept in file order; ``limit`` keeps the first N
(the whole file is still checked). Every problem found in the file is an
:class:`~supportscope.errors.InputError` naming the line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import InputError
from ..io.files import HEAD_BYTES, check_text, regular_file
from ..versions import library_versions
from .base import Problem, problems_digest
from .mathcheck import MathChecker

__all__ = ["JsonlTask", "load_jsonl", "read_problems"]

_REQUIRED = ("id", "prompt", "answer")
_FORMAT_FIX = 'write one JSON object per line: {"id": "p1", "prompt": "...", "answer": "5"}'


def read_problems(path: str | os.PathLike[str]) -> tuple[list[Problem], str]:
    """All problems in ``path`` and the SHA-256 of the file's bytes."""
    shown = os.fspath(path)
    p = Path(path)
    if not p.exists():
        raise InputError(shown, "file not found", "check the path (it is relative to the "
                         f"current directory, {os.getcwd()})")
    regular_file(shown, "give the path of a .jsonl file", what="JSON Lines file")  # a FIFO would block
    data = p.read_bytes()
    check_text(shown, data[:HEAD_BYTES], "JSON Lines text")
    digest = hashlib.sha256(data).hexdigest()
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(data.splitlines(), start=1):
        try:
            text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise InputError(shown, f"not UTF-8 text ({e.reason} at byte {e.start})",
                             "save the file as UTF-8", line=lineno) from None
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(shown, f"invalid JSON ({e.msg}, column {e.colno})", _FORMAT_FIX,
                             line=lineno) from None
        if not isinstance(obj, dict):
            raise InputError(shown, f"expected a JSON object, got {type(obj).__name__}",
                             _FORMAT_FIX, line=lineno)
        missing = [k for k in _REQUIRED if k not in obj]
        if missing:
            raise InputError(shown, "missing key" + ("s " if len(missing) > 1 else " ")
                             + ", ".join(repr(k) for k in missing), _FORMAT_FIX, line=lineno)
        pid = _id_text(obj["id"], shown, lineno)
        prompt = obj["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(shown, f"'prompt' must be a non-empty string, got {prompt!r:.60}",
                             "give the problem text as a JSON string", line=lineno)
        answer = _answer_text(obj["answer"], shown, lineno)
        if pid in first_line:
            raise InputError(shown, f"duplicate id {pid!r} (first on line {first_line[pid]})",
                             "give every problem its own id", line=lineno)
        first_line[pid] = lineno
        meta = {k: v for k, v in obj.items() if k not in _REQUIRED}
        problems.append(Problem(id=pid, prompt=prompt, answer=answer, meta=meta))
    if not problems:
        raise InputError(shown, "no problems in the file (it is empty or blank)", _FORMAT_FIX)
    return problems, digest


def _id_text(value, path: str, lineno: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(path, f"'id' must be a string or a whole number, got {value!r:.60}",
                         'use ids such as "p1" or 17', line=lineno)
    text = str(value).strip()
    if not text:
        raise InputError(path, "'id' is empty", "give every problem a non-empty id", line=lineno)
    return text


def _answer_text(value, path: str, lineno: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(path, f"'answer' must be a string or a number, got {value!r:.60}",
                         'give the gold answer as LaTeX text, e.g. "\\\\frac{1}{2}"', line=lineno)
    text = value if isinstance(value, str) else json.dumps(value)
    if not text.strip():
        raise InputError(path, "'answer' is empty", "give the gold answer", line=lineno)
    return text


class JsonlTask:
    """Problems from a JSON Lines file; completions checked with math-verify."""

    def __init__(self, path: str | os.PathLike[str], *, limit: int | None = None, seed: int = 0,
                 spec: str | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a whole number >= 1, got {limit}")
        self.path = os.fspath(path)
        self.limit = limit
        self.seed = seed  # recorded only: a file's problems do not depend on a seed
        self.name = Path(self.path).stem
        self.spec = spec if spec is not None else (
            self.path + (f"?limit={limit}" if limit is not None else ""))
        problems, self.file_sha256 = read_problems(self.path)
        self.file_size = len(problems)
        self._problems = problems[:limit] if limit is not None else problems
        self._checker = MathChecker()

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def verify(self, problem: Problem, completion: str) -> float:
        return self._checker.check(problem.id, problem.answer, completion)

    def describe(self) -> dict:
        return {
            "kind": "jsonl",
            "spec": self.spec,
            "name": self.name,
            "path": os.path.abspath(self.path),
            "size": len(self._problems),
            "file_size": self.file_size,
            "limit": self.limit,
            "seed": self.seed,
            "file_sha256": self.file_sha256,
            "problems_sha256": problems_digest(self._problems),
            "verifier": self._checker.config(),
            "versions": library_versions(extra=("math-verify", "latex2sympy2_extended", "sympy")),
        }

    def __repr__(self) -> str:
        return f"JsonlTask({self.spec!r}, size={len(self._problems)})"


def load_jsonl(rest: str, *, limit: int | None = None, seed: int = 0, prefix: str = "") -> JsonlTask:
    """The task for the spec ``prefix + rest``: ``PATH`` or ``PATH?limit=N``.

    ``limit`` in the spec and the ``limit`` argument combine as the smaller of the two.
    """
    from .base import TaskSpecError
    from .spec import parse_value, split_spec

    path, query = rest, []
    if "?" in rest and not os.path.exists(rest):
        path, query = split_spec(prefix + rest, rest)
    for key, raw in query:
        value = parse_value(raw)
        if key != "limit":
            raise TaskSpecError(prefix + rest, f"'{key}' is not an option of a JSON Lines task",
                                "the only option is ?limit=N")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TaskSpecError(prefix + rest, f"limit must be a whole number >= 1, got {raw!r}",
                                "write ?limit=N with N >= 1")
        limit = value if limit is None else min(limit, value)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a whole number >= 1, got {limit!r}")
    spec = prefix + path + (f"?limit={limit}" if limit is not None else "")
    return JsonlTask(path, limit=limit, seed=seed, spec=spec)
