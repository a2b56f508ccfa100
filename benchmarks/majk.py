"""Benchmark: exact maj@k (``stats.answers.maj_at_k``) against the former DP, in the same run.

Run with ``python benchmarks/majk.py`` (exit status 1 if the two differ by more than 1e-12
relative). Q = 500 problems x n = 64 samples, every k in 1, 2, 4, ..., 64, for three answer
distributions: one dominant answer with a long tail, 40 equally likely answers, two answers. The
reference is the DP that ``maj_at_k`` used before (kept here, :func:`reference_numerators`): it
carried the number of categories tied at the top as a polynomial variable and visited every
category at every plurality count x; the current one merges the categories that cannot reach x,
integrates the tie weight 1/t by Gauss-Legendre quadrature and skips x = 1's tie variable.
Timings are best of 3 (new) and 1 (reference).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy import special

from supportscope.stats.answers import maj_at_k

Q, N, SEED = 500, 64, 20250101
KS = [1, 2, 4, 8, 16, 32, 64]
TOL = 1e-12
CASES = {
    "dominant answer + tail of 20": [0.4, 0.2, 0.1] + [0.3 / 20] * 20,
    "40 equally likely answers": [1 / 40] * 40,
    "two answers (0.9, 0.1)": [0.9, 0.1],
}


def reference_numerators(m: np.ndarray, v: np.ndarray, kmax: int) -> np.ndarray:
    """sum over k-subsets of h(S), for k = 0..kmax, by the former DP (t: categories tied at the top) ([Q, kmax+1])."""
    q = m.shape[0]
    binom = special.comb(m[:, :, None], np.arange(kmax + 1)[None, None, :])  # C(m_j, y), [Q, J, kmax+1]
    live = (m > 0).sum(axis=0)  # categories sorted descending: column j is empty in every row past live
    ncols = int(np.count_nonzero(live))
    colmax = m.max(axis=0)
    total = np.zeros((q, kmax + 1))
    for x in range(1, kmax + 1):
        tmax = min(ncols, kmax // x)
        p = np.zeros((q, tmax + 1, kmax + 1))
        d = np.zeros_like(p)
        p[:, 0, 0] = 1.0
        for j in range(ncols):
            ymax = min(x, int(colmax[j]))
            newp = np.zeros_like(p)
            newd = np.zeros_like(d)
            for y in range(min(ymax, x - 1) + 1):  # f_j's terms below the top: z^y
                c = binom[:, j, y][:, None, None]
                newp[:, :, y:] += c * p[:, :, : kmax + 1 - y]
                newd[:, :, y:] += c * d[:, :, : kmax + 1 - y]
            if ymax == x:  # the tied-at-top term C(m_j, x) z^x w, and g_j = v_j C(m_j, x) z^x w
                c = binom[:, j, x][:, None, None]
                newp[:, 1:, x:] += c * p[:, :-1, : kmax + 1 - x]
                newd[:, 1:, x:] += c * d[:, :-1, : kmax + 1 - x] + (c * v[:, j][:, None, None]) * p[:, :-1, : kmax + 1 - x]
            p, d = newp, newd
        t = np.arange(1, tmax + 1, dtype=np.float64)
        total += np.einsum("qtk,t->qk", d[:, 1:, :], 1.0 / t)
    return total


def reference_maj(counts, values, ks) -> np.ndarray:
    """maj@k by :func:`reference_numerators`, with the input handling of ``maj_at_k``."""
    m = np.asarray(counts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    n = m.sum(axis=1)
    kmax = int(min(max(ks), n.max()))
    order = np.argsort(-m, axis=1, kind="stable")
    m = np.take_along_axis(m, order, axis=1)
    v = np.where(m > 0, np.take_along_axis(v, order, axis=1), 0.0)
    total = reference_numerators(m, v, kmax)
    out = np.full((m.shape[0], len(ks)), np.nan)
    for col, k in enumerate(ks):
        ok = n >= k
        out[ok, col] = total[ok, k] / special.comb(n[ok], k)
    return out


def best_of(fn, repeats, *args):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    rng = np.random.default_rng(SEED)
    ok = True
    print(f"exact maj@k, Q={Q} problems x n={N} samples, k in {KS}")
    print(f"    {'answer distribution':<32}{'new s':>10}{'former s':>10}{'ratio':>8}{'max rel diff':>14}")
    for name, probs in CASES.items():
        counts = rng.multinomial(N, probs, size=Q)
        values = (rng.random(counts.shape) < 0.3).astype(float)
        t_new, new = best_of(maj_at_k, 3, counts, values, KS)
        t_ref, ref = best_of(reference_maj, 1, counts, values, KS)
        diff = float(np.max(np.abs(new - ref) / np.maximum(np.abs(ref), 1e-300)))
        ok &= diff <= TOL
        print(f"    {name:<32}{t_new:>10.3f}{t_ref:>10.3f}{t_ref / t_new:>7.1f}x{diff:>14.2e}")
    print("\nOK" if ok else "\nFAILED: results differ by more than the tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
