"""Bernoulli KL and the k1/k2/k3 Monte Carlo estimators."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.stats import KLEstimate, bernoulli_kl, kl_estimators


def direct_kl(p, q):
    total = 0.0
    for a, b in ((p, q), (1 - p, 1 - q)):
        if a == 0:
            continue
        if b == 0:
            return np.inf
        total += a * (np.log(a) - np.log(b))
    return total


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1))
def test_bernoulli_kl_direct(p, q):
    got = bernoulli_kl(p, q)
    exp = direct_kl(p, q)
    if np.isinf(exp):
        assert got == np.inf
    else:
        assert got == pytest.approx(exp, rel=1e-9, abs=1e-15)
        assert got >= 0


def test_bernoulli_kl_edges_and_vectorised():
    p = np.array([0.0, 1.0, 0.3, 0.0, 0.2, 1.0, 0.5])
    q = np.array([0.0, 1.0, 0.3, 0.4, 0.0, 0.5, 1.0])
    got = bernoulli_kl(p, q)
    assert got[:3].tolist() == [0.0, 0.0, 0.0]
    assert got[3] == pytest.approx(-np.log(0.6))
    assert got[4] == np.inf and got[6] == np.inf
    assert got[5] == pytest.approx(np.log(2.0))
    with pytest.raises(ValueError, match="probability"):
        bernoulli_kl(1.5, 0.5)


def test_estimators_agree_with_exact_kl():
    rng = np.random.default_rng(21)
    p = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    q = np.array([0.2, 0.2, 0.3, 0.2, 0.1])
    exact = float(np.sum(p * np.log(p / q)))
    x = rng.choice(5, size=200_000, p=p)
    est = kl_estimators(np.log(q[x]) - np.log(p[x]))
    assert isinstance(est, KLEstimate) and est.n == 200_000
    assert abs(est.k1 - exact) < 5 * est.k1_se
    assert abs(est.k3 - exact) < 5 * est.k3_se
    assert 0 < est.k3_se < 0.01 and 0 < est.k1_se < 0.01
    assert est.k2 > 0 and est.k2_se > 0


def test_estimator_formulas():
    lr = np.array([-0.5, 0.1, 0.3, -1.2])
    est = kl_estimators(lr)
    k3 = np.exp(lr) - 1 - lr
    assert est.k1 == pytest.approx(np.mean(-lr))
    assert est.k1_se == pytest.approx(np.std(-lr, ddof=1) / 2)
    assert est.k2 == pytest.approx(np.mean(lr**2 / 2))
    assert est.k3 == pytest.approx(np.mean(k3))
    assert est.k3_se == pytest.approx(np.std(k3, ddof=1) / 2)
    one = kl_estimators(np.array([0.2]))
    assert np.isnan(one.k1_se) and np.isnan(one.k3_se) and one.k1 == pytest.approx(-0.2)
    batched = kl_estimators(np.stack([lr, lr[::-1]]))
    np.testing.assert_allclose(batched.k3, [est.k3, est.k3])


def test_minus_inf_outside_support():
    lr = np.array([-0.1, 0.2, -np.inf, 0.05])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = kl_estimators(lr)
    assert est.k1 == np.inf and est.k3 == np.inf
    assert not np.isnan([est.k1, est.k1_se, est.k2, est.k3, est.k3_se]).any()
    with pytest.raises(ValueError, match=r"\+inf"):
        kl_estimators(np.array([0.1, np.inf]))
    with pytest.raises(ValueError, match="NaN"):
        kl_estimators(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        kl_estimators(np.array([]))
