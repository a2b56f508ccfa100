"""Clopper-Pearson bounds, eps(k), certifiable budgets and samples-to-decide."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom

from supportscope.stats import clopper_pearson, eps, max_certifiable_budget, n_to_decide
from supportscope.stats.bounds import _cp


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.01, 0.05, 0.1, 0.32]),
)
def test_cp_matches_beta_quantiles(cn, alpha):
    c, n = cn
    lo, hi = clopper_pearson(c, n, alpha)
    exp_lo = 0.0 if c == 0 else beta.ppf(alpha / 2, c, n - c + 1)
    exp_hi = 1.0 if c == n else beta.ppf(1 - alpha / 2, c + 1, n - c)
    assert lo == pytest.approx(exp_lo, rel=1e-9, abs=1e-14)
    assert hi == pytest.approx(exp_hi, rel=1e-9, abs=1e-14)
    assert 0.0 <= lo <= c / n <= hi <= 1.0


def test_cp_edges_and_vectorised():
    lo, hi = clopper_pearson([0, 3, 3], [3, 3, 10])
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 3), rel=1e-12)  # closed form at c = 0
    assert lo[1] == pytest.approx(0.025 ** (1 / 3), rel=1e-12)  # and at c = n
    lo1, hi1 = clopper_pearson([0, 1], [1, 1])
    np.testing.assert_allclose(lo1, [0.0, 0.025])
    np.testing.assert_allclose(hi1, [0.975, 1.0])


@pytest.mark.parametrize("n", [1, 5, 20, 60])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_cp_exact_coverage(n, alpha):
    c = np.arange(n + 1)
    lo, hi = clopper_pearson(c, np.full(n + 1, n), alpha)
    p = np.linspace(0.0, 1.0, 401)
    covered = (lo[None, :] <= p[:, None]) & (p[:, None] <= hi[None, :])
    coverage = (binom.pmf(c[None, :], n, p[:, None]) * covered).sum(axis=1)
    assert coverage.min() >= 1 - alpha - 1e-12


def test_eps():
    k = np.array([1, 2, 8, 64, 1000])
    e = eps(k)
    np.testing.assert_allclose((1 - e) ** k, 0.05, rtol=1e-12)  # k samples fail w.p. zeta
    assert eps(1, zeta=0.1) == pytest.approx(0.9)
    assert np.all(np.diff(e) < 0)
    with pytest.raises(ValueError, match=">= 1"):
        eps(0)
    with pytest.raises(ValueError, match="zeta"):
        eps(4, zeta=1.5)


def test_max_certifiable_budget():
    assert max_certifiable_budget(128) == 64
    assert max_certifiable_budget(1) == 0
    for n in [2, 10, 79, 100, 1000, 5000]:
        k = max_certifiable_budget(n)
        assert clopper_pearson(0, n)[1] < eps(k)
        assert clopper_pearson(0, n)[1] >= eps(2 * k)


def test_n_to_decide_zero_success():
    t = eps(64)
    assert n_to_decide(0, 10, t) == 79
    assert clopper_pearson(0, 79)[1] < t <= clopper_pearson(0, 78)[1]
    np.testing.assert_array_equal(n_to_decide([0, 0, 0], [1, 78, 79], t), [79, 79, 0])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.floats(0.001, 0.9), st.sampled_from([0.05, 0.1]), st.booleans())
def test_n_to_decide_exact_at_rate_0_and_1(n, t, alpha, all_success):
    c = n if all_success else 0
    m = n_to_decide(c, n, t, alpha)
    lo, hi = clopper_pearson(c, n, alpha)
    if lo >= t or hi < t:
        assert m == 0
        return
    if all_success and t == 1.0:
        assert m == np.inf
        return
    m = int(m)
    assert m > n

    def decided(k):
        lo_k, hi_k = clopper_pearson(k if all_success else 0, k, alpha)
        return lo_k >= t or hi_k < t

    assert decided(m) and not decided(m - 1)


def test_n_to_decide_general_rate():
    rng = np.random.default_rng(3)
    n = rng.integers(5, 200, 300)
    c = rng.binomial(n, 0.3)
    t = np.full(300, 0.2)
    m = n_to_decide(c, n, t)
    lo, hi = clopper_pearson(c, n)
    undecided = (lo < t) & (hi >= t)
    assert np.all(m[~undecided] == 0)
    on = undecided & (c / n == 0.2)
    assert np.all(np.isinf(m[on]))
    todo = undecided & ~on
    mm = m[todo]
    assert np.all((mm > n[todo]) & np.isfinite(mm))
    # decided at the unrounded count c' = c n'/n (the rule n_to_decide bisects), not at n' - 1
    lo2, hi2 = _cp(c[todo] * mm / n[todo], mm, 0.05)
    assert np.all((lo2 >= 0.2) | (hi2 < 0.2))
    lo1, hi1 = _cp(c[todo] * (mm - 1) / n[todo], mm - 1, 0.05)
    assert not np.any((lo1 >= 0.2) | (hi1 < 0.2))


def test_n_to_decide_limits():
    assert n_to_decide(1, 10, 0.1) == np.inf  # rate equals the threshold
    assert n_to_decide(0, 10, 1e-9, n_max=10**5) == np.inf
    with pytest.raises(ValueError, match="threshold"):
        n_to_decide(0, 10, 1.5)


def _scan_first_decided(c, n, t, alpha, n_max):
    """Linear scan of the unrounded rule: first n' in (n, n_max] with CP at (c n'/n, n') deciding t."""
    m = np.arange(n + 1, n_max + 1, dtype=np.float64)
    lo, hi = _cp(c * m / n, m, alpha)
    d = (lo >= t) | (hi < t)
    return float(m[np.argmax(d)]) if d.any() else np.inf


def test_n_to_decide_monotone_issue_case():
    # c = 7, n = 16, t = eps(8) ~ 0.312: with c' = round(7 n'/16) the rule decided at n' = 56, not at
    # 57..60, again at 61, ... so the bisection returned 68. Unrounded, lo(7 n'/16, n') increases in
    # n' and first reaches t at n' = 63; every n' >= 63 is decided and none below.
    t = float(eps(8))
    assert n_to_decide(7, 16, t) == 63
    assert _scan_first_decided(7, 16, t, 0.05, 10**4) == 63
    m = np.arange(16.0, 2000.0)
    lo, hi = _cp(7 * m / 16, m, 0.05)
    d = (lo >= t) | (hi < t)
    assert not d[m < 63].any() and d[m >= 63].all()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.floats(0.002, 0.98),
    st.sampled_from([0.01, 0.05, 0.1]),
)
def test_n_to_decide_equals_linear_scan(cn, t, alpha):
    c, n = cn
    n_max = 6000
    m = n_to_decide(c, n, t, alpha, n_max=n_max)
    lo, hi = _cp(np.float64(c), np.float64(n), alpha)
    if lo >= t or hi < t:
        assert m == 0
    elif c / n == t:
        assert m == np.inf
    else:
        assert m == _scan_first_decided(c, n, t, alpha, n_max)


def test_n_to_decide_vectorised_equals_scan():
    rng = np.random.default_rng(11)
    n = rng.integers(1, 120, 400)
    c = rng.binomial(n, rng.uniform(0, 1, 400))
    t = rng.uniform(0.01, 0.9, 400)
    m = n_to_decide(c, n, t, n_max=4000)
    lo, hi = _cp(c.astype(float), n.astype(float), 0.05)
    for i in range(400):
        if lo[i] >= t[i] or hi[i] < t[i]:
            assert m[i] == 0
        else:
            assert m[i] == _scan_first_decided(c[i], n[i], t[i], 0.05, 4000)
