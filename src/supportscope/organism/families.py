"""Task families of the model organism (DESIGN.md section 6): short problems with known answers.

Every family is a fixed list of problems, deterministic from a seed. Arithmetic families use
single digits a, b in 0..9 and pair a *correct* answer with one *systematic wrong* answer (the
other operator: "operator confusion"); the pretraining corpus (``corpus.py``) answers a problem
correctly a fraction q of the time and wrongly otherwise, so a well-fit model gives the correct
answer probability about q. Pairs where the two answers coincide are left out.

====== ============ ============ ======== ===================================================
family prompt       correct      wrong    intended regime at T = 1, top_p = 0.95 (default q)
====== ============ ============ ======== ===================================================
add    ``a+b=``     a+b          a*b      basin (q = 0.9)
mul    ``a*b=``     a*b          a+b      tail (q = 0.15: the nucleus keeps both answers)
sub    ``a-b=``     a-b          a+b      singular (q = 0.01: the wrong answer alone fills the
                                          0.95 nucleus); barrier under raw sampling (p ~ q)
fact   ``fact NNN?`` 3 letters   --       basin (memorised facts, q = 1)
absent ``fact NNN?`` 4 letters   --       singular under truncation, barrier raw: the code and
                                          its answer never appear in the corpus (answer letters
                                          u..z are never an answer character in the corpus)
====== ============ ============ ======== ===================================================

No torch here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Every character a prompt, an answer or an environment turn may contain (the tokenizer's alphabet,
#: see model.py). ``[`` and ``]`` spell tool calls (``[c]``, ``[s]``); ``<`` and ``>`` delimit an
#: environment's reply, which only an environment writes (envs/).
ALPHABET = "0123456789+-*=? abcdefghijklmnopqrstuvwxyz[]<>"
#: The end token that closes every answer in the corpus (the tokenizer's EOS).
EOS = "</s>"

FAMILIES = ("add", "mul", "sub", "fact", "absent")
ARITH = ("add", "mul", "sub")
FACT_LETTERS = "abcdef"  # answer characters of the memorised facts
ABSENT_LETTERS = "uvwxyz"  # answer characters that never occur in any corpus answer

_OPS = {"add": ("+", lambda a, b: a + b, lambda a, b: a * b),
        "mul": ("*", lambda a, b: a * b, lambda a, b: a + b),
        "sub": ("-", lambda a, b: a - b, lambda a, b: a + b)}


@dataclass(frozen=True)
class OrganismProblem:
    """One problem: ``answers`` is the set of correct answer strings (here always one), ``wrong``
    the corpus's systematic wrong answer (None for facts)."""

    id: str
    prompt: str
    answers: tuple[str, ...]
    family: str
    wrong: str | None = None
    meta: dict = field(default_factory=dict, hash=False, compare=False)


def _rng(seed: int, family: str) -> random.Random:
    return random.Random(f"supportscope-organism:{seed}:{family}")  # str seeds are stable across runs


def arithmetic_problems(family: str, n: int, seed: int) -> list[OrganismProblem]:
    """``n`` distinct digit pairs (seeded order) of an arithmetic family, correct != wrong."""
    sym, good, bad = _OPS[family]
    pairs = [(a, b) for a in range(10) for b in range(10) if str(good(a, b)) != str(bad(a, b))]
    if not 1 <= n <= len(pairs):
        raise ValueError(f"family {family!r} has {len(pairs)} problems; asked for {n}")
    _rng(seed, family).shuffle(pairs)
    return [OrganismProblem(f"{family}-{i:03d}", f"{a}{sym}{b}=", (str(good(a, b)),), family, str(bad(a, b)))
            for i, (a, b) in enumerate(pairs[:n])]


def fact_problems(n_fact: int, n_absent: int, seed: int) -> tuple[list[OrganismProblem], list[OrganismProblem]]:
    """Memorised facts (in the corpus) and absent facts (never in it), on disjoint 3-digit codes."""
    rng = _rng(seed, "fact")
    codes = rng.sample(range(1000), n_fact + n_absent)
    facts = [OrganismProblem(f"fact-{i:03d}", f"fact {c:03d}?", ("".join(rng.choice(FACT_LETTERS) for _ in range(3)),),
                             "fact") for i, c in enumerate(codes[:n_fact])]
    absent = [OrganismProblem(f"absent-{i:03d}", f"fact {c:03d}?",
                              ("".join(rng.choice(ABSENT_LETTERS) for _ in range(4)),), "absent")
              for i, c in enumerate(codes[n_fact:])]
    return facts, absent


def all_problems(seed: int = 0, n_arith: int = 64, n_fact: int = 24, n_absent: int = 24) -> list[OrganismProblem]:
    """Every problem of every family, family by family in FAMILIES order."""
    out: list[OrganismProblem] = []
    for fam in ARITH:
        out += arithmetic_problems(fam, n_arith, seed)
    facts, absent = fact_problems(n_fact, n_absent, seed)
    out += facts + absent
    for p in out:
        bad = set(p.prompt + "".join(p.answers)) - set(ALPHABET)
        assert not bad, (p, bad)
    return out


_CALC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def calculate(prompt: str) -> str | None:
    """Exact result of ``a?b=`` for digits a, b and ? in ``+ - *``; None for any other prompt."""
    if len(prompt) == 4 and prompt[0].isdigit() and prompt[2].isdigit() and prompt[1] in _CALC and prompt[3] == "=":
        return str(_CALC[prompt[1]](int(prompt[0]), int(prompt[2])))
    return None



__all__ = ["calculate", "ALPHABET", "EOS", "FAMILIES", "ARITH", "OrganismProblem", "arithmetic_problems", "fact_problems",
           "all_problems"]
