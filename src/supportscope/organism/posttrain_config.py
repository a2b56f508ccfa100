"""Configs of the post-training interventions (``organism.posttrain``): dataclasses with help metadata,
checked at construction. No torch here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from supportscope.config_checks import SEED, check_fields, short
from supportscope.errors import ConfigError

from .families import FAMILIES

_STEPS = {"min": 1, "max": 10**7}
_COUNT = {"min": 1, "max": 2**16}


@dataclass
class _OptimConfig:
    """Optimiser and run settings every intervention shares (each subclass sets its own lr). Values are
    checked at construction (:meth:`validate`), a bad one raising ConfigError naming the field."""

    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate (constant).", "min": 0, "max": 10})
    seed: int = field(default=0, metadata={"help": "Seed of the problem batches, the sample seeds and torch.",
                                           **SEED})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay.", "min": 0, "max": 10})
    grad_clip: float = field(default=1.0, metadata={"help": "Gradient norm clip (0 = off).", "min": 0})
    threads: int = field(default=2, metadata={"help": "torch CPU threads while training.", "min": 1, "max": 1024})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work (before any training starts)."""
        check_fields(self)
        if self.lr <= 0 or getattr(self, "sample_top_p", 1.0) <= 0:
            name = "lr" if self.lr <= 0 else "sample_top_p"
            raise ConfigError(f"`{name}` {getattr(self, name)} must be > 0. Fix: use e.g. `{name}` "
                              + ("0.001" if name == "lr" else "0.95"))
        bad = sorted(set(getattr(self, "families", None) or ()) - set(FAMILIES))
        if bad:
            raise ConfigError(f"`families` {bad} are not organism families. Fix: choose from {', '.join(FAMILIES)}")
        if getattr(self, "kl_estimator", "full") not in ("full", "k3"):
            raise ConfigError(f"`kl_estimator` {short(self.kl_estimator)} is not full or k3. Fix: `kl_estimator` full")
        env = getattr(self, "env", None)
        if env is not None and env not in ("calc", "search", "feedback"):
            raise ConfigError(f"`env` {short(env)} is not an organism environment. Fix: calc, search or feedback")
        if getattr(self, "demos_per_step", 1) + getattr(self, "corpus_per_step", 1) < 1:
            raise ConfigError("`demos_per_step` and `corpus_per_step` are both 0. Fix: e.g. `demos_per_step` 24")

    def to_dict(self) -> dict:
        d = asdict(self)
        if "families" in d:
            d["families"] = list(d["families"]) if d["families"] else None
        return d


@dataclass
class _SamplingConfig(_OptimConfig):
    """Settings of interventions that sample the model while training."""

    sample_temperature: float = field(default=1.0, metadata={"help": "Temperature of the sampling config.",
                                                             "min": 0})
    sample_top_p: float = field(default=0.95, metadata={"help": "top_p of the sampling config (1.0 = raw sampling: "
                                                                "singular-under-truncation problems can then be rewarded).",
                                                        "min": 0, "max": 1})
    max_new_tokens: int = field(default=8, metadata={"help": "Largest completion length while sampling.",
                                                     "min": 1, "max": 500})
    families: tuple[str, ...] | None = field(default=None, metadata={"help": "Families used (default: all).",
                                                                     "max_len": 16, "items": {"max_len": 16}})


@dataclass
class RLConfig(_SamplingConfig):
    lr: float = field(default=3e-4, metadata={"help": "AdamW learning rate (constant).", "min": 0, "max": 10})
    beta: float = field(default=0.05, metadata={"help": "KL penalty weight: loss += beta * KL(pi || pi_base).",
                                                "min": 0})
    steps: int = field(default=40, metadata={"help": "Optimiser steps (one batch of problems each).", **_STEPS})
    problems_per_step: int = field(default=16, metadata={"help": "Problems drawn (seeded) per step.", **_COUNT})
    group_size: int = field(default=8, metadata={"help": "Samples per problem (G); the group mean is the baseline.",
                                                 "min": 2, "max": 2**16,
                                                 "why_min": "one sample is its own baseline"})
    kl_estimator: str = field(default="full", metadata={"help": "full (exact full-vocabulary KL per sampled prefix) "
                                                                "or k3 (r - 1 - ln r on the sampled tokens)."})
    env: str | None = field(default=None, metadata={"help": "An environment the policy interacts with while "
                                                            "sampling: calc, search or feedback (default none)."})
    checkpoint_every: int = field(default=0, metadata={"help": "Save the policy after every this many optimiser "
                                                                "steps into out/steps/step-NNNN (0 = none; the base "
                                                                "and the final step are not saved there).",
                                                        "min": 0, "max": 10**7})


@dataclass
class RSConfig(_SamplingConfig):
    lr: float = field(default=5e-4, metadata={"help": "AdamW learning rate (constant).", "min": 0, "max": 10})
    samples_per_problem: int = field(default=8, metadata={"help": "Base samples per training problem.", **_COUNT})
    epochs: int = field(default=3, metadata={"help": "Passes over the kept (correct) samples.", "min": 1,
                                             "max": 10**4})
    batch: int = field(default=64, metadata={"help": "Sequences per optimiser step.", **_COUNT})


@dataclass
class DistillConfig(_SamplingConfig):
    lr: float = field(default=5e-4, metadata={"help": "AdamW learning rate (constant).", "min": 0, "max": 10})
    teacher: str = field(default="", metadata={"help": "Checkpoint folder of the teacher organism (empty: the "
                                                       "student's own base, i.e. self-distillation)."})
    samples_per_problem: int = field(default=8, metadata={"help": "Teacher samples per training problem.",
                                                          **_COUNT})
    epochs: int = field(default=3, metadata={"help": "Passes over the teacher's samples.", "min": 1, "max": 10**4})
    batch: int = field(default=64, metadata={"help": "Sequences per optimiser step.", **_COUNT})


@dataclass
class NewInfoConfig(_OptimConfig):
    lr: float = field(default=2e-3, metadata={"help": "AdamW learning rate (constant).", "min": 0, "max": 10})
    steps: int = field(default=60, metadata={"help": "Optimiser steps.", **_STEPS})
    demos_per_step: int = field(default=24, metadata={"help": "Absent-fact demonstrations per step (with "
                                                              "replacement).", "min": 0, "max": 2**16})
    corpus_per_step: int = field(default=24, metadata={"help": "Ordinary corpus lines per step (against "
                                                               "forgetting).", "min": 0, "max": 2**16})


__all__ = ["DistillConfig", "NewInfoConfig", "RLConfig", "RSConfig"]
