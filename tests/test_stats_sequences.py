"""Anytime-valid confidence sequences (beta-binomial mixture martingale) and their decisions."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import betaln, xlog1py, xlogy

from supportscope.stats import accessibility, clopper_pearson, eps
from supportscope.stats.sequences import (
    _betaln,
    accessibility_anytime,
    confidence_sequence,
    log_martingale,
    regime_decided_anytime,
    samples_to_close,
)

L20 = np.log(20.0)  # log(1/alpha) at alpha = 0.05


def ref_log_m(c, n, p, a=0.5, b=0.5):
    """Independent reference: scipy's betaln, real-valued c allowed."""
    return betaln(a + c, b + n - c) - betaln(a, b) - xlogy(c, p) - xlog1py(n - c, -p)


def ref_endpoints(c, n, alpha=0.05, a=0.5, b=0.5):
    """Brent's method on the scalar log-martingale: lo in p, hi in q = 1 - p (keeps 1 - hi accurate)."""
    target = np.log(1.0 / alpha)
    phat = c / n
    lo = 0.0 if c == 0 else brentq(lambda p: ref_log_m(c, n, p, a, b) - target, 1e-300, phat,
                                   xtol=1e-300, rtol=1e-15, maxiter=1000)
    if c == n:
        hi_q = 0.0
    else:
        def g(q):  # log M_n(1 - q) written in q
            return betaln(a + c, b + n - c) - betaln(a, b) - xlog1py(c, -q) - xlogy(n - c, q) - target
        hi_q = brentq(g, 1e-300, 1.0 - phat, xtol=1e-300, rtol=1e-15, maxiter=1000)
    return lo, hi_q


def test_endpoints_match_brentq():
    rng = np.random.default_rng(7)
    n = np.concatenate([rng.integers(1, 40, 150), rng.integers(40, 20_000, 150), [1, 2, 3, 10_000]])
    c = rng.binomial(n, rng.uniform(0, 1, n.size) ** 2)
    c[-4:] = [0, 2, 1, 1]
    lo, hi = confidence_sequence(c, n)
    for ci, ni, l, h in zip(c, n, lo, hi):
        rl, rq = ref_endpoints(int(ci), int(ni))
        assert l == pytest.approx(rl, rel=1e-11, abs=0)
        assert 1.0 - h == pytest.approx(rq, rel=1e-9, abs=2e-16)  # 1 - hi carries float64's 1e-16 of hi
        assert h == pytest.approx(1.0 - rq, rel=1e-12, abs=0)
        # the endpoints sit on the boundary log M_n = log(1/alpha)
        if 0 < ci:
            assert ref_log_m(ci, ni, l) == pytest.approx(L20, abs=1e-7)


def test_accurate_betaln_for_one_small_one_huge_argument():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    pts = [(1.5, 409735.5), (0.5, 1e6 + 0.5), (100.5, 1e6), (5e5, 5e5), (3.0, 12.0), (9.99, 10.01), (0.5, 0.5)]
    for a, b in pts:
        exact = float(mpmath.log(mpmath.beta(a, b)))
        assert _betaln(a, b) == pytest.approx(exact, rel=2e-15, abs=2e-15)
    # scipy's betaln is ~1e-9 off at (1.5, 409735.5): the reason for _betaln
    assert abs(betaln(1.5, 409735.5) - float(mpmath.log(mpmath.beta(1.5, 409735.5)))) > 1e-11


def test_small_count_lower_endpoint_is_accurate_for_huge_n():
    """c = 1 of n = 409735: lo ~ 5e-11 must be right to ~1e-13 relative (needs the accurate betaln)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    c, n = 1, 409_735
    lo, _ = confidence_sequence(c, n)
    p = mpmath.mpf(lo)
    const = mpmath.log(mpmath.beta(c + 0.5, n - c + 0.5)) - mpmath.log(mpmath.beta(0.5, 0.5))
    f = const - c * mpmath.log(p) - (n - c) * mpmath.log(1 - p) - mpmath.log(20)
    df = -c / p + (n - c) / (1 - p)
    assert abs(float(f / df)) / lo < 1e-13  # one Newton step from lo moves it by < 1e-13 relative


def test_edges_and_closed_forms():
    lo, hi = confidence_sequence([0, 0, 3, 0, 5], [0, 7, 3, 1, 9])
    assert (lo[0], hi[0]) == (0.0, 1.0)  # n = 0: no information
    assert lo[1] == 0.0 and hi[2] == 1.0
    # c = 0: B(a, b + n)/B(a, b)/(1 - p)^n = 1/alpha in closed form
    n = 7
    assert 1 - hi[1] == pytest.approx(np.exp((betaln(0.5, 0.5 + n) - betaln(0.5, 0.5) - L20) / n), rel=1e-13)
    # n = 1, c = 0: M = (1/2)/(1 - p), so hi = 1 - alpha/2, exactly the Clopper-Pearson bound
    assert hi[3] == pytest.approx(0.975, rel=1e-15)
    assert clopper_pearson(0, 1)[1] == pytest.approx(hi[3], rel=1e-15)
    s_lo, s_hi = confidence_sequence(5, 9)
    assert np.ndim(s_lo) == 0 and (s_lo, s_hi) == (lo[4], hi[4])


def test_symmetry_and_prior():
    c, n = np.array([0, 1, 4, 30, 99]), np.array([10, 10, 50, 200, 100])
    lo, hi = confidence_sequence(c, n, prior=(0.3, 2.0))
    lo_f, hi_f = confidence_sequence(n - c, n, prior=(2.0, 0.3))
    np.testing.assert_allclose(hi, 1 - lo_f, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(lo, 1 - hi_f, rtol=1e-13, atol=1e-16)
    for a, b in [(0.3, 2.0), (1.0, 1.0)]:
        lo, hi = confidence_sequence(4, 50, prior=(a, b))
        assert ref_log_m(4, 50, lo, a, b) == pytest.approx(L20, abs=1e-9)
        assert ref_log_m(4, 50, hi, a, b) == pytest.approx(L20, abs=1e-9)


def test_contains_mle_and_shrinks():
    n = np.array([20, 40, 80, 160, 320, 640, 1280, 2560])
    for rate in (0.0, 0.05, 0.3, 0.5, 0.9, 1.0):
        c = np.round(rate * n).astype(int)
        lo, hi = confidence_sequence(c, n)
        assert np.all((lo <= c / n) & (c / n <= hi))
        assert np.all(np.diff(hi - lo) < 0)  # width ~ sqrt(log n / n) shrinks
    # width ratio at n = 2560 vs 640: ~1/2 times sqrt(log growth), well below 0.6
    c = np.array([192, 768])
    lo, hi = confidence_sequence(c, [640, 2560])
    assert 0.45 < (hi[1] - lo[1]) / (hi[0] - lo[0]) < 0.6


def test_contains_clopper_pearson():
    """The CS pays for time-uniform validity: it contains the fixed-n Clopper-Pearson interval at the
    same alpha (checked for every c at n = 1..400 and a sample of large n; equal at n = 1)."""
    for alpha in (0.05, 0.01, 0.2):
        worst = np.inf
        for n in range(1, 401):
            c = np.arange(n + 1)
            cl, ch = clopper_pearson(c, n, alpha)
            lo, hi = confidence_sequence(c, n, alpha)
            worst = min(worst, (cl - lo).min(), (hi - ch).min())
        assert worst >= -1e-15
    rng = np.random.default_rng(3)
    n = rng.integers(400, 10**6, 20_000)
    c = rng.binomial(n, rng.uniform(0, 1, n.size) ** 3)
    cl, ch = clopper_pearson(c, n)
    lo, hi = confidence_sequence(c, n)
    assert np.all(lo <= cl) and np.all(hi >= ch)
    inner = (c > 0) & (c < n)
    assert np.median(((hi - lo) / (ch - cl))[inner]) > 1.2  # and clearly wider


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.01, 0.05, 0.2]),
)
def test_property_interval_holds_mle_and_is_monotone_in_c(cn, alpha):
    c, n = cn
    lo, hi = confidence_sequence(c, n, alpha)
    assert 0.0 <= lo <= c / n <= hi <= 1.0
    if c < n:
        lo1, hi1 = confidence_sequence(c + 1, n, alpha)
        assert lo1 > lo and hi1 > hi
    lo_w, hi_w = confidence_sequence(c, n, alpha / 2)  # smaller alpha: wider
    assert lo_w <= lo and hi_w >= hi


def test_decisions_agree_with_endpoints_and_imply_clopper_pearson():
    rng = np.random.default_rng(11)
    n = rng.integers(0, 3000, 20_000)
    c = rng.binomial(n, rng.choice([0.0, 0.02, 0.04, 0.05, 0.1, 0.3, 0.35, 0.9], n.size))
    lo, hi = confidence_sequence(c, n)
    for K in (8, 64, 256):
        e = eps(K)
        acc = accessibility_anytime(c, n, K)
        assert acc.dtype == np.int8
        away = (np.abs(lo - e) > 1e-12 * e) & (np.abs(hi - e) > 1e-12 * e)
        expect = np.where(lo >= e, 1, np.where(hi < e, 0, -1))
        np.testing.assert_array_equal(acc[away], expect[away])
        has = n > 0  # the CS decides less than CP, and never the opposite way
        cp = accessibility(c[has], n[has], K)
        a = acc[has]
        assert np.all((a == -1) | (a == cp))
        assert (cp != -1).sum() > (a != -1).sum()
    e_b, e_k = eps(8), eps(64)
    dec = regime_decided_anytime(c, n, 64, 8)
    expect = (lo >= e_b) | ((lo >= e_k) & (hi < e_b)) | (hi < e_k)
    away = np.all([np.abs(x - e) > 1e-12 for x in (lo, hi) for e in (e_b, e_k)], axis=0)
    np.testing.assert_array_equal(dec[away], expect[away])
    assert 0.2 < dec.mean() < 0.95


def test_log_martingale():
    assert log_martingale(0, 0, 0.3) == 0.0  # M_0 = 1
    assert log_martingale(3, 10, 0.3) == pytest.approx(ref_log_m(3, 10, 0.3), rel=1e-13)
    assert log_martingale(3, 10, 0.0) == np.inf
    assert log_martingale(0, 10, 0.0) < 0
    # a mixture of likelihoods never exceeds the maximum: M_n(c/n) <= 1
    n = np.arange(1, 500)
    assert np.all(log_martingale(n // 3, n, (n // 3) / n) <= 0)


def brute_close(c, n, budget=64, basin=8, alpha=0.05, n_max=20_000):
    """Linear scan of n' = n+1, n+2, ... with c' = r n' (r = (c + 1/2)/(n + 1)), decisions from scipy."""
    e_b, e_k, L = eps(basin), eps(budget), np.log(1 / alpha)

    def dec(cc, nn):
        lb, lk = ref_log_m(cc, nn, e_b), ref_log_m(cc, nn, e_k)
        return (((cc > e_b * nn) & (lb >= L)) | ((cc > e_k * nn) & (lk >= L) & (cc < e_b * nn) & (lb > L))
                | ((cc < e_k * nn) & (lk > L)))

    if dec(c, n):
        return 0.0
    m = np.arange(n + 1, n_max + 1)
    d = dec((c + 0.5) / (n + 1) * m, m)
    return float(m[d][0]) if d.any() else np.inf


def test_samples_to_close_against_linear_scan():
    cases = [(0, 0), (0, 1), (0, 16), (1, 16), (3, 32), (2, 64), (10, 64), (0, 100), (1, 100),
             (12, 48), (6, 48), (50, 100), (3, 3), (5, 16), (7, 160), (40, 128)]
    c, n = np.array(cases).T
    got = samples_to_close(c, n, 64, n_max=20_000)
    want = np.array([brute_close(ci, ni) for ci, ni in cases])
    np.testing.assert_array_equal(got, want)
    assert got[cases.index((50, 100))] == 0.0  # already decided (basin)
    assert np.isinf(got[cases.index((5, 16))])  # rate ~0.32 next to eps(8) = 0.312: not within 20000
    assert got[cases.index((0, 100))] == 193.0  # ~144 + rate 0.005 > 0 pulls it later
    assert np.all((got == 0) | (got > n))


def test_samples_to_close_never_and_monotone():
    # rate exactly on the threshold: zeta = 1/2, K = 1 gives eps(1) = 1/2 = (0 + 1/2)/(0 + 1)
    assert samples_to_close(0, 0, 1, 1, zeta=0.5) == np.inf
    assert samples_to_close(1, 8, 64, n_max=8) == np.inf  # already at n_max and undecided
    # rates (c + 1/2)/41 = 0.012, 0.037, 0.061, 0.085 around eps(64) = 0.0457: farther is cheaper
    s = samples_to_close([0, 1, 2, 3], [40, 40, 40, 40], 64)
    assert s[1] > s[0] and s[1] > s[2] > s[3]


def test_fast_for_1e5_problems():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 5000, 100_000)
    c = rng.binomial(n, rng.uniform(0, 0.5, n.size) ** 2)
    t0 = time.perf_counter()
    confidence_sequence(c, n)
    samples_to_close(c, n, 64)
    regime_decided_anytime(c, n, 64)
    assert time.perf_counter() - t0 < 5.0  # ~0.5 s unloaded


def test_input_checks():
    with pytest.raises(ValueError, match="c > n"):
        confidence_sequence([3], [2])
    with pytest.raises(ValueError, match=">= 0"):
        confidence_sequence(-1, 2)
    with pytest.raises(ValueError, match="whole numbers"):
        confidence_sequence(1.5, 2)
    with pytest.raises(ValueError, match="prior"):
        confidence_sequence(1, 2, prior=(0.0, 1.0))
    with pytest.raises(ValueError, match="alpha"):
        confidence_sequence(1, 2, alpha=1.0)
    with pytest.raises(ValueError, match="basin_budget"):
        regime_decided_anytime(1, 2, 4, 8)
    with pytest.raises(ValueError, match="same shape"):
        accessibility_anytime([1, 2], [3, 4, 5], 64)
