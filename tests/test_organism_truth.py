"""organism.truth: exact regimes and labels against a brute-force reading of DESIGN.md's tables,
and the agreement / false-created bookkeeping on hand-made cases."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.organism.truth import (ESTIMATED_LABELS, EXACT_LABELS, agreement, consistent, exact_labels,
                                         exact_regime, support_change)
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
