"""Regimes: hand cases for each regime, undetermined neighbours, and consistency properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.stats import (
    BARRIER,
    BASIN,
    INACCESSIBLE,
    SINGULAR,
    TAIL,
    UNDETERMINED,
    accessibility,
    classify,
    clopper_pearson,
    eps,
    n_to_decide,
)

E8, E64 = eps(8), eps(64)


def test_hand_cases():
    cases = [
        # c, n, p_lower, singular, regime, possible
        (100, 128, 0.0, False, BASIN, "basin"),
        (20, 128, 0.0, False, TAIL, "tail"),
        (0, 128, 0.0, False, INACCESSIBLE, "inaccessible"),
        (10, 1000, 0.0, False, BARRIER, "barrier"),  # an observed success proves p > 0
        (0, 128, 1e-6, False, BARRIER, "barrier"),  # teacher-forced verified solution
        (0, 128, 0.0, True, SINGULAR, "singular"),
        (0, 5, 0.0, False, UNDETERMINED, "basin|tail|inaccessible"),
        (0, 10, 0.0, False, UNDETERMINED, "tail|inaccessible"),
        (40, 128, 0.0, False, UNDETERMINED, "basin|tail"),
        (3, 128, 0.0, False, UNDETERMINED, "tail|barrier"),
    ]
    c, n, pl, sg, regime, possible = (np.array(x) for x in zip(*cases))
    r = classify(c, n, budget=64, p_lower=pl, singular=sg)
    assert list(r.regime) == list(regime)
    assert list(r.possible) == list(possible)
    lo, hi = clopper_pearson(c, n)
    np.testing.assert_array_equal(r.lo, lo)
    np.testing.assert_array_equal(r.hi, hi)
    np.testing.assert_array_equal(r.accessible, [1, 1, 0, 0, 0, 0, -1, -1, 1, -1])
    decided = regime != UNDETERMINED
    assert np.all(r.n_needed[decided] == 0)
    und = ~decided
    exp = np.maximum(n_to_decide(c[und], n[und], E8), n_to_decide(c[und], n[und], E64))
    np.testing.assert_array_equal(r.n_needed[und], exp)
    assert np.all(r.n_needed[und] > n[und])
    assert r.n_needed[7] == 79  # zero successes: 79 samples certify inaccessibility at K = 64


def test_hand_case_thresholds():
    # tail: the interval sits between eps(64) and eps(8)
    lo, hi = clopper_pearson(20, 128)
    assert E64 <= lo and hi < E8
    # undetermined 0/10: hi lies below eps(8) but above eps(64)
    lo, hi = clopper_pearson(0, 10)
    assert E64 <= hi < E8


def test_budget_order_and_flag_conflicts():
    with pytest.raises(ValueError, match="basin_budget"):
        classify([1], [10], budget=4, basin_budget=8)
    with pytest.raises(ValueError, match="singular"):
        classify([1], [10], budget=64, singular=[True])
    with pytest.raises(ValueError, match="singular"):
        classify([0], [10], budget=64, p_lower=[0.1], singular=[True])
    with pytest.raises(ValueError, match="one entry per problem"):
        classify([0, 1], [10, 10], budget=64, singular=[True, False, False])


def test_equal_budgets_have_no_tail():
    r = classify([0, 5, 128, 0], [128, 10, 128, 1000], budget=8, basin_budget=8)
    assert TAIL not in set(r.regime)
    assert list(r.possible[:2]) == ["inaccessible", "basin|barrier"]  # c = 5 > 0: p > 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([(8, 64), (1, 1024), (4, 4), (16, 128)]),
)
def test_properties(cns, budgets):
    kb, k = budgets
    c = np.array([x[0] for x in cns])
    n = np.array([x[1] for x in cns])
    r = classify(c, n, budget=k, basin_budget=kb)
    eb, ek = eps(kb), eps(k)
    lo, hi = r.lo, r.hi
    np.testing.assert_array_equal(r.regime == BASIN, lo >= eb)
    np.testing.assert_array_equal(r.regime == TAIL, (lo >= ek) & (hi < eb))
    inacc = np.isin(r.regime, [INACCESSIBLE, BARRIER])
    np.testing.assert_array_equal(inacc, hi < ek)
    np.testing.assert_array_equal(r.regime == BARRIER, (hi < ek) & (c > 0))
    np.testing.assert_array_equal(r.accessible, accessibility(c, n, k))
    und = r.regime == UNDETERMINED
    assert np.all([p.count("|") >= 1 for p in r.possible[und]])
    assert np.all([p == g for p, g in zip(r.possible[~und], r.regime[~und])])
    assert np.all(r.n_needed[~und] == 0) and np.all(r.n_needed[und] > n[und])


def test_accessibility_values():
    acc = accessibility([0, 0, 64, 5], [128, 10, 128, 128], budget=64)
    np.testing.assert_array_equal(acc, [0, -1, 1, -1])
    assert acc.dtype == np.int8
