"""The reused-seed screen of the provenance checks: identical completions under a repeated seed.

Per problem, n samples, each with a seed and a completion (both coded as integers); samples that
share a seed form a *seed group* (size s_g). The fault (a known vLLM pitfall: one seed passed to
"independent" requests) makes every sample of a seed group the same completion. The null
hypothesis is that the seed does not fix the output: the n samples are i.i.d. draws, hence
exchangeable, so given the multiset of completions (m_j copies of completion j) every assignment
of completions to the n positions is equally likely, whatever the seeds.

* **Repeated seeds within a problem** (some s_g >= 2, at least two seeds). Statistic A = the number
  of seed groups of size >= 2 whose samples are all one completion. Under the null,

      E[A | m] = sum_{g: s_g >= 2} sum_j C(m_j, s_g) / C(n, s_g)

  (a fixed set of s_g positions all receives completion j with the hypergeometric probability
  C(m_j, s_g) / C(n, s_g)), and by Markov's inequality P(A >= a | m) <= E[A | m] / a, so

      p = min(1, E[A | m] / A)   (p = 1 when A = 0)

  is a valid p-value: P(p <= u) <= u under the null, conditionally on m and so unconditionally
  (the conditional-permutation argument of Lehmann & Romano 2005, "Testing Statistical
  Hypotheses", 15.2; Markov's inequality makes it conservative). Honest short answers make
  monochromatic groups likely and E[A] large; distinct long completions under a reused seed make
  E[A] tiny. Problems are flagged by Benjamini-Hochberg (1995) at level alpha over the tested
  problems of one model: the false discovery rate is at most alpha, and with no faulty problem
  at all the chance of any flag is at most alpha (problems are independent).
* **One seed for every sample of a problem** (s = n >= 2): A is 1 exactly when all n samples agree,
  and E[A | m] = 1 then, so no test within the problem exists (a reused seed and an answer the
  model gives with probability ~1 look alike). Across problems they differ: the rule flags the
  one-seed problems of a model only when there are at least ``min_one_seed`` of them and *every*
  one has all its samples identical. Under honest sampling its chance is
  prod_i sum_j pi_ij^{n_i} (pi_ij: problem i's probability of completion j), at most
  (max_i sum_j pi_ij^{n_i})^min_one_seed: below 0.05 unless the model answers almost
  deterministically on every such problem (e.g. <= 0.44^5 = 0.016 when each problem's most
  likely answer has probability 0.95 and n = 16), in which case the samples carry little more
  than one draw each anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_level
from .answers import bh_adjust

__all__ = ["MIN_ONE_SEED", "SeedScreen", "monochromatic_test", "seed_screen"]

#: One-seed problems needed before the "every one identical" rule may flag them.
MIN_ONE_SEED = 5


def monochromatic_test(seeds, answers) -> tuple[int, float, float] | None:
    """(A, E[A | m], p) of one problem (module docstring); None when no seed repeats or one seed
    covers every sample (not testable within the problem)."""
    seeds, answers = np.asarray(seeds), np.asarray(answers)
    if seeds.shape != answers.shape or seeds.ndim != 1:
        raise ValueError(f"seeds and answers must be one value per sample, got {seeds.shape} and {answers.shape}")
    n = seeds.size
    groups, g_of = np.unique(seeds, return_inverse=True)
    if groups.size in (n, 1):
        return None
    sizes = np.bincount(g_of)
    m = np.unique(answers, return_counts=True)[1]
    big = np.flatnonzero(sizes >= 2)
    expected = sum(sum(math.comb(int(mj), int(sizes[g])) for mj in m) / math.comb(n, int(sizes[g])) for g in big)
    mono = sum(np.unique(answers[g_of == g]).size == 1 for g in big)
    p = 1.0 if mono == 0 else min(1.0, expected / mono)
    return int(mono), float(expected), float(p)


@dataclass(frozen=True, eq=False)
class SeedScreen:
    """The screen of one model's problems (module docstring); arrays are one entry per problem.

    monochromatic / expected / pvalue / p_adjusted: A, E[A | m], p and its BH adjustment, NaN (A:
    -1) where the problem is not tested. one_seed: the problem has one seed for its >= 2 samples;
    all_identical: its samples are all one completion. flagged: BH-adjusted p <= alpha, or a one-seed
    problem flagged by the model-level rule (``one_seed_flagged``).
    """

    monochromatic: np.ndarray
    expected: np.ndarray
    pvalue: np.ndarray
    p_adjusted: np.ndarray
    one_seed: np.ndarray
    all_identical: np.ndarray
    one_seed_flagged: bool
    flagged: np.ndarray
    alpha: float

    @property
    def tested(self) -> np.ndarray:
        """Problems with a p-value (repeated seeds, not one seed for all)."""
        return ~np.isnan(self.pvalue)


def seed_screen(seeds: list, answers: list, alpha: float = 0.05, min_one_seed: int = MIN_ONE_SEED) -> SeedScreen:
    """The reused-seed screen over one model's problems: ``seeds[i]`` and ``answers[i]`` are problem
    i's per-sample seed codes and completion codes (module docstring for the rules)."""
    alpha = check_level(alpha, "alpha")
    q = len(seeds)
    if len(answers) != q:
        raise ValueError(f"seeds and answers must list the same problems, got {q} and {len(answers)}")
    mono, expected, pvalue = np.full(q, -1, np.int64), np.full(q, np.nan), np.full(q, np.nan)
    one_seed, identical = np.zeros(q, bool), np.zeros(q, bool)
    for i, (s, a) in enumerate(zip(seeds, answers)):
        s, a = np.asarray(s), np.asarray(a)
        identical[i] = a.size >= 2 and np.unique(a).size == 1
        one_seed[i] = s.size >= 2 and np.unique(s).size == 1
        got = monochromatic_test(s, a)
        if got is not None:
            mono[i], expected[i], pvalue[i] = got
    adjusted = bh_adjust(pvalue)
    one_flag = bool(one_seed.sum() >= min_one_seed and identical[one_seed].all())
    flagged = (adjusted <= alpha) | (one_seed & one_flag)
    return SeedScreen(monochromatic=mono, expected=expected, pvalue=pvalue, p_adjusted=adjusted, one_seed=one_seed,
                      all_identical=identical, one_seed_flagged=one_flag, flagged=flagged, alpha=alpha)
