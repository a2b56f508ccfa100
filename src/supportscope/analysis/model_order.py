"""Which tuned models an analysis compares, and in what order: steps from names, globs, --order.

A training step is read from a model name by :data:`STEP_PATTERN`: the number after ``step``,
``global_step``, ``ckpt``, ``checkpoint`` or ``iter`` (separated by ``-``, ``_``, ``.``, ``=`` or
nothing), the last such match in the name: ``step-150`` -> 150, ``global_step_450`` -> 450,
``run3/ckpt-3000`` -> 3000, ``checkpoint3000`` -> 3000. A step given explicitly (``--step
NAME=STEP``, or ``step = 150`` in a run config's ``[[tuned]]`` table) wins over the name.

Orders (``--order``):
- ``step`` (default): by step. When every model has a step the models form a *trajectory*; when
  none has one they are a set of *methods* in the order given; a mix is an error (the fix names
  the models without a step).
- ``given``: the order of the command line, read as a trajectory (checkpoints without numbers).
- ``name``: sorted by name, a set of methods (no trajectory).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from supportscope.errors import InputError

ORDERS = ("step", "given", "name")
STEP_PATTERN = re.compile(r"(?:global[_-]?step|step|ckpt|checkpoint|iter)[-_.=]?(\d+)", re.IGNORECASE)


def step_from_name(name: str) -> int | None:
    """The training step in a model name (the last match of :data:`STEP_PATTERN`), or None."""
    found = STEP_PATTERN.findall(name)
    return int(found[-1]) if found else None


def expand_names(patterns: list[str], available: list[str], source: str) -> list[str]:
    """--tuned values with shell globs (``'step-*'``) expanded against the model names found, in
    the order given (a glob's matches sorted by name); a name or glob matching nothing is an error
    listing what is there. Repeats are dropped."""
    out: list[str] = []
    for pat in patterns:
        if any(ch in pat for ch in "*?["):
            hits = sorted(n for n in available if fnmatch.fnmatchcase(n, pat))
        else:
            hits = [pat] if pat in available else []
        if not hits:
            shown = ", ".join(sorted(available)[:12]) + (" ..." if len(available) > 12 else "")
            raise InputError(source, f"--tuned {pat!r} matches no model; the model column holds: {shown}",
                             "pass a model name or a glob such as 'step-*' (quoted, so the shell leaves it alone)")
        out += [h for h in hits if h not in out]
    return out


def parse_steps(items: list[str] | None) -> dict[str, int]:
    """``--step NAME=STEP`` values -> {name: step}."""
    steps: dict[str, int] = {}
    for item in items or []:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value.strip().lstrip("-").isdigit():
            raise InputError("<command line>", f"--step {item!r} is not NAME=STEP",
                             "write the model name, '=', and its training step, e.g. --step my-run=450")
        steps[name] = int(value)
    return steps


@dataclass(frozen=True)
class Ordering:
    """The tuned models in analysis order; ``steps[i]`` is None for a model without a step;
    ``trajectory`` says whether the order is a training trajectory (else: a set of methods)."""

    names: tuple[str, ...]
    steps: tuple[int | None, ...]
    trajectory: bool


def order_models(names: list[str], order: str = "step", explicit: dict[str, int] | None = None) -> Ordering:
    """Order the tuned models (module docstring). ``explicit`` steps win over steps in names."""
    if order not in ORDERS:
        raise InputError("<command line>", f"--order {order!r} is not one of {', '.join(ORDERS)}",
                         "pass --order step, given or name")
    explicit = explicit or {}
    unknown = sorted(set(explicit) - set(names))
    if unknown:
        raise InputError("<command line>", f"--step names {unknown[0]!r}, which is not a --tuned model",
                         f"name one of: {', '.join(names)}")
    steps = {n: explicit.get(n, step_from_name(n)) for n in names}
    if order == "name":
        ordered = sorted(names)
        return Ordering(tuple(ordered), tuple(steps[n] for n in ordered), False)
    if order == "given":
        return Ordering(tuple(names), tuple(steps[n] for n in names), len(names) > 1)
    missing = [n for n in names if steps[n] is None]
    if len(missing) == len(names):
        return Ordering(tuple(names), (None,) * len(names), False)
    if missing:
        raise InputError("<command line>", f"--order step: model {missing[0]!r} has no training step in its name "
                         f"({len(missing)} of {len(names)} models lack one)",
                         f"give it one with --step {missing[0]}=STEP, or pass --order given (the command line's "
                         "order) or --order name")
    by_step: dict[int, str] = {}
    for n in names:
        if steps[n] in by_step:
            raise InputError("<command line>", f"models {by_step[steps[n]]!r} and {n!r} both have step {steps[n]}",
                             "give one of them its own step with --step NAME=STEP, or pass --order given")
        by_step[steps[n]] = n
    ordered = sorted(names, key=lambda n: steps[n])
    return Ordering(tuple(ordered), tuple(steps[n] for n in ordered), True)
