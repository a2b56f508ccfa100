"""Seeded null and power simulations of the two provenance decision rules (issue 18):

* the reused-seed screen (``stats.duplicates.seed_screen``; ``analysis.provenance`` check 1):
  under the null the seed does not fix the output and answer spaces are small, so identical short
  completions are common; the fault reuses one seed for half of a problem's samples;
* the truncation flag ("labels that change without truncated samples", check 2): under the null
  truncation is equally likely in both models; the fault truncates only the tuned (or only the
  base) model's samples on some problems, which makes them look lost (created).

Rates are printed (``pytest -s``) and checked against the nominal level alpha = 0.05, or against
the rule's documented rate where that is the claim. The former rules failed these nulls (module
docstring of analysis.provenance)."""

from __future__ import annotations

import math

import numpy as np

from supportscope.analysis.labels import CREATED, LOST
from supportscope.analysis.provenance import truncation_flips
from supportscope.stats.duplicates import monochromatic_test, seed_screen

ALPHA = 0.05
N = 32


def _small_answers(rng, n):
    """An honest problem with a small answer space: 1-5 answers, Dirichlet(1/2) probabilities."""
    j = int(rng.integers(1, 6))
    return rng.choice(j, size=n, p=rng.dirichlet(np.full(j, 0.5)))


def _long_answers(rng, n):
    """Long completions: (almost) every sample its own text."""
    return rng.integers(0, 2**40, size=n)


SEEDINGS = {"8 seeds x 4": lambda n: np.arange(n) % 8, "pairs": lambda n: np.arange(n) // 2,
            "16 seeds x 2": lambda n: np.arange(n) % 16, "one seed": lambda n: np.zeros(n, np.int64)}


def test_reused_seed_screen_null_and_power():
    rng = np.random.default_rng(20260101)
    # null: the seed does not fix the output; small answer spaces; 200 problems per model, 30 models per seeding
    models, q = 30, 200
    for name, seeding in SEEDINGS.items():
        any_flag = flags = 0
        pvalues = []
        for _ in range(models):
            answers = [_small_answers(rng, N) for _ in range(q)]
            s = seed_screen([seeding(N)] * q, answers, ALPHA)
            any_flag += bool(s.flagged.any())
            flags += int(s.flagged.sum())
            pvalues.append(s.pvalue[s.tested])
        p = np.concatenate(pvalues)
        rate, model_rate = flags / (models * q), any_flag / models
        print(f"null {name}: problems flagged {rate:.4f}, models with a flag {model_rate:.3f}, "
              f"P(p <= 0.05) = {np.mean(p <= 0.05) if p.size else float('nan'):.4f}")
        assert rate <= ALPHA and model_rate <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / models)
        for u in (0.01, 0.05, 0.2, 0.5):  # each p-value is valid: P(p <= u) <= u
            assert p.size == 0 or np.mean(p <= u) <= u + 2 * math.sqrt(u * (1 - u) / p.size)
    # the one-seed rule's documented rate when the model is almost deterministic on every problem:
    # prod_i sum_j pi_ij^n = (0.95^16 + 0.05^16)^5 = 0.016 with 5 problems of n = 16
    hits, trials = 0, 3000
    for _ in range(trials):
        answers = [(rng.random(16) < 0.05).astype(np.int64) for _ in range(5)]
        hits += bool(seed_screen([np.zeros(16, np.int64)] * 5, answers, ALPHA).one_seed_flagged)
    want = (0.95**16 + 0.05**16) ** 5
    print(f"one-seed rule, 5 near-deterministic problems: {hits / trials:.4f} (documented {want:.4f})")
    assert abs(hits / trials - want) <= 3 * math.sqrt(want * (1 - want) / trials)
    # power: half the problems reuse one seed for their first 16 samples (one completion), the
    # others are honest with 16 seeds used twice; long completions and small answer spaces
    for kind, draw, least in (("long completions", _long_answers, 0.95), ("small answer spaces", _small_answers, 0.3)):
        hit = honest = 0
        for _ in range(10):
            seeds, answers = [], []
            for i in range(q):
                a = draw(rng, N)
                if i % 2:
                    s = np.arange(N) + 100
                    s[:N // 2], a[:N // 2] = 7, a[0]
                else:
                    s = np.arange(N) % 16
                seeds.append(s)
                answers.append(a)
            flagged = seed_screen(seeds, answers, ALPHA).flagged
            hit += int(flagged[1::2].sum())
            honest += int(flagged[::2].sum())
        power = hit / (10 * q // 2)
        print(f"power, seed reused for half the samples, {kind}: {power:.3f}; honest problems flagged "
              f"{honest / (10 * q // 2):.4f}")
        assert power >= least and honest / (10 * q // 2) <= ALPHA


def test_monochromatic_test_exact_for_one_group():
    """With a single reused seed group the Markov bound is the exact tail: P(A >= 1) = E[A] =
    sum_j C(m_j, s) / C(n, s); checked against a permutation of the completions."""
    rng = np.random.default_rng(5)
    seeds = np.array([0, 0, 0, 1, 2, 3, 4, 5])
    answers = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    mono, expected, p = monochromatic_test(seeds, answers)
    assert mono == 1 and expected == p == (math.comb(4, 3) + 0 + 0) / math.comb(8, 3)
    perm = np.mean([np.unique(rng.permutation(answers)[:3]).size == 1 for _ in range(40000)])
    assert abs(perm - expected) < 4 * math.sqrt(expected / 40000)
    assert monochromatic_test(np.arange(8), answers) is None and monochromatic_test(np.zeros(8), answers) is None


def _arm(rng, p, n, tau, lose_successes=True):
    """Counts of one model: n samples with success probability p, each truncated with probability tau
    and then scored wrong. lose_successes=False: only samples that would have failed are truncated
    (truncation changes nothing but n)."""
    tr = rng.binomial(n, tau)
    if lose_successes:
        ck = rng.binomial(n - tr, p)
    else:
        s = rng.binomial(n, p)
        tr = np.minimum(tr, n - s)
        ck = s
    return {"n": np.full(p.shape, n), "c": ck, "tr": tr, "ck": ck, "nk": n - tr}


SETTINGS = {"K": 32, "basin_budget": 8, "zeta": 0.05, "alpha": ALPHA, "anytime": False}


def _rates(rng, q):
    """Base and tuned success rates: a third near the accessibility threshold eps(32) ~ 0.09."""
    p0 = np.where(rng.random(q) < 0.35, rng.uniform(0.0, 0.2, q), rng.beta(1.2, 2.0, q))
    p1 = np.clip(p0 * rng.uniform(0.5, 2.0, q) + rng.uniform(-0.05, 0.1, q), 0, 1)
    return p0, p1


def test_truncation_flag_null_and_power():
    rng = np.random.default_rng(20260202)
    q, n, datasets = 300, 64, 60
    ids = [f"p{i}" for i in range(q)]
    # null: truncation equally likely in both models (5-30% per problem), truncated samples scored wrong;
    # and (documented, not the test's null) truncation only of samples that fail anyway
    for lose in (True, False):
        any_flag = flags = flips = differ = 0
        for _ in range(datasets):
            p0, p1 = _rates(rng, q)
            tau = rng.uniform(0.05, 0.3, q)
            got = truncation_flips(ids, _arm(rng, p0, n, tau, lose), _arm(rng, p1, n, tau, lose), SETTINGS)
            flips += len(got)
            differ += sum(f["truncation_p_adjusted"] <= ALPHA for f in got)
            flagged = sum(f["flagged"] for f in got)
            flags += flagged
            any_flag += flagged > 0
        print(f"null (truncation alike, {'successes lost' if lose else 'failures only'}): label changes "
              f"{flips / (datasets * q):.4f} of problems (the former flag), of them truncated unequally "
              f"{differ / (datasets * q):.4f}, flagged {flags / (datasets * q):.4f}, models with a flag "
              f"{any_flag / datasets:.3f}")
        assert flips > 0  # labels do change without truncated samples under the null ...
        assert flags / (datasets * q) <= ALPHA  # ... but they are not flagged
        assert any_flag / datasets <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / datasets)
        if lose:  # truncation equally likely per sample: the Fisher screen itself keeps its level
            assert differ / (datasets * q) <= ALPHA / 10
    # power: on 30 of 300 problems one model (tuned: looks lost; base: tuned looks created) has its
    # samples truncated with probability 0.95 and scored wrong; the rest as under the null
    for side in ("tuned", "base"):
        planted = hit = 0
        for _ in range(20):
            p0, p1 = _rates(rng, q)
            fault = np.zeros(q, bool)
            fault[:30] = True
            p0[fault] = p1[fault] = rng.uniform(0.2, 0.5, 30)  # accessible in both without truncation
            tau = rng.uniform(0.0, 0.1, q)
            tau0, tau1 = tau.copy(), tau.copy()
            (tau1 if side == "tuned" else tau0)[fault] = 0.95
            got = {f["problem_id"]: f for f in truncation_flips(ids, _arm(rng, p0, n, tau0), _arm(rng, p1, n, tau1),
                                                                 SETTINGS)}
            for i in np.flatnonzero(fault):
                f = got.get(ids[i])
                if f is not None and f["label"] in (LOST, CREATED):  # a created/lost label caused by truncation
                    planted += 1
                    hit += f["flagged"]
        print(f"power, truncation only in {side}: {hit}/{planted} truncation-made created/lost labels flagged")
        assert planted >= 100 and hit / planted >= 0.95
