"""The elicitation frontier: stats/frontier.py against quadrature and closed forms, the block's
decision rules by simulation (false "above" rates under a pure tilt, power with created problems),
and the plot."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sst
from scipy.special import betaincc, expit, logit

from supportscope.analysis.frontier import frontier_block
from supportscope.report.plots.frontier import plot_frontier
from supportscope.report.writers import json_bytes
from supportscope.stats import PairedBootstrap, eps, tilt
from supportscope.stats.frontier import (
    ceiling_probabilities,
    default_lams,
    frontier_contributions,
    posterior_nodes,
    posterior_passk,
    solve_on_curve,
)

K = 64
EPS_K = float(eps(K))


def quad_frontier(c, n, lam, k, lower=0.0):
    """E_post[1{p >= lower} (1 - (1 - tilt(p, lam))^k)] by adaptive quadrature on the density."""
    a, b = c + 0.5, n - c + 0.5

    def f(p):
        return -np.expm1(k * np.log1p(-expit(logit(p) + lam))) * sst.beta.pdf(p, a, b)

    pts = [x for x in (1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.9, 0.99) if x > lower]
    return integrate.quad(f, lower, 1.0, points=pts, limit=500, epsabs=1e-12, epsrel=1e-10)[0]


# (c, n, lam, k): never / rarely / sometimes / always solved, small and large n, |lam| up to 8
CASES = [(0, 128, 0.0, 64), (1, 128, 8.0, 8), (6, 128, 1.0, 64), (64, 128, -2.0, 1),
         (127, 128, -8.0, 128), (128, 128, 3.0, 16), (0, 16, 8.0, 128), (3, 1000, 2.0, 32)]


@pytest.mark.parametrize("c, n, lam, k", CASES)
def test_quadrature_matches_scipy_quad(c, n, lam, k):
    G = frontier_contributions([c], [n], [k], K, lams=[lam])
    assert abs(G.full[0, 0, 0] - quad_frontier(c, n, lam, k)) < 3e-5
    assert abs(G.reachable[0, 0, 0] - quad_frontier(c, n, lam, k, EPS_K)) < 3e-5


def test_64_nodes_are_needed():
    """The default m = 64 is not slack: 16 nodes miss the hardest case by more than 1e-3."""
    c, n, lam, k = 0, 16, 8.0, 128
    exact = quad_frontier(c, n, lam, k)
    err = {m: abs(frontier_contributions([c], [n], [k], K, lams=[lam], m=m).full[0, 0, 0] - exact)
           for m in (16, 64)}
    assert err[16] > 1e-3
    assert err[64] < 3e-5


def test_lambda_zero_is_the_posterior_mean_passk():
    """F(k, 0) = 1 - B(a, b + k)/B(a, b) = 1 - prod_{j<k} (b + j)/(a + b + j), per problem."""
    rng = np.random.default_rng(3)
    n = rng.integers(1, 200, 40)
    c = rng.integers(0, n + 1)
    ks = np.array([1, 2, 7, 64, 300])
    G = frontier_contributions(c, n, ks, K, lams=[-1.0, 0.0, 1.0])
    a, b = c + 0.5, n - c + 0.5
    prod = np.array([[np.prod((bi + np.arange(k)) / (ai + bi + np.arange(k))) for k in ks]
                     for ai, bi in zip(a, b)])
    np.testing.assert_allclose(posterior_passk(c, n, ks), 1.0 - prod, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(G.full[:, 1, :], 1.0 - prod, atol=3e-5)


@pytest.mark.parametrize("lam", [-2.0, 0.0, 2.0])
def test_large_n_gives_the_plugin_tilt(lam):
    """n -> infinity: the posterior concentrates and F(k, lam) -> 1 - (1 - tilt(p, lam))^k."""
    p = np.array([0.01, 0.05, 0.2, 0.7])
    n = 10**7
    ks = np.array([1, 4, 16])
    G = frontier_contributions(np.round(p * n).astype(int), np.full(4, n), ks, K, lams=[lam])
    truth = 1.0 - (1.0 - tilt(p, lam)[:, None]) ** ks[None, :]
    np.testing.assert_allclose(G.full[:, 0, :], truth, atol=2e-4)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 200), st.floats(0, 1)), min_size=1, max_size=6),
       st.integers(1, 256))
def test_monotone_in_lambda_and_k_and_bounded_by_the_ceiling(rows, budget):
    n = np.array([r[0] for r in rows])
    c = np.round(np.array([r[1] for r in rows]) * n).astype(int)
    ks = np.array([1, 2, 5, 17, 64, 200])
    G = frontier_contributions(c, n, ks, budget)
    for arr in (G.full, G.reachable):
        assert np.all(np.diff(arr, axis=1) >= -1e-12)  # in lam
        assert np.all(np.diff(arr, axis=2) >= -1e-12)  # in k
        assert np.all((arr >= 0) & (arr <= 1 + 1e-12))
    assert np.all(G.reachable <= G.full + 1e-4)  # two quadratures: equal up to their error
    assert np.all(G.reachable <= G.ceiling[:, None, None] + 1e-12)
    np.testing.assert_array_equal(G.full[:, 0], 0.0)  # lam = -inf
    np.testing.assert_allclose(G.full[:, -1], 1.0, atol=1e-14)  # lam = +inf
    np.testing.assert_allclose(G.reachable[:, -1], G.ceiling[:, None] * np.ones(ks.size), rtol=1e-12)


def test_ceiling_is_the_limit_of_the_reachable_frontier():
    c, n = np.array([0, 1, 3, 6, 9, 30, 128]), np.full(7, 128)
    lams = np.array([0.0, 4.0, 8.0, 16.0, 30.0, np.inf])
    G = frontier_contributions(c, n, [1, 8, K], K, lams=lams)
    ceiling = ceiling_probabilities(c, n, K)
    np.testing.assert_allclose(ceiling, betaincc(c + 0.5, n - c + 0.5, EPS_K))
    np.testing.assert_allclose(G.ceiling, ceiling)
    gap = ceiling[:, None, None] - G.reachable
    assert np.all(np.diff(gap, axis=1) <= 1e-12)  # approaches from below
    assert np.abs(gap[:, 4]).max() < 1e-9  # lam = 30: tilt(eps(K), 30) = 1 - 3e-12
    np.testing.assert_allclose(G.reachable[:, -1], ceiling[:, None] * np.ones(3), rtol=1e-13)
    # the tail split's weights carry the exact tail mass and its nodes lie in the tail
    p, w = posterior_nodes(c, n, threshold=EPS_K)
    np.testing.assert_allclose(w.sum(axis=1), ceiling, rtol=1e-12)
    assert np.all(p >= EPS_K)


def test_solve_on_curve_against_np_interp():
    rng = np.random.default_rng(5)
    lams = np.array([-np.inf, -2.0, -1.0, 0.0, 0.5, 3.0, np.inf])
    x = np.sort(rng.uniform(0.05, 0.95, (50, 7)), axis=1)
    x[:, 0], x[:, -1] = 0.0, 1.0
    v = np.sort(rng.uniform(0, 1, (50, 7, 3)), axis=1)
    y = rng.uniform(0, 1, 50)
    y[:3] = [0.0, 1.0, 0.01]  # the ends and a point on the segment to -inf
    lam, vals = solve_on_curve(x, y, lams, v)
    for b in range(50):
        for j in range(3):
            assert vals[b, j] == pytest.approx(np.interp(y[b], x[b], v[b, :, j]), abs=1e-12)
        if x[b, 1] <= y[b] <= x[b, -2]:
            assert lam[b] == pytest.approx(np.interp(y[b], x[b, 1:-1], lams[1:-1]), abs=1e-12)
        elif y[b] < x[b, 1]:
            assert lam[b] == -np.inf or (y[b] == x[b, 1] and lam[b] == lams[1])
        else:
            assert lam[b] == np.inf or (y[b] == x[b, -2] and lam[b] == lams[-2])
    assert lam[0] == -np.inf and lam[1] == np.inf


def test_lambda_star_recovers_the_tilt():
    """On the default grid (step 1/4) lam* matches the root of F(1, lam) = y found by bisection."""
    rng = np.random.default_rng(11)
    c, n = rng.binomial(128, rng.uniform(0, 1, 200)), np.full(200, 128)
    G = frontier_contributions(c, n, [1], K)
    f1 = G.curve()[:, 0]
    for true_lam in (-3.3, 0.0, 0.7, 2.2, 6.1):
        y = frontier_contributions(c, n, [1], K, lams=[true_lam]).curve()[0, 0]
        lam, _ = solve_on_curve(f1, y, G.lams)
        assert lam == pytest.approx(true_lam, abs=0.01)


# ------------------------------------------------------------------------- the analysis block
Q, N = 300, 128


def _scenario(rng):
    """Q = 300 problems: 30 never solvable, 90 just above eps(K) (in [eps, 0.09]), 180 in the basin."""
    return np.concatenate([np.zeros(30), rng.uniform(EPS_K, 0.09, 90), rng.uniform(0.09, 0.98, 180)])


def _rates(created: bool, datasets: int = 200, lam: float = 1.0):
    rng = np.random.default_rng(2024 + created)
    hits = np.zeros(3)
    for d in range(datasets):
        p0 = _scenario(rng)
        p1 = tilt(p0, lam)
        if created:
            p1[:20] = 0.3  # 20 of the never-solvable problems: created
        c0, c1 = rng.binomial(N, p0), rng.binomial(N, p1)
        blk = frontier_block(c0, np.full(Q, N), [("tuned", c1, np.full(Q, N))], K, 0.05, [1, 4, 16, K],
                             PairedBootstrap(Q, 500, seed=d), 0.05)
        m = blk["models"][0]
        at_k = next(r for r in m["by_k"] if r["k"] == K)
        hits += [at_k["gap"]["lo"] > 0, m["first_k_above_frontier"] is not None,
                 m["first_k_above_ceiling"] is not None]
    return hits / datasets


def test_pure_tilt_is_not_called_above_the_frontier_and_creation_is():
    """Seeded simulation at user sizes (n = 128, K = 64, 200 data sets each, B = 500). Tuned = the
    exact Gibbs tilt (lam = 1) of the base's true p; then 20 never-solvable problems created
    (p0 = 0 -> p1 = 0.3). Rates of: gap lower bound at K > 0, some k above the frontier, some
    k <= K above the certified ceiling. Measured (200 each): null 0.00 / 0.03 / 0.00, power 1.00 /
    1.00 / 1.00."""
    null, power = _rates(False), _rates(True)
    print(f"null {null}, power {power}")
    assert np.all(null <= 0.05 + 0.04), null  # alpha + Monte Carlo slack (binomial 99% at 200)
    assert np.all(power >= 0.8), power


def _block(rng, p1s, B=300, repeat_first=False):
    p0 = _scenario(rng)
    c0 = rng.binomial(N, p0)
    tuned = [(name, rng.binomial(N, f(p0)), np.full(Q, N)) for name, f in p1s]
    if repeat_first:
        tuned.append((tuned[0][0] + " again", tuned[0][1], tuned[0][2]))
    return frontier_block(c0, np.full(Q, N), tuned, K, 0.05, [1, 2, 8, K, 128], PairedBootstrap(Q, B, seed=1),
                          0.05)


def test_block_fields_base_on_its_frontier_and_a_narrowed_model_below_it():
    rng = np.random.default_rng(8)
    # narrowed: the rarely solved problems are dropped, the rest sharpened (the RLVR pass@k crossover)
    blk = _block(rng, [("same", lambda p: p), ("narrowed", lambda p: np.where(p < 0.2, 0.0, tilt(p, 2.0)))],
                 repeat_first=True)
    assert blk["ks"] == [1, 2, 8, K, 128] and blk["budget"] == K and blk["n_problems"] == Q
    lams = np.array(blk["lams"])
    assert lams[0] == -np.inf and lams[-1] == np.inf and len(lams) == default_lams().size
    i0 = int(np.flatnonzero(lams == 0.0)[0])
    assert blk["base"]["pass1"]["estimate"] == pytest.approx(blk["frontier"]["pass1"]["estimate"][i0], abs=3e-5)
    assert blk["base"]["passK"]["estimate"] == pytest.approx(blk["frontier"]["passK"]["estimate"][i0], abs=3e-5)
    c = blk["ceiling"]
    assert c["lo"] <= c["estimate"] <= c["hi"]
    assert blk["reachable"]["passK"]["estimate"][-1] == pytest.approx(c["estimate"], abs=1e-12)
    same, narrowed, twin = blk["models"]
    assert same["lambda_star"]["lo"] < 0 < same["lambda_star"]["hi"]
    assert same["first_k_above_frontier"] is None
    gap_k = next(r for r in narrowed["by_k"] if r["k"] == K)["gap"]
    assert gap_k["hi"] < 0 and narrowed["lambda_star"]["estimate"] > 0.5
    for r in narrowed["by_k"]:
        assert r["gap"]["lo"] <= r["gap"]["estimate"] <= r["gap"]["hi"]
        assert (r["k"] == 1) == (r["gap"]["hi"] - r["gap"]["lo"] < 1e-12)  # gap(1) = 0 by construction
    # one shared bootstrap: equal counts give identical replicates, hence identical intervals
    assert twin["name"] == "same again"
    assert twin.keys() == same.keys()
    np.testing.assert_allclose(_numbers(twin), _numbers(same), rtol=1e-12, atol=1e-15)
    json.loads(json_bytes(blk))  # JSON-able once infinities are spelled out


def _numbers(d):
    """Every number in a nested block entry, in order (None -> nan)."""
    if isinstance(d, dict):
        return [x for k in sorted(d) if k != "name" for x in _numbers(d[k])]
    if isinstance(d, list):
        return [x for v in d for x in _numbers(v)]
    return [np.nan if d is None else float(d)]


def test_block_rejects_mismatched_inputs():
    boot = PairedBootstrap(4, 10)
    c0, n0 = np.array([0, 1, 2, 3]), np.full(4, 8)
    with pytest.raises(ValueError, match="one count per base problem"):
        frontier_block(c0, n0, [("t", c0[:3], n0[:3])], 4, 0.05, [1], boot, 0.05)
    with pytest.raises(ValueError, match="distinct"):
        frontier_block(c0, n0, [("t", c0, n0), ("t", c0, n0)], 4, 0.05, [1], boot, 0.05)
    with pytest.raises(ValueError, match="resamples 4 problems"):
        frontier_block(c0[:3], n0[:3], [], 4, 0.05, [1], boot, 0.05)


def test_plot_parses_and_names_every_model():
    rng = np.random.default_rng(9)
    names = [f"step-{s} & <ckpt>" for s in (100, 200, 300)]
    blk = _block(rng, [(nm, lambda p, s=s: tilt(p, 0.5 * s)) for s, nm in enumerate(names)], B=200)
    for block in (blk, json.loads(json_bytes(blk))):  # as computed and as read back from summary.json
        svg = plot_frontier(block, order=names)
        text = " ".join(ET.fromstring(svg).itertext())
        for nm in names:
            assert nm in text
        assert "Elicitation frontier" in text and "ceiling" in text
    assert plot_frontier({}) is None
