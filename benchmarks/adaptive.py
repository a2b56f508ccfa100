"""Benchmark: adaptive sampling (confidence sequences) vs uniform allocation, with known true p.

Run with ``python benchmarks/adaptive.py`` (``--no-organism`` skips the model organism, which needs
torch). Two sets of true success probabilities:

(a) the bundled MATH500 counts of qwen2.5-7b-base (examples/math500_qwen25_7b_base_vs_rl_counts.csv),
    taken as truth after Jeffreys smoothing p = (c + 1/2)/(n + 1);
(b) the model organism's exact p under its default decoding (organism.exact.exact_p).

For each, R replicates of every problem are simulated (means per replicate are printed):

* uniform: n = max-n samples of every problem; regimes at K from the fixed-n Clopper-Pearson
  interval (``stats.regimes.accessibility`` at K and k_b; valid, since n is fixed in advance);
* adaptive: rounds of ``--round`` samples to the open problems (``stats.allocation``), regimes
  from the anytime-valid confidence sequence (``stats.sequences``), without and with the futility
  rule; then the smallest adaptive cap (searched over max-n x 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8) at which
  adaptive decides at least as many problems as uniform, and its samples / uniform's samples
  (goal <= 0.3x).

Errors: a decided problem is wrong when its decision disagrees with the truth: accessibility at K
(accessible iff p >= eps(K) = 1 - zeta^(1/K)) and the regime (basin p >= eps(k_b), tail
eps(K) <= p < eps(k_b), inaccessible p < eps(K)). Printed per problem-run (the rate the CS bounds
by alpha for every problem) and per decided problem. Exit status 1 if an error rate per problem-run
exceeds alpha.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from supportscope.stats import accessibility, eps
from supportscope.stats.allocation import simulate_adaptive, simulate_uniform
from supportscope.stats.sequences import accessibility_anytime

ROOT = Path(__file__).resolve().parents[1]
MATH500 = ROOT / "examples" / "math500_qwen25_7b_base_vs_rl_counts.csv"
CAP_FACTORS = (1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8)


def math500_p() -> np.ndarray:
    with open(MATH500, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == "qwen2.5-7b-base"]
    c = np.array([int(r["correct"]) for r in rows], dtype=np.float64)
    n = np.array([int(r["n"]) for r in rows], dtype=np.float64)
    return (c + 0.5) / (n + 1.0)


def organism_p() -> np.ndarray:
    import torch

    from supportscope.organism.exact import exact_p, organism_backend
    from supportscope.organism.task import OrganismTask

    torch.set_num_threads(1)
    return exact_p(organism_backend(), OrganismTask().organism_problems())


def regimes(acc_k: np.ndarray, acc_b: np.ndarray) -> np.ndarray:
    """0 inaccessible, 1 tail, 2 basin, -1 undecided, from accessibility at K and at k_b (1/0/-1)."""
    return np.where(acc_b == 1, 2, np.where((acc_k == 1) & (acc_b == 0), 1, np.where(acc_k == 0, 0, -1)))


class Scenario:
    def __init__(self, name: str, p: np.ndarray, args: argparse.Namespace):
        self.name, self.p, self.args = name, p, args
        self.R, self.Q = args.replicates, p.size
        self.P = np.tile(p, self.R)
        self.e_k, self.e_b = float(eps(args.budget, args.zeta)), float(eps(args.basin_budget, args.zeta))
        self.true_acc = (self.P >= self.e_k).astype(int)
        self.true_reg = np.where(self.P >= self.e_b, 2, np.where(self.P >= self.e_k, 1, 0))

    def rng(self, tag: int) -> np.random.Generator:
        return np.random.default_rng([self.args.seed, tag])

    def score(self, acc_k, acc_b, n):
        reg = regimes(acc_k, acc_b)
        dec = reg >= 0
        acc_wrong = (acc_k >= 0) & (acc_k != self.true_acc)
        reg_wrong = dec & (reg != self.true_reg)
        runs = self.P.size
        return {"decided": dec.sum() / self.R, "samples": n.sum() / self.R,
                "acc_err": acc_wrong.sum() / runs, "reg_err": reg_wrong.sum() / runs,
                "reg_err_dec": reg_wrong.sum() / max(dec.sum(), 1)}

    def uniform(self):
        a = self.args
        c, n = simulate_uniform(self.P, a.max_n, self.rng(0))
        return self.score(accessibility(c, n, a.budget, a.zeta, a.alpha),
                          accessibility(c, n, a.basin_budget, a.zeta, a.alpha), n)

    def adaptive(self, cap: int, futility: float | None):
        a = self.args
        run = simulate_adaptive(self.P, a.budget, max_n=cap, round_size=a.round, rng=self.rng(cap),
                                basin_budget=a.basin_budget, zeta=a.zeta, alpha=a.alpha, futility=futility)
        out = self.score(accessibility_anytime(run.c, run.n, a.budget, a.zeta, a.alpha),
                         accessibility_anytime(run.c, run.n, a.basin_budget, a.zeta, a.alpha), run.n)
        out["rounds"] = run.rounds
        return out


def row(label: str, cap: int, r: dict, uniform_samples: float) -> str:
    return (f"    {label:<34}{cap:>7}{r['decided']:>10.1f}{r['samples']:>12,.0f}"
            f"{r['samples'] / uniform_samples:>8.3f}{r['acc_err']:>11.4f}{r['reg_err']:>11.4f}"
            f"{r['reg_err_dec']:>11.4f}")


def run_scenario(sc: Scenario) -> tuple[bool, list[str]]:
    a = sc.args
    t0 = time.perf_counter()
    counts = np.bincount(np.where(sc.p >= sc.e_b, 2, np.where(sc.p >= sc.e_k, 1, 0)), minlength=3)
    print(f"\n{sc.name}: Q = {sc.Q} problems x R = {sc.R} replicates; K = {a.budget}, k_b = {a.basin_budget}, "
          f"zeta = {a.zeta}, alpha = {a.alpha}, round = {a.round}")
    print(f"    true regimes: basin {counts[2]}, tail {counts[1]}, inaccessible {counts[0]} "
          f"(eps(k_b) = {sc.e_b:.4f}, eps(K) = {sc.e_k:.4f}); numbers are means per replicate")
    print(f"    {'method':<34}{'max-n':>7}{'decided':>10}{'samples':>12}{'ratio':>8}"
          f"{'acc err':>11}{'reg err':>11}{'err/dec':>11}")
    u = sc.uniform()
    print(row(f"uniform n={a.max_n}, Clopper-Pearson", a.max_n, u, u["samples"]))
    results = [u]
    variants = [("adaptive CS", None), (f"adaptive CS + futility {a.futility:g}", a.futility)]
    for label, fut in variants:
        r = sc.adaptive(a.max_n, fut)
        results.append(r)
        print(row(label, a.max_n, r, u["samples"]))
    print(f"    -- smallest adaptive max-n deciding >= uniform's {u['decided']:.1f} problems:")
    best = {}
    for label, fut in variants:
        for f in CAP_FACTORS:
            cap = int(round(a.max_n * f / a.round)) * a.round
            r = sc.adaptive(cap, fut)
            results.append(r)
            if r["decided"] >= u["decided"]:
                print(row(label, cap, r, u["samples"]))
                best[label] = (cap, r)
                break
        else:
            print(f"    {label:<34} does not reach it by max-n {cap} ({r['decided']:.1f} decided, "
                  f"{r['samples']:,.0f} samples)")
    summary = []
    for label, (cap, r) in best.items():
        summary.append(f"{sc.name}: {label} decides {r['decided']:.1f} >= {u['decided']:.1f} with "
                       f"{r['samples']:,.0f} samples (max-n {cap}) vs {u['samples']:,.0f}: "
                       f"ratio {r['samples'] / u['samples']:.3f}x (goal <= 0.3x)")
    worst = max(max(r["acc_err"], r["reg_err"]) for r in results)
    ok = worst <= a.alpha
    print(f"    largest error rate per problem-run over all runs above: {worst:.4f} "
          f"({'<=' if ok else 'EXCEEDS'} alpha = {a.alpha}); {time.perf_counter() - t0:.1f} s")
    return ok, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--basin-budget", type=int, default=8)
    ap.add_argument("--zeta", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--max-n", type=int, default=1024)
    ap.add_argument("--round", type=int, default=16)
    ap.add_argument("--futility", type=float, default=0.1,
                    help="level beta of the futility rule's Clopper-Pearson interval (stats.allocation)")
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20250801)
    ap.add_argument("--no-organism", action="store_true", help="skip (b), which needs torch")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    ok, summary = run_scenario(Scenario("(a) MATH500 qwen2.5-7b-base, true p = (c+1/2)/(n+1)", math500_p(), args))
    if not args.no_organism:
        t1 = time.perf_counter()
        p = organism_p()
        print(f"\n(organism exact p computed in {time.perf_counter() - t1:.1f} s)")
        ok2, s2 = run_scenario(Scenario("(b) model organism, exact p under top_p = 0.95", p, args))
        ok, summary = ok and ok2, summary + s2
    print("\nsummary")
    for line in summary:
        print("    " + line)
    print(f"    total {time.perf_counter() - t0:.1f} s")
    print("\nOK" if ok else "\nFAILED: an error rate exceeds alpha")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
