"""The demo's analyses (every variant against the base, the four pairs of each tool run's 2 x 2
account, the variants and the RL trajectory as multi-model analyses), run by a pool of processes.

Each analysis is independent and single-threaded (numpy, pyarrow, matplotlib), so ``workers``
spawned processes on as many cores run ``workers`` at once. Each process opens the run store as a
reader and builds its counts table once (:func:`_init`, a :class:`~.demo_many.Inputs`), then runs
the jobs it is handed: a :class:`PairJob` is
:func:`~supportscope.pipeline.analyse.analyse_and_write` with the exact columns added
(:func:`~supportscope.pipeline.demo_many.exact_columns`); a :class:`ManyJob` is one of
``demo_many``'s multi-model analyses. Every job writes its own folders, each as one set; the
results come back in job order, whatever order the jobs finished in (``process_pool``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supportscope.analysis import AnalyzeConfig, model_counts
from supportscope.pipeline.process_pool import map_in_processes
from supportscope.pipeline.progress import progress_bar

_STATE: dict = {}  # per process: "inputs", the demo_many.Inputs every job reads


@dataclass(frozen=True)
class PairJob:
    """One pairwise analysis: ``tuned`` against ``base`` (model names in the run) into ``out``."""

    base: str
    tuned: str
    out: Path
    extra: dict


@dataclass(frozen=True)
class ManyJob:
    """``demo_many.<fn>(inputs, *args)``: ``variants_analysis`` or ``trajectory_analysis``."""

    fn: str
    args: tuple


def _init(run_dir: Path, acfg: AnalyzeConfig, exact: dict, families: dict) -> None:
    from supportscope.pipeline.demo_many import Inputs
    from supportscope.store import RunStore, counts_from_samples

    store = RunStore.open(run_dir)
    _STATE["inputs"] = Inputs(store, counts_from_samples(store), [str(run_dir)], acfg, exact, families)


def _run(job: PairJob | ManyJob) -> dict:
    from supportscope.pipeline import demo_many
    from supportscope.pipeline.analyse import analyse_and_write

    ctx = _STATE["inputs"]
    if isinstance(job, ManyJob):
        return getattr(demo_many, job.fn)(ctx, *job.args)

    def augment(summary, per_problem):
        return demo_many.exact_columns(per_problem, ctx.exact[job.base], ctx.exact[job.tuned],
                                       summary["budget"]["K"], ctx.acfg, summary, ctx.families)

    return analyse_and_write(model_counts(ctx.table, job.base, ctx.srcs), model_counts(ctx.table, job.tuned, ctx.srcs),
                             ctx.acfg, job.out, [], run=ctx.run, augment=augment, quiet=True, extra=job.extra)


def run_analyses(jobs: list, run_dir: Path, acfg: AnalyzeConfig, exact: dict, families: dict,
                 workers: int) -> list[dict]:
    """The results of ``jobs`` (in order), run by ``min(workers, len(jobs))`` processes (1: here)."""
    workers = max(1, min(int(workers), len(jobs)))
    args = (Path(run_dir), acfg, exact, families)
    with progress_bar(f"{len(jobs)} analyses against the exact labels in {workers} process(es)", len(jobs),
                      unit="analyses") as adv:
        if workers > 1:
            done = map_in_processes(_run, [(job,) for job in jobs], workers, adv, "analyses", _init, args)
            if done is not None:
                return done
        _init(*args)
        try:
            out = []
            for job in jobs:
                out.append(_run(job))
                adv(1)
            return out
        finally:
            _STATE.clear()


__all__ = ["ManyJob", "PairJob", "run_analyses"]
