"""organism.truth: exact regimes and labels against a brute-force reading of DESIGN.md's tables,
and the agreement / false-created bookkeeping on hand-made cases."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.organism.truth import (ESTIMATED_LABELS, EXACT_LABELS, agreement, consistent, exact_labels,
                                         exact_pass_at_k, exact_regime, support_change, trajectory_point)
from supportscope.stats.bounds import eps

K, KB, Z = 64, 8, 0.05


def brute_label(p0: float, p1: float) -> str:
    e = 1 - Z ** (1 / K)
    a0, a1 = p0 >= e, p1 >= e
    if a0 and a1:
        return "elicited" if p1 > p0 else "weakened" if p1 < p0 else "unchanged"
    if a1:
        return "created"
    if a0:
        return "lost"
    return "unsolved"


probs = st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 1), st.sampled_from([eps(K, Z), eps(KB, Z)]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(probs, probs), min_size=1, max_size=30))
def test_exact_labels_match_the_table(pairs):
    p0, p1 = (np.array(x) for x in zip(*pairs))
    got = exact_labels(p0, p1, K, Z)
    assert got.tolist() == [brute_label(a, b) for a, b in pairs]


def test_exact_regime_boundaries():
    eK, eb = eps(K, Z), eps(KB, Z)
    p = np.array([0.0, 1e-300, np.nextafter(eK, 0), eK, np.nextafter(eb, 0), eb, 1.0])
    assert exact_regime(p, K, KB, Z).tolist() == ["singular", "barrier", "barrier", "tail", "tail", "basin", "basin"]


def test_consistency_rules():
    est = ["created", "created", "unchanged", "unchanged", "unchanged", "elicited", "elicited", "undetermined", "lost"]
    ex = ["created", "unsolved", "elicited", "weakened", "lost", "elicited", "unchanged", "created", "lost"]
    assert consistent(est, ex).tolist() == [True, False, True, True, False, True, False, False, True]


def test_agreement_counts_and_false_created_rate():
    est = ["created", "created", "unsolved", "unsolved", "undetermined", "elicited", "unchanged"]
    ex = ["created", "unsolved", "unsolved", "created", "created", "elicited", "weakened"]
    a = agreement(est, ex)
    assert a["n_determined"] == 6 and a["n_undetermined"] == 1
    assert a["n_consistent"] == 4 and a["agreement"] == 4 / 6
    assert a["strict_agreement"] == 3 / 6
    assert a["n_false_created"] == 1 and a["false_created_rate"] == 1 / 4  # 4 problems not exactly created
    assert a["n_created_estimated"] == 2 and a["n_created_exact"] == 3 and a["n_missed_created"] == 1
    conf = a["confusion"]
    assert conf["rows"] == list(ESTIMATED_LABELS) and conf["cols"] == list(EXACT_LABELS)
    assert sum(map(sum, conf["counts"])) == len(est)
    assert conf["counts"][conf["rows"].index("created")][conf["cols"].index("unsolved")] == 1


def test_support_change():
    s = support_change([0, 0, 0, 0.5], [0, 1e-3, 0.9, 0], K, Z)
    assert s == {"singular_base": 3, "moved_off_zero": 2, "accessible_now": 1, "max_p_tuned": 0.9}
    r = support_change([0, 0, 0, 0.5], [0, 1e-3, 0.9, 0], K, Z, p0_raw=[0, 1e-4, 2e-3, 0.5])
    assert r["min_raw_p0_accessible_now"] == 2e-3 and r["raw_singular_base"] == 1
    assert support_change([0.5], [0.5], K, Z)["max_p_tuned"] is None


def brute_pass_at_k(p: float, k: int) -> float:
    """P(at least one of k independent Bernoulli(p) draws succeeds), by enumerating the 2^k outcomes."""
    return sum(np.prod([p if x else 1 - p for x in xs]) for xs in itertools.product((0, 1), repeat=k) if any(xs))


@settings(max_examples=200, deadline=None)
@given(st.lists(probs, min_size=1, max_size=12), st.integers(1, 7))
def test_exact_pass_at_k_matches_enumeration(ps, k):
    assert np.isclose(exact_pass_at_k(ps, k), np.mean([brute_pass_at_k(p, k) for p in ps]), rtol=1e-12, atol=1e-15)


def test_exact_pass_at_k_keeps_small_p():
    # 1 - (1 - 1e-12)^64 loses most digits in floating point; the expm1/log1p form keeps them
    assert np.isclose(exact_pass_at_k([1e-12], 64), 64e-12, rtol=1e-9)
    assert exact_pass_at_k([0.0, 1.0], K) == 0.5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(probs, probs, st.sampled_from(["add", "mul", "absent"])), min_size=1, max_size=30))
def test_trajectory_point_matches_brute_force(rows):
    p0, p1, fam = (list(x) for x in zip(*rows))
    ids = [f"q{i}" for i in range(len(rows))]
    got = trajectory_point(p0, p1, fam, K, KB, Z, problem_ids=ids)
    labels = [brute_label(a, b) for a, b in zip(p0, p1)]
    assert got["labels_exact"] == {lab: labels.count(lab) for lab in EXACT_LABELS}
    assert got["created"] == labels.count("created") and got["lost"] == labels.count("lost")
    assert got["created_ids"] == [i for i, lab in zip(ids, labels) if lab == "created"]
    assert got["lost_ids"] == [i for i, lab in zip(ids, labels) if lab == "lost"]
    assert np.isclose(got["p_exact_mean"], np.mean(p1))
    for f in set(fam):
        mine = [b for b, g in zip(p1, fam) if g == f]
        assert np.isclose(got["p_exact_mean_by_family"][f], np.mean(mine))
        assert np.isclose(got["pass_at_K_exact_by_family"][f], np.mean([1 - (1 - b) ** K for b in mine]), atol=1e-12)
    assert sum(got["regimes_exact"].values()) == len(rows)
    assert got["regimes_exact"]["singular"] == sum(b == 0 for b in p1)
    # the base against itself: nothing created or lost
    same = trajectory_point(p0, p0, fam, K, KB, Z)
    assert same["created"] == same["lost"] == 0 and "created_ids" not in same
