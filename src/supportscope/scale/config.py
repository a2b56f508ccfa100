"""Options of the sampling and scoring jobs (the CLI generates its options from these)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class SampleJobConfig:
    tasks: str = field(
        default="",
        metadata={"help": "Problems: FILE.jsonl ({id, prompt, answer}, checked with math-verify) or "
                  "rg:GENERATOR[?key=value&...] for a reasoning-gym generator."})
    limit: int = field(default=50, metadata={"help": "Number of problems (first N of a file; size of a generator)."})
    task_seed: int = field(default=0, metadata={"help": "Seed of a generated problem set."})
    n: int = field(default=8, metadata={"help": "Samples per problem."})
    batch_size: int = field(default=64, metadata={"help": "Sequences generated or scored together."})
    problems_per_shard: int = field(
        default=8, metadata={"help": "Problems per atomically written shard (the unit of resumption)."})

    def validate(self) -> None:
        from supportscope.analysis.config import ConfigError

        if not self.tasks:
            raise ConfigError("--tasks is required. Fix: e.g. --tasks rg:chain_sum or --tasks problems.jsonl")
        for name in ("limit", "n", "batch_size", "problems_per_shard"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1. Fix: e.g. --{name.replace('_', '-')} 8")

    def to_dict(self) -> dict:
        return asdict(self)
