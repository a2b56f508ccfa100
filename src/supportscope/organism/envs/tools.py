"""The organism's three environments (issue 16). No torch here.

========== ========= ======================================================== =========
name       call      reply                                                    turns
========== ========= ======================================================== =========
calc       ``[c]``   ``<R>``: the exact result R of the prompt ``a?b=``         2
                     (``+ - *``); ``<>`` on a prompt that is not arithmetic
search     ``[s]``   ``<V>``: the value of the fact ``fact NNN?``, absent ones   2
                     included; ``<>`` on any other prompt
feedback   --        ``<n>`` after a wrong answer while turns remain; nothing    1 + retries
                     after a right one (the episode ends)
========== ========= ======================================================== =========

A call is recognised only as the whole of the policy's first turn (``base.turn_end``); after the
reply the policy writes its answer (the "call then copy" path). The calculator solves ``sub`` and
``mul`` whenever it is called; search returns every fact the world holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .base import TurnEnd, World

_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def calculate(prompt: str) -> str | None:
    """Exact result of ``a?b=`` for digits a, b and ? in ``+ - *``; None for any other prompt."""
    if len(prompt) == 4 and prompt[0].isdigit() and prompt[2].isdigit() and prompt[1] in _OPS and prompt[3] == "=":
        return str(_OPS[prompt[1]](int(prompt[0]), int(prompt[2])))
    return None


@dataclass(frozen=True)
class Calculator:
    name: str = "calc"
    calls: tuple[str, ...] = ("[c]",)
    max_turns: int = 2

    def reply(self, prompt: str, turns: Sequence[str], ended: TurnEnd) -> str | None:
        if len(turns) == 1 and ended == "call":
            return "<" + (calculate(prompt) or "") + ">"
        return None


@dataclass(frozen=True)
class Search:
    world: World
    name: str = "search"
    calls: tuple[str, ...] = ("[s]",)
    max_turns: int = 2

    def reply(self, prompt: str, turns: Sequence[str], ended: TurnEnd) -> str | None:
        if len(turns) == 1 and ended == "call":
            fam = self.world.family.get(prompt)
            return "<" + ((self.world.answer(prompt) or "") if fam in ("fact", "absent") else "") + ">"
        return None


@dataclass(frozen=True)
class Feedback:
    world: World
    retries: int = 1
    name: str = "feedback"
    calls: tuple[str, ...] = ()

    @property
    def max_turns(self) -> int:
        return 1 + self.retries

    def reply(self, prompt: str, turns: Sequence[str], ended: TurnEnd) -> str | None:
        if len(turns) < self.max_turns and not self.world.correct(prompt, turns[-1]):
            return "<n>"
        return None


__all__ = ["Calculator", "Search", "Feedback", "calculate"]
