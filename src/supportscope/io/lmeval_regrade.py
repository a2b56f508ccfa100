"""``--regrade`` of lm-eval samples files with ``repeats > 1``: every generation graded again.

lm-eval samples R generations per document (``repeats: R``) but grades one filtered answer
(``take_first``) or a vote; the record keeps all R strings in ``resps[0]``. With ``--regrade``
generation j becomes per-sample row ``sample_idx = j``, graded the way lm-eval grades its one
answer when that can be replayed from the sibling ``results_*.json``, else by math-verify:

* **replay** (the task's config is there, its metric is ``exact_match`` and every step of the
  chosen filter is one of :data:`MAPS` or :data:`SELECTIONS`): the filter's steps in order on the
  generation, then lm-eval's ``exact_match`` (the HF ``evaluate`` metric it ports) against the
  ``target`` with the options of the metric's ``metric_list`` entry. Steps, as in
  ``lm_eval/filters``: ``regex`` (``RegexFilter``: ``re.findall(regex_pattern, text)``; no match:
  ``fallback``, default ``"[invalid]"``; else the match at ``group_select`` (default 0, may be
  negative; out of range: ``fallback``); a match of several groups gives its first non-empty
  group (none: ``fallback``); the result stripped), ``remove_whitespace`` (one leading space
  removed), ``lowercase``, ``uppercase``; the selections ``take_first``, ``take_first_k`` and
  ``majority_vote`` pick among (or vote over) the R answers, which a per-generation grade does not
  need: a self-consistency task (``maj@64``) is regraded as its 64 samples. exact_match: each of
  ``regexes_to_ignore`` removed (``re.sub``) from prediction and reference, then ``ignore_case``
  (lower case), ``ignore_punctuation`` (``string.punctuation`` removed), ``ignore_numbers``
  (digits removed), then both stripped of surrounding whitespace (lm-eval compares unstripped
  strings; its regex filter strips its match, and stripping only differs from lm-eval on answers
  with surrounding whitespace) and compared; a list target matches when any element does.
* **math-verify** (no ``results_*.json``, another metric, or a step that cannot be replayed, e.g.
  ``multi_choice_regex`` which needs the document's choices): ``math_grader(target, generation)``,
  the grader the pipeline injects (:func:`supportscope.tasks.answers.math_grader`: io lies below
  the task layer and cannot import it); a note says which grader was used and why.

A replayed first generation should reproduce lm-eval's own metric value of the record whenever the
filter keeps the first answer: :class:`Regrader` counts the documents where it does not, and the
importer names that count in a note.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import InputError
from .source import Source

__all__ = ["MAPS", "SELECTIONS", "Regrader", "exact_match", "objects", "regex_step", "targets"]

#: lm-eval's default RegexFilter pattern and fallback
DEFAULT_PATTERN, DEFAULT_FALLBACK = r"#### (\-?[0-9\.\,]+)", "[invalid]"
#: filter functions applied to each answer, replayed per generation
MAPS = ("regex", "remove_whitespace", "lowercase", "uppercase")
#: filter functions that choose among a document's answers (no-ops for one generation)
SELECTIONS = ("take_first", "take_first_k", "majority_vote")
_PUNCT = str.maketrans("", "", string.punctuation)
_DIGITS = str.maketrans("", "", string.digits)


def regex_step(pattern: str, group_select: int = 0, fallback: str = DEFAULT_FALLBACK) -> Callable[[str], str]:
    """lm-eval's ``RegexFilter`` on one answer (module docstring)."""
    rx = re.compile(pattern)

    def apply(text: str) -> str:
        found = rx.findall(text)
        if not found:
            return fallback
        try:
            match = found[group_select]
        except IndexError:
            return fallback
        if isinstance(match, tuple):
            match = next((m for m in match if m), None)
            if match is None:
                return fallback
        return match.strip()

    return apply


def _step(spec: dict, where: str) -> Callable[[str], str] | None | str:
    """One filter step as a function of one answer; None for a selection; the function's name
    (a str) when it cannot be replayed."""
    fn = spec.get("function")
    if fn in SELECTIONS:
        return None
    if fn == "regex":
        try:
            return regex_step(str(spec.get("regex_pattern", DEFAULT_PATTERN)), int(spec.get("group_select", 0)),
                              str(spec.get("fallback", DEFAULT_FALLBACK)))
        except (re.error, TypeError, ValueError) as e:
            raise InputError(where, f"the regex filter step {json.dumps(spec)[:120]} cannot be used ({e})",
                             "correct regex_pattern / group_select in the task config, or leave out --regrade") from None
    if fn == "remove_whitespace":
        return lambda t: t.removeprefix(" ")
    if fn == "lowercase":
        return str.lower
    if fn == "uppercase":
        return str.upper
    return str(fn)


def exact_match(prediction: str, references: list[str], options: dict) -> bool:
    """lm-eval's exact_match of one prediction against the references (module docstring)."""
    ignore = [re.compile(p) for p in options.get("regexes_to_ignore") or []]
    for ref in references:
        p, t = prediction, ref
        for rx in ignore:
            p, t = rx.sub("", p), rx.sub("", t)
        if options.get("ignore_case"):
            p, t = p.lower(), t.lower()
        if options.get("ignore_punctuation"):
            p, t = p.translate(_PUNCT), t.translate(_PUNCT)
        if options.get("ignore_numbers"):
            p, t = p.translate(_DIGITS), t.translate(_DIGITS)
        if p.strip() == t.strip():
            return True
    return False


def targets(value: object) -> list[str] | None:
    """The reference answers of a record's ``target`` (a list: any of them), None if there is none."""
    if value is None or isinstance(value, dict):
        return None
    items = value if isinstance(value, list) else [value]
    out = [str(v) for v in items if v is not None and not isinstance(v, (list, dict))]
    return out or None


@dataclass(frozen=True)
class _Plan:
    maps: tuple[Callable[[str], str], ...]
    options: dict
    keeps_first: bool  # lm-eval's answer is the first generation's (take_first, no vote)


class Regrader:
    """Grades one generation of a task (module docstring): replayed when ``config`` allows, else by
    ``math_grader``. ``mode`` is ``"replay"`` or ``"math-verify"``; ``why`` says why not replayed."""

    def __init__(self, config: dict | None, filter_name: str | None, metric: str,
                 math_grader: Callable[[str, str], bool] | None, where: str, why: str | None) -> None:
        self.plan, self.why = None, why
        self.mismatch = self.checked = 0
        steps = next((f.get("filter") or [] for f in (config or {}).get("filter_list") or []
                      if isinstance(f, dict) and f.get("name") == filter_name), [])
        if config is None:
            self.why = why or "no task config"
        elif metric != "exact_match":
            self.why = f"metric {metric!r} is not exact_match, whose grading is replayed"
        else:
            made = [_step(s, where) for s in steps if isinstance(s, dict)]
            odd = [m for m in made if isinstance(m, str)]
            if odd:
                self.why = f"filter step {odd[0]!r} of {filter_name!r} cannot be replayed"
            else:
                entry = next((m for m in config.get("metric_list") or [] if isinstance(m, dict)
                              and m.get("metric") == metric), {})
                try:
                    for p in entry.get("regexes_to_ignore") or []:
                        re.compile(p)
                except (re.error, TypeError) as e:
                    raise InputError(where, f"regexes_to_ignore of {metric} cannot be used ({e})",
                                     "correct the task's metric_list, or leave out --regrade") from None
                picks = [s.get("function") for s in steps if isinstance(s, dict) and s.get("function") in SELECTIONS]
                self.plan = _Plan(tuple(m for m in made if m is not None), entry,
                                  "majority_vote" not in picks and (not picks or picks[-1] == "take_first"))
        self.math = math_grader
        if self.plan is None and math_grader is None:
            raise InputError(where, f"--regrade needs math-verify here ({self.why})",
                             "keep the results_*.json next to the samples file, or pass ImportOptions(math_grader=...)")

    @property
    def mode(self) -> str:
        return "replay" if self.plan is not None else "math-verify"

    def describe(self) -> str:
        """How generations are graded, for the note."""
        if self.plan is None:
            return f"math-verify against target ({self.why})"
        opts = {k: v for k, v in self.plan.options.items() if k in ("ignore_case", "ignore_punctuation",
                                                                    "ignore_numbers", "regexes_to_ignore") and v}
        return f"the filter's steps and exact_match{' ' + json.dumps(opts) if opts else ''} against target"

    def grade(self, generation: str, refs: list[str]) -> bool:
        if self.plan is None:
            return any(bool(self.math(ref, generation)) for ref in refs)
        answer = generation
        for step in self.plan.maps:
            answer = step(answer)
        return exact_match(answer, refs, self.plan.options)

    def check_first(self, first_ok: bool, lm_eval_value: object) -> None:
        """Compare the replayed first generation with lm-eval's own metric value of the record."""
        if self.plan is None or not self.plan.keeps_first or not isinstance(lm_eval_value, (int, float)):
            return
        self.checked += 1
        self.mismatch += bool(first_ok) != (float(lm_eval_value) >= 1.0)


def objects(inner: Source) -> Iterator[tuple[int, dict]]:
    """``(line, object)`` of every record of a .jsonl or .json samples file, in order."""
    elements = getattr(inner, "elements", None)
    if elements is not None:
        yield from elements()
        return
    if inner.fmt != "jsonl":
        raise InputError(inner.path, "--regrade reads lm-eval samples as .jsonl (as --log_samples writes them)",
                         "pass the samples_<task>_<date>.jsonl file, or leave out --regrade")
    with open(inner.path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            text = raw.decode("utf-8", "replace")
            if number == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as e:
                raise InputError(inner.path, f"invalid JSON ({e})", "write one JSON object per line",
                                 line=number) from None
            if not isinstance(obj, dict):
                raise InputError(inner.path, "this line is not a JSON object", "write one JSON object per line",
                                 line=number)
            yield number, obj
