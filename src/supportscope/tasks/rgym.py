"""Problems from a reasoning-gym generator, checked with the generator's own ``score_answer``.

Spec: ``rg:NAME`` or ``rg:NAME?key=value&key=value``. Keys are fields of the generator's config
dataclass (``rg:chain_sum?min_terms=2&max_terms=3``); values are read as JSON where they can be
(``5``, ``true``, ``["+","-"]``), a comma list ``+,-`` is accepted for list fields. ``size`` and
``seed`` may be given in the query too and then win over ``load_task``'s ``limit``/``seed``;
``limit`` caps the size (default size 50). Problem ``i`` depends only on ``(seed, i)``, so the
first N problems of a larger set are the same problems.

Prompt: the generator's question, then :data:`INSTRUCTION` (reasoning-gym's own convention: the
final answer between ``<answer>`` and ``</answer>`` tags, as in its ``SYSTEM_PROMPTS``).
Verification: :func:`~supportscope.tasks.extract.extract_answer` takes the answer out of the
completion (last ``<answer>`` tag, else last ``\\boxed{}``, else last non-empty line) and
``score_answer(answer, entry)`` scores it; the reward is clipped to [0, 1] and a reward >= 1 is
a success. Some generators give partial credit (``basic_arithmetic`` gives
``len(gold)/len(answer)`` when the gold is a substring, ``countdown`` gives 0.01 / 0.05 for
unusable / wrong expressions), so a reward below 1 is not always 0.

reasoning-gym is imported on first use (about a second); it needs no network for the
generators used here.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from ..versions import library_versions
from .base import Problem, TaskSpecError, clip01, json_safe, problems_digest
from .eval_guard import guarded
from .extract import extract_answer
from .spec import format_query, parse_value, split_spec

__all__ = ["ReasoningGymTask", "load_rg", "INSTRUCTION", "DEFAULT_SIZE"]

DEFAULT_SIZE = 50
INSTRUCTION = (
    "Think step by step, then give only the final answer between <answer> and </answer> tags, "
    "for example <answer>answer here</answer>."
)


def _registry() -> dict[str, Any]:
    import reasoning_gym  # noqa: F401  (registers the generators)
    from reasoning_gym.factory import DATASETS

    return DATASETS


def _coerce(spec: str, name: str, fields: dict[str, dataclasses.Field], key: str, raw: str) -> Any:
    if key not in fields:
        close = difflib.get_close_matches(key, list(fields), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        options = ", ".join(k for k in fields if k not in ("seed", "size"))
        raise TaskSpecError(spec, f"'{key}' is not an option of reasoning-gym generator '{name}'",
                            f"{hint}options: {options}")
    value = parse_value(raw)
    f = fields[key]
    default = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(default, (list, tuple)) and isinstance(value, (str, int, float)) \
            and not isinstance(value, bool):
        value = [parse_value(v.strip()) for v in raw.split(",") if v.strip()]
        if isinstance(default, tuple):
            value = tuple(value)
    elif isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def load_rg(rest: str, *, limit: int | None = None, seed: int = 0) -> "ReasoningGymTask":
    """The task for the spec ``"rg:" + rest``."""
    spec = "rg:" + rest
    name, pairs = split_spec(spec, rest)
    name = name.strip()
    datasets = _registry()
    if name not in datasets:
        names = sorted(datasets)
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        fix = (f"did you mean {', '.join(close)}?" if close
               else f"use one of reasoning-gym's {len(names)} generators, e.g. "
                    + ", ".join(names[:8]))
        raise TaskSpecError(spec, f"unknown reasoning-gym generator '{name}'", fix)
    _, config_cls = datasets[name]
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    options: dict[str, Any] = {}
    for key, raw in pairs:
        options[key] = _coerce(spec, name, fields, key, raw)
    size = options.pop("size", None)
    seed = options.pop("seed", seed)
    for what, v in (("size", size), ("seed", seed)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise TaskSpecError(spec, f"{what} must be a whole number >= 0, got {v!r}",
                                f"give {what} as a whole number")
    if size is None:
        size = limit if limit is not None else DEFAULT_SIZE
    elif limit is not None:
        size = min(size, limit)
    if size < 1:
        raise TaskSpecError(spec, f"size must be at least 1, got {size}", "ask for 1 or more problems")
    return ReasoningGymTask(name, options, size=size, seed=seed)


class ReasoningGymTask:
    """``size`` problems from reasoning-gym generator ``name`` with config ``options`` and ``seed``."""

    def __init__(self, name: str, options: dict[str, Any] | None = None, *, size: int = DEFAULT_SIZE,
                 seed: int = 0):
        import reasoning_gym

        self.name = name
        self.options = dict(options or {})
        self.size = int(size)
        self.seed = int(seed)
        self.spec = f"rg:{name}" + format_query({**self.options, "seed": self.seed, "size": self.size})
        try:
            self._dataset = reasoning_gym.create_dataset(name, size=self.size, seed=self.seed,
                                                         **self.options)
        except (AssertionError, TypeError, ValueError) as e:
            raise TaskSpecError(self.spec, f"reasoning-gym rejected the config ({str(e) or type(e).__name__})",
                                "check the option values against the generator's config") from None
        self._entries: dict[str, dict] = {}
        self._problems: list[Problem] = []
        for i in range(self.size):
            entry = self._dataset[i]
            pid = f"{name}-{self.seed}-{i}"
            self._entries[pid] = entry
            question = str(entry["question"])
            self._problems.append(Problem(
                id=pid,
                prompt=question.rstrip() + "\n\n" + INSTRUCTION,
                answer=str(entry["answer"]) if entry.get("answer") is not None else "",
                meta={"source": "reasoning_gym", "dataset": name, "index": i, "seed": self.seed,
                      "question": question, "metadata": json_safe(entry.get("metadata", {}))},
            ))

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def _entry(self, problem: Problem) -> dict:
        entry = self._entries.get(problem.id)
        if entry is None:
            raise ValueError(f"problem {problem.id!r} is not one of task {self.spec!r}'s problems")
        return entry

    def verify(self, problem: Problem, completion: str) -> float:
        entry = self._entry(problem)
        answer = extract_answer(completion)
        try:
            with guarded():  # answers some scorers eval() are checked first (tasks.eval_guard)
                reward = self._dataset.score_answer(answer, entry)
        except Exception:  # a scorer that trips over a malformed (or refused, UnsafeCode) answer: no credit
            return 0.0
        return clip01(reward)

    def describe(self) -> dict:
        config = self._dataset.config
        return {
            "kind": "reasoning_gym",
            "spec": self.spec,
            "name": self.name,
            "size": self.size,
            "seed": self.seed,
            "options": json_safe(self.options),
            "generator_config": json_safe(dataclasses.asdict(config)) if dataclasses.is_dataclass(config)
            else repr(config),
            "generator_class": f"{type(self._dataset).__module__}.{type(self._dataset).__qualname__}",
            "prompt": "question + '\\n\\n' + instruction",
            "instruction": INSTRUCTION,
            "answer_extraction": "last <answer>...</answer> (an open <answer> at the end counts), "
                                 "else last \\boxed{...}, else last non-empty line without an "
                                 "'Answer:' label",
            "scorer": "dataset.score_answer(answer, entry), clipped to [0, 1]; success = reward >= 1",
            "problems_sha256": problems_digest(self._problems),
            "versions": library_versions(extra=("reasoning_gym",)),
        }

    def __repr__(self) -> str:
        return f"ReasoningGymTask({self.spec!r})"
