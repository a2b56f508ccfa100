"""What an environment is, and the turn rules every rollout (sampled or exact) follows. No torch here.

An episode is the prompt followed by alternating *policy turns* and *environment replies*:

    prompt  turn_0  [reply_0  turn_1  [reply_1  turn_2 ...]]

A policy turn ends at the first of:

- ``"eos"``: the policy wrote the end token (kept in the transcript, as a policy token);
- ``"call"``: in turn 0 only, the turn's text so far *is* one of the environment's call strings
  (``[c]`` for the calculator, ``[s]`` for search): a call is recognised only at the start of the
  policy's first turn, so the set of transcripts is a finite tree that ``exact_env`` enumerates;
- ``"length"``: the turn has ``max_new_tokens`` policy tokens.

After a turn the environment either replies (text appended to the context; its tokens are
*environment tokens*, never trained on or scored as the policy's) or ends the episode. Replies are
always ``<...>``. The graded answer is the text after the last ``>`` of the completion (the whole
completion when there is none), with one trailing end token removed: :func:`final_answer`; the
organism task's verifier uses the same rule, so sampled grades and the exact tree agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from ..corpus import CorpusConfig
from ..families import EOS

TurnEnd = str  # "eos" | "call" | "length"


def final_answer(completion: str) -> str:
    """The graded part of a completion: after the last ``>`` (an environment reply's end), one
    trailing end token removed."""
    if completion.endswith(EOS):
        completion = completion[:-len(EOS)]
    return completion.rsplit(">", 1)[-1]


@runtime_checkable
class Environment(Protocol):
    """An organism environment: pure text in, text out, deterministic."""

    name: str
    #: strings that end the policy's first turn when the turn starts with them
    calls: tuple[str, ...]
    #: the most policy turns in one episode
    max_turns: int

    def reply(self, prompt: str, turns: Sequence[str], ended: TurnEnd) -> str | None:
        """The reply after the policy's last turn ``turns[-1]`` (texts without the end token), or None
        when the episode is over."""
        ...

    def may_reply(self, prompt: str, turn: int, text: str) -> bool:
        """False when no way of finishing turn ``turn`` (its text so far ``text``) gets a reply: the
        turn is then the episode's last, which ``exact_env`` scores by teacher forcing."""
        ...


@dataclass(frozen=True)
class World:
    """The answers an environment knows: every problem of a corpus config, by prompt (prompts are
    unique: distinct digit pairs per family, distinct fact codes)."""

    answers: dict[str, str]
    family: dict[str, str]

    @classmethod
    def of(cls, corpus: CorpusConfig) -> "World":
        ps = corpus.problems()
        return cls({p.prompt: p.answers[0] for p in ps}, {p.prompt: p.family for p in ps})

    def answer(self, prompt: str) -> str | None:
        return self.answers.get(prompt)

    def correct(self, prompt: str, text: str) -> bool:
        a = self.answers.get(prompt)
        return a is not None and final_answer(text) == a


def turn_end(text: str, n_tokens: int, ended_by_eos: bool, turn: int, calls: Sequence[str],
             max_new_tokens: int) -> TurnEnd | None:
    """Whether a policy turn with ``text`` (no end token) and ``n_tokens`` policy tokens has ended:
    ``"eos"``, ``"call"`` (turn 0 and ``text`` is a call string), ``"length"`` or None (go on)."""
    if ended_by_eos:
        return "eos"
    if turn == 0 and text in calls:
        return "call"
    if n_tokens >= max_new_tokens:
        return "length"
    return None


def is_call_prefix(text: str, turn: int, calls: Sequence[str]) -> bool:
    """True when ``text`` could still grow into a call (so a rollout must check after every token)."""
    return turn == 0 and any(c.startswith(text) for c in calls)


__all__ = ["Environment", "World", "TurnEnd", "final_answer", "turn_end", "is_call_prefix"]
