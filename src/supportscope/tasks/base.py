"""What a task is: a fixed list of problems and a verifier for completions.

A :class:`Task` is made from a *spec* string by :func:`supportscope.tasks.load_task`; the
task's own :attr:`Task.spec` is the canonical spec that recreates exactly the same problems.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import TaskSpecError

__all__ = ["Problem", "Task", "TaskSpecError", "SUCCESS", "problems_digest", "json_safe", "clip01"]

#: A reward at or above this is a success (a "correct" sample).
SUCCESS = 1.0


@dataclass(frozen=True)
class Problem:
    """One problem: an id unique within its task, the prompt shown to the model, the gold answer.

    ``meta`` holds anything else (extra JSONL keys, generator metadata); it takes no part in
    hashing, so problems can be put in sets and used as dict keys (by id, prompt and answer).
    """

    id: str
    prompt: str
    answer: str
    meta: dict = field(default_factory=dict, hash=False, compare=False)


@runtime_checkable
class Task(Protocol):
    """A set of problems with a verifier. Implementations: JSONL files, reasoning-gym generators."""

    name: str
    spec: str

    def problems(self) -> list[Problem]:
        """The problems, always the same ones in the same order."""
        ...

    def verify(self, problem: Problem, completion: str) -> float:
        """Reward in [0, 1] for ``completion`` as an answer to ``problem``; 1 (>= SUCCESS) = solved."""
        ...

    def describe(self) -> dict:
        """JSON-serialisable description for a run manifest: spec, size, seed, config, versions."""
        ...




def clip01(reward: Any) -> float:
    """A reward as a float in [0, 1]; NaN, None and anything not a number become 0."""
    try:
        r = float(reward)
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(r):
        return 0.0
    return min(1.0, max(0.0, r))


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps`` accepts (tuples and sets become lists, others str)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [json_safe(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    try:  # numpy scalars
        item = obj.item()
    except Exception:
        return str(obj)
    return json_safe(item) if isinstance(item, (bool, int, float, str)) else str(obj)


def problems_digest(problems: list[Problem]) -> str:
    """SHA-256 over ids, prompts and answers: equal digests mean the same problem set."""
    h = hashlib.sha256()
    for p in problems:
        h.update(json.dumps([p.id, p.prompt, p.answer], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
