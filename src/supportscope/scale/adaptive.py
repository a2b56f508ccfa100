"""Adaptive sampling: rounds of samples go only to problems whose decision is still open.

Round 0 gives every problem ``round`` samples. Before each later round, the counts of the rounds
before it decide, per problem, whether its regime at the audit budget K is decided by the
anytime-valid confidence sequence (``stats.sequences``; valid under this data-dependent stopping,
unlike a fixed-n Clopper–Pearson interval) and how many samples would close it; the next round goes
to the open problems, cheapest to close first (``stats.allocation.next_round``), never beyond
``max_n`` per problem; with ``futility`` (default 0.1) a problem that no plausible success rate
would decide by ``max_n`` stops early (``stats.allocation.futile_mask``). Stopping is always
allowed under a confidence sequence: only the decisions must come from it.

Labels: a label's cell (created / lost / unsolved / both accessible) is the pair of the two models'
accessibilities at K, so sampling each model until its own regime is decided decides the cell; the
split of "both accessible" into elicited / unchanged / weakened is not a stopping criterion (two
equal success rates would never separate and would run every such problem to max_n).

Resumption: every shard key names its round (``r0003-p000002``) and the allocation of round r is
computed from the shards of rounds < r only, so a run killed in the middle of a round and resumed
with the same config redoes exactly the missing shards with the same samples (per-sample seeds
depend on (seed, problem_id, sample_idx) only) and gives the same bytes as an uninterrupted run.

The manifest entry of an adaptive generator carries ``"adaptive": {...}`` (budget, max_n, round,
...), which is how ``analyze`` knows to use confidence sequences for it.

Follow-up (confirmation stage, :func:`followup_sample_job`; ``sample --adaptive --problems-from F``
on a model already in the run): problems selected from stage-1 data (e.g. the created / lost
candidates of ``analyze``) are sampled again with FRESH samples and each is decided on those
samples alone, independent of the data that selected it. The rounds are the same as above, over
the selected problems only, with three differences:

* the shard keys are ``f00-r0000-p000000`` (``FOLLOWUP_ROUND_KEY``; ``store.counts.FOLLOWUP_KEY``
  tells them from stage 1's ``p000000`` / ``r0000-p000000``) and the stopping rule reads the
  follow-up shards only (``max_n`` counts follow-up samples);
* a problem's sample_idx continue after its stage-1 samples (start = largest stage-1 sample_idx + 1),
  so (problem_id, model, sample_idx) stays unique and the per-sample seeds are new;
* the confidence sequences run at the confirmation level ``alpha / (2 m)`` (:func:`followup_level`):
  m = number of followed-up problems, ``alpha`` = ``--alpha`` (the analysis level), and 2 for the two
  models (base and tuned) each problem's label needs: a Bonferroni bound over the 2m regime decisions
  of the confirmation, so every confirmed label holds simultaneously with probability >= 1 - alpha.

The follow-up is recorded in the model's manifest entry as ``"followup": {...}`` (see
:func:`followup_spec`; ``RunStore.add_followup``); resuming with the same settings continues it, to
the same bytes as an uninterrupted run.
"""

from __future__ import annotations

from supportscope.config_checks import check_fields
from supportscope.errors import ConfigError

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from supportscope.models.backend import Backend, SampleRequest
from supportscope.models.config import BATCH_SIZE, DecodingConfig, Policy
from supportscope.errors import StoreError
from supportscope.store import RunStore, build_table
from supportscope.scale.jobs import SampleWork, UnitExecutor, generator_config, register_generator, run_sample_works
from supportscope.tasks import Task

def round_key(prefix: str = "") -> re.Pattern:
    """Shard keys of adaptive rounds, ``{prefix}r0000-p000000`` (groups: round, shard)."""
    return re.compile(rf"^{re.escape(prefix)}r(\d{{4}})-p(\d{{6}})$")


ROUND_KEY = round_key()


@dataclass
class AdaptiveConfig:
    """Settings of adaptive sampling, checked at construction when ``adaptive`` is on (:meth:`validate`;
    a bad value raises ConfigError naming the field, which the CLI spells as the flag, ``--round``).
    The job functions here sample adaptively whatever ``adaptive`` says, and check a config built
    with it off on entry."""

    adaptive: bool = field(default=False, metadata={"help": "Sample in rounds and stop each problem once its "
                                                           "regime at --budget is decided (anytime-valid "
                                                           "confidence sequences) or it reaches --max-n."})
    budget: int = field(default=64, metadata={"help": "Audit budget K whose regimes the adaptive rounds decide.",
                                              "min": 1, "max": 2**20})
    max_n: int = field(default=1024, metadata={"help": "Largest number of samples of one problem.",
                                               "min": 1, "max": 2**20})
    round: int = field(default=16, metadata={"help": "Samples added to each selected problem per round (also "
                                                     "the first round's n).", "min": 1, "max": 2**20})
    round_budget: int | None = field(default=None, metadata={"help": "Most samples per round over all problems "
                                                                     "(default: every open problem gets a round).",
                                                             "min": 1, "max": 2**40, "example": 1024})
    futility: float | None = field(default=0.1, metadata={"help": "Stop a problem early when no success rate in "
                                                                  "its 1 - futility Clopper-Pearson interval would "
                                                                  "be decided by --max-n (stats.allocation."
                                                                  "futile_mask); 0 turns the rule off."})
    basin_budget: int = field(default=8, metadata={"help": "Basin budget k_b of the regimes being decided.",
                                                   "min": 1, "max": 2**20})
    zeta: float = field(default=0.05, metadata={"help": "Failure tolerance in eps(k) = 1 - zeta^(1/k)."})
    alpha: float = field(default=0.05, metadata={"help": "Error level of the confidence sequences. A follow-up "
                                                         "(--adaptive --problems-from on a model already in "
                                                         "--out) decides at the confirmation level alpha / "
                                                         "(2 m), m = number of followed-up problems."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``); call it again after changing a field in place. The checks are of
        the adaptive rounds, so they run only when ``adaptive`` is on (the CLI builds this config for
        every ``sample``, adaptive or not); the types and bounds of the values are checked always."""
        check_fields(self)
        if not self.adaptive:
            return
        if self.budget < self.basin_budget:
            raise ConfigError(f"`budget` {self.budget} is smaller than `basin_budget` {self.basin_budget}. "
                              "Fix: raise `budget`")
        if self.round < 1 or self.max_n < self.round:
            raise ConfigError(f"`round` {self.round} must be >= 1 and <= `max_n` {self.max_n}. Fix: e.g. `round` 16")
        if self.round_budget is not None and self.round_budget < self.round:
            raise ConfigError(f"`round_budget` {self.round_budget} is smaller than one round ({self.round}). "
                              "Fix: raise `round_budget` or leave it out")
        if self.futility is not None and not 0 <= self.futility < 1:
            raise ConfigError(f"`futility` {self.futility} must lie in [0, 1). Fix: `futility` 0.1, or 0 for off")
        for name in ("zeta", "alpha"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"`{name}` {getattr(self, name)} must lie strictly between 0 and 1. "
                                  f"Fix: e.g. `{name}` 0.05")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("adaptive")
        return d


def _checked(cfg: AdaptiveConfig) -> AdaptiveConfig:
    """``cfg``, checked as adaptive: one built with ``adaptive`` off skipped the checks of its rounds."""
    return cfg if cfg.adaptive else replace(cfg, adaptive=True)


def _round_counts(store: RunStore, model: str, index: dict[str, int], rnd: int,
                  pattern: re.Pattern) -> tuple[np.ndarray, np.ndarray]:
    """(successes, samples) per problem in the model's shards of round ``rnd`` only (keys ``pattern``)."""
    c = np.zeros(len(index), dtype=np.int64)
    n = np.zeros(len(index), dtype=np.int64)
    def this_round(shard: dict) -> bool:
        m = pattern.match(shard["key"])
        return m is not None and int(m.group(1)) == rnd

    for _, t in store.read_shards("samples", model, columns=["problem_id", "correct"], select=this_round):
        ids = np.fromiter((index.get(p, -1) for p in t["problem_id"].to_pylist()), np.int64, t.num_rows)
        ok = ids >= 0
        np.add.at(n, ids[ok], 1)
        np.add.at(c, ids[ok], t["correct"].to_numpy(zero_copy_only=False).astype(np.int64)[ok])
    return c, n


def _rounds(store: RunStore, backend: Backend | None, executor: UnitExecutor | None, name: str,
            decoding: DecodingConfig, task: Task, problems: list, cfg: AdaptiveConfig, alpha: float,
            prefix: str, start: np.ndarray, problems_per_shard: int, batch_size: int,
            on_round: Callable[[int, int, int], Callable[[int], None] | None] | None) -> dict:
    """The rounds over ``problems`` (shard keys ``{prefix}r0000-p000000``; problem i's samples get
    sample_idx from ``start[i]`` on), decisions by confidence sequences at level ``alpha``."""
    from supportscope.stats.allocation import next_round

    pattern = round_key(prefix)
    index = {p.id: i for i, p in enumerate(problems)}
    kw = dict(basin_budget=cfg.basin_budget, zeta=cfg.zeta, alpha=alpha, max_n=cfg.max_n,
              round_size=cfg.round, round_budget=cfg.round_budget, futility=cfg.futility or None)
    written, r = 0, 0
    c = np.zeros(len(problems), dtype=np.int64)  # counts of the rounds before r (each shard read once)
    n = np.zeros(len(problems), dtype=np.int64)
    while True:
        if r > 0:
            dc, dn = _round_counts(store, name, index, r - 1, pattern)
            c, n = c + dc, n + dn
        if r == 0:
            add = np.full(len(problems), min(cfg.round, cfg.max_n), dtype=np.int64)
        else:
            add = next_round(c, n, cfg.budget, **kw)
        if not add.any():
            break
        sel = np.flatnonzero(add)
        advance = on_round(r, len(sel), int(add.sum())) if on_round else None
        done = store.done("samples", name)
        works = []
        for first in range(0, len(sel), problems_per_shard):
            block = sel[first:first + problems_per_shard]
            key = f"{prefix}r{r:04d}-p{first // problems_per_shard:06d}"
            if key in done:
                if advance:
                    advance(int(add[block].sum()))
                continue
            works.append(SampleWork(key, [SampleRequest(problems[i].id, problems[i].prompt, int(j))
                                          for i in block
                                          for j in range(start[i] + n[i], start[i] + n[i] + add[i])],
                                    [problems[i] for i in block]))

        def write(work: SampleWork, rows: list[dict]) -> None:
            nonlocal written
            store.write_shard("samples", name, work.key, build_table("samples", rows))
            written += len(rows)

        run_sample_works(backend, executor, works, decoding, task, name, batch_size, write, advance)
        r += 1
    from supportscope.stats.sequences import regime_decided_anytime

    decided = regime_decided_anytime(c, n, cfg.budget, cfg.basin_budget, cfg.zeta, alpha)
    return {"rounds": r, "samples": int(n.sum()), "written": written, "decided": int(decided.sum()),
            "undecided": int((~decided).sum())}


def adaptive_sample_job(store: RunStore, backend: Backend | None, name: str, policy: Policy,
                        decoding: DecodingConfig, task: Task, cfg: AdaptiveConfig, problems_per_shard: int = 8,
                        batch_size: int = BATCH_SIZE,
                        on_round: Callable[[int, int, int], Callable[[int], None] | None] | None = None,
                        executor: UnitExecutor | None = None) -> dict:
    """Sample ``task`` adaptively (see the module docstring). ``on_round(r, open_problems, samples)``
    is called before each round and may return a progress callback for its samples. Returns
    {"rounds", "samples", "written", "decided", "undecided"} (undecided: stopped at max_n or as futile).
    With ``executor`` (``backend`` may then be None) each round's shards are made elsewhere (e.g. over
    Ray, ``scale.ray_exec``) and written here, with the same bytes."""
    cfg = _checked(cfg)
    problems = task.problems()
    register_generator(store, name, policy, decoding, task, cfg.max_n, problems_per_shard,
                       (executor or backend).tokenizer_fingerprint(), problems, adaptive=cfg.to_dict())
    store.verify(model=name)  # a done shard whose file changed is refused, not skipped as done
    if "all" not in store.done("problems", name):
        store.write_shard("problems", name, "all", build_table("problems", [
            {"problem_id": p.id, "prompt": p.prompt, "answer": p.answer, "task": task.spec} for p in problems]))
    return _rounds(store, backend, executor, name, decoding, task, problems, cfg, cfg.alpha, "",
                   np.zeros(len(problems), dtype=np.int64), problems_per_shard, batch_size, on_round)


# -- follow-up (confirmation stage) ------------------------------------------------------------

#: Key prefix of a follow-up's shards (one follow-up per model and run).
FOLLOWUP_PREFIX = "f00-"
FOLLOWUP_ROUND_KEY = round_key(FOLLOWUP_PREFIX)


def followup_level(alpha: float, m: int) -> float:
    """The confidence-sequence level of a follow-up of ``m`` problems: alpha / (2 m)
    (`stats.support_change.confirmation_level`, the level the analysis confirms at)."""
    from supportscope.stats.support_change import confirmation_level

    return confirmation_level(alpha, m)


def check_followup(store: RunStore, name: str, policy: Policy, decoding: DecodingConfig, task: Task,
                   fingerprint: str | None = None) -> dict:
    """Refuse (StoreError, naming the differing keys) a follow-up of ``name`` whose policy (minus
    name), decoding, task (spec, size, digest of ``task.problems()``) or tokenizer (when
    ``fingerprint`` is given) differ from the run's entry of ``name``; returns that entry."""
    from supportscope.store.manifest import config_diff

    entry = store.entry(name)
    where = store.path / "manifest.json"
    if entry.get("role") != "generator":
        raise StoreError(where, f"{name!r} is a {entry.get('role', 'model')} in this run, not a sampled model",
                         "follow up a model whose samples the run holds")
    now = generator_config(policy, decoding, task, task.problems())
    if fingerprint is not None:
        now["tokenizer"] = fingerprint
    old = {k: entry.get(k) for k in now}
    if old != now:
        raise StoreError(where, f"the follow-up of {name!r} differs from its samples in this run "
                         f"({config_diff(old, now)})",
                         "follow up with the model, decoding and --tasks/--limit/--task-seed of its first "
                         "stage, or give it a new --name (a new model, not a follow-up)")
    return entry


def followup_spec(store: RunStore, name: str, problems: list, cfg: AdaptiveConfig,
                  problems_per_shard: int) -> dict:
    """The manifest record of a follow-up of ``name`` on ``problems`` (what ``RunStore.add_followup``
    stores as the entry's ``"followup"``)::

        {"problems": [ids, task order], "start": [first follow-up sample_idx per problem],
         "key_prefix": "f00-", "alpha": --alpha, "level": alpha / (2 m), "budget": K, "max_n",
         "round", "round_budget", "basin_budget", "zeta", "futility", "problems_per_shard"}

    ``start`` is each problem's largest stage-1 sample_idx + 1 (stage 1 = the model's shards whose
    keys are not follow-up keys). Raises StoreError when a problem has no stage-1 samples, or, for a
    uniform stage 1, fewer than its n (stage 1 unfinished: a resumed stage 1 would reuse the
    follow-up's sample_idx).
    """
    from supportscope.store.counts import is_followup_key

    entry = store.entry(name)
    last: dict[str, int] = {}
    count: dict[str, int] = {}
    for _, t in store.read_shards("samples", name, columns=["problem_id", "sample_idx"],
                                  select=lambda shard: not is_followup_key(shard["key"])):
        for pid, j in zip(t["problem_id"].to_pylist(), t["sample_idx"].to_pylist()):
            last[pid] = max(last.get(pid, -1), int(j))
            count[pid] = count.get(pid, 0) + 1
    where = store.path / "manifest.json"
    fix = "finish its first stage (rerun the same `supportscope sample` command) before the follow-up"
    for p in problems:
        if p.id not in last:
            raise StoreError(where, f"problem {p.id!r} has no samples of {name!r} in this run", fix)
        if "adaptive" not in entry and count[p.id] < int(entry.get("n", 0)):
            raise StoreError(where, f"problem {p.id!r} has {count[p.id]} of the {entry['n']} samples of "
                             f"{name!r} (first stage unfinished)", fix)
    return {"problems": [p.id for p in problems], "start": [last[p.id] + 1 for p in problems],
            "key_prefix": FOLLOWUP_PREFIX, "alpha": cfg.alpha, "level": followup_level(cfg.alpha, len(problems)),
            "budget": cfg.budget, "max_n": cfg.max_n, "round": cfg.round, "round_budget": cfg.round_budget,
            "basin_budget": cfg.basin_budget, "zeta": cfg.zeta, "futility": cfg.futility,
            "problems_per_shard": problems_per_shard}


def followup_sample_job(store: RunStore, backend: Backend | None, name: str, policy: Policy,
                        decoding: DecodingConfig, task: Task, problems: list, cfg: AdaptiveConfig,
                        problems_per_shard: int = 8, batch_size: int = BATCH_SIZE,
                        on_round: Callable[[int, int, int], Callable[[int], None] | None] | None = None,
                        executor: UnitExecutor | None = None) -> dict:
    """Follow up ``problems`` (a subset of ``task.problems()``, in task order) of the model ``name``,
    already sampled in ``store``, with fresh adaptive rounds (see the module docstring): checks the
    config against the run (:func:`check_followup`), writes :func:`followup_spec` in the manifest
    (``RunStore.add_followup``; the same spec again resumes), and samples. Returns
    :func:`adaptive_sample_job`'s dict plus "problems" (m) and "level" (alpha / (2 m))."""
    cfg = _checked(cfg)
    if not problems:
        raise ValueError("a follow-up needs at least one problem")
    check_followup(store, name, policy, decoding, task, (executor or backend).tokenizer_fingerprint())
    store.verify(model=name)  # stage 1 and done follow-up shards: changed ones are refused
    spec = followup_spec(store, name, problems, cfg, problems_per_shard)
    store.add_followup(name, spec)
    res = _rounds(store, backend, executor, name, decoding, task, problems, cfg, spec["level"], FOLLOWUP_PREFIX,
                  np.asarray(spec["start"], dtype=np.int64), problems_per_shard, batch_size, on_round)
    return {**res, "problems": len(problems), "level": spec["level"]}


__all__ = ["AdaptiveConfig", "adaptive_sample_job", "ROUND_KEY", "FOLLOWUP_PREFIX", "FOLLOWUP_ROUND_KEY",
           "check_followup", "followup_level", "followup_sample_job", "followup_spec"]
