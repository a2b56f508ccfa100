"""Making a task from a spec string; a registry of task factories by spec prefix.

Specs:

* ``PATH.jsonl`` (or ``PATH.jsonl?limit=N``, or ``jsonl:PATH`` for any file name): problems
  from a JSON Lines file, checked with math-verify (:mod:`.jsonl`);
* ``rg:NAME`` or ``rg:NAME?key=value&...``: a reasoning-gym generator (:mod:`.rgym`);
* ``organism:...``: the model organism's problems (:mod:`supportscope.organism.task`, imported on
  first use: torch is loaded only when an organism task is asked for);
* ``PREFIX:REST`` for any prefix added with :func:`register`.

A factory is called as ``factory(rest, limit=limit, seed=seed)`` with ``rest`` the text after
``PREFIX:``, and returns a :class:`~supportscope.tasks.base.Task` of at most ``limit`` problems
(checked). It is registered as a callable or as ``"package.module:function"`` (imported on first
use, so a task defined in a higher layer, like the organism's, is registered here without this
module importing it). The entries live in a
:class:`supportscope.registry.Registry`, the same mechanism as backends, input formats and report
sections.
"""

from __future__ import annotations

import os
import re
from typing import Callable

from ..registry import Registry, suggest
from .base import Task, TaskSpecError

__all__ = ["load_task", "register", "registered_prefixes", "TaskFactory", "unregister"]

TaskFactory = Callable[..., Task]

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]+):(.*)$", re.DOTALL)
_FACTORIES = Registry("task kind")


def register(prefix: str, factory: TaskFactory | str, *, replace: bool = False) -> None:
    """Make ``load_task("PREFIX:rest", limit=..., seed=...)`` call ``factory(rest, limit=, seed=)``.

    ``prefix`` is lower-case letters, digits, ``_`` or ``-``, at least two characters (so a
    Windows drive letter is never taken for one). Registering a prefix twice is an error unless
    ``replace=True``.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]+", prefix):
        raise ValueError(f"task prefix must be lower-case letters, digits, '_' or '-' "
                         f"(two or more, starting with a letter), got {prefix!r}")
    if not callable(factory) and not isinstance(factory, str):
        raise TypeError(f"factory for prefix {prefix!r} is not callable: {factory!r}")
    if prefix in _FACTORIES and not replace:
        raise ValueError(f"task prefix {prefix!r} is already registered; pass replace=True")
    _FACTORIES.register(prefix, factory, replace=replace)


def unregister(prefix: str) -> None:
    """Remove a registered prefix (e.g. a test's temporary one)."""
    _FACTORIES.unregister(prefix)


def registered_prefixes() -> list[str]:
    """The prefixes :func:`load_task` knows, sorted."""
    return sorted(_FACTORIES.names())


def _jsonl_factory(rest: str, *, limit: int | None = None, seed: int = 0) -> Task:
    from .jsonl import load_jsonl

    return load_jsonl(rest, limit=limit, seed=seed, prefix="jsonl:")


def _rg_factory(rest: str, *, limit: int | None = None, seed: int = 0) -> Task:
    from .rgym import load_rg

    return load_rg(rest, limit=limit, seed=seed)


register("jsonl", _jsonl_factory)
register("rg", _rg_factory)
register("organism", "supportscope.organism.task:organism_factory")


def _check_limit_seed(spec: str, limit, seed) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise TaskSpecError(spec, f"limit must be a whole number >= 1, got {limit!r}",
                            "leave limit out for all problems, or give N >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TaskSpecError(spec, f"seed must be a whole number >= 0, got {seed!r}",
                            "give a seed such as 0")


def _within_limit(spec: str, prefix: str, task: Task, limit: int | None) -> Task:
    """``task``, checked to hold at most ``limit`` problems: every task source honours ``limit``
    (a factory that ignored it sampled more problems than asked for, silently)."""
    if limit is not None:
        got = len(task.problems())
        if got > limit:
            raise TaskSpecError(spec, f"the '{prefix}:' task gave {got} problems, more than the limit {limit}",
                                f"the factory registered for '{prefix}:' must keep at most limit problems")
    return task


def load_task(spec: str, *, limit: int | None = None, seed: int = 0) -> Task:
    """The task a spec names: ``PATH.jsonl``, ``rg:NAME[?k=v&...]`` or a registered prefix.

    ``limit``: at most this many problems, for every kind (JSONL: the first N; reasoning-gym: the
    size, default 50; organism: drawn with the seed; a registered factory that returns more is
    refused). ``seed``: the generator seed (recorded but unused for a file).
    The returned task's ``spec`` is canonical: ``load_task(task.spec)`` gives the same problems.

    Raises :class:`~supportscope.tasks.base.TaskSpecError` (an ``InputError`` and a
    ``ValueError``) for a spec that names no task, and ``InputError`` for a bad JSONL file.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise TaskSpecError(str(spec), "empty task spec", "give PATH.jsonl or rg:NAME")
    spec = spec.strip()
    _check_limit_seed(spec, limit, seed)
    m = _PREFIX.match(spec)
    if m and m.group(1).lower() in _FACTORIES and not os.path.exists(spec):
        task = _FACTORIES.get(m.group(1).lower())(m.group(2), limit=limit, seed=seed)
        return _within_limit(spec, m.group(1).lower(), task, limit)
    if spec.split("?", 1)[0].lower().endswith(".jsonl") or spec.lower().endswith(".jsonl"):
        from .jsonl import load_jsonl

        return load_jsonl(spec, limit=limit, seed=seed)
    if m and not os.path.exists(spec):
        hint = suggest(m.group(1), _FACTORIES.names(), suffix=":")
        raise TaskSpecError(spec, f"unknown task kind '{m.group(1)}:'",
                            f"{hint}known kinds: {', '.join(p + ':' for p in registered_prefixes())}"
                            " or a PATH.jsonl file")
    if os.path.isfile(spec):
        raise TaskSpecError(spec, "not a .jsonl file",
                            f"name a JSON Lines file PATH.jsonl, or write jsonl:{spec}")
    raise TaskSpecError(spec, "not a task spec",
                        "give PATH.jsonl (a JSON Lines file of problems) or rg:NAME "
                        "(a reasoning-gym generator, e.g. rg:chain_sum)")
