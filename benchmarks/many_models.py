"""Multi-model analysis vs one pairwise analysis per model, in the same run.

Data: 20 checkpoints x 500 problems x 128 samples (counts), base p ~ Beta(0.5, 1.5) with 20% of
problems at p = 0, checkpoint s a Gibbs tilt 0.1 s of the base; 10,000 bootstrap replicates.

- ``compare_many``: every checkpoint against the base with one shared bootstrap (the base's NPMLE
  and profile bounds computed once, bootstrap weights converted once), plus the cross-model
  series, trajectories and contrasts;
- reference: 20 independent ``compare`` calls with cold caches (what 20 ``supportscope analyze``
  runs compute), same inputs and replicates;
- also: rendering and writing every output of the combined analysis (``analyse_many_and_write``:
  the combined report and 20 pairwise reports).

Prints wall and CPU seconds of each and the ratio reference / compare_many.

    python benchmarks/many_models.py [--models 20] [--problems 500] [--n 128] [--bootstrap 10000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.special import expit, logit


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def data(models: int, q: int, n: int, seed: int = 0):
    from supportscope.analysis.inputs import ModelCounts

    rng = np.random.default_rng(seed)
    p0 = rng.beta(0.5, 1.5, q)
    p0[rng.random(q) < 0.2] = 0.0
    pid = np.array([f"p{i:04d}" for i in range(q)], dtype=object)

    def mc(name, p):
        return ModelCounts(name=name, problem_id=pid, n=np.full(q, n), correct=rng.binomial(n, p))

    inner = (p0 > 0) & (p0 < 1)
    tuned = [mc(f"step-{10 * s}", np.where(inner, expit(logit(np.clip(p0, 1e-9, 1 - 1e-9)) + 0.1 * s), p0))
             for s in range(1, models + 1)]
    return mc("base", p0), tuned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--bootstrap", type=int, default=10000)
    a = ap.parse_args()
    from supportscope.analysis import AnalyzeConfig, compare
    from supportscope.analysis.many import compare_many
    from supportscope.pipeline.analyse_many import analyse_many_and_write
    from supportscope.stats import mixing

    base, tuned = data(a.models, a.problems, a.n)
    cfg = AnalyzeConfig(bootstrap=a.bootstrap)
    compare(base, tuned[0], AnalyzeConfig(bootstrap=100))  # imports and first-call costs out of both timings

    mixing.npmle.cache_clear(); mixing.profile_upper.cache_clear()
    t0, c0 = time.perf_counter(), _cpu()
    for t in tuned:
        mixing.npmle.cache_clear(); mixing.profile_upper.cache_clear()  # each analyze run starts cold
        compare(base, t, cfg)
    ref_wall, ref_cpu = time.perf_counter() - t0, _cpu() - c0

    mixing.npmle.cache_clear(); mixing.profile_upper.cache_clear()
    t0, c0 = time.perf_counter(), _cpu()
    compare_many(base, tuned, cfg)
    many_wall, many_cpu = time.perf_counter() - t0, _cpu() - c0

    mixing.npmle.cache_clear(); mixing.profile_upper.cache_clear()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu()
        analyse_many_and_write(base, tuned, cfg, Path(tmp) / "out", [], quiet=True)
        all_wall, all_cpu = time.perf_counter() - t0, _cpu() - c0

    print(f"{a.models} models x {a.problems} problems x n={a.n}, {a.bootstrap} bootstrap replicates")
    print(f"{'':44s} {'wall s':>8s} {'cpu s':>8s}")
    print(f"{'reference: ' + str(a.models) + ' pairwise compare() calls':44s} {ref_wall:8.1f} {ref_cpu:8.1f}")
    print(f"{'compare_many (one analysis)':44s} {many_wall:8.1f} {many_cpu:8.1f}")
    print(f"{'compare_many + every output written':44s} {all_wall:8.1f} {all_cpu:8.1f}")
    print(f"ratio reference / compare_many: wall {ref_wall / many_wall:.2f}x, cpu {ref_cpu / many_cpu:.2f}x")


if __name__ == "__main__":
    main()
