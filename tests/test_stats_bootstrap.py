"""Paired bootstrap weights, replicate means and percentile intervals."""

import numpy as np
import pytest

from supportscope.stats import PairedBootstrap, percentile_interval


def test_weights_rows_sum_and_chunks():
    bs = PairedBootstrap(37, 1000, seed=5, chunk_elems=37 * 64)
    chunks = list(bs.weights_chunks())
    assert len(chunks) == 16 and all(w.shape[0] * 37 <= 37 * 64 for w in chunks)
    w = np.concatenate(chunks)
    assert w.shape == (1000, 37) and w.dtype == np.int32
    assert np.all(w.sum(axis=1) == 37) and np.all(w >= 0)
    # each problem is drawn about once per replicate, the count ~ Binomial(Q, 1/Q)
    assert abs(w.mean() - 1.0) < 1e-12
    assert 0.9 < w.var() < 1.05


def test_same_seed_same_weights():
    a = PairedBootstrap(50, 300, seed=7, chunk_elems=1000)
    w1 = a.map(lambda w: w)
    w2 = a.map(lambda w: w)
    w3 = PairedBootstrap(50, 300, seed=7, chunk_elems=1000).map(lambda w: w)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(w1, w3)
    w4 = PairedBootstrap(50, 300, seed=8, chunk_elems=1000).map(lambda w: w)
    assert not np.array_equal(w1, w4)


def test_means_equal_loop_and_pairing():
    rng = np.random.default_rng(41)
    q = 60
    base = rng.uniform(0, 1, (q, 4))
    tuned = rng.uniform(0, 1, (q, 4))
    bs = PairedBootstrap(q, 400, seed=1, chunk_elems=q * 50)
    w = bs.map(lambda x: x)
    mb = bs.means(base)
    mt = bs.means(tuned)
    assert mb.shape == (400, 4)
    loop = np.array([base[np.repeat(np.arange(q), w[b])].mean(axis=0) for b in range(400)])
    np.testing.assert_allclose(mb, loop, rtol=0, atol=1e-13)
    np.testing.assert_allclose(mt - mb, bs.means(tuned - base), rtol=0, atol=1e-13)
    # trailing shape is kept
    both = bs.means(np.stack([base, tuned], axis=1))
    assert both.shape == (400, 2, 4)
    np.testing.assert_allclose(both[:, 1], mt, atol=1e-13)
    # paired differences vary less than unpaired ones when the models are correlated
    tuned_corr = base + rng.normal(0, 0.05, (q, 4))
    paired = (bs.means(tuned_corr) - mb).std(axis=0)
    other = PairedBootstrap(q, 400, seed=2, chunk_elems=q * 50)
    unpaired = (other.means(tuned_corr) - mb).std(axis=0)
    assert np.all(paired < unpaired)


def test_means_validation():
    bs = PairedBootstrap(3, 10)
    with pytest.raises(ValueError, match="column 1"):
        bs.means(np.array([[0.1, 0.2], [0.3, np.nan], [0.5, 0.6]]))
    with pytest.raises(ValueError, match="one row per problem"):
        bs.means(np.ones((4, 2)))
    with pytest.raises(ValueError, match="n_items"):
        PairedBootstrap(0)


def test_percentile_interval():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(1001, 3))
    lo, hi = percentile_interval(x, alpha=0.1)
    np.testing.assert_allclose(lo, np.quantile(x, 0.05, axis=0, method="linear"), rtol=1e-13)
    np.testing.assert_allclose(hi, np.quantile(x, 0.95, axis=0, method="linear"), rtol=1e-13)
    lo1, hi1 = percentile_interval(x.T, alpha=0.1, axis=1)
    np.testing.assert_allclose(lo1, lo, rtol=1e-13)
    for m in (2, 7, 40, 999):
        y = rng.normal(size=m)
        got = percentile_interval(y, alpha=0.05)
        np.testing.assert_allclose(got, np.quantile(y, [0.025, 0.975], method="linear"), rtol=1e-12)


def test_percentile_interval_infinite_values():
    x = np.concatenate([np.linspace(0, 1, 90), np.full(10, np.inf)])
    lo, hi = percentile_interval(x)
    assert np.isfinite(lo) and hi == np.inf
    y = np.concatenate([np.full(10, -np.inf), np.linspace(0, 1, 90)])
    lo, hi = percentile_interval(y)
    assert lo == -np.inf and np.isfinite(hi)
    lo, hi = percentile_interval(np.full(20, np.inf))
    assert lo == np.inf and hi == np.inf
    lo, hi = percentile_interval(np.array([1.0, np.nan, 2.0]))
    assert np.isnan(lo) and np.isnan(hi)
