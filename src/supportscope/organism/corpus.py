"""The organism's pretraining corpus: lines ``prompt + answer`` (the end token is appended as a
token by the trainer), generated from the families with an exact share q of correct answers.

Each problem of a family in the corpus gets ``repeats`` lines, exactly ``round(q * repeats)`` of
them with the correct answer and the rest with the family's systematic wrong answer (stratified,
not sampled, so the corpus frequencies are exactly the configured q's). Facts are always correct;
absent facts are never written. The lines are shuffled with the seed. No torch here.
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

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work."""
        check_fields(self)
        if self.n_fact + self.n_absent > 1000:
            raise ConfigError(f"`n_fact` {self.n_fact} + `n_absent` {self.n_absent} is more than the 1000 "
                              "three-digit fact codes. Fix: lower `n_absent`")

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
    random.Random(f"supportscope-organism-corpus:{cfg.seed}").shuffle(lines)
    return lines


__all__ = ["CorpusConfig", "corpus_lines"]
