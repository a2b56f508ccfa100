"""Configuration of `supportscope demo`: the organism, its post-trained variants, sampling, analysis.

Fields left at None take a size-dependent default (:meth:`DemoConfig.resolved`): the full demo uses
every organism problem (64 add, 64 mul, 64 sub, 24 facts, 24 absent facts) with n = 256 samples per
problem and model (audit budget K = 128); ``quick`` (CI size) uses 8 problems per family and n = 64
(K = 32) with 2,000 bootstrap replicates. Both save the first RL variant's policy every
``trajectory_every`` of its steps (default 10 of 40: a trajectory of base, steps 10, 20, 30 and the
variant). No torch here.
"""

from __future__ import annotations

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError
from supportscope.models.config import DecodingConfig

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

FULL = {"size": None, "n": 256, "bootstrap": 10000, "trajectory_every": 10}
QUICK = {"size": 8, "n": 64, "bootstrap": 2000, "trajectory_every": 10}


@dataclass
class DemoConfig:
    """Settings of ``supportscope demo``. Values are checked at construction (:meth:`validate`); a bad
    one raises ConfigError naming the field (the CLI spells it as the flag, ``--n``)."""

    quick: bool = field(default=False, metadata={"help": "CI size: 8 problems per family, n = 64 samples, "
                                                          "2,000 bootstrap replicates (under 2 minutes)."})
    size: int | None = field(default=None, metadata={"help": "Problems per family (default: all of them; "
                                                              "8 with --quick).", "min": 1, "max": 1000,
                                                      "example": 8})
    n: int | None = field(default=None, metadata={"help": "Samples per problem and model (default 256; 64 with "
                                                           "--quick). The audit budget K follows from n.",
                                                  "min": 8, "max": 2**17, "example": 64,
                                                  "why": "8 problems' samples make one shard, held in memory",
                                                  "why_min": "too few samples to certify anything"})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (also of the exact p)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus of the decoding distribution pi_D (also of "
                                                         "the exact p)."})
    max_new_tokens: int = field(default=8, metadata={"help": "Largest completion (answers have at most 4 "
                                                             "characters + the end token).", "min": 5, "max": 500,
                                                     "why_min": "a 4-letter answer and the end token",
                                                     "why": "the organism's context is 512 tokens"})
    betas: list[float] = field(default_factory=lambda: [0.05, 0.2],
                               metadata={"help": "KL weights of the RL variants, one variant each (repeat "
                                                 "the option).", "max_len": 32, "items": {"min": 0},
                                         "example": 0.05})
    seed: int = field(default=0, metadata={"help": "Seed of post-training, sampling and the bootstrap.", **SEED})
    bootstrap: int | None = field(default=None, metadata={"help": "Paired bootstrap replicates (default "
                                                                   "10,000; 2,000 with --quick).",
                                                          "min": 100, "max": 10**6, "example": 2000})
    trajectory_every: int | None = field(default=None, metadata={
        "help": "Save the first RL variant's (first beta) policy every this many of its training steps; each "
                "saved checkpoint is sampled, scored by the base and given exact p, and trajectory.json "
                "lists its exact summary (0 = no trajectory; default 10).",
        "min": 0, "max": 10**7, "example": 10})
    envs: list[str] = field(default_factory=lambda: ["calc", "search", "feedback"],
                            metadata={"help": "Environments of the tool runs: each gets an RL variant rl-ENV whose "
                                              "samples are episodes with it and a 2 x 2 account {base, tuned} x "
                                              "{without, with ENV} (repeat the option; none: --envs '').",
                                      "max_len": 3, "example": "calc"})
    distill: bool = field(default=True, metadata={"help": "Add the distillation variants: SFT on the samples of "
                                                          "a teacher organism (sub always correct) and of the base "
                                                          "itself."})
    checkpoints: Path | None = field(default=None, metadata={"help": "Cache of post-trained checkpoints, reused "
                                                                      "when the config matches (default: "
                                                                      "out/organism-checkpoints)."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads.", "min": 1, "max": 1024})

    def resolved(self) -> "DemoConfig":
        """A copy with every None replaced by the full or --quick default."""
        d = QUICK if self.quick else FULL
        return replace(self, size=self.size if self.size is not None else d["size"],
                       n=self.n if self.n is not None else d["n"],
                       bootstrap=self.bootstrap if self.bootstrap is not None else d["bootstrap"],
                       trajectory_every=(self.trajectory_every if self.trajectory_every is not None
                                         else d["trajectory_every"]),
                       checkpoints=self.checkpoints or Path("out/organism-checkpoints"),
                       betas=list(self.betas), envs=[e for e in self.envs if e])

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``, so also in :meth:`resolved`); call it again after changing a field
        in place."""
        check_fields(self)  # types and the bounds in each field's metadata, before any value is used
        bad = sorted({e for e in self.envs if e} - {"calc", "search", "feedback"})
        if bad:
            raise ConfigError(f"`envs` {bad} are not organism environments. Fix: calc, search or feedback")
        if not self.betas:
            raise ConfigError("`betas` is empty: give at least one KL weight >= 0. Fix: e.g. `betas` 0.05")
        # the decoding config the demo samples with: its checks name the same fields (temperature, top_p, seed)
        DecodingConfig(temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
                       seed=self.seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checkpoints"] = str(self.checkpoints) if self.checkpoints is not None else None
        return d


__all__ = ["DemoConfig", "FULL", "QUICK"]
