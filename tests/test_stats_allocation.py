"""Adaptive allocation: open problems, rounds, futility, simulation, and coverage under optional stopping."""

import numpy as np
import pytest

from supportscope.stats import clopper_pearson, eps
from supportscope.stats.allocation import (
    AdaptiveRun,
    allocation_cost,
    futile_mask,
    next_round,
    open_mask,
    simulate_adaptive,
    simulate_uniform,
)
from supportscope.stats.sequences import confidence_sequence, regime_decided_anytime, samples_to_close

K, KB, ALPHA = 64, 8, 0.05
E_K, E_B = float(eps(K)), float(eps(KB))


def test_coverage_under_adaptive_stopping():
    """THE coverage test of issue 8. 10,003 problems with p at and next to both decision thresholds
    are sampled in rounds of 16 and each stops as soon as its regime at K = 64 is decided (or at
    n = 1024). At the stopping time the confidence sequence covers p in >= 1 - alpha of the runs,
    in every group; fixed-n Clopper-Pearson intervals under the same rounds and the same stopping
    rule (stop when the CP interval decides the regime) under-cover, worst at p = threshold."""
    mult = np.array([E_K * 0.5, E_K * 0.75, E_K, E_K * 1.5, E_B * 0.75, E_B, E_B * 1.25])
    p = np.repeat(mult, 1429)
    rng = np.random.default_rng(2024)

    run = simulate_adaptive(p, K, max_n=1024, round_size=16, rng=rng, basin_budget=KB, alpha=ALPHA)
    lo, hi = confidence_sequence(run.c, run.n, ALPHA)
    cs_cov = (lo < p) & (p < hi)  # CS_n = {p : M_n(p) < 1/alpha} is open
    by_group = np.array([cs_cov[p == g].mean() for g in mult])
    assert cs_cov.mean() >= 1 - ALPHA
    assert np.all(by_group >= 1 - ALPHA), by_group
    # the runs really were adaptive: many stopped early, the rest hit the cap undecided
    decided = regime_decided_anytime(run.c, run.n, K, KB, alpha=ALPHA)
    assert np.all(decided | (run.n == 1024))
    print(f"\nstopped before the cap: {(run.n < 1024).mean():.3f}; by group "
          f"{[round(float((run.n[p == g] < 1024).mean()), 3) for g in mult]}")
    assert 0.2 < (run.n < 1024).mean() < 0.9
    # wrong accessibility decisions at K (truth: p >= eps(K)) stay below alpha
    acc = np.where(lo >= E_K, 1, np.where(hi < E_K, 0, -1))
    wrong = ((acc == 1) & (p < E_K)) | ((acc == 0) & (p >= E_K))
    assert wrong.mean() <= ALPHA

    # naive: the same rounds and stopping rule, decisions and intervals by fixed-n Clopper-Pearson
    c = np.zeros(p.size, dtype=np.int64)
    n = np.zeros(p.size, dtype=np.int64)
    add = np.full(p.size, 16)
    while add.any():
        c += rng.binomial(add, p)
        n += add
        cl, ch = clopper_pearson(c, n, ALPHA)
        dec = (cl >= E_B) | ((cl >= E_K) & (ch < E_B)) | (ch < E_K)
        add = np.where(dec | (n >= 1024), 0, 16)
    cl, ch = clopper_pearson(c, n, ALPHA)
    cp_cov = (cl <= p) & (p <= ch)
    cp_group = np.array([cp_cov[p == g].mean() for g in mult])
    assert cp_cov.mean() < 1 - ALPHA
    assert cp_group[2] < 1 - 2 * ALPHA and cp_group[5] < 1 - 2 * ALPHA  # p exactly at eps(K), eps(k_b)
    assert cs_cov.mean() - cp_cov.mean() > 0.05
    print(f"\ncoverage at the stopping time over {p.size} runs: CS {cs_cov.mean():.4f} "
          f"(groups {np.round(by_group, 4).tolist()}), naive CP {cp_cov.mean():.4f} "
          f"(groups {np.round(cp_group, 4).tolist()})")


def test_open_mask_rules():
    # decided basin / decided inaccessible / undecided / undecided but at the cap
    c = np.array([60, 0, 3, 3])
    n = np.array([64, 400, 64, 128])
    dec = regime_decided_anytime(c, n, K, KB)
    np.testing.assert_array_equal(dec, [True, True, False, False])
    np.testing.assert_array_equal(open_mask(c, n, K, max_n=128), [False, False, True, False])
    # the other model's counts: problems 0 and 1 stay open while the other model is undecided
    co = np.array([3, 60, 3, 3])
    no = np.array([64, 64, 128, 64])
    np.testing.assert_array_equal(open_mask(c, n, K, max_n=128, c_other=co, n_other=no),
                                  [True, False, True, False])
    # problem 0: other undecided (3/64) and below the cap -> open; problem 1: other decided, self decided
    # problem 2: self undecided (other at the cap is irrelevant) -> open; problem 3: self at the cap -> closed
    with pytest.raises(ValueError, match="both"):
        open_mask(c, n, K, max_n=128, c_other=co)
    with pytest.raises(ValueError, match="one entry per problem"):
        open_mask(c, n, K, max_n=128, c_other=co[:2], n_other=no[:2])


def test_next_round_caps_at_max_n_and_skips_closed():
    c = np.array([60, 3, 3, 1, 0])
    n = np.array([64, 120, 64, 10, 0])
    add = next_round(c, n, K, round_size=16, max_n=128)
    assert add.dtype == np.int64
    np.testing.assert_array_equal(add, [0, 8, 16, 16, 16])
    assert np.all(n + add <= 128)
    # exactly the call the sampler (scale/adaptive.py) makes
    add2 = next_round(c, n, K, basin_budget=KB, zeta=0.05, alpha=0.05, max_n=128, round_size=16, round_budget=None)
    np.testing.assert_array_equal(add, add2)


def test_next_round_budget_goes_to_the_cheapest_first():
    rng = np.random.default_rng(5)
    n = rng.integers(16, 200, 300)
    c = rng.binomial(n, rng.choice([0.0, 0.03, 0.045, 0.06, 0.2, 0.3, 0.5], n.size))
    max_n = 256
    full = next_round(c, n, K, round_size=16, max_n=max_n)
    cost = allocation_cost(c, n, K)
    np.testing.assert_array_equal(cost, np.where(samples_to_close(c, n, K) > 0, samples_to_close(c, n, K) - n, 0))
    for B in (16, 100, 333, 1000):
        add = next_round(c, n, K, round_size=16, max_n=max_n, round_budget=B)
        assert add.sum() == min(B, full.sum())
        assert np.all(add <= full) and np.all(n + add <= max_n)
        got = add > 0
        # every problem that got samples is at most as costly as every open one that got none
        left = (full > 0) & ~got
        if left.any():
            assert cost[got].max() <= cost[left].min()
        # all but at most one (the remainder) got their full round
        assert (add[got] != full[got]).sum() <= 1
    # order is stable on ties: equal counts, only the first ones get the budget
    same = next_round(np.zeros(10, int), np.full(10, 16), K, round_size=16, max_n=256, round_budget=48)
    np.testing.assert_array_equal(same, [16, 16, 16] + [0] * 7)
    with pytest.raises(ValueError, match="round_budget"):
        next_round(c, n, K, max_n=max_n, round_budget=0)


def test_next_round_with_other_model_orders_by_the_costlier_side():
    c, n = np.array([60, 60]), np.array([64, 64])  # both decided (basin)
    co, no = np.array([2, 0]), np.array([64, 64])  # other: 2/64 undecided (costly), 0/64 undecided (cheap)
    cost = allocation_cost(c, n, K, c_other=co, n_other=no)
    assert cost[0] > cost[1] > 0
    add = next_round(c, n, K, max_n=1024, round_size=16, c_other=co, n_other=no, round_budget=16)
    np.testing.assert_array_equal(add, [0, 16])


def test_futility():
    # p at the threshold after 512 samples, cap 1024: no plausible rate decides by 1024
    c = np.array([23, 0, 3, 40, 1])
    n = np.array([512, 48, 16, 512, 512])
    fut = futile_mask(c, n, K, max_n=1024, futility=0.1)
    assert fut[0] and not fut[1] and not fut[2]  # 0/48 decides soon; 3/16 is still wide open
    assert not fut[3] and not fut[4]  # 40/512 (tail) and 1/512 (inaccessible) decide within 1024
    assert not futile_mask(0, 0, K, max_n=1024, futility=0.1)  # n = 0: nothing known
    op = open_mask(c, n, K, max_n=1024, futility=0.1)
    assert not op[0] and op[2]
    # stopping for futility saves samples and keeps decisions valid
    rng = np.random.default_rng(9)
    p = np.repeat([0.0, E_K, 0.15, E_B, 0.8], 400)
    plain = simulate_adaptive(p, K, max_n=1024, round_size=16, rng=rng)
    fut_run = simulate_adaptive(p, K, max_n=1024, round_size=16, rng=rng, futility=0.1)
    assert fut_run.samples < 0.8 * plain.samples
    d_plain = regime_decided_anytime(plain.c, plain.n, K).sum()
    d_fut = regime_decided_anytime(fut_run.c, fut_run.n, K).sum()
    assert d_fut >= 0.97 * d_plain


def test_simulate_adaptive_and_uniform():
    rng = np.random.default_rng(1)
    p = np.array([0.0, 0.01, E_K, 0.2, 0.9, 1.0])
    run = simulate_adaptive(p, K, max_n=512, round_size=16, rng=rng)
    assert isinstance(run, AdaptiveRun)
    assert run.c.shape == p.shape and np.all(run.n <= 512) and np.all(run.n % 16 == 0)
    assert np.all(run.c[p == 0] == 0) and np.all(run.c[p == 1] == run.n[p == 1])
    dec = regime_decided_anytime(run.c, run.n, K)
    assert np.all(dec | (run.n == 512))
    assert run.samples == run.n.sum() and 1 <= run.rounds <= 512 // 16
    assert run.n[4] < 64 and run.n[0] < 256  # easy problems stop early
    again = simulate_adaptive(p, K, max_n=512, round_size=16, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(again.c, run.c)  # seeded
    # round budget: never more than B per round after the first
    rb = simulate_adaptive(np.full(40, 0.2), K, max_n=512, round_size=16, rng=rng, round_budget=64)
    assert rb.rounds > 512 // 16 and np.all(rb.n <= 512)
    c, n = simulate_uniform(p, 100, np.random.default_rng(2))
    assert np.all(n == 100) and c.dtype == np.int64 and c[0] == 0 and c[-1] == 100
    with pytest.raises(ValueError, match="p_true"):
        simulate_uniform([1.5], 10, rng)
