"""Tasks: problems to sample on and a verifier for the completions. See DESIGN.md section 5.

``load_task(spec, limit=None, seed=0)`` makes a task from a spec string:

* ``PATH.jsonl``: ``{"id", "prompt", "answer"}`` per line, checked with math-verify;
* ``rg:NAME[?key=value&...]``: a reasoning-gym generator, checked with its ``score_answer``;
* any prefix added with ``register(prefix, factory)``.

A task has ``name``, ``spec`` (canonical), ``problems()``, ``verify(problem, completion)``
(reward in [0, 1]; >= ``SUCCESS`` = 1.0 is a success) and ``describe()`` (for a manifest).
Heavy libraries (math-verify, reasoning-gym) are imported on first use. No torch.
"""

from .base import SUCCESS, Problem, Task, TaskSpecError
from .extract import extract_answer
from .registry import load_task, register, registered_prefixes

__all__ = [
    "Problem",
    "Task",
    "TaskSpecError",
    "SUCCESS",
    "load_task",
    "register",
    "registered_prefixes",
    "extract_answer",
]
