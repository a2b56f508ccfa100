"""Gibbs tilt: closed form vs explicit reweighting, global fit, residuals."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from supportscope.stats import (
    PairedBootstrap,
    fit_global_tilt,
    gibbs_tilt,
    implied_tilt,
    jeffreys,
    tilt,
    tilt_residuals,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 10.0), st.booleans()), min_size=1, max_size=12
    ),
    st.floats(0.05, 50.0),
)
def test_tilt_equals_explicit_reweighting(outcomes, beta):
    w = np.array([o[0] for o in outcomes])
    r = np.array([float(o[1]) for o in outcomes])
    assume(w.sum() > 0)
    pi0 = w / w.sum()
    q = pi0 * np.exp(r / beta)  # q*(y) ∝ pi0(y) exp(r(y)/beta)
    q /= q.sum()
    p0 = min(1.0, pi0[r == 1].sum())  # the sum may round to 1 + 1ulp
    p_star = q[r == 1].sum()
    assert gibbs_tilt(p0, beta) == pytest.approx(p_star, rel=1e-9, abs=1e-12)
    assert tilt(p0, 1 / beta) == pytest.approx(p_star, rel=1e-9, abs=1e-12)


def test_tilt_edges():
    lam = np.array([-np.inf, -3.0, 0.0, 2.0, np.inf])
    np.testing.assert_array_equal(tilt(0.0, lam), 0.0)  # reweighting cannot create
    np.testing.assert_array_equal(tilt(1.0, lam), 1.0)
    np.testing.assert_array_equal(tilt(0.3, np.array([np.inf, -np.inf])), [1.0, 0.0])
    assert tilt(0.3, 0.0) == pytest.approx(0.3)
    assert gibbs_tilt(0.3, np.inf) == pytest.approx(0.3)
    assert gibbs_tilt(0.3, 0.0) == 1.0
    assert tilt(0.2, np.log(4.0)) == pytest.approx(0.5)  # odds 1/4 -> 1
    with pytest.raises(ValueError, match="p0"):
        tilt(1.2, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        tilt(0.5, np.nan)
    with pytest.raises(ValueError, match="beta"):
        gibbs_tilt(0.5, -1.0)


def test_jeffreys_and_implied_tilt():
    c0, n0, c1, n1 = np.array([0, 3, 10]), np.array([10, 10, 10]), np.array([5, 3, 0]), np.array([20, 10, 10])
    np.testing.assert_allclose(jeffreys(c0, n0), (c0 + 0.5) / (n0 + 1))
    lam = implied_tilt(c0, n0, c1, n1)
    np.testing.assert_allclose(tilt(jeffreys(c0, n0), lam), jeffreys(c1, n1), rtol=1e-12)
    assert lam[1] == 0.0 and lam[0] > 0 > lam[2]


def _simulate(rng, q, n0, n1, lam):
    p0 = rng.beta(0.7, 1.5, q)
    c0 = rng.binomial(n0, p0)
    c1 = rng.binomial(n1, tilt(p0, lam))
    return c0, c1


@pytest.mark.parametrize("lam_true", [-1.0, 0.0, 0.7, 2.5])
def test_fit_recovers_lambda(lam_true):
    rng = np.random.default_rng(11)
    n0, n1 = 10**6, 1000
    c0, c1 = _simulate(rng, 400, n0, n1, lam_true)
    lam, se = fit_global_tilt(c0, n0, c1, n1)
    assert 0 < se < 0.05
    assert abs(lam - lam_true) < 4 * se


def test_fit_matches_direct_maximisation():
    rng = np.random.default_rng(12)
    n0 = rng.integers(5, 200, 150)
    n1 = rng.integers(5, 200, 150)
    c0 = rng.binomial(n0, rng.uniform(0, 1, 150))
    c1 = rng.binomial(n1, rng.uniform(0, 1, 150))
    a = logit((c0 + 0.5) / (n0 + 1))

    def nll(x):
        s = expit(a + x)
        return -np.sum(binom.logpmf(c1, n1, s))

    best = minimize_scalar(nll, bounds=(-20, 20), method="bounded", options={"xatol": 1e-10})
    lam, se = fit_global_tilt(c0, n0, c1, n1)
    assert lam == pytest.approx(best.x, abs=1e-6)
    s = expit(a + lam)
    assert abs(np.sum(c1 - n1 * s)) < 1e-6  # score is zero at the optimum
    assert se == pytest.approx(1 / np.sqrt(np.sum(n1 * s * (1 - s))), rel=1e-12)


def test_fit_weights_path_equals_loop():
    rng = np.random.default_rng(13)
    q = 120
    n0 = rng.integers(10, 300, q)
    n1 = rng.integers(10, 300, q)
    c0 = rng.binomial(n0, rng.uniform(0, 1, q))
    c1 = rng.binomial(n1, rng.uniform(0, 1, q))
    w = PairedBootstrap(q, 25, seed=4).map(lambda x: x)
    lam_b, se_b = fit_global_tilt(c0, n0, c1, n1, weights=w)
    assert lam_b.shape == se_b.shape == (25,)
    for b in range(25):
        idx = np.repeat(np.arange(q), w[b])  # resampled problems, unweighted
        lam, se = fit_global_tilt(c0[idx], n0[idx], c1[idx], n1[idx])
        assert lam_b[b] == pytest.approx(lam, abs=1e-9)
        assert se_b[b] == pytest.approx(se, rel=1e-6)


def test_fit_divergent_cases():
    lam, se = fit_global_tilt([3, 5], [10, 10], [10, 10], [10, 10])
    assert lam == np.inf and se == np.inf
    lam, se = fit_global_tilt([3, 5], [10, 10], [0, 0], [10, 10])
    assert lam == -np.inf and se == np.inf
    with pytest.raises(ValueError, match="weights"):
        fit_global_tilt([3, 5], [10, 10], [1, 2], [10, 10], weights=np.ones((2, 3)))


def test_tilt_residuals():
    c0 = np.array([50, 0, 90, 40])
    n0 = np.full(4, 100)
    c1 = np.array([60, 80, 10, 50])
    n1 = np.full(4, 100)
    lam = 0.5
    pred, p_over, p_under = tilt_residuals(c0, n0, c1, n1, lam, n_nodes=16)
    # explicit per-problem computation
    g = (np.arange(16) + 0.5) / 16
    for i in range(4):
        qs = beta_dist.ppf(g, c0[i] + 0.5, n0[i] - c0[i] + 0.5)
        s = expit(logit(qs) + lam)
        assert pred[i] == pytest.approx(s.mean(), rel=1e-9)
        assert p_over[i] == pytest.approx(binom.sf(c1[i] - 1, n1[i], s).mean(), rel=1e-9, abs=1e-300)
        assert p_under[i] == pytest.approx(binom.cdf(c1[i], n1[i], s).mean(), rel=1e-9, abs=1e-300)
    assert p_over[1] < 1e-10  # 0/100 -> 80/100: far above any tilt (candidate creation)
    assert p_under[2] < 1e-10  # 90/100 -> 10/100 with lam > 0: anti-tilt (lost)
    assert 0.05 < p_over[3] and 0.05 < p_under[3]  # consistent with the tilt
    assert np.all((p_over >= 0) & (p_over <= 1) & (p_under >= 0) & (p_under <= 1))
    # many base samples: prediction approaches the point tilt
    pred_big, _, _ = tilt_residuals([300000], [10**6], [1], [10], lam, n_nodes=64)
    assert pred_big[0] == pytest.approx(tilt(0.3, lam), abs=1e-3)
