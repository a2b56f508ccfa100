"""Venn sets and leash metrics at one common budget k = min(n0, n1) (DESIGN.md section 3)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.analysis.support_sets import support_sets
from supportscope.stats import PairedBootstrap, leash_metrics, percentile_interval, venn
from supportscope.stats.leash import common_budget, venn_at_k


def _old_k_equals_n(problem_id, c0, c1, boot, alpha):
    """The former compare() block: sets at k = n (solved = c > 0), whatever the n's."""
    v = venn(c0, c1)
    leash = leash_metrics(v.both, v.tuned_only, v.base_only)
    s0, s1 = (c0 > 0).astype(float), (c1 > 0).astype(float)

    def chunk(w):
        m = leash_metrics(w @ (s0 * s1), w @ ((1 - s0) * s1), w @ (s0 * (1 - s1)))
        return np.stack([m[x] for x in ("SRR", "NDR", "NSCR", "SDS")], axis=1)

    reps = boot.map(chunk)
    out = {}
    for j, name in enumerate(("SRR", "NDR", "NSCR", "SDS")):
        lo, hi = percentile_interval(reps[:, j], alpha)
        out[name] = {"value": float(leash[name]), "lo": float(lo), "hi": float(hi)}
    venn_out = {"both": v.both, "base_only": v.base_only, "tuned_only": v.tuned_only, "neither": v.neither,
                "base_only_ids": problem_id[v.base_only_idx].tolist(),
                "tuned_only_ids": problem_id[v.tuned_only_idx].tolist(),
                "neither_ids": problem_id[v.neither_idx].tolist()}
    return venn_out, out


@st.composite
def _equal_n_counts(draw):
    q = draw(st.integers(1, 40))
    if draw(st.booleans()):  # one n for all problems (k = n everywhere)
        n = [draw(st.integers(1, 50))] * q
    else:
        n = draw(st.lists(st.integers(1, 50), min_size=q, max_size=q))
    c0 = [draw(st.integers(0, x)) for x in n]
    c1 = [draw(st.integers(0, x)) for x in n]
    return np.array(c0), np.array(c1), np.array(n)


@settings(max_examples=200, deadline=None)
@given(_equal_n_counts())
def test_equal_n_is_venn_at_k_equals_n(data):
    c0, c1, n = data
    v = venn(c0, c1)
    if np.all(n == n[0]):  # k = n for every problem and both models: exactly the 0/1 sets
        w = venn_at_k(c0, n, c1, n)
        assert w.k == n[0] and not w.expected
        assert (w.both, w.base_only, w.tuned_only, w.neither) == (v.both, v.base_only, v.tuned_only, v.neither)
        assert all(isinstance(x, int) for x in (w.both, w.base_only, w.tuned_only, w.neither))
        for a, b in ((w.base_only_idx, v.base_only_idx), (w.tuned_only_idx, v.tuned_only_idx),
                     (w.neither_idx, v.neither_idx)):
            np.testing.assert_array_equal(a, b)
    # the membership probabilities are 0/1 at k = n_i, whatever k is elsewhere
    w = venn_at_k(c0, n, c1, n, k=None)
    at_n = n == w.k
    np.testing.assert_array_equal(w.p_base_only[at_n], ((c0 > 0) & (c1 == 0))[at_n])
    total = w.both + w.base_only + w.tuned_only + w.neither
    assert total == pytest.approx(len(n), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 60), st.integers(1, 64))
def test_support_sets_equal_n_reproduces_old_summary(seed, q, n):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 1.0, q)
    c0, c1 = rng.binomial(n, p), rng.binomial(n, p)
    nn = np.full(q, n)
    ids = np.array([f"p{i}" for i in range(q)], dtype=object)
    boot = PairedBootstrap(q, 300, seed=seed % 1000)
    v_new, l_new = support_sets(ids, c0, nn, c1, nn, boot, 0.05)
    v_old, l_old = _old_k_equals_n(ids, c0, c1, boot, 0.05)
    assert v_new.pop("k") == n and v_new.pop("expected") is False
    assert v_new == v_old
    for name in l_old:
        for key in ("value", "lo", "hi"):
            a, b = l_new[name][key], l_old[name][key]
            assert (np.isnan(a) and np.isnan(b)) or a == b, (name, key, a, b)


def test_expected_counts_match_monte_carlo_subsamples():
    """Brute force: draw k of each model's samples without replacement, count the sets, average."""
    rng = np.random.default_rng(7)
    q = 25
    n0 = rng.integers(8, 40, q)
    n1 = rng.integers(8, 40, q)
    c0 = rng.binomial(n0, rng.uniform(0, 0.3, q))
    c1 = rng.binomial(n1, rng.uniform(0, 0.3, q))
    k = common_budget(n0, n1)
    v = venn_at_k(c0, n0, c1, n1)
    assert v.k == k and v.expected
    reps = 20000
    hit0 = np.empty((reps, q), bool)
    hit1 = np.empty((reps, q), bool)
    for i in range(q):
        s0 = np.zeros((reps, n0[i]), bool)
        s0[:, : c0[i]] = True
        s1 = np.zeros((reps, n1[i]), bool)
        s1[:, : c1[i]] = True
        hit0[:, i] = rng.permuted(s0, axis=1)[:, :k].any(axis=1)
        hit1[:, i] = rng.permuted(s1, axis=1)[:, :k].any(axis=1)
    mc = {"both": (hit0 & hit1).sum(1), "base_only": (hit0 & ~hit1).sum(1),
          "tuned_only": (~hit0 & hit1).sum(1), "neither": (~hit0 & ~hit1).sum(1)}
    for key, x in mc.items():
        se = x.std() / np.sqrt(reps)
        assert getattr(v, key) == pytest.approx(x.mean(), abs=5 * se + 1e-9), key
    # per problem too
    np.testing.assert_allclose(v.p_base_only, (hit0 & ~hit1).mean(0), atol=0.02)


def _case6(seed, q=200):
    """Same true p for both models, many small p; base n = 512, tuned n = 64."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0.001, 0.05, q // 2)
    large = rng.uniform(0.05, 0.9, q - q // 2)
    p = np.concatenate([small, large])
    n0, n1 = np.full(q, 512), np.full(q, 64)
    return rng.binomial(n0, p), n0, rng.binomial(n1, p), n1


def test_unequal_n_no_spurious_shrinkage():
    q, alpha = 200, 0.05
    ids = np.array([f"p{i}" for i in range(q)], dtype=object)
    covered, new_nscr, old_nscr, old_sig, old_bo, new_bo = 0, [], [], 0, [], []
    seeds = range(50)
    for seed in seeds:
        c0, n0, c1, n1 = _case6(seed, q)
        boot = PairedBootstrap(q, 1000, seed=seed)
        v, le = support_sets(ids, c0, n0, c1, n1, boot, alpha)
        assert v["k"] == 64 and v["expected"] is True
        assert isinstance(v["base_only"], float)
        lo, hi = le["NSCR"]["lo"], le["NSCR"]["hi"]
        covered += lo <= 0.0 <= hi
        new_nscr.append(le["NSCR"]["value"])
        new_bo.append((v["base_only"], v["tuned_only"]))
        vo, lo_old = _old_k_equals_n(ids, c0, c1, boot, alpha)
        old_nscr.append(lo_old["NSCR"]["value"])
        old_sig += lo_old["NSCR"]["hi"] < 0.0
        old_bo.append((vo["base_only"], vo["tuned_only"]))
    print(f"\ncase 6 (Q = {q}, same p, base n = 512, tuned n = 64, {len(seeds)} data sets):")
    print(f"  old k = n: base-only/tuned-only mean {np.mean(old_bo, 0)}, NSCR mean {np.mean(old_nscr):+.3f}, "
          f"interval below 0 in {old_sig}/{len(seeds)}")
    print(f"  new k = 64: base-only/tuned-only mean {np.round(np.mean(new_bo, 0), 2)}, NSCR mean "
          f"{np.mean(new_nscr):+.4f}, interval covers 0 in {covered}/{len(seeds)}")
    assert covered >= 44  # nominal 95%: 47.5 of 50
    assert abs(np.mean(new_nscr)) < 0.01
    assert old_sig >= 45  # the old rule calls a shrinkage that does not exist


def test_venn_at_k_checks():
    with pytest.raises(ValueError, match="exceeds"):
        venn_at_k([1, 2], [4, 4], [0, 1], [4, 8], k=5)
    with pytest.raises(ValueError, match="one entry per problem"):
        venn_at_k([1, 2], [4, 4], [1], [4])
    with pytest.raises(ValueError, match="cannot exceed"):
        venn_at_k([5], [4], [1], [4])
    v = venn_at_k([1, 0], [4, 4], [0, 3], [8, 8])
    assert v.k == 4 and v.expected
    # base at its own n = k: 0/1; tuned at k = 4 of 8: pass@4 with c = 3 is 1 - C(5,4)/C(8,4)
    b = 1 - 5 / 70
    assert v.both == pytest.approx(0.0) and v.base_only == pytest.approx(1.0)
    assert v.tuned_only == pytest.approx(b) and v.neither == pytest.approx(1 - b)
    np.testing.assert_array_equal(v.tuned_only_idx, [1])
