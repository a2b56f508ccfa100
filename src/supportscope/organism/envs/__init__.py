"""Environments the organism's policy can interact with (issue 16): a registry of names.

``build_env("calc" | "search" | "feedback", corpus)`` gives an :class:`Environment`; an unknown name
is a ValueError with a "did you mean". See ``base`` for the turn rules and ``tools`` for the three
environments. No torch here.
"""

from __future__ import annotations

import difflib

from ..corpus import CorpusConfig
from .base import Environment, World, final_answer, is_call_prefix, turn_end
from .tools import Calculator, Feedback, Search, calculate

ENVS = ("calc", "search", "feedback")


def build_env(name: str, corpus: CorpusConfig | None = None) -> Environment:
    """The environment ``name`` over the problems of ``corpus`` (default: the default CorpusConfig)."""
    if name == "calc":
        return Calculator()
    if name not in ENVS:
        near = difflib.get_close_matches(name, ENVS, n=1)
        raise ValueError(f"unknown environment {name!r}" + (f"; did you mean {near[0]!r}?" if near else "")
                         + f" Choose from {', '.join(ENVS)}")
    world = World.of(corpus or CorpusConfig())
    return Search(world) if name == "search" else Feedback(world)


__all__ = ["ENVS", "build_env", "Environment", "World", "final_answer", "turn_end", "is_call_prefix",
           "Calculator", "Search", "Feedback", "calculate"]
