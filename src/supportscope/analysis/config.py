"""Configuration of one analysis: every knob of DESIGN.md sections 2-3, with defaults and help.

The CLI options of `supportscope analyze` are generated from this dataclass
(`supportscope.cli.options`), and the whole object is written into `summary.json`.
"""

from __future__ import annotations

import os
import resource
from dataclasses import asdict, dataclass, field

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError

#: Largest audit budget K (and basin budget): certifying K needs about 1.2 K samples per problem
#: with no success (zeta = alpha = 0.05), and stats.n_to_decide searches n only up to 10^7.
MAX_BUDGET = 2**20
#: Most bootstrap replicates: 100x the default; each replicate of the pooled curves holds a row of
#: every k up to n, and the memory an analysis needs is checked before it starts
#: (:func:`check_bootstrap_memory`).
MAX_BOOTSTRAP = 10**6
_BUDGET = {"min": 1, "max": MAX_BUDGET, "why": "certifying K needs about 1.2 K samples per problem"}


@dataclass
class AnalyzeConfig:
    """Every knob of one analysis. Values are checked at construction (:meth:`validate`); a bad one
    raises ConfigError naming the field (the CLI spells it as the flag, ``--basin-budget``)."""

    budget: int | None = field(
        default=None,
        metadata={"help": "Audit budget K (samples a user may spend per problem). Default: the "
                  "largest power of two at which n samples with no success certify "
                  "inaccessibility (K=64 for n=128, zeta=alpha=0.05), and at least --basin-budget.",
                  **_BUDGET, "example": 64},
    )
    basin_budget: int = field(
        default=8, metadata={"help": "Small budget k_b: basin means p >= eps(k_b).", **_BUDGET})
    zeta: float = field(
        default=0.05,
        metadata={"help": "Failure tolerance: accessible at budget k means p >= eps(k) = 1 - zeta^(1/k)."})
    alpha: float = field(
        default=0.05,
        metadata={"help": "Error level of Clopper-Pearson intervals, tests and bootstrap intervals "
                  "(intervals are at level 1 - alpha)."})
    bootstrap: int = field(
        default=10000,
        metadata={"help": "Paired bootstrap replicates over problems for every interval of an aggregate "
                  "(the memory they need is checked before the analysis starts).",
                  "min": 100, "max": MAX_BOOTSTRAP,
                  "why_min": "too few for a 95% interval", "why": "more only costs memory and time",
                  "example": 10000})
    seed: int = field(default=0, metadata={"help": "Seed of the bootstrap (results are reproducible).", **SEED})
    k: list[int] | None = field(
        default=None,
        metadata={"help": "pass@k values to print (repeat the option). Default: powers of two up to n.",
                  "items": {"min": 1, "max": 2**30}, "example": 8})
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

    format: str | None = field(
        default=None,
        metadata={"help": "How to read the result files: lm-eval (--log_samples samples_<task>_<date>.jsonl), lcb "
                  "(LiveCodeBench *_eval_all.json), rates (a rate column and a sample count, e.g. pass1 and N), "
                  "samples or counts (supportscope's own columns). Default: recognised from each file's content.",
                  "example": "lm-eval"})
    filter: str | None = field(
        default=None,
        metadata={"help": "lm-eval: the filter whose answers to count (e.g. strict-match), needed when a samples "
                  "file holds several; a file with one filter uses it.", "example": "strict-match"})
    metric: list[str] | None = field(
        default=None,
        metadata={"help": "lm-eval: the per-document metric to count (e.g. exact_match; a float metric succeeds "
                  "when >= --success-threshold): NAME for every task, or TASK=NAME for one task (repeat the "
                  "option or give a comma list, e.g. --metric copa=acc,drop=em). Default: each task's first "
                  "metric.", "items": {"max_len": 1000}, "example": "acc"})
    regrade: bool = field(
        default=False,
        metadata={"help": "lm-eval files with repeats > 1: grade every generation of resps[0] again (the task's "
                  "regex filter from results_*.json and exact_match, else math-verify) and count each as its own "
                  "sample, instead of the one filtered answer per document."})
    order: str = field(
        default="step",
        metadata={"help": "Several --tuned models: step (by the training step in each name, step-150, "
                  "global_step_450, ckpt-3000, or --step: a trajectory), given (the command line's order, read as a "
                  "trajectory) or name (sorted: a set of methods).", "example": "step"})
    step: list[str] | None = field(
        default=None,
        metadata={"help": "A tuned model's training step when its name has none, NAME=STEP (repeat the option).",
                  "example": "my-run=450"})
    contrast: tuple[str, str] | None = field(
        default=None,
        metadata={"help": "Two tuned models T1 T2 analysed with T1 in the base role (did T2 create anything "
                  "beyond T1?).", "example": "step-150 step-450"})

    def __post_init__(self) -> None:
        if isinstance(self.metric, str):  # Python callers: one name or spec, as before
            self.metric = [self.metric]
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``); call it again after changing a field in place."""
        check_fields(self)  # types and the bounds in each field's metadata, before any value is used
        if self.budget is not None and self.budget < self.basin_budget:
            raise ConfigError(
                f"`budget` {self.budget} is smaller than `basin_budget` {self.basin_budget}; the tail "
                f"regime eps(K) <= p < eps(k_b) needs K >= k_b. Fix: raise `budget` or lower `basin_budget`")
        for name in ("zeta", "alpha"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ConfigError(f"`{name}` {v} must lie strictly between 0 and 1. Fix: e.g. `{name}` 0.05")
        from supportscope.io.importers import FORMAT_CHOICES

        if self.format is not None and self.format not in FORMAT_CHOICES:
            raise ConfigError(f"`format` {self.format!r} is not a known format. Fix: use one of "
                              f"{', '.join(FORMAT_CHOICES)}, or leave it out to recognise each file by content")
        from supportscope.io.importers import parse_metrics

        try:
            parse_metrics(self.metric)
        except ValueError as e:
            raise ConfigError(f"`metric` {e}. Fix: e.g. `metric` acc, or `metric` copa=acc,drop=em") from None
        if self.order not in ("step", "given", "name"):
            raise ConfigError(f"`order` {self.order!r} is not one of step, given, name. Fix: e.g. `order` step")
        if self.contrast is not None and len(self.contrast) != 2:
            raise ConfigError(f"`contrast` takes two tuned model names, got {len(self.contrast)}. "
                              "Fix: e.g. `contrast` step-150 step-450")
        if not 0.0 < self.success_threshold <= 1.0:
            raise ConfigError(f"`success_threshold` {self.success_threshold} must lie in (0, 1]. "
                              "Fix: e.g. `success_threshold` 1.0")

    def to_dict(self) -> dict:
        return asdict(self)

    def import_options(self, model: str | None = None, math_grader=None):
        """How ``io.load_counts`` reads other harnesses' files under this config; ``math_grader``:
        the fallback grader of ``regrade`` (the pipeline passes math-verify's)."""
        from supportscope.io.importers import ImportOptions

        return ImportOptions(format=self.format, filter=self.filter, model=model, regrade=self.regrade,
                             metric=tuple(self.metric) if self.metric else None, math_grader=math_grader)


#: Curve columns per bootstrap replicate when n > 2048 (analysis.curves then uses its log grid).
_GRID_COLUMNS = 80


def bootstrap_memory(bootstrap: int, n_problems: int, n_min: int) -> int:
    """Bytes an analysis of ``n_problems`` problems with ``bootstrap`` replicates needs at its peak,
    beyond the interpreter (measured, then rounded up): the pooled curves keep about six float64
    rows per replicate of every k up to n_min (a log grid of about 80 k beyond n_min = 2048), plus
    one weights chunk of at most 2^23 problem-replicates (stats.PairedBootstrap) with its temporaries."""
    from supportscope.analysis.curves import _FULL_GRID_MAX

    cols = n_min if n_min <= _FULL_GRID_MAX else _GRID_COLUMNS
    return 8 * bootstrap * (6 * cols + 64) + 64 * min(bootstrap * n_problems, 2**23)


def available_memory() -> int | None:
    """Bytes this process may still allocate: MemAvailable, and what ``ulimit -v`` leaves; None when
    unknown (not Linux)."""
    out = []
    try:
        with open("/proc/meminfo") as f:
            out += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open(f"/proc/{os.getpid()}/status") as f:
                used = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:")]
            out.append(soft - (used[0] if used else 0))
    except (OSError, ValueError, IndexError):
        pass
    return min(out) if out else None


def check_bootstrap_memory(bootstrap: int, n_problems: int, n_min: int, available: int | None = None) -> None:
    """Refuse (ConfigError naming `bootstrap`) an analysis whose bootstrap would not fit in memory
    (``available`` bytes; default :func:`available_memory`), before any work starts."""
    need = bootstrap_memory(bootstrap, n_problems, n_min)
    available = available_memory() if available is None else available
    if available is not None and need > available:
        fits = max(100, int(bootstrap * available / need) // 100 * 100)
        raise ConfigError(f"`bootstrap` {bootstrap} replicates over {n_problems} problems with n = {n_min} need "
                          f"about {need / 2**30:.1f} GiB of memory, more than the {available / 2**30:.1f} GiB "
                          f"available. Fix: use at most `bootstrap` {fits} (the default is 10000)")
