"""The organism's pretraining corpus: lines ``prompt + answer`` (the end token is appended as a
token by the trainer), generated from the families with an exact share q of correct answers.

Each problem of a family in the corpus gets ``repeats`` lines, exactly ``round(q * repeats)`` of
them with the correct answer and the rest with the family's systematic wrong answer (stratified,
not sampled, so the corpus frequencies are exactly the configured q's). Facts are always correct;
absent facts are never written. The lines are shuffled with the seed. No torch here.

Environment transcripts (issue 16; ``envs``) are *extra* lines, so the q's above stay exact: per
problem ``round(rate * repeats)`` lines of

- a calculator call ``a-b=[c]<R>R`` (``calc_sub`` for sub, ``calc_mul`` for mul; default only sub:
  calling is in the base's support on sub and outside it on mul),
- a search call ``fact NNN?[s]<V>V`` (``search_fact`` for the memorised facts) and
  ``search_drills`` further fact codes used by no problem, each with ``repeats // 10`` search lines
  whose 4-letter values mix the fact letters and u..z, so copying a reply is a skill the base has
  (the absent facts' codes and values still never appear),
- a feedback retry ``a-b=W</s><n>A`` (``feedback_sub``; W the systematic wrong answer, A the correct
  answer in a share ``feedback_fix`` of them and W again otherwise).

``<...>`` is the environment's reply: the trainer never trains on it (``model.encode_transcript``).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError

from .families import OrganismProblem, all_problems


@dataclass
class CorpusConfig:
    """The corpus; values are checked at construction (:meth:`validate`), a bad one raising ConfigError
    naming the field (the CLI spells it as the flag, ``--n-arith``)."""

    seed: int = field(default=0, metadata={"help": "Seed of the problems (digit pairs, fact codes and answers) "
                                                   "and of the corpus line order.", **SEED})
    n_arith: int = field(default=64, metadata={"help": "Problems per arithmetic family (add, mul, sub); at most 90 "
                                                       "(sub has 90 digit pairs with a-b != a+b).",
                                               "min": 1, "max": 90})
    n_fact: int = field(default=24, metadata={"help": "Memorised facts ('fact NNN?' -> 3 letters) in the corpus.",
                                              "min": 0, "max": 1000})
    n_absent: int = field(default=24, metadata={"help": "Absent facts: problems whose code and answer never "
                                                        "appear in the corpus (--n-fact + --n-absent <= 1000).",
                                                "min": 0, "max": 1000})
    repeats: int = field(default=200, metadata={"help": "Corpus lines per problem (arithmetic and facts).",
                                                "min": 1, "max": 10**4})
    q_add: float = field(default=0.9, metadata={"help": "Share of correct answers for 'a+b=' (basin).",
                                                "min": 0, "max": 1})
    q_mul: float = field(default=0.15, metadata={"help": "Share of correct answers for 'a*b=' (tail).",
                                                 "min": 0, "max": 1})
    q_sub: float = field(default=0.01, metadata={"help": "Share of correct answers for 'a-b=' (singular at "
                                                         "top_p = 0.95, barrier raw).", "min": 0, "max": 1})

    calc_sub: float = field(default=0.05, metadata={"help": "Extra calculator-call lines per sub problem, as a "
                                                             "share of --repeats.", "min": 0, "max": 10})
    calc_mul: float = field(default=0.0, metadata={"help": "Extra calculator-call lines per mul problem, as a "
                                                            "share of --repeats.", "min": 0, "max": 10})
    search_fact: float = field(default=0.05, metadata={"help": "Extra search-call lines per memorised fact, as a "
                                                                "share of --repeats.", "min": 0, "max": 10})
    search_drills: int = field(default=24, metadata={"help": "Fact codes used by no problem whose only lines are "
                                                             "search calls (the copy skill).", "min": 0,
                                                     "max": 500})
    feedback_sub: float = field(default=0.05, metadata={"help": "Extra feedback-retry lines per sub problem, as a "
                                                                 "share of --repeats.", "min": 0, "max": 10})
    feedback_fix: float = field(default=0.2, metadata={"help": "Share of feedback-retry lines whose second answer "
                                                                "is correct.", "min": 0, "max": 1})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work."""
        check_fields(self)
        if self.n_fact + self.n_absent + self.search_drills > 1000:
            raise ConfigError(f"`n_fact` {self.n_fact} + `n_absent` {self.n_absent} + `search_drills` "
                              f"{self.search_drills} is more than the 1000 three-digit fact codes. Fix: lower `n_absent`")

    def q(self, family: str) -> float:
        return {"add": self.q_add, "mul": self.q_mul, "sub": self.q_sub, "fact": 1.0, "absent": 0.0}[family]

    def problems(self) -> list[OrganismProblem]:
        return all_problems(self.seed, self.n_arith, self.n_fact, self.n_absent)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CorpusConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "CorpusConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def corpus_lines(cfg: CorpusConfig) -> list[str]:
    """The corpus, one ``prompt + answer`` string per line (no end token), in seeded shuffled order."""
    lines: list[str] = []
    for p in cfg.problems():
        if p.family == "absent":
            continue
        n_good = round(cfg.q(p.family) * cfg.repeats)
        lines += [p.prompt + p.answers[0]] * n_good
        if cfg.repeats > n_good:
            assert p.wrong is not None, p
            lines += [p.prompt + p.wrong] * (cfg.repeats - n_good)
    lines += env_lines(cfg)
    random.Random(f"supportscope-organism-corpus:{cfg.seed}").shuffle(lines)
    return lines


def env_lines(cfg: CorpusConfig) -> list[str]:
    """The environment transcripts of the corpus (module docstring), in a fixed order."""
    from .families import ABSENT_LETTERS, EOS, FACT_LETTERS, calculate

    lines: list[str] = []
    ps = cfg.problems()
    for p in ps:
        rate = {"sub": cfg.calc_sub, "mul": cfg.calc_mul}.get(p.family, 0.0)
        lines += [f"{p.prompt}[c]<{calculate(p.prompt)}>{calculate(p.prompt)}"] * round(rate * cfg.repeats)
        if p.family == "fact":
            lines += [f"{p.prompt}[s]<{p.answers[0]}>{p.answers[0]}"] * round(cfg.search_fact * cfg.repeats)
        if p.family == "sub":
            n = round(cfg.feedback_sub * cfg.repeats)
            fixed = round(cfg.feedback_fix * n)
            lines += [f"{p.prompt}{p.wrong}{EOS}<n>{p.answers[0]}"] * fixed
            lines += [f"{p.prompt}{p.wrong}{EOS}<n>{p.wrong}"] * (n - fixed)
    used = {int(p.prompt[5:8]) for p in ps if p.family in ("fact", "absent")}
    rng = random.Random(f"supportscope-organism-drills:{cfg.seed}")
    free = [c for c in range(1000) if c not in used]
    for code in rng.sample(free, cfg.search_drills):
        v = "".join(rng.choice(FACT_LETTERS + ABSENT_LETTERS) for _ in range(4))
        lines += [f"fact {code:03d}?[s]<{v}>{v}"] * max(1, cfg.repeats // 10)
    return lines


__all__ = ["CorpusConfig", "corpus_lines", "env_lines"]
