"""Configuration of one analysis: every knob of DESIGN.md sections 2-3, with defaults and help.

The CLI options of `supportscope analyze` are generated from this dataclass
(`supportscope.cli.options`), and the whole object is written into `summary.json`.
"""

from __future__ import annotations

from supportscope.errors import ConfigError

from dataclasses import asdict, dataclass, field




@dataclass
class AnalyzeConfig:
    """Every knob of one analysis. Values are checked at construction (:meth:`validate`); a bad one
    raises ConfigError naming the field (the CLI spells it as the flag, ``--basin-budget``)."""

    budget: int | None = field(
        default=None,
        metadata={"help": "Audit budget K (samples a user may spend per problem). Default: the "
                  "largest power of two at which n samples with no success certify "
                  "inaccessibility (K=64 for n=128, zeta=alpha=0.05), and at least --basin-budget."},
    )
    basin_budget: int = field(
        default=8, metadata={"help": "Small budget k_b: basin means p >= eps(k_b)."})
    zeta: float = field(
        default=0.05,
        metadata={"help": "Failure tolerance: accessible at budget k means p >= eps(k) = 1 - zeta^(1/k)."})
    alpha: float = field(
        default=0.05,
        metadata={"help": "Error level of Clopper-Pearson intervals, tests and bootstrap intervals "
                  "(intervals are at level 1 - alpha)."})
    bootstrap: int = field(
        default=10000,
        metadata={"help": "Paired bootstrap replicates over problems for every interval of an aggregate."})
    seed: int = field(default=0, metadata={"help": "Seed of the bootstrap (results are reproducible)."})
    k: list[int] | None = field(
        default=None,
        metadata={"help": "pass@k values to print (repeat the option). Default: powers of two up to n."})
    intersect: bool = field(
        default=False,
        metadata={"help": "Keep only the problems present for both models (with a warning) instead "
                  "of refusing different problem sets."})
    anytime: bool | None = field(
        default=None,
        metadata={"help": "Anytime-valid confidence sequences instead of Clopper-Pearson intervals and Fisher "
                  "tests: needed when the number of samples depended on the results (adaptive sampling). "
                  "Default: on for run directories sampled with --adaptive, off otherwise."})
    success_threshold: float = field(
        default=1.0,
        metadata={"help": "For per-sample rows with a real-valued `reward` column instead of `correct`: "
                  "a sample succeeds when reward >= this."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``); call it again after changing a field in place."""
        if self.basin_budget < 1:
            raise ConfigError(f"`basin_budget` {self.basin_budget} must be >= 1. Fix: use e.g. `basin_budget` 8")
        if self.budget is not None and self.budget < self.basin_budget:
            raise ConfigError(
                f"`budget` {self.budget} is smaller than `basin_budget` {self.basin_budget}; the tail "
                f"regime eps(K) <= p < eps(k_b) needs K >= k_b. Fix: raise `budget` or lower `basin_budget`")
        for name in ("zeta", "alpha"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ConfigError(f"`{name}` {v} must lie strictly between 0 and 1. Fix: e.g. `{name}` 0.05")
        if self.bootstrap < 100:
            raise ConfigError(f"`bootstrap` {self.bootstrap} is too few replicates for a 95% interval. "
                              "Fix: use `bootstrap` 1000 or more (default 10000)")
        if self.k is not None and any(k < 1 for k in self.k):
            raise ConfigError(f"`k` values must be >= 1, got {self.k}. Fix: keep only values >= 1, e.g. `k` 8")
        if not 0.0 < self.success_threshold <= 1.0:
            raise ConfigError(f"`success_threshold` {self.success_threshold} must lie in (0, 1]. "
                              "Fix: e.g. `success_threshold` 1.0")

    def to_dict(self) -> dict:
        return asdict(self)
