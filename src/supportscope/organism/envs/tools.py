"""The organism's three environments (issue 16). No torch here.

========== ========= ======================================================== =========
name       call      reply                                                    turns
========== ========= ======================================================== =========
calc       ``[c]``   ``<R>``: the exact result R of the prompt ``a?b=``         2
                     (``+ - *``); ``<>`` on a prompt that is not arithmetic
search     ``[s]``   ``<V>``: the value of the fact ``fact NNN?``, absent ones   2
                     included; ``<>`` on any other prompt
feedback   --        ``<n>`` after a wrong answer to an arithmetic problem       1 + retries
                     while turns remain; nothing after a right one, nor on
                     facts (the episode ends)
========== ========= ======================================================== =========

A call is recognised only as the whole of the policy's first turn (``base.turn_end``); after the
reply the policy writes its answer (the "call then copy" path). The calculator solves ``sub`` and
``mul`` whenever it is called; search returns every fact the world holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..families import ARITH, calculate
from .base import TurnEnd, World, is_call_prefix

class _CallTool:
    """A tool called by its call string as the whole first turn; the reply is ``<`` + value + ``>``."""

    calls: tuple[str, ...]
    max_turns: int = 2

    def value(self, prompt: str) -> str:
        raise NotImplementedError

    def reply(self, prompt: str, turns: Sequence[str], ended: TurnEnd) -> str | None:
        if len(turns) == 1 and ended == "call":
            return "<" + self.value(prompt) + ">"
        return None

    def may_reply(self, prompt: str, turn: int, text: str) -> bool:
        return is_call_prefix(text, turn, self.calls)


@dataclass(frozen=True)
class Calculator(_CallTool):
    name: str = "calc"
    calls: tuple[str, ...] = ("[c]",)
    max_turns: int = 2

    def value(self, prompt: str) -> str:
        return calculate(prompt) or ""


@dataclass(frozen=True)
class Search(_CallTool):
    world: World
    name: str = "search"
    calls: tuple[str, ...] = ("[s]",)
    max_turns: int = 2

    def value(self, prompt: str) -> str:
        fam = self.world.family.get(prompt)
        return (self.world.answer(prompt) or "") if fam in ("fact", "absent") else ""


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
        if (self.world.family.get(prompt) in ARITH and len(turns) < self.max_turns
                and not self.world.correct(prompt, turns[-1])):
            return "<n>"
        return None

    def may_reply(self, prompt: str, turn: int, text: str) -> bool:
        return self.world.family.get(prompt) in ARITH and turn < self.max_turns - 1


__all__ = ["Calculator", "Search", "Feedback", "calculate"]
