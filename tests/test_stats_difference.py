"""One-sided Fisher exact p-values against scipy.stats.fisher_exact."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact

from supportscope.stats import two_proportion_pvalues

counts = st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_against_fisher_exact(base, tuned):
    (c0, n0), (c1, n1) = base, tuned
    p_greater, p_less = two_proportion_pvalues(c0, n0, c1, n1)
    table = [[c1, n1 - c1], [c0, n0 - c0]]
    assert p_greater == pytest.approx(fisher_exact(table, alternative="greater").pvalue, rel=1e-7, abs=1e-300)
    assert p_less == pytest.approx(fisher_exact(table, alternative="less").pvalue, rel=1e-7, abs=1e-300)


def test_vectorised_random_tables():
    rng = np.random.default_rng(31)
    n0 = rng.integers(1, 200, 300)
    n1 = rng.integers(1, 200, 300)
    c0 = rng.binomial(n0, rng.uniform(0, 1, 300))
    c1 = rng.binomial(n1, rng.uniform(0, 1, 300))
    pg, pl = two_proportion_pvalues(c0, n0, c1, n1)
    assert pg.shape == pl.shape == (300,)
    for i in range(0, 300, 7):
        t = [[c1[i], n1[i] - c1[i]], [c0[i], n0[i] - c0[i]]]
        assert pg[i] == pytest.approx(fisher_exact(t, alternative="greater").pvalue, rel=1e-7, abs=1e-300)
        assert pl[i] == pytest.approx(fisher_exact(t, alternative="less").pvalue, rel=1e-7, abs=1e-300)
    assert np.all(pg + pl >= 1 - 1e-12)  # both tails include the observed table


def test_direction_and_validation():
    pg, pl = two_proportion_pvalues([10, 60], [100, 100], [60, 10], [100, 100])
    assert pg[0] < 1e-10 and pl[0] > 0.99  # tuned higher
    assert pl[1] < 1e-10 and pg[1] > 0.99  # tuned lower
    with pytest.raises(ValueError, match="c1 > n1"):
        two_proportion_pvalues([1], [10], [11], [10])
