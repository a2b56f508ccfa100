"""Options of the sampling and scoring jobs (the CLI generates its options from these)."""

from __future__ import annotations

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError
from supportscope.models.config import BATCH_SIZE

from dataclasses import asdict, dataclass, field

#: Most samples per problem, and most samples in one shard (n x problems_per_shard): a shard's rows
#: (token ids, per-token log-probs, completions) are held in memory until it is written.
MAX_SAMPLES = 2**20
#: Most problems of a job.
MAX_PROBLEMS = 2**20


@dataclass
class SampleJobConfig:
    """What to sample and in which units. Values are checked at construction (:meth:`validate`), a bad
    one raising ConfigError naming the field (the CLI spells it as the flag, ``--problems-per-shard``);
    ``tasks`` may stay empty until the job runs (``SampleJobConfig()`` is a valid placeholder), so
    "tasks is required" is a separate check, :meth:`require`."""

    tasks: str = field(
        default="",
        metadata={"help": "Problems: FILE.jsonl ({id, prompt, answer}, checked with math-verify) or "
                  "rg:GENERATOR[?key=value&...] for a reasoning-gym generator."})
    limit: int = field(default=50, metadata={"help": "Number of problems (first N of a file; size of a generator).",
                                             "min": 1, "max": MAX_PROBLEMS})
    task_seed: int = field(default=0, metadata={"help": "Seed of a generated problem set.", **SEED})
    n: int = field(default=8, metadata={"help": "Samples per problem (n x --problems-per-shard at most 2^20: a "
                                        "shard is held in memory until it is written).",
                                        "min": 1, "max": MAX_SAMPLES})
    batch_size: int = field(default=BATCH_SIZE, metadata={"help": "Sequences generated or scored per call of the "
                                                          "backend.", "min": 1, "max": 2**16})
    problems_per_shard: int = field(
        default=8, metadata={"help": "Problems per atomically written shard (the unit of resumption).",
                             "min": 1, "max": MAX_PROBLEMS})
    problems_from: str | None = field(
        default=None,
        metadata={"help": "Only these problems: a table with a problem_id column, e.g. the per_problem.parquet "
                  "(or .csv) that `analyze` writes. With --adaptive on a model already in --out: a follow-up "
                  "(confirmation stage) of it on these problems, with fresh samples, stopped on the follow-up's "
                  "own samples at the level --alpha / (2 m), m = number of problems (scale.adaptive)."})
    label: str | None = field(
        default=None,
        metadata={"help": "With --problems-from: keep the rows whose `label` column equals this, or, for "
                  "'created-candidate' / 'lost-candidate', whose `candidate` column is 'created' / 'lost'."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``); call it again after changing a field in place. An empty ``tasks``
        is not a value error (see :meth:`require`)."""
        check_fields(self)  # types and the bounds in each field's metadata, before any value is used
        if self.n * self.problems_per_shard > MAX_SAMPLES:
            raise ConfigError(f"`n` {self.n} x `problems_per_shard` {self.problems_per_shard} samples in one shard "
                              f"is more than {MAX_SAMPLES} (a shard is held in memory until it is written). "
                              f"Fix: lower `problems_per_shard` to {max(1, MAX_SAMPLES // self.n)}")
        if self.label is not None and not self.problems_from:
            raise ConfigError(f"`label` {self.label!r} needs `problems_from` (the table whose rows it selects). "
                              "Fix: add `problems_from` ANALYSIS/per_problem.parquet, or leave out `label`")
        if self.label is not None and not self.label.strip():
            raise ConfigError("`label` is empty. Fix: e.g. `label` created-candidate, or leave it out")

    def require(self) -> None:
        """Raise ConfigError unless a job can run: ``tasks`` is set (and every value passes
        :meth:`validate`). Called by ``run_sample``, the run config, and the CLI once it has built
        the config."""
        if not self.tasks:
            raise ConfigError("`tasks` is required. Fix: e.g. `tasks` rg:chain_sum or `tasks` problems.jsonl")
        self.validate()

    def to_dict(self) -> dict:
        return asdict(self)
