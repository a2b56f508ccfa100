"""Benchmark: vectorised pass@k curves and paired bootstrap vs. the per-item reference loops.

Run with ``python benchmarks/passk.py`` (exit status 1 if the fast and reference results differ by
more than 1e-12). Q = 500 problems, n = 1024 samples each; timings are best-of-repeats.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from supportscope.stats import PairedBootstrap, passk_at, passk_curves, pooled_passk

Q, N, B, SEED = 500, 1024, 10_000, 20250101
TOL = 1e-12


def pass_at_k(n, c, k):
    """Chen et al. 2021 (HumanEval paper), numerically stable per-(problem, k) estimator."""
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def best_of(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def counts(rng, q, n, shift):
    """Mixture: unsolved (c = 0), always solved (c = n), rare successes, and broad rates."""
    kind = rng.choice(4, size=q, p=[0.15, 0.15, 0.3, 0.4])
    p = np.where(kind == 2, rng.uniform(0, 0.02, q), rng.beta(2, 2, q))
    p = np.clip(p * shift, 0, 1)
    c = rng.binomial(n, p)
    c[kind == 0] = 0
    c[kind == 1] = n
    return c


def main() -> int:
    rng = np.random.default_rng(SEED)
    c_base = counts(rng, Q, N, 1.0)
    c_tuned = np.where(c_base == N, N, np.minimum(N, counts(rng, Q, N, 1.2)))
    n = np.full(Q, N)
    ok = True

    # (1) full curves k = 1..N
    t_fast, fast = best_of(lambda: passk_curves(c_base, n), 7)

    def reference():
        return np.array([[pass_at_k(N, int(ci), k) for k in range(1, N + 1)] for ci in c_base])

    t_ref, ref = best_of(reference, 1)
    diff1 = float(np.max(np.abs(fast - ref)))
    ok &= diff1 <= TOL
    print(f"(1) pass@k curves, Q={Q}, n={N}, k=1..{N} ({Q * N:,} values)")
    print(f"    {'method':<42}{'seconds':>12}")
    print(f"    {'passk_curves (cumprod, best of 7)':<42}{t_fast:>12.5f}")
    print(f"    {'HumanEval pass_at_k loop over (problem, k)':<42}{t_ref:>12.3f}")
    print(f"    speed ratio {t_ref / t_fast:,.0f}x (goal >= 200x); max |diff| = {diff1:.2e} (<= {TOL:g})")

    # (2) paired bootstrap of pooled pass@k at powers of two, both models
    ks = 2 ** np.arange(11)
    vals = np.stack([passk_at(c_base, n, ks), passk_at(c_tuned, n, ks)], axis=1)  # [Q, 2, K]
    boot = PairedBootstrap(Q, B, seed=SEED)
    t_boot, reps = best_of(lambda: boot.means(vals), 3)
    weights = boot.map(lambda w: w)  # the same resampling counts, materialised [B, Q]

    def loop():
        out = np.empty((B,) + vals.shape[1:])
        problems = np.arange(Q)
        for b in range(B):
            idx = np.repeat(problems, weights[b])  # the resampled problem indices of replicate b
            out[b] = vals[idx].mean(axis=0)
        return out

    t_loop, reps_loop = best_of(loop, 1)
    diff2 = float(np.max(np.abs(reps - reps_loop)))
    ok &= diff2 <= TOL
    pooled = pooled_passk(vals.reshape(Q, -1)).reshape(2, -1)
    lo, hi = np.quantile(reps[:, 1] - reps[:, 0], [0.025, 0.975], axis=0)
    print(f"\n(2) paired bootstrap, B={B:,} replicates, pooled pass@k at k = 1, 2, 4, ..., {N}, both models")
    print(f"    {'PairedBootstrap.means (best of 3)':<42}{t_boot:>12.5f}")
    print(f"    {'per-replicate Python loop':<42}{t_loop:>12.3f}")
    print(f"    speed ratio {t_loop / t_boot:,.0f}x; max |diff| = {diff2:.2e} (same weights)")
    print(f"\n    {'k':>6}{'base':>9}{'tuned':>9}{'tuned-base':>12}{'95% CI':>22}")
    for j, k in enumerate(ks):
        d = pooled[1, j] - pooled[0, j]
        print(f"    {k:>6}{pooled[0, j]:>9.4f}{pooled[1, j]:>9.4f}{d:>12.4f}   [{lo[j]:+.4f}, {hi[j]:+.4f}]")
    print("\nOK" if ok else "\nFAILED: results differ by more than the tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
