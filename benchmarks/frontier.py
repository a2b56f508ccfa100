"""Benchmark: the elicitation-frontier block (analysis/frontier.py) -- its time at the target size and
the error rates of its two flags by simulation.

Run with ``python benchmarks/frontier.py`` (``--datasets N`` per cell, ``--skip-sim`` for the timing
only). Exit status 1 if the block takes longer than 10 s.

Timing: Q = 500 problems, n = 128 samples, 20 tuned models, B = 10,000 paired-bootstrap replicates,
k in {1, 2, 4, ..., 128}, K = 64; the first call (bootstrap weights drawn, posteriors integrated)
and a second one (both cached).

Simulation: Q = 300, n = 128, K = 64, B = 500, alpha = 0.05. Bases (true p0):
  both    30 never solvable, 90 in [0.02, 0.08] (on both sides of eps(K) = 0.0457), 180 in [0.08, 0.98]
  above   30 never solvable, 90 in [eps(K), 0.09], 180 in [0.09, 0.98]
  barrier 30 never solvable, 40 in [0.003, 0.015], 70 in [eps(K), 0.09], 160 in [0.09, 0.98]
Tuned = the exact tilt(p0, lam) (null) or the same with 20 never-solvable problems created,
p1 = 0.3 (alt). Printed: the share of data sets with the gap's lower bound at K above 0, with
first_k_above_frontier set, and with first_k_above_ceiling set.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from supportscope.analysis.frontier import frontier_block
from supportscope.stats import PairedBootstrap, eps, tilt

K, N = 64, 128
EPS_K = float(eps(K))
SCENARIOS = {
    "both": [(30, 0.0, 0.0), (90, 0.02, 0.08), (180, 0.08, 0.98)],
    "above": [(30, 0.0, 0.0), (90, EPS_K, 0.09), (180, 0.09, 0.98)],
    "barrier": [(30, 0.0, 0.0), (40, 0.003, 0.015), (70, EPS_K, 0.09), (160, 0.09, 0.98)],
}


def timing() -> float:
    rng = np.random.default_rng(0)
    q = 500
    p0 = rng.beta(0.4, 0.6, q)
    p0[:50] = 0.0
    c0 = rng.binomial(N, p0)
    tuned = []
    for s in range(20):
        p1 = tilt(p0, 0.15 * s)
        p1[:10] = 0.02 * s
        tuned.append((f"step-{50 * s}", rng.binomial(N, p1), np.full(q, N)))
    boot = PairedBootstrap(q, 10_000, seed=0)
    ks = [1, 2, 4, 8, 16, 32, 64, 128]
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        frontier_block(c0, np.full(q, N), tuned, K, 0.05, ks, boot, 0.05)
        times.append(time.perf_counter() - t0)
    print(f"Q = {q}, n = {N}, 20 tuned models, B = 10,000, {len(ks)} k's: "
          f"first call {times[0]:.2f} s, second call {times[1]:.2f} s")
    return times[0]


def rates(spec, lam: float, created: bool, datasets: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    q = sum(n for n, _, _ in spec)
    hits = np.zeros(3)
    for d in range(datasets):
        p0 = np.concatenate([np.full(n, lo) if lo == hi else rng.uniform(lo, hi, n) for n, lo, hi in spec])
        p1 = tilt(p0, lam)
        if created:
            p1[:20] = 0.3
        c0, c1 = rng.binomial(N, p0), rng.binomial(N, p1)
        blk = frontier_block(c0, np.full(q, N), [("t", c1, np.full(q, N))], K, 0.05, [1, 2, 4, 8, 16, 32, 64],
                             PairedBootstrap(q, 500, seed=d), 0.05)
        m = blk["models"][0]
        at_k = next(r for r in m["by_k"] if r["k"] == K)
        hits += [at_k["gap"]["lo"] > 0, m["first_k_above_frontier"] is not None,
                 m["first_k_above_ceiling"] is not None]
    return hits / datasets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--skip-sim", action="store_true")
    args = ap.parse_args()
    first = timing()
    if not args.skip_sim:
        print("scenario  lam  | null: gap@K>0  first-k frontier  first-k ceiling | "
              "alt:  gap@K>0  first-k frontier  first-k ceiling")
        for name, spec in SCENARIOS.items():
            for lam in (0.0, 1.0, 2.0, 3.0):
                null, alt = rates(spec, lam, False, args.datasets), rates(spec, lam, True, args.datasets)
                print(f"{name:8s} {lam:4.1f} | " + "  ".join(f"{v:14.2f}" for v in null) + " | "
                      + "  ".join(f"{v:14.2f}" for v in alt), flush=True)
    return 0 if first < 10.0 else 1


if __name__ == "__main__":
    sys.exit(main())
