"""pass@k: exact brute force, the closed form in Fractions, edge cases, mixed n."""

from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.stats import passk_at, passk_curves, pooled_passk


def brute_force_passk(c: int, n: int, k: int) -> Fraction:
    """Share of the size-k subsets of n samples (c of them successes) holding a success."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(combinations(range(n), k))
    hits = sum(1 for s in subsets if any(samples[i] for i in s))
    return Fraction(hits, len(subsets))


def closed_form(c: int, n: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_brute_force_all_small_cases():
    cases = [(c, n) for n in range(1, 11) for c in range(n + 1)]
    c = np.array([x[0] for x in cases])
    n = np.array([x[1] for x in cases])
    curves = passk_curves(c, n)
    assert curves.shape == (len(cases), 10)
    for i, (ci, ni) in enumerate(cases):
        for k in range(1, 11):
            if k > ni:
                assert np.isnan(curves[i, k - 1])
            else:
                exact = brute_force_passk(ci, ni, k)
                assert exact == closed_form(ci, ni, k)
                assert abs(curves[i, k - 1] - float(exact)) <= 1e-12


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_matches_fraction_closed_form(cn):
    c, n = cn
    ks = sorted({1, min(n, 2), n, max(1, n // 2), max(1, n - 1), min(n, 7)})
    got = passk_curves([c], [n])[0]
    for k in ks:
        assert abs(got[k - 1] - float(closed_form(c, n, k))) <= 1e-12


def test_edges():
    n = 9
    curves = passk_curves([0, n, 4], [n, n, n])
    assert np.all(curves[0] == 0.0)  # c = 0: never a success
    assert np.all(curves[1] == 1.0)  # c = n: always
    assert curves[2, n - 1] == 1.0  # k = n: 1[c > 0]
    assert curves[0, n - 1] == 0.0
    one = passk_curves([0, 1], [1, 1])
    np.testing.assert_array_equal(one, [[0.0], [1.0]])
    assert curves[2, 0] == pytest.approx(4 / 9, abs=1e-15)  # pass@1 = c/n


def test_monotone_in_k():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 300, 200)
    c = rng.integers(0, n + 1)
    curves = passk_curves(c, n)
    d = np.diff(curves, axis=1)
    assert np.all(d[np.isfinite(d)] >= -1e-15)


def test_mixed_n_nan_beyond_n():
    c = np.array([1, 0, 3, 5])
    n = np.array([2, 3, 5, 5])
    curves = passk_curves(c, n)
    assert curves.shape == (4, 5)
    for i in range(4):
        assert np.all(np.isfinite(curves[i, : n[i]]))
        assert np.all(np.isnan(curves[i, n[i] :]))
    pooled = pooled_passk(curves)
    assert np.isfinite(pooled[:2]).all() and np.isnan(pooled[2:]).all()
    np.testing.assert_allclose(pooled[:2], curves[:, :2].mean(axis=0), rtol=0, atol=1e-15)
    short = passk_curves(c, n, kmax=3)
    np.testing.assert_array_equal(short, curves[:, :3])
    longer = passk_curves(c, n, kmax=8)
    assert np.isnan(longer[:, 5:]).all()


def test_passk_at_equals_columns_and_chunking():
    rng = np.random.default_rng(2)
    n = rng.integers(1, 2000, 700)
    c = rng.binomial(n, rng.uniform(0, 0.05, 700))
    curves = passk_curves(c, n)  # several chunks (Q * kmax > 2**17)
    ks = np.array([1, 2, 64, 3, 1999, 64, 1024])
    np.testing.assert_array_equal(passk_at(c, n, ks), curves[:, ks - 1])
    # same values whatever the chunking
    from supportscope.stats import passk as mod

    chunks = mod._fail_prob_chunks(c, n, curves.shape[1], chunk_elems=5000)
    small = np.concatenate([q.copy() for _, q in chunks])
    np.testing.assert_array_equal(1.0 - small, curves)


def test_validation():
    with pytest.raises(ValueError, match="c > n"):
        passk_curves([5], [3])
    with pytest.raises(ValueError, match="n must be >= 1"):
        passk_curves([0], [0])
    with pytest.raises(ValueError, match="c must be >= 0"):
        passk_curves([-1], [3])
    with pytest.raises(ValueError, match="ks must be >= 1"):
        passk_at([1], [3], [0, 1])
    with pytest.raises(ValueError, match="kmax must be >= 1"):
        passk_curves([1], [3], kmax=0)
    with pytest.raises(ValueError, match="whole numbers"):
        passk_curves([1.5], [3])
    with pytest.raises(ValueError, match="no problems"):
        pooled_passk(np.empty((0, 3)))
