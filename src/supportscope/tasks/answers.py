"""Verifiers of raw generations, by name: ``math``, ``exact``, ``regex:PATTERN`` and ``code``.

Used by ``supportscope grade`` (:mod:`supportscope.pipeline.grade`), which scores every sample with
a *primary* verifier (its ``correct``) and a *second* one, and marks the samples where they differ:
each verifier has failure modes the other does not share, so a disagreement points at a sample
whose score rests on the verifier rather than on the model.

* ``math``: math-verify (:class:`~supportscope.tasks.mathcheck.MathChecker`, the verifier of JSONL
  tasks). It only parses; model output never runs.
* ``exact``: a strict final-answer match. The final answer (:func:`final_answer`) is the content of
  the last ``<answer>...</answer>``, else of the last ``\\boxed{}``, else the value after the last
  "answer is" / "Answer:" anchor (a bold ``**73**`` or ``$73$`` right after the anchor is the
  value), else the last non-empty line (:func:`~supportscope.tasks.extract.extract_answer`). It
  matches when :func:`normalise` of it equals :func:`normalise` of the gold answer: no algebra, no
  sets, no units, so ``\\frac12`` vs ``0.5`` or ``73 apples`` vs ``73`` do not match.
* ``regex:PATTERN``: the last match of PATTERN in the completion (its first group when it has
  groups) is the answer, compared like ``exact``. The pattern is the user's own; Python regular
  expressions have no time limit, so keep it linear (no nested quantifiers).
* ``code``: the last fenced code block (or the whole completion) followed by the gold answer, read
  as test code (``assert f(2) == 4``), is run by :mod:`supportscope.tasks.code_exec`; exit status 0
  is a success. This executes model output and is refused unless the user allows it.

Where they disagree, by design (``tests/test_grade.py`` plants each): two different ``\\boxed{}``
values (``exact`` takes the last; math-verify joins them into a set, or keeps the one after an
"answer is"), a multi-part answer split over boxes of which only the last part matches, a bold
answer followed by more numbers (math-verify takes the last number; ``exact`` the bold one after
the anchor), and numbers inside a formula with no final answer given (math-verify takes the
formula's right-hand side; ``exact`` finds no answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from ..errors import ConfigError
from .extract import extract_answer, last_boxed
from .mathcheck import MathChecker

__all__ = ["VERIFIER_NAMES", "Verifier", "column_name", "final_answer", "make_verifier", "math_grader", "normalise",
           "parse_verifier", "second_verifier"]

#: The verifier names ``parse_verifier`` takes (``regex`` as ``regex:PATTERN``).
VERIFIER_NAMES = ("math", "exact", "regex", "code")
_FIX_SPEC = "use math, exact, regex:PATTERN (the answer is the pattern's last match) or code"

_ANCHOR = re.compile(r"\banswer\b[ \t]*(?:\*\*)?[ \t]*(?:is\b[ \t]*:?|:|：)[ \t]*(?P<rest>[^\n]*)",
                     re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_WRAPPERS = (("**", "**"), ("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("`", "`"))
_SPACING = re.compile(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\[!,;: ]|~")


def _anchored(completion: str) -> str | None:
    """The value after the last "answer is" / "Answer:" anchor, or None."""
    last = None
    for m in _ANCHOR.finditer(completion):
        last = m
    if last is None:
        return None
    rest = last.group("rest").strip()
    for left, right in (("**", "**"), ("$", "$")):
        if rest.startswith(left) and right in rest[len(left):]:
            return rest[len(left):rest.index(right, len(left))].strip() or None
    rest = rest.rstrip("*").strip()
    if rest.endswith(".") and not rest.endswith(".."):
        rest = rest[:-1].rstrip()
    return rest or None


def final_answer(completion: str | None) -> str | None:
    """The final answer of ``completion`` by the strict rules of the module docstring, or None."""
    if not isinstance(completion, str) or not completion.strip():
        return None
    if "<answer>" in completion.lower():
        return extract_answer(completion)
    boxed = last_boxed(completion)
    if boxed is not None:
        return boxed
    anchored = _anchored(completion)
    return anchored if anchored is not None else extract_answer(completion)


def _unwrap(s: str) -> str:
    """``s`` without surrounding bold, ``$``, ``\\(\\)``, ``\\[\\]``, backticks and a whole ``\\boxed{}``."""
    changed = True
    while changed and s:
        changed = False
        s = s.strip()
        for left, right in _WRAPPERS:
            if len(s) > len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s, changed = s[len(left):-len(right)], True
                break
        if s.startswith("\\boxed{") and s.endswith("}") and last_boxed(s) == s[7:-1].strip():
            s, changed = s[7:-1], True
        if s.endswith(".") and not s.endswith(".."):
            s, changed = s[:-1], True
    return s.strip()


def normalise(text: str) -> str:
    """``text`` as the ``exact`` verifier compares it: unwrapped (:func:`_unwrap`), without LaTeX
    spacing commands and ``\\left``/``\\right``, ``\\dfrac``/``\\tfrac`` as ``\\frac``, without any
    whitespace; a plain number (``1,000``, ``73.0``, ``+5``) in one canonical decimal form."""
    s = _unwrap(str(text))
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = _SPACING.sub("", s).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = "".join(s.split())
    if _NUMBER.fullmatch(s):
        try:
            d = Decimal(s)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            return s
        s = format(d.normalize(), "f") if d != 0 else "0"
    return s


class Verifier(Protocol):
    """Scores one completion against a problem's gold answer (1 success, 0 not)."""

    name: str

    def check(self, problem_id: str, answer: str, completion: str) -> int: ...

    def extract(self, completion: str) -> str | None: ...


class MathVerifier:
    """math-verify, as for JSONL tasks (parses only; never runs model output)."""

    name = "math"

    def __init__(self) -> None:
        self._checker = MathChecker()
        # import math-verify (sympy, mpmath) now: their imports exec code, which eval_guard.guarded() refuses
        self._checker._lib()

    def check(self, problem_id: str, answer: str, completion: str) -> int:
        return int(self._checker.check(problem_id, answer, completion) >= 1.0)

    def extract(self, completion: str) -> str | None:
        return final_answer(completion)

    def config(self) -> dict:
        return self._checker.config()


class ExactVerifier:
    """Strict final-answer match after :func:`normalise` (see the module docstring)."""

    name = "exact"

    def check(self, problem_id: str, answer: str, completion: str) -> int:
        got = self.extract(completion)
        return int(got is not None and normalise(got) == normalise(answer))

    def extract(self, completion: str) -> str | None:
        return final_answer(completion)

    def config(self) -> dict:
        return {"answer": "last <answer>, else last \\boxed{}, else after the last 'answer is', else the last line",
                "compare": "equal after normalise() (no algebra)"}


@dataclass
class RegexVerifier:
    """The answer is the last match of ``pattern`` (its first group, when it has one)."""

    pattern: re.Pattern
    name: str = "regex"

    def extract(self, completion: str) -> str | None:
        if not isinstance(completion, str):
            return None
        last = None
        for m in self.pattern.finditer(completion):
            last = m
        if last is None:
            return None
        return last.group(1) if self.pattern.groups else last.group(0)

    def check(self, problem_id: str, answer: str, completion: str) -> int:
        got = self.extract(completion)
        return int(got is not None and normalise(got) == normalise(answer))

    def config(self) -> dict:
        return {"pattern": self.pattern.pattern, "compare": "equal after normalise()"}


def parse_verifier(spec: str, field: str = "verifier") -> tuple[str, str | None]:
    """``(name, pattern)`` of a verifier spec, or a ConfigError naming the config ``field``."""
    text = str(spec).strip()
    name, sep, pattern = text.partition(":")
    name = name.strip().lower()
    if name == "regex":
        if not sep or not pattern:
            raise ConfigError(f"`{field}` {text!r} gives no pattern. Fix: write regex:PATTERN, "
                              "e.g. regex:'Answer: (\\S+)'")
        try:
            re.compile(pattern)
        except re.error as e:
            raise ConfigError(f"`{field}` {text!r} is not a valid regular expression ({e}). "
                              "Fix: correct the pattern after regex:") from None
        return name, pattern
    if sep or name not in VERIFIER_NAMES:
        raise ConfigError(f"`{field}` {text!r} is not a verifier. Fix: {_FIX_SPEC}")
    return name, None


def second_verifier(primary: str, second: str) -> str | None:
    """The second verifier's spec: ``second`` itself, None for ``none``, and for ``auto``: exact when
    the primary is math, math when it is exact or a regex, none for code."""
    s = str(second).strip()
    if s.lower() == "none":
        return None
    if s.lower() != "auto":
        return s
    name = parse_verifier(primary)[0]
    return {"math": "exact", "exact": "math", "regex": "math"}.get(name)


def column_name(spec: str) -> str:
    """The output column of a verifier's decisions: ``correct_math``, ``correct_exact``,
    ``correct_regex``, ``correct_code``."""
    return "correct_" + parse_verifier(spec)[0]


def make_verifier(spec: str, *, allow_exec: bool = False, timeout_s: float = 10.0, memory_mb: int = 1024):
    """The verifier for ``spec``; ``code`` only with ``allow_exec`` (else a ConfigError)."""
    name, pattern = parse_verifier(spec)
    if name == "math":
        return MathVerifier()
    if name == "exact":
        return ExactVerifier()
    if name == "regex":
        return RegexVerifier(re.compile(pattern))
    if not allow_exec:
        raise ConfigError("`verifier` code runs the model's output as a program. Fix: add `allow_exec` "
                          "if you accept that (it runs in a subprocess with a time and memory limit)")
    from .code_exec import CodeVerifier

    return CodeVerifier(timeout_s=timeout_s, memory_mb=memory_mb)


def math_grader() -> Callable[[str, str], bool]:
    """``grade(target, completion) -> bool`` by math-verify (:class:`MathVerifier`): the fallback
    grader that ``analyze --regrade`` gives the lm-eval importer (``io`` cannot import this layer).

    A target in GSM8K's form (a worked solution ending in ``#### 72``) is read after its last
    ``####``. math-verify is imported on the first call (before the guard: its imports run code);
    each check runs under :func:`~supportscope.tasks.eval_guard.guarded`, as ``grade`` does.
    """
    from .eval_guard import guarded

    state: dict[str, MathVerifier] = {}

    def grade(target: str, completion: str) -> bool:
        verifier = state.get("v")
        if verifier is None:
            verifier = state["v"] = MathVerifier()
        gold = target.rsplit("####", 1)[1].strip() if "####" in target else target
        with guarded():
            return bool(verifier.check(gold, gold, completion))

    return grade
