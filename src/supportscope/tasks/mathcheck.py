"""Checking a completion against a gold math answer with math-verify.

* The gold answer (``"5"``, ``"\\frac{1}{2}"``, ``"2\\sqrt{3}"``) is parsed as if it were
  written ``\\boxed{gold}`` (bare LaTeX such as ``2\\sqrt{3}`` is otherwise read as ``2``); a
  gold that already has ``$`` or ``\\boxed`` is parsed as it is. A gold math-verify cannot
  parse is kept as its string, so an identical answer still matches. Parsed golds are cached
  per ``(problem id, answer)``.
* The completion is parsed with math-verify's LaTeX extraction (``\\boxed{}`` first, then
  "final answer is ..." anchors, then the last LaTeX expression) and its plain-expression
  extraction (``... = 5``, ``The answer is 5.``), so ``"The answer is \\boxed{5}"``,
  ``"... = 5"`` and ``"$\\frac12$"`` all match where they should.
* math-verify bounds its work with ``signal.alarm``, which only works in the main thread. On
  the main thread we keep its timeouts (:data:`PARSE_TIMEOUT_S`, :data:`VERIFY_TIMEOUT_S`);
  elsewhere (worker threads) we call it with the timeouts off, which it supports, instead of
  failing. A completion whose check times out or fails scores 0; math-verify's log line about it
  is cut to :data:`MAX_LOGGED_CHARS` characters (it would print the whole completion).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["MAX_LOGGED_CHARS", "MathChecker", "PARSE_TIMEOUT_S", "VERIFY_TIMEOUT_S", "bounded"]

PARSE_TIMEOUT_S = 5
VERIFY_TIMEOUT_S = 5


MAX_LOGGED_CHARS = 200
"""math-verify logs the whole completion it timed out on ("Timeout during parsing: <10,000
characters>"); we keep this many characters of any of its messages and say how many were cut."""


def bounded(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with the number of characters left out."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else f"{s[:limit]}... [{len(s) - limit} more characters]"


class _MathVerifyLogFilter(logging.Filter):
    """Drop math-verify's one-off "Timeout is disabled ..." warning (we turn the timeout off on
    purpose off the main thread, see the module docstring) and bound every other message of it to
    one line of :data:`MAX_LOGGED_CHARS` characters (a timeout logs the whole completion)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Timeout is disabled"):
            return False
        try:
            msg = record.getMessage()
        except Exception:  # a malformed record: leave it to logging
            return True
        if len(msg) > MAX_LOGGED_CHARS or "\n" in msg:
            record.msg, record.args = bounded(msg), ()
        return True


def _quiet_timeout_notice() -> None:
    for name in ("math_verify.parser", "math_verify.grader"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _MathVerifyLogFilter) for f in log.filters):
            log.addFilter(_MathVerifyLogFilter())


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class MathChecker:
    """Verify completions against gold answers with math-verify (imported on first use)."""

    def __init__(self, float_rounding: int = 6, numeric_precision: int = 15, strict: bool = True):
        self.float_rounding = float_rounding
        self.numeric_precision = numeric_precision
        self.strict = strict
        self._gold: dict[tuple[str, str], list[Any]] = {}
        self._lock = threading.Lock()
        self._mv = None

    # Picklable (a task is shipped to Ray workers, scale.ray_exec): only the settings travel; the lock,
    # the library handle and the parsed-gold cache are made anew on the other side.
    def __getstate__(self) -> dict:
        return {"float_rounding": self.float_rounding, "numeric_precision": self.numeric_precision,
                "strict": self.strict}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    # math-verify is slow to import (sympy, antlr); load it once, on first use.
    def _lib(self):
        if self._mv is None:
            import math_verify
            from math_verify.errors import TimeoutException  # a BaseException, not an Exception

            _quiet_timeout_notice()
            self._failures = (Exception, TimeoutException)
            self._gold_cfg = (math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig())
            # math-verify's own normalisation defaults (they read "\frac12" and "2\sqrt3"),
            # with \boxed{} preferred over "final answer is" anchors.
            self._pred_cfg = (
                math_verify.LatexExtractionConfig(boxed_match_priority=0),
                math_verify.ExprExtractionConfig(),
            )
            self._mv = math_verify  # last: other threads test this
        return self._mv

    def config(self) -> dict:
        """The checker's settings, for a run manifest."""
        return {
            "library": "math-verify",
            "gold": "parsed as \\boxed{gold} (LaTeX + plain expression extraction)",
            "completion": "LaTeX extraction with \\boxed{} first (boxed_match_priority=0), "
                          "then plain expressions",
            "float_rounding": self.float_rounding,
            "numeric_precision": self.numeric_precision,
            "strict": self.strict,
            "parse_timeout_s": PARSE_TIMEOUT_S,
            "verify_timeout_s": VERIFY_TIMEOUT_S,
            "timeouts": "signal-based on the main thread, off on other threads",
        }

    def parse_gold(self, problem_id: str, answer: str) -> list[Any]:
        """The parsed gold answer (cached); ``[answer]`` if math-verify finds nothing in it."""
        key = (problem_id, answer)
        got = self._gold.get(key)
        if got is not None:
            return got
        mv = self._lib()
        text = answer.strip()
        if "\\boxed" not in text and "$" not in text:
            text = "\\boxed{" + text + "}"
        try:
            parsed = mv.parse(text, extraction_config=self._gold_cfg,
                              parsing_timeout=PARSE_TIMEOUT_S if _on_main_thread() else None)
        except self._failures:
            parsed = []
        if not parsed:
            parsed = [answer.strip()]
        with self._lock:
            self._gold[key] = parsed
        return parsed

    def check(self, problem_id: str, answer: str, completion: str) -> float:
        """1.0 if ``completion``'s final answer equals the gold ``answer``, else 0.0."""
        if not isinstance(completion, str) or not completion.strip():
            return 0.0
        gold = self.parse_gold(problem_id, answer)
        mv = self._lib()
        main = _on_main_thread()
        try:
            pred = mv.parse(completion, extraction_config=self._pred_cfg,
                            parsing_timeout=PARSE_TIMEOUT_S if main else None)
            if not pred:
                return 0.0
            ok = mv.verify(gold, pred, float_rounding=self.float_rounding,
                           numeric_precision=self.numeric_precision, strict=self.strict,
                           timeout_seconds=VERIFY_TIMEOUT_S if main else None)
        except self._failures:  # math-verify's TimeoutException is a BaseException
            return 0.0
        return 1.0 if ok else 0.0
